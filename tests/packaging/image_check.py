#!/usr/bin/python3
"""Checks on built images, read from the OCI image layout and from rootfs trees that umoci
unpacked (tests/packaging/images.sh runs them):

  image_check.py config LAYOUT TAG KEY=VALUE...   the image's config holds each KEY=VALUE
                                                  (User, Entrypoint, Label:<name>)
  image_check.py shell-less ROOTFS PROGRAM        no shell or other program but PROGRAM
  image_check.py closure ROOTFS                   every ELF's interpreter and NEEDED
                                                  libraries are inside ROOTFS

Each prints what is wrong, by name, and exits 1; exits 0 (silent) when all holds."""
import json
import os
import re
import subprocess
import sys

SHELLS = ("sh", "bash", "dash", "busybox", "ash", "zsh", "ksh", "csh", "tcsh", "mksh")
LIB_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", "/lib64", "/usr/lib64")


def blob(layout, digest):
    algo, hexd = digest.split(":", 1)
    with open(os.path.join(layout, "blobs", algo, hexd), "rb") as f:
        return json.load(f)


def image_config(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    found = [m for m in index["manifests"]
             if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    if len(found) != 1:
        sys.exit("%d manifests tagged %s in %s" % (len(found), tag, layout))
    manifest = blob(layout, found[0]["digest"])
    return blob(layout, manifest["config"]["digest"])["config"]


def cmd_config(layout, tag, *wants):
    conf = image_config(layout, tag)
    bad = []
    for w in wants:
        key, _, value = w.partition("=")
        if key.startswith("Label:"):
            got = conf.get("Labels", {}).get(key[6:])
        elif key == "Entrypoint":
            got = json.dumps(conf.get("Entrypoint"))
        else:
            got = conf.get(key)
        if got != value:
            bad.append("%s: %s is %r, not %r" % (tag, key, got, value))
    if bad:
        sys.exit("\n".join(bad))


def walk(rootfs):
    for d, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            path = os.path.join(d, name)
            yield "/" + os.path.relpath(path, rootfs), path


def is_elf(path):
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def cmd_shell_less(rootfs, program):
    bad = []
    for rel, path in walk(rootfs):
        if os.path.basename(rel) in SHELLS:
            bad.append("a shell: %s" % rel)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        mode = os.stat(path).st_mode
        if mode & 0o111 and rel != program and not re.search(r"\.so(\.[0-9]+)*$", rel):
            bad.append("an executable besides %s: %s" % (program, rel))
        if mode & 0o6000:
            bad.append("setuid or setgid: %s" % rel)
    if not os.path.isfile(os.path.join(rootfs, program.lstrip("/"))):
        bad.append("%s is missing" % program)
    if bad:
        sys.exit("\n".join(bad))


def inside(rootfs, path):
    """PATH resolved inside ROOTFS (symlinks followed as the image would see them)."""
    parts = [p for p in path.split("/") if p]
    done = "/"
    for _ in range(256):
        if not parts:
            return os.path.join(rootfs, done.lstrip("/"))
        cand = os.path.normpath(os.path.join(done, parts.pop(0)))
        real = os.path.join(rootfs, cand.lstrip("/"))
        if os.path.islink(real):
            t = os.readlink(real)
            parts = [p for p in os.path.normpath(os.path.join("/" if t.startswith("/") else done, t)).split("/") if p] + parts
            done = "/"
        else:
            done = cand
    return None


def cmd_closure(rootfs):
    bad, elves = [], 0
    for rel, path in walk(rootfs):
        if not is_elf(path):
            continue
        elves += 1
        out = subprocess.run(["readelf", "-W", "-d", "-l", path], capture_output=True, text=True).stdout
        for interp in re.findall(r"\[Requesting program interpreter: ([^\]]+)\]", out):
            r = inside(rootfs, interp)
            if not r or not os.path.isfile(r):
                bad.append("%s: its interpreter %s is not in the image" % (rel, interp))
        for lib in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out):
            if not any((lambda r: r and os.path.isfile(r))(inside(rootfs, os.path.join(d, lib))) for d in LIB_DIRS):
                bad.append("%s needs %s, not in the image" % (rel, lib))
    if elves == 0:
        bad.append("no ELF file in %s" % rootfs)
    if bad:
        sys.exit("\n".join(bad))


if __name__ == "__main__":
    cmds = {"config": cmd_config, "shell-less": cmd_shell_less, "closure": cmd_closure}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit("usage: image_check.py config|shell-less|closure ...")
    cmds[sys.argv[1]](*sys.argv[2:])
