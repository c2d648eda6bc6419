"""One AECS host per store (attack2 J; docs/operations.md "One AECS host per store").

Each AECS enclave reads aecs/state only at Start and writes it with the version it last
saw, so two aecs-servers on one store break each other, and a revocation made through one
is not in force on the other. So the store has one holder:

etcd (a real etcd-server started here): a second aecs-server on the namespace is refused
at start, naming the first (its pid) and its lease's time left, while the first serves on
(the lock key breaks none of its lists). The first killed with SIGKILL: its lease outlives
it by its TTL (the second still refused), then the second starts and sees the first's
admins. The holder paused (SIGSTOP) past its TTL: a third host takes the namespace; the
paused one, continued, writes nothing more (its writes refused: its lock is lost), stops
with exit 3 and says why, and the new holder's store is as it left it.

fs: a second aecs-server on the same directory is refused naming the first's pid; once
the first is killed, the second starts at once (the flock dies with its holder).

  aecs_two_hosts.py SERVER ENCLAVE AECSADMIN KUBETEE"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import aecs_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import etcd_lib  # noqa: E402

SERVER, ENCLAVE, AECSADMIN, KUBETEE = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-aecs-two-")
TTL = 5  # long enough that a refused start under load still finds the lease alive
check = aecs_env.Checks()
ADMIN, ADMIN2, SVC = (aecs_env.keygen(WORK, n) for n in ("admin", "admin2", "svc"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)


def flags(name, store):
    return ["--store", store, "--audit-file", os.path.join(WORK, name + ".audit"), "--store-lock-ttl", str(TTL)]


def Server(name, store):
    return aecs_env.Server(SERVER, CONFIG, POLICY, WORK, name, SIM, *flags(name, store))


def refused(name, store, holder_pid, needles, what):
    """aecs-server on store must exit 1 at its store step, naming the holder's pid and each needle."""
    r = subprocess.run([SERVER, "--config", CONFIG, "--log-format", "json", "--sim-dir", SIM] + flags(name, store),
                       capture_output=True, text=True, timeout=60)
    lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    failed = [x for x in lines if x.get("event") == "aecs.failed"]
    reason = failed[0].get("reason", "") if failed else ""
    ok = (r.returncode == 1 and failed and failed[0].get("step") == "store" and f"pid={holder_pid}" in reason and
          all(n in reason for n in needles))
    check(ok, f"{what}: exit {r.returncode}: {reason or r.stderr[-600:]}")
    return reason


def metric(s, name):
    code, text = s.get("/metrics")
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def lock_gone(etcd, ns, since, what):
    """Waits (bounded) until the namespace's lock key is gone; returns the seconds since since."""
    key = (ns + "/#lock").encode()
    for _ in range(200):
        if key not in etcd.items((ns + "/").encode()):
            return time.monotonic() - since
        time.sleep(0.1)
    check(False, f"{what}: the lock key is still there after 20 s")
    return None


