#!/usr/bin/python3
"""Every Kustomize base and overlay under deploy/ renders with `kubectl kustomize`, both
with Debian 12's kubectl (kubernetes-client 1.20, what a Debian user gets: installed, or
unpacked by scripts/install-deps.sh beside a kubectl of another package) and with the
machine's, to the same objects; every rendered object is valid against the Kubernetes API
schema (k8s_schema.py: python3-kubernetes's models, generated from the API's OpenAPI
document); and every pod it makes is locked down: seccomp RuntimeDefault, a non-root user,
and in each container a read-only root filesystem, no privilege escalation, every
capability dropped and none added, not privileged, CPU and memory limits. An exception
must be listed in EXCEPTIONS with the reason. The sim overlay is wired: the TA finds the
collateral proxy by a Service that selects its pods on a port they serve, every volume's
ConfigMap, Secret and claim is rendered or is an input the docs name (INPUTS), and every
image is one `make images` builds. The checkers themselves are shown to catch each
setting missing, so a pass means something."""
import copy
import os
import re
import shutil
import subprocess
import sys
import unittest

import yaml

import k8s_schema

ROOT = sys.argv.pop(1)
DEPLOY = os.path.join(ROOT, "deploy")
WORKLOADS = {"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"}
# (kind, name, container, setting) -> why
EXCEPTIONS = {
    ("DaemonSet", "kubetee-sgx-device-plugin", "plugin", "runs as root"):
        "kubelet's device-plugins directory, where it makes its sockets, is root's (0750); "
        "it keeps no capabilities (deploy/sgx-device-plugin/daemonset.yaml)",
}
# ConfigMaps and Secrets the operator makes (not rendered): name -> where the docs say how
INPUTS = {
    "kubetee-sim-root": "deploy/hello, deploy/overlays/sim (kubetee sim export)",
    "kubetee-collateral-root-ca": "deploy/collateral",
    "kubetee-signer-config": "deploy/signer",
    "kubetee-signer-tls": "deploy/signer",
    "kubetee-signer-secret": "deploy/signer",
    "kubetee-sgx-webhook-tls": "deploy/sgx-webhook (make-certs.sh)",
}
DEBIAN_KUBECTL = "/opt/kubetee/kubernetes-client/usr/bin/kubectl"


def kustomizations():
    found = []
    for d, _, files in os.walk(DEPLOY):
        if "kustomization.yaml" in files:
            found.append(d)
    return sorted(found)


def kubectls():
    """Debian's kubectl first (required), then the machine's if it is another."""
    machine = shutil.which("kubectl")
    owner = subprocess.run(["dpkg", "-S", os.path.realpath(machine)], capture_output=True,
                           text=True).stdout if machine else ""
    if owner.startswith("kubernetes-client:"):
        return [machine]
    if not os.access(DEBIAN_KUBECTL, os.X_OK):
        raise AssertionError("Debian's kubectl (kubernetes-client) is neither installed nor at %s: "
                             "run scripts/install-deps.sh" % DEBIAN_KUBECTL)
    return [DEBIAN_KUBECTL] + ([machine] if machine else [])


