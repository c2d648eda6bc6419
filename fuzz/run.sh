#!/usr/bin/env bash
# Runs every fuzz target for a few seconds over its seeds. Seeds come from the test
# build when there is one (real enclave images), else from a few made here.
set -euo pipefail
build=${1:-build/fuzz}
seconds=${2:-10}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/project_name"
printf 'my-app' > "$work/project_name/ok"; printf 'a;b' > "$work/project_name/bad"; printf 'a--b' > "$work/project_name/dash"

mkdir -p "$work/image" "$work/config" "$work/call" "$work/sealed" "$work/quote" "$work/collateral" "$work/x509" "$work/x509_diff" "$work/policy" "$work/device_plugin" "$work/rpc_strings" "$work/rpc_meter" "$work/sigdata" "$work/webhook" "$work/signer_config" "$work/tlog" "$work/epc_hook" "$work/pbjson" "$work/pbschema"
printf '\x00\x0a\x0b\x0a\x09enclave-0' > "$work/device_plugin/allocate"
printf '\x01\x0a\x1b\x0a\x09enclave-3\x0a\x09enclave-1\x12\x09enclave-3\x18\x02' > "$work/device_plugin/preferred"
printf '\x00\x0a\x16\x0a\x09enclave-1\x0a\x09enclave-1' > "$work/device_plugin/repeated"
# A CRL with entries (Intel's carry none today): a 20-octet serial with a reasonCode, a
# short one, a CRL number and an authority key identifier. Not signed.
for dir in x509 x509_diff; do
  printf '\x01\x30\x81\xea\x30\x81\xd0\x02\x01\x01\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02\x30\x25\x31\x23\x30\x21\x06\x03\x55\x04\x03\x0c\x1a\x49\x6e\x74\x65\x6c\x20\x53\x47\x58\x20\x50\x43\x4b\x20\x50\x72\x6f\x63\x65\x73\x73\x6f\x72\x20\x43\x41\x17\x0d\x32\x35\x30\x36\x30\x31\x30\x30\x30\x30\x30\x30\x5a\x17\x0d\x32\x35\x30\x37\x30\x31\x30\x30\x30\x30\x30\x30\x5a\x30\x49\x30\x33\x02\x14\x00\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18\x29\x3a\x4b\x5c\x6d\x7e\x8f\x90\xa1\xb2\xc3\x17\x0d\x32\x35\x30\x36\x31\x35\x30\x30\x30\x30\x30\x30\x5a\x30\x0c\x30\x0a\x06\x03\x55\x1d\x15\x04\x03\x0a\x01\x01\x30\x12\x02\x01\x07\x17\x0d\x32\x35\x30\x36\x31\x36\x30\x30\x30\x30\x30\x30\x5a\xa0\x2f\x30\x2d\x30\x0a\x06\x03\x55\x1d\x14\x04\x03\x02\x01\x01\x30\x1f\x06\x03\x55\x1d\x23\x04\x18\x30\x16\x80\x14\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02\x03\x09\x00\x30\x06\x02\x01\x01\x02\x01\x01' > "$work/$dir/crl-entries"
