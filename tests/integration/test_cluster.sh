#!/usr/bin/env bash
# One cluster end to end: 2 metas, 3 replica servers, a table of 8 partitions; 20,000 keys
# written and verified with geokv-bench; every admin-cli data command; dump; run-time settings
# (server-config) on every server; /metrics on a replica and a meta; geokv-bench --op lag
# against the cluster itself; bad input of every kind answered with a clear error while the
# servers keep serving.
. "$(dirname "$0")/lib.sh"
itest_begin cluster
itest_require_bins geokv-meta geokv-replica admin-cli geokv-bench badpeer
zk_start
cluster_config c1 "$(meta_list 2)"
meta_metrics_port=$(free_port)
meta_start 1 --set "core.metrics_address=127.0.0.1:$meta_metrics_port"
meta_start 2
metrics_port=$(free_port)
replica_start 1 --set "core.metrics_address=127.0.0.1:$metrics_port"
replica_start 2
replica_start 3
wait_nodes 3 60

# --- tables
admin create t1 -p 8 -r 1 >/dev/null || fail "create t1"
out=$(admin ls) || fail "ls"
grep -q "t1" <<<"$out" || fail "ls does not show t1: $out"
if admin create t1 -p 8 -r 1 2>"$ITEST_DIR/state/create2.err"; then fail "creating t1 twice succeeded"; fi
grep -qi "exists" "$ITEST_DIR/state/create2.err" || fail "create twice: unclear error: $(cat "$ITEST_DIR/state/create2.err")"
out=$(admin app t1) || fail "app t1"
for p in 0 1 2 3 4 5 6 7; do
  grep -qE "^ *$p +[0-9]+ +127\.0\.0\.1:[0-9]+" <<<"$out" || fail "app t1: no primary for partition $p: $out"
done

# --- 20,000 keys through the benchmark, then read back and verified
out=$(bench -a t1 --op set --count 20000 --seed 7 --threads 2 --inflight 16 --value-size 100) || fail "bench set: $out"
grep -qE "^errors: 0$" <<<"$out" || fail "bench set reported errors: $out"
out=$(bench -a t1 --op verify --count 20000 --seed 7 --threads 2 --inflight 16 --value-size 100) || fail "verify: $out"
grep -qE "^found: 20000$" <<<"$out" || fail "verify did not find every key: $out"
out=$(admin -a t1 count) || fail "count"
[ "$(tail -n1 <<<"$out" | grep -oE '[0-9]+$')" = 20000 ] || fail "count is not 20000: $out"

# --- replica digests (replica_count 1: one replica per partition, trivially converged; the
# replication tests compare three). Every row: pidx node role last_committed records digest.
out=$(admin digest t1) || fail "digest t1: $out"
grep -qE '^converged: yes$' <<<"$out" || fail "digest t1 not converged: $out"
rows=$(grep -cE '^[0-7] +127\.0\.0\.1:[0-9]+ +primary +[0-9]+ +[0-9]+ +[0-9a-f]{16}$' <<<"$out" || true)
[ "$rows" = 8 ] || fail "digest t1: expected 8 primary rows: $out"
records=$(awk '$3 == "primary" {n += $5} END {print n}' <<<"$out")
[ "$records" = 20000 ] || fail "digest t1 counts $records records, not 20000: $out"
if admin digest nosuchtable 2>/dev/null; then fail "digest of an unknown table succeeded"; fi

# --- ack log: set records exactly the acknowledged writes, verify reads back exactly those
acks="$ITEST_DIR/state/acks"
out=$(bench -a t1 --op set --count 2000 --seed 8 --threads 2 --inflight 16 --value-size 50 --ack-log "$acks") || fail "bench set --ack-log: $out"
grep -qE '^acked: 2000$' <<<"$out" && grep -qE '^unacked: 0$' <<<"$out" || fail "set --ack-log: $out"
[ "$(wc -l <"$acks")" = 2000 ] || fail "ack log has $(wc -l <"$acks") lines, not 2000"
out=$(bench -a t1 --op verify --seed 8 --value-size 50 --ack-log "$acks" --count 2500) || fail "verify --ack-log: $out"
for m in "found: 2000" "missing: 0" "wrong: 0" "unacked_present: 0" "unacked_absent: 500"; do
  grep -qE "^$m\$" <<<"$out" || fail "verify --ack-log: no '$m': $out"
