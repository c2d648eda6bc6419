#!/usr/bin/env bash
# make bench: every benchmark, each ending in a BENCH line (see README).
set -euo pipefail
build=${1:-build/release}
export KUBETEE_SIM_DIR=${KUBETEE_SIM_DIR:-$build/bench-sim}
"$build/bench/bench_measure" "$build/bench/bench_big.so"
echo
"$build/bench/bench_ecall" "$build/bench/bench_enclave.signed.so"
echo
"$build/bench/bench_verify" "$(cd "$(dirname "$0")/.." && pwd)/../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening"
