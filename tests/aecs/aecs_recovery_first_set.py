"""The first recovery set of a store that had none (attack2 B, outside review): the storage
key is not rotated when a set is fixed, so the admin that ran init, with a copy of the
store from before the first set, takes the key alone and it opens the live store. Until
key rotation exists this is a documented limit (docs/aecs.md "Threat model"); what is
checked here:

- `aecsadmin init` without --recovery-key and the first `aecsadmin recovery set` say so on
  stderr (the same warning); init with --recovery-key and a later change do not;
- on the live store the init admin alone cannot change the set once it is fixed;
- the limit itself, as documented: the key taken from the copy opens the live store,
  secrets made after the set too (when rotation lands, this check turns around).

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
WARNING = ("WARNING: a store without a recovery set is recoverable by the admin that ran init alone, and so is "
           "every copy of it made before its first recovery set, for ever: the storage key is not rotated when a "
           "set is fixed (docs/aecs.md \"Threat model\")")


def keygen(name):
    return aecs_env.keygen(WORK, name)


ADMIN, SVC = keygen("admin"), keygen("svc")
R1, R2, R3 = (keygen(f"r{i}") for i in range(1, 4))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
LIVE, COPY, OTHER = (os.path.join(WORK, n) for n in ("store", "store-copy", "store-other"))
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)


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
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    assert rc == 0, t
finally:
    s.stop()
shutil.copytree(LIVE, COPY)  # the host keeps a copy (any backup of the store directory)

s = Server("b", LIVE)
try:
    prop = os.path.join(WORK, "first.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", R1, "--recovery-key", R2,
                      "--recovery-key", R3, "--recovery-threshold", "2", "--out", prop)
    assert rc == 0, t
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", prop, "--out-dir", os.path.join(WORK, "bk"))
    check(rc == 0 and WARNING in t, f"the first set (2 of 3, by the init admin) warns the same: {t[:500]}")
    mine = os.path.join(WORK, "mine.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", ADMIN, "--recovery-threshold", "1",
                      "--recovery-single-holder", "--out", mine)
    assert rc == 0, t
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", mine, "--out-dir", os.path.join(WORK, "x"))
    check(rc == 1 and "needs the consent" in t and "WARNING" not in t,
          f"on the live store the admin alone cannot change the set (and a change does not warn): {t[:300]}")
    aecs_env.create_marker(s, SERVICEADMIN, SVC, "pay", b"made-after-the-first-set", ident["mrsigner"], WORK)
finally:
    s.stop()

# the host runs AECS on its copy (same machine: aecs/master unseals); the init admin alone
c = Server("copy", COPY)
key = None
try:
    mine = os.path.join(WORK, "mine2.proposal")
    rc, _, t = c.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", ADMIN, "--recovery-threshold", "1",
                      "--recovery-single-holder", "--out", mine)
    assert rc == 0, t
    out = os.path.join(WORK, "taken")
    rc, _, t = c.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", mine, "--out-dir", out)
    check(rc == 0 and WARNING in t, f"on the copy the init admin sets its own key alone, warned: {t[:300]}")
    if rc == 0:
        share = open(os.path.join(out, sorted(os.listdir(out))[0]), "rb").read()
        key = rf.value(rf.open_share(share, ADMIN))  # threshold 1: the share is the storage key
finally:
    c.stop()

opened = rf.opened_with(key, LIVE) if key else []
check("secrets/pay/marker" in opened,
      "KNOWN, documented until the storage key rotates (docs/aecs.md \"Threat model\"): the key the init admin took "
      f"from a copy from before the first set opens the live store: {opened}")
shutil.rmtree(WORK, ignore_errors=True)
print("first recovery set: warned, and the documented limit holds as documented" if not FAILED
      else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
