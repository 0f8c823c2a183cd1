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
