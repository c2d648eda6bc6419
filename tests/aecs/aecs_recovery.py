"""Identity backup and restore with a recovery set (issue 12's review: one admin's Backup
opened every secret), with the real aecs-server, aecsadmin and serviceadmin; the files are
read by an independent implementation (recovery_files.py). Every attack must fail:

- a single admin's Backup opens nothing alone: each share opens only with its own recovery
  key, one share (M - 1 of M = 2) opens no object of the store, two do;
- a single admin cannot change the recovery set: no consent, too few, a stranger's, the
  same holder twice and consents replayed after a change are refused; M holders can;
- on a new machine: M - 1 shares restore nothing; a duplicate, forged, other-instance,
  other-backup or old-set share is refused with the reason; a host's restart only drops
  the collection; a share of another instance than the one the store's aecs/master names
  is refused first (D: a forged first share blocks nothing; G: a made-up 1-of-1 share costs
  no work); a host that names another instance there gets a key tried on aecs/state alone;
  M genuine shares restore it and the secrets are served.

  aecs_recovery.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile

import aecs_env
import recovery_files as rf
from cryptography.hazmat.primitives.asymmetric import ec

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-recovery-")
check = aecs_env.Checks()
FAILED = check.failed


def keygen(name):
    return aecs_env.keygen(WORK, name)


ADMIN, ADMIN2, SVC = keygen("admin"), keygen("admin2"), keygen("svc")
R1, R2, R3, R4 = (keygen(f"r{i}") for i in range(1, 5))
MARKER = b"recovery-marker-3b9e: only TAs and a restored AECS may see this"
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
STORE = os.path.join(WORK, "store")


def Server(name, sim, store):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, sim, "--store", f"fs:{store}", "--audit-file",
                           os.path.join(WORK, name + ".audit"))


def offline(*args):
    """aecsadmin without a server: a holder's own machine."""
    r = subprocess.run([AECSADMIN] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def pinned(s, key, pin, verb, *args, kubeconfig=False):
    """aecsadmin verb at s pinning the instance pin: AECS_INSTANCE, or (kubeconfig) the
    admin kubeconfig's aecsServer.instance for key (F: a restore must still work)."""
    env = dict(os.environ)
    env.pop("AECS_INSTANCE", None)
    cmd = [AECSADMIN, verb, "--sim-dir", s.sim, "--json"]
    if kubeconfig:
        kc = os.path.join(WORK, "pinned-kubeconfig.yaml")
        os.chmod(key, 0o600)
        with open(kc, "w") as f:
            f.write(f"apiVersion: v1\nkind: Config\nadministrator:\n  name: r\n  identityKeyFile: {key}\n"
                    f"aecsServer:\n  serverEndpoint: \"{s.grpc}\"\n  instance: {pin.hex()}\n  verifyPolicy:\n")
            f.writelines("    " + line + "\n" for line in open(POLICY).read().splitlines())
        cmd += ["--config", kc]
    else:
        env["AECS_INSTANCE"] = pin.hex()
        cmd += ["--server", s.grpc, "--policy", POLICY, "--key", key]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120, env=env)
    out = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout.strip() else None
    return r.returncode, out, r.stdout + r.stderr


def files(d):
    return {int(n.split("-")[1]): open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))}


def sim(name):
    return aecs_env.sim_dir(WORK, name)


