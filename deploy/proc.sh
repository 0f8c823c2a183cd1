#!/usr/bin/env bash
# deploy/proc.sh — process helpers shared by deploy/*.sh and tests/integration/lib.sh.
# Source it; it defines functions only. Every process is tracked by the pid file written when
# it was started, and is only ever signalled by that pid (never pkill/killall), after checking
# that /proc/PID/cmdline still contains a marker (so a recycled pid is left alone).

# geokv_pid_alive PID: true if PID exists and is not a zombie.
geokv_pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Field 3 of /proc/PID/stat is the state; comm (field 2) may contain spaces, so cut after ')'.
  state=$(sed -n 's/^.*) \([A-Za-z]\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

# geokv_pid_matches PID MARKER: PID is alive and its command line contains MARKER.
geokv_pid_matches() {
  local pid="$1" marker="$2"
  geokv_pid_alive "$pid" || return 1
  [ -z "$marker" ] && return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

# geokv_pidfile_pid PIDFILE [MARKER]: prints the pid recorded in PIDFILE if that process is
# alive (and matches MARKER); fails otherwise.
geokv_pidfile_pid() {
  local pidfile="$1" marker="${2:-}" pid
  [ -f "$pidfile" ] || return 1
  pid=$(head -n1 "$pidfile" 2>/dev/null) || return 1
  geokv_pid_matches "$pid" "$marker" || return 1
  printf '%s\n' "$pid"
}

# geokv_spawn PIDFILE LOG CMD...: starts CMD in the background, stdin from /dev/null,
# stdout+stderr appended to LOG, writes its pid to PIDFILE and sets GEOKV_SPAWNED_PID.
# Call it directly (not inside $(...)) so the process is a child of the calling shell,
# which can then `wait` for it.
GEOKV_SPAWNED_PID=
geokv_spawn() {
  local pidfile="$1" log="$2"
  shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
  printf '=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$log"
  "$@" </dev/null >>"$log" 2>&1 &
  GEOKV_SPAWNED_PID=$!
  printf '%s\n' "$GEOKV_SPAWNED_PID" >"$pidfile"
}

# geokv_port_in_use PORT: true if something accepts TCP connections on 127.0.0.1:PORT.
geokv_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# geokv_wait_dead PID TIMEOUT_S: polls every 0.1 s until PID is gone; fails on timeout.
geokv_wait_dead() {
  local pid="$1" timeout_s="$2" deadline
  deadline=$(( $(date +%s%N) / 1000000 + timeout_s * 1000 ))
  while geokv_pid_alive "$pid"; do
    if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.1
  done
  return 0
}

# geokv_stop_pid PID [TIMEOUT_S] [MARKER]: SIGTERM, wait up to TIMEOUT_S (default 10),
# then SIGKILL and wait up to 5 s more. Does nothing if PID is not alive or does not match.
# Returns non-zero only if the process survived SIGKILL.
geokv_stop_pid() {
  local pid="$1" timeout_s="${2:-10}" marker="${3:-}"
  geokv_pid_matches "$pid" "$marker" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if geokv_wait_dead "$pid" "$timeout_s"; then
    return 0
  fi
  echo "pid $pid did not exit ${timeout_s}s after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  geokv_wait_dead "$pid" 5
}

# geokv_stop_pidfile PIDFILE [TIMEOUT_S] [MARKER]: stops the process recorded in PIDFILE
# (see geokv_stop_pid) and removes the pid file once it is gone.
geokv_stop_pidfile() {
  local pidfile="$1" timeout_s="${2:-10}" marker="${3:-}" pid
  [ -f "$pidfile" ] || return 0
  if pid=$(geokv_pidfile_pid "$pidfile" "$marker"); then
    geokv_stop_pid "$pid" "$timeout_s" "$marker" || return 1
  fi
  rm -f "$pidfile"
}

# geokv_now_ms: wall clock in milliseconds.
geokv_now_ms() {
  echo $(( $(date +%s%N) / 1000000 ))
}
