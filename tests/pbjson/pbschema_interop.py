"""pbschema against an independent implementation: the FileDescriptorProtos kubetee
builds from protobuf-c descriptors, loaded by Python's google.protobuf descriptor_pool,
describe the same messages protoc compiled: the same fields (names, numbers, labels,
types, type names, JSON names, oneofs, maps), and messages serialised by protoc's
classes parse in the pool's and print the same JSON.
(protoc's own FileDescriptorProtos loaded by kubetee are tested by pbjson_interop.py
--schema.)"""
import os
import subprocess
import sys
import tempfile

TOOL, PROTO_DIR = sys.argv[1], sys.argv[2]
WORK = tempfile.mkdtemp(prefix="pbschema-interop-")
protos = [os.path.join(PROTO_DIR, p) for p in ("pbjson_test.proto", "pbjson_other.proto")]
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", WORK] + protos, check=True)
subprocess.run(["protoc", "-I", PROTO_DIR, "--include_imports", "--descriptor_set_out",
                os.path.join(WORK, "protoc.pb")] + protos, check=True)
sys.path.insert(0, WORK)
import pbjson_other_pb2 as other  # noqa: E402
import pbjson_test_pb2 as pb  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402

check = Checks(quiet=True)


subprocess.run([TOOL, "describe", WORK], check=True)
ours = []
i = 0
while os.path.exists(os.path.join(WORK, f"{i}.pb")):
    ours.append(descriptor_pb2.FileDescriptorProto.FromString(open(os.path.join(WORK, f"{i}.pb"), "rb").read()))
    i += 1
check([f.package for f in ours] == ["kt.pbjsontest", "kt.pbjsonother"], f"packages {[f.package for f in ours]}")

pool = descriptor_pool.DescriptorPool()
for f in ours:
    pool.Add(f)  # in order: each file after those it depends on
factory = message_factory.MessageFactory(pool)

theirs = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(open(os.path.join(WORK, "protoc.pb"), "rb").read()).file}


def fields_of(msg, prefix, out):
    """Every message's fields, keyed by full name, as comparable tuples (oneofs by their
    members, since protobuf-c keeps no oneof names)."""
    name = f"{prefix}.{msg.name}"
    oneofs = {}
    for fd in msg.field:
        if fd.HasField("oneof_index"):
            oneofs.setdefault(fd.oneof_index, []).append(fd.number)
    out[name] = (
        sorted((fd.name, fd.number, fd.label, fd.type, fd.type_name, fd.json_name) for fd in msg.field),
        sorted(tuple(v) for v in oneofs.values()),
        msg.options.map_entry,
    )
    for n in msg.nested_type:
        fields_of(n, name, out)
    for e in msg.enum_type:
        out[f"{name}.{e.name}"] = sorted((v.name, v.number) for v in e.value)


def index(files):
    out = {}
    for f in files:
        for m in f.message_type:
            fields_of(m, f.package, out)
        for e in f.enum_type:
            out[f"{f.package}.{e.name}"] = sorted((v.name, v.number) for v in e.value)
    return out


a, b = index(ours), index(theirs.values())
check(sorted(a) == sorted(b), f"types differ: {sorted(set(a) ^ set(b))}")
for name in sorted(set(a) & set(b)):
    check(a[name] == b[name], f"{name} differs:\n  kubetee: {a[name]}\n  protoc:  {b[name]}")

# messages of protoc's classes, read by the pool's classes built from kubetee's files
samples = [
    pb.All(scalars=pb.Scalars(f_int64=-5, f_uint64=2 ** 64 - 1, f_float=1.5, f_string="h\u00e9", f_bytes=b"\x00\xff",
                              f_enum=pb.NEGATIVE),
           r_double=[0.1, float("inf")], items=[pb.Item(name="a", children=[pb.Item(count=3)])],
           labels={"k": "v"}, by_id={-4: pb.Item(name="four")}, counters={7: -7}, flags={True: pb.RED},
           blobs={-1: b"\x01"}, choice_item=pb.Item(count=1), snake_case_name_2=9),
    pb.All(choice_text="t", r_enum=[pb.GREEN, pb.COLOR_UNSPECIFIED]),
    other.Wrapper(item=pb.Item(name="n"), color=pb.RED, all=[pb.All(choice_number=5)],
                  local=other.Wrapper.Local(mode=other.Wrapper.Local.FAST)),
]
for m in samples:
    cls = factory.GetPrototype(pool.FindMessageTypeByName(m.DESCRIPTOR.full_name))
    dyn = cls.FromString(m.SerializeToString())
    check(json_format.MessageToJson(dyn) == json_format.MessageToJson(m), f"{m.DESCRIPTOR.full_name}: JSON differs")
    check(dyn.SerializeToString(deterministic=True) == m.SerializeToString(deterministic=True),
          f"{m.DESCRIPTOR.full_name}: bytes differ")

check.finish()
