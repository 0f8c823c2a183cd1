/*
 * geokv-bench: load generator and verifier.
 *
 * Record i of a run with seed S has hash_key "b<S>-<i>", sort_key "s" and a value that is a
 * pure function of (S, i) (bench_util.c). --op set writes records, --op get reads them,
 * --op verify reads back all --count records and checks every value.
 *
 * Each of --threads worker threads keeps --inflight async requests outstanding: it claims
 * the next index from a shared counter, starts geokv_*_async, and waits on its condvar when
 * its window is full. Completions (on client threads) record latency and outcome in their
 * worker's stats under the worker's mutex and wake it. Results are printed one metric per
 * line ("name: value"), so scripts can grep them.
 *
 * --rate R paces the run with an open-loop schedule: claim n (shared by all threads) is due
 * at start + n / R seconds. A worker sleeps until its claim is due, then waits for a free
 * slot in its window; latency is measured from the due time, not from the send, so time a
 * request spends queued behind a full window or a late worker counts (no coordinated
 * omission). When the server cannot keep up, due times fall ever further behind and the
 * latencies show it.
 *
 * --ack-log FILE makes fault tests exact. With --op set, the completion callback of every
 * acknowledged write appends the record's index to FILE (text, one decimal index per line:
 * bench_util.h) through one buffered stream under ack_mu; FILE is flushed and fsynced at
 * the end, and SIGINT/SIGTERM end the run early but cleanly (no new requests, in-flight
 * ones complete or time out, then the report and the flush; a second signal exits at once).
 * Only acknowledged writes are ever logged, so a log cut short by SIGKILL loses no
 * guarantee: those writes just count as unacknowledged. With --op verify, the workers read
 * exactly the logged indices (the claim counter indexes that sorted, deduplicated list);
 * with an explicit --count N a second pass reads the indices < N that are not in the log
 * and reports how many of those unacknowledged writes happened anyway (never a failure).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_lag.h"
#include "bench/bench_util.h"
#include "client/geokv_wire.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/auth.h"

enum bench_op { BOP_SET, BOP_GET, BOP_VERIFY, BOP_LAG };

struct bench_opts {
    const char *metas, *app;
    enum bench_op op;
    uint64_t count, seed;
    int threads, inflight, timeout_ms;
    size_t value_size;
    double duration_s;
    uint64_t rate;       /* ops/s over all threads; 0 = unlimited */
    const char *ack_log; /* NULL = none */
    bool count_given;    /* --count was on the command line */
    const char *remote;  /* --op lag: the target cluster's metas */
    uint64_t poll_ms, lag_timeout_s;
    uint64_t report_interval_s; /* --op lag: per-window lag lines; 0 = none */
};

struct worker {
    struct bench *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    struct bench_hist hist;
    uint64_t ok, errors, not_found, wrong;
    uint64_t uncertain; /* errors that leave the outcome unknown: timeouts */
};

struct bench {
    struct bench_opts o;
    struct geokv_table *table;
    atomic_uint_fast64_t next;
    int64_t start_us;
    int64_t end_us; /* 0 = no duration */
    struct worker *workers;
    pthread_mutex_t sample_mu;
    int nsamples;
    const uint64_t *indices; /* verify --ack-log: claim n reads indices[n] (n < nindices) */
    uint64_t nindices;
    FILE *ack_f;            /* set --ack-log: acknowledged indices are appended here */
    pthread_mutex_t ack_mu; /* guards ack_f and ack_err */
    int ack_err;            /* first write error on ack_f (-errno) */
};

/* Set by the signal thread (--ack-log runs only): claim no more records. */
static atomic_bool stop_requested;

/* One request in flight. */
struct req {
    struct worker *w;
    uint64_t i;
    int64_t start_us;
};

#define ERROR_SAMPLES 5

static void
error_sample(struct bench *b, uint64_t i, int err)
{
    char key[64];
    pthread_mutex_lock(&b->sample_mu);
    if (b->nsamples++ < ERROR_SAMPLES) {
        bench_key(b->o.seed, i, key, sizeof(key));
        fprintf(stderr, "error_sample: key=%s err=%s (%s)\n", key, err_name(err), err_str(err));
    }
    pthread_mutex_unlock(&b->sample_mu);
}

