"""Quotas are enforced atomically (issue 12): two service admins' clients race to create
secrets in one service with room for QUOTA of them, each trying QUOTA names of its own at
once. Exactly QUOTA creates are acknowledged, every other one is refused naming the quota,
and the service lists exactly the acknowledged ones (none half-made, none over).

  aecs_quota_race.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import sys
import tempfile
import threading

import aecs_env

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
QUOTA = 6
WORK = tempfile.mkdtemp(prefix="kt-aecs-quota-race-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
ADMIN, SVC = (aecs_env.keygen(WORK, n) for n in ("admin", "svc"))
# 2 * QUOTA sessions of one key at once: past the default of 8 a peer
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE,
                                            extra=f"max_secrets: {QUOTA}\nlimits: max_per_peer=16\n")
s = aecs_env.Server(SERVER, CONFIG, POLICY, WORK, "server", SIM)
try:
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN)
    check(rc == 0, f"init: {t[-300:]}")
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "svc", "--admin-key", SVC)
    check(rc == 0, f"register: {t[-300:]}")
    results, lock = {}, threading.Lock()

    def client(prefix):
        def one(name):
            rc, _, t = s.tool(SERVICEADMIN, "create", SVC, "--service", "svc", "--name", name, "--type",
                              "SECRET_TYPE_AES256_KEY", "--mrsigner", ident["mrsigner"])
            with lock:
                results[name] = (rc, t)
        # each client's creates in flight together, beside the other client's
        ts = [threading.Thread(target=one, args=(f"{prefix}{i}",)) for i in range(QUOTA)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    clients = [threading.Thread(target=client, args=(p,)) for p in ("a", "b")]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    acked = sorted(n for n, (rc, _) in results.items() if rc == 0)
    refused = {n: t for n, (rc, t) in results.items() if rc != 0}
    check(len(results) == 2 * QUOTA, f"every create answered: {len(results)}")
    check(len(acked) == QUOTA, f"exactly {QUOTA} creates acknowledged, not {len(acked)}: {acked}")
    check(all(rc == 1 and "quota" in t for rc, t in ((results[n][0], results[n][1]) for n in refused)),
          f"every other create refused by the quota: {[t[-200:] for t in refused.values()][:3]}")
    rc, out, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "svc")
    listed = sorted(x["name"] for x in (out or {}).get("secrets", []))
    check(rc == 0 and listed == acked, f"the service lists the acknowledged ones only: {listed} vs {acked}")
finally:
    s.stop()
check.finish()
