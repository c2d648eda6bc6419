"""attack4 A, the state: removed recovery holders take the new key. A recovery set
{R1, R2} (2 of 2) is changed to {R3, R4} with R1's and R2's consent: the key rotates, so
R1 and R2's shares (K) should open nothing of the store from then. The host kept
aecs/master marked rotating from that SetRecovery; it puts it back, R1+R2 re-seal the
aecs/state from before the change (their set in it) under K at the current version and
id, and AECS takes it in and seals it under K2: the next Backup (any admin, an honest one)
gives R1 and R2 shares of K2. Expected (the reproducer failed before its fix): refused.

  aecs_rotate_replay_state.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import sys
import tempfile
import time

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
COUNT = 300
WORK = tempfile.mkdtemp(prefix="kt-aecs-rotate-replay-state-")
check = aecs_env.Checks()
ADMIN, SVC, R1, R2, R3, R4 = (aecs_env.keygen(WORK, n) for n in ("admin", "svc", "r1", "r2", "r3", "r4"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, extra=f"max_secrets: {COUNT + 100}\n")
STORE = os.path.join(WORK, "store")
SIM = aecs_env.sim_dir(WORK)


def Server(name):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM)


s = Server("a")
try:
    aecs_env.init_register(s, AECSADMIN, ADMIN, SVC, R1, R2)
    aecs_env.create_secrets(s, SERVICEADMIN, SVC, "pay", [f"s{j:04d}" for j in range(COUNT)], ident["mrsigner"], WORK)
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk0"))
    assert rc == 0, t
    k_old = rf.storage_key(os.path.join(WORK, "bk0"), (1, R1), (2, R2))  # R1 and R2 hold it
    old_state = rf.store_objects(STORE)["aecs/state"][1]
    with aecs_env.keep_rotating_master(STORE) as kept:
        rc, _, t = aecs_env.change_set(s, AECSADMIN, ADMIN, WORK, "bk1", [R3, R4], 2, [("r1", R1), ("r2", R2)])
    assert rc == 0, t
    check(kept != [], "the host kept a copy of aecs/master marked rotating (K2 and K)")
finally:
    s.stop()
k_new = rf.storage_key(os.path.join(WORK, "bk1"), (1, R3), (2, R4))
check(rf.opened_with(k_old, STORE) == [] and "aecs/state" in rf.opened_with(k_new, STORE),
      "the set changed and the key rotated: R1+R2's key opens nothing, R3+R4's opens the store")

# the host puts the kept master back; R1+R2 seal the old state (their set) under K at the
# current version and id of aecs/state, as generation key_gen - 1
objs = {k: v for k, (_, v) in rf.store_objects(STORE).items()}
_, gen, ver, oid, _, _ = rf.object_fields(objs["aecs/state"])
plain = rf.open_object(k_old, "aecs/state", old_state)
assert plain is not None
if kept:
    rf.put_value(STORE, "aecs/master", kept[0])
rf.put_value(STORE, "aecs/state", rf.seal_at(k_old, "aecs/state", plain, ver, oid, gen - 1))

s = Server("b")
try:
    time.sleep(0.5)
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk2"))
finally:
    s.stop()
taken = None
if rc == 0:
    try:
        taken = rf.storage_key(os.path.join(WORK, "bk2"), (1, R1), (2, R2))  # R1 and R2, the removed holders
    except Exception:
        taken = None
opened = rf.opened_with(taken, STORE) if taken else []
check(opened == [], f"the removed holders R1+R2 do not get the live store's key from a Backup after the host "
                    f"put back a kept rotating aecs/master and their old state (they open {len(opened)} objects)")
print("attack4 A (state) refused" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
