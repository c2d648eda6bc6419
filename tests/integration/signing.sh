#!/usr/bin/env bash
# kubetee's signing commands as a developer and a signing officer use them, with
# OpenSSL's command line as the external signer of two-step signing.
set -uo pipefail
kubetee=$1
enclaves=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
trap 'rm -rf "$work"' EXIT

conf=$work/e.conf
printf 'prodid = 3\nsvn = 7\ntcs_count = 2\n' > "$conf"
check "keygen" "$kubetee" keygen --out "$work/key.pem"
check "key is 3072-bit with e=3" bash -c "openssl rsa -in '$work/key.pem' -noout -text | grep -q 'publicExponent: 3 ' && openssl rsa -in '$work/key.pem' -noout -text | grep -q '3072 bit'"
check "key file is private" bash -c "[ \$(stat -c %a '$work/key.pem') = 600 ]"
openssl rsa -in "$work/key.pem" -pubout -out "$work/pub.pem" 2>/dev/null

# one step
check "sign" "$kubetee" sign --enclave "$enclaves/tfftest.so" --config "$conf" --key "$work/key.pem" --out "$work/one.so"
"$kubetee" dump --enclave "$work/one.so" --json > "$work/one.json"
check "dump shows config" grep -q '"prodid":3,"svn":7' "$work/one.json"
mre=$(grep -o '"mrenclave":"[0-9a-f]*"' "$work/one.json")
check "dump shows MRENCLAVE" test -n "$mre"
check "dump says EINIT-ready" grep -q '"einit_ready":true,"einit_rules":\[{"rule":"xfrm","ok":true' "$work/one.json"
check "no EINIT rule fails" bash -c "! grep -q '\"ok\":false' '$work/one.json'"
check "MRENCLAVE replayed from docs/formats.md" /usr/bin/python3 "$here/mrenclave_replay.py" "$enclaves/tfftest.so" "$work/one.json"
# the replay catches a wrong MRENCLAVE (so it can fail)
sed 's/"mrenclave":"./"mrenclave":"x/' "$work/one.json" > "$work/wrong.json"
refuse "replay disagrees with a wrong MRENCLAVE" "replayed MRENCLAVE" /usr/bin/python3 "$here/mrenclave_replay.py" "$enclaves/tfftest.so" "$work/wrong.json"
# debug (TCS.FLAGS.DBGOPTIN) and AMX (a 3-page SSA frame) lay out otherwise; replay both
printf 'debug = true\nxfrm = 0x602E7\ntcs_count = 3\n' > "$work/amx.conf"
check "sign debug AMX" "$kubetee" sign --quiet --enclave "$enclaves/tfftest.so" --config "$work/amx.conf" --key "$work/key.pem" --out "$work/amx.so"
"$kubetee" dump --enclave "$work/amx.so" --json > "$work/amx.json"
check "AMX MRENCLAVE replayed" /usr/bin/python3 "$here/mrenclave_replay.py" "$enclaves/tfftest.so" "$work/amx.json"
"$kubetee" dump --enclave "$work/amx.so" > "$work/amx.txt"
check "dump lists each EINIT rule" bash -c "grep -q '^EINIT-ready:      yes (13 rules)' '$work/amx.txt' && [ \$(grep -c '^  pass ' '$work/amx.txt') = 13 ]"
check "dump shows the 3-page SSA frame" grep -q 'SSAFRAMESIZE 3 page' "$work/amx.txt"
check "dump shows DBGOPTIN" grep -q 'FLAGS.DBGOPTIN set' "$work/amx.txt"

