#!/usr/bin/python3
"""sgx-device-plugin against a kubelet stand-in written with Python's grpcio: the
stand-in serves Registration on a temporary kubelet.sock, takes the plugin's
registrations, then connects back and drives ListAndWatch, Allocate and
GetPreferredAllocation. Stubs come from the project's api.proto, generated at test time.
The stand-in holds the plugin to what kubelet does: it refuses a resource name that
fails IsExtendedResourceName, reads ListAndWatch with grpc-go's default 4 MiB receive
limit, and wipes the plugin directory when it restarts."""
import os
import re
import queue
import socket
import urllib.error
import urllib.request
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures

PLUGIN, PROTO, CPUID, HOOK = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
del sys.argv[1:5]
WORK = tempfile.mkdtemp(prefix="kt-dp-")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, "--grpc_out", WORK,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", PROTO], check=True)
sys.path.insert(0, WORK)
import json  # noqa: E402
import grpc  # noqa: E402
import api_pb2  # noqa: E402
import api_pb2_grpc  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom  # noqa: E402

KUBELET_MAX_RECEIVE = 4 << 20  # grpc-go's default, which kubelet's plugin client keeps
DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = re.compile(r"^(?P<prefix>%s(?:\.%s)*)/(?P<name>[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
                            % (DNS_LABEL, DNS_LABEL))


def is_extended_resource_name(name):
    """k8s.io/kubernetes pkg/apis/core/v1/helper IsExtendedResourceName."""
    if "/" not in name or "kubernetes.io/" in name or name.startswith("requests."):
        return False
    m = QUALIFIED_NAME.match("requests." + name)
    return bool(m) and len(m.group("prefix")) <= 253 and len(m.group("name")) <= 63

EPC, ENCLAVE, PROVISION = "alibabacloud.com/sgx_epc_MiB", "sgx.intel.com/enclave", "sgx.intel.com/provision"
AESM = "kubetee.io/aesm"  # served only with --aesm-socket-dir; the webhook adds it on request


