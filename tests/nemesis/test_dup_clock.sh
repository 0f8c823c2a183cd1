#!/usr/bin/env bash
# Master-slave duplication bj -> tj under a mixed load on bj (multi_sets naming one sort key
# twice included) while bj's replica servers are killed and restarted, and restarted with
# their wall clock stepped back or forward (libfaketime): tj ends with exactly bj's records,
# and both match the load's history (a write after a backward clock step still wins).
. "$(dirname "$0")/nemesis_lib.sh"
nemesis_begin dup_clock 501 30
zk_start
clusters_up bj tj
for c in bj tj; do cluster_use "$c" && table_up dc 4; done
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
  *) fault_clock_restart "$i" "${offsets[$(( $(nemesis_pick ${#offsets[@]}) - 1 ))]}" ;;
  esac
done
load_wait a
wait_for "tj to hold bj's records" 90 same_dumps dc
NEMESIS_CLUSTERS="bj tj" check_all dc a
itest_pass
