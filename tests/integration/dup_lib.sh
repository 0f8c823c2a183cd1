#!/usr/bin/env bash
# Helpers shared by the duplication tests (sourced after lib.sh): two clusters, bj (id 1) and
# tj (id 2), each with one meta and three replica servers, and table dumps to compare them.

# dup_clusters_up [section.key=value...]: declares and starts bj and tj (fast beacons and
# duplication sync, and the settings given).
dup_clusters_up() {
  local c i
  cluster_config bj "$(meta_list 1)" 1
  cluster_config tj "$(meta_list 1)" 2
  for c in bj tj; do
    cluster_use "$c"
    cluster_set replica_server.beacon_interval_ms=200 replication.dup_sync_interval_ms=200 \
      replication.group_check_interval_ms=200 "$@"
    meta_start 1
    wait_for "a meta leader in $c" 30 meta_leader
    for i in 1 2 3; do dup_replica_start "$i"; done
    wait_nodes 3 60
  done
}

# dup_replica_start I: (re)starts replica I of the current cluster with its /metrics port.
dup_replica_start() {
  local f="$ITEST_DIR/state/clusters/$ITEST_CLUSTER/metrics$1.port"
  [ -f "$f" ] || free_port >"$f"
  replica_start "$1" --set "core.metrics_address=127.0.0.1:$(cat "$f")"
}

# on CLUSTER ARGS...: admin-cli on CLUSTER (which becomes the current one).
on() {
  local c="$1"
  shift
  cluster_use "$c"
  admin "$@"
}

# master_and_follower_up [section.key=value...]: bj and tj up (dup_clusters_up), table t (4 partitions) on both, bj
# duplicating it to tj, whose client writes are denied: a master and its read-only follower.
master_and_follower_up() {
  dup_clusters_up "$@"
  for c in bj tj; do on "$c" create t -p 4 -r 3 >/dev/null || fail "create t on $c"; done
  on tj writes t deny >/dev/null || fail "deny writes on the follower tj"
  on bj -a t dup add -c tj >/dev/null || fail "dup add bj -> tj"
}

# writes_of CLUSTER: whether table t takes client writes there ("allowed" / "denied").
writes_of() { on "$1" app t | awk '/^writes:/ {print $2}'; }

# dump_of CLUSTER APP: the table's live records, sorted (admin-cli dump).
dump_of() {
  cluster_use "$1"
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" dump "$2"
}

# same_data APP: bj and tj hold the same records (key, value, expiry).
same_data() {
  local a b
  a=$(dump_of bj "$1") || return 1
  b=$(dump_of tj "$1") || return 1
  [ -n "$a" ] && [ "$a" = "$b" ]
}

# show_diff APP: prints the first differences between bj and tj (for failure messages).
show_diff() {
  diff <(dump_of bj "$1") <(dump_of tj "$1") | head -n 20
}

# dup_id APP: the dupid of APP's duplication on the current cluster.
dup_id() {
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" -a "$1" dup list | grep -oE '"dupid": *[0-9]+' |
    head -n1 | grep -oE '[0-9]+$'
}

# mixed_script COUNT SEED: an admin-cli script of COUNT mixed writes: sets, deletes, sets
# with a TTL, multi_sets and incrs over a key space where they overlap.
mixed_script() {
  python3 - "$1" "$2" <<'PY'
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(seed)
for i in range(n):
    k = "k%d" % rnd.randrange(n // 4 + 1)
    r = rnd.random()
    if r < 0.45:
        print("set %s s%d v%d-%d" % (k, rnd.randrange(3), seed, i))
    elif r < 0.6:
        print("del %s s%d" % (k, rnd.randrange(3)))
    elif r < 0.7:
        print("set %s ttl v%d 3600" % (k, i))
    elif r < 0.85:
        print("multi_set %s m0 a%d m1 b%d" % (k, i, i))
    else:
        print("incr %s n %d" % (k, rnd.randrange(1, 9)))
PY
}

# shipped_ops CLUSTER: the sum of geokv_dup_shipped_ops_total over the cluster's replica servers.
shipped_ops() {
  local f total=0 v
  cluster_use "$1"
  for f in "$ITEST_DIR/state/clusters/$1"/metrics*.port; do
    [ -f "$f" ] || continue
    v=$(curl -fsS "http://127.0.0.1:$(cat "$f")/metrics" | awk '/^geokv_dup_shipped_ops_total/ {print $2}')
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
