#!/usr/bin/env bash
# bench/run_replication_bench.sh — the replication benchmark.
#
#   bash bench/run_replication_bench.sh                     # full run: 5 trials x 5 s, 5 recoveries
#   TRIALS=1 SECONDS=2 RECOVERY_RUNS=1 bash bench/run_replication_bench.sh   # quick run
#
# Starts its own ZooKeeper, 1 geokv-meta and 3 geokv-replica servers on free loopback ports in a
# temp dir (tests/integration/lib.sh: real processes, tracked by pid, all stopped by the EXIT
# trap), with fast failure detection (beacon 200 ms, lease 2000 ms, grace 3000 ms: the settings
# of tests/integration/repl_lib.sh) and replication.plog_fsync=always. Tables `rb1`
# (replica_count 1) and `rb3` (replica_count 3), 8 partitions each. 100-byte values, 32
# requests in flight (geokv-bench --threads 2 --inflight 16).
#
# The peer is a 3-member etcd (Debian etcd-server) on free loopback ports, its data dirs in
# the same temp dir, loaded by bench/etcd_load.py (gRPC KV/Put, python3-grpcio) with the same
# value size, key space and in-flight count, talking to the leader (the fastest path etcd
# offers; the followers would forward to it).
#
#   1. set throughput: trials rotate between rb1, rb3 and etcd (who goes first rotates too);
#      medians and the ratio rb3 / rb1                                  target >= 0.5
#      rb3 / etcd                                                       target >= 3
#   2. p99 set latency on rb3 paced at half the rb3 median peak (--rate, open loop)
#                                                          target <= 5 ms (the single-replica target)
#      (rb1 at the same rate, alternating, is printed for reference)
#      p99 of rb3 and of etcd, both paced at half etcd's median peak    target rb3 < etcd
#   3. recovery (rb1 is dropped first): RECOVERY_RUNS times, take partition (run-1) % 8 of rb3,
#      write to keys of that partition only (a probe: one admin-cli fed `set` lines one at a
#      time, per-call timeout PROBE_TIMEOUT_MS), kill -9 the replica server holding its
#      primary, and measure the ms from the kill to the completion of the first successful
#      write to that partition sent after the server was dead; then restart the server and wait
#      until every partition of rb3 has 3 replicas again. Median reported with the settings.
#                                                  target <= grace + 2000 ms (our reading of
#                                                  "within a few seconds of the grace period")
#
# Server CPU per op is the utime+stime delta (/proc/PID/stat) of the 3 replica servers (or of
# the 3 etcd members) summed, over the trial's ops. Measurements 1 and 2 run before 3, on a cluster nothing was killed in.
#
# Env: TRIALS (5), SECONDS or TRIAL_SECONDS (5) per trial, RECOVERY_RUNS (5), BENCH_THREADS
# (2), BENCH_INFLIGHT (16), KEYSPACE (1000000), BEACON_MS (200), LEASE_MS (2000), GRACE_MS
# (3000), ADD_SECONDARY_DELAY_MS (2000), PROBE_TIMEOUT_MS (100), KEEP=1 keeps the temp dir
# (logs of every process and command, probe logs), GEOKV_BIN (build/bin). Exit 0 when the run
# completed (targets met or not: see PASS/MISS), 77 if ZooKeeper, python3, etcd or
# python3-grpcio is missing, 1 on error. With BENCH_REPORT=FILE it also appends its rows for
# bench/run_all.sh to FILE. Not a ctest test: timings on a shared 2-core machine are noisy.