done
echo 2600 >>"$acks" # an "acknowledged" write that was never made must be reported missing
if out=$(bench -a t1 --op verify --seed 8 --value-size 50 --ack-log "$acks" 2>/dev/null); then
  fail "verify --ack-log passed with a missing record: $out"
fi
grep -qE '^missing: 1$' <<<"$out" || fail "verify --ack-log: expected missing: 1: $out"

# --- Prometheus metrics of replica 1: per-table write/read counts and latencies
metrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics") || fail "GET /metrics"
grep -qE '^geokv_write_requests_total\{app_id="[0-9]+"\} [1-9][0-9]*$' <<<"$metrics" || fail "no write count in /metrics: $metrics"
grep -qE '^geokv_read_latency_seconds\{app_id="[0-9]+",quantile="0.99"\} [0-9.]+$' <<<"$metrics" || fail "no read latency in /metrics"

# --- /metrics of meta 1
metrics=$(curl -fsS "http://127.0.0.1:$meta_metrics_port/metrics") || fail "GET meta /metrics"
grep -qE '^geokv_meta_up(\{\})? 1$' <<<"$metrics" || fail "meta /metrics lacks geokv_meta_up: $metrics"

# --- run-time settings: every alive replica server and every meta, set and read back
out=$(admin server-config all duplicate_log_batch_bytes) || fail "server-config all show: $out"
[ "$(grep -cE '^127\.0\.0\.1:[0-9]+ duplicate_log_batch_bytes 4096$' <<<"$out")" = 5 ] || fail "server-config all show: $out"
out=$(admin server-config all duplicate_log_batch_bytes 8192) || fail "server-config all set: $out"
for addr in "$(replica_addr 1)" "$(replica_addr 2)" "$(replica_addr 3)" "$(meta_addr 1)" "$(meta_addr 2)"; do
  grep -qxF "$addr duplicate_log_batch_bytes 8192" <<<"$out" || fail "server-config set: no line for $addr: $out"
done
out=$(admin server-config all duplicate_log_batch_bytes) || fail "server-config all read back: $out"
[ "$(grep -cE ' duplicate_log_batch_bytes 8192$' <<<"$out")" = 5 ] || fail "not 8192 everywhere after set: $out"
out=$(admin server-config "$(replica_addr 2)") || fail "server-config of one server: $out"
grep -qxF "$(replica_addr 2) log_level info" <<<"$out" && grep -qE ' dup_lagging_write_threshold_ms 10000$' <<<"$out" || fail "server-config listing: $out"
if admin server-config all no_such_setting 1 >/dev/null 2>"$ITEST_DIR/state/sc.err"; then fail "server-config accepted an unknown key"; fi
grep -q "unknown setting 'no_such_setting'" "$ITEST_DIR/state/sc.err" || fail "unknown key: unclear error: $(cat "$ITEST_DIR/state/sc.err")"
if admin server-config "$(replica_addr 1)" duplicate_log_batch_bytes 128M >/dev/null 2>"$ITEST_DIR/state/sc.err"; then fail "server-config accepted 128M bytes"; fi
grep -q "out of range" "$ITEST_DIR/state/sc.err" || fail "bad value: unclear error: $(cat "$ITEST_DIR/state/sc.err")"
if admin server-config "$(meta_addr 1)" log_level chatty >/dev/null 2>&1; then fail "server-config accepted log_level chatty"; fi
[ "$(admin server-config "$(replica_addr 1)" duplicate_log_batch_bytes)" = "$(replica_addr 1) duplicate_log_batch_bytes 8192" ] || fail "a rejected value changed the setting"

