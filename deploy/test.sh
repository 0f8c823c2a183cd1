#!/usr/bin/env bash
# deploy/test.sh — everything CI runs: installs the Debian packages, builds in build-test/
# with warnings as errors, runs every ctest test (unit + integration).
# Extra arguments go to ctest, e.g. `bash deploy/test.sh -L unit` or `-R zk_harness`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

bash deploy/install-deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEOKV_WERROR=ON
cmake --build build-test -j2

rc=0
ctest --test-dir build-test --output-on-failure -j2 "$@" || rc=$?
exit "$rc"
