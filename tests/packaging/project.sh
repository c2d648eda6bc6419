# Shared by the packaging tests (source after tests/integration/lib.sh): samples/hello
# copied out of the tree and built against an installed SDK under $1 (a usr directory),
# with find_package(kubetee) and with pkg-config, signed by that SDK's tool, run on sim.
# Sets proj, libdir and flags for the caller.
hello_outside() {
  local usr=$1 src=$2 cc=$3 san=$4
  libdir=$(dirname "$(find "$usr/lib" -name libkt_trusted.a | head -1)")
  proj=$work/hello
  mkdir -p "$proj"
  cp "$src"/samples/hello/{enclave.c,host.c,hello.proto,enclave.conf} "$here/hello/CMakeLists.txt" "$proj/"
  flags=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$usr" -DCMAKE_BUILD_TYPE=Debug)
  if [ -n "$san" ]; then
    flags+=(-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san")
  fi
  check "configure with find_package(kubetee)" cmake -S "$proj" -B "$proj/b" "${flags[@]}"
  check "build, sign" cmake --build "$proj/b"
  check "signed enclave made" test -f "$proj/b/hello.signed.so"
  check "compiled against the installed headers, not the source tree" \
    bash -c "grep -qF -- '$usr/include' '$proj/b/compile_commands.json' && ! grep -qF '$src' '$proj/b/compile_commands.json'"
  expect 0 "round trip ok" "the enclave runs on sim" "$proj/b/hello_host" "$proj/b/hello.signed.so" outside
  cp "$work/out" "$work/run.txt"
  check "the greeting came from the enclave" grep -q 'SayHello    Hello, outside! (from inside the enclave' "$work/run.txt"
  mre=$(sed -n 's/^MRENCLAVE *//p' "$work/run.txt")
  expect 0 "\"mrenclave\":\"$mre\"" "installed kubetee dump agrees on MRENCLAVE" \
    "$usr/bin/kubetee" dump --enclave "$proj/b/hello.signed.so" --json

  # pkg-config: the host compiled by hand from the .pc files alone
  local PKG_CONFIG_PATH=$libdir/pkgconfig
  export PKG_CONFIG_PATH
  check "pkg-config finds kubetee-attest under the installed root" \
    bash -c "pkg-config --libs kubetee-attest | grep -qF -- '-L$libdir/pkgconfig/'"
  check "pkg-config gives KT_TRUSTED to enclave code" bash -c "pkg-config --cflags kubetee-trusted | grep -q -- -DKT_TRUSTED"
  # shellcheck disable=SC2046
  check "host built with pkg-config" "$cc" $san -o "$work/host_pc" "$proj/host.c" "$proj/b/hello.pb-c.c" -I"$proj/b" \
    $(pkg-config --cflags --libs kubetee-attest)
  expect 0 "round trip ok" "the pkg-config host runs the enclave" "$work/host_pc" "$proj/b/hello.signed.so" pc
}
