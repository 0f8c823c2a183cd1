#!/usr/bin/env bash
# Backpressure end to end: a client with far more calls in flight (8 threads x 512) than a
# table of 2 partitions with 3 replicas each can take at once, writing and then reading 4 KB
# values. The client holds what does not fit each connection's reply window, the primaries
# refuse what does not fit their prepare pipeline (ERR_BUSY, retried by the client), and
# nothing is lost or left uncertain: no call fails or times out, no server or client counts
# a missing reply, and every write reads back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/repl_lib.sh"
itest_begin backpressure
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
cluster_config c1 "$(meta_list 1)"
meta_start 1
ports=()
for i in 1 2 3; do
  ports[i]=$(free_port)
  replica_start "$i" --set "core.metrics_address=127.0.0.1:${ports[i]}"
done
wait_nodes 3 60
admin create bp -p 2 -r 3 >/dev/null || fail "create bp"
wait_for "bp fully replicated" 60 partitions_have bp 3

# flood: far more calls in flight than fit; each run must end with every call answered
flood() {
  local what="$1" out
  shift
  out=$(bench -a bp --count 40000 --seed 5 --value-size 4000 --threads 8 --inflight 512 \
    --timeout-ms 10000 "$@") || fail "$what: $out"
  itest_log "$what: $(grep -E '^(ops|ok|errors|not_found|uncertain|ops_per_sec|rpc_[a-z_]+):' <<<"$out" | tr '\n' ' ')"
  grep -qE '^errors: 0$' <<<"$out" || fail "$what: calls failed: $out"
  grep -qE '^uncertain: 0$' <<<"$out" || fail "$what: calls timed out: $out"
  grep -qE '^rpc_replies_lost: 0$' <<<"$out" || fail "$what: the client counted lost replies: $out"
}
flood "40,000 sets of 4 KB" --op set
flood "gets of 4 KB for 8 s" --op get --duration 8
for i in 1 2 3; do
  m=$(curl -fsS "http://127.0.0.1:${ports[i]}/metrics") || fail "GET /metrics of replica $i"
  lost=$(awk '/^geokv_rpc_replies_lost_total / {print $2}' <<<"$m")
  [ "${lost:-0}" = 0 ] || fail "replica $i counted $lost lost replies"
done
# a check-and-set whose checked value is larger than its reply limit: the primary answers
# ERR_REPLY_TOO_LARGE before it writes and the client asks again with room. It must run once:
# it replaces the value it checks, so a second run would fail its check
big=$(head -c 60000 /dev/zero | tr '\0' v)
admin -a bp set big s "$big" >/dev/null || fail "set a 60 KB value"
[ "$(admin -a bp get big s)" = "$big" ] || fail "a 60 KB get did not read back"
out=$(admin -a bp cas big s "equal:$big" s changed) || fail "cas checking a 60 KB value: $out"
[ "$out" = OK ] || fail "cas checking a 60 KB value: $(head -c 200 <<<"$out")"
[ "$(admin -a bp get big s)" = changed ] || fail "the cas did not set the value"

out=$(bench -a bp --count 40000 --seed 5 --value-size 4000 --op verify --threads 4 --inflight 64) ||
  fail "verify: $out"
grep -qE '^found: 40000$' <<<"$out" || fail "acknowledged writes are missing: $out"
itest_pass
