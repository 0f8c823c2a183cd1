#!/usr/bin/env bash
# The harness itself: ZooKeeper starts from lib.sh on a free port, answers `ruok`, serves a
# znode write and read through the C client shell (cli_mt), and the EXIT trap stops it.
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

itest_begin zk_harness
[ -x /usr/lib/zookeeper/bin/cli_mt ] || skip "cli_mt not installed (run deploy/install-deps.sh)"

zk_start
[ -n "$ZK_PORT" ] || fail "zk_start did not export ZK_PORT"
zk_serving "$ZK_PORT" || fail "ZooKeeper on $ZK_PORT is not serving"
[ "$(printf 'ruok' | nc -w 2 127.0.0.1 "$ZK_PORT")" = imok ] || fail "ruok via nc is not imok"

# cli_mt's create always stores "new"; set then get to check a payload round trip.
out=$(zk_cli "create /geokv_harness")
grep -q 'rc = 0' <<<"$out" || fail "create /geokv_harness failed: $out"
payload="harness-$$-$RANDOM"
out=$(zk_cli "set /geokv_harness $payload")
grep -q 'rc = 0' <<<"$out" || fail "set /geokv_harness failed: $out"
out=$(zk_cli "get /geokv_harness")
grep -qx "$payload" <<<"$out" || fail "get /geokv_harness did not return $payload: $out"
out=$(zk_cli "ls /")
grep -qx $'\tgeokv_harness' <<<"$out" || fail "ls / does not list geokv_harness: $out"

# Restart on the same port and data dir: the znode survives (zk_stop/zk_start as fault tests use them).
zk_stop
! zk_ruok "$ZK_PORT" || fail "ZooKeeper still answers after zk_stop"
zk_start
out=$(zk_cli "get /geokv_harness")
grep -qx "$payload" <<<"$out" || fail "znode lost across ZooKeeper restart: $out"

# wait_for polls and returns; free_port never repeats within a test.
wait_for "ZooKeeper serving after restart" 10 zk_serving "$ZK_PORT"
p1=$(free_port); p2=$(free_port)
if [ "$p1" = "$p2" ] || [ "$p1" = "$ZK_PORT" ] || [ "$p2" = "$ZK_PORT" ]; then
  fail "free_port repeated a port"
fi

itest_pass
