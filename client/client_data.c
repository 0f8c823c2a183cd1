/*
 * client_data.c: the data calls of geokv.h (set, get, del, multi_*, scan, full_scan, incr,
 * check_and_set and the async set/get). Each one validates its arguments, encodes its
 * request (proto/msg.h), picks the partition from the key, and hands the request to the op
 * engine (client_op.c), which routes and retries. Replies are decoded here, on the caller's
 * thread for sync calls and on the completing client thread for async ones. The public
 * byte strings (struct geokv_bytes) become the wire's (struct bytes) at the top of each call.
 */
#include "client/client_int.h"

#include <string.h>

#include "common/xmalloc.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

/* Client-side limits, so an oversized request fails clearly instead of on the server. */
static int
check_key(struct bytes hk)
{
    return hk.len > GEOKV_MAX_HASH_KEY ? ERR_TOO_LARGE : 0;
}

static int
check_value_len(struct bytes v)
{
    return v.len > GEOKV_MAX_VALUE ? ERR_TOO_LARGE : 0;
}

/* Encodes a write request of n ops and runs it on the partition of (hk, first sort key). */
static int
write_call(struct geokv_table *t, struct write_op *ops, uint32_t n, int timeout_ms)
{
    struct msg_write_req m = {.nops = n, .ops = ops};
    struct buf req = BUF_INIT;
    uint32_t pidx;
    int err;

    err = table_key_pidx(t, ops[0].hash_key, ops[0].sort_key, &pidx);
    if (err != 0)
        return err;
    msg_write_req_encode(&req, &m);
    err = op_call(t, RPC_WRITE, pidx, &req, timeout_ms, OP_IDEMPOTENT, NULL);
    buf_fini(&req);
    return err;
}

int
geokv_set(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk, struct geokv_bytes v,
          uint32_t ttl_s, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk), value = wire_bytes(v);
    struct write_op op = {OP_SET, hash_key, wire_bytes(sk), value, ttl_s};
    int err = check_key(hash_key);

    if (err == 0)
        err = check_value_len(value);
    return err != 0 ? err : write_call(t, &op, 1, timeout_ms);
}

int
geokv_del(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct write_op op = {OP_DEL, hash_key, wire_bytes(sk), {NULL, 0}, 0};
    int err = check_key(hash_key);

    return err != 0 ? err : write_call(t, &op, 1, timeout_ms);
}

int
geokv_multi_set(struct geokv_table *t, struct geokv_bytes hk, const struct geokv_kv *kvs, size_t n,
                uint32_t ttl_s, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct write_op *ops;
    size_t total = 0;
    int err = check_key(hash_key);

    if (err == 0 && (n == 0 || n > UINT32_MAX))
        err = ERR_INVALID_ARG;
    for (size_t i = 0; err == 0 && i < n; i++) {
        total += kvs[i].value.len + kvs[i].sort_key.len;
        if (total > GEOKV_MAX_VALUE)
            err = ERR_TOO_LARGE;
    }
    if (err != 0)
        return err;
    ops = xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++)
        ops[i] = (struct write_op){OP_SET, hash_key, wire_bytes(kvs[i].sort_key),
                                   wire_bytes(kvs[i].value), ttl_s};
    err = write_call(t, ops, (uint32_t)n, timeout_ms);
    xfree(ops);
    return err;
}

int
geokv_multi_del(struct geokv_table *t, struct geokv_bytes hk, const struct geokv_bytes *sort_keys,
                size_t n, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct write_op *ops;
    int err = check_key(hash_key);

    if (err == 0 && (n == 0 || n > UINT32_MAX))
        err = ERR_INVALID_ARG;
    if (err != 0)
        return err;
    ops = xcalloc(n, sizeof(*ops));
    for (size_t i = 0; i < n; i++)
        ops[i] = (struct write_op){OP_DEL, hash_key, wire_bytes(sort_keys[i]), {NULL, 0}, 0};
    err = write_call(t, ops, (uint32_t)n, timeout_ms);
    xfree(ops);
    return err;
}

