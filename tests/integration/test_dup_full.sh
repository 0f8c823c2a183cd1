#!/usr/bin/env bash
# Full duplication (dup add -p) between two real clusters:
#  - 200,000 records of 1 KB on bj, geokv-bench writing all along; dup add -p goes
#    DS_PREPARE -> DS_APP -> DS_LOG (shown by dup list); when the load stops, tj holds exactly
#    what bj holds (full-scan diff), and geokv-bench verify passes against tj for the loaded
#    records and for every write acknowledged during the copy;
#  - an empty table;
#  - a table with TTLs and deletes: expiries and deletions are carried over;
#  - the refusal of -p when the remote table exists, with its reason;
#  - dup remove while the copy runs (DS_APP): every source primary drops the duplication.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin dup_full
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
dup_clusters_up

# --- 200,000 records of 1 KB, written on bj before the duplication exists
cluster_use bj
admin create big -p 8 -r 3 >/dev/null || fail "create big on bj"
out=$(bench -a big --op set --count 200000 --seed 1 --value-size 1000 --inflight 64) ||
  fail "loading 200,000 records: $out"
itest_log "bj: 200,000 records of 1 KB loaded ($(bench_value ops_per_sec "$out") ops/s)"

# --- a writer that keeps going during the whole copy (exact: every acknowledged write logged)
ack="$ITEST_DIR/state/during-copy.ack"
"$GEOKV_BIN/geokv-bench" -m "$META_LIST" -a big --op set --count 1000000 --rate 300 --seed 2 \
  --value-size 1000 --ack-log "$ack" --timeout-ms 30000 >"$ITEST_DIR/state/during-copy.out" 2>&1 &
writer=$!
sleep 2

