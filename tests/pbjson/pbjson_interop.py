"""pbjson against an independent implementation: Python's google.protobuf json_format
(Debian's python3-protobuf), over protoc-generated Python code for the same .proto.

1. Random messages of every field type, serialised by Python, printed as JSON by kubetee:
   the JSON equals json_format's MessageToJson as a JSON value, and json_format.Parse of
   it gives back the same message.
2. json_format's JSON of the same messages (JSON names, and .proto names) read by
   kubetee: the wire bytes parse in Python to the same message.
3. Inputs json_format refuses are refused by kubetee too."""
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile

TOOL, PROTO = sys.argv[1], sys.argv[2]
# --schema: kubetee maps with descriptors it loaded from protoc's FileDescriptorProtos
# (pbschema) instead of the ones protoc-c compiled in.
SCHEMA = "--schema" in sys.argv[3:]
WORK = tempfile.mkdtemp(prefix="pbjson-interop-")
subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--python_out", WORK, PROTO], check=True)
sys.path.insert(0, WORK)
import pbjson_test_pb2 as pb  # noqa: E402
from google.protobuf import descriptor_pb2, json_format  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from checks import Checks  # noqa: E402

TOOL_ARGS = []
if SCHEMA:
    SCHEMA_DIR = tempfile.mkdtemp(prefix="pbjson-schema-")
    subprocess.run(["protoc", "-I", os.path.dirname(PROTO), "--descriptor_set_out",
                    os.path.join(SCHEMA_DIR, "set.pb"), PROTO], check=True)
    fds = descriptor_pb2.FileDescriptorSet.FromString(open(os.path.join(SCHEMA_DIR, "set.pb"), "rb").read())
    paths = []
    for i, f in enumerate(fds.file):
        paths.append(os.path.join(SCHEMA_DIR, f"{i}.pb"))
        with open(paths[-1], "wb") as out:
            out.write(f.SerializeToString())
    TOOL_ARGS = ["--schema"] + paths + ["--"]

rnd = random.Random(1107)
check = Checks(quiet=True)


def rand_text():
    alphabet = ["a", "Z", "0", " ", '"', "\\", "/", "\n", "\t", "\x01", "\x1f", "\x7f", "\u00e9",
                "\u2028", "\uffff", "\U0001f600", "\U0010ffff"]
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 8)))


def rand_int(bits, signed):
    edges = [0, 1, -1, 2 ** (bits - 1) - 1, -(2 ** (bits - 1)), 2 ** bits - 1, 2 ** 53, 2 ** 53 + 1]
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    v = rnd.choice(edges) if rnd.random() < 0.4 else rnd.randint(lo, hi)
    return min(max(v, lo), hi)


def rand_double():
    return rnd.choice([0.0, -0.0, 1.0, -2.5, 0.1, 1e300, -1e-300, 5e-324, float("inf"), float("-inf"),
                       float("nan"), rnd.uniform(-1e6, 1e6), rnd.random(), 2.0 ** 70])


def rand_float():
    v = rnd.choice([0.0, 1.5, -0.1, 3.4e38, 1e-45, float("inf"), float("nan"), rnd.uniform(-1e4, 1e4)])
    return struct.unpack("<f", struct.pack("<f", v))[0]


COLORS = [pb.COLOR_UNSPECIFIED, pb.RED, pb.GREEN, pb.NEGATIVE]


def fill_scalars(s):
    s.f_int32 = rand_int(32, True)
    s.f_int64 = rand_int(64, True)
    s.f_uint32 = rand_int(32, False)
    s.f_uint64 = rand_int(64, False)
    s.f_sint32 = rand_int(32, True)
    s.f_sint64 = rand_int(64, True)
    s.f_fixed32 = rand_int(32, False)
    s.f_fixed64 = rand_int(64, False)
    s.f_sfixed32 = rand_int(32, True)
    s.f_sfixed64 = rand_int(64, True)
    s.f_float = rand_float()
    s.f_double = rand_double()
    s.f_bool = rnd.random() < 0.5
    s.f_string = rand_text()
    s.f_bytes = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 9)))
    s.f_enum = rnd.choice(COLORS)


