/*
 * geokv-nemesis: the operation generator and the independent checker of the fault-injection
 * ("nemesis") tests.
 *
 *   geokv-nemesis run -m META_LIST -a APP --seed S --duration SEC --history FILE [options]
 *   geokv-nemesis check --history FILE... --dump FILE... [--same-clock]
 *
 * run: --threads worker threads, each with its own PRNG seeded from (S, thread), run one
 * synchronous op at a time, chosen by the --mix weights, on keys only that thread writes
 * (and, with --shared, on keys every writer of seed S sets), so what each key may hold is
 * known: the effect of its last ok write or of any later write whose outcome is unknown.
 * nemesis_check.h has the keys, the values and the history format. Every completed op is
 * one history line, appended through one stdio stream under hist_mu; the main thread flushes
 * it every second and at the end. A get is checked at once against what its thread knows of
 * the key (struct belief); the history is checked against dumps of the table afterwards by
 * `check` (nemesis_check.c), which trusts nothing this process concluded.
 *
 * Threads: the workers, the client's own threads, and the main thread, which waits for the
 * end of the run or SIGINT/SIGTERM (blocked in every thread, taken with sigtimedwait), then
 * sets stop and joins the workers; each first finishes its op in flight (<= --timeout-ms).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin_util.h"
#include "client/geokv_wire.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "tests/nemesis/tool/nemesis_check.h"

#define TOKEN_MAX 128  /* a key or value of ours, NUL included */
#define PREFIX_MAX 32  /* so that every key and value fits in TOKEN_MAX */
#define FIELDS_MAX 640 /* a history line's fields after the hash_key */
#define LINE_MAX_BYTES 1024
#define SHOWN_BELIEFS 8 /* allowed values listed in a read violation */
#define ERROR_SAMPLES 5

struct run_opts {
    const char *metas, *app, *history, *prefix;
    uint64_t seed, duration_s, threads, keys, shared;
    uint32_t ttl_s;
    int timeout_ms;
    uint64_t mix[NEMESIS_OP_COUNT], mix_total;
};

/* What a thread knows of one of its plain keys: the effect of its last ok write (NULL =
 * absent) and the effects of the later writes whose outcome is unknown. */
struct belief {
    char *ok_value;
    char **unknown; /* a NULL entry: a del */
    size_t nunknown;
};

struct worker {
    struct run *run;
    pthread_t thread;
    uint64_t index, rng, seq;
    struct belief *beliefs; /* of the plain keys, by key index */
    uint64_t ops, read_violations;
    uint64_t by_outcome[NEMESIS_OUTCOME_COUNT], ok_by_op[NEMESIS_OP_COUNT];
};

struct run {
    struct run_opts o;
    struct geokv_table *table;
    int64_t end_us; /* monotonic */
    atomic_bool stop;
    atomic_int nsamples;
    pthread_mutex_t hist_mu; /* guards hist and hist_err */
    FILE *hist;
    int hist_err; /* the first write error on hist (-errno) */
    struct worker *workers;
};

/* One op, as its history line will say it. */
struct op {
    enum nemesis_op kind;
    uint64_t seq;
    int64_t invoke_us, complete_us;
    int err;
    enum nemesis_outcome outcome;
    char hk[TOKEN_MAX];
    char fields[FIELDS_MAX];
};

typedef void op_fn(struct worker *w, struct op *op);

/* ---- keys, values and what a thread knows ---- */

/* splitmix64: small, and the same sequence for the same seed everywhere. */
static uint64_t
rng_below(struct worker *w, uint64_t n)
{
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (z ^ (z >> 31)) % n;
}

static struct geokv_bytes
str_bytes(const char *s)
{
    return geokv_str(s);
}

/* geokv_get into a buf (appended). */
static int
get_buf(struct geokv_table *t, const char *hk, const char *sk, struct buf *out, int timeout_ms)
{
    void *v = NULL;
    size_t len = 0;
    int err = geokv_get(t, str_bytes(hk), str_bytes(sk), &v, &len, NULL, timeout_ms);
    if (err == 0)
        buf_append(out, v, len);
    free(v);
    return err;
}

