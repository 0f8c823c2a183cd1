#pragma once
/*
 * Pure helpers of geokv-bench (own library so the unit tests link them): the deterministic
 * key/value generator shared by set, get and verify runs, and a log-bucketed latency
 * histogram (4 bits of mantissa: every value is recorded within 1/16 of itself).
 */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* hash_key of record i of a run with seed: "b<seed>-<i>" (NUL-terminated). Returns its
 * length (truncated to cap - 1). The sort key is BENCH_SORT_KEY. */
size_t bench_key(uint64_t seed, uint64_t i, char *out, size_t cap);
#define BENCH_SORT_KEY "s"

/* Appends the value of record i: size bytes of [0-9a-zA-Z], a pure function of (seed, i). */
void bench_value(uint64_t seed, uint64_t i, size_t size, struct buf *out);

#define BENCH_HIST_SUB_BITS 4
#define BENCH_HIST_BUCKETS (64 << BENCH_HIST_SUB_BITS)

struct bench_hist {
    uint64_t counts[BENCH_HIST_BUCKETS];
    uint64_t total, max, sum;
};

void bench_hist_init(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, uint64_t v);
/* Adds every sample of src into dst. */
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
/* The value at quantile q (0 < q <= 1): the upper bound of the bucket holding the
 * ceil(q * total)-th smallest sample, never above the max. 0 if empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);
