"""aecs-server on real etcd, as a cluster operator runs it (docs/operations.md "Running AECS
on etcd"):

TLS: an etcd-server with --client-cert-auth and certificates from a CA made here. aecs-server
refuses to start, naming why, with plaintext, the wrong CA, no client certificate, a
client certificate from another CA and a server name the certificate does not carry; with
the right settings (YAML, env and flags) it serves, and what it stored reads back after a
restart. Plaintext to an etcd off loopback is refused unless store_insecure says so (then
logged).

etcd auth: AECS logs in as a user (store_user, store_password_file) whose role reaches its
namespace only: the wrong password, no user and a namespace the role lacks are refused
naming why; an expired token (a TTL of 1 s) is replaced without a failed call.

A 3-member cluster: AECS keeps serving when one member is killed (SIGKILL), and when the
member it talks to is the one killed (it fails over to the next endpoint and says so);
it also starts with that member down.

The namespace: keys written outside it (another namespace, ones that share its first
bytes, large values) move nothing of AECS's: not its objects, not its head revision, and
AECS serves on.

  aecs_etcd.py SERVER ENCLAVE AECSADMIN SERVICEADMIN KUBETEE"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

import aecs_env
import aecs_store

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import etcd_lib  # noqa: E402

SERVER, ENCLAVE, AECSADMIN, SERVICEADMIN, KUBETEE = sys.argv[1:6]
WORK = tempfile.mkdtemp(prefix="kt-aecs-etcd-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = aecs_env.Checks()
FAILED = check.failed


ADMIN, SVC = aecs_env.keygen(WORK, "admin"), aecs_env.keygen(WORK, "svc")


def refused(config, needles, what, args=(), env=None, timeout=60):
    """aecs-server on config must exit 1 at its store step, its log naming each needle."""
    r = subprocess.run([SERVER, "--config", config, "--log-format", "json", "--sim-dir", SIM] + list(args),
                       capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    ok = r.returncode == 1 and '"step":"store"' in r.stderr and all(n in r.stderr for n in needles)
    check(ok, f"{what}: exit {r.returncode}: {r.stderr.strip()[-600:]}")
    return r.stderr


def files(name, store):
    d = os.path.join(WORK, name)
    os.makedirs(d, exist_ok=True)
    return aecs_env.aecs_files(d, ENCLAVE, KUBETEE, store=store.config())


def first_secrets(s, ident, names):
    rc, _, t = s.tool(AECSADMIN, "init", ADMIN)
    check(rc == 0, f"init: {t.strip()[:200]}")
    rc, _, t = s.tool(AECSADMIN, "register", ADMIN, "--name", "pay", "--admin-key", SVC)
    check(rc == 0, f"register: {t.strip()[:200]}")
    for n in names:
        create(s, ident, n)


def create(s, ident, name, what="create"):
    rc, _, t = s.tool(SERVICEADMIN, "create", SVC, "--service", "pay", "--name", name, "--type",
                      "SECRET_TYPE_AES256_KEY", "--mrsigner", ident["mrsigner"])
    check(rc == 0, f"{what} {name}: {t.strip()[:300]}")


def listed(s, want, what):
    rc, out, t = s.tool(SERVICEADMIN, "list", SVC, "--service", "pay")
    check(rc == 0 and sorted(x["name"] for x in out["secrets"]) == sorted(want), f"{what}: {t.strip()[:300]}")


def tls_etcd():
    pki, other = etcd_lib.Pki(os.path.join(WORK, "pki")), etcd_lib.Pki(os.path.join(WORK, "pki-other"), "other-ca")
    etcd = etcd_lib.Etcd(WORK, 1, pki=pki, name="etcd-tls")
    cert, key = pki.issue("aecs-server")
    ocert, okey = other.issue("aecs-server")
    try:
        store = aecs_store.Etcd(WORK, etcd, "aecs-tls")
        ident, policy, plain = files("tls-plain", store)
        refused(plain, ["store etcd://127.0.0.1:", "if etcd serves TLS, set store_tls_ca"],
                "TLS etcd: plaintext refused")
        refused(plain, ["certificate verify failed", "with TLS: is store_tls_ca the CA of etcd's certificate"],
                "TLS etcd: the wrong CA",
                ["--store-tls-ca", other.ca, "--store-tls-cert", cert, "--store-tls-key", key])
        refused(plain, ["with TLS: is store_tls_ca"], "TLS etcd: no client certificate", ["--store-tls-ca", pki.ca])
        refused(plain, ["with TLS: is store_tls_ca"], "TLS etcd: a client certificate from another CA",
                ["--store-tls-ca", pki.ca], {"KT_AECS_STORE_TLS_CERT": ocert, "KT_AECS_STORE_TLS_KEY": okey})
        refused(plain, ["with TLS: is store_tls_ca"], "TLS etcd: a server name its certificate lacks",
                ["--store-tls-ca", pki.ca, "--store-tls-cert", cert, "--store-tls-key", key, "--store-server-name",
                 "etcd.elsewhere.example"])
        refused(plain, ["/nonexistent/ca.pem"], "a CA file that is not there", ["--store-tls-ca", "/nonexistent/ca.pem"])
        refused(plain, ["store_tls_cert and store_tls_key go together"], "a certificate without its key",
                ["--store-tls-ca", pki.ca, "--store-tls-cert", cert])
        # the right settings, from the YAML file: serves, and reads back after a restart
        store.extra = (f"store_tls_ca: {pki.ca}\nstore_tls_cert: {cert}\nstore_tls_key: {key}\n"
                       "store_server_name: etcd-server\n")
        ident, policy, good = files("tls-good", store)
        s = aecs_env.Server(SERVER, good, policy, WORK, "tls", SIM)
        first_secrets(s, ident, ["t1", "t2"])
        s.stop()
        s = aecs_env.Server(SERVER, good, policy, WORK, "tls-again", SIM)
        listed(s, ["t1", "t2"], "TLS etcd: the secrets read back after a restart")
        s.stop()
        check(set(store.objects()) >= {"aecs/master", "aecs/state", "secrets/pay/t1"},
              f"TLS etcd: the objects are in etcd: {sorted(store.objects())}")
    finally:
        etcd.stop()


def auth_etcd():
    etcd = etcd_lib.Etcd(WORK, 1, name="etcd-auth", args=["--auth-token-ttl", "1"])
    try:
        for args in (("user", "add", "root:root-pw"), ("role", "add", "aecs-rw"),
                     ("role", "grant-permission", "aecs-rw", "--prefix=true", "readwrite", "aecs-auth/"),
                     ("user", "add", "aecs:aecs pw 1"), ("user", "grant-role", "aecs", "aecs-rw"), ("auth", "enable")):
            etcd.ctl(*args)
        pw, bad = os.path.join(WORK, "etcd-pw"), os.path.join(WORK, "etcd-pw-bad")
        with open(pw, "w") as f:
            f.write("aecs pw 1\n")
        with open(bad, "w") as f:
            f.write("aecs pw 2\n")
        store = aecs_store.Etcd(WORK, etcd, "aecs-auth")
        ident, policy, plain = files("auth-plain", store)
        refused(plain, ["etcdserver: user name is empty"], "etcd auth: no user")
        refused(plain, ["etcd auth as user 'aecs'", "authentication failed"], "etcd auth: the wrong password",
                ["--store-user", "aecs", "--store-password-file", bad])
        refused(plain, ["permission denied"], "etcd auth: a namespace the user's role lacks",
                ["--store-user", "aecs", "--store-password-file", pw, "--store", etcd.url("aecs-other")])
        refused(plain, ["store_user and store_password_file go together"], "a user without a password file",
                ["--store-user", "aecs"])
        store.extra = f"store_user: aecs\nstore_password_file: {pw}\n"
        ident, policy, good = files("auth-good", store)
        s = aecs_env.Server(SERVER, good, policy, WORK, "auth", SIM)
        first_secrets(s, ident, ["a1"])
        time.sleep(2.5)  # the token expires
        create(s, ident, "a2", "etcd auth: after the token expired, AECS logs in again and creates")
        listed(s, ["a1", "a2"], "etcd auth: ... and lists")
        s.stop()
        # a namespace with a '/': its open also reads the heads around it (namespaces do not
        # nest), so a role with the namespace's prefix alone is refused, naming them
        etcd.ctl("role", "grant-permission", "aecs-rw", "--prefix=true", "readwrite", "team/aecs/", user="root:root-pw")
        nested = ["--store", etcd.url("team/aecs")]
        refused(good, ["permission denied", "the etcd keys 'team/'", "the role needs read on each"],
                "etcd auth: a nested namespace without read on the head around it", nested)
        etcd.ctl("role", "grant-permission", "aecs-rw", "read", "team/", user="root:root-pw")
        s = aecs_env.Server(SERVER, good, policy, WORK, "auth-nested", SIM, *nested)  # exits the test if refused
        s.stop()
        check(True, "etcd auth: ... and, with read on that head's key alone, it opens and serves")
    finally:
        etcd.stop()


def plaintext_off_loopback():
    store = types.SimpleNamespace(config=lambda: "store: etcd://127.0.0.1:1,192.0.2.7:2379/aecs\n")
    _, _, config = files("off-loopback", store)
    refused(config, ["endpoint 192.0.2.7:2379 is not on loopback", "store_insecure: true"],
            "plaintext to an etcd off loopback")
    log = refused(config, ['"event":"store.etcd.plaintext"', "store etcd://127.0.0.1:1,192.0.2.7:2379/aecs"],
                  "store_insecure: plaintext off loopback is tried, and logged", ["--store-insecure", "true"])
    check("none of the 2 etcd endpoints answered" in log, f"... and both endpoints were tried: {log[-300:]}")
    r = subprocess.run([SERVER, "--config", config, "--store-insecure", "yes"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 2 and "store_insecure must be true or false" in r.stderr,
          f"store_insecure takes true or false: {r.stderr[:200]}")


def cluster():
    etcd = etcd_lib.Etcd(WORK, 3, name="etcd-cluster")
    try:
        store = aecs_store.Etcd(WORK, etcd, "aecs")
        ident, policy, config = files("cluster", store)
        s = aecs_env.Server(SERVER, config, policy, WORK, "cluster", SIM)
        first_secrets(s, ident, ["c1"])
        etcd.kill(2)
        create(s, ident, "c2", "member m2 killed, AECS (on m0) creates")
        listed(s, ["c1", "c2"], "member m2 killed: AECS lists")
        etcd.start(2)
        etcd.wait_ready(2)
        etcd.kill(0)
        create(s, ident, "c3", "AECS's own member m0 killed: AECS creates")
        listed(s, ["c1", "c2", "c3"], "AECS's own member m0 killed: AECS lists")
        fo = s.events("store.etcd.failover")
        check(len(fo) >= 1 and fo[0]["from"] == f"127.0.0.1:{etcd.client[0]}",
              f"the failover is logged, from m0: {fo[:2]}")
        check(len(fo) <= 2, f"once, not per call: {len(fo)} lines")
        s.stop()
        s = aecs_env.Server(SERVER, config, policy, WORK, "cluster-m0-down", SIM)
        listed(s, ["c1", "c2", "c3"], "restarted with m0 still down: AECS reads everything back")
        namespace_kept(s, ident, etcd, store)
        s.stop()
    finally:
        etcd.stop()


def namespace_kept(s, ident, etcd, store):
    """Writes outside the namespace: AECS's objects and head untouched, AECS serves on."""
    before = store.objects()
    head = etcd.items(store.prefix)[store.prefix]
    for key in (b"aecs0", b"aecs-other/secrets/pay/c1", b"aecs.x/aecs/state", b"aecsx", b"other/aecs/master"):
        etcd.put(key, b"not AECS's")
    for i in range(3):
        etcd.put(b"aecs-big/%d" % i, b"B" * (1 << 20))
    check(store.objects() == before, "writes outside the namespace: AECS's objects unchanged")
    check(etcd.items(store.prefix)[store.prefix] == head, "... and its head revision unmoved (no watch of it wakes)")
    listed(s, ["c1", "c2", "c3"], "... and AECS lists as before")
    create(s, ident, "c4", "... and creates")
    check(etcd.items(b"aecs0")[b"aecs0"][0] == b"not AECS's", "AECS's writes leave the keys outside alone")


try:
    tls_etcd()
    auth_etcd()
    plaintext_off_loopback()
    cluster()
finally:
    shutil.rmtree(WORK, ignore_errors=True)
print("FAILED: " + "; ".join(FAILED) if FAILED else "AECS on etcd: every check passed")
sys.exit(1 if FAILED else 0)
