#!/usr/bin/python3
"""The deploy/ manifests say what the README promises: the device plugin runs on the
nodes NFD's own SGX rule labels, at system-node-critical priority, with a read-only root
filesystem, no capabilities and resource limits; it mounts every path its flags name and
nothing more (the SGX device nodes as character devices, not the host's /dev); the NFD
rules make sgx.intel.com/epc from the raw feature the plugin writes; the sample pod asks
for EPC and AESM through the webhook's annotation and gets no provision device."""
import os
import posixpath
import sys
import unittest

import yaml

ROOT = sys.argv.pop(1)
SGX_LABEL = "intel.feature.node.kubernetes.io/sgx"
# what the plugin writes after "# +no-label" (tests/integration/device_plugin.py checks it)
EPC_BYTES_FEATURE = "kubetee.io/sgx.epc-bytes"
# the flags whose values are paths, and whether the path itself or its directory is used
PATH_FLAGS = {"--kubelet-dir": False, "--device-root": False, "--aesm-socket-dir": False,
              "--nfd-features-file": True, "--cpuid-file": False}


def load(path):
    with open(os.path.join(ROOT, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def plugin_spec():
    docs = load("deploy/sgx-device-plugin/daemonset.yaml")
    (ds,) = [d for d in docs if d["kind"] == "DaemonSet"]
    return docs, ds["spec"]["template"]["spec"]


def under(path, mount):
    return path == mount or path.startswith(mount.rstrip("/") + "/")


class Manifests(unittest.TestCase):
    def test_daemonset_is_locked_down(self):
        _, spec = plugin_spec()
        self.assertFalse(spec["automountServiceAccountToken"])
        (c,) = spec["containers"]
        sc = c["securityContext"]
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertNotIn("privileged", sc)
        self.assertIn("limits", c["resources"])

    def test_priority_and_nodes_from_nfds_own_rule(self):
        """Item 4: system-node-critical; the selector is a label NFD makes from the CPU and
        kernel (Intel's intel.sgx rule), not one the plugin writes."""
        docs, spec = plugin_spec()
        self.assertEqual(spec["priorityClassName"], "system-node-critical")
        self.assertNotIn("PriorityClass", [d["kind"] for d in docs])
        self.assertEqual(spec["nodeSelector"], {SGX_LABEL: "true"})
        (rule_doc,) = load("deploy/sgx-device-plugin/nfd-rules.yaml")
        self.assertEqual(rule_doc["kind"], "NodeFeatureRule")
        rules = {r["name"]: r for r in rule_doc["spec"]["rules"]}
        sgx = rules["intel.sgx"]
        self.assertEqual(sgx["labels"], {SGX_LABEL: "true"})
        match = {m["feature"]: m["matchExpressions"] for m in sgx["matchFeatures"]}
        self.assertEqual(set(match), {"cpu.cpuid", "cpu.security", "kernel.config"})
        self.assertEqual(match["cpu.cpuid"], {"SGX": {"op": "Exists"}, "SGXLC": {"op": "Exists"}})
        self.assertEqual(match["cpu.security"], {"sgx.enabled": {"op": "IsTrue"}})
        self.assertEqual(match["kernel.config"], {"X86_SGX": {"op": "Exists"}})
        for r in rules.values():  # no rule makes that label from what the plugin writes
            if SGX_LABEL in r.get("labels", {}):
                self.assertNotIn("local.feature", [m["feature"] for m in r["matchFeatures"]], r["name"])

    def test_epc_node_extended_resource_from_the_plugins_feature(self):
        """Item 1's alternative: sgx.intel.com/epc in bytes, through NFD."""
        (rule_doc,) = load("deploy/sgx-device-plugin/nfd-rules.yaml")
        (epc,) = [r for r in rule_doc["spec"]["rules"] if "extendedResources" in r]
        self.assertEqual(epc["extendedResources"], {"sgx.intel.com/epc": "@local.feature." + EPC_BYTES_FEATURE})
        (m,) = epc["matchFeatures"]
        self.assertEqual(m["feature"], "local.feature")
        self.assertIn(EPC_BYTES_FEATURE, m["matchExpressions"])

    def test_mounts_what_its_flags_name_and_only_the_sgx_nodes(self):
        """Item 2: every path a flag names is mounted; the device nodes are CharDevice
        hostPaths of their own, the host's /dev is not mounted."""
        _, spec = plugin_spec()
        (c,) = spec["containers"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = c["volumeMounts"]
        for m in mounts:
            self.assertIn(m["name"], volumes)
        mount_paths = [m["mountPath"] for m in mounts]
        flags = {}
        for a in c["args"]:
            k, _, v = a.partition("=")
            flags[k] = v
        self.assertIn("--aesm-socket-dir", flags)
        for flag, use_dir in PATH_FLAGS.items():
            if flag not in flags or flag == "--device-root":
                continue
            path = posixpath.dirname(flags[flag]) if use_dir else flags[flag]
            self.assertTrue(any(under(path, mp) for mp in mount_paths), "%s=%s is not mounted" % (flag, path))
        for m in mounts:
            hp = volumes[m["name"]].get("hostPath")
            self.assertIsNotNone(hp, m["name"])
            self.assertNotIn(hp["path"].rstrip("/"), ("/dev", "", "/"), "the host's %s is mounted" % hp["path"])
            if under(hp["path"], "/dev"):
                self.assertEqual(hp["type"], "CharDevice", hp)
                self.assertEqual(m["mountPath"], hp["path"])  # the plugin hands kubelet host paths
                self.assertTrue(m.get("readOnly"))
        nodes = sorted(volumes[m["name"]]["hostPath"]["path"] for m in mounts
                       if under(volumes[m["name"]]["hostPath"]["path"], "/dev"))
        self.assertEqual(nodes, ["/dev/sgx_enclave", "/dev/sgx_provision"])
        self.assertEqual(flags["--device-root"], "/dev")
        aesm = [m for m in mounts if m["mountPath"] == flags["--aesm-socket-dir"]]
        self.assertEqual(len(aesm), 1)
        self.assertTrue(aesm[0].get("readOnly"))

    def test_epc_limit_hook_runs_for_epc_grants_at_create_runtime(self):
        """Item 7: CRI-O's hooks.d entry runs sgx-epc-limit-hook for containers that carry
        the annotation the plugin's EPC grants add."""
        import json
        import re
        with open(os.path.join(ROOT, "deploy/sgx-device-plugin/oci-hooks.d/kubetee-sgx-epc-limit.json")) as f:
            hook = json.load(f)
        self.assertEqual(hook["stages"], ["createRuntime"])
        self.assertEqual(posixpath.basename(hook["hook"]["path"]), "sgx-epc-limit-hook")
        (pattern,) = hook["when"]["annotations"]
        self.assertTrue(re.search(pattern, "kubetee.io/epc-grant-bytes"))
        self.assertFalse(re.search(pattern, "kubetee.io/epc-grant-bytes-not"))
        self.assertNotIn("--require", hook["hook"]["args"])

    def test_sample_pod_requests_epc_and_aesm_by_annotation_not_provision(self):
        (pod,) = load("deploy/sgx-device-plugin/sample-pod.yaml")
        self.assertEqual(pod["metadata"]["annotations"]["sgx.intel.com/quote-provider"], "aesmd")
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        self.assertGreater(limits["alibabacloud.com/sgx_epc_MiB"], 0)
        self.assertNotIn("sgx.intel.com/provision", limits)
        self.assertNotIn("volumes", pod["spec"])  # the webhook adds what the annotation asks for
        self.assertTrue(pod["spec"]["containers"][0]["securityContext"]["runAsNonRoot"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
