/*
 * nemesis_check.c: the offline checker of geokv-nemesis (the rules are in nemesis_check.h).
 *
 * Every history line becomes one entry per key it writes (a multi_set one per distinct sort
 * key; get lines are only counted). nemesis_check_run sorts the entries by (hash_key,
 * sort_key, seq) and each dump's records by (hash_key, sort_key), then walks the entries key
 * by key: the run of entries of one key is that key's writes in order, and the kind of the
 * key (from its hash_key's pattern) says how to check them against the key's record in each
 * dump, found by binary search. A second walk, hash key by hash key, checks that the sort
 * keys of every multi key come from one multi_set. Records that no entry looked up are then
 * "never written" (our key patterns) or foreign, and every dump is merged against the first.
 *
 * Entries point into the checker's copies of the history texts. Dump fields are unescaped
 * into their own NUL-terminated copies (they may hold NUL bytes, so their lengths count).
 */
#include "tests/nemesis/tool/nemesis_check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_util.h"
#include "common/buf.h"
#include "common/xmalloc.h"

#define MAX_PRINTED_VIOLATIONS 50
#define MAX_PRINTED_DIFFS 20
#define MAX_SHOWN_LEGAL 4 /* legal finals listed in a violation */
#define MAX_TOKENS 16     /* of a history line: 8 fixed, then at most 8 fields */
#define MAX_PAIRS (MAX_TOKENS - 8)

enum key_kind { KEY_FOREIGN, KEY_PLAIN, KEY_MULTI, KEY_COUNTER, KEY_SHARED };

/* One op's write to one key. */
struct entry {
    const char *hk, *sk;
    const char *value;  /* the value written; NULL for a del (absent) and for an incr */
    const char *shadow; /* multi_set: the value an earlier pair of the call gave this sort key */
    int64_t result;     /* incr with outcome ok: the value it returned */
    uint64_t seq;
    int64_t invoke_us, complete_us;
    enum nemesis_op op;
    enum nemesis_outcome outcome;
};

struct field {
    char *p; /* NUL-terminated */
    size_t len;
};

struct rec {
    struct field hk, sk, value;
    bool looked_up; /* a history wrote this key */
};

struct dump {
    char *name;
    struct rec *recs;
    size_t n, cap;
};

struct nemesis_check {
    bool same_clock;
    char **texts; /* the history copies the entries point into */
    size_t ntexts;
    struct entry *entries;
    size_t n, cap;
    uint64_t ok_ops;
    struct dump *dumps;
    size_t ndumps;
    /* nemesis_check_run's output */
    FILE *out;
    struct nemesis_check_result *res;
    uint64_t ndiffs;
};

/* The writes of a key that may be its final state: e[i] for i >= from that did not fail and
 * completed at or after min_complete_us (a del among them makes absent legal); absent also
 * if absent_ok (no write was acknowledged). */
struct finals {
    size_t from;
    int64_t min_complete_us;
    bool absent_ok;
};

static const char *const op_names[NEMESIS_OP_COUNT] = {"set",  "del", "multi_set",
                                                       "incr", "cas", "get"};
static const char *const outcome_names[NEMESIS_OUTCOME_COUNT] = {"ok", "fail", "unknown"};
static const char *const violation_names[NEMESIS_V_COUNT] = {
    "lost acknowledged write", "never written", "multi_set not atomic",
    "increment lost or applied twice", "shared key winner too old"};

const char *
nemesis_op_name(enum nemesis_op op)
{
    return op_names[op];
}

const char *
nemesis_outcome_name(enum nemesis_outcome oc)
{
    return outcome_names[oc];
}

static bool
is_alnum(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

bool
nemesis_token_is_valid(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (!is_alnum(*s) && *s != '/' && *s != '_' && *s != '.' && *s != '-')
            return false;
    return true;
}

/* A prefix of n bytes at p: [A-Za-z0-9_.]+. */
static bool
is_prefix(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(p[i]) && p[i] != '_' && p[i] != '.')
            return false;
    return n > 0;
}

