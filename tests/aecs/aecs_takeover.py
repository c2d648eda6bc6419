"""A hostile host tries to make itself AECS admin (the AECS review's F0 and F6, issue 12),
with the real aecs-server, aecsadmin and serviceadmin; every attempt must fail.

F0: the host hides every object but aecs/master and restarts: AECS unseals the real
storage key, finds no aecs/state and must say "damaged" (status, /readyz, /metrics), never
"uninitialized": the host's init is refused. With the objects back, the real admin's AECS
is ready as before. And an init on a store emptied of everything (aecs/master too) makes
a new storage key: the host's Backup of it opens none of the real objects.

F6: that emptied-store init is accepted (the host cannot be stopped from running an AECS
of its own), but it is a new instance: the tools pinning the real instance key (--instance,
what aecsadmin init printed) refuse it; without a pin they accept it (the documented limit:
whoever initialised the AECS you reach). The same pin in the admin kubeconfig
(aecsServer.instance) refuses it too; AECS_INSTANCE and --instance beside it win. With the
real store back, the pin passes again.

The store edited while AECS runs (aecs_store.py: the same attacks on each backend): an
object swapped for another's, one corrupted, an older version replayed, one deleted, each
refused with its reason; the honest objects back, everything reads again.

Every step runs on the backend named (fs, or etcd: a real etcd-server started here).
Exit 1 when any takeover succeeds, 0 when AECS refuses them all.

  aecs_takeover.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE [fs|etcd]"""
import base64
import os
import shutil
import subprocess
import sys
import tempfile

import aecs_env
import aecs_store
from recovery_files import open_share, opened_with, store_objects, value

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
KIND = sys.argv[6] if len(sys.argv) > 6 else "fs"
WORK = tempfile.mkdtemp(prefix=f"kt-aecs-takeover-{KIND}-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
FAILED = check.failed


def keygen(name):
    return aecs_env.keygen(WORK, name)


OWNER, OWNER_SVC, HOST, HOST_RECOVERY = keygen("owner"), keygen("owner-svc"), keygen("host"), keygen("host-rec")
MARKER = b"real-secret-marker-7c41d2: only TAs may ever see this"
STORE = aecs_store.backend(KIND, WORK)
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, store=STORE.config())


def Server(name):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM)


def kubeconfig(s, pin):
    """An admin kubeconfig for OWNER at s, verifyPolicy the tools' policy, pinning pin
    (aecsServer.instance)."""
    path = os.path.join(WORK, "kubeconfig.yaml")
    os.chmod(OWNER, 0o600)
    with open(path, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nadministrator:\n  name: owner\n  identityKeyFile: {OWNER}\n"
                f"aecsServer:\n  serverEndpoint: \"{s.grpc}\"\n  instance: {pin}\n  verifyPolicy:\n")
        for line in open(POLICY).read().splitlines():
            f.write("    " + line + "\n")
    return path


def with_kubeconfig(prog, verb, kc, env_pin=None, *args):
    """prog verb --config kc (AECS_INSTANCE set to env_pin when given): (rc, output)."""
    env = dict(os.environ)
    env.pop("AECS_INSTANCE", None)
    if env_pin:
        env["AECS_INSTANCE"] = env_pin
    r = subprocess.run([prog, verb, "--config", kc, "--sim-dir", SIM, "--json"] + list(args), capture_output=True,
                       text=True, timeout=120, env=env)
    return r.returncode, r.stdout + r.stderr


def backup_key(out_dir):
    """The storage key from the host's own backup: one share, threshold 1 (its single
    holder said so at init), opened with HOST_RECOVERY (docs/formats.md)."""
    (name,) = os.listdir(out_dir)
    return value(open_share(open(os.path.join(out_dir, name), "rb").read(), HOST_RECOVERY))


def hidden_objects_damage(real):
    """F0: every object but aecs/master hidden."""
    aside = STORE.hide(lambda k: k == "aecs/master")
    s = Server("master-only")
    rc, st, text = s.tool(AECSADMIN, "status", HOST)
    check(rc == 0 and st["state"] == "damaged", f"F0: a storage key without its state is damaged: {text.strip()[:200]}")
    check(s.get("/readyz")[0] == 503, "F0: /readyz is not ready while damaged")
    check('kubetee_aecs_state{state="damaged"} 1' in s.get("/metrics")[1], "F0: /metrics shows damaged")
    rc, _, text = s.tool(AECSADMIN, "init", HOST)
    check(rc != 0 and "damaged" in text and "init is refused" in text, f"F0: the host's init is refused: {text.strip()[:300]}")
    bk = os.path.join(WORK, "backup-damaged")
    rc, _, text = s.tool(AECSADMIN, "backup", HOST, "--out-dir", bk)
    check(rc != 0, f"F0: no backup for the host: {text.strip()[:200]}")
    s.stop()
    # the way out: the objects back (a copy of the store), and the real AECS is as it was
    STORE.unhide(aside)
    s = Server("put-back")
    rc, st, text = s.tool(AECSADMIN, "status", OWNER)
    check(rc == 0 and st["state"] == "ready" and st["admins"] == real["admins"],
          f"F0: the store put back: ready, the real admins: {text.strip()[:200]}")
    check(s.get("/readyz")[0] == 200, "F0: /readyz ready again")
    rc, st, text = s.tool(AECSADMIN, "status", OWNER, "--instance", REAL_INSTANCE)
    check(rc == 0, f"F6: the instance key lives through restarts: {text.strip()[:200]}")
    s.stop()


