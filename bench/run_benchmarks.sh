#!/usr/bin/env bash
# bench/run_benchmarks.sh — geokv against db_bench (Debian rocksdb-tools), the storage ceiling.
#
#   bash bench/run_benchmarks.sh                 # full run: 5 trials x 5 s per measurement
#   TRIALS=1 SECONDS=2 bash bench/run_benchmarks.sh   # quick run
#
# Starts its own ZooKeeper, 1 geokv-meta and 1 geokv-replica on free loopback ports in a temp
# dir (tests/integration/lib.sh: real processes, tracked by pid, all stopped by the EXIT trap),
# creates table `bench` with 8 partitions and replica_count 1, and measures with 100-byte
# values and 32 requests in flight (geokv-bench --threads 2 --inflight 16):
#
#   1. replica server with replication.plog_fsync=always:
#      geokv set  vs  db_bench fillrandom --sync=1                  target ratio >= 3
#      geokv set --rate (half the median peak above): p99 latency   target <= 2 ms
#   2. replica server restarted with replication.plog_fsync=never:
#      geokv set  vs  db_bench fillrandom (no sync)                  target ratio >= 0.5
#      geokv get  vs  db_bench readrandom on a filled DB             target ratio >= 0.5
#      replica CPU per set / get vs db_bench's whole process         target <= 2x
#      geokv get  vs  redis-benchmark GET, 32 clients, 100 B         (reported: in memory)
#   3. VmRSS of the replica server (8 partitions) after the runs     target <= 300 MiB
#
# geokv and db_bench trials alternate (who goes first alternates too); medians are reported.
# Server CPU per op is the replica's utime+stime delta (/proc/PID/stat) over the trial's ops;
# for db_bench (storage engine in-process) it is the whole process's CPU from /usr/bin/time.
# db_bench runs with --threads=1 in a temp dir on the same filesystem as the replica's data.
#
# Env: TRIALS (5), SECONDS or TRIAL_SECONDS (5) per trial, BENCH_THREADS (2) and
# BENCH_INFLIGHT (16) for geokv-bench, KEYSPACE (1000000) keys for set runs, GET_KEYS
# (200000) keys filled for the get runs, KEEP=1 keeps the temp dir (logs of every process and
# every command), GEOKV_BIN (build/bin). Exit 0 when the run completed (whether targets were
# met or not: see the PASS/MISS column), 77 if db_bench, redis-server or ZooKeeper is missing,
# 1 on error. With BENCH_REPORT=FILE it also appends its rows for bench/run_all.sh to FILE.
# Not a ctest test: timings on a shared 2-core machine are noisy.

# bash's SECONDS counts up from its value in the environment: read it before any time passes.
_seconds_env=$(printenv SECONDS || true)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRIALS="${TRIALS:-5}"
TRIAL_S="${TRIAL_SECONDS:-${_seconds_env:-5}}"
THREADS="${BENCH_THREADS:-2}"
INFLIGHT="${BENCH_INFLIGHT:-16}"
KEYSPACE="${KEYSPACE:-1000000}"
GET_KEYS="${GET_KEYS:-200000}"
VALUE_SIZE=100
APP=bench
CLK_TCK=$(getconf CLK_TCK)

for v in TRIALS TRIAL_S THREADS INFLIGHT KEYSPACE GET_KEYS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $v must be a positive integer" >&2; exit 2; }
done

# 7 measured series of TRIALS x TRIAL_S plus fills, warm-ups, restarts and cleanup.
export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( TRIALS * TRIAL_S * 7 * 2 + 600 ))}"
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"

command -v db_bench >/dev/null || { echo "db_bench not found (apt-get install rocksdb-tools)" >&2; exit 77; }
for c in redis-server redis-benchmark; do
  command -v "$c" >/dev/null || { echo "$c not found (apt-get install redis-server redis-tools)" >&2; exit 77; }
done
[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }

itest_begin bench
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
DBB_DIR="$ITEST_DIR/dbbench"
mkdir -p "$DBB_DIR"
DBB_COMMANDS=()

# ---------------------------------------------------------------- helpers