bool
nemesis_prefix_is_valid(const char *s)
{
    return is_prefix(s, strlen(s));
}

static bool
is_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return n > 0;
}

/* Which of our key patterns the hash_key p[0..n) matches: "P-S-t-j", "P-S-t-mj", "P-S-t-cj"
 * or "shared-S-j". */
static enum key_kind
key_kind(const char *p, size_t n)
{
    const char *part[4];
    size_t len[4], np = 0, start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '-')
            continue;
        if (np == 4)
            return KEY_FOREIGN;
        part[np] = p + start;
        len[np++] = i - start;
        start = i + 1;
    }
    if (np == 3 && len[0] == 6 && memcmp(part[0], "shared", 6) == 0 && is_digits(part[1], len[1]) &&
        is_digits(part[2], len[2]))
        return KEY_SHARED;
    if (np != 4 || !is_prefix(part[0], len[0]) || !is_digits(part[1], len[1]) ||
        !is_digits(part[2], len[2]) || len[3] == 0)
        return KEY_FOREIGN;
    if (is_digits(part[3], len[3]))
        return KEY_PLAIN;
    if (!is_digits(part[3] + 1, len[3] - 1))
        return KEY_FOREIGN;
    return part[3][0] == 'm' ? KEY_MULTI : part[3][0] == 'c' ? KEY_COUNTER : KEY_FOREIGN;
}

/* Whether op can write (or read) a key of kind k. */
static bool
op_fits_key(enum nemesis_op op, enum key_kind k)
{
    switch (op) {
    case NEMESIS_SET: return k == KEY_PLAIN || k == KEY_SHARED;
    case NEMESIS_MULTI_SET: return k == KEY_MULTI;
    case NEMESIS_INCR: return k == KEY_COUNTER;
    default: return k == KEY_PLAIN;
    }
}

static int
name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static bool
parse_u64(const char *s, uint64_t *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 10);
    return s[0] >= '0' && s[0] <= '9' && *end == '\0' && errno == 0;
}

static bool
parse_i64(const char *s, int64_t *v)
{
    char *end;

    const char *digits = s[0] == '-' ? s + 1 : s;

    errno = 0;
    *v = strtoll(s, &end, 10);
    return digits[0] >= '0' && digits[0] <= '9' && *end == '\0' && errno == 0;
}

/* Splits s in place at each sep into tok[]; the number of tokens, max + 1 if there are more. */
static size_t
split(char *s, char sep, char **tok, size_t max)
{
    size_t n = 0;

    for (;;) {
        if (n == max)
            return max + 1;
        tok[n++] = s;
        s = strchr(s, sep);
        if (s == NULL)
            return n;
        *s++ = '\0';
    }
}

/* Appends printf output to b, keeping it NUL-terminated. */
static void __attribute__((format(printf, 2, 3))) appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- loading ---- */

static void
push_entry(struct nemesis_check *c, const struct entry *e)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->entries = xrealloc(c->entries, c->cap * sizeof(*c->entries));
    }
    c->entries[c->n++] = *e;
}

/* Adds one entry per distinct sort key of a multi_set's "sort_key=value" fields: a sort key
 * named twice keeps the later value, and the earlier one as its shadow. */
static int
add_multi_set(struct nemesis_check *c, const struct entry *e, char **f, size_t nf)
{
    struct entry pairs[MAX_PAIRS];
    size_t np = 0, k;

    for (size_t i = 0; i < nf; i++) {
        char *eq = strchr(f[i], '=');
        if (eq == NULL)
            return ERR_INVALID_DATA;
        *eq = '\0';
        if (!nemesis_token_is_valid(f[i]) || !nemesis_token_is_valid(eq + 1))
            return ERR_INVALID_DATA;
        for (k = 0; k < np && strcmp(pairs[k].sk, f[i]) != 0; k++)
            ;
        if (k == np) {
            pairs[np] = *e;
            pairs[np++].sk = f[i];
        } else {
            pairs[k].shadow = pairs[k].value;
        }
        pairs[k].value = eq + 1;
    }
    for (k = 0; k < np; k++)
        push_entry(c, &pairs[k]);
    return 0;
}

