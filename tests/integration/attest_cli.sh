#!/usr/bin/env bash
# kubetee attest as an operator uses it: real Intel quotes with their collateral, a
# policy, a simulated quote, and the exit status telling pass from fail.
set -uo pipefail
kubetee=$1
enclaves=$2
sets=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
trap 'rm -rf "$work"' EXIT

s=$sets/tdx-v4-dcapqvl-uptodate
expect 0 "PASS  tcb=UpToDate" "TDX UpToDate passes" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 2025-07-04T10:00:00Z
expect 1 "not valid at" "one second after the window" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1752920559
for at in 99999999999999999999 253402300800 " 1751623200" +1751623200 01751623200 2025-02-29T10:00:00Z; do
  expect 2 "kubetee: --at: " "--at '$at' is refused, not read as another time" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at "$at"
done
expect 1 "quote signature" "a corrupted quote" "$kubetee" attest verify --quote "$s/negative/quote_bad_reportdata.dat" --collateral "$s" --at 1751623200
expect 1 "trust anchor" "a look-alike root" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --root "$s/negative/untrusted_root_ca.pem" --at 1751623200
s=$sets/sgx-v3-dcapqvl-cfg-swhardening
expect 1 "default policy (no --policy.*TCB status ConfigurationAndSWHardeningNeeded is not accepted" "default policy: only UpToDate" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200
printf 'accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\nenclaveMatchAnyRules:\n- mrenclave: "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"\n' > "$work/policy.yaml"
expect 0 '"pass":true' "a policy that accepts it" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200 --policy "$work/policy.yaml" --json
sed 's/33d8/44d8/' "$work/policy.yaml" > "$work/other.yaml"
expect 1 "MRENCLAVE differs" "a policy for another enclave" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200 --policy "$work/other.yaml"
printf 'rules:\n- {mrenclave: %064d, bogus: 1}\n' 0 > "$work/bad.yaml"
expect 1 "unknown key 'bogus'" "a bad policy names its key" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --policy "$work/bad.yaml"
printf 'rules:\n- {mrenclave: "%064d", "bo\\ngus": 1}\n' 0 > "$work/bad.yaml"
expect 1 "unknown key 'bo\\\\x0agus' (line 2)" "the key it names is escaped" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --policy "$work/bad.yaml"
s=$sets/tdx-v5-td15-automata-uptodate
expect 1 "default policy (no --policy.*TD is bound to a service TD" "default policy: no TD bound to a service TD" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 2025-06-15T00:00:00Z
mrtd=$("$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 2025-06-15T00:00:00Z --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["verdict"]["td"]["mrtd"])')
printf 'rules:\n- {mrtd: "%s", allow_service_td: true}\n' "$mrtd" > "$work/servicetd.yaml"
expect 0 "PASS  tcb=UpToDate" "a policy that allows the service TD" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 2025-06-15T00:00:00Z --policy "$work/servicetd.yaml"
expect 2 "usage" "--allow-simulation belongs to the default policy only" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --policy "$work/servicetd.yaml" --allow-simulation
s=$sets/tdx-v5-td15-dcapqvl-tcb-not-supported
expect 1 "TCB level not supported" "no TCB level matches" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1772704800

# the sim platform: quote, then verify against its own collateral
export KUBETEE_SIM_DIR=$work/sim
expect 0 "collateral:" "sim quote" "$kubetee" attest quote --enclave "$enclaves/tfftest.signed.so" --report-data "$(printf '%064d' 7)" --out "$work/q.dat"
coll=$("$kubetee" sim collateral)
expect 1 "default policy (no --policy.*does not allow simulation" "default policy: no simulation" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll"
expect 0 "PASS  tcb=UpToDate  (simulated)" "--allow-simulation lifts only that default" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --allow-simulation
expect 0 "collateral:" "sim quote of a debug enclave" "$kubetee" attest quote --enclave "$enclaves/tfftest_debug.signed.so" --report-data "$(printf '%064d' 7)" --out "$work/debug.dat"
expect 1 "default policy (no --policy.*debug enclave" "default policy: no debug enclave" "$kubetee" attest verify --quote "$work/debug.dat" --collateral "$coll" --allow-simulation
mre=$("$kubetee" dump --enclave "$enclaves/tfftest.signed.so" --json | grep -o '"mrenclave":"[0-9a-f]*"' | cut -d'"' -f4)
printf 'rules:\n- mrenclave: %s\n' "$mre" > "$work/sim.yaml"
expect 1 "does not allow simulation" "a policy without allow_simulation" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --policy "$work/sim.yaml"
printf 'allow_simulation: true\nrules:\n- mrenclave: %s\n' "$mre" > "$work/sim.yaml"
expect 0 "PASS  tcb=UpToDate  (simulated)" "a policy that allows simulation" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --policy "$work/sim.yaml"
expect 1 "QE vendor ID .* is not Intel's QE's" "the sim quote against Intel's root" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --root "$sets/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem" --allow-simulation

# a certificate's name is input: a crafted common name (the TCB signer's, its signature
# then broken) must not forge an output line, break --json, or drop the reason (a name
# that is not UTF-8 never gets that far: the DER reader refuses it)
mkdir "$work/crafted" && cp "$coll"/* "$work/crafted/"
/usr/bin/python3 - "$work/crafted/tcb_info_issuer_chain.pem" <<'PY'
import base64, re, sys
path = sys.argv[1]
pem = open(path).read()
first = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", pem, re.S)
der = base64.b64decode(first.group(1))
name = b"kubetee Simulation TCB Signing"
crafted = b'\nPASS  tcb=UpToDate"}\xc3\xa9\\'
crafted += b"x" * (len(name) - len(crafted))
assert der.count(name) == 1 and len(crafted) == len(name)
body = base64.encodebytes(der.replace(name, crafted)).decode()
open(path, "w").write(pem[:first.start()] + "-----BEGIN CERTIFICATE-----\n" + body
                      + "-----END CERTIFICATE-----" + pem[first.end():])
PY
expect 1 "^reason: TCB Info issuer chain: signature of '\\\\x0aPASS  tcb=UpToDate\\\\x22}\\\\xc3\\\\xa9\\\\\\\\xxx" "a crafted name is escaped in the reason (its backslash doubled: no escape)" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$work/crafted" --allow-simulation
if grep -q '^PASS' "$work/out" || [ "$(wc -l < "$work/out")" != 2 ]; then
  fail=$((fail + 1)); echo "FAIL: a crafted name forged an output line"; cat "$work/out"
else pass=$((pass + 1)); fi
"$kubetee" attest verify --quote "$work/q.dat" --collateral "$work/crafted" --allow-simulation --json > "$work/crafted.json"
if /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pass"] is False, d
assert "signature of" in d["why"] and "PASS  tcb=UpToDate" in d["why"], d
assert "UpToDate\\x22}" in d["why"] and "UpToDate\\x22}" in d["verdict"]["reason"], d  # the quote in the name, escaped
assert "signature of" in d["verdict"]["reason"], d
' "$work/crafted.json"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: --json with a crafted name"; cat "$work/crafted.json"; fi

finish
