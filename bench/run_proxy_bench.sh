#!/usr/bin/env bash
# bench/run_proxy_bench.sh — geokv-proxy against redis-server, with redis-benchmark.
#
#   bash bench/run_proxy_bench.sh                    # full run: 3 trials of 5,000 requests
#   TRIALS=1 REQUESTS=500 bash bench/run_proxy_bench.sh   # quick run
#
# Starts its own ZooKeeper and one cluster on free loopback ports in a temp dir
# (tests/integration/lib.sh: real processes, tracked by pid, all stopped by the EXIT trap):
# 1 geokv-meta and 3 geokv-replica servers (replication.plog_fsync=always, no keys, as the
# redis-server has none), tables r1 (8 partitions, replica_count 1) and r3 (8 partitions,
# replica_count 3), a geokv-proxy in front of each, and a redis-server with appendonly yes,
# appendfsync everysec. For each of SET, GET, INCR and MSET (10 keys), trials alternate
# between the three servers (who goes first rotates):
#
#   redis-benchmark -t OP -P 16 -c 50 -d 100 -r 100000 -n REQUESTS --csv
#
#   1. requests/s, geokv-proxy at rf=1 / redis-server                       target >= 0.5
#   2. the same at rf=3                                                     (reported)
#   3. p99 of each (redis-benchmark's), and the proxy's CPU per request (utime + stime of
#      the proxy process over the trial / requests)                         (reported)
#
# Env: TRIALS (3), REQUESTS (5000) per trial and operation, KEEP=1 keeps the temp dir,
# GEOKV_BIN (build/bin). Exit 0 when the run completed (targets met or not: see PASS/MISS),
# 77 if ZooKeeper or redis is missing, 1 on error. With BENCH_REPORT=FILE it also appends
# its rows for bench/run_all.sh to FILE. Not a ctest test.

# shellcheck disable=SC2317 # RUN and run_* are called through trial_rotate
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRIALS="${TRIALS:-3}"
REQUESTS="${REQUESTS:-5000}"
for v in TRIALS REQUESTS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $v must be a positive integer" >&2; exit 2; }
done
OPS=(set get incr mset)

export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( TRIALS * REQUESTS / 10 + 900 ))}"
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"

[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }
for b in redis-server redis-benchmark redis-cli; do
  command -v "$b" >/dev/null || { echo "$b not installed" >&2; exit 77; }
done

itest_begin proxybench
itest_require_bins geokv-meta geokv-replica admin-cli geokv-proxy
ST="$ITEST_DIR/state"
CLK_TCK=$(getconf CLK_TCK)

zk_start
ITEST_INSECURE=1 cluster_up c 1 3
for rf in 1 3; do admin create "r$rf" -p 8 -r "$rf" >/dev/null || fail "create r$rf"; done

declare -A PORT PID
for rf in 1 3; do
  PORT[r$rf]=$(free_port)
  geokv_spawn "$ITEST_DIR/pids/proxy$rf.pid" "$ITEST_DIR/logs/proxy$rf.log" \
    "$GEOKV_BIN/geokv-proxy" -c "$ITEST_DIR/c/config.ini" --set "proxy.app=r$rf" \
    --set "proxy.listen=127.0.0.1:${PORT[r$rf]}"
  PID[r$rf]=$GEOKV_SPAWNED_PID
done
PORT[redis]=$(free_port)
mkdir -p "$ITEST_DIR/redis"
geokv_spawn "$ITEST_DIR/pids/redis.pid" "$ITEST_DIR/logs/redis.log" redis-server \
  --port "${PORT[redis]}" --bind 127.0.0.1 --dir "$ITEST_DIR/redis" --save "" \
  --appendonly yes --appendfsync everysec
PID[redis]=$GEOKV_SPAWNED_PID
for s in r1 r3 redis; do
  wait_for "$s to answer PING" 30 bash -c "redis-cli -p ${PORT[$s]} ping 2>/dev/null | grep -q PONG"
done

# RUN SERVER OP: one trial; appends requests/s, p99 ms and CPU us per request (the proxy's;
# redis-server's own for reference) to $ST/SERVER.OP.{rps,p99,cpu}.
RUN() {
  local s="$1" op="$2" out="$ST/run.csv" u0 s0 u1 s1 line
  read -r u0 s0 < <(cpu_ticks "${PID[$s]}")
  redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" -t "$op" -P 16 -c 50 -d 100 -r 100000 \
    -n "$REQUESTS" --csv >"$out" 2>"$ST/run.err" || fail "redis-benchmark $op on $s: $(cat "$ST/run.err")"
  read -r u1 s1 < <(cpu_ticks "${PID[$s]}")
  # "SET","rps","avg","min","p50","p95","p99","max"
  line=$(grep -i "^\"$op" "$out" | head -n1 | tr -d '"') || fail "no $op line from redis-benchmark: $(cat "$out")"
  IFS=, read -r _ rps _ _ _ _ p99 _ <<<"$line"
  echo "$rps" >>"$ST/$s.$op.rps"
  echo "$p99" >>"$ST/$s.$op.p99"
  awk -v t=$((u1 - u0 + s1 - s0)) -v hz="$CLK_TCK" -v n="$REQUESTS" \
    'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' >>"$ST/$s.$op.cpu"
  say "  $s $op: $rps requests/s, p99 $p99 ms"
}
run_r1() { RUN r1 "$OP"; }
run_r3() { RUN r3 "$OP"; }
run_redis() { RUN redis "$OP"; }

for OP in "${OPS[@]}"; do
  say "$OP: $TRIALS trials of $REQUESTS requests each (-P 16 -c 50 -d 100)"
  for ((i = 1; i <= TRIALS; i++)); do trial_rotate "$i" run_r1 run_r3 run_redis; done
done

say ""
say "== results: medians of $TRIALS trials; geokv plog_fsync=always, redis appendfsync everysec"
result_header
for OP in "${OPS[@]}"; do
  # shellcheck disable=SC2046
  r1=$(median $(cat "$ST/r1.$OP.rps")) r3=$(median $(cat "$ST/r3.$OP.rps"))
  # shellcheck disable=SC2046
  rd=$(median $(cat "$ST/redis.$OP.rps"))
  result_row "$OP requests/s, geokv-proxy rf=1 / redis-server" "$r1/s" "$rd/s" "$(ratio "$r1" "$rd")" \
    ">= 0.5" "$(verdict_ratio "$r1" ">=" 0.5 "$rd")"
  result_row "$OP requests/s, geokv-proxy rf=3 / redis-server" "$r3/s" "$rd/s" "$(ratio "$r3" "$rd")" "" ""
  # shellcheck disable=SC2046
  result_row "  $OP p99, rf=1 / rf=3 / redis-server" \
    "$(median $(cat "$ST/r1.$OP.p99")) / $(median $(cat "$ST/r3.$OP.p99")) ms" \
    "$(median $(cat "$ST/redis.$OP.p99")) ms" "" "" ""
  # shellcheck disable=SC2046
  result_row "  $OP CPU per request: proxy rf=1 / rf=3 (redis-server)" \
    "$(median $(cat "$ST/r1.$OP.cpu")) / $(median $(cat "$ST/r3.$OP.cpu")) us" \
    "$(median $(cat "$ST/redis.$OP.cpu")) us" "" "" ""
done
itest_pass