done
sets="$root/../shared/testdata/attestation"
# Each certificate of a PEM file as DER after a 0x00 byte (the certificate selector):
# <prefix>1, <prefix>2, ...
pem_seeds() {
  local i=0 b64
  while read -r b64; do
    i=$((i + 1))
    { printf '\x00'; printf '%s' "$b64" | base64 -d; } > "$2$i"
  done < <(awk '/BEGIN/{s="";next} /END/{print s;next} {s=s $0}' "$1")
}
if [ -d "$sets" ]; then
  for s in "$sets"/*/; do
    name=$(basename "$s")
    cp "$s/quote.dat" "$work/quote/$name.dat"
    { printf '\x00'; cat "$s/tcb_info.json"; } > "$work/collateral/tcb-$name"
    { printf '\x01'; cat "$s/qe_identity.json"; } > "$work/collateral/qe-$name"
    { printf '\x04'; cat "$s/pck_chain.pem"; } > "$work/collateral/pem-$name"
    for crl in root_ca_crl pck_crl; do
      { printf '\x01'; cat "$s/$crl.der"; } > "$work/x509/$crl-$name"
    done
    pem_seeds "$s/pck_chain.pem" "$work/x509/cert-$name-"
    for pem in pck_crl_issuer_chain tcb_info_issuer_chain; do  # root, PCK CA, TCB signer
      pem_seeds "$s/$pem.pem" "$work/x509_diff/$pem-$name-"
    done
  done
  cp "$work"/x509/* "$work/x509_diff/"  # the differential reads the same as well
  export KT_FUZZ_COLLATERAL="$sets/sgx-v3-dcapqvl-cfg-swhardening"
fi
printf '\x052025-06-19T10:56:11Z' > "$work/collateral/time"
printf 'allow_simulation: false\naccepted_tcb_status: [UpToDate]\nenclaveMatchAnyRules:\n- mrenclave: "%064d"\n  prodID: "1"\n  minIsvSvn: "0"\n  debug_disabled: "true"\n' 0 > "$work/policy/yaml"
printf '{"rules":[{"mrtd":"%096d","rtmr0":"%096d","allow_service_td":true}]}' 0 0 > "$work/policy/json"
for f in "$root"/build/test/tests/enclaves/bare.so "$root"/build/test/tests/enclaves/forbidden.so; do
  [ -f "$f" ] && cp "$f" "$work/image/"
done
printf 'heap_size = 1M\nstack_size = 64K\ntcs_count = 2\nprodid = 1\nsvn = 1\ndebug = false\n' \
  > "$work/config/seed"
printf '\x00\x0a\x03abc' > "$work/call/blob"
printf '\x01\x0a\x02ab\x12\x01x\x20\x07\x30\x01' > "$work/call/identity"
printf '\x00' > "$work/sealed/seed"
printf '\x00\x0a\x0b\x0a\x09enclave-0' > "$work/rpc_strings/allocate"
# session messages (fuzz/fuzz_session.c: the first byte picks the decoder)
mkdir -p "$work/session"
zeros() { head -c "$1" /dev/zero; }
{ printf '\x00KS\x01\x02\x01\x01\x02\x01'; zeros 96; } > "$work/session/hello"
{ printf '\x06KS\x01\x01\x01\x01'; zeros 96; } > "$work/session/hello-live"
{ printf '\x01KS\x02\x00\x01\x01'; zeros 112; printf '\x02\x40\x00\x00\x00'; zeros 64; printf '\x40\x00'; zeros 96; } > "$work/session/reply"
{ printf '\x07KS\x02\x00\x01\x01'; zeros 112; printf '\x01\x08\x00\x00\x00'; zeros 8; printf '\x00\x00'; zeros 32; } > "$work/session/reply-quote"
{ printf '\x02KS\x03\x00'; zeros 16; printf '\x03\x40\x00\x00\x00'; zeros 64; printf '\x08\x00'; zeros 40; } > "$work/session/finish"
{ printf '\x08KS\x03\x00'; zeros 16; printf '\x02\x40\x00\x00\x00'; zeros 64; printf '\x40\x00'; zeros 96; } > "$work/session/finish-live"
for sel in 03 04 05; do
  { printf "\x$sel"'KS\x04\x01'; zeros 28; printf '\x04Echo\x02\x00\x00\x00hi'; zeros 16; } > "$work/session/record-$sel"
done
{ printf '\x05KS\x05\x02'; zeros 28; printf '\x00\x00\x00\x00\x00'; zeros 16; } > "$work/session/close"

printf '\x01\x0a\x04h\xc3\xa9y' > "$work/rpc_strings/prestart"
# frame meter: (preface added) SETTINGS, HEADERS+CONTINUATION, RST_STREAM, PING, WINDOW_UPDATE
printf '\x80\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x03\x01\x00\x00\x00\x01abc\x00\x00\x02\x09\x04\x00\x00\x00\x01de\x00\x00\x04\x03\x00\x00\x00\x00\x01\x00\x00\x00\x08' > "$work/rpc_meter/frames"
printf '\x91\x00\x00\x08\x06\x00\x00\x00\x00\x0012345678\x00\x00\x08\x06\x00\x00\x00\x00\x0012345678\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x01' > "$work/rpc_meter/control"
printf '\x00GET / HTTP/1.1\r\n' > "$work/rpc_meter/not_h2"
# a request framed wrongly: two messages on stream 1, a flag byte 2 on stream 3, padding on 5
printf '\x80\x00\x00\x01\x01\x04\x00\x00\x00\x01a\x00\x00\x0e\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x02hi\x00\x00\x00\x00\x02hi\x00\x00\x01\x01\x04\x00\x00\x00\x03b\x00\x00\x07\x00\x01\x00\x00\x00\x03\x02\x00\x00\x00\x02hi\x00\x00\x01\x01\x04\x00\x00\x00\x05c\x00\x00\x0a\x09\x00\x00\x00\x05\x02\x00\x00\x00\x00\x02hi\xff\xff' > "$work/rpc_meter/framing"
printf '\x87\x00\x00\x01\x01\x04\x00\x00\x00\x01a\x00\x00\x03\x00\x00\x00\x00\x00\x01xyz\x00\x00\x01\x01\x05\x00\x00\x00\x03b\x00\x00\x01\x00\x01\x00\x00\x00\x01q\x00\x00\x04\x03\x00\x00\x00\x00\x03\x00\x00\x00\x08' > "$work/rpc_meter/streams"
# AdmissionReviews: EPC with the aesmd annotation and existing env/volumes, in-process
# quoting with an init container, and provision without the annotation (refused)
review='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":%s}}'
printf "\x00$review" '{"metadata":{"annotations":{"sgx.intel.com/quote-provider":"aesmd"}},"spec":{"volumes":[{"name":"d","emptyDir":{}}],"containers":[{"name":"a","env":[{"name":"X","value":"1"}],"resources":{"limits":{"sgx.intel.com/epc":"1Mi"}}}]}}' > "$work/webhook/aesmd"
printf "\x01$review" '{"metadata":{"annotations":{"sgx.intel.com/quote-provider":"q"}},"spec":{"initContainers":[{"name":"q","resources":{"requests":{"alibabacloud.com/sgx_epc_MiB":"4"}}}],"containers":[{"name":"b"}]}}' > "$work/webhook/inproc"
printf "\x00$review" '{"spec":{"containers":[{"name":"a","resources":{"limits":{"sgx.intel.com/epc":"1e3","sgx.intel.com/provision":"1"}}}]}}' > "$work/webhook/provision"
printf "\x01$review" '{"metadata":{"annotations":{"sgx.intel.com/quote-provider":"aesmd"}},"spec":{"containers":[{"name":"aesmd","resources":{"limits":{"sgx.intel.com/epc":"1Mi"}}},{"name":"app","resources":{"limits":{"sgx.intel.com/epc":"1Mi"}}}]}}' > "$work/webhook/sidecar"
printf '\x00{"ociVersion":"1.0.2","id":"c0ffee","status":"creating","pid":4242,"bundle":"/run/b"}' > "$work/epc_hook/state"
printf '\x01{"annotations":{"kubetee.io/epc-grant-bytes":"67108864"},"process":{"env":[]}}' > "$work/epc_hook/config"
printf '\x0212:pids:/a\n0::/kubepods.slice/cri-containerd-c0ffee.scope\n' > "$work/epc_hook/cgroup"
printf '\x03sgx_epc 29360128\nsev 0\n' > "$work/epc_hook/keyed"
printf '{"scalars":{"fInt64":"-5","fUint64":18,"fFloat":"NaN","fDouble":-0.0,"fBytes":"-_8","fEnum":"RED","fString":"h\\u00e9"},"rInt32":[1,-2],"rFloat":["Infinity",1.5],"items":[{"name":"a","children":[{"count":3}]}],"labels":{"k":"v"},"byId":{"-4":{}},"counters":{"18446744073709551615":"1"},"flags":{"true":2},"blobs":{"0":"AQ=="},"choice_text":"x","snake_case_name_2":7}' > "$work/pbjson/all"
printf '{"item":{"children":[{"children":[{"name":"\\u0000"}]}]},"choiceNumber":"9"}' > "$work/pbjson/nested"
# FileDescriptorSets as protoc writes them, of the pbjson test protos
protoc -I "$root/tests/pbjson" --include_imports --descriptor_set_out="$work/pbschema/both" \
  "$root/tests/pbjson/pbjson_test.proto" "$root/tests/pbjson/pbjson_other.proto"
protoc -I "$root/proto" --descriptor_set_out="$work/pbschema/service" "$root/proto/enclave_service.proto"
# the collateral proxy: request targets, item keys, records
mkdir -p "$work/collateral_query"
printf '\x00/sgx/certification/v4/tcb?fmspc=00A067110000&update=early' > "$work/collateral_query/tcb"
printf '\x00/sgx/certification/v4/pckcrl?ca=platform&encoding=der' > "$work/collateral_query/pckcrl"
printf '\x00/tdx/certification/v4/qe/identity?update=standard' > "$work/collateral_query/qe"
printf '\x01sgx-tcb-00a067110000-early' > "$work/collateral_query/key"
printf '\x00/sgx/certification/v4/pckcert?qeid=%032d&cpusvn=%032d&pcesvn=0d00&pceid=0000' 0 0 > "$work/collateral_query/pckcert"
printf '\x02KTCI1 sgx-qe 1751623200 3 2\nabc{}KTCI1 rootcacrl 0 0 1\n0' > "$work/collateral_query/record"
printf '\x00/sgx/certification/v4/fmspcs?platform=all' > "$work/collateral_query/fmspcs"
printf '\x00/sgx/certification/v4/pckcerts?encrypted_ppid=%0768d&pceid=0000' 0 > "$work/collateral_query/pckcerts-query"
printf '\x00/tdx/certification/v4/tcbevaluationdatanumbers' > "$work/collateral_query/tcbeval"
printf '\x00/tdx/certification/v4/qe/identity?tcbEvaluationDataNumber=17' > "$work/collateral_query/evalnum"
printf '\x01sgx-tcb-00a067110000-eval17' > "$work/collateral_query/evalkey"
printf '\x03{"qe_id":"%032d","pce_id":"0000","cpu_svn":"%032d","pce_svn":"0d00","enc_ppid":"%0768d","platform_manifest":""}' 0 0 0 > "$work/collateral_query/platform"
printf '\x00/sgx/certification/v4/platforms?source=%%5B00A067110000,00906ED50000%%5D' > "$work/collateral_query/platforms"
printf '\x00/sgx/certification/v4/refresh?type=certs&fmspc=[00A067110000]' > "$work/collateral_query/refresh"
printf '\x00/sgx/certification/v3/refresh?type=tcbinfo&fmspc=%%5B00A067110000%%5D' > "$work/collateral_query/refresh-tcb"
printf '\x00/sgx/certification/v3/tcb?fmspc=00A067110000' > "$work/collateral_query/v3"
printf '\x01sgx-tcb-00a067110000-v3' > "$work/collateral_query/v3key"
printf '\x03{"qe_id":"%032d","pce_id":"0000","cpu_svn":"","pce_svn":"","enc_ppid":"","platform_manifest":"00ff"}' 0 > "$work/collateral_query/manifest"
# PUT /platformcollateral: a shared set's collateral as PCCS's admin tool writes it
if [ -d "$sets" ]; then
  /usr/bin/python3 "$root/tests/integration/platformcollateral.py" "$sets/sgx-v3-dcapqvl-cfg-swhardening" \
    > "$work/collateral_query/put.body" && { printf '\x05'; cat "$work/collateral_query/put.body"; } \
    > "$work/collateral_query/put" && rm "$work/collateral_query/put.body"
fi
printf '\x04[{"tcb":{"sgxtcbcomp01svn":1,"pcesvn":13},"tcbm":"%036d","cert":"-----BEGIN%%20CERTIFICATE-----%%0A"},{"tcb":{},"tcbm":"%036d","cert":"Not available"}]' 0 0 > "$work/collateral_query/pckcerts"
printf '\x06{"tcbEvaluationDataNumbers":{"id":"SGX","version":1,"issueDate":"2025-06-03T23:58:51Z","nextUpdate":"2025-07-03T23:58:51Z","tcbEvalNumbers":[{"tcbEvaluationDataNumber":19,"tcbRecoveryEventDate":"2025-05-13T00:00:00Z","tcbDate":"2025-05-14T00:00:00Z"}]},"signature":"%0128d"}' 0 > "$work/collateral/tcbeval"
# PCK selection: FMSPC 00A067110000, PCE ID 0000, two certificates, a raw TCB, Intel's TCB Info
mkdir -p "$work/pck_select"
{ printf '\x00\xa0\x67\x11\x00\x00\x00\x00\x02\x0b\x0b\x02\x02\xff\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0d\x00\x05\x05\x02\x02\xff\x01\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0b\x00\x0b\x0b\x02\x02\xff\x01\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0d\x00'; cat "$root/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening/tcb_info.json"; } > "$work/pck_select/intel" || true

# signing data as kubetee gendata writes it (docs/formats.md): prodid 1, svn 2, not debug
/usr/bin/python3 - "$work/sigdata/seed" <<'PY'
import struct, sys
h = bytes([6, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]) + struct.pack("<II", 0, 0x20261202)
h += bytes([1, 1, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 1, 0, 0, 0]) + bytes(88)
b = struct.pack("<II", 0, 0xFFFFFFFF) + bytes(20) + struct.pack("<QQQQ", 4, 3, 2**64 - 1, 0)
b += bytes(range(32)) + bytes(32) + struct.pack("<HH", 1, 2)
open(sys.argv[1], "wb").write(h + b)
PY

# kubetee-signer: a configuration (0x01), a state file (0x00), an approvals file (0x02)
{ printf '\x01'; cat <<'YAML'; } > "$work/signer_config/config"
listen: 127.0.0.1:7443
state: /var/lib/kubetee-signer/state
tls: {cert: s.pem, key: s.key, client_ca: ca.pem}
token: {module: /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so, label: signing, pin_env: PIN}
clients:
  ci: {subject: "CN = ci, O = kubetee tests", issuer: "CN = kubetee test CA"}
keys:
  release: {label: release-2026, production: true, prodids: [1, 7], clients: [ci]}
  dev: {production: false, debug: true, prodids: [1], clients: [ci]}
  gated: {production: true, reproducible: true, prodids: [3], clients: [ci],
          approvals: {required: 1, approvers: [ci]}}
max_enclave_mib: 512
YAML
printf '\x00kubetee-signer state 1\n%064d 1 9\n%064d 7 1\n' 1 2 > "$work/signer_config/state"
# and an approvals file (0x02: clients a, b, c; key gated asks for 2 of them)
printf '\x02kubetee-signer approvals 1\ngated %064d %d a,b\nplain %064d %d c\n' 3 "$(date +%s)" 4 "$(date +%s)" \
  > "$work/signer_config/approvals"

# transparency log: an entry line, and a log of two entries (no head: the walk runs first)
line1="v1 1 1700000000 $(printf '%064d' 1) $(printf '%064d' 2) 1 2 0 release ci - $(printf '%064d' 0)"
h1=$(printf '%s' "$line1" | sha256sum | cut -c1-64)
printf '\x00%s %s' "$line1" "$h1" > "$work/tlog/entry"
printf '\x02%s %s\n\xffkubetee-signer log head v1\nentries 1\nhash %s\ntime 1\nsignature %0128d\n' \
  "$line1" "$h1" "$h1" 0 > "$work/tlog/log"

# store: an object file and a revision file with their right SHA-256, object file names,
# etcd store URLs
mkdir -p "$work/store"
/usr/bin/python3 - "$work/store" <<'PY'
import hashlib, struct, sys
d = sys.argv[1]
def obj(key, version, create, mod, value):
    body = b"KTSTOBJ1" + struct.pack("<HQQQQ", len(key), version, create, mod, len(value)) + key + value
    return body + hashlib.sha256(body).digest()
open(d + "/object", "wb").write(b"\x00" + obj(b"svc/a_b/v1", 2, 3, 7, b"sealed bytes"))
open(d + "/object-empty", "wb").write(b"\x00" + obj(b"k", 1, 1, 1, b""))
rev = b"KTSTREV1" + struct.pack("<Q", 42)
open(d + "/revision", "wb").write(b"\x01" + rev + hashlib.sha256(rev).digest())
open(d + "/name", "wb").write(b"\x02o.svc_sa__b_sv1")
open(d + "/name-bad", "wb").write(b"\x02o.a_xb")
open(d + "/etcd-url", "wb").write(b"\x03etcd://127.0.0.1:2379,[::1]:2380,etcd-0.example:2379/aecs/prod")
open(d + "/etcd-url-dup", "wb").write(b"\x03etcd://LOCALHOST:1,localhost:1")
PY

mkdir -p "$work/settings"
printf 'name: x\ndir: /d\non: true\ncount: 7\nwait_ms: 2s\nwait_s: 1m\nmode: b\nitems: [p, q]\ntls:\n  cert: c.pem\nrules: {r: [1]}\n' > "$work/settings/seed"
printf 'count: 010\nitems: a,a\nwait_s: 1500ms\n' > "$work/settings/bad"
mkdir -p "$work/aecs_secrets" "$work/aecs_config"; cp "$root"/tests/data/aecs/secrets*.yaml "$work/aecs_secrets/"; cp "$root"/tests/data/aecs/kubeconfig-original.yaml "$work/aecs_config/"
# ... and with aecsServer.instance, the tools' pin (ours)
sed 's/^  serverEndpoint: .*/&\n  instance: '"$(printf 'a1%.0s' $(seq 64))"'/' "$root"/tests/data/aecs/kubeconfig-original.yaml > "$work/aecs_config/pinned"
mkdir -p "$work/json"; printf '{"a":[1,-0.5e+3,true,null],"b":"\\u00e9\\ud83d\\ude00\\n","c":{}}' > "$work/json/doc"; [ -d "$sets" ] && cp "$sets/sgx-v3-dcapqvl-cfg-swhardening/tcb_info.json" "$work/json/tcb"
mkdir -p "$work/bundle"; [ -d "$sets" ] && /usr/bin/python3 -c 'import struct,sys; d=sys.argv[1]; sys.stdout.buffer.write(b"KTCOLL1\n"+b"".join(struct.pack("<I",len(b))+b for b in (open(d+"/"+f,"rb").read() for f in ("intel_root_ca.pem","root_ca_crl.der","pck_crl.der","pck_crl_issuer_chain.pem","tcb_info.json","tcb_info_issuer_chain.pem","qe_identity.json","qe_identity_issuer_chain.pem"))))' "$sets/sgx-v3-dcapqvl-cfg-swhardening" > "$work/bundle/intel"
# aecs_configurations: the original's JSON and key=value lines
mkdir -p "$work/aecs_configurations"
printf '{"items":[{"key":"db.url","value":"postgres://db/x"},{"key":"q","value":"a\\"b\\u00e9"}]}' > "$work/aecs_configurations/json"
printf '# settings\nLOG_LEVEL=debug\nurl=http://x/?a=b\n' > "$work/aecs_configurations/lines"

