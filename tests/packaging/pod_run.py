#!/usr/bin/python3
"""Runs rendered Kubernetes workloads with podman, as a kubelet would run their pods, so a
test exercises the manifests themselves (commands, args with $(VAR) expansion, env,
volume mounts, users, read-only roots, dropped capabilities) rather than a copy of them:

  pod_run.py RENDERED.yaml WORKDIR [WORKLOAD:]SOURCE=DIR... -- PODMAN... -- RUN_OPTION...

Every Deployment is started first (its init containers one after another, each to exit 0,
then its containers, detached) and waited for until its container logs WAIT_EVENT; then
every Job runs (init containers, then containers, each to exit 0). All share the first
Deployment's network namespace, which has no network but loopback, and an /etc/hosts
that names each rendered Service NAME.NAMESPACE.svc at 127.0.0.1: one node, Services
on loopback. Volumes: emptyDir and persistentVolumeClaim are fresh directories under
WORKDIR (0777 and owned by the pod's fsGroup, as kubelet makes them); a secret or a
configMap is the directory given as SOURCE=DIR for its name (WORKLOAD:SOURCE=DIR for one
workload's pod alone), copied with the volume's defaultMode and group fsGroup. Images kubetee/X:V are looked up as localhost/kubetee/X:V.
Prints each step and its output; exits 0 only if every step did."""
import os
import re
import shutil
import subprocess
import sys
import time

import yaml

WAIT_EVENT = {"kubetee-collateral": "collateral.serving"}
WAIT_SECONDS = 60