# two steps: gendata, an external signer, catsig
check "gendata" "$kubetee" gendata --enclave "$enclaves/tfftest.so" --config "$conf" --out "$work/sd.bin"
check "signing data is 256 bytes" bash -c "[ \$(stat -c %s '$work/sd.bin') = 256 ]"
check "openssl signs" openssl dgst -sha256 -sign "$work/key.pem" -out "$work/sig.bin" "$work/sd.bin"
check "catsig" "$kubetee" catsig --enclave "$enclaves/tfftest.so" --config "$conf" --sigdata "$work/sd.bin" --key "$work/pub.pem" --sig "$work/sig.bin" --out "$work/two.so"
check "two-step equals one-step" cmp "$work/one.so" "$work/two.so"
"$kubetee" dump --enclave "$work/two.so" --json > "$work/two.json"
check "same MRENCLAVE" grep -q "$mre" "$work/two.json"

# refusals, each naming what was wrong
refuse "forbidden import" "'fopen', which the trusted runtime does not provide" "$kubetee" sign --enclave "$enclaves/forbidden.so" --key "$work/key.pem" --out "$work/x.so"
openssl genrsa -out "$work/weak.pem" 2048 2>/dev/null
refuse "wrong key type" "RSA-3072 with exponent 3" "$kubetee" sign --enclave "$enclaves/tfftest.so" --key "$work/weak.pem" --out "$work/x.so"
printf 'tcs = 2\n' > "$work/bad.conf"
refuse "unknown config key" "unknown key 'tcs'" "$kubetee" sign --enclave "$enclaves/tfftest.so" --config "$work/bad.conf" --key "$work/key.pem" --out "$work/x.so"
printf 'svn = 8\n' > "$work/other.conf"
refuse "catsig with another config" "not made from this enclave" "$kubetee" catsig --enclave "$enclaves/tfftest.so" --config "$work/other.conf" --sigdata "$work/sd.bin" --key "$work/pub.pem" --sig "$work/sig.bin" --out "$work/x.so"
"$kubetee" keygen --out "$work/key2.pem" && openssl rsa -in "$work/key2.pem" -pubout -out "$work/pub2.pem" 2>/dev/null
refuse "catsig with another key" "signature does not match" "$kubetee" catsig --enclave "$enclaves/tfftest.so" --config "$conf" --sigdata "$work/sd.bin" --key "$work/pub2.pem" --sig "$work/sig.bin" --out "$work/x.so"
cp "$work/one.so" "$work/tampered.so"
# one byte of code: the middle of the executable segment
/usr/bin/python3 - "$work/tampered.so" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
for i in range(phnum):
    typ, flags, off = struct.unpack_from("<IIQ", b, phoff + 56 * i)
    filesz, = struct.unpack_from("<Q", b, phoff + 56 * i + 32)
    if typ == 1 and flags & 1:
        b[off + filesz // 2] ^= 0xcc
        break
open(sys.argv[1], "wb").write(b)
PY
refuse "tampered image" "measurement mismatch" "$kubetee" dump --enclave "$work/tampered.so"
# the last segment grown to 63 GiB of bss under a valid SIGSTRUCT: refused by its size
/usr/bin/python3 - "$work/one.so" "$work/huge.so" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", b, 32)
phnum, = struct.unpack_from("<H", b, 56)
last = max(i for i in range(phnum) if struct.unpack_from("<I", b, phoff + 56 * i)[0] == 1)
vaddr, = struct.unpack_from("<Q", b, phoff + 56 * last + 16)
struct.pack_into("<Q", b, phoff + 56 * last + 40, (63 << 30) - vaddr)
open(sys.argv[2], "wb").write(b)
PY
refuse "huge enclave" "over the maximum enclave size of 8192 MiB; not measured" "$kubetee" dump --enclave "$work/huge.so"
check "a larger maximum is accepted" "$kubetee" dump --enclave "$work/one.so" --max-enclave-gib 16
refuse "a bad maximum" "whole number of GiB" "$kubetee" dump --enclave "$work/one.so" --max-enclave-gib 010
refuse "unsigned image" "not a signed enclave" "$kubetee" dump --enclave "$enclaves/tfftest.so"
refuse "unknown option" "unknown option '--bogus'" "$kubetee" sign --bogus

finish
