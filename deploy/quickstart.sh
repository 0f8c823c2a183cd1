#!/usr/bin/env bash
# deploy/quickstart.sh — from a fresh checkout to a serving onebox:
# installs the Debian packages, builds, starts ZooKeeper + the `onebox` cluster
# (deploy/onebox.sh), creates table `demo`, writes one key and reads it back.
# Stop everything with `bash deploy/onebox.sh stop` (or `clean` to also delete the data).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
BIN="${GEOKV_BIN:-$REPO/build/bin}"
# Same default ports as deploy/onebox.sh (GEOKV_META_PORTS overrides both).
META_PORTS="${GEOKV_META_PORTS:-34601,34602}"
META_LIST="127.0.0.1:${META_PORTS//,/,127.0.0.1:}"

step() { printf '\n==> %s\n' "$*"; }

step "installing dependencies (deploy/install-deps.sh)"
bash deploy/install-deps.sh

step "building (build/, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2

step "starting onebox (deploy/onebox.sh start)"
bash deploy/onebox.sh start

admin() { timeout 30 "$BIN/admin-cli" -m "$META_LIST" "$@"; }

step "creating table demo (8 partitions)"
if ! out=$(admin create demo -p 8 2>&1); then
  if grep -qi 'exist' <<<"$out"; then
    echo "table demo already exists"
  else
    printf '%s\n' "$out" >&2
    echo "quickstart: create demo failed" >&2
    exit 1
  fi
else
  printf '%s\n' "$out"
fi

step "writing and reading a key through admin-cli"
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

geokv is serving. Try:
  $BIN/admin-cli -m $META_LIST            # interactive shell
  $BIN/admin-cli -m $META_LIST app demo
  bash deploy/onebox.sh status | stop | clean
EOF
