#!/usr/bin/env bash
# Helpers shared by the replication tests (sourced after lib.sh).

# Short failure-detection settings so failovers take seconds: lease < grace, fast beacons.
repl_fast_settings() {
  cluster_set replica_server.beacon_interval_ms=200 meta_server.node_grace_ms=3000 \
    meta_server.lease_ms=2000 meta_server.add_secondary_delay_ms=2000 \
    replication.group_check_interval_ms=200 meta_server.balancer_interval_ms=600000
}

# repl_cluster_up NMETAS NREPLICAS APP PARTITIONS: cluster c1 with fast failure detection,
# every server up, and table APP with replica_count 3 fully replicated.
repl_cluster_up() {
  local i
  cluster_config c1 "$(meta_list "$1")"
  repl_fast_settings
  for ((i = 1; i <= $1; i++)); do meta_start "$i"; done
  wait_for "a meta leader" 30 meta_leader
  for ((i = 1; i <= $2; i++)); do replica_start "$i"; done
  wait_nodes "$2" 60
  admin create "$3" -p "$4" -r 3 >/dev/null || fail "create $3 -r 3"
  wait_for "3 replicas in every partition" 60 partitions_have "$3" 3
}

# partitions_have APP N: every partition of APP lists a primary and N-1 secondaries.
partitions_have() {
  local out want=$(($2 - 1))
  out=$(timeout 10 "$GEOKV_BIN/admin-cli" -m "$META_LIST" app "$1" 2>/dev/null) || return 1
  awk -v want="$want" '
    /^[0-9]+ / { n++; sec = ($4 == "-") ? 0 : split($4, a, ",");
                 if ($3 == "-" || $3 == "" || sec != want) bad++ }
    END { exit (n > 0 && bad == 0) ? 0 : 1 }' <<<"$out"
}

# most_primaries: the index of the started replica server holding the most primaries.
most_primaries() {
  local out best=0 besti=0 f i addr n
  out=$("$GEOKV_BIN/admin-cli" -m "$META_LIST" nodes) || return 1
  for f in "$ITEST_DIR/state/clusters/$ITEST_CLUSTER"/replica*.port; do
    i=${f##*/replica}; i=${i%.port}
    addr="$(replica_host "$i"):$(cat "$f")"
    n=$(awk -v a="$addr" '$1 == a {print $3}' <<<"$out")
    if [ "${n:-0}" -gt "$best" ]; then best=$n; besti=$i; fi
  done
  [ "$besti" -gt 0 ] && echo "$besti"
}

# converged APP: admin digest says every replica of every partition agrees.
converged() { "$GEOKV_BIN/admin-cli" -m "$META_LIST" digest "$1" | grep -q "^converged: yes$"; }

# bench_value NAME OUTPUT: the number after "NAME: " in a bench output.
bench_value() { grep -E "^$1: " <<<"$2" | head -n1 | awk '{print $2}'; }

# wait_writable APP [TIMEOUT_S]: repeats 200 probe writes spread over every partition (1 s
# deadline each) until all succeed; prints how long that took (ms).
wait_writable() {
  local t0 deadline
  t0=$(geokv_now_ms)
  deadline=$((t0 + ${2:-60} * 1000))
  until "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$1" --op set --count 200 --seed 999 \
    --value-size 10 --timeout-ms 1000 2>/dev/null | grep -q "^errors: 0$"; do
    [ "$(geokv_now_ms)" -lt "$deadline" ] || fail "$1 not writable after ${2:-60}s"
    sleep 0.1
  done
  echo $(($(geokv_now_ms) - t0))
}
