#!/usr/bin/env bash
# bench/collateral: cached TCB Info responses per second from kubetee-collateral, against
# nginx serving the same bytes (body and issuer chain headers) as a static file. Both
# are started here, on loopback, with their own configuration in a temporary directory,
# and loaded by the same wrk run for run; both are stopped at the end.
set -euo pipefail
build=${1:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
set_dir=${2:-$here/../../../shared/testdata/attestation/sgx-v3-dcapqvl-cfg-swhardening}
seconds=${BENCH_SECONDS:-5}
conns=${BENCH_CONNECTIONS:-16}  # the HTTP server takes at most 16 from one address
proxy=$build/services/collateral/kubetee-collateral
. "$here/../scratch.sh"
command -v wrk >/dev/null || { echo "bench/collateral: wrk is missing (scripts/install-deps.sh)" >&2; exit 1; }
. "$here/../nginx.sh"
now=1751623200
fmspc=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tcbInfo"]["fmspc"])' "$set_dir/tcb_info.json")
target="/sgx/certification/v4/tcb?fmspc=$fmspc"

# the proxy, offline, over the set's collateral imported (and so verified) first
"$proxy" import --root-ca "$set_dir/intel_root_ca.pem" --storage-dir "$work/store" --dir "$set_dir" --now $now 2>/dev/null
pport=$(free_port)
"$proxy" --mode offline --root-ca "$set_dir/intel_root_ca.pem" --storage-dir "$work/store" --now $now \
  --listen 127.0.0.1:$pport --threads 2 2>"$work/proxy.log" &
pids+=($!)

# nginx: the same body and headers, as a static file
chain=$(/usr/bin/python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe="-_.!~*'"'"'()"))' "$set_dir/tcb_info_issuer_chain.pem")
nport=$(free_port)
mkdir -p "$work/nginx"
cp "$set_dir/tcb_info.json" "$work/nginx/tcb"
chmod 755 "$work"
nginx_start "$work/nginx" 2 "  server {
    listen 127.0.0.1:$nport;
    location = /sgx/certification/v4/tcb {
      default_type application/json;
      add_header TCB-Info-Issuer-Chain \"$chain\";
      add_header SGX-TCB-Info-Issuer-Chain \"$chain\";
      alias $work/nginx/tcb;
    }
  }"
pids+=("$nginx_pid")

for _ in $(seq 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$pport$target" && curl -sf -o /dev/null "http://127.0.0.1:$nport$target" && break
  sleep 0.05
done
# both serve the same bytes, or the comparison means nothing
curl -sf "http://127.0.0.1:$pport$target" -D "$work/p.h" -o "$work/p.body"
curl -sf "http://127.0.0.1:$nport$target" -D "$work/n.h" -o "$work/n.body"
cmp -s "$work/p.body" "$set_dir/tcb_info.json" && cmp -s "$work/n.body" "$set_dir/tcb_info.json" ||
  { echo "bench/collateral: the bodies differ" >&2; exit 1; }
for h in TCB-Info-Issuer-Chain SGX-TCB-Info-Issuer-Chain; do
  [ "$(grep -i "^$h:" "$work/p.h")" = "$(grep -i "^$h:" "$work/n.h")" ] ||
    { echo "bench/collateral: header $h differs" >&2; exit 1; }
done

# requests/s, when every response was a 200
rate() {
  local out
  out=$(wrk -t2 -c"$conns" -d"${seconds}s" "$1")
  if grep -q "Non-2xx" <<<"$out"; then echo "bench/collateral: $1 answered other than 200" >&2; echo "$out" >&2; exit 1; fi
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
# rounds taken in turn, the best of each kept: the machine is shared, and a round that
# another process slowed says nothing of either server
rounds=${BENCH_ROUNDS:-3}
prates=() nrates=()
for r in $(seq "$rounds"); do
  prates+=("$(rate "http://127.0.0.1:$pport$target")")
  nrates+=("$(rate "http://127.0.0.1:$nport$target")")
  echo "round $r: kubetee-collateral ${prates[-1]}/s, nginx static file ${nrates[-1]}/s"
done
/usr/bin/python3 - "${prates[*]}" "${nrates[*]}" "$conns" "$seconds" <<'PY'
import sys
p = max(float(x) for x in sys.argv[1].split())
n = max(float(x) for x in sys.argv[2].split())
print("collateral tcb (cached, %s connections, %ss rounds, best of each): kubetee-collateral %d/s, "
      "nginx %d/s" % (sys.argv[3], sys.argv[4], p, n))
print("BENCH collateral ratio=%.2f target>=0.5 rate=%d/s baseline=%d/s" % (p / n, p, n))
PY