def render(d, kubectl=None):
    kubectl = kubectl or kubectls()[0]
    out = subprocess.run([kubectl, "kustomize", d], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("%s kustomize %s: %s" % (kubectl, d, out.stderr.strip()))
    return [o for o in yaml.safe_load_all(out.stdout) if o]


ORDERED = {"containers", "initContainers", "command", "args"}


def normal(obj, key=None):
    """An object with its lists of named items sorted where order means nothing."""
    if isinstance(obj, dict):
        return {k: normal(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        items = [normal(v) for v in obj]
        if key not in ORDERED and items and all(isinstance(v, dict) and "name" in v for v in items):
            items.sort(key=lambda v: v["name"])
        return items
    return obj


def rendered_set(objs):
    return sorted((normal(o) for o in objs), key=lambda o: (o["kind"], o["metadata"]["name"]))


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "Job":
        return obj["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def problems(obj):
    """What is not locked down in a workload, as readable strings."""
    kind, name = obj["kind"], obj["metadata"]["name"]
    spec = pod_spec(obj)
    found = []

    def bad(container, setting):
        if (kind, name, container, setting) not in EXCEPTIONS:
            found.append("%s/%s container %s: %s" % (kind, name, container, setting))

    psc = spec.get("securityContext", {})
    pod_seccomp = psc.get("seccompProfile", {}).get("type")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        sc = c.get("securityContext", {})
        cn = c["name"]
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if non_root is not True or uid == 0:
            bad(cn, "runs as root")
        if sc.get("seccompProfile", {}).get("type", pod_seccomp) != "RuntimeDefault":
            bad(cn, "seccomp profile is not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad(cn, "root filesystem is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad(cn, "privilege escalation is not turned off")
        if sc.get("privileged") is True:
            bad(cn, "privileged")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"]:
            bad(cn, "capabilities are not all dropped")
        if caps.get("add"):
            bad(cn, "capabilities added: %s" % caps["add"])
        limits = c.get("resources", {}).get("limits", {})
        for r in ("cpu", "memory"):
            if r not in limits:
                bad(cn, "no %s limit" % r)
    return found


LOCKED = {
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": True,
                            "runAsUser": 65532},
        "containers": [{
            "name": "c",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
            "securityContext": {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
        }],
    },
}


class Checker(unittest.TestCase):
    """The checker finds each missing setting (so the real test can fail)."""

    def test_locked_pod_passes(self):
        self.assertEqual(problems(LOCKED), [])

    def test_each_missing_setting_is_found(self):
        def broken(edit):
            p = copy.deepcopy(LOCKED)
            edit(p["spec"], p["spec"]["containers"][0])
            return problems(p)

        cases = {
            "seccomp": lambda s, c: s["securityContext"].pop("seccompProfile"),
            "root filesystem": lambda s, c: c["securityContext"].pop("readOnlyRootFilesystem"),
            "privilege escalation": lambda s, c: c["securityContext"].update(allowPrivilegeEscalation=True),
            "privileged": lambda s, c: c["securityContext"].update(privileged=True),
            "not all dropped": lambda s, c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
            "capabilities added": lambda s, c: c["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "no cpu limit": lambda s, c: c["resources"]["limits"].pop("cpu"),
            "no memory limit": lambda s, c: c["resources"].pop("limits"),
            "Unconfined": lambda s, c: c["securityContext"].update(seccompProfile={"type": "Unconfined"}),
            "runAsNonRoot": lambda s, c: s["securityContext"].pop("runAsNonRoot"),
            "uid 0": lambda s, c: c["securityContext"].update(runAsUser=0),
            "runAsNonRoot false": lambda s, c: c["securityContext"].update(runAsNonRoot=False),
        }
        for what, edit in cases.items():
            found = broken(edit)
            self.assertTrue(found, what)
        self.assertIn("privileged", " ".join(broken(cases["privileged"])))

    def test_init_containers_are_checked(self):
        p = copy.deepcopy(LOCKED)
        p["spec"]["initContainers"] = [{"name": "init"}]
        self.assertTrue(any("container init" in f for f in problems(p)))


class Schema(unittest.TestCase):
    """The schema check finds what the API server would refuse."""

    def test_locked_pod_is_valid(self):
        p = copy.deepcopy(LOCKED)
        p["apiVersion"] = "v1"
        p["spec"]["containers"][0]["image"] = "x"
        self.assertEqual(k8s_schema.problems(p), [])

    def test_errors_are_found_and_named(self):
        def broken(edit):
            p = copy.deepcopy(LOCKED)
            p["apiVersion"] = "v1"
            edit(p, p["spec"]["containers"][0])
            return " ".join(k8s_schema.problems(p))

        self.assertIn("readOnlyRootFilesytem: no such field",
                      broken(lambda p, c: c["securityContext"].update(readOnlyRootFilesytem=True)))
        self.assertIn("runAsUser: int expected",
                      broken(lambda p, c: c["securityContext"].update(runAsUser="65532")))
        self.assertIn("allowPrivilegeEscalation: bool expected",
                      broken(lambda p, c: c["securityContext"].update(allowPrivilegeEscalation="no")))
        self.assertIn("a list expected", broken(lambda p, c: c["securityContext"]["capabilities"].update(drop="ALL")))
        self.assertIn("`containers`, must not be `None`", broken(lambda p, c: p["spec"].pop("containers")))
        self.assertIn("`name`, must not be `None`", broken(lambda p, c: c.pop("name")))
        self.assertIn("no such kind", broken(lambda p, c: p.update(kind="Pdo")))
        self.assertIn("no such kind", broken(lambda p, c: p.update(apiVersion="apps/v1")))


def rendered_everywhere():
    """{base or overlay: objects}, each rendered by every kubectl, which must agree."""
    out = {}
    for d in kustomizations():
        renders = [render(d, k) for k in kubectls()]
        for other in renders[1:]:
            if rendered_set(other) != rendered_set(renders[0]):
                raise AssertionError("%s renders differently with %s" % (d, kubectls()))
        out[os.path.relpath(d, DEPLOY)] = renders[0]
    return out


class Bases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rendered = rendered_everywhere()

    def test_every_base_renders_and_is_locked_down(self):
        self.assertTrue(self.rendered, "no kustomization.yaml under deploy/")
        for want in ("sgx-device-plugin", "sgx-webhook", "namespace", "collateral", "signer", "hello", "aecs",
                     "overlays/sim", "overlays/sgx"):
            self.assertIn(want, self.rendered)
        workloads = 0
        for d, objs in self.rendered.items():
            with self.subTest(base=d):
                for obj in objs:
                    if obj["kind"] in WORKLOADS:
                        workloads += 1
                        self.assertEqual(problems(obj), [])
        self.assertGreater(workloads, 0, "the bases render no workload")

    def test_every_object_is_valid_against_the_api_schema(self):
        for d, objs in self.rendered.items():
            for obj in objs:
                with self.subTest(base=d, obj="%s/%s" % (obj["kind"], obj["metadata"]["name"])):
                    self.assertEqual(k8s_schema.problems(obj), [])

    def test_every_image_is_one_make_images_builds(self):
        made = {n for n in os.listdir(os.path.join(ROOT, "images")) if n != "runtime"}
        made |= {"kubetee-runtime", "hello"}
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            version = re.search(r"project\(kubetee VERSION ([0-9.]+)", f.read()).group(1)
        for d, objs in self.rendered.items():
            for obj in objs:
                if obj["kind"] not in WORKLOADS:
                    continue
                spec = pod_spec(obj)
                for c in spec.get("initContainers", []) + spec["containers"]:
                    with self.subTest(base=d, container=c["name"]):
                        m = re.fullmatch(r"kubetee/([a-z0-9-]+):([0-9.]+)", c["image"])
                        self.assertTrue(m, c["image"])
                        self.assertIn(m.group(1), made)
                        self.assertEqual(m.group(2), version)

    def test_every_reference_is_rendered_or_a_documented_input(self):
        for d, objs in self.rendered.items():
            have = {(o["kind"], o["metadata"]["name"]) for o in objs}
            for obj in objs:
                if obj["kind"] not in WORKLOADS:
                    continue
                spec = pod_spec(obj)
                refs = []
                for v in spec.get("volumes", []):
                    if "configMap" in v:
                        refs.append(("ConfigMap", v["configMap"]["name"]))
                    if "secret" in v:
                        refs.append(("Secret", v["secret"]["secretName"]))
                    if "persistentVolumeClaim" in v:
                        refs.append(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]))
                for c in spec.get("initContainers", []) + spec["containers"]:
                    for e in c.get("env", []):
                        for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                            if ref in e.get("valueFrom", {}):
                                refs.append((kind, e["valueFrom"][ref]["name"]))
                for kind, name in refs:
                    with self.subTest(base=d, ref="%s/%s" % (kind, name)):
                        if kind == "PersistentVolumeClaim" or name not in INPUTS:
                            self.assertIn((kind, name), have)

    def test_the_sim_ta_finds_the_collateral_proxy_by_service_name(self):
        objs = self.rendered["overlays/sim"]
        (job,) = [o for o in objs if o["kind"] == "Job"]
        spec = pod_spec(job)
        (verify,) = [c for c in spec["containers"] if c["name"] == "verify"]
        env = {e["name"]: e.get("value") for e in verify["env"]}
        self.assertIn("$(KUBETEE_COLLATERAL_URL)", verify["command"])
        m = re.fullmatch(r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc:([0-9]+)", env["KUBETEE_COLLATERAL_URL"])
        self.assertTrue(m, env["KUBETEE_COLLATERAL_URL"])
        name, ns, port = m.group(1), m.group(2), int(m.group(3))
        (svc,) = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == name]
        self.assertEqual(svc["metadata"]["namespace"], ns)
        (sport,) = [p for p in svc["spec"]["ports"] if p["port"] == port]
        selector = svc["spec"]["selector"]
        backends = [o for o in objs if o["kind"] in WORKLOADS and
                    selector.items() <= o["spec"]["template"]["metadata"]["labels"].items() and
                    o["metadata"]["namespace"] == ns]
        self.assertEqual([b["metadata"]["name"] for b in backends], ["kubetee-collateral"])
        ports = [p for c in pod_spec(backends[0])["containers"] for p in c.get("ports", [])]
        self.assertIn(sport["targetPort"], [p["name"] for p in ports] + [p["containerPort"] for p in ports])
        served = [p for p in ports if sport["targetPort"] in (p["name"], p["containerPort"])][0]
        (proxy,) = pod_spec(backends[0])["containers"]
        self.assertIn("--listen=0.0.0.0:%d" % served["containerPort"], proxy["args"])

    def test_aecs_is_one_node_with_its_state_on_a_volume_and_found_by_its_service(self):
        """One replica; its store, audit log and sim state (the keys that seal every object
        on sim) under the volume claim template's mount, so a restart keeps them; the
        enclave the image carries; its Service on the port it listens on, reaching it
        before it is ready (aecsadmin init comes through the Service); SGX asked for."""
        for where in ("aecs", "overlays/sgx"):
            objs = self.rendered[where]
            (sts,) = [o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "kubetee-aecs"]
            self.assertEqual(sts["spec"]["replicas"], 1)
            (claim,) = sts["spec"]["volumeClaimTemplates"]
            self.assertEqual(claim["spec"]["accessModes"], ["ReadWriteOnce"])
            (c,) = pod_spec(sts)["containers"]
            (mount,) = [m for m in c["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
            env = {e["name"]: e["value"] for e in c["env"]}
            on_volume = mount["mountPath"] + "/"
            self.assertTrue(env["KT_AECS_STORE"].startswith("fs:" + on_volume), env)
            for k in ("KT_AECS_AUDIT_FILE", "KT_AECS_SIM_DIR"):
                self.assertTrue(env[k].startswith(on_volume), (k, env[k]))
            self.assertEqual(env["KT_AECS_ENCLAVE"], "/usr/lib/kubetee/aecs/aecs.signed.so")
            self.assertEqual(c["image"].split(":")[0], "kubetee/aecs-server")
            limits = c["resources"]["limits"]
            self.assertIn("sgx.intel.com/enclave", limits)
            self.assertIn("alibabacloud.com/sgx_epc_MiB", limits)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            self.assertEqual(env["KT_AECS_LISTEN"], "0.0.0.0:%d" % ports["aecs"])
            self.assertEqual(env["KT_AECS_HTTP"], "0.0.0.0:%d" % ports["http"])
            self.assertEqual(c["readinessProbe"]["httpGet"]["port"], "http")
            (svc,) = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == sts["spec"]["serviceName"]]
            self.assertEqual(svc["metadata"]["namespace"], sts["metadata"]["namespace"])
            self.assertTrue(svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items())
            self.assertIs(svc["spec"].get("publishNotReadyAddresses"), True)
            (sp,) = svc["spec"]["ports"]
            self.assertEqual((sp["port"], sp["targetPort"]), (7443, "aecs"))

    def test_sgx_resources_only_where_sgx_is(self):
        """The hello base asks for an enclave device and EPC; the sim overlay asks for none,
        and keeps the init steps in their order (sim root, then hello)."""
        def sgx_limits(objs):
            (job,) = [o for o in objs if o["kind"] == "Job"]
            spec = pod_spec(job)
            return [c["name"] for c in spec["initContainers"]], {
                r for c in spec["initContainers"] + spec["containers"]
                for r in c.get("resources", {}).get("limits", {}) if "sgx" in r}

        order, base = sgx_limits(self.rendered["hello"])
        self.assertEqual(base, {"sgx.intel.com/enclave", "alibabacloud.com/sgx_epc_MiB"})
        self.assertEqual(order, ["sim-root", "hello"])
        order, sim = sgx_limits(self.rendered["overlays/sim"])
        self.assertEqual(sim, set())
        self.assertEqual(order, ["sim-root", "hello"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
