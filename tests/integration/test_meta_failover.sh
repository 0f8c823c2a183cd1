#!/usr/bin/env bash
# Kill the meta leader while a client writes: the other meta takes over (state from
# ZooKeeper) and the client keeps working; the table and its data are intact.
. "$(dirname "$0")/lib.sh"
itest_begin meta_failover
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
cluster_up c1 2 3
admin create t1 -p 8 -r 1 >/dev/null || fail "create t1"
leader=$(meta_leader) || fail "no leader"
other=$((3 - leader))

count=30000
bench -a t1 --op set --count "$count" --seed 5 --threads 2 --inflight 8 --value-size 100 \
  --timeout-ms 60000 >"$ITEST_DIR/state/bench.out" 2>&1 &
bench_pid=$!
wait_for "the write load to start" 60 bash -c \
  "'$GEOKV_BIN/geokv-bench' -m '$META_LIST' -a t1 --op verify --count 100 --seed 5 --value-size 100 >/dev/null"
meta_kill9 "$leader"
itest_log "meta $leader (leader) killed"
wait_for "meta $other to become leader" 60 meta_leader_is "$other"
wait "$bench_pid" || fail "bench failed across the meta failover: $(cat "$ITEST_DIR/state/bench.out")"
grep -qE "^errors: 0$" "$ITEST_DIR/state/bench.out" || fail "writes failed: $(cat "$ITEST_DIR/state/bench.out")"

# the new leader knows the table and every replica server, and new clients can use it
out=$(admin app t1) || fail "app t1 on the new leader"
wait_nodes 3 60
out=$(bench -a t1 --op verify --count "$count" --seed 5 --threads 2 --inflight 16 --value-size 100) || fail "verify: $out"
grep -qE "^found: $count$" <<<"$out" || fail "writes lost: $out"
admin create t2 -p 4 -r 1 >/dev/null || fail "create on the new leader"

# the old leader comes back as a follower and redirects
meta_start "$leader"
wait_for "old leader to answer as follower" 30 meta_leader_is "$other"
itest_pass
