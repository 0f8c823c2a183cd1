#pragma once
/*
 * Pure helpers of geokv-bench (own library so the unit tests link them): the deterministic
 * key/value generator shared by set, get and verify runs, a log-bucketed latency
 * histogram (4 bits of mantissa: every value is recorded within 1/16 of itself), and the
 * ack log format.
 */
#include <stdbool.h>
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

/*
 * Ack log (--ack-log FILE): a text file with one acknowledged record index per line, in
 * decimal, each line ended by '\n', in the order the acknowledgements arrived (an index may
 * repeat: --duration cycles over the records). `wc -l FILE` counts acknowledgements.
 */
#define BENCH_ACK_LINE_MAX 24 /* 20 digits + '\n' + NUL, rounded up */

/* Writes the line of index i ("<i>\n", NUL-terminated) into out; returns its length
 * without the NUL. cap must be at least BENCH_ACK_LINE_MAX. */
size_t bench_ack_format(uint64_t i, char *out, size_t cap);
/*
 * Parses an ack log's bytes into the distinct indices, sorted ascending: *out (caller frees
 * with xfree; NULL when *n is 0). A last line without '\n' (a write cut short by a crash)
 * is ignored and *torn set. Any other malformed line (empty, not decimal, over 2^64 - 1) is
 * ERR_INVALID_DATA with *bad_line its 1-based number and nothing returned.
 */
int bench_ack_parse(const uint8_t *p, size_t len, uint64_t **out, size_t *n, bool *torn,
                    size_t *bad_line);
/* True if i is in v (sorted ascending, n entries). */
bool bench_ack_contains(const uint64_t *v, size_t n, uint64_t i);
