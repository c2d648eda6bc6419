#!/usr/bin/python3
"""Every Kustomize base under deploy/ renders with `kubectl kustomize`, and every pod it
makes is locked down: seccomp RuntimeDefault, and in each container a read-only root
filesystem, no privilege escalation, every capability dropped and none added, not
privileged, CPU and memory limits. An exception must be listed in EXCEPTIONS with the
test that shows why it is needed (none today). The checker itself is shown to catch each
setting missing, so a pass means something."""
import copy
import os
import subprocess
import sys
import unittest

import yaml

ROOT = sys.argv.pop(1)
DEPLOY = os.path.join(ROOT, "deploy")
WORKLOADS = {"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"}
# (kind, name, container, setting) -> why; empty: nothing here needs an exception
EXCEPTIONS = {}


def kustomizations():
    found = []
    for d, _, files in os.walk(DEPLOY):
        if "kustomization.yaml" in files:
            found.append(d)
    return sorted(found)


def render(d):
    out = subprocess.run(["kubectl", "kustomize", d], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("kubectl kustomize %s: %s" % (d, out.stderr.strip()))
    return [o for o in yaml.safe_load_all(out.stdout) if o]


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

    pod_seccomp = spec.get("securityContext", {}).get("seccompProfile", {}).get("type")
    for c in spec.get("initContainers", []) + spec.get("containers", []):
        sc = c.get("securityContext", {})
        cn = c["name"]
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
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
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
        }
        for what, edit in cases.items():
            found = broken(edit)
            self.assertTrue(found, what)
        self.assertIn("privileged", " ".join(broken(cases["privileged"])))

    def test_init_containers_are_checked(self):
        p = copy.deepcopy(LOCKED)
        p["spec"]["initContainers"] = [{"name": "init"}]
        self.assertTrue(any("container init" in f for f in problems(p)))


class Bases(unittest.TestCase):
    def test_every_base_renders_and_is_locked_down(self):
        dirs = kustomizations()
        self.assertTrue(dirs, "no kustomization.yaml under deploy/")
        workloads = 0
        for d in dirs:
            with self.subTest(base=os.path.relpath(d, ROOT)):
                for obj in render(d):
                    if obj["kind"] in WORKLOADS:
                        workloads += 1
                        self.assertEqual(problems(obj), [])
        self.assertGreater(workloads, 0, "the bases render no workload")


if __name__ == "__main__":
    unittest.main(verbosity=2)
