#!/usr/bin/python3
"""The Kustomize output of a project `kubetee new` made: one Job, named after the
project, whose pod runs as a non-root user under seccomp RuntimeDefault without a service
account token, and whose one container has a read-only root filesystem, no privilege
escalation, every capability dropped, CPU and memory limits, an SGX enclave device and
EPC from kubetee's sgx-device-plugin, and a writable volume for the sim platform's state."""
import sys

import yaml

rendered, name = sys.argv[1], sys.argv[2]
with open(rendered) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


need([d["kind"] for d in docs] == ["Job"], "one Job, nothing else: %r" % [d["kind"] for d in docs])
job = docs[0]
need(job["metadata"]["name"] == name, "Job named %s" % name)
need(job["metadata"]["labels"].get("app.kubernetes.io/name") == name, "labelled with its name")
pod = job["spec"]["template"]["spec"]
need(pod.get("automountServiceAccountToken") is False, "no service account token")
psc = pod.get("securityContext", {})
need(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0, "non-root user")
need(psc.get("seccompProfile") == {"type": "RuntimeDefault"}, "seccomp RuntimeDefault")
(c,) = pod["containers"]
sc = c.get("securityContext", {})
need(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")
need(sc.get("allowPrivilegeEscalation") is False, "no privilege escalation")
need(sc.get("capabilities") == {"drop": ["ALL"]}, "all capabilities dropped, none added")
need("privileged" not in sc, "not privileged")
limits = c.get("resources", {}).get("limits", {})
for r in ("cpu", "memory", "sgx.intel.com/enclave", "alibabacloud.com/sgx_epc_MiB"):
    need(r in limits, "limit on %s" % r)
need(c["image"] == "%s:0.1.0" % name, "image %s:0.1.0 (kustomize images)" % name)
mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
need("/var/lib/%s" % name in mounts, "a writable volume at /var/lib/%s (KUBETEE_SIM_DIR)" % name)
if problems:
    print("rendered manifests: " + "; ".join(problems))
    sys.exit(1)
print("rendered Job %s: locked down, asks for SGX" % name)
