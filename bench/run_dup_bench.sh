#!/usr/bin/env bash
# bench/run_dup_bench.sh — the duplication benchmark.
#
#   bash bench/run_dup_bench.sh                          # full run: 5 trials, 60 s lag runs
#   TRIALS=1 SECONDS=20 TP_SECONDS=3 bash bench/run_dup_bench.sh   # quick check (~3 min)
#
# Starts its own ZooKeeper and two clusters, bj (cluster_id 1) and tj (cluster_id 2), each
# with 1 geokv-meta and 3 geokv-replica servers on free loopback ports in a temp dir
# (tests/integration/lib.sh + dup_lib.sh: real processes, tracked by pid, all stopped by the
# EXIT trap), plus a redis-server master and a `redis-server --replicaof` replica (--save ""
# --appendonly no), also on free loopback ports and stopped by pid. Every geokv table has 8
# partitions and replica_count 3, replication.plog_fsync=always (the default).
#
#   1. visibility lag, geokv: table `lag` on bj duplicated to `lag` on tj (dup add -c tj);
#      geokv-bench --op lag --rate RATE --duration SECONDS --value-size VALUE_SIZE
#      --report-interval WINDOW_S: p50/p99/max from the ack on bj to the first read on tj
#      that returns the value                                   target p99 <= 100 ms
#      lag not growing: per trial, p99 of the first and of the last WINDOW_S window of the
#      write schedule; target: median(last) <= 1.5 x median(first) + 10 ms (our rule)
#      the source keeps the rate: write_ops_per_sec >= 0.95 x RATE (lag counts from the ack,
#      so a source falling behind its schedule would not show in the lag)
#   2. the same for redis: a small python3 RESP client (embedded below) writes the same
#      rate and value size to the master and polls the replica with geokv-bench's poll
#      rule; reported: geokv p99 / redis p99                       (no target: a ratio)
#      geokv and redis trials alternate, and who goes first alternates between trials.
#   3. lag at a low rate, warm and cold: geokv at LOW_RATE writes/s (500) on `lag`, SECONDS
#      per run                                                  target p99 <= 50 ms
#      and on a new table `coldN` (created on both clusters, then `dup add -c tj`) from the
#      moment `dup add` returns, for COLD_SECONDS (20): what a new duplication looks like
#      while the replica servers learn about it          target p99 <= 2 x the warm p99
#      Warm and cold runs alternate.
#   4. source write throughput with duplication on vs off: tables `tp_on` (duplicated to tj)
#      and `tp_off` (not duplicated), same config, closed loop `geokv-bench --op set
#      --duration TP_SECONDS`, 32 in flight (--threads 2 --inflight 16), TP_VALUE_SIZE-byte
#      values (1 KB by default), alternating; medians and tp_on / tp_off   target >= 0.8
#      After each tp_on trial the script waits until bj reports no pending duplication
#      (geokv_dup_pending_mutations = 0 on every bj replica server) before the next trial,
#      and reports how long that took.
#
# Server CPU per op: utime+stime deltas (/proc/PID/stat) of bj's and tj's replica servers
# (and of the two redis-servers), over the run's writes.
#
# Env: TRIALS (5), SECONDS or LAG_SECONDS (60) per lag run, RATE (2000), LOW_RATE (500),
# COLD_SECONDS (20), VALUE_SIZE (1024),
# WINDOW_S (10), POLL_MS (5), TP_SECONDS (10) per throughput trial, TP_VALUE_SIZE (1024),
# BENCH_THREADS (2), BENCH_INFLIGHT (16), KEYSPACE (200000, throughput runs), KEEP=1 keeps
# the temp dir (logs of every process and command), GEOKV_BIN (build/bin).
# Exit 0 when the run completed (targets met or not: see PASS/MISS), 77 if ZooKeeper,
# redis-server, python3 or curl is missing, 1 on error. With BENCH_REPORT=FILE it also
# appends its rows for bench/run_all.sh to FILE. Not a ctest test.