int
geokv_get(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk, void **value,
          size_t *len, uint32_t *expire_ts_out, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk), sort_key = wire_bytes(sk);
    struct msg_get_req m = {hash_key, sort_key};
    struct msg_get_resp resp;
    struct unpacked *zone = NULL;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    uint32_t pidx;
    int err;

    *value = NULL;
    *len = 0;
    if (expire_ts_out != NULL)
        *expire_ts_out = 0;
    err = check_key(hash_key);
    if (err == 0)
        err = table_key_pidx(t, hash_key, sort_key, &pidx);
    if (err != 0)
        return err;
    msg_get_req_encode(&req, &m);
    err = op_call(t, RPC_GET, pidx, &req, timeout_ms, OP_IDEMPOTENT, &reply);
    if (err == 0 && msg_get_resp_decode(reply.data, reply.len, &resp, &zone) != 0)
        err = ERR_INVALID_DATA;
    if (err == 0) {
        *value = xmemdup(resp.value.p, resp.value.len ? resp.value.len : 1);
        *len = resp.value.len;
        if (expire_ts_out != NULL)
            *expire_ts_out = resp.expire_ts;
        unpacked_free(zone);
    }
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* Decodes a records reply, runs cb on each record and copies next_key into next. */
static int
records_deliver(const struct buf *reply, geokv_record_fn *cb, void *arg, struct buf *next)
{
    struct msg_records_resp m;
    struct unpacked *zone = NULL;
    int rc = 0;

    buf_reset(next);
    if (msg_records_resp_decode(reply->data, reply->len, &m, &zone) != 0)
        return ERR_INVALID_DATA;
    for (uint32_t i = 0; rc == 0 && i < m.nrecords; i++) {
        const struct kv_record *r = &m.records[i];
        struct geokv_record rec = {{r->hash_key.p, r->hash_key.len},
                                   {r->sort_key.p, r->sort_key.len},
                                   {r->value.p, r->value.len},
                                   r->expire_ts};
        rc = cb(arg, &rec);
    }
    if (rc == 0)
        buf_append(next, m.next_key.p, m.next_key.len);
    msg_records_resp_fini(&m);
    unpacked_free(zone);
    return rc;
}

int
geokv_multi_get(struct geokv_table *t, struct geokv_bytes hk, const struct geokv_bytes *sort_keys,
                size_t n, geokv_record_fn *cb, void *arg, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct msg_multi_get_req m = {hash_key, (uint32_t)n, NULL, 0};
    struct buf req = BUF_INIT, reply = BUF_INIT, next = BUF_INIT;
    uint32_t pidx;
    int err;

    if (n == 0) /* every sort key: a paged scan of the hash key */
        return geokv_scan(t, hk, geokv_bytes(NULL, 0), geokv_bytes(NULL, 0), cb, arg, timeout_ms);
    err = check_key(hash_key);
    if (err == 0 && n > UINT32_MAX)
        err = ERR_INVALID_ARG;
    if (err == 0)
        err = table_key_pidx(t, hash_key, wire_bytes(sort_keys[0]), &pidx);
    if (err != 0)
        return err;
    m.sort_keys = xcalloc(n, sizeof(*m.sort_keys));
    for (size_t i = 0; i < n; i++)
        m.sort_keys[i] = wire_bytes(sort_keys[i]);
    msg_multi_get_req_encode(&req, &m);
    xfree(m.sort_keys);
    err = op_call(t, RPC_MULTI_GET, pidx, &req, timeout_ms, OP_IDEMPOTENT, &reply);
    if (err == 0)
        err = records_deliver(&reply, cb, arg, &next);
    buf_fini(&req);
    buf_fini(&reply);
    buf_fini(&next);
    return err;
}

/* Pages a scan request of partition pidx through resume keys until the end (or cb stops). */
static int
scan_pages(struct geokv_table *t, uint32_t pidx, struct msg_scan_req *m, geokv_record_fn *cb,
           void *arg, int timeout_ms)
{
    struct buf req = BUF_INIT, reply = BUF_INIT, next = BUF_INIT;
    int err;

    for (;;) {
        buf_reset(&req);
        buf_reset(&reply);
        msg_scan_req_encode(&req, m);
        err = op_call(t, RPC_SCAN, pidx, &req, timeout_ms, OP_IDEMPOTENT, &reply);
        if (err == 0)
            err = records_deliver(&reply, cb, arg, &next);
        if (err != 0 || next.len == 0)
            break;
        /* m->resume_key borrows next until the next records_deliver resets it, after use */
        m->resume_key = bytes_of(next.data, next.len);
    }
    buf_fini(&req);
    buf_fini(&reply);
    buf_fini(&next);
    return err;
}

