"""What the AECS end-to-end tests share: keys, the AECS enclave's identity, the policy the
tools verify it by, an aecs-server configuration on a store under work, the server run on
it with its tools' calls, and a marker secret."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402,F401  (the AECS tests' check = aecs_env.Checks())
import pin  # noqa: E402


def keygen(work, name, curve="prime256v1"):
    path = os.path.join(work, name + ".pem")
    subprocess.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", path], check=True,
                   capture_output=True)
    return path


def aecs_files(work, enclave, kubetee, extra="", store=None):
    """(identity, policy path, config path): the enclave's `kubetee dump`, a policy pinning
    it, and a configuration (gRPC and HTTP on free ports, store and audit file in work)."""
    policy = os.path.join(work, "aecs-policy.yaml")
    ident = pin.policy(kubetee, enclave, policy, "mrenclave", "mrsigner", "isvprodid")
    config = os.path.join(work, "aecs.yaml")
    with open(config, "w") as f:
        f.write(f"listen: 127.0.0.1:0\nhttp: 127.0.0.1:0\n{store or f'store: fs:{work}/store'}\nenclave: {enclave}\n"
                f"audit_file: {work}/audit.log\n{extra}")
    return ident, policy, config


class Server:
    """aecs-server (SERVER) on config with the sim dir sim and extra flags, its log in
    work/name.log; tool() calls aecsadmin or serviceadmin against it (--json)."""

    def __init__(self, server, config, policy, work, name, sim, *extra):
        self.policy, self.sim = policy, sim
        self.log_path = os.path.join(work, name + ".log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen([server, "--config", config, "--log-format", "json", "--sim-dir", sim] +
                                     list(extra), stderr=self.log)
        for _ in range(300):
            self.log.seek(0)
            for line in self.log:
                if '"aecs.serving"' in line:
                    j = json.loads(line)
                    self.grpc = f"127.0.0.1:{j['grpc_port']}"
                    self.http = f"http://127.0.0.1:{j['http_port']}"
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.log.seek(0)
        sys.exit(f"{name}: aecs-server did not start:\n{self.log.read()}")

    def get(self, path):
        try:
            with urllib.request.urlopen(self.http + path, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def tool(self, prog, verb, key, *args):
        r = subprocess.run([prog, verb, "--server", self.grpc, "--policy", self.policy, "--sim-dir", self.sim, "--key",
                            key, "--json"] + list(args), capture_output=True, text=True, timeout=120)
        out = json.loads(r.stdout.splitlines()[0]) if r.returncode == 0 and r.stdout.strip() else None
        return r.returncode, out, r.stdout + r.stderr

    def events(self, name):
        """The JSON log lines of event name so far."""
        self.log.flush()
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.startswith("{") and f'"{name}"' in line]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


def create_marker(s, serviceadmin, svc_key, service, data, mrsigner, work):
    """An IMPORT_DATA secret "marker" of service holding data, for TAs of mrsigner; the
    file it came from is removed again."""
    path = os.path.join(work, "marker")
    with open(path, "wb") as f:
        f.write(data)
    rc, _, t = s.tool(serviceadmin, "create", svc_key, "--service", service, "--name", "marker", "--type",
                      "SECRET_TYPE_IMPORT_DATA", "--data-file", path, "--mrsigner", mrsigner)
    os.unlink(path)
    assert rc == 0, t


class Env:
    """A test's work directory (a temporary one named prefix...) with a P-256 key per name in
    names (keys[name]), the AECS files (aecs_files: ident, policy, config), its fs store and
    sim directory; server(name) runs aecs-server (SERVER) on them."""

    def __init__(self, prefix, server, enclave, kubetee, names, extra=""):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.keys = {n: keygen(self.work, n) for n in names}
        self.ident, self.policy, self.config = aecs_files(self.work, enclave, kubetee, extra=extra)
        self.store = os.path.join(self.work, "store")
        self.sim = os.path.join(self.work, "sim")
        os.mkdir(self.sim, 0o700)
        self.server_bin = server

    def server(self, name):
        return Server(self.server_bin, self.config, self.policy, self.work, name, self.sim)


def create_configs(s, serviceadmin, svc_key, work, mrsigner, names, service="pay"):
    """CONFIGURATIONS secrets of service named names ("v=val-<name>"), for TAs of mrsigner,
    in one serviceadmin create."""
    path = os.path.join(work, "secrets.yaml")
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: SecretPolicy\nsecrets:\n")
        for n in names:
            f.write(f"- spec:\n    name: {n}\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: {service}\n"
                    f"    policy: {{enclaveMatchAnyRules: [{{mrsigner: {mrsigner}}}]}}\n"
                    f"  data: \"v=val-{n}\"\n")
    rc, _, t = s.tool(serviceadmin, "create", svc_key, "--file", path)
    assert rc == 0, t[-2000:]


def set_proposal(s, aecsadmin, admin, work, new_keys, signers, name, threshold=2):
    """aecsadmin recovery propose (as admin) of the set new_keys, threshold of them, signed by
    each of signers (recovery private key paths) offline: the proposal's path and the
    `--consent` arguments of `recovery set`."""
    prop = os.path.join(work, name + ".proposal")
    keys = [a for k in new_keys for a in ("--recovery-key", k)]
    rc, _, t = s.tool(aecsadmin, "recovery", admin, "propose", *keys, "--recovery-threshold", str(threshold),
                      "--out", prop)
    assert rc == 0, t
    consents = []
    for i, k in enumerate(signers):
        consents += ["--consent", os.path.join(work, f"{name}.consent-{i + 1}")]
        r = subprocess.run([aecsadmin, "recovery", "sign", "--key", k, "--proposal", prop, "--out", consents[-1]],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return prop, consents


def init_pay(s, aecsadmin, admin, svc, recovery_keys, threshold=2):
    """aecsadmin init (as admin) with the recovery set recovery_keys (threshold of them), then
    service pay registered with svc as its admin."""
    keys = [a for k in recovery_keys for a in ("--recovery-key", k)]
    rc, _, t = s.tool(aecsadmin, "init", admin, *keys, "--recovery-threshold", str(threshold))
    assert rc == 0, t
    rc, _, t = s.tool(aecsadmin, "register", admin, "--name", "pay", "--admin-key", svc)
    assert rc == 0, t


def during(fn, look):
    """fn()'s result, with look(stop) running in a thread meanwhile (the host looking at its
    store) until fn returns (stop: a threading.Event set then)."""
    import threading
    stop = threading.Event()
    w = threading.Thread(target=look, args=(stop,))
    w.start()
    try:
        return fn()
    finally:
        stop.set()
        w.join()
