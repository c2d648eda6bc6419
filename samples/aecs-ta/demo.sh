#!/usr/bin/env bash
# make demo, part 3: AECS, secrets for stateless enclaves. aecs-server hosts the AECS
# enclave; an admin initialises it and registers a service; the service's admin creates
# its secret from a SecretPolicy file; the operator encrypts a file with the secret's
# public half; a TA proves itself with its quote, gets the key and decrypts the file;
# another TA is refused; the TA on a new machine gets the same key; AECS itself moves to
# that machine with 2 of its 3 recovery shares. Every step is checked:
# the demo fails when one is missing or a refusal does not say what it should.
set -euo pipefail
echo "######## AECS: the secret service, and a stateless TA getting its key by attestation"
echo
build=${1:-build/release}
build=$(cd "$build" && pwd)
out=$build/samples/aecs-ta
kubetee=$build/tools/kubetee/kubetee
server=$build/services/aecs/aecs-server
aecs=$build/services/aecs/aecs.signed.so
aecsadmin=$build/tools/aecs/aecsadmin
serviceadmin=$build/tools/aecs/serviceadmin
ta=$out/aecs_ta.signed.so
other=$out/aecs_ta_other.signed.so
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "demo: $*" >&2; exit 1; }
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; } # FIELD from one JSON line
refused() { # EXPECTED, then the command: it must fail, saying EXPECTED
  local want=$1 got
  shift
  if got=$("$@" 2>&1); then fail "accepted: $*"; fi
  cut -c1-300 <<<"$got" | sed "s/^/     /"
  grep -qF -- "$want" <<<"$got" || fail "expected '$want'"
}

echo "== 0. two machines under one simulation root: the sample's (made at build time; the TA"
echo "   pins it), exported once and imported into each machine's own sim state"
quiet() { "$@" > /dev/null 2> "$work/quiet.log" || { cat "$work/quiet.log" >&2; fail "$*"; }; }
KUBETEE_SIM_DIR=$out/sim quiet "$kubetee" sim export --out "$work/root"
for m in a b; do quiet "$kubetee" sim import --from "$work/root" --sim-dir "$work/machine-$m"; done
root=$(openssl x509 -in "$work/root/root_ca.pem" -outform der | sha256sum | cut -d' ' -f1)
echo "   machine a: $work/machine-a    machine b: $work/machine-b"
echo "   the simulation root: sha256 $root"
echo

echo "== 1. aecs-server on machine a: the AECS enclave, its sealed objects in an fs store"
cat > "$work/aecs.yaml" <<YAML
listen: 127.0.0.1:0
http: 127.0.0.1:0
store: fs:$work/store
enclave: $aecs
sim_dir: $work/machine-a
collateral: $("$kubetee" sim collateral --sim-dir "$work/machine-a")
audit_file: $work/audit.log
YAML
sed 's/^/   aecs.yaml: /' "$work/aecs.yaml"
"$server" --config "$work/aecs.yaml" 2> "$work/aecs.log" &
pid=$!
for _ in $(seq 200); do grep -q 'event=aecs.serving' "$work/aecs.log" && break; sleep 0.1; done
line=$(grep 'event=aecs.serving' "$work/aecs.log") || { cat "$work/aecs.log" >&2; fail "aecs-server did not start"; }
port=$(sed 's/.* grpc_port=\([0-9]*\).*/\1/' <<<"$line")
http=$(sed 's/.* http_port=\([0-9]*\).*/\1/' <<<"$line")
addr=127.0.0.1:$port
echo "   $line"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/readyz")
echo "   readyz: $code (not ready: no admin yet)"
[ "$code" = 503 ] || fail "ready before init"
echo

