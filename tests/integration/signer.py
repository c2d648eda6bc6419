"""kubetee-signer end to end with a real SoftHSM2 token made here: keys generated in the
token (never extractable), enclaves signed through the service over mutual TLS and then
verified and loaded, and every policy refusal: a client the key does not serve, a
certificate of a known name from another CA, a debug enclave and a production key, an
ISVSVN going backwards (also after a restart), bytes that are not signing data. A Python
grpcio client is the independent peer for requests kubetee's own client would not send.

usage: signer.py KUBETEE KUBETEE_SIGNER ENCLAVES_DIR SIGNER_PROTO"""
import atexit
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

KUBETEE, SIGNER, ENCLAVES, PROTO = sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-signer-")
MODULE = "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"
passed = failed = 0


def ok(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (what, detail))


def run(*cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout + p.stderr


def path(name):
    return os.path.join(WORK, name)


# ---- a token of our own ----
os.makedirs(path("tokens"))
with open(path("softhsm2.conf"), "w") as f:
    f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" % path("tokens"))
os.environ["SOFTHSM2_CONF"] = path("softhsm2.conf")
subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "signing", "--pin", "246810",
                "--so-pin", "97531"], check=True, capture_output=True)
with open(path("pin"), "w") as f:
    f.write("246810\n")
os.chmod(path("pin"), 0o600)

# ---- certificates: a CA, the signer's, clients; a second CA issuing a look-alike ----


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def ca(name, cn):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-subj", "/CN=" + cn, "-days", "2")


def issue(name, cn, by, san=None):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=%s/O=kubetee tests" % cn)
    ext = path(name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san if san else "extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", path(name + ".csr"), "-CA", path(by + ".pem"), "-CAkey", path(by + ".key"),
            "-CAcreateserial", "-out", path(name + ".pem"), "-days", "2", "-extfile", ext)


def names(name):
    """Subject and issuer as OpenSSL prints them in one line (what the signer pins)."""
    out = subprocess.run(["openssl", "x509", "-in", path(name + ".pem"), "-noout", "-subject", "-issuer",
                          "-nameopt", "oneline"], check=True, capture_output=True, text=True).stdout
    subj = re.search(r"^subject=(.*)$", out, re.M).group(1).strip()
    iss = re.search(r"^issuer=(.*)$", out, re.M).group(1).strip()
    return subj, iss


ca("ca", "kubetee test CA")
ca("ca2", "another CA")
issue("server", "localhost", "ca", san="DNS:localhost,IP:127.0.0.1")
for c in ("ci", "officer", "officer2", "officer3", "stranger"):
    issue(c, c, "ca")
issue("rogue", "ci", "ca2")  # the name of ci, from another CA
# the transparency log's key (P-256), and its public half for verifiers
openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("log.key"))
os.chmod(path("log.key"), 0o600)
openssl("pkey", "-in", path("log.key"), "-pubout", "-out", path("log.pub"))
openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("other.key"))
openssl("pkey", "-in", path("other.key"), "-pubout", "-out", path("other.pub"))
with open(path("clients-ca.pem"), "w") as f:  # the signer trusts both CAs for TLS
    f.write(open(path("ca.pem")).read() + open(path("ca2.pem")).read())

