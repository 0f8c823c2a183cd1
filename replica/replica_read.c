/*
 * replica_read.c: get, multi_get and scan on a partition primary. Reads see only applied
 * (hence acknowledged) writes; tombstones and expired records are invisible. Also the
 * replica digest (RPC_DIGEST), which any replica answers, tombstones included, and the
 * bucket digests and listings of dup verify (RPC_VERIFY).
 * Runs on: replica loop.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/hash.h"
#include "proto/pack.h"
#include "replica/replica_int.h"

#define SCAN_DEFAULT_LIMIT 1000
#define SCAN_MAX_REPLY_BYTES (4u << 20)
#define VERIFY_PAGE_RECORDS 100000 /* records one RPC_VERIFY reads: ~0.1 s of the loop */

void
replica_on_get(struct replica *r, struct rpc_request *req)
{
    struct msg_get_req g;
    struct unpacked *zone;
    struct storage_record rec;
    struct buf out = BUF_INIT;
    int rc = msg_get_req_decode(req->env.body, req->env.body_len, &g, &zone);
    if (rc == 0)
        rc = g.hash_key.len > GEOKV_MAX_HASH_KEY ? ERR_TOO_LARGE : 0;
    if (rc == 0)
        rc = storage_get(r->storage, g.hash_key.p, g.hash_key.len, g.sort_key.p, g.sort_key.len,
                         &rec);
    if (rc == 0) {
        if (storage_record_visible(&rec, (uint32_t)clock_wall_s()))
            msg_get_resp_encode(&out, &(struct msg_get_resp){bytes_of(rec.value, rec.vlen),
                                                             rec.expire_ts, rec.timetag});
        else
            rc = ERR_NOT_FOUND;
        storage_record_fini(&rec);
    }
    unpacked_free(zone);
    if (rc == 0)
        rpc_reply(req, 0, out.data, out.len);
    else
        replica_reply_err(r, req, rc);
    buf_fini(&out);
}

/* Growing list of records whose bytes are copied into one arena buffer. */
struct record_list {
    struct kv_record *v;
    uint32_t n, cap;
    struct buf arena;
    size_t bytes;
};

static void
record_list_add(struct record_list *l, const uint8_t *hk, size_t hk_len, const uint8_t *sk,
                size_t sk_len, const uint8_t *val, size_t vlen, uint32_t expire_ts,
                uint64_t timetag)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    /* store offsets now; turned into pointers once the arena stops moving */
    l->v[l->n++] =
        (struct kv_record){{(const uint8_t *)(uintptr_t)l->arena.len, hk_len},
                           {(const uint8_t *)(uintptr_t)(l->arena.len + hk_len), sk_len},
                           {(const uint8_t *)(uintptr_t)(l->arena.len + hk_len + sk_len), vlen},
                           expire_ts,
                           timetag};
    buf_append(&l->arena, hk, hk_len);
    buf_append(&l->arena, sk, sk_len);
    buf_append(&l->arena, val, vlen);
    l->bytes += hk_len + sk_len + vlen + 32;
}

/* Turns the stored offsets into pointers into the arena (which no longer grows). */
static void
record_list_resolve(struct record_list *l)
{
    for (uint32_t i = 0; i < l->n; i++) {
        l->v[i].hash_key.p = l->arena.data + (uintptr_t)l->v[i].hash_key.p;
        l->v[i].sort_key.p = l->arena.data + (uintptr_t)l->v[i].sort_key.p;
        l->v[i].value.p = l->arena.data + (uintptr_t)l->v[i].value.p;
    }
}

/* Encodes the list as a records reply and frees it. */
static void
record_list_reply(struct record_list *l, struct rpc_request *req, const struct buf *next_key)
{
    struct msg_records_resp resp = {l->n, l->v, bytes_of(next_key->data, next_key->len)};
    struct buf out = BUF_INIT;
    record_list_resolve(l);
    msg_records_resp_encode(&out, &resp);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
    buf_fini(&l->arena);
    xfree(l->v);
}

/* Raw-key bounds of a read, and where the next page starts. */
struct key_range {
    struct buf start, stop, next;
};

