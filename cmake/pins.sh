#!/usr/bin/env bash
# Build step: what an enclave's compiled-in policy pins, made before it is compiled: the
# simulation root of a sim state (made there on first use; its SHA-256 is what a policy's
# simulation_root names) and the MRSIGNER of a signing key (SHA-256 of the RSA modulus,
# little-endian as SIGSTRUCT keeps it). samples/remote pins its own signer (REMOTE);
# samples/aecs-ta and bench/aecs pin the AECS enclave's (AECS).
#   pins.sh KUBETEE SIM_DIR KEY.pem OUT.h [PREFIX]   (PREFIX_SIM_ROOT, PREFIX_MRSIGNER; REMOTE)
set -euo pipefail
kubetee=$1 sim=$2 key=$3 out=$4 prefix=${5:-REMOTE}
export KUBETEE_SIM_DIR=$sim
"$kubetee" sim collateral > /dev/null # makes the simulation root when there is none
exp=$(mktemp -d)
trap 'rm -rf "$exp"' EXIT
"$kubetee" sim export --out "$exp" > /dev/null
root=$(openssl x509 -in "$exp/root_ca.pem" -outform der | sha256sum | cut -d' ' -f1)
mrsigner=$(openssl rsa -in "$key" -noout -modulus | sed 's/^Modulus=//' | fold -w2 | tac | tr -d '\n' |
  xxd -r -p | sha256sum | cut -d' ' -f1)
[ ${#root} = 64 ] && [ ${#mrsigner} = 64 ] || { echo "pins.sh: no root or MRSIGNER" >&2; exit 1; }
printf '/* made by cmake/pins.sh */\n#define %s_SIM_ROOT "%s"\n#define %s_MRSIGNER "%s"\n' \
  "$prefix" "$root" "$prefix" "$mrsigner" > "$out"
