#!/usr/bin/env bash
# `make deb`'s packages from this build: built by scripts/deb.sh, checked by lintian (no
# errors; only the warnings tests/packaging/lintian.accepted names), their Depends checked
# against what the programs load and what the .pc files require, installed by dpkg into a
# throwaway root whose package database is a copy of this machine's (so Depends are
# checked against real packages and nothing here changes), removed again, resolved by apt
# against Debian's archive (simulated), and finally unpacked and built against: samples/hello
# out of tree, signed and run from the packages' files alone, and a `kubetee new
# --with-remote` project made by the packaged tool, served and called through a session.
set -uo pipefail
build=$1 src=$2 cc=$3 san=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
. "$here/project.sh"
trap 'rm -rf "$work"' EXIT
export KUBETEE_SIM_DIR=$work/sim
debs=$work/debs

# a tree configured for another prefix would put Debian's files in the wrong places
mkdir -p "$work/other"
sed 's|^CMAKE_INSTALL_PREFIX:PATH=.*|CMAKE_INSTALL_PREFIX:PATH=/usr/local|' "$build/CMakeCache.txt" > "$work/other/CMakeCache.txt"
refuse "deb.sh refuses a tree not configured for /usr" "configured for /usr/local" "$src/scripts/deb.sh" "$work/other" "$work/none"
check "scripts/deb.sh builds the packages" "$src/scripts/deb.sh" "$build" "$debs"
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")-1
arch=$(dpkg --print-architecture)
for p in libkubetee-dev kubetee-tools kubetee-services; do
  check "$p made" test -f "$debs/${p}_${ver}_${arch}.deb"
done
dev=$debs/libkubetee-dev_${ver}_${arch}.deb tools=$debs/kubetee-tools_${ver}_${arch}.deb
services=$debs/kubetee-services_${ver}_${arch}.deb

# contents: each file in the package it belongs to
contents() { dpkg-deb -c "$1" | awk '{print $6}'; }
check "dev has the headers, libraries, CMake package, .pc files" bash -c "c=\$(dpkg-deb -c '$dev'); for f in ./usr/include/kubetee/trusted.h ./usr/include/kubetee/proto/tff.pb-c.h kubetee-config.cmake enclave.lds libkt_trusted.a libkt_attest.a kubetee-attest.pc ./usr/include/kubetee/service.h ./usr/include/kubetee/proto/enclave_service.pb-c.h libkt_service_host.a libkt_service_trusted.a libkt_service_client.a libkt_service_client_trusted.a libkt_pbjson.a libkt_pbschema.a kubetee-service_client.pc kt_client_keys.cmake; do grep -qF -- \"\$f\" <<<\"\$c\" || { echo missing \$f; exit 1; }; done"
check "tools has /usr/bin/kubetee, its man page, its CMake targets" bash -c "c=\$(dpkg-deb -c '$tools'); grep -q ' ./usr/bin/kubetee$' <<<\"\$c\" && grep -q 'man1/kubetee.1.gz$' <<<\"\$c\" && grep -q 'kubetee-tool-targets.cmake$' <<<\"\$c\""
for s in sgx-device-plugin sgx-epc-limit-hook sgx-webhook kubetee-signer kubetee-collateral kubetee-serve aecs-server; do
  check "services has /usr/sbin/$s and its man page" bash -c "c=\$(dpkg-deb -c '$services'); grep -q ' ./usr/sbin/$s\$' <<<\"\$c\" && grep -q 'man8/$s.8.gz\$' <<<\"\$c\""
done
for d in "$dev" "$tools" "$services"; do
  check "$(basename "$d"): every file root-owned, none writable by others" bash -c "dpkg-deb -c '$d' > '$work/list' && [ -s '$work/list' ] && ! awk '\$2 != \"root/root\" || \$1 ~ /^.......w/' '$work/list' | grep -q ."
done
for d in "$dev" "$tools" "$services"; do
  check "$(basename "$d"): copyright and changelog" bash -c "contents() { dpkg-deb -c \"\$1\" | awk '{print \$6}'; }; c=\$(contents '$d'); grep -q '/copyright$' <<<\"\$c\" && grep -q '/changelog.Debian.gz$' <<<\"\$c\""
