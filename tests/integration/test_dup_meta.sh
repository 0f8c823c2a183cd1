#!/usr/bin/env bash
# The meta side of duplication, end to end through admin-cli, with two real clusters on one
# ZooKeeper (bjsrv-account id 1 with two metas, tjsrv-account id 2) and a third one that is
# configured but never started (shsrv-account: unreachable):
#  - every `dup add` validation error is one clear line and a non-zero exit: -p with the
#    remote table present, to itself,
#    not in [pegasus.clusters], not in [duplication-group], no table selected, table missing
#    here, table missing on the remote, remote unreachable, duplication disabled;
#  - add prints the dupid; adding again prints that it exists (same dupid);
#  - `dup list` prints the seed's JSON (dupid, status, remote, create_ts, fail_mode) plus
#    progress per partition; the ZooKeeper nodes are the documented layout;
#  - pause / start follow the state machine (wrong-state and unknown-dupid errors);
#    set_dup_fail_mode slow|skip;
#  - kill -9 of the meta leader: the new leader has the duplication (dupid, status, fail mode);
#  - remove: not listed, tombstone in ZooKeeper, a second remove fails, add again = new dupid;
#  - admin-cli --json: every command's document parses and holds what was done (table jt:
#    tables, nodes, settings, data with binary keys, dump, digest, duplication, failures).
# Shipping is not tested here (replica side).
. "$(dirname "$0")/lib.sh"
itest_begin dup_meta
itest_require_bins geokv-meta geokv-replica admin-cli
[ -x /usr/lib/zookeeper/bin/cli_mt ] || skip "no /usr/lib/zookeeper/bin/cli_mt"
zk_start

SRC=bjsrv-account
DST=tjsrv-account
# Declare every cluster before starting anything: each config lists all of them.
cluster_config $SRC "$(meta_list 2)" 1
cluster_config $DST "$(meta_list 1)" 2
cluster_config shsrv-account "$(meta_list 1)" 3 # never started
# A cluster with a meta list but no cluster id, on the source metas only.
LONELY=(--set "pegasus.clusters.lonely-account=127.0.0.1:1")

cluster_use $DST
meta_start 1
wait_for "a meta leader in $DST" 30 meta_leader
replica_start 1
wait_nodes 1 60

cluster_use $SRC
meta_start 1 "${LONELY[@]}"
meta_start 2 "${LONELY[@]}"
wait_for "a meta leader in $SRC" 30 meta_leader
replica_start 1
wait_nodes 1 60
admin create acct -p 4 -r 1 >/dev/null || fail "create acct on $SRC"

# expect_fail NEEDLE ARGS...: admin-cli ARGS must exit non-zero with exactly one stderr line
# that contains NEEDLE (and nothing on stdout).
expect_fail() {
  local needle="$1" out err rc=0
  shift
  err=$(mktemp "$ITEST_DIR/state/err.XXXXXX")
  out=$(admin "$@" 2>"$err") || rc=$?
  [ "$rc" -ne 0 ] || fail "admin $* succeeded: $out"
  [ -z "$out" ] || fail "admin $* printed on stdout: $out"
  [ "$(wc -l <"$err")" -eq 1 ] || fail "admin $*: not one error line: $(cat "$err")"
  grep -qF -- "$needle" "$err" || fail "admin $*: error lacks '$needle': $(cat "$err")"
  itest_log "refused as expected: $(cat "$err")"
  rm -f "$err"
}

# dup_json EXPR: evaluates a python expression over `dup list` of acct (variable d = the list).
dup_json() {
  local out
  out=$(admin -a acct dup list) || return 1
  python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' \
    "$1" <<<"$out"
}

# ---- validation: one clear line each
expect_fail "no table selected" dup list
expect_fail "no table selected" dup add -c $DST
expect_fail "cannot duplicate table acct to its own cluster $SRC" -a acct dup add -c $SRC
expect_fail "remote cluster nosuch is not in [pegasus.clusters]" -a acct dup add -c nosuch
expect_fail "remote cluster lonely-account is not in [duplication-group]" \
  -a acct dup add -c lonely-account
expect_fail "table missing does not exist" -a missing dup add -c $DST
expect_fail "table acct does not exist on remote cluster $DST" -a acct dup add -c $DST
t0=$(geokv_now_ms)
expect_fail "cannot ask remote cluster shsrv-account" -a acct dup add -c shsrv-account
itest_log "unreachable remote refused after $(($(geokv_now_ms) - t0)) ms"
expect_fail "usage: dup" -a acct dup add
expect_fail "usage: dup" -a acct dup pause
expect_fail "usage: dup" -a acct dup frobnicate -d 1
expect_fail "table missing does not exist" -a missing dup list
[ "$(dup_json 'len(d)')" = 0 ] || fail "refused adds left a duplication"

