/*
 * cmd_string.c: Redis strings. A string key K is the record (K, "").
 *
 * Commands whose result depends on what the key held (SET NX/XX/GET, GETSET, APPEND) write
 * with geokv's check_and_set, so a concurrent writer makes them read again instead of being
 * overwritten; duplication ships the value they wrote, so every cluster ends with it.
 * A key that holds a hash is replaced by SET, MSET and SETEX, as in Redis: its fields are
 * deleted first (not atomically with the set).
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "proxy/cmd.h"

#define CAS_ATTEMPTS 100 /* reads again after a concurrent change, at most this often */

/* ---------------------------------------------------------------- expiry of a write */

enum expiry_kind { EXP_NONE, EXP_KEEP, EXP_EX, EXP_PX, EXP_EXAT, EXP_PXAT };

/* The TTL a write gets: ttl_s (0 = never), or gone when the time is already past. */
struct expiry {
    uint32_t ttl_s;
    bool gone;
};

/* Turns "amount" of kind into e; false (error replied, naming cmd) if it is not a valid
 * time. */
static bool
expiry_of(struct call *c, const char *cmd, enum expiry_kind kind, struct geokv_bytes amount,
          struct expiry *e)
{
    int64_t v, now_ms = (clock_wall_us() / 1000), ms;

    *e = (struct expiry){0, false};
    if (kind == EXP_NONE || kind == EXP_KEEP)
        return true;
    if (!parse_i64(amount, &v)) {
        resp_error(c->out, RESP_ERR_NOT_INT);
        return false;
    }
    if (v <= 0 || v > INT64_MAX / 1000) {
        resp_error(c->out, "ERR invalid expire time in '%s' command", cmd);
        return false;
    }
    switch (kind) {
    case EXP_EX: ms = v * 1000; break;
    case EXP_PX: ms = v; break;
    case EXP_EXAT: ms = v * 1000 - now_ms; break;
    default: ms = v - now_ms; break;
    }
    if (ms <= 0) {
        e->gone = true;
        return true;
    }
    if (ttl_from_ms(ms) > UINT32_MAX - now_ms / 1000) { /* geokv's expiry is a u32 of seconds */
        resp_error(c->out, "ERR invalid expire time in '%s' command", cmd);
        return false;
    }
    e->ttl_s = (uint32_t)ttl_from_ms(ms);
    return true;
}

/* ---------------------------------------------------------------- writing a string */

enum set_cond { SET_ALWAYS, SET_NX, SET_XX };

struct set_args {
    struct geokv_bytes key, value;
    enum set_cond cond;
    bool get;      /* reply the old value */
    bool keep_ttl; /* keep the old value's expiry */
    struct expiry exp;
};

/* Sets a string as args say. Replies +OK / the old value (get) / nil when the condition
 * failed; *done tells whether it was written. */
static void
string_write(struct call *c, const struct set_args *a, bool *done)
{
    *done = false;
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct key_info ki;
        struct geokv_cas cas;
        uint32_t ttl = a->exp.ttl_s;
        int rc;

        if (key_lookup(c, a->key, &ki) != 0)
            return;
        if (a->get && ki.type == KEY_HASH) {
            resp_error(c->out, RESP_ERR_WRONGTYPE);
            return;
        }
        if ((a->cond == SET_NX && ki.type != KEY_NONE) ||
            (a->cond == SET_XX && ki.type == KEY_NONE)) {
            if (a->get && ki.type == KEY_STRING)
                resp_bulk(c->out, ki.value, ki.len);
            else
                resp_null(c->out, c->proto);
            free(ki.value);
            return;
        }
        if (a->keep_ttl && ki.type == KEY_STRING)
            ttl = ttl_left(ki.expire_ts);
        rc = ki.type == KEY_HASH ? hash_clear(c, a->key) : 0;
        if (rc == 0 && a->exp.gone) {
            rc = geokv_del(c->table, a->key, STRING_SORT_KEY, c->timeout_ms);
        } else if (rc == 0 && a->cond == SET_ALWAYS && !a->get) {
            rc = geokv_set(c->table, a->key, STRING_SORT_KEY, a->value, ttl, c->timeout_ms);
        } else if (rc == 0) {
            /* what was read must still be there: nothing, or the same value */
            cas = (struct geokv_cas){.check_sort_key = STRING_SORT_KEY,
                                     .check = ki.type == KEY_STRING ? GEOKV_CHECK_VALUE_EQUAL
                                                                    : GEOKV_CHECK_NOT_EXIST,
                                     .operand = geokv_bytes(ki.value, ki.len),
                                     .set_sort_key = STRING_SORT_KEY,
                                     .value = a->value,
                                     .ttl_s = ttl};
            rc = geokv_check_and_set(c->table, a->key, &cas, NULL, NULL, NULL, c->timeout_ms);
            if (rc == GEOKV_ERR_CHECK_FAILED) {
                free(ki.value);
                continue;
            }
        }
        if (rc != 0) {
            reply_geokv_error(c, rc);
        } else {
            *done = true;
            if (!a->get)
                resp_status(c->out, "OK");
            else if (ki.type == KEY_STRING)
                resp_bulk(c->out, ki.value, ki.len);
            else
                resp_null(c->out, c->proto);
        }
        free(ki.value);
        return;
    }
    resp_error(c->out, "ERR geokv: the key kept changing; try again");
}

