"""aecsadmin status shows the storage key's generation and whether a rotation is unfinished
(text and --json), and aecsadmin's --timeout: refused when malformed (named), honoured
(rotate-key --timeout 1 on a store of COUNT objects gives up while AECS finishes the
rotation, and says so; status meanwhile says it is unfinished, then generation 1 once
done), SIGTERM during a rotation: one longer than drain_ms is abandoned (exit 1), one that
ends within drain_ms finishes and its answer reaches rotate-key (exit 0); rotate-key's
default deadline for its answer, past 30 s (a relay holds the answer 40 s); and the
default bound of making the session, 30 s for every verb (rotate-key's hour for its answer
does not apply to it), against a gRPC server that never answers. The store is filled fast:
objects sealed here under the storage key a backup gives, written into the fs store while
aecs-server is stopped.

  aecs_admin_status.py SERVER ENCLAVE AECSADMIN KUBETEE [COUNT]"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

import aecs_env
import aecs_store
import recovery_files as rf

SERVER, ENCLAVE, AECSADMIN, KUBETEE = sys.argv[1:5]
COUNT = int(sys.argv[5]) if len(sys.argv) > 5 else 3000
WORK = tempfile.mkdtemp(prefix="kt-aecs-status-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
STORE = aecs_store.Fs(WORK)
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, store=STORE.config(),
                                            extra=f"max_secrets: {COUNT + 100}\n")
ADMIN, R1, R2 = (aecs_env.keygen(WORK, n) for n in ("admin", "r1", "r2"))
LOG = os.path.join(WORK, "server.log")


class Server:
    def __init__(self, *flags):
        self.log = open(LOG, "a")
        at = os.path.getsize(LOG)
        self.proc = subprocess.Popen([SERVER, "--config", CONFIG, "--log-format", "json", "--sim-dir", SIM, *flags],
                                     stderr=self.log, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        end = time.time() + 300
        while time.time() < end and self.proc.poll() is None:
            with open(LOG) as f:
                f.seek(at)
                for line in f:
                    if '"aecs.serving"' in line:
                        self.grpc = f"127.0.0.1:{json.loads(line)['grpc_port']}"
                        return
            time.sleep(0.02)
        raise SystemExit("aecs-server did not start: " + open(LOG).read()[-3000:])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=300)
        self.log.close()


def run(server, verb, *args, json_out=True, timeout=600):
    cmd = [AECSADMIN] + verb.split() + ["--server", server, "--policy", POLICY, "--sim-dir", SIM, "--key", ADMIN]
    cmd += (["--json"] if json_out else []) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def status(s):
    rc, out, err = run(s.grpc, "status")
    assert rc == 0, err
    j = json.loads(out)
    rc, text, err = run(s.grpc, "status", json_out=False)
    assert rc == 0, err
    line = [x for x in text.splitlines() if x.startswith("storage_key:")]
    return j.get("storageKey"), line[0] if len(line) == 1 else text


s = Server()
rc, out, err = run(s.grpc, "init", "--recovery-key", R1, "--recovery-key", R2, "--recovery-threshold", "2")
assert rc == 0, err
k, line = status(s)
check(k == {} and line == "storage_key: generation 0, no rotation unfinished",
      f"a new store: generation 0, no rotation unfinished (json {k}, text {line!r})")

# ---- --timeout: malformed values refused by name, before any connection ----
for bad in ("0", "abc", "-5", "1.5", "86401", "99999999999999999999", "7s"):
    rc, out, err = run(s.grpc, "status", "--timeout", bad)
    check(rc != 0 and "--timeout is whole seconds from 1 to 86400" in err and f'"{bad}"' in err,
          f"--timeout {bad} refused, named: {err.strip()[-160:]}")
rc, out, err = run(s.grpc, "status", "--timeout", "5")
check(rc == 0 and json.loads(out)["state"] == "ready", f"--timeout 5 on status works: {err[-200:]}")
rc, out, err = run(s.grpc, "status", "--connect-timeout", "5", "--timeout", "5")
check(rc == 0 and json.loads(out)["state"] == "ready", f"--connect-timeout 5 on status works: {err[-200:]}")

# ---- fill the store: COUNT objects sealed under the key a backup gives ----
d = os.path.join(WORK, "backup")
rc, out, err = run(s.grpc, "backup", "--out-dir", d)
assert rc == 0, err
sh = {rf.parse(open(os.path.join(d, n), "rb").read())["index"]: open(os.path.join(d, n), "rb").read()
      for n in os.listdir(d)}
key = rf.combine([(i, rf.value(rf.open_share(sh[i], k_))) for i, k_ in ((1, R1), (2, R2))])
s.stop()
for i in range(COUNT):
    STORE.host_create(f"fill/o{i:06d}", rf.seal_object(key, f"fill/o{i:06d}", b"x" * 64))
s = Server()

# ---- rotate-key --timeout 1: the tool gives up, AECS goes on; status says so ----
t0 = time.time()
rc, out, err = run(s.grpc, "rotate-key", "--out-dir", os.path.join(WORK, "rot"), "--timeout", "1")
took = time.time() - t0
check(rc != 0 and took < 20, f"rotate-key --timeout 1 gives up at once ({took:.1f} s, rc {rc}): {err.strip()[-200:]}")
check("AECS goes on sealing every object under the new key" in err and "aecsadmin backup" in err,
      f"the tool that gave up says AECS goes on: {err.strip()[-300:]}")


def rotated():
    return "event=aecs.key_rotated" in open(LOG).read()


k, line = status(s)
done = rotated()
check(done or (k == {"generation": 1, "rotationUnfinished": True} and
               line == "storage_key: generation 1, rotation unfinished (both keys in force)"),
      f"status during the rotation: generation 1, unfinished (json {k}, text {line!r}; done already: {done})")
end = time.time() + 900
while not rotated() and time.time() < end:
    time.sleep(0.2)
k, line = status(s)
check(k == {"generation": 1} and line == "storage_key: generation 1, no rotation unfinished",
      f"once finished: generation 1, no rotation unfinished (json {k}, text {line!r})")
gens = set(rf.generations(STORE.objects()).values())
check(gens == {1}, f"every object sealed again under generation 1: {sorted(gens)}")


def rotate_key(server, out_dir):
    return subprocess.Popen([AECSADMIN, "rotate-key", "--server", server, "--policy", POLICY, "--sim-dir", SIM,
                             "--key", ADMIN, "--out-dir", out_dir], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def written(out_dir):
    return sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []


def wait_log(needle, at, seconds):
    end = time.time() + seconds
    while needle not in open(LOG).read()[at:] and time.time() < end:
        time.sleep(0.05)
    return needle in open(LOG).read()[at:]


# ---- SIGTERM while a rotation runs in the enclave: the calls under way get drain_ms; one
# still running then is not pulled from under (the enclave is not stopped or destroyed
# while it runs: that was a use-after-free): aecs-server ends as a crash ends (exit 1,
# aecs.stop_abandoned), and the next start finishes the rotation. drain_ms 50 ms here, far
# less than the rotation of COUNT objects takes, so the call is always still running ----
s.stop()
s = Server("--drain-ms", "50")
at = os.path.getsize(LOG)
rot = rotate_key(s.grpc, os.path.join(WORK, "rot2"))
wait_log("aecs.key_rotation_started generation=2", at, 60)
s.proc.send_signal(signal.SIGTERM)
rc = s.proc.wait(timeout=120)
s.log.close()
rot.communicate(timeout=120)
tail = open(LOG).read()[at:]
abandoned, finished = '"aecs.stop_abandoned"' in tail, "aecs.key_rotated generation=2" in tail
check("AddressSanitizer" not in tail and "runtime error" not in tail,
      f"SIGTERM mid-rotation: no memory error: {tail[-1500:]}")
check(rc == 1 and abandoned and not finished,
      f"SIGTERM mid-rotation past drain_ms: exit 1 with aecs.stop_abandoned, the rotation unfinished (rc {rc}, "
      f"abandoned {abandoned}, finished {finished})")
s = Server()
end = time.time() + 900
while "aecs.key_rotated generation=2" not in open(LOG).read()[at:] and time.time() < end:
    time.sleep(0.2)
k, line = status(s)
check(k == {"generation": 2}, f"after the restart the rotation is finished: generation 2 (json {k}, text {line!r})")
check(len(STORE.objects()) >= COUNT and set(rf.generations(STORE.objects()).values()) == {2},
      "every object there, sealed under generation 2")
s.stop()

# ---- SIGTERM while a call that ends within drain_ms runs (a rotation of COUNT objects,
# drain_ms 300 s here): the call finishes, its answer reaches the client (rotate-key exits 0
# and writes the new shares; a call cut off would fail it), and aecs-server stops as usual
# (exit 0, aecs.stopped, no aecs.stop_abandoned). The log proves the call was in flight:
# aecs.stopping comes before the rotation's end. ----
s = Server("--drain-ms", "300000")
at = os.path.getsize(LOG)
rot = rotate_key(s.grpc, os.path.join(WORK, "rot3"))
started = wait_log("aecs.key_rotation_started generation=3", at, 60)
s.proc.send_signal(signal.SIGTERM)
t0 = time.time()
rc = s.proc.wait(timeout=400)
drained = time.time() - t0
s.log.close()
err = rot.communicate(timeout=120)[1]
tail = open(LOG).read()[at:]
stopping, rotated3 = tail.find('"aecs.stopping"'), tail.find("aecs.key_rotated generation=3")
check(started and 0 <= stopping < rotated3,
      f"SIGTERM came while the call ran (started {started}, aecs.stopping at {stopping}, "
      f"aecs.key_rotated generation=3 at {rotated3})")
check(rc == 0 and '"aecs.stopped"' in tail and '"aecs.stop_abandoned"' not in tail and drained < 300,
      f"the call ended within drain_ms, aecs-server stopped as usual (rc {rc}, {drained:.1f} s): {tail[-1500:]}")
shares = written(os.path.join(WORK, "rot3"))
check(rot.returncode == 0 and len(shares) == len(os.listdir(d)),
      f"the answer reached rotate-key through the drain: rc {rot.returncode}, shares {shares}: {err.strip()[-300:]}")

# ---- rotate-key's own deadline for its answer is past the 30 s of other verbs (an hour;
# recovery set's is the same code, call_and_write): a relay between aecsadmin and a real
# aecs-server passes every call on as it is and holds RotateKey's answer (the call during
# which AECS logged the rotation's end) HOLD s before handing it over. rotate-key must wait
# for it and succeed; at a 30 s deadline it fails with Deadline Exceeded. End to end rather
# than a unit check of the deadline the tool computes: what matters is the deadline the
# call really carries, through tool_connect_for and kt_aecs_client. The hold overlaps the
# 30 s of the never-answering server below, so the test waits out 30+ s once more only. ----
HOLD = 40
s = Server()
at = os.path.getsize(LOG)


class Relay(grpc.GenericRpcHandler):
    def __init__(self):
        self.channel = grpc.insecure_channel(s.grpc)
        self.held = 0.0

    def service(self, details):
        method = details.method

        def relay(req, ctx):
            seen = os.path.getsize(LOG)
            try:
                res = self.channel.unary_unary(method)(req, timeout=ctx.time_remaining())
            except grpc.RpcError as e:
                ctx.abort(e.code(), e.details())
            if not self.held and "aecs.key_rotated generation=4" in open(LOG).read()[seen:]:
                self.held = time.time()
                time.sleep(HOLD)
            return res
        return grpc.unary_unary_rpc_method_handler(relay)


relay = Relay()
relay_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
relay_server.add_generic_rpc_handlers((relay,))
relay_addr = f"127.0.0.1:{relay_server.add_insecure_port('127.0.0.1:0')}"
relay_server.start()
t_rot = time.time()
slow = rotate_key(relay_addr, os.path.join(WORK, "rot4"))

# ---- the default deadlines, against a gRPC server that takes every call and never answers
# (a bare listening socket would not do: gRPC gives up its connection attempt at 20 s) ----
stop = threading.Event()


class Hang(grpc.GenericRpcHandler):
    def service(self, details):
        return grpc.unary_unary_rpc_method_handler(lambda req, ctx: (stop.wait(300), b"")[1])


hole = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
hole.add_generic_rpc_handlers((Hang(),))
addr = f"127.0.0.1:{hole.add_insecure_port('127.0.0.1:0')}"
hole.start()
procs = {v: subprocess.Popen([AECSADMIN] + v.split() + ["--server", addr, "--policy", POLICY, "--sim-dir", SIM,
                                                         "--key", ADMIN, "--out-dir", os.path.join(WORK, "x")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
         for v in ("status", "rotate-key")}
t0 = time.time()
for v, p in procs.items():
    err = p.communicate(timeout=120)[1]
    waited = time.time() - t0
    check(25 < waited < 60 and "Deadline Exceeded" in err and "within the connect timeout of 30 s" in err,
          f"{v} gives up on the handshake after the 30 s default connect timeout ({waited:.1f} s): "
          f"{err.strip()[-300:]}")
stop.set()
hole.stop(0)
err = slow.communicate(timeout=900)[1]
took = time.time() - t_rot
shares = written(os.path.join(WORK, "rot4"))
check(relay.held and slow.returncode == 0 and len(shares) == len(os.listdir(d)) and took > HOLD,
      f"rotate-key waits past 30 s for its answer (held {bool(relay.held)}, rc {slow.returncode}, {took:.1f} s, "
      f"shares {shares}): {err.strip()[-300:]}")
relay_server.stop(0)
k, line = status(s)
check(k == {"generation": 4}, f"the held rotation is done: generation 4 (json {k})")
s.stop()
print("ok" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