# A failing input is kept under the build directory (never the source tree) and named
# in the output, so it can be replayed: $build/fuzz/fuzz_<target> <file>.
# aecs_audit: well-formed AECS audit lines after the start byte and the head byte: a signed
# one (its signature is not this key's), an unsigned one that chains from zero (its hash
# right), and that one again with a head naming it
aecs_body='{"seq":1,"time":1,"caller":"host","op":"Start","target":"","outcome":"ok","reason":"","prev":"'$(printf '%064d' 0)'"'
aecs_hash=$({ head -c 32 /dev/zero; printf '%s' "$aecs_body"; } | sha256sum | cut -c1-64)
mkdir -p "$work/aecs_audit"
printf '\x00\x00%s,"hash":"%064d","sig":"%0128d"}\n' "$aecs_body" 0 0 > "$work/aecs_audit/signed"
printf '\x00\x00%s,"hash":"%s"}\n' "$aecs_body" "$aecs_hash" > "$work/aecs_audit/unsigned"
{ printf '\x00\x01\x01'; printf "$(printf '%s' "$aecs_hash" | sed 's/../\\x&/g')"; printf '%s,"hash":"%s"}\n' "$aecs_body" "$aecs_hash"; } > "$work/aecs_audit/head"
# ... and a Restored line after it (a restore taking the chain up from a checkpoint)
printf '\x00\x00%s,"hash":"%s"}\n{"seq":8,"time":1,"caller":"host","op":"Restored","target":"from checkpoint seq 7 hash %s","outcome":"ok","reason":"","prev":"%s","hash":"%064d","sig":"%0128d"}\n' \
  "$aecs_body" "$aecs_hash" "$aecs_hash" "$aecs_hash" 0 0 > "$work/aecs_audit/restored"
