"""An independent reading of AECS's recovery files and sealed objects for the tests
(docs/formats.md "AECS recovery files", docs/aecs.md "Storage layout"), written from the
documents with Python's cryptography, not from the C code: share files opened with their
recovery key (ECIES: P-256 ECDH, HKDF-SHA256, AES-256-GCM), Shamir over GF(2^8) combined
by Lagrange at 0, shares made and signed by an instance key of the test's own (forgeries),
and which objects of an fs store a storage key opens."""
import os
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"kubetee.aecs.recovery-share.v1"
HEADER = 161


def gf_mul(a, b):
    p = 0
    for _ in range(8):
        if b & 1:
            p ^= a
        a = ((a << 1) ^ 0x11B) if a & 0x80 else a << 1
        b >>= 1
    return p


def gf_inv(a):
    r = 1
    for _ in range(254):
        r = gf_mul(r, a)
    return r


def combine(points):
    """The secret from [(x, 32 bytes)]: Lagrange at 0 in GF(2^8), byte by byte."""
    out = bytearray(32)
    for i, (xi, yi) in enumerate(points):
        num = den = 1
        for j, (xj, _) in enumerate(points):
            if j != i:
                num, den = gf_mul(num, xj), gf_mul(den, xj ^ xi)
        li = gf_mul(num, gf_inv(den))
        for k in range(32):
            out[k] ^= gf_mul(li, yi[k])
    return bytes(out)


def split(secret, threshold, count):
    """Shamir's split as docs/formats.md says: value of share x = f(x), f(0) = secret."""
    coef = [os.urandom(32) for _ in range(threshold - 1)]
    shares = []
    for x in range(1, count + 1):
        v = bytearray(secret)
        xp = 1
        for c in coef:
            xp = gf_mul(xp, x)
            for k in range(32):
                v[k] ^= gf_mul(c[k], xp)
        shares.append(bytes(v))
    return shares


def raw_public(key):
    pub = key.public_key() if hasattr(key, "private_numbers") else key
    return pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)[1:]


def load_key(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), None)


def parse(b):
    """The header fields of a share file (open or sealed)."""
    assert b[:4] == b"KTRS" and b[4] == 1, "not a share file"
    return {"kind": b[5], "instance": b[6:70], "version": struct.unpack("<Q", b[70:78])[0], "backup_id": b[78:94],
            "index": b[94], "threshold": b[95], "count": b[96], "recovery": b[97:161]}


def bound(header):
    """The header as the AAD and the instance signature see it (the kind byte 0)."""
    return header[:5] + b"\0" + header[6:HEADER]


def open_share(b, key_path):
    """A sealed share opened with the recovery key at key_path: the open share file."""
    rec = load_key(key_path)
    eph_raw, iv, ct = b[HEADER:HEADER + 64], b[HEADER + 64:HEADER + 76], b[HEADER + 76:]
    eph = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + eph_raw)
    z = rec.exchange(ec.ECDH(), eph)
    k = HKDF(hashes.SHA256(), 32, eph_raw + raw_public(rec), LABEL).derive(z)
    plain = AESGCM(k).decrypt(iv, ct, LABEL + bound(b[:HEADER]))
    return b[:5] + b"\x02" + b[6:HEADER] + plain


def value(open_file):
    return open_file[HEADER:HEADER + 32]


