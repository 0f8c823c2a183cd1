#!/usr/bin/env bash
# dup switchover: bj is the master of table t, tj its read-only follower (bj -> tj). Under a
# write load on bj, `dup switchover` makes tj the master with nothing lost: every write bj
# acknowledged is on tj (geokv-bench verify), bj's clients got ERR_WRITE_DENIED rather than
# timeouts, bj ends read-only and following tj (tj -> bj), and writes on tj reach bj. Then a
# switch back interrupted after its reverse duplication (both sides read-only, and the
# command says so) is rolled back, and the switch back run again finishes; both tables end
# equal (dup verify).
# shellcheck disable=SC2317 # the helpers below run through wait_for
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup_switchover
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
ST="$ITEST_DIR/state"

dups_of() { on "$1" -a t dup list | grep -c '"dupid"' || true; }
read_on() { [ "$(on "$1" -a t get "$2" s 2>/dev/null)" = "$3" ]; }

zk_start
master_and_follower_up
BJ=$(cat "$ST/clusters/bj/metas")
TJ=$(cat "$ST/clusters/tj/metas")

# --- switch over to tj under a write load on bj
"$GEOKV_BIN/geokv-bench" -m "$BJ" -c "$ITEST_DIR/bj/config.ini" -a t --op set --count 20000 \
  --seed 1 --value-size 100 --duration 120 --threads 2 --inflight 4 --ack-log "$ST/acked" \
  >"$ST/load.out" 2>&1 &
load=$!
wait_for "the load to have written on bj" 30 bash -c "[ \$(wc -l <'$ST/acked') -ge 2000 ]"
out=$(on bj -a t dup switchover -c tj -r "$TJ" -l bj) || fail "switchover bj -> tj failed: $out"
itest_log "switchover:"$'\n'"$out"
kill -TERM "$load"
wait "$load" || true
grep -qE '^acked: [1-9]' "$ST/load.out" || fail "the load made no acknowledged write: $(cat "$ST/load.out")"
for n in 1 2 3 4 5 6; do grep -q "^step $n done: " <<<"$out" || fail "step $n not done: $out"; done
grep -q '^switched over in .* s: t on tj is the master' <<<"$out" || fail "no final line: $out"
grep -q '^writes to t: denied here, taken on tj' <<<"$out" || fail "no outcome line: $out"
if grep -q WARNING <<<"$out"; then fail "a warning after a clean switchover: $out"; fi
[ "$(writes_of bj)" = denied ] || fail "bj still takes writes"
[ "$(writes_of tj)" = allowed ] || fail "tj does not take writes"
[ "$(dups_of bj)" = 0 ] || fail "bj still duplicates to tj"
[ "$(dups_of tj)" = 1 ] || fail "tj does not duplicate to bj"

out=$(on bj -a t dup switchover -c tj -r "$TJ" -l bj) || fail "switchover run again: $out"
grep -q '^already switched over' <<<"$out" || fail "a switchover run again: $out"

# every write bj acknowledged is on tj
cluster_use tj
bench -a t --op verify --count 20000 --seed 1 --value-size 100 --ack-log "$ST/acked" >"$ST/verify.out" ||
  fail "verify on tj: $(cat "$ST/verify.out")"
if ! grep -qE '^missing: 0$' "$ST/verify.out" || ! grep -qE '^wrong: 0$' "$ST/verify.out"; then
  fail "acknowledged writes lost by the switchover: $(cat "$ST/verify.out")"
fi
itest_log "$(grep -E '^(found|missing|wrong):' "$ST/verify.out" | tr '\n' ' ')after the switchover"

# tj is the master now: its writes reach bj; bj refuses clients
on tj -a t set after-switch s on-tj >/dev/null || fail "write on the new master tj"
wait_for "tj's write to reach bj" 60 read_on bj after-switch on-tj
t0=$(geokv_now_ms)
if out=$(on bj -a t set x s y 2>&1); then fail "bj took a client write after the switchover"; fi
grep -q 'takes no client writes' <<<"$out" || fail "bj's refusal: $out"
[ $(($(geokv_now_ms) - t0)) -lt 5000 ] || fail "bj's refusal took $(($(geokv_now_ms) - t0)) ms"

# --- a switch back interrupted after its reverse duplication: both sides read-only
on tj writes t deny >/dev/null || fail "deny tj"
on bj -a t dup add -c tj >/dev/null || fail "dup add bj -> tj"
out=$(on tj --json -a t dup switchover -c bj -r "$BJ" -l tj --rollback) || fail "rollback failed: $out"
itest_log "rollback: $out"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["local_takes_writes"] is True and d["remote_takes_writes"] is False, d' "$out" ||
  fail "rollback --json: $out"
[ "$(writes_of tj)" = allowed ] || fail "rollback left tj read-only"
[ "$(writes_of bj)" = denied ] || fail "rollback opened bj"
[ "$(dups_of bj)" = 0 ] || fail "rollback left the duplication bj -> tj"
[ "$(dups_of tj)" = 1 ] || fail "rollback removed tj -> bj"

# half done again (tj read-only), then the switch back run to the end
on tj writes t deny >/dev/null || fail "deny tj again"
out=$(on tj -a t dup switchover -c bj -r "$BJ" -l tj) || fail "switch back failed: $out"
grep -q 'already denied' <<<"$out" || fail "the switch back did not notice writes were denied: $out"
grep -q '^switched over in .* s: t on bj is the master' <<<"$out" || fail "switch back: $out"
[ "$(writes_of bj)" = allowed ] || fail "bj does not take writes after the switch back"
[ "$(writes_of tj)" = denied ] || fail "tj takes writes after the switch back"
on bj -a t set after-back s on-bj >/dev/null || fail "write on bj after the switch back"
wait_for "bj's write to reach tj" 60 read_on tj after-back on-bj
out=$(on bj -a t dup verify -r "$TJ") || fail "bj and tj differ at the end: $out"
grep -qx equal <<<"$out" || fail "dup verify: $out"
itest_pass
