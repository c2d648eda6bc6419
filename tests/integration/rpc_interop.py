#!/usr/bin/python3
"""kubetee's rpc module against an independent gRPC implementation (Python grpcio):
Python clients call the C server, and the C client calls a Python server, over a Unix
socket, TCP, TLS and mutual TLS. Stubs are generated from the .proto at test time with
protoc and grpc_python_plugin."""
import os
import subprocess
import threading
import time
import unittest

from rpc_lib import BUILD, WORK, Server, echo_pb2, echo_pb2_grpc
import grpc  # noqa: E402


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_pki():
    """A CA, a server certificate for localhost, and a client certificate."""
    p = lambda n: os.path.join(WORK, n)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("ca.key"), "-out", p("ca.pem"), "-subj", "/CN=test CA", "-days", "2")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p("other_ca.key"), "-out", p("other_ca.pem"), "-subj", "/CN=other CA", "-days", "2")
    for name, ext in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj", "/CN=" + name)
        with open(p(name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
                "-CAcreateserial", "-out", p(name + ".pem"), "-days", "2", "-extfile", p(name + ".ext"))
    return {n: open(p(n), "rb").read()
            for n in ("ca.pem", "other_ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


PKI = make_pki()


class CServerTest(unittest.TestCase):
    def check_basics(self, channel):
        stub = echo_pb2_grpc.EchoStub(channel)
        self.assertEqual(stub.Say(echo_pb2.Msg(text="hi"), timeout=5).text, "echo: hi")
        got = [m.text for m in stub.Count(echo_pb2.CountRequest(n=50), timeout=5)]
        self.assertEqual(got, [str(i) for i in range(50)])
        with self.assertRaises(grpc.RpcError) as e:
            stub.Fail(echo_pb2.Msg(text="x"), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("always fails", e.exception.details())
        # a handler's limit (KT_ERR_TOO_LARGE) is RESOURCE_EXHAUSTED, as gRPC's own limits are
        with self.assertRaises(grpc.RpcError) as e:
            stub.Fail(echo_pb2.Msg(text="limit"), timeout=5)
        self.assertEqual(e.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("over this method's limit", e.exception.details())

    def test_unix_socket(self):
        sock = os.path.join(WORK, "echo.sock")
        s = Server("unix:" + sock)
        with grpc.insecure_channel("unix:" + sock) as ch:
            self.check_basics(ch)
            stub = echo_pb2_grpc.EchoStub(ch)
            # a deadline the handler cannot meet
            with self.assertRaises(grpc.RpcError) as e:
                stub.Slow(echo_pb2.Msg(text="late", delay_ms=1500), timeout=0.2)
            self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            # malformed bytes for the request type
            raw = ch.unary_unary("/kubetee.echo.Echo/Say")
            with self.assertRaises(grpc.RpcError) as e:
                raw(b"\x0a\x10ab", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            # an unknown method
            with self.assertRaises(grpc.RpcError) as e:
                ch.unary_unary("/kubetee.echo.Echo/Nope")(b"", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        code, _, _ = s.stop()
        self.assertEqual(code, 0)

    def test_sigterm_drains_calls_in_flight_and_ends_streams(self):
        sock = os.path.join(WORK, "drain.sock")
        s = Server("unix:" + sock)
        results = {}
        with grpc.insecure_channel("unix:" + sock) as ch:
            stub = echo_pb2_grpc.EchoStub(ch)
            stream = stub.Forever(echo_pb2.Msg(text="x"), timeout=30)
            self.assertEqual(next(stream).text, "first")

            def slow():
                results["slow"] = stub.Slow(echo_pb2.Msg(text="in flight", delay_ms=2500), timeout=20).text

            t = threading.Thread(target=slow)
            t.start()
            time.sleep(1.0)  # the slow call is now running (it takes 2.5 s)
            code, out, err = s.stop()
            t.join()
            self.assertEqual(results.get("slow"), "echo: in flight")  # finished, not cut off
            with self.assertRaises(grpc.RpcError) as e:  # the endless stream was ended
                next(stream)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(code, 0)
        self.assertIn("STOPPED", out)

    def test_tls(self):
        s = Server("127.0.0.1:0", "--tls", os.path.join(WORK, "server.pem"), os.path.join(WORK, "server.key"))
        creds = grpc.ssl_channel_credentials(root_certificates=PKI["ca.pem"])
        with grpc.secure_channel("localhost:%d" % s.port, creds) as ch:
            self.check_basics(ch)
        # a client that does not trust the CA does not connect
        other = grpc.ssl_channel_credentials(root_certificates=PKI["other_ca.pem"])
        with grpc.secure_channel("localhost:%d" % s.port, other) as ch:
            with self.assertRaises(grpc.RpcError) as e:
                echo_pb2_grpc.EchoStub(ch).Say(echo_pb2.Msg(text="hi"), timeout=3)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(s.stop()[0], 0)

    def test_mutual_tls(self):
        s = Server("127.0.0.1:0", "--tls", os.path.join(WORK, "server.pem"), os.path.join(WORK, "server.key"),
                   "--mtls", os.path.join(WORK, "ca.pem"))
        with_cert = grpc.ssl_channel_credentials(PKI["ca.pem"], PKI["client.key"], PKI["client.pem"])
        with grpc.secure_channel("localhost:%d" % s.port, with_cert) as ch:
            self.check_basics(ch)
        without = grpc.ssl_channel_credentials(root_certificates=PKI["ca.pem"])
        with grpc.secure_channel("localhost:%d" % s.port, without) as ch:
            with self.assertRaises(grpc.RpcError):
                echo_pb2_grpc.EchoStub(ch).Say(echo_pb2.Msg(text="hi"), timeout=3)
        self.assertEqual(s.stop()[0], 0)


class PyEcho(echo_pb2_grpc.EchoServicer):
    def Say(self, request, context):
        return echo_pb2.Msg(text="py: " + request.text)

    def Count(self, request, context):
        for i in range(request.n):
            yield echo_pb2.Msg(text="py%d" % i)

    def Fail(self, request, context):
        if request.text == "limit":
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "python's limit")
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "python says no")


class CClientTest(unittest.TestCase):
    def run_client(self, target, *extra):
        r = subprocess.run([os.path.join(BUILD, "echo_client"), target, *extra], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def check_output(self, out):
        self.assertIn("say: KT_OK py: hello", out)
        self.assertIn("count: py2", out)
        self.assertIn("count done: KT_OK 3", out)
        self.assertIn("count stopped: KT_ERR_CANCELLED 2 enough", out)  # the client ended the stream
        self.assertIn("fail: KT_ERR_DENIED", out)
        self.assertIn("python says no", out)
        self.assertIn("fail limit: KT_ERR_TOO_LARGE /kubetee.echo.Echo/Fail: python's limit", out)  # RESOURCE_EXHAUSTED

    def serve(self, port_spec, creds=None):
        from concurrent import futures
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        echo_pb2_grpc.add_EchoServicer_to_server(PyEcho(), server)
        port = server.add_secure_port(port_spec, creds) if creds else server.add_insecure_port(port_spec)
        server.start()
        return server, port

    def test_unix_and_tcp(self):
        sock = os.path.join(WORK, "py.sock")
        server, _ = self.serve("unix:" + sock)
        self.check_output(self.run_client("unix:" + sock))
        server.stop(0)
        server, port = self.serve("127.0.0.1:0")
        self.check_output(self.run_client("127.0.0.1:%d" % port))
        server.stop(0)

    def test_mutual_tls(self):
        creds = grpc.ssl_server_credentials([(PKI["server.key"], PKI["server.pem"])],
                                            root_certificates=PKI["ca.pem"], require_client_auth=True)
        server, port = self.serve("127.0.0.1:0", creds)
        p = lambda n: os.path.join(WORK, n)
        self.check_output(self.run_client("127.0.0.1:%d" % port, "--ca", p("ca.pem"), "--cert", p("client.pem"),
                                          "--key", p("client.key"), "--name", "localhost"))
        # without a client certificate the handshake fails and the call says so
        out = self.run_client("127.0.0.1:%d" % port, "--ca", p("ca.pem"), "--name", "localhost")
        self.assertIn("say: KT_ERR_UNAVAILABLE", out)
        server.stop(0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
