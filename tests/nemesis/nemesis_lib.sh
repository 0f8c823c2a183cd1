#!/usr/bin/env bash
# tests/nemesis/nemesis_lib.sh — the fault-injection ("nemesis") suite's harness, on top of
# tests/integration/lib.sh. A case:
#
#   . "$(dirname "$0")/nemesis_lib.sh"
#   nemesis_begin restart_in_grace 101 30     # name, its CI seed, seconds of faults in CI
#   ...start clusters (lib.sh), create tables...
#   load_start t1 w                           # geokv-nemesis run in the background
#   while nemesis_running; do fault_kill9 "$(nemesis_pick 3)" 0; nemesis_sleep 2 6; done
#   load_wait
#   check_all t1                              # converged replicas, every history checked,
#                                             # and again after one more failover
#
# Every case runs in a network namespace of its own (created here, deleted at exit), with
# ITEST_HOSTS=1: every server has its own 127.K.x.I address and sends from it, so iptables
# rules in the namespace cut links between two servers or two clusters without touching the
# host. The seed drives every random choice of the case (nemesis_pick) and of the load
# (geokv-nemesis --seed); NEMESIS_SEED=S NEMESIS_SECONDS=N replay or lengthen a case. Every
# fault is logged with its time to the schedule, printed with the seed when the case fails.
#
# Faults: fault_kill9 I DELAY_S (0 = restart at once, inside the grace period),
# fault_pause I SECONDS (SIGSTOP past the lease), fault_meta_leader_kill, fault_link_cut
# HOST_A HOST_B one|both and fault_link_heal, fault_clusters_cut / fault_clusters_heal,
# fault_clock_restart I OFFSET (libfaketime), fault_fsync_errors I (fsync fails from a
# point on: the server must stop, never acknowledge), replica_on_small_fs I MB (a tmpfs data
# dir that fills up). Checkers: check_converged, check_histories, check_all.

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../integration/repl_lib.sh"

NEMESIS_FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
NEMESIS_END_MS=0

# nemesis_begin NAME SEED SECONDS: enters a fresh network namespace (re-running the case in
# it), then starts the test (itest_begin) and the fault clock.
nemesis_begin() {
  local name="$1"
  NEMESIS_SEED="${NEMESIS_SEED:-$2}"
  NEMESIS_SECONDS="${NEMESIS_SECONDS:-$3}"
  export NEMESIS_SEED NEMESIS_SECONDS
  if [ -z "${NEMESIS_NETNS:-}" ]; then
    _nemesis_enter_netns "$name"
  fi
  export ITEST_HOSTS=1
  ITEST_EXIT_HOOK=_nemesis_exit
  itest_begin "$name"
  itest_require_bins geokv-meta geokv-replica admin-cli geokv-nemesis
  command -v iptables >/dev/null || fail "iptables is not installed"
  echo "$NEMESIS_SEED" >"$ITEST_DIR/state/rng"
  : >"$ITEST_DIR/state/schedule"
  itest_log "seed $NEMESIS_SEED, $NEMESIS_SECONDS s of faults; replay: NEMESIS_SEED=$NEMESIS_SEED" \
    "NEMESIS_SECONDS=$NEMESIS_SECONDS bash $0"
}

# Re-runs the calling script inside a new network namespace with loopback up; the namespace
# is deleted when the script ends (the inner run deletes its name; the kernel frees it once
# its last process exits).
_nemesis_enter_netns() {
  local ns="geokv-$1-$$" rc=0
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  ip netns add "$ns" || fail "ip netns add $ns"
  ip netns exec "$ns" ip link set lo up || { ip netns del "$ns"; fail "lo up in $ns"; }
  NEMESIS_NETNS="$ns" ip netns exec "$ns" bash "$0" "$@" || rc=$?
  ip netns del "$ns" 2>/dev/null || true
  exit "$rc"
}

_nemesis_exit() {
  local rc="$1"
  _nemesis_unmount_all
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    printf '\n===== nemesis: seed %s, %s s; replay with NEMESIS_SEED=%s NEMESIS_SECONDS=%s =====\n' \
      "$NEMESIS_SEED" "$NEMESIS_SECONDS" "$NEMESIS_SEED" "$NEMESIS_SECONDS" >&2
    printf '===== fault schedule =====\n' >&2
    cat "$ITEST_DIR/state/schedule" >&2 2>/dev/null || true
  fi
}

