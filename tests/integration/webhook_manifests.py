#!/usr/bin/python3
"""deploy/sgx-webhook says what docs/operations.md promises: a v1-only mutating webhook
without side effects whose selectors never match its own pods or namespace, a Service
that reaches the Deployment's HTTPS port, a locked-down Deployment that reads the Secret
make-certs.sh writes, and a kustomization that names files that exist."""
import os
import subprocess
import sys
import tempfile
import unittest

import yaml

ROOT = sys.argv.pop(1)
DIR = os.path.join(ROOT, "deploy/sgx-webhook")


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def matches(selector, labels):
    """A Kubernetes label selector (matchLabels, matchExpressions) against labels."""
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions", []):
        k, op, vals = e["key"], e["operator"], e.get("values", [])
        ok = {"In": k in labels and labels[k] in vals,
              "NotIn": k not in labels or labels[k] not in vals,
              "Exists": k in labels, "DoesNotExist": k not in labels}[op]
        if not ok:
            return False
    return True


class WebhookManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        docs = load(os.path.join(DIR, "deployment.yaml"))
        cls.kinds = {d["kind"]: d for d in docs}
        (cls.mwc,) = load(os.path.join(DIR, "mutatingwebhook.yaml"))
        (cls.wh,) = cls.mwc["webhooks"]

    def test_webhook_configuration(self):
        self.assertEqual(self.mwc["apiVersion"], "admissionregistration.k8s.io/v1")
        wh = self.wh
        self.assertEqual(wh["admissionReviewVersions"], ["v1"])
        self.assertEqual(wh["sideEffects"], "None")
        self.assertEqual(wh["failurePolicy"], "Fail")
        self.assertEqual(wh["reinvocationPolicy"], "IfNeeded")
        self.assertLessEqual(wh["timeoutSeconds"], 10)
        (rule,) = wh["rules"]
        self.assertEqual((rule["operations"], rule["apiGroups"], rule["apiVersions"],
                          rule["resources"]), (["CREATE"], [""], ["v1"], ["pods"]))
        self.assertEqual(wh["clientConfig"]["service"]["path"], "/mutate")
        self.assertNotIn("url", wh["clientConfig"])

    def test_service_reaches_the_deployment(self):
        svc, dep = self.kinds["Service"], self.kinds["Deployment"]
        ref = self.wh["clientConfig"]["service"]
        self.assertEqual((ref["name"], ref["namespace"]),
                         (svc["metadata"]["name"], svc["metadata"]["namespace"]))
        (port,) = [p for p in svc["spec"]["ports"] if p["port"] == ref["port"]]
        pod = dep["spec"]["template"]
        self.assertTrue(matches({"matchLabels": svc["spec"]["selector"]}, pod["metadata"]["labels"]))
        (c,) = pod["spec"]["containers"]
        (cport,) = [p for p in c["ports"] if p["name"] == port["targetPort"]]
        self.assertIn("--listen=:%d" % cport["containerPort"], c["args"])

    def test_never_mutates_itself(self):
        dep = self.kinds["Deployment"]
        ns = {"kubernetes.io/metadata.name": dep["metadata"]["namespace"]}
        labels = dep["spec"]["template"]["metadata"]["labels"]
        # its namespace keeps the webhook's own pods out
        self.assertFalse(matches(self.wh["namespaceSelector"], ns))
        self.assertFalse(matches(self.wh["namespaceSelector"], {"kubernetes.io/metadata.name": "kube-system"}))
        # an ordinary namespace is in, and no pod can label itself out (the refusals
        # would go with it): no objectSelector at all
        self.assertTrue(matches(self.wh["namespaceSelector"], {"kubernetes.io/metadata.name": "default"}))
        self.assertNotIn("objectSelector", self.wh)
        del labels

    def test_deployment_is_locked_down(self):
        spec = self.kinds["Deployment"]["spec"]["template"]["spec"]
        self.assertGreaterEqual(self.kinds["Deployment"]["spec"]["replicas"], 2)
        self.assertFalse(spec["automountServiceAccountToken"])
        self.assertTrue(spec["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(spec["securityContext"]["runAsUser"], 0)
        self.assertNotIn("hostNetwork", spec)
        (c,) = spec["containers"]
        sc = c["securityContext"]
        self.assertTrue(sc["readOnlyRootFilesystem"])
        self.assertFalse(sc["allowPrivilegeEscalation"])
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"]})
        self.assertIn("limits", c["resources"])
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(c[probe]["httpGet"]["scheme"], "HTTPS")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        (vol,) = spec["volumes"]
        (mount,) = c["volumeMounts"]
        self.assertTrue(mount["readOnly"])
        self.assertEqual(mount["name"], vol["name"])
        for f in ("tls.crt", "tls.key"):
            self.assertTrue(any(a.endswith("=" + mount["mountPath"] + "/" + f) for a in c["args"]))
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(["bash", os.path.join(DIR, "make-certs.sh"), out], check=True,
                           stderr=subprocess.DEVNULL)
            (secret,) = load(os.path.join(out, "secret.yaml"))
            (filled,) = load(os.path.join(out, "mutatingwebhook.yaml"))
        self.assertEqual(secret["metadata"]["name"], vol["secret"]["secretName"])
        self.assertEqual(secret["metadata"]["namespace"], self.kinds["Deployment"]["metadata"]["namespace"])
        self.assertTrue(filled["webhooks"][0]["clientConfig"]["caBundle"])
        filled["webhooks"][0]["clientConfig"]["caBundle"] = ""
        self.assertEqual(filled, self.mwc)  # only the caBundle differs

    def test_aesm_resource_is_the_one_the_plugin_serves(self):
        (c,) = self.kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
        self.assertIn("--aesm-delivery=resource", c["args"])
        (want,) = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--aesm-resource=")]
        ds = [d for d in load(os.path.join(ROOT, "deploy/sgx-device-plugin/daemonset.yaml"))
              if d["kind"] == "DaemonSet"][0]
        (plugin,) = ds["spec"]["template"]["spec"]["containers"]
        args = dict(a[2:].split("=", 1) for a in plugin["args"] if "=" in a)
        self.assertTrue(args.get("aesm-socket-dir"), "the plugin serves no AESM resource")
        self.assertEqual(args.get("aesm-resource", "kubetee.io/aesm"), want)

    def test_make_certs_refuses_bad_names(self):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run(["bash", os.path.join(DIR, "make-certs.sh"), out, "Bad_NS"],
                               capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not a DNS label", r.stderr)

    def test_kustomization_names_existing_files(self):
        (k,) = load(os.path.join(DIR, "kustomization.yaml"))
        for r in k["resources"]:
            self.assertTrue(os.path.exists(os.path.join(DIR, r)), r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
