#!/usr/bin/env bash
# Meta server election on real ZooKeeper, without replica servers:
#  - two metas, exactly one leader, both name it; the ZooKeeper layout is the documented one;
#  - the leader loads tables from ZooKeeper (seeded here by hand) and turns a table left
#    "creating" by a dead leader into "dropped";
#  - the servers named in the seeded configurations are listed as nodes at once, declared dead
#    after one grace period, and their partitions keep their configuration (no live member
#    to promote: they wait for their primary to return);
#  - kill -9 the leader: the other takes over within the session timeout and serves the table;
#  - the killed meta restarts as a follower;
#  - SIGTERM the leader: it exits 0 and, since closing its session removes its election node
#    at once, the other takes over well within the session timeout.
. "$(dirname "$0")/lib.sh"
itest_begin meta
itest_require_bins geokv-meta admin-cli
[ -x /usr/lib/zookeeper/bin/cli_mt ] || skip "no /usr/lib/zookeeper/bin/cli_mt"
zk_start
cluster_config c1 "$(meta_list 2)"
# A long session makes the two takeover paths (session expiry vs. clean close) distinguishable.
SESSION_S=10
cluster_set zookeeper.session_timeout_ms=$((SESSION_S * 1000))
GRACE_MS=1500
cluster_set meta_server.node_grace_ms=$GRACE_MS meta_server.lease_ms=1000

# zk_ok CMD: runs a cli_mt command and fails the test unless it reports rc = 0.
zk_ok() {
  local out
  out=$(zk_cli "$1")
  grep -q "rc = 0" <<<"$out" || fail "zookeeper '$1' failed: $out"
}

# ---- seed: a table as an earlier leader would have written it, and a half-created one
for p in /geokv /geokv/c1 /geokv/c1/apps /geokv/c1/apps/5 /geokv/c1/apps/5/0 \
  /geokv/c1/apps/5/1 /geokv/c1/apps/7; do
  zk_ok "create $p"
done
zk_ok 'set /geokv/c1/apps/5 {"app_id":5,"name":"seeded","partition_count":2,"replica_count":1,"status":"available","envs":{},"create_ts":1700000000}'
zk_ok 'set /geokv/c1/apps/5/0 {"pidx":0,"ballot":3,"primary":"127.0.0.1:9","secondaries":[],"last_committed_decree":0}'
zk_ok 'set /geokv/c1/apps/5/1 {"pidx":1,"ballot":4,"primary":"127.0.0.1:10","secondaries":[],"last_committed_decree":0}'
zk_ok 'set /geokv/c1/apps/7 {"app_id":7,"name":"half","partition_count":1,"replica_count":1,"status":"creating","envs":{},"create_ts":1700000000}'

# leader_of I: the leader address meta I names (`admin-cli -m ADDR leader`).
leader_of() {
  timeout 10 "$GEOKV_BIN/admin-cli" -m "$(meta_addr "$1")" leader 2>/dev/null |
    grep -oE '[0-9]+(\.[0-9]+){3}:[0-9]+' | head -n1
}
# both_name I: both metas name meta I as the leader.
both_name() {
  local want
  want=$(meta_addr "$1")
  [ "$(leader_of 1)" = "$want" ] && [ "$(leader_of 2)" = "$want" ]
}
# election_nodes: the number of election nodes in ZooKeeper.
election_nodes() { zk_cli "ls /geokv/c1/leader" | grep -cE '^[[:space:]]*n_[0-9]{10}$' || true; }
election_nodes_is() { [ "$(election_nodes)" -eq "$1" ]; }

meta_start 1
wait_for "meta 1 to lead alone" 30 meta_leader_is 1
meta_start 2
wait_for "two election nodes" 30 election_nodes_is 2
wait_for "both metas to name meta 1" 30 both_name 1

# ---- exactly one leader, and its node holds its address
out=$(zk_cli "ls /geokv/c1/leader")
first=$(grep -oE 'n_[0-9]{10}' <<<"$out" | sort | head -n1)
[ -n "$first" ] || fail "no election node: $out"
zk_cli "get /geokv/c1/leader/$first" | grep -qF "$(meta_addr 1)" ||
  fail "lowest election node $first does not hold meta 1's address"

# ---- the leader loaded the seeded tables from ZooKeeper
out=$(admin app seeded) || fail "app seeded: $out"
grep -q "127.0.0.1:10" <<<"$out" || fail "app seeded lacks partition 1's primary: $out"
if admin app half >/dev/null 2>&1; then fail "half-created table is served"; fi

# ---- configured servers are nodes from the load on; never beaconing, they die after a grace
# period, and a partition with no live member keeps its configuration
# node_state ADDR: the state column of ADDR in `nodes`.
node_state() { admin nodes 2>/dev/null | awk -v a="$1" '$1 == a { print $2 }'; }
node_is_dead() { [ "$(node_state "$1")" = DEAD ]; }
out=$(admin nodes) || fail "nodes: $out"
grep -q "127.0.0.1:9 " <<<"$out" || fail "seeded primary 127.0.0.1:9 is not listed: $out"
wait_for "127.0.0.1:9 declared dead" 30 node_is_dead 127.0.0.1:9
wait_for "127.0.0.1:10 declared dead" 30 node_is_dead 127.0.0.1:10
out=$(admin app seeded) || fail "app seeded: $out"
grep -qE '^0 +3 +127\.0\.0\.1:9 ' <<<"$out" || fail "partition 0 changed with no live member: $out"
grep -qE '^1 +4 +127\.0\.0\.1:10 ' <<<"$out" || fail "partition 1 changed with no live member: $out"
zk_cli "get /geokv/c1/apps/5/0" | grep -q '"ballot":3' || fail "partition 0 was rewritten in ZooKeeper"
zk_cli "get /geokv/c1/apps/7" | grep -q '"status":"dropped"' ||
  fail "half-created table was not marked dropped in ZooKeeper"
# no replica server has beaconed: a create is refused, not hung
if out=$(admin create t1 -p 2 2>&1); then fail "create without replica servers succeeded: $out"; fi
grep -qi "live replica" <<<"$out" || fail "create without servers: unexpected error: $out"

# ---- kill -9 the leader: meta 2 takes over after the session expires
t0=$(geokv_now_ms)
meta_kill9 1
wait_for "meta 2 to take over" $((SESSION_S * 3)) meta_leader_is 2
itest_log "kill -9 takeover took $(($(geokv_now_ms) - t0)) ms (session timeout ${SESSION_S}s)"
out=$(admin app seeded) || fail "app seeded on the new leader: $out"
grep -q "127.0.0.1:9" <<<"$out" || fail "new leader lost partition 0's primary: $out"
wait_for "one election node" 10 election_nodes_is 1

# ---- the killed meta comes back as a follower naming meta 2
meta_start 1
wait_for "both metas to name meta 2" 30 both_name 2
wait_for "two election nodes again" 10 election_nodes_is 2

# ---- SIGTERM the leader: clean exit 0, fast handover (no session expiry to wait for)
pid=$(meta_pid 2) || fail "meta 2 not running"
t0=$(geokv_now_ms)
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
rm -f "$ITEST_DIR/pids/c1-meta2.pid"
[ "$rc" -eq 0 ] || fail "meta 2 exited $rc after SIGTERM"
wait_for "meta 1 to take over after a clean stop" $((SESSION_S / 2)) meta_leader_is 1
itest_log "clean-stop takeover took $(($(geokv_now_ms) - t0)) ms"
admin app seeded >/dev/null || fail "app seeded after the clean handover"
itest_pass
