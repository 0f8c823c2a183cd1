#!/usr/bin/env bash
# A rolling restart of a whole cluster under a write load loses no acknowledged write and
# fails no write past its retry budget (docs/deploy.md, "Rolling restart and upgrade").
#
# One ZooKeeper, 2 geokv-meta, 3 geokv-replica, table t1 with 8 partitions of 3 replicas, the
# default failure-detection settings (node_grace_ms 10 s, secondary_ack_timeout_ms 10 s,
# add_secondary_delay_ms 20 s). geokv-bench writes at a fixed rate the whole time and logs
# every acknowledged write (--ack-log); each write has RETRY_BUDGET_MS for all its retries.
# Each replica server, then each meta server (the follower first, the leader last), is stopped
# with SIGTERM (by pid; it must exit 0 on its own, no SIGKILL) and started again, one at a
# time, and the test waits until the cluster is healthy again (cluster_healthy) and the load
# has gone on writing before it takes the next. The replica servers stay down for different
# times, as upgrades do:
#   replica 1  started again at once;
#   replica 2  started again once clients notice it is gone (writes stall: with 3 servers
#              and 3 replicas every partition has a member on it);
#   replica 3  started again only after the meta declared it dead and dropped it from every
#              partition (past node_grace_ms): it comes back as a learner and rejoins.
# Finally the load is stopped (SIGTERM: the writes in flight complete) and:
#   - it made many acknowledged writes (at least half its schedule) and none failed;
#   - every acknowledged write reads back with its value (geokv-bench --op verify --ack-log);
#   - every replica of every partition ends with the same digest (admin-cli digest).
# shellcheck disable=SC2317 # the helpers below run through wait_for and restart_step
. "$(dirname "$0")/lib.sh"
itest_begin rolling_restart
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench

APP=t1
PARTITIONS=8
RATE=400              # writes per second, over all bench threads
RETRY_BUDGET_MS=20000 # each write's deadline, retries included (2 x node_grace_ms)
STOP_TIMEOUT_S=60     # a SIGTERM'd server must have exited by then
HEALTHY_TIMEOUT_S=150 # after a restart, the cluster must be healthy again by then
BENCH_OUT="$ITEST_DIR/logs/load.log"
ACK="$ITEST_DIR/state/ack.log"
STEPS="$ITEST_DIR/state/steps"
: >"$STEPS"

zk_start
cluster_up c1 2 3
admin create "$APP" -p "$PARTITIONS" -r 3 >/dev/null || fail "create $APP"

# ---------------------------------------------------------------- health

CONFIG="$ITEST_DIR/c1/config.ini"
# _admin ARGS...: admin-cli signed with the cluster's keys, not logged (for polling).
_admin() { timeout 20 "$GEOKV_BIN/admin-cli" -m "$META_LIST" -c "$CONFIG" "$@"; }

# Each check below prints, when it fails, a one-line reason and then the details.

# app_full: `admin-cli app` lists, for every partition, a primary and 2 secondaries; prints
# the table (pidx ballot primary secondaries) so callers can compare two snapshots.
app_full() {
  local out
  out=$(_admin app "$APP" 2>&1) || { printf 'admin-cli app failed\n%s\n' "$out"; return 1; }
  awk -v want="$PARTITIONS" '
    /^[0-9]+ / { n++; sec = ($4 == "-") ? 0 : split($4, a, ",");
                 if ($3 == "-" || sec != 2) { bad++; short = short " " $1 }
                 rows = rows $1 " " $2 " " $3 " " $4 "\n" }
    END { if (n == want && bad == 0) { printf "%s", rows; exit 0 }
          printf "partitions short of replicas:%s (%d of %d listed)\n%s", short, n, want, rows
          exit 1 }' <<<"$out"
}

# digest_answered: every member of every partition answers a digest (its replica is open);
# the digests themselves differ while writes go on.
digest_answered() {
  local out rows
  out=$(_admin digest "$APP" 2>&1) || true
  rows=$(grep -cE '^[0-9]+ +[0-9.:]+ +(primary|secondary) +[0-9]' <<<"$out") || true
  if grep -qE "unreachable|no primary" <<<"$out" || ! grep -q '^converged: ' <<<"$out" ||
    [ "$rows" -ne $((PARTITIONS * 3)) ]; then
    printf 'digest: %s of %s replicas answered\n%s\n' "$rows" $((PARTITIONS * 3)) "$out"
    return 1
  fi
}

# probe_writes: 200 writes spread over every partition (another key range than the load), each
# with a 3 s deadline, all succeed: every primary serves and every member takes prepares
# (a write commits only once every member logged it).
probe_writes() {
  local out
  out=$(timeout 60 "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$APP" --op set --count 200 \
    --seed 999 --threads 1 --inflight 16 --value-size 10 --timeout-ms 3000 2>&1) || true
  if ! grep -q '^errors: 0$' <<<"$out" || ! grep -q '^ok: 200$' <<<"$out"; then
    printf 'probe writes: %s of 200 ok\n%s\n' "$(sed -n 's/^ok: //p' <<<"$out")" "$out"
    return 1
  fi
}

