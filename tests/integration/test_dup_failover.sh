#!/usr/bin/env bash
# The master dies mid-switchover, and the follower is failed over. bj is the master of t and
# tj its read-only follower. Under a write load on bj, shipping stalls (tj's servers stopped),
# a switchover starts and waits for the shipping, and bj's replica servers are killed
# (kill -9): the switchover fails and says neither side takes writes. `dup failover` on tj
# prints, per partition of bj, how far its shipments said they were confirmed (the RPO) and
# what bj's meta still says, and tj takes writes at once. When bj comes back (its duplication
# removed first) it has every write it acknowledged, and `dup verify` finds that every write tj
# lacks was written after the reported RPO. Re-seeding bj from tj (drop, `dup add -p`) makes
# both equal again.
# shellcheck disable=SC2317 # the helpers below run through wait_for
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup_failover
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
ST="$ITEST_DIR/state"

step2_begun() { grep -q '^step 2: ' "$ST/switch.out"; }
status_of() { on "$1" -a t dup list | grep -oE '"status": *"[A-Z_]+"' | head -n1 | grep -oE 'DS_[A-Z_]+'; }
in_log() { [ "$(status_of tj)" = DS_LOG ]; }

zk_start
master_and_follower_up
BJ=$(cat "$ST/clusters/bj/metas")
TJ=$(cat "$ST/clusters/tj/metas")

load_start_us=$(date +%s%6N)
"$GEOKV_BIN/geokv-bench" -m "$BJ" -c "$ITEST_DIR/bj/config.ini" -a t --op set --count 20000 \
  --seed 1 --value-size 100 --duration 120 --threads 2 --inflight 8 --timeout-ms 3000 \
  --ack-log "$ST/acked" >"$ST/load.out" 2>&1 &
load=$!
wait_for "the load to have written on bj" 30 bash -c "[ \$(wc -l <'$ST/acked') -ge 2000 ]"

# --- shipping stalls (tj's servers stopped), writes go on, a switchover starts and waits for
# the shipping; then the master dies (and tj's servers go on)
cluster_use bj
dupid=$(dup_id t)
cluster_use tj
for i in 1 2 3; do replica_pause "$i"; done # shipping stalls: tj applies nothing
acked=$(wc -l <"$ST/acked")
wait_for "more writes on bj while its shipping is paused" 30 bash -c "[ \$(wc -l <'$ST/acked') -ge $((acked + 1000)) ]"
cluster_use bj
"$GEOKV_BIN/admin-cli" -m "$BJ" -c "$ITEST_DIR/bj/config.ini" -a t dup switchover -c tj \
  -r "$TJ" -l bj -w 8 >"$ST/switch.out" 2>&1 &
switch=$!
wait_for "the switchover to wait for the duplication" 30 step2_begun
cluster_use bj
for i in 1 2 3; do replica_kill9 "$i"; done
cluster_use tj
for i in 1 2 3; do replica_resume "$i"; done
kill -TERM "$load"
wait "$load" || true
grep -qE '^acked: [1-9]' "$ST/load.out" || fail "the load made no acknowledged write: $(cat "$ST/load.out")"
if wait "$switch"; then fail "the switchover succeeded with its master dead: $(cat "$ST/switch.out")"; fi
itest_log "the switchover, its master killed:"$'\n'"$(cat "$ST/switch.out")"
grep -q 'WARNING: neither cluster takes client writes' "$ST/switch.out" ||
  fail "the failed switchover does not say neither side takes writes: $(cat "$ST/switch.out")"

# --- failover on tj
out=$(on tj -a t dup failover -c bj -r "$BJ") || fail "failover failed: $out"
itest_log "failover:"$'\n'"$out"
grep -qE '^         cluster 1 partition 0: confirmed up to decree [0-9]+, its newest write written 20' <<<"$out" ||
  fail "no confirmed point for bj's partition 0: $out"
grep -qE '^         master partition 0: shipped up to decree [0-9]+; its primary does not answer' <<<"$out" ||
  fail "the master's meta was not asked: $out"
grep -q '^RPO: writes made on bj after 20' <<<"$out" || fail "no RPO line: $out"
[ "$(writes_of tj)" = allowed ] || fail "tj does not take writes after the failover"
json=$(on tj --json -a t dup failover -c bj) || fail "failover --json: $json"
rpo=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["local_takes_writes"]; print(d["rpo_from_us"])' "$json") ||
  fail "failover --json: $json"
on tj -a t set after-failover s on-tj >/dev/null || fail "write on tj after the failover"

# --- bj comes back: its duplication removed first, writes stay denied there
on bj -a t dup remove -d "$dupid" >/dev/null || fail "dup remove on bj"
cluster_use bj
for i in 1 2 3; do dup_replica_start "$i"; done
wait_nodes 3 60
[ "$(writes_of bj)" = denied ] || fail "bj takes writes after coming back"
cluster_use bj
wait_for "bj to serve every write it acknowledged" 60 bench -a t --op verify --count 20000 \
  --seed 1 --value-size 100 --ack-log "$ST/acked"
on bj --json -a t dup verify -r "$TJ" -c tj -l bj -n 100000 -w 5 >"$ST/diff.json" || true
python3 - "$ST/diff.json" "$rpo" "$load_start_us" <<'PY' || fail "what tj lacks vs the RPO (see $ST/diff.json)"
import json, sys
d, rpo, load_start = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
assert rpo > load_start, "tj heard of no confirmed point during the load (%d)" % rpo
lacking = [x for x in d["differences"] if x["kind"] != "missing on local"]
assert lacking, "bj's writes made while its shipping was paused are not missing on tj"
for x in lacking:  # bj's newer write that did not reach tj
    assert x["local"]["cluster_id"] == 1 and x["local"]["written_us"] > rpo, x
tj_only = [x for x in d["differences"] if x["kind"] == "missing on local"]
assert all(x["hash_key"] == "after-failover" for x in tj_only), tj_only
print("bj writes tj lacks: %d, every one written after the RPO" % len(lacking), file=sys.stderr)
PY

# --- re-seed bj from tj: drop it there, full duplication from tj, then bj follows
on bj drop t >/dev/null || fail "drop t on bj"
on tj -a t dup add -c bj -p >/dev/null || fail "dup add -p tj -> bj"
wait_for "the full duplication tj -> bj to reach DS_LOG" 120 in_log
on bj writes t deny >/dev/null || fail "deny writes on the re-seeded bj"
out=$(on tj -a t dup verify -r "$BJ" -c bj -l tj) || fail "tj and the re-seeded bj differ: $out"
grep -qx equal <<<"$out" || fail "dup verify after the re-seed: $out"
itest_pass