# nemesis_pick N: a random number in 1..N, the next of the case's seeded sequence. The state
# lives in a file, not in bash's RANDOM, because picks are made in command substitutions:
# subshells reseed RANDOM, and their draws would not advance the parent's sequence.
nemesis_pick() {
  local s
  s=$(cat "$ITEST_DIR/state/rng")
  s=$(( (s * 1103515245 + 12345) % 2147483648 ))
  echo "$s" >"$ITEST_DIR/state/rng"
  echo $(( (s >> 16) % $1 + 1 ))
}

# nemesis_sleep MIN MAX: sleeps a random whole number of seconds in MIN..MAX.
nemesis_sleep() { sleep $(( $1 + $(nemesis_pick $(( $2 - $1 + 1 ))) - 1 )); }

# nemesis_start_clock: the fault phase lasts NEMESIS_SECONDS from now.
nemesis_start_clock() { NEMESIS_END_MS=$(( $(geokv_now_ms) + NEMESIS_SECONDS * 1000 )); }

# nemesis_running: true until the fault phase is over.
nemesis_running() { [ "$(geokv_now_ms)" -lt "$NEMESIS_END_MS" ]; }

# fault_log WHAT...: records a fault in the schedule (time since the start, cluster, what).
fault_log() {
  local t=$(( ($(geokv_now_ms) - ITEST_T0) / 1000 ))
  printf '+%ss [%s] %s\n' "$t" "${ITEST_CLUSTER:-}" "$*" >>"$ITEST_DIR/state/schedule"
  itest_log "fault: $*"
}

# ---------------------------------------------------------------- process faults

# fault_kill9 I DELAY_S: kill -9 replica server I of the current cluster, start it again after
# DELAY_S seconds (0: at once, well inside the meta's grace period).
fault_kill9() {
  fault_log "kill -9 replica $1, restart after ${2}s"
  replica_kill9 "$1"
  [ "$2" = 0 ] || sleep "$2"
  replica_start "$1"
}

# fault_pause I SECONDS: SIGSTOP replica server I for SECONDS (past its lease), then SIGCONT.
fault_pause() {
  fault_log "SIGSTOP replica $1 for ${2}s"
  replica_pause "$1"
  sleep "$2"
  replica_resume "$1"
}

# fault_meta_leader_kill: kill -9 the current cluster's meta leader and start it again.
fault_meta_leader_kill() {
  local leader
  leader=$(meta_leader) || { fault_log "meta leader kill skipped: no leader"; return 0; }
  fault_log "kill -9 meta leader $leader"
  meta_kill9 "$leader"
  meta_start "$leader"
}

# fault_clock_restart I OFFSET: restart replica server I (SIGTERM) with its wall clock moved
# by OFFSET (libfaketime syntax: -10m, +2h); the monotonic clock stays true.
fault_clock_restart() {
  fault_log "restart replica $1 with the wall clock at $2"
  replica_stop "$1"
  FAKETIME="$2" FAKETIME_DONT_FAKE_MONOTONIC=1 LD_PRELOAD="$NEMESIS_FAKETIME_LIB" \
    replica_start "$1"
}

# fault_fsync_errors I HIT: restart replica server I so that its plog fsyncs fail from the
# HIT-th one on (fail point plog_fsync_error); it must stop rather than acknowledge.
fault_fsync_errors() {
  fault_log "restart replica $1 with plog fsyncs failing from the ${2}th on"
  replica_stop "$1"
  GEOKV_FAILPOINTS="plog_fsync_error=$2-" replica_start "$1"
}


# ---------------------------------------------------------------- disks

# replica_on_small_fs I MB: replica server I of the current cluster keeps its data on a tmpfs
# of MB MiB (mounted now, before it starts; unmounted at exit).
replica_on_small_fs() {
  local dir
  dir=$(replica_data_dir "$1")
  mkdir -p "$dir"
  mount -t tmpfs -o "size=${2}m" "geokv-nemesis" "$dir" || fail "mount a ${2} MiB tmpfs on $dir"
  echo "$dir" >>"$ITEST_DIR/state/mounts"
  fault_log "replica $1 data on a ${2} MiB filesystem"
}

_nemesis_unmount_all() {
  local d
  [ -f "$ITEST_DIR/state/mounts" ] || return 0
  while IFS= read -r d; do umount -l "$d" 2>/dev/null || true; done <"$ITEST_DIR/state/mounts"
  rm -f "$ITEST_DIR/state/mounts"
}

# ---------------------------------------------------------------- network faults

# _rule -A|-D SRC DST: drops (or stops dropping) packets from SRC to DST (hosts or CIDRs).
_rule() {
  iptables -w "$1" INPUT -s "$2" -d "$3" -j DROP
}

