#!/usr/bin/env bash
# tests/integration/lib.sh — harness for the end-to-end tests tests/integration/test_*.sh.
# Each test is a bash script run by ctest (tests/integration/CMakeLists.txt) that starts real
# ZooKeeper, geokv-meta and geokv-replica processes on 127.0.0.1 in a temp dir:
#
#   . "$(dirname "$0")/lib.sh"
#   itest_begin my_test                 # temp dir, EXIT trap (kills everything, dumps logs)
#   zk_start                            # exports ZK_PORT
#   cluster_config c1 "$(meta_list 2)"  # config for cluster c1 with 2 metas on free ports
#   meta_start 1; meta_start 2
#   replica_start 1; replica_start 2; replica_start 3
#   wait_nodes 3 60
#   admin create t1 -p 8
#   bench -a t1 --op set --count 1000 --seed 1 --threads 2 --inflight 8 --value-size 100
#   replica_kill9 2; ...; replica_restart 2
#   itest_pass                          # optional; exiting 0 is a pass
#
# Or `cluster_up c1 2 3` for the config + starts + waits. Several clusters (duplication):
# `cluster_up src 1 3; cluster_up dst 1 3; cluster_use src` — each cluster's config lists the
# others in [pegasus.clusters] and all of them in [duplication-group]; meta_*/replica_*/admin/
# bench act on the current cluster. wait_for takes a command or function, not an expression:
# wrap conditions in a function (see meta_leader_is, _nodes_alive_is).
# Timeouts: the test's own watchdog sends SIGTERM after ITEST_TIMEOUT_S (540 s, under ctest's
# 600 s) so cleanup still runs; admin calls are limited to ADMIN_TIMEOUT_S (30 s), bench to
# BENCH_TIMEOUT_S (300 s).
#
# Contract with the binaries (found in $GEOKV_BIN, set by CMake; fallback $REPO/build/bin):
#   geokv-meta    -c CONFIG --address HOST:PORT [--set section.key=value ...]
#   geokv-replica -c CONFIG --address HOST:PORT --data-dir DIR [--set section.key=value ...]
#   admin-cli -m META_LIST [-a APP] COMMAND ARGS...   one shot, exit 0 on success
#     `nodes`  prints one line per replica server containing its HOST:PORT; a line for a server
#              that is not alive contains "unalive" or "dead" (case-insensitive)
#     `leader` prints a line containing the current meta leader's HOST:PORT (asked of any meta,
#              a follower included); exits non-zero if no leader is known
#   geokv-bench -m META_LIST -a APP --op set|get|verify ...
#
# Every server the test starts is recorded in $ITEST_DIR/pids/<name>.pid and its stdout and
# stderr go to $ITEST_DIR/logs/<name>.log. At exit the recorded ones get SIGTERM (SIGKILL after
# 10 s), then any other live descendant of the test shell (e.g. `bench ... &`) likewise.
# Nothing else is ever signalled.
# Env: KEEP=1 keeps the temp dir; ITEST_VERBOSE=1 echoes admin/bench commands.
# ITEST_HOSTS=1 (for tests that run in a network namespace of their own, tests/nemesis): every
# server gets its own loopback address, replica I of cluster K 127.K.0.I and meta I 127.K.1.I,
# so firewall rules can cut the link between two servers; ZooKeeper and the tools stay on
# 127.0.0.1. ITEST_EXIT_HOOK names a function the exit trap runs after every process ended
# (it gets the exit status).
# Exit codes: 0 pass, 77 skip (ctest SKIP_RETURN_CODE), anything else fail.

set -euo pipefail

ITEST_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$ITEST_LIB_DIR/../.." && pwd)"
# shellcheck source=deploy/proc.sh
. "$REPO/deploy/proc.sh"
# shellcheck source=deploy/zk.sh
. "$REPO/deploy/zk.sh"

