#!/usr/bin/env bash
# Watching geokv: every /metrics page (metas and replica servers of two clusters duplicating
# bj -> tj) passes `promtool check metrics`; the alert rules pass `promtool check rules` and
# their unit tests; every metric the rules and the Grafana dashboard use exists on a real
# server; and the gauges the alerts watch follow what happens: duplication paused -> pending
# writes and lag rise, resumed -> back to 0; a replica server stopped -> the meta leader
# counts it dead and its partitions degraded.
# shellcheck disable=SC2317 # the helpers below run through wait_for
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin metrics
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
command -v promtool >/dev/null || fail "promtool missing (deploy/install-deps.sh installs prometheus)"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RULES="$ROOT/deploy/prometheus/geokv-alerts.yml"
DASHBOARD="$ROOT/deploy/grafana/geokv-dashboard.json"
ST="$ITEST_DIR/state"

promtool check rules "$RULES" >"$ST/rules.out" 2>&1 || fail "promtool check rules: $(cat "$ST/rules.out")"
(cd "$ROOT/deploy/prometheus" && promtool test rules geokv-alerts.test.yml) >"$ST/rtest.out" 2>&1 ||
  fail "promtool test rules: $(cat "$ST/rtest.out")"
promtool check config "$ROOT/deploy/prometheus/prometheus.example.yml" >"$ST/config.out" 2>&1 ||
  fail "promtool check config: $(cat "$ST/config.out")"

# meta_metrics_start I: starts meta I of the current cluster with /metrics on a free port.
meta_metrics_start() {
  local f="$ST/clusters/$ITEST_CLUSTER/meta_metrics$1.port"
  [ -f "$f" ] || free_port >"$f"
  meta_start "$1" --set "core.metrics_address=127.0.0.1:$(cat "$f")"
}

# sum_metric CLUSTER KIND NAME: the sum of NAME's samples over CLUSTER's replica servers
# (KIND metrics) or metas (KIND meta_metrics).
sum_metric() {
  local f total=0 v
  for f in "$ST/clusters/$1/$2"*.port; do
    v=$(curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$f")/metrics" |
      awk -v n="$3" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s }') || return 1
    total=$((total + v))
  done
  echo "$total"
}
max_metric() {
  local f max=0 v
  for f in "$ST/clusters/$1/$2"*.port; do
    v=$(curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$f")/metrics" |
      awk -v n="$3" '$1 == n { printf "%d", $2 }') || return 1
    [ "${v:-0}" -le "$max" ] || max=$v
  done
  echo "$max"
}
metric_is() { test "$(sum_metric "$1" "$2" "$3")" "$4" "$5"; }
max_is() { test "$(max_metric "$1" "$2" "$3")" "$4" "$5"; }

# paused_primaries: bj's 4 primaries logged the pause (they learn of it from a dup sync).
paused_primaries() { [ "$(cat "$ITEST_DIR"/logs/bj-replica*.log | grep -c 'DS_LOG -> DS_PAUSE')" -eq 4 ]; }

zk_start
cluster_config bj "$(meta_list 2)" 1
cluster_config tj "$(meta_list 1)" 2
for c in bj tj; do
  cluster_use "$c"
  cluster_set replica_server.beacon_interval_ms=200 replication.dup_sync_interval_ms=200 \
    replication.group_check_interval_ms=200
  meta_metrics_start 1
  [ "$c" = tj ] || meta_metrics_start 2
  wait_for "a meta leader in $c" 30 meta_leader
  for i in 1 2 3; do dup_replica_start "$i"; done
  wait_nodes 3 60
  admin create t -p 4 -r 3 >/dev/null || fail "create t on $c"
done
cluster_use bj
admin -a t dup add -c tj >/dev/null || fail "dup add bj -> tj"
dupid=$(dup_id t)
bench -a t --op set --count 2000 --seed 1 --value-size 100 >/dev/null || fail "writes on bj"
wait_for "bj and tj to converge" 120 same_data t

# endpoints: every meta and replica server of both clusters
endpoints=()
for f in "$ST"/clusters/*/metrics*.port "$ST"/clusters/*/meta_metrics*.port; do
  endpoints+=("127.0.0.1:$(cat "$f")")
