#!/usr/bin/env bash
# Full duplication (dup add -p) under faults, with writes going on during every copy and
# checked exactly at the end (geokv-bench --ack-log, then a full-scan diff of bj and tj):
#  - every server corrupts some chunks it serves (fail point file_copy_corrupt_chunk): the
#    copier detects each by its checksum and fetches it again;
#  - the follower primary's replica server is kill -9ed in the middle of the copy (rate
#    limited with nfs_copy_rate_mb, changed at run time): after its restart the copy resumes
#    without fetching again what it had, and tj ends identical;
#  - the source primary is frozen, so its checkpoint is never reported (DS_PREPARE), then
#    kill -9ed: the new primary makes the checkpoint and the duplication goes on;
#  - in DS_APP the source meta leader and a source replica server are kill -9ed: the new
#    leader resumes DS_APP from ZooKeeper, the followers copy from the new primaries; then
#    the remote meta is down for a while: DS_APP waits, dup list says why, and it goes on;
#  - a server that learnt a source partition during DS_APP becomes its primary, and ships
#    from D_p: it learnt from the D_p checkpoint and the plog after it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin dup_full_faults
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
export GEOKV_FAILPOINTS="file_copy_corrupt_chunk=2-3" # in every server: its 2nd and 3rd chunk
dup_clusters_up
unset GEOKV_FAILPOINTS

# dup_state APP: the status of APP's duplication on bj (DS_...).
dup_state() {
  cluster_use bj
  admin -a "$1" dup list | grep -oE '"DS_[A-Z]+"' | head -n1 | tr -d '"'
}
dup_state_is() { [ "$(dup_state "$1")" = "$2" ]; }

# writer_start APP SEED: geokv-bench writing 200/s to APP on bj until writer_stop, logging
# every acknowledged write.
writer_start() {
  cluster_use bj
  "$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a "$1" --op set --count 1000000 --rate 200 \
    --seed "$2" --value-size 500 --ack-log "$ITEST_DIR/state/$1.ack" --timeout-ms 60000 \
    >"$ITEST_DIR/state/$1.writer" 2>&1 &
  WRITER=$!
}
writer_stop() {
  kill -TERM "$WRITER"
  wait "$WRITER" || fail "writer on $1 failed: $(tail -n 20 "$ITEST_DIR/state/$1.writer")"
}

# check_identical APP SEED COUNT: tj holds what bj holds, and every write acknowledged by
# the writer and the COUNT loaded records (seed SEED) read back right on tj.
check_identical() {
  local out
  same_digest() {
    [ "$(dump_of bj "$1" | sha256sum)" = "$(dump_of tj "$1" | sha256sum)" ]
  }
  wait_for "tj's $1 to equal bj's (full-scan diff)" 180 same_digest "$1"
  cluster_use tj
  out=$(bench -a "$1" --op verify --count "$3" --seed "$2" --value-size 1000) ||
    fail "verify of the loaded records of $1 on tj: $out"
  out=$(bench -a "$1" --op verify --seed "$(($2 + 100))" --value-size 500 \
    --ack-log "$ITEST_DIR/state/$1.ack") || fail "verify of $1's writes during the copy: $out"
  itest_log "$1: tj identical to bj ($(bench_value found "$out") writes acknowledged during the copy verified)"
}

# load APP PARTITIONS COUNT SEED [REPLICAS]: creates APP on bj and writes COUNT 1 KB records.
load() {
  cluster_use bj
  admin create "$1" -p "$2" -r "${5:-3}" >/dev/null || fail "create $1 on bj"
  bench -a "$1" --op set --count "$3" --seed "$4" --value-size 1000 --inflight 64 >/dev/null ||
    fail "loading $1"
}

# slow_copy APP SEED: with tj copying at 1 MB/s, starts a writer on APP and dup add -p; returns
# in DS_APP.
slow_copy() {
  cluster_use tj
  admin server-config all nfs_copy_rate_mb 1 >/dev/null || fail "server-config nfs_copy_rate_mb 1"
  writer_start "$1" "$2"
  admin -a "$1" dup add -c tj -p >/dev/null || fail "dup add -p $1"
  wait_for "$1's duplication in DS_APP" 60 dup_state_is "$1" DS_APP
}