# bash's SECONDS counts up from its value in the environment: read it before any time passes.
_seconds_env=$(printenv SECONDS || true)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRIALS="${TRIALS:-5}"
LAG_S="${LAG_SECONDS:-${_seconds_env:-60}}"
RATE="${RATE:-2000}"
LOW_RATE="${LOW_RATE:-500}"
COLD_S="${COLD_SECONDS:-20}"
VALUE_SIZE="${VALUE_SIZE:-1024}"
WINDOW_S="${WINDOW_S:-10}"
POLL_MS="${POLL_MS:-5}"
TP_S="${TP_SECONDS:-10}"
TP_VALUE_SIZE="${TP_VALUE_SIZE:-1024}"
THREADS="${BENCH_THREADS:-2}"
INFLIGHT="${BENCH_INFLIGHT:-16}"
KEYSPACE="${KEYSPACE:-200000}"
LAG_INFLIGHT=32
PARTITIONS=8
P99_TARGET_MS=100
LOW_P99_TARGET_MS=50
COLD_TARGET=2
TP_TARGET=0.8
CLK_TCK=$(getconf CLK_TCK)

for v in TRIALS LAG_S RATE LOW_RATE COLD_S VALUE_SIZE WINDOW_S POLL_MS TP_S TP_VALUE_SIZE THREADS INFLIGHT \
  KEYSPACE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $v must be a positive integer" >&2; exit 2; }
done
[ "$LAG_S" -ge "$WINDOW_S" ] || { echo "error: SECONDS must be >= WINDOW_S" >&2; exit 2; }

# Per trial: 3 lag runs and a cold one (+ up to 90 s to settle each), 2 throughput runs
# (+ catch-up).
export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( TRIALS * (3 * (LAG_S + 90) + COLD_S + 150 + 2 * (TP_S + 150)) + 600 ))}"
export BENCH_TIMEOUT_S=$(( LAG_S + 120 > 300 ? LAG_S + 120 : 300 ))
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"
# shellcheck source=tests/integration/dup_lib.sh
. "$BENCH_DIR/../tests/integration/dup_lib.sh"
# shellcheck source=tests/integration/repl_lib.sh
. "$BENCH_DIR/../tests/integration/repl_lib.sh"

[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 77; }
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 77; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 77; }

itest_begin dupbench
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
ST="$ITEST_DIR/state"

# ---------------------------------------------------------------- helpers

# ticks PID...: utime+stime (clock ticks) summed over the PIDs.
ticks() { cpu_ticks "$@" | awk '{ print $1 + $2 }'; }

# replica_pids CLUSTER: the pids of the cluster's 3 replica servers.
replica_pids() {
  local i
  cluster_use "$1"
  for i in 1 2 3; do replica_pid "$i" || fail "replica server $i of $1 is not running"; done
}

# us_per_op T0 T1 OPS: CPU-us per op from two tick counts.
us_per_op() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$CLK_TCK" 'BEGIN {
    printf "%.1f\n", (n > 0 ? (b - a) * 1e6 / hz / n : 0) }'
}

# window_p99 FILE first|last: p99 (ms) of the first or last lag_window line of FILE.
window_p99() {
  awk -v w="$2" '/^lag_window: / { n++; v[n] = $7 } END { print (w == "first" ? v[1] : v[n]) }' "$1"
}

# windows_line FILE: "p99 ms per window: a b c ..." from the lag_window lines.
windows_line() { awk '/^lag_window: / { printf "%s%s", sep, $7; sep = " " }' "$1"; }

# dup_pending CLUSTER: the sum of geokv_dup_pending_mutations over the cluster's replica
# servers (their /metrics).
dup_pending() {
  local f total=0 v
  for f in "$ITEST_DIR/state/clusters/$1"/metrics*.port; do
    v=$(curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$f")/metrics" |
      awk '/^geokv_dup_pending_mutations[ {]/ { s += $NF } END { print s + 0 }') || return 1
    total=$((total + v))
  done
  echo "$total"
}
_no_pending() { [ "$(dup_pending "$1")" -eq 0 ]; }

# The redis peer of geokv-bench --op lag (see its docstring).
cat >"$ST/redis_lag.py" <<'PY'
"""redis_lag.py: replica visibility lag of redis-server, measured like geokv-bench --op lag.
(Written into its temp dir by bench/run_dup_bench.sh, which runs it.)

    python3 redis_lag.py --master PORT --replica PORT --rate R --duration S \
        [--value-size B] [--poll-ms MS] [--report-interval W] [--inflight N] [--lag-timeout-s S]

The peer of `geokv-bench --op lag` in bench/run_dup_bench.sh (python3 alone, no modules
beyond the standard library: it speaks RESP over two sockets on 127.0.0.1). Record n of the
run (key "r<nonce>-<n>", a value of B bytes unique to the run) is due at n / R s (open loop,
at most --inflight SETs outstanding, pipelined on one connection to the master). Each SET
enters the poll queue when its +OK is read; GETs on one connection to the replica (at most
--inflight outstanding, pipelined) poll due keys until the value comes back. The poll rule
is geokv-bench's (bench/bench_util.h): the first poll right after the ack, then every
max(--poll-ms, age / 4) s, at most 100 ms apart; a key still invisible --lag-timeout-s
after its ack counts as not_visible. lag = completion of the first read that returns the
value - completion of the SET. One thread, non-blocking sockets and select(), so the GIL
does not sit between the two connections.

Prints the same "name: value" lines as geokv-bench --op lag (writes, acked, visible,
not_visible, polls, write_ops_per_sec, lag_p50_ms, lag_p99_ms, lag_p999_ms, lag_max_ms and,
with --report-interval, lag_window lines). Quantiles here are exact (the sample at rank
ceil(q * n)); geokv-bench reports the upper bound of a histogram bucket (within 1/16).
Exit 1 if nothing became visible, 2 on a protocol or connection error.
"""
import argparse
import heapq
import math
import os
import select
import socket
import sys
import time
from collections import deque

