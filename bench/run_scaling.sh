#!/usr/bin/env bash
# bench/run_scaling.sh — how throughput and latency change with the shape of the load, as
# PNG plots (gnuplot) and the data behind them.
#
#   bash bench/run_scaling.sh                  # full run (the 20M-record fill takes long)
#   QUICK=1 bash bench/run_scaling.sh          # short sweeps with small tables
#
# Starts its own ZooKeeper and a cluster of 1 geokv-meta and 1 geokv-replica on free
# loopback ports (tests/integration/lib.sh: real processes, tracked by pid, all stopped by the
# EXIT trap), plog_fsync=always, replica_count 1, and sweeps closed-loop `geokv-bench --op
# set` (32 in flight and 100-byte values unless the sweep varies them):
#
#   partitions.png  ops/s and p99 against the partitions of the table (1 .. 64 on the server)
#   value_size.png  against the value size (100 B .. 64 KiB; also MB/s)
#   clients.png     against the requests in flight (1 .. 256)
#   table_size.png  set and get ops/s and p99 against the records in the table (1M .. 20M,
#                   filled step by step; get reads the first step's records, which the
#                   growing table pushes down RocksDB's levels)
#   dup_lag.png     then, on two clusters of 1 meta + 3 replica servers (bj -> tj, tables of
#                   8 partitions, replica_count 3): the duplication visibility lag p50 and
#                   p99 against the write rate (geokv-bench --op lag, 1 KB values)
#
# Each point is one run of SECONDS; the figures are single runs on a shared machine: read the
# shape, not the digits. The data (one .dat file per plot: x, then the measured columns) and
# the plots go to OUT_DIR (default: a new dir under /tmp).
#
# Env: QUICK=1, SECONDS (5; QUICK 2), PARTITIONS_LIST, VALUE_SIZES, CLIENTS, SIZES (records),
# RATES (writes/s), OUT_DIR, KEEP=1 keeps the servers' temp dir, GEOKV_BIN (build/bin).
# Exit 0 when every point was measured, 77 if ZooKeeper or gnuplot is missing, 1 on error.

_seconds_env=$(printenv SECONDS || true)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QUICK="${QUICK:-0}"
if [ "$QUICK" = 1 ]; then
  TRIAL_S="${_seconds_env:-2}"
  PARTITIONS_LIST="${PARTITIONS_LIST:-1 4 16 64}"
  VALUE_SIZES="${VALUE_SIZES:-100 4096 65536}"
  CLIENTS="${CLIENTS:-1 8 64 256}"
  SIZES="${SIZES:-20000 50000 100000}"
  RATES="${RATES:-250 1000 2000}"
else
  TRIAL_S="${_seconds_env:-5}"
  PARTITIONS_LIST="${PARTITIONS_LIST:-1 2 4 8 16 32 64}"
  VALUE_SIZES="${VALUE_SIZES:-100 1024 4096 16384 65536}"
  CLIENTS="${CLIENTS:-1 2 4 8 16 32 64 128 256}"
  SIZES="${SIZES:-1000000 2000000 5000000 10000000 20000000}"
  RATES="${RATES:-250 500 1000 2000 4000}"
fi
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/geokv-scaling.XXXXXX)}"
KEYSPACE=100000

[[ "$TRIAL_S" =~ ^[1-9][0-9]*$ ]] || { echo "error: SECONDS must be a positive integer" >&2; exit 2; }
for list in "$PARTITIONS_LIST" "$VALUE_SIZES" "$CLIENTS" "$SIZES" "$RATES"; do
  [[ "$list" =~ ^[1-9][0-9]*( [1-9][0-9]*)*$ ]] ||
    { echo "error: '$list' is not a list of positive integers" >&2; exit 2; }
done
LAST_SIZE=${SIZES##* }
# the fill at >= 2000 writes/s, every sweep point, setup and cleanup
export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( LAST_SIZE / 2000 + 100 * TRIAL_S + 900 ))}"
export BENCH_TIMEOUT_S=$(( LAST_SIZE / 2000 + 300 ))
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"
# shellcheck source=tests/integration/dup_lib.sh
. "$BENCH_DIR/../tests/integration/dup_lib.sh"
# shellcheck source=tests/integration/repl_lib.sh
. "$BENCH_DIR/../tests/integration/repl_lib.sh"

