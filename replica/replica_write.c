/*
 * replica_write.c: the write path of a partition primary.
 *
 * Every write request (set/del/multi_*, incr, check_and_set) becomes one mutation of
 * idempotent full-record writes: the primary stamps each op with a timetag from its hybrid
 * clock, turns a TTL into an absolute expiry, and turns incr / check_and_set into the set
 * they produce (or nothing), so what is logged can be replayed, replicated and shipped as is.
 *
 * replica_propose (replica_2pc.c) then replicates it and answers once it commits.
 * incr and check_and_set read the latest value through the prepare list, so they see writes
 * that are proposed but not committed yet. Runs on: replica loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "replica/replica_int.h"

static int
check_sizes(const struct replica *r, size_t hk_len, size_t v_len)
{
    if (hk_len > GEOKV_MAX_HASH_KEY || v_len > r->opts->max_value_bytes)
        return ERR_TOO_LARGE;
    return 0;
}

static uint32_t
expire_of(uint32_t ttl_s)
{
    return ttl_s ? (uint32_t)(clock_wall_s() + ttl_s) : 0;
}

int
replica_check_primary(struct replica *r)
{
    if (r->role != ROLE_PRIMARY || !host_lease_valid(r))
        return ERR_NOT_PRIMARY;
    return r->last_committed < r->serve_from || r->follow != NULL ? ERR_BUSY : 0;
}

int
replica_check_writable(struct replica *r)
{
    int rc = replica_check_primary(r);
    if (rc == 0 && r->log_error != 0)
        rc = r->log_error == -ENOSPC ? ERR_DISK_FULL : ERR_IO;
    return rc;
}

/* A client's write (not a duplicated one): also refused while the table denies writes. */
static int
check_client_writable(struct replica *r)
{
    int rc = replica_check_writable(r);
    return rc == 0 && r->deny_write ? ERR_WRITE_DENIED : rc;
}

/* Fills op as a set (or a tombstone when del) stamped with ts. */
static void
make_op(struct replica *r, struct mutation_op *op, bool del, struct bytes hk, struct bytes sk,
        struct bytes value, uint32_t expire_ts, uint64_t ts)
{
    op->type = del ? OP_DEL : OP_SET;
    op->hash_key = hk;
    op->sort_key = sk;
    op->value = del ? bytes_of(NULL, 0) : value;
    op->expire_ts = del ? 0 : expire_ts;
    op->timetag = timetag_make(ts, r->cluster_id, del);
}

static int
bytes_cmp(struct bytes a, struct bytes b)
{
    int c = memcmp(a.p, b.p, a.len < b.len ? a.len : b.len);
    return c != 0 ? c : (a.len > b.len) - (a.len < b.len);
}

static int
op_order(const void *a, const void *b)
{
    const struct write_op *x = *(const struct write_op *const *)a;
    const struct write_op *y = *(const struct write_op *const *)b;
    int c = bytes_cmp(x->hash_key, y->hash_key);
    if (c == 0)
        c = bytes_cmp(x->sort_key, y->sort_key);
    return c != 0 ? c : (x > y) - (x < y); /* same key: request order */
}

/* Marks which ops of the request count: of several naming one key only the last, as a
 * local write batch would keep. One op per key per mutation means its ops never need a
 * tie-break between equal timetags, on any replica or cluster. */
static void
last_op_per_key(const struct msg_write_req *w, bool *keep)
{
    const struct write_op **sorted = xmalloc(w->nops * sizeof(*sorted));
    for (uint32_t i = 0; i < w->nops; i++)
        sorted[i] = &w->ops[i];
    qsort(sorted, w->nops, sizeof(*sorted), op_order);
    for (uint32_t i = 0; i < w->nops; i++)
        keep[sorted[i] - w->ops] = i + 1 == w->nops ||
                                   bytes_cmp(sorted[i]->hash_key, sorted[i + 1]->hash_key) ||
                                   bytes_cmp(sorted[i]->sort_key, sorted[i + 1]->sort_key);
    xfree(sorted);
}

