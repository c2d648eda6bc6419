"""What the rpc tests share: the echo stubs (generated with protoc at test time), the C
echo server in a subprocess, its threads and memory from /proc, its /metrics, and raw
HTTP/2 frames written by hand (an attacker follows no client library)."""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import hpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom  # noqa: E402

BUILD, PROTO = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
WORK = tempfile.mkdtemp(prefix="kt-rpc-")

subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, "--grpc_out", WORK,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", PROTO], check=True)
sys.path.insert(0, WORK)
import echo_pb2  # noqa: E402
import echo_pb2_grpc  # noqa: E402


class Server:
    """The C echo server in a subprocess; nofile caps its fds (soft and hard)."""

    def __init__(self, address, *extra, nofile=None, env=None):
        # AddressSanitizer's quarantine holds freed memory (256 MB by default): keep it small,
        # so VmRSS says what the server holds
        env = dict(os.environ, **(env or {}))
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "quarantine_size_mb=4"]))
        # the fd limit through prlimit(1): a preexec_fn would fork this process, whose grpcio
        # threads do not survive a fork
        cmd = ["prlimit", "--nofile=%d:%d" % (nofile, nofile)] if nofile else []
        self.proc = subprocess.Popen([*cmd, os.path.join(BUILD, "echo_server"), address, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.metrics_port = None
        line = self.proc.stdout.readline()
        if line.startswith("METRICS"):
            self.metrics_port = int(line.split()[1])
            line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("echo_server did not start: " + line + self.proc.stderr.read())
        self.port = int(line.split()[1])

    def status(self):
        """Threads and VmRSS (kB) from /proc/PID/status."""
        got = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Threads", "VmRSS"):
                    got[k] = int(v.split()[0])
        return got["Threads"], got["VmRSS"]

    def http(self, path):
        """(status, body) of GET path on the metrics address."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.metrics_port, path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name, **labels):
        """The value of one sample on /metrics (labels given must all match)."""
        _, body = self.http("/metrics")
        prom.parse(body)  # as Prometheus reads it: each family grouped and typed
        for line in body.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, value = line.rsplit(" ", 1)
            if head.split("{")[0] != name:
                continue
            if all('%s="%s"' % kv in head for kv in labels.items()):
                return float(value)
        raise KeyError(name)

    def stop(self, timeout=20):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


# ---- raw HTTP/2 ----
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def grpc_message(body, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(body)) + body


class Raw:
    """An HTTP/2 connection driven frame by frame. It sends its preface and SETTINGS but
    never acknowledges the server's SETTINGS (so gRPC core's own limits never bind it)
    unless ack, and a thread reads and drops whatever the server sends unless told to keep
    it. tls: an ssl.SSLContext to wrap the connection in (ALPN h2)."""

    def __init__(self, port, read=True, source=None, ack=False, tls=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.enc = hpack.Encoder()
        self.next_id = 1
        self.received = bytearray()
        self.total = 0  # bytes read, kept or not
        self.closed = False
        # flow-control credit the server gave: the connection's (0) and each stream's
        self.credit = {0: 65535}
        self.credit_lock = threading.Condition()
        self._frames = b""
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        if ack:  # the server's SETTINGS comes first: acknowledge it before anything else
            got = b""
            while len(got) < 9 or len(got) < 9 + int.from_bytes(got[:3], "big"):
                b = self.sock.recv(65536)
                if not b:
                    raise OSError("closed before the server's SETTINGS")
                got += b
            if got[3] != SETTINGS:
                raise OSError("the server's first frame is not SETTINGS")
            self.received += got
            self.sock.sendall(frame(SETTINGS, ACK, 0))
        if read:
            self.reader = threading.Thread(target=self._read, daemon=True)
            self.reader.start()

    def _read(self):
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    break
                self.total += len(b)
                if len(self.received) < (1 << 20):
                    self.received += b
                self._window_updates(b)
        except OSError:
            pass
        self.closed = True

    def _window_updates(self, b):
        self._frames += b
        while len(self._frames) >= 9:
            n = int.from_bytes(self._frames[:3], "big")
            if len(self._frames) < 9 + n:
                break
            if self._frames[3] == WINDOW_UPDATE and n == 4:
                sid = int.from_bytes(self._frames[5:9], "big") & 0x7fffffff
                with self.credit_lock:
                    self.credit[sid] = self.credit.get(sid, 65535) + int.from_bytes(self._frames[9:13], "big")
                    self.credit_lock.notify_all()
            self._frames = self._frames[9 + n:]

    def send_data_within_windows(self, sid, data, within=5.0):
        """Sends data on stream sid in DATA frames (no END_STREAM) as the server's
        flow-control windows allow, as a client that follows them would; returns the bytes
        sent before within seconds passed or the connection closed."""
        sent, end = 0, time.monotonic() + within
        while sent < len(data) and not self.closed:
            with self.credit_lock:
                room = min(self.credit[0], self.credit.setdefault(sid, 65535), 16000, len(data) - sent)
                if room <= 0:
                    if time.monotonic() > end:
                        break
                    self.credit_lock.wait(0.05)
                    continue
                self.credit[0] -= room
                self.credit[sid] -= room
            self.sock.sendall(frame(DATA, 0, sid, data[sent:sent + room]))
            sent += room
        return sent

    def headers(self, path, extra=()):
        return self.enc.encode([(":method", "POST"), (":scheme", "http"), (":path", path),
                                (":authority", "localhost"), ("content-type", "application/grpc"),
                                ("te", "trailers"), *extra])

    def call(self, path, body, extra=(), reset=False, compressed=False, end=True):
        """Opens a stream with one message; returns the frames' bytes (not yet sent) and its id."""
        sid = self.next_id
        self.next_id += 2
        out = frame(HEADERS, END_HEADERS, sid, self.headers(path, extra))
        out += frame(DATA, END_STREAM if end else 0, sid, grpc_message(body, compressed))
        if reset:
            out += frame(RST_STREAM, 0, sid, struct.pack(">I", 8))  # CANCEL
        return out, sid

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # the reader thread holds the fd open
            self.sock.close()
        except OSError:
            pass

    def statuses(self):
        """grpc-status values seen in the server's header frames so far (decoded)."""
        dec = hpack.Decoder()
        dec.max_allowed_table_size = 1 << 16
        buf, found, i = bytes(self.received), [], 0
        while i + 9 <= len(buf):
            n = int.from_bytes(buf[i:i + 3], "big")
            kind = buf[i + 3]
            if i + 9 + n > len(buf):
                break
            if kind == HEADERS:
                try:
                    for k, v in dec.decode(buf[i + 9:i + 9 + n]):
                        if k in (b"grpc-status", "grpc-status"):
                            found.append(int(v))
                except Exception:
                    break
            i += 9 + n
        return found