/* Records one completion in its worker and frees the request. */
static void
complete(struct req *r, int err, bool wrong)
{
    struct worker *w = r->w;
    uint64_t lat = (uint64_t)(clock_mono_us() - r->start_us);

    if (err != 0 && err != ERR_NOT_FOUND)
        error_sample(w->b, r->i, err);
    pthread_mutex_lock(&w->mu);
    bench_hist_add(&w->hist, lat);
    if (err == ERR_TIMEOUT || err == ERR_UNCERTAIN)
        w->uncertain++;
    if (err == ERR_NOT_FOUND)
        w->not_found++;
    else if (err != 0)
        w->errors++;
    else if (wrong)
        w->wrong++;
    else
        w->ok++;
    w->inflight--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    xfree(r);
}

/* Appends an acknowledged index to the ack log. Runs on a client thread. */
static void
ack_log_append(struct bench *b, uint64_t i)
{
    char line[BENCH_ACK_LINE_MAX];
    size_t n = bench_ack_format(i, line, sizeof(line));

    pthread_mutex_lock(&b->ack_mu);
    if (b->ack_err == 0 && fwrite(line, 1, n, b->ack_f) != n)
        b->ack_err = errno != 0 ? -errno : ERR_IO;
    pthread_mutex_unlock(&b->ack_mu);
}

static void
set_done(void *arg, int err)
{
    struct req *r = arg;

    if (err == 0 && r->w->b->ack_f != NULL)
        ack_log_append(r->w->b, r->i);
    complete(r, err, false);
}

static void
get_done(void *arg, int err, const void *value, size_t len)
{
    struct req *r = arg;
    struct bench *b = r->w->b;
    bool wrong = false;

    if (err == 0) {
        struct buf want = BUF_INIT;
        bench_value(b->o.seed, r->i, b->o.value_size, &want);
        wrong = want.len != len || memcmp(want.data, value, len) != 0;
        buf_fini(&want);
    }
    complete(r, err, wrong);
}

/* Claims the next record index and the time it is due (now without --rate); false when the
 * run is over. With --duration a run ends when the next claim would be due after the end. */
static bool
claim(struct bench *b, uint64_t *i, int64_t *due_us)
{
    uint64_t n = atomic_fetch_add(&b->next, 1);

    if (atomic_load(&stop_requested))
        return false;
    if (b->indices != NULL) {
        *due_us = clock_mono_us();
        if (n >= b->nindices)
            return false;
        *i = b->indices[n];
        return true;
    }
    *due_us = clock_mono_us();
    if (b->o.rate > 0)
        *due_us = b->start_us + (int64_t)((double)n * 1e6 / (double)b->o.rate);
    if (b->end_us != 0) {
        if (*due_us >= b->end_us)
            return false;
        *i = n % b->o.count;
        return true;
    }
    *i = n;
    return n < b->o.count;
}

/* Starts request i; its latency counts from start_us. */
static void
issue(struct worker *w, uint64_t i, int64_t start_us)
{
    struct bench *b = w->b;
    struct req *r = xmalloc(sizeof(*r));
    char key[64];
    size_t klen = bench_key(b->o.seed, i, key, sizeof(key));
    struct geokv_bytes hk = geokv_bytes(key, klen), sk = geokv_bytes(BENCH_SORT_KEY, 1);

    *r = (struct req){w, i, start_us};
    if (b->o.op == BOP_SET) {
        struct buf v = BUF_INIT;
        bench_value(b->o.seed, i, b->o.value_size, &v);
        geokv_set_async(b->table, hk, sk, geokv_bytes(v.data, v.len), 0, b->o.timeout_ms, set_done,
                        r);
        buf_fini(&v);
    } else {
        geokv_get_async(b->table, hk, sk, b->o.timeout_ms, get_done, r);
    }
}

/* Blocks until the worker's window has a free slot and takes it. */
static void
window_acquire(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->inflight >= w->b->o.inflight)
        pthread_cond_wait(&w->cv, &w->mu);
    w->inflight++;
    pthread_mutex_unlock(&w->mu);
}