def expand(s, env):
    """Kubernetes' $(VAR) expansion: defined names replaced, $$ escapes, others kept."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), s)


class Pod:
    run_options = []

    def __init__(self, obj, podman, work, sources, hosts, net):
        self.name = obj["metadata"]["name"]
        self.spec = obj["spec"]["template"]["spec"]
        self.podman, self.work, self.hosts, self.net = podman, work, hosts, net
        self.psc = self.spec.get("securityContext", {})
        self.dirs = {}
        fs_group = self.psc.get("fsGroup")
        for v in self.spec.get("volumes", []):
            d = os.path.join(work, self.name, "vol-" + v["name"])
            os.makedirs(d)
            if "emptyDir" in v or "persistentVolumeClaim" in v:
                os.chmod(d, 0o777 if "emptyDir" in v else 0o770)
                if fs_group is not None:
                    os.chown(d, 0, fs_group)
            else:
                src = v.get("secret", {}).get("secretName") or v.get("configMap", {}).get("name")
                src = self.name + ":" + src if self.name + ":" + src in sources else src
                if src not in sources:
                    sys.exit("%s: volume %s needs %s, which was not given" % (self.name, v["name"], src))
                mode = (v.get("secret") or v.get("configMap")).get("defaultMode", 0o644)
                for f in os.listdir(sources[src]):
                    shutil.copyfile(os.path.join(sources[src], f), os.path.join(d, f))
                    os.chmod(os.path.join(d, f), mode | (0o040 if fs_group is not None else 0))
                    if fs_group is not None:
                        os.chown(os.path.join(d, f), 0, fs_group)
            self.dirs[v["name"]] = d

    def args(self, c, detach):
        sc = c.get("securityContext", {})
        uid = sc.get("runAsUser", self.psc.get("runAsUser"))
        gid = sc.get("runAsGroup", self.psc.get("runAsGroup"))
        seccomp = sc.get("seccompProfile", self.psc.get("seccompProfile", {})).get("type")
        if seccomp != "RuntimeDefault" or uid in (None, 0):
            sys.exit("%s/%s: this runner runs only locked-down non-root containers" % (self.name, c["name"]))
        a = ["run", "--name", "%s-%s" % (self.name, c["name"]), "--user", "%d:%d" % (uid, gid)]
        a += self.run_options
        if self.psc.get("fsGroup") is not None:
            a += ["--group-add", str(self.psc["fsGroup"])]
        if sc.get("readOnlyRootFilesystem"):
            a.append("--read-only")
        if sc.get("capabilities", {}).get("drop") == ["ALL"]:
            a += ["--cap-drop", "all"]
        if sc.get("allowPrivilegeEscalation") is False:
            a += ["--security-opt", "no-new-privileges"]
        a += ["--network", "none"] if self.net is None else ["--network", "container:" + self.net]
        a += ["-v", "%s:/etc/hosts:ro" % self.hosts]
        env = {}
        for e in c.get("env", []):
            if "value" not in e:
                sys.exit("%s/%s: env %s: only plain values here" % (self.name, c["name"], e["name"]))
            env[e["name"]] = expand(e["value"], env)
            a += ["-e", "%s=%s" % (e["name"], env[e["name"]])]
        for m in c.get("volumeMounts", []):
            a += ["-v", "%s:%s%s" % (self.dirs[m["name"]], m["mountPath"], ":ro" if m.get("readOnly") else "")]
        image = re.sub(r"^kubetee/", "localhost/kubetee/", c["image"])
        cmd = [expand(x, env) for x in c.get("command", [])]
        rest = [expand(x, env) for x in c.get("args", [])]
        if cmd:
            a += ["--entrypoint", cmd[0]]
            rest = cmd[1:] + rest
        return a + (["--detach"] if detach else ["--rm"]) + [image] + rest

    def run(self, c):
        out = subprocess.run(self.podman + self.args(c, False), capture_output=True, text=True, timeout=300)
        print("== %s/%s: exit %d" % (self.name, c["name"], out.returncode))
        sys.stdout.write(out.stdout + out.stderr)
        return out.returncode == 0

    def start(self, c):
        out = subprocess.run(self.podman + self.args(c, True), capture_output=True, text=True, timeout=120)
        print("== %s/%s: started (exit %d) %s" % (self.name, c["name"], out.returncode, out.stderr.strip()))
        return out.returncode == 0


def main(argv):
    sep = argv.index("--")
    sep2 = argv.index("--", sep + 1)
    rendered, work, given, podman = argv[0], argv[1], argv[2:sep], argv[sep + 1:sep2]
    Pod.run_options = argv[sep2 + 1:]
    sources = dict(g.split("=", 1) for g in given)
    with open(rendered) as f:
        objs = [o for o in yaml.safe_load_all(f) if o]
    hosts = os.path.join(work, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n")
        for o in objs:
            if o["kind"] == "Service":
                f.write("127.0.0.1 %s.%s.svc\n" % (o["metadata"]["name"], o["metadata"]["namespace"]))
    ok, net, started = True, None, []
    try:
        for o in [o for o in objs if o["kind"] == "Deployment"]:
            pod = Pod(o, podman, work, sources, hosts, net)
            ok = all(pod.run(c) for c in pod.spec.get("initContainers", []))
            (c,) = pod.spec["containers"]
            ok = ok and pod.start(c)
            if not ok:
                return 1
            name = "%s-%s" % (pod.name, c["name"])
            started.append(name)
            net = net or name
            deadline = time.time() + WAIT_SECONDS
            while pod.name in WAIT_EVENT:
                out = subprocess.run(podman + ["logs", name], capture_output=True, text=True)
                logs = out.stdout + out.stderr
                if WAIT_EVENT[pod.name] in logs:
                    print("== %s: %s" % (name, WAIT_EVENT[pod.name]))
                    break
                if time.time() > deadline:
                    print("== %s: no %s in %d s:\n%s" % (name, WAIT_EVENT[pod.name], WAIT_SECONDS, logs))
                    return 1
                time.sleep(0.5)
        for o in [o for o in objs if o["kind"] == "Job"]:
            pod = Pod(o, podman, work, sources, hosts, net)
            for c in pod.spec.get("initContainers", []) + pod.spec["containers"]:
                if not pod.run(c):
                    return 1
        return 0 if ok else 1
    finally:
        for name in started:
            subprocess.run(podman + ["logs", name])
            subprocess.run(podman + ["rm", "--force", "--time", "5", name], capture_output=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
