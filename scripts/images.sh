#!/usr/bin/env bash
# kubetee's container images, built with buildah from the Containerfiles under images/ and
# samples/hello, with no registry (`make images` runs it on `make deb`'s packages):
#   scripts/images.sh DEBS_DIR HELLO_DIR OUT_DIR
# DEBS_DIR holds kubetee-tools and kubetee-services (.deb), HELLO_DIR the built sample TA
# (hello_host, hello.signed.so). It makes:
#   kubetee/kubetee-runtime   Debian 12 (debootstrap --variant=minbase from Debian's archive)
#                             with the packages' Depends and the kubetee packages installed
#   kubetee/sgx-device-plugin, kubetee/sgx-webhook, kubetee/kubetee-signer,
#   kubetee/kubetee-collateral, kubetee/aecs-server
#                             one program each, its libraries and nothing else: no shell
#                             (aecs-server with its signed enclave, labelled with its
#                             MRENCLAVE and MRSIGNER)
#   kubetee/hello             the sample TA on the runtime base, labelled with its MRENCLAVE
# all tagged with the packages' version, as OUT_DIR/oci (an OCI image layout, one tag per
# image) and in containers-storage: the machine's, or KT_IMAGES_STORE's (vfs) if set.
# The debootstrapped rootfs is cached in KT_IMAGES_CACHE (default OUT_DIR/cache), keyed by
# suite, mirror, architecture, debootstrap's version and the package list, so a rebuild
# with the same Depends does not fetch Debian again. KT_DEBIAN_MIRROR overrides the mirror,
# which is otherwise the one this machine's apt uses for bookworm main.
set -euo pipefail
debs=$(cd "$1" && pwd)
hello=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
arch=$(dpkg --print-architecture)
cache=${KT_IMAGES_CACHE:-$out/cache}
mkdir -p "$cache"

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }
for tool in buildah debootstrap readelf python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done

store=()
if [ -n "${KT_IMAGES_STORE:-}" ]; then
  mkdir -p "$KT_IMAGES_STORE"
  store=(--root "$KT_IMAGES_STORE/root" --runroot "$KT_IMAGES_STORE/run" --storage-driver vfs)
fi
bah() { buildah "${store[@]}" "$@"; }

