"""Real etcd for the tests: Debian's etcd-server, one member or a cluster of several on
loopback (free ports, data under a work directory), plaintext or TLS with client
certificates (a CA made here), and a host's direct access to its keys through etcd's
JSON gateway (/v3/kv/*), as a hostile host would write them."""
import base64
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(b):
    return base64.b64encode(b if isinstance(b, bytes) else b.encode()).decode()


class Pki:
    """A CA and certificates from it (PEM files under d): a server certificate for
    127.0.0.1 and localhost, and client certificates."""

    def __init__(self, d, name="kt-test-ca"):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
        self._x509, self._hashes, self._ser, self._ec, self._oid = x509, hashes, serialization, ec, NameOID
        os.makedirs(d, exist_ok=True)
        self.dir, self.name = d, name
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca = self._write(name + ".pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600)
        return path

    def issue(self, name, server=False):
        """(cert path, key path) of a certificate for name: a server one names 127.0.0.1 and
        localhost; a client one is for client authentication."""
        x509, NameOID = self._x509, self._oid
        key = self._ec.generate_private_key(self._ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))
        usage = x509.oid.ExtendedKeyUsageOID
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName(name),
                                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                critical=False)
            b = b.add_extension(x509.ExtendedKeyUsage([usage.SERVER_AUTH, usage.CLIENT_AUTH]), critical=False)
        else:
            b = b.add_extension(x509.ExtendedKeyUsage([usage.CLIENT_AUTH]), critical=False)
        cert = b.sign(self.key, self._hashes.SHA256())
        ser = self._ser
        c = self._write(name + ".crt", cert.public_bytes(ser.Encoding.PEM))
        k = self._write(name + ".key", key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                                         ser.NoEncryption()))
        return c, k


class Etcd:
    """n etcd members on loopback under work/name. With pki: clients speak TLS and must
    present a certificate from pki's CA (--client-cert-auth); peers stay on plaintext
    loopback."""

    def __init__(self, work, n=1, pki=None, name="etcd", args=()):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.pki = pki
        self.args = list(args)
        self.names = [f"m{i}" for i in range(n)]
        self.client = [free_port() for _ in range(n)]
        self.peer = [free_port() for _ in range(n)]
        while len(set(self.client + self.peer)) != 2 * n:
            self.peer = [free_port() for _ in range(n)]
        self.procs = [None] * n
        scheme = "https" if pki else "http"
        self.client_urls = [f"{scheme}://127.0.0.1:{p}" for p in self.client]
        if pki:
            self.server_cert, self.server_key = pki.issue("etcd-server", server=True)
            self.admin_cert, self.admin_key = pki.issue("etcd-test-admin")
        self.cluster = ",".join(f"{m}=http://127.0.0.1:{p}" for m, p in zip(self.names, self.peer))
        for i in range(n):
            self.start(i)
        for i in range(n):
            self.wait_ready(i)

    def start(self, i):
        """Member i (again, on its data directory after a kill)."""
        log = open(os.path.join(self.dir, f"{self.names[i]}.log"), "ab")
        args = ["etcd", "--name", self.names[i], "--data-dir", os.path.join(self.dir, self.names[i]),
                "--listen-client-urls", self.client_urls[i], "--advertise-client-urls", self.client_urls[i],
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", self.cluster, "--initial-cluster-token", "kt-" + os.path.basename(self.dir),
                "--heartbeat-interval", "50", "--election-timeout", "500"]
        args += self.args
        if self.pki:
            args += ["--cert-file", self.server_cert, "--key-file", self.server_key, "--trusted-ca-file",
                     self.pki.ca, "--client-cert-auth"]
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)

    def wait_ready(self, i, seconds=60):
        """Until member i answers a linearizable read (it has a leader)."""
        end = time.time() + seconds
        err = None
        while time.time() < end:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"etcd {self.names[i]} exited {self.procs[i].returncode}; see {self.dir}")
            try:
                self.kv("range", {"key": b64("ready-probe")}, member=i, timeout=2)
                return
            except (OSError, urllib.error.URLError, ValueError) as e:
                err = e
                time.sleep(0.1)
        raise RuntimeError(f"etcd {self.names[i]} not ready in {seconds} s: {err}")

    def kill(self, i):
        """SIGKILL member i."""
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(timeout=30)

    def stop(self):
        for p in self.procs:
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def ctl(self, *args, user=None):
        """etcdctl on the first member (user: "name:password" once auth is on)."""
        cmd = ["etcdctl", "--endpoints", self.client_urls[0]] + (["--user", user] if user else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=dict(os.environ, ETCDCTL_API="3"))
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def url(self, ns, members=None):
        """etcd://127.0.0.1:p[,127.0.0.1:p...]/ns for the members (default: all)."""
        members = range(len(self.names)) if members is None else members
        return "etcd://" + ",".join(f"127.0.0.1:{self.client[i]}" for i in members) + "/" + ns

    # ---- the host's own access, past kt_store ----
    def kv(self, op, body, member=None, timeout=10):
        """POST /v3/kv/<op> to a live member (the first that answers, or member)."""
        order = [member] if member is not None else [i for i, p in enumerate(self.procs) if p.poll() is None]
        ctx = None
        if self.pki:
            ctx = ssl.create_default_context(cafile=self.pki.ca)
            ctx.load_cert_chain(self.admin_cert, self.admin_key)
        err = None
        for i in order:
            req = urllib.request.Request(f"{self.client_urls[i]}/v3/kv/{op}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                    return json.loads(r.read())
            except (OSError, urllib.error.URLError) as e:
                err = e
        raise err

    def items(self, prefix):
        """{key: (value, version)} of every key under prefix (bytes keys and values)."""
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        r = self.kv("range", {"key": b64(prefix), "range_end": b64(end)})
        return {base64.b64decode(kv["key"]): (base64.b64decode(kv.get("value", "")), int(kv.get("version", 0)))
                for kv in r.get("kvs", [])}

    def put(self, key, value):
        self.kv("put", {"key": b64(key), "value": b64(value)})

    def delete(self, key):
        self.kv("deleterange", {"key": b64(key)})

    def put_at_version(self, key, value, version):
        """key holding value at etcd version `version` (deleted first, then put that many
        times): how a host replays an object under the version it was sealed with."""
        self.delete(key)
        for _ in range(version):
            self.put(key, value)
