/* cmd.c: the command table and the helpers the commands share. */
#include "proxy/cmd.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/xmalloc.h"

const struct command commands[] = {
#define CMD(name, arity, flags, fn) {name, arity, flags, fn},
#include "proxy/cmd_list.h"
#undef CMD
    {NULL, 0, 0, NULL},
};

const struct command *
command_find(const void *name, size_t len)
{
    for (const struct command *cmd = commands; cmd->name; cmd++)
        if (strlen(cmd->name) == len && strncasecmp(cmd->name, name, len) == 0)
            return cmd;
    return NULL;
}

bool
arg_is(const struct call *c, int i, const char *word)
{
    struct geokv_bytes a = arg(c, i);
    return a.len == strlen(word) && strncasecmp(a.data, word, a.len) == 0;
}

bool
parse_i64(struct geokv_bytes b, int64_t *out)
{
    const char *p = b.data;
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0, limit;

    if (b.len == 0 || b.len > 20)
        return false;
    if (p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == b.len || p[i] < '0' || p[i] > '9' || (p[i] == '0' && b.len > i + 1) ||
        (neg && p[i] == '0'))
        return false;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < b.len; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (limit - (uint64_t)(p[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool
arg_i64(struct call *c, int i, int64_t *out)
{
    if (parse_i64(arg(c, i), out))
        return true;
    resp_error(c->out, RESP_ERR_NOT_INT);
    return false;
}

void
reply_geokv_error(struct call *c, int rc)
{
    switch (rc) {
    case GEOKV_ERR_NOT_A_NUMBER: resp_error(c->out, RESP_ERR_NOT_INT); break;
    case GEOKV_ERR_OVERFLOW: resp_error(c->out, "ERR increment or decrement would overflow"); break;
    case GEOKV_ERR_TOO_LARGE:
        resp_error(c->out, "ERR key or value too large for geokv (keys up to 65535 bytes)");
        break;
    case GEOKV_ERR_WRITE_DENIED: /* Redis's reply from a read-only replica */
        resp_error(c->out, "READONLY You can't write against a read only replica.");
        break;
    default: resp_error(c->out, "ERR geokv: %s", geokv_strerror(rc)); break;
    }
}

/* The first record of a key: tells its type, and a string's value. */
static int
first_record(void *arg_, const struct geokv_record *r)
{
    struct key_info *ki = arg_;
    ki->expire_ts = r->expire_ts;
    if (r->sort_key.len > 0) {
        ki->type = KEY_HASH;
        return 1;
    }
    ki->type = KEY_STRING;
    ki->value = xmalloc(r->value.len + 1);
    memcpy(ki->value, r->value.data, r->value.len);
    ki->len = r->value.len;
    return 1;
}

int
key_lookup(struct call *c, struct geokv_bytes key, struct key_info *ki)
{
    int rc;
    *ki = (struct key_info){KEY_NONE, NULL, 0, 0};
    rc = geokv_scan(c->table, key, STRING_SORT_KEY, geokv_bytes("", 0), first_record, ki,
                    c->timeout_ms);
    if (rc == 1 || rc == 0)
        return 0;
    free(ki->value);
    ki->value = NULL;
    reply_geokv_error(c, rc);
    return rc;
}

bool
bytes_eq(struct geokv_bytes a, struct geokv_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Whether ch is in the class starting at p[*i] == '['; *i moves past its ']'. */
static bool
class_match(const char *p, size_t n, size_t *i, unsigned char ch)
{
    bool neg = false, hit = false;
    size_t k = *i + 1;
    if (k < n && p[k] == '^') {
        neg = true;
        k++;
    }
    for (; k < n && p[k] != ']'; k++) {
        if (p[k] == '\\' && k + 1 < n) {
            hit |= (unsigned char)p[++k] == ch;
        } else if (k + 2 < n && p[k + 1] == '-' && p[k + 2] != ']') {
            unsigned char lo = (unsigned char)p[k], hi = (unsigned char)p[k + 2];
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            hit |= ch >= lo && ch <= hi;
            k += 2;
        } else {
            hit |= (unsigned char)p[k] == ch;
        }
    }
    *i = k < n ? k + 1 : n;
    return hit != neg;
}

/* Iterative, going back to the last '*' on a mismatch: linear in practice, never
 * exponential, whatever the pattern. */
bool
glob_match(struct geokv_bytes pattern, struct geokv_bytes str)
{
    const char *p = pattern.data;
    const unsigned char *s = str.data;
    size_t pn = pattern.len, sn = str.len, pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            size_t next = pi + 1;
            bool ok;
            if (p[pi] == '?') {
                ok = true;
            } else if (p[pi] == '[') {
                next = pi;
                ok = class_match(p, pn, &next, s[si]);
            } else if (p[pi] == '\\' && pi + 1 < pn) {
                ok = (unsigned char)p[pi + 1] == s[si];
                next = pi + 2;
            } else {
                ok = (unsigned char)p[pi] == s[si];
            }
            if (ok) {
                pi = next;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

const struct geokv_kv *
records_find(const struct records *rs, struct geokv_bytes field)
{
    for (size_t i = 0; i < rs->n; i++)
        if (bytes_eq(rs->kvs[i].sort_key, field))
            return &rs->kvs[i];
    return NULL;
}

int
records_collect(void *records, const struct geokv_record *r)
{
    struct records *rs = records;
    char *sk, *v;
    if (r->sort_key.len == 0) {
        rs->has_string = true;
        return 0;
    }
    if (records_find(rs, r->sort_key) != NULL) /* a field asked for twice */
        return 0;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? 2 * rs->cap : 16;
        rs->kvs = xrealloc(rs->kvs, rs->cap * sizeof(*rs->kvs));
        rs->expire_ts = xrealloc(rs->expire_ts, rs->cap * sizeof(*rs->expire_ts));
    }
    sk = xmalloc(r->sort_key.len + 1);
    v = xmalloc(r->value.len + 1);
    memcpy(sk, r->sort_key.data, r->sort_key.len);
    memcpy(v, r->value.data, r->value.len);
    rs->kvs[rs->n] =
        (struct geokv_kv){geokv_bytes(sk, r->sort_key.len), geokv_bytes(v, r->value.len)};
    rs->expire_ts[rs->n++] = r->expire_ts;
    return 0;
}

void
records_free(struct records *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        xfree((void *)rs->kvs[i].sort_key.data);
        xfree((void *)rs->kvs[i].value.data);
    }
    xfree(rs->kvs);
    xfree(rs->expire_ts);
    *rs = (struct records){0};
}

int
hash_clear(struct call *c, struct geokv_bytes key)
{
    struct records rs = {0};
    struct geokv_bytes *sks;
    int rc = geokv_multi_get(c->table, key, NULL, 0, records_collect, &rs, c->timeout_ms);
    sks = xcalloc(rs.n + 1, sizeof(*sks));
    for (size_t i = 0; i < rs.n; i++)
        sks[i] = rs.kvs[i].sort_key;
    for (size_t i = 0; rc == 0 && i < rs.n; i += 1000)
        rc = geokv_multi_del(c->table, key, sks + i, rs.n - i < 1000 ? rs.n - i : 1000,
                             c->timeout_ms);
    xfree(sks);
    records_free(&rs);
    return rc;
}

int64_t
ttl_from_ms(int64_t ms)
{
    if (ms <= 0)
        return -1;
    return (ms + 999) / 1000 + 1;
}

uint32_t
ttl_left(uint32_t expire_ts)
{
    int64_t now = (clock_wall_us() / 1000) / 1000;
    if (expire_ts == 0)
        return 0;
    return expire_ts > now ? (uint32_t)(expire_ts - now) : 1;
}
