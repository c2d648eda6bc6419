# bench/scratch.sh (sourced): what a bench that starts servers needs around them. $work, a
# scratch directory; $pids, the processes the bench starts (it appends each one's pid);
# both stopped and removed when the bench exits, however it exits. free_port prints a TCP
# port free on loopback now.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