/* Collects visible records of [start, stop) up to limit; rg->next = where to resume. */
static int
collect_range(struct replica *r, struct key_range *rg, uint32_t limit, struct record_list *l)
{
    struct storage_iter *it;
    uint32_t now = (uint32_t)clock_wall_s();
    int rc = storage_iter_create(r->storage, rg->start.data, rg->start.len, rg->stop.data,
                                 rg->stop.len, &it);
    if (rc != 0)
        return rc;
    for (; storage_iter_valid(it); storage_iter_next(it)) {
        const uint8_t *key, *hk, *sk, *val;
        size_t klen, hk_len, sk_len, vlen;
        struct storage_record rec = {0};
        storage_iter_key(it, &key, &klen);
        if (l->n >= limit || l->bytes >= SCAN_MAX_REPLY_BYTES) {
            buf_append(&rg->next, key, klen);
            break;
        }
        if (storage_key_decode(key, klen, &hk, &hk_len, &sk, &sk_len) != 0 ||
            storage_iter_value(it, &rec.expire_ts, &rec.timetag, &val, &vlen) != 0) {
            RLOG_WARN(r, "skipping a malformed record (%zu byte key)", klen);
            continue;
        }
        if (storage_record_visible(&rec, now))
            record_list_add(l, hk, hk_len, sk, sk_len, val, vlen, rec.expire_ts, rec.timetag);
    }
    storage_iter_destroy(it);
    return 0;
}

/* Answers a multi_get / scan with the records, or with rc; frees the list and the range. */
static void
reply_records(struct replica *r, struct rpc_request *req, int rc, struct record_list *l,
              struct key_range *rg)
{
    if (rc == 0) {
        record_list_reply(l, req, &rg->next);
    } else {
        replica_reply_err(r, req, rc);
        buf_fini(&l->arena);
        xfree(l->v);
    }
    buf_fini(&rg->start);
    buf_fini(&rg->stop);
    buf_fini(&rg->next);
}

static void
get_sort_keys(struct replica *r, const struct msg_multi_get_req *g, struct record_list *l)
{
    uint32_t now = (uint32_t)clock_wall_s();
    for (uint32_t i = 0; i < g->nkeys; i++) {
        struct storage_record rec;
        if (storage_get(r->storage, g->hash_key.p, g->hash_key.len, g->sort_keys[i].p,
                        g->sort_keys[i].len, &rec) != 0)
            continue;
        if (storage_record_visible(&rec, now))
            record_list_add(l, g->hash_key.p, g->hash_key.len, g->sort_keys[i].p,
                            g->sort_keys[i].len, rec.value, rec.vlen, rec.expire_ts, rec.timetag);
        storage_record_fini(&rec);
    }
}

void
replica_on_multi_get(struct replica *r, struct rpc_request *req)
{
    struct msg_multi_get_req g;
    struct unpacked *zone;
    struct record_list l = {0};
    struct key_range rg = {BUF_INIT, BUF_INIT, BUF_INIT};
    int rc = msg_multi_get_req_decode(req->env.body, req->env.body_len, &g, &zone);
    if (rc == 0 && g.hash_key.len > GEOKV_MAX_HASH_KEY)
        rc = ERR_TOO_LARGE;
    if (rc == 0 && g.nkeys > 0) {
        get_sort_keys(r, &g, &l);
    } else if (rc == 0) {
        storage_key_encode(&rg.start, g.hash_key.p, g.hash_key.len, NULL, 0);
        storage_key_prefix_end(&rg.stop, g.hash_key.p, g.hash_key.len);
        rc = collect_range(r, &rg, g.max_count ? g.max_count : UINT32_MAX, &l);
    }
    if (zone)
        msg_multi_get_req_fini(&g);
    unpacked_free(zone);
    reply_records(r, req, rc, &l, &rg);
}

void
replica_on_scan(struct replica *r, struct rpc_request *req)
{
    struct msg_scan_req s;
    struct unpacked *zone;
    struct record_list l = {0};
    struct key_range rg = {BUF_INIT, BUF_INIT, BUF_INIT};
    int rc = msg_scan_req_decode(req->env.body, req->env.body_len, &s, &zone);
    if (rc == 0 && s.hash_key.len > GEOKV_MAX_HASH_KEY)
        rc = ERR_TOO_LARGE;
    if (rc == 0) {
        if (s.resume_key.len)
            buf_append(&rg.start, s.resume_key.p, s.resume_key.len);
        else if (!s.full)
            storage_key_encode(&rg.start, s.hash_key.p, s.hash_key.len, s.start_sort_key.p,
                               s.start_sort_key.len);
        if (!s.full && s.stop_sort_key.len)
            storage_key_encode(&rg.stop, s.hash_key.p, s.hash_key.len, s.stop_sort_key.p,
                               s.stop_sort_key.len);
        else if (!s.full)
            storage_key_prefix_end(&rg.stop, s.hash_key.p, s.hash_key.len);
        rc = collect_range(r, &rg, s.limit ? s.limit : SCAN_DEFAULT_LIMIT, &l);
    }
    unpacked_free(zone);
    reply_records(r, req, rc, &l, &rg);
}

