#!/usr/bin/env bash
# Full duplication (dup add -p) of a table that already holds data, while a mixed load
# writes on and servers of both clusters are killed and restarted at random (the master's
# primaries fail over, the follower's copying primaries restart and resume): once the
# duplication reaches DS_LOG, tj holds everything bj acknowledged, before and during the
# copy, and both match the load's history.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_full 701 30
zk_start
clusters_up bj tj
cluster_use bj
table_up fl 4
"$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a fl --op set --count 20000 --seed 7 --value-size 200 \
  --threads 2 --inflight 16 --ack-log "$ITEST_DIR/state/before.ack" >/dev/null ||
  fail "the data written before dup add -p"
load_start fl a --threads 4
admin -a fl dup add -c tj -p >/dev/null || fail "dup add -p"
dup_status() { "$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/bj/metas")" -a fl dup list |
  grep -oE '"DS_[A-Z]+"' | head -n1 | tr -d '"'; }
nemesis_start_clock
while nemesis_running; do
  nemesis_sleep 2 4
  if [ "$(nemesis_pick 2)" = 1 ]; then cluster_use bj; else cluster_use tj; fi
  fault_kill9 "$(nemesis_pick 3)" 0
done
load_wait a
in_log() { [ "$(dup_status)" = DS_LOG ]; }
wait_for "the full duplication to reach DS_LOG" 180 in_log
wait_for "tj to hold bj's records" 120 same_dumps fl
out=$("$GEOKV_BIN/geokv-bench" -m "$(cat "$ITEST_DIR/state/clusters/tj/metas")" -a fl --op verify \
  --seed 7 --value-size 200 --ack-log "$ITEST_DIR/state/before.ack" 2>&1) ||
  fail "writes acknowledged before dup add -p are missing on tj: $out"
NEMESIS_CLUSTERS="bj tj" check_all fl a
itest_pass