# ---------------------------------------------------------------- corrupt chunks, kill -9
load copy 4 60000 1
cluster_use tj
admin server-config all nfs_copy_rate_mb 2 >/dev/null || fail "server-config nfs_copy_rate_mb"
writer_start copy 101
admin -a copy dup add -c tj -p >/dev/null || fail "dup add -p copy"

# the first follower partition with more than 1 MB copied: its replica server dies
copying=""
partial_copy() {
  local i d n
  for i in 1 2 3; do
    for d in "$ITEST_DIR/tj/replica$i"/*/master_copy; do
      [ -d "$d" ] || continue
      n=$(du -sb "$d" | cut -f1)
      if [ "$n" -gt 1000000 ]; then
        echo "$i $d $n" >"$ITEST_DIR/state/victim"
        return 0
      fi
    done
  done
  return 1
}
wait_for "a follower partition half way through its copy" 120 partial_copy
read -r victim vdir vbytes <"$ITEST_DIR/state/victim"
cluster_use tj
replica_kill9 "$victim"
itest_log "killed tj replica $victim with $vbytes bytes in $vdir"
[ -d "$vdir" ] || fail "$vdir vanished with the kill"
dup_replica_start "$victim" # back at the default rate: the rest goes fast
admin server-config all nfs_copy_rate_mb 0 >/dev/null || fail "server-config nfs_copy_rate_mb 0"
wait_for "copy's duplication to reach DS_LOG" 180 dup_state_is copy DS_LOG
sleep 2
writer_stop copy
check_identical copy 1 60000

# the restarted copy kept what it had: it fetched less than the whole checkpoint
pidx=${vdir%/master_copy}; pidx=${pidx##*/}
line=$(grep "$pidx@.*full duplication: installed master" "$ITEST_DIR/logs/tj-replica$victim.log" |
  tail -n1)
[ -n "$line" ] || fail "no install of $pidx logged by tj replica $victim after its restart"
fetched=$(grep -oE '[0-9]+ bytes fetched' <<<"$line" | grep -oE '^[0-9]+')
src=$(grep -oE "file_copy: [0-9.:]+ [^ ]+ -> $vdir" "$ITEST_DIR/logs/tj-replica$victim.log" |
  tail -n1 | awk '{print $3}')
total=$(du -sb "$src" | cut -f1)
itest_log "resumed copy of $pidx: fetched $fetched of $total bytes after the restart"
[ "$fetched" -lt "$total" ] || fail "the resumed copy fetched everything again ($fetched of $total)"
# the corrupted chunks were caught by their checksum and fetched again
grep -h "chunk CRC32C mismatch, fetching it again" "$ITEST_DIR"/logs/tj-replica*.log >/dev/null ||
  fail "no corrupted chunk was detected (fail point file_copy_corrupt_chunk)"
itest_log "corrupted chunks detected and fetched again: $(cat "$ITEST_DIR"/logs/tj-replica*.log |
  grep -c "chunk CRC32C mismatch")"