class Kubelet(api_pb2_grpc.RegistrationServicer):
    """The kubelet side: Registration on kubelet.sock."""

    def __init__(self, directory, hang=None):
        self.dir = directory
        self.hang = hang  # a threading.Event Register waits on: a kubelet that hangs
        self.registrations = queue.Queue()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        api_pb2_grpc.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port("unix:" + os.path.join(directory, "kubelet.sock"))
        self.server.start()

    def Register(self, request, context):
        if self.hang is not None:
            self.hang.wait(30)
        if request.version != "v1beta1":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported version")
        if not is_extended_resource_name(request.resource_name):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid resource name %r" % request.resource_name)
        self.registrations.put(request)
        return api_pb2.Empty()

    def wait_registrations(self, n, timeout=10):
        got = {}
        end = time.time() + timeout
        while len(got) < n and time.time() < end:
            try:
                r = self.registrations.get(timeout=max(0.1, end - time.time()))
                got[r.resource_name] = r
            except queue.Empty:
                break
        return got

    def stop(self, wipe=False):
        self.server.stop(0).wait()
        sock = os.path.join(self.dir, "kubelet.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        if wipe:  # kubelet's device manager empties its directory when it starts again
            for f in os.listdir(self.dir):
                try:
                    os.unlink(os.path.join(self.dir, f))
                except FileNotFoundError:
                    pass  # the plugin removed it first

    def plugin(self, registration):
        return plugin_channel(self.dir, registration.endpoint)


def plugin_channel(directory, endpoint):
    ch = grpc.insecure_channel("unix:" + os.path.join(directory, endpoint),
                               options=[("grpc.max_receive_message_length", KUBELET_MAX_RECEIVE)])
    return ch, api_pb2_grpc.DevicePluginStub(ch)


def start_plugin(kdir, root, cpuid, *extra):
    return subprocess.Popen([PLUGIN, "--kubelet-dir", kdir, "--device-root", root, "--cpuid-file", cpuid, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Watch:
    """ListAndWatch in a thread; updates arrive on .updates, a failure in .error."""

    def __init__(self, stub):
        self.updates = queue.Queue()
        self.error = None
        self.call = stub.ListAndWatch(api_pb2.Empty())
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for resp in self.call:
                self.updates.put(resp)
        except grpc.RpcError as e:
            self.error = e

    def wait_for(self, pred, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            try:
                r = self.updates.get(timeout=max(0.05, end - time.time()))
            except queue.Empty:
                break
            if pred(r):
                return r
        return None


class DevicePluginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kdir = os.path.join(WORK, "kubelet")
        cls.root = os.path.join(WORK, "dev")
        cls.aesm = os.path.join(WORK, "aesmd")
        cls.nfd = os.path.join(WORK, "nfd-sgx")
        for d in (cls.kdir, cls.root, cls.aesm):
            os.makedirs(d, exist_ok=True)
        for n in ("sgx_enclave", "sgx_provision"):
            open(os.path.join(cls.root, n), "w").close()
        cls.aesm_sock = socket.socket(socket.AF_UNIX)  # aesmd's socket, as aesmd makes it
        cls.aesm_sock.bind(os.path.join(cls.aesm, "aesm.socket"))
        cls.kubelet = Kubelet(cls.kdir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cls.http = "http://127.0.0.1:%d" % s.getsockname()[1]
        cls.proc = start_plugin(cls.kdir, cls.root, os.path.join(CPUID, "sgx1-xeon-e2288g.txt"),
                                "--aesm-socket-dir", cls.aesm, "--nfd-features-file", cls.nfd,
                                "--metrics-address", cls.http[len("http://"):])
        cls.regs = cls.kubelet.wait_registrations(4)

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        out, _ = cls.proc.communicate(timeout=20)
        cls.kubelet.stop()
        assert cls.proc.returncode == 0, out
        assert "event=dp.stopped" in out, out
        left = [f for f in os.listdir(cls.kdir) if f.startswith("kubetee-sgx-")]
        assert not left, "sockets left behind: %s" % left

    def stub(self, resource):
        ch, stub = self.kubelet.plugin(self.regs[resource])
        self.addCleanup(ch.close)
        return stub

    def test_1_registers_four_resources(self):
        self.assertEqual(set(self.regs), {EPC, ENCLAVE, PROVISION, AESM})
        for r in self.regs.values():
            self.assertEqual(r.version, "v1beta1")
            self.assertTrue(r.options.get_preferred_allocation_available)
            self.assertTrue(os.path.exists(os.path.join(self.kdir, r.endpoint)))
        with open(self.nfd) as f:
            features = f.read()
        self.assertIn("kubetee.io/sgx=true", features)
        self.assertIn("kubetee.io/sgx.epc-mib=28", features)
        # the node extended resource sgx.intel.com/epc in bytes, through NFD (no label)
        self.assertIn("# +no-label\nkubetee.io/sgx.epc-bytes=29360128\n", features)
        self.assertIn("kubetee.io/sgx.epc-unit-mib=1", features)

    def test_2_list_and_watch(self):
        counts = {EPC: 28, ENCLAVE: 20, PROVISION: 20, AESM: 20}
        for res, n in counts.items():
            w = Watch(self.stub(res))
            first = w.wait_for(lambda r: True)
            w.call.cancel()
            self.assertIsNotNone(first, res)
            self.assertEqual(len(first.devices), n, res)
            self.assertTrue(all(d.health == "Healthy" for d in first.devices))
        opts = self.stub(ENCLAVE).GetDevicePluginOptions(api_pb2.Empty(), timeout=5)
        self.assertTrue(opts.get_preferred_allocation_available)
        self.assertFalse(opts.pre_start_required)

    def allocate(self, res, ids):
        req = api_pb2.AllocateRequest(container_requests=[api_pb2.ContainerAllocateRequest(devices_ids=ids)])
        return self.stub(res).Allocate(req, timeout=5).container_responses[0]

    def test_3_allocate_gives_only_what_was_granted(self):
        enc = self.allocate(ENCLAVE, ["enclave-0"])
        self.assertEqual([(d.host_path, d.container_path, d.permissions) for d in enc.devices],
                         [(os.path.join(self.root, "sgx_enclave"), "/dev/sgx_enclave", "rw")])
        self.assertEqual(enc.envs["SGX_VISIBLE_DEVICES"], "/dev/sgx_enclave")
        # no AESM socket with an enclave or EPC grant: the webhook mounts it for pods that
        # ask (sgx.intel.com/quote-provider: aesmd)
        self.assertEqual(len(enc.mounts), 0)
        prov = self.allocate(PROVISION, ["provision-3"])
        self.assertEqual([d.container_path for d in prov.devices], ["/dev/sgx_provision"])
        self.assertEqual(len(prov.mounts), 0)
        epc = self.allocate(EPC, ["epc-0", "epc-1", "epc-27"])
        self.assertEqual([d.container_path for d in epc.devices], ["/dev/sgx_enclave"])
        self.assertEqual(epc.envs["SGX_EPC_MIB"], "3")
        self.assertEqual(dict(epc.annotations), {"kubetee.io/epc-grant-bytes": str(3 << 20)})  # the limit hook's
        self.assertEqual(len(enc.annotations), 0)
        self.assertNotIn("/dev/sgx_provision", [d.container_path for d in epc.devices])
        self.assertEqual(len(epc.mounts), 0)
        self.assertNotIn("SGX_AESM_ADDR", epc.envs)

    def test_3c_aesm_only_with_the_aesm_resource(self):
        aesm = self.allocate(AESM, ["aesm-0"])
        self.assertEqual([(m.host_path, m.container_path, m.read_only) for m in aesm.mounts],
                         [(self.aesm, "/var/run/aesmd", True)])
        self.assertEqual(aesm.envs["SGX_AESM_ADDR"], "1")
        self.assertEqual(len(aesm.devices), 0)  # no device node with it
        # aesmd gone: the AESM devices turn Unhealthy, then Healthy when it is back
        w = Watch(self.stub(AESM))
        self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Healthy"))
        path = os.path.join(self.aesm, "aesm.socket")
        os.unlink(path)
        self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Unhealthy"))
        with self.assertRaises(grpc.RpcError) as e:
            self.allocate(AESM, ["aesm-1"])
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.aesm_sock.close()
        type(self).aesm_sock = socket.socket(socket.AF_UNIX)
        self.aesm_sock.bind(path)
        self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Healthy"))
        w.call.cancel()

    def test_4_unknown_ids_refused(self):
        for res, ids in ((ENCLAVE, ["enclave-20"]), (ENCLAVE, ["provision-0"]), (EPC, ["epc-28"]),
                         (EPC, ["epc-01"]), (PROVISION, ["../../etc/passwd"]), (ENCLAVE, ["enclave-0", "x"]),
                         (EPC, ["epc-+1"]), (EPC, ["epc- 1"]), (EPC, ["epc-1 "]), (EPC, ["epc--1"]),
                         (EPC, ["epc-0x1"]), (EPC, ["epc-"]), (EPC, ["epc-99999999999999999999"])):
            with self.assertRaises(grpc.RpcError) as e:
                self.allocate(res, ids)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, (res, ids))
            self.assertIn("unknown device ID", e.exception.details())

    def test_4b_repeated_ids_refused(self):
        with self.assertRaises(grpc.RpcError) as e:
            self.allocate(EPC, ["epc-1", "epc-2", "epc-1"])
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("'epc-1' repeated", e.exception.details())
        # one device to two containers of one request
        req = api_pb2.AllocateRequest(container_requests=[api_pb2.ContainerAllocateRequest(devices_ids=["enclave-4"]),
                                                          api_pb2.ContainerAllocateRequest(devices_ids=["enclave-4"])])
        with self.assertRaises(grpc.RpcError) as e:
            self.stub(ENCLAVE).Allocate(req, timeout=5)
        self.assertIn("repeated", e.exception.details())
        for avail, must in ((["epc-3", "epc-3"], []), (["epc-3", "epc-4"], ["epc-4", "epc-4"])):
            req = api_pb2.PreferredAllocationRequest(container_requests=[api_pb2.ContainerPreferredAllocationRequest(
                available_deviceIDs=avail, must_include_deviceIDs=must, allocation_size=2)])
            with self.assertRaises(grpc.RpcError) as e:
                self.stub(EPC).GetPreferredAllocation(req, timeout=5)
            self.assertIn("repeated", e.exception.details(), (avail, must))

    def test_5_preferred_allocation(self):
        req = api_pb2.PreferredAllocationRequest(container_requests=[api_pb2.ContainerPreferredAllocationRequest(
            available_deviceIDs=["epc-9", "epc-3", "epc-5", "epc-4"], must_include_deviceIDs=["epc-9"],
            allocation_size=3)])
        resp = self.stub(EPC).GetPreferredAllocation(req, timeout=5)
        self.assertEqual(list(resp.container_responses[0].deviceIDs), ["epc-9", "epc-3", "epc-4"])

    def test_6_removed_node_turns_unhealthy_and_back(self):
        w = Watch(self.stub(ENCLAVE))
        self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Healthy"))
        node = os.path.join(self.root, "sgx_enclave")
        os.unlink(node)
        self.assertIsNotNone(w.wait_for(lambda r: all(d.health == "Unhealthy" for d in r.devices)),
                             "no Unhealthy update within 5 s")
        open(node, "w").close()
        self.assertIsNotNone(w.wait_for(lambda r: all(d.health == "Healthy" for d in r.devices)),
                             "no Healthy update within 5 s")
        w.call.cancel()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.http + path, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    def test_8_health_readiness_and_metrics(self):
        self.assertEqual(self.get("/healthz")[0], 200)
        end = time.time() + 5
        while self.get("/readyz")[0] != 200 and time.time() < end:
            time.sleep(0.05)
        self.assertEqual(self.get("/readyz")[0], 200)  # every resource registered
        before = prom.parse(self.get("/metrics")[1])
        self.allocate(PROVISION, ["provision-1"])
        code, text = self.get("/metrics")
        self.assertEqual(code, 200)
        after = prom.parse(text)  # each family grouped and typed, as Prometheus reads it
        self.assertEqual(prom.value(after, "kubetee_sgx_dp_registered", resource=ENCLAVE), 1)
        self.assertEqual(prom.value(after, "kubetee_sgx_epc_bytes"), 29360128)
        self.assertEqual(prom.value(after, "kubetee_sgx_dp_device_unit_mib", resource=EPC), 1)
        self.assertEqual(prom.value(after, "kubetee_sgx_dp_list_failures_total", resource=EPC), 0)
        name, labels = "kubetee_sgx_dp_allocations_total", {"resource": PROVISION}
        self.assertEqual(prom.value(after, name, **labels), prom.value(before, name, **labels) + 1)
        self.assertEqual(self.get("/nope")[0], 404)

    def test_7_kubelet_restart_leads_to_reregistration(self):
        self.kubelet.stop(wipe=True)  # the plugin's sockets go too, as kubelet removes them
        time.sleep(0.2)
        type(self).kubelet = Kubelet(self.kdir)  # kubelet.sock is created anew
        regs = self.kubelet.wait_registrations(4, timeout=10)
        self.assertEqual(set(regs), {EPC, ENCLAVE, PROVISION, AESM})
        type(self).regs = regs
        self.assertEqual(len(self.allocate(ENCLAVE, ["enclave-1"]).devices), 1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except urllib.error.URLError:
        return None, ""


def wait_http(port, path, want, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        code, body = http_get(port, path)
        if code == want:
            return body
        time.sleep(0.05)
    return None


class Node:
    """A plugin of its own: kubelet directory, device root, NFD file, HTTP port."""

    def __init__(self, name, cpuid, *extra, kubelet=True, hang=None, kdir_exists=True):
        self.kdir = os.path.join(WORK, "kubelet-" + name)
        self.root = os.path.join(WORK, "dev-" + name)
        self.nfd = os.path.join(WORK, "nfd-" + name)
        if kdir_exists:
            os.makedirs(self.kdir)
        os.makedirs(self.root)
        for n in ("sgx_enclave", "sgx_provision"):
            open(os.path.join(self.root, n), "w").close()
        self.kubelet = Kubelet(self.kdir, hang=hang) if kubelet else None
        self.port = free_port()
        self.proc = start_plugin(self.kdir, self.root, cpuid, "--nfd-features-file", self.nfd,
                                 "--metrics-address", "127.0.0.1:%d" % self.port, *extra)

    def metrics(self):
        return prom.parse(http_get(self.port, "/metrics")[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        if self.kubelet:
            self.kubelet.stop()
        return self.proc.returncode, out


class LargeEpcTest(unittest.TestCase):
    """Item 1: EPC at any size. One device per MiB passes kubelet's 4 MiB limit at about
    170 GiB; the plugin picks a unit that keeps the list under 1 MiB and says which."""

    def large(self, name, cpuid, epc_mib, unit):
        node = Node(name, os.path.join(CPUID, cpuid))
        try:
            regs = node.kubelet.wait_registrations(3)
            self.assertEqual(set(regs), {EPC, ENCLAVE, PROVISION})
            ch, stub = node.kubelet.plugin(regs[EPC])
            self.addCleanup(ch.close)
            w = Watch(stub)
            first = w.wait_for(lambda r: True, timeout=20)
            w.call.cancel()
            self.assertIsNone(w.error)
            self.assertIsNotNone(first, "no device list through a 4 MiB receive limit")
            self.assertEqual(len(first.devices), epc_mib // unit)
            self.assertLess(first.ByteSize(), 1 << 20)
            self.assertEqual(first.devices[-1].ID, "epc-%d" % (epc_mib // unit - 1))
            req = api_pb2.AllocateRequest(container_requests=[api_pb2.ContainerAllocateRequest(
                devices_ids=["epc-0", "epc-1", "epc-%d" % (epc_mib // unit - 1)])])
            got = stub.Allocate(req, timeout=5).container_responses[0]
            self.assertEqual(got.envs["SGX_EPC_MIB"], str(3 * unit))  # devices times the unit
            with open(node.nfd) as f:
                features = f.read()
            self.assertIn("kubetee.io/sgx.epc-bytes=%d\n" % (epc_mib << 20), features)
            self.assertIn("kubetee.io/sgx.epc-unit-mib=%d\n" % unit, features)
            self.assertIsNotNone(wait_http(node.port, "/readyz", 200))
            m = node.metrics()
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_device_unit_mib", resource=EPC), unit)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_devices", resource=EPC), epc_mib // unit)
        finally:
            rc, out = node.stop()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"event=dp\.epc_unit unit_mib=%d chosen=auto epc_mib=%d devices=%d list_bytes=\d+"
                         % (unit, epc_mib, epc_mib // unit))

    def test_256_gib(self):
        self.large("256g", "sgx2-epc-256g.txt", 256 << 10, 8)

    def test_512_gib(self):
        self.large("512g", "sgx2-epc-512g.txt", 512 << 10, 16)

    def test_a_list_over_kubelets_limit_is_an_error_logged_counted_and_not_ready(self):
        node = Node("256g-unit1", os.path.join(CPUID, "sgx2-epc-256g.txt"), "--epc-unit-mib", "1")
        try:
            regs = node.kubelet.wait_registrations(3)
            self.assertIn(EPC, regs)
            ch, stub = node.kubelet.plugin(regs[EPC])
            self.addCleanup(ch.close)
            w = Watch(stub)
            w.thread.join(20)  # the stream ends at once, with no list
            self.assertTrue(w.updates.empty())
            self.assertIsNotNone(w.error, "the stream ended with OK")
            self.assertNotEqual(w.error.code(), grpc.StatusCode.OK)
            self.assertIn("over kubelet's limit", w.error.details())
            self.assertIsNotNone(wait_http(node.port, "/readyz", 503))
            self.assertEqual(prom.value(node.metrics(), "kubetee_sgx_dp_list_failures_total", resource=EPC), 1)
            # the other resources are served as usual
            ch2, stub2 = node.kubelet.plugin(regs[ENCLAVE])
            self.addCleanup(ch2.close)
            w2 = Watch(stub2)
            self.assertIsNotNone(w2.wait_for(lambda r: len(r.devices) == 20))
            w2.call.cancel()
        finally:
            rc, out = node.stop()
        self.assertEqual(rc, 0, out)
        self.assertIn("event=dp.list_too_large resource=alibabacloud.com/sgx_epc_MiB", out)
        self.assertRegex(out, r"level=error event=dp\.epc_unit unit_mib=1 chosen=flag")

    def test_bad_units_refused(self):
        for bad in ("0", "-1", "+2", "2k", "010", " 4", "99999999"):
            p = subprocess.run([PLUGIN, "--epc-unit-mib", bad], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("--epc-unit-mib", p.stderr, bad)


class ConfigTest(unittest.TestCase):
    def test_resource_names_kubelet_would_refuse_are_refused_at_start(self):
        for flag, bad in (("--epc-resource", "sgx_epc"), ("--aesm-resource", "aesm"), ("--enclave-resource", "kubernetes.io/sgx"),
                          ("--provision-resource", "Example.com/provision"), ("--epc-resource", "a.com/-x"),
                          ("--epc-resource", "requests.a.com/x"), ("--epc-resource", "a.com/b/c"),
                          ("--epc-resource", "a.com/" + "x" * 64)):
            self.assertFalse(is_extended_resource_name(bad), bad)
            p = subprocess.run([PLUGIN, flag, bad], capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("kubelet would refuse it", p.stderr, bad)
        for good in (EPC, ENCLAVE, PROVISION, AESM, "sgx.intel.com/epc", "a.b/X_y.z-1"):
            self.assertTrue(is_extended_resource_name(good), good)


class PathsTest(unittest.TestCase):
    def test_a_missing_configured_path_is_logged_and_counted(self):
        """Item 2."""
        kdir = os.path.join(WORK, "kubelet-paths")
        os.makedirs(kdir)
        kubelet = Kubelet(kdir)
        port = free_port()
        root = os.path.join(WORK, "no-such-dev")
        nfd = os.path.join(WORK, "no-such-dir", "sgx")
        aesm = os.path.join(WORK, "no-such-aesmd")
        proc = start_plugin(kdir, root, os.path.join(CPUID, "sgx1-xeon-e2288g.txt"), "--nfd-features-file", nfd,
                            "--aesm-socket-dir", aesm, "--metrics-address", "127.0.0.1:%d" % port)
        try:
            self.assertIsNotNone(wait_http(port, "/healthz", 200))
            m = prom.parse(http_get(port, "/metrics")[1])
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_absent", option="device-root"), 1)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_missing_total", option="device-root"), 1)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_absent", option="nfd-features-file"), 1)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_absent", option="kubelet-dir"), 0)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_absent", option="aesm-socket-dir"), 1)
            regs = kubelet.wait_registrations(4)
            self.assertIn(AESM, regs)  # advertised, but Unhealthy while there is no aesmd
            ch, stub = kubelet.plugin(regs[AESM])
            self.addCleanup(ch.close)
            w = Watch(stub)
            self.assertIsNotNone(w.wait_for(lambda r: all(d.health == "Unhealthy" for d in r.devices)))
            w.call.cancel()
            os.makedirs(root)  # comes back: seen at the next rescan (SIGHUP)
            open(os.path.join(root, "sgx_enclave"), "w").close()
            proc.send_signal(signal.SIGHUP)
            end = time.time() + 5
            while time.time() < end:
                m = prom.parse(http_get(port, "/metrics")[1])
                if prom.value(m, "kubetee_sgx_dp_path_absent", option="device-root") == 0:
                    break
                time.sleep(0.05)
            self.assertEqual(prom.value(m, "kubetee_sgx_dp_path_absent", option="device-root"), 0)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
            kubelet.stop()
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("event=dp.path_missing option=device-root path=%s want=directory" % root, out)
        self.assertIn("event=dp.path_missing option=nfd-features-file path=%s" % os.path.dirname(nfd), out)
        self.assertIn("event=dp.path_found option=device-root", out)
        self.assertIn("event=dp.path_missing option=aesm-socket-dir path=%s want=directory" % aesm, out)


class KubeletTroubleTest(unittest.TestCase):
    """Item 5: a kubelet directory missing at start, a kubelet that hangs on Register."""

    def test_kubelet_dir_missing_at_start_is_served_once_it_exists(self):
        node = Node("late-dir", os.path.join(CPUID, "sgx1-xeon-e2288g.txt"), kubelet=False, kdir_exists=False)
        try:
            self.assertIsNotNone(wait_http(node.port, "/readyz", 503))
            time.sleep(1)
            os.makedirs(node.kdir)
            node.kubelet = Kubelet(node.kdir)
            regs = node.kubelet.wait_registrations(3, timeout=15)
            self.assertEqual(set(regs), {EPC, ENCLAVE, PROVISION})
            for res in (EPC, ENCLAVE, PROVISION):  # every registered endpoint is served
                ch, stub = node.kubelet.plugin(regs[res])
                self.addCleanup(ch.close)
                self.assertTrue(stub.GetDevicePluginOptions(api_pb2.Empty(), timeout=5).get_preferred_allocation_available)
            self.assertIsNotNone(wait_http(node.port, "/readyz", 200))
        finally:
            rc, out = node.stop()
        self.assertEqual(rc, 0, out)
        self.assertIn("event=dp.path_missing option=kubelet-dir", out)

    def test_a_hung_kubelet_delays_no_health_change(self):
        hang = threading.Event()
        node = Node("hung", os.path.join(CPUID, "sgx1-xeon-e2288g.txt"), hang=hang)
        try:
            end = time.time() + 10
            sock = os.path.join(node.kdir, "kubetee-sgx-enclave.sock")
            while not os.path.exists(sock) and time.time() < end:
                time.sleep(0.05)
            time.sleep(0.3)  # the Register calls are under way and hang
            ch, stub = plugin_channel(node.kdir, "kubetee-sgx-enclave.sock")
            self.addCleanup(ch.close)
            w = Watch(stub)
            self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Healthy"))
            t0 = time.time()
            os.unlink(os.path.join(node.root, "sgx_enclave"))
            self.assertIsNotNone(w.wait_for(lambda r: r.devices[0].health == "Unhealthy", timeout=2.5),
                                 "no Unhealthy update while kubelet hangs")
            self.assertLess(time.time() - t0, 2.5)
            w.call.cancel()
            hang.set()
            self.assertEqual(set(node.kubelet.wait_registrations(3, timeout=10)), {EPC, ENCLAVE, PROVISION})
        finally:
            hang.set()
            rc, out = node.stop()
        self.assertEqual(rc, 0, out)


class EpcLimitTest(unittest.TestCase):
    """Item 7: an EPC grant becomes the container's sgx_epc limit in the misc cgroup,
    through sgx-epc-limit-hook (an OCI createRuntime hook), on a fake cgroupfs tree laid
    out as systemd's cgroup driver lays out a pod's container."""
    SCOPE = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e.slice/cri-containerd-c0ffee.scope"

    @classmethod
    def setUpClass(cls):
        cls.node = Node("epc-limit", os.path.join(CPUID, "sgx1-xeon-e2288g.txt"))
        cls.regs = cls.node.kubelet.wait_registrations(3)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=WORK)
        self.cg = os.path.join(self.dir, "cgroup")
        self.proc = os.path.join(self.dir, "proc")
        self.bundle = os.path.join(self.dir, "bundle")
        os.makedirs(self.cg + self.SCOPE)
        os.makedirs(os.path.join(self.proc, "4242"))
        os.makedirs(self.bundle)
        self.write("cgroup/misc.capacity", "sgx_epc 29360128\n")
        self.write("cgroup" + self.SCOPE + "/misc.max", "sgx_epc max\n")
        self.write("proc/4242/cgroup", "0::%s\n" % self.SCOPE)

    def write(self, rel, text):
        with open(os.path.join(self.dir, rel), "w") as f:
            f.write(text)

    def misc_max(self):
        with open(self.cg + self.SCOPE + "/misc.max") as f:
            return f.read()

    def grant(self, n):
        """What the plugin's Allocate gives a container asking for n EPC devices."""
        ch, stub = self.node.kubelet.plugin(self.regs[EPC])
        self.addCleanup(ch.close)
        req = api_pb2.AllocateRequest(container_requests=[api_pb2.ContainerAllocateRequest(
            devices_ids=["epc-%d" % i for i in range(n)])])
        return stub.Allocate(req, timeout=5).container_responses[0]

    def config(self, annotations, env=()):
        """config.json as the runtime writes it: the grant's annotations, the pod's env."""
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump({"ociVersion": "1.0.2", "process": {"env": list(env)}, "annotations": dict(annotations),
                       "linux": {"cgroupsPath": "kubepods-burstable-pod1f2e.slice:cri-containerd:c0ffee"}}, f)

    def hook(self, state=None, *extra):
        state = state if state is not None else json.dumps(
            {"ociVersion": "1.0.2", "id": "c0ffee", "status": "creating", "pid": 4242, "bundle": self.bundle})
        return subprocess.run([HOOK, "--cgroup-root", self.cg, "--proc-root", self.proc, *extra], input=state,
                              capture_output=True, text=True, timeout=10)

    def test_a_grant_becomes_the_containers_limit(self):
        got = self.grant(16)
        self.assertEqual(got.annotations["kubetee.io/epc-grant-bytes"], str(16 << 20))
        self.config(got.annotations, ["SGX_EPC_MIB=" + got.envs["SGX_EPC_MIB"]])
        p = self.hook()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.misc_max(), "sgx_epc %d\n" % (16 << 20))
        self.assertIn("event=epc_limit.set container=c0ffee cgroup=%s sgx_epc_bytes=%d" % (self.SCOPE, 16 << 20),
                      p.stderr)

    def test_the_pods_own_environment_is_no_grant(self):
        """A pod that sets SGX_EPC_MIB itself gets no limit raised (nor set) by it."""
        self.config({}, ["SGX_EPC_MIB=1000000"])
        p = self.hook()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.misc_max(), "sgx_epc max\n")

    def test_kernel_without_the_sgx_epc_cgroup_is_said_plainly(self):
        self.config(self.grant(4).annotations)
        self.write("cgroup/misc.capacity", "sev 0\nsev_es 0\n")
        p = self.hook()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("event=epc_limit.unsupported container=c0ffee reason=\"misc.capacity has no sgx_epc", p.stderr)
        self.assertIn("enforced=no", p.stderr)
        self.assertEqual(self.misc_max(), "sgx_epc max\n")
        p = self.hook(None, "--require")
        self.assertEqual(p.returncode, 1)
        self.assertIn("event=epc_limit.failed", p.stderr)
        os.unlink(os.path.join(self.cg, "misc.capacity"))  # no misc controller at all
        p = self.hook()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("no cgroup v2 misc controller", p.stderr)
        self.write("cgroup/misc.capacity", "sgx_epc 29360128\n")  # misc not enabled for the pod
        os.unlink(self.cg + self.SCOPE + "/misc.max")
        p = self.hook()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cgroup.subtree_control", p.stderr)
        self.assertFalse(os.path.exists(self.cg + self.SCOPE + "/misc.max"))  # never created

    def test_this_machines_kernel(self):
        """What the real kernel here says (cgroup v1 or no sgx_epc: unsupported, logged)."""
        real = "/sys/fs/cgroup"
        try:
            with open(os.path.join(real, "misc.capacity")) as f:
                has = "sgx_epc " in f.read()
        except OSError:
            has = False
        if has:
            self.skipTest("this kernel has the SGX EPC cgroup: not writing a real limit from a test")
        self.config(self.grant(1).annotations)
        state = json.dumps({"ociVersion": "1.0.2", "id": "self", "status": "creating", "pid": os.getpid(),
                            "bundle": self.bundle})
        p = subprocess.run([HOOK], input=state, capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("event=epc_limit.unsupported container=self", p.stderr)
        self.assertIn("enforced=no", p.stderr)

    def test_bad_input_is_refused_naming_it(self):
        self.config(self.grant(2).annotations)
        good = {"ociVersion": "1.0.2", "id": "c0ffee", "status": "creating", "pid": 4242, "bundle": self.bundle}
        for state, why in (('{"id": "a", "id": "b", "pid": 4242, "bundle": "%s"}' % self.bundle, "duplicate"),
                           (json.dumps(dict(good, pid="4242")), "must be an integer"),
                           (json.dumps(dict(good, pid=0)), "must be an integer"),
                           (json.dumps(dict(good, bundle="rel/dir")), "must be an absolute path"), ("[]", "not a JSON object"),
                           ("{", "OCI state"), ("x" * 70000, "over 64 KiB")):
            p = self.hook(state)
            self.assertEqual(p.returncode, 1, state[:80])
            self.assertIn(why, p.stderr, state[:80])
        for value in ("64Mi", "+1", "0x10", " 1", "01", "", "99999999999999999999"):
            self.config({"kubetee.io/epc-grant-bytes": value})
            p = self.hook()
            self.assertEqual(p.returncode, 1, value)
            self.assertIn("annotation kubetee.io/epc-grant-bytes", p.stderr, value)
        self.config({"kubetee.io/epc-grant-bytes": str(29360128 + 1)})  # over misc.capacity
        p = self.hook()
        self.assertEqual(p.returncode, 1)
        self.assertIn("over the node's sgx_epc capacity", p.stderr)
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            f.write('{"annotations": {"kubetee.io/epc-grant-bytes": "1", "kubetee.io/epc-grant-bytes": "9"}}')
        p = self.hook()
        self.assertEqual(p.returncode, 1)
        self.assertIn("duplicate", p.stderr)
        self.assertEqual(self.misc_max(), "sgx_epc max\n")

    def test_the_cgroup_path_cannot_leave_the_cgroup_root(self):
        """An attack through the path: '..' would reach a file outside the tree."""
        self.config(self.grant(2).annotations)
        outside = os.path.join(self.dir, "misc.max")
        self.write("misc.max", "sgx_epc max\n")
        for text in ("0::/../misc.max/..\n", "0::/a/../../x\n", "0::/./x\n", "0::relative\n", "0::/a//b\n",
                     "0::/\n", "0::/a\n0::/b\n", "1:cpu:/a\n"):
            self.write("proc/4242/cgroup", text)
            p = self.hook()
            self.assertEqual(p.returncode, 1, text)
            self.assertIn("cgroup:", p.stderr, text)
        with open(outside) as f:
            self.assertEqual(f.read(), "sgx_epc max\n")
        # a symlink planted as misc.max is not followed
        self.write("proc/4242/cgroup", "0::%s\n" % self.SCOPE)
        os.unlink(self.cg + self.SCOPE + "/misc.max")
        os.symlink(outside, self.cg + self.SCOPE + "/misc.max")
        p = self.hook()
        self.assertEqual(p.returncode, 1)
        with open(outside) as f:
            self.assertEqual(f.read(), "sgx_epc max\n")


class KubeletLaterTest(unittest.TestCase):
    def test_not_ready_until_kubelet_answers_then_registers_on_retry(self):
        kdir = os.path.join(WORK, "kubelet-later")
        root = os.path.join(WORK, "dev-later")
        os.makedirs(kdir)
        os.makedirs(root)
        open(os.path.join(root, "sgx_enclave"), "w").close()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = start_plugin(kdir, root, os.path.join(CPUID, "sgx1-xeon-e2288g.txt"),
                            "--metrics-address", "127.0.0.1:%d" % port)
        try:
            def readyz():
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=5) as r:
                        return r.status
                except urllib.error.HTTPError as e:
                    return e.code
                except urllib.error.URLError:
                    return None
            end = time.time() + 30  # a wait, not a timing claim: a loaded machine is slow
            while readyz() is None and time.time() < end:
                time.sleep(0.1)
            self.assertEqual(readyz(), 503)  # no kubelet yet: nothing registered
            kubelet = Kubelet(kdir)  # kubelet comes up later; the plugin's retry finds it
            self.assertEqual(set(kubelet.wait_registrations(3, timeout=10)), {EPC, ENCLAVE, PROVISION})
            end = time.time() + 30  # ready once the plugin has seen kubelet's answers
            while readyz() != 200 and time.time() < end:
                time.sleep(0.05)
            self.assertEqual(readyz(), 200)
            kubelet.stop()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0)


class NoSgxTest(unittest.TestCase):
    def test_node_without_sgx_advertises_nothing_stays_up_and_rescans_on_sighup(self):
        kdir = os.path.join(WORK, "kubelet-nosgx")
        root = os.path.join(WORK, "dev-nosgx")
        nfd = os.path.join(WORK, "nfd-nosgx")
        os.makedirs(kdir)
        os.makedirs(root)
        kubelet = Kubelet(kdir)
        cpuid = os.path.join(WORK, "cpuid-now.txt")
        shutil.copy(os.path.join(CPUID, "no-sgx.txt"), cpuid)
        proc = start_plugin(kdir, root, cpuid, "--nfd-features-file", nfd)
        self.assertEqual(kubelet.wait_registrations(1, timeout=3), {})
        self.assertIsNone(proc.poll(), "the plugin exited: no crash loop wanted")
        with open(nfd) as f:
            self.assertIn("kubetee.io/sgx=false", f.read())
        # SGX enabled (say, after a BIOS change) and the plugin told to look again
        shutil.copy(os.path.join(CPUID, "sgx2-xeon-gold-6354.txt"), cpuid)
        proc.send_signal(signal.SIGHUP)
        self.assertEqual(set(kubelet.wait_registrations(3, timeout=10)), {EPC, ENCLAVE, PROVISION})
        with open(nfd) as f:
            self.assertIn("kubetee.io/sgx.epc-mib=4064", f.read())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
        kubelet.stop()
        self.assertEqual(proc.returncode, 0)
        self.assertIn("event=dp.sgx_absent", out)
        self.assertIn("EBX[2]", out)


if __name__ == "__main__":
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