/* Feeds one record into the digest: u32 key length, raw storage key, u32 value length, user
 * value, u32 expire_ts, u64 timetag, every integer big-endian. */
static void
digest_record(EVP_MD_CTX *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
              uint32_t expire_ts, uint64_t timetag)
{
    uint8_t n[8];
    be32_store(n, (uint32_t)klen);
    ASSERT(EVP_DigestUpdate(ctx, n, 4) == 1 && EVP_DigestUpdate(ctx, key, klen) == 1);
    be32_store(n, (uint32_t)vlen);
    ASSERT(EVP_DigestUpdate(ctx, n, 4) == 1 && EVP_DigestUpdate(ctx, val, vlen) == 1);
    be32_store(n, expire_ts);
    ASSERT(EVP_DigestUpdate(ctx, n, 4) == 1);
    be64_store(n, timetag);
    ASSERT(EVP_DigestUpdate(ctx, n, 8) == 1);
}

/* Hashes every unexpired record (tombstones included) in raw-key order into d. */
static int
digest_storage(struct replica *r, struct msg_digest_resp *d)
{
    uint32_t now = (uint32_t)clock_wall_s();
    unsigned int len = 0;
    struct storage_iter *it;
    EVP_MD_CTX *ctx;
    int rc = storage_iter_create(r->storage, NULL, 0, NULL, 0, &it);

    if (rc != 0)
        return rc;
    ctx = EVP_MD_CTX_new();
    ASSERT(ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
    for (; rc == 0 && storage_iter_valid(it); storage_iter_next(it)) {
        const uint8_t *key, *val;
        size_t klen, vlen;
        uint32_t expire_ts;
        uint64_t timetag;
        storage_iter_key(it, &key, &klen);
        rc = storage_iter_value(it, &expire_ts, &timetag, &val, &vlen);
        if (rc != 0) {
            RLOG_ERROR(r, "digest: malformed record (%zu byte key)", klen);
        } else if (expire_ts == 0 || expire_ts > now) {
            digest_record(ctx, key, klen, val, vlen, expire_ts, timetag);
            d->records++;
        }
    }
    storage_iter_destroy(it);
    ASSERT(EVP_DigestFinal_ex(ctx, d->sha256, &len) == 1 && len == 32);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/*
 * RPC_DIGEST on any replica (primary, secondary or learner): SHA-256 over the partition's
 * records and last_committed, taken together on the owner loop so they agree. Blocks the
 * loop for one pass over the partition (an operator/test command, not a hot path).
 */
void
replica_on_digest(struct replica *r, struct rpc_request *req)
{
    struct msg_digest_resp d = {.last_committed = r->last_committed};
    struct buf out = BUF_INIT;
    int rc = digest_storage(r, &d);

    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    msg_digest_resp_encode(&out, &d);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
}

/* ---------------- RPC_VERIFY ---------------- */

struct bucket_slot {
    uint64_t id;
    uint32_t idx; /* in the request */
};

static int
slot_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct bucket_slot *)a)->id, y = ((const struct bucket_slot *)b)->id;
    return x < y ? -1 : x > y;
}

/* The request's index of the record's bucket, or -1 if not asked for. */
static int64_t
bucket_index(const struct bucket_slot *slots, uint32_t n, uint64_t modulus, const uint8_t *hk,
             size_t hk_len, const uint8_t *sk, size_t sk_len)
{
    struct bucket_slot key = {key_hash64(hk, hk_len, sk, sk_len) % modulus, 0};
    const struct bucket_slot *s = bsearch(&key, slots, n, sizeof(*slots), slot_cmp);
    return s ? (int64_t)s->idx : -1;
}

/* A record's contribution to its bucket's sum: both clusters hash the same fields alike. */
static uint64_t
record_hash(struct buf *scratch, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
            uint32_t expire_ts, uint64_t timetag)
{
    uint8_t n[12];
    buf_reset(scratch);
    be32_store(n, (uint32_t)klen);
    buf_append(scratch, n, 4);
    buf_append(scratch, key, klen);
    buf_append(scratch, val, vlen);
    be32_store(n, expire_ts);
    be64_store(n + 4, timetag);
    buf_append(scratch, n, 12);
    return XXH64(scratch->data, scratch->len, 0);
}