# cluster_healthy: the state a rolling restart waits for before the next server
# (docs/deploy.md, "Rolling restart and upgrade"):
#  1. `admin-cli nodes`: the 3 replica servers ALIVE;
#  2. `admin-cli app t1`: every partition has a primary and 2 secondaries;
#  3. `admin-cli digest t1`: every one of those replicas answers;
#  4. 200 probe writes over every partition succeed;
#  5. `admin-cli app t1` again: the same primaries, secondaries and ballots as in 2, so no
#     member was dropped or moved while 3 and 4 ran.
# Right after a quick restart the configuration still lists the restarted server (the meta
# never noticed it was gone), so 1 and 2 alone prove nothing; 3 and 4 show that it serves.
cluster_healthy() {
  local before after n
  n=$(nodes_alive)
  [ "$n" -eq 3 ] || { echo "alive replica servers: $n of 3"; return 1; }
  before=$(app_full) || { echo "$before"; return 1; }
  digest_answered || return 1
  probe_writes || return 1
  after=$(app_full) || { echo "$after"; return 1; }
  if [ "$before" != "$after" ]; then
    printf 'the configuration changed while checking\n%s\n--\n%s\n' "$before" "$after"
    return 1
  fi
}

# wait_healthy WHAT: polls cluster_healthy until it holds (deadline HEALTHY_TIMEOUT_S), logging
# each new reason it does not yet.
wait_healthy() {
  local t0 deadline out reason last=""
  t0=$(geokv_now_ms)
  deadline=$((t0 + HEALTHY_TIMEOUT_S * 1000))
  until out=$(cluster_healthy 2>&1); do
    reason=$(head -n1 <<<"$out")
    if [ "$reason" != "$last" ]; then
      itest_log "  not healthy yet: $reason"
      last=$reason
    fi
    if [ "$(geokv_now_ms)" -ge "$deadline" ]; then
      printf '%s\n' "$out" >&2
      fail "not healthy ${HEALTHY_TIMEOUT_S}s after $1"
    fi
    sleep 0.5
  done
  itest_log "healthy again $(($(geokv_now_ms) - t0)) ms after $1"
}

# ---------------------------------------------------------------- the load

load_running() { geokv_pid_alive "$LOAD_PID"; }

# load_wrote INDEX: record INDEX of the load (hash_key b7-INDEX, sort_key s) reads back.
load_wrote() {
  local out
  out=$(_admin -a "$APP" get "b7-$1" s 2>&1) || { echo "$out"; return 1; }
  if [ -z "$out" ] || [ "$out" = "not found" ]; then
    echo "b7-$1: ${out:-no output}"
    return 1
  fi
}

# wait_load_progress: the load goes on writing: the record it was scheduled to write one
# second from now reads back (the schedule is record n at n / RATE s after its start).
wait_load_progress() {
  local target
  target=$((RATE * ($(geokv_now_ms) - load_t0) / 1000 + RATE))
  load_running || fail "the write load ended: $(cat "$BENCH_OUT")"
  wait_for "the write load to write record $target ($1)" 60 load_wrote "$target"
}

wait_healthy "create"
load_t0=$(geokv_now_ms)
geokv_spawn "$ITEST_DIR/pids/load.pid" "$BENCH_OUT" \
  "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$APP" --op set --count 100000000 --seed 7 \
  --threads 2 --inflight 16 --value-size 100 --rate "$RATE" --duration 3600 \
  --timeout-ms "$RETRY_BUDGET_MS" --ack-log "$ACK"
LOAD_PID=$GEOKV_SPAWNED_PID
itest_log "write load started (pid $LOAD_PID, $RATE writes/s, retry budget $RETRY_BUDGET_MS ms)"
wait_load_progress "start"

# ---------------------------------------------------------------- the rolling restart

# stop_clean NAME PID: SIGTERM, then waits (deadline) until PID exits; it must exit 0 (a clean
# shutdown) on its own.
stop_clean() {
  local name="$1" pid="$2" t0 rc=0
  t0=$(geokv_now_ms)
  itest_log "SIGTERM $name (pid $pid)"
  kill -TERM "$pid"
  geokv_wait_dead "$pid" "$STOP_TIMEOUT_S" ||
    fail "$name (pid $pid) still runs ${STOP_TIMEOUT_S}s after SIGTERM"
  wait "$pid" || rc=$?
  rm -f "$ITEST_DIR/pids/$name.pid"
  [ "$rc" -eq 0 ] || fail "$name exited with status $rc after SIGTERM (want 0: a clean stop)"
  itest_log "$name stopped cleanly in $(($(geokv_now_ms) - t0)) ms"
}

# writes_stall: a probe write with a 1 s deadline fails (a replica server is gone and the
# partitions it is a member of wait for it).
writes_stall() { ! probe_writes_quick; }
probe_writes_quick() {
  timeout 30 "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$APP" --op set --count 50 --seed 998 \
    --threads 1 --inflight 16 --value-size 10 --timeout-ms 1000 2>&1 | grep -q '^errors: 0$'
}

