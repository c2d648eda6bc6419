#!/usr/bin/env bash
# bench/webhook: AdmissionReviews/s through sgx-webhook (an EPC pod with the aesmd
# annotation: parse, mutate, a 5-operation patch) against nginx answering the same POSTs
# with a fixed AdmissionReview, both over TLS 1.3 with the same certificate, one worker
# each, both driven by the same wrk load (keep-alive connections, as kube-apiserver's).
# Rates are requests per CPU second of the serving process (the machine is shared).
#   webhook.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:?usage: webhook.sh BUILD_DIR [SECONDS]}
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../scratch.sh"
EXTRA_SANS="IP:127.0.0.1" bash "$here/../../deploy/sgx-webhook/make-certs.sh" "$work/certs" 2>/dev/null

wh_port=$(free_port)
"$build/services/sgx-webhook/sgx-webhook" --listen="127.0.0.1:$wh_port" \
  --tls-cert-file="$work/certs/tls.crt" --tls-key-file="$work/certs/tls.key" 2> "$work/wh.log" &
pids+=($!)

ng_port=$(free_port)
. "$here/../nginx.sh"
nginx_start "$work/nginx" 1 "  server {
    listen 127.0.0.1:$ng_port ssl;
    ssl_certificate $work/certs/tls.crt;
    ssl_certificate_key $work/certs/tls.key;
    ssl_protocols TLSv1.3;
    keepalive_requests 1000000;
    location = /mutate {
      default_type application/json;
      return 200 '{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":\"u\",\"allowed\":true}}';
    }
  }"
pids+=("$nginx_pid")

body='{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"default","operation":"CREATE","userInfo":{"username":"alice"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"enclave-app","namespace":"default","annotations":{"sgx.intel.com/quote-provider":"aesmd"},"labels":{"app":"enclave-app"}},"spec":{"containers":[{"name":"app","image":"registry.example/app:1","env":[{"name":"MODE","value":"prod"}],"resources":{"limits":{"sgx.intel.com/epc":"64Mi","cpu":"1","memory":"256Mi"},"requests":{"sgx.intel.com/epc":"64Mi","cpu":"500m","memory":"128Mi"}}},{"name":"log","image":"registry.example/log:1"}]}},"oldObject":null,"dryRun":false}}'
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$body]]
LUA

wait_port() {
  for _ in $(seq 100); do
    /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench webhook: nothing listens on port $1" >&2; cat "$work/wh.log" "$work/nginx/error.log" >&2; exit 1
}
wait_port "$wh_port"
wait_port "$ng_port"
# the answer must be the mutation, not an error that happens to be fast
curl -sf --cacert "$work/certs/ca.crt" -H 'Content-Type: application/json' --data-binary "$body" \
  "https://127.0.0.1:$wh_port/mutate" | grep -q '"patchType":"JSONPatch"' ||
  { echo "bench webhook: the webhook did not mutate the pod" >&2; exit 1; }

# CPU seconds of a process (utime + stime), so the shared machine's load moves the
# comparison less than wall-clock rates
cpu() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
# requests per CPU second of the serving process, and per wall second
rate() {
  local c0 c1
  c0=$(cpu "$2")
  wrk -t1 -c8 -d"${secs}s" -s "$work/post.lua" "https://127.0.0.1:$1/mutate" > "$work/wrk.out"
  c1=$(cpu "$2")
  if grep -q "Non-2xx" "$work/wrk.out"; then cat "$work/wrk.out" >&2; exit 1; fi
  awk -v c="$c0 $c1" '/ requests in / {split(c, t, " "); n = $1}
                      /^Requests\/sec:/ {w = $2}
                      END {printf "%.0f %.0f\n", n / (t[2] - t[1]), w}' "$work/wrk.out"
}
ng_worker=$(pgrep -P "${pids[1]}" | head -1)
read -r wh_cpu wh_wall < <(rate "$wh_port" "${pids[0]}")
read -r ng_cpu ng_wall < <(rate "$ng_port" "$ng_worker")
# the webhook logs one line per review: the log is part of the cost, as in production
reviews=$(grep -c 'event=wh.review' "$work/wh.log" || true)
echo "sgx-webhook: $wh_cpu reviews per CPU second, $wh_wall/s wall ($reviews logged)"
echo "nginx, fixed answer: $ng_cpu per CPU second, $ng_wall/s wall"
echo "$wh_cpu $ng_cpu" | awk '{printf "BENCH webhook_mutate ratio=%.3f target>0.1 rate=%d/s baseline=%d/s\n", $1/$2, $1, $2}'
