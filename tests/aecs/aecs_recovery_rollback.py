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
import subprocess
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
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)


def Server(name, store, sim=SIM):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, sim, "--store", f"fs:{store}", "--audit-file",
                           os.path.join(WORK, name + ".audit"))


def shares(d):
    return {rf.parse(open(os.path.join(d, n), "rb").read())["index"]: open(os.path.join(d, n), "rb").read()
            for n in os.listdir(d)}


def key_of(d, *holders):
    """The storage key the shares in d give, opened by holders [(index, key path)]."""
    s = shares(d)
    return rf.combine([(i, rf.value(rf.open_share(s[i], k))) for i, k in holders])


s = Server("a", LIVE)
try:
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN)  # no --recovery-key (or: a store from before sets)
    assert rc == 0, t
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    assert rc == 0, t
finally:
    s.stop()
shutil.copytree(LIVE, COPY)  # the host keeps a copy (any backup of the store directory)
before = set(rf.store_objects(COPY)) - {"aecs/master"}
check(set(rf.generations(COPY).values()) == {0}, f"before any set every object is of key generation 0: "
                                                 f"{rf.generations(COPY)}")

s = Server("b", LIVE)
try:
    prop = os.path.join(WORK, "first.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", R1, "--recovery-key", R2,
                      "--recovery-key", R3, "--recovery-threshold", "2", "--out", prop)
    assert rc == 0, t
    bk1 = os.path.join(WORK, "bk1")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", prop, "--out-dir", bk1)
    check(rc == 0, f"the first set, 2 of 3, by the init admin: {t[:200]}")
    gens = rf.generations(LIVE)
    check(set(gens) == before and set(gens.values()) == {1},
          f"the first set rotated the storage key: every object sealed again, under generation 1: {gens}")
    # from here on the admin alone cannot change the set, nor open a backup
    mine = os.path.join(WORK, "mine.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", ADMIN, "--recovery-threshold", "1",
                      "--recovery-single-holder", "--out", mine)
    assert rc == 0, t
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", mine, "--out-dir", os.path.join(WORK, "x"))
    check(rc == 1 and "needs the consent" in t, f"on the live store the admin alone cannot change the set: {t[:200]}")
    aecs_env.create_marker(s, SERVICEADMIN, SVC, "pay", b"rollback-after-the-set", ident["mrsigner"], WORK)
    rc, out, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0 and [x["name"] for x in out["secrets"]] == ["marker"], f"the store serves after the set: {t[:200]}")
finally:
    s.stop()
ev = [json.loads(x)["line"] for x in open(s.log_path) if "event=aecs.key_rotated" in x]
check(len(ev) == 1 and "generation=1 resealed=1 " in ev[0], f"the server logs the rotation: {ev}")
k1 = key_of(bk1, (1, R1), (3, R3))
live = rf.opened_with(k1, LIVE)
check("secrets/pay/marker" in live and "aecs/state" in live and rf.opened_with(k1, COPY) == [],
      f"the first set's shares (2 of 3) give the new key: it opens the live store ({live}), not the old copy")
shutil.copytree(LIVE, COPY2)  # the host keeps another copy: the store under the first set

# the host runs AECS on its copy (same machine: aecs/master unseals); the init admin alone
c = Server("copy", COPY)
key = None
try:
    mine = os.path.join(WORK, "mine2.proposal")
    rc, _, t = c.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", ADMIN, "--recovery-threshold", "1",
                      "--recovery-single-holder", "--out", mine)
    check(rc == 0, f"on the copy: propose the admin's own key as the only holder: {t[:200]}")
    out = os.path.join(WORK, "taken")
    rc, _, t = c.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", mine, "--out-dir", out)
    check(rc == 0, f"on the copy, the admin alone sets a set of its own (the copy had none): {t[:200]}")
    if rc == 0:
        share = open(os.path.join(out, sorted(os.listdir(out))[0]), "rb").read()
        key = rf.value(rf.open_share(share, ADMIN))  # threshold 1: the share is the storage key
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
    prop2 = os.path.join(WORK, "v2.proposal")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "propose", "--recovery-key", R1, "--recovery-key", R2,
                      "--recovery-key", R4, "--recovery-threshold", "2", "--out", prop2)
    assert rc == 0, t
    consents = []
    for name, k in (("r1", R1), ("r2", R2)):
        consents += ["--consent", os.path.join(WORK, f"consent-{name}")]
        r = subprocess.run([AECSADMIN, "recovery", "sign", "--key", k, "--proposal", prop2, "--out",
                                     consents[-1]], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    bk2 = os.path.join(WORK, "bk2")
    rc, _, t = s.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", prop2, "--out-dir", bk2, *consents)
    check(rc == 0, f"two holders consent: the set changes (R3 out, R4 in): {t[:200]}")
    check(set(rf.generations(LIVE).values()) == {2}, f"... and the key rotates: generation 2 {rf.generations(LIVE)}")
    rc, out, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0 and [x["name"] for x in out["secrets"]] == ["marker"], f"the store serves after it: {t[:200]}")
finally:
    s.stop()
old = rf.opened_with(k1, LIVE)
check(old == [] and "secrets/pay/marker" in rf.opened_with(k1, COPY2),
      f"the former set's shares (R1 and R3, R3 now out) open the copy from then, not the live store: {old}")
k2 = key_of(bk2, (1, R1), (3, R4))
check("secrets/pay/marker" in rf.opened_with(k2, LIVE), "the new set's shares open the live store")

# a new machine with the live store: the former set's shares are refused by name
SIM_N = os.path.join(WORK, "sim-new")
os.mkdir(SIM_N, 0o700)
NEW = os.path.join(WORK, "store-new")
shutil.copytree(LIVE, NEW)
n = Server("new", NEW, SIM_N)
try:
    p = os.path.join(WORK, "v1-1.open")
    with open(p, "wb") as f:
        f.write(rf.open_share(shares(bk1)[1], R1))
    rc, _, t = n.tool(AECSADMIN, "restore", ADMIN, "--share", p)
    check(rc == 1 and "of recovery set v1, this store's aecs/master names set v2" in t and "older set" in t,
          f"a share of the former set is refused by name on the store after the change: {t[-300:]}")
    for i, k in ((1, R1), (3, R4)):
        p = os.path.join(WORK, f"v2-{i}.open")
        with open(p, "wb") as f:
            f.write(rf.open_share(shares(bk2)[i], k))
        rc, out, t = n.tool(AECSADMIN, "restore", ADMIN, "--share", p)
    check(rc == 0 and out.get("restored") is True, f"the new set's shares restore it: {t[-300:]}")
    rc, out, t = n.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0 and [x["name"] for x in out["secrets"]] == ["marker"], f"the restored store serves: {t[:200]}")
finally:
    n.stop()
shutil.rmtree(WORK, ignore_errors=True)
print("attack2 B refused: a key from an older copy opens only that copy" if not FAILED else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
