#!/usr/bin/env bash
# ctest dcapqvl_peer: installs dcap-qvl from npm into DEST (under build/), then compares its
# verdicts with kubetee's on every shared attestation set (compare.mjs). An install that
# fails (no registry, no node) fails the test; it never skips.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kubetee=$1 sets=$2 dest=$3
bash "$here/install.sh" "$dest"
exec node "$here/compare.mjs" "$kubetee" "$sets" "$dest/node_modules"
