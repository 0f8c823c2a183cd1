#!/usr/bin/env bash
# Faults of one replica server's disk and process, replica_count 3 on three servers, with a
# write load whose every acknowledged write must survive:
#  1. its plog's fdatasync starts failing (strace injects EIO): the server stops at once, exit
#     status 3, instead of acknowledging what the failed fsync covered; restarted, it catches up;
#  2. a server killed and restarted at once under load comes back into its configurations: its
#     log holds what it acknowledged, so no primary removes it;
#  3. a secondary's disk fills up: it stops acknowledging, the primary removes it after
#     secondary_ack_timeout_ms and writes go on; with room again it learns and rejoins;
#  4. the primary's disk fills up: writes are refused at once with "disk is full" (reads go on),
#     and work again as soon as there is room;
#  5. a learner whose checkpoint install cannot open the copy nor its old data (fail point
#     replica_install_open) closes the partition and learns again; the server never aborts;
#  6. a primary paused past its lease whose next beacon is applied late (fail point
#     beacon_apply_delay) never serves a read on the lease that beacon brought.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin replica_faults
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench direct_get
command -v strace >/dev/null || fail "strace is not installed"

MOUNTS=()
unmount_all() { local d; for d in "${MOUNTS[@]}"; do umount -l "$d" 2>/dev/null || true; done; }
ITEST_EXIT_HOOK=unmount_all

zk_start
cluster_config c1 "$(meta_list 1)"
repl_fast_settings
# small plog segments collected often: a learner that joins late copies a checkpoint (5.)
cluster_set replication.secondary_ack_timeout_ms=6000 replication.plog_segment_bytes=65536 \
  replication.plog_gc_bytes=262144 replication.plog_gc_interval_ms=500
meta_start 1
wait_for "a meta leader" 30 meta_leader
for i in 1 2 3; do replica_start "$i"; done
wait_nodes 3 60

# index_of ADDR: the index of the started replica server serving at ADDR.
index_of() {
  local i
  for i in 1 2 3 4; do [ "$(replica_addr "$i")" = "$1" ] && { echo "$i"; return 0; }; done
  return 1
}
# member_of APP PIDX primary|secondary: the index of that member of the partition.
member_of() {
  local line
  line=$(admin app "$1" | awk -v p="$2" '$1 == p')
  if [ "$3" = primary ]; then index_of "$(awk '{print $3}' <<<"$line")"
  else index_of "$(awk '{split($4, s, ","); print s[1]}' <<<"$line")"; fi
}
# on_tmpfs I MB: replica server I moves its data onto a tmpfs of MB MiB (stop, copy, restart).
on_tmpfs() {
  local dir
  dir=$(replica_data_dir "$1")
  replica_stop "$1"
  mv "$dir" "$dir.orig"
  mkdir -p "$dir"
  mount -t tmpfs -o "size=${2}m" geokv-itest "$dir" || fail "mount a tmpfs on $dir"
  MOUNTS+=("$dir")
  cp -a "$dir.orig/." "$dir/"
  replica_start "$1"
}
# fill I: fills replica server I's (tmpfs) data dir to the last byte (again: plog garbage
# collection frees some room now and then).
fill() { dd if=/dev/zero of="$(replica_data_dir "$1")/filler.$RANDOM" bs=64k 2>/dev/null || true; }
unfill() { rm -f "$(replica_data_dir "$1")"/filler.*; }

# load APP SEED SECONDS: a write load with an ack log in the background (pid in LOAD_PID).
load() {
  bench -a "$1" --op set --count 100000 --seed "$2" --threads 2 --inflight 8 --value-size 100 \
    --duration "$3" --timeout-ms 30000 --ack-log "$ITEST_DIR/state/ack.$2" \
    >"$ITEST_DIR/state/bench.$2" 2>&1 &
  LOAD_PID=$!
  wait_for "the write load on $1 to start" 60 bash -c "[ -s '$ITEST_DIR/state/ack.$2' ]"
}
# verify APP SEED: every write the load acknowledged is readable.
verify() {
  local out
  wait "$LOAD_PID" || true
  out=$(bench -a "$1" --op verify --ack-log "$ITEST_DIR/state/ack.$2" --seed "$2" \
    --value-size 100 --timeout-ms 30000) || fail "acknowledged writes lost on $1: $out"
  itest_log "$1: $(grep -E '^(found|missing|wrong):' <<<"$out" | tr '\n' ' ')"
}

# --- 1. a failed fsync stops the server
admin create t1 -p 4 -r 3 >/dev/null || fail "create t1"
wait_for "t1 fully replicated" 60 partitions_have t1 3
load t1 1 25
pid=$(replica_pid 2)
strace -f -qq -p "$pid" -e trace=fdatasync -e inject=fdatasync:error=EIO:when=30+ -o /dev/null &
itest_log "fdatasync of replica 2 (pid $pid) fails from its 30th call on"
wait_for "replica 2 to stop on the failed fsync" 30 bash -c "! kill -0 $pid 2>/dev/null"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "replica 2 exited with status $rc, want 3"
grep -q "FATAL: the plog lost durability" "$ITEST_DIR/logs/c1-replica2.log" ||
  fail "replica 2 did not say why it stopped"
rm -f "$ITEST_DIR/pids/c1-replica2.pid"
replica_start 2
verify t1 1
wait_for "t1 fully replicated again" 90 partitions_have t1 3
wait_for "t1's replicas to converge" 60 converged t1