/* Formats a key or value of ours into buf[TOKEN_MAX]; it must need no escaping. */
static void __attribute__((format(printf, 2, 3))) token(char *buf, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, TOKEN_MAX, fmt, ap);
    va_end(ap);
    ASSERT(n > 0 && n < TOKEN_MAX && nemesis_token_is_valid(buf));
}

/* The hash_key of this thread's key j of a kind: "" plain, "m" multi, "c" counter. */
static void
key_name(const struct worker *w, char *hk, const char *kind, uint64_t j)
{
    token(hk, "%s-%" PRIu64 "-%" PRIu64 "-%s%" PRIu64, w->run->o.prefix, w->run->o.seed, w->index,
          kind, j);
}

/* The value op seq of this thread writes ("P/t/seq" + suffix): unique to the op. */
static void
value_name(const struct worker *w, char *v, uint64_t seq, const char *suffix)
{
    token(v, "%s/%" PRIu64 "/%" PRIu64 "%s", w->run->o.prefix, w->index, seq, suffix);
}

/* Appends a field (after a space unless it is the first) to op->fields. */
static void __attribute__((format(printf, 2, 3))) add_field(struct op *op, const char *fmt, ...)
{
    size_t len = strlen(op->fields);
    va_list ap;
    int n;

    if (len > 0)
        op->fields[len++] = ' ';
    va_start(ap, fmt);
    n = vsnprintf(op->fields + len, sizeof(op->fields) - len, fmt, ap);
    va_end(ap);
    ASSERT(n > 0 && (size_t)n < sizeof(op->fields) - len);
}

/* Whether want (NULL = absent) is what a read got (NULL = absent). */
static bool
value_is(const char *want, const struct buf *got)
{
    if (want == NULL || got == NULL)
        return want == NULL && got == NULL;
    return got->len == strlen(want) && memcmp(got->data, want, got->len) == 0;
}

static bool
belief_allows(const struct belief *b, const struct buf *got)
{
    if (value_is(b->ok_value, got))
        return true;
    for (size_t i = 0; i < b->nunknown; i++)
        if (value_is(b->unknown[i], got))
            return true;
    return false;
}

static void
belief_fini(struct belief *b)
{
    for (size_t i = 0; i < b->nunknown; i++)
        xfree(b->unknown[i]);
    xfree(b->unknown);
    xfree(b->ok_value);
    *b = (struct belief){0};
}

/* Takes in a write of effect v (NULL = absent) with outcome oc. */
static void
belief_update(struct belief *b, enum nemesis_outcome oc, const char *v)
{
    char *copy = v != NULL ? xstrdup(v) : NULL;

    if (oc == NEMESIS_FAIL) {
        xfree(copy);
    } else if (oc == NEMESIS_OK) {
        belief_fini(b);
        b->ok_value = copy;
    } else {
        b->unknown = xrealloc(b->unknown, (b->nunknown + 1) * sizeof(*b->unknown));
        b->unknown[b->nunknown++] = copy;
    }
}

/* Prints 'v', or absent if v is NULL. */
static void
print_value(const char *v)
{
    printf(v != NULL ? "'%s'" : "absent", v);
}

/* Checks a read of a plain key (got NULL = absent) against what the thread knows of it;
 * prints and counts a violation. */