ci_s, ci_i = names("ci")
of_s, of_i = names("officer")
of2_s, _ = names("officer2")
of3_s, _ = names("officer3")
ok("client names read", ci_s.startswith("CN = ci") and ci_i == "CN = kubetee test CA", ci_s + " / " + ci_i)
config = """# kubetee-signer test configuration
listen: 127.0.0.1:0
http: 127.0.0.1:0
state: %(state)s
tls:
  cert: %(w)s/server.pem
  key: %(w)s/server.key
  client_ca: %(w)s/clients-ca.pem
log:
  path: %(w)s/log
  head: %(w)s/log.head
  key: %(w)s/log.key
token:
  module: %(module)s
  label: signing
  pin_file: %(w)s/pin
clients:
  ci:
    subject: "%(ci_s)s"
    issuer: "%(ci_i)s"
  officer:
    subject: "%(of_s)s"
    issuer: "%(of_i)s"
  officer2: {subject: "%(of2_s)s", issuer: "%(of_i)s"}
  officer3: {subject: "%(of3_s)s", issuer: "%(of_i)s"}
keys:
  release:
    label: release-2026
    production: true
    prodids: [1, 7]
    clients: [ci]
  dev:
    production: false
    debug: true
    prodids: [1]
    clients: [ci, officer]
  gated:
    production: true
    prodids: [3]
    clients: [ci, officer]
    approvals: {required: 2, approvers: [officer, officer2, officer3]}
  repro:
    production: true
    reproducible: true
    prodids: [4]
    clients: [ci]
""" % {"state": path("state"), "w": WORK, "module": MODULE, "ci_s": ci_s, "ci_i": ci_i, "of_s": of_s, "of_i": of_i,
          "of2_s": of2_s, "of3_s": of3_s}
with open(path("signer.yaml"), "w") as f:
    f.write(config)

# ---- keys made in the token ----
for k in ("release", "dev", "gated", "repro"):
    rc, out = run(SIGNER, "keygen", "--config", path("signer.yaml"), "--key", k)
    ok("keygen " + k, rc == 0 and "signer.key_generated" in out, out)
rc, out = run(SIGNER, "keygen", "--config", path("signer.yaml"), "--key", "release")
ok("keygen refuses a second key of one label", rc != 0 and "already holds a key labelled 'release-2026'" in out, out)
rc, out = run(SIGNER, "keys", "--config", path("signer.yaml"))
ok("keys listed", rc == 0 and out.count("\n") == 4, out)
for line in out.splitlines():
    ok("key is held in the token, never extractable: " + line.split()[0],
       "token=1 private=1 sensitive=1 extractable=0 never_extractable=1 private_parts_readable=0" in line, line)
mrsigner = {l.split()[0]: re.search(r"mrsigner=([0-9a-f]{64})", l).group(1) for l in out.splitlines()}
ok("four keys, four MRSIGNERs", len(set(mrsigner.values())) == 4)

# a PIN on the command line is not an option, and a PIN file others can read is refused
rc, out = run(SIGNER, "keys", "--config", path("signer.yaml"), "--pin", "246810")
ok("no --pin flag", rc == 2 and "unknown option '--pin'" in out, out)
os.chmod(path("pin"), 0o644)
rc, out = run(SIGNER, "keys", "--config", path("signer.yaml"))
ok("PIN file readable by others refused", rc != 0 and "readable or writable by group or others" in out, out)
os.chmod(path("pin"), 0o600)


# ---- the service ----
running = []


@atexit.register
def _end_signers():  # a test that fails half-way leaves no signer behind
    for p in running:
        if p.poll() is None:
            p.kill()


class Signer:
    def __init__(self):
        self.proc = subprocess.Popen([SIGNER, "--config", path("signer.yaml")], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True)
        running.append(self.proc)
        self.lines = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("signer did not start: " + "".join(self.lines))
            self.lines.append(line)
            if "event=signer.started" in line:
                self.port = int(re.search(r" port=(\d+)", line).group(1))
                self.http_port = int(re.search(r"http_port=(\d+)", line).group(1))
                break
        self.address = "127.0.0.1:%d" % self.port

    def http(self, p):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.http_port, p), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rest = self.proc.stderr.read()
        self.lines.append(rest)
        return self.proc.wait(timeout=30), "".join(self.lines)


def client_args(who):
    return ["--tls-ca", path("ca.pem"), "--tls-cert", path(who + ".pem"), "--tls-key", path(who + ".key"),
            "--server-name", "localhost"]