# ---------------------------------------------------------------- source primary dies in DS_PREPARE
load prep 4 20000 2
writer_start prep 102
cluster_use bj
primary=$(admin app prep | awk '$1 == 0 {print $3}')
for i in 1 2 3; do [ "$(replica_addr "$i")" = "$primary" ] && victim=$i; done
replica_pause "$victim" # it cannot make or report its checkpoint
admin -a prep dup add -c tj -p >/dev/null || fail "dup add -p prep"
sleep 3
list=$(admin -a prep dup list)
grep -q '"DS_PREPARE"' <<<"$list" || fail "prep left DS_PREPARE with its primary frozen: $list"
itest_log "prep: $(grep -oE '"full_copy": "[^"]*"' <<<"$list")"
replica_kill9 "$victim"
wait_for "prep's duplication to reach DS_LOG after the source failover" 180 dup_state_is prep DS_LOG
dup_replica_start "$victim"
sleep 2
writer_stop prep
check_identical prep 2 20000

# ---------------------------------------------------------------- meta leader and a primary die in DS_APP
load app 4 40000 3
slow_copy app 103
cluster_use bj
meta_kill9 1
replica_kill9 1
itest_log "killed bj's meta leader and bj replica 1 in DS_APP"
meta_start 1
wait_for "bj's meta to lead again" 30 meta_leader
dup_state_is app DS_APP || fail "the new meta leader did not resume DS_APP: $(dup_state app)"
# the remote meta is unreachable for a while: DS_APP waits, says why in dup list, retries
cluster_use tj
meta_kill9 1
remote_failing() { cluster_use bj; admin -a app dup list | grep '"full_copy": "creating follower table app on tj failed: .*retrying"' >/dev/null; }
wait_for "dup list to show that tj's meta cannot be reached" 60 remote_failing
dup_state_is app DS_APP || fail "app left DS_APP while tj's meta was down: $(dup_state app)"
cluster_use tj
meta_start 1
wait_for "tj's meta to lead again" 30 meta_leader
admin server-config all nfs_copy_rate_mb 0 >/dev/null || fail "server-config nfs_copy_rate_mb 0"
wait_for "app's duplication to reach DS_LOG" 240 dup_state_is app DS_LOG
cluster_use bj
dup_replica_start 1
sleep 2
writer_stop app
check_identical app 3 40000

# ---------------------------------------------------------------- a learner that joined in DS_APP becomes primary
# Partition 0 of lrn (2 replicas on 3 servers) loses its secondary during the copy; the spare
# server learns it, and is then promoted when the primary dies too. It must hold the plog
# after D_p to ship from there (it learns from the D_p checkpoint and the log after it).
cluster_use bj
meta_restart 1 --set meta_server.node_grace_ms=3000 --set meta_server.lease_ms=2000 \
  --set meta_server.add_secondary_delay_ms=1000
wait_for "bj's meta to lead again" 30 meta_leader
wait_nodes 3 60
# small plog segments collected early: a new member cannot learn lrn from the plog's start
cluster_set replication.plog_segment_bytes=1048576 replication.plog_gc_bytes=2097152 \
  replication.plog_gc_interval_ms=500
for i in 1 2 3; do replica_stop "$i"; done
for i in 1 2 3; do dup_replica_start "$i"; done
wait_nodes 3 60
load lrn 2 40000 4 2
slow_copy lrn 104
cluster_use bj
index_of() { local i; for i in 1 2 3; do [ "$(replica_addr "$i")" = "$1" ] && echo "$i"; done; }
part0() { admin app lrn | awk '$1 == 0'; }
read -r _ _ primary secondary _ <<<"$(part0)"
spare=""
for i in 1 2 3; do
  a=$(replica_addr "$i")
  [ "$a" != "$primary" ] && [ "$a" != "$secondary" ] && spare=$a
done
replica_kill9 "$(index_of "$secondary")"
spare_joined() { read -r _ _ p s _ <<<"$(part0)"; [ "$p" = "$primary" ] && [ "$s" = "$spare" ]; }
wait_for "the spare server $spare to learn partition 0 and join it" 90 spare_joined
dup_state_is lrn DS_APP || fail "lrn left DS_APP before the learner joined: the copy was too fast"
dup_replica_start "$(index_of "$secondary")"
wait_nodes 3 60
replica_kill9 "$(index_of "$primary")"
spare_leads() { read -r _ _ p _ <<<"$(part0)"; [ "$p" = "$spare" ]; }
wait_for "the former learner to lead partition 0" 60 spare_leads
dup_replica_start "$(index_of "$primary")"
itest_log "lrn partition 0: $secondary lost, $spare learnt it in DS_APP, then $primary lost: $spare leads"
lrn_id=$(admin app lrn | awk '/^app_id:/ {print $2}')
dp=$(grep -h " $lrn_id\.0@.*checkpoint at decree .* (D_p)" "$ITEST_DIR"/logs/bj-replica*.log |
  grep -oE 'decree [0-9]+' | head -n1 | grep -oE '[0-9]+')
grep -h " $lrn_id\.0@.*learner $spare at [0-9]* is past the plog: checkpoint at $dp\$" \
  "$ITEST_DIR"/logs/bj-replica*.log >/dev/null ||
  fail "the learner of lrn partition 0 did not get the D_p checkpoint ($dp): $(grep -h "learner $spare" "$ITEST_DIR"/logs/bj-replica*.log | tail -n 3)"
cluster_use tj
admin server-config all nfs_copy_rate_mb 0 >/dev/null || fail "server-config nfs_copy_rate_mb 0"
wait_for "lrn's duplication to reach DS_LOG" 240 dup_state_is lrn DS_LOG
sleep 2
writer_stop lrn
check_identical lrn 4 40000
grep -h "no longer in the plog" "$ITEST_DIR"/logs/bj-replica*.log &&
  fail "a source primary found a hole in its plog"
itest_pass