def emptied_store_new_key():
    """An init on a store emptied of everything makes a new storage key: the host's Backup
    opens none of the real objects. Returns the running fake AECS (for F6)."""
    global REAL
    REAL = STORE.take_all()
    shutil.move(os.path.join(WORK, "audit.log"), os.path.join(WORK, "audit.log.real"))
    s = Server("fake")
    rc, _, text = s.tool(AECSADMIN, "init", HOST, "--recovery-key", HOST_RECOVERY, "--recovery-threshold", "1",
                         "--recovery-single-holder")
    check(rc == 0, f"the host inits an empty store: {text.strip()[:200]}")
    rc, st, text = s.tool(AECSADMIN, "status", HOST)
    check(rc == 0 and st["recovery"].get("singleHolder") is True and st["recovery"]["threshold"] == 1,
          f"a single-holder recovery set is shown as one: {text.strip()[:300]}")
    bk = os.path.join(WORK, "backup-fake")
    rc, _, text = s.tool(AECSADMIN, "backup", HOST, "--out-dir", bk)
    check(rc == 0, f"the host backs its own AECS up: {text.strip()[:200]}")
    key = backup_key(bk)
    check(opened_with(key, STORE.objects()) != [], "the host's storage key opens its own objects (the check works)")
    check(opened_with(key, STORE.objects(REAL)) == [], "F0: the host's storage key opens none of the real objects")
    rc, st, text = s.tool(AECSADMIN, "status", HOST, "--instance", REAL_INSTANCE)
    check(rc != 0 and "not the pinned" in text, f"F6: the host's AECS refused by a pinning admin: {text.strip()[:300]}")
    rc, _, text = s.tool(SERVICEADMIN, "list", OWNER_SVC, "--service", "pay", "--instance", REAL_INSTANCE)
    check(rc != 0 and "not the pinned" in text, f"F6: ... and by a pinning service admin: {text.strip()[:300]}")
    rc, st, text = s.tool(AECSADMIN, "status", HOST)
    fake_instance = base64.b64decode(st["instancePublic"]).hex() if rc == 0 else ""
    check(rc == 0 and fake_instance != REAL_INSTANCE,
          "F6: unpinned, the host's AECS is accepted: another instance key (the limit docs/aecs.md states)")
    # the pin in the admin kubeconfig (aecsServer.instance), and what overrides it
    kc = kubeconfig(s, REAL_INSTANCE)
    rc, text = with_kubeconfig(AECSADMIN, "status", kc)
    check(rc != 0 and "not the pinned" in text, f"F6: the kubeconfig's instance pin refuses the host's AECS: {text[:300]}")
    rc, text = with_kubeconfig(SERVICEADMIN, "list", kc, None, "--service", "pay")
    check(rc != 0 and "not the pinned" in text, f"F6: ... in serviceadmin too: {text[:300]}")
    rc, text = with_kubeconfig(AECSADMIN, "status", kc, fake_instance)
    check(rc == 0, f"AECS_INSTANCE beside the kubeconfig wins over its pin: {text[:200]}")
    rc, text = with_kubeconfig(AECSADMIN, "status", kc, REAL_INSTANCE, "--instance", fake_instance)
    check(rc == 0, f"--instance wins over AECS_INSTANCE and the kubeconfig: {text[:200]}")
    rc, text = with_kubeconfig(AECSADMIN, "status", kc, fake_instance, "--instance", REAL_INSTANCE)
    check(rc != 0 and "not the pinned" in text, f"... either way: {text[:200]}")
    return s


def put_real_back():
    STORE.put_all(REAL)
    shutil.move(os.path.join(WORK, "audit.log.real"), os.path.join(WORK, "audit.log"))


# what each backend's reader says when the host deletes or replays an object: etcd hands
# AECS whatever it holds, so the enclave finds it out; fs checks its files against its
# own index first (counters and presence), so the host's edit stops there
REASONS = {
    "fs": {"replay": "says version 1, the store 2", "delete": "gone, where this store wrote version 1"},
    "etcd": {"replay": "is version 1 of it; this enclave wrote or read version 2",
             "delete": "(version 1) is missing from the store"},
}