/* Parses the fields after the hash_key (nf >= 1 of them at f) into e and adds its entries. */
static int
add_fields(struct nemesis_check *c, struct entry *e, char **f, size_t nf)
{
    bool ok;

    if (e->op == NEMESIS_MULTI_SET)
        return add_multi_set(c, e, f, nf);
    ok = nemesis_token_is_valid(f[0]);
    e->sk = f[0];
    switch (e->op) {
    case NEMESIS_SET:
        ok = ok && nf == 2 && nemesis_token_is_valid(f[1]);
        e->value = f[1];
        break;
    case NEMESIS_DEL: ok = ok && nf == 1; break;
    case NEMESIS_INCR:
        ok = ok && nf == 3 && strcmp(f[1], "1") == 0 &&
             (e->outcome == NEMESIS_OK ? parse_i64(f[2], &e->result) : strcmp(f[2], "-") == 0);
        break;
    case NEMESIS_CAS:
        ok = ok && nf == 3 && nemesis_token_is_valid(f[1]) && nemesis_token_is_valid(f[2]);
        e->value = f[2];
        break;
    default: /* get: only counted */
        return ok && nf == 2 && (nemesis_token_is_valid(f[1]) || strcmp(f[1], "?") == 0)
                   ? 0
                   : ERR_INVALID_DATA;
    }
    if (!ok)
        return ERR_INVALID_DATA;
    push_entry(c, e);
    return 0;
}

static int
add_history_line(void *arg, char *line)
{
    struct nemesis_check *c = arg;
    char *tok[MAX_TOKENS];
    size_t n = split(line, ' ', tok, MAX_TOKENS);
    struct entry e = {0};
    uint64_t thread;
    int op, oc;

    if (n < 9 || n > MAX_TOKENS)
        return ERR_INVALID_DATA;
    op = name_index(op_names, NEMESIS_OP_COUNT, tok[0]);
    oc = name_index(outcome_names, NEMESIS_OUTCOME_COUNT, tok[6]);
    if (op < 0 || oc < 0 || !nemesis_prefix_is_valid(tok[1]) || !parse_u64(tok[2], &thread) ||
        !parse_u64(tok[3], &e.seq) || !parse_i64(tok[4], &e.invoke_us) ||
        !parse_i64(tok[5], &e.complete_us) || !nemesis_token_is_valid(tok[7]) ||
        !op_fits_key((enum nemesis_op)op, key_kind(tok[7], strlen(tok[7]))))
        return ERR_INVALID_DATA;
    e.op = (enum nemesis_op)op;
    e.outcome = (enum nemesis_outcome)oc;
    e.hk = tok[7];
    if (add_fields(c, &e, tok + 8, n - 8) != 0)
        return ERR_INVALID_DATA;
    if (e.outcome == NEMESIS_OK)
        c->ok_ops++;
    return 0;
}

typedef int line_fn(void *arg, char *line);

/* Calls fn on every non-empty line of text[0..len) (NUL-terminated at text[len]), in place.
 * A line holding a NUL byte is malformed. */
static int
for_each_line(char *text, size_t len, line_fn *fn, void *arg, size_t *bad_line)
{
    char *line = text, *end = text + len;
    size_t lineno = 0;

    *bad_line = 0;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl != NULL ? (size_t)(nl - line) : (size_t)(end - line);
        lineno++;
        line[n] = '\0';
        if (n > 0 && (strlen(line) != n || fn(arg, line) != 0)) {
            *bad_line = lineno;
            return ERR_INVALID_DATA;
        }
        line += n + 1;
    }
    return 0;
}