# --- dump: every live record, sorted by key, escaped, with its expiry
n=$(admin -a t1 count | tail -n1) || fail "count t1"
out=$(admin dump t1) || fail "dump t1"
[ "$(wc -l <<<"$out")" = "$n" ] || fail "dump t1 has $(wc -l <<<"$out") lines, count says $n"
LC_ALL=C sort -c <<<"$out" || fail "dump t1 is not sorted"
grep -qP '^b7-0\ts\t[0-9a-zA-Z]{100}\t0$' <<<"$out" || fail "dump t1: record b7-0 missing or malformed"
admin create t2 -p 4 -r 1 >/dev/null || fail "create t2"
now=$(date +%s)
printf '%s\n' 'use t2' 'set zz a "v\x00\n"' 'set a "b\tc" x' 'set a a y 3600' 'set gone g 1' 'del gone g' \
  'multi_set m 1 one 2 two' | "$GEOKV_BIN/admin-cli" -m "$META_LIST" >/dev/null || fail "writing t2"
out=$(admin dump t2) || fail "dump t2"
expire=$(awk -F'\t' '$1 == "a" && $2 == "a" {print $4}' <<<"$out")
[ -n "$expire" ] && [ "$expire" -ge $((now + 3590)) ] && [ "$expire" -le $((now + 3700)) ] || fail "dump t2: bad expire_ts '$expire': $out"
expected=$(printf 'a\ta\ty\t%s\na\tb\\x09c\tx\t0\nm\t1\tone\t0\nm\t2\ttwo\t0\nzz\ta\tv\\x00\\x0a\t0' "$expire")
[ "$out" = "$expected" ] || fail "dump t2 differs: $(diff <(printf '%s\n' "$expected") <(printf '%s\n' "$out"))"
diff <(admin dump t2) <(admin -a t2 dump) >/dev/null || fail "dump t2 and dump of the selected table differ"
if admin dump nosuchtable >/dev/null 2>&1; then fail "dump of an unknown table succeeded"; fi

# --- geokv-bench --op lag with the target = the source: every write is visible at once
out=$(bench -r "$META_LIST" -a t2 --op lag --rate 200 --duration 2 --value-size 64) || fail "bench --op lag: $out"
for m in "visible: 400" "not_visible: 0" "write_errors: 0"; do
  grep -qxF "$m" <<<"$out" || fail "bench --op lag: no '$m': $out"
done
grep -qE '^lag_p99_ms: [0-9.]+$' <<<"$out" || fail "bench --op lag: no lag_p99_ms: $out"

# --- data commands (one shot and stdin script)
admin -a t1 set user1 name alice >/dev/null || fail "set"
[ "$(admin -a t1 get user1 name)" = alice ] || fail "get user1 name"
admin -a t1 set user1 age 30 >/dev/null || fail "set age"
out=$(admin -a t1 multi_get user1) || fail "multi_get"
grep -q alice <<<"$out" && grep -q 30 <<<"$out" || fail "multi_get misses values: $out"
out=$(admin -a t1 incr user1 visits 5) || fail "incr"
grep -q 5 <<<"$out" || fail "incr printed: $out"
out=$(admin -a t1 incr user1 visits -2) || fail "incr"
grep -q 3 <<<"$out" || fail "incr printed: $out"
if admin -a t1 incr user1 name 1 2>/dev/null; then fail "incr of a non-number succeeded"; fi
admin -a t1 del user1 name >/dev/null || fail "del"
out=$(admin -a t1 get user1 name) || fail "get of a deleted key must not fail"
grep -qi "not found" <<<"$out" || fail "deleted key still readable: $out"
admin -a t1 set tmp k v 1 >/dev/null || fail "set with ttl"
wait_for "ttl expiry of tmp/k" 10 bash -c "'$GEOKV_BIN/admin-cli' -m '$META_LIST' -a t1 get tmp k | grep -qi 'not found'"
out=$(printf 'use t1\nset s1 a 1\nset s1 b 2\nscan s1\n' | "$GEOKV_BIN/admin-cli" -m "$META_LIST") || fail "stdin script: $out"
grep -q "s1" <<<"$out" || fail "scan in script printed: $out"
if printf 'use t1\nget\nset s1 c 3\n' | "$GEOKV_BIN/admin-cli" -m "$META_LIST" >/dev/null 2>&1; then
  fail "a script with a bad line must exit non-zero"
