#!/usr/bin/env bash
# Four replica servers, replica_count 3. A server dies under a write load and stays dead: its
# partitions lose a member, the meta adds a learner on the fourth server, which catches up
# while the writes go on and joins. Then every partition has 3 replicas again, they converge,
# and no acknowledged write is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin learn
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
cluster_config c1 "$(meta_list 1)"
repl_fast_settings
# a small plog segment and GC threshold so some learners must copy a checkpoint
cluster_set replication.plog_segment_bytes=262144 replication.plog_gc_bytes=524288 \
  replication.plog_gc_interval_ms=500
meta_start 1
wait_for "a meta leader" 30 meta_leader
for i in 1 2 3 4; do replica_start "$i"; done
wait_nodes 4 60
admin create t1 -p 8 -r 3 >/dev/null || fail "create t1 -r 3"
wait_for "3 replicas in every partition" 60 partitions_have t1 3
bench -a t1 --op set --count 20000 --seed 1 --threads 2 --inflight 16 --value-size 200 >/dev/null ||
  fail "preload"

ack="$ITEST_DIR/state/ack.log"
bench -a t1 --op set --count 60000 --seed 4 --threads 2 --inflight 8 --value-size 200 \
  --timeout-ms 15000 --ack-log "$ack" >"$ITEST_DIR/state/bench.out" 2>&1 &
bench_pid=$!
wait_for "the write load to start" 60 bash -c "[ -s '$ack' ]"
dead=$(replica_addr 2)
replica_kill9 2
itest_log "killed replica 2 under load; it stays down"
wait_for "the meta to drop replica 2 from every partition" 60 bash -c \
  "! '$GEOKV_BIN/admin-cli' -m '$META_LIST' app t1 | grep -qF '$dead'"
wait_for "the learners to join while writes go on" 120 partitions_have t1 3
bench_running=no
kill -0 "$bench_pid" 2>/dev/null && bench_running=yes
itest_log "every partition has 3 replicas again (load still running: $bench_running)"
wait "$bench_pid" || true
wait_for "replicas to converge" 60 converged t1
out=$(bench -a t1 --op verify --ack-log "$ack" --seed 4 --value-size 200) || fail "lost writes: $out"
out=$(bench -a t1 --op verify --count 20000 --seed 1 --value-size 200) || fail "preloaded data lost: $out"
grep -q "learn\|checkpoint" "$ITEST_DIR/logs/c1-replica4.log" || fail "replica 4 never learned"
# after healing, every partition still takes writes promptly
took=$(wait_writable t1 30)
itest_log "every partition writable after healing (${took} ms)"
itest_pass
