/*
 * bench_lag.c: geokv-bench --op lag, the visibility lag of duplication.
 *
 * Two clients: one on the source cluster's metas (-m), one on the target's (-r), the same
 * table name on both. The main thread writes record n of this run (hash_key "b<nonce>-<n>",
 * a value unique to the run: the nonce mixes the wall clock and the pid, so reruns never
 * find an old value) on the source at the fixed --rate schedule (open loop, at most
 * --inflight writes outstanding). Each acknowledged write enters the poll queue at its ack
 * time; the poller thread reads due keys from the target, at most --inflight reads
 * outstanding, and each reply either records the lag (bench_lag_poll_done: the read that
 * first returns the value, minus the ack), re-queues the key after a growing interval, or
 * gives up after the deadline. The run ends once every write is settled and every key is
 * visible or past its deadline.
 *
 * With --report-interval W, each visible lag is also added to the histogram of its record's
 * window: record n is due at n / rate s, so window k holds the records due in [kW, (k+1)W) s
 * of the schedule; one lag_window line per window shows whether the lag grows over the run.
 *
 * Threads: main (writer), poller, and the client threads running the completions. One
 * mutex (lag.mu) guards the queue, the counters and the stats; it is never held across a
 * client call. The poller sleeps on lag.cv (CLOCK_MONOTONIC) until the next key is due, a
 * read slot frees up or a new key arrives.
 */
#include "bench/bench_lag.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "client/geokv_wire.h"
#include "common/clock.h"
#include "common/xmalloc.h"

struct lag {
    const struct bench_lag_opts *o;
    uint64_t nonce;
    struct geokv_table *src, *dst;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* guarded by mu */
    struct bench_lag_queue queue;
    struct bench_lag_stats stats;
    struct bench_hist write_us; /* write latency from the due time */
    struct lag_window *win;     /* nwin windows, or NULL without --report-interval */
    size_t nwin;
    int writes_inflight, polls_inflight;
    bool writing_done;
    uint64_t writes, acked, write_errors, poll_errors, poll_wrong;
};

/* The lags of the records due in one window of the schedule. */
struct lag_window {
    struct bench_hist lag_us;
    uint64_t not_visible;
};

/* One write or poll in flight. */
struct lag_req {
    struct lag *l;
    struct bench_lag_item it;
    int64_t due_us;
};

static void
key_of(const struct lag *l, uint64_t i, char *key, size_t cap, size_t *len)
{
    *len = bench_key(l->nonce, i, key, cap);
}