static bool
check_read(struct worker *w, const struct op *op, const struct belief *b, const struct buf *got)
{
    struct buf esc = BUF_INIT;

    if (belief_allows(b, got))
        return true;
    w->read_violations++;
    if (got != NULL)
        admin_escape(got->data, got->len, &esc);
    flockfile(stdout);
    printf("READ_VIOLATION: %s seq %" PRIu64 " of thread %" PRIu64 ": %s/s is ",
           nemesis_op_name(op->kind), op->seq, w->index, op->hk);
    print_value(got != NULL ? (const char *)esc.data : NULL);
    printf("; allowed: ");
    print_value(b->ok_value);
    for (size_t i = 0; i < b->nunknown && i < SHOWN_BELIEFS; i++) {
        printf(", ");
        print_value(b->unknown[i]);
        printf(" (unknown outcome)");
    }
    if (b->nunknown > SHOWN_BELIEFS)
        printf(" and %zu more", b->nunknown - SHOWN_BELIEFS);
    printf("\n");
    funlockfile(stdout);
    buf_fini(&esc);
    return false;
}

/* The history field of a value read: the value if it can be one of ours, else "?". */
static const char *
read_field(struct buf *v)
{
    buf_append_u8(v, '\0');
    v->len--;
    return v->len < TOKEN_MAX && strlen((const char *)v->data) == v->len &&
                   nemesis_token_is_valid((const char *)v->data)
               ? (const char *)v->data
               : "?";
}

/* ---- the ops ---- */

/* 0: ok; an error that proves the op was not applied: fail; anything else: unknown. */
static enum nemesis_outcome
outcome_of(int err)
{
    switch (err) {
    case 0: return NEMESIS_OK;
    case ERR_CHECK_FAILED:
    case ERR_INVALID_ARG:
    case ERR_TOO_LARGE:
    case ERR_NOT_A_NUMBER:
    case ERR_OVERFLOW: return NEMESIS_FAIL;
    default: return NEMESIS_UNKNOWN;
    }
}

/* Ends the call of op (started at op->invoke_us) with err. */
static void
op_done(struct op *op, int err)
{
    op->complete_us = clock_wall_us();
    op->err = err;
    op->outcome = outcome_of(err);
}

static void
do_set(struct worker *w, struct op *op)
{
    const struct run_opts *o = &w->run->o;
    bool shared = o->shared > 0 && rng_below(w, 2) == 0;
    uint64_t j = rng_below(w, shared ? o->shared : o->keys);
    char v[TOKEN_MAX];

    if (shared)
        token(op->hk, "shared-%" PRIu64 "-%" PRIu64, o->seed, j);
    else
        key_name(w, op->hk, "", j);
    value_name(w, v, op->seq, "");
    op->invoke_us = clock_wall_us();
    op_done(op, geokv_set(w->run->table, str_bytes(op->hk), str_bytes("s"), str_bytes(v), o->ttl_s,
                          o->timeout_ms));
    if (!shared)
        belief_update(&w->beliefs[j], op->outcome, v);
    add_field(op, "s %s", v);
}

static void
do_del(struct worker *w, struct op *op)
{
    uint64_t j = rng_below(w, w->run->o.keys);

    key_name(w, op->hk, "", j);
    op->invoke_us = clock_wall_us();
    op_done(op, geokv_del(w->run->table, str_bytes(op->hk), str_bytes("s"), w->run->o.timeout_ms));
    belief_update(&w->beliefs[j], op->outcome, NULL);
    add_field(op, "s");
}

/* Sets a, b and c of a multi key in one call; one call in four names a twice (a1 then a2,
 * and a2 must win). */
static void
do_multi_set(struct worker *w, struct op *op)
{
    static const char *const sort_keys[] = {"a", "b", "c", "a"};
    static const char *const once[] = {"/a", "/b", "/c"}, *const twice[] = {"/a1", "/b", "/c",
                                                                            "/a2"};
    const struct run_opts *o = &w->run->o;
    uint64_t j = rng_below(w, o->keys);
    bool doubled = rng_below(w, 4) == 0;
    size_t n = doubled ? 4 : 3;
    char v[4][TOKEN_MAX];
    struct geokv_kv kvs[4];

    key_name(w, op->hk, "m", j);
    for (size_t i = 0; i < n; i++) {
        value_name(w, v[i], op->seq, doubled ? twice[i] : once[i]);
        kvs[i] = (struct geokv_kv){str_bytes(sort_keys[i]), str_bytes(v[i])};
        add_field(op, "%s=%s", sort_keys[i], v[i]);
    }
    op->invoke_us = clock_wall_us();
    op_done(op, geokv_multi_set(w->run->table, str_bytes(op->hk), kvs, n, o->ttl_s, o->timeout_ms));
}

