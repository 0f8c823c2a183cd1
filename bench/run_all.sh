#!/usr/bin/env bash
# bench/run_all.sh — every benchmark of the project in one go, and one table of the results.
#
#   bash bench/run_all.sh            # full run (about 20 minutes on 2 cores)
#   QUICK=1 bash bench/run_all.sh    # a short run of each (under 3 minutes): does it all work?
#
# Runs, one after the other, each with its peers started in the same script:
#   storage      bench/run_benchmarks.sh         db_bench (RocksDB alone), redis-server
#   replication  bench/run_replication_bench.sh  a 3-member etcd
#   duplication  bench/run_dup_bench.sh          a redis-server master and its replica
#   full copy    bench/run_dup_full_bench.sh     cp -r + sync; once with 1 partition (a copy
#                                                alone), once with 8 (copies at once; not in
#                                                a quick run)
#   authentication bench/run_auth_bench.sh       the same cluster without keys (not in a
#                                                quick run)
#   Redis proxy  bench/run_proxy_bench.sh        redis-server (appendfsync everysec), both
#                                                driven by redis-benchmark
# Inside each script geokv and its peer alternate trial by trial. Every script appends its
# results to one tab-separated file (BENCH_REPORT, see bench/bench_lib.sh); at the end this
# script prints them as one table: measurement, geokv, peer, ratio, goal, PASS/MISS.
#
# A missed goal is a result, not an error: the exit status is 0 when every benchmark ran to
# its end, 1 when one failed or could not start (its log's tail is printed). Each script's
# whole output is kept in OUT_DIR (default: a new dir under /tmp), with the table (table.txt)
# and the rows (report.tsv).
#
# Env: QUICK=1, OUT_DIR, GEOKV_BIN (build/bin). The settings in RUNS below override the
# scripts' own variables of the same names; others pass through.

set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/geokv-bench.XXXXXX)}"
mkdir -p "$OUT_DIR" || exit 1
REPORT="$OUT_DIR/report.tsv"
: >"$REPORT"
QUICK="${QUICK:-0}"

# name | script | settings of a full run | settings of a quick run ("-": not in a quick run)
RUNS=(
  "storage|run_benchmarks.sh|TRIALS=3|TRIALS=1 SECONDS=1 KEYSPACE=100000 GET_KEYS=20000"
  "replication|run_replication_bench.sh|TRIALS=3 RECOVERY_RUNS=3|TRIALS=1 SECONDS=1 RECOVERY_RUNS=1"
  "duplication|run_dup_bench.sh|TRIALS=3 SECONDS=30 COLD_SECONDS=20 WINDOW_S=10 TP_SECONDS=10|TRIALS=1 SECONDS=3 WINDOW_S=1 COLD_SECONDS=3 TP_SECONDS=1"
  "full copy, 1 partition|run_dup_full_bench.sh|PARTITIONS=1 RECORDS=200000 BASE_SECONDS=10|PARTITIONS=1 RECORDS=5000 BASE_SECONDS=1"
  "full copy, 8 partitions|run_dup_full_bench.sh|PARTITIONS=8 RECORDS=400000 BASE_SECONDS=10|-"
  "authentication|run_auth_bench.sh|TRIALS=3|-"
  "Redis proxy|run_proxy_bench.sh|TRIALS=3 REQUESTS=5000|TRIALS=1 REQUESTS=300"
)

echo "geokv benchmarks ($([ "$QUICK" = 1 ] && echo quick || echo full) run), $(nproc) cores;" \
  "logs and the table in $OUT_DIR"
failed=()
i=0
t_all=$(date +%s)
for run in "${RUNS[@]}"; do
  i=$((i + 1))
  IFS='|' read -r name script full quick <<<"$run"
  settings=$full
  [ "$QUICK" = 1 ] && settings=$quick
  [ "$settings" != - ] || continue
  log="$OUT_DIR/$i-${script%.sh}.log"
  printf '[%d/%d] %-24s %s %s ... ' "$i" "${#RUNS[@]}" "$name" "$settings" "$script"
  t0=$(date +%s)
  # shellcheck disable=SC2086 # settings is a list of VAR=VALUE words
  env $settings BENCH_REPORT="$REPORT" bash "$BENCH_DIR/$script" >"$log" 2>&1
  rc=$?
  case $rc in
    0) echo "done in $(($(date +%s) - t0)) s" ;;
    77) echo "could not start: $(tail -n 1 "$log")"; failed+=("$name") ;;
    *) echo "FAILED (exit $rc) after $(($(date +%s) - t0)) s; the end of $log:"
       tail -n 30 "$log" | sed 's/^/    /'
       failed+=("$name") ;;
  esac
done

{
  echo ""
  echo "== geokv benchmarks: results ($(date -u '+%F %H:%M') UTC, $(($(date +%s) - t_all)) s," \
    "$([ "$QUICK" = 1 ] && echo "QUICK=1: single short trials, figures are rough" || echo "medians of the trials"))"
  awk -F'\t' 'BEGIN { f = "%-62s %-17s %-17s %-6s %-11s %s\n"
                      printf f, "measurement", "geokv", "peer", "ratio", "goal", "result" }
    { printf f, $1, $2, $3, $4, $5, $6; n[$6]++ }
    END { printf "\n%d rows: %d PASS, %d MISS, %d FAIL, %d reported without a goal\n", NR,
          n["PASS"], n["MISS"], n["FAIL"], NR - n["PASS"] - n["MISS"] - n["FAIL"] }' "$REPORT"
} | tee "$OUT_DIR/table.txt"

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (logs in $OUT_DIR)"
  exit 1
fi
