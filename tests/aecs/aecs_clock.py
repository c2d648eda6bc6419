"""AECS's clock floor moved back only with the recovery holders' consent (attack2 K), with
the real aecs-server and aecsadmin: one admin's `clock --accept` raises or holds the floor
and never lowers it; a lowering (`clock propose`) signed offline by holders (`recovery
sign`, the same consent files as a change of the set) is refused with no consent, too few,
a stranger's, or replayed (the floor they name is gone); M holders' consents lower it, and the
lowering is in the audit log. A TA session request cap above the enclave's ceiling stops
the start, naming the setting (attack2 I).

  aecs_clock.py SERVER ENCLAVE AECSADMIN KUBETEE"""
import os
import subprocess
import sys
import tempfile

import aecs_env

SERVER, ENCLAVE, AECSADMIN, KUBETEE = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-aecs-clock-")
check = aecs_env.Checks()
FAILED = check.failed


def keygen(name):
    return aecs_env.keygen(WORK, name)


def offline(*args):
    """aecsadmin without a server: a holder's own machine."""
    r = subprocess.run([AECSADMIN] + list(args), capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


ADMIN, R1, R2, R3, R4 = (keygen(n) for n in ("admin", "r1", "r2", "r3", "r4"))
ident, POLICY, CONFIG = aecs_env.aecs_files(WORK, ENCLAVE, KUBETEE)
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)

r = subprocess.run([SERVER, "--config", CONFIG, "--sim-dir", SIM, "--ta-session-requests", "1000001"],
                   capture_output=True, text=True, timeout=120)
check(r.returncode != 0 and "ta_session_requests is 1000001 requests; the AECS enclave allows at most 1000000" in r.stderr,
      f"a TA session request cap above the enclave's ceiling stops the start: {r.stderr[-300:]}")

a = aecs_env.Server(SERVER, CONFIG, POLICY, WORK, "a", SIM)
try:
    rc, _, t = a.tool(AECSADMIN, "init", ADMIN, "--recovery-key", R1, "--recovery-key", R2, "--recovery-key", R3,
                      "--recovery-threshold", "2")
    assert rc == 0, t
    rc, out, t = a.tool(AECSADMIN, "clock", ADMIN, "--accept")
    check(rc == 0 and int(out["floor"]) >= int(out["floorWas"]), f"one admin holds (or raises) the floor: {t}")
    prop = os.path.join(WORK, "lower.ktcf")
    rc, _, t = a.tool(AECSADMIN, "clock", ADMIN, "propose", "--out", prop)
    check(rc == 1 and "nothing to lower" in t, f"a lowering to now, not before the floor, is refused: {t}")
    rc, st, t = a.tool(AECSADMIN, "status", ADMIN)
    floor = int(st["timeFloor"])
    to = floor - 3600
    rc, out, t = a.tool(AECSADMIN, "clock", ADMIN, "propose", "--floor", str(to), "--out", prop)
    check(rc == 0 and out["floor"] == to and out["floor_was"] >= floor, f"an admin proposes the floor an hour back: {t}")
    c = {}
    for name, key in (("r1", R1), ("r2", R2), ("r4", R4)):
        c[name] = os.path.join(WORK, f"consent-{name}")
        rc, t = offline("recovery", "sign", "--key", key, "--proposal", prop, "--out", c[name])
        check(rc == 0 and "its clock floor moved back from" in t, f"holder {name} signs it offline, shown what: {t}")
    for consents, says, what in (([], "lowering the clock floor needs the consent of 2 of its 3 holders; 0 given",
                                  "one admin alone"),
                                 ([c["r1"]], "1 given", "one consent of two"),
                                 ([c["r1"], c["r4"]], "not a key of the recovery set in force", "a stranger's consent"),
                                 ([c["r1"], c["r1"]], "consented already", "one holder twice")):
        args = sum((["--consent", x] for x in consents), [])
        rc, _, t = a.tool(AECSADMIN, "clock", ADMIN, "--accept", "--proposal", prop, *args)
        check(rc == 1 and says in t, f"{what}: the floor is not moved back: {t}")
    rc, _, t = a.tool(AECSADMIN, "recovery", ADMIN, "set", "--proposal", prop, "--out-dir", os.path.join(WORK, "x"),
                      "--consent", c["r1"], "--consent", c["r2"])
    check(rc == 1 and "lowers the clock floor" in t, f"a lowering is no change of the recovery set: {t}")
    rc, out, t = a.tool(AECSADMIN, "clock", ADMIN, "--accept", "--proposal", prop, "--consent", c["r1"], "--consent",
                        c["r2"])
    check(rc == 0 and int(out["floor"]) == to, f"two holders consent: the floor is moved back: {t}")
    rc, _, t = a.tool(AECSADMIN, "clock", ADMIN, "--accept", "--proposal", prop, "--consent", c["r1"], "--consent",
                      c["r2"])
    check(rc == 1 and "the floor is" in t and "propose it again" in t,
          f"the consents replayed (the floor they name is gone) are refused: {t}")
    audit = open(os.path.join(WORK, "audit.log")).read()
    check(f'"target":"floor {out["floorWas"]}->{to} lowered"' in audit, "the lowering is in the audit log")
finally:
    a.stop()

print("every clock attack refused" if not FAILED else f"{len(FAILED)} FAILED")
sys.exit(1 if FAILED else 0)
