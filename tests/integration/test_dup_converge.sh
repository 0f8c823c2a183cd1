#!/usr/bin/env bash
# Duplication convergence in the corner cases last-writer-wins depends on (bj -> tj and
# tj -> bj, one table):
#  1. a multi_set naming one sort key twice: the last value wins on both clusters;
#  2. bj's replica servers restart with the wall clock 10 minutes behind (libfaketime): a write
#     after the restart still beats the one before it, on bj and on tj (the partition's clock
#     floor is every timetag it stored, not the clock);
#  3. an expired record compacted on one cluster is not brought back by an older write that
#     arrives late from the other (its timetag outlives its value until tombstone_ttl);
#  4. after dup remove, no replica keeps the plog for the removed duplication: secondaries
#     forget its confirmed decree too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup_converge
itest_require_bins geokv-meta geokv-replica admin-cli
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FAKETIME_LIB" ] || fail "libfaketime is not installed ($FAKETIME_LIB)"
zk_start
# small plog segments, collected often (4.)
dup_clusters_up replication.plog_segment_bytes=65536 replication.plog_gc_bytes=262144 \
  replication.plog_gc_interval_ms=500
for c in bj tj; do
  cluster_use "$c"
  admin create cv -p 4 -r 3 >/dev/null || fail "create cv on $c"
done
cluster_use bj && { admin -a cv dup add -c tj >/dev/null || fail "dup add bj -> tj"; }
cluster_use tj && { admin -a cv dup add -c bj >/dev/null || fail "dup add tj -> bj"; }

# get_is CLUSTER HK SK VALUE: CLUSTER reads VALUE at (HK, SK).
get_is() {
  [ "$("$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/$1/metas")" -a cv get "$2" "$3")" = "$4" ]
}

# --- 1. one sort key twice in a multi_set
cluster_use bj
admin -a cv multi_set hk s v1 s v2 >/dev/null || fail "multi_set on bj"
get_is bj hk s v2 || fail "bj does not read the last value of a repeated sort key"
wait_for "tj to read v2 (the last value of the repeated sort key)" 30 get_is tj hk s v2
wait_for "bj and tj to hold the same records" 30 same_data cv
itest_log "multi_set with a repeated sort key: v2 on both clusters"

# --- 2. a restart with the clock stepped back
cluster_use bj
admin -a cv set ck s v1 >/dev/null || fail "set v1"
wait_for "v1 to reach tj" 30 get_is tj ck s v1
for i in 1 2 3; do replica_stop "$i"; done
for i in 1 2 3; do
  FAKETIME=-10m FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$FAKETIME_LIB" dup_replica_start "$i"
done
wait_nodes 3 60
wait_for "bj to take writes again" 60 admin -a cv set probe s x
admin -a cv set ck s v2 >/dev/null || fail "set v2 after the restart"
get_is bj ck s v2 || fail "bj does not read v2 written after a restart with the clock 10 min behind"
wait_for "tj to read v2 written after bj's clock stepped back" 30 get_is tj ck s v2
wait_for "bj and tj to hold the same records" 30 same_data cv
for i in 1 2 3; do replica_restart "$i"; done # the true clock again
wait_nodes 3 60
wait_for "bj to take writes again" 60 admin -a cv set probe s y

# --- 3. expiry and a late older write
get_of() { "$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/$1/metas")" -a cv get "$2" "$3" 2>&1; }
get_missing() { get_of "$@" | grep -qi "not found"; }
# paused_primaries DUPID: how many of tj's partition primaries took the pause of DUPID.
paused_primaries() {
  cat "$ITEST_DIR"/logs/tj-replica*.log | grep -cE "duplication $1 to bj: (DS_LOG -> )?DS_PAUSE" || true
}
all_paused() { [ "$(paused_primaries "$1")" -ge 4 ]; }
cluster_use tj
tj_dup=$(dup_id cv) || fail "no duplication tj -> bj"
admin -a cv dup pause -d "$tj_dup" >/dev/null || fail "pause tj -> bj"
wait_for "every tj primary of cv to pause shipping" 30 all_paused "$tj_dup"
admin -a cv set rk s old >/dev/null || fail "set old on tj"
admin -a cv set rk marker m1 >/dev/null || fail "set the marker on tj" # same partition, later
cluster_use bj
admin -a cv set rk s new 2 >/dev/null || fail "set new with a 2 s TTL on bj"
wait_for "new to reach tj" 30 get_is tj rk s new
wait_for "new to expire on bj" 30 get_missing bj rk s
admin compact cv >/dev/null || fail "compact cv on bj"
cluster_use tj
admin -a cv dup start -d "$tj_dup" >/dev/null || fail "start tj -> bj"
wait_for "tj's late writes to reach bj" 30 get_is bj rk marker m1
get_missing bj rk s || fail "an older write brought an expired record back on bj: $(get_of bj rk s)"
get_missing tj rk s || fail "tj reads rk s: $(get_of tj rk s)"
itest_log "an expired record stayed expired on both clusters"

# --- 4. dup remove lets every replica collect its plog
cluster_use bj
app_id=$(admin app cv | awk '/^app_id:/ {print $2}')
admin -a cv dup remove -d "$(dup_id cv)" >/dev/null || fail "dup remove on bj"
"$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a cv --op set --count 30000 --seed 7 --value-size 100 \
  >/dev/null || fail "writes after the removal"
# plog_bytes_max: the largest plog of a cv partition on any bj replica server, in bytes.
plog_bytes_max() {
  local i d n max=0
  for i in 1 2 3; do
    for d in "$ITEST_DIR/bj/replica$i/$app_id".*/plog; do
      n=$(du -sb "$d" | awk '{print $1}')
      [ "$n" -gt "$max" ] && max=$n
    done
  done
  echo "$max"
}
plog_small() { [ "$(plog_bytes_max)" -lt 1048576 ]; }
wait_for "every replica to collect its plog once the duplication is gone" 30 plog_small
itest_log "largest plog of cv after dup remove: $(plog_bytes_max) bytes"
itest_pass