def fill_item(it, depth):
    if rnd.random() < 0.7:
        it.name = rand_text()
    if rnd.random() < 0.5:
        it.count = rand_int(32, True)
    if depth < 3:
        for _ in range(rnd.randrange(0, 3)):
            fill_item(it.children.add(), depth + 1)


def rand_all():
    m = pb.All()
    maybe = lambda: rnd.random() < 0.6  # noqa: E731
    if maybe():
        fill_scalars(m.scalars)
    n = lambda: rnd.randrange(0, 4)  # noqa: E731
    if maybe():
        m.r_int32.extend(rand_int(32, True) for _ in range(n()))
        m.r_int64.extend(rand_int(64, True) for _ in range(n()))
        m.r_uint64.extend(rand_int(64, False) for _ in range(n()))
        m.r_sint32.extend(rand_int(32, True) for _ in range(n()))
        m.r_fixed64.extend(rand_int(64, False) for _ in range(n()))
        m.r_sfixed32.extend(rand_int(32, True) for _ in range(n()))
        m.r_float.extend(rand_float() for _ in range(n()))
        m.r_double.extend(rand_double() for _ in range(n()))
        m.r_bool.extend(rnd.random() < 0.5 for _ in range(n()))
        m.r_string.extend(rand_text() for _ in range(n()))
        m.r_bytes.extend(os.urandom(rnd.randrange(0, 6)) for _ in range(n()))
        m.r_enum.extend(rnd.choice(COLORS) for _ in range(n()))
    for _ in range(n()):
        fill_item(m.items.add(), 0)
    if maybe():
        fill_item(m.item, 0)
    if maybe():
        for _ in range(n()):
            m.labels[rand_text()] = rand_text()
        for _ in range(n()):
            fill_item(m.by_id[rand_int(32, True)], 2)
        for _ in range(n()):
            m.counters[rand_int(64, False)] = rand_int(64, True)
        for _ in range(n()):
            m.flags[rnd.random() < 0.5] = rnd.choice(COLORS)
        for _ in range(n()):
            m.blobs[rand_int(64, True)] = os.urandom(rnd.randrange(0, 5))
    c = rnd.randrange(4)
    if c == 1:
        m.choice_text = rand_text()
    elif c == 2:
        m.choice_number = rand_int(64, True)
    elif c == 3:
        fill_item(m.choice_item, 1)
    if maybe():
        m.snake_case_name_2 = rand_int(32, True)
    return m


def same(a, b):
    return a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


