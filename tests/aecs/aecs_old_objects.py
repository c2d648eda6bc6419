"""A store from before key rotation stays readable: its objects in format 1 (no key
generation; docs/aecs.md "Storage layout") open as generation 0, a write makes format 2,
and a rotation seals every one again as format 2 of generation 1, after which the old key
opens none. The format 1 objects are made here from a real store with its key (taken with
two of its recovery shares), as an AECS before rotation wrote them.

  aecs_old_objects.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import shutil
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import aecs_env
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-old-objects-")
check = aecs_env.Checks()
ADMIN, SVC, R1, R2 = (aecs_env.keygen(WORK, n) for n in ("admin", "svc", "r1", "r2"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
STORE = os.path.join(WORK, "store")
SIM = aecs_env.sim_dir(WORK)


def Server(name):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM)


def key_of(d):
    return rf.storage_key(d, (1, R1), (2, R2))


def formats():
    return {k: rf.object_fields(v)[:2] for k, (_, v) in rf.store_objects(STORE).items() if not rf.raw_key(k)}


s = Server("a")
try:
    aecs_env.init_register(s, AECSADMIN, ADMIN, SVC, R1, R2)
    aecs_env.create_marker(s, SERVICEADMIN, SVC, "pay", b"old-objects-marker", ident["mrsigner"], WORK)
    rc, _, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "bk0"))
    assert rc == 0, t
finally:
    s.stop()
key0 = key_of(os.path.join(WORK, "bk0"))
# every object written again as format 1: "KTAO" 1 | version | id | IV | ciphertext | tag,
# AAD "kubetee.aecs.object.v1" 0 | key 0 | version | id
for k, (_, v) in rf.store_objects(STORE).items():
    if rf.raw_key(k):
        continue
    plain = rf.open_object(key0, k, v)
    assert plain is not None, k
    _, _, ver, oid, _, _ = rf.object_fields(v)
    iv = os.urandom(12)
    aad = b"kubetee.aecs.object.v1\0" + k.encode() + b"\0" + ver + oid
    rf.put_value(STORE, k, b"KTAO\x01" + ver + oid + iv + AESGCM(key0).encrypt(iv, plain, aad))
check(set(formats().values()) == {(1, 0)}, f"the store holds format 1 objects only: {formats()}")

s = Server("b")
try:
    names, t = aecs_env.listed(s, SERVICEADMIN, SVC)
    check(names == ["marker"], f"format 1 objects open: {t[:300]}")
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "shop", "--admin-key", SVC)
    check(rc == 0 and formats()["services/shop"] == (2, 0), f"a write is format 2, generation 0: {formats()}")
    rc, out, t = s.tool(AECSADMIN, "rotate-key", ADMIN, "--out-dir", os.path.join(WORK, "bk1"))
    check(rc == 0 and len(out["shares"]) == 2, f"rotate-key answers with the new shares: {t[-300:]}")
    check(set(formats().values()) == {(2, 1)}, f"every object is format 2 of generation 1 now: {formats()}")
    names, t = aecs_env.listed(s, SERVICEADMIN, SVC)
    check(names == ["marker"], f"... and opens: {t[:300]}")
finally:
    s.stop()
check("aecs.object_damaged" not in open(os.path.join(WORK, "b.log")).read(), "no object was found damaged")
key1 = key_of(os.path.join(WORK, "bk1"))
live = rf.opened_with(key1, STORE)
check("secrets/pay/marker" in live and rf.opened_with(key0, STORE) == [],
      f"the new shares' key opens the store ({live}), the old key nothing")
s = Server("c")
try:
    names, t = aecs_env.listed(s, SERVICEADMIN, SVC)
    check(names == ["marker"], f"after a restart too: {t[:300]}")
finally:
    s.stop()
shutil.rmtree(WORK, ignore_errors=True)
print("a store from before rotation opens, and rotates" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
