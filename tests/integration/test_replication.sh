#!/usr/bin/env bash
# Three replica servers, replica_count 3. kill -9 the server holding the most primaries during
# a steady write load: writes resume within seconds of the grace period; after it restarts,
# every partition is back to 3 replicas with identical contents, and every acknowledged write
# is readable (sequential ids from the ack log, re-read twice, and a final scan).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin replication
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
repl_cluster_up 2 3 t1 8

ack="$ITEST_DIR/state/ack.log"
bench -a t1 --op set --count 60000 --seed 3 --threads 2 --inflight 16 --value-size 100 \
  --timeout-ms 15000 --ack-log "$ack" >"$ITEST_DIR/state/bench.out" 2>&1 &
bench_pid=$!
wait_for "the write load to start" 60 bash -c "[ -s '$ack' ]"
victim=$(most_primaries) || fail "no server holds a primary"
replica_kill9 "$victim"
itest_log "killed replica $victim (most primaries) under load"
took=$(wait_writable t1 60)
itest_log "writes resumed on every partition probed after ${took} ms (grace 3000 ms)"
[ "$took" -lt 15000 ] || fail "writes took ${took} ms to resume"
wait "$bench_pid" || true # unacknowledged writes are allowed; lost acknowledged ones are not
out=$(cat "$ITEST_DIR/state/bench.out")
acked=$(bench_value acked "$out")
[ "${acked:-0}" -gt 1000 ] || fail "too few acknowledged writes: $out"
itest_log "acknowledged: $acked, unacknowledged: $(bench_value unacked "$out")"

out=$(bench -a t1 --op verify --ack-log "$ack" --seed 3 --value-size 100 --count 60000) || fail "acknowledged writes lost: $out"
[ "$(bench_value missing "$out")" = 0 ] || fail "missing acknowledged writes: $out"

replica_restart "$victim"
wait_for "3 replicas in every partition after the restart" 90 partitions_have t1 3
wait_for "replicas to converge" 60 converged t1
out=$(bench -a t1 --op verify --ack-log "$ack" --seed 3 --value-size 100) || fail "re-read after heal: $out"
n=$(admin -a t1 count | tail -n1 | grep -oE '[0-9]+$')
[ "$n" -ge "$acked" ] || fail "final scan counts $n records, fewer than $acked acknowledged"
# after healing, every partition still takes writes promptly
took=$(wait_writable t1 30)
itest_log "every partition writable after healing (${took} ms)"
itest_pass
