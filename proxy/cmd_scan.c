/*
 * cmd_scan.c: SCAN and DBSIZE, over the whole table, partition by partition
 * (geokv_full_scan_page). A key's records are next to each other in its partition, so a page
 * names each key once; a key whose records straddle two pages may be named twice, which
 * Redis's SCAN contract allows.
 *
 * A Redis cursor is a number, a position in geokv is a partition and a storage key: the proxy
 * keeps the last CURSORS positions it handed out, by number, with the key named last (a hash
 * with many fields spans many calls: it is named once). A cursor is good for the proxy that
 * gave it until CURSORS newer ones were handed out; an unknown one gets an error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/cmd.h"

#define CURSORS 4096
#define PAGE_MAX 1000 /* records of one geokv page */

struct cursor {
    uint64_t id; /* 0: free */
    uint32_t pidx;
    struct buf pos;  /* the position in partition pidx */
    struct buf last; /* the key named last, so the next call does not name it again */
};

static struct {
    pthread_mutex_t mu;
    uint64_t next_id;
    struct cursor slots[CURSORS];
} cursors = {PTHREAD_MUTEX_INITIALIZER, 1, {{0}}};

/* Copies cursor id out of the table; false if it is not there (any longer). A cursor stays
 * until CURSORS newer ones have pushed it out, so a call that failed can be made again. */
static bool
cursor_get(uint64_t id, uint32_t *pidx, struct buf *pos, struct buf *last)
{
    struct cursor *c = &cursors.slots[id % CURSORS];
    bool found;
    pthread_mutex_lock(&cursors.mu);
    found = c->id == id;
    if (found) {
        *pidx = c->pidx;
        buf_append(pos, c->pos.data, c->pos.len);
        buf_append(last, c->last.data, c->last.len);
    }
    pthread_mutex_unlock(&cursors.mu);
    return found;
}

/* Stores a position (copied) and returns its cursor. */
static uint64_t
cursor_put(uint32_t pidx, const struct buf *pos, const struct buf *last)
{
    struct cursor *c;
    uint64_t id;
    pthread_mutex_lock(&cursors.mu);
    id = cursors.next_id++;
    c = &cursors.slots[id % CURSORS];
    c->id = id;
    c->pidx = pidx;
    buf_reset(&c->pos);
    buf_append(&c->pos, pos->data, pos->len);
    buf_reset(&c->last);
    buf_append(&c->last, last->data, last->len);
    pthread_mutex_unlock(&cursors.mu);
    return id;
}

/* What one SCAN call collects (a key lives in one partition: the last key named is all
 * there is to remember to name each key once). */
struct scan {
    struct geokv_bytes match; /* NULL data: every key */
    int type;                 /* -1: any; else KEY_STRING or KEY_HASH */
    struct buf last;          /* the key named last, to name each key once per page */
    struct buf keys;          /* the reply's elements */
    size_t nkeys, seen;
};

static int
scan_record(void *arg_, const struct geokv_record *r)
{
    struct scan *s = arg_;
    int type = r->sort_key.len == 0 ? KEY_STRING : KEY_HASH;
    s->seen++;
    if (s->last.len == r->hash_key.len &&
        (r->hash_key.len == 0 || memcmp(s->last.data, r->hash_key.data, r->hash_key.len) == 0))
        return 0;
    buf_reset(&s->last);
    buf_append(&s->last, r->hash_key.data, r->hash_key.len);
    if ((s->type >= 0 && type != s->type) || (s->match.data && !glob_match(s->match, r->hash_key)))
        return 0;
    resp_bulk(&s->keys, r->hash_key.data, r->hash_key.len);
    s->nkeys++;
    return 0;
}

