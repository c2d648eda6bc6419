#!/usr/bin/python3
"""Crash test of the fs store: a writer creating 1,000 objects from 2 threads (one put by
one, the other in batches of 16: kt_store_put_batch) is killed
with SIGKILL at random moments, several times; after each kill the store reopens (every
file checked), every acknowledged object reads back whole, every other one is absent or
whole, and leftovers of interrupted writes are cleaned up. A last run completes the set.
With --etcd the same runs go to a real etcd the test starts (its own data directory and
free ports): what the writer was told is stored must be in etcd after the kill.
Usage: store_crash.py <store_crash_writer> [--etcd]"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import etcd_lib

COUNT = 1000


def verify(writer, url, acked):
    r = subprocess.run([writer, "verify", url, str(COUNT)], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        sys.exit(f"FAIL: verify after a kill: {r.stderr.strip()}")
    present = {l.split()[1] for l in r.stdout.splitlines() if l.startswith("present ")}
    absent = {l.split()[1] for l in r.stdout.splitlines() if l.startswith("absent ")}
    if len(present) + len(absent) != COUNT:
        sys.exit(f"FAIL: verify reported {len(present) + len(absent)} keys, not {COUNT}")
    lost = acked - present
    if lost:
        sys.exit(f"FAIL: acknowledged but gone after the kill: {sorted(lost)[:5]}")
    return present


def main():
    writer = sys.argv[1]
    etcd = len(sys.argv) > 2 and sys.argv[2] == "--etcd"
    seed = int(os.environ.get("KT_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"seed {seed}")
    with tempfile.TemporaryDirectory(prefix="kt-store-crash-") as tmp:
        url = "fs:" + os.path.join(tmp, "store")
        server = None
        if etcd:
            server = etcd_lib.Etcd(tmp)
            url = server.url("crash-test")
        try:
            run(writer, url, tmp, rng, etcd)
        finally:
            if server:
                server.stop()


def run(writer, url, tmp, rng, etcd):
    acked = set()
    kills = 0
    for rnd in range(8):
        p = subprocess.Popen([writer, "create", url, str(COUNT)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.02, 0.25))
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
            kills += 1
        out, err = p.communicate(timeout=60)
        if not killed and p.returncode != 0:
            sys.exit(f"FAIL: writer exited {p.returncode}: {err.decode(errors='replace')}")
        new = {l.split()[1] for l in out.decode().splitlines() if l.startswith("ack ")}
        if new & acked:
            sys.exit(f"FAIL: created twice: {sorted(new & acked)[:5]}")
        acked |= new
        leftovers = [] if etcd else [n for n in os.listdir(os.path.join(tmp, "store", "objects"))
                                     if n.startswith("t.")]
        present = verify(writer, url, acked)
        # leftovers of the kill are gone after the verify's open
        if any(os.path.exists(os.path.join(tmp, "store", "objects", n)) for n in leftovers):
            sys.exit("FAIL: an interrupted write's temporary file survived a reopen")
        print(f"round {rnd}: {'killed' if killed else 'finished'}, {len(new)} acknowledged, "
              f"{len(present)} present ({len(present - acked)} unacknowledged but whole), "
              f"{len(leftovers)} temporary files removed")
        if not killed:
            break
    # complete the set and check all of it
    r = subprocess.run([writer, "create", url, str(COUNT)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"FAIL: final writer: {r.stderr.strip()}")
    acked |= {l.split()[1] for l in r.stdout.splitlines() if l.startswith("ack ")}
    present = verify(writer, url, acked)
    if len(present) != COUNT:
        sys.exit(f"FAIL: {len(present)} of {COUNT} present at the end")
    if kills < 3:
        sys.exit(f"FAIL: the writer was killed mid-run only {kills} times (it finished too fast)")
    print(f"ok: {kills} kills, all {COUNT} objects whole")


if __name__ == "__main__":
    main()