# fault_link_cut A B one|both: packets from host A to host B are dropped (one), or both ways.
fault_link_cut() {
  fault_log "cut the link $1 -> $2${3:+ ($3)}"
  _rule -A "$1" "$2"
  [ "${3:-both}" = one ] || _rule -A "$2" "$1"
}

# fault_link_heal A B one|both: undoes fault_link_cut.
fault_link_heal() {
  fault_log "heal the link $1 -> $2${3:+ ($3)}"
  _rule -D "$1" "$2" 2>/dev/null || true
  [ "${3:-both}" = one ] || _rule -D "$2" "$1" 2>/dev/null || true
}

# cluster_net NAME: the address block of cluster NAME's servers (127.K.0.0/16).
cluster_net() { echo "127.$(cat "$ITEST_DIR/state/clusters/$1/ordinal").0.0/16"; }

# fault_clusters_cut A B / fault_clusters_heal A B: every link between clusters A and B.
fault_clusters_cut() { fault_link_cut "$(cluster_net "$1")" "$(cluster_net "$2")" both; }
fault_clusters_heal() { fault_link_heal "$(cluster_net "$1")" "$(cluster_net "$2")" both; }

# ---------------------------------------------------------------- clusters

# clusters_up NAME...: declares the clusters (each one's config names the others), then starts
# each with fast failure detection and duplication sync: one meta, three replica servers.
clusters_up() {
  local c i
  for c in "$@"; do cluster_config "$c" "$(meta_list 1)"; done
  for c in "$@"; do
    cluster_use "$c"
    repl_fast_settings
    cluster_set replication.dup_sync_interval_ms=200
    meta_start 1
    wait_for "a meta leader in $c" 30 meta_leader
    for i in 1 2 3; do replica_start "$i"; done
    wait_nodes 3 60
  done
}

# table_up APP PARTITIONS: creates APP with 3 replicas on the current cluster and waits until
# every partition has them.
table_up() {
  admin create "$1" -p "$2" -r 3 >/dev/null || fail "create $1 on $ITEST_CLUSTER"
  wait_for "$1 fully replicated on $ITEST_CLUSTER" 60 partitions_have "$1" 3
}

# same_dumps APP: bj and tj hold the same records of APP.
# Otherwise prints the first differing lines and each side's duplication progress.
same_dumps() {
  local c out key
  out=$(diff <(_cluster_admin bj dump "$1") <(_cluster_admin tj dump "$1")) && return 0
  printf 'bj (<) and tj (>) differ in %s lines; the first:\n' "$(grep -c '^[<>]' <<<"$out")"
  grep '^[<>]' <<<"$out" | head -20
  key=$(grep -m1 '^[<>]' <<<"$out" | cut -f1 | cut -c3-)
  echo "the last operations on hash key '$key' (by start time):"
  grep -h -F " $key " "$ITEST_DIR"/state/hist.* | sort -k5,5n | tail -40
  for c in bj tj; do
    echo "$c:"
    _cluster_admin "$c" app "$1"
    _cluster_admin "$c" -a "$1" dup list
  done
  return 1
}

# _cluster_admin NAME ARGS...: admin-cli against cluster NAME's metas.
_cluster_admin() {
  local c="$1"
  shift
  "$GEOKV_BIN/admin-cli" -m "$(cat "$ITEST_DIR/state/clusters/$c/metas")" "$@"
}

# ---------------------------------------------------------------- load

# load_start APP PREFIX [ARGS...]: geokv-nemesis run against APP on the current cluster for
# the fault phase plus a few seconds, history in state/hist.PREFIX (ARGS go to the tool).
load_start() {
  local app="$1" prefix="$2"
  shift 2
  "$GEOKV_BIN/geokv-nemesis" run -m "$META_LIST" -a "$app" --seed "$NEMESIS_SEED" \
    --prefix "$prefix" --duration $((NEMESIS_SECONDS + 5)) \
    --history "$ITEST_DIR/state/hist.$prefix" "$@" >"$ITEST_DIR/state/load.$prefix.out" 2>&1 &
  echo $! >"$ITEST_DIR/state/load.$prefix.pid"
  itest_log "load $prefix on $ITEST_CLUSTER/$app (pid $!)"
}

# load_wait PREFIX...: waits for those loads; fails if one made no successful operation or
# saw a read violation.
load_wait() {
  local p pid rc
  for p in "$@"; do
    pid=$(cat "$ITEST_DIR/state/load.$p.pid")
    rc=0
    wait "$pid" || rc=$?
    itest_log "load $p: $(tr '\n' ' ' <"$ITEST_DIR/state/load.$p.out" | tail -c 400)"
    [ "$rc" = 0 ] || fail "load $p failed (exit $rc): $(tail -n 30 "$ITEST_DIR/state/load.$p.out")"
  done
}