# dropped_everywhere ADDR: the meta lists ADDR as DEAD and in no partition.
dropped_everywhere() {
  local nodes app
  nodes=$(_admin nodes 2>&1) || { echo "$nodes"; return 1; }
  app=$(_admin app "$APP" 2>&1) || { echo "$app"; return 1; }
  grep -F "$1" <<<"$nodes" | grep -q DEAD || { echo "$nodes"; return 1; }
  ! grep -qF "$1" <<<"$app" || { echo "$app"; return 1; }
}

# restart_step replica|meta I [now|stall|dead]: one server of the rolling restart.
restart_step() {
  local kind="$1" i="$2" hold="${3:-now}" pid t0
  load_running || fail "the write load ended before the restart of $kind $i: $(cat "$BENCH_OUT")"
  t0=$(geokv_now_ms)
  pid=$("${kind}_pid" "$i") || fail "$kind $i is not running"
  stop_clean "c1-$kind$i" "$pid"
  case "$hold" in
    now) ;;
    stall) wait_for "writes to stall without replica $i" 30 writes_stall ;;
    dead) wait_for "the meta to drop replica $i from every partition" 60 \
            dropped_everywhere "$(replica_addr "$i")" ;;
  esac
  [ "$hold" = now ] || itest_log "$kind $i held down $(($(geokv_now_ms) - t0)) ms ($hold)"
  "${kind}_start" "$i"
  if [ "$kind" = meta ]; then
    # the restarted meta knows the leader (it is connected to ZooKeeper again)
    wait_for "meta $i to know the leader" 60 \
      timeout 10 "$GEOKV_BIN/admin-cli" -m "$(meta_addr "$i")" leader
  fi
  wait_healthy "the restart of $kind $i"
  echo "$kind $i $hold $(($(geokv_now_ms) - t0))" >>"$STEPS"
  wait_load_progress "after the restart of $kind $i"
}

restart_step replica 1 now
restart_step replica 2 stall
restart_step replica 3 dead
leader=$(meta_leader) || fail "no meta leader"
follower=$((3 - leader))
itest_log "meta $leader leads: restarting meta $follower first, then the leader"
restart_step meta "$follower"
restart_step meta "$leader"
new_leader=$(meta_leader) || fail "no meta leader after the restarts"
itest_log "meta $new_leader leads after the restarts"

# ---------------------------------------------------------------- checks

load_running || fail "the write load ended before the restarts were done: $(cat "$BENCH_OUT")"
load_ms=$(($(geokv_now_ms) - load_t0))
itest_log "stopping the write load (SIGTERM: in-flight writes complete or time out)"
kill -TERM "$LOAD_PID"
geokv_wait_dead "$LOAD_PID" $((RETRY_BUDGET_MS / 1000 + 30)) || fail "the write load did not stop"
load_rc=0
wait "$LOAD_PID" || load_rc=$?
rm -f "$ITEST_DIR/pids/load.pid"
load_out=$(cat "$BENCH_OUT")
value() { grep -E "^$1: " <<<"$load_out" | tail -n1 | awk '{print $2}'; }
acked=$(value acked)
unacked=$(value unacked)
[ "$load_rc" -eq 0 ] || fail "the write load exited with status $load_rc: $load_out"
if [ -z "$acked" ] || [ -z "$unacked" ]; then
  fail "no acked/unacked counts in the load's output: $load_out"
fi
schedule=$((RATE * load_ms / 1000))
itest_log "load: $acked writes acknowledged, $unacked failed, in $((load_ms / 1000)) s" \
  "(schedule $schedule), max latency $(value lat_max_us) us, p99 $(value lat_p99_us) us"
[ "$unacked" -eq 0 ] || fail "$unacked writes failed past their retry budget ($RETRY_BUDGET_MS ms): $load_out"
[ "$acked" -gt 0 ] || fail "the load made no successful write: $load_out"
[ "$acked" -ge $((schedule / 2)) ] ||
  fail "the load made only $acked writes in $((load_ms / 1000)) s (schedule: $schedule): $load_out"
distinct=$(sort -u "$ACK" | wc -l)

out=$(bench -a "$APP" --op verify --ack-log "$ACK" --seed 7 --value-size 100 --threads 2 \
  --inflight 16 --timeout-ms 10000) || fail "verify: acknowledged writes missing or wrong: $out"
found=$(grep -E '^found: ' <<<"$out" | awk '{print $2}')
[ "$found" = "$distinct" ] || fail "verify found $found of $distinct acknowledged records: $out"
if ! grep -q '^missing: 0$' <<<"$out" || ! grep -q '^wrong: 0$' <<<"$out"; then
  fail "verify: $out"
fi
itest_log "every acknowledged write reads back ($found records)"

digests_converged() { _admin digest "$APP" | grep -q '^converged: yes$'; }
wait_for "the replicas' digests to converge" 60 digests_converged
itest_log "replicas converged: $(_admin digest "$APP" | grep -cE ' (primary|secondary) ') replicas agree"

while read -r kind i hold ms; do
  itest_log "restart of $kind $i ($hold): stopped, started and healthy again in $ms ms"
done <"$STEPS"
itest_pass