def conf(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return path(name)


def sign(s, who, key, conf_path, out):
    return run(KUBETEE, "sign", "--signer", s.address, "--key", key, *client_args(who),
               "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", conf_path, "--out", out)


s = Signer()
st, body = s.http("/readyz")
ok("ready", st == 200, body)
st, body = s.http("/healthz")
ok("healthy", st == 200, body)

c12 = conf("p1s2.conf", "prodid = 1\nsvn = 2\ntcs_count = 2\n")
rc, out = sign(s, "ci", "release", c12, path("rel.signed.so"))
ok("sign through the service", rc == 0 and "mrsigner:  " + mrsigner["release"] in out, out)
rc, out = run(KUBETEE, "dump", "--enclave", path("rel.signed.so"), "--json")
ok("the signed enclave verifies", rc == 0 and '"mrsigner":"%s"' % mrsigner["release"] in out
   and '"prodid":1,"svn":2' in out, out)
simdir = path("sim")
rc, out = run(KUBETEE, "attest", "quote", "--enclave", path("rel.signed.so"), "--report-data", "00" * 64,
              "--out", path("rel.quote"), env=dict(os.environ, KUBETEE_SIM_DIR=simdir))
ok("the signed enclave loads and quotes on sim", rc == 0 and os.path.getsize(path("rel.quote")) > 1000, out)

rc, out = run(KUBETEE, "signer", "keys", "--signer", s.address, *client_args("officer"))
ok("officer sees only dev", rc == 0 and out.startswith("dev mrsigner=" + mrsigner["dev"]) and "release" not in out, out)
rc, out = run(KUBETEE, "signer", "keys", "--signer", s.address, *client_args("ci"))
ok("ci sees both, with their policies", rc == 0 and "release mrsigner=%s production=true debug=false approvals=0 reproducible=false prodids=1,7"
   % mrsigner["release"] in out and "dev mrsigner=" in out, out)

# a client the key does not serve
rc, out = sign(s, "officer", "release", c12, path("x.so"))
ok("officer may not use release", rc != 0 and "not one client 'officer' may use" in out, out)
rc, out = sign(s, "ci", "nonexistent", c12, path("x.so"))
ok("an unknown key is refused like a forbidden one", rc != 0 and "not one client 'ci' may use" in out, out)
# a certificate the signer does not pin, from its CA; the name of ci from another CA
rc, out = sign(s, "stranger", "dev", c12, path("x.so"))
ok("an unpinned certificate is refused", rc != 0 and "not one the signer knows" in out, out)
rc, out = sign(s, "rogue", "dev", c12, path("x.so"))
ok("ci's name from another CA is refused", rc != 0 and "not one the signer knows" in out, out)
ok("no signature files written on refusal", not os.path.exists(path("x.so")))

# a debug enclave: never with the production key; the dev key allows it
cdbg = conf("debug.conf", "prodid = 1\nsvn = 2\ndebug = true\n")
rc, out = sign(s, "ci", "release", cdbg, path("x.so"))
ok("debug refused by a production key", rc != 0 and "does not sign debug enclaves (it is a production key)" in out, out)
rc, out = sign(s, "officer", "dev", cdbg, path("dbg.signed.so"))
ok("debug signed by the dev key", rc == 0, out)
# a prodid the key does not sign
rc, out = sign(s, "ci", "release", conf("p2.conf", "prodid = 2\nsvn = 9\n"), path("x.so"))
ok("prodid off the key's list refused", rc != 0 and "does not sign ISVPRODID 2" in out, out)

# ISVSVN: forwards and the same are fine, backwards is not (per prodid)
rc, out = sign(s, "ci", "release", conf("p1s5.conf", "prodid = 1\nsvn = 5\n"), path("s5.so"))
ok("svn 5 after 2", rc == 0, out)
rc, out = sign(s, "ci", "release", conf("p1s5b.conf", "prodid = 1\nsvn = 5\ntcs_count = 3\n"), path("s5b.so"))
ok("svn 5 again (another build)", rc == 0, out)
rc, out = sign(s, "ci", "release", c12, path("x.so"))
ok("svn 2 after 5 refused", rc != 0 and "ISVSVN 2 for ISVPRODID 1 is below 5" in out, out)
rc, out = sign(s, "ci", "release", conf("p7s1.conf", "prodid = 7\nsvn = 1\n"), path("p7.so"))
ok("another prodid keeps its own ISVSVN", rc == 0, out)
rc, out = sign(s, "officer", "dev", c12, path("dev2.so"))
ok("another key keeps its own ISVSVN", rc == 0, out)

# ---- requests kubetee would not send, from grpcio ----
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, "--grpc_out", WORK,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", PROTO], check=True)
sys.path.insert(0, WORK)
import grpc  # noqa: E402
import signer_pb2  # noqa: E402
import signer_pb2_grpc  # noqa: E402

creds = grpc.ssl_channel_credentials(open(path("ca.pem"), "rb").read(), open(path("ci.key"), "rb").read(),
                                     open(path("ci.pem"), "rb").read())
chan = grpc.secure_channel(s.address, creds, options=[("grpc.ssl_target_name_override", "localhost")])
stub = signer_pb2_grpc.SignerStub(chan)
rc, _ = run(KUBETEE, "gendata", "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config",
            conf("p1s9.conf", "prodid = 1\nsvn = 9\n"), "--out", path("sd.bin"))
good = open(path("sd.bin"), "rb").read()
r = stub.Sign(signer_pb2.SignRequest(key="release", sigdata=good), timeout=10)
ok("grpcio peer gets a signature for gendata's bytes", len(r.signature) == 384 and r.mrsigner.hex() == mrsigner["release"])


def refused(what, data, text, code=grpc.StatusCode.INVALID_ARGUMENT):
    try:
        stub.Sign(signer_pb2.SignRequest(key="release", sigdata=data), timeout=10)
        ok(what, False, "was signed")
    except grpc.RpcError as e:
        ok(what, e.code() == code and text in e.details(), "%s %s" % (e.code(), e.details()))


def flip(off, mask):
    b = bytearray(good)
    b[off] ^= mask
    return bytes(b)


refused("arbitrary bytes", os.urandom(256), "HEADER (bytes 0-15) is not SIGSTRUCT's")
refused("a SHA-256 digest", bytes(32), "32 bytes, not 256")
refused("255 bytes", good[:255], "255 bytes, not 256")
refused("PROVISIONKEY asked for", flip(156, 0x10), "ATTRIBUTES.PROVISIONKEY is set", grpc.StatusCode.PERMISSION_DENIED)
refused("INIT set", flip(156, 0x01), "ATTRIBUTES.INIT", grpc.StatusCode.PERMISSION_DENIED)
refused("attribute mask loosened", flip(172, 0x02), "ATTRIBUTEMASK.FLAGS", grpc.StatusCode.PERMISSION_DENIED)
refused("a reserved byte", flip(100, 0x01), "reserved bytes 44-127")
refused("KSS family id", flip(140, 0x01), "ISVFAMILYID", grpc.StatusCode.PERMISSION_DENIED)

# the reproducible-build check: the service measures the image sent
c4 = conf("p4.conf", "prodid = 4\nsvn = 1\n")
rc, out = sign(s, "ci", "repro", c4, path("repro.signed.so"))
ok("a reproducible key signs the image it measured", rc == 0 and "mrsigner:  " + mrsigner["repro"] in out, out)
run(KUBETEE, "gendata", "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", c4, "--out", path("sd4.bin"))
sd4 = open(path("sd4.bin"), "rb").read()
image = open(os.path.join(ENCLAVES, "tfftest.so"), "rb").read()


def build_refused(what, text, **kw):
    try:
        stub.Sign(signer_pb2.SignRequest(sigdata=sd4, **kw), timeout=30)
        ok(what, False, "was signed")
    except grpc.RpcError as e:
        ok(what, text in e.details(), "%s %s" % (e.code(), e.details()))


build_refused("no image for a reproducible key", "signs only an image it measures itself", key="repro")
build_refused("another build's image", "not the MRENCLAVE", key="repro", config="prodid = 4\nsvn = 1\n",
              image=open(os.path.join(ENCLAVES, "tfftest_v2.so"), "rb").read())
build_refused("another config", "not the MRENCLAVE", key="repro", config="prodid = 4\nsvn = 1\nheap_size = 2M\n",
              image=image)
build_refused("a config that does not parse", "unknown key 'tcs'", key="repro", config="tcs = 2\n", image=image)
build_refused("an image the trusted runtime could not run, for any key", "fopen", key="repro",
              config="prodid = 4\nsvn = 1\n", image=open(os.path.join(ENCLAVES, "forbidden.so"), "rb").read())
build_refused("bytes that are not an ELF", "build check: the image", key="repro", config="prodid = 4\nsvn = 1\n",
              image=b"\x7fELF" + bytes(60))
r = stub.Sign(signer_pb2.SignRequest(key="repro", sigdata=sd4, image=image, config="prodid = 4\nsvn = 1\n"), timeout=30)
ok("grpcio with the right image and config is signed", len(r.signature) == 384)
chan.close()

# ---- M-of-N approval: 2 of officer, officer2, officer3 ----
c3 = conf("p3.conf", "prodid = 3\nsvn = 1\n")


def approve(who, *what):
    return run(KUBETEE, "signer", "approve", "--signer", s.address, "--key", "gated", *client_args(who), *what)


rc, out = sign(s, "ci", "gated", c3, path("x.so"))
ok("no approval yet", rc != 0 and "awaiting approval: 0 of 2" in out, out)
rc, out = approve("ci", "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", c3)
ok("a client that is not an approver cannot approve", rc != 0 and "not an approver of that key" in out, out)
rc, out = approve("officer", "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", c3)
ok("officer approves the MRENCLAVE measured on the officer's side", rc == 0 and "1 of 2 approvals" in out, out)
gated_mre = re.search(r"approved ([0-9a-f]{64})", out).group(1) if rc == 0 else "0" * 64
rc, out = approve("officer", "--mrenclave", gated_mre)
ok("the same officer twice counts once", rc == 0 and "1 of 2 approvals" in out, out)
rc, out = sign(s, "ci", "gated", c3, path("x.so"))
ok("M-1 approvals do not sign", rc != 0 and "awaiting approval: 1 of 2" in out, out)
rc, out = sign(s, "officer", "gated", c3, path("x.so"))
ok("an officer's own approval does not count for the officer's request",
   rc != 0 and "0 of 2" in out and "own approval does not count" in out, out)
rc, out = approve("officer2", "--mrenclave", "ab" * 32)
ok("an approval of another MRENCLAVE", rc == 0 and "1 of 2" in out, out)
rc, out = sign(s, "ci", "gated", c3, path("x.so"))
ok("does not count for this one", rc != 0 and "1 of 2" in out, out)
rc, out = approve("officer2", "--mrenclave", gated_mre)
ok("the second officer approves", rc == 0 and "2 of 2 approvals" in out, out)
rc, out = sign(s, "ci", "gated", c3, path("gated.signed.so"))
ok("M approvals sign", rc == 0 and "mrsigner:  " + mrsigner["gated"] in out, out)
rc, out = sign(s, "ci", "gated", c3, path("x.so"))
ok("the approvals are used up by that signature", rc != 0 and "awaiting approval: 0 of 2" in out, out)
# a request that waits while the officers approve
waiting = subprocess.Popen([KUBETEE, "sign", "--signer", s.address, "--key", "gated", *client_args("ci"),
                            "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", c3,
                            "--out", path("gated2.signed.so"), "--wait", "60"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(1)
approve("officer3", "--mrenclave", gated_mre)
time.sleep(2.5)
ok("still waiting with one approval", waiting.poll() is None)
approve("officer", "--mrenclave", gated_mre)
wout = waiting.communicate(timeout=30)[0]
ok("the waiting request is signed once M approved", waiting.returncode == 0 and "waiting" in wout
   and os.path.exists(path("gated2.signed.so")), wout)

# ---- the cmake helper signs through the signer ----
proj = path("proj")
os.makedirs(proj)
with open(os.path.join(proj, "CMakeLists.txt"), "w") as f:
    f.write("""cmake_minimum_required(VERSION 3.25)
project(signed_by_signer NONE)
include(%(cmake)s)
add_executable(kubetee IMPORTED)
set_target_properties(kubetee PROPERTIES IMPORTED_LOCATION %(kubetee)s)
add_library(tfftest MODULE IMPORTED)
set_target_properties(tfftest PROPERTIES IMPORTED_LOCATION %(enclave)s)
kt_sign_enclave(tfftest KEY dev CONFIG %(conf)s SIGNER %(signer)s TLS_CA %(w)s/ca.pem
                TLS_CERT %(w)s/officer.pem TLS_KEY %(w)s/officer.key SERVER_NAME localhost)
""" % {"cmake": os.path.abspath(os.path.join(os.path.dirname(PROTO), "..", "cmake", "kubetee.cmake")),
       "kubetee": os.path.abspath(KUBETEE), "enclave": os.path.abspath(os.path.join(ENCLAVES, "tfftest.so")),
       "conf": c12, "signer": s.address, "w": WORK})
rc, out = run("cmake", "-S", proj, "-B", os.path.join(proj, "build"))
rc2, out2 = run("cmake", "--build", os.path.join(proj, "build")) if rc == 0 else (rc, "")
signed = os.path.join(proj, "build", "tfftest.signed.so")
rc3, out3 = run(KUBETEE, "dump", "--enclave", signed, "--json")
ok("kt_sign_enclave(SIGNER ...) signs through the service", rc == 0 and rc2 == 0 and rc3 == 0 and
   '"mrsigner":"%s"' % mrsigner["dev"] in out3, out + out2 + out3)

# ---- the transparency log ----
def log_verify(*extra, log="log", head="log.head", key="log.pub"):
    return run(KUBETEE, "signer", "log", "verify", "--log", path(log), "--head", path(head), "--key", path(key), *extra)


rc, out = log_verify()
ok("the log verifies", rc == 0 and "log verifies: 12 entries" in out, out)
rc, out = log_verify("--enclave", path("gated.signed.so"))
ok("who approved is in the log", rc == 0 and "key gated client ci prodid 3 svn 1" in out, out)
entries = open(path("log")).read()
ok("approvers recorded", " gated ci officer,officer2 " in entries and " gated ci officer,officer3 " in entries
   and " release ci - " in entries, entries[-600:])
rc, out = log_verify("--enclave", path("rel.signed.so"))
ok("the released enclave is in the log, with who asked", rc == 0 and
   "key release client ci prodid 1 svn 2 debug false" in out, out)
rc, out = log_verify("--enclave", path("dbg.signed.so"))
ok("the debug enclave too", rc == 0 and "key dev client officer prodid 1 svn 2 debug true" in out, out)
rc, _ = run(KUBETEE, "sign", "--enclave", os.path.join(ENCLAVES, "tfftest.so"), "--config", c12,
            "--key", os.path.join(ENCLAVES, "keyA.pem"), "--out", path("local.so"), "--quiet")
rc, out = log_verify("--enclave", path("local.so"))
ok("an enclave signed elsewhere was never signed here", rc == 1 and "was never signed in this log" in out, out)
lines = open(path("log")).read().splitlines(keepends=True)
ok("one line per signature", len(lines) == 12)


def tampered(name, text):
    with open(path(name), "w") as f:
        f.write(text)
    return name


changed = lines[:]
changed[1] = changed[1].replace(" 1 2 1 dev officer ", " 1 3 1 dev officer ")
ok("the line to change exists", changed[1] != lines[1], lines[1])
rc, out = log_verify(log=tampered("t1", "".join(changed)))
ok("a changed entry is found", rc != 0 and "tlog line 2" in out and "does not hash" in out, out)
rc, out = log_verify(log=tampered("t2", "".join(lines[:2] + lines[3:])))
ok("a removed entry is found", rc != 0 and "holds entry 4" in out, out)
rc, out = log_verify(log=tampered("t3", "".join(lines[:-1])))
ok("a cut-off log is found by its head", rc != 0 and "covers 12 entries, the log holds 11" in out, out)
rc, out = log_verify(log=tampered("t4", "".join([lines[1], lines[0]] + lines[2:])))
ok("reordered entries are found", rc != 0 and "tlog line 1" in out, out)
rc, out = log_verify(key="other.pub")
ok("a head checked with another key fails", rc != 0 and "does not verify with the log key" in out, out)
# the log through the service, to anyone the signer knows
rc, out = run(KUBETEE, "signer", "log", "fetch", "--signer", s.address, *client_args("officer2"),
              "--log", path("fetched.log"), "--head", path("fetched.head"))
ok("log fetched through the service", rc == 0 and "fetched 12 entries" in out, out)
ok("the fetched log is the log", open(path("fetched.log"), "rb").read() == open(path("log"), "rb").read())
rc, out = log_verify("--enclave", path("repro.signed.so"), log="fetched.log", head="fetched.head")
ok("the fetched log verifies and lists the enclave", rc == 0 and "key repro client ci prodid 4" in out, out)
rc, out = run(KUBETEE, "signer", "log", "fetch", "--signer", s.address, *client_args("stranger"),
              "--log", path("x.log"), "--head", path("x.head"))
ok("a stranger cannot fetch the log", rc != 0 and "not one the signer knows" in out, out)

# ---- approvals pending: listed, and kept across a restart (below) ----
pend_mre = "cd" * 32
rc, out = approve("officer", "--mrenclave", pend_mre)
ok("an approval that waits for a second officer", rc == 0 and "1 of 2" in out, out)
rc, out = run(KUBETEE, "signer", "pending", "--signer", s.address, *client_args("officer3"))
ok("pending lists it for an approver, with who approved",
   rc == 0 and "gated %s: 1 of 2 approvals by officer, expires in" % pend_mre in out, out)
rc, out = run(KUBETEE, "signer", "pending", "--signer", s.address, *client_args("stranger"))
ok("a stranger sees no approvals", rc != 0 and pend_mre not in out and "not one the signer knows" in out, out)
approvals_text = open(path("state") + ".approvals").read()
ok("the approvals file holds it, private", approvals_text.startswith("kubetee-signer approvals 1\n")
   and re.search(r"^gated %s \d+ officer$" % pend_mre, approvals_text, re.M)
   and (os.stat(path("state") + ".approvals").st_mode & 0o777) == 0o600, approvals_text)
ok("used-up approvals are not in it", gated_mre not in approvals_text, approvals_text)

# ---- metrics, then a restart keeps the ISVSVN state ----
st, body = s.http("/metrics")
ok("metrics count outcomes", st == 200 and 'kubetee_signer_requests_total{outcome="svn_backwards"} 1' in body
   and 'kubetee_signer_requests_total{outcome="not_signing_data"} 8' in body
   and 'kubetee_signer_requests_total{outcome="build_mismatch"} 6' in body, body[:900])
m = re.search(r'kubetee_signer_signatures_total\{key="release"\} (\d+)', body)
ok("signatures counted", m and int(m.group(1)) == 5, body[:600])
ok("each family once", body.count("# TYPE kubetee_signer_requests_total") == 1)
rc, log = s.stop()
ok("SIGTERM drains and exits 0", rc == 0 and "event=signer.stopping signal=SIGTERM" in log and "event=signer.stopped" in log, log[-500:])
ok("one line per request", log.count("event=signer.signed") == 12 and "log_entry=12" in log and "reason=key_not_allowed client=officer" in log
   and "reason=unknown_client client=\"unknown:CN = stranger" in log, log)
state = open(path("state")).read()
ok("state recorded", state.startswith("kubetee-signer state 1\n") and "%s 1 9\n" % mrsigner["release"] in state, state)
ok("state private", (os.stat(path("state")).st_mode & 0o777) == 0o600)

s = Signer()
rc, out = sign(s, "ci", "release", conf("p1s8.conf", "prodid = 1\nsvn = 8\n"), path("x.so"))
ok("after a restart, svn 8 after 9 is still refused", rc != 0 and "is below 9" in out, out)
rc, out = run(KUBETEE, "signer", "pending", "--signer", s.address, *client_args("ci"))
ok("after a restart the pending approval is still there", rc == 0 and "gated %s: 1 of 2 approvals by officer," % pend_mre in out, out)
rc, out = approve("officer2", "--mrenclave", pend_mre)
ok("and a second officer's approval completes it", rc == 0 and "2 of 2 approvals" in out, out)
s.stop()
good_approvals = open(path("state") + ".approvals").read()
for text, want in [("kubetee-signer approvals 1\ngated %s 1 officer,officer\n" % pend_mre, "names an approver twice"),
                   ("kubetee-signer approvals 1\ngated zz 1 officer\n", "not 64 hex digits"),
                   ("kubetee-signer approvals 1\ngated %s 1 officer" % pend_mre, "cut short"),
                   ("kubetee-signer approvals 2\n", "first line"),
                   ("kubetee-signer approvals 1\ngated %s 1 officer\ngated %s %d officer2\n"
                    % (pend_mre, pend_mre, int(time.time())), "repeats a key and MRENCLAVE")]:
    with open(path("state") + ".approvals", "w") as f:
        f.write(text)
    rc, out = run(SIGNER, "--config", path("signer.yaml"))
    ok("an approvals file that does not parse stops the start: " + want, rc != 0 and want in out and "approvals" in out, out)
with open(path("state") + ".approvals", "w") as f:
    f.write(good_approvals + "release %s %d officer\ngated %s %d officer,stranger,ci\n"
            % ("ee" * 32, int(time.time()), "ef" * 32, int(time.time()) - 7200))
s = Signer()
dropped = "".join(s.lines)
rc, out = run(KUBETEE, "signer", "pending", "--signer", s.address, *client_args("officer"))
s.stop()
ok("lines the configuration no longer allows, and expired ones, are dropped with a log line",
   dropped.count("event=signer.approval_dropped") == 2 and "no longer asks for approvals" in dropped
   and "expired" in dropped and "ee" * 32 not in out and "ef" * 32 not in out
   and "gated %s: 2 of 2 approvals by officer,officer2" % pend_mre in out, dropped + out)
with open(path("state"), "a") as f:
    f.write("garbage\n")
rc, out = run(SIGNER, "--config", path("signer.yaml"))
ok("a state file that does not parse stops the start", rc != 0 and "signer state" in out, out)
with open(path("state"), "w") as f:
    f.write("kubetee-signer state 1\n")
shutil.copy(path("log"), path("log.good"))
with open(path("log"), "w") as f:
    f.write("".join(changed))
rc, out = run(SIGNER, "--config", path("signer.yaml"))
ok("a log that does not verify stops the start", rc != 0 and "does not hash" in out, out)
shutil.copy(path("log.good"), path("log"))

# ---- configurations refused ----
bad = [
    (config.replace("    production: false\n    debug: true", "    production: true\n    debug: true"),
     "production key and may not sign debug"),
    (config.replace("clients: [ci, officer]", "clients: [ci, nobody]"), "names a client the clients section does not define"),
    (config.replace("prodids: [1, 7]", "prodids: [1, 010]"), "decimal numbers"),
    (config.replace("prodids: [1, 7]", "prodids: []"), "one or more numbers"),
    (config.replace("  pin_file: %s/pin" % WORK, "  pin_file: %s/pin\n  pin_env: PIN" % WORK), "exactly one of pin_file"),
    (config.replace("    production: true\n", ""), "production is missing"),
    (config.replace("  dev:\n", "  dev:\n    label: release-2026\n"), "are one token key 'release-2026'"),
    (config + "  release:\n    production: true\n    prodids: [1]\n    clients: [ci]\n", "appears twice"),
    (config.replace("listen:", "listne:"), "unknown key 'listne'"),
    (config.replace("log:\n", "journal:\n"), "unknown key 'journal'"),
    (config.replace("required: 2,", "required: 4,"), "from 1 to the number of approvers"),
    (config.replace("approvers: [officer, officer2", "approvers: [officer, officer"), "name one client twice"),
]
for i, (text, want) in enumerate(bad):
    with open(path("bad.yaml"), "w") as f:
        f.write(text)
    rc, out = run(SIGNER, "keys", "--config", path("bad.yaml"))
    ok("config refused: " + want, rc != 0 and want in out, out)

print("%d passed, %d failed" % (passed, failed))
shutil.rmtree(WORK, ignore_errors=True)
sys.exit(1 if failed else 0)