def make_open(instance_key, version, backup_id, index, threshold, count, recovery_raw, val):
    """An open share signed by instance_key (the test's own: what a forger can make)."""
    h = (b"KTRS\x01\x02" + raw_public(instance_key) + struct.pack("<Q", version) + backup_id +
         bytes([index, threshold, count]) + recovery_raw)
    der = instance_key.sign(LABEL + bound(h) + val, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return h + val + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def shares(d):
    """{index: share file} of the share files in the directory d (a backup's out-dir)."""
    files = [open(os.path.join(d, n), "rb").read() for n in os.listdir(d)]
    return {parse(b)["index"]: b for b in files}


def storage_key(d, *holders):
    """The storage key the shares in d give, each opened by its holder: (index, recovery
    key path) for each of holders."""
    sh = shares(d)
    return combine([(i, value(open_share(sh[i], k))) for i, k in holders])


def fs_record(b):
    """(key, value) of an fs store's object file b (docs/formats.md: magic 8, u16 key length,
    u64 version, u64 create and mod revisions, u64 value length, key, value, SHA-256)."""
    kl = int.from_bytes(b[8:10], "little")
    n = int.from_bytes(b[34:42], "little")
    return b[42:42 + kl].decode(), b[42 + kl:42 + kl + n]


def store_objects(root):
    """{key: (path, value)} of an fs store (its object files: fs_record)."""
    out = {}
    d = os.path.join(root, "objects")
    for name in os.listdir(d):
        key, v = fs_record(open(os.path.join(d, name), "rb").read())
        out[key] = (os.path.join(d, name), v)
    return out


def put_value(root, key, value, version=None):
    """The host edits key's object file in place (a new value, at the store version given or
    the file's own, the file's hash again)."""
    import hashlib
    path, _ = store_objects(root)[key]
    b = open(path, "rb").read()
    kl = int.from_bytes(b[8:10], "little")
    ver = b[10:18] if version is None else version.to_bytes(8, "little")
    head = b[:10] + ver + b[18:34] + len(value).to_bytes(8, "little") + b[42:42 + kl] + value
    with open(path, "wb") as f:
        f.write(head + hashlib.sha256(head).digest())


def object_fields(v):
    """A sealed object's format, key generation, version, id, IV and sealed part (format 1:
    generation 0, no field; format 2: u32le generation after the format byte)."""
    if v[4] == 1:
        return 1, 0, v[5:13], v[13:29], v[29:41], v[41:]
    return 2, struct.unpack("<I", v[5:9])[0], v[9:17], v[17:33], v[33:45], v[45:]


def open_object(master, key, v):
    """The plaintext of the sealed object v at key under master (AES-GCM, the AAD of
    docs/aecs.md), or None when it does not open."""
    if v[:4] != b"KTAO":
        return None
    fmt, gen, ver, oid, oiv, sealed = object_fields(v)
    if fmt == 1:
        aad = b"kubetee.aecs.object.v1\0" + key.encode() + b"\0" + ver + oid
    else:
        aad = b"kubetee.aecs.object.v2\0" + key.encode() + b"\0" + ver + oid + struct.pack("<I", gen)
    try:
        return AESGCM(master).decrypt(oiv, sealed, aad)
    except Exception:
        return None


def seal_object(master, key, plain, version=1, gen=0):
    """A format 2 object of key sealed under master (what only the storage key makes: a
    test holding it from a backup fills a store fast)."""
    return seal_at(master, key, plain, struct.pack("<Q", version), os.urandom(16), gen)


def seal_at(master, key, plain, ver, oid, gen):
    """A format 2 object of key sealed under master with the clear header given (ver: the 8
    version bytes, oid: the 16 id bytes, gen: the key generation) and a new IV: what holders
    of master forge at an object's current version and id."""
    iv = os.urandom(12)
    aad = b"kubetee.aecs.object.v2\0" + key.encode() + b"\0" + ver + oid + struct.pack("<I", gen)
    return b"KTAO\x02" + struct.pack("<I", gen) + ver + oid + iv + AESGCM(master).encrypt(iv, plain, aad)


def master_fields(v):
    """aecs/master v3's or v4's clear recovery set version and flags byte (1: a rotation is
    under way); (None, None) for another value (docs/formats.md: "KTAECSM3"/"KTAECSM4",
    instance 64, u32 generation, u64 set version, flags)."""
    if v[:8] not in (b"KTAECSM3", b"KTAECSM4") or len(v) <= 85:
        return None, None
    return int.from_bytes(v[76:84], "little"), v[84]


def master_flags(v):
    """The flags byte of a v3 or v4 aecs/master value (1: a rotation is under way), None for
    another value."""
    return master_fields(v)[1]


def _objects(root):
    return root if isinstance(root, dict) else {k: v for k, (_, v) in store_objects(root).items()}


def opened_with(master, root):
    """The objects that master opens: of the fs store at root, or root itself when it is
    {key: sealed value} (aecs_store.py's objects())."""
    return sorted(k for k, v in _objects(root).items()
                  if not raw_key(k) and open_object(master, k, v) is not None)


def generations(root):
    """{key: the key generation its object is sealed under} of the fs store at root (or
    {key: sealed value})."""
    return {k: object_fields(v)[1] for k, v in _objects(root).items() if not raw_key(k) and v[:4] == b"KTAO"}


def raw_key(key):
    """Whether the enclave keeps key's value unsealed by the storage key: aecs/master, a key
    rotation's manifest chunks (docs/aecs.md "Storage layout")."""
    return key == "aecs/master" or key.startswith("aecs/rotation/")
