/*
 * admin_util.c: admin-cli's tokenizer, escaping, number parsing and dump record set. No I/O,
 * no globals, so tests/unit/test_client.c exercises it directly.
 */
#include "admin/admin_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"

static int
hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decodes the escape after a backslash at *pp into cur; advances *pp. */
static int
unescape(const char **pp, struct buf *cur)
{
    const char *p = *pp;
    static const char from[] = "ntr0", to[] = "\n\t\r\0";
    const char *m;

    if (*p == '\0')
        return ERR_INVALID_ARG;
    if (*p == 'x') {
        int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
        if (lo < 0)
            return ERR_INVALID_ARG;
        buf_append_u8(cur, (uint8_t)(hi << 4 | lo));
        *pp = p + 3;
        return 0;
    }
    m = strchr(from, *p);
    buf_append_u8(cur, (uint8_t)(m != NULL ? to[m - from] : *p));
    *pp = p + 1;
    return 0;
}

int
admin_unescape(const char *s, struct buf *out)
{
    for (; *s != '\0'; s++) {
        int hi, lo;
        if (*s != '\\' || s[1] == '\\') {
            buf_append_u8(out, (uint8_t)*s);
            s += *s == '\\';
            continue;
        }
        hi = s[1] == 'x' ? hexval(s[2]) : -1;
        lo = hi < 0 ? -1 : hexval(s[3]);
        if (lo < 0)
            return ERR_INVALID_ARG;
        buf_append_u8(out, (uint8_t)(hi << 4 | lo));
        s += 3;
    }
    return 0;
}

static void
args_push(struct admin_args *a, const struct buf *cur)
{
    struct admin_tok *t;
    a->argv = xrealloc(a->argv, (size_t)(a->argc + 1) * sizeof(*a->argv));
    t = &a->argv[a->argc++];
    t->len = cur->len;
    t->p = xmalloc(cur->len + 1);
    if (cur->len)
        memcpy(t->p, cur->data, cur->len);
    t->p[cur->len] = '\0';
}

static bool
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Reads one (possibly quoted, possibly joined) argument starting at *pp into cur. */
static int
read_arg(const char **pp, struct buf *cur, const char **errmsg)
{
    const char *p = *pp;
    char quote = 0;

    while (*p != '\0' && (quote != 0 || !is_space(*p))) {
        char ch = *p++;
        if (quote == '\'' && ch != '\'') {
            buf_append_u8(cur, (uint8_t)ch);
        } else if (ch == quote) {
            quote = 0;
        } else if (quote == 0 && (ch == '"' || ch == '\'')) {
            quote = ch;
        } else if (ch == '\\') {
            if (unescape(&p, cur) != 0) {
                *errmsg = "bad escape (use \\xHH, \\n, \\t, \\\\, \\\")";
                return ERR_INVALID_ARG;
            }
        } else {
            buf_append_u8(cur, (uint8_t)ch);
        }
    }
    *pp = p;
    if (quote != 0) {
        *errmsg = "unterminated quote";
        return ERR_INVALID_ARG;
    }
    return 0;
}

int
admin_tokenize(const char *line, struct admin_args *out, const char **errmsg)
{
    struct buf cur = BUF_INIT;
    const char *p = line;
    int err = 0;

    memset(out, 0, sizeof(*out));
    *errmsg = NULL;
    for (;;) {
        while (is_space(*p))
            p++;
        if (*p == '\0')
            break;
        buf_reset(&cur);
        err = read_arg(&p, &cur, errmsg);
        if (err != 0)
            break;
        args_push(out, &cur);
    }
    buf_fini(&cur);
    if (err != 0)
        admin_args_fini(out);
    return err;
}

void
admin_args_from_argv(int argc, char **argv, struct admin_args *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < argc; i++) {
        struct buf cur = BUF_INIT;
        buf_append(&cur, argv[i], strlen(argv[i]));
        args_push(out, &cur);
        buf_fini(&cur);
    }
}

void
admin_args_fini(struct admin_args *a)
{
    for (int i = 0; i < a->argc; i++)
        xfree(a->argv[i].p);
    xfree(a->argv);
    memset(a, 0, sizeof(*a));
}

void
admin_escape(const void *p, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = p;

    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        if (ch == '\\') {
            buf_append(out, "\\\\", 2);
        } else if (ch >= 0x20 && ch < 0x7f) {
            buf_append_u8(out, ch);
        } else {
            char e[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
            buf_append(out, e, 4);
        }
    }
    buf_reserve(out, 1);
    out->data[out->len] = '\0';
}

int
admin_parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    *out = 0;
    if (s == NULL || *s == '\0')
        return ERR_INVALID_ARG;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return ERR_INVALID_ARG;
    *out = v;
    return 0;
}

int
admin_parse_u32(const char *s, uint32_t *out)
{
    int64_t v;

    *out = 0;
    if (s == NULL || *s == '-' || admin_parse_i64(s, &v) != 0 || v > UINT32_MAX)
        return ERR_INVALID_ARG;
    *out = (uint32_t)v;
    return 0;
}

/* ---- dump ---- */

void
admin_dump_add(struct admin_dump *d, const void *hk, size_t hk_len, const void *sk, size_t sk_len,
               const void *v, size_t v_len, uint32_t expire_ts)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->recs = xrealloc(d->recs, d->cap * sizeof(*d->recs));
    }
    d->recs[d->n++] = (struct admin_dump_rec){d->bytes.len, (uint32_t)hk_len, (uint32_t)sk_len,
                                              (uint32_t)v_len, expire_ts};
    buf_append(&d->bytes, hk, hk_len);
    buf_append(&d->bytes, sk, sk_len);
    buf_append(&d->bytes, v, v_len);
}

/* Bytewise order, a prefix first. */
static int
bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m > 0 ? memcmp(a, b, m) : 0;
    return c != 0 ? c : alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int
dump_rec_cmp(const void *pa, const void *pb, void *arg)
{
    const struct admin_dump_rec *a = pa, *b = pb;
    const uint8_t *base = arg;
    int c = bytes_cmp(base + a->off, a->hk_len, base + b->off, b->hk_len);

    if (c == 0)
        c = bytes_cmp(base + a->off + a->hk_len, a->sk_len, base + b->off + b->hk_len, b->sk_len);
    return c;
}

void
admin_dump_sort(struct admin_dump *d)
{
    if (d->n > 1)
        qsort_r(d->recs, d->n, sizeof(*d->recs), dump_rec_cmp, d->bytes.data);
}

void
admin_dump_line(const struct admin_dump *d, size_t i, struct buf *out)
{
    const struct admin_dump_rec *r = &d->recs[i];
    const uint8_t *p = d->bytes.data + r->off;
    char tail[16];
    int n = snprintf(tail, sizeof(tail), "\t%" PRIu32 "\n", r->expire_ts);

    admin_escape(p, r->hk_len, out);
    buf_append_u8(out, '\t');
    admin_escape(p + r->hk_len, r->sk_len, out);
    buf_append_u8(out, '\t');
    admin_escape(p + r->hk_len + r->sk_len, r->v_len, out);
    buf_append(out, tail, (size_t)n);
    buf_reserve(out, 1);
    out->data[out->len] = '\0';
}

void
admin_dump_fini(struct admin_dump *d)
{
    buf_fini(&d->bytes);
    xfree(d->recs);
    *d = (struct admin_dump)ADMIN_DUMP_INIT;
}
