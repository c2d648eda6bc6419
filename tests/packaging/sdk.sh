#!/usr/bin/env bash
# The installed SDK on its own: `cmake --install` into a throwaway root (DESTDIR), then
# samples/hello copied out and built there with find_package(kubetee) and with pkg-config
# against that root (never the source tree), signed by the installed tool and run on sim.
# The root is used where it lies, not at the prefix it was installed for: the CMake
# package and the .pc files must be relocatable.
set -uo pipefail
build=$1 src=$2 cc=$3 san=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
trap 'rm -rf "$work"' EXIT
root=$work/root
export KUBETEE_SIM_DIR=$work/sim

check "cmake --install into a DESTDIR" env DESTDIR="$root" cmake --install "$build" --prefix /usr
usr=$root/usr
libdir=$(dirname "$(find "$usr/lib" -name libkt_trusted.a | head -1)")
for f in include/kubetee/tff.h include/kubetee/trusted.h include/kubetee/proto/tff.pb-c.h \
         include/kubetee/service.h include/kubetee/session.h include/kubetee/pbjson.h include/kubetee/pbschema.h \
         include/kubetee/proto/enclave_service.pb-c.h share/kubetee/proto/enclave_service.proto sbin/kubetee-serve \
         include/kubetee/aecs.h bin/aecsadmin bin/serviceadmin sbin/aecs-server lib/kubetee/aecs/aecs.signed.so \
         bin/kubetee sbin/sgx-device-plugin sbin/sgx-epc-limit-hook sbin/sgx-webhook sbin/kubetee-signer share/kubetee/proto/tff.proto; do
  check "installed $f" test -f "$usr/$f"
done
for f in libkt_trusted.a libkt_tff.a libkt_attest.a libkt_rpc.a cmake/kubetee/kubetee-config.cmake \
         cmake/kubetee/kubetee.cmake cmake/kubetee/enclave.lds pkgconfig/kubetee-trusted.pc \
         pkgconfig/kubetee-attest.pc cmake/kubetee/kt_client_keys.cmake cmake/kubetee/kt_enclave_policy.cmake; do
  check "installed lib/.../$f" test -f "$libdir/$f"
done
# the enclave service: each library, its pkg-config file and its CMake target
for lib in service service_host service_trusted service_client service_client_trusted pbjson pbschema aecs_ta_trusted; do
  check "installed libkt_$lib.a, kubetee-$lib.pc" test -f "$libdir/libkt_$lib.a" -a -f "$libdir/pkgconfig/kubetee-$lib.pc"
  check "kubetee::$lib exported" grep -q "add_library(kubetee::$lib STATIC IMPORTED)" "$libdir/cmake/kubetee/kubetee-targets.cmake"
done
check "no installed file names the source or build tree" \
  bash -c "! grep -rlF -e '$src' -e '$build' '$usr/include' '$libdir/cmake' '$libdir/pkgconfig'"

. "$here/project.sh"
hello_outside "$usr" "$src" "$cc" "$san"

# refusals: a missing tool and a version the package is not
mv "$libdir/cmake/kubetee/kubetee-tool-targets.cmake" "$work/tool-targets.cmake"
refuse "find_package without the tool says what is missing" "kubetee's tool is not installed" \
  cmake -S "$proj" -B "$proj/b2" "${flags[@]}"
mv "$work/tool-targets.cmake" "$libdir/cmake/kubetee/kubetee-tool-targets.cmake"
mkdir -p "$work/v9"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(v9 LANGUAGES C)\nfind_package(kubetee 9.0 CONFIG REQUIRED)\n' > "$work/v9/CMakeLists.txt"
refuse "find_package(kubetee 9.0) refused" "compatible with requested version \"9.0\"" cmake -S "$work/v9" -B "$work/v9/b" "${flags[@]}"
finish
