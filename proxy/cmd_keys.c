/*
 * cmd_keys.c: commands on keys of any type: DEL, EXISTS, TYPE, the expiry commands.
 *
 * geokv keeps a TTL per record. A string's expiry is its record's; a hash's is set on every
 * field it has when EXPIRE runs (fields added later do not expire), and read from its first
 * field.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "proxy/cmd.h"

COMMAND_FN(cmd_del)
{
    int64_t n = 0;
    for (int i = 1; i < c->req->argc; i++) {
        struct key_info ki;
        int rc = 0;
        if (key_lookup(c, arg(c, i), &ki) != 0)
            return;
        free(ki.value);
        if (ki.type == KEY_STRING)
            rc = geokv_del(c->table, arg(c, i), STRING_SORT_KEY, c->timeout_ms);
        else if (ki.type == KEY_HASH)
            rc = hash_clear(c, arg(c, i));
        if (rc != 0) {
            reply_geokv_error(c, rc);
            return;
        }
        n += ki.type != KEY_NONE;
    }
    resp_int(c->out, n);
}

COMMAND_FN(cmd_exists)
{
    int64_t n = 0;
    for (int i = 1; i < c->req->argc; i++) {
        struct key_info ki;
        if (key_lookup(c, arg(c, i), &ki) != 0)
            return;
        free(ki.value);
        n += ki.type != KEY_NONE;
    }
    resp_int(c->out, n);
}

COMMAND_FN(cmd_type)
{
    static const char *const names[] = {
        [KEY_NONE] = "none", [KEY_STRING] = "string", [KEY_HASH] = "hash"};
    struct key_info ki;
    if (key_lookup(c, arg(c, 1), &ki) != 0)
        return;
    free(ki.value);
    resp_status(c->out, names[ki.type]);
}

/* ---------------------------------------------------------------- expiry */

/* Rewrites one record (sort key sk, value as read) with ttl_s, unless it changed since it
 * was read. GEOKV_ERR_CHECK_FAILED if it did. */
static int
record_set_ttl(struct call *c, struct geokv_bytes key, struct geokv_bytes sk,
               struct geokv_bytes value, uint32_t ttl_s)
{
    struct geokv_cas cas = {.check_sort_key = sk,
                            .check = GEOKV_CHECK_VALUE_EQUAL,
                            .operand = value,
                            .set_sort_key = sk,
                            .value = value,
                            .ttl_s = ttl_s};
    return geokv_check_and_set(c->table, key, &cas, NULL, NULL, NULL, c->timeout_ms);
}

/* Gives what key holds (as ki found it) the TTL ttl_s (0 = never). A string that changed
 * since it was read: GEOKV_ERR_CHECK_FAILED (read it again). A hash's fields are rewritten
 * one by one, each only if unchanged: a field written or deleted meanwhile is left as that
 * write left it. */
static int
key_set_ttl(struct call *c, struct geokv_bytes key, const struct key_info *ki, uint32_t ttl_s)
{
    struct records rs = {0};
    int rc;

    if (ki->type == KEY_STRING)
        return record_set_ttl(c, key, STRING_SORT_KEY, geokv_bytes(ki->value, ki->len), ttl_s);
    rc = geokv_multi_get(c->table, key, NULL, 0, records_collect, &rs, c->timeout_ms);
    for (size_t i = 0; rc == 0 && i < rs.n; i++) {
        rc = record_set_ttl(c, key, rs.kvs[i].sort_key, rs.kvs[i].value, ttl_s);
        if (rc == GEOKV_ERR_CHECK_FAILED)
            rc = 0;
    }
    records_free(&rs);
    return rc;
}

/* Redis's error for an expiry out of range, naming the command in lower case. */
static void
invalid_expire(struct call *c)
{
    char name[16];
    size_t n = arg(c, 0).len < sizeof(name) - 1 ? arg(c, 0).len : sizeof(name) - 1;
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower(((const unsigned char *)arg(c, 0).data)[i]);
    name[n] = '\0';
    resp_error(c->out, "ERR invalid expire time in '%s' command", name);
}

enum expire_cond { EXPIRE_ALWAYS, EXPIRE_NX, EXPIRE_XX, EXPIRE_GT, EXPIRE_LT };