# ---- add, add again
cluster_use $DST
admin create acct -p 2 -r 1 >/dev/null || fail "create acct on $DST" # partition counts differ
cluster_use $SRC
expect_fail "table acct already exists on remote cluster $DST: full duplication (-p) creates it" \
  -a acct dup add -c $DST -p
out=$(printf 'use acct\ndup add -c %s\n' $DST | admin) || fail "dup add: $out"
dupid=$(sed -n 's/^successfully add duplication \[dupid: \([0-9]*\)\]$/\1/p' <<<"$out")
[ -n "$dupid" ] || fail "dup add printed no dupid: $out"
now_s=$(($(date +%s)))
[ $((now_s - dupid)) -ge 0 ] && [ $((now_s - dupid)) -lt 60 ] ||
  fail "dupid $dupid is not the creation time in seconds (now $now_s)"
out=$(admin -a acct dup add -c $DST) || fail "dup add again: $out"
grep -qF "already exists [dupid: $dupid]" <<<"$out" || fail "add again: $out"

# ---- list: the seed's JSON plus progress
[ "$(dup_json 'len(d)')" = 1 ] || fail "list: not one duplication"
[ "$(dup_json 'd[0]["dupid"]')" = "$dupid" ] || fail "list: dupid"
[ "$(dup_json 'd[0]["status"]')" = DS_LOG ] || fail "list: status"
[ "$(dup_json 'd[0]["remote"]')" = $DST ] || fail "list: remote"
[ "$(dup_json 'd[0]["fail_mode"]')" = FAIL_SLOW ] || fail "list: fail_mode"
[ "$(dup_json 'd[0]["create_ts"] // 1000')" -ge "$dupid" ] || fail "list: create_ts (ms)"
[ "$(dup_json 'sorted(d[0]["progress"].keys())')" = "['0', '1', '2', '3']" ] ||
  fail "list: progress keys"
[ "$(dup_json 'all(isinstance(v, int) and v >= -1 for v in d[0]["progress"].values())')" = True ] ||
  fail "list: progress values"
admin -a acct dup list >&2

# ---- ZooKeeper layout
app_id=$(admin app acct | sed -n 's/^app_id: //p')
node=/geokv/$SRC/apps/$app_id/duplication/$dupid
out=$(zk_cli "get $node")
for f in '"remote":"tjsrv-account"' '"status":"DS_LOG"' '"create_timestamp_ms":' \
  '"fail_mode":"FAIL_SLOW"' '"remote_app_name":"acct"' '"remote_replica_count":1'; do
  grep -qF "$f" <<<"$out" || fail "ZooKeeper $node lacks $f: $out"
done
out=$(zk_cli "get $node/3")
grep -qE '^-1$|^[0-9]+$' <<<"$out" || fail "ZooKeeper $node/3 is no decree: $out"

# ---- pause / start / fail mode, and their errors
out=$(admin -a acct dup pause -d "$dupid") || fail "pause: $out"
grep -qF "successfully pause duplication [dupid: $dupid]" <<<"$out" || fail "pause: $out"
[ "$(dup_json 'd[0]["status"]')" = DS_PAUSE ] || fail "not paused"
zout=$(zk_cli "get $node"); grep -qF '"status":"DS_PAUSE"' <<<"$zout" || fail "pause not in ZooKeeper: $zout"
expect_fail "only a DS_LOG duplication can be paused" -a acct dup pause -d "$dupid"
admin -a acct dup start -d "$dupid" >/dev/null || fail "start"
[ "$(dup_json 'd[0]["status"]')" = DS_LOG ] || fail "not started"
expect_fail "only a DS_PAUSE duplication can be started" -a acct dup start -d "$dupid"
expect_fail "table acct has no duplication 12345" -a acct dup pause -d 12345
expect_fail "usage: set_dup_fail_mode" set_dup_fail_mode acct "$dupid" fast
expect_fail "table acct has no duplication 12345" set_dup_fail_mode acct 12345 skip
expect_fail "table missing does not exist" set_dup_fail_mode missing "$dupid" skip
out=$(admin set_dup_fail_mode acct "$dupid" skip) || fail "set_dup_fail_mode: $out"
grep -qF "FAIL_SKIP" <<<"$out" || fail "set_dup_fail_mode: $out"
[ "$(dup_json 'd[0]["fail_mode"]')" = FAIL_SKIP ] || fail "fail mode not skip"
admin set_dup_fail_mode acct "$dupid" slow >/dev/null || fail "set_dup_fail_mode slow"
[ "$(dup_json 'd[0]["fail_mode"]')" = FAIL_SLOW ] || fail "fail mode not slow"
admin set_dup_fail_mode acct "$dupid" skip >/dev/null || fail "set_dup_fail_mode skip"
admin -a acct dup pause -d "$dupid" >/dev/null || fail "pause before the failover"