def etcd_part():
    etcd = etcd_lib.Etcd(WORK)
    store = etcd.url("aecs")
    prefix = b"aecs/"
    a = b = c = None
    try:
        a = Server("a", store)
        rc, _, t = a.tool(AECSADMIN, "init", ADMIN)
        assert rc == 0, t
        lock = etcd.items(prefix).get(prefix + b"#lock")
        check(lock is not None and f"pid={a.proc.pid} ".encode() in lock[0] and b"aecs-server host=" in lock[0],
              f"etcd: the lock key names its holder: {lock}")
        refused("b", store, a.proc.pid, ["is held by another holder", f"s of its TTL of {TTL} s left",
                                          "the lock key aecs/#lock"],
                "etcd: a second aecs-server on the namespace is refused, naming the first")
        # the first serves on: its lists and changes pass the lock key by
        rc, _, t = a.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
        check(rc == 0, f"etcd: the holder registers a service: {t[:300]}")
        rc, _, t = a.tool(AECSADMIN, "addadmin", ADMIN, "--admin-key", ADMIN2)
        check(rc == 0, f"etcd: the holder adds an admin: {t[:300]}")
        check(a.get("/readyz")[0] == 200, "etcd: the holder is ready")
        check(metric(a, "kubetee_aecs_store_lock_held") == 1 and metric(a, "kubetee_aecs_store_lock_ttl_seconds") == TTL,
              "etcd: /metrics says the lock is held, with its TTL")

        # killed: its lease outlives it by the TTL; a second host is refused until then
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        killed = time.monotonic()
        refused("b", store, a.proc.pid, ["is held by another holder"],
                "etcd: the holder killed (SIGKILL): still refused while its lease lives")
        gone = lock_gone(etcd, "aecs", killed, "etcd: the killed holder's lease")
        check(gone is not None and gone >= TTL - 1.5,
              f"etcd: the killed holder's lock lasted its TTL ({gone and round(gone, 1)} s of {TTL} s)")
        b = Server("b", store)
        rc, _, t = b.tool(AECSADMIN, "list", ADMIN2)
        check(rc == 0, f"etcd: the next host starts and knows the first host's admins: {t[:300]}")
        rc, _, t = b.tool(AECSADMIN, "addadmin", ADMIN, "--admin-key", SVC)
        check(rc == 0, f"etcd: the next host changes aecs/state: {t[:300]}")

        # paused past its TTL: another host takes the namespace; the paused one, continued,
        # writes nothing more and stops
        b.proc.send_signal(signal.SIGSTOP)
        paused = time.monotonic()
        gone = lock_gone(etcd, "aecs", paused, "etcd: the paused holder's lease")
        check(gone is not None and gone >= TTL - 1.5, f"etcd: the paused holder's lock lasted its TTL ({gone} s)")
        c = Server("c", store)
        before = etcd.items(prefix)
        late = subprocess.Popen([AECSADMIN, "unregister", "--server", b.grpc, "--policy", POLICY, "--sim-dir", SIM,
                                 "--key", ADMIN, "--json", "--name", "pay"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        b.proc.send_signal(signal.SIGCONT)
        out, _ = late.communicate(timeout=120)
        check(late.returncode != 0, f"etcd: a change sent to the paused host fails once it continues: {out[-300:]}")
        rc = b.proc.wait(timeout=60)
        check(rc == 3, f"etcd: the host that lost its lock stops, exit {rc} (3)")
        lost = b.events("store.etcd.lock_lost")
        check(len(lost) == 1 and "no renewal of its lease confirmed" in lost[0].get("reason", ""),
              f"etcd: it logs the lock lost, and why: {lost}")
        check(len(b.events("aecs.store_lock_lost")) == 1, "etcd: aecs-server logs that it stops for it")
        stop = b.events("aecs.stop_failed")
        check(len(stop) == 1 and "lost its lock" in stop[0].get("reason", ""),
              f"etcd: its last write (Stop's checkpoint) is refused, the lock lost: {stop}")
        after = etcd.items(prefix)
        check(before == after, "etcd: the host that lost its lock wrote nothing over the new holder's store")
        rc, _, t = c.tool(AECSADMIN, "list", ADMIN2)
        check(rc == 0 and '"pay"' in t, f"etcd: the new holder still has the service the paused host tried to "
                                        f"unregister: {t[:300]}")
        rc, _, t = c.tool(AECSADMIN, "register", ADMIN, "--name", "pay2", "--admin-key", SVC)
        check(rc == 0, f"etcd: the new holder changes aecs/state: {t[:300]}")
        c.stop()
        check(c.proc.returncode == 0, "etcd: the new holder stops cleanly")
        check(prefix + b"#lock" not in etcd.items(prefix), "etcd: a clean stop revokes the lease (no TTL to wait)")
        c = None
    finally:
        for s in (a, b, c):
            if s and s.proc.poll() is None:
                s.proc.send_signal(signal.SIGCONT)
                s.stop()
        etcd.stop()


def fs_part():
    store = f"fs:{WORK}/fs-store"
    a = Server("fs-a", store)
    try:
        rc, _, t = a.tool(AECSADMIN, "init", ADMIN)
        assert rc == 0, t
        refused("fs-b", store, a.proc.pid, [f"by pid {a.proc.pid}: aecs-server host=", "lock is held"],
                "fs: a second aecs-server on the directory is refused, naming the first's pid")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        a = Server("fs-b", store)
        rc, _, t = a.tool(AECSADMIN, "status", ADMIN)
        check(rc == 0, f"fs: the holder killed, the next starts at once on its directory: {t[:300]}")
    finally:
        a.stop()


try:
    etcd_part()
    fs_part()
finally:
    shutil.rmtree(WORK, ignore_errors=True)
print("one AECS host per store" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
