"""kubetee call over TLS: kubetee-serve with a TLS certificate and mutual TLS (clients'
certificates from a CA it names), and the shell's client giving --tls-ca, --tls-cert,
--tls-key and --server-name. Each way in that TLS should refuse is shown refused: a
plaintext client, a client trusting another CA, no client certificate, a client
certificate from another CA, a certificate not matching the name asked for; and the flags
that make no sense alone are refused before anything is sent.

  call_tls.py SERVER KUBETEE ENCLAVE CLIENT_KEY"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402
import pin  # noqa: E402

SERVER, KUBETEE, ENCLAVE, KEY = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-call-tls-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
check = Checks(quiet=True)


def path(name):
    return os.path.join(WORK, name)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def ca(name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            path(name + ".key"), "-out", path(name + ".pem"), "-subj", "/CN=" + cn, "-days", "2")


def issue(name, cn, by, san=None):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=" + cn)
    with open(path(name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san if san else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path(by + ".pem"), "-CAkey", path(by + ".key"),
            "-CAcreateserial", "-out", path(name + ".pem"), "-days", "2", "-extfile", path(name + ".ext"))


ca("ca", "kubetee test CA")
ca("other", "another CA")
issue("server", "enclave.test", "ca", san="DNS:enclave.test")
issue("client", "client", "ca")
issue("rogue", "client", "other")  # the same name, from another CA

POLICY = path("policy.yaml")
ident = pin.policy(KUBETEE, ENCLAVE, POLICY, "mrenclave", "isvprodid")
LOG = path("serve.log")
with open(LOG, "w") as log:
    server = subprocess.Popen([SERVER, "--enclave", ENCLAVE, "--listen", "127.0.0.1:0", "--http", "", "--sim-dir", SIM,
                               "--log-format", "json", "--tls-cert", path("server.pem"), "--tls-key", path("server.key"),
                               "--tls-client-ca", path("ca.pem")], stderr=log)


def started():
    end = time.time() + 60
    while time.time() < end and server.poll() is None:
        for line in open(LOG):
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "service.started":
                return e
        time.sleep(0.1)
    return None


def call(*tls, function="remotetest.Sum", body='{"values": [40, 2]}'):
    return subprocess.run([KUBETEE, "call", ADDR, function, "--json", body, "--policy", POLICY, "--key", KEY,
                           "--sim-dir", SIM, "--timeout-ms", "20000"] + list(tls),
                          capture_output=True, text=True, timeout=120)


try:
    ev = started()
    check(ev is not None and ev.get("tls") == "on", f"kubetee-serve started with TLS: {ev}")
    ADDR = f"127.0.0.1:{ev['port'] if ev else 0}"
    MUTUAL = ["--tls-ca", path("ca.pem"), "--tls-cert", path("client.pem"), "--tls-key", path("client.key"),
              "--server-name", "enclave.test"]

    r = call(*MUTUAL)
    check(r.returncode == 0 and json.loads(r.stdout or "null") == {"value": "42"},
          f"a call over mutual TLS: {r.returncode} {r.stdout} {r.stderr}")
    check("server verified: mrenclave=" + ident["mrenclave"] in r.stderr, f"and the session verified the quote: {r.stderr}")
    r = subprocess.run([KUBETEE, "call", ADDR, "--describe", "--policy", POLICY, "--key", KEY, "--sim-dir", SIM]
                       + MUTUAL, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "remotetest.Sum(remotetest.Numbers) -> remotetest.Number" in r.stdout,
          f"--describe over mutual TLS: {r.stdout} {r.stderr}")

    refusals = [
        ([], "plaintext gRPC to a TLS server"),
        (["--tls-ca", path("other.pem"), "--tls-cert", path("client.pem"), "--tls-key", path("client.key"),
          "--server-name", "enclave.test"], "a server certificate from a CA the client does not trust"),
        (["--tls-ca", path("ca.pem"), "--server-name", "enclave.test"], "no client certificate (mutual TLS)"),
        (["--tls-ca", path("ca.pem"), "--tls-cert", path("rogue.pem"), "--tls-key", path("rogue.key"),
          "--server-name", "enclave.test"], "a client certificate from another CA"),
        (["--tls-ca", path("ca.pem"), "--tls-cert", path("client.pem"), "--tls-key", path("client.key"),
          "--server-name", "elsewhere.test"], "a server certificate for another name"),
    ]
    for flags, what in refusals:
        r = call(*flags)
        check(r.returncode == 1 and r.stdout == "" and "kubetee:" in r.stderr
              and "server verified" not in r.stderr, f"refused: {what}: {r.returncode} {r.stdout} {r.stderr}")

    usage = [
        (["--tls-cert", path("client.pem"), "--tls-key", path("client.key")], "need --tls-ca"),
        (["--server-name", "enclave.test"], "need --tls-ca"),
        (["--tls-ca", path("ca.pem"), "--tls-cert", path("client.pem")], "go together"),
        (["--tls-ca", path("ca.pem"), "--tls-key", path("client.key")], "go together"),
    ]
    for flags, needle in usage:
        r = call(*flags)
        check(r.returncode == 2 and needle in r.stderr, f"usage: {flags[::2]}: {r.returncode} {r.stderr}")
    r = call("--tls-ca", path("missing.pem"))
    check(r.returncode == 1 and "missing.pem" in r.stderr, f"a missing CA file is named: {r.stderr}")
finally:
    server.send_signal(signal.SIGTERM)
    rc = server.wait(timeout=30)
check(rc == 0, f"server exit {rc}")
if check.failed:
    print(open(LOG).read()[-3000:])
shutil.rmtree(WORK, ignore_errors=True)
check.finish()