[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }
command -v gnuplot >/dev/null || { echo "gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 77; }

itest_begin scaling
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
mkdir -p "$OUT_DIR"
ST="$ITEST_DIR/state"

# point DAT X APP ARGS...: one geokv-bench run against APP; appends "X ops/s p99_ms" to DAT.
point() {
  local dat="$1" x="$2" app="$3" out="$ST/point.out"
  shift 3
  bench -a "$app" "$@" >"$out" || fail "geokv-bench -a $app $* failed: $(cat "$out")"
  [ "$(metric errors "$out")" = 0 ] || fail "geokv-bench -a $app $*: $(metric errors "$out") errors"
  [ "$(metric ops "$out")" -gt 0 ] || fail "geokv-bench -a $app $*: no operations"
  [ "$(metric not_found "$out")" = 0 ] || fail "geokv-bench -a $app $*: keys not found"
  printf '%s %s %s\n' "$x" "$(metric ops_per_sec "$out")" \
    "$(awk -v us="$(metric lat_p99_us "$out")" 'BEGIN { printf "%.2f", us / 1000 }')" >>"$dat"
  say "  $x: $(metric ops_per_sec "$out") ops/s, p99 $(metric lat_p99_us "$out") us   (geokv-bench -a $app $*)"
}

# table NAME PARTITIONS: creates a replica_count 1 table and waits for its primaries.
table() {
  admin create "$1" -p "$2" -r 1 >/dev/null || fail "create $1"
  wait_for "every partition of $1 to have its primary" 60 partitions_have "$1" 1
}

# plot NAME TITLE XLABEL Y1LABEL Y2LABEL LOGX PLOT_COMMANDS: NAME.png from NAME.dat.
plot() {
  local name="$1" title="$2" xl="$3" y1="$4" y2="$5" logx="$6" cmds="$7"
  gnuplot <<EOF || fail "gnuplot $name"
set terminal png size 900,540
set output "$OUT_DIR/$name.png"
set title "$title"
set xlabel "$xl"
set ylabel "$y1"
set y2label "$y2"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set grid
set key outside bottom center horizontal
$( [ "$logx" = 1 ] && echo "set logscale x 2" )
plot $cmds
EOF
  say "  wrote $OUT_DIR/$name.png"
}

GB=(--op set --count "$KEYSPACE" --duration "$TRIAL_S")

# ---------------------------------------------------------------- one server, rf=1

zk_start
cluster_config sc "$(meta_list 1)" 3 # bj and tj (below) are 1 and 2
cluster_set replication.plog_fsync=always meta_server.balancer_interval_ms=600000
meta_start 1
wait_for "a meta leader" 30 meta_leader
replica_start 1
wait_nodes 1 60
say "geokv scaling: 1 meta + 1 replica server, replica_count 1, plog_fsync=always, ${TRIAL_S}s per point; $(nproc) cores"
say "data and plots in $OUT_DIR; servers' temp dir $ITEST_DIR (KEEP=1 keeps it)"

say ""
say "== partitions of the table"
: >"$OUT_DIR/partitions.dat"
for n in $PARTITIONS_LIST; do
  table "p$n" "$n"
  point "$OUT_DIR/partitions.dat" "$n" "p$n" "${GB[@]}" --threads 2 --inflight 16
  admin drop "p$n" >/dev/null || fail "drop p$n"
done
plot partitions "set, 32 in flight, 100 B values, rf=1, fsync=always" "partitions" "ops/s" \
  "p99 ms" 1 "'$OUT_DIR/partitions.dat' using 1:2 with linespoints title 'ops/s' axes x1y1, '' using 1:3 with linespoints title 'p99 ms' axes x1y2"

table v 8
say ""
say "== value size"
: >"$OUT_DIR/value_size.dat"
for b in $VALUE_SIZES; do
  point "$OUT_DIR/value_size.dat" "$b" v "${GB[@]}" --threads 2 --inflight 16 --value-size "$b"
done
awk '{ printf "%s %s %s %.2f\n", $1, $2, $3, $1 * $2 / 1e6 }' "$OUT_DIR/value_size.dat" >"$ST/vs" &&
  mv "$ST/vs" "$OUT_DIR/value_size.dat"
plot value_size "set, 32 in flight, 8 partitions, rf=1, fsync=always" "value bytes" \
  "ops/s and MB/s x 100" "p99 ms" 1 "'$OUT_DIR/value_size.dat' using 1:2 with linespoints title 'ops/s' axes x1y1, '' using 1:(\$4 * 100) with linespoints title 'MB/s x 100' axes x1y1, '' using 1:3 with linespoints title 'p99 ms' axes x1y2"

say ""
say "== requests in flight"
: >"$OUT_DIR/clients.dat"
for c in $CLIENTS; do
  t=$(( c >= 2 ? 2 : 1 ))
  point "$OUT_DIR/clients.dat" "$c" v "${GB[@]}" --threads "$t" --inflight $(( c / t ))
done
plot clients "set, 8 partitions, 100 B values, rf=1, fsync=always" "requests in flight" "ops/s" \
  "p99 ms" 1 "'$OUT_DIR/clients.dat' using 1:2 with linespoints title 'ops/s' axes x1y1, '' using 1:3 with linespoints title 'p99 ms' axes x1y2"
admin drop v >/dev/null || fail "drop v"

say ""
say "== records in the table"
table t 8
: >"$OUT_DIR/table_size.dat"
filled=0 step=0 first=0
for n in $SIZES; do
  step=$((step + 1))
  [ "$first" -gt 0 ] || first=$n
  say "  filling to $n records (+$((n - filled)), geokv-bench --seed $step)"
  bench -a t --op set --count $((n - filled)) --seed "$step" --threads 2 --inflight 32 \
    >"$ST/fill.out" || fail "fill to $n: $(cat "$ST/fill.out")"
  [ "$(metric errors "$ST/fill.out")" = 0 ] || fail "fill to $n: errors"
  filled=$n
  # sets rewrite the first step's records, so the table keeps n records
  point "$ST/set.dat" "$n" t --op set --count "$first" --seed 1 --duration "$TRIAL_S" \
    --threads 2 --inflight 16
  point "$ST/get.dat" "$n" t --op get --count "$first" --seed 1 --duration "$TRIAL_S" \
    --threads 2 --inflight 16
done
# x, set ops/s, set p99, get ops/s, get p99 (both files have the sizes in the same order)
paste -d' ' "$ST/set.dat" <(cut -d' ' -f2- "$ST/get.dat") >"$OUT_DIR/table_size.dat"
plot table_size "8 partitions, 32 in flight, 100 B values, rf=1, fsync=always" "records" "ops/s" \
  "p99 ms" 1 "'$OUT_DIR/table_size.dat' using 1:2 with linespoints title 'set ops/s' axes x1y1, '' using 1:4 with linespoints title 'get ops/s' axes x1y1, '' using 1:3 with linespoints title 'set p99 ms' axes x1y2, '' using 1:5 with linespoints title 'get p99 ms' axes x1y2"
replica_stop 1
meta_stop 1

# ---------------------------------------------------------------- duplication lag

say ""
say "== duplication lag against the write rate (bj -> tj, 1 KB values, rf=3)"
dup_clusters_up
for c in tj bj; do
  cluster_use "$c"
  admin create lag -p 8 -r 3 >/dev/null || fail "create lag on $c"
  wait_for "3 replicas in every partition of $c.lag" 60 partitions_have lag 3
done
out=$(admin -a lag dup add -c tj) || fail "dup add: $out"
TJ_METAS=$(cat "$ST/clusters/tj/metas")
bench -a lag -r "$TJ_METAS" --op lag --rate 500 --duration 2 --value-size 1024 >/dev/null ||
  fail "warm-up lag run" # first shipments, connections
: >"$OUT_DIR/dup_lag.dat"
for rate in $RATES; do
  bench -a lag -r "$TJ_METAS" --op lag --rate "$rate" --duration "$TRIAL_S" --value-size 1024 \
    --inflight 32 >"$ST/lag.out" || fail "lag run at $rate/s: $(cat "$ST/lag.out")"
  [ "$(metric write_errors "$ST/lag.out")" = 0 ] || fail "lag run at $rate/s: write errors"
  printf '%s %s %s %s\n' "$rate" "$(metric lag_p50_ms "$ST/lag.out")" \
    "$(metric lag_p99_ms "$ST/lag.out")" "$(metric write_ops_per_sec "$ST/lag.out")" >>"$OUT_DIR/dup_lag.dat"
  say "  $rate/s: lag p50 $(metric lag_p50_ms "$ST/lag.out") ms, p99 $(metric lag_p99_ms "$ST/lag.out") ms (reached $(metric write_ops_per_sec "$ST/lag.out")/s)"
done
plot dup_lag "duplication visibility lag, bj -> tj, 1 KB values, 8 partitions, rf=3" \
  "writes/s asked" "lag ms" "writes/s reached" 0 "'$OUT_DIR/dup_lag.dat' using 1:2 with linespoints title 'lag p50 ms' axes x1y1, '' using 1:3 with linespoints title 'lag p99 ms' axes x1y1, '' using 1:4 with linespoints title 'writes/s reached' axes x1y2"

say ""
say "done: plots and data in $OUT_DIR"
ls "$OUT_DIR"