SIM_A, SIM_B = sim("sim-a"), sim("sim-b")
a = Server("a", SIM_A, STORE)
try:
    rc, _, t = a.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-key", R3,
                      "--recovery-threshold", "1")
    check(rc == 2 and "one key holder alone" in t and "--recovery-single-holder" in t,
          f"threshold 1 without saying so is refused: {t}")
    rc, _, t = a.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R1, "--recovery-threshold", "2")
    check(rc == 2 and "the same key" in t, f"a key twice in the set is refused: {t}")
    rc, init, t = a.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-key", R3,
                         "--recovery-threshold", "2")
    assert rc == 0, t
    rc, st, t = a.tool(AECSADMIN, "status", ADMIN)
    rec = st["recovery"]
    check(rec["threshold"] == 2 and rec["version"] == "1" and len(rec["keys"]) == 3 and not rec.get("singleHolder"),
          f"status shows the recovery set fixed at init: {rec}")
    rc, _, t = a.tool(AECSADMIN, "addadmin", ADMIN, "--admin-key", ADMIN2)
    assert rc == 0, t
    rc, _, t = a.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    assert rc == 0, t
    aecs_env.create_marker(a, SERVICEADMIN, SVC, "pay", MARKER, ident["mrsigner"], WORK)
    # a store that fails reading services/pay is a store failure, with its reason, not a
    # caller who is not the service's admin (the host puts a directory where the file was)
    svc_file = rf.store_objects(STORE)["services/pay"][0]
    os.rename(svc_file, svc_file + ".aside")
    os.mkdir(svc_file)
    rc, _, t = a.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    os.rmdir(svc_file)
    os.rename(svc_file + ".aside", svc_file)
    check(rc == 1 and "reading services/pay" in t and "not the admin" not in t,
          f"a store failure reading the service is said as one: {t}")
    rc, _, t = a.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0, f"... and the service admin passes once the store reads again: {t}")
    rc, _, t = a.tool(SERVICEADMIN, "list", R4, "--service", "pay")
    check(rc == 1 and "not the admin of service pay" in t, f"a stranger is not the service's admin: {t}")

    # ---- a single admin's backup (ADMIN2: any admin, and any admin can add admins) ----
    bk1 = os.path.join(WORK, "backup-v1")
    rc, out, t = a.tool(AECSADMIN, "backup", ADMIN2, "--out-dir", bk1)
    check(rc == 0 and len(out["shares"]) == 3 and out["threshold"] == 2, f"backup: three shares: {t}")
    v1 = files(bk1)
    hdr = {i: rf.parse(b) for i, b in v1.items()}
    check(all(h["kind"] == 1 and h["threshold"] == 2 and h["count"] == 3 and h["version"] == 1 and
              h["instance"] == base64.b64decode(init["instancePublic"]) for h in hdr.values()) and
          [hdr[i]["recovery"] for i in (1, 2, 3)] == [rf.raw_public(rf.load_key(k)) for k in (R1, R2, R3)],
          "each share names the set, its index and the recovery key it is sealed to")
    opened = {}
    for i, k in ((1, R1), (2, R2), (3, R3)):
        opened[i] = rf.open_share(v1[i], k)
    try:
        rf.open_share(v1[1], ADMIN2)
        check(False, "the admin's own key opens a share")
    except Exception:
        check(True, "the admin who took the backup cannot open any share with its own key")
    rc, t = offline("recovery", "open-share", "--key", ADMIN2, "--share", os.path.join(bk1, "share-1-of-3.ktrs"),
                    "--out", os.path.join(WORK, "x"))
    check(rc == 1 and "share 1 is for recovery key" in t, f"aecsadmin says whose share it is: {t}")
    vals = {i: rf.value(o) for i, o in opened.items()}
    real = rf.combine([(1, vals[1]), (3, vals[3])])
    objs = rf.opened_with(real, STORE)
    check("aecs/state" in objs and "secrets/pay/marker" in objs, f"two shares give the storage key: it opens {objs}")
    for i in (1, 2, 3):
        check(rf.opened_with(vals[i], STORE) == [], f"share {i} alone (M - 1 = 1 of 2) opens no object")
    check(rf.opened_with(rf.combine([(2, vals[2])]), STORE) == [], "one share interpolated alone opens nothing")

    # ---- changing the set: only with M of the current holders' consent ----
    prop = os.path.join(WORK, "v2.proposal")
    rc, _, t = aecs_env.propose(a, AECSADMIN, ADMIN2, prop, [R1, R2, R4], 2)
    check(rc == 0, f"an admin proposes a new set (R3 out, R4 in): {t}")
    c = {}
    for name, k in (("r1", R1), ("r2", R2), ("r4", R4)):
        c[name] = os.path.join(WORK, f"consent-{name}")
        rc, t = offline("recovery", "sign", "--key", k, "--proposal", prop, "--out", c[name])
        check(rc == 0 and "consenting: instance" in t, f"holder {name} signs it offline, shown what: {t}")
    out2 = os.path.join(WORK, "backup-v2")
    for consents, says, what in (([], "needs the consent of 2 of its 3 holders; 0 given", "no consent"),
                                 ([c["r1"]], "1 given", "one consent of two"),
                                 ([c["r1"], c["r4"]], "not a key of the recovery set in force", "a stranger's consent"),
                                 ([c["r1"], c["r1"]], "consented already", "one holder twice")):
        args = sum((["--consent", x] for x in consents), [])
        rc, _, t = a.tool(AECSADMIN, "recovery", ADMIN2, "set", "--proposal", prop, "--out-dir", out2, *args)
        check(rc == 1 and says in t, f"a single admin cannot change the set ({what}): {t}")
    rc, st, _ = a.tool(AECSADMIN, "status", ADMIN)
    check(st["recovery"]["version"] == "1", "the set is unchanged after the refusals")
    other = os.path.join(WORK, "other.proposal")
    rc, _, t = aecs_env.propose(a, AECSADMIN, ADMIN2, other, [R4], 1)
    rc, _, t = a.tool(AECSADMIN, "recovery", ADMIN2, "set", "--proposal", other, "--out-dir", out2, "--consent", c["r1"],
                      "--consent", c["r2"])
    check(rc == 1 and "consents to another proposal" in t, f"consents to one proposal do not pass another: {t}")
    rc, out, t = a.tool(AECSADMIN, "recovery", ADMIN2, "set", "--proposal", prop, "--out-dir", out2, "--consent", c["r1"],
                        "--consent", c["r2"])
    check(rc == 0 and out["version"] == 2 and len(out["shares"]) == 3, f"two holders consent: the set changes: {t}")
    rc, _, t = a.tool(AECSADMIN, "recovery", ADMIN2, "set", "--proposal", prop, "--out-dir", out2 + "x", "--consent",
                      c["r1"], "--consent", c["r2"])
    check(rc == 1 and "not over this change" in t, f"the consents replayed after the change are refused: {t}")
    rc, st, _ = a.tool(AECSADMIN, "status", ADMIN)
    check(st["recovery"]["version"] == "2", f"status: set v2 {st['recovery']}")
    metrics = a.get("/metrics")[1]
    check('kubetee_aecs_requests_total{op="SetRecovery",outcome="ok"} 1' in metrics and
          'kubetee_aecs_requests_total{op="SetRecovery",outcome="denied"}' in metrics,
          "/metrics counts SetRecovery by outcome")
    v2 = files(out2)
    bk2b = os.path.join(WORK, "backup-v2b")
    rc, _, t = a.tool(AECSADMIN, "backup", ADMIN, "--out-dir", bk2b)
    v2b = files(bk2b)
    check(rc == 0 and rf.parse(v2b[1])["backup_id"] != rf.parse(v2[1])["backup_id"], "each backup has its own id")
    instance = rf.parse(v2[1])["instance"]
