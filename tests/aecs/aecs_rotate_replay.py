"""attack4 A (outside review of key rotation): the old key K comes back after a finished
rotation. aecs/master written at step 1 of a rotation ({K2, K}, marked rotating) is sealed
for this machine like any other; the host keeps a copy of it and, after the rotation has
finished, puts it back and restarts AECS. The start unseals it, takes K as in force again
(objects of generation key_gen - 1 open under it) and "finishes" the rotation: it opens
every object of generation K and seals it again under K2. Whoever holds K (M holders of
the backup from before the rotation, or the host with a key taken from an older copy,
attack2 B) then FORGES objects under K at the store's current version and id (both in the
clear), and AECS launders them under K2: here a secret's data is replaced; the same way
aecs/state (admins, recovery set) can be forged, and a Backup then hands K2 to the forger.
Expected (the reproducer failed before its fix): after a finished rotation nothing sealed under K
opens again.

  aecs_rotate_replay.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import sys
import tempfile
import time

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
COUNT = 300
WORK = tempfile.mkdtemp(prefix="kt-aecs-rotate-replay-")
check = aecs_env.Checks()
ADMIN, SVC, R1, R2 = (aecs_env.keygen(WORK, n) for n in ("admin", "svc", "r1", "r2"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, extra=f"max_secrets: {COUNT + 100}\n")
STORE = os.path.join(WORK, "store")
SIM = aecs_env.sim_dir(WORK)


def Server(name):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM)


def key_of(d):
    return rf.storage_key(d, (1, R1), (2, R2))


s = Server("a")
try:
    aecs_env.init_register(s, AECSADMIN, ADMIN, SVC, R1, R2)
    aecs_env.create_secrets(s, SERVICEADMIN, SVC, "pay", [f"s{j:04d}" for j in range(COUNT)], ident["mrsigner"], WORK)
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk0"))
    assert rc == 0, t
    k_old = key_of(os.path.join(WORK, "bk0"))  # the key before the rotation (M holders of bk0 have it)
    # the host watches aecs/master while the rotation runs and keeps the rotating one
    with aecs_env.keep_rotating_master(STORE) as kept:
        rc, _, t = s.tool(AECSADMIN, "rotate-key", ADMIN, "--out-dir", os.path.join(WORK, "bk1"))
    assert rc == 0, t
    check(kept != [], "the host kept a copy of aecs/master marked rotating (K2 and K)")
finally:
    s.stop()
k_new = key_of(os.path.join(WORK, "bk1"))
objs = {k: v for k, (_, v) in rf.store_objects(STORE).items()}
check(rf.master_flags(objs["aecs/master"]) == 0 and rf.opened_with(k_old, STORE) == [],
      "the rotation finished: aecs/master holds K2 alone, K opens nothing of the store")

# the host puts the rotating aecs/master back and, with K, forges s0007 at its current
# version and id (the clear header), its data replaced, sealed under K as generation 0
victim = "secrets/pay/s0007"
_, gen, ver, oid, _, _ = rf.object_fields(objs[victim])
plain = rf.open_object(k_new, victim, objs[victim])
assert plain is not None and b"val-s0007" in plain, plain
if kept:
    rf.put_value(STORE, "aecs/master", kept[0])
planted = rf.seal_at(k_old, victim, plain.replace(b"val-s0007", b"EVIL-0007"), ver, oid, gen - 1)
rf.put_value(STORE, victim, planted)

s = Server("b")
try:
    time.sleep(0.5)
    rc, out, t = s.tool(AECSADMIN, "status", ADMIN)
    check(rc == 0 and out and out.get("state") == "ready", f"AECS serves after the restart: {t[:300]}")
    # a listing that meets a damaged secret fails naming it (as for any damaged object)
    rc, out, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc != 0 and victim in t and "not one of the objects the unfinished key rotation started with" in t,
          f"the forged object is refused by name: {t[:300]}")
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk2"))
    assert rc == 0, t
    code, m = s.get("/metrics")
    check(code == 200 and "kubetee_aecs_storage_key_generation 1\n" in m and
          "kubetee_aecs_key_rotation_unfinished 0\n" in m and "kubetee_aecs_key_rotation_objects_left 0\n" in m and
          "kubetee_aecs_writes_stopped 0\n" in m,
          "/metrics: generation 1, no rotation unfinished once the start finished the kept one, writes go on: " +
          " ".join(x for x in m.splitlines() if "rotation" in x or "generation" in x or "stopped" in x))
finally:
    s.stop()
k_now = key_of(os.path.join(WORK, "bk2"))
now = {k: v for k, (_, v) in rf.store_objects(STORE).items()}
p = rf.open_object(k_now, victim, now[victim])
check(p is None or b"EVIL" not in p,
      f"an object forged under the old key K after a finished rotation is not taken in (laundered under "
      f"the current key: {p is not None and b'EVIL' in p})")
# the host's own forgery stays in the store (AECS never deletes what it finds damaged) and
# opens under the key it was made with; nothing else does
opened = [k for k in rf.opened_with(k_old, STORE) if now[k] != planted]
check(opened == [], f"the old key opens nothing of the store but the host's forgery: {opened[:5]}")
print("attack4 A refused" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