int
nemesis_check_add_history(struct nemesis_check *c, const char *text, size_t len, size_t *bad_line)
{
    char *copy = xstrndup(text, len);

    c->texts = xrealloc(c->texts, (c->ntexts + 1) * sizeof(*c->texts));
    c->texts[c->ntexts++] = copy;
    return for_each_line(copy, len, add_history_line, c, bad_line);
}

/* Undoes admin_escape on the NUL-terminated s into a new copy in *out. */
static int
unescape_field(const char *s, struct field *out)
{
    struct buf b = BUF_INIT;
    if (admin_unescape(s, &b) != 0) {
        buf_fini(&b);
        return ERR_INVALID_DATA;
    }
    buf_reserve(&b, 1);
    b.data[b.len] = '\0';
    *out = (struct field){(char *)b.data, b.len};
    return 0;
}

static void
rec_fini(struct rec *r)
{
    xfree(r->hk.p);
    xfree(r->sk.p);
    xfree(r->value.p);
}

static int
add_dump_line(void *arg, char *line)
{
    struct dump *d = arg;
    char *f[4];
    struct rec r = {0};
    uint64_t expire_ts;

    if (split(line, '\t', f, 4) != 4 || !parse_u64(f[3], &expire_ts))
        return ERR_INVALID_DATA;
    if (unescape_field(f[0], &r.hk) != 0 || unescape_field(f[1], &r.sk) != 0 ||
        unescape_field(f[2], &r.value) != 0) {
        rec_fini(&r);
        return ERR_INVALID_DATA;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->recs = xrealloc(d->recs, d->cap * sizeof(*d->recs));
    }
    d->recs[d->n++] = r;
    return 0;
}

int
nemesis_check_add_dump(struct nemesis_check *c, const char *name, const char *text, size_t len,
                       size_t *bad_line)
{
    char *copy = xstrndup(text, len);
    struct dump *d;
    int rc;

    c->dumps = xrealloc(c->dumps, (c->ndumps + 1) * sizeof(*c->dumps));
    d = &c->dumps[c->ndumps++];
    *d = (struct dump){.name = xstrdup(name)};
    rc = for_each_line(copy, len, add_dump_line, d, bad_line);
    xfree(copy);
    return rc;
}

struct nemesis_check *
nemesis_check_create(bool same_clock)
{
    struct nemesis_check *c = xcalloc(1, sizeof(*c));

    c->same_clock = same_clock;
    return c;
}

void
nemesis_check_destroy(struct nemesis_check *c)
{
    for (size_t i = 0; i < c->ntexts; i++)
        xfree(c->texts[i]);
    for (size_t i = 0; i < c->ndumps; i++) {
        for (size_t j = 0; j < c->dumps[i].n; j++)
            rec_fini(&c->dumps[i].recs[j]);
        xfree(c->dumps[i].recs);
        xfree(c->dumps[i].name);
    }
    xfree(c->texts);
    xfree(c->entries);
    xfree(c->dumps);
    xfree(c);
}

/* ---- comparing and finding ---- */

static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int cmp = memcmp(a, b, alen < blen ? alen : blen);

    return cmp != 0 ? cmp : (alen > blen) - (alen < blen);
}

static int
entry_cmp(const void *pa, const void *pb)
{
    const struct entry *a = pa, *b = pb;
    int cmp = strcmp(a->hk, b->hk);

    if (cmp == 0)
        cmp = strcmp(a->sk, b->sk);
    return cmp != 0 ? cmp : (a->seq > b->seq) - (a->seq < b->seq);
}

static int
rec_cmp(const void *pa, const void *pb)
{
    const struct rec *a = pa, *b = pb;
    int cmp = bytes_cmp(a->hk.p, a->hk.len, b->hk.p, b->hk.len);

    return cmp != 0 ? cmp : bytes_cmp(a->sk.p, a->sk.len, b->sk.p, b->sk.len);
}

