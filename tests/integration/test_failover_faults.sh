#!/usr/bin/env bash
# Failover under faults, replica_count 3 on three servers:
#  1. kill -STOP a primary past its lease: another replica takes over; after kill -CONT the old
#     primary neither serves the stale value nor accepts writes;
#  2. kill -9 a server and then the meta leader right away: the new meta leader finishes the
#     failover from ZooKeeper and writes resume; nothing acknowledged is lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin failover_faults
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench direct_get
zk_start
repl_cluster_up 2 3 t1 4
app_id=$(admin app t1 | awk '/^app_id:/ {print $2}')

# --- 1. a paused primary
admin -a t1 set k s old >/dev/null || fail "set old"
# find the partition holding k and its primary: the one whose direct read answers
old_primary="" part=""
for p in 0 1 2 3; do
  prim=$(admin app t1 | awk -v p="$p" '$1 == p {print $3}')
  if "$GEOKV_BIN/direct_get" "$prim" "$app_id.$p" k s 2>/dev/null | grep -q "value: old"; then
    old_primary=$prim part=$p
  fi
done
[ -n "$old_primary" ] || fail "no primary serves k"
victim=""
for i in 1 2 3; do [ "$(replica_addr "$i")" = "$old_primary" ] && victim=$i; done
replica_pause "$victim"
itest_log "paused replica $victim, primary of $app_id.$part"
wait_for "a new primary for partition $part" 30 bash -c \
  "'$GEOKV_BIN/admin-cli' -m '$META_LIST' app t1 | awk -v p=$part '\$1 == p {print \$3}' | grep -qv '$old_primary'"
admin -a t1 set k s new >/dev/null || fail "set new after the failover"
replica_resume "$victim"
out=$("$GEOKV_BIN/direct_get" "$old_primary" "$app_id.$part" k s || true)
grep -q "value: old" <<<"$out" && fail "the old primary served a stale read after resuming: $out"
itest_log "old primary after resume answers: $out"
[ "$(admin -a t1 get k s)" = new ] || fail "the new value is not readable"
wait_for "3 replicas again" 60 partitions_have t1 3

# --- 2. a server and the meta leader killed together
ack="$ITEST_DIR/state/ack.log"
bench -a t1 --op set --count 40000 --seed 8 --threads 2 --inflight 8 --value-size 100 \
  --timeout-ms 30000 --ack-log "$ack" >"$ITEST_DIR/state/bench.out" 2>&1 &
bench_pid=$!
wait_for "the write load to start" 60 bash -c "[ -s '$ack' ]"
leader=$(meta_leader) || fail "no meta leader"
victim=$(most_primaries)
replica_kill9 "$victim"
meta_kill9 "$leader"
itest_log "killed replica $victim and meta leader $leader"
wait_for "the other meta to lead" 60 meta_leader_is $((3 - leader))
took=$(wait_writable t1 90)
itest_log "writes resumed ${took} ms after the new leader took over"
wait "$bench_pid" || true
out=$(bench -a t1 --op verify --ack-log "$ack" --seed 8 --value-size 100) || fail "lost writes: $out"
replica_restart "$victim"
wait_for "3 replicas in every partition" 90 partitions_have t1 3
wait_for "replicas to converge" 60 converged t1
itest_pass
