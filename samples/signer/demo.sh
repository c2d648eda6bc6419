#!/usr/bin/env bash
# make demo-signer: the hello enclave signed by kubetee-signer with a key that lives in a
# SoftHSM2 token (Debian's), then run, then found in the signer's transparency log.
# Everything is made here under a temporary directory and removed at the end.
set -euo pipefail
build=${1:-build/release}
build=$(cd "$build" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
kubetee=$build/tools/kubetee/kubetee
signer=$build/services/signer/kubetee-signer
hello=$build/samples/hello
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

echo "== 1. a SoftHSM2 token (simulated HSM: its keys are files under $work/tokens)"
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$work" > softhsm2.conf
export SOFTHSM2_CONF=$work/softhsm2.conf
softhsm2-util --init-token --free --label demo --pin 246810 --so-pin 97531 | sed 's/^/   /'
(umask 077 && echo 246810 > pin)

echo "== 2. certificates: a CA, the signer's, a CI job's; the log key"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj "/CN=demo CA" -days 1
for n in signer ci; do
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj "/CN=$n/O=demo"
  echo "subjectAltName=DNS:localhost" > $n.ext
  ossl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 1 -extfile $n.ext
done
ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out log.key
ossl pkey -in log.key -pubout -out log.pub
subject=$(openssl x509 -in ci.pem -noout -subject -nameopt oneline | sed 's/^subject=//')
cat > signer.yaml <<YAML
listen: 127.0.0.1:0
state: $work/state
tls: {cert: $work/signer.pem, key: $work/signer.key, client_ca: $work/ca.pem}
log: {path: $work/log, head: $work/log.head, key: $work/log.key}
token: {module: /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so, label: demo, pin_file: $work/pin}
clients:
  ci: {subject: "$subject", issuer: "CN = demo CA"}
keys:
  release: {production: true, reproducible: true, prodids: [1], clients: [ci]}
YAML
sed 's/^/   /' signer.yaml

echo "== 3. the key is made in the token and never leaves it"
"$signer" keygen --config signer.yaml --key release 2>/dev/null
"$signer" keys --config signer.yaml 2>/dev/null | sed 's/^/   /'

echo "== 4. the signer serves; the CI job signs hello through it (mutual TLS)"
"$signer" --config signer.yaml 2> signer.log &
pid=$!
for _ in $(seq 100); do grep -q 'event=signer.started' signer.log && break; sleep 0.1; done
port=$(sed -n 's/.*event=signer.started.* port=\([0-9]*\).*/\1/p' signer.log)
tls=(--tls-ca ca.pem --tls-cert ci.pem --tls-key ci.key --server-name localhost)
"$kubetee" sign --signer 127.0.0.1:"$port" --key release "${tls[@]}" \
  --enclave "$hello/hello.so" --config "$here/../hello/enclave.conf" --out hello.signed.so | sed 's/^/   /'

echo "== 5. it runs (sim platform)"
KUBETEE_SIM_DIR=$work/sim "$hello/hello_host" hello.signed.so "signer" | sed 's/^/   /'

echo "== 6. and the signer's transparency log says who had it signed"
kill "$pid"; wait "$pid" || true; pid=
"$kubetee" signer log verify --log log --head log.head --key log.pub --enclave hello.signed.so | sed 's/^/   /'
grep 'event=signer.signed' signer.log | sed 's/^/   /'