# ---- the meta leader dies: the new one has the duplication as it was
old=$(meta_leader) || fail "no leader in $SRC"
new=$((3 - old))
meta_kill9 "$old"
wait_for "meta $new to lead $SRC" 40 meta_leader_is "$new"
[ "$(dup_json 'd[0]["dupid"]')" = "$dupid" ] || fail "new leader: dupid"
[ "$(dup_json 'd[0]["status"]')" = DS_PAUSE ] || fail "new leader: status"
[ "$(dup_json 'd[0]["fail_mode"]')" = FAIL_SKIP ] || fail "new leader: fail mode"
out=$(admin -a acct dup add -c $DST) || fail "add on the new leader: $out"
grep -qF "already exists [dupid: $dupid]" <<<"$out" || fail "add on the new leader: $out"
meta_start "$old" "${LONELY[@]}"
admin -a acct dup start -d "$dupid" >/dev/null || fail "start on the new leader"

# ---- remove: gone from the list, tombstone in ZooKeeper; add again = a new dupid
out=$(admin -a acct dup remove -d "$dupid") || fail "remove: $out"
grep -qF "successfully remove duplication [dupid: $dupid]" <<<"$out" || fail "remove: $out"
[ "$(dup_json 'len(d)')" = 0 ] || fail "removed duplication still listed"
# polled: cli_mt's batch mode sometimes ends before it prints the value it read
tombstone_in_zk() { zk_cli "get $node" | grep -qF '"status":"DS_REMOVED"'; }
wait_for "the tombstone in ZooKeeper" 15 tombstone_in_zk
zk_cli "get $node/0" | grep -q "rc = 0" && fail "removed duplication kept its progress nodes"
expect_fail "duplication $dupid of table acct was removed" -a acct dup remove -d "$dupid"
out=$(admin -a acct dup add -c $DST) || fail "add after remove: $out"
dupid2=$(sed -n 's/^successfully add duplication \[dupid: \([0-9]*\)\]$/\1/p' <<<"$out")
[ -n "$dupid2" ] && [ "$dupid2" != "$dupid" ] || fail "add after remove: $out"

# ---- --json: every command prints one JSON object on one line (dump: one per record) with
# what the human output shows; a failure adds {"error": E} to the human line on stderr
JOUT="$ITEST_DIR/state/json.out"
JERR="$ITEST_DIR/state/json.err"
# jrun ARGS...: `admin-cli --json ARGS` on the current cluster (stdin: its commands if no
# ARGS); raw stdout in $JOUT, stderr in $JERR; returns its status.
jrun() {
  "$GEOKV_BIN/admin-cli" -m "$META_LIST" -c "$ITEST_DIR/$ITEST_CLUSTER/config.ini" --json "$@" \
    >"$JOUT" 2>"$JERR"
}
# jtrue EXPR: $JOUT is lines of strict JSON objects (UTF-8, no raw control characters), and
# the python expression EXPR holds over them: ds (all), d (the only one, else None), b(v)
# (a key or value's bytes: the string, or {"base64": ...} decoded).
jtrue() {
  python3 - "$JOUT" "$1" <<'PY'
import base64, json, sys
raw = open(sys.argv[1], "rb").read()
assert raw == b"" or raw.endswith(b"\n"), "no final newline: %r" % raw
ds = [json.loads(line) for line in raw.decode("utf-8").split("\n")[:-1]]
assert all(isinstance(x, dict) for x in ds), "not all objects: %r" % ds
d = ds[0] if len(ds) == 1 else None
b = lambda v: v.encode() if isinstance(v, str) else base64.b64decode(v["base64"], validate=True)
sys.exit(0 if eval("(%s)" % sys.argv[2]) else 1)  # parenthesized: EXPR may span lines
PY
}
# jcheck EXPR ARGS...: `admin-cli --json ARGS` exits 0 with one document d for which EXPR holds.
jcheck() {
  local expr="$1" rc=0
  shift
  jrun "$@" || rc=$?
  [ "$rc" = 0 ] || fail "--json $*: exit $rc: $(cat "$JOUT" "$JERR")"
  jtrue "len(ds) == 1 and ($expr)" || fail "--json $*: not ($expr): $(cat "$JOUT")"
}
# jfail STATUS NEEDLE ARGS...: exits STATUS and prints only {"error": E}, E containing NEEDLE,
# while stderr still has the human line with E (status 2, a bad option: getopt's line and the
# usage).
jfail() {
  local status="$1" needle="$2" rc=0
  shift 2
  jrun "$@" || rc=$?
  [ "$rc" = "$status" ] || fail "--json $*: exit $rc, not $status: $(cat "$JOUT" "$JERR")"
  NEEDLE="$needle" jtrue "len(ds) == 1 and list(d) == ['error'] and \
__import__('os').environ['NEEDLE'] in d['error'] and \
(d['error'] in open('$JERR').read() or $status == 2 and 'usage: admin-cli' in open('$JERR').read())" ||
    fail "--json $*: no {\"error\": ...$needle...}: $(cat "$JOUT" "$JERR")"
}