static void
do_incr(struct worker *w, struct op *op)
{
    uint64_t j = rng_below(w, w->run->o.keys);
    int64_t result = 0;

    key_name(w, op->hk, "c", j);
    op->invoke_us = clock_wall_us();
    op_done(op, geokv_incr(w->run->table, str_bytes(op->hk), str_bytes("n"), 1, 0, &result,
                           w->run->o.timeout_ms));
    if (op->outcome == NEMESIS_OK)
        add_field(op, "n 1 %" PRId64, result);
    else
        add_field(op, "n 1 -");
}

/* What a cas on a plain key expects (NULL = absent) when an earlier op on it had an unknown
 * outcome: what a read returns (checked like a get), or the last known value if the read
 * fails or is a violation. cur receives the value read. */
static const char *
cas_expected(struct worker *w, const struct op *op, const struct belief *b, struct buf *cur)
{
    int err = get_buf(w->run->table, op->hk, "s", cur, w->run->o.timeout_ms);

    if (err == ERR_NOT_FOUND)
        return check_read(w, op, b, NULL) ? NULL : b->ok_value;
    if (err != 0 || !check_read(w, op, b, cur))
        return b->ok_value;
    return read_field(cur); /* one of ours, since the thread wrote it */
}

static void
do_cas(struct worker *w, struct op *op)
{
    const struct run_opts *o = &w->run->o;
    uint64_t j = rng_below(w, o->keys);
    struct belief *b = &w->beliefs[j];
    const char *expected = b->ok_value;
    struct buf cur = BUF_INIT;
    char v[TOKEN_MAX];

    key_name(w, op->hk, "", j);
    value_name(w, v, op->seq, "");
    if (b->nunknown > 0)
        expected = cas_expected(w, op, b, &cur);
    op->invoke_us = clock_wall_us();
    struct geokv_cas cas = {str_bytes("s"),
                            expected != NULL ? GEOKV_CHECK_VALUE_EQUAL : GEOKV_CHECK_NOT_EXIST,
                            str_bytes(expected != NULL ? expected : ""),
                            str_bytes("s"),
                            str_bytes(v),
                            o->ttl_s};
    op_done(op, geokv_check_and_set(w->run->table, str_bytes(op->hk), &cas, NULL, NULL, NULL,
                                    o->timeout_ms));
    add_field(op, "s %s %s", expected != NULL ? expected : "-", v);
    belief_update(b, op->outcome, v); /* after the last use of expected, which it may free */
    buf_fini(&cur);
}

static void
do_get(struct worker *w, struct op *op)
{
    uint64_t j = rng_below(w, w->run->o.keys);
    struct buf v = BUF_INIT;
    int err;

    key_name(w, op->hk, "", j);
    op->invoke_us = clock_wall_us();
    err = get_buf(w->run->table, op->hk, "s", &v, w->run->o.timeout_ms);
    op_done(op, err == ERR_NOT_FOUND ? 0 : err);
    if (op->outcome == NEMESIS_OK)
        (void)check_read(w, op, &w->beliefs[j], err == 0 ? &v : NULL);
    add_field(op, "s %s", err == 0 ? read_field(&v) : "-");
    buf_fini(&v);
}

static op_fn *const op_fns[NEMESIS_OP_COUNT] = {do_set,  do_del, do_multi_set,
                                                do_incr, do_cas, do_get};