# --- 2. a quick restart under load is not a removal
removals() { grep -c "primary removed secondary $(replica_addr "$1")" "$ITEST_DIR/logs/c1-meta1.log" || true; }
load t1 2 15
before=$(removals 3)
replica_kill9 3
replica_start 3
verify t1 2
after=$(removals 3)
[ "$after" = "$before" ] || fail "replica 3 was removed from a configuration after a quick restart" \
  "although its log held what it acknowledged: $(grep "removed secondary" "$ITEST_DIR/logs/c1-meta1.log" | tail -n 3)"
wait_for "t1's replicas to converge" 60 converged t1

# --- 3. a secondary's disk fills up
admin create t2 -p 1 -r 3 >/dev/null || fail "create t2"
wait_for "t2 fully replicated" 60 partitions_have t2 3
sec=$(member_of t2 0 secondary) || fail "no secondary of t2"
on_tmpfs "$sec" 256
wait_for "t2 fully replicated with replica $sec on a tmpfs" 60 partitions_have t2 3
load t2 3 20
fill "$sec"
itest_log "replica $sec's disk is full"
wait_for "the primary to remove the full secondary" 30 bash -c \
  "! '$GEOKV_BIN/admin-cli' -m '$META_LIST' app t2 | awk '\$1 == 0' | grep -q '$(replica_addr "$sec")'"
took=$(wait_writable t2 30)
itest_log "t2 writable again ${took} ms after the full secondary was removed"
verify t2 3
unfill "$sec"
wait_for "the secondary to learn and rejoin with room again" 120 partitions_have t2 3
wait_for "t2's replicas to converge" 60 converged t2

# --- 4. the primary's disk fills up
prim=$(member_of t2 0 primary) || fail "no primary of t2"
mountpoint -q "$(replica_data_dir "$prim")" || on_tmpfs "$prim" 256
wait_for "t2 fully replicated" 60 partitions_have t2 3
prim=$(member_of t2 0 primary) || fail "no primary of t2"
mountpoint -q "$(replica_data_dir "$prim")" || fail "t2's primary moved off its tmpfs"
admin -a t2 set full-k s before >/dev/null || fail "set before the disk fills"
fill "$prim"
sleep 1 # the last plog collection frees what it can
fill "$prim"
# a few writes still fit in the plog's last page; the first one past it finds the disk full
bench -a t2 --op set --count 500 --seed 4 --value-size 100 --timeout-ms 3000 >/dev/null 2>&1 || true
err=$(admin -t 3000 -a t2 set full-k s during 2>&1 >/dev/null) && fail "a write succeeded on a full disk"
grep -qi "disk is full" <<<"$err" || fail "a write on a full disk failed without saying so: $err"
[ "$(admin -a t2 get full-k s)" = before ] || fail "reads stopped with the primary's disk full"
unfill "$prim"
wait_for "writes to work again with room on the disk" 30 admin -t 3000 -a t2 set full-k s after
wait_for "t2's replicas to converge" 60 converged t2

# --- 5. a checkpoint install that cannot open anything
replica_kill9 1
bench -a t1 --op set --count 3000 --seed 5 --value-size 100 >/dev/null || fail "writes without replica 1"
wait_for "replica 1 to leave t1's configurations" 60 partitions_have t1 2
GEOKV_FAILPOINTS="replica_install_open=1-2" replica_start 4
wait_for "replica 4 to learn t1" 120 partitions_have t1 3
replica_running 4 || fail "replica 4 died on a failed checkpoint install"
grep -q "the previous data does not open either" "$ITEST_DIR/logs/c1-replica4.log" ||
  fail "the fail point never fired: no checkpoint install failed"
wait_for "t1's replicas to converge" 60 converged t1

# --- 6. a paused primary does not serve on a lease renewed before its demotion applies
app_id=$(admin app t2 | awk '/^app_id:/ {print $2}')
admin -a t2 set k s old >/dev/null || fail "set old"
prim=$(member_of t2 0 primary) || fail "no primary of t2"
replica_stop "$prim"
GEOKV_FAILPOINTS="beacon_apply_delay=1-" replica_start "$prim"
wait_for "t2 fully replicated" 60 partitions_have t2 3
prim=$(member_of t2 0 primary) || fail "no primary of t2"
grep -q "beacon_apply_delay" <(tr '\0' '\n' </proc/"$(replica_pid "$prim")"/environ) ||
  fail "t2's primary is not the server with the delayed beacons"
old_addr=$(replica_addr "$prim")
replica_pause "$prim"
wait_for "a new primary for t2" 30 bash -c \
  "'$GEOKV_BIN/admin-cli' -m '$META_LIST' app t2 | awk '\$1 == 0 {print \$3}' | grep -qv '$old_addr'"
admin -a t2 set k s new >/dev/null || fail "set new after the failover"
replica_resume "$prim"
deadline=$(( $(geokv_now_ms) + 4000 ))
while [ "$(geokv_now_ms)" -lt "$deadline" ]; do
  out=$("$GEOKV_BIN/direct_get" "$old_addr" "$app_id.0" k s || true)
  grep -q "value: old" <<<"$out" && fail "the deposed primary served a stale read: $out"
  sleep 0.05
done
itest_pass