# bash's SECONDS counts up from its value in the environment: read it before any time passes.
_seconds_env=$(printenv SECONDS || true)

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRIALS="${TRIALS:-5}"
TRIAL_S="${TRIAL_SECONDS:-${_seconds_env:-5}}"
RUNS="${RECOVERY_RUNS:-5}"
THREADS="${BENCH_THREADS:-2}"
INFLIGHT="${BENCH_INFLIGHT:-16}"
KEYSPACE="${KEYSPACE:-1000000}"
BEACON_MS="${BEACON_MS:-200}"
LEASE_MS="${LEASE_MS:-2000}"
GRACE_MS="${GRACE_MS:-3000}"
ADD_SECONDARY_DELAY_MS="${ADD_SECONDARY_DELAY_MS:-2000}"
PROBE_TIMEOUT_MS="${PROBE_TIMEOUT_MS:-100}"
VALUE_SIZE=100
PARTITIONS=8
P99_TARGET_US=5000
RECOVERY_TARGET_MS=$(( GRACE_MS + 2000 ))
CLK_TCK=$(getconf CLK_TCK)

for v in TRIALS TRIAL_S RUNS THREADS INFLIGHT KEYSPACE BEACON_MS LEASE_MS GRACE_MS \
  ADD_SECONDARY_DELAY_MS PROBE_TIMEOUT_MS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "error: $v must be a positive integer" >&2; exit 2; }
done

# 7 measured series of TRIALS x TRIAL_S, up to ~2 min per recovery run, plus setup and cleanup.
export ITEST_TIMEOUT_S="${ITEST_TIMEOUT_S:-$(( TRIALS * TRIAL_S * 7 * 2 + RUNS * 180 + 600 ))}"
# shellcheck source=tests/integration/lib.sh
. "$BENCH_DIR/../tests/integration/lib.sh"
# shellcheck source=bench/bench_lib.sh
. "$BENCH_DIR/bench_lib.sh"
# shellcheck source=tests/integration/repl_lib.sh
. "$BENCH_DIR/../tests/integration/repl_lib.sh"