echo "== 2. aecsadmin init: the first admin is whoever calls init while the store is empty,"
echo "   over a session whose AECS quote the tool verifies first (the policy below)"
"$kubetee" dump --enclave "$aecs" --json > "$work/aecs.json"
printf 'allow_simulation: true\nrules:\n- {mrenclave: %s, mrsigner: %s, isvprodid: %s}\n' "$(field mrenclave < "$work/aecs.json")" \
  "$(field mrsigner < "$work/aecs.json")" "$(sed 's/.*"prodid":\([0-9]*\).*/\1/' "$work/aecs.json")" > "$work/aecs-policy.yaml"
sed 's/^/   aecs-policy.yaml: /' "$work/aecs-policy.yaml"
for k in admin payments-admin operator alice bob carol; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$k.pem" 2> /dev/null
done
tools=(--server "$addr" --policy "$work/aecs-policy.yaml" --sim-dir "$work/machine-a")
admin() { "$aecsadmin" "$1" "${tools[@]}" --key "$work/admin.pem" "${@:2}"; }
svcadmin() { "$serviceadmin" "$1" "${tools[@]}" --key "$work/payments-admin.pem" "${@:2}"; }
echo "   \$ aecsadmin init --key admin.pem --allow-simulation --simulation-root <the root> \\"
echo "       --recovery-key alice.pem --recovery-key bob.pem --recovery-key carol.pem --recovery-threshold 2"
echo "   (TAs may prove themselves with simulated quotes under this root only; who they are"
echo "   is each secret's rules' business. Any 2 of the 3 recovery key holders can restore the"
echo "   storage key on another machine; no admin, and no one holder, can)"
admin init --allow-simulation --simulation-root "$root" --recovery-key "$work/alice.pem" --recovery-key "$work/bob.pem" \
  --recovery-key "$work/carol.pem" --recovery-threshold 2 2> "$work/init.err" | sed 's/^/   /'
sed 's/^/   /' "$work/init.err"
instance=$(sed -n 's/.*instance pin): \([0-9a-f]\{128\}\)$/\1/p' "$work/init.err")
[ -n "$instance" ] || fail "init printed no instance key"
echo "   a second init, by another key:"
refused "initialised already" "$aecsadmin" init "${tools[@]}" --key "$work/payments-admin.pem"
echo "   the instance key, made inside the enclave at init, is what tells this AECS from one a"
echo "   host initialises on an emptied store (same enclave, same identity key): every tool"
echo "   below pins it (AECS_INSTANCE), and an AECS that cannot prove it over the session is refused:"
export AECS_INSTANCE=$instance
AECS_INSTANCE=$(printf '%0128d' 0) refused "not the pinned" admin status
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/readyz")
echo "   readyz: $code"
[ "$code" = 200 ] || fail "not ready after init"
echo

echo "== 3. aecsadmin register: the service \"payments\", its admin's public key"
admin register --name payments --admin-key "$work/payments-admin.pem" | sed 's/^/   /'
admin list --json | cut -c1-200 | sed 's/^/   /'
echo

echo "== 4. the TA, built and signed (samples/aecs-ta): its MRENCLAVE and MRSIGNER; and a"
echo "   second build with one line changed, so another MRENCLAVE under the same signer"
"$kubetee" dump --enclave "$ta" --json > "$work/ta.json"
"$kubetee" dump --enclave "$other" --json > "$work/other.json"
ta_mre=$(field mrenclave < "$work/ta.json") ta_mrs=$(field mrsigner < "$work/ta.json")
other_mre=$(field mrenclave < "$work/other.json")
echo "   aecs_ta        mrenclave $ta_mre"
echo "                  mrsigner  $ta_mrs"
echo "   aecs_ta_other  mrenclave $other_mre"
[ -n "$ta_mre" ] && [ "$ta_mre" != "$other_mre" ] && [ "$ta_mrs" = "$(field mrsigner < "$work/other.json")" ] ||
  fail "the two TAs should differ in MRENCLAVE only"
echo

