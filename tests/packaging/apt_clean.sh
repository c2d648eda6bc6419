#!/usr/bin/env bash
# `apt install ./*.deb` as a new user runs it: on a clean Debian 12 (a minbase rootfs
# debootstrapped from Debian's archive, nothing else in it), apt fetches every Depends of
# make deb's three packages from the archive and installs them; then the packaged programs
# run there, and apt removes them again. The minbase rootfs is cached in
# BUILD/images-cache (keyed by suite, mirror, architecture and debootstrap's version), so
# only the first run fetches it; the packages' Depends are fetched each run, as a user's
# apt would.
set -uo pipefail
build=$(cd "$1" && pwd) src=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
root=$work/root
cleanup() {
  umount "$root/proc" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
for tool in debootstrap chroot apt-cache; do
  command -v "$tool" >/dev/null || { echo "apt_clean: $tool is not installed (scripts/install-deps.sh)"; exit 1; }
done
suite=bookworm arch=$(dpkg --print-architecture)
mirror=${KT_DEBIAN_MIRROR:-$(apt-cache policy | awk -v s="$suite/main $arch Packages" '$0 ~ s && $2 ~ /^https?:/ {print $2; exit}')}
[ -n "$mirror" ] || { echo "apt_clean: no Debian mirror for $suite main in apt's sources; set KT_DEBIAN_MIRROR"; exit 1; }

check "scripts/deb.sh builds the packages" "$src/scripts/deb.sh" "$build" "$work/debs"
debs=$(ls "$work"/debs/*.deb 2>/dev/null | wc -l)
check "three packages" test "$debs" = 3

cache=${KT_IMAGES_CACHE:-$build/images-cache}
mkdir -p "$cache"
key=$(printf '%s\n' clean "$suite" "$mirror" "$arch" "$(dpkg-query -W -f='${Version}' debootstrap)" | sha256sum | cut -c1-16)
base=$cache/minbase-$key.tar
exec 9>"$cache/lock"
flock 9
if [ ! -f "$base" ]; then
  tmp=$(mktemp -d "$cache/minbase.XXXXXX")
  if debootstrap --variant=minbase --arch="$arch" --components=main "$suite" "$tmp/root" "$mirror" >"$tmp/log" 2>&1; then
    rm -rf "$tmp"/root/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$tmp/root" -cf "$tmp/minbase.tar" . && mv "$tmp/minbase.tar" "$base"
  else
    tail -20 "$tmp/log"
  fi
  rm -rf "$tmp"
fi
flock -u 9
check "a clean Debian $suite minbase rootfs (debootstrap, cached)" test -f "$base"
mkdir -p "$root"
tar --numeric-owner -C "$root" -xf "$base"
check "it has none of kubetee's Depends yet" bash -c "! chroot '$root' dpkg -s libgrpc29 >/dev/null 2>&1"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
cp "$work"/debs/*.deb "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
check "apt-get update" in_root apt-get update -q
check "apt install ./*.deb fetches the Depends from the archive and installs all three" \
  in_root bash -c 'cd /tmp && apt-get install -y -q --no-install-recommends ./libkubetee-dev_*.deb ./kubetee-tools_*.deb ./kubetee-services_*.deb'
check "dpkg lists them installed" in_root bash -c 'for p in libkubetee-dev kubetee-tools kubetee-services; do dpkg -s $p | grep -q "^Status: install ok installed" || exit 1; done'
expect 0 "usage" "the installed kubetee runs" in_root kubetee help
for s in kubetee-signer kubetee-collateral kubetee-serve aecs-server sgx-device-plugin sgx-webhook; do
  # each service's usage, or its refusal of a missing config: it loads and starts
  check "$s runs (its libraries all installed)" in_root bash -c "$s --help >/tmp/out 2>&1; [ \$? -lt 126 ] && ! grep -q 'error while loading shared libraries' /tmp/out"
done
check "the AECS enclave is installed where aecs-server looks" in_root test -s /usr/lib/kubetee/aecs/aecs.signed.so
expect 0 "mrenclave" "the packaged kubetee measures it" in_root kubetee dump --enclave /usr/lib/kubetee/aecs/aecs.signed.so
check "the CMake package is where find_package looks" in_root test -f /usr/lib/x86_64-linux-gnu/cmake/kubetee/kubetee-config.cmake
check "apt removes them again" in_root apt-get remove -y -q libkubetee-dev kubetee-tools kubetee-services
check "and none is installed after" in_root bash -c '! dpkg -s kubetee-tools 2>/dev/null | grep -q "^Status: install ok installed"'
finish
