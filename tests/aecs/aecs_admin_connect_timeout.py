"""aecsadmin's and serviceadmin's --connect-timeout: making the session (the TCP connection,
the attested handshake) has its own bound apart from --timeout, so rotate-key (whose answer
may take an hour) against an address that takes the connection and never answers gives up
within it, naming the connect timeout; a malformed value is refused by name before any
connection. The listener here is a bare socket that accepts and never writes a byte.

  aecs_admin_connect_timeout.py ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import aecs_env

ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-aecs-connect-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
ADMIN = aecs_env.keygen(WORK, "admin")

# accepts every connection, reads and drops what comes, never answers
hole = socket.socket()
hole.bind(("127.0.0.1", 0))
hole.listen(16)
ADDR = f"127.0.0.1:{hole.getsockname()[1]}"
held = []
accepted = threading.Event()


def take():
    while True:
        try:
            conn, _ = hole.accept()
        except OSError:
            return
        held.append(conn)
        accepted.set()
        threading.Thread(target=lambda c=conn: [None for _ in iter(lambda: c.recv(4096), b"")], daemon=True).start()


threading.Thread(target=take, daemon=True).start()


def run(tool, verb, *args):
    cmd = [tool] + verb.split() + ["--server", ADDR, "--policy", POLICY, "--sim-dir", SIM, "--key", ADMIN]
    t0 = time.time()
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=300)
    return r.returncode, r.stderr, time.time() - t0


ROTATE = ("rotate-key", "--out-dir", os.path.join(WORK, "rot"))

# ---- malformed values: refused by name, before any connection ----
for bad in ("0", "abc", "1e3", "99999999", "86401", "-5", "1.5", "", "99999999999999999999", "2\"x"):
    accepted.clear()
    rc, err, took = run(AECSADMIN, *ROTATE, "--connect-timeout", bad)
    shown = bad.replace('"', "\\x22")
    check(rc != 0 and "--connect-timeout is whole seconds from 1 to 86400" in err and f'"{shown}"' in err
          and took < 20 and not accepted.is_set(),
          f"--connect-timeout {bad!r} refused by name before connecting ({took:.1f} s): {err.strip()[-200:]}")
rc, err, took = run(SERVICEADMIN, "list", "--service", "svc", "--connect-timeout", "0")
check(rc != 0 and '--connect-timeout is whole seconds from 1 to 86400, not "0"' in err,
      f"serviceadmin refuses --connect-timeout 0 by name: {err.strip()[-200:]}")

# ---- an address that never answers: rotate-key (an hour for its answer) gives up in 2 s ----
accepted.clear()
rc, err, took = run(AECSADMIN, *ROTATE, "--connect-timeout", "2")
check(accepted.is_set(), "the listener took the tool's connection")
check(rc != 0 and 1.5 < took < 15, f"rotate-key --connect-timeout 2 gives up in about 2 s ({took:.1f} s, rc {rc})")
check("--connect-timeout 2" in err and f"no attested session with '{ADDR}' within the connect timeout of 2 s" in err,
      f"the error names the connect timeout: {err.strip()[-300:]}")
# --timeout bounds the answer after the session, not the session: the connect bound holds
rc, err, took = run(AECSADMIN, "status", "--timeout", "1", "--connect-timeout", "4")
check(rc != 0 and 3.5 < took < 20 and "connect timeout of 4 s" in err,
      f"--timeout 1 does not cut the session's 4 s ({took:.1f} s): {err.strip()[-200:]}")
rc, err, took = run(SERVICEADMIN, "list", "--service", "svc", "--connect-timeout", "2")
check(rc != 0 and 1.5 < took < 15 and "connect timeout of 2 s" in err,
      f"serviceadmin list --connect-timeout 2 gives up in about 2 s ({took:.1f} s): {err.strip()[-200:]}")

hole.close()
for c in held:
    c.close()
print("ok" if not check.failed else f"{len(check.failed)} FAILED")
sys.exit(1 if check.failed else 0)
