#!/usr/bin/python3
"""sgx-device-plugin against a kubelet stand-in written with Python's grpcio: the
stand-in serves Registration on a temporary kubelet.sock, takes the plugin's
registrations, then connects back and drives ListAndWatch, Allocate and
GetPreferredAllocation. Stubs come from the project's api.proto, generated at test time."""
import os
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

PLUGIN, PROTO, CPUID = sys.argv[1], sys.argv[2], sys.argv[3]
del sys.argv[1:4]
WORK = tempfile.mkdtemp(prefix="kt-dp-")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, "--grpc_out", WORK,
                "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", PROTO], check=True)
sys.path.insert(0, WORK)
import grpc  # noqa: E402
import api_pb2  # noqa: E402
import api_pb2_grpc  # noqa: E402

EPC, ENCLAVE, PROVISION = "alibabacloud.com/sgx_epc_MiB", "sgx.intel.com/enclave", "sgx.intel.com/provision"


class Kubelet(api_pb2_grpc.RegistrationServicer):
    """The kubelet side: Registration on kubelet.sock."""

    def __init__(self, directory):
        self.dir = directory
        self.registrations = queue.Queue()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        api_pb2_grpc.add_RegistrationServicer_to_server(self, self.server)
        self.server.add_insecure_port("unix:" + os.path.join(directory, "kubelet.sock"))
        self.server.start()

    def Register(self, request, context):
        if request.version != "v1beta1":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported version")
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

    def stop(self):
        self.server.stop(0).wait()
        sock = os.path.join(self.dir, "kubelet.sock")
        if os.path.exists(sock):
            os.unlink(sock)

    def plugin(self, registration):
        ch = grpc.insecure_channel("unix:" + os.path.join(self.dir, registration.endpoint))
        return ch, api_pb2_grpc.DevicePluginStub(ch)


def start_plugin(kdir, root, cpuid, *extra):
    return subprocess.Popen([PLUGIN, "--kubelet-dir", kdir, "--device-root", root, "--cpuid-file", cpuid, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class Watch:
    """ListAndWatch in a thread; the latest device list is in .latest."""

    def __init__(self, stub):
        self.updates = queue.Queue()
        self.call = stub.ListAndWatch(api_pb2.Empty())
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for resp in self.call:
                self.updates.put(resp)
        except grpc.RpcError:
            pass

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
        cls.kubelet = Kubelet(cls.kdir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cls.http = "http://127.0.0.1:%d" % s.getsockname()[1]
        cls.proc = start_plugin(cls.kdir, cls.root, os.path.join(CPUID, "sgx1-xeon-e2288g.txt"),
                                "--aesm-socket-dir", cls.aesm, "--nfd-features-file", cls.nfd,
                                "--metrics-address", cls.http[len("http://"):])
        cls.regs = cls.kubelet.wait_registrations(3)

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

    def test_1_registers_three_resources(self):
        self.assertEqual(set(self.regs), {EPC, ENCLAVE, PROVISION})
        for r in self.regs.values():
            self.assertEqual(r.version, "v1beta1")
            self.assertTrue(r.options.get_preferred_allocation_available)
            self.assertTrue(os.path.exists(os.path.join(self.kdir, r.endpoint)))
        with open(self.nfd) as f:
            features = f.read()
        self.assertIn("kubetee.io/sgx=true", features)
        self.assertIn("kubetee.io/sgx.epc-mib=28", features)

    def test_2_list_and_watch(self):
        counts = {EPC: 28, ENCLAVE: 20, PROVISION: 20}
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
        self.assertEqual([(m.host_path, m.container_path, m.read_only) for m in enc.mounts],
                         [(self.aesm, "/var/run/aesmd", True)])
        prov = self.allocate(PROVISION, ["provision-3"])
        self.assertEqual([d.container_path for d in prov.devices], ["/dev/sgx_provision"])
        self.assertEqual(len(prov.mounts), 0)
        epc = self.allocate(EPC, ["epc-0", "epc-1", "epc-27"])
        self.assertEqual([d.container_path for d in epc.devices], ["/dev/sgx_enclave"])
        self.assertEqual(epc.envs["SGX_EPC_MIB"], "3")
        self.assertNotIn("/dev/sgx_provision", [d.container_path for d in epc.devices])

    def test_4_unknown_ids_refused(self):
        for res, ids in ((ENCLAVE, ["enclave-20"]), (ENCLAVE, ["provision-0"]), (EPC, ["epc-28"]),
                         (EPC, ["epc-01"]), (PROVISION, ["../../etc/passwd"]), (ENCLAVE, ["enclave-0", "x"])):
            with self.assertRaises(grpc.RpcError) as e:
                self.allocate(res, ids)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, (res, ids))
            self.assertIn("unknown device ID", e.exception.details())

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
        before = self.get("/metrics")[1]
        self.allocate(PROVISION, ["provision-1"])
        code, after = self.get("/metrics")
        self.assertEqual(code, 200)
        self.assertIn('kubetee_sgx_dp_registered{resource="sgx.intel.com/enclave"} 1', after)
        self.assertIn("kubetee_sgx_epc_bytes 29360128", after)

        def count(text):
            for line in text.splitlines():
                if line.startswith('kubetee_sgx_dp_allocations_total{resource="sgx.intel.com/provision"}'):
                    return float(line.split()[-1])
        self.assertEqual(count(after), count(before) + 1)
        self.assertEqual(self.get("/nope")[0], 404)

    def test_7_kubelet_restart_leads_to_reregistration(self):
        self.kubelet.stop()
        time.sleep(0.2)
        type(self).kubelet = Kubelet(self.kdir)  # kubelet.sock is created anew
        regs = self.kubelet.wait_registrations(3, timeout=10)
        self.assertEqual(set(regs), {EPC, ENCLAVE, PROVISION})
        type(self).regs = regs
        self.assertEqual(len(self.allocate(ENCLAVE, ["enclave-1"]).devices), 1)


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
            end = time.time() + 5
            while readyz() is None and time.time() < end:
                time.sleep(0.1)
            self.assertEqual(readyz(), 503)  # no kubelet yet: nothing registered
            kubelet = Kubelet(kdir)  # kubelet comes up later; the plugin's retry finds it
            self.assertEqual(set(kubelet.wait_registrations(3, timeout=10)), {EPC, ENCLAVE, PROVISION})
            end = time.time() + 5  # ready once the plugin has seen kubelet's answers
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