void
replica_on_write(struct replica *r, struct rpc_request *req)
{
    struct msg_write_req w;
    struct unpacked *zone;
    struct mutation m = {0};
    struct buf reply = BUF_INIT;
    bool *keep = NULL;
    uint64_t ts;
    int rc = check_client_writable(r);
    zone = NULL;
    if (rc == 0)
        rc = msg_write_req_decode(req->env.body, req->env.body_len, &w, &zone);
    if (rc == 0 && w.nops == 0)
        rc = ERR_INVALID_ARG;
    for (uint32_t i = 0; rc == 0 && i < w.nops; i++)
        rc = check_sizes(r, w.ops[i].hash_key.len, w.ops[i].value.len);
    if (rc != 0)
        goto out;
    ts = replica_next_ts(r);
    keep = xmalloc(w.nops * sizeof(*keep));
    last_op_per_key(&w, keep);
    m.ops = xcalloc(w.nops, sizeof(*m.ops));
    for (uint32_t i = 0; i < w.nops; i++)
        if (keep[i])
            make_op(r, &m.ops[m.nops++], w.ops[i].type == OP_DEL, w.ops[i].hash_key,
                    w.ops[i].sort_key, w.ops[i].value, expire_of(w.ops[i].ttl_s), ts);
    msg_write_resp_encode(&reply, &(struct msg_write_resp){r->last_prepared + 1});
    replica_propose(r, &m, req, &reply);
    req = NULL;
    mutation_fini(&m);
out:
    xfree(keep);
    if (zone)
        msg_write_req_fini(&w);
    unpacked_free(zone);
    buf_fini(&reply);
    if (req)
        replica_reply_err(r, req, rc);
}

/* Finds the newest proposed (uncommitted) write of (hk, sk). 1 found (rec filled), 0 none. */
static int
read_prepared(struct replica *r, struct bytes hk, struct bytes sk, struct storage_record *rec)
{
    for (size_t i = r->plist_n; i-- > 0;) {
        struct unpacked *zone;
        struct mutation m;
        int found = 0;
        if (mutation_decode(r->plist[i].encoded.data, r->plist[i].encoded.len, &m, &zone) != 0)
            continue;
        for (uint32_t k = m.nops; k-- > 0 && !found;) {
            const struct mutation_op *op = &m.ops[k];
            if (op->hash_key.len != hk.len || op->sort_key.len != sk.len ||
                memcmp(op->hash_key.p, hk.p, hk.len) != 0 ||
                memcmp(op->sort_key.p, sk.p, sk.len) != 0)
                continue;
            rec->expire_ts = op->expire_ts;
            rec->timetag = op->timetag;
            rec->vlen = op->value.len;
            rec->value = xmemdup(op->value.p, op->value.len);
            found = 1;
        }
        mutation_fini(&m);
        unpacked_free(zone);
        if (found)
            return 1;
    }
    return 0;
}

int
replica_read_latest(struct replica *r, struct bytes hk, struct bytes sk, struct storage_record *rec,
                    bool *proposed)
{
    int rc;
    bool in_plist = read_prepared(r, hk, sk, rec);
    if (proposed)
        *proposed = in_plist;
    if (in_plist)
        return 1;
    rc = storage_get(r->storage, hk.p, hk.len, sk.p, sk.len, rec);
    return rc == ERR_NOT_FOUND ? 0 : rc == 0 ? 1 : rc;
}

/* Reads the live record at (hk, sk), proposed writes included: 1 found, 0 absent (or
 * deleted, or expired), < 0 error. */
static int
read_live(struct replica *r, struct bytes hk, struct bytes sk, struct storage_record *rec)
{
    int rc = replica_read_latest(r, hk, sk, rec, NULL);
    if (rc <= 0)
        return rc;
    if (!storage_record_visible(rec, (uint32_t)clock_wall_s())) {
        storage_record_fini(rec);
        return 0;
    }
    return 1;
}

/* Parses a stored decimal integer (an empty value counts as 0, like Pegasus). */
static int
parse_int64(const uint8_t *p, size_t n, int64_t *out)
{
    char tmp[24], *end;
    *out = 0;
    if (n == 0)
        return 0;
    if (n >= sizeof(tmp))
        return ERR_NOT_A_NUMBER;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtoll(tmp, &end, 10);
    return (errno || *end != '\0' || end == tmp) ? ERR_NOT_A_NUMBER : 0;
}