COMMAND_FN(cmd_set)
{
    struct set_args a = {.key = arg(c, 1), .value = arg(c, 2)};
    enum expiry_kind kind = EXP_NONE;
    struct geokv_bytes amount = {NULL, 0};
    bool done;

    for (int i = 3; i < c->req->argc; i++) {
        enum expiry_kind k = EXP_NONE;
        if (arg_is(c, i, "nx") && a.cond != SET_XX) {
            a.cond = SET_NX;
            continue;
        }
        if (arg_is(c, i, "xx") && a.cond != SET_NX) {
            a.cond = SET_XX;
            continue;
        }
        if (arg_is(c, i, "get")) {
            a.get = true;
            continue;
        }
        if (arg_is(c, i, "keepttl") && kind == EXP_NONE) {
            kind = EXP_KEEP;
            continue;
        }
        if (arg_is(c, i, "ex"))
            k = EXP_EX;
        else if (arg_is(c, i, "px"))
            k = EXP_PX;
        else if (arg_is(c, i, "exat"))
            k = EXP_EXAT;
        else if (arg_is(c, i, "pxat"))
            k = EXP_PXAT;
        if (k == EXP_NONE || kind != EXP_NONE || i + 1 == c->req->argc) {
            resp_error(c->out, RESP_ERR_SYNTAX);
            return;
        }
        kind = k;
        amount = arg(c, ++i);
    }
    if (!expiry_of(c, "set", kind, amount, &a.exp))
        return;
    a.keep_ttl = kind == EXP_KEEP;
    string_write(c, &a, &done);
}

COMMAND_FN(cmd_setnx)
{
    struct set_args a = {.key = arg(c, 1), .value = arg(c, 2), .cond = SET_NX};
    struct buf *out = c->out, tmp = BUF_INIT;
    bool done;

    c->out = &tmp; /* SETNX answers 1 or 0, not OK or nil */
    string_write(c, &a, &done);
    c->out = out;
    if (tmp.len > 0 && tmp.data[0] == '-')
        buf_append(out, tmp.data, tmp.len);
    else
        resp_int(out, done ? 1 : 0);
    buf_fini(&tmp);
}

static void
setex(struct call *c, const char *name, enum expiry_kind kind)
{
    struct set_args a = {.key = arg(c, 1), .value = arg(c, 3)};
    bool done;
    if (expiry_of(c, name, kind, arg(c, 2), &a.exp))
        string_write(c, &a, &done);
}

COMMAND_FN(cmd_setex)
{
    setex(c, "setex", EXP_EX);
}

COMMAND_FN(cmd_psetex)
{
    setex(c, "psetex", EXP_PX);
}

COMMAND_FN(cmd_getset)
{
    struct set_args a = {.key = arg(c, 1), .value = arg(c, 2), .get = true};
    bool done;
    string_write(c, &a, &done);
}

/* ---------------------------------------------------------------- reading */

/* Looks key up as a string: false (reply written) if it failed or holds a hash. */
static bool
string_lookup(struct call *c, struct geokv_bytes key, struct key_info *ki)
{
    if (key_lookup(c, key, ki) != 0)
        return false;
    if (ki->type == KEY_HASH) {
        resp_error(c->out, RESP_ERR_WRONGTYPE);
        return false;
    }
    return true;
}

COMMAND_FN(cmd_get)
{
    struct key_info ki;
    if (!string_lookup(c, arg(c, 1), &ki))
        return;
    if (ki.type == KEY_STRING)
        resp_bulk(c->out, ki.value, ki.len);
    else
        resp_null(c->out, c->proto);
    free(ki.value);
}

COMMAND_FN(cmd_strlen)
{
    struct key_info ki;
    if (!string_lookup(c, arg(c, 1), &ki))
        return;
    resp_int(c->out, (int64_t)ki.len);
    free(ki.value);
}

/* Not atomic: a write between the read and the delete is deleted too. */
COMMAND_FN(cmd_getdel)
{
    struct key_info ki;
    int rc = 0;
    if (!string_lookup(c, arg(c, 1), &ki))
        return;
    if (ki.type == KEY_STRING)
        rc = geokv_del(c->table, arg(c, 1), STRING_SORT_KEY, c->timeout_ms);
    if (rc != 0)
        reply_geokv_error(c, rc);
    else if (ki.type == KEY_STRING)
        resp_bulk(c->out, ki.value, ki.len);
    else
        resp_null(c->out, c->proto);
    free(ki.value);
}