/* The record of (hk, sk) in d (sorted), or NULL. */
static struct rec *
dump_find(const struct dump *d, const char *hk, const char *sk)
{
    struct rec key = {.hk = {(char *)hk, strlen(hk)}, .sk = {(char *)sk, strlen(sk)}};

    return bsearch(&key, d->recs, d->n, sizeof(*d->recs), rec_cmp);
}

static bool
field_is(const struct field *f, const char *s)
{
    return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

/* Whether the record r (NULL = absent) is the effect v (NULL = absent). */
static bool
rec_is(const struct rec *r, const char *v)
{
    return r == NULL || v == NULL ? r == NULL && v == NULL : field_is(&r->value, v);
}

/* ---- violations ---- */

/* Counts a violation of kind k and prints the first MAX_PRINTED_VIOLATIONS. */
static void
violation(struct nemesis_check *c, enum nemesis_violation k, const char *what)
{
    c->res->by_kind[k]++;
    if (c->res->violations++ < MAX_PRINTED_VIOLATIONS)
        fprintf(c->out, "VIOLATION: %s: %s\n", violation_names[k], what);
}

static void
append_field(struct buf *b, const struct field *f)
{
    buf_append_u8(b, '\'');
    admin_escape(f->p, f->len, b);
    appendf(b, "'");
}

/* Appends "DUMP: HK/SK is VALUE" for the key of e in dump d. */
static void
append_state(struct buf *b, const struct dump *d, const struct entry *e, const struct rec *r)
{
    appendf(b, "%s: %s/%s is ", d->name, e->hk, e->sk);
    if (r != NULL)
        append_field(b, &r->value);
    else
        appendf(b, "absent");
}

static bool
is_final(const struct finals *f, const struct entry *e, size_t i)
{
    return i >= f->from && e[i].outcome != NEMESIS_FAIL && e[i].complete_us >= f->min_complete_us;
}

/* Appends "; legal: ..." listing the finals f of e[0..n). */
static void
append_finals(struct buf *b, const struct finals *f, const struct entry *e, size_t n)
{
    size_t shown = 0, more = 0;

    appendf(b, "; legal:");
    if (f->absent_ok) {
        appendf(b, " absent");
        shown++;
    }
    for (size_t i = f->from; i < n; i++) {
        if (!is_final(f, e, i))
            continue;
        if (shown++ >= MAX_SHOWN_LEGAL)
            more++;
        else if (e[i].value != NULL)
            appendf(b, "%s '%s' (seq %" PRIu64 ")", shown > 1 ? "," : "", e[i].value, e[i].seq);
        else
            appendf(b, "%s absent (seq %" PRIu64 ")", shown > 1 ? "," : "", e[i].seq);
    }
    if (shown == 0)
        appendf(b, " none");
    if (more > 0)
        appendf(b, " and %zu more", more);
}

/*
 * Checks the record r (NULL = absent) of the key written by e[0..n) against its finals f.
 * A value that is not final is an acknowledged write lost if it is one the key had before
 * the finals, a stale winner if another final would have overwritten it, and otherwise (a
 * failed op's, a doubled sort key's first value, or no op's at all) never written.
 */
static void
check_finals(struct nemesis_check *c, const struct dump *d, const struct entry *e, size_t n,
             const struct rec *r, const struct finals *f)
{
    enum nemesis_violation kind = r == NULL ? NEMESIS_V_LOST : NEMESIS_V_NEVER_WRITTEN;
    const char *note = "";
    struct buf b = BUF_INIT;

    if (r == NULL && f->absent_ok)
        return;
    for (size_t i = 0; i < n; i++) {
        bool same = rec_is(r, e[i].value);
        if (same && is_final(f, e, i))
            return;
        if (same && i < f->from)
            kind = NEMESIS_V_LOST;
        else if (same && e[i].outcome != NEMESIS_FAIL)
            kind = NEMESIS_V_STALE_WINNER;
        else if (e[i].shadow != NULL && rec_is(r, e[i].shadow))
            note = " (the value a doubled sort key had first in its multi_set)";
    }
    append_state(&b, d, e, r);
    appendf(&b, "%s", note);
    append_finals(&b, f, e, n);
    violation(c, kind, (const char *)b.data);
    buf_fini(&b);
}

/* ---- the kinds of keys ---- */

/* A single-writer key: the last ok write and every later unknown one may be final. */
static void
check_single(struct nemesis_check *c, const struct dump *d, const struct entry *e, size_t n,
             const struct rec *r)
{
    struct finals f = {.from = n, .min_complete_us = INT64_MIN};

    while (f.from > 0 && e[f.from - 1].outcome != NEMESIS_OK)
        f.from--;
    if (f.from == 0)
        f.absent_ok = true;
    else
        f.from--; /* the last ok write */
    check_finals(c, d, e, n, r, &f);
}

/* A shared key: any write that did not fail may carry the largest timetag, with same_clock
 * only those that completed after the latest invoke of an ok write. */
static void
check_shared(struct nemesis_check *c, const struct dump *d, const struct entry *e, size_t n,
             const struct rec *r)
{
    struct finals f = {.from = 0, .min_complete_us = INT64_MIN, .absent_ok = true};

    for (size_t i = 0; i < n; i++) {
        if (e[i].outcome != NEMESIS_OK)
            continue;
        f.absent_ok = false;
        if (c->same_clock && e[i].invoke_us > f.min_complete_us)
            f.min_complete_us = e[i].invoke_us;
    }
    check_finals(c, d, e, n, r, &f);
}

/* A counter's incrs as the writer saw them: the k-th ok one returned a value in
 * [k, k + unknown ones before it], and the values strictly increase. */
static void
check_counter_results(struct nemesis_check *c, const struct entry *e, size_t n)
{
    int64_t k = 0, unknown = 0, prev = 0;
    struct buf b = BUF_INIT;

    for (size_t i = 0; i < n; i++) {
        unknown += e[i].outcome == NEMESIS_UNKNOWN;
        if (e[i].outcome != NEMESIS_OK)
            continue;
        k++;
        if (e[i].result < k || e[i].result > k + unknown || e[i].result <= prev) {
            buf_reset(&b);
            appendf(&b,
                    "%s/%s: incr seq %" PRIu64 " returned %" PRId64 ", ok incr #%" PRId64
                    " with %" PRId64 " unknown before it, after %" PRId64,
                    e[i].hk, e[i].sk, e[i].seq, e[i].result, k, unknown, prev);
            violation(c, NEMESIS_V_COUNTER, (const char *)b.data);
        }
        prev = e[i].result;
    }
    buf_fini(&b);
}

/* A counter's final value: with a ok and u unknown incrs, in [a, a + u]; absent if a == 0. */
static void
check_counter(struct nemesis_check *c, const struct dump *d, const struct entry *e, size_t n,
              const struct rec *r)
{
    int64_t a = 0, u = 0, v = 0;
    struct buf b = BUF_INIT;

    for (size_t i = 0; i < n; i++) {
        a += e[i].outcome == NEMESIS_OK;
        u += e[i].outcome == NEMESIS_UNKNOWN;
    }
    if (r == NULL && a == 0)
        return;
    if (r != NULL && strlen(r->value.p) == r->value.len && parse_i64(r->value.p, &v) && v >= a &&
        v <= a + u)
        return;
    append_state(&b, d, e, r);
    appendf(&b, "; legal: %s[%" PRId64 ", %" PRId64 "] (%" PRId64 " ok, %" PRId64 " unknown incrs)",
            a == 0 ? "absent or " : "", a, a + u, a, u);
    violation(c, NEMESIS_V_COUNTER, (const char *)b.data);
    buf_fini(&b);
}

/* The end of the run of entries from i with i's hash_key, and sort_key if by_sort_key. */
static size_t
group_end(const struct nemesis_check *c, size_t i, bool by_sort_key)
{
    const struct entry *e = c->entries;
    size_t j = i + 1;

    while (j < c->n && strcmp(e[j].hk, e[i].hk) == 0 &&
           (!by_sort_key || strcmp(e[j].sk, e[i].sk) == 0))
        j++;
    return j;
}

/* e[0..n) are all the writes of one multi hash key: in d its sort keys must all come from
 * one multi_set, or all be absent. A value no multi_set left is already a violation. */
static void
check_atomic(struct nemesis_check *c, const struct dump *d, const struct entry *e, size_t n)
{
    const struct entry *first = NULL; /* the write the first sort key comes from */
    struct buf b = BUF_INIT;
    bool same = true;

    appendf(&b, "%s: %s:", d->name, e[0].hk);
    for (size_t i = 0, j; i < n; i = j) {
        const struct rec *r = dump_find(d, e[i].hk, e[i].sk);
        const struct entry *w = NULL; /* the write r comes from */
        for (j = i; j < n && strcmp(e[j].sk, e[i].sk) == 0; j++)
            if (r != NULL && rec_is(r, e[j].value))
                w = &e[j];
        if (r != NULL && w == NULL)
            goto out;
        if (i == 0)
            first = w;
        else if (w == NULL ? first != NULL : first == NULL || w->seq != first->seq)
            same = false;
        if (w != NULL)
            appendf(&b, " %s from seq %" PRIu64, e[i].sk, w->seq);
        else
            appendf(&b, " %s absent", e[i].sk);
    }
    if (!same)
        violation(c, NEMESIS_V_NOT_ATOMIC, (const char *)b.data);
out:
    buf_fini(&b);
}

/* Checks every key against every dump; ERR_INVALID_DATA if a single-writer key has two ops
 * with one seq. */
static int
check_keys(struct nemesis_check *c)
{
    const struct entry *e = c->entries;

    for (size_t i = 0, j; i < c->n; i = j) {
        enum key_kind kind = key_kind(e[i].hk, strlen(e[i].hk));
        j = group_end(c, i, true);
        c->res->keys_checked++;
        for (size_t k = i + 1; k < j && kind != KEY_SHARED; k++) {
            if (e[k].seq == e[k - 1].seq) {
                fprintf(c->out,
                        "error: %s/%s: two ops with seq %" PRIu64 " (histories of "
                        "two runs with the same --prefix and --seed?)\n",
                        e[k].hk, e[k].sk, e[k].seq);
                return ERR_INVALID_DATA;
            }
        }
        if (kind == KEY_COUNTER)
            check_counter_results(c, e + i, j - i);
        for (size_t d = 0; d < c->ndumps; d++) {
            struct rec *r = dump_find(&c->dumps[d], e[i].hk, e[i].sk);
            if (r != NULL)
                r->looked_up = true;
            if (kind == KEY_COUNTER)
                check_counter(c, &c->dumps[d], e + i, j - i, r);
            else if (kind == KEY_SHARED)
                check_shared(c, &c->dumps[d], e + i, j - i, r);
            else
                check_single(c, &c->dumps[d], e + i, j - i, r);
        }
    }
    for (size_t i = 0, j; i < c->n; i = j) {
        j = group_end(c, i, false);
        if (e[i].op != NEMESIS_MULTI_SET)
            continue;
        for (size_t d = 0; d < c->ndumps; d++)
            check_atomic(c, &c->dumps[d], e + i, j - i);
    }
    return 0;
}

/* Records no history wrote: of our key patterns, never written; otherwise foreign. */
static void
check_unwritten(struct nemesis_check *c, const struct dump *d)
{
    struct buf b = BUF_INIT;

    for (size_t i = 0; i < d->n; i++) {
        const struct rec *r = &d->recs[i];
        if (r->looked_up)
            continue;
        if (key_kind(r->hk.p, r->hk.len) == KEY_FOREIGN) {
            c->res->foreign_records++;
            continue;
        }
        buf_reset(&b);
        appendf(&b, "%s: ", d->name);
        append_field(&b, &r->hk);
        appendf(&b, "/");
        append_field(&b, &r->sk);
        appendf(&b, " is ");
        append_field(&b, &r->value);
        appendf(&b, ", a key no history wrote");
        violation(c, NEMESIS_V_NEVER_WRITTEN, (const char *)b.data);
    }
    buf_fini(&b);
}

/* One difference between dumps a and b: ra, rb are the key's records (one may be NULL). */
static void
report_diff(struct nemesis_check *c, const struct dump *a, const struct dump *b,
            const struct rec *ra, const struct rec *rb)
{
    const struct rec *r = ra != NULL ? ra : rb;
    struct buf m = BUF_INIT;

    c->res->dumps_equal = false;
    if (c->ndiffs++ >= MAX_PRINTED_DIFFS)
        return;
    append_field(&m, &r->hk);
    appendf(&m, "/");
    append_field(&m, &r->sk);
    appendf(&m, ": %s: ", a->name);
    if (ra != NULL)
        append_field(&m, &ra->value);
    else
        appendf(&m, "absent");
    appendf(&m, ", %s: ", b->name);
    if (rb != NULL)
        append_field(&m, &rb->value);
    else
        appendf(&m, "absent");
    fprintf(c->out, "DIFF: %s\n", (const char *)m.data);
    buf_fini(&m);
}

/* Merges the sorted dumps a and b, reporting every key whose records differ. */
static void
compare_dumps(struct nemesis_check *c, const struct dump *a, const struct dump *b)
{
    size_t i = 0, j = 0;

    while (i < a->n || j < b->n) {
        int cmp = i == a->n ? 1 : j == b->n ? -1 : rec_cmp(&a->recs[i], &b->recs[j]);
        const struct rec *ra = cmp <= 0 ? &a->recs[i] : NULL;
        const struct rec *rb = cmp >= 0 ? &b->recs[j] : NULL;
        if (ra == NULL || rb == NULL ||
            bytes_cmp(ra->value.p, ra->value.len, rb->value.p, rb->value.len) != 0)
            report_diff(c, a, b, ra, rb);
        i += cmp <= 0;
        j += cmp >= 0;
    }
}

int
nemesis_check_run(struct nemesis_check *c, FILE *out, struct nemesis_check_result *res)
{
    int rc;

    *res = (struct nemesis_check_result){.ok_ops = c->ok_ops, .dumps_equal = true};
    c->out = out;
    c->res = res;
    qsort(c->entries, c->n, sizeof(*c->entries), entry_cmp);
    for (size_t d = 0; d < c->ndumps; d++)
        qsort(c->dumps[d].recs, c->dumps[d].n, sizeof(*c->dumps[d].recs), rec_cmp);
    rc = check_keys(c);
    if (rc != 0)
        return rc;
    for (size_t d = 0; d < c->ndumps; d++)
        check_unwritten(c, &c->dumps[d]);
    for (size_t d = 1; d < c->ndumps; d++)
        compare_dumps(c, &c->dumps[0], &c->dumps[d]);
    res->passed = res->violations == 0 && res->dumps_equal && res->ok_ops > 0;
    if (res->ok_ops == 0)
        fprintf(out, "error: no op succeeded: a run with zero successful operations has "
                     "failed\n");
    fprintf(out,
            "keys_checked: %" PRIu64 "\nok_ops: %" PRIu64 "\nviolations: %" PRIu64
            "\nforeign_records: %" PRIu64 "\ndumps_equal: %s\n",
            res->keys_checked, res->ok_ops, res->violations, res->foreign_records,
            res->dumps_equal ? "yes" : "no");
    return 0;
}
