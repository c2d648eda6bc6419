"""attack6 A6-2 on the real aecs-server (fs store; notes/attack6.md): a recovery set {R1, R2}
(2 of 2) is changed to {R1, R3} with R1's and R2's consent, answered OK; a secret is written
after. AECS down, the host (it writes the store) puts back two objects it kept: the
aecs/master of the change's step 1 (rotating: the new key K2 and the old, the OLD set's
version) and the aecs/state from before the change (the old set, under the old key, listed in
that master's manifest), every other object as it is. Expected: the start refuses the old
state (objects are sealed under the new key, aecs/state under the one before: no set change
leaves that), so the change is not undone and the removed R2 (with R1) gets no share that
opens the live store. Before rotate-fix3 the change was undone with nothing lost and a Backup
gave {R1, R2} the live key K2.

  aecs_attack6_replay.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import sys
import tempfile

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
check = aecs_env.Checks()


def change(attempt):
    """A store whose set {R1, R2} changed to {R1, R3} and a secret written after: its work
    directory with its keys, and what the host kept (step 1's aecs/master; the aecs/state from
    before, with its version)."""
    work = tempfile.mkdtemp(prefix=f"kt-aecs-attack6-{attempt}-")
    keys = [aecs_env.keygen(work, n) for n in ("admin", "svc", "r1", "r2", "r3")]
    admin, svc, r1, r2, r3 = keys
    ident, policy, config = aecs_env.aecs_files(work, ENCLAVE, KUBETEE)
    store, sim = os.path.join(work, "store"), aecs_env.sim_dir(work)
    s = aecs_env.Server(SERVER, config, policy, work, "a", sim)
    try:
        aecs_env.init_register(s, AECSADMIN, admin, svc, r1, r2)
        aecs_env.create_secrets(s, SERVICEADMIN, svc, "pay", [f"s{j:02d}" for j in range(20)], ident["mrsigner"], work)
        old_state = rf.store_objects(store)["aecs/state"][1]
        # the host sees every aecs/master the enclave writes; it keeps step 1's (rotating, set v1)
        with aecs_env.keep_rotating_master(store, set_version=1) as kept:
            rc, _, t = aecs_env.change_set(s, AECSADMIN, admin, work, "bk1", [r1, r3], 2, [("r1", r1), ("r2", r2)])
        assert rc == 0, t
        aecs_env.create_secrets(s, SERVICEADMIN, svc, "pay", ["after"], ident["mrsigner"], work)  # R2 removed
    finally:
        s.stop()
    return (work, store, sim, policy, config), keys, kept, old_state


for attempt in range(4):  # the look may miss a master (a real host sees every write): again, a new store
    (WORK, STORE, SIM, POLICY, CONFIG), (ADMIN, SVC, R1, R2, R3), kept, old_state = change(attempt)
    if kept:
        break
old_state_v = int.from_bytes(rf.object_fields(old_state)[2], "little")
k2 = rf.storage_key(os.path.join(WORK, "bk1"), (1, R1), (2, R3))
check("secrets/pay/after" in rf.opened_with(k2, STORE), "the set changed to {R1, R3}: its key opens the store")
check(len(kept) == 1, f"the host kept step 1's aecs/master (rotating, set v1): {len(kept)} seen "
                      f"(attempt {attempt + 1})")
if not kept:  # the attack was not tried
    print("SKIP: step 1's aecs/master was not caught")
    sys.exit(77)

rf.put_value(STORE, "aecs/master", kept[0])
rf.put_value(STORE, "aecs/state", old_state, version=old_state_v)
taken = None
try:
    s = aecs_env.Server(SERVER, CONFIG, POLICY, WORK, "b", SIM)
except SystemExit as e:  # a refused start is what a fixed AECS does
    s = None
    print(f"the start on the put-back store was refused: {str(e)[-600:]}")
if s:
    try:
        rc, out, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk2"))
    finally:
        s.stop()
    if rc == 0:
        try:
            taken = rf.storage_key(os.path.join(WORK, "bk2"), (1, R1), (2, R2))  # R2: the removed holder
        except Exception:
            taken = None
opened = rf.opened_with(taken, STORE) if taken else []
check("secrets/pay/after" not in opened,
      f"after the host put back step 1's aecs/master and the old aecs/state, the removed R2 (with R1) gets no "
      f"key to the live store (it opens {len(opened)} objects, the secret written after its removal "
      f"{'among them' if 'secrets/pay/after' in opened else 'not'})")
print("attack6 A6-2 refused" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
