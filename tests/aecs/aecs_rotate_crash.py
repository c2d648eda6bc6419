"""Storage key rotation (docs/aecs.md "Key rotation") under SIGKILL: a store of COUNT
secrets, its key rotated (aecsadmin rotate-key) once uninterrupted (timed, with a client
creating secrets meanwhile: requests go on during a rotation), then again and again with
aecs-server killed at a random moment of the rotation, and sometimes killed again while
its start finishes the rotation. After each restart: AECS is ready, every secret is
listed, every object of the store is sealed under one key generation (the rotation is
finished, or never began), a backup's shares give the key that opens every object (each
secret's data inside), and the key of the backup before the rotation opens none. With
"etcd" the store is a real etcd-server started here.

  aecs_rotate_crash.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE [COUNT [fs|etcd]]"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import aecs_env
import aecs_store
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
COUNT = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
KIND = sys.argv[7] if len(sys.argv) > 7 else "fs"
rng = aecs_env.crash_rng()
WORK = tempfile.mkdtemp(prefix=f"kt-aecs-rotate-crash-{KIND}-")
SIM = aecs_env.sim_dir(WORK)
check = aecs_env.Checks()
STORE = aecs_store.backend(KIND, WORK)
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, store=STORE.config(),
                                            extra=f"max_secrets: {COUNT + 1000}\nstore_lock_ttl: 5s\n")
ADMIN, SVC, R1, R2 = (aecs_env.keygen(WORK, n) for n in ("admin", "svc", "r1", "r2"))
LOG = os.path.join(WORK, "server.log")


class Server:
    """aecs-server on CONFIG, its JSON log appended to LOG; wait: until it serves. On etcd a
    killed server's lease holds the namespace for its TTL (5 s here, the least; docs/operations.md "One
    AECS host per store"): a start refused for that is tried again."""

    def __init__(self, wait=True):
        for _ in range(60):
            self.log = open(LOG, "a")
            self.start = os.path.getsize(LOG)
            self.proc = subprocess.Popen([SERVER, "--config", CONFIG, "--log-format", "json", "--sim-dir", SIM],
                                         stderr=self.log, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
            self.grpc = None
            if wait and self.wait_serving():
                return
            if not wait and self.wait_enclave():
                return
            self.log.close()
            time.sleep(0.5)
        raise SystemExit("aecs-server did not start: " + self.lines()[-3000:])

    def lines(self):
        with open(LOG) as f:
            f.seek(self.start)
            return f.read()

    def wait_enclave(self):
        """True once the enclave is made (its Start comes next); False when refused by the
        other holder's lease."""
        while self.proc.poll() is None and '"enclave.created"' not in self.lines():
            time.sleep(0.005)
        return self.proc.poll() is None or "is held by another holder" not in self.lines()

    def wait_serving(self, limit=120):
        """True once it serves; False when it exited refused by the other holder's lease."""
        end = time.time() + limit
        while time.time() < end:
            for line in self.lines().splitlines():
                if '"aecs.serving"' in line:
                    self.grpc = f"127.0.0.1:{json.loads(line)['grpc_port']}"
                    return True
            if self.proc.poll() is not None:
                if "is held by another holder" in self.lines():
                    return False
                break
            time.sleep(0.02)
        raise SystemExit("aecs-server did not start: " + self.lines()[-3000:])

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=120)
        self.log.close()
        return rc

    def cmd(self, prog, verb, key, *args):
        return [prog, verb, "--server", self.grpc, "--policy", POLICY, "--sim-dir", SIM, "--key", key, "--json"] + \
            list(args)

    def tool(self, prog, verb, key, *args, timeout=600):
        r = subprocess.run(self.cmd(prog, verb, key, *args), capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr


def create(s, names):
    """names created from SecretPolicy files (one tool run per 200)."""
    for i in range(0, len(names), 200):
        path = aecs_env.secret_policy(WORK, "svc", names[i:i + 200], ident["mrsigner"])
        rc, t = s.tool(SERVICEADMIN, "create", SVC, "--file", path)
        assert rc == 0, t[-2000:]


def backup_key(s, tag):
    """The storage key as the shares of a fresh backup give it (2 of 2)."""
    d = os.path.join(WORK, "backup-" + tag)
    rc, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", d)
    assert rc == 0, t[-1000:]
    return shares_key(d)


def shares_key(d):
    return rf.storage_key(d, (1, R1), (2, R2))


def whole(s, key, names, what):
    """Every secret listed, every object under one generation, key opens each (data in)."""
    rc, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "svc")
    listed = {x["name"] for x in json.loads(t.splitlines()[0])["secrets"]} if rc == 0 else set()
    check(rc == 0 and listed == set(names), f"{what}: every secret listed ({len(listed)} of {len(names)})" + ("" if rc == 0 else t[-300:]))
    objs = STORE.objects()
    gens = set(rf.generations(objs).values())
    check(len(gens) == 1, f"{what}: every object under one key generation: {sorted(gens)}")
    bad = [k for k, v in objs.items() if not rf.raw_key(k) and rf.open_object(key, k, v) is None]
    data = [n for n in names if f"val-{n}".encode() not in (rf.open_object(key, f"secrets/svc/{n}",
                                                                          objs.get(f"secrets/svc/{n}", b"")) or b"")]
    check(not bad and not data, f"{what}: the backup's key opens every object ({bad[:3]}) with its data ({data[:3]})")
    return gens.pop() if len(gens) == 1 else None


