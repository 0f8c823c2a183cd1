#!/usr/bin/env bash
# Primaries move under an incr and check_and_set heavy load: servers are killed and come
# back after their grace period (their partitions fail over), and the balancer moves the
# primaries back every second. A primary that steps down fails its waiting writes with
# ERR_UNCERTAIN, which the client does not retry for incr or check_and_set: every counter
# ends between its acknowledged and its attempted increments (an incr retried elsewhere
# after a step-down used to count twice), and nothing acknowledged is lost.
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin primary_moves 201 30
zk_start
cluster_config c1 "$(meta_list 1)"
repl_fast_settings
cluster_set meta_server.balancer_interval_ms=1000
meta_start 1
wait_for "a meta leader" 30 meta_leader
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60
table_up pm 6
load_start pm w --threads 8 --mix set=20,incr=40,cas=30,get=10
nemesis_start_clock
while nemesis_running; do
  nemesis_sleep 2 5
  fault_kill9 "$(nemesis_pick 3)" "$(nemesis_pick 4)"
done
load_wait w
check_all pm w
itest_pass
