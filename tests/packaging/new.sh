#!/usr/bin/env bash
# kubetee new, from an installed SDK (cmake --install into a throwaway root): the project
# it makes builds out of tree with find_package(kubetee), signs, runs on sim, and its
# Kustomize manifests render (kubectl kustomize) and hold the security settings; with
# --with-remote its enclave serves remote functions that `kubetee call` calls through a
# session (project.sh, remote_outside); with --with-aecs its enclave gets its key from the
# installed AECS (aecs_outside). Names outside the allow-list, an existing directory
# and unknown options are refused, and nothing is made for them.
set -uo pipefail
build=$1 src=$2 cc=$3 san=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
trap 'rm -rf "$work"' EXIT
export KUBETEE_SIM_DIR=$work/sim
check "cmake --install into a DESTDIR" env DESTDIR="$work/root" cmake --install "$build" --prefix /usr
usr=$work/root/usr
kubetee=$usr/bin/kubetee
projects=$work/projects
mkdir -p "$projects"

expect 0 "made $projects/demo-app/ (10 files)" "kubetee new demo-app" "$kubetee" new demo-app --dir "$projects"
p=$projects/demo-app
for f in CMakeLists.txt enclave.c host.c app.proto enclave.conf Containerfile README.md .gitignore \
         deploy/kustomization.yaml deploy/app.yaml; do
  check "made $f" test -f "$p/$f"
done
check "every placeholder replaced" bash -c "! grep -rn '@NAME@\|@ID@' '$p'"
check "CMakeLists.txt uses find_package(kubetee)" grep -q 'find_package(kubetee 0.1 CONFIG REQUIRED)' "$p/CMakeLists.txt"
check "names carried: the enclave is demo-app.so, the C identifier demo_app" \
  bash -c "grep -q 'OUTPUT_NAME demo-app)' '$p/CMakeLists.txt' && grep -q 'add_library(demo_app_proto' '$p/CMakeLists.txt'"
check "README says what to edit" grep -q '^## What to edit' "$p/README.md"

flags=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$usr")
if [ -n "$san" ]; then
  flags+=(-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san")
fi
check "configure against the installed SDK" cmake -S "$p" -B "$p/build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${flags[@]}"
check "build and sign at once" cmake --build "$p/build"
check "no path into kubetee's source tree" bash -c "! grep -qF '$src' '$p/build/compile_commands.json'"
expect 0 "round trip ok" "it runs" "$p/build/demo-app-host" "$p/build/demo-app.signed.so" tester
cp "$work/out" "$work/run.txt"
check "the enclave greets, keeps its count, and logs through the OCALL" bash -c \
  "grep -q 'Greet       Hello, tester, from inside demo-app! (greeting 2)' '$work/run.txt' && [ \$(grep -c '^enclave log greeted someone$' '$work/run.txt') = 2 ]"
mre=$(sed -n 's/^MRENCLAVE *//p' "$work/run.txt")
expect 0 "\"mrenclave\":\"$mre\"" "kubetee dump agrees on MRENCLAVE" "$kubetee" dump --enclave "$p/build/demo-app.signed.so" --json
cp "$work/out" "$work/dump.json"
check "the enclave's config is the project's enclave.conf" grep -q '"prodid":1,"svn":1' "$work/dump.json"
# the development key stays: a second build signs with the same MRSIGNER
mrs=$(grep -o '"mrsigner":"[0-9a-f]*"' "$work/dump.json")
check "dump gives MRSIGNER" test -n "$mrs"
touch "$p/enclave.c"
check "rebuild" cmake --build "$p/build"
expect 0 "$mrs" "a rebuild keeps the development key" "$kubetee" dump --enclave "$p/build/demo-app.signed.so" --json

if command -v kubectl >/dev/null; then
  kubectl kustomize "$p/deploy" > "$work/rendered.yaml" 2> "$work/kustomize.err"
  check "kubectl kustomize renders deploy/" test -s "$work/rendered.yaml"
  check "rendered Job is locked down and asks for SGX" /usr/bin/python3 "$here/new_manifests.py" "$work/rendered.yaml" demo-app
else
  fail=$((fail + 1))
  echo "FAIL: no kubectl (scripts/install-deps.sh installs Debian's kubernetes-client)"
fi

# refusals: nothing reaches a shell, nothing is made
cd "$projects" || exit 1
for bad in "" "Demo" "1app" "app-" "a--b" "../escape" "a/b" "a b" 'a;touch pwned' '$(touch pwned)' \
            "a_b" "$(printf 'a\tb')" "$(head -c 41 /dev/zero | tr '\0' a)"; do
  refuse "name '$bad' refused" "project name" "$kubetee" new "$bad" --dir "$projects"
done
check "no refused name made anything" bash -c "[ \"\$(ls -A '$projects')\" = demo-app ] && [ ! -e '$projects/pwned' ] && [ ! -e '$work/escape' ]"
refuse "the bad byte is named" "byte 2 is ';'" "$kubetee" new 'a;b'
refuse "too long says how long" "41 bytes, at most 40" "$kubetee" new "$(head -c 41 /dev/zero | tr '\0' a)"
check "a 40-byte name is fine" "$kubetee" new "$(head -c 40 /dev/zero | tr '\0' a)" --dir "$projects"
cp "$p/enclave.c" "$work/enclave.c.before"
refuse "an existing directory is refused" "refusing to overwrite" "$kubetee" new demo-app --dir "$projects"
check "and left as it was" cmp "$p/enclave.c" "$work/enclave.c.before"
. "$here/project.sh"
remote_outside "$usr" remote-app "$cc" "$san"
aecs_outside "$usr" aecs-app "$cc" "$san"
refuse "an unknown option is refused" "unknown option '--with-magic'" "$kubetee" new x --with-magic
refuse "no name: usage" "usage: kubetee new NAME" "$kubetee" new
refuse "a missing --dir is named" "cannot make" "$kubetee" new x --dir "$work/does/not/exist"
finish
