#!/usr/bin/env bash
# One replica server keeps its data on a small filesystem that fills up under the load (it
# refuses writes it cannot log, and its full secondaries are removed so writes go on);
# another one's plog fsyncs start failing (fail point), so it stops at once, exit status 3,
# without acknowledging anything the failed fsync covered, and is restarted as a supervisor
# would. Once the disk has room again every acknowledged write is there and the replicas
# converge.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin disk_and_fsync 401 30
zk_start
cluster_config c1 "$(meta_list 1)"
repl_fast_settings
cluster_set replication.secondary_ack_timeout_ms=4000
meta_start 1
wait_for "a meta leader" 30 meta_leader
replica_on_small_fs 3 40
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60
table_up df 4
load_start df w --threads 4
bulk_start df "$NEMESIS_SEED" 1000
nemesis_start_clock
stopped=0
while nemesis_running; do
  nemesis_sleep 3 6
  if replica_running 1; then
    fault_fsync_errors 1 "$(( 199 + $(nemesis_pick 400) ))"
  else
    rc=0
    wait "$(cat "$ITEST_DIR/pids/c1-replica1.pid" 2>/dev/null || echo 0)" 2>/dev/null || rc=$?
    grep -q "FATAL: the plog lost durability" "$ITEST_DIR/logs/c1-replica1.log" ||
      fail "replica 1 stopped without saying why"
    stopped=$((stopped + 1))
    fault_log "replica 1 stopped on a failed fsync; restarting it"
    rm -f "$ITEST_DIR/pids/c1-replica1.pid"
    replica_start 1
  fi
done
fault_log "restart replica 1 without fsync errors"
replica_running 1 && replica_stop 1
rm -f "$ITEST_DIR/pids/c1-replica1.pid"
replica_start 1
itest_log "replica 1 stopped $stopped time(s) on a failed fsync"
[ "$stopped" -ge 1 ] || fail "the injected fsync errors never stopped replica 1"
grep -q "No space left on device" "$ITEST_DIR/logs/c1-replica3.log" ||
  fail "replica 3's disk never filled up"
mount -o remount,size=1024m "$(replica_data_dir 3)" || fail "give replica 3 room"
fault_log "replica 3's disk has room again"
load_wait w
bulk_verify df "$NEMESIS_SEED"
check_all df w
bulk_verify df "$NEMESIS_SEED"
itest_pass
