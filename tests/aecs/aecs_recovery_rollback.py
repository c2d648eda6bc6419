"""attack2 B (outside review): one admin and the host take the storage key past the
recovery set, on a store that once had no set (every store from before recovery sets, and
every init without --recovery-key), by running AECS on a copy of the store from before the
first set: there the admin that ran init sets the first set alone. Refused now because
every set change rotates the storage key (docs/aecs.md "Key rotation"): the key that admin
takes from the copy opens only the copy's objects (what the store held then), none of the
live store's. The same for M holders of a former set and a copy from then: their shares
open that copy, not the store after the change. A restore on a new machine from the
shares of an older set is refused by name.

  aecs_recovery_rollback.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import json
import os
import shutil
import sys
import tempfile

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-rollback-")
check = aecs_env.Checks()
FAILED = check.failed


def keygen(name):
    return aecs_env.keygen(WORK, name)


ADMIN, SVC = keygen("admin"), keygen("svc")
R1, R2, R3, R4 = (keygen(f"r{i}") for i in range(1, 5))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
LIVE, COPY = os.path.join(WORK, "store"), os.path.join(WORK, "store-copy")
COPY2 = os.path.join(WORK, "store-copy2")
SIM = aecs_env.sim_dir(WORK)


def Server(name, store, sim=SIM):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, sim, "--store", f"fs:{store}", "--audit-file",
                           os.path.join(WORK, name + ".audit"))


s = Server("a", LIVE)
try:
    aecs_env.init_register(s, AECSADMIN, ADMIN, SVC)  # no --recovery-key (or: a store from before sets)
finally:
    s.stop()
shutil.copytree(LIVE, COPY)  # the host keeps a copy (any backup of the store directory)
before = set(rf.store_objects(COPY)) - {"aecs/master"}
check(set(rf.generations(COPY).values()) == {0}, f"before any set every object is of key generation 0: "
                                                 f"{rf.generations(COPY)}")

s = Server("b", LIVE)
try:
    bk1 = os.path.join(WORK, "bk1")
    rc, _, t = aecs_env.change_set(s, AECSADMIN, ADMIN, WORK, "bk1", [R1, R2, R3], 2)
    check(rc == 0, f"the first set, 2 of 3, by the init admin: {t[:200]}")
    gens = rf.generations(LIVE)
    check(set(gens) == before and set(gens.values()) == {1},
          f"the first set rotated the storage key: every object sealed again, under generation 1: {gens}")
    # from here on the admin alone cannot change the set, nor open a backup
    rc, t, _ = aecs_env.set_alone(s, AECSADMIN, ADMIN, WORK, "x")
    check(rc == 1 and "needs the consent" in t, f"on the live store the admin alone cannot change the set: {t[:200]}")
    aecs_env.create_marker(s, SERVICEADMIN, SVC, "pay", b"rollback-after-the-set", ident["mrsigner"], WORK)
    names, t = aecs_env.listed(s, SERVICEADMIN, SVC)
    check(names == ["marker"], f"the store serves after the set: {t[:200]}")
finally:
    s.stop()
ev = [json.loads(x)["line"] for x in open(s.log_path) if "event=aecs.key_rotated" in x]
check(len(ev) == 1 and "generation=1 resealed=1 " in ev[0], f"the server logs the rotation: {ev}")
k1 = rf.storage_key(bk1, (1, R1), (3, R3))
live = rf.opened_with(k1, LIVE)
check("secrets/pay/marker" in live and "aecs/state" in live and rf.opened_with(k1, COPY) == [],
      f"the first set's shares (2 of 3) give the new key: it opens the live store ({live}), not the old copy")
shutil.copytree(LIVE, COPY2)  # the host keeps another copy: the store under the first set

# the host runs AECS on its copy (same machine: aecs/master unseals); the init admin alone
c = Server("copy", COPY)
try:
    rc, t, key = aecs_env.set_alone(c, AECSADMIN, ADMIN, WORK, "taken")
    check(rc == 0, f"on the copy, the admin alone sets a set of its own (the copy had none): {t[:200]}")
finally:
    c.stop()

opened = rf.opened_with(key, LIVE) if key else ["(no key taken)"]
check(opened == [], f"the live store's objects do not open with a key one admin took from a copy of the store: "
                    f"{opened}")
copy_opened = rf.opened_with(key, COPY) if key else []
check(set(copy_opened) == before,
      f"that key opens the copy alone, with what the store held before the set: {copy_opened}")

# M holders of a former set with a copy from then: a change of the set rotates the key again
s = Server("c", LIVE)
try:
    bk2 = os.path.join(WORK, "bk2")
    rc, _, t = aecs_env.change_set(s, AECSADMIN, ADMIN, WORK, "bk2", [R1, R2, R4], 2, [("r1", R1), ("r2", R2)])
    check(rc == 0, f"two holders consent: the set changes (R3 out, R4 in): {t[:200]}")
    check(set(rf.generations(LIVE).values()) == {2}, f"... and the key rotates: generation 2 {rf.generations(LIVE)}")
    names, t = aecs_env.listed(s, SERVICEADMIN, SVC)
    check(names == ["marker"], f"the store serves after it: {t[:200]}")
finally:
    s.stop()
old = rf.opened_with(k1, LIVE)
check(old == [] and "secrets/pay/marker" in rf.opened_with(k1, COPY2),
      f"the former set's shares (R1 and R3, R3 now out) open the copy from then, not the live store: {old}")
k2 = rf.storage_key(bk2, (1, R1), (3, R4))
check("secrets/pay/marker" in rf.opened_with(k2, LIVE), "the new set's shares open the live store")

# a new machine with the live store: the former set's shares are refused by name
SIM_N = aecs_env.sim_dir(WORK, "sim-new")
NEW = os.path.join(WORK, "store-new")
shutil.copytree(LIVE, NEW)
n = Server("new", NEW, SIM_N)
try:
    p = os.path.join(WORK, "v1-1.open")
    with open(p, "wb") as f:
        f.write(rf.open_share(rf.shares(bk1)[1], R1))
    rc, _, t = n.tool(AECSADMIN, "restore", ADMIN, "--share", p)
    check(rc == 1 and "of recovery set v1, this store's aecs/master names set v2" in t and "older set" in t,
          f"a share of the former set is refused by name on the store after the change: {t[-300:]}")
    for i, k in ((1, R1), (3, R4)):
        p = os.path.join(WORK, f"v2-{i}.open")
        with open(p, "wb") as f:
            f.write(rf.open_share(rf.shares(bk2)[i], k))
        rc, out, t = n.tool(AECSADMIN, "restore", ADMIN, "--share", p)
    check(rc == 0 and out.get("restored") is True, f"the new set's shares restore it: {t[-300:]}")
    names, t = aecs_env.listed(n, SERVICEADMIN, SVC)
    check(names == ["marker"], f"the restored store serves: {t[:200]}")
finally:
    n.stop()
shutil.rmtree(WORK, ignore_errors=True)
print("attack2 B refused: a key from an older copy opens only that copy" if not FAILED else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