def hostile_store(s):
    """The host edits the store under a running AECS: each edit refused with its reason."""
    def create(name):
        rc, _, t = s.tool(SERVICEADMIN, "create", OWNER_SVC, "--service", "pay", "--name", name, "--type",
                          "SECRET_TYPE_AES256_KEY", "--mrsigner", ident["mrsigner"])
        check(rc == 0, f"create {name}: {t.strip()[:200]}")

    def update(name, needle, what):
        rc, _, t = s.tool(SERVICEADMIN, "update", OWNER_SVC, "--service", "pay", "--name", name)
        check(rc != 0 and needle in t, f"{KIND}: {what}: {t.strip()[:300]}")

    create("k1")
    create("k2")
    k1, k2 = "secrets/pay/k1", "secrets/pay/k2"
    honest = STORE.objects()
    STORE.host_put(k1, honest[k2], STORE.version(k2))
    update("k1", "does not open under this key and version (swapped", "another object's bytes swapped in")
    bad = bytearray(honest[k1])
    bad[-20] ^= 1
    STORE.host_put(k1, bytes(bad), 1)
    update("k1", "does not open under this key and version", "a corrupted object")
    STORE.host_put(k1, honest[k1], 1)
    rc, out, t = s.tool(SERVICEADMIN, "update", OWNER_SVC, "--service", "pay", "--name", "k1", "--expected-version", "1")
    check(rc == 0 and out["version"] == "2", f"{KIND}: honest again, k1 updates: {t.strip()[:200]}")
    newer = STORE.objects()[k1]
    STORE.host_put(k1, honest[k1], 1)
    update("k1", REASONS[KIND]["replay"], "an older version replayed")
    STORE.host_put(k1, newer, 2)
    gone = STORE.host_delete(k2)
    update("k2", REASONS[KIND]["delete"], "an object deleted")
    STORE.host_undelete(gone)
    rc, out, t = s.tool(SERVICEADMIN, "list", OWNER_SVC, "--service", "pay")
    check(rc == 0 and sorted(x["name"] for x in out["secrets"]) == ["k1", "k2", "marker"],
          f"{KIND}: the honest objects back, every secret reads: {t.strip()[:300]}")


try:
    s = Server("real")
    rc, init, t = s.tool(AECSADMIN, "init", OWNER)
    assert rc == 0, t
    REAL_INSTANCE = base64.b64decode(init["instancePublic"]).hex()
    check(f"the AECS instance key (pin it" in t and REAL_INSTANCE in t, f"F6: init prints the instance key: {t[:300]}")
    rc, _, t = s.tool(AECSADMIN, "register", OWNER, "--name", "pay", "--admin-key", OWNER_SVC)
    assert rc == 0, t
    aecs_env.create_marker(s, SERVICEADMIN, OWNER_SVC, "pay", MARKER, ident["mrsigner"], WORK)
    _, real, _ = s.tool(AECSADMIN, "status", OWNER)
    s.stop()
    hidden_objects_damage(real)
    fake = emptied_store_new_key()
    fake.stop()
    put_real_back()
    s = Server("real-again")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", REAL_INSTANCE)
    check(rc == 0, f"F6: the real store back: the pinned instance proves itself: {text.strip()[:200]}")
    rc, text = with_kubeconfig(AECSADMIN, "status", kubeconfig(s, REAL_INSTANCE))
    check(rc == 0, f"F6: the real store back: the kubeconfig's pin passes: {text.strip()[:200]}")
    rc, text = with_kubeconfig(AECSADMIN, "status", kubeconfig(s, "0" * 127 + "g"))
    check(rc != 0 and "aecsServer: instance is not hex" in text, f"a malformed kubeconfig pin is refused by name: {text[:200]}")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", "00" * 64)
    check(rc != 0 and "not the pinned" in text, f"F6: a wrong pin is refused: {text.strip()[:200]}")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", "zz")
    check(rc != 0 and "128 hex digits" in text, f"a malformed pin is refused by name: {text.strip()[:200]}")
    rc, out, text = s.tool(SERVICEADMIN, "list", OWNER_SVC, "--service", "pay")
    check(rc == 0 and [x["name"] for x in out["secrets"]] == ["marker"],
          f"{KIND}: after the restarts the secret reads back: {text.strip()[:200]}")
    hostile_store(s)
    s.stop()
finally:
    STORE.stop()
    shutil.rmtree(WORK, ignore_errors=True)
print("FAILED: " + "; ".join(FAILED) if FAILED else "every takeover refused")
sys.exit(1 if FAILED else 0)
