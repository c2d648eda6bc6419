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

# `kubetee new NAME --with-remote` from the installed SDK under $1 (a usr directory): the
# project built out of tree, signed, its host serving the enclave's remote functions
# (kt_service_serve), called through a session with the installed `kubetee call` using
# the policy and client key its build made; a stranger's key and a policy pinning another
# signer refused; SIGTERM drains. Its deploy/ renders to a locked-down Deployment and its
# Service. Needs KUBETEE_SIM_DIR set by the caller.
remote_outside() {
  local usr=$1 name=$2 cc=$3 san=$4
  local kt=$usr/bin/kubetee parent=$work/remote-projects
  mkdir -p "$parent"
  expect 0 "made $parent/$name/" "kubetee new $name --with-remote" "$kt" new "$name" --with-remote --dir "$parent"
  cp "$work/out" "$work/new.txt"
  check "its hint says how to call it" grep -q "kubetee call" "$work/new.txt"
  local rp=$parent/$name
  for f in CMakeLists.txt enclave.c host.c app.proto enclave.conf Containerfile README.md .gitignore \
           deploy/kustomization.yaml deploy/app.yaml; do
    check "remote: made $f" test -f "$rp/$f"
  done
  check "remote: every placeholder replaced" bash -c "! grep -rn '@NAME@\|@ID@' '$rp'"
  check "remote: the enclave's function is remote, its clients compiled in" \
    bash -c "grep -q 'KT_REMOTE_FUNCTION(greet, \"app.Greet\"' '$rp/enclave.c' && grep -q 'KT_SERVICE_CLIENT_KEYS' '$rp/enclave.c' && ! grep -q KT_TRUSTED_FUNCTION '$rp/enclave.c'"
  check "remote: the host serves it with kt_service_serve" grep -q 'kt_service_serve(e, &c)' "$rp/host.c"
  check "remote: README says what to edit and how to call" \
    bash -c "grep -q '^## What to edit' '$rp/README.md' && grep -q 'kubetee call 127.0.0.1:7443 app.Greet' '$rp/README.md'"
  local rflags=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$usr")
  if [ -n "$san" ]; then
    rflags+=(-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san")
  fi
  check "remote: configure against the installed SDK" cmake -S "$rp" -B "$rp/build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${rflags[@]}"
  check "remote: build and sign at once" cmake --build "$rp/build"
  check "remote: no path into kubetee's source tree" bash -c "! grep -qF '$src' '$rp/build/compile_commands.json'"
  check "remote: the build made the clients' policy and a client key" \
    bash -c "grep -q 'allow_simulation: true' '$rp/build/policy.yaml' && grep -q 'isvprodid: 1, min_isvsvn: 1, allow_debug: false' '$rp/build/policy.yaml' && test -s '$rp/build/client_key.pem'"
  local mrs
  mrs=$("$kt" dump --enclave "$rp/build/$name.signed.so" --json | sed 's/.*"mrsigner":"\([0-9a-f]*\)".*/\1/')
  check "remote: the policy pins the enclave's MRSIGNER" grep -q "mrsigner: $mrs," "$rp/build/policy.yaml"

  local log=$work/remote-host.log
  "$rp/build/$name-host" "$rp/build/$name.signed.so" 127.0.0.1:0 127.0.0.1:0 2> "$log" &
  local hpid=$!
  for _ in $(seq 300); do grep -q 'event=service.started' "$log" && break; sleep 0.1; done
  local port http
  port=$(sed -n 's/.*event=service.started.* port=\([0-9]*\).*/\1/p' "$log")
  http=$(sed -n 's/.*event=service.started.* http_port=\([0-9]*\).*/\1/p' "$log")
  check "remote: the host serves (service.started)" test -n "$port" -a -n "$http"
  check "remote: /readyz" curl -sf "http://127.0.0.1:$http/readyz"
  local call=("$kt" call "127.0.0.1:$port")
  local auth=(--policy "$rp/build/policy.yaml" --key "$rp/build/client_key.pem")
  expect 0 "app.Greet(app.GreetRequest) -> app.GreetReply" "remote: kubetee call --describe lists app.Greet" \
    "${call[@]}" --describe "${auth[@]}"
  local caller
  caller=$(openssl pkey -in "$rp/build/client_key.pem" -pubout -outform DER | tail -c 64 | head -c 8 | xxd -p)
  expect 0 "\"greeting\":\"Hello, tester, from inside $name!\",\"count\":\"1\",\"caller\":\"$caller\"" \
    "remote: kubetee call app.Greet: the enclave answers, naming the caller's key" \
    "${call[@]}" app.Greet --json '{"name": "tester"}' "${auth[@]}"
  cp "$work/out" "$work/greet.txt"
  check "remote: the quote was verified first" grep -q "server verified: mrenclave=.* mrsigner=$mrs" "$work/greet.txt"
  expect 0 '"count":"2"' "remote: the enclave keeps its count" "${call[@]}" app.Greet --json '{"name": "again"}' "${auth[@]}"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/stranger.pem" 2>/dev/null
  refuse "remote: a key the enclave does not list is refused" "peer_refused" \
    "${call[@]}" app.Greet --json '{"name": "x"}' --policy "$rp/build/policy.yaml" --key "$work/stranger.pem"
  sed "s/mrsigner: $mrs/mrsigner: $(printf '%064d' 0)/" "$rp/build/policy.yaml" > "$work/other-policy.yaml"
  refuse "remote: a policy pinning another signer refuses the enclave" "MRSIGNER" \
    "${call[@]}" app.Greet --json '{"name": "x"}' --policy "$work/other-policy.yaml" --key "$rp/build/client_key.pem"
  refuse "remote: a name over 64 bytes is the enclave's own refusal" "at most 64 bytes" \
    "${call[@]}" app.Greet --json "{\"name\": \"$(head -c 65 /dev/zero | tr '\0' n)\"}" "${auth[@]}"
  check "remote: /metrics counts the sessions" \
    bash -c "curl -sf 'http://127.0.0.1:$http/metrics' | grep -q '^kubetee_enclave_sessions'"
  # a client program and a client enclave built against the installed SDK alone
  local cp=$work/remote-client
  cp -r "$here/remote_client" "$cp"
  check "remote client: configure (service_client, pbjson, pbschema, service_client_trusted)" \
    cmake -S "$cp" -B "$cp/b" -DAPP_PROTO="$rp/app.proto" "${rflags[@]}"
  check "remote client: build; the client enclave signs (no OS import)" cmake --build "$cp/b"
  expect 0 "{\"greeting\":\"Hello, program, from inside $name!\",\"count\":\"3\",\"caller\":\"$caller\"}" \
    "remote client: the program's call, its types checked against the enclave's description" \
    "$cp/b/app_client" "127.0.0.1:$port" "$rp/build/policy.yaml" "$rp/build/client_key.pem" '{"name": "program"}'
  refuse "remote client: its JSON is checked by the compiled type" 'no field "nam"' \
    "$cp/b/app_client" "127.0.0.1:$port" "$rp/build/policy.yaml" "$rp/build/client_key.pem" '{"nam": "x"}'
  local PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(dirname "$(find "$usr/lib" -name kubetee-service_client.pc | head -1)")
  export PKG_CONFIG_PATH
  # shellcheck disable=SC2046
  check "remote client: built by pkg-config alone" "$cc" $san -o "$cp/pc_client" "$cp/client.c" "$cp/b/app.pb-c.c" -I"$cp/b" \
    $(pkg-config --cflags --libs kubetee-service_client kubetee-pbjson kubetee-pbschema kubetee-attest)
  expect 0 '"count":"4"' "remote client: the pkg-config build calls it too" \
    "$cp/pc_client" "127.0.0.1:$port" "$rp/build/policy.yaml" "$rp/build/client_key.pem" '{"name": "pc"}'
  check "the trusted .pc files give KT_TRUSTED" bash -c "pkg-config --cflags kubetee-service_trusted kubetee-service_client_trusted | grep -q -- -DKT_TRUSTED"
  kill -TERM "$hpid"
  wait "$hpid"
  check "remote: SIGTERM drains, exit 0" test $? = 0
  check "remote: the host logged the enclave's OCALL and the drain" \
    bash -c "grep -q 'event=enclave.log.*greeted someone' '$log' && grep -q 'event=service.stopped' '$log'"

  if command -v kubectl >/dev/null; then
    kubectl kustomize "$rp/deploy" > "$work/remote-rendered.yaml" 2> "$work/kustomize.err"
    check "remote: kubectl kustomize renders deploy/" test -s "$work/remote-rendered.yaml"
    check "remote: a locked-down Deployment asking for SGX, and its Service" \
      /usr/bin/python3 "$here/new_manifests.py" "$work/remote-rendered.yaml" "$name" --remote
  fi
}

# `kubetee new NAME --with-aecs` from the installed SDK under $1: the project built out of
# tree (its enclave pinning the installed AECS enclave and the sim state's root), the
# installed aecs-server started on a store of its own and initialised with the installed
# aecsadmin (TAs on this sim root admitted), then the TA run: AECS makes its key, hands
# the same key back on the next run and after AECS restarts; a rebuilt TA (another
# MRENCLAVE) gets a key of its own; with the TA platform policy withdrawn the TA is refused.
aecs_outside() {
  local usr=$1 name=$2 cc=$3 san=$4
  local kt=$usr/bin/kubetee parent=$work/aecs-projects
  mkdir -p "$parent"
  expect 0 "made $parent/$name/" "kubetee new $name --with-aecs" "$kt" new "$name" --with-aecs --dir "$parent"
  local ap=$parent/$name
  check "aecs: every placeholder replaced" bash -c "! grep -rn '@NAME@\|@ID@' '$ap'"
  check "aecs: the enclave asks AECS for its own key" \
    bash -c "grep -q 'kt_aecs_ta_get_own(ta, KT_AECS_BIND_MRENCLAVE' '$ap/enclave.c' && grep -q 'kt_service_relay_serve' '$ap/host.c' && grep -q '^## What to edit' '$ap/README.md'"
  local aflags=(-DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$usr")
  if [ -n "$san" ]; then
    aflags+=(-DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san")
  fi
  check "aecs: configure against the installed SDK" cmake -S "$ap" -B "$ap/build" "${aflags[@]}"
  check "aecs: build and sign at once (kubetee::aecs_ta_trusted)" cmake --build "$ap/build"
  local enclave=$usr/lib/kubetee/aecs/aecs.signed.so ids mre mrs
  ids=$("$kt" dump --enclave "$enclave" --json)
  mre=$(sed 's/.*"mrenclave":"\([0-9a-f]*\)".*/\1/' <<<"$ids")
  mrs=$(sed 's/.*"mrsigner":"\([0-9a-f]*\)".*/\1/' <<<"$ids")
  check "aecs: the TA pins the installed AECS enclave's signer" grep -q "AECS_MRSIGNER \"$mrs\"" "$ap/build/aecs_pins.h"

  local log=$work/aecs-server.log apid port
  start_aecs() {
    "$usr/sbin/aecs-server" --listen 127.0.0.1:0 --http 127.0.0.1:0 --store "fs:$work/aecs-store" \
      --audit-file "$work/aecs-audit.log" --enclave "$enclave" --sim-dir "$KUBETEE_SIM_DIR" 2> "$log" &
    apid=$!
    for _ in $(seq 300); do grep -q 'event=aecs.serving' "$log" && break; sleep 0.1; done
    port=$(sed -n 's/.*event=aecs.serving.* grpc_port=\([0-9]*\).*/\1/p' "$log")
  }
  start_aecs
  check "aecs: the installed aecs-server serves" test -n "$port"
  printf 'allow_simulation: true\nrules:\n- {mrenclave: %s, isvprodid: 100}\n' "$mre" > "$work/aecs-policy.yaml"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/aecs-admin.pem" 2>/dev/null
  admin() { # VERB [flags]: the installed aecsadmin, as the admin, to this AECS
    "$usr/bin/aecsadmin" "$1" --server "127.0.0.1:$port" --key "$work/aecs-admin.pem" \
      --policy "$work/aecs-policy.yaml" --sim-dir "$KUBETEE_SIM_DIR" "${@:2}"
  }
  check "aecs: the installed aecsadmin initialises it, admitting TAs of this sim root" \
    admin init --allow-simulation --simulation-root-of "$("$kt" sim collateral)"
  local ta=("$ap/build/$name-host" "$ap/build/$name.signed.so") tamrs
  tamrs=$("$kt" dump --enclave "$ap/build/$name.signed.so" | sed -n 's/^mrsigner: *//p')
  check "aecs: the installed aecsadmin allows the TA's signer to make TA-bound secrets" \
    admin tasigners --allow "mrsigner=$tamrs,secrets=8,bytes=65536"
  expect 0 "version 1, made by AECS now" "aecs: the first run: AECS makes the TA's key" "${ta[@]}" "127.0.0.1:$port" "a message"
  cp "$work/out" "$work/ta1.txt"
  local keyid
  keyid=$(sed -n 's/^key  *\([0-9a-f]*\) .*/\1/p' "$work/ta1.txt")
  check "aecs: the TA verified AECS (its MRENCLAVE) and logged through its host" \
    bash -c "grep -q '^AECS  *$mre\$' '$work/ta1.txt' && grep -q '^enclave log AECS made this TA' '$work/ta1.txt' && grep -q '^sealed *37 bytes' '$work/ta1.txt'"
  expect 0 "key         $keyid version 1, handed back by AECS" "aecs: the next run gets the same key back" \
    "${ta[@]}" "127.0.0.1:$port" "a message"
  kill -TERM "$apid"
  wait "$apid"
  check "aecs: aecs-server drains on SIGTERM" test $? = 0
  start_aecs
  expect 0 "key         $keyid version 1, handed back by AECS" "aecs: and after AECS restarts (its store on disk)" \
    "${ta[@]}" "127.0.0.1:$port" "a message"
  # another build of the TA is another MRENCLAVE: a key of its own, never this one
  sed -i 's/AECS made this TA.s key/AECS made the key of this build/' "$ap/enclave.c"
  check "aecs: rebuild the TA changed" cmake --build "$ap/build"
  expect 0 "version 1, made by AECS now" "aecs: a TA of another MRENCLAVE gets a new key" "${ta[@]}" "127.0.0.1:$port" "x"
  check "aecs: not the first TA's" bash -c "! grep -q '$keyid' '$work/out'"
  check "aecs: the admin withdraws the TA platform policy" admin platform --none
  refuse "aecs: then AECS refuses the TA" "accepts registered keys only" "${ta[@]}" "127.0.0.1:$port" "x"
  kill -TERM "$apid"
  wait "$apid"
}