# aecs_platform: a TA platform policy (simulation under a root, debug, two TCB statuses)
mkdir -p "$work/aecs_platform" && printf '\x08\x01\x12\x20%s\x18\x01\x22\x08UpToDate\x22\x11SWHardeningNeeded' "$(printf 'r%.0s' $(seq 32))" > "$work/aecs_platform/seed"
# aecs_signers: two entries, one signer for product 7, another for every product
mkdir -p "$work/aecs_signers" && printf '\x0a\x2b\x0a\x20%s\x10\x01\x18\x07\x20\x03\x28\x80\x20\x0a\x28\x0a\x20%s\x20\x0a\x28\x80\x80\x04' "$(printf 'a%.0s' $(seq 32))" "$(printf 'b%.0s' $(seq 32))" > "$work/aecs_signers/seed"
# pbwire: a CallResult, an Invocation, an EnclaveStepResult, a CallRequest (the first byte picks)
mkdir -p "$work/pbwire"
printf '\x00\x08\x00\x1a\x02hi' > "$work/pbwire/result"
printf '\x01\x0a\x01a\x12\x01b\x1a\x01c' > "$work/pbwire/invocation"
printf '\x02\x0a\x01r\x12\x02id\x22\x04busy\x28\x01' > "$work/pbwire/step"
printf '\x03\x0a\x03KS\x04' > "$work/pbwire/call"
# aecs_recovery: an open share, a sealed one, a proposal (one key: P-256's generator,
# threshold 1, single holder) and a consent; the first byte picks the decoder
mkdir -p "$work/aecs_recovery"
/usr/bin/python3 - "$work/aecs_recovery" <<'PY'
import struct, sys
d = sys.argv[1]
G = bytes.fromhex("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
                  "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")
