#!/usr/bin/env bash
# Master-slave duplication bj -> tj under a mixed load on bj (multi_sets naming one sort key
# twice included) while bj's replica servers are killed and restarted, and restarted with
# their wall clock stepped back or forward (libfaketime): tj ends with exactly bj's records,
# and both match the load's history (a write after a backward clock step still wins).
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_clock 501 30
zk_start
for c in bj tj; do cluster_config "$c" "$(meta_list 1)"; done
for c in bj tj; do
  cluster_use "$c"
  repl_fast_settings
  cluster_set replication.dup_sync_interval_ms=200
  meta_start 1
  wait_for "a meta leader in $c" 30 meta_leader
  for i in 1 2 3; do replica_start "$i"; done
  wait_nodes 3 60
  admin create dc -p 4 -r 3 >/dev/null || fail "create dc on $c"
  wait_for "dc fully replicated on $c" 60 partitions_have dc 3
done
cluster_use bj
admin -a dc dup add -c tj >/dev/null || fail "dup add bj -> tj"
load_start dc a --threads 4 --mix set=40,del=10,multi_set=25,incr=10,cas=10,get=5
nemesis_start_clock
offsets=(-10m -30s +1m -2h)
while nemesis_running; do
  nemesis_sleep 2 4
  i=$(nemesis_pick 3)
  case $(nemesis_pick 3) in
  1) fault_kill9 "$i" 0 ;;
  *) fault_clock_restart "$i" "${offsets[$((RANDOM % ${#offsets[@]}))]}" ;;
  esac
done
load_wait a
cluster_use tj
wait_for "tj to hold bj's records" 90 bash -c "diff -q <('$GEOKV_BIN/admin-cli' -m '$(cat "$ITEST_DIR/state/clusters/bj/metas")' dump dc) <('$GEOKV_BIN/admin-cli' -m '$(cat "$ITEST_DIR/state/clusters/tj/metas")' dump dc)"
NEMESIS_CLUSTERS="bj tj" check_all dc a
itest_pass
