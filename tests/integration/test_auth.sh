#!/usr/bin/env bash
# Authentication. Servers sign every message between them (every test's clusters have
# [security] keys) and refuse what is unsigned where a signature is required, signed with a
# wrong key, changed, too old or replayed. forger speaks for a primary (a group check with a
# ballot of 10^12, a prepare whose commit point commits it) to the partition's primary and to
# a secondary, for another datacenter (a duplication batch), and replays a genuine signed
# write; an admin call without the keys is refused with a clear error. Nothing they sent
# changes anything: the partition keeps its ballot, the replayed write does not come back,
# and the cluster serves on. Then the keys are rotated under load with no restart: a second
# key is added everywhere (SIGHUP), made the signing key, and the first dropped; every
# acknowledged write is there and no server refused a message meanwhile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin auth
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench forger
zk_start
cluster_config c1 "$(meta_list 1)"
cfg="$ITEST_DIR/c1/config.ini"
ports=()
meta_start 1
for i in 1 2 3; do
  ports[i]=$(free_port)
  replica_start "$i" --set "core.metrics_address=127.0.0.1:${ports[i]}"
done
wait_nodes 3 60
out=$(admin create au -p 1 -r 3) || fail "create au: $out"
app_id=$(grep -oE 'app_id [0-9]+' <<<"$out" | grep -oE '[0-9]+$')
wait_for "au fully replicated" 60 partitions_have au 3

# partition 0: "pidx ballot primary secondaries last_committed"
row() { admin app au | awk '/^ *0 / {print $2, $3, $4}'; }
read -r ballot primary secondaries <<<"$(row)"
secondary=${secondaries%%,*}
itest_log "partition $app_id.0: ballot $ballot, primary $primary, secondaries $secondaries"

# --- without the keys, an admin call is refused, and says why
if "$GEOKV_BIN/admin-cli" -m "$META_LIST" create au2 -p 1 -r 1 >/dev/null 2>"$ITEST_DIR/state/unsigned.err"; then
  fail "an unsigned create was accepted"
fi
grep -q "not authenticated.*-c CONFIG" "$ITEST_DIR/state/unsigned.err" ||
  fail "unsigned create: unclear error: $(cat "$ITEST_DIR/state/unsigned.err")"

# --- forged and replayed messages
out=$("$GEOKV_BIN/forger" "$primary" "$app_id.0" "$cfg" 2>&1) || fail "forger against the primary: $out"
itest_log "$out"
out=$("$GEOKV_BIN/forger" "$secondary" "$app_id.0" "$cfg" --forged-only 2>&1) ||
  fail "forger against a secondary: $out"
[ "$(admin -a au get forger replay)" = second ] || fail "the replayed write came back"
for k in prepared duplicated; do
  out=$(admin -a au get forger "$k" 2>&1)
  [ "$out" = "not found" ] || fail "a forged $k write landed: $out"
done
read -r ballot2 primary2 _ <<<"$(row)"
[ "$ballot2" = "$ballot" ] && [ "$primary2" = "$primary" ] ||
  fail "the partition moved: ballot $ballot -> $ballot2, primary $primary -> $primary2"
out=$(bench -a au --op set --count 2000 --seed 3) || fail "writes after the forgeries: $out"
grep -qE '^errors: 0$' <<<"$out" || fail "writes after the forgeries failed: $out"
wait_for "replicas converged" 60 converged au

# --- key rotation under load
refused() {
  local i total=0 n
  for i in 1 2 3; do
    n=$(curl -fsS "http://127.0.0.1:${ports[i]}/metrics" | awk '/^geokv_rpc_auth_failures_total / {print $2}')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
refused0=$(refused)
old=$(security_keys)
new="2:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# reloaded SERVER WHAT: SERVER's last [security] line says WHAT.
reloaded() { grep '\[security\]' "$ITEST_DIR/logs/$1.log" | tail -n 1 | grep -qF "$2"; }
# rotate KEYS SIGN_KEY: rewrites [security] and has every server reload it
rotate() {
  sed -i -e "/^keys = /c\\keys = $1" -e '/^sign_key = /d' "$cfg"
  sed -i "/^keys = /a\\sign_key = $2" "$cfg"
  local p n
  for p in "$ITEST_DIR"/pids/c1-*.pid; do kill -HUP "$(cat "$p")"; done
  n=$(tr ',' '\n' <<<"$1" | grep -c :)
  for p in "$ITEST_DIR"/pids/c1-*.pid; do
    p=$(basename "$p" .pid)
    wait_for "$p to sign with key $2 of $n" 10 reloaded "$p" "$n key(s), signing with key $2"
  done
  itest_log "keys $(sed 's/:[0-9a-f]*/:…/g' <<<"$1"), signing with $2"
}
args=(-a au --count 40000 --seed 9 --ack-log "$ITEST_DIR/state/acks")
bench "${args[@]}" --op set --duration 16 --rate 2000 --threads 2 --inflight 16 \
  >"$ITEST_DIR/state/load.out" 2>&1 &
load=$!
sleep 3
rotate "$old,$new" 1
sleep 3
rotate "$old,$new" 2
sleep 3
rotate "$new" 2
wait "$load" || fail "load during the rotation: $(cat "$ITEST_DIR/state/load.out")"
out=$(cat "$ITEST_DIR/state/load.out")
itest_log "load: $(grep -E '^(ok|errors|uncertain):' <<<"$out" | tr '\n' ' ')"
grep -qE '^uncertain: 0$' <<<"$out" || fail "writes timed out during the rotation: $out"
out=$(bench "${args[@]}" --op verify --threads 4 --inflight 64) || fail "verify: $out"
grep -qE '^missing: 0$' <<<"$out" || fail "acknowledged writes lost in the rotation: $out"
[ "$(refused)" = "$refused0" ] || fail "servers refused $(( $(refused) - refused0 )) messages during the rotation"
out=$(admin create au3 -p 1 -r 1) || fail "an admin call signed with the new key: $out"
wait_for "replicas converged after the rotation" 60 converged au
itest_pass
