#!/usr/bin/env bash
# A table's client writes denied on one cluster (`admin-cli writes <app> deny`): every set,
# del, incr and check_and_set fails at once with ERR_WRITE_DENIED (not after a timeout; Redis
# clients through the proxy get Redis's READONLY error), reads still work, writes duplicated
# from another cluster are still applied, the setting survives a meta leader change and a
# replica server restart, and `writes <app> allow` takes writes again.
# shellcheck disable=SC2317 # the helpers below run through wait_for
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin write_deny
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench geokv-proxy
command -v redis-cli >/dev/null || fail "redis-cli missing (deploy/install-deps.sh installs redis-tools)"

# denied_fast: a set on the current cluster fails with ERR_WRITE_DENIED within 3 s.
denied_fast() {
  local t0 out
  t0=$(geokv_now_ms)
  out=$(admin -a t set k s v 2>&1) && return 1
  grep -q "takes no client writes" <<<"$out" || { echo "$out"; return 1; }
  [ $(($(geokv_now_ms) - t0)) -lt 3000 ] || { echo "took $(($(geokv_now_ms) - t0)) ms"; return 1; }
}

zk_start
dup_clusters_up
for c in bj tj; do
  cluster_use "$c"
  admin create t -p 4 -r 3 >/dev/null || fail "create t on $c"
done
cluster_use bj && { admin -a t dup add -c tj >/dev/null || fail "dup add bj -> tj"; }
cluster_use tj
admin -a t set before s written-on-tj >/dev/null || fail "write on tj before deny"
[ "$(writes_of tj)" = allowed ] || fail "a new table does not take writes"

# --- deny on tj: client writes fail at once, reads work, bj's writes still arrive
cluster_use tj
out=$(admin writes t deny) || fail "writes t deny: $out"
[ "$(writes_of tj)" = denied ] || fail "admin-cli app does not say denied"
cluster_use tj
wait_for "tj's primaries to refuse writes" 30 denied_fast
for cmd in "del before s" "incr before n 1" "check_and_set before s exist s v2"; do
  # shellcheck disable=SC2086 # the words of cmd are the arguments
  out=$(admin -a t $cmd 2>&1) && fail "'$cmd' succeeded on a denied table: $out"
  grep -q "takes no client writes" <<<"$out" || fail "'$cmd' failed otherwise: $out"
done
[ "$(admin -a t get before s)" = written-on-tj ] || fail "a read failed on a denied table"
out=$("$GEOKV_BIN/geokv-bench" -m "$META_LIST" -c "$ITEST_DIR/tj/config.ini" -a t --op set \
  --count 50 --seed 3 --timeout-ms 20000 2>&1) && fail "geokv-bench wrote to a denied table: $out"
grep -qE '^ok: 0$' <<<"$out" || fail "geokv-bench: some writes acknowledged: $out"
proxy_start t
reply=$(redis-cli -p "$(proxy_port)" set rk rv 2>&1)
[ "$reply" = "READONLY You can't write against a read only replica." ] || fail "proxy SET on a denied table: $reply"
[ "$(redis-cli -p "$(proxy_port)" get rk)" = "" ] || fail "the proxy wrote anyway"
cluster_use bj
bench -a t --op set --count 1000 --seed 1 --value-size 100 >/dev/null || fail "writes on bj"
cluster_use tj
wait_for "bj's writes to reach the denied tj" 60 bench -a t --op verify --count 1000 --seed 1 \
  --value-size 100
itest_log "bj's 1000 writes applied on tj while its client writes are denied"

# --- it survives a meta restart and a replica server restart
meta_restart 1
wait_for "a meta leader in tj" 30 meta_leader
replica_stop 2
dup_replica_start 2
wait_nodes 3 60
[ "$(writes_of tj)" = denied ] || fail "the deny was lost by the meta restart"
wait_for "writes still refused after the restarts" 30 denied_fast

# --- allow: writes work again; bj never stopped
out=$(admin writes t allow) || fail "writes t allow: $out"
wait_for "tj to take writes again" 30 admin -a t set after s v
wait_for "the proxy to take writes again" 30 bash -c "[ \"\$(redis-cli -p $(proxy_port) set rk rv)\" = OK ]"
cluster_use bj
[ "$(writes_of bj)" = allowed ] || fail "bj's table changed"
out=$(admin writes nosuch deny 2>&1) && fail "writes on a missing table succeeded"
grep -q "table not found" <<<"$out" || fail "writes nosuch: $out"
out=$(admin writes t maybe 2>&1) && fail "writes t maybe succeeded"
itest_pass
