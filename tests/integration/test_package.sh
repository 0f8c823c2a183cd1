#!/usr/bin/env bash
# The Debian package (docs/deploy.md, "Packages and units"): builds it with CPack from this
# build tree (into the test dir) and checks, without installing it on this machine:
#   - dpkg-deb -I: name, the Debian libraries the binaries link as dependencies, the
#     conffiles (/etc/geokv/geokv.ini, geokv.env) and the maintainer scripts (valid sh);
#   - dpkg-deb -c: the binaries, libgeokv and its headers, the systemd units, the example
#     configuration (0640, not world-readable: it may hold keys), the documents;
#   - the units are those of deploy/systemd/, `systemd-analyze verify` accepts each of them
#     (templates through an instance) without a single warning, and every ExecStart names a
#     binary the package holds;
#   - the packaged /etc/geokv/geokv.ini is a configuration the packaged servers accept:
#     geokv-replica starts with it and exits 0 on SIGTERM; geokv-meta and geokv-proxy get past
#     their configuration checks (and do fail on a bad value).
# Needs cpack, dpkg-deb, dpkg-shlibdeps (dpkg-dev), file and systemd-analyze (systemd), all
# in deploy/install-deps.sh.
. "$(dirname "$0")/lib.sh"
itest_begin package
itest_require_bins geokv-meta geokv-replica geokv-proxy admin-cli geokv-bench

BUILD_DIR=$(cd "$GEOKV_BIN/.." && pwd)
[ -f "$BUILD_DIR/CPackConfig.cmake" ] || fail "no $BUILD_DIR/CPackConfig.cmake (configure with cmake first)"
for tool in cpack dpkg-deb dpkg-shlibdeps file systemd-analyze; do
  command -v "$tool" >/dev/null || fail "$tool not found (run deploy/install-deps.sh)"
done

PKG="$ITEST_DIR/pkg"
ROOT="$ITEST_DIR/root"
mkdir -p "$PKG" "$ROOT"

# ---------------------------------------------------------------- build