names = [f"s{i:05d}" for i in range(COUNT)]
s = Server()
rc, t = s.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-threshold", "2")
assert rc == 0, t
rc, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "svc", "--admin-key", SVC)
assert rc == 0, t
t0 = time.time()
create(s, names)
print(f"{COUNT} secrets created in {time.time() - t0:.1f} s")
key0 = backup_key(s, "0")
gen = whole(s, key0, names, "before any rotation")
check(gen == 0, f"a new store's objects are of key generation 0: {gen}")

# ---- one rotation, uninterrupted and timed, while a client creates secrets ----
extra, lat, done_at, stop = [], [], [], threading.Event()


def writer():
    i = 0
    while not stop.is_set():
        n = f"w{i:04d}"
        path = os.path.join(WORK, "w.data")
        with open(path, "w") as f:
            f.write(f"v=val-{n}")
        a = time.time()
        rc, t = s.tool(SERVICEADMIN, "create", SVC, "--service", "svc", "--name", n, "--type",
                       "SECRET_TYPE_CONFIGURATIONS", "--data-file", path, "--mrsigner", ident["mrsigner"])
        if rc != 0:
            check(False, f"a create during the rotation fails: {t[-300:]}")
            return
        lat.append(time.time() - a)
        done_at.append(time.time())
        extra.append(n)
        i += 1


w = threading.Thread(target=writer)
w.start()
time.sleep(1.0)  # the writer's pace without a rotation: the baseline
base = list(lat)
t0 = time.time()
rc, t = s.tool(AECSADMIN, "rotate-key", ADMIN, "--out-dir", os.path.join(WORK, "rot-1"))
took = time.time() - t0
stop.set()
w.join()
check(rc == 0 and "the storage key is rotated" in t, f"rotate-key: {t[-300:]}")
n_obj = len(STORE.objects()) - 1  # aecs/master is no sealed object
print(f"ROTATION {n_obj} objects sealed again in {took:.2f} s ({n_obj / max(took, 1e-3):.0f} objects/s, {KIND}); "
      f"{len(lat) - len(base)} creates meanwhile, slowest {max(lat[len(base):], default=0):.2f} s (without a "
      f"rotation: slowest {max(base, default=0):.2f} s)")
during = [x for x in done_at if t0 < x < t0 + took]
check(took < 2 or len(during) >= 2,
      f"requests go on during a rotation: {len(during)} creates answered while it ran ({took:.1f} s)")
names += extra
key1 = shares_key(os.path.join(WORK, "rot-1"))
gen = whole(s, key1, names, "after rotate-key")
check(gen == 1, f"generation 1 after one rotation: {gen}")
check(rf.opened_with(key0, STORE.objects()) == [], "the key before the rotation opens no object of the store now")
rc, t = s.tool(AECSADMIN, "backup", ADMIN, "--out-dir", os.path.join(WORK, "backup-1"))
check(rc == 0 and shares_key(os.path.join(WORK, "backup-1")) == key1, "a backup now gives the same (new) key")

# ---- rotations killed at random moments; sometimes the start finishing one killed too ----
mid = again = mixed = 0
key = key1
for rnd in range(6):
    before = s.lines().count("event=aecs.key_rotation_started")
    p = subprocess.Popen(s.cmd(AECSADMIN, "rotate-key", ADMIN, "--out-dir", os.path.join(WORK, f"rot-k{rnd}")),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + 60
    while s.lines().count("event=aecs.key_rotation_started") == before and time.time() < end and p.poll() is None:
        time.sleep(0.001)
    # the kill: at once (nothing sealed again yet), or once a random share of the objects is
    want = 0 if rnd == 0 else rng.uniform(0.05, 0.95)
    while want and p.poll() is None and time.time() < end:
        g = list(rf.generations(STORE.objects()).values())
        if g and sum(x > gen for x in g) >= want * len(g):
            break
    s.kill()
    p.wait()
    if len(set(rf.generations(STORE.objects()).values())) == 2:
        mixed += 1  # killed while objects were being sealed again: both generations in the store
    if rnd % 2:  # kill the start too, while it finishes the rotation (or before)
        s = Server(wait=False)
        time.sleep(rng.uniform(0, 0.2))
        if s.proc.poll() is None and '"aecs.serving"' not in s.lines():
            s.kill()
            again += 1
        else:
            s.stop()
    s = Server()
    start = s.lines()
    if "event=aecs.key_rotated" in start:
        mid += 1  # this start found the rotation unfinished and finished it
    rc, t = s.tool(AECSADMIN, "status", ADMIN)
    check(rc == 0 and '"state":"ready"' in t, f"round {rnd}: ready after the kill" + ("" if rc == 0 else t[-300:]))
    k = backup_key(s, f"k{rnd}")
    g = whole(s, k, names, f"round {rnd}")
    check(g is not None and g >= gen, f"round {rnd}: the generation does not go back: {gen} -> {g}")
    if g is not None and g > gen:
        check(rf.opened_with(key, STORE.objects()) == [], f"round {rnd}: the key before the rotation opens nothing")
    gen, key = g, k
print(f"{mid} of 6 kills landed in a rotation (its start finished it), {mixed} with objects of both key generations "
      f"in the store; {again} starts killed too")
check(mid >= 2 and mixed >= 1, f"kills in a rotation: {mid}, with both generations in the store: {mixed}")
check(s.stop() == 0, "the last server stopped cleanly")
STORE.stop()
print("ok" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
