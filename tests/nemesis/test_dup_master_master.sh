#!/usr/bin/env bash
# Master-master duplication between bj (4 partitions) and tj (6 partitions: every entry is
# routed by its own key) with both clusters writing their own keys and a set of shared keys
# (sets with a TTL, deletes, multi_sets, incrs, cas): the link between the clusters is cut
# and healed, servers of either cluster are killed and restarted or paused past their lease.
# Both clusters end with the same records, each writer's history holds on both, and every
# shared key holds its last-writer-wins winner: one of the writes that may carry the largest
# timetag, judged from the history's times (one clock: the clock steps are dup_clock's).
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_master_master 601 30
zk_start
clusters_up bj tj
cluster_use bj && table_up mm 4
cluster_use tj && table_up mm 6
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
  4) cluster_use tj; fault_pause "$(nemesis_pick 3)" 3 ;;
  esac
done
[ "$cut" = 0 ] || fault_clusters_heal bj tj
load_wait a b
wait_for "bj and tj to hold the same records" 120 same_dumps mm
NEMESIS_SAME_CLOCK=1 NEMESIS_CLUSTERS="bj tj" check_all mm a b
itest_pass
