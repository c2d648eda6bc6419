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
expect 1 "quote signature" "a corrupted quote" "$kubetee" attest verify --quote "$s/negative/quote_bad_reportdata.dat" --collateral "$s" --at 1751623200
expect 1 "trust anchor" "a look-alike root" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --root "$s/negative/untrusted_root_ca.pem" --at 1751623200
s=$sets/sgx-v3-dcapqvl-cfg-swhardening
expect 1 "ConfigurationAndSWHardeningNeeded (without --policy" "no policy: only UpToDate" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200
printf 'accepted_tcb_status: [ConfigurationAndSWHardeningNeeded]\nenclaveMatchAnyRules:\n- mrenclave: "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"\n' > "$work/policy.yaml"
expect 0 '"pass":true' "a policy that accepts it" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200 --policy "$work/policy.yaml" --json
sed 's/33d8/44d8/' "$work/policy.yaml" > "$work/other.yaml"
expect 1 "MRENCLAVE differs" "a policy for another enclave" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1751623200 --policy "$work/other.yaml"
printf 'rules:\n- {mrenclave: %064d, bogus: 1}\n' 0 > "$work/bad.yaml"
expect 1 "unknown key 'bogus'" "a bad policy names its key" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --policy "$work/bad.yaml"
s=$sets/tdx-v5-td15-dcapqvl-tcb-not-supported
expect 1 "TCB level not supported" "no TCB level matches" "$kubetee" attest verify --quote "$s/quote.dat" --collateral "$s" --at 1772704800

# the sim platform: quote, then verify against its own collateral
export KUBETEE_SIM_DIR=$work/sim
expect 0 "collateral:" "sim quote" "$kubetee" attest quote --enclave "$enclaves/tfftest.signed.so" --report-data "$(printf '%064d' 7)" --out "$work/q.dat"
coll=$("$kubetee" sim collateral)
expect 1 "simulated quote" "simulated refused by default" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll"
mre=$("$kubetee" dump --enclave "$enclaves/tfftest.signed.so" --json | grep -o '"mrenclave":"[0-9a-f]*"' | cut -d'"' -f4)
printf 'rules:\n- mrenclave: %s\n' "$mre" > "$work/sim.yaml"
expect 1 "does not allow simulation" "a policy without allow_simulation" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --policy "$work/sim.yaml"
printf 'allow_simulation: true\nrules:\n- mrenclave: %s\n' "$mre" > "$work/sim.yaml"
expect 0 "PASS  tcb=UpToDate  (simulated)" "a policy that allows simulation" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --policy "$work/sim.yaml"
expect 1 "trust anchor" "the sim quote against Intel's root" "$kubetee" attest verify --quote "$work/q.dat" --collateral "$coll" --root "$sets/sgx-v3-dcapqvl-cfg-swhardening/intel_root_ca.pem" --allow-simulation

finish
