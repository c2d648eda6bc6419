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

mkdir -p "$work/image" "$work/config" "$work/call" "$work/sealed" "$work/quote" "$work/collateral" "$work/x509" "$work/x509_diff" "$work/policy" "$work/device_plugin"
printf '\x00\x0a\x0b\x0a\x09enclave-0' > "$work/device_plugin/allocate"
printf '\x01\x0a\x1b\x0a\x09enclave-3\x0a\x09enclave-1\x12\x09enclave-3\x18\x02' > "$work/device_plugin/preferred"
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

# A failing input is kept under the build directory (never the source tree) and named
# in the output, so it can be replayed: $build/fuzz/fuzz_<target> <file>.
artifacts="$build/artifacts"
mkdir -p "$artifacts"
status=0
for target in image config call sealed quote collateral x509 x509_diff policy device_plugin; do
  bin="$build/fuzz/fuzz_$target"
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
