#!/usr/bin/env bash
# The container images from this build (scripts/images.sh on scripts/deb.sh's packages,
# with a containers-storage of its own under the scratch directory, vfs, no network): each
# image's config (non-root user, entrypoint, version label, the hello TA's MRENCLAVE and
# MRSIGNER labels equal to what kubetee dump measures in the unpacked image), each
# service image shell-less with every library its program loads, checked with umoci on
# the OCI layout. Then, if this machine can run containers (rootful podman), the sample
# TA runs in its image locked down (read-only root, no capabilities, no new privileges,
# no network) and prints the labelled MRENCLAVE, each service program starts in its own
# image, a shell cannot be started in a service image, a project `kubetee new` made is
# built against the installed SDK and its Containerfile on the runtime image, labelled
# with its MRENCLAVE, and runs there; and deploy/overlays/sim's pods run
# as rendered (tests/packaging/pod_run.py: the collateral proxy with the sim collateral
# its init steps import, then the hello Job, whose quote verifies with collateral fetched
# from the proxy by its Service name; under another simulation root it is refused). If
# it cannot run containers, the test says why and stops at the umoci checks. The Debian rootfs is cached in BUILD/images-cache
# (keyed by the package list), so only the first run fetches from Debian's archive.
set -uo pipefail
build=$(cd "$1" && pwd) src=$2 cc=${3:-cc} san=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib.sh"
store=$work/store
cleanup() {
  # vfs layers are whole copies: leave none behind (mounts first, then files)
  buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs rm --all >/dev/null 2>&1
  podman --root "$store/root" --runroot "$store/run" --storage-driver vfs rm --all --force >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
export KUBETEE_SIM_DIR=$work/sim
ic() { /usr/bin/python3 "$here/image_check.py" "$@"; }

check "scripts/deb.sh builds the packages" "$src/scripts/deb.sh" "$build" "$work/debs"
export KT_IMAGES_STORE=$store KT_IMAGES_CACHE=$build/images-cache
expect 0 "done: 7 images" "scripts/images.sh builds the images" \
  "$src/scripts/images.sh" "$work/debs" "$build/samples/hello" "$work/images"
cat "$work/out"
ver=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
oci=$work/images/oci
kubetee=$build/tools/kubetee/kubetee
services="sgx-device-plugin sgx-webhook kubetee-signer kubetee-collateral aecs-server"

refuse "images.sh refuses a directory without the packages" "no single kubetee-tools" \
  "$src/scripts/images.sh" "$work/images" "$build/samples/hello" "$work/none"

# --- each image's config and contents, from the OCI layout (umoci unpacks them)
for name in kubetee-runtime $services hello; do
  check "$name: runs as kubetee (65532), labelled $name $ver" ic config "$oci" "$name" User=65532:65532 \
    "Label:org.opencontainers.image.version=$ver" "Label:org.opencontainers.image.title=$name"
  check "$name: umoci unpacks it" umoci unpack --image "$oci:$name" "$work/u-$name"
  check "$name: umoci's runtime config runs it as uid 65532" bash -c \
    "python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))[\"process\"][\"user\"]; sys.exit(u.get(\"uid\") != 65532 or u.get(\"gid\") != 65532)' '$work/u-$name/config.json'"
done
for name in $services; do
  r=$work/u-$name/rootfs
  check "$name: entrypoint is its program" ic config "$oci" "$name" "Entrypoint=[\"/usr/sbin/$name\"]"
  check "$name: no shell and no program but /usr/sbin/$name" ic shell-less "$r" "/usr/sbin/$name"
  check "$name: every library its program loads is in the image" ic closure "$r"
  check "$name: /etc/passwd names kubetee 65532 with no shell" grep -qx 'kubetee:x:65532:65532:kubetee:/nonexistent:/nonexistent' "$r/etc/passwd"
done
check "kubetee-collateral has Debian's CA bundle" test -s "$work/u-kubetee-collateral/rootfs/etc/ssl/certs/ca-certificates.crt"
# aecs-server carries the AECS enclave this build signed, labelled as kubetee dump measures it
a=$work/u-aecs-server/rootfs/usr/lib/kubetee/aecs/aecs.signed.so
check "aecs-server: the AECS enclave in the image is the one built" cmp "$a" "$build/services/aecs/aecs.signed.so"
amre=$("$kubetee" dump --enclave "$a" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mrenclave"])')
amrs=$("$kubetee" dump --enclave "$a" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mrsigner"])')
check "aecs-server: labelled with the MRENCLAVE and MRSIGNER of its enclave" ic config "$oci" aecs-server \
  "Label:io.kubetee.enclave.mrenclave=$amre" "Label:io.kubetee.enclave.mrsigner=$amrs"
# the checkers catch what they look for (so a pass means something)
cp -a "$work/u-kubetee-signer/rootfs" "$work/broken"
ln -s /usr/bin/dash "$work/broken/usr/sbin/sh"
refuse "shell-less finds a shell" "a shell: /usr/sbin/sh" ic shell-less "$work/broken" /usr/sbin/kubetee-signer
rm -f "$work"/broken/usr/lib/x86_64-linux-gnu/libgrpc.so.*
refuse "closure finds a missing library" "needs libgrpc.so" ic closure "$work/broken"

rt=$work/u-kubetee-runtime/rootfs
check "runtime: Debian 12" grep -q '^12\.' "$rt/etc/debian_version"
check "runtime: kubetee-tools and kubetee-services installed by dpkg" bash -c \
  "for p in kubetee-tools kubetee-services; do dpkg --root='$rt' -s \$p | grep -q '^Status: install ok installed' || exit 1; done"
check "runtime: the kubetee tool is there" test -x "$rt/usr/bin/kubetee"
check "runtime: user kubetee is 65532" grep -q '^kubetee:x:65532:65532:' "$rt/etc/passwd"

h=$work/u-hello/rootfs
mre=$("$kubetee" dump --enclave "$h/opt/hello/hello.signed.so" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mrenclave"])')
mrs=$("$kubetee" dump --enclave "$h/opt/hello/hello.signed.so" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mrsigner"])')
check "hello: the enclave in the image is the one built" cmp "$h/opt/hello/hello.signed.so" "$build/samples/hello/hello.signed.so"
check "hello: labelled with the MRENCLAVE and MRSIGNER of its enclave" ic config "$oci" hello \
  "Label:io.kubetee.enclave.mrenclave=$mre" "Label:io.kubetee.enclave.mrsigner=$mrs"
refuse "config finds a wrong label" "mrenclave is" ic config "$oci" hello "Label:io.kubetee.enclave.mrenclave=${mre//?/0}"
check "hello: entrypoint is the host with its enclave" ic config "$oci" hello \
  'Entrypoint=["/opt/hello/hello_host", "/opt/hello/hello.signed.so"]'

# --- running them: rootful podman, this storage, no network
pod=(podman --root "$store/root" --runroot "$store/run" --storage-driver vfs)
# podman's default limits (1048576 open files, and this user's process count) are more than
# a process without CAP_SYS_RESOURCE may set here: this process's file limits, and 4096
# processes, plenty for one program
lim=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
san_env=()
if grep -q 'KT_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  # the sanitizer build's programs: LeakSanitizer needs ptrace, which a locked-down container lacks
  san_env=(-e ASAN_OPTIONS=detect_leaks=0)
fi
runtime=
for rt_try in "" runc crun; do
  if "${pod[@]}" ${rt_try:+--runtime "$rt_try"} run --rm --network none "${lim[@]}" \
      "localhost/kubetee/kubetee-runtime:$ver" /usr/bin/true > "$work/probe-$rt_try" 2>&1; then
    runtime=${rt_try:-default}
    break
  fi
done
if [ -z "$runtime" ]; then
  echo "NOTE: this machine cannot run containers (podman run of the runtime image failed:"
  sed 's/^/  /' "$work/probe-"*
  echo "); the images' contents were checked with umoci only"
  finish
  exit $?
fi
echo "podman runs containers here (OCI runtime: $runtime)"
[ "$runtime" = default ] || pod+=(--runtime "$runtime")
locked=(run --rm --pull never --network none "${lim[@]}" "${san_env[@]}" --read-only --cap-drop all
        --security-opt no-new-privileges --user 65532:65532)
expect 0 "round trip ok" "hello runs in its image, locked down" \
  "${pod[@]}" "${locked[@]}" --tmpfs /var/lib/kubetee:rw,mode=1777 "localhost/kubetee/hello:$ver"
cp "$work/out" "$work/run.txt"
check "hello in the image: the MRENCLAVE it runs is the labelled one" grep -q "^MRENCLAVE   $mre\$" "$work/run.txt"
check "hello in the image: the enclave greets from inside" grep -q '^SayHello    Hello, kubetee! (from inside the enclave' "$work/run.txt"
expect 0 "\"mrenclave\":\"$mre\"" "the packaged kubetee in the image measures the same MRENCLAVE" \
  "${pod[@]}" "${locked[@]}" --entrypoint /usr/bin/kubetee "localhost/kubetee/hello:$ver" dump --enclave /opt/hello/hello.signed.so --json
refuse "hello's root filesystem is read-only" "Read-only file system" \
  "${pod[@]}" "${locked[@]}" --entrypoint /usr/bin/touch "localhost/kubetee/hello:$ver" /opt/hello/x
for name in $services; do
  expect 0 "usage: $name" "$name starts in its image (--help)" "${pod[@]}" "${locked[@]}" "localhost/kubetee/$name:$ver" --help
  refuse "$name: no shell to start in its image" "/bin/sh" \
    "${pod[@]}" "${locked[@]}" --entrypoint /bin/sh "localhost/kubetee/$name:$ver" -c true
done

# kubetee new's Containerfile: the project built against the installed SDK, its image on
# the runtime image (the Containerfile's default base), labelled as kubetee dump measures
check "cmake --install the SDK into a DESTDIR" env DESTDIR="$work/sdk" cmake --install "$build" --prefix /usr
mkdir -p "$work/proj"
check "kubetee new tpl-app" "$work/sdk/usr/bin/kubetee" new tpl-app --dir "$work/proj"
p=$work/proj/tpl-app
flags=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$work/sdk/usr")
if [ -n "$san" ]; then
  flags+=(-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san")
fi
check "the project configures against the installed SDK" cmake -S "$p" -B "$p/build" "${flags[@]}"
check "and builds, signed" cmake --build "$p/build"
tmre=$("$kubetee" dump --enclave "$p/build/tpl-app.signed.so" | awk '$1 == "mrenclave:" {print $2}')
check "buildah builds the project's Containerfile on kubetee-runtime" \
  buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs build --quiet --pull=never \
  --network=none --build-arg MRENCLAVE="$tmre" -t localhost/tpl-app:0.1.0 -f "$p/Containerfile" "$p"
expect 0 "round trip ok" "the project runs in its image, locked down" \
  "${pod[@]}" "${locked[@]}" --tmpfs /var/lib/tpl-app:rw,mode=1777 localhost/tpl-app:0.1.0
cp "$work/out" "$work/tpl.txt"
tlabel=$("${pod[@]}" image inspect localhost/tpl-app:0.1.0 --format '{{index .Labels "io.kubetee.enclave.mrenclave"}}')
check "its image is labelled with its MRENCLAVE" test -n "$tmre" -a "$tlabel" = "$tmre"
check "and runs that MRENCLAVE" grep -q "^MRENCLAVE *$tmre\$" "$work/tpl.txt"

# deploy/overlays/sim as rendered by kubectl kustomize, its pods run by podman
kubectl=/opt/kubetee/kubernetes-client/usr/bin/kubectl
[ -x "$kubectl" ] || kubectl=kubectl
check "kubectl kustomize renders deploy/overlays/sim" bash -c "'$kubectl' kustomize '$src/deploy/overlays/sim' > '$work/sim.yaml'"
check "a simulation root for the cluster (kubetee sim export)" env KUBETEE_SIM_DIR="$work/sim-gen" \
  "$kubetee" sim export --out "$work/sim-root"
check "another simulation root" env KUBETEE_SIM_DIR="$work/sim-gen2" "$kubetee" sim export --out "$work/other-root"
run_sim() { # N SOURCE=DIR...: the overlay's pods in a fresh directory
  local d=$work/pods-$1
  shift
  mkdir -p "$d" && /usr/bin/python3 "$here/pod_run.py" "$work/sim.yaml" "$d" "$@" -- "${pod[@]}" -- "${lim[@]}" "${san_env[@]}"
}
expect 0 "PASS  tcb=UpToDate  (simulated)" "the sim overlay runs: hello's quote verifies with collateral from the proxy" \
  run_sim 1 kubetee-sim-root="$work/sim-root"
cp "$work/out" "$work/pods.txt"
check "the collateral proxy imported the sim collateral in its init steps" grep -q 'event=collateral.imported' "$work/pods.txt"
check "the TA fetched it from the proxy by its Service name" \
  grep -q 'event=collateral.fetched from=http://kubetee-collateral.kubetee.svc:8081 ' "$work/pods.txt"
check "the TA ran its enclave in the Job" grep -q '^SayHello    Hello, cluster!' "$work/pods.txt"
refuse "a TA under another simulation root refuses the proxy's collateral" "does not verify to the trust anchor" \
  run_sim 2 kubetee-sim-root="$work/sim-root" kubetee-hello:kubetee-sim-root="$work/other-root"
finish