COMMAND_FN(cmd_mget)
{
    struct buf vals = BUF_INIT;
    for (int i = 1; i < c->req->argc; i++) {
        struct key_info ki;
        if (key_lookup(c, arg(c, i), &ki) != 0) { /* the error alone is the reply */
            buf_fini(&vals);
            return;
        }
        if (ki.type == KEY_STRING)
            resp_bulk(&vals, ki.value, ki.len);
        else
            resp_null(&vals, c->proto);
        free(ki.value);
    }
    resp_array(c->out, (size_t)(c->req->argc - 1));
    buf_append(c->out, vals.data, vals.len);
    buf_fini(&vals);
}

/* ---------------------------------------------------------------- several keys */

/* MSET and MSETNX write key after key: not atomic across keys (they may live on different
 * partitions); each key's write is durable when the reply comes. */
static bool
mset_all(struct call *c)
{
    struct buf *out = c->out, tmp = BUF_INIT;
    bool ok = true, done;
    c->out = &tmp;
    for (int i = 1; ok && i + 1 < c->req->argc; i += 2) {
        struct set_args a = {.key = arg(c, i), .value = arg(c, i + 1)};
        buf_reset(&tmp);
        string_write(c, &a, &done);
        ok = done;
    }
    c->out = out;
    if (!ok)
        buf_append(out, tmp.data, tmp.len); /* the error */
    buf_fini(&tmp);
    return ok;
}

COMMAND_FN(cmd_mset)
{
    if (c->req->argc % 2 == 0) {
        resp_error(c->out, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    if (mset_all(c))
        resp_status(c->out, "OK");
}

COMMAND_FN(cmd_msetnx)
{
    if (c->req->argc % 2 == 0) {
        resp_error(c->out, "ERR wrong number of arguments for 'msetnx' command");
        return;
    }
    for (int i = 1; i < c->req->argc; i += 2) {
        struct key_info ki;
        if (key_lookup(c, arg(c, i), &ki) != 0)
            return;
        free(ki.value);
        if (ki.type != KEY_NONE) {
            resp_int(c->out, 0);
            return;
        }
    }
    if (mset_all(c))
        resp_int(c->out, 1);
}

/* ---------------------------------------------------------------- numbers and appends */

static void
incr_by(struct call *c, int64_t delta)
{
    struct key_info ki;
    int64_t v;
    int rc;
    if (!string_lookup(c, arg(c, 1), &ki))
        return;
    /* geokv's incr also takes "", " 5" or "+5" for numbers; Redis does not */
    if (ki.type == KEY_STRING && !parse_i64(geokv_bytes(ki.value, ki.len), &v)) {
        free(ki.value);
        resp_error(c->out, RESP_ERR_NOT_INT);
        return;
    }
    free(ki.value);
    rc = geokv_incr(c->table, arg(c, 1), STRING_SORT_KEY, delta, 0, &v, c->timeout_ms);
    if (rc != 0)
        reply_geokv_error(c, rc);
    else
        resp_int(c->out, v);
}

COMMAND_FN(cmd_incr)
{
    incr_by(c, 1);
}

COMMAND_FN(cmd_decr)
{
    incr_by(c, -1);
}

COMMAND_FN(cmd_incrby)
{
    int64_t d;
    if (arg_i64(c, 2, &d))
        incr_by(c, d);
}

COMMAND_FN(cmd_decrby)
{
    int64_t d;
    if (!arg_i64(c, 2, &d))
        return;
    if (d == INT64_MIN) {
        resp_error(c->out, "ERR decrement would overflow");
        return;
    }
    incr_by(c, -d);
}

COMMAND_FN(cmd_append)
{
    struct geokv_bytes key = arg(c, 1), more = arg(c, 2);
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct key_info ki;
        struct geokv_cas cas;
        char *v;
        int rc;
        if (!string_lookup(c, key, &ki))
            return;
        v = xmalloc(ki.len + more.len + 1);
        if (ki.len > 0)
            memcpy(v, ki.value, ki.len);
        if (more.len > 0)
            memcpy(v + ki.len, more.data, more.len);
        cas = (struct geokv_cas){.check_sort_key = STRING_SORT_KEY,
                                 .check = ki.type == KEY_STRING ? GEOKV_CHECK_VALUE_EQUAL
                                                                : GEOKV_CHECK_NOT_EXIST,
                                 .operand = geokv_bytes(ki.value, ki.len),
                                 .set_sort_key = STRING_SORT_KEY,
                                 .value = geokv_bytes(v, ki.len + more.len),
                                 .ttl_s = ttl_left(ki.expire_ts)};
        rc = geokv_check_and_set(c->table, key, &cas, NULL, NULL, NULL, c->timeout_ms);
        xfree(v);
        free(ki.value);
        if (rc == GEOKV_ERR_CHECK_FAILED)
            continue;
        if (rc != 0)
            reply_geokv_error(c, rc);
        else
            resp_int(c->out, (int64_t)(ki.len + more.len));
        return;
    }
    resp_error(c->out, "ERR geokv: the key kept changing; try again");
}