cluster_use $DST
admin create jt -p 2 -r 1 >/dev/null || fail "create jt on $DST"
cluster_use $SRC
jcheck 'd["name"] == "jt" and d["partition_count"] == 2 and d["replica_count"] == 1 and
  d["app_id"] > 0' create jt -p 2 -r 1
jt_id=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["app_id"])' <"$JOUT")
jcheck "[(t['app_id'], t['partition_count'], t['status']) for t in d['tables'] if t['name'] == 'jt']
  == [($jt_id, 2, 'AVAILABLE')] and all(t['create_time_s'] > 0 for t in d['tables'])" ls
r1=$(replica_addr 1)
jcheck "d['app_id'] == $jt_id and [(p['pidx'], p['primary'], p['secondaries']) for p in
  d['partitions']] == [(0, '$r1', []), (1, '$r1', [])] and
  all(p['ballot'] > 0 and p['last_committed'] >= 0 for p in d['partitions'])" app jt
jcheck "[(n['address'], n['state']) for n in d['nodes']] == [('$r1', 'ALIVE')] and
  d['nodes'][0]['primary_count'] >= 6" nodes
jcheck "d['leader'] in '$META_LIST'.split(',')" leader
jcheck "d['settings'] == [{'node': '$r1', 'key': 'duplicate_log_batch_bytes', 'value': '4096'}]" \
  server-config "$r1" duplicate_log_batch_bytes
jcheck "sorted(s['node'] for s in d['settings']) == sorted(['$r1'] + '$META_LIST'.split(',')) and
  {s['key'] for s in d['settings']} == {'log_level'}" server-config all log_level
jcheck 'd == {"ok": True}' use jt
jcheck '{"ls", "dup", "set_dup_fail_mode", "exit"} <= {c["name"] for c in d["commands"]} and
  [c["alias"] for c in d["commands"] if c["name"] == "check_and_set"] == ["cas"]' help

# data: text values stay strings, bytes that are not UTF-8 (or control characters) base64
jcheck 'd == {"ok": True}' -a jt set user name "héllo ✓"
jcheck 'd == {"found": True, "value": "héllo ✓", "expire_ts": 0}' -a jt get user name
jcheck 'd == {"found": False, "value": None, "expire_ts": None}' -a jt get user nosuch
jcheck 'd == {"ok": True}' -a jt multi_set user a 1 b 2
jcheck '[(r["sort_key"], r["value"]) for r in d["records"]] == [("a", "1"), ("b", "2"),
  ("name", "héllo ✓")] and d["count"] == 3' -a jt multi_get user
jcheck '[r["value"] for r in d["records"]] == ["2"] and d["count"] == 1' -a jt multi_get user b
jcheck '[r["sort_key"] for r in d["records"]] == ["a", "b"] and d["count"] == 2' -a jt scan user a c
jcheck 'd == {"ok": True}' -a jt multi_del user a
jcheck 'd == {"ok": True}' -a jt del user b
jcheck 'd == {"value": 5}' -a jt incr user n 5
jcheck 'd == {"value": 3}' -a jt incr user n -2
jcheck 'd == {"set": True, "check_exists": True, "check_value": "3"}' -a jt cas user n equal:3 c yes
jcheck 'd == {"set": False, "check_exists": True, "check_value": "3"}' -a jt cas user n equal:9 c no
jcheck 'd == {"set": False, "check_exists": False, "check_value": None}' -a jt cas user x exist c no
printf '%s\n' 'use jt' 'set "\xffk\x00" "s\x01" "\xfe\xff"' 'get "\xffk\x00" "s\x01"' \
  'scan "\xffk\x00"' exit 'get "\xffk\x00" "s\x01"' | jrun || fail "binary keys on stdin: $(cat "$JERR")"