itest_log "cpack -G DEB in $BUILD_DIR"
if ! (cd "$BUILD_DIR" && cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$PKG") \
  >"$ITEST_DIR/logs/cpack.log" 2>&1; then
  fail "cpack failed"
fi
debs=("$PKG"/geokv_*.deb)
if [ ! -f "${debs[0]}" ] || [ ${#debs[@]} -ne 1 ]; then
  fail "expected one geokv_*.deb in $PKG: ${debs[*]}"
fi
DEB=${debs[0]}
itest_log "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

# ---------------------------------------------------------------- control: dpkg-deb -I

info=$(dpkg-deb -I "$DEB")
printf '%s\n' "$info" >"$ITEST_DIR/logs/dpkg-deb-I.log"
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = geokv ] || fail "Package: $(field Package)"
[ -n "$(field Version)" ] || fail "no Version"
depends=$(field Depends)
itest_log "Depends: $depends"
# every shared library the servers link comes from a Debian package dependency
for dep in libc6 librocksdb libzookeeper-mt libnanomsg libmsgpackc libssl3 libxxhash libinih \
  libmicrohttpd libcjson libuv1 libhiredis libedit passwd; do
  grep -qE "(^|, )$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
control="$ITEST_DIR/control"
dpkg-deb -e "$DEB" "$control"
[ "$(cat "$control/conffiles")" = "$(printf '/etc/geokv/geokv.ini\n/etc/geokv/geokv.env')" ] ||
  fail "conffiles: $(cat "$control/conffiles")"
for script in postinst prerm postrm; do
  [ -x "$control/$script" ] || fail "maintainer script $script missing or not executable"
  sh -n "$control/$script" || fail "$script is not valid sh"
  cmp -s "$control/$script" "$REPO/deploy/debian/$script" || fail "$script differs from deploy/debian/$script"
done
grep -q 'useradd --system' "$control/postinst" || fail "postinst does not create the geokv user"
grep -q 'install -d -o geokv -g geokv -m 0750 /var/lib/geokv' "$control/postinst" ||
  fail "postinst does not create /var/lib/geokv for geokv"
grep -q '^purge)' "$control/postrm" || fail "postrm has no purge branch"

# ---------------------------------------------------------------- files: dpkg-deb -c

listing=$(dpkg-deb -c "$DEB")
printf '%s\n' "$listing" >"$ITEST_DIR/logs/dpkg-deb-c.log"
# has PERM PATH: the package holds PATH (./PATH) with permissions PERM (a prefix of ls -l's)
has() {
  awk -v p="./$2" -v m="$1" '$6 == p && index($1, m) == 1 { found = 1 } END { exit !found }' \
    <<<"$listing" || fail "the package lacks $2 with mode $1 (see logs/dpkg-deb-c.log)"
}
for b in geokv-meta geokv-replica geokv-proxy admin-cli geokv-bench; do has -rwxr-xr-x "usr/bin/$b"; done
has -rw-r--r-- usr/lib/libgeokv.so.1.0.0
has -rw-r--r-- usr/include/geokv.h
has -rw-r--r-- usr/include/geokv_admin.h
has -rw-r--r-- usr/lib/pkgconfig/geokv.pc
UNITS=(geokv-meta.service geokv-replica.service geokv-replica@.service geokv-proxy.service
  geokv-proxy@.service)
for u in "${UNITS[@]}"; do has -rw-r--r-- "lib/systemd/system/$u"; done
has -rw-r----- etc/geokv/geokv.ini
has -rw-r----- etc/geokv/geokv.env
for d in README.md docs/deploy.md docs/config.md examples/geokv.example.ini examples/geokv.env; do
  has -rw-r--r-- "usr/share/doc/geokv/$d"
done
itest_log "$(wc -l <<<"$listing") entries: binaries, libgeokv, headers, units, /etc/geokv, docs"

# ---------------------------------------------------------------- the units

dpkg-deb -x "$DEB" "$ROOT"
for u in "${UNITS[@]}"; do
  cmp -s "$ROOT/lib/systemd/system/$u" "$REPO/deploy/systemd/$u" || fail "$u differs from deploy/systemd/$u"
done
cmp -s "$ROOT/etc/geokv/geokv.ini" "$REPO/deploy/geokv.example.ini" || fail "geokv.ini is not deploy/geokv.example.ini"
for b in geokv-meta geokv-replica geokv-proxy admin-cli geokv-bench; do
  "$ROOT/usr/bin/$b" --help >/dev/null || fail "packaged $b --help failed"
done
# every ExecStart / ExecReload names a program the package holds (or /bin/kill)
while read -r prog; do
  case "$prog" in
    /bin/kill) [ -x /bin/kill ] || fail "/bin/kill missing" ;;
    /usr/bin/*) [ -x "$ROOT$prog" ] || fail "a unit runs $prog, which the package lacks" ;;
    *) fail "a unit runs $prog: only /usr/bin/* of the package expected" ;;
  esac
done < <(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$ROOT"/lib/systemd/system/geokv-*.service | sort -u)
# systemd-analyze verify checks that the programs exist on this machine: verify copies whose
# /usr/bin/ points into the unpacked package instead (nothing else changed)
UNIT_DIR="$ITEST_DIR/units"
mkdir -p "$UNIT_DIR"
for u in "${UNITS[@]}"; do
  sed "s#/usr/bin/#$ROOT/usr/bin/#g" "$ROOT/lib/systemd/system/$u" >"$UNIT_DIR/$u"
done
for u in geokv-meta.service geokv-replica.service geokv-proxy.service geokv-replica@1.service \
  geokv-proxy@redis.service; do
  out=$(cd "$UNIT_DIR" && systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify $u: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $u warns: $out"
done
itest_log "systemd-analyze verify: ${#UNITS[@]} units (templates as @1 / @redis), no warning"

# the things the units promise
for u in "${UNITS[@]}"; do
  f="$ROOT/lib/systemd/system/$u"
  for want in '^User=geokv$' '^After=network-online\.target' '^Restart=on-failure$' \
    '^RestartSec=' '^KillSignal=SIGTERM$' '^TimeoutStopSec=' '^LimitNOFILE=' \
    '^LimitCORE=infinity$' '^StateDirectory=geokv' '^WorkingDirectory=/var/lib/geokv$' \
    '^RestartPreventExitStatus=2$' '^ExecStart=/usr/bin/geokv-[a-z]* -c /etc/geokv/geokv\.ini '; do
    grep -qE "$want" "$f" || fail "$u has no line matching $want"
  done
done

# ---------------------------------------------------------------- the example configuration

INI="$ROOT/etc/geokv/geokv.ini"
# geokv.env: KEY=value lines only, and the variables the units use
grep -vE '^(#.*|[A-Z_]+=.*|)$' "$ROOT/etc/geokv/geokv.env" && fail "geokv.env: lines above are not KEY=value"
for v in GEOKV_META_ADDRESS GEOKV_META_ARGS GEOKV_REPLICA_ADDRESS GEOKV_REPLICA_ARGS GEOKV_PROXY_ARGS; do
  grep -q "^$v=" "$ROOT/etc/geokv/geokv.env" || fail "geokv.env does not set $v"
  grep -q "$v" "$ROOT"/lib/systemd/system/geokv-*.service || fail "no unit uses $v"
done

# geokv-replica starts with it (every replica setting checked at start), serves, and exits 0
# on SIGTERM; its meta servers (the example's addresses) need not answer for that
port=$(free_port)
data="$ITEST_DIR/replica-data"
mkdir -p "$data"
geokv_spawn "$ITEST_DIR/pids/pkg-replica.pid" "$ITEST_DIR/logs/pkg-replica.log" \
  "$ROOT/usr/bin/geokv-replica" -c "$INI" --address "127.0.0.1:$port" --data-dir "$data"
rpid=$GEOKV_SPAWNED_PID
wait_for "the packaged geokv-replica to serve with the packaged geokv.ini" 30 \
  grep -q "replica server 127.0.0.1:$port serving" "$ITEST_DIR/logs/pkg-replica.log"
kill -TERM "$rpid"
geokv_wait_dead "$rpid" 60 || fail "geokv-replica ignored SIGTERM for 60 s"
rc=0
wait "$rpid" || rc=$?
rm -f "$ITEST_DIR/pids/pkg-replica.pid"
[ "$rc" -eq 0 ] || fail "geokv-replica exited $rc after SIGTERM (want 0)"
itest_log "geokv-replica accepted geokv.ini and stopped cleanly on SIGTERM"

# meta and proxy: with nothing answering (ZooKeeper, the meta servers) they wait past their
# configuration checks: still running 3 s after the start means the file passed (then they are
# killed); a bad value must make them exit at once
closed=$(free_port) # nothing listens there
runs_past_checks() {
  local pid deadline
  "$@" >>"$ITEST_DIR/logs/pkg-checks.log" 2>&1 &
  pid=$!
  deadline=$(($(geokv_now_ms) + 3000))
  while [ "$(geokv_now_ms)" -lt "$deadline" ]; do
    if ! geokv_pid_alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.1
  done
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}
runs_past_checks "$ROOT/usr/bin/geokv-meta" -c "$INI" --address "127.0.0.1:$(free_port)" \
  --set "zookeeper.hosts=127.0.0.1:$closed" || fail "geokv-meta refused the packaged geokv.ini"
! runs_past_checks "$ROOT/usr/bin/geokv-meta" -c "$INI" --address "127.0.0.1:$(free_port)" \
  --set "zookeeper.hosts=127.0.0.1:$closed" --set meta_server.lease_ms=99999 ||
  fail "geokv-meta took lease_ms above node_grace_ms: this check cannot see a bad value"
runs_past_checks "$ROOT/usr/bin/geokv-proxy" -c "$INI" --set "cluster.meta_servers=127.0.0.1:$closed" \
  --set "proxy.listen=127.0.0.1:$(free_port)" || fail "geokv-proxy refused the packaged geokv.ini"
! runs_past_checks "$ROOT/usr/bin/geokv-proxy" -c "$INI" --set "cluster.meta_servers=127.0.0.1:$closed" \
  --set proxy.threads=0 || fail "geokv-proxy took threads = 0: this check cannot see a bad value"
itest_log "geokv-meta and geokv-proxy accepted geokv.ini"
itest_pass
