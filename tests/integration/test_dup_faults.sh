#!/usr/bin/env bash
# Duplication under faults:
#  - tj's replica servers are down for 30 s while bj writes: with FAIL_SLOW nothing is lost;
#  - the primary of a shipping bj partition is kill -9ed: the new primary resumes from the
#    confirmed decree and tj converges;
#  - with FAIL_SKIP the same outage makes bj skip batches, and it counts them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup_faults
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
dup_clusters_up
for c in tj bj; do
  cluster_use "$c"
  admin create t -p 4 -r 3 >/dev/null || fail "create t on $c"
done
cluster_use bj
admin -a t dup add -c tj >/dev/null || fail "dup add"

# --- FAIL_SLOW: the remote is down for 30 s, nothing is lost
cluster_use tj
for i in 1 2 3; do replica_kill9 "$i"; done
cluster_use bj
bench -a t --op set --count 5000 --seed 1 --value-size 100 >/dev/null || fail "writes on bj"
sleep 30 # the outage itself
cluster_use tj
for i in 1 2 3; do dup_replica_start "$i"; done
wait_nodes 3 60
wait_for "every write to arrive after the outage (FAIL_SLOW)" 120 same_data t
cluster_use bj
[ "$(shipped_ops bj)" -gt 0 ] || fail "no shipping counted"

# --- the shipping primary dies: the new primary resumes from the confirmed decree
bench -a t --op set --count 20000 --seed 3 --value-size 100 --timeout-ms 30000 >/dev/null &
bpid=$!
s0=$(shipped_ops bj)
shipping_moved() { [ "$(shipped_ops bj)" -gt "$s0" ]; }
wait_for "shipping under way" 60 shipping_moved
cluster_use bj
victim=1
replica_kill9 "$victim"
wait "$bpid" || fail "writes on bj across the failover"
dup_replica_start "$victim"
wait_for "tj to converge after the source failover" 180 same_data t
# --- FAIL_SKIP: the same outage skips batches and counts them
id=$(dup_id t)
admin set_dup_fail_mode t "$id" skip >/dev/null || fail "set_dup_fail_mode skip"
admin -a t dup list | grep FAIL_SKIP >/dev/null || fail "dup list does not show FAIL_SKIP"
cluster_use tj
for i in 1 2 3; do replica_kill9 "$i"; done
cluster_use bj
bench -a t --op set --count 2000 --seed 2 --value-size 100 >/dev/null || fail "writes on bj"
skipped() {
  local f total=0 v
  for f in "$ITEST_DIR/state/clusters/bj"/metrics*.port; do
    v=$(curl -fsS "http://127.0.0.1:$(cat "$f")/metrics" | awk '/^geokv_dup_skipped_ops_total/ {print $2}')
    total=$((total + ${v:-0}))
  done
  [ "$total" -gt 0 ]
}
wait_for "skipped batches to be counted (FAIL_SKIP)" 120 skipped
cluster_use tj
for i in 1 2 3; do dup_replica_start "$i"; done
wait_nodes 3 60

itest_pass
