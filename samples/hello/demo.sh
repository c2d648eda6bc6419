#!/usr/bin/env bash
# make demo: the hello enclave from source to a signed, measured, running enclave.
set -euo pipefail
build=${1:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
out=$build/samples/hello
export KUBETEE_SIM_DIR=${KUBETEE_SIM_DIR:-$build/demo-sim}

echo "== 1. built and signed: $out/hello.signed.so"
"$build/tools/kubetee/kubetee" dump --enclave "$out/hello.signed.so"
echo
echo "== 2. run it on the simulated platform (state in $KUBETEE_SIM_DIR)"
"$out/hello_host" "$out/hello.signed.so" "kubetee" "$build/demo-quote.dat" | tee "$build/demo-run.txt"
echo
echo "== 3. run it again: the identity key is unsealed, not made anew"
"$out/hello_host" "$out/hello.signed.so" "again" | grep identity
echo
echo "== 4. one changed byte in the image: refused before any enclave code runs"
tampered=$(mktemp --suffix=.so)
cp "$out/hello.signed.so" "$tampered"
printf '\x90' | dd of="$tampered" bs=1 seek=4200 conv=notrunc status=none
if "$out/hello_host" "$tampered" 2>&1 | grep -m1 -o 'measurement mismatch[^(]*'; then :; fi
rm -f "$tampered"
echo
echo "== 5. verify the enclave's own quote: measurement and key binding, like an Intel quote"
kubetee=$build/tools/kubetee/kubetee
mre=$("$kubetee" dump --enclave "$out/hello.signed.so" --json | sed 's/.*"mrenclave":"\([0-9a-f]*\)".*/\1/')
keyhash=$(sed -n 's/^key hash *//p' "$build/demo-run.txt")
coll=$("$kubetee" sim collateral)
policy=$(mktemp --suffix=.yaml)
printf 'allow_simulation: true\nrules:\n- mrenclave: %s\n  report_data: %s\n' "$mre" "$keyhash" > "$policy"
cat "$policy" | sed 's/^/   policy: /'
"$kubetee" attest verify --quote "$build/demo-quote.dat" --collateral "$coll" --policy "$policy"
printf 'rules:\n- mrenclave: %s\n  report_data: %s\n' "$mre" "$keyhash" > "$policy"
echo "   the same quote under a policy that does not allow simulation:"
"$kubetee" attest verify --quote "$build/demo-quote.dat" --collateral "$coll" --policy "$policy" | sed 's/^/   /' || true
rm -f "$policy"
echo
echo "Simulated platform: the enclave runs as ordinary code in the host process; sealing"
echo "and reports are real crypto, but the host can read everything. See docs/sim.md."
