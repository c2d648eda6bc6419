#!/usr/bin/env bash
# Debian packages from a built tree: scripts/deb.sh BUILD_DIR OUT_DIR (`make deb` runs it on
# a release build configured for /usr). One package per install component:
#   libkubetee-dev    headers, static host and trusted libraries, CMake package, .pc files
#   kubetee-tools     the kubetee tool (keygen, sign, dump, attest, sim, new)
#   kubetee-services  the services (each program services/ builds)
# Each is staged with `cmake --install --component`, its Depends on Debian's shared
# libraries found by dpkg-shlibdeps from the binaries themselves, and built by dpkg-deb.
set -euo pipefail
build=$(cd "$1" && pwd)
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || { echo "deb.sh: no project version in $build/CMakeCache.txt" >&2; exit 1; }
# Debian's paths (lib/<multiarch>) come from configuring for /usr; the CMake package's
# relative paths are fixed then, so a tree configured for elsewhere is refused
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if [ "$prefix" != /usr ]; then
  echo "deb.sh: $build is configured for $prefix; configure it with -DCMAKE_INSTALL_PREFIX=/usr" >&2
  exit 1
fi
debver=$version-1
arch=$(dpkg --print-architecture)
maintainer="kubetee maintainers <maintainers@users.noreply.r-seed-36dc823d.example>"
# one date for every file and the changelog: the last commit's, so a rebuild is identical
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# name^component^section^Depends beyond shared libraries (dpkg-shlibdeps adds those)^summary^description
packages=(
  "libkubetee-dev^dev^libdevel^kubetee-tools (= $debver), cmake (>= 3.25), pkgconf | pkg-config, libssl-dev (>= 3.0), libprotobuf-c-dev, protobuf-c-compiler, libjansson-dev, libyaml-dev, libcurl4-openssl-dev | libcurl-dev, libgrpc-dev, libmicrohttpd-dev, libp11-kit-dev, openssl^kubetee SDK: headers, host and trusted libraries, CMake package^The kubetee SDK for Intel SGX trusted applications: the public headers, the static host libraries (TFF calls, attestation, rpc, the enclave service's host and client) and the trusted runtime an enclave links (with the enclave service's end and client), a CMake package (find_package(kubetee CONFIG) with kt_add_enclave, kt_sign_enclave, kt_protobuf_c, kt_service_client_keys and kt_enclave_policy) and pkg-config files."
  "kubetee-tools^tools^devel^^kubetee tool: sign, inspect and attest SGX enclaves^The kubetee command: makes enclave signing keys, signs enclaves in one or two steps, prints and checks a signed enclave's MRENCLAVE and EINIT rules, quotes on the simulated platform, verifies DCAP quotes against collateral and a policy, and makes new projects that build against the SDK (kubetee new); aecsadmin and serviceadmin, the admin tools of AECS."
  "kubetee-services^services^admin^^kubetee services for Kubernetes clusters of SGX machines^The kubetee daemons: sgx-device-plugin, the Kubernetes device plugin that advertises SGX enclave, provisioning and EPC resources, with sgx-epc-limit-hook, the OCI hook that sets a container's EPC limit; sgx-webhook, the admission webhook that gives SGX pods their devices; kubetee-signer, the enclave signing service with keys in a PKCS#11 token; kubetee-collateral, the DCAP collateral cache; kubetee-serve, which serves an enclave's remote functions over attested sessions; aecs-server, the host of the AECS secret service."
)

for spec in "${packages[@]}"; do
  IFS='^' read -r name component section depends summary description <<<"$spec"
  root=$stage/$name
  DESTDIR=$root cmake --install "$build" --prefix /usr --component "$component" --strip >/dev/null
  if [ ! -d "$root/usr" ]; then
    echo "deb.sh: component $component installed nothing" >&2
    exit 1
  fi
  # the programs; the compiler's version strings (.comment) are no part of them
  mapfile -t elves < <(find "$root" -type f -perm -u+x -exec sh -c 'head -c4 "$1" | grep -q ELF' _ {} \; -print)
  for f in "${elves[@]}" $(find "$root/usr" -type f -name '*.a'); do objcopy --remove-section=.comment "$f"; done
  if [ -d "$root/usr/share/man" ]; then find "$root/usr/share/man" -type f -exec gzip -9n {} +; fi
  doc=$root/usr/share/doc/$name
  mkdir -p "$doc" "$root/DEBIAN"
  sed "s/@YEAR@/$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)/" "$src/scripts/deb/copyright" > "$doc/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the kubetee tree (make deb).\n\n -- %s  %s\n' \
    "$name" "$debver" "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n > "$doc/changelog.Debian.gz"

  # lintian overrides, each with its reason (scripts/deb/<package>.lintian-overrides)
  if [ -f "$src/scripts/deb/$name.lintian-overrides" ]; then
    mkdir -p "$root/usr/share/lintian/overrides"
    cp "$src/scripts/deb/$name.lintian-overrides" "$root/usr/share/lintian/overrides/$name"
  fi

  # shared libraries the programs need, from the packages that ship them
  shdeps=
  if [ ${#elves[@]} -gt 0 ]; then
    mkdir -p "$stage/shlibs/debian"
    printf 'Source: kubetee\n\nPackage: %s\nArchitecture: any\n' "$name" > "$stage/shlibs/debian/control"
    shdeps=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "${elves[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    [ -n "$shdeps" ] || { echo "deb.sh: dpkg-shlibdeps found no dependencies for $name" >&2; exit 1; }
  fi
  depends=$(printf '%s\n' "$shdeps" "$depends" | sed '/^$/d' | paste -sd, | sed 's/,/, /g; s/,  */, /g')

  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  find "$root" -type d -exec chmod 0755 {} +
  find "$root/usr" -type f ! -perm -u+x -exec chmod 0644 {} +
  find "$root/usr" -type f -perm -u+x -exec chmod 0755 {} +
  (cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  {
    echo "Package: $name"
    echo "Version: $debver"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Section: $section"
    echo "Priority: optional"
    echo "Description: $summary"
    echo "$description" | fold -s -w 72 | sed 's/ *$//; s/^/ /'
  } > "$root/DEBIAN/control"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${name}_${debver}_${arch}.deb" >/dev/null
  echo "$out/${name}_${debver}_${arch}.deb"
done
