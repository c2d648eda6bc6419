#!/usr/bin/python3
"""The Kustomize output of a project `kubetee new` made: one Job, named after the
project (with --remote: a Deployment and the Service that selects its pods, on the gRPC
port its container names, with readiness and liveness probes on /readyz and /healthz),
whose pod runs as a non-root user under seccomp RuntimeDefault without a service
account token, and whose one container has a read-only root filesystem, no privilege
escalation, every capability dropped, CPU and memory limits, an SGX enclave device and
EPC from kubetee's sgx-device-plugin, and a writable volume for the sim platform's state."""
import sys

import yaml

rendered, name = sys.argv[1], sys.argv[2]
remote = sys.argv[3:] == ["--remote"]
with open(rendered) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
problems = []


def need(cond, what):
    if not cond:
        problems.append(what)


kinds = sorted(d["kind"] for d in docs)
want = ["Deployment", "Service"] if remote else ["Job"]
if kinds != want:
    print("rendered manifests: %s, nothing else: %r" % (" and ".join(want), kinds))
    sys.exit(1)
byk = {d["kind"]: d for d in docs}
job = byk[want[0]]
for d in docs:
    need(d["metadata"]["name"] == name, "%s named %s" % (d["kind"], name))
    need(d["metadata"]["labels"].get("app.kubernetes.io/name") == name, "%s labelled with its name" % d["kind"])
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
if remote:
    labels = job["spec"]["template"]["metadata"]["labels"]
    svc = byk["Service"]["spec"]
    need(svc["selector"] and all(labels.get(k) == v for k, v in svc["selector"].items()),
         "the Service selects the Deployment's pods")
    need(job["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the Deployment selects its pods")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    (sp,) = svc["ports"]
    need(sp["targetPort"] in ports and sp["port"] == ports[sp["targetPort"]] == 7443,
         "the Service's port 7443 is the container's gRPC port")
    need(c["args"] == ["0.0.0.0:7443", "0.0.0.0:7444"], "the host listens on the ports it names")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = c.get(probe, {}).get("httpGet", {})
        need(g.get("path") == path and ports.get(g.get("port")) == 7444, "%s on %s at the http port" % (probe, path))
if problems:
    print("rendered manifests: " + "; ".join(problems))
    sys.exit(1)
print("rendered %s %s: locked down, asks for SGX" % (" and ".join(want), name))