/* Counts a completed op and appends its history line. */
static void
record(struct worker *w, const struct op *op)
{
    struct run *run = w->run;
    char line[LINE_MAX_BYTES];
    int n = snprintf(line, sizeof(line),
                     "%s %s %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %s %s %s\n",
                     nemesis_op_name(op->kind), run->o.prefix, w->index, op->seq, op->invoke_us,
                     op->complete_us, nemesis_outcome_name(op->outcome), op->hk, op->fields);

    ASSERT(n > 0 && (size_t)n < sizeof(line));
    w->ops++;
    w->by_outcome[op->outcome]++;
    if (op->outcome == NEMESIS_OK)
        w->ok_by_op[op->kind]++;
    if (op->err != 0 && op->err != ERR_CHECK_FAILED &&
        atomic_fetch_add(&run->nsamples, 1) < ERROR_SAMPLES)
        fprintf(stderr, "error_sample: %s %s: %s\n", nemesis_op_name(op->kind), op->hk,
                err_name(op->err));
    pthread_mutex_lock(&run->hist_mu);
    if (run->hist_err == 0 && fwrite(line, 1, (size_t)n, run->hist) != (size_t)n)
        run->hist_err = errno != 0 ? -errno : ERR_IO;
    pthread_mutex_unlock(&run->hist_mu);
}

/* An op kind, drawn by the --mix weights. */
static enum nemesis_op
pick_op(struct worker *w)
{
    uint64_t r = rng_below(w, w->run->o.mix_total);
    int kind = 0;

    while (r >= w->run->o.mix[kind])
        r -= w->run->o.mix[kind++];
    return (enum nemesis_op)kind;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *run = w->run;

    while (!atomic_load(&run->stop) && clock_mono_us() < run->end_us) {
        struct op op = {.kind = pick_op(w), .seq = ++w->seq};
        op_fns[op.kind](w, &op);
        record(w, &op);
    }
    return NULL;
}

/* ---- run ---- */

static void
history_flush(struct run *run)
{
    pthread_mutex_lock(&run->hist_mu);
    if (run->hist_err == 0 && fflush(run->hist) != 0)
        run->hist_err = -errno;
    pthread_mutex_unlock(&run->hist_mu);
}

/* Waits for the end of the run or a signal in sigs, flushing the history every second, and
 * tells the workers to stop. */
static void
wait_for_end(struct run *run, const sigset_t *sigs)
{
    for (;;) {
        int64_t left = run->end_us - clock_mono_us();
        struct timespec ts;
        if (left <= 0)
            break;
        if (left > 1000000)
            left = 1000000;
        ts = (struct timespec){.tv_sec = left / 1000000, .tv_nsec = left % 1000000 * 1000};
        if (sigtimedwait(sigs, NULL, &ts) > 0) {
            fprintf(stderr, "geokv-nemesis: signal: finishing the ops in flight\n");
            break;
        }
        history_flush(run);
    }
    atomic_store(&run->stop, true);
}

/* Prints the counts; returns the exit status. */
static int
report(const struct run *run, double secs)
{
    uint64_t ops = 0, violations = 0, oc[NEMESIS_OUTCOME_COUNT] = {0};
    uint64_t ok_by_op[NEMESIS_OP_COUNT] = {0};

    for (uint64_t t = 0; t < run->o.threads; t++) {
        const struct worker *w = &run->workers[t];
        ops += w->ops;
        violations += w->read_violations;
        for (int i = 0; i < NEMESIS_OUTCOME_COUNT; i++)
            oc[i] += w->by_outcome[i];
        for (int i = 0; i < NEMESIS_OP_COUNT; i++)
            ok_by_op[i] += w->ok_by_op[i];
    }
    printf("ops: %" PRIu64 "\nok: %" PRIu64 "\nfail: %" PRIu64 "\nunknown: %" PRIu64
           "\nread_violations: %" PRIu64 "\n",
           ops, oc[NEMESIS_OK], oc[NEMESIS_FAIL], oc[NEMESIS_UNKNOWN], violations);
    for (int i = 0; i < NEMESIS_OP_COUNT; i++)
        printf("%s_ok: %" PRIu64 "\n", nemesis_op_name((enum nemesis_op)i), ok_by_op[i]);
    printf("seconds: %.3f\nops_per_sec: %.0f\n", secs, secs > 0 ? (double)ops / secs : 0.0);
    if (oc[NEMESIS_OK] == 0)
        fprintf(stderr, "error: no successful operation\n");
    return oc[NEMESIS_OK] == 0 || violations > 0 ? 1 : 0;
}

