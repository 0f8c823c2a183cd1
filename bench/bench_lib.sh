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

# report MEASUREMENT GEOKV PEER RATIO GOAL RESULT: one row of the table bench/run_all.sh
# prints, appended to the tab-separated file $BENCH_REPORT when it is set. PEER, RATIO, GOAL
# and RESULT may be empty ("reported" rows).
report() {
  [ -n "${BENCH_REPORT:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_REPORT"
}
