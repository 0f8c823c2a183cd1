#!/usr/bin/env bash
# libgeokv as a program outside the tree uses it: the build is installed into a temp prefix
# (cmake --install), examples/hello.c and tables.c are built there with their Makefile and
# pkg-config alone, and run against a real cluster. The library must export only geokv_*
# symbols; hello must write, read back, count and scan; tables must create a table, list it
# and its duplications.
. "$(dirname "$0")/lib.sh"
itest_begin client_lib
itest_require_bins geokv-meta geokv-replica admin-cli
build_dir=$(cd "$GEOKV_BIN/.." && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
prefix="$ITEST_DIR/prefix"

out=$(cmake --install "$build_dir" --prefix "$prefix" 2>&1) || fail "cmake --install: $out"
for f in include/geokv.h include/geokv_admin.h lib/pkgconfig/geokv.pc; do
  [ -f "$prefix/$f" ] || fail "not installed: $f (installed: $(cd "$prefix" && find . -type f))"
done
lib=$(ls "$prefix"/lib/libgeokv.so.* | head -1)
others=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^geokv_' || true)
[ -z "$others" ] || fail "libgeokv exports more than geokv_*: $(head -5 <<<"$others")"

# the outside build: a copy of examples/, its Makefile, the installed .pc; no project headers
mkdir -p "$ITEST_DIR/example"
cp "$repo/examples/hello.c" "$repo/examples/tables.c" "$repo/examples/Makefile" "$ITEST_DIR/example/"
out=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" make -C "$ITEST_DIR/example" 2>&1) ||
  fail "building the examples against the installed library: $out"

zk_start
cluster_config c1 "$(meta_list 1)"
meta_start 1
replica_start 1
wait_nodes 1 60
admin create hello -p 4 -r 1 >/dev/null || fail "create hello"
run_hello() {
  LD_LIBRARY_PATH="$prefix/lib" "$ITEST_DIR/example/hello" "$META_LIST" hello 2>&1
}
out=$(run_hello) || fail "hello failed: $out"
itest_log "hello: $(tr '\n' '|' <<<"$out")"
grep -qx 'alice/greeting = hello, world' <<<"$out" || fail "no read back: $out"
grep -qx 'alice/visits = 1' <<<"$out" || fail "first incr: $out"
grep -qx '  greeting = hello, world' <<<"$out" || fail "scan: $out"
out=$(run_hello) || fail "hello failed the second time: $out"
grep -qx 'alice/visits = 2' <<<"$out" || fail "second incr: $out"
[ "$(admin -a hello get alice greeting)" = "hello, world" ] || fail "admin-cli does not read it"
out=$(LD_LIBRARY_PATH="$prefix/lib" "$ITEST_DIR/example/hello" "$META_LIST" nosuch 2>&1) &&
  fail "opening a missing table succeeded: $out"
grep -q "open: table not found" <<<"$out" || fail "missing table: unclear error: $out"

run_tables() {
  LD_LIBRARY_PATH="$prefix/lib" "$ITEST_DIR/example/tables" "$META_LIST" "$1" \
    "$ITEST_DIR/c1/config.ini" 2>&1
}
out=$(run_tables made) || fail "tables failed: $out"
itest_log "tables: $(tr '\n' '|' <<<"$out")"
grep -qx 'made created' <<<"$out" || fail "not created: $out"
grep -qx 'table made: AVAILABLE, 4 partitions' <<<"$out" || fail "not listed: $out"
grep -qx 'table hello: AVAILABLE, 4 partitions' <<<"$out" || fail "hello not listed: $out"
grep -qx '0 duplications' <<<"$out" || fail "dup list: $out"
admin ls | grep -q '^[0-9]* *made ' || fail "admin-cli does not list the new table"
out=$(run_tables made) || fail "tables failed the second time: $out"
grep -qx 'made exists' <<<"$out" || fail "an existing table: $out"
itest_pass
