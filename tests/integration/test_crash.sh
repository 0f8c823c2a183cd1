#!/usr/bin/env bash
# kill -9 a replica server in the middle of a write load, restart it, and check that every
# acknowledged write is readable. The benchmark's per-op deadline outlasts the outage, so an
# op is either acknowledged (counted) or reported as an error; verify then reads back all of
# them and must find every one.
. "$(dirname "$0")/lib.sh"
itest_begin crash
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
cluster_up c1 2 3
admin create t1 -p 8 -r 1 >/dev/null || fail "create t1"

count=40000
bench -a t1 --op set --count "$count" --seed 11 --threads 2 --inflight 16 --value-size 100 \
  --timeout-ms 60000 >"$ITEST_DIR/state/bench.out" 2>&1 &
bench_pid=$!
# wait until the load is really running: some keys are readable
wait_for "the write load to start" 60 bash -c \
  "'$GEOKV_BIN/geokv-bench' -m '$META_LIST' -a t1 --op verify --count 200 --seed 11 --value-size 100 >/dev/null"
replica_kill9 2
itest_log "replica 2 killed during the load"
sleep 1 # keep it down for a moment while the writers retry against its partitions
replica_restart 2
wait "$bench_pid" || fail "bench set failed: $(cat "$ITEST_DIR/state/bench.out")"
grep -qE "^errors: 0$" "$ITEST_DIR/state/bench.out" || fail "some writes were not acknowledged: $(cat "$ITEST_DIR/state/bench.out")"
wait_nodes 3 60
out=$(bench -a t1 --op verify --count "$count" --seed 11 --threads 2 --inflight 16 --value-size 100) || fail "verify: $out"
grep -qE "^found: $count$" <<<"$out" || fail "acknowledged writes lost: $out"

# a second, harder crash: kill -9 every replica server, restart all, verify again
for i in 1 2 3; do replica_kill9 "$i"; done
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60
out=$(bench -a t1 --op verify --count "$count" --seed 11 --threads 2 --inflight 16 --value-size 100 --timeout-ms 30000) || fail "verify after full restart: $out"
grep -qE "^found: $count$" <<<"$out" || fail "acknowledged writes lost after full restart: $out"
itest_pass