# GEOKV OUT ARGS...: runs geokv-bench ARGS against the table; leaves in OUT the file with
# its output and sets G_OPS_S, G_P99, G_CPU (replica CPU-us per op). Fails on errors, on a
# wrong value, or on a run that did nothing.
GEOKV() {
  local out="$1" pid t0 t1 ops errs sys
  shift
  pid=$(replica_pid 1) || fail "replica server is not running"
  say "  \$ geokv-bench -m $META_LIST -a $APP $*"
  t0=$(cpu_ticks "$pid")
  bench -a "$APP" "$@" >"$out" || fail "geokv-bench $* failed: $(cat "$out")"
  t1=$(cpu_ticks "$pid")
  ops=$(metric ops "$out")
  errs=$(metric errors "$out")
  [ "$errs" = 0 ] || fail "geokv-bench $*: $errs errors"
  [ -z "$(metric wrong "$out")" ] || fail "geokv-bench $*: wrong values read"
  [ "$(metric not_found "$out")" = 0 ] || fail "geokv-bench $*: keys not found"
  G_OPS_S=$(metric ops_per_sec "$out")
  G_P99=$(metric lat_p99_us "$out")
  read -r G_CPU sys < <(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$ops" 'BEGIN {
    split(a, x, " "); split(b, y, " "); u = y[1] - x[1]; s = y[2] - x[2]
    printf "%.2f %.0f\n", (u + s) * 1e6 / hz / n, (u + s) ? 100 * s / (u + s) : 0 }')
  say "    ops/s $G_OPS_S  p50 $(metric lat_p50_us "$out") us  p99 $G_P99 us  p999 $(metric lat_p999_us "$out") us  replica CPU $G_CPU us/op (${sys}% sys)"
}

# DBB NAME ARGS...: runs `db_bench ARGS --db=$DBB_DIR` and sets D_OPS_S (from db_bench's own
# result line for benchmark NAME) and D_CPU (process user+sys CPU-us per op).
DBB() {
  local name="$1" out="$ITEST_DIR/state/dbb.out" tm="$ITEST_DIR/state/dbb.time" line ops cpu
  shift
  local cmd=(db_bench "$@" "--db=$DBB_DIR")
  say "  \$ ${cmd[*]}"
  DBB_COMMANDS+=("${cmd[*]}")
  /usr/bin/time -f '%U %S' -o "$tm" "${cmd[@]}" >"$out" 2>>"$ITEST_DIR/logs/db_bench.log" ||
    fail "db_bench failed: $(tail -n 5 "$out")"
  # "fillrandom   :       4.368 micros/op 228935 ops/sec 3.001 seconds 686999 operations; ..."
  line=$(grep -E "^$name +:" "$out" | head -n1) || fail "no '$name' result in db_bench output"
  D_OPS_S=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "ops/sec") print $i }' <<<"$line")
  ops=$(awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "operations;") print $i }' <<<"$line")
  cpu=$(awk '{ print $1 + $2 }' "$tm")
  D_CPU=$(awk -v c="$cpu" -v n="$ops" 'BEGIN { printf "%.2f\n", c * 1e6 / n }')
  say "    ops/s $D_OPS_S  (process CPU $D_CPU us/op)  [$(sed 's/ *(.*//' <<<"${line#*:}" | tr -s ' ')]"
}

# restart_replica FSYNC: restarts replica server 1 with replication.plog_fsync=FSYNC and
# waits until the table takes writes again.
restart_replica() {
  replica_restart 1 --set "replication.plog_fsync=$1"
  wait_for "table $APP writable after restart" 120 \
    bench -a "$APP" --op set --count 1000 --seed 99 --threads 1 --inflight 8 --timeout-ms 2000
  # warm-up, not measured
  bench -a "$APP" --op set --count "$KEYSPACE" --seed 98 --duration 1 --threads "$THREADS" \
    --inflight "$INFLIGHT" >/dev/null
}

# vm NAME: a /proc/<replica>/status field (VmRSS, VmHWM) in KiB.
vm() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$(replica_pid 1)/status"; }

# ---------------------------------------------------------------- cluster

zk_start
cluster_up c1 1 1
admin create "$APP" -p 8 -r 1 >/dev/null || fail "create table $APP"
GB=(--threads "$THREADS" --inflight "$INFLIGHT" --value-size "$VALUE_SIZE")
DB_COMMON=(--value_size="$VALUE_SIZE" --key_size=16 --threads=1)

say "geokv vs db_bench: $TRIALS trials x ${TRIAL_S}s, value ${VALUE_SIZE} B, 1 meta + 1 replica" \
    "server, table of 8 partitions, replica_count 1, $((THREADS * INFLIGHT)) in flight" \
    "(geokv-bench --threads $THREADS --inflight $INFLIGHT); $(nproc) cores; $(db_bench --version 2>&1 | head -n1)"
say "temp dir $ITEST_DIR (KEEP=1 keeps it)"

# ---------------------------------------------------------------- 1. plog_fsync=always