echo "== 5. serviceadmin create --file: the secret from a SecretPolicy file (the original's"
echo "   format): an RSA key pair made inside AECS, its public half shared, for this TA only"
cat > "$work/secrets.yaml" <<YAML
apiVersion: v1
kind: SecretPolicy
secrets:
- spec:
    name: ta-key
    type: SECRET_TYPE_RSA_KEY_PAIR
    service: payments
    readonly: true
    share: public
    params:
    - {key: bit_length, value: "2048"}
    policy:
      enclaveMatchAnyRules:
      - mrenclave: $ta_mre
        mrsigner: $ta_mrs
        debug_disabled: "true"
YAML
sed 's/^/   secrets.yaml: /' "$work/secrets.yaml"
svcadmin create --file "$work/secrets.yaml" --json | cut -c1-200 | sed 's/^/   /'
svcadmin list --service payments | sed 's/^/   /'
echo "   a rule that pins neither MRENCLAVE nor MRSIGNER is refused:"
refused "neither mrenclave nor mrsigner" svcadmin create --service payments --name open --type SECRET_TYPE_AES256_KEY --min-svn 1
echo

echo "== 6. an operator (any key may: the secret is share: public) gets its public half with"
echo "   getpub, checks AECS's signature over the call's nonce, encrypts a file with openssl"
"$serviceadmin" getpub "${tools[@]}" --key "$work/operator.pem" --service payments --name ta-key \
  --out "$work/ta-key.pub.pem" 2>&1 >/dev/null | sed 's/^serviceadmin: /   /'
head -2 "$work/ta-key.pub.pem" | sed 's/^/   /;s/$/.../'
pub_sha=$(sha256sum < "$work/ta-key.pub.pem" | cut -d' ' -f1)
echo "   its sha256: $pub_sha"
note="meet at the old mill at 9"
printf '%s' "$note" > "$work/note.txt"
openssl pkeyutl -encrypt -pubin -inkey "$work/ta-key.pub.pem" -pkeyopt rsa_padding_mode:oaep \
  -pkeyopt rsa_oaep_md:sha256 -in "$work/note.txt" -out "$work/note.enc"
echo "   note.txt \"$note\" -> note.enc, $(stat -c %s "$work/note.enc") bytes"
rm "$work/note.txt"
echo

run_ta() { # MACHINE TA: the TA on that machine's sim state
  KUBETEE_SIM_DIR=$work/machine-$1 "$out/aecs_ta_host" "$2" "$addr" payments ta-key "$work/note.enc"
}
check_ta() { # its output: the key's public half and the note
  grep -q "public half sha256 $pub_sha" <<<"$1" || fail "the TA did not get the key getpub showed"
  grep -qF "decrypted        $note" <<<"$1" || fail "the TA did not decrypt the note"
}
echo "== 7. the TA on machine a: it attests to AECS (AECS verifies its quote in the AECS enclave"
echo "   and checks the secret's rules against it), gets the key, decrypts note.enc inside"
got=$(run_ta a "$ta") || { echo "$got"; fail "the TA failed on machine a"; }
sed 's/^/   /' <<<"$got"
check_ta "$got"
echo

echo "== 8. the other TA (another MRENCLAVE) asks for the same key: refused, with the reason"
refused "no such secret admits enclave ${other_mre:0:16}" run_ta a "$other"
echo

echo "== 9. the TA restarted on machine b: a new sim state (its own platform secret), nothing"
echo "   copied from machine a but the simulation root; it gets the same key: it is stateless"
[ "$(sha256sum < "$work/machine-a/seal_secret")" != "$(sha256sum < "$work/machine-b/seal_secret")" ] ||
  fail "machine b is machine a"
echo "   machine a's platform secret: $(sha256sum < "$work/machine-a/seal_secret" | cut -c1-16)..."
echo "   machine b's platform secret: $(sha256sum < "$work/machine-b/seal_secret" | cut -c1-16)..."
got=$(run_ta b "$ta") || { echo "$got"; fail "the TA failed on machine b"; }
sed 's/^/   /' <<<"$got"
check_ta "$got"
echo

