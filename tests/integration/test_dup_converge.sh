#!/usr/bin/env bash
# Duplication convergence in the corner cases last-writer-wins depends on (bj -> tj and
# tj -> bj, one table):
#  1. a multi_set naming one sort key twice: the last value wins on both clusters;
#  2. bj's replica servers restart with the wall clock 10 minutes behind (libfaketime): a write
#     after the restart still beats the one before it, on bj and on tj (the partition's clock
#     floor is every timetag it stored, not the clock).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup_converge
itest_require_bins geokv-meta geokv-replica admin-cli
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FAKETIME_LIB" ] || fail "libfaketime is not installed ($FAKETIME_LIB)"
zk_start
dup_clusters_up
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
itest_pass