done
[ "${#endpoints[@]}" -eq 9 ] || fail "expected 9 /metrics endpoints, found ${#endpoints[@]}"
: >"$ST/names"
for e in "${endpoints[@]}"; do
  curl -fsS --max-time 5 "http://$e/metrics" >"$ST/page" || fail "GET http://$e/metrics"
  out=$(promtool check metrics <"$ST/page" 2>&1) || fail "promtool check metrics on $e: $out"
  [ -z "$out" ] || fail "promtool check metrics on $e complains: $out"
  grep -oE '^geokv_[a-z_]+' "$ST/page" >>"$ST/names"
done
sort -u -o "$ST/names" "$ST/names"
itest_log "$(wc -l <"$ST/names") metric names on ${#endpoints[@]} endpoints, all pass promtool"

# every metric the rules and the dashboard query is served
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("\n".join(t["expr"] for p in d["panels"] for t in p.get("targets", [])))' \
  "$DASHBOARD" >"$ST/dash_exprs" || fail "the dashboard is not valid JSON"
[ "$(wc -l <"$ST/dash_exprs")" -ge 15 ] || fail "the dashboard has $(wc -l <"$ST/dash_exprs") queries"
grep -ohE 'geokv_[a-z_]+' "$RULES" "$ST/dash_exprs" | sort -u >"$ST/used"
while read -r n; do
  grep -qxF "$n" "$ST/names" || fail "$n (used by the alert rules or the dashboard) is on no /metrics page"
done <"$ST/used"
[ "$(wc -l <"$ST/used")" -ge 15 ] || fail "only $(wc -l <"$ST/used") metrics used by the rules and the dashboard"

# the meta leader's view; exactly one meta of bj leads
[ "$(sum_metric bj meta_metrics geokv_meta_leader)" = 1 ] || fail "bj's metas: geokv_meta_leader sums to $(sum_metric bj meta_metrics geokv_meta_leader)"
wait_for "bj's leader to count 4 healthy partitions of t" 30 metric_is bj meta_metrics \
  'geokv_meta_partitions{app_id="1",app="t",health="healthy"}' -eq 4
[ "$(sum_metric bj meta_metrics 'geokv_meta_replica_servers{state="alive"}')" = 3 ] || fail "bj's leader does not count 3 alive replica servers"
[ "$(sum_metric bj metrics 'geokv_replica_partitions{role="primary"}')" = 4 ] || fail "bj's servers do not hold 4 primaries"
[ "$(sum_metric bj metrics geokv_replica_plog_bytes)" -gt 0 ] || fail "no plog bytes counted on bj"
[ "$(sum_metric bj metrics geokv_replica_data_dir_available_bytes)" -gt 0 ] || fail "no free space measured"
[ "$(sum_metric bj metrics geokv_dup_shipped_ops_total)" -ge 2000 ] || fail "fewer than 2000 entries shipped"
[ "$(sum_metric tj metrics geokv_dup_arrival_lag_seconds_count)" -ge 2000 ] || fail "tj timed fewer than 2000 arrivals"

# duplication paused: the backlog and its age show; resumed: both go back to 0
admin -a t dup pause -d "$dupid" >/dev/null || fail "dup pause"
wait_for "bj's 4 primaries to pause" 30 paused_primaries
bench -a t --op set --count 500 --seed 2 --value-size 100 >/dev/null || fail "writes while paused"
wait_for "pending writes on bj while paused" 30 metric_is bj metrics geokv_dup_pending_mutations -ge 500
wait_for "the lag to reach 3 s while paused" 30 max_is bj metrics geokv_dup_lag_seconds -ge 3
itest_log "paused: pending $(sum_metric bj metrics geokv_dup_pending_mutations), lag $(max_metric bj metrics geokv_dup_lag_seconds) s"
admin -a t dup start -d "$dupid" >/dev/null || fail "dup start"
wait_for "pending back to 0" 60 metric_is bj metrics geokv_dup_pending_mutations -eq 0
wait_for "lag back to 0" 30 max_is bj metrics geokv_dup_lag_seconds -eq 0
wait_for "bj and tj to converge after the pause" 120 same_data t

# a replica server stops: the leader counts it dead and the partitions it held degraded
replica_stop 3
wait_for "bj's leader to count a dead replica server" 60 metric_is bj meta_metrics \
  'geokv_meta_replica_servers{state="dead"}' -eq 1
wait_for "degraded partitions of t" 30 metric_is bj meta_metrics \
  'geokv_meta_partitions{app_id="1",app="t",health="degraded"}' -gt 0
[ "$(sum_metric bj meta_metrics 'geokv_meta_partitions{app_id="1",app="t",health="unwritable"}')" = 0 ] ||
  fail "partitions unwritable with 2 of 3 servers up"
itest_pass
