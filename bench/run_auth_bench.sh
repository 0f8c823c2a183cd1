#!/usr/bin/env bash
# bench/run_auth_bench.sh — what authentication costs: the same load against two clusters
# alike in all but [security].
#
#   bash bench/run_auth_bench.sh                   # full run: 5 trials x 5 s per measurement
#   TRIALS=1 SECONDS=2 bash bench/run_auth_bench.sh  # quick run
#
# Starts its own ZooKeeper and two clusters on free loopback ports in a temp dir
# (tests/integration/lib.sh: real processes, tracked by pid, all stopped by the EXIT trap),
# each 1 geokv-meta and 3 geokv-replica servers with replication.plog_fsync=always and a table
# of 8 partitions with 3 replicas: `plain` without keys, `signed` with [security] keys (every
# message signed and checked: between servers, and geokv-bench's too, with -c). 100-byte
# values, 32 requests in flight (geokv-bench --threads 2 --inflight 16). Trials alternate
# between the clusters (who goes first alternates too); medians are reported:
#
#   1. set throughput, signed / plain                                target >= 0.9
#   2. get throughput, signed / plain                                target >= 0.9
#   3. p99 latency of both, at their peaks (for reference)
#
# Env: TRIALS (5), SECONDS or TRIAL_SECONDS (5) per trial, BENCH_THREADS (2), BENCH_INFLIGHT
# (16), KEYSPACE (200000), REPLICA_ARGS (extra geokv-replica arguments, e.g.
# "--set replication.plog_fsync=never" to take the disk out), KEEP=1 keeps the temp dir,
# GEOKV_BIN (build/bin). Exit 0 when the
# run completed (targets met or not: see PASS/MISS), 77 if ZooKeeper is missing, 1 on error.
# With BENCH_REPORT=FILE it also appends its rows for bench/run_all.sh to FILE. Not a ctest test: timings on a shared 2-core machine are noisy.

# bash's SECONDS counts up from its value in the environment: read it before any time passes.
_seconds_env=$(printenv SECONDS || true)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRIALS="${TRIALS:-5}"
TRIAL_S="${TRIAL_SECONDS:-${_seconds_env:-5}}"
THREADS="${BENCH_THREADS:-2}"
INFLIGHT="${BENCH_INFLIGHT:-16}"
KEYSPACE="${KEYSPACE:-200000}"

for v in TRIALS TRIAL_S THREADS INFLIGHT KEYSPACE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $v must be a positive integer" >&2; exit 2; }
done

export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( TRIALS * TRIAL_S * 4 * 2 + 600 ))}"
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"

[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }

itest_begin authbench
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
ST="$ITEST_DIR/state"

zk_start
ITEST_INSECURE=1 cluster_config plain "$(meta_list 1)"
cluster_config signed "$(meta_list 1)"
for c in plain signed; do
  cluster_use "$c"
  meta_start 1
  for i in 1 2 3; do replica_start "$i" ${REPLICA_ARGS:-}; done
  wait_nodes 3 60
  admin create t -p 8 -r 3 >/dev/null || fail "create t on $c"
done

# RUN CLUSTER OP: one trial of geokv-bench OP on CLUSTER; appends ops/s and p99 to
# $ST/CLUSTER.OP.ops and .p99.
RUN() {
  local c="$1" op="$2" out="$ST/run.out" cfg=()
  cluster_use "$c"
  [ "$c" = plain ] || cfg=(-c "$ITEST_DIR/$c/config.ini")
  bench "${cfg[@]}" -a t --op "$op" --count "$KEYSPACE" --value-size 100 --threads "$THREADS" \
    --inflight "$INFLIGHT" --duration "$TRIAL_S" >"$out" || fail "$c $op: $(cat "$out")"
  [ "$(metric errors "$out")" = 0 ] || fail "$c $op: errors: $(cat "$out")"
  metric ops_per_sec "$out" >>"$ST/$c.$op.ops"
  metric lat_p99_us "$out" >>"$ST/$c.$op.p99"
  say "  $c $op: $(metric ops_per_sec "$out") ops/s, p99 $(metric lat_p99_us "$out") us"
}

for op in set get; do
  say "$op: $TRIALS trials of ${TRIAL_S} s per cluster"
  for ((i = 1; i <= TRIALS; i++)); do
    if (( i % 2 )); then RUN plain "$op"; RUN signed "$op"; else RUN signed "$op"; RUN plain "$op"; fi
  done
done

say ""
say "== results: medians of $TRIALS trials x ${TRIAL_S}s (8 partitions, rf=3, 100 B values, $((THREADS * INFLIGHT)) in flight)"
result_header
for op in set get; do
  # shellcheck disable=SC2046
  p=$(median $(cat "$ST/plain.$op.ops")) s=$(median $(cat "$ST/signed.$op.ops"))
  r=$(ratio "$s" "$p")
  result_row "$op ops/s, signed (keys) / the same cluster unsigned" "$s/s" "$p/s" "$r" ">= 0.9" \
    "$(verdict_ratio "$s" ">=" 0.9 "$p")"
  # shellcheck disable=SC2046
  say "  $op p99 us (medians): signed $(median $(cat "$ST/signed.$op.p99")), unsigned $(median $(cat "$ST/plain.$op.p99"))"
done
itest_pass