POLL_GROWTH = 4
POLL_MAX_S = 0.1


def cmd(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class Conn:
    """A non-blocking RESP connection: queued output, incremental reply parsing."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.out = bytearray()
        self.inb = bytearray()
        self.pos = 0

    def fileno(self):
        return self.sock.fileno()

    def flush(self):
        while self.out:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                return
            del self.out[:n]

    def fill(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            sys.exit('error: connection closed by redis')
        self.inb += data

    def replies(self):
        """Yields every complete reply buffered: str for +, bytes or None for $."""
        while True:
            end = self.inb.find(b'\r\n', self.pos)
            if end < 0:
                break
            t = self.inb[self.pos:self.pos + 1]
            if t == b'$':
                n = int(self.inb[self.pos + 1:end])
                if n < 0:
                    self.pos = end + 2
                    yield None
                    continue
                if len(self.inb) < end + 2 + n + 2:
                    break
                v = bytes(self.inb[end + 2:end + 2 + n])
                self.pos = end + 2 + n + 2
                yield v
            elif t in (b'+', b':'):
                v = self.inb[self.pos + 1:end].decode()
                self.pos = end + 2
                yield v
            else:
                sys.stderr.write('error: redis replied %r\n' % bytes(self.inb[self.pos:end]))
                sys.exit(2)
        if self.pos:
            del self.inb[:self.pos]
            self.pos = 0


def quantile(sorted_v, q):
    if not sorted_v:
        return 0.0
    return sorted_v[max(1, math.ceil(q * len(sorted_v))) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--master', type=int, required=True)
    ap.add_argument('--replica', type=int, required=True)
    ap.add_argument('--rate', type=float, required=True)
    ap.add_argument('--duration', type=float, required=True)
    ap.add_argument('--value-size', type=int, default=100)
    ap.add_argument('--poll-ms', type=float, default=5)
    ap.add_argument('--report-interval', type=float, default=0)
    ap.add_argument('--inflight', type=int, default=32)
    ap.add_argument('--lag-timeout-s', type=float, default=30)
    a = ap.parse_args()

    nonce = (time.time_ns() // 1000) ^ os.getpid()
    total = int(a.duration * a.rate)
    poll_min = a.poll_ms / 1000.0
    m, r = Conn(a.master), Conn(a.replica)

    def key(i):
        return b'r%d-%d' % (nonce, i)

    def value(i):
        return (b'%d-%d-' % (nonce, i)).ljust(a.value_size, b'v')[:max(a.value_size, 1)]

    nwin = max(1, math.ceil(total / a.rate / a.report_interval)) if a.report_interval > 0 else 0
    win_lag = [[] for _ in range(nwin)]
    win_nv = [0] * nwin

    def window_of(i):
        return min(int(i / a.rate / a.report_interval), nwin - 1)

    lags = []
    writes = acked = polls = not_visible = 0
    w_out = deque()   # (i) of SETs sent, in order
    p_out = deque()   # (i, ack) of GETs sent, in order
    heap = []         # (next_poll, i, ack)
    n = 0
    start = time.monotonic()
    written = start
    while True:
        now = time.monotonic()
        while n < total and start + n / a.rate <= now and len(w_out) < a.inflight:
            m.out += cmd(b'SET', key(n), value(n))
            w_out.append(n)
            writes += 1
            n += 1
            if n == total:
                written = now
        while heap and heap[0][0] <= now and len(p_out) < a.inflight:
            _, i, ack = heapq.heappop(heap)
            r.out += cmd(b'GET', key(i))
            p_out.append((i, ack))
        m.flush()
        r.flush()
        if n >= total and not w_out and not p_out and not heap:
            break
        nxt = now + 1.0
        if n < total and len(w_out) < a.inflight:
            nxt = min(nxt, start + n / a.rate)
        if heap and len(p_out) < a.inflight:
            nxt = min(nxt, heap[0][0])
        rd, wr, _ = select.select([m, r], [c for c in (m, r) if c.out], [], max(0.0, nxt - now))
        if m in rd:
            m.fill()
            for rep in m.replies():
                i = w_out.popleft()
                if rep != 'OK':
                    sys.exit('error: SET replied %r' % rep)
                t = time.monotonic()
                acked += 1
                heapq.heappush(heap, (t, i, t))
        if r in rd:
            r.fill()
            for rep in r.replies():
                i, ack = p_out.popleft()
                t = time.monotonic()
                polls += 1
                age = t - ack
                if rep == value(i):
                    lags.append(age)
                    if nwin:
                        win_lag[window_of(i)].append(age)
                elif age >= a.lag_timeout_s:
                    not_visible += 1
                    if nwin:
                        win_nv[window_of(i)] += 1
                else:
                    wait = max(min(age / POLL_GROWTH, POLL_MAX_S), poll_min)
                    heapq.heappush(heap, (t + wait, i, ack))
    end = time.monotonic()
    lags.sort()
    ms = lambda s: s * 1000.0
    print('op: lag\npeer: redis\nnonce: %d\nwrites: %d\nacked: %d\nwrite_errors: 0' % (nonce, writes, acked))
    print('seconds: %.3f\nwrite_seconds: %.3f\nwrite_ops_per_sec: %.0f' % (
        end - start, written - start, writes / max(written - start, 1e-9)))
    print('visible: %d\nnot_visible: %d\npolls: %d' % (len(lags), not_visible, polls))
    print('lag_p50_ms: %.2f\nlag_p99_ms: %.2f\nlag_p999_ms: %.2f\nlag_max_ms: %.2f' % (
        ms(quantile(lags, 0.5)), ms(quantile(lags, 0.99)), ms(quantile(lags, 0.999)),
        ms(lags[-1] if lags else 0)))
    if nwin:
        print('lag_window_columns: from_s to_s visible not_visible p50_ms p99_ms max_ms')
    for k in range(nwin):
        v = sorted(win_lag[k])
        fr = k * a.report_interval
        to = fr + a.report_interval if k + 1 < nwin else writes / a.rate
        print('lag_window: %.1f %.1f %d %d %.2f %.2f %.2f' % (
            fr, to, len(v), win_nv[k], ms(quantile(v, 0.5)), ms(quantile(v, 0.99)),
            ms(v[-1] if v else 0)))
    if not lags:
        sys.stderr.write('error: no write became visible on the replica\n')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
PY

# ---------------------------------------------------------------- clusters and redis

zk_start
dup_clusters_up
for c in tj bj; do # the remote table first: dup add checks that it exists
  cluster_use "$c"
  for app in lag tp_on tp_off; do
    [ "$c" = tj ] && [ "$app" = tp_off ] && continue
    admin create "$app" -p "$PARTITIONS" -r 3 >/dev/null || fail "create $app on $c"
    wait_for "3 replicas in every partition of $c.$app" 60 partitions_have "$app" 3
  done
done
cluster_use bj
for app in lag tp_on; do
  out=$(admin -a "$app" dup add -c tj) || fail "dup add $app: $out"
  grep -q "successfully add duplication" <<<"$out" || fail "dup add $app printed: $out"
done
BJ_METAS=$(cat "$ST/clusters/bj/metas")
TJ_METAS=$(cat "$ST/clusters/tj/metas")

REDIS_M=$(free_port)
REDIS_R=$(free_port)
mkdir -p "$ITEST_DIR/redis-m" "$ITEST_DIR/redis-r"
geokv_spawn "$ITEST_DIR/pids/redis-master.pid" "$ITEST_DIR/logs/redis-master.log" \
  redis-server --port "$REDIS_M" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$ITEST_DIR/redis-m" --daemonize no
REDIS_M_PID=$GEOKV_SPAWNED_PID
geokv_spawn "$ITEST_DIR/pids/redis-replica.pid" "$ITEST_DIR/logs/redis-replica.log" \
  redis-server --port "$REDIS_R" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$ITEST_DIR/redis-r" --daemonize no --replicaof 127.0.0.1 "$REDIS_M"
REDIS_R_PID=$GEOKV_SPAWNED_PID
_redis_linked() { redis-cli -p "$REDIS_R" info replication | grep -q '^master_link_status:up'; }
wait_for "the redis replica to sync with its master" 30 _redis_linked
_redis_empty() { [ "$(redis-cli -p "$REDIS_R" dbsize)" = 0 ]; }

# Warm-up, not measured: a short lag run each (connections, table configs, first shipments).
cluster_use bj
bench -a lag -r "$TJ_METAS" --op lag --rate "$RATE" --duration 3 --value-size "$VALUE_SIZE" \
  >"$ST/warm.out" || fail "geokv warm-up lag run: $(cat "$ST/warm.out")"
python3 "$ST/redis_lag.py" --master "$REDIS_M" --replica "$REDIS_R" --rate "$RATE" \
  --duration 3 --value-size "$VALUE_SIZE" >"$ST/warm.out" || fail "redis warm-up lag run"
GB=(--threads "$THREADS" --inflight "$INFLIGHT" --value-size "$TP_VALUE_SIZE")
for app in tp_off tp_on; do
  bench -a "$app" --op set --count "$KEYSPACE" --seed 9 --duration 2 "${GB[@]}" >/dev/null ||
    fail "warm-up on $app"
done
wait_for "bj to finish shipping the warm-up" 120 _no_pending bj

say "geokv duplication benchmark: clusters bj -> tj, each 1 meta + 3 replica servers;" \
    "tables of $PARTITIONS partitions, replica_count 3, plog_fsync=always; $(nproc) cores"
say "lag: $RATE writes/s of $VALUE_SIZE B for ${LAG_S}s, poll-ms $POLL_MS, windows of ${WINDOW_S}s;" \
    "throughput: ${TP_S}s closed loop, $((THREADS * INFLIGHT)) in flight, $TP_VALUE_SIZE B; $TRIALS trials"
say "redis $(redis-server --version | awk '{ print $3 }') master :$REDIS_M (pid $REDIS_M_PID)," \
    "replica :$REDIS_R (pid $REDIS_R_PID), --save \"\" --appendonly no"
say "temp dir $ITEST_DIR (KEEP=1 keeps it)"

# ---------------------------------------------------------------- 1 + 2. visibility lag

say ""
say "== 1 + 2. visibility lag at $RATE writes/s of $VALUE_SIZE B, geokv (bj -> tj) and redis (master -> replica)"
G_P50=() G_P99=() G_MAX=() G_FIRST=() G_LAST=() G_CPU_SRC=() G_CPU_DST=() G_NV=() G_RATE=() G_WP99=()
R_P50=() R_P99=() R_MAX=() R_FIRST=() R_LAST=() R_CPU=()
mapfile -t BJ_PIDS < <(replica_pids bj)
mapfile -t TJ_PIDS < <(replica_pids tj)
cluster_use bj

lag_geokv() {
  local out="$ST/lag_geokv.$t" s0 d0 s1 d1 n
  say "  \$ geokv-bench -m $BJ_METAS -r $TJ_METAS -a lag --op lag --rate $RATE --duration $LAG_S --value-size $VALUE_SIZE --inflight $LAG_INFLIGHT --poll-ms $POLL_MS --report-interval $WINDOW_S"
  s0=$(ticks "${BJ_PIDS[@]}") d0=$(ticks "${TJ_PIDS[@]}")
  bench -a lag -r "$TJ_METAS" --op lag --rate "$RATE" --duration "$LAG_S" \
    --value-size "$VALUE_SIZE" --inflight "$LAG_INFLIGHT" --poll-ms "$POLL_MS" \
    --report-interval "$WINDOW_S" >"$out" || fail "geokv lag run failed: $(cat "$out")"
  s1=$(ticks "${BJ_PIDS[@]}") d1=$(ticks "${TJ_PIDS[@]}")
  [ "$(metric write_errors "$out")" = 0 ] || fail "geokv lag run: $(metric write_errors "$out") write errors"
  n=$(metric writes "$out")
  G_P50+=("$(metric lag_p50_ms "$out")") G_P99+=("$(metric lag_p99_ms "$out")")
  G_MAX+=("$(metric lag_max_ms "$out")") G_NV+=("$(metric not_visible "$out")")
  G_RATE+=("$(metric write_ops_per_sec "$out")") G_WP99+=("$(metric write_lat_p99_us "$out")")
  G_FIRST+=("$(window_p99 "$out" first)") G_LAST+=("$(window_p99 "$out" last)")
  G_CPU_SRC+=("$(us_per_op "$s0" "$s1" "$n")") G_CPU_DST+=("$(us_per_op "$d0" "$d1" "$n")")
  say "    geokv: writes $n ($(metric write_ops_per_sec "$out")/s, write p99 $(metric write_lat_p99_us "$out") us)  visible $(metric visible "$out")  not_visible ${G_NV[-1]}  polls $(metric polls "$out")"
  say "    geokv lag ms: p50 ${G_P50[-1]}  p99 ${G_P99[-1]}  p999 $(metric lag_p999_ms "$out")  max ${G_MAX[-1]};  p99 per ${WINDOW_S}s window: $(windows_line "$out")"
  say "    CPU-us per write: bj replicas ${G_CPU_SRC[-1]}, tj replicas ${G_CPU_DST[-1]}"
}

lag_redis() {
  local out="$ST/lag_redis.$t" c0 c1 n
  say "  \$ python3 redis_lag.py --master $REDIS_M --replica $REDIS_R --rate $RATE --duration $LAG_S --value-size $VALUE_SIZE --inflight $LAG_INFLIGHT --poll-ms $POLL_MS --report-interval $WINDOW_S"
  c0=$(ticks "$REDIS_M_PID" "$REDIS_R_PID")
  timeout "$BENCH_TIMEOUT_S" python3 "$ST/redis_lag.py" --master "$REDIS_M" --replica "$REDIS_R" \
    --rate "$RATE" --duration "$LAG_S" --value-size "$VALUE_SIZE" --inflight "$LAG_INFLIGHT" \
    --poll-ms "$POLL_MS" --report-interval "$WINDOW_S" >"$out" 2>>"$ITEST_DIR/logs/redis_lag.log" ||
    fail "redis lag run failed: $(cat "$out")"
  c1=$(ticks "$REDIS_M_PID" "$REDIS_R_PID")
  n=$(metric writes "$out")
  R_P50+=("$(metric lag_p50_ms "$out")") R_P99+=("$(metric lag_p99_ms "$out")")
  R_MAX+=("$(metric lag_max_ms "$out")")
  R_FIRST+=("$(window_p99 "$out" first)") R_LAST+=("$(window_p99 "$out" last)")
  R_CPU+=("$(us_per_op "$c0" "$c1" "$n")")
  say "    redis: writes $n ($(metric write_ops_per_sec "$out")/s)  visible $(metric visible "$out")  not_visible $(metric not_visible "$out")  polls $(metric polls "$out")"
  say "    redis lag ms: p50 ${R_P50[-1]}  p99 ${R_P99[-1]}  p999 $(metric lag_p999_ms "$out")  max ${R_MAX[-1]};  p99 per ${WINDOW_S}s window: $(windows_line "$out")"
  say "    CPU-us per write: redis master + replica ${R_CPU[-1]}"
  redis-cli -p "$REDIS_M" flushall >/dev/null || fail "redis flushall"
  wait_for "the redis replica to apply FLUSHALL" 30 _redis_empty
}

for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" lag_geokv lag_redis
done

# ---------------------------------------------------------------- 3. lag at a low rate, warm and cold

say ""
say "== 3. visibility lag at $LOW_RATE writes/s: warm (table lag) and in the first ${COLD_S}s after dup add (a new table)"
W_P99=() W_NV=() C_P99=() C_NV=()
# lag_run APP SECONDS OUT: geokv-bench --op lag at LOW_RATE; sets L_P99 (ms) and L_NV.
lag_run() {
  local app="$1" secs="$2" out="$3"
  say "  \$ geokv-bench -m $BJ_METAS -r $TJ_METAS -a $app --op lag --rate $LOW_RATE --duration $secs --value-size $VALUE_SIZE --inflight $LAG_INFLIGHT --poll-ms $POLL_MS"
  bench -a "$app" -r "$TJ_METAS" --op lag --rate "$LOW_RATE" --duration "$secs" \
    --value-size "$VALUE_SIZE" --inflight "$LAG_INFLIGHT" --poll-ms "$POLL_MS" >"$out" ||
    fail "geokv lag run on $app failed: $(cat "$out")"
  [ "$(metric write_errors "$out")" = 0 ] || fail "lag run on $app: $(metric write_errors "$out") write errors"
  [ "$(metric writes "$out")" -gt 0 ] || fail "lag run on $app: no writes"
  L_P99=$(metric lag_p99_ms "$out") L_NV=$(metric not_visible "$out")
  say "    writes $(metric writes "$out") ($(metric write_ops_per_sec "$out")/s)  lag ms: p50 $(metric lag_p50_ms "$out")  p99 $L_P99  max $(metric lag_max_ms "$out")  not_visible $L_NV"
}
lag_warm() {
  lag_run lag "$LAG_S" "$ST/lag_warm.$t"
  W_P99+=("$L_P99") W_NV+=("$L_NV")
}
lag_cold() {
  local app="cold$t" c out
  for c in tj bj; do
    cluster_use "$c"
    admin create "$app" -p "$PARTITIONS" -r 3 >/dev/null || fail "create $app on $c"
    wait_for "3 replicas in every partition of $c.$app" 60 partitions_have "$app" 3
  done
  out=$(admin -a "$app" dup add -c tj) || fail "dup add $app: $out"
  grep -q "successfully add duplication" <<<"$out" || fail "dup add $app printed: $out"
  lag_run "$app" "$COLD_S" "$ST/lag_cold.$t"
  C_P99+=("$L_P99") C_NV+=("$L_NV")
  for c in bj tj; do # so the tables of later trials are not measured beside it
    cluster_use "$c"
    admin drop "$app" >/dev/null || fail "drop $app on $c"
  done
  cluster_use bj
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" lag_warm lag_cold
done

# ---------------------------------------------------------------- 4. throughput on vs off

say ""
say "== 4. source set throughput with duplication on (tp_on -> tj) vs off (tp_off)"
ON=() OFF=() ON_CPU_SRC=() ON_CPU_DST=() OFF_CPU_SRC=() CATCHUP=()

TP() { # TP APP: one closed-loop run; sets T_OPS_S, T_CPU_SRC, T_CPU_DST
  local app="$1" out="$ST/tp.out" s0 d0 s1 d1 ops
  say "  \$ geokv-bench -m $BJ_METAS -a $app --op set --count $KEYSPACE --seed 1 --duration $TP_S ${GB[*]}"
  s0=$(ticks "${BJ_PIDS[@]}") d0=$(ticks "${TJ_PIDS[@]}")
  bench -a "$app" --op set --count "$KEYSPACE" --seed 1 --duration "$TP_S" "${GB[@]}" >"$out" ||
    fail "geokv-bench -a $app failed: $(cat "$out")"
  s1=$(ticks "${BJ_PIDS[@]}") d1=$(ticks "${TJ_PIDS[@]}")
  ops=$(metric ops "$out")
  [ "$(metric errors "$out")" = 0 ] || fail "$app: $(metric errors "$out") errors"
  [ "${ops:-0}" -gt 0 ] || fail "$app: no operations"
  T_OPS_S=$(metric ops_per_sec "$out")
  T_CPU_SRC=$(us_per_op "$s0" "$s1" "$ops") T_CPU_DST=$(us_per_op "$d0" "$d1" "$ops")
  say "    ops/s $T_OPS_S  p50 $(metric lat_p50_us "$out") us  p99 $(metric lat_p99_us "$out") us  CPU-us/op: bj replicas $T_CPU_SRC, tj replicas $T_CPU_DST"
}
tp_on() {
  local t0 pend
  TP tp_on
  ON+=("$T_OPS_S") ON_CPU_SRC+=("$T_CPU_SRC") ON_CPU_DST+=("$T_CPU_DST")
  pend=$(dup_pending bj) t0=$(geokv_now_ms)
  wait_for "bj to finish shipping tp_on" 300 _no_pending bj
  CATCHUP+=("$(awk -v ms=$(( $(geokv_now_ms) - t0 )) 'BEGIN { printf "%.1f\n", ms / 1000 }')")
  say "    pending duplication at the end of the run: $pend mutations; shipped in ${CATCHUP[-1]} s"
}
tp_off() {
  TP tp_off
  OFF+=("$T_OPS_S") OFF_CPU_SRC+=("$T_CPU_SRC")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" tp_on tp_off
done

# ---------------------------------------------------------------- results

GP99=$(median "${G_P99[@]}") RP99=$(median "${R_P99[@]}")
GFIRST=$(median "${G_FIRST[@]}") GLAST=$(median "${G_LAST[@]}")
MON=$(median "${ON[@]}") MOFF=$(median "${OFF[@]}")
say ""
say "== results: medians of $TRIALS trials (lag runs ${LAG_S}s, cold runs ${COLD_S}s, throughput runs ${TP_S}s)"
result_header
GRATE=$(median "${G_RATE[@]}")
WP99=$(median "${W_P99[@]}") CP99=$(median "${C_P99[@]}")
# lag_verdict P99 GOAL NOT_VISIBLE...: the p99 verdict, and a MISS whenever a write of the
# runs never became visible (the lag figures leave such writes out).
lag_verdict() {
  local p="$1" g="$2" nv
  shift 2
  nv=$(printf '%s\n' "$@" | awk '{ s += $1 } END { print s + 0 }')
  if [ "$nv" -gt 0 ]; then echo "MISS ($nv not visible)"; else verdict "$p" "<=" "$g"; fi
}
result_row "lag p99, bj -> tj, $RATE/s of $VALUE_SIZE B / redis replica" "$GP99 ms" "$RP99 ms" \
  "$(ratio "$GP99" "$RP99")" "<= $P99_TARGET_MS ms" "$(lag_verdict "$GP99" "$P99_TARGET_MS" "${G_NV[@]}")"
result_row "  source write rate reached during those runs" "$GRATE/s" "" "" \
  ">= 0.95x" "$(verdict_ratio "$GRATE" ">=" 0.95 "$RATE")"
result_row "  lag p99, first -> last ${WINDOW_S}s window" "$GFIRST -> $GLAST ms" "" "" \
  "1.5x + 10" "$(awk -v f="$GFIRST" -v l="$GLAST" 'BEGIN { print (l <= 1.5 * f + 10 ? "PASS" : "MISS") }')"
result_row "lag p99, bj -> tj, $LOW_RATE/s of $VALUE_SIZE B" "$WP99 ms" "" "" \
  "<= $LOW_P99_TARGET_MS ms" "$(lag_verdict "$WP99" "$LOW_P99_TARGET_MS" "${W_NV[@]}")"
result_row "lag p99 in the first ${COLD_S}s after dup add / warm, $LOW_RATE/s" "$CP99 ms" "$WP99 ms" \
  "$(ratio "$CP99" "$WP99")" "<= $COLD_TARGET" \
  "$(lag_verdict "$(awk -v c="$CP99" -v w="$WP99" 'BEGIN { print (w > 0 ? c / w : 1e9) }')" \
    "$COLD_TARGET" "${C_NV[@]}")"
result_row "set ops/s ($TP_VALUE_SIZE B), duplication on / off" "$MON/s" "$MOFF/s" \
  "$(ratio "$MON" "$MOFF")" ">= $TP_TARGET" "$(verdict_ratio "$MON" ">=" "$TP_TARGET" "$MOFF")"
say ""
say "per-trial figures:"
say "  geokv lag p50 ms: ${G_P50[*]} (median $(median "${G_P50[@]}"))"
say "  geokv lag p99 ms: ${G_P99[*]} (median $GP99)"
say "  geokv lag max ms: ${G_MAX[*]} (median $(median "${G_MAX[@]}"))"
say "  geokv first / last window p99 ms: ${G_FIRST[*]} / ${G_LAST[*]}"
say "  geokv not visible after 30 s: ${G_NV[*]}"
say "  geokv lag p99 ms at $LOW_RATE/s: warm ${W_P99[*]} (not visible: ${W_NV[*]}); first ${COLD_S}s after dup add ${C_P99[*]} (not visible: ${C_NV[*]})"
say "  geokv source writes/s reached: ${G_RATE[*]}; source write p99 us (from the due time): ${G_WP99[*]}"
say "  geokv CPU-us per write: bj replicas $(median "${G_CPU_SRC[@]}"), tj replicas $(median "${G_CPU_DST[@]}") (medians)"
say "  redis lag p50 ms: ${R_P50[*]} (median $(median "${R_P50[@]}"))"
say "  redis lag p99 ms: ${R_P99[*]} (median $RP99)"
say "  redis lag max ms: ${R_MAX[*]} (median $(median "${R_MAX[@]}"))"
say "  redis first / last window p99 ms: ${R_FIRST[*]} / ${R_LAST[*]} (medians $(median "${R_FIRST[@]}") / $(median "${R_LAST[@]}"))"
say "  redis CPU-us per write (master + replica): $(median "${R_CPU[@]}") (median)"
say "  set ops/s dup on:  ${ON[*]} (median $MON); CPU-us/op bj $(median "${ON_CPU_SRC[@]}"), tj $(median "${ON_CPU_DST[@]}")"
say "  set ops/s dup off: ${OFF[*]} (median $MOFF); CPU-us/op bj $(median "${OFF_CPU_SRC[@]}")"
say "  seconds to ship the backlog after each dup-on run: ${CATCHUP[*]}"