static void
window_release(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->inflight--;
    pthread_mutex_unlock(&w->mu);
}

/* Unpaced, a slot is taken first so the claim's time is the send time. Paced, the claim
 * comes first: its due time is fixed by the schedule, and waiting for a slot counts. */
static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    bool paced = w->b->o.rate > 0;
    int64_t due;
    uint64_t i;

    /* The default 50 us timer slack would make every paced send that much late. */
    if (paced)
        (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

    for (;;) {
        if (!paced)
            window_acquire(w);
        if (!claim(w->b, &i, &due)) {
            if (!paced)
                window_release(w);
            break;
        }
        if (paced) {
            bench_sleep_until_us(due); /* behind schedule: no syscall */
            window_acquire(w);
        }
        issue(w, i, due);
    }
    pthread_mutex_lock(&w->mu);
    while (w->inflight > 0)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- options ---- */

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: geokv-bench -m META_LIST -a APP --op set|get|verify [options]\n"
        "       geokv-bench -m SOURCE_METAS -r TARGET_METAS -a APP --op lag --rate R "
        "[--duration S] [options]\n"
        "  -m, --meta LIST        meta servers host:port[,host:port...]\n"
        "  -a, --app APP          table (must exist)\n"
        "  --op set|get|verify    set: write records; get: read them (latency);\n"
        "                         verify: read every record a set run with the same\n"
        "                         --seed/--count/--value-size wrote and check its value\n"
        "  --count N              records (default 10000)\n"
        "  --seed S               key/value seed (default 1)\n"
        "  --threads T            worker threads (default 2)\n"
        "  --inflight I           requests in flight per thread (default 32)\n"
        "  --value-size B         value bytes (default 100)\n"
        "  --duration S           run set/get for S seconds, cycling over the N records,\n"
        "                         instead of N operations\n"
        "  --rate R               pace the run at R ops/s over all threads (0 = unlimited,\n"
        "                         the default); open loop: request n is due at n/R s and\n"
        "                         its latency counts from then, queueing included\n"
        "  --timeout-ms MS        per-request timeout (default 5000)\n"
        "  -c, --config FILE      sign calls with the [security] keys of FILE (needed when\n"
        "                         the servers have require_client_auth)\n"
        "  --ack-log FILE         set: write the index of every acknowledged write to FILE\n"
        "                         (text, one decimal index per line, truncated first;\n"
        "                         SIGINT/SIGTERM stop the run cleanly) and print acked,\n"
        "                         unacked; verify: read back exactly the indices in FILE\n"
        "                         (found/missing/wrong are about those), and with --count N\n"
        "                         also the indices < N not in FILE: unacked_present,\n"
        "                         unacked_absent, unacked_errors (informational)\n"
        "  --op lag               duplication visibility lag: write unique records on the\n"
        "                         source (-m) at --rate for --duration S (or --count\n"
        "                         records) and poll the same table on the target (-r) until\n"
        "                         each value is visible; prints lag_p50_ms, lag_p99_ms,\n"
        "                         lag_p999_ms, lag_max_ms (ack on the source -> first read on\n"
        "                         the target that returns the value), visible, not_visible,\n"
        "                         polls, writes, acked, write_errors; --inflight bounds the\n"
        "                         outstanding writes and, separately, the outstanding polls\n"
        "  -r, --remote LIST      lag: the target cluster's meta servers\n"
        "  --poll-ms MS           lag: shortest interval between two polls of one key\n"
        "                         (default 5; it grows to a quarter of the key's age, at most\n"
        "                         100 ms, so a lag L is overstated by <= max(MS, L/4) + 1 read)\n"
        "  --lag-timeout-s S      lag: a key not visible S s after its ack is not_visible\n"
        "                         (default 30)\n"
        "  --report-interval S    lag: also print one line per S s window of the write\n"
        "                         schedule (record n is due at n/R s): 'lag_window: from_s\n"
        "                         to_s visible not_visible p50_ms p99_ms max_ms'\n"
        "  -v, --verbose          client debug logging\n"
        "Record i: hash_key \"b<seed>-<i>\", sort_key \"s\", value = f(seed, i).\n"
        "Output, one 'name: value' per line: op, ops, ok, errors, not_found, seconds,\n"
        "ops_per_sec, lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us (+ found, missing, wrong\n"
        "for verify; acked, unacked for set --ack-log; interrupted if a signal ended the run).\n"
        "Exit 1 if no operation succeeded (for get: no value was found; for lag: no value became\n"
        "visible), or, for verify, if any\n"
        "record is missing, wrong or could not be read, or if the ack log could not be written;\n"
        "2 on usage errors.\n");
}