void
replica_on_incr(struct replica *r, struct rpc_request *req)
{
    struct msg_incr_req in;
    struct unpacked *zone;
    struct storage_record rec = {0};
    struct mutation m = {0};
    struct mutation_op op;
    struct buf reply = BUF_INIT;
    char num[24];
    int64_t base = 0, result;
    uint32_t expire = 0;
    int found, rc = check_client_writable(r);
    zone = NULL;
    if (rc == 0)
        rc = msg_incr_req_decode(req->env.body, req->env.body_len, &in, &zone);
    if (rc == 0)
        rc = check_sizes(r, in.hash_key.len, 0);
    if (rc != 0)
        goto out;
    found = read_live(r, in.hash_key, in.sort_key, &rec);
    rc = found < 0 ? found : 0;
    if (found > 0) {
        rc = parse_int64(rec.value, rec.vlen, &base);
        expire = rec.expire_ts;
        storage_record_fini(&rec);
    }
    if (rc == 0 && __builtin_add_overflow(base, in.delta, &result))
        rc = ERR_OVERFLOW;
    if (rc != 0)
        goto out;
    if (in.ttl_s)
        expire = expire_of(in.ttl_s);
    snprintf(num, sizeof(num), "%" PRId64, result);
    make_op(r, &op, false, in.hash_key, in.sort_key, bytes_of(num, strlen(num)), expire,
            replica_next_ts(r));
    m.nops = 1;
    m.ops = &op;
    msg_incr_resp_encode(&reply, &(struct msg_incr_resp){result});
    replica_propose(r, &m, req, &reply);
    req = NULL;
out:
    unpacked_free(zone);
    buf_fini(&reply);
    if (req)
        replica_reply_err(r, req, rc);
}

static bool
cas_check_passes(const struct msg_cas_req *c, int found, const struct storage_record *rec)
{
    switch (c->check_type) {
    case CAS_NOT_EXIST: return found == 0;
    case CAS_EXIST: return found > 0;
    case CAS_VALUE_EQUAL:
        return found > 0 && rec->vlen == c->check_operand.len &&
               (rec->vlen == 0 || memcmp(rec->value, c->check_operand.p, rec->vlen) == 0);
    }
    return false;
}

void
replica_on_cas(struct replica *r, struct rpc_request *req)
{
    struct msg_cas_req c;
    struct unpacked *zone;
    struct storage_record rec = {0};
    struct buf reply = BUF_INIT;
    int found, rc = check_client_writable(r);
    zone = NULL;
    if (rc == 0)
        rc = msg_cas_req_decode(req->env.body, req->env.body_len, &c, &zone);
    if (rc == 0)
        rc = check_sizes(r, c.hash_key.len, c.set_value.len);
    if (rc != 0)
        goto out;
    found = read_live(r, c.hash_key, c.check_sort_key, &rec);
    if (found < 0) {
        rc = found;
        goto out;
    }
    msg_cas_resp_encode(
        &reply, &(struct msg_cas_resp){found > 0, bytes_of(rec.value, found > 0 ? rec.vlen : 0)});
    if (!rpc_reply_fits(req, reply.len)) {
        /* before anything is written: the client asks again with room for the value */
        rpc_reply(req, 0, reply.data, reply.len);
        req = NULL;
    } else if (!cas_check_passes(&c, found, &rec)) {
        rpc_reply(req, ERR_CHECK_FAILED, reply.data, reply.len);
        req = NULL;
    } else {
        struct mutation_op op;
        struct mutation m = {.nops = 1, .ops = &op};
        make_op(r, &op, false, c.hash_key, c.set_sort_key, c.set_value, expire_of(c.ttl_s),
                replica_next_ts(r));
        replica_propose(r, &m, req, &reply);
        req = NULL;
    }
    if (found > 0)
        storage_record_fini(&rec);
out:
    unpacked_free(zone);
    buf_fini(&reply);
    if (req)
        replica_reply_err(r, req, rc);
}
