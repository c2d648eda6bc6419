#!/usr/bin/env bash
# Collateral fetched from a PCCS (a stand-in on loopback), cached, and verified again
# from the cache, where tampering is still caught.
set -uo pipefail
kubetee=$1
sets=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
set_dir=$sets/sgx-v3-dcapqvl-cfg-swhardening
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

/usr/bin/python3 "$here/pccs_standin.py" "$set_dir" "$work/port" &
server=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port")"
printf 'accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\nrules:\n- mrenclave: 33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\n' > "$work/p.yaml"
v() { "$kubetee" attest verify --quote "$set_dir/quote.dat" --pccs "$url" --root "$set_dir/intel_root_ca.pem" --cache "$work/cache" --at 1751623200 --policy "$work/p.yaml" "$@"; }

expect 0 "PASS" "verify with fetched collateral" v
expect 0 "4" "four requests: TCB Info, QE Identity, PCK CRL, root CA CRL" wc -l "$work/port.requests"
kill "$server"; wait "$server" 2>/dev/null; server=
expect 0 "PASS" "the cache serves while the PCCS is down" v
cache=$(echo "$work"/cache/sgx-*)
sed -i 's/"tcbStatus":"SWHardeningNeeded"/"tcbStatus":"UpToDate"/' "$cache/tcb_info.json"
expect 1 "fetching collateral" "a tampered cache is not used (and the PCCS is down)" v
# a cached copy that does not verify is fetched again, not kept until its dates pass
/usr/bin/python3 "$here/pccs_standin.py" "$set_dir" "$work/port2" &
server=$!
for _ in $(seq 50); do [ -s "$work/port2" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$work/port2")"
expect 0 "PASS" "a tampered cache is fetched again from the PCCS" v
expect 0 "4" "all four fetched again" wc -l "$work/port2.requests"
expect 0 "PASS" "and the fresh copy serves" v
expect 0 "4" "without a fetch" wc -l "$work/port2.requests"
kill "$server"; wait "$server" 2>/dev/null; server=
expect 1 "fetching collateral" "an unreachable PCCS with nothing valid cached" "$kubetee" attest verify --quote "$set_dir/quote.dat" --pccs "$url" --root "$set_dir/intel_root_ca.pem" --cache "$work/empty" --at 1751623200
expect 2 "usage" "--pccs needs --root" "$kubetee" attest verify --quote "$set_dir/quote.dat" --pccs "$url"

# Intel PCS has no rootcacrl: the root CA CRL comes from where it is published
/usr/bin/python3 "$here/pccs_standin.py" "$set_dir" "$work/pcsport" pcs &
server=$!
for _ in $(seq 50); do [ -s "$work/pcsport" ] && break; sleep 0.1; done
pcs="http://127.0.0.1:$(cat "$work/pcsport")"
expect 0 "PASS" "Intel PCS layout with the root CRL URL given" "$kubetee" attest verify --quote "$set_dir/quote.dat" --pccs "$pcs" --root "$set_dir/intel_root_ca.pem" --root-crl-url "$pcs/IntelSGXRootCA.der" --cache "$work/pcs-cache" --at 1751623200 --policy "$work/p.yaml"
kill "$server"; wait "$server" 2>/dev/null; server=

finish