one_deb() {
  local f=("$debs"/"$1"_*_"$arch".deb)
  [ ${#f[@]} -eq 1 ] && [ -f "${f[0]}" ] || die "$debs has no single $1 package for $arch"
  echo "${f[0]}"
}
tools_deb=$(one_deb kubetee-tools)
services_deb=$(one_deb kubetee-services)
debver=$(dpkg-deb -f "$tools_deb" Version)
[ "$(dpkg-deb -f "$services_deb" Version)" = "$debver" ] || die "kubetee-tools and kubetee-services differ in version"
version=${debver%-*}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "package version $debver is not N.N.N-R"

# --- the Debian rootfs: the packages' Depends (first of each alternative), debootstrapped
mirror=${KT_DEBIAN_MIRROR:-$(apt-cache policy | awk -v s="$suite/main $arch Packages" '$0 ~ s && $2 ~ /^https?:/ {print $2; exit}')}
[ -n "$mirror" ] || die "no Debian mirror for $suite main in apt's sources; set KT_DEBIAN_MIRROR"
# ca-certificates: kubetee-collateral and kubetee attest fetch from HTTPS upstreams
pkgs=$( (dpkg-deb -f "$tools_deb" Depends; echo ,; dpkg-deb -f "$services_deb" Depends; echo ", ca-certificates") |
  tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep -v '^kubetee-' | sed '/^$/d' | sort -u | paste -sd,)
for p in ${pkgs//,/ }; do
  [[ $p =~ ^[a-z0-9][a-z0-9.+-]+(:[a-z0-9]+)?$ ]] || die "a Depends names '$p', not a package name"
done
key=$(printf '%s\n' "$suite" "$mirror" "$arch" "$(dpkg-query -W -f='${Version}' debootstrap)" "$pkgs" | sha256sum | cut -c1-16)
base=$cache/rootfs-$key.tar
exec 9>"$cache/lock"
flock 9
if [ ! -f "$base" ]; then
  say "debootstrap $suite from $mirror (minbase, +${pkgs//,/ })"
  tmp=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if ! debootstrap --variant=minbase --arch="$arch" --components=main --include="$pkgs" \
      "$suite" "$tmp/root" "$mirror" > "$tmp/log" 2>&1; then
    tail -20 "$tmp/log" >&2
    die "debootstrap failed (log above)"
  fi
  rm -rf "$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/*
  tar --numeric-owner --xattrs -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  mv "$tmp/rootfs.tar" "$base"
  rm -rf "$tmp"
  trap - EXIT
else
  say "Debian rootfs from cache ($base)"
fi
flock -u 9

work=$out/work
rm -rf "$work"
mkdir -p "$work/rootfs"
tar --numeric-owner --xattrs -C "$work/rootfs" -xf "$base"
rootfs=$work/rootfs

# --- the kubetee packages, installed by the rootfs's own dpkg (their Depends are checked
# against what debootstrap installed), and the one non-root user every image runs as
cp "$tools_deb" "$services_deb" "$rootfs/tmp/"
chroot "$rootfs" dpkg -i "/tmp/$(basename "$tools_deb")" "/tmp/$(basename "$services_deb")" > "$work/dpkg.log" 2>&1 ||
  { cat "$work/dpkg.log" >&2; die "the kubetee packages do not install on the Debian rootfs"; }
rm -f "$rootfs"/tmp/*.deb
chroot "$rootfs" groupadd --gid 65532 kubetee
chroot "$rootfs" useradd -K UID_MAX=65534 --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin kubetee
rm -f "$rootfs"/var/log/*.log "$rootfs"/var/cache/ldconfig/aux-cache

created=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
build() { # NAME CONTEXT CONTAINERFILE [--build-arg ...]
  local name=$1 ctx=$2 file=$3
  shift 3
  say "build kubetee/$name:$version"
  bah build --quiet --pull=never --network=none --layers=false \
    --build-arg VERSION="$version" --build-arg CREATED="$created" "$@" \
    -f "$file" -t "kubetee/$name:$version" "$ctx" >/dev/null
  bah push --quiet "kubetee/$name:$version" "oci:$out/oci:$name" >/dev/null
}

rm -rf "$out/oci"
mkdir -p "$work/runtime"
tar --numeric-owner --xattrs -C "$rootfs" -cf "$work/runtime/rootfs.tar" .
build kubetee-runtime "$work/runtime" "$src/images/runtime/Containerfile"

# --- one program each, carved out of the same rootfs
service_image() { # NAME PROGRAM [image_root.py options] [-- build options]
  local name=$1 prog=$2 opts=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  mkdir -p "$work/$name"
  python3 "$src/scripts/image_root.py" "$rootfs" "$work/$name/root" "${opts[@]}" "$prog"
  build "$name" "$work/$name" "$src/images/$name/Containerfile" "$@"
}
# the MRENCLAVE and MRSIGNER of a signed enclave, measured by the packaged kubetee tool
# itself (unpacked here), not taken from the build
dpkg-deb -x "$tools_deb" "$work/tools"
measure() { # ENCLAVE WHAT: prints "mrenclave mrsigner"
  local ids
  ids=$("$work/tools/usr/bin/kubetee" dump --enclave "$1" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["mrenclave"], d["mrsigner"])')
  [[ $ids =~ ^[0-9a-f]{64}\ [0-9a-f]{64}$ ]] || die "kubetee dump gave no MRENCLAVE/MRSIGNER for $2"
  echo "$ids"
}
service_image sgx-device-plugin /usr/sbin/sgx-device-plugin
service_image sgx-webhook /usr/sbin/sgx-webhook
service_image kubetee-signer /usr/sbin/kubetee-signer
service_image kubetee-collateral /usr/sbin/kubetee-collateral --file /etc/ssl/certs/ca-certificates.crt
aecs_enclave=/usr/lib/kubetee/aecs/aecs.signed.so
[ -f "$rootfs$aecs_enclave" ] || die "kubetee-services has no $aecs_enclave"
ids=$(measure "$rootfs$aecs_enclave" "the AECS enclave")
aecs_mre=${ids% *} aecs_mrs=${ids#* }
service_image aecs-server /usr/sbin/aecs-server --file "$aecs_enclave" -- \
  --build-arg MRENCLAVE="$aecs_mre" --build-arg MRSIGNER="$aecs_mrs"

# --- the sample TA on the runtime base, labelled with the MRENCLAVE of its enclave
mkdir -p "$work/hello"
cp "$hello/hello_host" "$hello/hello.signed.so" "$work/hello/"
ids=$(measure "$work/hello/hello.signed.so" hello)
mrenclave=${ids% *} mrsigner=${ids#* }
build hello "$work/hello" "$src/samples/hello/Containerfile" \
  --build-arg RUNTIME="kubetee/kubetee-runtime:$version" \
  --build-arg MRENCLAVE="$mrenclave" --build-arg MRSIGNER="$mrsigner"

{
  for name in kubetee-runtime sgx-device-plugin sgx-webhook kubetee-signer kubetee-collateral aecs-server hello; do
    echo "kubetee/$name:$version $(bah inspect --format '{{.FromImageID}}' "kubetee/$name:$version")"
  done
} > "$out/images.txt"
rm -rf "$work"
say "done: $(wc -l < "$out/images.txt") images (list: $out/images.txt, OCI layout: $out/oci)"