[ -f /usr/share/java/zookeeper.jar ] || { echo "ZooKeeper not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 77; }
command -v etcd >/dev/null || { echo "etcd not found (apt-get install etcd-server)" >&2; exit 77; }
command -v etcdctl >/dev/null || { echo "etcdctl not found (apt-get install etcd-client)" >&2; exit 77; }
/usr/bin/python3 -c 'import grpc' 2>/dev/null ||
  { echo "python3-grpcio not found (apt-get install python3-grpcio)" >&2; exit 77; }

itest_begin replbench
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
ST="$ITEST_DIR/state"

# ---------------------------------------------------------------- helpers

# cpu_ticks_all [PID...]: cpu_ticks of the PIDs, replica servers 1..3 by default.
cpu_ticks_all() {
  local pid pids=("$@") i
  if [ $# -eq 0 ]; then
    for i in 1 2 3; do
      pid=$(replica_pid "$i") || fail "replica server $i is not running"
      pids+=("$pid")
    done
  fi
  for pid in "${pids[@]}"; do
    geokv_pid_alive "$pid" || fail "server pid $pid is not running"
  done
  cpu_ticks "${pids[@]}"
}

# GEOKV APP OUT ARGS...: runs geokv-bench -a APP ARGS (APP etcd: bench/etcd_load.py ARGS
# against the etcd leader); leaves its output in OUT and sets G_OPS_S, G_P99 and G_CPU (CPU-us
# per op of the 3 servers together). Fails on errors or on a run that did nothing.
GEOKV() {
  local app="$1" out="$2" t0 t1 ops errs sys
  shift 2
  if [ "$app" = etcd ]; then
    say "  \$ etcd_load.py --endpoint $ETCD_LEADER $*"
    t0=$(cpu_ticks_all "${ETCD_PIDS[@]}")
    timeout 300 /usr/bin/python3 "$BENCH_DIR/etcd_load.py" --endpoint "$ETCD_LEADER" "$@" \
      >"$out" 2>>"$ITEST_DIR/logs/etcd_load.log" || fail "etcd_load.py $* failed: $(cat "$out")"
    t1=$(cpu_ticks_all "${ETCD_PIDS[@]}")
    say "    (etcd_load.py used $(metric client_cpu_pct "$out") % of a core)"
  else
    say "  \$ geokv-bench -m $META_LIST -a $app $*"
    t0=$(cpu_ticks_all)
    bench -a "$app" "$@" >"$out" || fail "geokv-bench -a $app $* failed: $(cat "$out")"
    t1=$(cpu_ticks_all)
  fi
  ops=$(metric ops "$out")
  errs=$(metric errors "$out")
  [ "$errs" = 0 ] || fail "geokv-bench -a $app $*: $errs errors"
  [ "${ops:-0}" -gt 0 ] || fail "geokv-bench -a $app $*: no operations"
  G_OPS_S=$(metric ops_per_sec "$out")
  G_P99=$(metric lat_p99_us "$out")
  read -r G_CPU sys < <(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$ops" 'BEGIN {
    split(a, x, " "); split(b, y, " "); s = y[2] - x[2]; t = y[1] - x[1] + s
    printf "%.2f %.0f\n", t * 1e6 / hz / n, t ? 100 * s / t : 0 }')
  say "    ops/s $G_OPS_S  p50 $(metric lat_p50_us "$out") us  p99 $G_P99 us  p999 $(metric lat_p999_us "$out") us  max $(metric lat_max_us "$out") us  servers' CPU $G_CPU us/op (${sys}% sys)"
}

# replica_index ADDR: the index (1..3) of the replica server listening on ADDR.
replica_index() {
  local i
  for i in 1 2 3; do
    [ "$(replica_addr "$i")" = "$1" ] && { echo "$i"; return 0; }
  done
  return 1
}

# partition_field APP PIDX N: field N of partition PIDX's line in `admin-cli app APP`
# (2 ballot, 3 primary, 4 secondaries, 5 last_committed).
partition_field() {
  timeout 10 "$GEOKV_BIN/admin-cli" -m "$META_LIST" app "$1" 2>/dev/null |
    awk -v p="$2" -v f="$3" '$1 == p && NF >= 5 { print $f; found = 1 } END { exit !found }'
}

# The probe: one admin-cli reading `set` lines from a pipe (so the client, its connections and
# its cached table config live across calls, as in an application), fed one line at a time.
# For every call it appends "SEND_MS DONE_MS OK" (wall clock, ms; OK 1 or 0) to OUT, until
# STOP exists. Routing is XXH64(hash_key, seed 0) % partition_count (proto/hash.h); xxh64()
# below is a plain transcription of the XXH64 spec, checked against its test vectors at start.
cat >"$ST/probe.py" <<'PY'
import os, struct, subprocess, sys, time
M = (1 << 64) - 1
P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
def rotl(x, r): return ((x << r) | (x >> (64 - r))) & M
def rnd(acc, v): return (rotl((acc + v * P2) & M, 31) * P1) & M
def merge(h, v): return ((h ^ rnd(0, v)) * P1 + P4) & M
def xxh64(b, seed=0):
    n, i = len(b), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], struct.unpack_from('<Q', b, i + 8 * k)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for k in range(4):
            h = merge(h, v[k])
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, struct.unpack_from('<Q', b, i)[0]), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (struct.unpack_from('<I', b, i)[0] * P1 & M), 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = (rotl(h ^ (b[i] * P5 & M), 11) * P1) & M
        i += 1
    h ^= h >> 33; h = h * P2 & M; h ^= h >> 29; h = h * P3 & M; h ^= h >> 32
    return h
assert xxh64(b'') == 0xEF46DB3751D8E999 and xxh64(b'a') == 0xD24EC4F1A98C6E5B
assert xxh64(b'abc') == 0x44BC2CF5AD770999

def keys_for(pidx, npart, n):
    out, i = [], 0
    while len(out) < n:
        k = 'rp%d-%d' % (pidx, i)
        if xxh64(k.encode()) % npart == pidx:
            out.append(k)
        i += 1
    return out

if sys.argv[1] == 'keys':          # keys PIDX PARTITIONS N
    print(' '.join(keys_for(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))))
    sys.exit(0)
