#!/usr/bin/env bash
# make demo, part 2: an enclave service and its clients. kubetee-serve hosts the remote
# sample's enclave; `kubetee call` calls it from the shell through an attested session
# that verifies the enclave's quote against a policy before it sends anything.
set -euo pipefail
echo "######## the remote session: an enclave service, and the shell calling it"
echo
build=${1:-build/release}
build=$(cd "$build" && pwd)
out=$build/samples/remote
kubetee=$build/tools/kubetee/kubetee
serve=$build/services/enclave-host/kubetee-serve
# the sample's own sim state: its simulation root is the one both enclaves pin (cmake/pins.sh)
export KUBETEE_SIM_DIR=$out/sim
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

echo "== 1. the server enclave: three remote functions, and the client keys it compiles in"
"$kubetee" dump --enclave "$out/remote_server.signed.so" | grep -E '^(mrenclave|mrsigner|prodid|debug)' | sed 's/^/   /'
mrs=$("$kubetee" dump --enclave "$out/remote_server.signed.so" --json | sed 's/.*"mrsigner":"\([0-9a-f]*\)".*/\1/')
echo

echo "== 2. kubetee-serve hosts it (YAML config; gRPC, /healthz /readyz /metrics)"
cat > "$work/serve.yaml" <<YAML
enclave: $out/remote_server.signed.so
listen: 127.0.0.1:0
http: 127.0.0.1:0
sim_dir: $KUBETEE_SIM_DIR
expect_mrsigner: $mrs
limits: max_sessions=16,max_per_peer=4,idle_ms=60000
YAML
sed 's/^/   serve.yaml: /' "$work/serve.yaml"
"$serve" --config "$work/serve.yaml" 2> "$work/serve.log" &
pid=$!
for _ in $(seq 100); do grep -q 'event=service.started' "$work/serve.log" && break; sleep 0.1; done
line=$(grep 'event=service.started' "$work/serve.log")
port=$(sed 's/.* port=\([0-9]*\).*/\1/' <<<"$line")
http=$(sed 's/.* http_port=\([0-9]*\).*/\1/' <<<"$line")
echo "   $(cut -c1-150 <<<"$line")..."
echo "   readyz: $(curl -s "http://127.0.0.1:$http/readyz")"
echo

echo "== 3. the shell calls it: the policy pins the signer and product; the enclave's quote"
echo "   is verified against it before any request is sent"
printf 'allow_simulation: true\nrules:\n- {mrsigner: %s, isvprodid: 7, allow_debug: false}\n' "$mrs" > "$work/policy.yaml"
sed 's/^/   policy: /' "$work/policy.yaml"
# each refusal is shown, and must say what it should (the demo fails otherwise)
refused() { # EXPECTED, then the command
  local want=$1 got
  shift
  if got=$("$@" 2>&1); then echo "demo: accepted: $*" >&2; exit 1; fi
  grep -v "server verified" <<<"$got" | cut -c1-300 | sed "s/^/     /"
  grep -qF -- "$want" <<<"$got" || { echo "demo: expected '$want'" >&2; exit 1; }
}
call() { "$kubetee" call "127.0.0.1:$port" "$@" --policy "$work/policy.yaml" --key "$out/shell_client.pem"; }
call --describe 2>/dev/null | sed 's/^/   /'
value=$(printf 'kept only in enclave memory' | base64)
echo "   \$ kubetee call ... remote.Put --json '{\"key\": \"greeting\", \"value\": \"$value\"}'"
call remote.Put --json "{\"key\": \"greeting\", \"value\": \"$value\"}" 2> "$work/call.err" | sed 's/^/   /'
sed 's/^kubetee: /   /' "$work/call.err"
echo "   \$ kubetee call ... remote.Get --json '{\"key\": \"greeting\"}'"
got=$(call remote.Get --json '{"key": "greeting"}' 2>/dev/null)
echo "   $got"
grep -q '"found":true' <<<"$got" || { echo "demo: remote.Get did not find it" >&2; exit 1; }
echo "   the value decoded: $(sed 's/.*"value":"\([^"]*\)".*/\1/' <<<"$got" | base64 -d)"
echo "   \$ kubetee call ... remote.Sign --json '{\"message\": \"$(printf 'release 1.0' | base64)\"}'   (the key never leaves the enclave)"
call remote.Sign --json "{\"message\": \"$(printf 'release 1.0' | base64)\"}" 2>/dev/null | cut -c1-120 | sed 's/^/   /;s/$/.../'
echo

echo "== 4. a client enclave in another process calls it: mutual attestation. Each enclave"
echo "   verifies the other's quote by the policy it compiles in (signer, product ID, no debug,"
echo "   the sample's simulation root); the hosts only relay bytes and hand over collateral"
"$kubetee" dump --enclave "$out/remote_client_enclave.signed.so" | grep -E '^(mrenclave|prodid)' | sed 's/^/   client /'
"$out/remote_client" "$out/remote_client_enclave.signed.so" "127.0.0.1:$port" greeting \
  "from the client enclave" "release 1.1" | sed 's/^/   /'
echo

echo "== 5. refusals, each with its reason"
echo "   bad JSON, named by its field:"
refused 'has no field "valu"' call remote.Put --json '{"key": "k", "valu": "eA=="}'
echo "   a function the enclave does not have:"
refused "no remote function 'remote.Delete'" call remote.Delete --json '{}'
echo "   the enclave's own check (a key of 65 bytes):"
refused "not 65" call remote.Put --json "{\"key\": \"$(printf 'k%.0s' $(seq 65))\"}"
printf 'allow_simulation: true\nrules:\n- {mrsigner: %s, isvprodid: 7}\n' "$(printf '%064d' 0)" > "$work/other.yaml"
echo "   a policy pinning another signer (the server is refused, nothing but the Hello sent):"
refused "MRSIGNER" "$kubetee" call "127.0.0.1:$port" remote.Get --json '{"key": "greeting"}' \
  --policy "$work/other.yaml" --key "$out/shell_client.pem"
printf 'rules:\n- {mrsigner: %s, isvprodid: 7}\n' "$mrs" > "$work/nosim.yaml"
echo "   a policy that does not allow simulated quotes:"
refused "simulation" "$kubetee" call "127.0.0.1:$port" remote.Get --json '{"key": "greeting"}' \
  --policy "$work/nosim.yaml" --key "$out/shell_client.pem"
echo "   a client key the enclave does not list:"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/stranger.pem" 2>/dev/null
refused "peer_refused" "$kubetee" call "127.0.0.1:$port" remote.Get --json '{"key": "greeting"}' \
  --policy "$work/policy.yaml" --key "$work/stranger.pem"
echo

echo "== 6. what the host saw: /metrics and its log"
curl -s "http://127.0.0.1:$http/metrics" | grep -E '^kubetee_enclave_(sessions|refusals_total|session_refusals_total)' |
  grep -v ' 0$' | sed 's/^/   /'
kill -TERM "$pid"
wait "$pid" || true
pid=
grep -oE 'event=service\.[a-z_]+' "$work/serve.log" | sort | uniq -c | sed 's/^/   /'
echo
echo "Simulated platform: the enclave runs as ordinary code in kubetee-serve's process and its"
echo "quotes chain to the simulation root (allow_simulation: true). The session's keys and"
echo "plaintext are still never in what the host relays. See docs/sim.md, docs/protocol.md."
