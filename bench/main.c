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
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "client/geokv.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"

enum bench_op { BOP_SET, BOP_GET, BOP_VERIFY };

struct bench_opts {
    const char *metas, *app;
    enum bench_op op;
    uint64_t count, seed;
    int threads, inflight, timeout_ms;
    size_t value_size;
    double duration_s;
};

struct worker {
    struct bench *b;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight;
    struct bench_hist hist;
    uint64_t ok, errors, not_found, wrong;
};

struct bench {
    struct bench_opts o;
    struct geokv_table *table;
    atomic_uint_fast64_t next;
    int64_t end_us; /* 0 = no duration */
    struct worker *workers;
    pthread_mutex_t sample_mu;
    int nsamples;
};

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

static void
set_done(void *arg, int err)
{
    complete(arg, err, false);
}

static void
get_done(void *arg, int err, const uint8_t *value, size_t len)
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

/* Claims the next record index; false when the run is over. */
static bool
claim(struct bench *b, uint64_t *i)
{
    uint64_t n = atomic_fetch_add(&b->next, 1);

    if (b->end_us != 0) {
        if (clock_mono_us() >= b->end_us)
            return false;
        *i = n % b->o.count;
        return true;
    }
    *i = n;
    return n < b->o.count;
}

static void
issue(struct worker *w, uint64_t i)
{
    struct bench *b = w->b;
    struct req *r = xmalloc(sizeof(*r));
    char key[64];
    size_t klen = bench_key(b->o.seed, i, key, sizeof(key));
    struct bytes hk = bytes_of(key, klen), sk = bytes_of(BENCH_SORT_KEY, 1);

    *r = (struct req){w, i, clock_mono_us()};
    if (b->o.op == BOP_SET) {
        struct buf v = BUF_INIT;
        bench_value(b->o.seed, i, b->o.value_size, &v);
        geokv_set_async(b->table, hk, sk, bytes_of(v.data, v.len), 0, b->o.timeout_ms,
                        set_done, r);
        buf_fini(&v);
    } else {
        geokv_get_async(b->table, hk, sk, b->o.timeout_ms, get_done, r);
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t i;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->inflight >= w->b->o.inflight)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        if (!claim(w->b, &i))
            break;
        pthread_mutex_lock(&w->mu);
        w->inflight++;
        pthread_mutex_unlock(&w->mu);
        issue(w, i);
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
    fprintf(f,
        "usage: geokv-bench -m META_LIST -a APP --op set|get|verify [options]\n"
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
        "  --timeout-ms MS        per-request timeout (default 5000)\n"
        "  -v, --verbose          client debug logging\n"
        "Record i: hash_key \"b<seed>-<i>\", sort_key \"s\", value = f(seed, i).\n"
        "Output, one 'name: value' per line: op, ops, ok, errors, not_found, seconds,\n"
        "ops_per_sec, lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us (+ found, missing, wrong\n"
        "for verify). Exit 1 if no operation succeeded (for get: no value was found), or, for\n"
        "verify, if any record is missing, wrong or could not be read; 2 on usage errors.\n");
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
    static const struct option opts[] = {
        {"meta", required_argument, NULL, 'm'},       {"app", required_argument, NULL, 'a'},
        {"op", required_argument, NULL, 'o'},         {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},       {"threads", required_argument, NULL, 'T'},
        {"inflight", required_argument, NULL, 'I'},   {"value-size", required_argument, NULL, 'B'},
        {"duration", required_argument, NULL, 'd'},   {"timeout-ms", required_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *op = NULL;
    int c;

    *o = (struct bench_opts){.count = 10000, .seed = 1, .threads = 2, .inflight = 32,
                             .timeout_ms = 5000, .value_size = 100};
    while ((c = getopt_long(argc, argv, "m:a:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->metas = optarg; break;
        case 'a': o->app = optarg; break;
        case 'o': op = optarg; break;
        case 'n': o->count = opt_num("count", optarg, 1); break;
        case 's': o->seed = opt_num("seed", optarg, 0); break;
        case 'T': o->threads = (int)opt_num("threads", optarg, 1); break;
        case 'I': o->inflight = (int)opt_num("inflight", optarg, 1); break;
        case 'B': o->value_size = opt_num("value-size", optarg, 0); break;
        case 'd': o->duration_s = (double)opt_num("duration", optarg, 1); break;
        case 't': o->timeout_ms = (int)opt_num("timeout-ms", optarg, 1); break;
        case 'v': log_set_level(LOG_LVL_DEBUG); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (o->metas == NULL || o->app == NULL || op == NULL || optind < argc) {
        fprintf(stderr, "error: %s\n", optind < argc ? "unexpected argument"
                                       : "-m, -a and --op are required");
        usage(stderr);
        exit(2);
    }
    if (strcmp(op, "set") == 0)
        o->op = BOP_SET;
    else if (strcmp(op, "get") == 0)
        o->op = BOP_GET;
    else if (strcmp(op, "verify") == 0)
        o->op = BOP_VERIFY;
    else {
        fprintf(stderr, "error: --op: expected set, get or verify, got '%s'\n", op);
        exit(2);
    }
    if (o->threads > 1024 || o->inflight > 100000 || o->value_size > GEOKV_MAX_VALUE) {
        fprintf(stderr, "error: --threads, --inflight or --value-size out of range\n");
        exit(2);
    }
    if (o->op == BOP_VERIFY)
        o->duration_s = 0; /* verify always reads every record once */
}

/* ---- run and report ---- */

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

    b->workers = xcalloc((size_t)b->o.threads, sizeof(*b->workers));
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

/* Prints the metrics; returns the exit status. */
static int
report(struct bench *b, double secs)
{
    struct bench_hist h;
    uint64_t ok = 0, errors = 0, nf = 0, wrong = 0, ops;
    int status = 0;

    bench_hist_init(&h);
    for (int t = 0; t < b->o.threads; t++) {
        struct worker *w = &b->workers[t];
        bench_hist_merge(&h, &w->hist);
        ok += w->ok, errors += w->errors, nf += w->not_found, wrong += w->wrong;
    }
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
    }
    if (ok == 0) {
        fprintf(stderr, "error: no successful operation\n");
        status = 1;
    }
    return status;
}

int
main(int argc, char **argv)
{
    struct bench b;
    struct geokv_client *c;
    double secs;
    int err, status;

    memset(&b, 0, sizeof(b));
    log_set_level(LOG_LVL_WARN);
    parse_opts(argc, argv, &b.o);
    atomic_init(&b.next, 0);
    pthread_mutex_init(&b.sample_mu, NULL);
    err = geokv_client_create(b.o.metas, &c);
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
    geokv_client_destroy(c);
    for (int t = 0; t < b.o.threads; t++) {
        pthread_mutex_destroy(&b.workers[t].mu);
        pthread_cond_destroy(&b.workers[t].cv);
    }
    xfree(b.workers);
    return status;
}