done

# Depends: every library a program loads comes from a package its Depends names
for d in "$tools" "$services"; do
  x=$work/x-$(basename "$d" .deb)
  dpkg-deb -x "$d" "$x"
  deps=$(dpkg-deb -f "$d" Depends)
  for elf in $(find "$x/usr" -type f -perm -u+x); do
    for lib in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
      real=$(readlink -f "$path")
      # merged /usr: dpkg knows a file by the name its package ships it under
      pkg=$( (dpkg -S "$path" || dpkg -S "$real" || dpkg -S "${real#/usr}" || dpkg -S "/usr$path") 2>/dev/null | head -1 | cut -d: -f1)
      check "$(basename "$elf") needs $lib: its package ${pkg:-?} is in Depends" \
        bash -c "[ -n '$pkg' ] && grep -qE '(^|, )$pkg( |,|$)' <<<'$deps'"
    done
  done
done
check "dev depends on exactly this kubetee-tools" bash -c "dpkg-deb -f '$dev' Depends | grep -qF 'kubetee-tools (= $ver)'"
# and every module a .pc file requires comes from a package dev's Depends names
xdev=$work/x-dev
dpkg-deb -x "$dev" "$xdev"
devdeps=$(dpkg-deb -f "$dev" Depends)
for m in $(sed -n 's/^Requires: //p' "$xdev"/usr/lib/*/pkgconfig/*.pc "$xdev"/usr/lib/pkgconfig/*.pc 2>/dev/null | tr ' ' '\n' | grep -v '^kubetee-' | sort -u); do
  pc=$(pkg-config --variable=pcfiledir "$m")/$m.pc
  pkg=$(dpkg -S "$pc" 2>/dev/null | head -1 | cut -d: -f1)
  check "a .pc file requires $m: its package ${pkg:-?} is in dev's Depends" \
    bash -c "[ -n '$pkg' ] && grep -qE '(^|, |\| )$pkg( |,|$)' <<<'$devdeps'"
done

# lintian: no errors; warnings only those accepted
lintian --fail-on error --display-info "$debs"/*.deb > "$work/lintian.txt" 2>&1
check "lintian finds no errors" test $? = 0
cat "$work/lintian.txt"
accepted=$(grep -v '^#' "$here/lintian.accepted" | sed '/^$/d')
check "lintian warns only what lintian.accepted accepts" bash -c "! grep -E '^[EW]: ' '$work/lintian.txt' | awk '{print \$3}' | grep -vxF '$accepted'"

# dpkg into a throwaway root that believes it has this machine's packages
droot=$work/droot
mkdir -p "$droot/var/lib/dpkg/info" "$droot/var/lib/dpkg/updates"
cp /var/lib/dpkg/status "$droot/var/lib/dpkg/status"
touch "$droot/var/lib/dpkg/available"
check "dpkg --root installs all three, Depends met" dpkg --root="$droot" -i "$dev" "$tools" "$services"
check "dpkg lists them installed" bash -c "for p in libkubetee-dev kubetee-tools kubetee-services; do dpkg --root='$droot' -s \$p | grep -q '^Status: install ok installed' || exit 1; done"
check "the installed kubetee runs" "$droot/usr/bin/kubetee" help
refuse "dpkg refuses libkubetee-dev without kubetee-tools" "kubetee-tools" \
  bash -c "dpkg --root='$droot' -r kubetee-tools"
check "dpkg --root purges them" dpkg --root="$droot" --purge libkubetee-dev kubetee-tools kubetee-services
check "nothing left behind" bash -c "[ -z \"\$(find '$droot' -path '$droot/var' -prune -o -type f -print)\" ]"
# apt against Debian's archive: every Depends resolvable (simulated, changes nothing)
check "apt-get install -s ./*.deb resolves" apt-get install -s -q "$dev" "$tools" "$services"

# build against the unpacked packages alone
x=$work/unpacked
for d in "$dev" "$tools" "$services"; do dpkg-deb -x "$d" "$x"; done
hello_outside "$x/usr" "$src" "$cc" "$san"
# and `kubetee new --with-remote` from them: built, signed, served, called through a session
remote_outside "$x/usr" deb-remote "$cc" "$san"
finish
