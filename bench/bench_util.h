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

/*
 * Visibility lag (--op lag): a write acknowledged by the source cluster at ack_us is polled
 * on the target until a read returns its value; lag = completion time of that first good
 * read - ack_us. Keys not yet seen wait in a queue ordered by their next poll time; the
 * interval between polls of one key grows with its age (age / BENCH_LAG_POLL_GROWTH, within
 * [min, BENCH_LAG_POLL_MAX_US]), so a measured lag L overstates the true one by at most
 * max(min, L / BENCH_LAG_POLL_GROWTH) plus one read, while a backlog of slow keys costs
 * few reads. A key still invisible deadline_us after its ack counts as not visible.
 */
#define BENCH_LAG_POLL_GROWTH 4
#define BENCH_LAG_POLL_MAX_US 100000

struct bench_lag_item {
    uint64_t i;      /* record index */
    int64_t ack_us;  /* monotonic time the write was acknowledged */
    int64_t next_us; /* when to poll it next */
};

/* A binary min-heap on next_us. */
struct bench_lag_queue {
    struct bench_lag_item *v;
    size_t n, cap;
};

struct bench_lag_stats {
    struct bench_hist lag_us; /* one sample per visible key */
    uint64_t visible, not_visible;
    uint64_t polls;
};

/* The wait before the next poll of a key acknowledged age_us ago. */
int64_t bench_lag_poll_interval_us(int64_t age_us, int64_t min_us);
void bench_lag_queue_push(struct bench_lag_queue *q, const struct bench_lag_item *it);
/* Pops the item with the smallest next_us into *it if that is <= now_us. */
bool bench_lag_queue_pop_due(struct bench_lag_queue *q, int64_t now_us, struct bench_lag_item *it);
/* The smallest next_us, or -1 if the queue is empty. */
int64_t bench_lag_queue_next_us(const struct bench_lag_queue *q);
void bench_lag_queue_fini(struct bench_lag_queue *q);

void bench_lag_stats_init(struct bench_lag_stats *s);
/* A poll of it finished at now_us. If it saw the value, records the lag and returns false.
 * Otherwise: past ack_us + deadline_us it counts the key not visible and returns false;
 * else sets it->next_us to the next poll time and returns true (push it back). */
bool bench_lag_poll_done(struct bench_lag_stats *s, struct bench_lag_item *it, bool seen,
                         int64_t now_us, int64_t deadline_us, int64_t min_poll_us);

/* Sleeps until the monotonic clock (clock_mono_us) reads t_us; returns at once if it has. */
void bench_sleep_until_us(int64_t t_us);