/* Runs the workers until the end or a signal; the elapsed seconds. */
static double
run_workers(struct run *run, const sigset_t *sigs)
{
    int64_t start = clock_mono_us();

    run->end_us = start + (int64_t)run->o.duration_s * 1000000;
    run->workers = xcalloc(run->o.threads, sizeof(*run->workers));
    for (uint64_t t = 0; t < run->o.threads; t++) {
        struct worker *w = &run->workers[t];
        w->run = run;
        w->index = t;
        w->rng = run->o.seed ^ (t + 1) * 0xd1b54a32d192ed03ULL;
        w->beliefs = xcalloc(run->o.keys, sizeof(*w->beliefs));
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            fprintf(stderr, "error: cannot start a worker thread\n");
            exit(1);
        }
    }
    wait_for_end(run, sigs);
    for (uint64_t t = 0; t < run->o.threads; t++)
        pthread_join(run->workers[t].thread, NULL);
    return (double)(clock_mono_us() - start) / 1e6;
}

static void
workers_free(struct run *run)
{
    for (uint64_t t = 0; t < run->o.threads; t++) {
        for (uint64_t j = 0; j < run->o.keys; j++)
            belief_fini(&run->workers[t].beliefs[j]);
        xfree(run->workers[t].beliefs);
    }
    xfree(run->workers);
}

/* ---- options ---- */

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: geokv-nemesis run -m META_LIST -a APP --seed S --duration SEC --history FILE\n"
        "           [--threads T] [--keys K] [--prefix P] [--mix KIND=W,...] [--shared N]\n"
        "           [--ttl-s SECONDS] [--timeout-ms MS]\n"
        "       geokv-nemesis check --history FILE [--history FILE...] --dump FILE\n"
        "           [--dump FILE...] [--same-clock]\n"
        "run: T threads (default 4) each run one op at a time for SEC seconds on keys of its\n"
        "own: K (default 32) plain keys P-S-t-j/s, K multi keys P-S-t-mj/a,b,c, K counters\n"
        "P-S-t-cj/n (P = --prefix, default w: [A-Za-z0-9_.], one per concurrent writer).\n"
        "  --mix       op weights, omitted kinds 0 (default set=40,del=10,multi_set=15,incr=15,\n"
        "              cas=10,get=10)\n"
        "  --shared N  half of the sets go to N keys shared-S-j/s that every writer with seed\n"
        "              S sets (master-master tests)\n"
        "  --ttl-s     TTL of set, multi_set and cas values (default 0: none; check assumes\n"
        "              nothing expired)\n"
        "  --timeout-ms  deadline of every call (default 10000)\n"
        "Each completed op is a line of the history FILE:\n"
        "  <op> <prefix> <thread> <seq> <invoke_us> <complete_us> <ok|fail|unknown> <hash_key>\n"
        "  <fields...>; set: sort_key value; del: sort_key; multi_set: sort_key=value...;\n"
        "  incr: sort_key delta result|-; cas: sort_key expected|- new_value;\n"
        "  get: sort_key value|-|? (? = not a value of ours).\n"
        "A get is checked against its thread's knowledge at once (READ_VIOLATION lines).\n"
        "Prints ops, ok, fail, unknown, read_violations, <kind>_ok, seconds, ops_per_sec;\n"
        "exit 1 if no op succeeded or a read was wrong. SIGINT/SIGTERM end the run cleanly.\n"
        "check: computes every written key's legal final states from the histories and\n"
        "checks each dump (admin-cli dump APP) against them and against the first dump;\n"
        "--same-clock: writers and servers share one clock (narrows shared keys' winners).\n"
        "Prints VIOLATION: and DIFF: lines, then keys_checked, ok_ops, violations,\n"
        "foreign_records, dumps_equal; exit 1 on a violation, differing dumps or no ok op.\n"
        "Exit 2 on usage errors.\n");
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (geokv-nemesis --help)\n");
    exit(2);
}

