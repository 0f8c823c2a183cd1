#!/usr/bin/env bash
# The tree is formatted by .clang-format: lists every C file clang-format would change, with
# the first lines of the change, and fails. Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format is not installed" >&2; exit 77; }
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"
    clang-format "$f" | diff "$f" - | head -10 || true
    bad=1
  fi
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ "$bad" = 0 ] && echo "every C file is formatted"
exit "$bad"
