#!/usr/bin/env bash
# kill -9 and an immediate restart (well inside the meta's grace period), server after
# server, under a mixed write load on a table with 3 replicas: every acknowledged write
# survives, the replicas converge, and they still hold everything after one more failover.
# (A primary restarted this way used to be assigned its old ballot again and reuse
# (decree, ballot) pairs its previous incarnation had sent: writes were lost.)
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin restart_in_grace 101 30
zk_start
repl_cluster_up 2 3 rs 8
load_start rs w --threads 4
bulk_start rs "$NEMESIS_SEED"
nemesis_start_clock
while nemesis_running; do
  nemesis_sleep 2 4
  fault_kill9 "$(nemesis_pick 3)" 0
done
load_wait w
bulk_verify rs "$NEMESIS_SEED"
check_all rs w
bulk_verify rs "$NEMESIS_SEED"
itest_pass