jtrue 'len(ds) == 4 and ds[0] == ds[1] == {"ok": True} and ds[2]["value"] == {"base64": "/v8="} and
  ds[3]["records"][0]["sort_key"] == {"base64": "cwE="} and b(ds[2]["value"]) == b"\xfe\xff" and
  [(b(r["hash_key"]), b(r["sort_key"])) for r in ds[3]["records"]] == [(b"\xffk\x00", b"s\x01")]' ||
  fail "binary keys on stdin (one document per command, none after exit): $(cat "$JOUT")"
jcheck 'd == {"count": 4}' -a jt count
jrun dump jt || fail "dump jt: $(cat "$JERR")"
jtrue '[(b(r["hash_key"]), b(r["sort_key"]), b(r["value"]), r["expire_ts"]) for r in ds] ==
  [(b"user", b"c", b"yes", 0), (b"user", b"n", b"3", 0), (b"user", b"name", "héllo ✓".encode(), 0),
   (b"\xffk\x00", b"s\x01", b"\xfe\xff", 0)]' || fail "dump jt --json: $(cat "$JOUT")"
jcheck "d['converged'] is True and [(r['pidx'], r['node'], r['role'], r['error']) for r in
  d['replicas']] == [(0, '$r1', 'primary', None), (1, '$r1', 'primary', None)] and
  all(len(r['digest']) == 16 and r['records'] >= 0 for r in d['replicas'])" digest jt
jcheck "d['replicas'] == [{'pidx': p, 'node': '$r1', 'compacted': True, 'error': None}
  for p in (0, 1)]" compact jt

# duplication
jcheck 'd["existed"] is False and d["dupid"] > 0' -a jt dup add -c $DST
jdup=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["dupid"])' <"$JOUT")
jcheck "d == {'dupid': $jdup, 'existed': True}" -a jt dup add -c $DST
jcheck "[(x['dupid'], x['status'], x['remote'], x['fail_mode'], sorted(x['progress']),
  x['full_copy']) for x in d['duplications']] == [($jdup, 'DS_LOG', '$DST', 'FAIL_SLOW',
  ['0', '1'], None)] and d['duplications'][0]['create_ts'] >= $jdup * 1000" -a jt dup list
jcheck "d == {'ok': True, 'dupid': $jdup}" -a jt dup pause -d "$jdup"
jcheck "[x['status'] for x in d['duplications']] == ['DS_PAUSE']" -a jt dup list
jcheck "d == {'ok': True, 'dupid': $jdup}" -a jt dup start -d "$jdup"
jcheck "d == {'ok': True, 'dupid': $jdup, 'fail_mode': 'FAIL_SKIP'}" set_dup_fail_mode jt "$jdup" skip
jcheck "[x['fail_mode'] for x in d['duplications']] == ['FAIL_SKIP']" -a jt dup list
jcheck "d == {'ok': True, 'dupid': $jdup}" -a jt dup remove -d "$jdup"
jcheck 'd == {"duplications": []}' -a jt dup list

# failures: {"error": ...} on stdout, the human line on stderr, status 1 (2 for options)
jfail 1 "dup pause: table jt has no duplication 12345" -a jt dup pause -d 12345
jfail 1 "usage: get <hk> <sk>" -a jt get user
jfail 1 "usage: dup add" -a jt dup add
jfail 1 "get: no table selected" get user name
jfail 1 "unknown command 'frobnicate'" frobnicate
jfail 1 "missing: table not found" -a missing get a b
jfail 1 "parse: unterminated quote" <<<'get "a'
jfail 2 "usage: bad option" --no-such-option ls
jcheck 'd == {"ok": True}' drop jt
jcheck '"jt" not in [t["name"] for t in d["tables"] if t["status"] == "AVAILABLE"]' ls
itest_log "--json: every command printed valid JSON with the expected contents"

# ---- duplication disabled: adds are refused, existing duplications stay
meta_stop 1
meta_stop 2
meta_start 1 "${LONELY[@]}" --set replication.duplication_enabled=false
meta_start 2 "${LONELY[@]}" --set replication.duplication_enabled=false
wait_for "a meta leader in $SRC" 30 meta_leader
expect_fail "duplication is disabled on cluster $SRC" -a acct dup add -c shsrv-account
[ "$(dup_json 'd[0]["dupid"]')" = "$dupid2" ] || fail "disabled: the duplication is gone"
itest_pass