say ""
say "== replica server with replication.plog_fsync=always"
restart_replica always
G_SET_ALWAYS=() G_SET_ALWAYS_CPU=() D_SYNC=() D_SYNC_CPU=()
g_set_always() {
  GEOKV "$ITEST_DIR/state/g.out" --op set --count "$KEYSPACE" --seed 1 --duration "$TRIAL_S" "${GB[@]}"
  G_SET_ALWAYS+=("$G_OPS_S") G_SET_ALWAYS_CPU+=("$G_CPU")
}
d_sync() {
  DBB fillrandom --benchmarks=fillrandom "${DB_COMMON[@]}" --num="$KEYSPACE" \
    --duration="$TRIAL_S" --sync=1
  D_SYNC+=("$D_OPS_S") D_SYNC_CPU+=("$D_CPU")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" g_set_always d_sync
done
PEAK_ALWAYS=$(median "${G_SET_ALWAYS[@]}")
HALF_RATE=$(awk -v p="$PEAK_ALWAYS" 'BEGIN { printf "%d\n", p / 2 }')

say ""
say "== p99 set latency at half the fsync=always peak: --rate $HALF_RATE (open loop)"
G_RATE_P99=() G_RATE_OPS=() G_RATE_CPU=()
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  GEOKV "$ITEST_DIR/state/g.out" --op set --count "$KEYSPACE" --seed 3 --duration "$TRIAL_S" \
    --rate "$HALF_RATE" "${GB[@]}"
  G_RATE_P99+=("$G_P99") G_RATE_OPS+=("$G_OPS_S") G_RATE_CPU+=("$G_CPU")
done
RSS_ALWAYS=$(vm VmRSS) HWM_ALWAYS=$(vm VmHWM)

# ---------------------------------------------------------------- 2. plog_fsync=never

say ""
say "== replica server restarted with replication.plog_fsync=never"
restart_replica never
G_SET_NEVER=() G_SET_NEVER_CPU=() D_NOSYNC=() D_NOSYNC_CPU=()
g_set_never() {
  GEOKV "$ITEST_DIR/state/g.out" --op set --count "$KEYSPACE" --seed 4 --duration "$TRIAL_S" "${GB[@]}"
  G_SET_NEVER+=("$G_OPS_S") G_SET_NEVER_CPU+=("$G_CPU")
}
d_nosync() {
  DBB fillrandom --benchmarks=fillrandom "${DB_COMMON[@]}" --num="$KEYSPACE" \
    --duration="$TRIAL_S"
  D_NOSYNC+=("$D_OPS_S") D_NOSYNC_CPU+=("$D_CPU")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" g_set_never d_nosync
done

say ""
say "== get: fill $GET_KEYS keys in both, then random reads of existing keys"
GEOKV "$ITEST_DIR/state/g.out" --op set --count "$GET_KEYS" --seed 5 "${GB[@]}"
DBB fillseq --benchmarks=fillseq "${DB_COMMON[@]}" --num="$GET_KEYS"
G_GET=() G_GET_CPU=() D_READ=() D_READ_CPU=()
g_get() {
  GEOKV "$ITEST_DIR/state/g.out" --op get --count "$GET_KEYS" --seed 5 --duration "$TRIAL_S" "${GB[@]}"
  G_GET+=("$G_OPS_S") G_GET_CPU+=("$G_CPU")
}
d_read() {
  DBB readrandom --benchmarks=readrandom "${DB_COMMON[@]}" --num="$GET_KEYS" \
    --duration="$TRIAL_S" --use_existing_db=1
  D_READ+=("$D_OPS_S") D_READ_CPU+=("$D_CPU")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" g_get d_read
done
RSS_END=$(vm VmRSS) HWM_END=$(vm VmHWM)

say ""
say "== redis-server (no persistence) with redis-benchmark: the in-memory reference for get"
REDIS_PORT=$(free_port)
mkdir -p "$ITEST_DIR/redis"
geokv_spawn "$ITEST_DIR/pids/redis.pid" "$ITEST_DIR/logs/redis.log" redis-server \
  --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$ITEST_DIR/redis" \
  --daemonize no
_redis_up() { redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }
wait_for "redis-server to answer" 30 _redis_up
# redis-benchmark has no duration: N requests, what geokv's get median does in 2 trials' time.
REDIS_N=$(awk -v g="$(median "${G_GET[@]}")" -v s="$TRIAL_S" 'BEGIN { printf "%d\n", g * s * 2 }')
REDIS_CMD=(redis-benchmark -p "$REDIS_PORT" -c "$((THREADS * INFLIGHT))" -d "$VALUE_SIZE" -r "$GET_KEYS")
"${REDIS_CMD[@]}" -t set -n "$GET_KEYS" -q >/dev/null || fail "redis-benchmark fill"
REDIS_CMD+=(-n "$REDIS_N" --csv)
R_GET=()
for ((t = 1; t <= TRIALS; t++)); do
  say "  \$ ${REDIS_CMD[*]} -t get"
  # "GET","98039.22","0.176",... : the rps column
  R_GET+=("$("${REDIS_CMD[@]}" -t get | awk -F'"' '$2 == "GET" { printf "%.0f\n", $4 }')")
  [ -n "${R_GET[-1]}" ] || fail "redis-benchmark printed no GET result"
  say "    ops/s ${R_GET[-1]}"
done

# ---------------------------------------------------------------- results

# ops_row NAME GEOKV PEER GOAL: geokv ops/s against the peer's, goal ratio >= GOAL.
ops_row() {
  local r
  r=$(ratio "$2" "$3")
  result_row "$1" "$2/s" "$3/s" "$r" ">= $4" "$(verdict_ratio "$2" ">=" "$4" "$3")"
}
# cpu_row NAME GEOKV_CPU PEER_CPU: replica CPU per op against db_bench's, goal <= 2x.
cpu_row() {
  local r
  r=$(ratio "$2" "$3")
  result_row "$1" "$2 us" "$3 us" "$r" "<= 2" "$(verdict_ratio "$2" "<=" 2 "$3")"
}

P99=$(median "${G_RATE_P99[@]}")
RSS_MAX=$(( RSS_ALWAYS > RSS_END ? RSS_ALWAYS : RSS_END ))
SET_NEVER_CPU=$(median "${G_SET_NEVER_CPU[@]}") GET_CPU=$(median "${G_GET_CPU[@]}")
say ""
say "== results: medians of $TRIALS trials x ${TRIAL_S}s ($((THREADS * INFLIGHT)) in flight, ${VALUE_SIZE} B values, rf=1)"
result_header
ops_row "set fsync=always / db_bench fillrandom --sync=1" "$PEAK_ALWAYS" "$(median "${D_SYNC[@]}")" 3
ops_row "set fsync=never / db_bench fillrandom" "$(median "${G_SET_NEVER[@]}")" "$(median "${D_NOSYNC[@]}")" 0.5
ops_row "get / db_bench readrandom" "$(median "${G_GET[@]}")" "$(median "${D_READ[@]}")" 0.5
cpu_row "replica CPU per set fsync=always / db_bench --sync=1's" \
  "$(median "${G_SET_ALWAYS_CPU[@]}")" "$(median "${D_SYNC_CPU[@]}")"
cpu_row "replica CPU per set fsync=never / db_bench's" "$SET_NEVER_CPU" "$(median "${D_NOSYNC_CPU[@]}")"
cpu_row "replica CPU per get / db_bench's" "$GET_CPU" "$(median "${D_READ_CPU[@]}")"
result_row "set p99, rf=1, at half the fsync=always peak ($HALF_RATE/s)" "$(ms "$P99")" "" "" \
  "<= 2 ms" "$(verdict "$P99" "<=" 2000)"
G_GET_MED=$(median "${G_GET[@]}") R_GET_MED=$(median "${R_GET[@]}")
result_row "get / redis-server GET (redis-benchmark, in memory)" "$G_GET_MED/s" "$R_GET_MED/s" \
  "$(ratio "$G_GET_MED" "$R_GET_MED")" "" ""
result_row "replica server VmRSS, 8 partitions" "$(awk -v k="$RSS_MAX" 'BEGIN { printf "%.0f MiB", k / 1024 }')" \
  "" "" "<= 300 MiB" "$(verdict "$RSS_MAX" "<=" $((300 * 1024)))"
say "  set p99 at --rate $HALF_RATE: achieved $(median "${G_RATE_OPS[@]}") ops/s, replica CPU $(median "${G_RATE_CPU[@]}") us/op; p99 of each trial: ${G_RATE_P99[*]} us"
say "  VmRSS $((RSS_ALWAYS / 1024)) MiB after the fsync=always runs, $((RSS_END / 1024)) MiB at the end; VmHWM $((HWM_ALWAYS / 1024)) / $((HWM_END / 1024)) MiB"
say ""
say "per-trial ops/s:"
say "  geokv set fsync=always: ${G_SET_ALWAYS[*]}"
say "  db_bench fillrandom --sync=1: ${D_SYNC[*]}"
say "  geokv set fsync=never: ${G_SET_NEVER[*]}"
say "  db_bench fillrandom: ${D_NOSYNC[*]}"
say "  geokv get: ${G_GET[*]}"
say "  db_bench readrandom: ${D_READ[*]}"
say "  redis-benchmark GET: ${R_GET[*]}"
say ""
say "db_bench command lines (DB dir on the same filesystem as the replica's data):"
printf '%s\n' "${DBB_COMMANDS[@]}" | awk '!seen[$0]++ { print "  " $0 }'
say "geokv CPU-us/op: geokv-replica utime+stime (/proc/PID/stat) / ops; db_bench CPU-us/op:"
say "the whole db_bench process (/usr/bin/time user+sys) / ops."
