"""The enclave service over gRPC: kubetee's C client through a real session (a key peer
verifying the enclave's quote against a policy), Python's grpcio as a client of another
kind (the service is plain gRPC: a Hello in, a Reply out; garbage refused by name), and
every limit refused and counted by reason in /metrics (read with Prometheus's parser).

The server is kubetee-serve, the host program: its settings from a YAML file, the
environment and flags (a flag wins), a bad configuration refused naming the key, one JSON
log line per event, /healthz and /readyz, and a clean SIGTERM drain.

  service.py SERVER CLIENT KUBETEE ENCLAVE PROTO_DIR CLIENT_KEY STRANGER_KEY"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SERVER, CLIENT, KUBETEE, ENCLAVE, PROTO_DIR, KEY, STRANGER = sys.argv[1:8]
WORK = tempfile.mkdtemp(prefix="kt-service-")
SIM = os.path.join(WORK, "sim")
os.mkdir(SIM, 0o700)
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", WORK, "--grpc_out", WORK,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
                os.path.join(PROTO_DIR, "enclave_service.proto")], check=True)
sys.path.insert(0, WORK)
import grpc  # noqa: E402
import enclave_service_pb2 as pb  # noqa: E402
import enclave_service_pb2_grpc as pbg  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402
import pin  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

check = Checks(quiet=True)


POLICY = os.path.join(WORK, "policy.yaml")
ident = pin.policy(KUBETEE, ENCLAVE, POLICY, "mrenclave", "mrsigner", "isvprodid")

LIMITS = "max_message=65536,max_sessions=4,max_per_peer=2,handshake_ms=3000,idle_ms=3000"
CONFIG = os.path.join(WORK, "serve.yaml")
with open(CONFIG, "w") as f:
    # listen and limits here are overridden by the environment and a flag below
    f.write(f"enclave: {ENCLAVE}\nlisten: 127.0.0.1:1\nhttp: 127.0.0.1:0\nsim_dir: {SIM}\n"
            f"limits: max_sessions=1000\nlog_format: kv\nexpect_mrsigner: {ident['mrsigner']}\n")
LOG = os.path.join(WORK, "serve.log")


def serve(*flags, env=None, config=CONFIG):
    e = dict(os.environ, **(env or {}))
    with open(LOG, "w") as log:
        return subprocess.Popen([SERVER, "--config", config] + list(flags), stderr=log, env=e)


def log_events():
    out = []
    with open(LOG) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "not-json", "line": line})
    return out


def wait_event(name, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        for e in log_events():
            if e.get("event") == name:
                return e
        time.sleep(0.1)
    return None


# a bad configuration: refused at once, naming the key and line
bad = os.path.join(WORK, "bad.yaml")
with open(bad, "w") as f:
    f.write(f"enclave: {ENCLAVE}\nlisten: 127.0.0.1:0\nlisten_port: 3\n")
p = serve(config=bad)
check(p.wait(timeout=30) == 2 and "unknown key 'listen_port' in the document (line 3)" in open(LOG).read(),
      f"an unknown key refused: {open(LOG).read()}")
with open(bad, "w") as f:
    f.write(f"enclave: {ENCLAVE}\nlisten: 127.0.0.1:0\n")
p = serve("--limits", "max_sessions=0x10", config=bad)
check(p.wait(timeout=30) == 2 and "max_sessions=0x10" in open(LOG).read(), f"bad limits refused: {open(LOG).read()}")
p = serve("--expect-mrsigner", "00" * 32, config=bad)
check(p.wait(timeout=30) == 1 and "loading the enclave" in open(LOG).read(), f"another MRSIGNER refused: {open(LOG).read()}")

# the environment overrides the file, a flag overrides both
server = serve("--limits", LIMITS, env={"KT_SERVE_LISTEN": "127.0.0.1:0", "KT_SERVE_LOG_FORMAT": "json",
                                        "KT_SERVE_LIMITS": "max_sessions=999"})
started = wait_event("service.started")
check(started is not None and started.get("limits") == LIMITS and started.get("listen") == "127.0.0.1:0",
      f"started with the flag's limits and the environment's address: {started}")
ports = {"grpc": started["port"], "http": started["http_port"]}
ADDR = f"127.0.0.1:{ports['grpc']}"
for path in ("/healthz", "/readyz"):
    code = urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}{path}", timeout=10).status
    check(code == 200, f"{path}: {code}")


def client(key, *args, stdin=None):
    return subprocess.run([CLIENT, ADDR, SIM, key, POLICY] + list(args), capture_output=True, text=True,
                          input=stdin, timeout=60)


def metrics():
    text = urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/metrics", timeout=10).read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, s.labels.get("reason") or s.labels.get("state"))] = s.value
    return out


try:
    # 1. a whole session: handshake, a call, the close
    r = client(KEY, "sum", "40", "2", "517021")
    check(r.stdout.split() == ["sum=517063", "closed"], f"sum: {r.stdout} {r.stderr}")

    # 2. grpcio: plain gRPC to any client
    stub = pbg.EnclaveServiceStub(grpc.insecure_channel(ADDR))

    def refused(call, req, code, needle, what):
        try:
            call(req, timeout=10)
            check(False, f"{what}: accepted")
        except grpc.RpcError as e:
            codes = code if isinstance(code, tuple) else (code,)
            check(e.code() in codes and needle in e.details(), f"{what}: {e.code()} {e.details()}")

    refused(stub.Handshake, pb.HandshakeRequest(message=b"\x01garbage"), grpc.StatusCode.PERMISSION_DENIED,
            "malformed", "a garbage Hello")
    hello = bytes.fromhex(client(KEY, "hello").stdout.strip())
    reply = stub.Handshake(pb.HandshakeRequest(message=hello), timeout=10)
    check(len(reply.message) > 64, "a Hello from grpcio gets a Reply")
    refused(stub.Handshake, pb.HandshakeRequest(message=b"\0" * 70000), grpc.StatusCode.RESOURCE_EXHAUSTED,
            "too_large", "a Hello over max_message")
    refused(stub.Call, pb.CallRequest(record=b"\0" * 40), (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND),
            "unknown_session",
            "a record of no session")
    # the host relays a CallRequest's bytes to the enclave as they came: only a record, once
    raw_call = grpc.insecure_channel(ADDR).unary_unary("/kubetee.enclave.v1.EnclaveService/Call",
                                                       request_serializer=lambda b: b,
                                                       response_deserializer=lambda b: b)
    rec = b"KS\x04\x01" + b"\0" * 40
    refused(raw_call, b"\x0a" + bytes([len(rec)]) + rec + b"\x10\x01", grpc.StatusCode.INVALID_ARGUMENT,
            "CallRequest: no field 2 (unknown_session)", "a CallRequest with a field it does not have")
    refused(raw_call, b"\x0a\x02ab\x0a\x02cd", grpc.StatusCode.INVALID_ARGUMENT, "field 1 given twice",
            "a CallRequest with its record twice")

    # 3. the unfinished handshake ends after handshake_ms
    time.sleep(4.0)
    check(metrics().get(("kubetee_enclave_refusals_total", "handshake_timeout"), 0) >= 1, "handshake_timeout counted")

    # 4. sessions per peer, a key the enclave does not serve, open sessions
    holder = subprocess.Popen([CLIENT, ADDR, SIM, KEY, POLICY, "hold", "3"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    lines = [holder.stdout.readline().strip() for _ in range(3)]
    check(lines[0] == "session 0: ok" and lines[1] == "session 1: ok", f"two sessions of one peer: {lines}")
    check("peer_sessions" in lines[2], f"a third of the same peer: {lines[2]}")
    r = client(STRANGER, "sum", "1")
    check(r.returncode != 0 and "peer_refused" in r.stderr, f"a key the enclave does not serve: {r.stderr}")
    stub.Handshake(pb.HandshakeRequest(message=bytes.fromhex(client(KEY, "hello").stdout.strip())), timeout=10)
    stub.Handshake(pb.HandshakeRequest(message=bytes.fromhex(client(KEY, "hello").stdout.strip())), timeout=10)
    refused(stub.Handshake, pb.HandshakeRequest(message=hello), grpc.StatusCode.RESOURCE_EXHAUSTED, "(sessions)",
            "a fifth session")
    holder.stdin.close()
    holder.wait(timeout=30)

    # 5. an idle session ends after idle_ms: its next call finds no session
    time.sleep(4.0)  # the two handshakes above expire
    r = client(KEY, "idle", "5000")
    check("unknown_session" in r.stdout, f"a call after idle_ms: {r.stdout} {r.stderr}")

    # 6. every refusal counted by reason
    m = metrics()
    for reason in ("too_large", "sessions", "peer_sessions", "unknown_session", "handshake_timeout", "idle"):
        check(m.get(("kubetee_enclave_refusals_total", reason), 0) >= 1, f"{reason} counted: {m}")
    for reason in ("malformed", "peer_refused"):
        check(m.get(("kubetee_enclave_session_refusals_total", reason), 0) >= 1, f"session {reason} counted")
    check(("kubetee_enclave_sessions", "established") in m, "sessions by state")
    # 7. kubetee call: the shell's client. The server's quote is verified against the
    #    policy before anything but the Hello is sent; kt.Describe through the session
    #    gives the types; JSON in, JSON out
    def kcall(*args, key=KEY, policy=POLICY):
        return subprocess.run([KUBETEE, "call", ADDR] + list(args) + ["--policy", policy, "--key", key,
                              "--sim-dir", SIM], capture_output=True, text=True, timeout=60)

    r = kcall("remotetest.Sum", "--json", '{"values": ["40", 2, "517021"]}')
    check(r.returncode == 0 and json.loads(r.stdout) == {"value": "517063"}, f"kubetee call Sum: {r.stdout} {r.stderr}")
    check("server verified: mrenclave=" + ident["mrenclave"] in r.stderr and "(simulated quote)" in r.stderr,
          f"kubetee call names what it verified: {r.stderr}")
    r = kcall("Echo", "--json", '{"text": "h\u00e9llo"}')
    check(r.returncode == 0 and json.loads(r.stdout) == {"text": "h\u00e9llo"}, f"kubetee call Echo: {r.stdout} {r.stderr}")
    r = kcall("--describe")
    check(r.returncode == 0 and "remotetest.Sum(remotetest.Numbers) -> remotetest.Number" in r.stdout,
          f"kubetee call --describe: {r.stdout} {r.stderr}")
    r = kcall("remotetest.Sum", "--json", '{"valuez": [1]}')
    check(r.returncode == 1 and "valuez" in r.stderr and "remotetest.Numbers" in r.stderr, f"bad JSON named: {r.stderr}")
    r = kcall("remotetest.Sum", "--json", '{"values": [1, "x"]}')
    check(r.returncode == 1 and "values[1]" in r.stderr, f"a bad element named by its path: {r.stderr}")
    r = kcall("remotetest.Nope", "--json", "{}")
    check(r.returncode == 1 and "no remote function 'remotetest.Nope'" in r.stderr and "remotetest.Sum" in r.stderr,
          f"an unknown function named, the known ones listed: {r.stderr}")
    r = kcall("remotetest.Sum", "--json", '{"values": ["9223372036854775807", 1]}')
    check(r.returncode == 1 and "Sum overflows" in r.stderr, f"the function's own failure and reason: {r.stderr}")
    r = kcall("Internal", "--json", "{}")
    check(r.returncode == 1 and "no remote function 'Internal'" in r.stderr, f"an internal function is not callable: {r.stderr}")
    r = kcall("remotetest.Sum", "--json", "{}", key=STRANGER)
    check(r.returncode == 1 and "peer_refused" in r.stderr, f"a key the enclave does not serve: {r.stderr}")
    before = metrics()
    for name, text in (("mrsigner", f"allow_simulation: true\nrules:\n- {{mrsigner: {'00' * 32}}}\n"),
                       ("simulation", f"rules:\n- {{mrsigner: {ident['mrsigner']}}}\n"),
                       ("prodid", f"allow_simulation: true\nrules:\n- {{mrsigner: {ident['mrsigner']}, isvprodid: 7}}\n")):
        pol = os.path.join(WORK, f"policy-{name}.yaml")
        with open(pol, "w") as f:
            f.write(text)
        r = kcall("remotetest.Sum", "--json", '{"values": [1]}', policy=pol)
        check(r.returncode == 1 and "the server is refused by the policy (nothing was sent)" in r.stderr
              and name in r.stderr.lower(), f"a policy refusing the server ({name}): {r.stderr}")
    after = metrics()
    # each refused server saw a Hello and nothing after it: three handshakes left open,
    # none finished, no call
    check(after[("kubetee_enclave_sessions", "handshaking")] - before[("kubetee_enclave_sessions", "handshaking")] == 3
          and after[("kubetee_enclave_sessions", "established")] == before[("kubetee_enclave_sessions", "established")]
          and after.get(("kubetee_enclave_refusals_total", "not_established"), 0)
          == before.get(("kubetee_enclave_refusals_total", "not_established"), 0),
          f"nothing but the Hello reached a server the policy refused: {before} {after}")
    r = subprocess.run([KUBETEE, "call", ADDR, "remotetest.Sum", "--json", "{}"], capture_output=True, text=True)
    check(r.returncode == 2 and "usage" in r.stderr, "--policy is required")

    # 8. one log line per event, each a JSON object
    ev = log_events()
    names = [e.get("event") for e in ev]
    check("not-json" not in names, f"every line JSON: {names}")
    for name in ("service.session_established", "service.session_closed", "service.session_expired",
                 "service.refused"):
        check(name in names, f"{name} logged: {names}")
    check(any(e.get("event") == "service.refused" and "too_large" in e.get("error", "") for e in ev),
          "a refusal logged with its reason")
finally:
    server.send_signal(signal.SIGTERM)
    rc = server.wait(timeout=30)
check(rc == 0, f"server exit {rc}")
names = [e.get("event") for e in log_events()]
check("service.stopping" in names and "service.stopped" in names[names.index("service.stopping"):],
      f"the drain logged: {names[-4:]}")
check.finish()