/* EXPIRE and its kin: at_ms is the new expiry (wall clock, ms). */
static void
expire_at(struct call *c, int64_t at_ms)
{
    enum expire_cond cond = EXPIRE_ALWAYS;
    struct geokv_bytes key = arg(c, 1);
    int64_t now_ms = (clock_wall_us() / 1000);
    bool nx = false, xx = false, gt = false, lt = false;

    for (int i = 3; i < c->req->argc; i++) {
        if (arg_is(c, i, "nx"))
            nx = true;
        else if (arg_is(c, i, "xx"))
            xx = true;
        else if (arg_is(c, i, "gt"))
            gt = true;
        else if (arg_is(c, i, "lt"))
            lt = true;
        else {
            resp_error(c->out, "ERR Unsupported option %.*s", (int)arg(c, i).len,
                       (const char *)arg(c, i).data);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        resp_error(c->out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        resp_error(c->out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    cond = nx ? EXPIRE_NX : xx ? EXPIRE_XX : gt ? EXPIRE_GT : lt ? EXPIRE_LT : EXPIRE_ALWAYS;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct key_info ki;
        int64_t cur_ms;
        bool apply;
        int rc;

        if (key_lookup(c, key, &ki) != 0)
            return;
        cur_ms = ki.expire_ts == 0 ? INT64_MAX : (int64_t)ki.expire_ts * 1000;
        apply = ki.type != KEY_NONE &&
                (cond == EXPIRE_ALWAYS || (cond == EXPIRE_NX && ki.expire_ts == 0) ||
                 (cond == EXPIRE_XX && ki.expire_ts != 0) ||
                 (cond == EXPIRE_GT && ki.expire_ts != 0 && at_ms > cur_ms) ||
                 (cond == EXPIRE_LT && at_ms < cur_ms));
        if (!apply) {
            free(ki.value);
            resp_int(c->out, 0);
            return;
        }
        if (at_ms <= now_ms) /* in the past: the key goes, as in Redis */
            rc = ki.type == KEY_STRING ? geokv_del(c->table, key, STRING_SORT_KEY, c->timeout_ms)
                                       : hash_clear(c, key);
        else if (ttl_from_ms(at_ms - now_ms) > UINT32_MAX - now_ms / 1000)
            rc = GEOKV_ERR_INVALID_ARG;
        else
            rc = key_set_ttl(c, key, &ki, (uint32_t)ttl_from_ms(at_ms - now_ms));
        free(ki.value);
        if (rc == GEOKV_ERR_CHECK_FAILED)
            continue;
        if (rc == GEOKV_ERR_INVALID_ARG)
            invalid_expire(c);
        else if (rc != 0)
            reply_geokv_error(c, rc);
        else
            resp_int(c->out, 1);
        return;
    }
    resp_error(c->out, "ERR geokv: the key kept changing; try again");
}

/* The amount argument scaled to ms, or an error replied. */
static bool
amount_ms(struct call *c, int64_t scale, int64_t *ms)
{
    int64_t v;
    if (!arg_i64(c, 2, &v))
        return false;
    if (v > INT64_MAX / scale || v < INT64_MIN / scale) {
        invalid_expire(c);
        return false;
    }
    *ms = v * scale;
    return true;
}

/* EXPIRE and PEXPIRE: now + the amount, or an error if that is past any time there is. */
static void
expire_in(struct call *c, int64_t scale)
{
    int64_t ms, now = clock_wall_us() / 1000;
    if (!amount_ms(c, scale, &ms))
        return;
    if (ms > INT64_MAX - now)
        invalid_expire(c);
    else
        expire_at(c, now + ms);
}

COMMAND_FN(cmd_expire)
{
    expire_in(c, 1000);
}

COMMAND_FN(cmd_pexpire)
{
    expire_in(c, 1);
}

COMMAND_FN(cmd_expireat)
{
    int64_t ms;
    if (amount_ms(c, 1000, &ms))
        expire_at(c, ms);
}

static void
ttl_reply(struct call *c, bool in_ms)
{
    struct key_info ki;
    int64_t left_ms;
    if (key_lookup(c, arg(c, 1), &ki) != 0)
        return;
    free(ki.value);
    if (ki.type == KEY_NONE) {
        resp_int(c->out, -2);
        return;
    }
    if (ki.expire_ts == 0) {
        resp_int(c->out, -1);
        return;
    }
    left_ms = (int64_t)ki.expire_ts * 1000 - (clock_wall_us() / 1000);
    if (left_ms < 0)
        left_ms = 0;
    resp_int(c->out, in_ms ? left_ms : (left_ms + 500) / 1000);
}

COMMAND_FN(cmd_ttl)
{
    ttl_reply(c, false);
}

COMMAND_FN(cmd_pttl)
{
    ttl_reply(c, true);
}

COMMAND_FN(cmd_persist)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        struct key_info ki;
        int rc;
        if (key_lookup(c, arg(c, 1), &ki) != 0)
            return;
        if (ki.type == KEY_NONE || ki.expire_ts == 0) {
            free(ki.value);
            resp_int(c->out, 0);
            return;
        }
        rc = key_set_ttl(c, arg(c, 1), &ki, 0);
        free(ki.value);
        if (rc == GEOKV_ERR_CHECK_FAILED)
            continue;
        if (rc != 0)
            reply_geokv_error(c, rc);
        else
            resp_int(c->out, 1);
        return;
    }
    resp_error(c->out, "ERR geokv: the key kept changing; try again");
}
