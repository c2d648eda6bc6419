#!/usr/bin/python3
"""The deploy/ manifests say what the README promises: the device plugin runs on SGX
nodes only, with a read-only root filesystem, no capabilities, resource limits and a
priority class; the sample pod asks for EPC and gets no provision device."""
import sys
import unittest

import yaml

ROOT = sys.argv.pop(1)


def load(path):
    with open(ROOT + "/" + path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


class Manifests(unittest.TestCase):
    def test_daemonset_is_locked_down(self):
        docs = {d["kind"]: d for d in load("deploy/sgx-device-plugin/daemonset.yaml")}
        spec = docs["DaemonSet"]["spec"]["template"]["spec"]
        self.assertEqual(spec["priorityClassName"], docs["PriorityClass"]["metadata"]["name"])
        self.assertIn("kubetee.io-sgx", " ".join(spec["nodeSelector"]))
        self.assertFalse(spec["automountServiceAccountToken"])
        (c,) = spec["containers"]
        sc = c["securityContext"]
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertNotIn("privileged", sc)
        self.assertIn("limits", c["resources"])
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        self.assertTrue(mounts["/dev"].get("readOnly"))

    def test_sample_pod_requests_epc_not_provision(self):
        (pod,) = load("deploy/sgx-device-plugin/sample-pod.yaml")
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        self.assertGreater(limits["alibabacloud.com/sgx_epc_MiB"], 0)
        self.assertNotIn("sgx.intel.com/provision", limits)
        self.assertTrue(pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