/* Runs on: a client thread. A write completed: start polling its key from now. */
static void
write_done(void *arg, int err)
{
    struct lag_req *r = arg;
    struct lag *l = r->l;
    int64_t now = clock_mono_us();

    pthread_mutex_lock(&l->mu);
    l->writes_inflight--;
    bench_hist_add(&l->write_us, (uint64_t)(now - r->due_us));
    if (err != 0) {
        l->write_errors++;
    } else {
        struct bench_lag_item it = {r->it.i, now, now};
        l->acked++;
        bench_lag_queue_push(&l->queue, &it);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    xfree(r);
}

/* The window of record i (clamped to the last one). */
static size_t
window_of(const struct lag *l, uint64_t i)
{
    double k = (double)i / (double)l->o->rate / l->o->window_s;
    return k < (double)(l->nwin - 1) ? (size_t)k : l->nwin - 1;
}

/* Called with mu held: the key of it is settled (seen, or past its deadline). */
static void
window_add(struct lag *l, const struct bench_lag_item *it, bool seen, int64_t now)
{
    struct lag_window *w = &l->win[window_of(l, it->i)];

    if (seen)
        bench_hist_add(&w->lag_us, now > it->ack_us ? (uint64_t)(now - it->ack_us) : 0);
    else
        w->not_visible++;
}

/* Runs on: a client thread. A poll of the target completed. */
static void
poll_done(void *arg, int err, const void *value, size_t len)
{
    struct lag_req *r = arg;
    struct lag *l = r->l;
    struct buf want = BUF_INIT;
    bool seen = false;
    int64_t now = clock_mono_us();

    if (err == 0) {
        bench_value(l->nonce, r->it.i, l->o->value_size, &want);
        seen = want.len == len && memcmp(want.data, value, len) == 0;
        buf_fini(&want);
    }
    pthread_mutex_lock(&l->mu);
    l->polls_inflight--;
    if (err != 0 && err != ERR_NOT_FOUND)
        l->poll_errors++;
    else if (err == 0 && !seen)
        l->poll_wrong++;
    if (bench_lag_poll_done(&l->stats, &r->it, seen, now, l->o->deadline_us, l->o->poll_min_us))
        bench_lag_queue_push(&l->queue, &r->it);
    else if (l->win != NULL)
        window_add(l, &r->it, seen, now);
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    xfree(r);
}

static void
poll_start(struct lag *l, const struct bench_lag_item *it)
{
    struct lag_req *r = xmalloc(sizeof(*r));
    char key[64];
    size_t klen;

    *r = (struct lag_req){l, *it, 0};
    key_of(l, it->i, key, sizeof(key), &klen);
    geokv_get_async(l->dst, geokv_bytes(key, klen), geokv_bytes(BENCH_SORT_KEY, 1),
                    l->o->timeout_ms, poll_done, r);
}

static void
cond_wait_until(struct lag *l, int64_t t_us)
{
    struct timespec ts = {.tv_sec = t_us / 1000000, .tv_nsec = (t_us % 1000000) * 1000};
    (void)pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

/* The poller: issues due polls while a slot is free; returns once everything is settled. */
static void *
poller_main(void *arg)
{
    struct lag *l = arg;
    struct bench_lag_item it;

    pthread_mutex_lock(&l->mu);
    for (;;) {
        int64_t now = clock_mono_us(), next;
        if (l->writing_done && l->writes_inflight == 0 && l->polls_inflight == 0 && l->queue.n == 0)
            break;
        if (l->polls_inflight < l->o->inflight && bench_lag_queue_pop_due(&l->queue, now, &it)) {
            l->polls_inflight++;
            pthread_mutex_unlock(&l->mu);
            poll_start(l, &it);
            pthread_mutex_lock(&l->mu);
            continue;
        }
        next = bench_lag_queue_next_us(&l->queue);
        if (l->polls_inflight >= l->o->inflight || next < 0)
            pthread_cond_wait(&l->cv, &l->mu);
        else
            cond_wait_until(l, next);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* The writer: record n is due at start + n / rate. */
static void
write_all(struct lag *l)
{
    const struct bench_lag_opts *o = l->o;
    int64_t start = clock_mono_us(), end = start + (int64_t)(o->duration_s * 1e6);
    struct buf v = BUF_INIT;
    char key[64];
    size_t klen;

    for (uint64_t n = 0;; n++) {
        int64_t due = start + (int64_t)((double)n * 1e6 / (double)o->rate);
        struct lag_req *r;
        if (o->duration_s > 0 ? due >= end : n >= o->count)
            break;
        bench_sleep_until_us(due);
        pthread_mutex_lock(&l->mu);
        while (l->writes_inflight >= o->inflight)
            pthread_cond_wait(&l->cv, &l->mu);
        l->writes_inflight++;
        l->writes++;
        pthread_mutex_unlock(&l->mu);
        r = xmalloc(sizeof(*r));
        *r = (struct lag_req){l, {n, 0, 0}, due};
        key_of(l, n, key, sizeof(key), &klen);
        buf_reset(&v);
        bench_value(l->nonce, n, o->value_size, &v);
        geokv_set_async(l->src, geokv_bytes(key, klen), geokv_bytes(BENCH_SORT_KEY, 1),
                        geokv_bytes(v.data, v.len), 0, o->timeout_ms, write_done, r);
    }
    buf_fini(&v);
    pthread_mutex_lock(&l->mu);
    l->writing_done = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static double
ms_of(uint64_t us)
{
    return (double)us / 1000.0;
}

/* Prints the report; returns the exit status. */
static int
report(struct lag *l, double write_secs, double secs)
{
    const struct bench_hist *h = &l->stats.lag_us;

    printf("op: lag\nnonce: %llu\nwrites: %llu\nacked: %llu\nwrite_errors: %llu\n",
           (unsigned long long)l->nonce, (unsigned long long)l->writes,
           (unsigned long long)l->acked, (unsigned long long)l->write_errors);
    printf("seconds: %.3f\nwrite_seconds: %.3f\nwrite_ops_per_sec: %.0f\n"
           "write_lat_p99_us: %llu\n",
           secs, write_secs, write_secs > 0 ? (double)l->writes / write_secs : 0.0,
           (unsigned long long)bench_hist_quantile(&l->write_us, 0.99));
    printf("visible: %llu\nnot_visible: %llu\npolls: %llu\npoll_errors: %llu\n",
           (unsigned long long)l->stats.visible, (unsigned long long)l->stats.not_visible,
           (unsigned long long)l->stats.polls, (unsigned long long)l->poll_errors);
    if (l->poll_wrong > 0)
        printf("poll_wrong: %llu\n", (unsigned long long)l->poll_wrong);
    printf("lag_p50_ms: %.1f\nlag_p99_ms: %.1f\nlag_p999_ms: %.1f\nlag_max_ms: %.1f\n",
           ms_of(bench_hist_quantile(h, 0.50)), ms_of(bench_hist_quantile(h, 0.99)),
           ms_of(bench_hist_quantile(h, 0.999)), ms_of(h->max));
    if (l->win != NULL)
        printf("lag_window_columns: from_s to_s visible not_visible p50_ms p99_ms max_ms\n");
    for (size_t k = 0; k < l->nwin; k++) {
        const struct bench_hist *wh = &l->win[k].lag_us;
        double from = (double)k * l->o->window_s;
        double to =
            k + 1 < l->nwin ? from + l->o->window_s : (double)l->writes / (double)l->o->rate;
        printf("lag_window: %.1f %.1f %llu %llu %.1f %.1f %.1f\n", from, to,
               (unsigned long long)wh->total, (unsigned long long)l->win[k].not_visible,
               ms_of(bench_hist_quantile(wh, 0.50)), ms_of(bench_hist_quantile(wh, 0.99)),
               ms_of(wh->max));
    }
    if (l->stats.visible == 0) {
        fprintf(stderr, "error: no write became visible on the target\n");
        return 1;
    }
    return 0;
}

/* Opens the app through a new client on metas. */
static int
open_table(const char *metas, const char *app, int timeout_ms, struct geokv_client **c,
           struct geokv_table **t)
{
    int err = geokv_client_create(metas, NULL, c);

    if (err != 0) {
        fprintf(stderr, "error: meta list '%s': %s\n", metas, err_str(err));
        return err;
    }
    err = geokv_open(*c, app, timeout_ms > 10000 ? timeout_ms : 10000, t);
    if (err != 0)
        fprintf(stderr, "error: open %s on %s: %s\n", app, metas, err_str(err));
    return err;
}

int
bench_lag_run(const struct bench_lag_opts *o)
{
    struct geokv_client *src_c = NULL, *dst_c = NULL;
    struct lag l;
    pthread_condattr_t ca;
    pthread_t poller;
    int64_t start, written;
    int status = 2;

    memset(&l, 0, sizeof(l));
    l.o = o;
    l.nonce = ((uint64_t)clock_wall_us() << 16) ^ (uint64_t)getpid();
    if (open_table(o->src_metas, o->app, o->timeout_ms, &src_c, &l.src) != 0 ||
        open_table(o->dst_metas, o->app, o->timeout_ms, &dst_c, &l.dst) != 0)
        goto out;
    pthread_mutex_init(&l.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l.cv, &ca);
    pthread_condattr_destroy(&ca);
    bench_lag_stats_init(&l.stats);
    bench_hist_init(&l.write_us);
    if (o->window_s > 0) {
        double records = o->duration_s > 0 ? o->duration_s * (double)o->rate : (double)o->count;
        double n = ceil(records / (double)o->rate / o->window_s);
        l.nwin = n < 1 ? 1 : n > 100000 ? 100000 : (size_t)n;
        l.win = xcalloc(l.nwin, sizeof(*l.win));
        for (size_t k = 0; k < l.nwin; k++)
            bench_hist_init(&l.win[k].lag_us);
    }
    start = clock_mono_us();
    pthread_create(&poller, NULL, poller_main, &l);
    write_all(&l);
    written = clock_mono_us();
    pthread_join(poller, NULL);
    status = report(&l, (double)(written - start) / 1e6, (double)(clock_mono_us() - start) / 1e6);
    bench_lag_queue_fini(&l.queue);
    xfree(l.win);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
out:
    if (src_c != NULL)
        geokv_client_destroy(src_c);
    if (dst_c != NULL)
        geokv_client_destroy(dst_c);
    return status;
}