GEOKV_BIN="${GEOKV_BIN:-$REPO/build/bin}"
ITEST_NAME=
ITEST_DIR=
ITEST_T0=0
ITEST_CLUSTER=
META_LIST=
META_ADDRS=()
ZK_PORT="${ZK_PORT:-}"

# ---------------------------------------------------------------- messages and control flow

itest_log() { printf '[%s %s] %s\n' "$(date '+%T.%3N')" "${ITEST_NAME:-itest}" "$*" >&2; }

# fail MSG: the test fails (exit 1; the EXIT trap dumps the logs).
fail() {
  printf '[%s %s] FAIL: %s\n' "$(date '+%T.%3N')" "${ITEST_NAME:-itest}" "$*" >&2
  exit 1
}

# skip MSG: the test is skipped (exit 77).
skip() {
  itest_log "SKIP: $*"
  exit 77
}

itest_pass() { exit 0; }

# wait_for DESC TIMEOUT_S CMD...: runs CMD every 0.2 s until it succeeds; fails the test with
# DESC (and CMD's last output) if TIMEOUT_S passes first. CMD's output is discarded on success.
wait_for() {
  local desc="$1" timeout_s="$2" deadline out=""
  shift 2
  deadline=$(( $(geokv_now_ms) + ${timeout_s%.*} * 1000 ))
  while :; do
    if out=$("$@" 2>&1); then
      return 0
    fi
    if [ "$(geokv_now_ms)" -ge "$deadline" ]; then
      [ -n "$out" ] && printf 'last output of [%s]:\n%s\n' "$*" "$out" >&2
      fail "timed out after ${timeout_s}s waiting for: $desc"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- test lifecycle

# itest_begin NAME: creates the test dir and installs the cleanup trap.
itest_begin() {
  ITEST_NAME="$1"
  ITEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/geokv-itest-$ITEST_NAME.XXXXXX")
  mkdir -p "$ITEST_DIR/pids" "$ITEST_DIR/logs" "$ITEST_DIR/state/clusters"
  : >"$ITEST_DIR/state/ports"
  ITEST_T0=$(geokv_now_ms)
  export ITEST_DIR
  trap _itest_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  itest_log "begin in $ITEST_DIR (binaries: $GEOKV_BIN)"
  _itest_watchdog "${ITEST_TIMEOUT_S:-540}"
}

# ctest's TIMEOUT (600 s) ends a test with SIGKILL, which skips the EXIT trap and leaves the
# temp dir behind; this watchdog sends SIGTERM to the test first, so the trap cleans up.
_itest_watchdog() {
  local timeout_s="$1" main=$$
  (
    sleep "$timeout_s" &
    spid=$!
    trap 'kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; exit 0' TERM
    wait "$spid" || exit 0
    printf '[%s %s] FAIL: still running after %ss (ITEST_TIMEOUT_S); terminating\n' \
      "$(date '+%T.%3N')" "$ITEST_NAME" "$timeout_s" >&2
    kill -TERM "$main"
  ) </dev/null &
  echo $! >"$ITEST_DIR/pids/watchdog.pid"
}

# itest_require_bins NAME...: fails unless every binary exists in $GEOKV_BIN.
itest_require_bins() {
  local b
  for b in "$@"; do
    [ -x "$GEOKV_BIN/$b" ] || fail "missing binary $GEOKV_BIN/$b (build first, or set GEOKV_BIN)"
  done
}

# _is_our_child PID: PID is alive and a child of this shell.
_is_our_child() {
  local ppid
  geokv_pid_alive "$1" || return 1
  ppid=$(sed -n 's/^.*) [A-Za-z] \([0-9]*\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$ppid" = "$$" ]
}

# Sends SIGCONT+SIGTERM to every recorded process, waits up to 10 s for all of them, then
# SIGKILLs the rest. Each pid must still be a child of this shell or have the test dir in its
# command line, so a recycled pid is never signalled.
_itest_kill_all() {
  local f pid deadline live=()
  for f in "$ITEST_DIR"/pids/*.pid "$ITEST_DIR"/zk/zk.pid; do
    [ -f "$f" ] || continue
    pid=$(head -n1 "$f")
    # Ours if it is still our child, or if its command line names the test dir.
    if ! _is_our_child "$pid" && ! geokv_pid_matches "$pid" "$ITEST_DIR"; then
      rm -f "$f"
      continue
    fi
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    live+=("$pid")
  done
  [ ${#live[@]} -gt 0 ] || return 0
  deadline=$(( $(geokv_now_ms) + 10000 ))
  for pid in "${live[@]}"; do
    while geokv_pid_alive "$pid" && [ "$(geokv_now_ms)" -lt "$deadline" ]; do sleep 0.1; done
    if geokv_pid_alive "$pid"; then
      itest_log "pid $pid ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      geokv_wait_dead "$pid" 5 || itest_log "pid $pid survived SIGKILL"
    fi
    wait "$pid" 2>/dev/null || true
  done
  rm -f "$ITEST_DIR"/pids/*.pid "$ITEST_DIR"/zk/zk.pid
}

# _itest_descendants: prints the pids of every live descendant of this shell.
_itest_descendants() {
  ps -e -o pid=,ppid= | awk -v root=$$ '
    { parent[$1] = $2 }
    END {
      for (p in parent) {
        x = p; n = 0
        while ((x in parent) && x != root && n++ < 64) x = parent[x]
        if (x == root && p != root) print p
      }
    }'
}

# Ends whatever the test started without a pid file (e.g. `bench ... &` and the geokv-bench
# under it): SIGTERM every remaining descendant of this shell, SIGKILL after 5 s.
_itest_kill_descendants() {
  local pid live=() deadline
  for pid in $(_itest_descendants); do
    geokv_pid_alive "$pid" || continue
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    live+=("$pid")
  done
  [ ${#live[@]} -gt 0 ] || return 0
  itest_log "ending ${#live[@]} leftover process(es): ${live[*]}"
  deadline=$(( $(geokv_now_ms) + 5000 ))
  for pid in "${live[@]}"; do
    while geokv_pid_alive "$pid" && [ "$(geokv_now_ms)" -lt "$deadline" ]; do sleep 0.1; done
    geokv_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${live[@]}"; do wait "$pid" 2>/dev/null || true; done
}

_itest_dump_logs() {
  local f
  for f in "$ITEST_DIR"/logs/*.log "$ITEST_DIR"/zk/zk.out "$ITEST_DIR"/zk/zookeeper.log; do
    [ -s "$f" ] || continue
    printf '\n===== %s (last 80 lines) =====\n' "${f#"$ITEST_DIR"/}" >&2
    tail -n 80 "$f" >&2
  done
}

_itest_exit() {
  local rc=$? secs
  set +e
  trap - EXIT INT TERM
  [ -n "$ITEST_DIR" ] && [ -d "$ITEST_DIR" ] || exit "$rc"
  _itest_kill_all
  _itest_kill_descendants
  secs=$(( ($(geokv_now_ms) - ITEST_T0) / 1000 ))
  case "$rc" in
    0) itest_log "PASS (${secs}s)" ;;
    77) itest_log "SKIPPED (${secs}s)" ;;
    *)
      _itest_dump_logs
      itest_log "FAILED with status $rc (${secs}s); test dir $ITEST_DIR" ;;
  esac
  [ -z "${ITEST_EXIT_HOOK:-}" ] || "$ITEST_EXIT_HOOK" "$rc"
  if [ "${KEEP:-0}" = 1 ]; then
    itest_log "KEEP=1: leaving $ITEST_DIR"
  else
    rm -rf -- "$ITEST_DIR"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- ports

# free_port: prints a TCP port the kernel just gave out on 127.0.0.1 (bind to port 0), never
# one already handed out in this test.
free_port() {
  local port tries=0
  [ -n "$ITEST_DIR" ] || fail "free_port before itest_begin"
  while :; do
    port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')
    if ! grep -qx "$port" "$ITEST_DIR/state/ports"; then
      echo "$port" >>"$ITEST_DIR/state/ports"
      echo "$port"
      return 0
    fi
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || fail "free_port: no fresh port after 100 tries"
  done
}

# meta_list N: prints N comma-separated HOST:PORT addresses on free ports, for the next
# cluster to be declared (127.0.0.1, or with ITEST_HOSTS=1 127.K.1.I).
meta_list() {
  local n="$1" i out="" k
  k=$(_next_cluster_ordinal)
  for ((i = 1; i <= n; i++)); do out="${out:+$out,}$(_server_host "$k" 1 "$i"):$(free_port)"; done
  echo "$out"
}

# _server_host K KIND I: the host of server I of kind KIND (0 replica, 1 meta) of cluster K.
_server_host() {
  if [ "${ITEST_HOSTS:-0}" = 1 ]; then echo "127.$1.$2.$3"; else echo 127.0.0.1; fi
}

_next_cluster_ordinal() {
  local existing=("$ITEST_DIR"/state/clusters/*/)
  [ -d "${existing[0]}" ] || existing=()
  echo $(( ${#existing[@]} + 1 ))
}

# ---------------------------------------------------------------- ZooKeeper

# zk_start: starts ZooKeeper in $ITEST_DIR/zk on a free port (the same port again after
# zk_stop, so clusters can reconnect); exports ZK_PORT and ZK_HOSTS.
zk_start() {
  [ -n "$ZK_PORT" ] || ZK_PORT=$(free_port)
  export ZK_PORT ZK_HOSTS="127.0.0.1:$ZK_PORT"
  zk_start_in "$ITEST_DIR/zk" "$ZK_PORT" >&2 || fail "zookeeper did not start"
}

# zk_stop: graceful stop; zk_kill9: SIGKILL. Both keep the data dir for zk_start.
zk_stop() { zk_stop_in "$ITEST_DIR/zk"; }
zk_kill9() {
  local pid
  pid=$(zk_running_in "$ITEST_DIR/zk") || return 0
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  geokv_wait_dead "$pid" 5
  rm -f "$ITEST_DIR/zk/zk.pid"
}

# zk_cli CMD: runs one command with the ZooKeeper C shell (/usr/lib/zookeeper/bin/cli_mt),
# e.g. `zk_cli "get /geokv/c1/apps/1"`. It always exits 0; callers check its output
# (stdout and stderr merged), e.g. for "rc = 0".
zk_cli() {
  # cli_mt's batch mode may exit before its completion prints: retry until it reports "rc ="
  local out i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    out=$(timeout 15 /usr/lib/zookeeper/bin/cli_mt -h "127.0.0.1:$ZK_PORT" -c "$1" 2>&1) || true
    case "$1" in
    get\ *) grep -qE "Stat:|rc = -" <<<"$out" && break ;; # the value prints after "rc ="
    *) grep -q "rc = " <<<"$out" && break ;;
    esac
  done
  printf '%s\n' "$out"
}

# ---------------------------------------------------------------- clusters

# cluster_config NAME METAS [CLUSTER_ID]: declares cluster NAME with meta list METAS
# (comma-separated HOST:PORT) and writes $ITEST_DIR/NAME/config.ini. CLUSTER_ID (1..127,
# default: 1 + number of clusters declared before) goes into [duplication-group]. With several
# clusters, every cluster's config lists all of them in [duplication-group] and the others'
# meta lists in [pegasus.clusters]. Every cluster has the test's [security] keys (servers
# sign everything, seal what crosses clusters) unless ITEST_INSECURE=1 when it is declared.
# Makes NAME the current cluster (cluster_use).
cluster_config() {
  local name="$1" metas="$2" id="${3:-}"
  [ -n "$ZK_PORT" ] || fail "cluster_config before zk_start"
  [ ! -d "$ITEST_DIR/state/clusters/$name" ] || fail "cluster $name declared twice"
  local ordinal
  ordinal=$(_next_cluster_ordinal)
  [ -n "$id" ] || id=$ordinal
  mkdir -p "$ITEST_DIR/state/clusters/$name" "$ITEST_DIR/$name"
  echo "$ordinal" >"$ITEST_DIR/state/clusters/$name/ordinal"
  echo "$metas" >"$ITEST_DIR/state/clusters/$name/metas"
  echo "$id" >"$ITEST_DIR/state/clusters/$name/id"
  [ "${ITEST_INSECURE:-0}" = 0 ] || : >"$ITEST_DIR/state/clusters/$name/insecure"
  : >"$ITEST_DIR/state/clusters/$name/sets"
  local c
  for c in "$ITEST_DIR"/state/clusters/*/; do
    _write_cluster_config "$(basename "$c")"
  done
  cluster_use "$name"
}

# security_keys: the keys of every cluster of the test ([security] keys), made once per test:
# servers sign every message between them, inside a cluster and across, and seal the ones
# across.
security_keys() {
  local f="$ITEST_DIR/state/security_keys"
  [ -s "$f" ] || echo "1:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$f"
  cat "$f"
}

_write_cluster_config() {
  local name="$1" c other
  {
    echo "; generated by tests/integration/lib.sh"
    if [ "${ITEST_HOSTS:-0}" = 1 ]; then
      printf '[core]\nbind_outgoing = true\n\n'
    fi
    echo "[cluster]"
    echo "name = $name"
    echo "meta_servers = $(cat "$ITEST_DIR/state/clusters/$name/metas")"
    echo
    echo "[zookeeper]"
    echo "hosts = 127.0.0.1:$ZK_PORT"
    echo "root = /geokv"
    echo "session_timeout_ms = 4000"
    echo
    echo "[meta_server]"
    echo "node_grace_ms = 10000"
    echo
    echo "[replica_server]"
    echo "worker_threads = 2"
    echo "beacon_interval_ms = 1000"
    echo
    echo "[replication]"
    echo "plog_fsync = always"
    echo "max_value_bytes = 1048576"
    echo "duplication_enabled = true"
    echo
    echo "[pegasus.clusters]"
    for c in "$ITEST_DIR"/state/clusters/*/; do
      other=$(basename "$c")
      [ "$other" = "$name" ] && continue
      echo "$other = $(cat "$c/metas")"
    done
    echo
    echo "[duplication-group]"
    for c in "$ITEST_DIR"/state/clusters/*/; do
      echo "$(basename "$c") = $(cat "$c/id")"
    done
    if [ ! -e "$ITEST_DIR/state/clusters/$name/insecure" ]; then
      echo
      echo "[security]"
      echo "keys = $(security_keys)"
      echo "seal_remote = true"
    fi
  } >"$ITEST_DIR/$name/config.ini"
}

# cluster_use NAME: makes NAME the cluster that meta_*/replica_*/admin/bench act on;
# sets ITEST_CLUSTER, META_LIST and META_ADDRS.
cluster_use() {
  local f="$ITEST_DIR/state/clusters/$1/metas"
  [ -f "$f" ] || fail "unknown cluster $1 (cluster_config first)"
  ITEST_CLUSTER="$1"
  META_LIST=$(cat "$f")
  IFS=, read -r -a META_ADDRS <<<"$META_LIST"
}

# cluster_set section.key=value...: extra --set overrides for every process of the current
# cluster started from now on.
cluster_set() {
  _need_cluster
  local kv
  for kv in "$@"; do echo "$kv" >>"$ITEST_DIR/state/clusters/$ITEST_CLUSTER/sets"; done
}

_need_cluster() { [ -n "$ITEST_CLUSTER" ] || fail "no current cluster (cluster_config first)"; }

# Fills _SET_ARGS with the current cluster's --set overrides.
_set_args() {
  local kv
  _SET_ARGS=()
  while IFS= read -r kv; do
    [ -n "$kv" ] && _SET_ARGS+=(--set "$kv")
  done <"$ITEST_DIR/state/clusters/$ITEST_CLUSTER/sets"
  return 0
}

# ---------------------------------------------------------------- processes

# Names: <cluster>-meta<I>, <cluster>-replica<I>; pid in pids/<name>.pid, log in logs/<name>.log.
_proc_pid() { geokv_pidfile_pid "$ITEST_DIR/pids/$1.pid" "$ITEST_DIR"; }

_proc_kill9() {
  local name="$1" pid
  pid=$(_proc_pid "$name") || fail "$name is not running"
  itest_log "kill -9 $name (pid $pid)"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  geokv_wait_dead "$pid" 5 || fail "$name (pid $pid) survived SIGKILL"
  rm -f "$ITEST_DIR/pids/$name.pid"
}

_proc_stop() {
  local name="$1" pid
  pid=$(_proc_pid "$name") || return 0
  itest_log "stop $name (pid $pid)"
  kill -CONT "$pid" 2>/dev/null || true
  geokv_stop_pid "$pid" 10 "$ITEST_DIR" || fail "$name (pid $pid) would not die"
  wait "$pid" 2>/dev/null || true
  rm -f "$ITEST_DIR/pids/$name.pid"
}

_proc_signal() {
  local sig="$1" name="$2" pid
  pid=$(_proc_pid "$name") || fail "$name is not running"
  itest_log "kill -$sig $name (pid $pid)"
  kill "-$sig" "$pid"
}

# meta_addr I: address of meta I (1-based) of the current cluster.
meta_addr() {
  _need_cluster
  local i="$1"
  if [ "$i" -lt 1 ] || [ "$i" -gt "${#META_ADDRS[@]}" ]; then
    fail "no meta $i in $ITEST_CLUSTER ($META_LIST)"
  fi
  echo "${META_ADDRS[$((i - 1))]}"
}

# meta_start I [ARGS...]: starts meta I of the current cluster (extra ARGS go to geokv-meta).
meta_start() {
  _need_cluster
  local i="$1" name addr
  shift
  name="$ITEST_CLUSTER-meta$i"
  addr=$(meta_addr "$i")
  ! _proc_pid "$name" >/dev/null || fail "$name is already running"
  _set_args
  geokv_spawn "$ITEST_DIR/pids/$name.pid" "$ITEST_DIR/logs/$name.log" \
    "$GEOKV_BIN/geokv-meta" -c "$ITEST_DIR/$ITEST_CLUSTER/config.ini" --address "$addr" \
    "${_SET_ARGS[@]}" "$@"
  itest_log "started $name (pid $GEOKV_SPAWNED_PID, $addr)"
}
meta_kill9() { _need_cluster; _proc_kill9 "$ITEST_CLUSTER-meta$1"; }
meta_stop() { _need_cluster; _proc_stop "$ITEST_CLUSTER-meta$1"; }
meta_restart() { local i="$1"; shift; meta_stop "$i"; meta_start "$i" "$@"; }
meta_pause() { _need_cluster; _proc_signal STOP "$ITEST_CLUSTER-meta$1"; }
meta_resume() { _need_cluster; _proc_signal CONT "$ITEST_CLUSTER-meta$1"; }
meta_pid() { _need_cluster; _proc_pid "$ITEST_CLUSTER-meta$1"; }
meta_running() { meta_pid "$1" >/dev/null; }

# replica_addr I: address of replica server I of the current cluster (a free port is chosen
# the first time and kept, so a restarted replica comes back at the same address).
replica_addr() {
  _need_cluster
  local f="$ITEST_DIR/state/clusters/$ITEST_CLUSTER/replica$1.port"
  [ -f "$f" ] || free_port >"$f"
  echo "$(replica_host "$1"):$(cat "$f")"
}

# replica_host I: the host replica server I of the current cluster serves on.
replica_host() {
  _server_host "$(cat "$ITEST_DIR/state/clusters/$ITEST_CLUSTER/ordinal")" 0 "$1"
}

# replica_data_dir I: the data dir of replica server I (kept across restarts).
replica_data_dir() { _need_cluster; echo "$ITEST_DIR/$ITEST_CLUSTER/replica$1"; }

# replica_start I [ARGS...]: starts replica server I of the current cluster.
replica_start() {
  _need_cluster
  local i="$1" name addr data
  shift
  name="$ITEST_CLUSTER-replica$i"
  addr=$(replica_addr "$i")
  data=$(replica_data_dir "$i")
  ! _proc_pid "$name" >/dev/null || fail "$name is already running"
  mkdir -p "$data"
  _set_args
  geokv_spawn "$ITEST_DIR/pids/$name.pid" "$ITEST_DIR/logs/$name.log" \
    "$GEOKV_BIN/geokv-replica" -c "$ITEST_DIR/$ITEST_CLUSTER/config.ini" --address "$addr" \
    --data-dir "$data" "${_SET_ARGS[@]}" "$@"
  itest_log "started $name (pid $GEOKV_SPAWNED_PID, $addr)"
}
replica_kill9() { _need_cluster; _proc_kill9 "$ITEST_CLUSTER-replica$1"; }
replica_stop() { _need_cluster; _proc_stop "$ITEST_CLUSTER-replica$1"; }
# replica_restart I [ARGS...]: stops I if it runs (SIGTERM), then starts it again with the
# same address and data dir. After replica_kill9 it just starts it.
replica_restart() { local i="$1"; shift; replica_stop "$i"; replica_start "$i" "$@"; }
replica_pause() { _need_cluster; _proc_signal STOP "$ITEST_CLUSTER-replica$1"; }
replica_resume() { _need_cluster; _proc_signal CONT "$ITEST_CLUSTER-replica$1"; }
replica_pid() { _need_cluster; _proc_pid "$ITEST_CLUSTER-replica$1"; }
replica_running() { replica_pid "$1" >/dev/null; }

# proxy_start APP: starts geokv-proxy for table APP of the current cluster (its config, its
# keys) on a port chosen once and kept, and waits until it answers PING.
proxy_start() {
  _need_cluster
  local app="$1" name="$ITEST_CLUSTER-proxy" port
  port=$(proxy_port)
  ! _proc_pid "$name" >/dev/null || fail "$name is already running"
  _set_args
  geokv_spawn "$ITEST_DIR/pids/$name.pid" "$ITEST_DIR/logs/$name.log" \
    "$GEOKV_BIN/geokv-proxy" -c "$ITEST_DIR/$ITEST_CLUSTER/config.ini" "${_SET_ARGS[@]}" \
    --set "proxy.app=$app" --set "proxy.listen=127.0.0.1:$port"
  itest_log "started $name (pid $GEOKV_SPAWNED_PID, port $port, table $app)"
  wait_for "$name to answer PING" 30 bash -c "redis-cli -p $port ping 2>/dev/null | grep -q PONG"
}
proxy_stop() { _need_cluster; _proc_stop "$ITEST_CLUSTER-proxy"; }
# proxy_port: the current cluster's proxy port.
proxy_port() {
  _need_cluster
  local f="$ITEST_DIR/state/clusters/$ITEST_CLUSTER/proxy.port"
  [ -f "$f" ] || free_port >"$f"
  cat "$f"
}

# ---------------------------------------------------------------- talking to the cluster

# _run_logged TIMEOUT_S LOGNAME CMD...: runs CMD, appends the command, its output and status
# to logs/LOGNAME.log, then replays stdout/stderr and returns CMD's status.
_run_logged() {
  local timeout_s="$1" logname="$2" out err rc=0
  shift 2
  err=$(mktemp "$ITEST_DIR/state/err.XXXXXX")
  out=$(timeout "$timeout_s" "$@" 2>"$err") || rc=$?
  {
    printf '$ %s\n' "$*"
    [ -n "$out" ] && printf '%s\n' "$out"
    [ -s "$err" ] && sed 's/^/stderr: /' "$err"
    printf '[exit %s]\n' "$rc"
  } >>"$ITEST_DIR/logs/$logname.log"
  [ "${ITEST_VERBOSE:-0}" = 1 ] && itest_log "\$ $* -> $rc"
  [ -n "$out" ] && printf '%s\n' "$out"
  cat "$err" >&2
  rm -f "$err"
  return "$rc"
}

# admin ARGS...: admin-cli -m $META_LIST -c CONFIG ARGS..., signed with the cluster's keys
# (one shot, 30 s limit, ADMIN_TIMEOUT_S).
admin() {
  _need_cluster
  _run_logged "${ADMIN_TIMEOUT_S:-30}" admin "$GEOKV_BIN/admin-cli" -m "$META_LIST" \
    -c "$ITEST_DIR/$ITEST_CLUSTER/config.ini" "$@"
}

# bench ARGS...: geokv-bench -m $META_LIST ARGS... (BENCH_TIMEOUT_S, default 300 s).
bench() {
  _need_cluster
  _run_logged "${BENCH_TIMEOUT_S:-300}" bench "$GEOKV_BIN/geokv-bench" -m "$META_LIST" "$@"
}

# meta_leader: prints the index (1-based) of the current cluster's meta leader. Asks each
# running meta alone (`admin-cli -m ADDR leader`, which prints the leader's HOST:PORT) and
# maps the first answer naming one of our metas to its index. Fails if none answers.
meta_leader() {
  _need_cluster
  local i j out addr
  for i in "${!META_ADDRS[@]}"; do
    meta_running $((i + 1)) || continue
    out=$(timeout 10 "$GEOKV_BIN/admin-cli" -m "${META_ADDRS[$i]}" leader 2>/dev/null) || continue
    while IFS= read -r addr; do
      for j in "${!META_ADDRS[@]}"; do
        if [ "${META_ADDRS[$j]}" = "$addr" ]; then
          echo $((j + 1))
          return 0
        fi
      done
    done < <(grep -oE '[0-9]+(\.[0-9]+){3}:[0-9]+' <<<"$out")
  done
  return 1
}

# meta_leader_is I: true if meta I is the leader (for wait_for: CMD must be a command or a
# function, not a shell expression).
meta_leader_is() { [ "$(meta_leader)" = "$1" ]; }

# nodes_alive: prints how many of the current cluster's started replica servers `admin nodes`
# lists as alive (a line with its address and without "unalive"/"dead"/"unknown").
nodes_alive() {
  _need_cluster
  local out f n=0 addr
  out=$(timeout 10 "$GEOKV_BIN/admin-cli" -m "$META_LIST" nodes 2>/dev/null) || { echo 0; return 0; }
  for f in "$ITEST_DIR/state/clusters/$ITEST_CLUSTER"/replica*.port; do
    [ -f "$f" ] || continue
    addr="$(replica_host "$(basename "$f" .port | sed 's/^replica//')"):$(cat "$f")"
    if grep -F "$addr" <<<"$out" | grep -qviE 'unalive|dead|unknown'; then n=$((n + 1)); fi
  done
  echo "$n"
}

_nodes_alive_is() { [ "$(nodes_alive)" -eq "$1" ]; }

# wait_nodes N [TIMEOUT_S]: waits until exactly N replica servers are alive (default 60 s).
wait_nodes() { wait_for "$1 alive replica servers in $ITEST_CLUSTER" "${2:-60}" _nodes_alive_is "$1"; }

# cluster_up NAME NMETAS NREPLICAS [CLUSTER_ID]: declares NAME with NMETAS metas on free
# ports, starts them and NREPLICAS replica servers, waits until all replicas are alive.
cluster_up() {
  local name="$1" nmetas="$2" nreplicas="$3" id="${4:-}" i
  cluster_config "$name" "$(meta_list "$nmetas")" "$id"
  for ((i = 1; i <= nmetas; i++)); do meta_start "$i"; done
  wait_for "a meta leader in $name" 30 meta_leader
  for ((i = 1; i <= nreplicas; i++)); do replica_start "$i"; done
  wait_nodes "$nreplicas" 60
}
