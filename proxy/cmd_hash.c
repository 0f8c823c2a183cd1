/*
 * cmd_hash.c: Redis hashes. The field F of hash H is the record (H, F), so a hash lives on
 * one partition and HSET of several fields is one atomic geokv multi_set. Every command
 * reads the sort key "" along with its fields, in the same call, to tell a string key
 * (WRONGTYPE) from a hash. Empty hash keys and field names are refused: the empty sort key
 * is a string's, and an empty hash key would spread a hash over partitions.
 */
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "proxy/cmd.h"

/* Checks the key and the fields argv[first], argv[first + step], ... before end. */
static bool
names_ok(struct call *c, int first, int end, int step)
{
    if (arg(c, 1).len == 0) {
        resp_error(c->out, "ERR geokv-proxy: a hash key cannot be empty");
        return false;
    }
    for (int i = first; i < end; i += step)
        if (arg(c, i).len == 0) {
            resp_error(c->out, "ERR geokv-proxy: a hash field name cannot be empty");
            return false;
        }
    return true;
}

/* Reads the fields argv[first], argv[first + step], ... before end (every field if first
 * == 0) of the hash argv[1]. false (reply written) on an error or a string key. */
static bool
hash_get(struct call *c, int first, int end, int step, struct records *h)
{
    struct geokv_bytes *sks = NULL;
    size_t n = 0;
    int rc;

    *h = (struct records){0};
    if (!names_ok(c, first, first > 0 ? end : 0, step))
        return false;
    if (first > 0) {
        sks = xcalloc((size_t)(end - first) / (size_t)step + 2, sizeof(*sks));
        sks[n++] = STRING_SORT_KEY;
        for (int i = first; i < end; i += step)
            sks[n++] = arg(c, i);
    }
    rc = geokv_multi_get(c->table, arg(c, 1), sks, n, records_collect, h, c->timeout_ms);
    xfree(sks);
    if (rc != 0) {
        reply_geokv_error(c, rc);
    } else if (h->has_string) {
        resp_error(c->out, RESP_ERR_WRONGTYPE);
        rc = GEOKV_ERR_INVALID_STATE;
    }
    if (rc != 0)
        records_free(h);
    return rc == 0;
}

/* Sets the field/value pairs from argv[2]; *added: fields that were not there. */
static bool
hash_set(struct call *c, int64_t *added)
{
    struct records h;
    size_t n = (size_t)(c->req->argc - 2) / 2;
    struct geokv_kv *kvs;
    uint32_t ttl = 0;
    int rc;

    if (c->req->argc % 2 != 0) {
        resp_error(c->out, "ERR wrong number of arguments for '%s' command",
                   arg_is(c, 0, "hmset") ? "hmset" : "hset");
        return false;
    }
    if (!hash_get(c, 2, c->req->argc, 2, &h))
        return false;
    kvs = xcalloc(n, sizeof(*kvs));
    *added = 0;
    for (size_t i = 0; i < n; i++) {
        struct geokv_bytes f = arg(c, 2 + 2 * (int)i);
        bool seen = records_find(&h, f) != NULL;
        for (size_t j = 0; j < i && !seen; j++)
            seen = bytes_eq(kvs[j].sort_key, f);
        *added += !seen;
        kvs[i] = (struct geokv_kv){f, arg(c, 3 + 2 * (int)i)};
    }
    if (h.n > 0) /* new fields take the hash's expiry */
        ttl = ttl_left(h.expire_ts[0]);
    rc = geokv_multi_set(c->table, arg(c, 1), kvs, n, ttl, c->timeout_ms);
    xfree(kvs);
    records_free(&h);
    if (rc != 0)
        reply_geokv_error(c, rc);
    return rc == 0;
}

COMMAND_FN(cmd_hset)
{
    int64_t added;
    if (hash_set(c, &added))
        resp_int(c->out, added);
}

COMMAND_FN(cmd_hmset)
{
    int64_t added;
    if (hash_set(c, &added))
        resp_status(c->out, "OK");
}

COMMAND_FN(cmd_hsetnx)
{
    struct records h;
    struct geokv_cas cas;
    int rc;

    if (!hash_get(c, 2, 3, 1, &h))
        return;
    if (records_find(&h, arg(c, 2)) != NULL) {
        records_free(&h);
        resp_int(c->out, 0);
        return;
    }
    cas = (struct geokv_cas){.check_sort_key = arg(c, 2),
                             .check = GEOKV_CHECK_NOT_EXIST,
                             .set_sort_key = arg(c, 2),
                             .value = arg(c, 3)};
    records_free(&h);
    rc = geokv_check_and_set(c->table, arg(c, 1), &cas, NULL, NULL, NULL, c->timeout_ms);
    if (rc == 0 || rc == GEOKV_ERR_CHECK_FAILED)
        resp_int(c->out, rc == 0);
    else
        reply_geokv_error(c, rc);
}