int
geokv_scan(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes start,
           struct geokv_bytes stop, geokv_record_fn *cb, void *arg, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct msg_scan_req m = {.full = false,
                             .hash_key = hash_key,
                             .start_sort_key = wire_bytes(start),
                             .stop_sort_key = wire_bytes(stop),
                             .limit = CLIENT_SCAN_PAGE};
    uint32_t pidx;
    int err = check_key(hash_key);

    if (err == 0)
        err = table_key_pidx(t, hash_key, m.start_sort_key, &pidx);
    if (err != 0)
        return err;
    return scan_pages(t, pidx, &m, cb, arg, timeout_ms);
}

int
geokv_full_scan(struct geokv_table *t, geokv_record_fn *cb, void *arg, int timeout_ms)
{
    uint32_t n = geokv_table_partition_count(t);
    int err = n == 0 ? ERR_APP_UNAVAILABLE : 0;

    for (uint32_t pidx = 0; err == 0 && pidx < n; pidx++) {
        struct msg_scan_req m = {.full = true, .limit = CLIENT_SCAN_PAGE};
        err = scan_pages(t, pidx, &m, cb, arg, timeout_ms);
    }
    return err;
}

int
geokv_full_scan_page(struct geokv_table *t, uint32_t pidx, struct geokv_bytes resume,
                     uint32_t limit, geokv_record_fn *cb, void *arg, void **next, size_t *next_len,
                     int timeout_ms)
{
    struct msg_scan_req m = {.full = true, .limit = limit, .resume_key = wire_bytes(resume)};
    struct buf req = BUF_INIT, reply = BUF_INIT, after = BUF_INIT;
    int err = 0;

    *next = NULL;
    *next_len = 0;
    if (limit == 0 || limit > CLIENT_SCAN_PAGE || pidx >= geokv_table_partition_count(t))
        return ERR_INVALID_ARG;
    msg_scan_req_encode(&req, &m);
    err = op_call(t, RPC_SCAN, pidx, &req, timeout_ms, OP_IDEMPOTENT, &reply);
    if (err == 0)
        err = records_deliver(&reply, cb, arg, &after);
    if (err == 0 && after.len > 0) {
        *next = after.data; /* handed over: malloc'd by the buffer */
        *next_len = after.len;
        after = (struct buf)BUF_INIT;
    }
    buf_fini(&req);
    buf_fini(&reply);
    buf_fini(&after);
    return err;
}

int
geokv_incr(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk, int64_t delta,
           uint32_t ttl_s, int64_t *new_value, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk), sort_key = wire_bytes(sk);
    struct msg_incr_req m = {hash_key, sort_key, delta, ttl_s};
    struct msg_incr_resp resp;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    uint32_t pidx;
    int err;

    *new_value = 0;
    err = check_key(hash_key);
    if (err == 0)
        err = table_key_pidx(t, hash_key, sort_key, &pidx);
    if (err != 0)
        return err;
    msg_incr_req_encode(&req, &m);
    err = op_call(t, RPC_INCR, pidx, &req, timeout_ms, 0, &reply);
    if (err == 0 && msg_incr_resp_decode(reply.data, reply.len, &resp) != 0)
        err = ERR_INVALID_DATA;
    if (err == 0)
        *new_value = resp.new_value;
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* Reports the checked value of a cas reply (if the reply has one). */
static void
cas_report(const struct buf *reply, bool *check_exist, void **check_value, size_t *check_len)
{
    struct msg_cas_resp resp;
    struct unpacked *zone = NULL;

    if (reply->len == 0 || msg_cas_resp_decode(reply->data, reply->len, &resp, &zone) != 0)
        return;
    if (check_exist != NULL)
        *check_exist = resp.check_value_exist;
    if (check_value != NULL && resp.check_value_exist) {
        *check_value = xmemdup(resp.check_value.p, resp.check_value.len ? resp.check_value.len : 1);
        *check_len = resp.check_value.len;
    }
    unpacked_free(zone);
}

