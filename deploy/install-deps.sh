#!/usr/bin/env bash
# Installs every Debian package geokv needs to build, run, test and benchmark.
# A no-op when all are present (checked with dpkg-query, so no apt-get call at all).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang-format
  librocksdb-dev rocksdb-tools
  libzookeeper-mt-dev zookeeper zookeeper-bin default-jre-headless
  libnanomsg-dev libmsgpack-dev libssl-dev libxxhash-dev libinih-dev libedit-dev
  libcjson-dev
  libmicrohttpd-dev
  libuv1-dev libhiredis-dev python3-redis
  libcriterion-dev
  redis-server redis-tools
  etcd-server etcd-client python3-grpcio gnuplot-nox
  procps curl netcat-openbsd python3
  prometheus
  strace iptables iproute2 faketime libfaketime
  dpkg-dev file systemd
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# redis-server's postinst starts a system service; policy-rc.d keeps it (and any other) from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
