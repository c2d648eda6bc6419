"""The store under aecs-server, as the AECS tests' hostile host sees it: the fs backend's
directory or a real etcd's namespace, with one set of operations on both, so each attack
is written once and run on each backend:

  config()                 aecs-server's store settings (YAML lines)
  objects()                {key: sealed value} (what the host holds)
  version(key)             the store's version of key
  host_put(key, v, ver)    the host writes v under key as the store's version ver (fs: its
                           file rewritten with a matching checksum, its counters kept, since
                           fs checks those against its index; etcd: deleted and put ver times)
  host_create(key, v)      (fs, server stopped) a new object file of key, version 1
  host_delete(key)         the host removes key; host_undelete(what it returned) puts it back
  take_all() / put_all(s)  the store emptied (its objects kept aside in s) and put back
  hide(keep) / unhide(h)   every object but those keep() says hidden, and put back"""
import hashlib
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import etcd_lib  # noqa: E402


class Fs:
    name = "fs"

    def __init__(self, work):
        self.root = os.path.join(work, "store")
        self.work = work

    def config(self):
        return f"store: fs:{self.root}\n"

    def stop(self):
        pass

    def _files(self, root=None):
        """{key: (path, header fields, value)} (docs/formats.md: magic 8, u16 key length, u64
        version, u64 create and mod revisions, u64 value length, key, value, SHA-256)."""
        out = {}
        d = os.path.join(root or self.root, "objects")
        for name in os.listdir(d):
            if not name.startswith("o."):
                continue
            b = open(os.path.join(d, name), "rb").read()
            kl = int.from_bytes(b[8:10], "little")
            n = int.from_bytes(b[34:42], "little")
            out[b[42:42 + kl].decode()] = (os.path.join(d, name), b[:42 + kl], b[42 + kl:42 + kl + n])
        return out

    def objects(self, snapshot=None):
        return {k: v for k, (_, _, v) in self._files(snapshot).items()}

    def version(self, key):
        return int.from_bytes(self._files()[key][1][10:18], "little")

    def host_put(self, key, value, version=None):
        path, head, _ = self._files()[key]
        body = head[:34] + len(value).to_bytes(8, "little") + head[42:] + value
        tmp = path + ".host"
        with open(tmp, "wb") as f:
            f.write(body + hashlib.sha256(body).digest())
        os.replace(tmp, path)

    def host_create(self, key, value):
        """A new object file of key, version 1, at the store's revision (aecs-server stopped)."""
        with open(os.path.join(self.root, "revision"), "rb") as f:
            rev = int.from_bytes(f.read()[8:16], "little")
        k = key.encode()
        body = (b"KTSTOBJ1" + len(k).to_bytes(2, "little") + (1).to_bytes(8, "little") + rev.to_bytes(8, "little") +
                rev.to_bytes(8, "little") + len(value).to_bytes(8, "little") + k + value)
        name = "o." + key.replace("_", "__").replace("/", "_s")
        with open(os.path.join(self.root, "objects", name), "wb") as f:
            f.write(body + hashlib.sha256(body).digest())

    def host_delete(self, key):
        path = self._files()[key][0]
        with open(path, "rb") as f:
            kept = (path, f.read())
        os.unlink(path)
        return kept

    def host_undelete(self, kept):
        with open(kept[0], "wb") as f:
            f.write(kept[1])

    def take_all(self):
        aside = self.root + ".real"
        shutil.move(self.root, aside)
        return aside

    def put_all(self, aside):
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.move(aside, self.root)

    def hide(self, keep):
        aside = os.path.join(self.work, "aside", "objects")
        os.makedirs(aside, exist_ok=True)
        for key, (path, _, _) in self._files().items():
            if not keep(key):
                shutil.move(path, os.path.join(aside, os.path.basename(path)))
        return aside

    def unhide(self, aside):
        for name in os.listdir(aside):
            shutil.move(os.path.join(aside, name), os.path.join(self.root, "objects", name))


class Etcd:
    """A namespace of a real etcd (started here: one member, plaintext) or of the one given."""
    name = "etcd"

    def __init__(self, work, etcd=None, ns="aecs-test", extra=""):
        self.etcd = etcd or etcd_lib.Etcd(work)
        self.own = etcd is None
        self.ns = ns
        self.prefix = (ns + "/").encode()
        self.extra = extra

    def config(self):
        return f"store: {self.etcd.url(self.ns)}\n{self.extra}"

    def stop(self):
        if self.own:
            self.etcd.stop()

    def _items(self):
        """{store key: (value, version)}, the namespace's head and its lock key (the running
        aecs-server's, docs/operations.md "One AECS host per store") left out."""
        return {k[len(self.prefix):].decode(): v for k, v in self.etcd.items(self.prefix).items()
                if k not in (self.prefix, self.prefix + b"#lock")}

    def objects(self, snapshot=None):
        items = snapshot if snapshot is not None else self._items()
        return {k: v for k, (v, _) in items.items()}

    def version(self, key):
        return self._items()[key][1]

    def host_put(self, key, value, version):
        self.etcd.put_at_version(self.prefix + key.encode(), value, version)

    def host_delete(self, key):
        kept = (key,) + self._items()[key]
        self.etcd.delete(self.prefix + key.encode())
        return kept

    def host_undelete(self, kept):
        self.host_put(*kept)

    def take_all(self):
        items = self._items()
        for key in items:
            self.host_delete(key)
        return items

    def put_all(self, items):
        for key in self._items():
            self.host_delete(key)
        for key, (value, version) in items.items():
            self.host_put(key, value, version)

    def hide(self, keep):
        hidden = {k: v for k, v in self._items().items() if not keep(k)}
        for key in hidden:
            self.host_delete(key)
        return hidden

    def unhide(self, hidden):
        for key, (value, version) in hidden.items():
            self.host_put(key, value, version)


def backend(kind, work):
    if kind == "fs":
        return Fs(work)
    if kind == "etcd":
        return Etcd(work)
    sys.exit(f"unknown store backend {kind!r} (fs or etcd)")
