"""The operators' HTTP endpoint every service shares (src/svc/http.c: /healthz, /readyz,
/metrics), under the attacks a hostile neighbour on the pod network can make. Kubelet's
probes must keep getting answers: a liveness probe that times out restarts a healthy pod.

Each test starts the C echo server (its metrics endpoint is kt_http) and attacks it from
127.0.0.2 while the 'kubelet' probes from 127.0.0.1, as two hosts would."""
import resource
import socket
import sys
import time
import unittest

import rpc_lib
from rpc_lib import Server

ATTACKER = "127.0.0.2"
PROBE_TIMEOUT = 1.0


def probe(port, path="/healthz", timeout=PROBE_TIMEOUT):
    """Status code of one GET from 127.0.0.1, or the error's name: raw, so a refused or
    reset connection is seen as such."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
            head = c.recv(64)
            return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else head
    except OSError as e:
        return type(e).__name__


def raw(port, request, source="127.0.0.1", timeout=3.0):
    """The first response line for raw request bytes."""
    with socket.socket() as c:
        c.settimeout(timeout)
        c.bind((source, 0))
        c.connect(("127.0.0.1", port))
        c.sendall(request)
        data = b""
        while b"\r\n" not in data:
            got = c.recv(256)
            if not got:
                break
            data += got
        return data.split(b"\r\n")[0]


def attacker_socket(port):
    c = socket.socket()
    c.bind((ATTACKER, 0))
    c.connect(("127.0.0.1", port))
    return c


class AdminEndpoint(unittest.TestCase):
    def setUp(self):
        self.server = Server("127.0.0.1:0", "--metrics", "0.0.0.0:0")
        self.port = self.server.metrics_port
        self.assertEqual(probe(self.port), 200)

    def tearDown(self):
        self.server.kill()

    def test_slow_clients_on_one_address_cannot_take_the_probes_slots(self):
        # 70 connections trickling header lines, each kept alive by a byte every 2 s
        # (before: 64 of them filled every slot and the probe was reset for as long as
        # they stayed)
        socks, refused = [], 0
        for _ in range(70):
            try:
                c = attacker_socket(self.port)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(c)
            except OSError:
                refused += 1
        try:
            for _ in range(4):
                for c in socks:
                    try:
                        c.sendall(b"X-a: b\r\n")
                    except OSError:
                        pass
                t = time.monotonic()
                self.assertEqual(probe(self.port), 200)
                self.assertLess(time.monotonic() - t, PROBE_TIMEOUT)
                time.sleep(2)
            # one address holds at most 16 of them: the rest were closed at once
            alive = 0
            for c in socks:
                c.setblocking(False)
                try:
                    alive += 0 if c.recv(1) == b"" else 1
                except BlockingIOError:
                    alive += 1
                except OSError:
                    pass
            self.assertLessEqual(alive, 16)
        finally:
            for c in socks:
                c.close()

    def test_a_silent_connection_is_closed(self):
        c = attacker_socket(self.port)
        c.sendall(b"GET /healthz HTTP/1.1\r\n")
        c.settimeout(15)
        t = time.monotonic()
        self.assertEqual(c.recv(64), b"")  # closed by the server, not by us
        self.assertLess(time.monotonic() - t, 10)
        c.close()

    def test_a_nul_in_the_path_is_not_read_as_the_path_before_it(self):
        # before: "/healthz\0x" was answered as /healthz
        line = raw(self.port, b"GET /healthz\0x HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b" 400 ", line + b" ")
        self.assertEqual(probe(self.port), 200)

    def test_a_request_body_is_refused_before_it_is_read(self):
        line = raw(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        self.assertIn(b" 413 ", line + b" ")
        line = raw(self.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertIn(b" 413 ", line + b" ")

    def test_only_a_plain_path_is_a_target(self):
        for target in (b"/healthz?x=1", b"/he%61lthz", b"/metrics?"):
            line = raw(self.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b" 400 ", line + b" ", target)
        for path in ("/healthz", "/readyz", "/metrics"):
            self.assertEqual(probe(self.port, path), 200)
        self.assertEqual(probe(self.port, "/nothing"), 404)


class ManyDescriptors(unittest.TestCase):
    def test_probes_answer_while_the_process_holds_more_than_fd_setsize_descriptors(self):
        # before: select() could not watch a descriptor past 1024, so 1,100 idle gRPC
        # connections made /healthz and /readyz unreachable while gRPC still served
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
        server = Server("127.0.0.1:0", "--metrics", "127.0.0.1:0", nofile=4096)
        conns = []
        try:
            for _ in range(1100):
                c = socket.create_connection(("127.0.0.1", server.port))
                c.sendall(rpc_lib.PREFACE + rpc_lib.frame(rpc_lib.SETTINGS, 0, 0))
                conns.append(c)
            deadline = time.monotonic() + 10
            fds = 0
            while time.monotonic() < deadline:
                import os
                fds = len(os.listdir("/proc/%d/fd" % server.proc.pid))
                if fds > 1100:
                    break
                time.sleep(0.1)
            self.assertGreater(fds, 1100)
            self.assertEqual(probe(server.metrics_port), 200)
            self.assertEqual(probe(server.metrics_port, "/readyz"), 200)
        finally:
            for c in conns:
                c.close()
            server.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
