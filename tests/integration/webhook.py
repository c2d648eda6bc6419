#!/usr/bin/python3
"""sgx-webhook against a kube-apiserver stand-in written in Python: the stand-in makes the
CA and serving certificate with deploy/sgx-webhook/make-certs.sh, trusts only that CA (as
the caBundle tells kube-apiserver to), verifies the server's name as the Service's DNS
name, sends AdmissionReview v1 requests for many pod shapes over TLS, applies the returned
JSON Patch with python3-jsonpatch (an RFC 6902 implementation that is not ours) and checks
the pod that results, and that a re-invocation with it changes nothing."""
import base64
import copy
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import jsonpatch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prom  # noqa: E402

WEBHOOK, ROOT = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
WORK = tempfile.mkdtemp(prefix="kt-wh-")
MAKE_CERTS = os.path.join(ROOT, "deploy/sgx-webhook/make-certs.sh")
SVC = "kubetee-sgx-webhook.kube-system.svc"
EPC, ENCLAVE, PROVISION = "sgx.intel.com/epc", "sgx.intel.com/enclave", "sgx.intel.com/provision"
QP = "sgx.intel.com/quote-provider"


def make_certs(out):
    env = dict(os.environ, EXTRA_SANS="IP:127.0.0.1")
    subprocess.run(["bash", MAKE_CERTS, out], check=True, env=env, stderr=subprocess.DEVNULL)
    return out