finally:
    a.stop()

# ---- a new machine: a copy of the store, another platform secret ----
STORE_B = os.path.join(WORK, "store-b")
shutil.copytree(STORE, STORE_B)
b = Server("b", SIM_B, STORE_B)
try:
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    check(rc == 0 and st["state"] == "restore", f"the new machine waits for a restore: {t[:200]}")
    path = {}

    def write(name, data):
        path[name] = os.path.join(WORK, name)
        with open(path[name], "wb") as f:
            f.write(data)
        return path[name]

    write("v2-1.open", rf.open_share(v2[1], R1))
    rc, t = offline("recovery", "open-share", "--key", R1, "--share", os.path.join(out2, "share-1-of-3.ktrs"),
                    "--out", os.path.join(WORK, "v2-1.tool"), "--instance", instance.hex())
    check(rc == 0 and open(os.path.join(WORK, "v2-1.tool"), "rb").read() == open(path["v2-1.open"], "rb").read(),
          f"aecsadmin open-share, offline, checks the instance and writes the same open share: {t}")
    rc, t = offline("recovery", "open-share", "--key", R1, "--share", os.path.join(out2, "share-1-of-3.ktrs"),
                    "--out", os.path.join(WORK, "x"), "--instance", "00" * 64)
    check(rc == 1 and "is of instance" in t and "not the pinned" in t, f"open-share refuses a share of another instance than pinned: {t}")
    rc, out, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", path["v2-1.open"])
    check(rc == 0 and out["shares"] == 1 and out["threshold"] == 2, f"share 1 of the threshold 2 taken: {t}")
    rc, _, t = b.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 1 and "waits for a restore" in t, f"M - 1 shares restore nothing: {t}")
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    check(st["state"] == "restore" and st["restore"]["indexes"] == [1] and st["restore"]["threshold"] == 2,
          f"status shows the collection: {st.get('restore')}")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", path["v2-1.open"])
    check(rc == 1 and "share 1 of 3 has been given already" in t, f"a duplicate share is refused: {t}")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", os.path.join(out2, "share-2-of-3.ktrs"))
    check(rc == 1 and "is sealed to recovery key 2" in t, f"a sealed share without its key: {t}")
    forged = bytearray(rf.open_share(v2[2], R2))
    forged[rf.HEADER + 3] ^= 1
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", write("forged", bytes(forged)))
    check(rc == 1 and "Restore: share 2 is not signed by the instance it names" in t,
          f"a forged share is refused by the enclave: {t}")
    rc, t = offline("recovery", "open-share", "--key", R2, "--share", path["forged"], "--out", os.path.join(WORK, "x"))
    check(rc == 1 and "not signed by the instance" in t, f"... and by open-share: {t}")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", write("v1-2.open", opened[2]))
    check(rc == 1 and "is of recovery set v1, this store's aecs/master names set v2: a share of an older set" in t,
          f"a share of the old set is refused by name (the key rotated with the set): {t}")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", write("v2b-2.open", rf.open_share(v2b[2], R2)))
    check(rc == 1 and "do not combine" in t, f"a share of another backup: {t}")
    fake = ec.generate_private_key(ec.SECP256R1())
    fake_secret = os.urandom(32)
    fake_vals = rf.split(fake_secret, 2, 3)
    check(rf.combine([(1, fake_vals[0]), (3, fake_vals[2])]) == fake_secret, "the test's own split combines")
    h2 = rf.parse(v2[2])
    fakes = [rf.make_open(fake, 2, b"\x77" * 16, i, 2, 3, h2["recovery"], fake_vals[i - 1]) for i in (1, 2, 3)]
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", write("fake-2", fakes[1]))
    check(rc == 1 and "this store's aecs/master names instance" in t, f"a share of another instance is refused: {t}")
    # the host restarts the enclave: the collection is gone (progress lost, nothing else)
    b.stop()
    b = Server("b2", SIM_B, STORE_B)
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    check(st["state"] == "restore" and "restore" not in st, f"a restart drops the collection: {t[:300]}")
    # D: a share signed by a key of the sender's own, first after the restart: it names
    # another instance than the store's aecs/master, so it is refused and fixes nothing
    rc, out, t = b.tool(AECSADMIN, "restore", SVC, "--share", write("fake-1", fakes[0]))
    check(rc == 1 and "this store's aecs/master names instance" in t and "not this store's share" in t,
          f"D: another instance's share first is refused by the store's instance: {t}")
    # G: a made-up threshold-1 share would complete at once: refused the same way, no work
    lone = rf.make_open(fake, 2, b"\x66" * 16, 1, 1, 1, h2["recovery"], fake_secret)
    rc, out, t = b.tool(AECSADMIN, "restore", SVC, "--share", write("fake-lone", lone))
    check(rc == 1 and "this store's aecs/master names instance" in t, f"G: a made-up 1-of-1 share is refused: {t}")
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    check(st["state"] == "restore" and "restore" not in st, f"... and nothing was collected: {t[:300]}")
    # F: a pinned kubeconfig (or AECS_INSTANCE) does not stop a restore: an AECS waiting for
    # its key cannot prove the instance, so the session is not pinned and each share is
    # checked against the pin before it is sent
    rc, _, t = pinned(b, ADMIN, instance, "status")
    check(rc == 1 and "the pinned instance" in t and "waits for a restore" in t,
          f"F: a pinned status says AECS waits for a restore: {t[:300]}")
    rc, out, t = pinned(b, ADMIN2, instance, "restore", "--share", path["v2-1.open"], kubeconfig=True)
    check(rc == 0 and out["shares"] == 1, f"D, F: the real share is taken after the foreign ones, the kubeconfig pinned: {t}")
    rc, _, t = pinned(b, ADMIN2, instance, "restore", "--share", write("fake-3", fakes[2]))
    check(rc == 1 and "fake-3 is of instance " + rf.raw_public(fake)[:8].hex() in t and "not the pinned" in t and
          "AECS_INSTANCE" in t and "Restore:" not in t, f"F: a share of another instance than pinned is not sent: {t}")
    rc, _, t = pinned(b, ADMIN2, instance, "restore", "--share", path["fake-3"], kubeconfig=True)
    check(rc == 1 and "not the pinned" in t and "aecsServer.instance" in t, f"F: ... nor with the kubeconfig's pin: {t}")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN2, "--share", path["fake-3"])
    check(rc == 1 and "this store's aecs/master names instance" in t, f"... and a foreign one after it refused: {t}")
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    check(st["restore"]["indexes"] == [1], f"... and the collection holds the real share alone: {st.get('restore')}")
    rc, out, t = pinned(b, SVC, instance, "restore", "--share", os.path.join(out2, "share-3-of-3.ktrs"),
                        "--recovery-key", R4)
    check(rc == 0 and out.get("restored") is True, f"share 3 (AECS_INSTANCE pinned): restored: {t}")
    rc, _, t = pinned(b, ADMIN, instance, "status")
    check(rc == 0, f"F: restored, the pinned status passes: {t[:200]}")
    rc, st, t = b.tool(AECSADMIN, "status", ADMIN)
    keys = [base64.b64decode(k["raw"]) for k in st["recovery"]["keys"]]
    check(st["state"] == "ready" and st["recovery"]["version"] == "2" and
          base64.b64decode(st["instancePublic"]) == instance and
          keys == [rf.raw_public(rf.load_key(k)) for k in (R1, R2, R4)],
          f"ready, the same instance and set v2 (R1, R2, R4): {t[:300]}")
    rc, out, t = b.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0 and [s["name"] for s in out["secrets"]] == ["marker"], f"the secrets are served again: {t[:300]}")
    # M: the restored chain goes on from aecs/state's checkpoint, and says so: the first line
    # after the restore names the checkpoint (a line of machine a's file), and audit verify
    # takes the whole file (the restore-phase lines, then the chain from the checkpoint)
    b2_audit = os.path.join(WORK, "b2.audit")
    rc, out, t = b.tool(AECSADMIN, "audit", ADMIN, "verify", b2_audit)
    check(rc == 0 and out["ok"] and out["restores"] == 1, f"M: audit verify takes the restored machine's file: {t}")
    lines = [json.loads(x) for x in open(b2_audit)]
    at = next((i for i, x in enumerate(lines) if x["op"] == "Restored"), None)
    check(at is not None and lines[at - 1]["op"] == "Restore" and lines[at - 1]["target"] == "share 3 of 3" and
          lines[at]["target"] == f"from checkpoint seq {out['restoredFrom']} hash {out['restoredHash']}" and
          lines[at]["seq"] == out["restoredFrom"] + 1 and lines[at]["prev"] == out["restoredHash"] and "sig" in lines[at],
          f"M: the first line after the restore names the checkpoint it goes on from, signed: {lines[at] if at else t}")
    a_lines = [json.loads(x) for x in open(os.path.join(WORK, "a.audit"))]
    mine = [x for x in a_lines if x["seq"] == out["restoredFrom"]]
    check(len(mine) == 1 and mine[0]["hash"] == out["restoredHash"],
          f"M: the checkpoint is a line of machine a's file (seq {out['restoredFrom']}): the chains join there")
    rc, _, t = b.tool(AECSADMIN, "restore", ADMIN, "--share", path["v2-1.open"])
    check(rc == 1 and "nothing to restore" in t, f"a restore once ready is refused: {t}")
    rc, out, t = b.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "backup-b"))
    check(rc == 0 and rf.parse(files(os.path.join(WORK, "backup-b"))[1])["instance"] == instance,
          f"the restored AECS backs up as the same instance: {t[:200]}")
