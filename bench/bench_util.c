/*
 * bench_util.c: deterministic keys/values and the latency histogram of geokv-bench.
 * Values come from splitmix64 seeded by (seed, i), so a verify run regenerates exactly what a
 * set run with the same seed wrote, on any machine.
 */
#include "bench/bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/xmalloc.h"

size_t
bench_key(uint64_t seed, uint64_t i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "b%llu-%llu", (unsigned long long)seed, (unsigned long long)i);
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void
bench_value(uint64_t seed, uint64_t i, size_t size, struct buf *out)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint64_t state = seed * 0xd1b54a32d192ed03ull ^ (i + 1) * 0x9e3779b97f4a7c15ull;
    uint64_t r = 0;

    buf_reserve(out, size);
    for (size_t k = 0; k < size; k++) {
        if (k % 8 == 0)
            r = splitmix64(&state);
        out->data[out->len++] = (uint8_t)alphabet[(r & 0xff) % 62];
        r >>= 8;
    }
}

void
bench_hist_init(struct bench_hist *h)
{
    memset(h, 0, sizeof(*h));
}

static unsigned
hist_bucket(uint64_t v)
{
    unsigned e;
    if (v < (1u << BENCH_HIST_SUB_BITS))
        return (unsigned)v;
    e = 63u - (unsigned)__builtin_clzll(v);
    return (e - BENCH_HIST_SUB_BITS + 1) << BENCH_HIST_SUB_BITS |
           ((unsigned)(v >> (e - BENCH_HIST_SUB_BITS)) & ((1u << BENCH_HIST_SUB_BITS) - 1));
}

/* Largest value that falls in bucket b. */
static uint64_t
hist_upper(unsigned b)
{
    unsigned sub = 1u << BENCH_HIST_SUB_BITS, e, shift;
    if (b < sub)
        return b;
    e = (b >> BENCH_HIST_SUB_BITS) + BENCH_HIST_SUB_BITS - 1;
    shift = e - BENCH_HIST_SUB_BITS;
    return (((uint64_t)(sub | (b & (sub - 1)))) << shift) + ((uint64_t)1 << shift) - 1;
}

void
bench_hist_add(struct bench_hist *h, uint64_t v)
{
    h->counts[hist_bucket(v)]++;
    h->total++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

void
bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src)
{
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++)
        dst->counts[b] += src->counts[b];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t
bench_hist_quantile(const struct bench_hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->total == 0)
        return 0;
    rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1)
        rank = 1;
    for (unsigned b = 0; b < BENCH_HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t u = hist_upper(b);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}

/* ---- ack log ---- */

size_t
bench_ack_format(uint64_t i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%llu\n", (unsigned long long)i);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Parses one line of decimal digits (no '\n'). */
static bool
ack_parse_line(const uint8_t *p, size_t len, uint64_t *v)
{
    *v = 0;
    if (len == 0 || len > 20)
        return false;
    for (size_t k = 0; k < len; k++) {
        uint64_t d = (uint64_t)(p[k] - '0');
        if (p[k] < '0' || p[k] > '9' || *v > (UINT64_MAX - d) / 10)
            return false;
        *v = *v * 10 + d;
    }
    return true;
}

static int
u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
bench_ack_parse(const uint8_t *p, size_t len, uint64_t **out, size_t *n, bool *torn,
                size_t *bad_line)
{
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0, line = 0, uniq = 0;

    *out = NULL;
    *n = 0;
    *torn = false;
    *bad_line = 0;
    for (size_t off = 0; off < len;) {
        const uint8_t *nl = memchr(p + off, '\n', len - off);
        if (nl == NULL) {
            *torn = true;
            break;
        }
        line++;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 1024;
            v = xrealloc(v, cap * sizeof(*v));
        }
        if (!ack_parse_line(p + off, (size_t)(nl - (p + off)), &v[cnt++])) {
            *bad_line = line;
            xfree(v);
            return ERR_INVALID_DATA;
        }
        off = (size_t)(nl - p) + 1;
    }
    if (cnt > 0)
        qsort(v, cnt, sizeof(*v), u64_cmp);
    for (size_t k = 0; k < cnt; k++)
        if (uniq == 0 || v[uniq - 1] != v[k])
            v[uniq++] = v[k];
    *out = uniq > 0 ? v : NULL;
    if (uniq == 0)
        xfree(v);
    *n = uniq;
    return 0;
}

bool
bench_ack_contains(const uint64_t *v, size_t n, uint64_t i)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == i)
            return true;
        if (v[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* ---- visibility lag ---- */

int64_t
bench_lag_poll_interval_us(int64_t age_us, int64_t min_us)
{
    int64_t d = age_us / BENCH_LAG_POLL_GROWTH;

    if (d > BENCH_LAG_POLL_MAX_US)
        d = BENCH_LAG_POLL_MAX_US;
    return d > min_us ? d : min_us;
}

static bool
item_before(const struct bench_lag_item *a, const struct bench_lag_item *b)
{
    return a->next_us < b->next_us || (a->next_us == b->next_us && a->i < b->i);
}

void
bench_lag_queue_push(struct bench_lag_queue *q, const struct bench_lag_item *it)
{
    size_t k;

    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 256;
        q->v = xrealloc(q->v, q->cap * sizeof(*q->v));
    }
    k = q->n++;
    while (k > 0 && item_before(it, &q->v[(k - 1) / 2])) { /* sift up */
        q->v[k] = q->v[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    q->v[k] = *it;
}

bool
bench_lag_queue_pop_due(struct bench_lag_queue *q, int64_t now_us, struct bench_lag_item *it)
{
    struct bench_lag_item last;
    size_t k = 0;

    if (q->n == 0 || q->v[0].next_us > now_us)
        return false;
    *it = q->v[0];
    last = q->v[--q->n];
    for (;;) { /* sift the last item down from the root */
        size_t c = 2 * k + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && item_before(&q->v[c + 1], &q->v[c]))
            c++;
        if (!item_before(&q->v[c], &last))
            break;
        q->v[k] = q->v[c];
        k = c;
    }
    if (q->n > 0)
        q->v[k] = last;
    return true;
}

int64_t
bench_lag_queue_next_us(const struct bench_lag_queue *q)
{
    return q->n > 0 ? q->v[0].next_us : -1;
}

void
bench_lag_queue_fini(struct bench_lag_queue *q)
{
    xfree(q->v);
    memset(q, 0, sizeof(*q));
}

void
bench_lag_stats_init(struct bench_lag_stats *s)
{
    memset(s, 0, sizeof(*s));
    bench_hist_init(&s->lag_us);
}

bool
bench_lag_poll_done(struct bench_lag_stats *s, struct bench_lag_item *it, bool seen, int64_t now_us,
                    int64_t deadline_us, int64_t min_poll_us)
{
    int64_t age = now_us - it->ack_us;

    s->polls++;
    if (seen) {
        bench_hist_add(&s->lag_us, age > 0 ? (uint64_t)age : 0);
        s->visible++;
        return false;
    }
    if (age >= deadline_us) {
        s->not_visible++;
        return false;
    }
    it->next_us = now_us + bench_lag_poll_interval_us(age, min_poll_us);
    return true;
}

void
bench_sleep_until_us(int64_t t_us)
{
    struct timespec ts = {.tv_sec = t_us / 1000000, .tv_nsec = (t_us % 1000000) * 1000};

    if (t_us <= clock_mono_us())
        return;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}
