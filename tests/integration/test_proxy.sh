#!/usr/bin/env bash
# geokv-proxy against real Redis clients, two clusters bj -> tj duplicating table rp (4
# partitions, 3 replicas), a proxy on each and a redis-server (one database) to compare with:
#  1. redis-cli: a scripted session and a pipe of commands;
#  2. python3-redis: every supported command, reply by reply, against redis-server (same
#     values, same errors; TTLs within a second, HKEYS in any order: see docs/proxy.md);
#  3. the wire byte by byte against redis-server: inline requests, malformed RESP, huge bulk
#     and array lengths, QUIT;
#  4. a pipeline of 1,000 commands, 200 connections at once, clients leaving mid-pipeline
#     (no connection left behind, the proxy still serving);
#  5. keys and values over geokv's limits: an error, the connection goes on;
#  6. writes through bj's proxy (SET, INCR, APPEND, HSET, HINCRBY, SET NX, DEL) read
#     through tj's proxy after duplication: the values bj's writes resulted in;
#  7. SIGTERM stops a proxy cleanly (exit 0) while a client is connected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin proxy
itest_require_bins geokv-meta geokv-replica admin-cli geokv-proxy
PY=/usr/bin/python3
COMPARE="$(dirname "$0")/proxy_compare.py"
for b in redis-server redis-cli; do
  command -v "$b" >/dev/null || fail "$b is needed (deploy/install-deps.sh)"
done
$PY -c 'import redis' 2>/dev/null || fail "python3-redis is needed (deploy/install-deps.sh)"
zk_start
dup_clusters_up
for c in bj tj; do
  cluster_use "$c"
  admin create rp -p 4 -r 3 >/dev/null || fail "create rp on $c"
  proxy_start rp
done
cluster_use bj
admin -a rp dup add -c tj >/dev/null || fail "dup add bj -> tj"
BJ=$(cluster_use bj && proxy_port)
TJ=$(cluster_use tj && proxy_port)
REDIS=$(free_port)
mkdir -p "$ITEST_DIR/redis"
geokv_spawn "$ITEST_DIR/pids/redis.pid" "$ITEST_DIR/logs/redis.log" redis-server --port "$REDIS" \
  --bind 127.0.0.1 --dir "$ITEST_DIR/redis" --save "" --appendonly no --databases 1
wait_for "redis-server" 20 bash -c "redis-cli -p $REDIS ping 2>/dev/null | grep -q PONG"

# --- 1. redis-cli
[ "$(redis-cli -p "$BJ" set cli:k hello)" = OK ] || fail "redis-cli set"
[ "$(redis-cli -p "$BJ" get cli:k)" = hello ] || fail "redis-cli get"
out=$(printf 'SET cli:n 10\nINCRBY cli:n 5\nGET cli:n\nHSET cli:h f v\nHGET cli:h f\nGET cli:h\n' |
  redis-cli -p "$BJ")
want=$(printf 'OK\n15\n15\n1\nv\nWRONGTYPE Operation against a key holding the wrong kind of value')
[ "$out" = "$want" ] || fail "redis-cli pipe: got [$out], want [$want]"
itest_log "redis-cli: scripted session and pipe"

# --- 2.-5. python3-redis and raw sockets
for mode in compare wire; do
  $PY "$COMPARE" "$mode" "$BJ" "$REDIS" || fail "proxy_compare.py $mode"
done
$PY "$COMPARE" load "$BJ" || fail "proxy_compare.py load"
$PY "$COMPARE" limits "$BJ" || fail "proxy_compare.py limits"

# --- 6. duplication: tj's proxy reads what bj's proxy wrote
bj() { redis-cli -p "$BJ" "$@"; }
bj set dup:s v1 >/dev/null && bj set dup:s v2 >/dev/null
for _ in 1 2 3; do bj incr dup:n >/dev/null; done
bj append dup:a x >/dev/null && bj append dup:a y >/dev/null
bj hset dup:h f1 a f2 b >/dev/null && bj hincrby dup:h c 7 >/dev/null
bj set dup:nx first NX >/dev/null && bj set dup:nx second NX >/dev/null
bj set dup:gone v >/dev/null && bj del dup:gone >/dev/null
tj_has() {
  [ "$(redis-cli -p "$TJ" get dup:s)" = v2 ] && [ "$(redis-cli -p "$TJ" get dup:n)" = 3 ] &&
    [ "$(redis-cli -p "$TJ" get dup:a)" = xy ] && [ "$(redis-cli -p "$TJ" hget dup:h c)" = 7 ] &&
    [ "$(redis-cli -p "$TJ" hlen dup:h)" = 3 ] && [ "$(redis-cli -p "$TJ" get dup:nx)" = first ] &&
    [ "$(redis-cli -p "$TJ" exists dup:gone)" = 0 ]
}
wait_for "tj's proxy to read bj's writes" 60 tj_has
itest_log "duplication: what bj's proxy wrote reads the same through tj's"

# --- 7. a clean stop with a client connected
exec 3<>"/dev/tcp/127.0.0.1/$BJ"
cluster_use bj
pid=$(_proc_pid bj-proxy) || fail "bj's proxy is not running"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
exec 3<&-
[ "$rc" = 0 ] || fail "geokv-proxy exited with $rc on SIGTERM"
rm -f "$ITEST_DIR/pids/bj-proxy.pid"
itest_log "SIGTERM: the proxy closed its connections and exited 0"
itest_pass