fi
[ "$(admin -a t1 get s1 c)" != 3 ] || fail "a script must stop at its first failing line"

# --- bad input: a clear error and a non-zero exit, never a crash
if "$GEOKV_BIN/admin-cli" --bogus-flag 2>/dev/null; then fail "unknown flag accepted"; fi
if "$GEOKV_BIN/geokv-bench" --op nope -m "$META_LIST" -a t1 2>/dev/null; then fail "bench accepted --op nope"; fi
if "$GEOKV_BIN/geokv-replica" --nope 2>/dev/null; then fail "replica accepted a bad flag"; fi
if "$GEOKV_BIN/geokv-meta" --nope 2>/dev/null; then fail "meta accepted a bad flag"; fi
if admin -a nosuchtable get a b 2>"$ITEST_DIR/state/e1"; then fail "get on an unknown table succeeded"; fi
grep -qi "not found\|no such\|unknown" "$ITEST_DIR/state/e1" || fail "unknown table: unclear error: $(cat "$ITEST_DIR/state/e1")"
bighk=$(head -c 70000 /dev/zero | tr '\0' 'h')
if admin -a t1 set "$bighk" s v 2>/dev/null; then fail "a 70000-byte hash_key was accepted"; fi
bigval=$(head -c 1100000 /dev/zero | tr '\0' 'v')
if printf 'use t1\nset big v %s\n' "$bigval" | "$GEOKV_BIN/admin-cli" -m "$META_LIST" >/dev/null 2>&1; then
  fail "a value over max_value_bytes was accepted"
fi

# malformed messages straight at every server port, then a raw TCP stream of junk
"$GEOKV_BIN/badpeer" "$(meta_addr 1)" || fail "meta 1 mishandled bad messages"
"$GEOKV_BIN/badpeer" "$(meta_addr 2)" || fail "meta 2 mishandled bad messages"
app_id=$(admin app t1 | grep -oE 'app_id[ :=]+[0-9]+' | grep -oE '[0-9]+$' | head -n1)
[ -n "$app_id" ] || fail "app t1 does not print app_id"
for i in 1 2 3; do
  addr=$(replica_addr "$i")
  # find a partition this server holds, so the server's own checks answer
  pidx=$(admin app t1 | awk -v a="$addr" '$3 == a {print $1; exit}')
  "$GEOKV_BIN/badpeer" "$addr" ${pidx:+"$app_id.$pidx"} || fail "replica $i mishandled bad messages"
  python3 - "$addr" <<'PY' || fail "raw junk to replica $i"
import os, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
for n in (1, 7, 4096, 100000):
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(os.urandom(n))
    except OSError:
        pass
    s.close()
PY
done
for i in 1 2 3; do replica_running "$i" || fail "replica $i died on bad input"; done
for i in 1 2; do meta_running "$i" || fail "meta $i died on bad input"; done
out=$(bench -a t1 --op verify --count 20000 --seed 7 --threads 2 --inflight 16 --value-size 100) || fail "verify after bad input: $out"
[ "$(admin -a t1 get user1 age)" = 30 ] || fail "get after bad input"

# --- drop
admin drop t1 >/dev/null || fail "drop"
if admin -a t1 get user1 age 2>/dev/null; then fail "get on a dropped table succeeded"; fi
admin create t1 -p 4 -r 1 >/dev/null || fail "re-create t1 after drop"
out=$(admin -a t1 get user1 age) || fail "get on the new t1"
grep -qi "not found" <<<"$out" || fail "new t1 shows old data: $out"
itest_pass