/* Parses an option's integer value in [min, max]; exits with a usage error otherwise. */
static uint64_t
opt_num(const char *name, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
        usage_error("--%s: expected an integer in [%" PRIu64 ", %" PRIu64 "], got '%s'", name, min,
                    max, s);
    return v;
}

/* Parses "--mix kind=weight,..." (omitted kinds weigh 0). */
static void
parse_mix(const char *s, struct run_opts *o)
{
    char *copy = xstrdup(s), *save = NULL;

    memset(o->mix, 0, sizeof(o->mix));
    o->mix_total = 0;
    for (char *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int op = 0;
        if (eq != NULL)
            *eq = '\0';
        while (op < NEMESIS_OP_COUNT && strcmp(item, nemesis_op_name((enum nemesis_op)op)) != 0)
            op++;
        if (eq == NULL || op == NEMESIS_OP_COUNT)
            usage_error("--mix: expected KIND=WEIGHT with KIND set, del, multi_set, incr, cas "
                        "or get, got '%s'",
                        item);
        o->mix[op] = opt_num("mix", eq + 1, 0, 1000000);
        o->mix_total += o->mix[op];
    }
    xfree(copy);
    if (o->mix_total == 0)
        usage_error("--mix: every weight is 0");
}

static void
parse_run_opts(int argc, char **argv, struct run_opts *o)
{
    static const struct option opts[] = {
        {"meta", required_argument, NULL, 'm'},    {"app", required_argument, NULL, 'a'},
        {"seed", required_argument, NULL, 'S'},    {"duration", required_argument, NULL, 'd'},
        {"history", required_argument, NULL, 'H'}, {"threads", required_argument, NULL, 'T'},
        {"keys", required_argument, NULL, 'K'},    {"prefix", required_argument, NULL, 'P'},
        {"mix", required_argument, NULL, 'M'},     {"shared", required_argument, NULL, 'N'},
        {"ttl-s", required_argument, NULL, 'L'},   {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    bool have_seed = false;
    int c;

    *o = (struct run_opts){.prefix = "w", .threads = 4, .keys = 32, .timeout_ms = 10000};
    parse_mix("set=40,del=10,multi_set=15,incr=15,cas=10,get=10", o);
    while ((c = getopt_long(argc, argv, "m:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->metas = optarg; break;
        case 'a': o->app = optarg; break;
        case 'S':
            o->seed = opt_num("seed", optarg, 0, UINT64_MAX);
            have_seed = true;
            break;
        case 'd': o->duration_s = opt_num("duration", optarg, 1, 10000000); break;
        case 'H': o->history = optarg; break;
        case 'T': o->threads = opt_num("threads", optarg, 1, 256); break;
        case 'K': o->keys = opt_num("keys", optarg, 1, 1000000); break;
        case 'P': o->prefix = optarg; break;
        case 'M': parse_mix(optarg, o); break;
        case 'N': o->shared = opt_num("shared", optarg, 0, 1000000); break;
        case 'L': o->ttl_s = (uint32_t)opt_num("ttl-s", optarg, 0, UINT32_MAX); break;
        case 't': o->timeout_ms = (int)opt_num("timeout-ms", optarg, 1, 3600000); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o->metas == NULL || o->app == NULL || !have_seed || o->duration_s == 0 ||
        o->history == NULL)
        usage_error("run needs -m, -a, --seed, --duration and --history");
    if (!nemesis_prefix_is_valid(o->prefix) || strlen(o->prefix) > PREFIX_MAX)
        usage_error("--prefix: expected 1 to %d of [A-Za-z0-9_.], got '%s'", PREFIX_MAX, o->prefix);
}

static int
cmd_run(int argc, char **argv)
{
    struct run run = {0};
    struct geokv_client *c;
    sigset_t sigs;
    double secs;
    int err, status;

    parse_run_opts(argc, argv, &run.o);
    log_set_level(LOG_LVL_WARN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* before any thread starts */
    run.hist = fopen(run.o.history, "w");
    if (run.hist == NULL) {
        fprintf(stderr, "error: --history %s: %s\n", run.o.history, strerror(errno));
        return 2;
    }
    pthread_mutex_init(&run.hist_mu, NULL);
    err = geokv_client_create(run.o.metas, NULL, &c);
    if (err != 0) {
        fprintf(stderr, "error: meta list '%s': %s\n", run.o.metas, err_str(err));
        return 2;
    }
    err = geokv_open(c, run.o.app, run.o.timeout_ms, &run.table);
    if (err != 0) {
        fprintf(stderr, "error: open %s: %s\n", run.o.app, err_str(err));
        geokv_client_destroy(c);
        return 1;
    }
    secs = run_workers(&run, &sigs);
    status = report(&run, secs);
    history_flush(&run);
    if (fclose(run.hist) != 0 && run.hist_err == 0)
        run.hist_err = -errno;
    if (run.hist_err != 0) {
        fprintf(stderr, "error: --history %s: %s\n", run.o.history, err_str(run.hist_err));
        status = 1;
    }
    geokv_client_destroy(c);
    workers_free(&run);
    pthread_mutex_destroy(&run.hist_mu);
    return status;
}

/* ---- check ---- */

/* Reads the whole file at path into out; 0 or -errno. */
static int
read_file(const char *path, struct buf *out)
{
    char chunk[65536];
    size_t got;
    int err = 0;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -errno;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(out, chunk, got);
    if (ferror(f))
        err = -EIO;
    fclose(f);
    return err;
}

/* Feeds the file at path to the checker as a history or a dump; exits 2 if it cannot. */
static void
add_file(struct nemesis_check *c, const char *path, bool is_dump)
{
    struct buf text = BUF_INIT;
    size_t bad_line = 0;
    int err = read_file(path, &text);

    if (err != 0)
        usage_error("%s: %s", path, err_str(err));
    if (is_dump)
        err = nemesis_check_add_dump(c, path, (const char *)text.data, text.len, &bad_line);
    else
        err = nemesis_check_add_history(c, (const char *)text.data, text.len, &bad_line);
    if (err != 0)
        usage_error("%s: line %zu is not a %s line", path, bad_line, is_dump ? "dump" : "history");
    buf_fini(&text);
}

static int
cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"history", required_argument, NULL, 'H'},
                                         {"dump", required_argument, NULL, 'D'},
                                         {"same-clock", no_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char **paths = xcalloc((size_t)argc, sizeof(*paths));
    bool *is_dump = xcalloc((size_t)argc, sizeof(*is_dump)), same_clock = false;
    size_t n = 0, ndumps = 0;
    struct nemesis_check *c;
    struct nemesis_check_result res;
    int opt, status;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'H':
        case 'D':
            is_dump[n] = opt == 'D';
            ndumps += is_dump[n];
            paths[n++] = optarg;
            break;
        case 'c': same_clock = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc || ndumps == 0 || ndumps == n)
        usage_error("check needs --history FILE and --dump FILE (each may repeat), nothing else");
    c = nemesis_check_create(same_clock);
    for (size_t i = 0; i < n; i++)
        add_file(c, paths[i], is_dump[i]);
    status = nemesis_check_run(c, stdout, &res) != 0 ? 2 : res.passed ? 0 : 1;
    nemesis_check_destroy(c);
    xfree(paths);
    xfree(is_dump);
    return status;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
