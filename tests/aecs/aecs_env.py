"""What the AECS end-to-end tests share: keys, the AECS enclave's identity, the policy the
tools verify it by, an aecs-server configuration on a store under work, the server run on
it with its tools' calls, and the steps the tests take on it: init and register, secrets
made, recovery set changes (proposed, consented, set; an admin's own set alone), the
secrets listed, a copy of aecs/master kept while a rotation runs."""
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402,F401  (the AECS tests' check = aecs_env.Checks())
import pin  # noqa: E402
import recovery_files as rf  # noqa: E402


def keygen(work, name, curve="prime256v1"):
    path = os.path.join(work, name + ".pem")
    subprocess.run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", path], check=True,
                   capture_output=True)
    return path


def crash_rng():
    """The random source of a crash test: seeded from KT_CRASH_SEED when set (a failed run
    again), else at random; the seed is printed first."""
    seed = int(os.environ.get("KT_CRASH_SEED", str(random.randrange(1 << 30))))
    print("seed", seed)
    return random.Random(seed)


def sim_dir(work, name="sim"):
    """A simulated platform's directory work/name (its own machine secret), made now."""
    path = os.path.join(work, name)
    os.mkdir(path, 0o700)
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


def init_register(s, aecsadmin, admin, svc, *recovery, service="pay"):
    """aecsadmin init by admin with the recovery set recovery (all of them needed; none: no
    set), then service registered with svc as its admin: each must succeed."""
    args = sum((["--recovery-key", k] for k in recovery), [])
    if recovery:
        args += ["--recovery-threshold", str(len(recovery))]
    rc, _, t = s.tool(aecsadmin, "init", admin, *args)
    assert rc == 0, t
    rc, _, t = s.tool(aecsadmin, "register", admin, "--name", service, "--admin-key", svc)
    assert rc == 0, t


def secret_policy(work, service, names, mrsigner):
    """work/secrets.yaml written: a SecretPolicy of CONFIGURATIONS secrets names of service
    ("v=val-<name>" each) for TAs of mrsigner; its path."""
    path = os.path.join(work, "secrets.yaml")
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: SecretPolicy\nsecrets:\n")
        for n in names:
            f.write(f"- spec:\n    name: {n}\n    type: SECRET_TYPE_CONFIGURATIONS\n    service: {service}\n"
                    f"    policy: {{enclaveMatchAnyRules: [{{mrsigner: {mrsigner}}}]}}\n"
                    f"  data: \"v=val-{n}\"\n")
    return path


def create_secrets(s, serviceadmin, svc_key, service, names, mrsigner, work):
    """The secrets of secret_policy made by serviceadmin create, 200 a run: each run must
    succeed."""
    for i in range(0, len(names), 200):
        path = secret_policy(work, service, names[i:i + 200], mrsigner)
        rc, _, t = s.tool(serviceadmin, "create", svc_key, "--file", path)
        assert rc == 0, t[-2000:]


def listed(s, serviceadmin, svc_key, service="pay"):
    """The names of service's secrets as serviceadmin lists them (None when the list
    fails), and the tool's text."""
    rc, out, t = s.tool(serviceadmin, "list", svc_key, "--service", service)
    return ([x["name"] for x in out["secrets"]] if rc == 0 else None), t


def propose(s, aecsadmin, admin, out, keys, threshold):
    """aecsadmin recovery propose by admin of the set keys, threshold of them (1: with
    --recovery-single-holder), written to out: (rc, answer, text)."""
    args = sum((["--recovery-key", k] for k in keys), []) + ["--recovery-threshold", str(threshold)]
    if threshold == 1:
        args.append("--recovery-single-holder")
    return s.tool(aecsadmin, "recovery", admin, "propose", *args, "--out", out)


def consents(aecsadmin, proposal, work, holders):
    """Each of holders (name, recovery key path) signs proposal offline into
    work/consent-<name> (each must succeed): the --consent flags that pass them."""
    flags = []
    for name, k in holders:
        flags += ["--consent", os.path.join(work, f"consent-{name}")]
        r = subprocess.run([aecsadmin, "recovery", "sign", "--key", k, "--proposal", proposal, "--out", flags[-1]],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    return flags


def change_set(s, aecsadmin, admin, work, name, keys, threshold, holders=()):
    """The recovery set changed to keys (threshold of them) by admin: proposed into
    work/name.proposal, consented by holders (name, key path) of the set in force, set
    with the new shares into work/name: set's (rc, answer, text); the proposal and the
    consents must succeed."""
    prop = os.path.join(work, name + ".proposal")
    rc, _, t = propose(s, aecsadmin, admin, prop, keys, threshold)
    assert rc == 0, t
    flags = consents(aecsadmin, prop, work, holders)
    return s.tool(aecsadmin, "recovery", admin, "set", "--proposal", prop, "--out-dir", os.path.join(work, name),
                  *flags)


def set_alone(s, aecsadmin, admin, work, name):
    """admin alone (no consents) sets its own key as the one holder (1 of 1): set's (rc,
    text) and, when it passed, the storage key its one share gives (the share is the key)."""
    rc, _, t = change_set(s, aecsadmin, admin, work, name, [admin], 1)
    key = None
    if rc == 0:
        d = os.path.join(work, name)
        share = open(os.path.join(d, sorted(os.listdir(d))[0]), "rb").read()
        key = rf.value(rf.open_share(share, admin))
    return rc, t, key


@contextlib.contextmanager
def keep_rotating_master(store, set_version=None):
    """While the block runs, the host watches aecs/master of the fs store and keeps a copy
    of each value it sees marked rotating (the new key and the one before; of the clear
    recovery set version set_version only, when given), once each, in the order seen:
    yields the list they are put in. A real host sees every write; this one looks as often
    as it can, its thread ahead of the server's where it may."""
    path = rf.store_objects(store)["aecs/master"][0]
    kept, stop = [], threading.Event()

    def watch():
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)  # this thread alone (Linux)
        except OSError:
            pass
        while not stop.is_set():
            try:
                _, v = rf.fs_record(open(path, "rb").read())
            except OSError:
                continue
            ver, flags = rf.master_fields(v)
            if flags == 1 and set_version in (None, ver) and v not in kept:
                kept.append(v)
    w = threading.Thread(target=watch)
    w.start()
    try:
        yield kept
    finally:
        stop.set()
        w.join()