# probe ADMIN META APP TIMEOUT_MS VALUE_SIZE OUT STOP KEY...
admin, meta, app, tmo, vsize, out, stop = sys.argv[2:9]
keys = sys.argv[9:]
p = subprocess.Popen([admin, '-m', meta, '-a', app, '-t', tmo, '--keep-going'],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                     text=True, bufsize=1)
f = open(out, 'w', buffering=1)
other = open(out + '.other', 'w', buffering=1)
n = 0
while not os.path.exists(stop):
    n += 1
    val = ('%0' + vsize + 'd') % n
    t0 = time.time()
    p.stdin.write('set %s s %s\n' % (keys[n % len(keys)], val))
    p.stdin.flush()
    while True:
        line = p.stdout.readline()
        if not line:
            sys.exit('probe: admin-cli exited')
        line = line.strip()
        if line == 'OK' or line.startswith('error:'):
            break
        other.write('%.1f %s\n' % (time.time() * 1000, line))
    f.write('%.1f %.1f %d\n' % (t0 * 1000, time.time() * 1000, line == 'OK'))
    if line != 'OK':
        other.write('%.1f %s\n' % (time.time() * 1000, line))
p.stdin.write('exit\n')
p.stdin.close()
p.wait()
PY

# probe_ok_count FILE: successful probe writes so far.
probe_ok_count() { awk '$3 == 1 { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
_probe_has_ok() { [ "$(probe_ok_count "$1")" -ge "$2" ]; }
# _probe_ok_after FILE T_MS: a successful probe write was sent at or after T_MS.
_probe_ok_after() { awk -v t="$2" '$3 == 1 && $1 >= t { f = 1 } END { exit !f }' "$1"; }

# ---------------------------------------------------------------- cluster

zk_start
cluster_config c1 "$(meta_list 1)"
cluster_set "replica_server.beacon_interval_ms=$BEACON_MS" "meta_server.lease_ms=$LEASE_MS" \
  "meta_server.node_grace_ms=$GRACE_MS" "meta_server.add_secondary_delay_ms=$ADD_SECONDARY_DELAY_MS" \
  replication.group_check_interval_ms=200 meta_server.balancer_interval_ms=600000 \
  replication.plog_fsync=always
meta_start 1
wait_for "a meta leader" 30 meta_leader
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60
admin create rb1 -p "$PARTITIONS" -r 1 >/dev/null || fail "create rb1"
admin create rb3 -p "$PARTITIONS" -r 3 >/dev/null || fail "create rb3"
wait_for "3 replicas in every partition of rb3" 60 partitions_have rb3 3
GB=(--threads "$THREADS" --inflight "$INFLIGHT" --value-size "$VALUE_SIZE")
for app in rb1 rb3; do # warm-up, not measured
  bench -a "$app" --op set --count "$KEYSPACE" --seed 9 --duration 1 "${GB[@]}" >/dev/null ||
    fail "warm-up on $app"
done

# The etcd peer: 3 members, each with its own data dir, client and peer port.
ETCD_PIDS=() ETCD_EPS=() ETCD_PEERS=()
for i in 1 2 3; do
  ETCD_EPS+=("127.0.0.1:$(free_port)") ETCD_PEERS+=("e$i=http://127.0.0.1:$(free_port)")
done
ETCD_CLUSTER=$(IFS=,; echo "${ETCD_PEERS[*]}")
for i in 1 2 3; do
  peer_url=${ETCD_PEERS[i - 1]#*=}
  geokv_spawn "$ITEST_DIR/pids/etcd$i.pid" "$ITEST_DIR/logs/etcd$i.log" \
    etcd --name "e$i" --data-dir "$ITEST_DIR/etcd$i" \
    --listen-client-urls "http://${ETCD_EPS[i - 1]}" --advertise-client-urls "http://${ETCD_EPS[i - 1]}" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new \
    --initial-cluster-token geokv-bench --logger zap --log-level warn
  ETCD_PIDS+=("$GEOKV_SPAWNED_PID")
done
_etcd_leader() {
  ETCD_LEADER=$(ETCDCTL_API=3 etcdctl --endpoints "$(IFS=,; echo "${ETCD_EPS[*]}")" \
    endpoint status 2>/dev/null | awk -F', ' '$5 == "true" { print $1 }')
  [ -n "$ETCD_LEADER" ]
}
wait_for "an etcd leader" 60 _etcd_leader
_etcd_leader || fail "etcd lost its leader at start"
GEOKV etcd "$ST/g.out" --duration 1 --count "$KEYSPACE" --seed 9 --value-size "$VALUE_SIZE" \
  --inflight "$((THREADS * INFLIGHT))" >/dev/null # warm-up, not measured

SETTINGS="beacon_interval_ms=$BEACON_MS lease_ms=$LEASE_MS node_grace_ms=$GRACE_MS add_secondary_delay_ms=$ADD_SECONDARY_DELAY_MS group_check_interval_ms=200"
say "geokv replication benchmark: 1 meta + 3 replica servers, tables rb1 (replica_count 1) and" \
    "rb3 (replica_count 3), $PARTITIONS partitions each, plog_fsync=always, value ${VALUE_SIZE} B," \
    "$((THREADS * INFLIGHT)) in flight (--threads $THREADS --inflight $INFLIGHT);" \
    "$TRIALS trials x ${TRIAL_S}s, $RUNS recovery runs; $(nproc) cores"
say "failure detection: $SETTINGS (balancer off)"
say "peer: etcd $(etcd --version | awk '/^etcd Version/ { print $3 }'), 3 members (pids ${ETCD_PIDS[*]}), leader $ETCD_LEADER"
say "temp dir $ITEST_DIR (KEEP=1 keeps it)"
admin nodes
admin app rb3

# ---------------------------------------------------------------- 1. throughput rc1 vs rc3

say ""
say "== 1. set throughput, replica_count 1 vs 3 vs etcd"
S1=() S1_CPU=() S3=() S3_CPU=() SE=() SE_CPU=() SE_P99=() S3_P99=()
EB=(--count "$KEYSPACE" --value-size "$VALUE_SIZE" --inflight "$((THREADS * INFLIGHT))")
set_rc1() {
  GEOKV rb1 "$ST/g.out" --op set --count "$KEYSPACE" --seed 1 --duration "$TRIAL_S" "${GB[@]}"
  S1+=("$G_OPS_S") S1_CPU+=("$G_CPU")
}
set_rc3() {
  GEOKV rb3 "$ST/g.out" --op set --count "$KEYSPACE" --seed 1 --duration "$TRIAL_S" "${GB[@]}"
  S3+=("$G_OPS_S") S3_CPU+=("$G_CPU") S3_P99+=("$G_P99")
}
set_etcd() {
  GEOKV etcd "$ST/g.out" --seed 1 --duration "$TRIAL_S" "${EB[@]}"
  SE+=("$G_OPS_S") SE_CPU+=("$G_CPU") SE_P99+=("$G_P99")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" set_rc1 set_rc3 set_etcd
done
PEAK1=$(median "${S1[@]}")
PEAK3=$(median "${S3[@]}")
PEAKE=$(median "${SE[@]}")
HALF_RATE=$(awk -v p="$PEAK3" 'BEGIN { printf "%d\n", p / 2 }')
ETCD_HALF=$(awk -v p="$PEAKE" 'BEGIN { printf "%d\n", (p >= 2 ? p / 2 : 1) }')

# ---------------------------------------------------------------- 2. p99 at half the rc3 peak

say ""
say "== 2. p99 set latency at half the replica_count 3 peak: --rate $HALF_RATE (open loop)"
R3_P99=() R3_OPS=() R3_CPU=() R1_P99=()
rate_rc3() {
  GEOKV rb3 "$ST/g.out" --op set --count "$KEYSPACE" --seed 3 --duration "$TRIAL_S" \
    --rate "$HALF_RATE" "${GB[@]}"
  R3_P99+=("$G_P99") R3_OPS+=("$G_OPS_S") R3_CPU+=("$G_CPU")
}
rate_rc1() {
  GEOKV rb1 "$ST/g.out" --op set --count "$KEYSPACE" --seed 3 --duration "$TRIAL_S" \
    --rate "$HALF_RATE" "${GB[@]}"
  R1_P99+=("$G_P99")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" rate_rc3 rate_rc1
done

say ""
say "== 2b. p99 set latency of replica_count 3 and of etcd, both at half etcd's peak: $ETCD_HALF/s"
E3_P99=() EE_P99=()
etcd_rate_rc3() {
  GEOKV rb3 "$ST/g.out" --op set --count "$KEYSPACE" --seed 4 --duration "$TRIAL_S" \
    --rate "$ETCD_HALF" "${GB[@]}"
  E3_P99+=("$G_P99")
}
etcd_rate_etcd() {
  GEOKV etcd "$ST/g.out" --seed 4 --duration "$TRIAL_S" --rate "$ETCD_HALF" "${EB[@]}"
  EE_P99+=("$G_P99")
}
for ((t = 1; t <= TRIALS; t++)); do
  say "trial $t/$TRIALS"
  trial_rotate "$t" etcd_rate_rc3 etcd_rate_etcd
done
for pid in "${ETCD_PIDS[@]}"; do geokv_stop_pid "$pid" 10 etcd; done # not needed any more

# ---------------------------------------------------------------- 3. recovery

say ""
say "== 3. recovery: kill -9 of a partition's primary -> first successful write to that partition"
say "   (rb1 dropped first: a replica_count 1 table has nothing to fail over to)"
admin drop rb1 >/dev/null || fail "drop rb1"
REC=() REC_DETAIL=()
for ((r = 1; r <= RUNS; r++)); do
  pidx=$(( (r - 1) % PARTITIONS ))
  wait_for "3 replicas in every partition of rb3" 120 partitions_have rb3 3
  primary=$(partition_field rb3 "$pidx" 3) || fail "no line for partition $pidx in admin app rb3"
  ballot0=$(partition_field rb3 "$pidx" 2)
  victim=$(replica_index "$primary") || fail "primary $primary of rb3.$pidx is not one of ours"
  read -r -a keys < <(python3 "$ST/probe.py" keys "$pidx" "$PARTITIONS" 4)
  out="$ST/probe.$r" stop="$ST/probe.$r.stop"
  python3 "$ST/probe.py" probe "$GEOKV_BIN/admin-cli" "$META_LIST" rb3 "$PROBE_TIMEOUT_MS" \
    "$VALUE_SIZE" "$out" "$stop" "${keys[@]}" 2>"$ST/probe.$r.err" &
  probe_pid=$!
  wait_for "probe writes to rb3.$pidx" 30 _probe_has_ok "$out" 50
  sleep 1
  t_kill=$(geokv_now_ms)
  replica_kill9 "$victim"
  t_dead=$(geokv_now_ms)
  wait_for "a write to rb3.$pidx after the kill" 120 _probe_ok_after "$out" "$t_dead"
  touch "$stop"
  wait "$probe_pid" || fail "probe failed: $(cat "$ST/probe.$r.err")"
  read -r ms failed < <(awk -v k="$t_kill" -v d="$t_dead" '
    $3 == 1 && $1 >= d && !done { ms = $2 - k; done = 1 }
    $3 == 0 && $2 >= k && !done { failed++ }
    END { printf "%.0f %d\n", ms, failed }' "$out")
  [ "$failed" -gt 0 ] || fail "run $r: no probe write failed after the kill: keys ${keys[*]} do not route to rb3.$pidx?"
  primary1=$(partition_field rb3 "$pidx" 3 || echo "?")
  ballot1=$(partition_field rb3 "$pidx" 2 || echo "?")
  t_restart=$(geokv_now_ms)
  replica_start "$victim"
  wait_for "3 replicas in every partition of rb3 after the restart" 180 partitions_have rb3 3
  back=$(( $(geokv_now_ms) - t_restart ))
  REC+=("$ms")
  REC_DETAIL+=("run $r: rb3.$pidx primary $primary (replica $victim, ballot $ballot0) killed: first write after $ms ms ($failed probe writes failed), new primary $primary1 (ballot $ballot1); restarted, all partitions at 3 replicas $back ms later")
  say "  ${REC_DETAIL[-1]}"
done
wait_for "replicas of rb3 to converge" 60 converged rb3
CONVERGED=yes

# ---------------------------------------------------------------- results

RATIO=$(ratio "$PEAK3" "$PEAK1") RATIO_E=$(ratio "$PEAK3" "$PEAKE")
P99=$(median "${R3_P99[@]}")
P99_3E=$(median "${E3_P99[@]}") P99_E=$(median "${EE_P99[@]}")
P99_RATIO=$(ratio "$P99_3E" "$P99_E")
REC_MED=$(median "${REC[@]}")
CPU3=$(median "${S3_CPU[@]}") CPUE=$(median "${SE_CPU[@]}")
say ""
say "== results: medians ($TRIALS trials x ${TRIAL_S}s; $RUNS recovery runs; 100 B values, $((THREADS * INFLIGHT)) in flight)"
result_header
result_row "set ops/s, rf=3 / rf=1" "$PEAK3/s" "$PEAK1/s" "$RATIO" ">= 0.5" \
  "$(verdict_ratio "$PEAK3" ">=" 0.5 "$PEAK1")"
result_row "set ops/s, rf=3 / 3-member etcd" "$PEAK3/s" "$PEAKE/s" "$RATIO_E" ">= 3" \
  "$(verdict_ratio "$PEAK3" ">=" 3 "$PEAKE")"
result_row "set p99, rf=3, at half its peak ($HALF_RATE/s)" "$(ms "$P99")" "" "" "<= 5 ms" \
  "$(verdict "$P99" "<=" "$P99_TARGET_US")"
result_row "set p99, rf=3 / etcd, both at $ETCD_HALF/s" "$(ms "$P99_3E")" "$(ms "$P99_E")" "$P99_RATIO" \
  "< 1" "$(awk -v a="$P99_3E" -v b="$P99_E" 'BEGIN { print (a < b ? "PASS" : "MISS") }')"
result_row "server CPU per set, rf=3 / etcd (3 servers each)" "$CPU3 us" "$CPUE us" \
  "$(ratio "$CPU3" "$CPUE")" "" ""
result_row "recovery, kill -9 primary -> first write" "$REC_MED ms" "" "" "<= $RECOVERY_TARGET_MS ms" \
  "$(verdict "$REC_MED" "<=" "$RECOVERY_TARGET_MS")"
say ""
say "failure detection settings: $SETTINGS; recovery target = grace + 2000 ms"
say "recovery = ms from kill -9 of the partition's primary to the completion of the first"
say "  successful write to that partition (a probe writing only keys of that partition, one"
say "  call at a time, ${PROBE_TIMEOUT_MS} ms per call) that was sent after the server was dead"
say "per-trial figures:"
say "  set rc1 ops/s: ${S1[*]}   (replicas' CPU-us/op median $(median "${S1_CPU[@]}"))"
say "  set rc3 ops/s: ${S3[*]}   (replicas' CPU-us/op median $(median "${S3_CPU[@]}"); p99 us ${S3_P99[*]})"
say "  set etcd ops/s: ${SE[*]}   (members' CPU-us/op median $(median "${SE_CPU[@]}"); p99 us ${SE_P99[*]})"
say "  at --rate $ETCD_HALF: rc3 p99 us ${E3_P99[*]}; etcd p99 us ${EE_P99[*]}"
say "  rc3 at --rate $HALF_RATE: p99 us ${R3_P99[*]}; achieved ops/s ${R3_OPS[*]}; CPU-us/op median $(median "${R3_CPU[@]}")"
say "  rc1 at --rate $HALF_RATE (reference): p99 us ${R1_P99[*]} (median $(median "${R1_P99[@]}"))"
say "  recovery ms: ${REC[*]}"
for d in "${REC_DETAIL[@]}"; do say "    $d"; done
say "  replicas of rb3 converged after the runs: $CONVERGED"