int
geokv_check_and_set(struct geokv_table *t, struct geokv_bytes hk, const struct geokv_cas *cas,
                    bool *check_exist, void **check_value, size_t *check_len, int timeout_ms)
{
    struct bytes hash_key = wire_bytes(hk);
    struct msg_cas_req m = {hash_key,
                            wire_bytes(cas->check_sort_key),
                            wire_bytes(cas->operand),
                            wire_bytes(cas->set_sort_key),
                            wire_bytes(cas->value),
                            (uint32_t)cas->check,
                            cas->ttl_s};
    struct buf req = BUF_INIT, reply = BUF_INIT;
    uint32_t pidx;
    int err;

    if (check_exist != NULL)
        *check_exist = false;
    if (check_value != NULL) {
        *check_value = NULL;
        *check_len = 0;
    }
    err = check_key(hash_key);
    if (err == 0)
        err = check_value_len(m.set_value);
    if (err == 0 && (m.check_type < CAS_NOT_EXIST || m.check_type > CAS_VALUE_EQUAL))
        err = ERR_INVALID_ARG;
    if (err == 0)
        err = table_key_pidx(t, hash_key, m.check_sort_key, &pidx);
    if (err != 0)
        return err;
    msg_cas_req_encode(&req, &m);
    err = op_call(t, RPC_CHECK_AND_SET, pidx, &req, timeout_ms, 0, &reply);
    if (err == 0 || err == ERR_CHECK_FAILED)
        cas_report(&reply, check_exist, check_value, check_len);
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* ---- async ---- */

struct async_ctx {
    geokv_done_fn *set_cb; /* one of the two */
    geokv_get_fn *get_cb;
    void *arg;
};

static void
set_async_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct async_ctx a = *(struct async_ctx *)arg;
    xfree(arg);
    a.set_cb(a.arg, err);
}

static void
get_async_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct async_ctx a = *(struct async_ctx *)arg;
    struct msg_get_resp resp;
    struct unpacked *zone = NULL;

    xfree(arg);
    if (err == 0 && msg_get_resp_decode(body, len, &resp, &zone) != 0)
        err = ERR_INVALID_DATA;
    if (err != 0) {
        a.get_cb(a.arg, err, NULL, 0);
        return;
    }
    a.get_cb(a.arg, 0, resp.value.p, resp.value.len);
    unpacked_free(zone);
}

/* Starts an async op, or completes it at once with err. */
static void
async_start(struct geokv_table *t, int err, uint32_t code, struct bytes hk, struct bytes sk,
            const struct buf *req, int timeout_ms, op_done_fn *done, struct async_ctx *a)
{
    uint32_t pidx = 0;

    if (err == 0)
        err = table_key_pidx(t, hk, sk, &pidx);
    if (err != 0)
        done(a, err, NULL, 0);
    else
        op_start(t, code, pidx, req, timeout_ms, OP_IDEMPOTENT, done, a);
}

void
geokv_partition_call_async(struct geokv_table *t, uint32_t code, uint32_t pidx,
                           const struct buf *body, int timeout_ms, rpc_done_fn *cb, void *arg)
{
    op_start(t, code, pidx, body, timeout_ms, OP_IDEMPOTENT, cb, arg);
}

void
geokv_set_async(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk,
                struct geokv_bytes v, uint32_t ttl_s, int timeout_ms, geokv_done_fn *cb, void *arg)
{
    struct bytes hash_key = wire_bytes(hk), sort_key = wire_bytes(sk), value = wire_bytes(v);
    struct write_op op = {OP_SET, hash_key, sort_key, value, ttl_s};
    struct msg_write_req m = {1, &op};
    struct async_ctx *a = xmalloc(sizeof(*a));
    struct buf req = BUF_INIT;
    int err = check_key(hash_key);

    if (err == 0)
        err = check_value_len(value);
    *a = (struct async_ctx){.set_cb = cb, .arg = arg};
    if (err == 0)
        msg_write_req_encode(&req, &m);
    async_start(t, err, RPC_WRITE, hash_key, sort_key, &req, timeout_ms, set_async_done, a);
    buf_fini(&req);
}

void
geokv_get_async(struct geokv_table *t, struct geokv_bytes hk, struct geokv_bytes sk, int timeout_ms,
                geokv_get_fn *cb, void *arg)
{
    struct bytes hash_key = wire_bytes(hk), sort_key = wire_bytes(sk);
    struct msg_get_req m = {hash_key, sort_key};
    struct async_ctx *a = xmalloc(sizeof(*a));
    struct buf req = BUF_INIT;
    int err = check_key(hash_key);

    *a = (struct async_ctx){.get_cb = cb, .arg = arg};
    if (err == 0)
        msg_get_req_encode(&req, &m);
    async_start(t, err, RPC_GET, hash_key, sort_key, &req, timeout_ms, get_async_done, a);
    buf_fini(&req);
}
