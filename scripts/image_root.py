#!/usr/bin/python3
"""A program's root filesystem for a shell-less image, carved out of a Debian rootfs:

  image_root.py ROOTFS OUT [--file PATH]... [--dir PATH]... PROGRAM...

copies each PROGRAM (a path inside ROOTFS), its ELF interpreter and every shared library
it needs, transitively, as the rootfs's own dynamic loader would find them (DT_RUNPATH,
then the directories of ROOTFS/etc/ld.so.conf.d, then /lib and /usr/lib), keeping each
symlink on the way as a symlink (so merged /usr stays merged); then each --file (a file)
and --dir (a directory tree), and writes /etc/passwd and /etc/group holding root and the
user kubetee (65532, no shell, no home) and an empty /tmp. Nothing else: no shell, no
package manager, no coreutils. A library that cannot be found is an error naming it and
the object that needs it, never an image that fails at start."""
import os
import re
import shutil
import subprocess
import sys

USER = "kubetee"
UID = 65532


def die(msg):
    sys.stderr.write("image_root: %s\n" % msg)
    sys.exit(1)


class Root:
    def __init__(self, rootfs, out):
        self.rootfs = os.path.realpath(rootfs)
        self.out = out
        self.copied = set()
        self.dirs = self.ld_dirs()

    def ld_dirs(self):
        dirs = []
        conf_dir = os.path.join(self.rootfs, "etc/ld.so.conf.d")
        if os.path.isdir(conf_dir):
            for name in sorted(os.listdir(conf_dir)):
                if not name.endswith(".conf"):
                    continue
                with open(os.path.join(conf_dir, name)) as f:
                    for line in f:
                        line = line.split("#", 1)[0].strip()
                        if line.startswith("/"):
                            dirs.append(line)
        return dirs + ["/lib", "/usr/lib"]

    def inside(self, path):
        """ROOTFS's view of an absolute path (never outside ROOTFS)."""
        return os.path.join(self.rootfs, path.lstrip("/"))

    def exists(self, path):
        return os.path.lexists(self.resolve(path))

    def resolve(self, path):
        """An absolute path inside ROOTFS with every symlink followed inside ROOTFS."""
        parts = [p for p in path.split("/") if p]
        done = "/"
        for hop in range(256):
            if not parts:
                return self.inside(done)
            head = parts.pop(0)
            cand = os.path.normpath(os.path.join(done, head))
            real = self.inside(cand)
            if os.path.islink(real):
                target = os.readlink(real)
                base = "/" if target.startswith("/") else done
                parts = [p for p in os.path.normpath(os.path.join(base, target)).split("/") if p] + parts
                done = "/"
            else:
                done = cand
        die("too many symlinks under %s" % path)

    def copy(self, path):
        """Copy PATH (absolute, inside ROOTFS) to OUT, symlinks on the way kept as symlinks."""
        parts = [p for p in path.split("/") if p]
        done = "/"
        for hop in range(256):
            if not parts:
                return done
            head = parts.pop(0)
            cand = os.path.normpath(os.path.join(done, head))
            src = self.inside(cand)
            dst = os.path.join(self.out, cand.lstrip("/"))
            if os.path.islink(src):
                target = os.readlink(src)
                if not os.path.lexists(dst):
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    os.symlink(target, dst)
                base = "/" if target.startswith("/") else done
                parts = [p for p in os.path.normpath(os.path.join(base, target)).split("/") if p] + parts
                done = "/"
                continue
            if not os.path.lexists(src):
                die("%s is not in %s" % (cand, self.rootfs))
            if parts:
                if not os.path.isdir(src):
                    die("%s is not a directory in %s" % (cand, self.rootfs))
                os.makedirs(dst, exist_ok=True)
            elif not os.path.lexists(dst):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                if os.path.isdir(src):
                    os.makedirs(dst)
                else:
                    shutil.copy2(src, dst)
            done = cand
        die("too many symlinks under %s" % path)

    def copy_tree(self, path):
        real = self.copy(path)
        src = self.inside(real)
        if not os.path.isdir(src):
            die("--dir %s is not a directory in %s" % (path, self.rootfs))
        for d, subdirs, files in os.walk(src):
            rel = "/" + os.path.relpath(d, self.rootfs)
            for name in sorted(subdirs + files):
                self.copy(os.path.join(rel, name))

    def elf_info(self, real):
        """(interpreter, NEEDED list, RUNPATH dirs) of an ELF file, by readelf."""
        with open(real, "rb") as f:
            if f.read(4) != b"\x7fELF":
                die("%s is not an ELF file" % real[len(self.rootfs):])
        out = subprocess.run(["readelf", "-W", "-d", "-l", real], capture_output=True, text=True)
        if out.returncode != 0:
            die("readelf %s: %s" % (real, out.stderr.strip()))
        interp = re.findall(r"\[Requesting program interpreter: ([^\]]+)\]", out.stdout)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)
        runpath = []
        for m in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[([^\]]+)\]", out.stdout):
            runpath += [p for p in m.split(":") if p.startswith("/")]
        return (interp[0] if interp else None), needed, runpath

    def find_lib(self, name, runpath, who):
        for d in runpath + self.dirs:
            cand = os.path.join(d, name)
            if os.path.isfile(self.resolve(cand)):
                return cand
        die("%s needs %s, which is in none of %s inside %s" % (who, name, ", ".join(runpath + self.dirs), self.rootfs))

    def add_elf(self, path):
        if path in self.copied:
            return
        self.copied.add(path)
        self.copy(path)
        interp, needed, runpath = self.elf_info(self.resolve(path))
        if interp:
            self.add_elf(interp)
        for lib in needed:
            self.add_elf(self.find_lib(lib, runpath, path))

    def accounts(self):
        etc = os.path.join(self.out, "etc")
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write("root:x:0:0:root:/nonexistent:/nonexistent\n")
            f.write("%s:x:%d:%d:kubetee:/nonexistent:/nonexistent\n" % (USER, UID, UID))
        with open(os.path.join(etc, "group"), "w") as f:
            f.write("root:x:0:\n%s:x:%d:\n" % (USER, UID))
        for name in ("passwd", "group"):
            os.chmod(os.path.join(etc, name), 0o644)
        tmp = os.path.join(self.out, "tmp")
        os.makedirs(tmp, exist_ok=True)
        os.chmod(tmp, 0o1777)


def main(argv):
    files, dirs, programs = [], [], []
    args = list(argv)
    if len(args) < 3:
        die("usage: image_root.py ROOTFS OUT [--file PATH]... [--dir PATH]... PROGRAM...")
    rootfs, out = args.pop(0), args.pop(0)
    while args:
        a = args.pop(0)
        if a in ("--file", "--dir"):
            if not args:
                die("%s needs a path" % a)
            (files if a == "--file" else dirs).append(args.pop(0))
        elif a.startswith("-"):
            die("unknown option %s" % a)
        else:
            programs.append(a)
    for p in files + dirs + programs:
        if not p.startswith("/") or "/../" in p + "/":
            die("%s: paths are absolute paths inside the rootfs, without .." % p)
    if not programs:
        die("no program given")
    if os.path.lexists(out):
        die("%s exists: give a new directory" % out)
    os.makedirs(out)
    r = Root(rootfs, out)
    for p in programs:
        r.add_elf(p)
    for p in files:
        r.copy(p)
    for p in dirs:
        r.copy_tree(p)
    r.accounts()


if __name__ == "__main__":
    main(sys.argv[1:])