def same_json(a, b):
    """JSON values compared as values: NaN equals NaN (as the string "NaN"), 1 equals 1.0,
    and a float field's number equals another spelling of the same 32-bit float (Python
    prints at least 6 digits, kubetee the fewest that read back)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if a == b and math.copysign(1, a) == math.copysign(1, b):
            return True
        try:
            return struct.pack("<f", a) == struct.pack("<f", b)
        except OverflowError:
            return False
    return type(a) == type(b) and a == b


def run(mode):
    subprocess.run([TOOL] + TOOL_ARGS + [mode, WORK], check=True)


messages = {}
for i in range(300):
    m = rand_all()
    messages[f"m{i}.All"] = m
for i in range(60):
    s = pb.Scalars()
    fill_scalars(s)
    messages[f"s{i}.Scalars"] = s
# one each: an enum number the enum does not name prints as that number, on both sides
odd = pb.Scalars(f_enum=7)
messages["enum7.Scalars"] = odd

# 1. Python's bytes -> kubetee's JSON
for name, m in messages.items():
    with open(os.path.join(WORK, name + ".bin"), "wb") as f:
        f.write(m.SerializeToString())
run("to-json")
for name, m in messages.items():
    path = os.path.join(WORK, name + ".c.json")
    if not os.path.exists(path):
        check(False, f"{name}: kubetee refused to print: {open(os.path.join(WORK, name + '.c.err')).read()}")
        continue
    ours = open(path).read()
    theirs = json_format.MessageToJson(m)
    check(same_json(json.loads(ours), json.loads(theirs)),
          f"{name}: JSON differs\n  kubetee: {ours}\n  python:  {theirs}")
    back = type(m)()
    try:
        json_format.Parse(ours, back)
        check(same(back, m), f"{name}: json_format reads kubetee's JSON as another message")
    except json_format.ParseError as e:
        check(False, f"{name}: json_format refuses kubetee's JSON: {e}\n  {ours}")

# 2. json_format's JSON (both name styles) -> kubetee's wire bytes
for f in os.listdir(WORK):
    if f.endswith(".json") or f.endswith(".err"):
        os.unlink(os.path.join(WORK, f))
inputs = {}
for name, m in messages.items():
    if name == "enum7.Scalars":
        continue  # kubetee refuses enum numbers the enum does not name (checked below)
    inputs[name] = m
    inputs["p" + name] = m
    with open(os.path.join(WORK, name + ".json"), "w") as f:
        f.write(json_format.MessageToJson(m))
    with open(os.path.join(WORK, "p" + name + ".json"), "w") as f:
        f.write(json_format.MessageToJson(m, preserving_proto_field_name=True))
run("from-json")
for name, m in inputs.items():
    path = os.path.join(WORK, name + ".c.bin")
    if not os.path.exists(path):
        check(False, f"{name}: kubetee refused json_format's JSON: {open(os.path.join(WORK, name + '.c.err')).read()}")
        continue
    back = type(m)()
    back.ParseFromString(open(path, "rb").read())
    check(same(back, m), f"{name}: kubetee's wire bytes are another message")

# 3. what json_format refuses, kubetee refuses
for f in os.listdir(WORK):
    if f.endswith(".json") or f.endswith(".err") or f.endswith(".bin"):
        os.unlink(os.path.join(WORK, f))
bad = [
    ("All", '{"nope": 1}'),
    ("All", '{"rInt32": [1, "x"]}'),
    ("All", '{"choiceText": "a", "choiceNumber": "1"}'),
    ("All", '{"items": {}}'),
    ("All", '{"labels": {"a": 1}}'),
    ("All", '{"byId": {"x": {}}}'),
    ("All", '{"flags": {"yes": "RED"}}'),
    ("Scalars", '{"fInt32": 2147483648}'),
    ("Scalars", '{"fInt32": 1.5}'),
    ("Scalars", '{"fUint32": -1}'),
    ("Scalars", '{"fUint64": "18446744073709551616"}'),
    ("Scalars", '{"fInt64": "9223372036854775808"}'),
    ("Scalars", '{"fFloat": 3.5e38}'),
    ("Scalars", '{"fEnum": "BLUE"}'),
    ("Scalars", '{"fBool": "yes"}'),
    ("Scalars", '{"fBytes": "A"}'),
    ("Scalars", '{"fString": 5}'),
    ("Scalars", '{"fDouble": "one"}'),
    ("Item", '{"name": "a", "name": "b"}'),
]
for i, (t, text) in enumerate(bad):
    with open(os.path.join(WORK, f"bad{i}.{t}.json"), "w") as f:
        f.write(text)
    try:
        json_format.Parse(text, getattr(pb, t)())
        check(False, f"json_format accepts {text} (the case is wrong)")
    except json_format.ParseError:
        pass
with open(os.path.join(WORK, "enum7.Scalars.json"), "w") as f:
    f.write('{"fEnum": 7}')
run("from-json")
for i, (t, text) in enumerate(bad):
    check(os.path.exists(os.path.join(WORK, f"bad{i}.{t}.c.err")), f"kubetee accepts {text}")
check(os.path.exists(os.path.join(WORK, "enum7.Scalars.c.err")), "kubetee accepts an enum number it does not name")

total = len(messages) + len(inputs) + len(bad) + 1
print(f"{total - len(check.failed)} passed, {len(check.failed)} failed")
sys.exit(1 if check.failed else 0)
