"""/readyz is 200 only once AECS is initialised and its store reads (issue 12), also after
the start: an fs store whose aecs/master file is gone or damaged (a disk that stopped
reading it) makes /readyz 503 while /healthz stays 200; the file back, ready again.

  aecs_readyz.py SERVER ENCLAVE AECSADMIN KUBETEE"""
import os
import sys
import tempfile

import aecs_env
import aecs_store

SERVER, ENCLAVE, AECSADMIN, KUBETEE = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-aecs-readyz-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
ADMIN = aecs_env.keygen(WORK, "admin")
STORE = aecs_store.Fs(WORK)
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE, store=STORE.config())
s = aecs_env.Server(SERVER, CONFIG, POLICY, WORK, "server", SIM)
try:
    check(s.get("/readyz")[0] == 503, "not ready before init")
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN)
    check(rc == 0, f"init: {t[-300:]}")
    check(s.get("/readyz")[0] == 200, "ready after init")
    kept = STORE.host_delete("aecs/master")
    check(s.get("/readyz")[0] == 503, "aecs/master's file gone: not ready")
    check(s.get("/healthz")[0] == 200, "... and still healthy (serving)")
    STORE.host_undelete(kept)
    check(s.get("/readyz")[0] == 200, "the file back: ready again")
    path, data = kept
    with open(path, "wb") as f:
        f.write(data[:-1] + bytes([data[-1] ^ 1]))  # its checksum no longer matches
    check(s.get("/readyz")[0] == 503, "aecs/master's file damaged: not ready")
    STORE.host_undelete(kept)
    check(s.get("/readyz")[0] == 200, "repaired: ready again")
    rc, out, t = s.tool(AECSADMIN, "status", ADMIN)
    check(rc == 0 and out["state"] == "ready", f"AECS serves on: {t[-300:]}")
finally:
    s.stop()
check.finish()
