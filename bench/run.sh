#!/usr/bin/env bash
# make bench: every benchmark, each ending in a BENCH line (see README).
set -euo pipefail
build=${1:-build/release}
export KUBETEE_SIM_DIR=${KUBETEE_SIM_DIR:-$build/bench-sim}
"$build/bench/bench_measure" "$build/bench/bench_big.so"
echo
"$build/bench/bench_ecall" "$build/bench/bench_enclave.signed.so"
echo
# Phala's dcap-qvl from npm into the build tree: bench_verify times it beside ours
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/../tests/interop/dcapqvl/install.sh" "$build/dcapqvl"
"$build/bench/bench_verify" "$here/../../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening" \
  "$here/verify/dcapqvl.mjs" "$build/dcapqvl/node_modules"
echo
"$build/bench/bench_rpc"
echo
"$build/bench/bench_signer" "$build/services/signer/kubetee-signer"
echo
bash "$here/webhook/webhook.sh" "$build"
echo
"$build/bench/bench_session"
echo
"$build/bench/bench_session_calls" "$build/bench/bench_session_echo.signed.so" "$here/../tests/data/service_client.pem"
echo
# TA secret gets through aecs-server against plain gRPC echo (its own sim state: the TA pins its root)
"$build/bench/bench_aecs" "$build/services/aecs/aecs-server" "$build/services/aecs/aecs.signed.so" \
  "$build/bench/bench_aecs_ta.signed.so" "$build/bench/aecs-sim"
echo
# kubetee-collateral's cached TCB Info against nginx serving the same bytes (wrk)
bash "$here/collateral/run.sh" "$build"
echo
# the AECS enclave's object table against the linear list it replaced (start scan + gets, 50,000 objects)
"$build/bench/bench_objtable"
echo
# fs store puts in batches of 16 (a key rotation's) against the same puts one by one
"$build/bench/bench_store"