def header(kind):
    return b"KTRS\x01" + bytes([kind]) + G + struct.pack("<Q", 1) + b"\xb1" * 16 + bytes([1, 2, 3]) + G
open(d + "/open", "wb").write(b"\x00" + header(2) + b"\x5a" * 32 + b"\x01" * 64)
open(d + "/sealed", "wb").write(b"\x03" + header(1) + G + b"\x02" * 12 + b"\x03" * 112)
open(d + "/proposal", "wb").write(b"\x01KTRP\x01" + G + struct.pack("<QI", 4, 1) + b"\x01\x01" + G)
open(d + "/consent", "wb").write(b"\x02KTRC\x01" + G + b"\x07" * 32 + b"\x08" * 64)
PY
# aecs_sealed: a format 2 and a format 1 object, a v3 (rotating) and a v2 aecs/master, a manifest chunk
mkdir -p "$work/aecs_sealed"
/usr/bin/python3 - "$work/aecs_sealed" <<'PY'
import struct, sys
d = sys.argv[1]
open(d + "/object2", "wb").write(b"KTAO\x02" + struct.pack("<IQ", 3, 7) + b"\x11" * 16 + b"\x22" * 12 + b"x" * 20)
open(d + "/object1", "wb").write(b"KTAO\x01" + struct.pack("<Q", 1) + b"\x11" * 16 + b"\x22" * 12 + b"\x33" * 16)
open(d + "/master3", "wb").write(b"KTAECSM3" + b"\x44" * 64 + struct.pack("<IQ", 2, 5) + b"\x01" + b"s" * 40)
open(d + "/master2", "wb").write(b"KTAECSM2" + b"\x44" * 64 + b"s" * 40)
# a rotation manifest chunk: generation 2, chunk 1 of 3, three ascending digests
open(d + "/manifest", "wb").write(b"KTAR\x01" + struct.pack("<IIII", 2, 1, 3, 3) + b"".join(bytes([i]) * 32 for i in (1, 5, 9)))
PY
# aecs_floor: a clock floor proposal (the floor moved back an hour)
mkdir -p "$work/aecs_floor"
/usr/bin/python3 -c 'import struct, sys; open(sys.argv[1], "wb").write(b"KTCF\x01" + b"\x11" * 64 + struct.pack("<qq", 1796259212, 1796255612))' "$work/aecs_floor/seed"
# aecs_requests: a request for some of the AECS enclave's functions (the first byte: its index
# in fuzz/fuzz_aecs_requests.h), and a store answer
mkdir -p "$work/aecs_requests"
/usr/bin/python3 - "$work/aecs_requests" "$here/fuzz_aecs_requests.h" <<'PY'
import re, sys
d, header = sys.argv[1], open(sys.argv[2]).read()
names = re.findall(r'X\("([A-Za-z.]+)", (?:REMOTE|ECALL|OCALL),', header)
def v(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out
def f(num, val):  # bytes/strings/messages: length-delimited; ints: varint
    return v(num << 3) + v(val) if isinstance(val, int) else v(num << 3 | 2) + v(len(val)) + val
rule = f(2, b"\x5a" * 32) + f(3, 1) + f(4, 7) + f(6, 1)
spec = f(1, b"k1") + f(2, 2) + f(3, b"svc") + f(6, f(1, b"wrap") + f(2, b"kwp")) + f(7, rule) + f(8, 1)
seeds = {"CreateSecret": f(1, spec) + f(2, b""), "UpdateSecret": f(1, b"svc") + f(2, b"k1") + f(3, 1),
         "Sign": f(1, b"svc") + f(2, b"k1") + f(4, b"message"), "RegisterService": f(1, b"svc") + f(2, f(1, 1) + f(2, b"\x04" * 64)),
         "TaSecret": f(1, 1) + f(2, b"mine"), "store.Get": f(1, 1) + f(2, b"KTAO\x02" + b"\x00" * 40) + f(3, 3)}
for i, n in enumerate(names):
    key = "TaSecret" if n == "TaGetSecret" else n
    if key in seeds:
        open(f"{d}/{n}", "wb").write(bytes([i]) + seeds[key])
PY
artifacts="$build/artifacts"
mkdir -p "$artifacts"
status=0
# every target the build made (fuzz/CMakeLists.txt is the list): adding one needs no edit here
for bin in "$build"/fuzz/fuzz_*; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  target=${bin##*/fuzz_}
  mkdir -p "$work/$target"
  log="$work/$target.log"
  if "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
       -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$work/$target" > "$log" 2>&1; then
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz_$target: ok ($runs runs in ${seconds}s)"
  else
    echo "fuzz_$target: FAILED"
    tail -40 "$log"
    status=1
  fi
done
exit $status