/* One pass over the partition: digests of the asked buckets, or a page of their records. */
static int
verify_scan(struct replica *r, const struct msg_verify_req *q, const struct bucket_slot *slots,
            struct bucket_digest *digests, struct record_list *l, struct buf *next)
{
    struct storage_iter *it;
    struct buf scratch = BUF_INIT;
    int rc = storage_iter_create(r->storage, q->resume_key.len ? q->resume_key.p : NULL,
                                 q->resume_key.len, NULL, 0, &it);
    if (rc != 0)
        return rc;
    for (uint32_t read = 0; storage_iter_valid(it); storage_iter_next(it), read++) {
        const uint8_t *key, *hk, *sk, *val;
        size_t klen, hk_len, sk_len, vlen;
        struct storage_record rec = {0};
        int64_t b;
        storage_iter_key(it, &key, &klen);
        if (read == VERIFY_PAGE_RECORDS) { /* the loop serves other requests meanwhile */
            buf_append(next, key, klen);
            break;
        }
        if (storage_key_decode(key, klen, &hk, &hk_len, &sk, &sk_len) != 0 ||
            storage_iter_value(it, &rec.expire_ts, &rec.timetag, &val, &vlen) != 0) {
            RLOG_WARN(r, "verify: skipping a malformed record (%zu byte key)", klen);
            continue;
        }
        b = bucket_index(slots, q->nbuckets, q->modulus, hk, hk_len, sk, sk_len);
        if (b < 0)
            continue;
        if (q->list_limit == 0) {
            if (storage_record_visible(&rec, q->live_at_s)) {
                digests[b].records++;
                digests[b].sum +=
                    record_hash(&scratch, key, klen, val, vlen, rec.expire_ts, rec.timetag);
            }
            continue;
        }
        if (l->n >= q->list_limit || l->bytes >= SCAN_MAX_REPLY_BYTES) {
            buf_append(next, key, klen);
            break;
        }
        record_list_add(l, hk, hk_len, sk, sk_len, val, vlen, rec.expire_ts, rec.timetag);
    }
    rc = storage_iter_status(it);
    storage_iter_destroy(it);
    buf_fini(&scratch);
    return rc;
}

/*
 * RPC_VERIFY on the primary: a page of at most VERIFY_PAGE_RECORDS records read on the
 * partition's loop (the requests of the loop's partitions wait that long).
 */
void
replica_on_verify(struct replica *r, struct rpc_request *req)
{
    struct msg_verify_req q = {0};
    struct unpacked *zone = NULL;
    struct msg_verify_resp resp = {.last_committed = r->last_committed};
    struct bucket_slot *slots = NULL;
    struct record_list l = {0};
    struct buf next = BUF_INIT, out = BUF_INIT;
    int rc = replica_check_primary(r);

    if (rc == 0)
        rc = msg_verify_req_decode(req->env.body, req->env.body_len, &q, &zone);
    if (rc == 0 && q.nbuckets > 0) {
        slots = xmalloc(q.nbuckets * sizeof(*slots));
        for (uint32_t i = 0; i < q.nbuckets; i++)
            slots[i] = (struct bucket_slot){q.buckets[i], i};
        qsort(slots, q.nbuckets, sizeof(*slots), slot_cmp);
        if (q.list_limit == 0) {
            resp.ndigests = q.nbuckets;
            resp.digests = xcalloc(q.nbuckets, sizeof(*resp.digests));
        }
        rc = verify_scan(r, &q, slots, resp.digests, &l, &next);
    }
    if (rc == 0) {
        record_list_resolve(&l);
        resp.nrecords = l.n;
        resp.records = l.v;
        resp.next_key = bytes_of(next.data, next.len);
        msg_verify_resp_encode(&out, &resp);
        rpc_reply(req, 0, out.data, out.len);
    } else {
        replica_reply_err(r, req, rc);
    }
    if (zone)
        msg_verify_req_fini(&q);
    unpacked_free(zone);
    xfree(slots);
    xfree(resp.digests);
    xfree(l.v);
    buf_fini(&l.arena);
    buf_fini(&next);
    buf_fini(&out);
}
