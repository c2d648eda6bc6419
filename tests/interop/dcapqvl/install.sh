#!/usr/bin/env bash
# install.sh DEST: Phala's dcap-qvl from npm into DEST/node_modules, at the versions and
# hashes package-lock.json pins (npm ci checks every package's integrity). Nothing from
# npm is committed; DEST is under build/. Does nothing when DEST already holds this lock.
# Fails, saying why, when node, npm or the registry cannot be reached.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "dcap-qvl install: $tool not found (scripts/install-deps.sh installs nodejs and npm)" >&2
    exit 1
  fi
done
mkdir -p "$dest"
if [ -d "$dest/node_modules/@phala/dcap-qvl-web" ] && [ -d "$dest/node_modules/@phala/dcap-qvl" ] &&
  cmp -s "$here/package-lock.json" "$dest/package-lock.json"; then
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
if ! (cd "$dest" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >npm.log 2>&1); then
  echo "dcap-qvl install: npm ci in $dest failed (is the npm registry reachable?):" >&2
  tail -n 20 "$dest/npm.log" >&2
  rm -f "$dest/package-lock.json"
  exit 1
fi