/* Parses a positive integer option value; exits with a usage error otherwise. */
static uint64_t
opt_num(const char *name, const char *s, uint64_t min)
{
    char *end;
    unsigned long long v;

    if (s[0] == '-' || s[0] == '\0')
        goto bad;
    v = strtoull(s, &end, 10);
    if (*end != '\0' || v < min)
        goto bad;
    return v;
bad:
    fprintf(stderr, "error: --%s: expected an integer >= %llu, got '%s'\n", name,
            (unsigned long long)min, s);
    exit(2);
}

static void
parse_opts(int argc, char **argv, struct bench_opts *o)
{
    static const struct option opts[] = {{"meta", required_argument, NULL, 'm'},
                                         {"app", required_argument, NULL, 'a'},
                                         {"op", required_argument, NULL, 'o'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"threads", required_argument, NULL, 'T'},
                                         {"inflight", required_argument, NULL, 'I'},
                                         {"value-size", required_argument, NULL, 'B'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"rate", required_argument, NULL, 'q'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"ack-log", required_argument, NULL, 'A'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"remote", required_argument, NULL, 'R'},
                                         {"poll-ms", required_argument, NULL, 'P'},
                                         {"lag-timeout-s", required_argument, NULL, 'L'},
                                         {"report-interval", required_argument, NULL, 'W'},
                                         {"config", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    const char *op = NULL;
    int c;

    *o = (struct bench_opts){.count = 10000,
                             .seed = 1,
                             .threads = 2,
                             .inflight = 32,
                             .timeout_ms = 5000,
                             .value_size = 100,
                             .poll_ms = 5,
                             .lag_timeout_s = 30};
    while ((c = getopt_long(argc, argv, "m:a:r:c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->metas = optarg; break;
        case 'c':
            if (auth_load(optarg, NULL, 0) != 0)
                exit(2);
            break;
        case 'a': o->app = optarg; break;
        case 'o': op = optarg; break;
        case 'n':
            o->count = opt_num("count", optarg, 1);
            o->count_given = true;
            break;
        case 's': o->seed = opt_num("seed", optarg, 0); break;
        case 'T': o->threads = (int)opt_num("threads", optarg, 1); break;
        case 'I': o->inflight = (int)opt_num("inflight", optarg, 1); break;
        case 'B': o->value_size = opt_num("value-size", optarg, 0); break;
        case 'd': o->duration_s = (double)opt_num("duration", optarg, 1); break;
        case 't': o->timeout_ms = (int)opt_num("timeout-ms", optarg, 1); break;
        case 'q': o->rate = opt_num("rate", optarg, 0); break;
        case 'A': o->ack_log = optarg; break;
        case 'r':
        case 'R': o->remote = optarg; break;
        case 'P': o->poll_ms = opt_num("poll-ms", optarg, 1); break;
        case 'L': o->lag_timeout_s = opt_num("lag-timeout-s", optarg, 1); break;
        case 'W': o->report_interval_s = opt_num("report-interval", optarg, 1); break;
        case 'v': log_set_level(LOG_LVL_DEBUG); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (o->metas == NULL || o->app == NULL || op == NULL || optind < argc) {
        fprintf(stderr, "error: %s\n",
                optind < argc ? "unexpected argument" : "-m, -a and --op are required");
        usage(stderr);
        exit(2);
    }
    if (strcmp(op, "set") == 0)
        o->op = BOP_SET;
    else if (strcmp(op, "get") == 0)
        o->op = BOP_GET;
    else if (strcmp(op, "verify") == 0)
        o->op = BOP_VERIFY;
    else if (strcmp(op, "lag") == 0)
        o->op = BOP_LAG;
    else {
        fprintf(stderr, "error: --op: expected set, get, verify or lag, got '%s'\n", op);
        exit(2);
    }
    if ((o->op == BOP_LAG) != (o->remote != NULL) || (o->op == BOP_LAG && o->rate == 0)) {
        fprintf(stderr, "error: --op lag needs -r TARGET_METAS and --rate R > 0 (and -r goes "
                        "only with --op lag)\n");
        exit(2);
    }
    if (o->threads > 1024 || o->inflight > 100000 || o->value_size > GEOKV_MAX_VALUE) {
        fprintf(stderr, "error: --threads, --inflight or --value-size out of range\n");
        exit(2);
    }
    if (o->report_interval_s > 0 && o->op != BOP_LAG) {
        fprintf(stderr, "error: --report-interval goes with --op lag\n");
        exit(2);
    }
    if (o->ack_log != NULL && (o->op == BOP_GET || o->op == BOP_LAG)) {
        fprintf(stderr, "error: --ack-log goes with --op set or --op verify\n");
        exit(2);
    }
    if (o->op == BOP_VERIFY)
        o->duration_s = 0; /* verify always reads every record once */
}

/* ---- run and report ---- */

/* --op lag: its own run (bench_lag.c). */
static int
run_lag(const struct bench_opts *o)
{
    struct bench_lag_opts lo = {.src_metas = o->metas,
                                .dst_metas = o->remote,
                                .app = o->app,
                                .rate = o->rate,
                                .duration_s = o->duration_s,
                                .count = o->count,
                                .value_size = o->value_size,
                                .inflight = o->inflight,
                                .timeout_ms = o->timeout_ms,
                                .poll_min_us = (int64_t)o->poll_ms * 1000,
                                .deadline_us = (int64_t)o->lag_timeout_s * 1000000,
                                .window_s = (double)o->report_interval_s};
    return bench_lag_run(&lo);
}

static const char *
op_name(enum bench_op op)
{
    return op == BOP_SET ? "set" : op == BOP_GET ? "get" : "verify";
}

/* Runs the workers to completion; returns the elapsed seconds. */
static double
run_workers(struct bench *b)
{
    int64_t start = clock_mono_us();

    atomic_store(&b->next, 0);
    b->workers = xcalloc((size_t)b->o.threads, sizeof(*b->workers));
    b->start_us = start;
    if (b->o.duration_s > 0)
        b->end_us = start + (int64_t)(b->o.duration_s * 1e6);
    for (int t = 0; t < b->o.threads; t++) {
        struct worker *w = &b->workers[t];
        w->b = b;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        bench_hist_init(&w->hist);
        pthread_create(&w->thread, NULL, worker_main, w);
    }
    for (int t = 0; t < b->o.threads; t++)
        pthread_join(b->workers[t].thread, NULL);
    return (double)(clock_mono_us() - start) / 1e6;
}

static void
workers_free(struct bench *b)
{
    for (int t = 0; t < b->o.threads; t++) {
        pthread_mutex_destroy(&b->workers[t].mu);
        pthread_cond_destroy(&b->workers[t].cv);
    }
    xfree(b->workers);
    b->workers = NULL;
}

/* The workers' outcome counts, summed. */
static void
sum_counts(const struct bench *b, uint64_t *ok, uint64_t *errors, uint64_t *nf, uint64_t *wrong)
{
    *ok = *errors = *nf = *wrong = 0;
    for (int t = 0; t < b->o.threads; t++) {
        const struct worker *w = &b->workers[t];
        *ok += w->ok, *errors += w->errors, *nf += w->not_found, *wrong += w->wrong;
    }
}

/* Calls that ended with their outcome unknown (timed out after they were sent). */
static uint64_t
uncertain(const struct bench *b)
{
    uint64_t n = 0;
    for (int t = 0; t < b->o.threads; t++)
        n += b->workers[t].uncertain;
    return n;
}

/* A counter of the RPC layer in this process (0 if it was never touched). */
static int64_t
rpc_metric(const char *name)
{
    return metric_value(metric_get(METRIC_COUNTER, name, NULL, NULL));
}

/* Prints the metrics; returns the exit status. */
static int
report(struct bench *b, double secs)
{
    struct bench_hist h;
    uint64_t ok = 0, errors = 0, nf = 0, wrong = 0, ops;
    int status = 0;

    bench_hist_init(&h);
    for (int t = 0; t < b->o.threads; t++)
        bench_hist_merge(&h, &b->workers[t].hist);
    sum_counts(b, &ok, &errors, &nf, &wrong);
    ops = h.total;
    printf("op: %s\nops: %llu\nok: %llu\nerrors: %llu\nnot_found: %llu\n", op_name(b->o.op),
           (unsigned long long)ops, (unsigned long long)ok, (unsigned long long)errors,
           (unsigned long long)nf);
    printf("seconds: %.3f\nops_per_sec: %.0f\n", secs, secs > 0 ? (double)ops / secs : 0.0);
    printf("lat_p50_us: %llu\nlat_p99_us: %llu\nlat_p999_us: %llu\nlat_max_us: %llu\n",
           (unsigned long long)bench_hist_quantile(&h, 0.50),
           (unsigned long long)bench_hist_quantile(&h, 0.99),
           (unsigned long long)bench_hist_quantile(&h, 0.999), (unsigned long long)h.max);
    if (b->o.op == BOP_VERIFY) {
        printf("found: %llu\nmissing: %llu\nwrong: %llu\n", (unsigned long long)ok,
               (unsigned long long)nf, (unsigned long long)wrong);
        if (nf > 0 || wrong > 0 || errors > 0)
            status = 1;
    } else if (b->o.op == BOP_GET && wrong > 0) {
        printf("wrong: %llu\n", (unsigned long long)wrong);
    } else if (b->ack_f != NULL) {
        printf("acked: %llu\nunacked: %llu\n", (unsigned long long)ok, (unsigned long long)errors);
    }
    printf("uncertain: %llu\nrpc_replies_lost: %lld\nrpc_client_busy: %lld\n",
           (unsigned long long)uncertain(b), (long long)rpc_metric("geokv_rpc_replies_lost_total"),
           (long long)rpc_metric("geokv_rpc_client_busy_total"));
    if (atomic_load(&stop_requested))
        printf("interrupted: 1\n");
    if (ok == 0) {
        fprintf(stderr, "error: no successful operation\n");
        status = 1;
    }
    return status;
}

/* ---- ack log ---- */

/* The first SIGINT/SIGTERM stops the run cleanly (claim() sees it); a second exits at once. */
static void *
signal_main(void *arg)
{
    const sigset_t *set = arg;
    int sig, n = 0;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (n++ > 0)
            _exit(128 + sig);
        atomic_store(&stop_requested, true);
        fprintf(stderr,
                "geokv-bench: signal %d: finishing the requests in flight (again to "
                "quit at once)\n",
                sig);
    }
    return NULL;
}

/* Blocks SIGINT and SIGTERM in every thread (call before any thread is created) and
 * takes them on a signal thread instead. */
static void
signals_start(void)
{
    static sigset_t set;
    pthread_t t;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (pthread_create(&t, NULL, signal_main, &set) == 0)
        pthread_detach(t);
}

/* Flushes, fsyncs and closes the ack log; the first error of the run, if any. */
static int
ack_log_close(struct bench *b)
{
    int err = b->ack_err;

    if (fflush(b->ack_f) != 0 || fsync(fileno(b->ack_f)) != 0)
        err = err != 0 ? err : -errno;
    if (fclose(b->ack_f) != 0)
        err = err != 0 ? err : -errno;
    b->ack_f = NULL;
    return err;
}

/* Reads the ack log of a set run: its distinct indices, sorted (caller frees). Exits 2 if
 * it cannot be read or is malformed. */
static uint64_t *
ack_log_load(const char *path, size_t *n)
{
    struct buf data = BUF_INIT;
    char chunk[65536];
    uint64_t *v;
    size_t got, bad_line;
    bool torn;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        fprintf(stderr, "error: --ack-log %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&data, chunk, got);
    fclose(f);
    if (bench_ack_parse(data.data, data.len, &v, n, &torn, &bad_line) != 0) {
        fprintf(stderr, "error: --ack-log %s: line %zu is not a record index\n", path, bad_line);
        exit(2);
    }
    if (torn)
        fprintf(stderr, "warning: --ack-log %s: ignoring an unterminated last line\n", path);
    buf_fini(&data);
    return v;
}

/* Verify, second pass: reads the indices < count that are not in the log (sorted, n). */
static void
verify_unacked(struct bench *b, const uint64_t *acked, size_t n)
{
    uint64_t ok, errors, nf, wrong, m = 0;
    uint64_t *rest = xmalloc((size_t)b->o.count * sizeof(*rest));

    for (uint64_t i = 0; i < b->o.count; i++)
        if (!bench_ack_contains(acked, n, i))
            rest[m++] = i;
    workers_free(b);
    b->indices = rest;
    b->nindices = m;
    (void)run_workers(b);
    sum_counts(b, &ok, &errors, &nf, &wrong);
    printf("unacked_present: %llu\nunacked_absent: %llu\nunacked_errors: %llu\n",
           (unsigned long long)ok, (unsigned long long)nf, (unsigned long long)(errors + wrong));
    b->indices = NULL;
    xfree(rest);
}

/* Opens the ack log (--op set: truncated; --op verify: loaded into b->indices). */
static void
ack_log_start(struct bench *b, uint64_t **acked, size_t *nacked)
{
    signals_start();
    if (b->o.op == BOP_VERIFY) {
        *acked = ack_log_load(b->o.ack_log, nacked);
        if (*acked == NULL)
            *acked = xmalloc(sizeof(**acked)); /* an empty log: still read exactly its indices */
        b->indices = *acked;
        b->nindices = *nacked;
        return;
    }
    b->ack_f = fopen(b->o.ack_log, "w");
    if (b->ack_f == NULL) {
        fprintf(stderr, "error: --ack-log %s: %s\n", b->o.ack_log, strerror(errno));
        exit(2);
    }
    (void)setvbuf(b->ack_f, NULL, _IOFBF, 1u << 20);
}

int
main(int argc, char **argv)
{
    struct bench b;
    struct geokv_client *c;
    uint64_t *acked = NULL;
    size_t nacked = 0;
    double secs;
    int err, status;

    memset(&b, 0, sizeof(b));
    log_set_level(LOG_LVL_WARN);
    parse_opts(argc, argv, &b.o);
    if (b.o.op == BOP_LAG)
        return run_lag(&b.o);
    atomic_init(&b.next, 0);
    pthread_mutex_init(&b.sample_mu, NULL);
    pthread_mutex_init(&b.ack_mu, NULL);
    if (b.o.ack_log != NULL)
        ack_log_start(&b, &acked, &nacked); /* before the client starts its threads */
    err = geokv_client_create(b.o.metas, NULL, &c);
    if (err != 0) {
        fprintf(stderr, "error: meta list '%s': %s\n", b.o.metas, err_str(err));
        return 2;
    }
    err = geokv_open(c, b.o.app, b.o.timeout_ms > 10000 ? b.o.timeout_ms : 10000, &b.table);
    if (err != 0) {
        fprintf(stderr, "error: open %s: %s\n", b.o.app, err_str(err));
        geokv_client_destroy(c);
        return 1;
    }
    secs = run_workers(&b);
    status = report(&b, secs);
    if (acked != NULL && b.o.count_given && !atomic_load(&stop_requested))
        verify_unacked(&b, acked, nacked);
    if (b.ack_f != NULL && (err = ack_log_close(&b)) != 0) {
        fprintf(stderr, "error: --ack-log %s: %s\n", b.o.ack_log, err_str(err));
        status = 1;
    }
    geokv_client_destroy(c);
    workers_free(&b);
    xfree(acked);
    return status;
}
