#!/usr/bin/env bash
# Installs every Debian package that kubetee's build, tests, demo and benchmarks need.
# Idempotent and non-interactive: does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev openssl
  libprotobuf-c-dev protobuf-c-compiler
  libcmocka-dev
  libjansson-dev libyaml-dev libcurl4-openssl-dev libmicrohttpd-dev
  libgrpc-dev protobuf-compiler protobuf-compiler-grpc
  libprotobuf-dev
  python3 python3-grpcio python3-protobuf python3-yaml python3-h2
  python3-jsonpatch
  binutils file
  p11-kit libp11-kit-dev softhsm2
  wrk nginx libsqlite3-dev
)
# the tests read every /metrics with Prometheus's own text parser (tests/integration/prom.py)
packages+=(python3-prometheus-client)
# make deb: dpkg-shlibdeps (dpkg-dev) finds the packages' Depends, lintian checks them
packages+=(dpkg-dev lintian)
# make images and the images test: debootstrap makes the Debian rootfs, buildah builds the
# Containerfiles, umoci unpacks the OCI layout, podman runs them (runc: crun refuses the
# hybrid cgroup hierarchy some machines have)
packages+=(debootstrap buildah podman umoci runc)
# the etcd store backend's tests run a real etcd (and etcdctl, an independent client)
packages+=(etcd-server etcd-client)
# kubectl kustomize renders the Kustomize manifests in tests (kubetee new's deploy/); a
# kubectl already installed (e.g. a cloud SDK's, which conflicts with Debian's) is used
if ! command -v kubectl >/dev/null; then
  packages+=(kubernetes-client)
fi
# node and npm run Phala's dcap-qvl, installed from npm by the tests and the benchmark
# (tests/interop/dcapqvl). A node that is already there (e.g. NodeSource's, which ships
# its own npm and conflicts with Debian's npm package) is used as it is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

# the kustomize test checks every rendered object against the Kubernetes API schema with
# the client's generated models (tests/integration/k8s_schema.py)
packages+=(python3-kubernetes)
# Debian's kubectl (kubernetes-client, 1.20) renders the Kustomize bases in the tests too,
# since it is the one Debian 12 users get. A kubectl of another package (a cloud SDK's)
# owns /usr/bin/kubectl and conflicts with it: then Debian's is unpacked, not installed,
# into /opt/kubetee/kubernetes-client (tests/integration/kustomize.py looks there)
debkc=/opt/kubetee/kubernetes-client
if command -v kubectl >/dev/null && ! dpkg -S "$(readlink -f "$(command -v kubectl)")" 2>/dev/null |
    grep -q '^kubernetes-client:' && [ ! -x "$debkc/usr/bin/kubectl" ]; then
  echo "install-deps: unpacking Debian's kubernetes-client into $debkc" >&2
  dl=$(mktemp -d)
  (cd "$dl" && { apt-get download -qq -o APT::Sandbox::User=root kubernetes-client 2>/dev/null ||
    { apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root kubernetes-client; }; })
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
  "${as_root[@]}" mkdir -p "$debkc.tmp"
  "${as_root[@]}" dpkg-deb -x "$dl"/kubernetes-client_*.deb "$debkc.tmp"
  "${as_root[@]}" mv "$debkc.tmp" "$debkc"
  rm -rf "$dl"
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
# nginx is bench/collateral's baseline, started by the bench with its own configuration in
# a temporary directory: its package must neither start nor enable a system service
guard=
if [[ " ${missing[*]} " == *" nginx "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo_cmd[@]}" chmod 755 /usr/sbin/policy-rc.d
  guard=1
fi
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [ -n "$guard" ]; then "${sudo_cmd[@]}" rm -f /usr/sbin/policy-rc.d; fi
if [[ " ${missing[*]} " == *" nginx "* ]]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    "${sudo_cmd[@]}" systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  "${sudo_cmd[@]}" update-rc.d nginx disable >/dev/null 2>&1 || true
fi