/* Parses argv[first..] as [MATCH pattern] [COUNT n] [TYPE t] (type only if allow_type). */
bool
scan_options(struct call *c, int first, bool allow_type, struct geokv_bytes *match, int64_t *count,
             int *type)
{
    *match = (struct geokv_bytes){NULL, 0};
    *count = 10;
    *type = -1;
    for (int i = first; i < c->req->argc; i += 2) {
        if (i + 1 == c->req->argc) {
            resp_error(c->out, RESP_ERR_SYNTAX);
            return false;
        }
        if (arg_is(c, i, "match")) {
            *match = arg(c, i + 1);
        } else if (arg_is(c, i, "count")) {
            if (!arg_i64(c, i + 1, count))
                return false;
            if (*count < 1) {
                resp_error(c->out, RESP_ERR_SYNTAX);
                return false;
            }
        } else if (allow_type && arg_is(c, i, "type")) {
            *type = arg_is(c, i + 1, "string") ? KEY_STRING
                    : arg_is(c, i + 1, "hash") ? KEY_HASH
                                               : KEY_NONE; /* names no key here */
        } else {
            resp_error(c->out, RESP_ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Scans partition pidx from pos for up to limit records into s; pos becomes the position
 * after them (empty at the partition's end). */
static int
scan_page(struct call *c, uint32_t pidx, struct buf *pos, uint32_t limit, struct scan *s)
{
    void *next = NULL;
    size_t next_len = 0;
    int rc = geokv_full_scan_page(c->table, pidx, geokv_bytes(pos->data, pos->len), limit,
                                  scan_record, s, &next, &next_len, c->timeout_ms);
    if (rc == 0) {
        buf_reset(pos);
        buf_append(pos, next, next_len);
    }
    free(next);
    return rc;
}

COMMAND_FN(cmd_scan)
{
    struct scan s = {.last = BUF_INIT, .keys = BUF_INIT};
    uint32_t nparts = geokv_table_partition_count(c->table), pidx = 0;
    struct buf pos = BUF_INIT;
    int64_t count, cur;
    char num[24];
    int rc = 0;

    if (!parse_i64(arg(c, 1), &cur) || cur < 0) {
        resp_error(c->out, "ERR invalid cursor");
        return;
    }
    if (!scan_options(c, 2, true, &s.match, &count, &s.type))
        return;
    if (cur != 0 && !cursor_get((uint64_t)cur, &pidx, &pos, &s.last)) {
        resp_error(c->out,
                   "ERR geokv-proxy: unknown or expired cursor %lld (a cursor is good "
                   "for the proxy that gave it)",
                   (long long)cur);
        return;
    }
    /* at least count records looked at (Redis's COUNT is a hint of work, not of results) */
    while (rc == 0 && pidx < nparts && s.seen < (size_t)count) {
        size_t want = (size_t)count - s.seen;
        rc = scan_page(c, pidx, &pos, want < PAGE_MAX ? (uint32_t)want : PAGE_MAX, &s);
        if (rc == 0 && pos.len == 0)
            pidx++;
    }
    if (rc != 0) {
        reply_geokv_error(c, rc);
    } else {
        uint64_t next_cur = pidx < nparts ? cursor_put(pidx, &pos, &s.last) : 0;
        resp_array(c->out, 2);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)next_cur);
        resp_bulk_str(c->out, num);
        resp_array(c->out, s.nkeys);
        buf_append(c->out, s.keys.data, s.keys.len);
    }
    buf_fini(&pos);
    buf_fini(&s.last);
    buf_fini(&s.keys);
}

/* Counts the keys of the whole table: exact, by reading it all (slow on a large table). */
COMMAND_FN(cmd_dbsize)
{
    struct scan s = {.type = -1, .last = BUF_INIT, .keys = BUF_INIT};
    uint32_t nparts = geokv_table_partition_count(c->table);
    struct buf pos = BUF_INIT;
    int rc = 0;

    for (uint32_t pidx = 0; rc == 0 && pidx < nparts;) {
        buf_reset(&s.keys); /* only the count is kept */
        rc = scan_page(c, pidx, &pos, PAGE_MAX, &s);
        if (rc == 0 && pos.len == 0)
            pidx++;
    }
    if (rc != 0)
        reply_geokv_error(c, rc);
    else
        resp_int(c->out, (int64_t)s.nkeys);
    buf_fini(&pos);
    buf_fini(&s.last);
    buf_fini(&s.keys);
}
