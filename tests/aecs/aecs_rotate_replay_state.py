"""attack4 A, the state: removed recovery holders take the new key. A recovery set
{R1, R2} (2 of 2) is changed to {R3, R4} with R1's and R2's consent: the key rotates, so
R1 and R2's shares (K) should open nothing of the store from then. The host kept
aecs/master marked rotating from that SetRecovery; it puts it back, R1+R2 re-seal the
aecs/state from before the change (their set in it) under K at the current version and
id, and AECS takes it in and seals it under K2: the next Backup (any admin, an honest one)
gives R1 and R2 shares of K2. Expected (FAILS today): refused.

  aecs_rotate_replay_state.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
COUNT = 300
WORK = tempfile.mkdtemp(prefix="kt-aecs-rotate-replay-state-")
check = aecs_env.Checks()
ADMIN, SVC, R1, R2, R3, R4 = (aecs_env.keygen(WORK, n) for n in ("admin", "svc", "r1", "r2", "r3", "r4"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, extra=f"max_secrets: {COUNT + 100}\n")
STORE = os.path.join(WORK, "store")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)


def Server(name):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM)


def key_of(d, holders=None):
    sh = {rf.parse(open(os.path.join(d, n), "rb").read())["index"]: open(os.path.join(d, n), "rb").read()
          for n in os.listdir(d)}
    return rf.combine([(i, rf.value(rf.open_share(sh[i], k))) for i, k in (holders or ((1, R1), (2, R2)))])


def create(s, names):
    path = os.path.join(WORK, "secrets.yaml")
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: SecretPolicy\nsecrets:\n")
        for n in names:
            f.write(f"- spec:\n    name: {n}\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: pay\n"
                    f"    policy: {{enclaveMatchAnyRules: [{{mrsigner: {ident['mrsigner']}}}]}}\n"
                    f"  data: \"v=val-{n}\"\n")
    rc, _, t = s.tool(SERVICEADMIN, "create", SVC, "--file", path)
    assert rc == 0, t[-2000:]


def master_flags(v):
    return v[8 + 76] if v[:8] == b"KTAECSM4" and len(v) > 85 else None


s = Server("a")
try:
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-threshold", "2")
    assert rc == 0, t
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    assert rc == 0, t
    for i in range(0, COUNT, 200):
        create(s, [f"s{j:04d}" for j in range(i, min(COUNT, i + 200))])
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk0"))
    assert rc == 0, t
    k_old = key_of(os.path.join(WORK, "bk0"))  # R1 and R2 hold it
    old_state = rf.store_objects(STORE)["aecs/state"][1]
    mpath = rf.store_objects(STORE)["aecs/master"][0]
    kept, stop = [], threading.Event()

    def watch():
        while not stop.is_set() and not kept:
            try:
                b = open(mpath, "rb").read()
            except OSError:
                continue
            kl = int.from_bytes(b[8:10], "little")
            n = int.from_bytes(b[34:42], "little")
            v = b[42 + kl:42 + kl + n]
            if master_flags(v) == 1:
                kept.append(v)
    prop = os.path.join(WORK, "v2.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", R3, "--recovery-key", R4,
                      "--recovery-threshold", "2", "--out", prop)
    assert rc == 0, t
    consents = []
    for name, k in (("r1", R1), ("r2", R2)):
        consents += ["--consent", os.path.join(WORK, f"consent-{name}")]
        r = subprocess.run([AECSADMIN, "recovery", "sign", "--key", k, "--proposal", prop, "--out", consents[-1]],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    w = threading.Thread(target=watch)
    w.start()
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", prop, "--out-dir",
                      os.path.join(WORK, "bk1"), *consents)
    stop.set()
    w.join()
    assert rc == 0, t
    check(kept != [], "the host kept a copy of aecs/master marked rotating (K2 and K)")
finally:
    s.stop()
k_new = key_of(os.path.join(WORK, "bk1"), ((1, R3), (2, R4)))
check(rf.opened_with(k_old, STORE) == [] and "aecs/state" in rf.opened_with(k_new, STORE),
      "the set changed and the key rotated: R1+R2's key opens nothing, R3+R4's opens the store")

# the host puts the kept master back; R1+R2 seal the old state (their set) under K at the
# current version and id of aecs/state, as generation key_gen - 1
objs = {k: v for k, (_, v) in rf.store_objects(STORE).items()}
_, gen, ver, oid, _, _ = rf.object_fields(objs["aecs/state"])
plain = rf.open_object(k_old, "aecs/state", old_state)
assert plain is not None
iv = os.urandom(12)
aad = b"kubetee.aecs.object.v2\0aecs/state\0" + ver + oid + struct.pack("<I", gen - 1)
if kept:
    rf.put_value(STORE, "aecs/master", kept[0])
rf.put_value(STORE, "aecs/state", b"KTAO\x02" + struct.pack("<I", gen - 1) + ver + oid + iv +
             AESGCM(k_old).encrypt(iv, plain, aad))

s = Server("b")
try:
    time.sleep(0.5)
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk2"))
finally:
    s.stop()
taken = None
if rc == 0:
    try:
        taken = key_of(os.path.join(WORK, "bk2"))  # opened by R1 and R2, the removed holders
    except Exception:
        taken = None
opened = rf.opened_with(taken, STORE) if taken else []
check(opened == [], f"the removed holders R1+R2 do not get the live store's key from a Backup after the host "
                    f"put back a kept rotating aecs/master and their old state (they open {len(opened)} objects)")
print("attack4 A (state) refused" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
