#!/usr/bin/env bash
# deploy/quickstart.sh — from a fresh checkout to a serving onebox:
# installs the Debian packages, builds, starts ZooKeeper + the two onebox clusters
# `bjsrv-account` and `tjsrv-account` (deploy/onebox.sh), creates table `demo` on both,
# writes one key on bjsrv-account and reads it back.
# Stop everything with `bash deploy/onebox.sh stop` (or `clean` to also delete the data).
# GEOKV_QUICKSTART_SKIP_BUILD=1 skips the install and build steps (binaries in GEOKV_BIN).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BIN="${GEOKV_BIN:-$REPO/build/bin}"
# Same default ports as deploy/onebox.sh (GEOKV_BJ_META_PORTS / GEOKV_TJ_META_PORTS override both).
BJ_PORTS="${GEOKV_BJ_META_PORTS:-${GEOKV_META_PORTS:-34601,34602}}"
TJ_PORTS="${GEOKV_TJ_META_PORTS:-35601,35602}"
BJ_METAS="127.0.0.1:${BJ_PORTS//,/,127.0.0.1:}"
TJ_METAS="127.0.0.1:${TJ_PORTS//,/,127.0.0.1:}"
META_LIST="$BJ_METAS"

step() { printf '\n==> %s\n' "$*"; }

if [ "${GEOKV_QUICKSTART_SKIP_BUILD:-0}" != 1 ]; then
  step "installing dependencies (deploy/install-deps.sh)"
  bash deploy/install-deps.sh

  step "building (build/, RelWithDebInfo)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build build -j2
fi

step "starting onebox (deploy/onebox.sh start)"
bash deploy/onebox.sh start

admin() { timeout 30 "$BIN/admin-cli" -m "$META_LIST" "$@"; }

# create_demo NAME METAS: creates table demo (8 partitions) on one cluster; fine if it exists.
create_demo() {
  local name="$1" metas="$2" out
  step "creating table demo on $name (8 partitions)"
  if ! out=$(timeout 90 "$BIN/admin-cli" -m "$metas" create demo -p 8 2>&1); then
    if grep -qi 'exist' <<<"$out"; then
      echo "table demo already exists on $name"
    else
      printf '%s\n' "$out" >&2
      echo "quickstart: create demo on $name failed" >&2
      exit 1
    fi
  else
    printf '%s\n' "$out"
  fi
}
create_demo bjsrv-account "$BJ_METAS"
create_demo tjsrv-account "$TJ_METAS"

step "writing and reading a key on bjsrv-account through admin-cli"
value="hello from geokv quickstart $(date '+%F %T')"
# A new table's partitions take a moment to get their primaries: retry for up to 30 s.
deadline=$(( $(date +%s) + 30 ))
until out=$(admin -a demo set quickstart greeting "$value" 2>&1); do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    printf '%s\n' "$out" >&2
    echo "quickstart: set did not succeed within 30 s" >&2
    exit 1
  fi
  sleep 0.5
done
echo "\$ admin-cli -m $META_LIST -a demo set quickstart greeting \"$value\""
printf '%s\n' "$out"
echo "\$ admin-cli -m $META_LIST -a demo get quickstart greeting"
out=$(admin -a demo get quickstart greeting)
printf '%s\n' "$out"
if ! grep -qF "$value" <<<"$out"; then
  echo "quickstart: get did not return the value just written" >&2
  exit 1
fi

cat <<EOF

geokv is serving two clusters. Try:
  $BIN/admin-cli -m $BJ_METAS            # bjsrv-account, interactive shell
  $BIN/admin-cli -m $TJ_METAS            # tjsrv-account
  $BIN/admin-cli -m $BJ_METAS app demo
  $BIN/admin-cli -m $BJ_METAS -a demo dup add -c tjsrv-account   # duplicate demo bj -> tj
  $BIN/admin-cli -m $BJ_METAS server-config all duplicate_log_batch_bytes
  bash deploy/onebox.sh status | stop | clean
EOF
