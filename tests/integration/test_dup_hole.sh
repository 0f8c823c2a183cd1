#!/usr/bin/env bash
# Shipping never stops at a hole in the plog. bj -> tj, bj's table on 3 of 4 servers: the
# duplication is paused (its confirmed decree F stays behind) while bj writes on; a new
# server learns the partition from a checkpoint newer than F (its plog starts after it), and
# then the other two members die: the learner, now primary, lacks the decrees after F. When
# the duplication starts again, it re-seeds tj from the partition's data (dup list and
# geokv_dup_resyncs_total say so) and then ships the plog: tj ends with exactly bj's records.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin dup_hole
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
dup_clusters_up replication.plog_segment_bytes=65536 replication.plog_gc_bytes=262144 \
  replication.plog_gc_interval_ms=500 meta_server.node_grace_ms=3000 meta_server.lease_ms=2000 \
  meta_server.add_secondary_delay_ms=1000 meta_server.balancer_interval_ms=600000
for c in bj tj; do
  cluster_use "$c"
  admin create h -p 1 -r 3 >/dev/null || fail "create h on $c"
done
cluster_use bj
admin -a h dup add -c tj >/dev/null || fail "dup add bj -> tj"
dupid=$(dup_id h) || fail "no dupid"
bench -a h --op set --count 20000 --seed 1 --value-size 100 --threads 2 >/dev/null || fail "writes 1"
wait_for "bj and tj to hold the same records" 60 same_data h

# pause; every bj primary must have taken it before the next writes
paused() { cat "$ITEST_DIR"/logs/bj-replica*.log | grep -qE "duplication $dupid to tj: (DS_LOG -> )?DS_PAUSE"; }
admin -a h dup pause -d "$dupid" >/dev/null || fail "pause"
wait_for "the primary to pause shipping" 30 paused
bench -a h --op set --count 20000 --seed 2 --value-size 100 --threads 2 >/dev/null || fail "writes 2"

# member_index ROLE: the index of h's primary / first secondary on bj
member_index() {
  local addr i
  addr=$(admin app h | awk -v r="$1" '$1 == 0 { if (r == "primary") print $3; else { split($4, s, ","); print s[1] } }')
  for i in 1 2 3 4; do [ "$(replica_addr "$i")" = "$addr" ] && { echo "$i"; return 0; }; done
  return 1
}
sec=$(member_index secondary) || fail "no secondary of h"
replica_kill9 "$sec"
wait_for "h to drop the dead secondary" 30 partitions_have h 2
dup_replica_start 4
wait_for "server 4 to learn h and join" 90 partitions_have h 3
grep -q "is past the plog: checkpoint" "$ITEST_DIR"/logs/bj-replica*.log ||
  fail "the learner did not copy a checkpoint: no hole to test"
prim=$(member_index primary) || fail "no primary of h"
for i in 1 2 3; do
  [ "$i" = "$sec" ] || replica_kill9 "$i"
done
wait_for "server 4 to be h's only replica and primary" 30 bash -c \
  "'$GEOKV_BIN/admin-cli' -m '$META_LIST' app h | awk '\$1 == 0 {print \$3}' | grep -q '$(replica_addr 4)'"
admin -a h dup start -d "$dupid" >/dev/null || fail "start"
wait_for "tj to hold exactly bj's records" 120 same_data h
out=$(admin -a h dup list)
resyncs=$(curl -fsS "http://127.0.0.1:$(cat "$ITEST_DIR/state/clusters/bj/metrics4.port")/metrics" |
  awk '/^geokv_dup_resyncs_total/ {print $2}')
[ "${resyncs:-0}" -ge 1 ] || fail "geokv_dup_resyncs_total is ${resyncs:-0} on the new primary"
grep -q "re-seed of tj done" "$ITEST_DIR/logs/bj-replica4.log" || fail "no re-seed was logged"
itest_log "tj caught up through a re-seed; dup list: $(tr -d '\n' <<<"$out" | head -c 300)"
itest_pass