t0=$(date +%s%N)
out=$(admin -a big dup add -c tj -p) || fail "dup add -p: $out"
grep -q "successfully add duplication" <<<"$out" || fail "dup add -p printed: $out"
seen_file="$ITEST_DIR/state/states-seen"
: >"$seen_file"
# in_log: DS_LOG reached; logs each new state with dup list's full_copy line (wait_for runs it
# in a subshell, so the states seen go to a file)
in_log() {
  local list s
  list=$(admin -a big dup list) || return 1
  s=$(grep -oE '"DS_[A-Z]+"' <<<"$list" | head -n1 | tr -d '"')
  if [ "$s" != "$(tail -n1 "$seen_file")" ]; then
    echo "$s" >>"$seen_file"
    itest_log "dup list: $s $(grep -oE '"full_copy": "[^"]*"' <<<"$list" || true)"
  fi
  [ "$s" = DS_LOG ]
}
wait_for "the full duplication to reach DS_LOG" 300 in_log
t1=$(date +%s%N)
seen=$(tr '\n' ' ' <"$seen_file")
itest_log "dup add -p -> DS_LOG in $(((t1 - t0) / 1000000)) ms; states seen: $seen"
[[ "$seen" == *DS_LOG* ]] || fail "DS_LOG not seen: $seen"
[[ "$seen" != *DS_PAUSE* ]] || fail "unexpected states: $seen"

sleep 3 # writes after DS_LOG are shipped too
kill -TERM "$writer" # ends cleanly: in-flight writes finish, the ack log is synced
wait "$writer" || fail "the writer during the copy failed: $(tail -n 20 "$ITEST_DIR/state/during-copy.out")"
acked=$(sort -u "$ack" | wc -l)
[ "$acked" -gt 1000 ] || fail "only $acked writes acknowledged during the copy"
itest_log "writer stopped: $acked writes acknowledged during the copy"

same_digest() {
  local a b
  a=$(dump_of bj "$1" | sha256sum) || return 1
  b=$(dump_of tj "$1" | sha256sum) || return 1
  [ "$a" = "$b" ]
}
wait_for "tj to hold exactly what bj holds (full-scan diff)" 300 same_digest big
n=$(dump_of tj big | wc -l)
[ "$n" -ge $((200000 + acked)) ] || fail "tj holds $n records, want >= $((200000 + acked))"
cluster_use tj
out=$(bench -a big --op verify --count 200000 --seed 1 --value-size 1000) || fail "verify: $out"
[ "$(bench_value found "$out")" = 200000 ] && [ "$(bench_value wrong "$out")" = 0 ] ||
  fail "geokv-bench verify of the loaded records on tj: $out"
out=$(bench -a big --op verify --seed 2 --value-size 1000 --ack-log "$ack") ||
  fail "verify of the writes made during the copy: $out"
[ "$(bench_value wrong "$out")" = 0 ] && [ "$(bench_value not_found "$out")" = 0 ] ||
  fail "writes acknowledged during the copy are missing or wrong on tj: $out"
itest_log "tj identical to bj: $n records; verify passed for 200,000 + $acked acknowledged writes"

# --- the remote table exists: -p refuses, with the reason
cluster_use bj
admin create exists -p 2 -r 3 >/dev/null || fail "create exists on bj"
cluster_use tj
admin create exists -p 2 -r 3 >/dev/null || fail "create exists on tj"
cluster_use bj
out=$(admin -a exists dup add -c tj -p 2>&1) && fail "dup add -p with an existing remote table succeeded: $out"
grep -q "already exists on remote cluster tj" <<<"$out" || fail "refusal without the reason: $out"

# --- an empty table: every partition still gets a checkpoint, and later writes arrive
admin create empty -p 4 -r 3 >/dev/null || fail "create empty on bj"
admin -a empty dup add -c tj -p >/dev/null || fail "dup add -p of an empty table"
empty_in_log() { admin -a empty dup list | grep '"DS_LOG"' >/dev/null; }
wait_for "the empty table's duplication to reach DS_LOG" 120 empty_in_log
bench -a empty --op set --count 500 --seed 5 --value-size 100 >/dev/null || fail "writes on empty"
wait_for "the writes after the copy of an empty table to arrive" 60 same_digest empty
[ "$(dump_of tj empty | wc -l)" = 500 ] || fail "tj's empty table does not hold the 500 new writes"

# --- TTLs and deletes are carried over by the copy
admin create ttl -p 4 -r 3 >/dev/null || fail "create ttl on bj"
mixed_script 5000 11 >"$ITEST_DIR/state/ttl.txt"
"$GEOKV_BIN/admin-cli" -m "$META_LIST" -a ttl <"$ITEST_DIR/state/ttl.txt" >/dev/null ||
  fail "mixed writes on ttl"
for i in $(seq 1 20); do echo "set short$i s v 4"; done | # expire during the copy
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" -a ttl >/dev/null || fail "short TTL writes"
for i in $(seq 1 20); do echo "set gone$i s v"; echo "del gone$i s"; done |
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" -a ttl >/dev/null || fail "set+del writes"
expiring=$(dump_of bj ttl | awk -F'\t' '$NF != 0' | wc -l)
admin -a ttl dup add -c tj -p >/dev/null || fail "dup add -p of ttl"
ttl_in_log() { admin -a ttl dup list | grep '"DS_LOG"' >/dev/null; }
wait_for "the ttl table's duplication to reach DS_LOG" 120 ttl_in_log
sleep 5 # the 4 s records have expired on both sides
wait_for "tj's ttl table to equal bj's (values and expiry times)" 60 same_digest ttl
dump_of tj ttl | grep -q '^gone' && fail "a deleted record reappeared on tj"
dump_of tj ttl | grep -q '^short' && fail "an expired record is alive on tj"
itest_log "ttl table identical, deletes and expiries carried over ($expiring records with a TTL)"

# --- dup remove in DS_APP stops it cleanly: the source primaries drop it (and its plog floor)
admin create rm -p 4 -r 3 >/dev/null || fail "create rm on bj"
bench -a rm --op set --count 20000 --seed 6 --value-size 1000 --inflight 64 >/dev/null ||
  fail "loading rm"
cluster_use tj
admin server-config all nfs_copy_rate_mb 1 >/dev/null || fail "server-config nfs_copy_rate_mb 1"
cluster_use bj
admin -a rm dup add -c tj -p >/dev/null || fail "dup add -p of rm"
rm_in_app() { admin -a rm dup list | grep '"DS_APP"' >/dev/null; }
wait_for "rm's duplication in DS_APP" 60 rm_in_app
id=$(dup_id rm) || fail "no dupid for rm"
admin -a rm dup remove -d "$id" >/dev/null || fail "dup remove in DS_APP"
admin -a rm dup list | grep '"dupid"' >/dev/null && fail "a removed duplication is still listed"
dropped() { [ "$(cat "$ITEST_DIR"/logs/bj-replica*.log | grep -c "duplication $id removed here")" -ge 4 ]; }
wait_for "every rm primary on bj to drop the removed duplication" 30 dropped
cluster_use tj
admin server-config all nfs_copy_rate_mb 500 >/dev/null || fail "server-config nfs_copy_rate_mb 500"
itest_log "dup remove in DS_APP: every source primary dropped duplication $id"
itest_pass
