#!/usr/bin/env bash
# Processes paused past their lease, links between replica servers cut one way or both (a
# secondary that is alive to the meta but never acknowledges must be removed so writes go
# on), and the meta leader killed, at random under a mixed load with online read checks
# (a deposed primary must never serve a stale read): every acknowledged write survives,
# and the replicas converge once the faults heal.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin pause_and_partition 301 30
zk_start
cluster_config c1 "$(meta_list 2)"
repl_fast_settings
cluster_set replication.secondary_ack_timeout_ms=4000
for i in 1 2; do meta_start "$i"; done
wait_for "a meta leader" 30 meta_leader
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60
table_up pp 6
load_start pp w --threads 6
nemesis_start_clock
while nemesis_running; do
  nemesis_sleep 1 3
  a=$(nemesis_pick 3) b=$(( $(nemesis_pick 2) % 3 + 1 ))
  [ "$b" != "$a" ] || b=$(( a % 3 + 1 ))
  case $(nemesis_pick 4) in
  1) fault_pause "$a" 3 ;;
  2) fault_link_cut "$(replica_host "$a")" "$(replica_host "$b")" one
     nemesis_sleep 3 7
     fault_link_heal "$(replica_host "$a")" "$(replica_host "$b")" one ;;
  3) fault_link_cut "$(replica_host "$a")" "$(replica_host "$b")" both
     nemesis_sleep 3 7
     fault_link_heal "$(replica_host "$a")" "$(replica_host "$b")" both ;;
  4) fault_meta_leader_kill ;;
  esac
done
load_wait w
check_all pp w
itest_pass
