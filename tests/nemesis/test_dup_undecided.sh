#!/usr/bin/env bash
# A duplicated entry that loses only to a local write that is proposed but not committed is
# not acknowledged until that write commits. Here the write never does: bj's primary of the
# partition is cut from its secondaries when the local write comes, the entry from tj
# (older, so it loses to it) arrives, and the primary dies. The write is gone, and the entry
# must not be: tj ships it again to the new primary, and both clusters end with it.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_undecided 801 0
zk_start
clusters_up bj tj
for c in bj tj; do cluster_use "$c" && table_up un 1; done
cluster_use tj
admin -a un dup add -c bj >/dev/null || fail "dup add tj -> bj"
dupid=$(admin -a un dup list | grep -oE '"dupid": *[0-9]+' | grep -oE '[0-9]+$')
paused() { grep -qE "duplication $dupid to bj: (DS_LOG -> )?DS_PAUSE" "$ITEST_DIR"/logs/tj-replica*.log; }
admin -a un dup pause -d "$dupid" >/dev/null || fail "pause tj -> bj"
wait_for "tj's primary to pause shipping" 30 paused
admin -a un set k s from-tj >/dev/null || fail "set on tj" # older than bj's write below

cluster_use bj
prim=$(admin app un | awk '$1 == 0 {print $3}')
p=0
for i in 1 2 3; do [ "$(replica_addr "$i")" = "$prim" ] && p=$i; done
[ "$p" != 0 ] || fail "no primary of un on bj"
for i in 1 2 3; do
  [ "$i" = "$p" ] || fault_link_cut "$(replica_host "$p")" "$(replica_host "$i")" both
done
admin -t 1000 -a un set k s from-bj >/dev/null 2>&1 && fail "a write committed with its secondaries cut off"

# tj's entry reaches bj's primary, where it loses to the proposed write
shipper_moved() {
  local f n=0 v
  for f in "$ITEST_DIR"/logs/tj-replica*.log; do
    v=$(grep -cE "dup $dupid .*-> (OK|ERR_)" "$f" || true)
    n=$((n + v))
  done
  [ "$n" -gt 0 ]
}
cluster_use tj
admin server-config all log_level debug >/dev/null || fail "debug logs on tj"
admin -a un dup start -d "$dupid" >/dev/null || fail "start tj -> bj"
wait_for "tj's entry to reach bj's primary and be answered (or time out)" 30 shipper_moved
cluster_use bj
fault_log "kill -9 bj's primary of un (replica $p) for good"
replica_kill9 "$p"
get_is() {
  [ "$("$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/$1/metas")" -a un get k s)" = "$2" ]
}
wait_for "bj to hold tj's entry after the failover" 60 get_is bj from-tj
get_is tj from-tj || fail "tj lost its own write"
itest_pass
