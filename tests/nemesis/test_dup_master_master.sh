#!/usr/bin/env bash
# Master-master duplication between bj (4 partitions) and tj (6 partitions: every entry is
# routed by its own key) with both clusters writing their own keys and a set of shared keys
# (sets with a TTL, deletes, multi_sets, incrs, cas): the link between the clusters is cut
# and healed, servers of either cluster are killed and restarted, and one of tj's restarts
# with its wall clock ahead. Both clusters end with the same records, each writer's history
# holds on both, and every shared key holds one of its candidate last writes.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_master_master 601 30
zk_start
for c in bj tj; do cluster_config "$c" "$(meta_list 1)"; done
parts=([1]=4 [2]=6)
for c in bj tj; do
  cluster_use "$c"
  repl_fast_settings
  cluster_set replication.dup_sync_interval_ms=200
  meta_start 1
  wait_for "a meta leader in $c" 30 meta_leader
  for i in 1 2 3; do replica_start "$i"; done
  wait_nodes 3 60
  admin create mm -p "${parts[$(cat "$ITEST_DIR/state/clusters/$c/ordinal")]}" -r 3 >/dev/null ||
    fail "create mm on $c"
  wait_for "mm fully replicated on $c" 60 partitions_have mm 3
done
cluster_use bj && { admin -a mm dup add -c tj >/dev/null || fail "dup add bj -> tj"; }
cluster_use tj && { admin -a mm dup add -c bj >/dev/null || fail "dup add tj -> bj"; }
mix=set=35,del=10,multi_set=15,incr=15,cas=15,get=10
cluster_use bj && load_start mm a --threads 3 --shared 16 --ttl-s 86400 --mix "$mix"
cluster_use tj && load_start mm b --threads 3 --shared 16 --ttl-s 86400 --mix "$mix"
nemesis_start_clock
cut=0
while nemesis_running; do
  nemesis_sleep 2 4
  case $(nemesis_pick 4) in
  1) if [ "$cut" = 0 ]; then fault_clusters_cut bj tj; cut=1; else fault_clusters_heal bj tj; cut=0; fi ;;
  2) cluster_use bj; fault_kill9 "$(nemesis_pick 3)" 0 ;;
  3) cluster_use tj; fault_kill9 "$(nemesis_pick 3)" 0 ;;
  4) cluster_use tj; fault_clock_restart "$(nemesis_pick 3)" +3m ;;
  esac
done
[ "$cut" = 0 ] || fault_clusters_heal bj tj
load_wait a b
same_dumps() {
  diff -q <("$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/bj/metas")" dump mm) \
    <("$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/tj/metas")" dump mm)
}
wait_for "bj and tj to hold the same records" 120 same_dumps
NEMESIS_CLUSTERS="bj tj" check_all mm a b
itest_pass