COMMAND_FN(cmd_hget)
{
    struct records h;
    const struct geokv_kv *kv;
    if (!hash_get(c, 2, 3, 1, &h))
        return;
    if ((kv = records_find(&h, arg(c, 2))) != NULL)
        resp_bulk(c->out, kv->value.data, kv->value.len);
    else
        resp_null(c->out, c->proto);
    records_free(&h);
}

COMMAND_FN(cmd_hexists)
{
    struct records h;
    if (!hash_get(c, 2, 3, 1, &h))
        return;
    resp_int(c->out, records_find(&h, arg(c, 2)) != NULL);
    records_free(&h);
}

COMMAND_FN(cmd_hmget)
{
    struct records h;
    if (!hash_get(c, 2, c->req->argc, 1, &h))
        return;
    resp_array(c->out, (size_t)(c->req->argc - 2));
    for (int i = 2; i < c->req->argc; i++) {
        const struct geokv_kv *kv = records_find(&h, arg(c, i));
        if (kv)
            resp_bulk(c->out, kv->value.data, kv->value.len);
        else
            resp_null(c->out, c->proto);
    }
    records_free(&h);
}

COMMAND_FN(cmd_hdel)
{
    struct records h;
    struct geokv_bytes *del;
    size_t n = 0;
    int rc = 0;

    if (!hash_get(c, 2, c->req->argc, 1, &h))
        return;
    del = xcalloc(h.n + 1, sizeof(*del));
    for (size_t i = 0; i < h.n; i++)
        del[n++] = h.kvs[i].sort_key;
    if (n > 0)
        rc = geokv_multi_del(c->table, arg(c, 1), del, n, c->timeout_ms);
    if (rc != 0)
        reply_geokv_error(c, rc);
    else
        resp_int(c->out, (int64_t)n);
    xfree(del);
    records_free(&h);
}

enum hash_part { PART_FIELDS = 1, PART_VALUES = 2 };

static void
hash_all(struct call *c, int parts)
{
    struct records h;
    if (!hash_get(c, 0, 0, 1, &h))
        return;
    if (parts == (PART_FIELDS | PART_VALUES))
        resp_map(c->out, h.n, c->proto);
    else
        resp_array(c->out, h.n);
    for (size_t i = 0; i < h.n; i++) {
        if (parts & PART_FIELDS)
            resp_bulk(c->out, h.kvs[i].sort_key.data, h.kvs[i].sort_key.len);
        if (parts & PART_VALUES)
            resp_bulk(c->out, h.kvs[i].value.data, h.kvs[i].value.len);
    }
    records_free(&h);
}

COMMAND_FN(cmd_hgetall)
{
    hash_all(c, PART_FIELDS | PART_VALUES);
}

COMMAND_FN(cmd_hkeys)
{
    hash_all(c, PART_FIELDS);
}

COMMAND_FN(cmd_hvals)
{
    hash_all(c, PART_VALUES);
}

COMMAND_FN(cmd_hlen)
{
    struct records h;
    if (!hash_get(c, 0, 0, 1, &h))
        return;
    resp_int(c->out, (int64_t)h.n);
    records_free(&h);
}

COMMAND_FN(cmd_hincrby)
{
    struct records h;
    int64_t delta, v;
    int rc;

    if (!arg_i64(c, 3, &delta) || !hash_get(c, 2, 3, 1, &h))
        return;
    /* geokv's incr also takes "", " 5" or "+5" for numbers; Redis does not */
    if (h.n > 0 && !parse_i64(h.kvs[0].value, &v)) {
        records_free(&h);
        resp_error(c->out, "ERR hash value is not an integer");
        return;
    }
    records_free(&h);
    rc = geokv_incr(c->table, arg(c, 1), arg(c, 2), delta, 0, &v, c->timeout_ms);
    if (rc == GEOKV_ERR_NOT_A_NUMBER)
        resp_error(c->out, "ERR hash value is not an integer");
    else if (rc != 0)
        reply_geokv_error(c, rc);
    else
        resp_int(c->out, v);
}

/* A hash's fields come in one reply (cursor 0), as Redis does for small hashes. */
COMMAND_FN(cmd_hscan)
{
    struct records h;
    struct geokv_bytes match;
    int64_t cur, count;
    int type;
    size_t n = 0;

    if (!parse_i64(arg(c, 2), &cur) || cur < 0) {
        resp_error(c->out, "ERR invalid cursor");
        return;
    }
    if (!scan_options(c, 3, false, &match, &count, &type) || !hash_get(c, 0, 0, 1, &h))
        return;
    for (size_t i = 0; i < h.n; i++)
        n += match.data == NULL || glob_match(match, h.kvs[i].sort_key);
    resp_array(c->out, 2);
    resp_bulk_str(c->out, "0");
    resp_array(c->out, 2 * n);
    for (size_t i = 0; i < h.n; i++) {
        if (match.data != NULL && !glob_match(match, h.kvs[i].sort_key))
            continue;
        resp_bulk(c->out, h.kvs[i].sort_key.data, h.kvs[i].sort_key.len);
        resp_bulk(c->out, h.kvs[i].value.data, h.kvs[i].value.len);
    }
    records_free(&h);
}