# bulk_start APP SEED [VALUE_SIZE]: a heavy write load next to the checked one (geokv-bench,
# 4 threads x 32 in flight, values of VALUE_SIZE bytes (100), every acknowledged write
# logged), for the fault phase. bulk_verify APP SEED [METAS]: every write it acknowledged
# is readable (on the cluster of METAS, default the current one).
bulk_start() {
  echo "${3:-100}" >"$ITEST_DIR/state/bulk.$2.vsize"
  "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$1" --op set --count 1000000 --seed "$2" \
    --threads 4 --inflight 32 --value-size "${3:-100}" --duration $((NEMESIS_SECONDS + 5)) \
    --timeout-ms 20000 --ack-log "$ITEST_DIR/state/bulk.$2.ack" >"$ITEST_DIR/state/bulk.$2.out" 2>&1 &
  echo $! >"$ITEST_DIR/state/bulk.$2.pid"
}
bulk_verify() {
  local out pid
  pid=$(cat "$ITEST_DIR/state/bulk.$2.pid")
  ! geokv_pid_alive "$pid" || wait "$pid" || true
  grep -qE '^ok: [1-9]' "$ITEST_DIR/state/bulk.$2.out" ||
    fail "the bulk load made no successful write: $(cat "$ITEST_DIR/state/bulk.$2.out")"
  out=$("$GEOKV_BIN/geokv-bench" -m "${3:-$META_LIST}" -a "$1" --op verify --seed "$2" \
    --value-size "$(cat "$ITEST_DIR/state/bulk.$2.vsize")" --ack-log "$ITEST_DIR/state/bulk.$2.ack" \
    --timeout-ms 30000 2>&1) || fail "acknowledged bulk writes lost: $out"
  itest_log "bulk load $2: $(grep -E '^(found|missing|wrong):' <<<"$out" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- checkers

# check_converged APP [TIMEOUT_S]: every partition's replicas reach the same last_committed and
# digest (admin-cli digest) within TIMEOUT_S (default 90).
check_converged() {
  wait_for "the replicas of $1 to converge ($ITEST_CLUSTER)" "${2:-90}" converged "$1"
}

# check_histories APP PREFIX...: dumps APP on every cluster given in NEMESIS_CLUSTERS (default:
# the current one) and checks the dumps against the histories (geokv-nemesis check).
check_histories() {
  local app="$1" c args=() out
  shift
  for p in "$@"; do args+=(--history "$ITEST_DIR/state/hist.$p"); done
  for c in ${NEMESIS_CLUSTERS:-$ITEST_CLUSTER}; do
    wait_for "a dump of $app on $c" 60 _dump_to "$c" "$app" "$ITEST_DIR/state/dump.$c"
    args+=(--dump "$ITEST_DIR/state/dump.$c")
  done
  [ -z "${NEMESIS_SAME_CLOCK:-}" ] || args+=(--same-clock)
  out=$("$GEOKV_BIN/geokv-nemesis" check "${args[@]}" 2>&1) ||
    fail "history check failed:
$(head -n 60 <<<"$out")"
  itest_log "history check: $(grep -E '^(keys_checked|ok_ops|violations|dumps_equal):' <<<"$out" | tr '\n' ' ')"
}

_dump_to() { _cluster_admin "$1" dump "$2" >"$3"; }

# _led_by_others APP ADDR: no partition of APP has ADDR as its primary.
_led_by_others() {
  ! "$GEOKV_BIN/admin-cli" -m "$META_LIST" app "$1" | awk '/^[0-9]+ / {print $3}' | grep -qx "$2"
}

# check_all APP PREFIX...: the end of every case, once the faults are healed: replicas
# converge, the histories hold on every cluster, and after one more failover (kill -9 of the
# server with the most primaries of the first cluster) they still hold.
check_all() {
  local app="$1" c victim
  shift
  for c in ${NEMESIS_CLUSTERS:-$ITEST_CLUSTER}; do
    cluster_use "$c"
    wait_for "every partition of $app fully replicated on $c" 120 partitions_have "$app" 3
    check_converged "$app"
  done
  check_histories "$app" "$@"
  [ -z "${NEMESIS_CLUSTERS:-}" ] || cluster_use "${NEMESIS_CLUSTERS%% *}"
  victim=$(most_primaries) || fail "no server holds a primary"
  fault_log "final failover: kill -9 replica $victim"
  replica_kill9 "$victim"
  wait_for "new primaries for $app" 60 _led_by_others "$app" "$(replica_addr "$victim")"
  check_histories "$app" "$@"
  replica_start "$victim"
}