echo "== 10. what AECS recorded: its audit file, hash-chained and signed by the AECS enclave"
admin audit verify "$work/audit.log" | sed 's/^/   /'
grep -o '"op":"GetSecret"[^}]*"outcome":"[a-z_]*"' "$work/audit.log" | sed 's/"target".*"outcome"/ ... "outcome"/' |
  sort | uniq -c | sed 's/^/   /'
[ "$(grep -c '"op":"GetSecret".*"outcome":"ok"' "$work/audit.log")" = 2 ] || fail "two gets should be in the audit"
[ "$(grep -c '"op":"GetSecret".*"outcome":"denied"' "$work/audit.log")" = 1 ] || fail "one refusal should be in the audit"
echo

echo "== 11. AECS itself moves to machine b. An admin's backup is 3 shares of the storage key, each"
echo "   sealed to one recovery key; the admin opens none of them"
admin backup --out-dir "$work/backup" | sed "s|$work/||;s/^/   /"
refused "is for recovery key" "$aecsadmin" recovery open-share --key "$work/admin.pem" \
  --share "$work/backup/share-1-of-3.ktrs" --out "$work/x"
kill -TERM "$pid"
wait "$pid" || fail "aecs-server did not stop cleanly"
pid=
cp -a "$work/store" "$work/store-b"
sed -e "s|store: fs:$work/store|store: fs:$work/store-b|" -e "s|machine-a|machine-b|g" \
  -e "s|audit_file: .*|audit_file: $work/audit-b.log|" "$work/aecs.yaml" > "$work/aecs-b.yaml"
sed -i "s|^collateral: .*|collateral: $("$kubetee" sim collateral --sim-dir "$work/machine-b")|" "$work/aecs-b.yaml"
"$server" --config "$work/aecs-b.yaml" 2> "$work/aecs-b.log" &
pid=$!
for _ in $(seq 200); do grep -q 'event=aecs.serving' "$work/aecs-b.log" && break; sleep 0.1; done
line=$(grep 'event=aecs.serving' "$work/aecs-b.log") || { cat "$work/aecs-b.log" >&2; fail "aecs-server b did not start"; }
addr=127.0.0.1:$(sed 's/.* grpc_port=\([0-9]*\).*/\1/' <<<"$line")
tools=(--server "$addr" --policy "$work/aecs-policy.yaml" --sim-dir "$work/machine-b")
# until the key is back AECS cannot prove its instance: restore does not pin its session;
# it checks each share against the pin (AECS_INSTANCE) before sending it, and AECS checks
# it against the store
echo "   aecs-server on machine b with a copy of the store (machine a's seal does not open here):"
refused "waits for a restore" admin status
for h in alice carol; do
  i=$([ $h = alice ] && echo 1 || echo 3)
  echo "   $h opens her share offline and delivers it:"
  "$aecsadmin" recovery open-share --key "$work/$h.pem" --share "$work/backup/share-$i-of-3.ktrs" \
    --out "$work/$h.open" | sed 's/^/     /'
  "$aecsadmin" restore "${tools[@]}" --key "$work/$h.pem" --share "$work/$h.open" | sed 's/^/     /'
  if [ $h = alice ]; then
    echo "   one share restores nothing:"
    refused "waits for a restore" svcadmin list --service payments
  fi
done
admin status --json | grep -q '"state":"ready"' || fail "AECS on machine b is not ready after 2 shares"
echo "   AECS on machine b is ready, the same instance (the pinned tools accept it); the TA there:"
got=$(run_ta b "$ta") || { echo "$got"; fail "the TA failed against the restored AECS"; }
sed 's/^/   /' <<<"$got"
check_ta "$got"
kill -TERM "$pid"
wait "$pid" || fail "aecs-server b did not stop cleanly"
pid=
echo
echo "Simulated platform: every enclave here runs as ordinary code in its host's process, so"
echo "this shows the protocol and the checks, not protection from the host. See docs/aecs.md."