class Webhook:
    """One sgx-webhook process on a free port, its log lines collected."""

    started = []

    def __init__(self, certdir, *args, env=None):
        self.served = tempfile.mkdtemp(dir=WORK)
        for f in ("tls.crt", "tls.key"):
            shutil.copy(os.path.join(certdir, f), self.served)
        self.lines, self.cond = [], threading.Condition()
        self.proc = subprocess.Popen(
            [WEBHOOK, "--listen=127.0.0.1:0", "--tls-cert-file=" + self.served + "/tls.crt",
             "--tls-key-file=" + self.served + "/tls.key", "--drain-seconds=3", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
            env=env)
        Webhook.started.append(self.proc)
        threading.Thread(target=self._read, daemon=True).start()
        try:
            m = self.wait_line(r'event=wh.serving port=(\d+)|"event":"wh.serving","port":"(\d+)"')
        except AssertionError:
            self.proc.kill()
            self.proc.wait()
            raise
        self.port = int(m.group(1) or m.group(2))

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, pattern, timeout=10, start=0):
        end = time.time() + timeout
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    m = re.search(pattern, line)
                    if m:
                        return m
                if time.time() > end or self.proc.poll() is not None:
                    raise AssertionError("no log line %r in:\n%s" % (pattern, "\n".join(self.lines)))
                self.cond.wait(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


class Conn(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but checks the certificate for the Service's name, as
    kube-apiserver does when it calls service kubetee-sgx-webhook in kube-system."""

    def __init__(self, port, ctx, name=SVC):
        super().__init__("127.0.0.1", port, context=ctx, timeout=10)
        self.ctx, self.name = ctx, name

    def connect(self):
        self.sock = self.ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), 10),
                                         server_hostname=self.name)


def context(certdir):
    ctx = ssl.create_default_context(cafile=os.path.join(certdir, "ca.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def review(pod, uid="4a3e1c0e-0000-4000-8000-000000000001", **request):
    req = {"uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"},
           "resource": {"group": "", "version": "v1", "resource": "pods"},
           "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
           "name": pod.get("metadata", {}).get("name", ""), "namespace": "default",
           "operation": "CREATE", "userInfo": {"username": "alice"}, "object": pod,
           "oldObject": None, "dryRun": False}
    req.update(request)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def pod(*containers, annotations=None, init=(), volumes=None, name="p"):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
         "spec": {"containers": list(containers)}}
    if annotations is not None:
        p["metadata"]["annotations"] = annotations
    if init:
        p["spec"]["initContainers"] = list(init)
    if volumes is not None:
        p["spec"]["volumes"] = volumes
    return p


def container(name, limits=None, requests=None, **extra):
    c = {"name": name, "image": "registry.example/app:1"}
    if limits is not None or requests is not None:
        c["resources"] = {}
        if limits is not None:
            c["resources"]["limits"] = limits
        if requests is not None:
            c["resources"]["requests"] = requests
    c.update(extra)
    return c


class Base(unittest.TestCase):
    wh = None
    certs = None

    def post(self, body, ctype="application/json", wh=None, ctx=None, raw=False, headers=None):
        wh = wh or self.wh
        c = Conn(wh.port, ctx or context(self.certs))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": ctype, "Accept": "application/json, */*"}
        h.update(headers or {})
        # kube-apiserver appends its timeout to the webhook's path
        c.request("POST", "/mutate?timeout=5s", data, h)
        r = c.getresponse()
        out = r.read()
        c.close()
        if raw:
            return r.status, r.getheader("Content-Type"), out
        self.assertEqual(r.status, 200, out)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        resp = json.loads(out)
        self.assertEqual(resp["apiVersion"], "admission.k8s.io/v1")
        self.assertEqual(resp["kind"], "AdmissionReview")
        self.assertEqual(sorted(resp), ["apiVersion", "kind", "response"])
        return resp["response"]

    def admit(self, p, wh=None):
        """Sends p, checks the uid echo, applies the patch; returns (pod after, ops)."""
        uid = "uid-%d" % id(p)
        resp = self.post(review(p, uid=uid), wh=wh)
        self.assertEqual(resp["uid"], uid)
        self.assertTrue(resp["allowed"], resp)
        if "patch" not in resp:
            self.assertNotIn("patchType", resp)
            return p, []
        self.assertEqual(resp["patchType"], "JSONPatch")
        ops = json.loads(base64.b64decode(resp["patch"], validate=True))
        self.assertTrue(ops)
        for op in ops:
            self.assertEqual(op["op"], "add")  # never replaces or removes what the pod had
        after = jsonpatch.JsonPatch(ops).apply(copy.deepcopy(p))
        # reinvocationPolicy IfNeeded: the mutated pod comes back and must stay as it is
        again = self.post(review(after, uid=uid + "-again"), wh=wh)
        self.assertTrue(again["allowed"])
        self.assertNotIn("patch", again, "a second invocation changed the pod again")
        return after, ops

    def refused(self, body, code=403):
        resp = self.post(body)
        self.assertFalse(resp["allowed"])
        self.assertNotIn("patch", resp)
        self.assertEqual(resp["status"]["code"], code)
        self.assertEqual(resp["status"]["status"], "Failure")
        return resp["status"]["message"]

    def metrics(self, wh=None, ctx=None):
        """/metrics read by Prometheus's own parser (and the grouping rule, prom.py)."""
        c = Conn((wh or self.wh).port, ctx or context(self.certs))
        c.request("GET", "/metrics")
        r = c.getresponse()
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.read().decode()
        c.close()
        return prom.parse(text)


class Mutation(Base):
    def test_pod_without_sgx_is_left_alone(self):
        p = pod(container("web", limits={"cpu": "1", "memory": "64Mi"}))
        after, ops = self.admit(p)
        self.assertEqual(ops, [])
        self.assertEqual(after, p)

    def test_epc_only_gets_enclave_and_nothing_else(self):
        p = pod(container("app", limits={EPC: "512Ki"}, requests={EPC: "512Ki"}),
                container("side", limits={"cpu": "100m"}))
        after, _ = self.admit(p)
        app, side = after["spec"]["containers"]
        self.assertEqual(app["resources"]["limits"], {EPC: "512Ki", ENCLAVE: "1"})
        self.assertEqual(app["resources"]["requests"], {EPC: "512Ki", ENCLAVE: "1"})
        self.assertNotIn("volumeMounts", app)
        self.assertNotIn("env", app)
        self.assertNotIn("volumes", after["spec"])
        self.assertEqual(side, p["spec"]["containers"][1])  # no EPC: untouched

    def test_zero_epc_is_no_epc(self):
        p = pod(container("app", limits={EPC: "0"}))
        self.assertEqual(self.admit(p)[1], [])

    def test_epc_in_requests_only_and_resources_absent(self):
        p = pod(container("a", requests={EPC: "1Mi"}), container("b", limits={EPC: 4096}))
        after, _ = self.admit(p)
        a, b = after["spec"]["containers"]
        self.assertEqual(a["resources"]["limits"], {ENCLAVE: "1"})  # limits was absent
        self.assertEqual(a["resources"]["requests"][ENCLAVE], "1")
        self.assertEqual(b["resources"]["requests"], {ENCLAVE: "1"})

    def test_plugin_epc_resource_counts_too(self):
        p = pod(container("a", limits={"alibabacloud.com/sgx_epc_MiB": "4"}))
        after, _ = self.admit(p)
        self.assertEqual(after["spec"]["containers"][0]["resources"]["limits"][ENCLAVE], "1")

    def test_aesmd_annotation_gets_socket_volume_mount_and_env(self):
        p = pod(container("app", limits={EPC: "1Mi"}), container("log"),
                annotations={QP: "aesmd"})
        after, _ = self.admit(p)
        app, log = after["spec"]["containers"]
        self.assertEqual(after["spec"]["volumes"],
                         [{"name": "aesmd-socket",
                           "hostPath": {"path": "/var/run/aesmd", "type": "Directory"}}])
        self.assertEqual(app["volumeMounts"], [{"name": "aesmd-socket",
                                                "mountPath": "/var/run/aesmd", "readOnly": True}])
        self.assertEqual(app["env"], [{"name": "SGX_AESM_ADDR", "value": "1"}])
        self.assertNotIn(PROVISION, app["resources"]["limits"])  # out-of-process: no provision
        self.assertEqual(log, p["spec"]["containers"][1])  # no EPC, so no AESM either

    def test_aesmd_sidecar_shares_its_socket_in_memory(self):
        # Intel's sidecar: a container named aesmd beside others asking for EPC
        p = pod(container("aesmd", limits={EPC: "1Mi"}), container("app", limits={EPC: "1Mi"}),
                annotations={QP: "aesmd"})
        for args in ((), ("--aesm-delivery=resource",)):
            wh = Webhook(self.certs, *args) if args else None
            try:
                after, _ = self.admit(p, wh=wh)
            finally:
                if wh:
                    wh.stop()
            self.assertEqual(after["spec"]["volumes"],
                             [{"name": "aesmd-socket", "emptyDir": {"medium": "Memory"}}])
            aesmd, app = after["spec"]["containers"]
            self.assertFalse(aesmd["volumeMounts"][0]["readOnly"])  # it makes the socket
            self.assertTrue(app["volumeMounts"][0]["readOnly"])
            self.assertNotIn("kubetee.io/aesm", app["resources"]["limits"])  # not the node's
        # alone, a container named aesmd is an ordinary client of the node's aesmd
        after, _ = self.admit(pod(container("aesmd", limits={EPC: "1Mi"}), annotations={QP: "aesmd"}))
        self.assertIn("hostPath", after["spec"]["volumes"][0])

    def test_existing_volumes_env_and_mounts_are_kept(self):
        env = [{"name": "A", "value": "x"}]
        mounts = [{"name": "data", "mountPath": "/data"}]
        vols = [{"name": "data", "emptyDir": {}}]
        p = pod(container("app", limits={EPC: "1Mi", "cpu": "1"}, requests={"cpu": "1"},
                          env=env, volumeMounts=mounts),
                annotations={QP: "aesmd", "other": "y"}, volumes=vols)
        after, _ = self.admit(p)
        app = after["spec"]["containers"][0]
        self.assertEqual(app["env"], env + [{"name": "SGX_AESM_ADDR", "value": "1"}])
        self.assertEqual(app["volumeMounts"][0], mounts[0])
        self.assertEqual(app["volumeMounts"][1]["mountPath"], "/var/run/aesmd")
        self.assertEqual([v["name"] for v in after["spec"]["volumes"]], ["data", "aesmd-socket"])
        self.assertEqual(app["resources"]["limits"], {EPC: "1Mi", "cpu": "1", ENCLAVE: "1"})
        self.assertEqual(app["resources"]["requests"], {"cpu": "1", ENCLAVE: "1"})

    def test_what_the_pod_set_itself_wins(self):
        # its own SGX_AESM_ADDR, its own mount at /var/run/aesmd, its own aesmd-socket volume
        own_vol = {"name": "aesmd-socket", "emptyDir": {"medium": "Memory"}}
        p = pod(container("app", limits={EPC: "1Mi", ENCLAVE: "1"},
                          requests={EPC: "1Mi", ENCLAVE: "1"},
                          env=[{"name": "SGX_AESM_ADDR", "value": "unix:/x"}],
                          volumeMounts=[{"name": "mine", "mountPath": "/var/run/aesmd"}]),
                annotations={QP: "aesmd"}, volumes=[own_vol])
        after, ops = self.admit(p)
        self.assertEqual(ops, [])
        self.assertEqual(after, p)

    def test_null_fields_are_absent_fields(self):
        p = pod(container("app", limits={EPC: "1Mi"}, env=None, volumeMounts=None),
                annotations={QP: "aesmd"}, volumes=None)
        p["spec"]["containers"][0]["resources"]["requests"] = None
        after, _ = self.admit(p)
        app = after["spec"]["containers"][0]
        self.assertEqual(app["env"], [{"name": "SGX_AESM_ADDR", "value": "1"}])
        self.assertEqual(app["resources"]["requests"], {ENCLAVE: "1"})
        self.assertEqual(len(after["spec"]["volumes"]), 1)

    def test_init_containers(self):
        p = pod(container("main"), init=[container("init-enclave", limits={EPC: "1Mi"}),
                                         container("plain")],
                annotations={QP: "aesmd"})
        after, ops = self.admit(p)
        self.assertTrue(any(o["path"].startswith("/spec/initContainers/0/") for o in ops))
        init0, init1 = after["spec"]["initContainers"]
        self.assertEqual(init0["resources"]["limits"][ENCLAVE], "1")
        self.assertEqual(init0["env"], [{"name": "SGX_AESM_ADDR", "value": "1"}])
        self.assertEqual(init1, p["spec"]["initContainers"][1])
        self.assertEqual(after["spec"]["containers"][0], p["spec"]["containers"][0])
        self.assertEqual(len(after["spec"]["volumes"]), 1)

    def test_resource_names_are_escaped_json_pointers(self):
        p = pod(container("app", limits={EPC: "1Mi"}, requests={EPC: "1Mi"}))
        _, ops = self.admit(p)
        paths = sorted(o["path"] for o in ops)
        self.assertEqual(paths, ["/spec/containers/0/resources/limits/sgx.intel.com~1enclave",
                                 "/spec/containers/0/resources/requests/sgx.intel.com~1enclave"])

    def test_in_process_quoting_gives_the_named_container_provision(self):
        p = pod(container("qe", limits={EPC: "1Mi"}), container("app", limits={EPC: "1Mi"}),
                annotations={QP: "qe"})
        after, _ = self.admit(p)
        qe, app = after["spec"]["containers"]
        self.assertEqual(qe["resources"]["limits"], {EPC: "1Mi", ENCLAVE: "1", PROVISION: "1"})
        self.assertEqual(qe["resources"]["requests"], {ENCLAVE: "1", PROVISION: "1"})
        self.assertNotIn(PROVISION, app["resources"]["limits"])
        self.assertNotIn("volumes", after["spec"])  # no AESM for in-process quoting

    def test_provision_the_annotation_names_is_allowed(self):
        p = pod(container("qe", limits={EPC: "1Mi", PROVISION: "1"}), annotations={QP: "qe"})
        after, _ = self.admit(p)
        self.assertEqual(after["spec"]["containers"][0]["resources"]["limits"][PROVISION], "1")


class Refusals(Base):
    def test_provision_without_annotation_is_refused(self):
        p = pod(container("app", limits={EPC: "1Mi", PROVISION: "1"}))
        msg = self.refused(review(p))
        self.assertIn("'app'", msg)
        self.assertIn(PROVISION, msg)
        self.assertIn("no such annotation", msg)

    def test_provision_in_an_init_container_without_annotation_is_refused(self):
        p = pod(container("main", limits={EPC: "1Mi"}),
                init=[container("sneaky", requests={PROVISION: "1"})])
        self.assertIn("spec.initContainers[0]", self.refused(review(p)))

    def test_provision_for_a_container_the_annotation_does_not_name(self):
        p = pod(container("qe", limits={EPC: "1Mi"}),
                container("other", limits={EPC: "1Mi", PROVISION: "1"}), annotations={QP: "qe"})
        self.assertIn("'other'", self.refused(review(p)))

    def test_provision_with_aesmd_is_refused(self):
        p = pod(container("app", limits={EPC: "1Mi", PROVISION: "1"}), annotations={QP: "aesmd"})
        self.assertIn("'app'", self.refused(review(p)))

    def test_a_pod_may_not_set_the_plugins_epc_grant(self):
        # the EPC limit hook sets misc.max from this annotation: the pod must not choose it
        for c in (container("app", limits={EPC: "1Mi"}), container("plain")):
            p = pod(c, annotations={"kubetee.io/epc-grant-bytes": "99999999999"})
            self.assertIn("kubetee.io/epc-grant-bytes", self.refused(review(p)))
        m = self.metrics()
        self.assertGreaterEqual(
            prom.value(m, "kubetee_webhook_refusals_total", reason="reserved_annotation"), 2)

    def test_annotation_naming_nothing_is_refused(self):
        p = pod(container("app", limits={EPC: "1Mi"}), annotations={QP: "qe"})
        self.assertIn("neither 'aesmd'", self.refused(review(p)))
        p = pod(container("app"), annotations={QP: "aesmd"})
        self.assertIn("no container asks for EPC", self.refused(review(p)))

    def test_bad_pod_fields_are_named(self):
        p = pod(container("app", limits={EPC: "lots"}))
        self.assertIn("spec.containers[0].resources.limits[sgx.intel.com/epc]",
                      self.refused(review(p), code=400))
        p = pod(container("app", limits={EPC: "-1"}))
        self.refused(review(p), code=400)
        p = pod(container("app"))
        p["spec"]["containers"][0]["resources"] = ["x"]
        self.assertIn("is not an object", self.refused(review(p), code=400))
        p = pod(container("app"), annotations={QP: 7})
        self.assertIn("quote-provider is not a string", self.refused(review(p), code=400))
        self.assertIn("no spec", self.refused(review({"metadata": {}}), code=400))

    def test_unknown_api_version_or_kind_is_refused_by_name(self):
        body = review(pod(container("a")))
        body["apiVersion"] = "admission.k8s.io/v1beta1"
        msg = self.refused(body, code=400)
        self.assertIn("admission.k8s.io/v1beta1", msg)
        body = review(pod(container("a")))
        body["kind"] = "AdmissionRequest"
        self.assertIn("AdmissionRequest", self.refused(body, code=400))
        body = review(pod(container("a")))
        body["response"] = {"allowed": True}
        self.assertIn("unexpected member 'response'", self.refused(body, code=400))

    def test_other_kinds_resources_and_operations_are_refused(self):
        p = pod(container("a", limits={EPC: "1Mi"}))
        self.assertIn("Deployment", self.refused(
            review(p, kind={"group": "apps", "version": "v1", "kind": "Deployment"}), code=400))
        self.refused(review(p, subResource="ephemeralcontainers"), code=400)
        self.assertIn("UPDATE", self.refused(review(p, operation="UPDATE"), code=400))

    def test_unanswerable_requests_are_400_with_a_reason(self):
        for body, want in [(b"not json", b"not JSON"), (b"[]", b"request.uid"),
                           (b'{"apiVersion":"admission.k8s.io/v1","request":{}}', b"request.uid"),
                           (b'{"kind":"AdmissionReview","kind":"AdmissionReview","request":'
                            b'{"uid":"x"}}', b"duplicate"),
                           (json.dumps(review(pod(), uid="a\u00e9")).encode(), b"printable"),
                           # a quote would not come back as the same uid (it is escaped)
                           (json.dumps(review(pod(), uid='a"b')).encode(), b"printable ASCII, or ' \" or \\")]:
            status, ctype, out = self.post(body, raw=True)
            self.assertEqual(status, 400, (body, out))
            self.assertEqual(ctype, "text/plain")
            self.assertIn(want, out)

    def test_duplicate_keys_inside_the_pod_are_refused(self):
        body = json.dumps(review(pod(container("a")))).replace(
            '"name": "a"', '"name": "a", "name": "b"').encode()
        status, _, out = self.post(body, raw=True)
        self.assertEqual(status, 400)
        self.assertIn(b"duplicate", out)

    def test_content_type_size_and_method(self):
        body = json.dumps(review(pod(container("a")))).encode()
        self.assertEqual(self.post(body, ctype="text/plain", raw=True)[0], 415)
        self.assertEqual(self.post(body, ctype="application/json; charset=utf-8", raw=True)[0], 200)
        c = Conn(self.wh.port, context(self.certs))  # refused on the header, body unsent
        c.putrequest("POST", "/mutate")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", "70000")
        c.endheaders()
        self.assertEqual(c.getresponse().status, 413)
        c.close()
        c = Conn(self.wh.port, context(self.certs))  # chunked: no length to check first
        c.putrequest("POST", "/mutate")
        c.putheader("Content-Type", "application/json")
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        try:
            for _ in range(20):
                c.send(b"1000\r\n" + b"a" * 0x1000 + b"\r\n")
            c.send(b"0\r\n\r\n")
        except OSError:
            pass
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            c.getresponse()  # the server closes rather than read the rest
        c.close()
        c = Conn(self.wh.port, context(self.certs))
        c.request("GET", "/mutate")
        self.assertEqual(c.getresponse().status, 405)
        c.close()
        m = self.metrics()
        name = "kubetee_webhook_http_refusals_total"
        self.assertGreaterEqual(prom.value(m, name, reason="too_large"), 2)
        self.assertGreaterEqual(prom.value(m, name, reason="content_type"), 1)
        self.assertGreaterEqual(prom.value(m, name, reason="method"), 1)


class Operations(Base):
    def test_tls_trusts_only_the_ca_and_the_service_name(self):
        other = make_certs(os.path.join(WORK, "other-ca"))
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.post(review(pod()), ctx=context(other))
        c = Conn(self.wh.port, context(self.certs), name="evil.kube-system.svc")
        with self.assertRaises(ssl.SSLCertVerificationError):
            c.connect()
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(os.path.join(self.certs, "ca.crt"))
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            old.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with self.assertRaises((ssl.SSLError, OSError)):
            Conn(self.wh.port, old).connect()

    def test_health_ready_and_grouped_metrics(self):
        for path, code in (("/healthz", 200), ("/readyz", 200), ("/nope", 404)):
            c = Conn(self.wh.port, context(self.certs))
            c.request("GET", path)
            self.assertEqual(c.getresponse().status, code)
            c.close()
        before = self.metrics()
        self.refused(review(pod(container("x", limits={PROVISION: "1"}))))
        self.admit(pod(container("y", limits={EPC: "1Mi"})))
        after = self.metrics()

        def delta(name, **labels):
            return prom.value(after, name, **labels) - prom.value(before, name, **labels)

        self.assertEqual(delta("kubetee_webhook_refusals_total", reason="provision_unannotated"), 1)
        self.assertEqual(delta("kubetee_webhook_refusals_total", reason="quote_provider"), 0)
        self.assertEqual(delta("kubetee_webhook_reviews_total", outcome="refused"), 1)
        self.assertEqual(delta("kubetee_webhook_reviews_total", outcome="mutated"), 1)
        self.assertEqual(delta("kubetee_webhook_reviews_total", outcome="unchanged"), 1)  # again
        self.assertEqual(delta("kubetee_webhook_patch_operations_total"), 2)
        self.assertEqual(prom.value(after, "kubetee_webhook_ready"), 1)
        self.assertGreater(prom.value(after, "kubetee_webhook_tls_not_after_seconds"), time.time())

    def test_one_escaped_log_line_per_review(self):
        start = len(self.wh.lines)
        p = pod(container("a", limits={EPC: "1"}), name="evil\n ts=forged \u00e9")
        self.admit(p)  # two reviews: the first and the re-invocation
        m = self.wh.wait_line(r"event=wh.review uid=uid-%d-again " % id(p), start=start)
        lines = [l for l in self.wh.lines[start:] if "event=wh.review" in l]
        self.assertEqual(len(lines), 2)
        self.assertIn(r'pod="evil\x0a ts=forged \xc3\xa9"', m.string)
        self.assertFalse(any(l.startswith(" ts=forged") for l in self.wh.lines[start:]))

    def test_certificate_is_reloaded_when_it_changes(self):
        wh = Webhook(self.certs, "--tls-reload-seconds=1")
        try:
            self.post(review(pod()), wh=wh)
            open(wh.served + "/tls.crt", "w").write("not a certificate\n")
            wh.wait_line("event=wh.tls_reload_failed")
            self.post(review(pod()), wh=wh)  # still serving the previous certificate
            new = make_certs(os.path.join(WORK, "rotated"))
            shutil.copy(new + "/tls.key", wh.served + "/tls.key.tmp")
            shutil.copy(new + "/tls.crt", wh.served + "/tls.crt.tmp")
            os.rename(wh.served + "/tls.key.tmp", wh.served + "/tls.key")
            os.rename(wh.served + "/tls.crt.tmp", wh.served + "/tls.crt")
            wh.wait_line("event=wh.tls_reloaded")
            self.post(review(pod()), wh=wh, ctx=context(new))
            with self.assertRaises(ssl.SSLCertVerificationError):
                self.post(review(pod()), wh=wh, ctx=context(self.certs))
            m = self.metrics(wh=wh, ctx=context(new))
            for result in ("failed", "ok"):
                self.assertGreaterEqual(
                    prom.value(m, "kubetee_webhook_tls_reloads_total", result=result), 1, result)
        finally:
            wh.stop()
        self.assertEqual(wh.proc.returncode, 0)

    def test_a_large_pod_is_read_whole(self):
        # the server's header memory is 16 KiB; a body well past it arrives in pieces
        env = [{"name": "V%04d" % i, "value": "x" * 40} for i in range(600)]
        p = pod(container("app", limits={EPC: "1Mi"}, env=env), annotations={QP: "aesmd"})
        self.assertGreater(len(json.dumps(review(p))), 40000)
        after, _ = self.admit(p)
        app = after["spec"]["containers"][0]
        self.assertEqual(app["env"][:600], env)
        self.assertEqual(app["env"][600:], [{"name": "SGX_AESM_ADDR", "value": "1"}])

    def test_many_connections_from_one_apiserver(self):
        # kube-apiserver is one address with a pool of connections: the default lets it
        # hold many at once; a smaller configured limit refuses the one past it
        conns = [Conn(self.wh.port, context(self.certs)) for _ in range(24)]
        for c in conns:
            c.connect()
        for c in conns:
            c.request("GET", "/healthz")
        self.assertEqual([c.getresponse().status for c in conns], [200] * 24)
        for c in conns:
            c.close()
        wh = Webhook(self.certs, "--connections-per-address=3")
        try:
            held = [Conn(wh.port, context(self.certs)) for _ in range(3)]
            for c in held:
                c.connect()
            with self.assertRaises((ssl.SSLError, OSError)):
                extra = Conn(wh.port, context(self.certs))
                extra.connect()
                extra.request("GET", "/healthz")
                extra.getresponse()
            for c in held:
                c.close()
        finally:
            wh.stop()

    def test_sigterm_finishes_a_request_under_way(self):
        wh = Webhook(self.certs)
        body = json.dumps(review(pod(container("a", limits={EPC: "1Mi"})))).encode()
        c = Conn(wh.port, context(self.certs))
        c.putrequest("POST", "/mutate")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        c.send(body[:100])
        time.sleep(0.3)  # the server has the headers: the request is under way
        wh.proc.send_signal(signal.SIGTERM)
        wh.wait_line("event=wh.draining")
        time.sleep(0.3)
        self.assertIsNone(wh.proc.poll(), "exited with a request under way")
        with self.assertRaises(OSError):  # no new connections while draining
            Conn(wh.port, context(self.certs)).connect()
        c.send(body[100:])
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertIn("patch", json.loads(r.read())["response"])
        c.close()
        self.assertEqual(wh.proc.wait(timeout=10), 0)

    def test_sigterm_drains_and_exits(self):
        wh = Webhook(self.certs)
        c = Conn(wh.port, context(self.certs))
        c.connect()  # an idle keep-alive connection must not hold the exit past the drain
        t0 = time.time()
        wh.proc.send_signal(signal.SIGTERM)
        self.assertEqual(wh.proc.wait(timeout=10), 0)
        self.assertLess(time.time() - t0, 8)
        wh.wait_line("event=wh.stopped")
        c.close()

    def test_aesm_as_a_device_plugin_resource_from_yaml_config(self):
        cfg = os.path.join(WORK, "resource.yaml")
        with open(cfg, "w") as f:
            f.write("aesm-delivery: resource\naesm-resource: kubetee.io/aesm\n"
                    "epc-resources: sgx.intel.com/epc\n")
        wh = Webhook(self.certs, "--config=" + cfg)
        try:
            p = pod(container("app", limits={EPC: "1Mi"}), annotations={QP: "aesmd"})
            after, _ = self.admit(p, wh=wh)
            app = after["spec"]["containers"][0]
            self.assertEqual(app["resources"]["limits"],
                             {EPC: "1Mi", ENCLAVE: "1", "kubetee.io/aesm": "1"})
            self.assertNotIn("volumes", after["spec"])  # no hostPath in the user's pod
            self.assertNotIn("env", app)
            # only the configured EPC resource counts now
            p = pod(container("a", limits={"alibabacloud.com/sgx_epc_MiB": "4"}))
            self.assertEqual(self.admit(p, wh=wh)[1], [])
        finally:
            wh.stop()

    def test_the_sample_pod_in_both_deliveries(self):
        (sample,) = [d for d in yaml.safe_load_all(open(
            os.path.join(ROOT, "deploy/sgx-device-plugin/sample-pod.yaml"))) if d]
        after, _ = self.admit(sample)
        (c,) = after["spec"]["containers"]
        self.assertEqual(c["resources"]["limits"][ENCLAVE], "1")
        self.assertNotIn(PROVISION, c["resources"]["limits"])
        self.assertEqual(c["env"], [{"name": "SGX_AESM_ADDR", "value": "1"}])
        wh = Webhook(self.certs, "--aesm-delivery=resource", "--log-format=json")
        try:
            after, _ = self.admit(sample, wh=wh)
            (c,) = after["spec"]["containers"]
            self.assertEqual(c["resources"]["limits"]["kubetee.io/aesm"], "1")
            self.assertNotIn("volumes", after["spec"])
            # the JSON log: one object per line, the review's fields in it
            line = json.loads(wh.wait_line(r'"event":"wh.review"').string)
            self.assertEqual((line["pod"], line["outcome"], line["ops"]),
                             ("kubetee-hello", "mutated", "3"))
        finally:
            wh.stop()

    def test_bad_settings_are_named(self):
        def run(args, env=None, files=None):
            r = subprocess.run([WEBHOOK, "--tls-cert-file=/x", "--tls-key-file=/y", *args],
                               capture_output=True, text=True, env=env, timeout=10)
            return r.returncode, r.stderr

        cfg = os.path.join(WORK, "bad.yaml")
        for text, want in [("listen: :1\nlisten: :2\n", "twice"),
                           ("colour: blue\n", "'colour'"),
                           ("drain-seconds: [1]\n", "not a plain value"),
                           ("drain-seconds: 010\n", "drain-seconds")]:
            with open(cfg, "w") as f:
                f.write(text)
            rc, err = run(["--config=" + cfg])
            self.assertEqual(rc, 2, err)
            self.assertIn(want, err)
        rc, err = run(["--aesm-delivery=socket"])
        self.assertEqual((rc, "aesm-delivery" in err), (2, True))
        rc, err = run([], env=dict(os.environ, SGX_WH_EPC_RESOURCES="epc"))
        self.assertEqual((rc, "qualified" in err), (2, True))
        rc, err = run(["--bogus=1"])
        self.assertEqual(rc, 2)
        r = subprocess.run([WEBHOOK, "--tls-cert-file=" + self.certs + "/tls.crt",
                            "--tls-key-file=" + make_certs(os.path.join(WORK, "k2")) + "/tls.key",
                            "--listen=127.0.0.1:0"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not the key of", r.stderr)

    def test_make_certs_fills_the_ca_bundle(self):
        import yaml
        with open(os.path.join(self.certs, "mutatingwebhook.yaml")) as f:
            (mwc,) = [d for d in yaml.safe_load_all(f) if d]
        bundle = base64.b64decode(mwc["webhooks"][0]["clientConfig"]["caBundle"])
        self.assertEqual(bundle, open(os.path.join(self.certs, "ca.crt"), "rb").read())
        with open(os.path.join(self.certs, "secret.yaml")) as f:
            secret = yaml.safe_load(f)
        self.assertEqual(secret["type"], "kubernetes.io/tls")
        self.assertEqual(base64.b64decode(secret["data"]["tls.crt"]),
                         open(os.path.join(self.certs, "tls.crt"), "rb").read())


def setUpModule():
    Base.certs = make_certs(os.path.join(WORK, "ca"))
    Base.wh = Webhook(Base.certs, "--max-body-bytes=65536")


def tearDownModule():
    Base.wh.stop()
    for p in Webhook.started:  # whatever a failed test left running
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
