#!/usr/bin/env bash
# Helpers shared by the bench/run_*.sh scripts (sourced).

say() { printf '%s\n' "$*"; }

# metric NAME FILE: the value of "NAME: value" in a bench output FILE.
metric() { sed -n "s/^$1: //p" "$2" | head -n1; }

# median NUMBER...: the median (mean of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# verdict VALUE OP GOAL: PASS or MISS (OP is ">=" or "<=").
verdict() {
  awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
    ok = (op == ">=") ? v + 0 >= g + 0 : v + 0 <= g + 0; print (ok ? "PASS" : "MISS") }'
}

# cpu_ticks PID...: "UTIME STIME" in clock ticks (fields 14 and 15 of /proc/PID/stat, counted
# after the ')' that ends comm, which may contain spaces), each summed over the PIDs.
cpu_ticks() {
  local pid u=0 s=0 a b
  for pid in "$@"; do
    read -r a b < <(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12, $13 }')
    u=$((u + a)) s=$((s + b))
  done
  echo "$u $s"
}

# verdict_ratio A OP GOAL B: verdict on A / B itself, not on a rounded ratio (MISS when B is 0).
verdict_ratio() {
  awk -v a="$1" -v op="$2" -v g="$3" -v b="$4" 'BEGIN {
    if (b + 0 == 0) { print "MISS"; exit }
    r = a / b; ok = (op == ">=") ? r >= g + 0 : r <= g + 0; print (ok ? "PASS" : "MISS") }'
}

# ratio A B: A / B to 2 decimals (0 when B is 0).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b + 0 != 0 ? a / b : 0) }'; }

# ms US: microseconds as "N.N ms".
ms() { awk -v us="$1" 'BEGIN { printf "%.1f ms\n", us / 1000 }'; }

# result_header, then result_row MEASUREMENT GEOKV PEER RATIO GOAL RESULT: the results table
# each bench/run_*.sh prints last. Each row is also appended, tab-separated, to the file
# $BENCH_REPORT when it is set (bench/run_all.sh gathers them into one table). PEER, RATIO,
# GOAL and RESULT may be empty ("reported" rows).
RESULT_FORMAT='%-60s %-16s %-16s %-6s %-10s %s\n'
result_header() {
  # shellcheck disable=SC2059
  printf "$RESULT_FORMAT" measurement geokv peer ratio goal result
}
result_row() {
  # shellcheck disable=SC2059
  printf "$RESULT_FORMAT" "$@"
  [ -z "${BENCH_REPORT:-}" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_REPORT"
}

# trial_rotate I FN...: runs every FN once, starting with FN number (I-1) % count and going
# round, so that across trials each FN goes first (with two, they simply alternate).
trial_rotate() {
  local i="$1" n k
  shift
  n=$#
  local fns=("$@")
  for ((k = 0; k < n; k++)); do "${fns[(i - 1 + k) % n]}"; done
}
