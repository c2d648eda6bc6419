"""A hostile host tries to make itself AECS admin (the AECS review's F0 and F6, issue 12),
with the real aecs-server, aecsadmin and serviceadmin; every attempt must fail.

F0: the host hides every object but aecs/master and restarts: AECS unseals the real
storage key, finds no aecs/state and must say "damaged" (status, /readyz, /metrics), never
"uninitialized": the host's init is refused. With the objects back, the real admin's AECS
is ready as before. And an init on a store emptied of everything (aecs/master too) makes
a new storage key: the host's Backup of it opens none of the real objects.

F6: that emptied-store init is accepted (the host cannot be stopped from running an AECS
of its own), but it is a new instance: the tools pinning the real instance key (--instance,
what aecsadmin init printed) refuse it; without a pin they accept it (the documented limit:
whoever initialised the AECS you reach). With the real store back, the pin passes again.

Exit 1 when any takeover succeeds, 0 when AECS refuses them all.

  aecs_takeover.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import aecs_env

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-takeover-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
FAILED = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        FAILED.append(what)


def keygen(name):
    return aecs_env.keygen(WORK, name)


OWNER, OWNER_SVC, HOST, HOST_RECOVERY = keygen("owner"), keygen("owner-svc"), keygen("host"), keygen("host-rec")
MARKER = b"real-secret-marker-7c41d2: only TAs may ever see this"
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
STORE = os.path.join(WORK, "store")


class Server:
    def __init__(self, name):
        self.log = open(os.path.join(WORK, name + ".log"), "w+")
        self.proc = subprocess.Popen([SERVER, "--config", CONFIG, "--log-format", "json", "--sim-dir", SIM],
                                     stderr=self.log)
        for _ in range(300):
            self.log.seek(0)
            for line in self.log:
                if '"aecs.serving"' in line:
                    j = json.loads(line)
                    self.grpc = f"127.0.0.1:{j['grpc_port']}"
                    self.http = f"http://127.0.0.1:{j['http_port']}"
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        sys.exit(f"{name}: aecs-server did not start:\n{self.log.read()}")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.http + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def tool(self, prog, verb, key, *args):
        r = subprocess.run([prog, verb, "--server", self.grpc, "--policy", POLICY, "--sim-dir", SIM, "--key", key,
                            "--json"] + list(args), capture_output=True, text=True, timeout=120)
        out = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout.strip() else None
        return r.returncode, out, r.stdout + r.stderr

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


def store_objects(root):
    """{key: (path, value)} of an fs store (docs/formats.md: magic 8, u16 key length, u64
    version, u64 create and mod revisions, u64 value length, key, value, SHA-256)."""
    out = {}
    d = os.path.join(root, "objects")
    for name in os.listdir(d):
        b = open(os.path.join(d, name), "rb").read()
        kl = int.from_bytes(b[8:10], "little")
        n = int.from_bytes(b[34:42], "little")
        out[b[42:42 + kl].decode()] = (os.path.join(d, name), b[42 + kl:42 + kl + n])
    return out


def move_objects(src_root, dst_root, keep):
    os.makedirs(os.path.join(dst_root, "objects"), exist_ok=True)
    for key, (path, _) in store_objects(src_root).items():
        if not keep(key):
            shutil.move(path, os.path.join(dst_root, "objects", os.path.basename(path)))


def varint(b, i):
    v, shift = 0, 0
    while True:
        v |= (b[i] & 0x7f) << shift
        i += 1
        if not b[i - 1] & 0x80:
            return v, i
        shift += 7


def pb_fields(b):
    i, out = 0, {}
    while i < len(b):
        tag, i = varint(b, i)
        if tag & 7 == 2:
            n, i = varint(b, i)
            out[tag >> 3] = b[i:i + n]
            i += n
        else:
            _, i = varint(b, i)
    return out


def backup_key(path):
    """The storage key in an aecsadmin backup file, opened with HOST_RECOVERY (docs/aecs.md)."""
    f = pb_fields(open(path, "rb").read())
    eph_raw, iv, ct = f[1], f[2], f[3]
    rec = serialization.load_pem_private_key(open(HOST_RECOVERY, "rb").read(), None)
    rec_pub = rec.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)[1:]
    z = rec.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + eph_raw))
    label = b"kubetee.aecs.backup.v1"
    return AESGCM(HKDF(hashes.SHA256(), 32, eph_raw + rec_pub, label).derive(z)).decrypt(iv, ct, label)


def opened_with(master, root):
    """The objects of the store at root that master opens (AES-GCM, AAD of docs/aecs.md)."""
    opened = []
    for key, (_, v) in store_objects(root).items():
        if key == "aecs/master" or v[:4] != b"KTAO":
            continue
        ver, oid, oiv = v[5:13], v[13:29], v[29:41]
        aad = b"kubetee.aecs.object.v1\0" + key.encode() + b"\0" + ver + oid
        try:
            AESGCM(master).decrypt(oiv, v[41:], aad)
            opened.append(key)
        except Exception:
            pass
    return opened


def hidden_objects_damage(real):
    """F0: every object but aecs/master hidden."""
    aside = os.path.join(WORK, "aside")
    move_objects(STORE, aside, lambda k: k == "aecs/master")
    s = Server("master-only")
    rc, st, text = s.tool(AECSADMIN, "status", HOST)
    check(rc == 0 and st["state"] == "damaged", f"F0: a storage key without its state is damaged: {text.strip()[:200]}")
    check(s.get("/readyz")[0] == 503, "F0: /readyz is not ready while damaged")
    check('kubetee_aecs_state{state="damaged"} 1' in s.get("/metrics")[1], "F0: /metrics shows damaged")
    rc, _, text = s.tool(AECSADMIN, "init", HOST)
    check(rc != 0 and "damaged" in text and "init is refused" in text, f"F0: the host's init is refused: {text.strip()[:300]}")
    bk = os.path.join(WORK, "backup-damaged.bin")
    rc, _, text = s.tool(AECSADMIN, "backup", HOST, "--recovery-key", HOST_RECOVERY, "--out", bk)
    check(rc != 0, f"F0: no backup for the host: {text.strip()[:200]}")
    s.stop()
    # the way out: the objects back (a copy of the store), and the real AECS is as it was
    move_objects(aside, STORE, lambda k: False)
    s = Server("put-back")
    rc, st, text = s.tool(AECSADMIN, "status", OWNER)
    check(rc == 0 and st["state"] == "ready" and st["admins"] == real["admins"],
          f"F0: the store put back: ready, the real admins: {text.strip()[:200]}")
    check(s.get("/readyz")[0] == 200, "F0: /readyz ready again")
    rc, st, text = s.tool(AECSADMIN, "status", OWNER, "--instance", REAL_INSTANCE)
    check(rc == 0, f"F6: the instance key lives through restarts: {text.strip()[:200]}")
    s.stop()


def emptied_store_new_key():
    """An init on a store emptied of everything makes a new storage key: the host's Backup
    opens none of the real objects. Returns the running fake AECS (for F6)."""
    shutil.move(STORE, STORE + ".real")
    shutil.move(os.path.join(WORK, "audit.log"), os.path.join(WORK, "audit.log.real"))
    s = Server("fake")
    rc, _, text = s.tool(AECSADMIN, "init", HOST)
    check(rc == 0, f"the host inits an empty store: {text.strip()[:200]}")
    bk = os.path.join(WORK, "backup-fake.bin")
    rc, _, text = s.tool(AECSADMIN, "backup", HOST, "--recovery-key", HOST_RECOVERY, "--out", bk)
    check(rc == 0, f"the host backs its own AECS up: {text.strip()[:200]}")
    key = backup_key(bk)
    check(opened_with(key, STORE) != [], "the host's storage key opens its own objects (the check works)")
    check(opened_with(key, STORE + ".real") == [], "F0: the host's storage key opens none of the real objects")
    rc, st, text = s.tool(AECSADMIN, "status", HOST, "--instance", REAL_INSTANCE)
    check(rc != 0 and "not the pinned" in text, f"F6: the host's AECS refused by a pinning admin: {text.strip()[:300]}")
    rc, _, text = s.tool(SERVICEADMIN, "list", OWNER_SVC, "--service", "pay", "--instance", REAL_INSTANCE)
    check(rc != 0 and "not the pinned" in text, f"F6: ... and by a pinning service admin: {text.strip()[:300]}")
    rc, st, text = s.tool(AECSADMIN, "status", HOST)
    check(rc == 0 and base64.b64decode(st["instancePublic"]).hex() != REAL_INSTANCE,
          "F6: unpinned, the host's AECS is accepted: another instance key (the limit docs/aecs.md states)")
    return s


def put_real_back():
    shutil.rmtree(STORE)
    shutil.move(STORE + ".real", STORE)
    shutil.move(os.path.join(WORK, "audit.log.real"), os.path.join(WORK, "audit.log"))


try:
    s = Server("real")
    rc, init, t = s.tool(AECSADMIN, "init", OWNER)
    assert rc == 0, t
    REAL_INSTANCE = base64.b64decode(init["instancePublic"]).hex()
    check(f"the AECS instance key (pin it" in t and REAL_INSTANCE in t, f"F6: init prints the instance key: {t[:300]}")
    rc, _, t = s.tool(AECSADMIN, "register", OWNER, "--name", "pay", "--admin-key", OWNER_SVC)
    assert rc == 0, t
    marker_file = os.path.join(WORK, "marker")
    with open(marker_file, "wb") as f:
        f.write(MARKER)
    rc, _, t = s.tool(SERVICEADMIN, "create", OWNER_SVC, "--service", "pay", "--name", "marker", "--type",
                      "SECRET_TYPE_IMPORT_DATA", "--data-file", marker_file, "--mrsigner", ident["mrsigner"])
    assert rc == 0, t
    os.unlink(marker_file)
    _, real, _ = s.tool(AECSADMIN, "status", OWNER)
    s.stop()
    hidden_objects_damage(real)
    fake = emptied_store_new_key()
    fake.stop()
    put_real_back()
    s = Server("real-again")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", REAL_INSTANCE)
    check(rc == 0, f"F6: the real store back: the pinned instance proves itself: {text.strip()[:200]}")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", "00" * 64)
    check(rc != 0 and "not the pinned" in text, f"F6: a wrong pin is refused: {text.strip()[:200]}")
    rc, _, text = s.tool(AECSADMIN, "status", OWNER, "--instance", "zz")
    check(rc != 0 and "128 hex digits" in text, f"a malformed pin is refused by name: {text.strip()[:200]}")
    s.stop()
finally:
    shutil.rmtree(WORK, ignore_errors=True)
print("FAILED: " + "; ".join(FAILED) if FAILED else "every takeover refused")
sys.exit(1 if FAILED else 0)