finally:
    b.stop()

# ---- the instance the store names, and a host that names another ----
master = rf.store_objects(STORE)["aecs/master"][1]
check(master[:8] == b"KTAECSM4" and master[8:72] == instance and master[72:76] == (1).to_bytes(4, "little") and
      master[76:84] == (2).to_bytes(8, "little") and master[84] == 0,
      "aecs/master names the instance, key generation 1 and set v2 in the clear (v4), for a machine that cannot "
      "unseal it")
STORE_C = os.path.join(WORK, "store-c")
shutil.copytree(STORE, STORE_C)
rf.put_value(STORE_C, "aecs/master", master[:8] + rf.raw_public(fake) + master[72:])
c = Server("c", sim("sim-c"), STORE_C)
try:
    rc, out, t = c.tool(AECSADMIN, "restore", ADMIN2, "--share", path["v2-1.open"])
    check(rc == 1 and "this store's aecs/master names instance" in t,
          f"the host names another instance: the real shares are refused (a host can stop a restore anyway): {t}")
    rc, out, t = c.tool(AECSADMIN, "restore", ADMIN2, "--share", path["fake-lone"])
    check(rc == 1 and "does not open this store's aecs/state" in t,
          f"G: the host's own 1-of-1 share completes and is refused on aecs/state: {t}")
    c.log.seek(0)
    log = c.log.read()
    check("aecs.object_damaged" not in log and "aecs.started" in log,
          "G: ... after trying aecs/state alone: no other object was opened with the made-up key")
    rc, st, t = c.tool(AECSADMIN, "status", ADMIN)
    check(st["state"] == "restore" and "restore" not in st, f"... and the collection is dropped: {t[:300]}")
finally:
    c.stop()

# a v1 aecs/master (the sealed key alone) names no instance: the first share decides, as before
STORE_D = os.path.join(WORK, "store-d")
shutil.copytree(STORE, STORE_D)
rf.put_value(STORE_D, "aecs/master", master[85:])
d = Server("d", sim("sim-d"), STORE_D)
try:
    d.log.seek(0)
    check("not named (a v1 aecs/master)" in d.log.read(), "a v1 aecs/master: the start says it names no instance")
    rc, out, t = d.tool(AECSADMIN, "restore", ADMIN2, "--share", path["v2-1.open"])
    check(rc == 0 and out["shares"] == 1, f"... and a share is taken on its own instance's word: {t}")
finally:
    d.stop()

print("every recovery attack refused" if not FAILED else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
