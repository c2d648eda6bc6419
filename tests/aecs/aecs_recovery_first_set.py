"""The first recovery set of a store that had none (attack2 B, outside review): the admin
that ran init, with a copy of the store from before the first set, sets a set of its own
there alone and takes that copy's storage key. The first set rotates the storage key
(docs/aecs.md "Key rotation"), so that key opens the copy, not the live store. Checked:

- `aecsadmin init` without --recovery-key warns on stderr (until the first set the init
  admin alone can take the key); init with --recovery-key, the first `aecsadmin recovery
  set` and a later change do not (the set rotates the key);
- on the live store the init admin alone cannot change the set once it is fixed;
- the key taken from the copy opens none of the live store's objects (it did before key
  rotation: KNOWN then, turned around now).

  aecs_recovery_first_set.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import shutil
import sys
import tempfile

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-first-set-")
check = aecs_env.Checks()
FAILED = check.failed
WARNING = ("WARNING: until its first recovery set, a store without one is recoverable by the admin that ran init "
           "alone, and so is every copy of it made before that set (with the secrets it holds then): the first "
           "`aecsadmin recovery set` rotates the storage key")


def keygen(name):
    return aecs_env.keygen(WORK, name)


ADMIN, SVC = keygen("admin"), keygen("svc")
R1, R2, R3 = (keygen(f"r{i}") for i in range(1, 4))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
LIVE, COPY, OTHER = (os.path.join(WORK, n) for n in ("store", "store-copy", "store-other"))
SIM = aecs_env.sim_dir(WORK)


def Server(name, store):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM, "--store", f"fs:{store}", "--audit-file",
                           os.path.join(WORK, name + ".audit"))


s = Server("other", OTHER)
try:
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-threshold", "2")
    check(rc == 0 and "WARNING" not in t, f"init with a recovery set warns of nothing: {t[:300]}")
finally:
    s.stop()

s = Server("a", LIVE)
try:
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN)
    check(rc == 0 and WARNING in t and "--recovery-key" in t, f"init without a recovery set warns: {t[:500]}")
    rc, _, t = s.tool(AECSADMIN, "init", SVC)
    check(rc == 1 and "initialised already" in t and "WARNING" not in t,
          f"a refused init (it made no store) warns of nothing: {t[:500]}")
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    assert rc == 0, t
finally:
    s.stop()
shutil.copytree(LIVE, COPY)  # the host keeps a copy (any backup of the store directory)

s = Server("b", LIVE)
try:
    rc, _, t = aecs_env.change_set(s, AECSADMIN, ADMIN, WORK, "bk", [R1, R2, R3], 2)
    check(rc == 0 and "WARNING" not in t, f"the first set (2 of 3, by the init admin) warns of nothing: {t[:500]}")
    rc, t, _ = aecs_env.set_alone(s, AECSADMIN, ADMIN, WORK, "x")
    check(rc == 1 and "needs the consent" in t and "WARNING" not in t,
          f"on the live store the admin alone cannot change the set (and a change does not warn): {t[:300]}")
    aecs_env.create_marker(s, SERVICEADMIN, SVC, "pay", b"made-after-the-first-set", ident["mrsigner"], WORK)
finally:
    s.stop()

# the host runs AECS on its copy (same machine: aecs/master unseals); the init admin alone
c = Server("copy", COPY)
try:
    rc, t, key = aecs_env.set_alone(c, AECSADMIN, ADMIN, WORK, "taken")
    check(rc == 0, f"on the copy the init admin sets its own key alone (the copy has no set): {t[:300]}")
finally:
    c.stop()

opened = rf.opened_with(key, LIVE) if key else ["(no key taken)"]
check(opened == [], "the key the init admin took from a copy from before the first set opens none of the live "
                    f"store's objects (the first set rotated the storage key): {opened}")
check(key is not None and "services/pay" in rf.opened_with(key, COPY),
      "... it opens the copy: what the store held before the first set")
shutil.rmtree(WORK, ignore_errors=True)
print("first recovery set: warned at init, and the key of a copy from before opens only the copy" if not FAILED
      else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
