#!/usr/bin/env bash
# Master-slave duplication between two real clusters: 20,000 mixed writes (sets, deletes,
# TTLs, multi_set, incr) on bj arrive on tj, which ends identical (key, value, expiry) — once
# with equal partition counts and once with 8 -> 4. Pause keeps the plog and lets writes pile
# up; start ships them. Remove, then add again. A meta leader restart keeps the duplication.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dup_lib.sh"
itest_begin dup
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench
zk_start
dup_clusters_up

for spec in "same 8 8" "fewer 8 4"; do
  read -r app pbj ptj <<<"$spec"
  cluster_use tj && admin create "$app" -p "$ptj" -r 3 >/dev/null || fail "create $app on tj"
  cluster_use bj && admin create "$app" -p "$pbj" -r 3 >/dev/null || fail "create $app on bj"
  out=$(admin -a "$app" dup add -c tj) || fail "dup add: $out"
  grep -q "successfully add duplication" <<<"$out" || fail "dup add printed: $out"
  mixed_script 20000 7 >"$ITEST_DIR/state/mixed.txt"
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" -a "$app" <"$ITEST_DIR/state/mixed.txt" >/dev/null ||
    fail "mixed writes on bj ($app)"
  wait_for "tj to hold what bj holds ($app, $pbj -> $ptj partitions)" 120 same_data "$app"
  itest_log "$app: bj and tj identical after 20,000 mixed writes ($pbj -> $ptj partitions)"
done

# --- pause: writes pile up on bj and stay there; start: they arrive
cluster_use bj
id=$(dup_id same) || fail "no dupid"
admin -a same dup pause -d "$id" >/dev/null || fail "dup pause"
admin -a same dup list | grep '"DS_PAUSE"' >/dev/null || fail "dup list does not show DS_PAUSE"
bench -a same --op set --count 3000 --seed 21 --value-size 50 >/dev/null || fail "writes while paused"
cluster_use tj
out=$(bench -a same --op verify --count 3000 --seed 21 --value-size 50 || true)
[ "$(grep -oE '^found: [0-9]+' <<<"$out" | grep -oE '[0-9]+$')" -lt 3000 ] ||
  fail "writes arrived on tj while the duplication was paused"
cluster_use bj
admin -a same dup start -d "$id" >/dev/null || fail "dup start"
wait_for "the paused writes to arrive" 60 same_data same

# --- remove, write, add again (without -p: only new writes)
admin -a same dup remove -d "$id" >/dev/null || fail "dup remove"
admin -a same dup list | grep "\"dupid\": *$id" >/dev/null && fail "a removed duplication is listed"
admin -a same set gap k during-removal >/dev/null
out=$(admin -a same dup add -c tj) || fail "dup add again: $out"
admin -a same set after k added-again >/dev/null
cluster_use tj
wait_for "a write after the new add to arrive" 60 bash -c \
  "'$GEOKV_BIN/admin-cli' -m '$META_LIST' -a same get after k | grep -q added-again"

# --- the meta leader restarts: the duplication and its progress survive
cluster_use bj
before=$(admin -a same dup list) || fail "dup list"
meta_stop 1
meta_start 1
wait_for "bj's meta to lead again" 30 meta_leader
after=$(admin -a same dup list) || fail "dup list after the restart"
[ "$(grep -oE '"dupid": *[0-9]+' <<<"$before")" = "$(grep -oE '"dupid": *[0-9]+' <<<"$after")" ] ||
  fail "duplication changed across a meta restart: $before vs $after"
admin -a same set post-restart k v >/dev/null
cluster_use tj
wait_for "shipping after the meta restart" 60 bash -c \
  "'$GEOKV_BIN/admin-cli' -m '$META_LIST' -a same get post-restart k | grep -qx v"
itest_pass
