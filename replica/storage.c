/*
 * storage.c: what storage.h does the same on every engine (key and value layouts, batches,
 * record visibility, argument checks), and the dispatch to the engine (storage_engine.h).
 */
#include "replica/storage_engine.h"

#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"

/* ---------------------------------------------------------------- open / close */

uint32_t
storage_tombstone_ttl_s(const struct storage_opts *o)
{
    return o && o->tombstone_ttl_s ? o->tombstone_ttl_s : STORAGE_DEFAULT_TOMBSTONE_TTL_S;
}

int
storage_open(const char *dir, const struct storage_opts *opts, struct storage **out)
{
    const struct storage_engine *e = opts && opts->engine ? opts->engine : &storage_rocksdb;
    int rc = e->open(dir, opts, out);
    if (rc == 0)
        (*out)->engine = e;
    return rc;
}

void
storage_close(struct storage *s)
{
    if (s != NULL)
        s->engine->close(s);
}

decree_t
storage_last_applied(const struct storage *s)
{
    return s->engine->last_applied(s);
}

uint64_t
storage_max_ts(const struct storage *s)
{
    return s->engine->max_ts(s);
}

/* ---------------------------------------------------------------- keys */

void
storage_key_encode(struct buf *out, const void *hk, size_t hk_len, const void *sk, size_t sk_len)
{
    ASSERT(hk_len <= GEOKV_MAX_HASH_KEY);
    buf_reserve(out, 2 + hk_len + sk_len);
    buf_append_be16(out, (uint16_t)hk_len);
    buf_append(out, hk, hk_len);
    buf_append(out, sk, sk_len);
}

int
storage_key_decode(const uint8_t *key, size_t len, const uint8_t **hk, size_t *hk_len,
                   const uint8_t **sk, size_t *sk_len)
{
    *hk = *sk = NULL;
    *hk_len = *sk_len = 0;
    if (len < 2)
        return ERR_INVALID_DATA;
    size_t hl = be16_load(key);
    if (2 + hl > len)
        return ERR_INVALID_DATA;
    *hk = key + 2;
    *hk_len = hl;
    *sk = key + 2 + hl;
    *sk_len = len - 2 - hl;
    return 0;
}

void
storage_key_prefix_end(struct buf *out, const void *hk, size_t hk_len)
{
    size_t start = out->len;

    storage_key_encode(out, hk, hk_len, NULL, 0);
    /* Strip trailing 0xff bytes and increment the last one; nothing left = no upper bound. */
    while (out->len > start && out->data[out->len - 1] == 0xff)
        out->len--;
    if (out->len > start)
        out->data[out->len - 1]++;
}

/* ---------------------------------------------------------------- batches and writes */

struct storage_batch *
storage_batch_create(void)
{
    return xcalloc(1, sizeof(struct storage_batch));
}

void
storage_batch_destroy(struct storage_batch *b)
{
    if (b == NULL)
        return;
    buf_fini(&b->recs);
    xfree(b);
}

void
storage_batch_clear(struct storage_batch *b)
{
    buf_reset(&b->recs);
    b->max_ts = 0;
}

void
storage_batch_put(struct storage_batch *b, const void *hk, size_t hk_len, const void *sk,
                  size_t sk_len, uint32_t expire_ts, uint64_t timetag, const void *value,
                  size_t vlen)
{
    buf_reserve(&b->recs, 4 + 2 + hk_len + sk_len + 4 + STORAGE_VALUE_HEADER + vlen);
    buf_append_be32(&b->recs, (uint32_t)(2 + hk_len + sk_len));
    storage_key_encode(&b->recs, hk, hk_len, sk, sk_len);
    buf_append_be32(&b->recs, (uint32_t)(STORAGE_VALUE_HEADER + vlen));
    buf_append_be32(&b->recs, expire_ts);
    buf_append_be64(&b->recs, timetag);
    buf_append(&b->recs, value, vlen);
    if (timetag_ts(timetag) > b->max_ts)
        b->max_ts = timetag_ts(timetag);
}

bool
storage_batch_next(const struct storage_batch *b, size_t *off, const uint8_t **key, size_t *klen,
                   const uint8_t **value, size_t *vlen)
{
    const uint8_t *p = b->recs.data + *off;
    if (*off >= b->recs.len)
        return false;
    *klen = be32_load(p);
    *key = p + 4;
    *vlen = be32_load(p + 4 + *klen);
    *value = p + 8 + *klen;
    *off += 8 + *klen + *vlen;
    return true;
}

int
storage_apply(struct storage *s, struct storage_batch *b, decree_t decree)
{
    if (decree <= storage_last_applied(s)) {
        LOG_ERROR("storage: apply decree %lld <= last applied %lld", (long long)decree,
                  (long long)storage_last_applied(s));
        return ERR_INVALID_ARG;
    }
    return s->engine->apply(s, b, decree);
}

/* ---------------------------------------------------------------- records */

/* Fills a record from a raw stored value; ERR_INVALID_DATA if it is shorter than its header. */
static int
record_decode(const uint8_t *v, size_t vlen, uint32_t *expire_ts, uint64_t *timetag,
              const uint8_t **value, size_t *len)
{
    *expire_ts = 0;
    *timetag = 0;
    *value = NULL;
    *len = 0;
    if (vlen < STORAGE_VALUE_HEADER)
        return ERR_INVALID_DATA;
    *expire_ts = be32_load(v);
    *timetag = be64_load(v + 4);
    *value = v + STORAGE_VALUE_HEADER;
    *len = vlen - STORAGE_VALUE_HEADER;
    return 0;
}

int
storage_get(struct storage *s, const void *hk, size_t hk_len, const void *sk, size_t sk_len,
            struct storage_record *out)
{
    struct buf key = BUF_INIT;
    uint8_t *raw = NULL;
    const uint8_t *value;
    size_t vlen = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    storage_key_encode(&key, hk, hk_len, sk, sk_len);
    rc = s->engine->get(s, &key, &raw, &vlen);
    buf_fini(&key);
    if (rc != 0)
        return rc;
    rc = record_decode(raw, vlen, &out->expire_ts, &out->timetag, &value, &out->vlen);
    if (rc != 0)
        LOG_ERROR("storage: record value has %zu bytes, shorter than its header", vlen);
    else {
        out->value = xmalloc(out->vlen ? out->vlen : 1);
        memcpy(out->value, value, out->vlen);
    }
    s->engine->free_value(raw);
    return rc;
}

void
storage_record_fini(struct storage_record *r)
{
    xfree(r->value);
    r->value = NULL;
    r->vlen = 0;
}

bool
storage_record_visible(const struct storage_record *r, uint32_t now_s)
{
    if (timetag_deleted(r->timetag))
        return false;
    return r->expire_ts == 0 || r->expire_ts > now_s;
}

/*
 * Expiry and deletion converge across clusters only if a record's timetag outlives every
 * older duplicated write of its key that may still arrive: once the timetag is gone, such a
 * write would be applied again (resurrection) in one cluster and not in another. So an
 * invisible record (a tombstone, or a record whose expire_ts passed) is kept whole until
 * tombstone_ttl after its timetag's timestamp; a duplicated write older than that is flagged
 * on arrival (dup_apply.c). (Its value is kept too: a replica whose clock runs ahead must not
 * change a record its peers still serve.) Reads nothing but its arguments: RocksDB calls it on
 * its compaction threads.
 */
bool
storage_record_expendable(const uint8_t *v, size_t vlen, uint64_t tombstone_ttl_us)
{
    if (vlen < STORAGE_VALUE_HEADER)
        return false;
    uint32_t expire_ts = be32_load(v);
    uint64_t timetag = be64_load(v + 4);
    bool expired = expire_ts != 0 && (int64_t)expire_ts <= clock_wall_s();
    if (!expired && !timetag_deleted(timetag))
        return false;
    uint64_t now_us = (uint64_t)clock_wall_us();
    uint64_t ts = timetag_ts(timetag);
    return ts < now_us && now_us - ts > tombstone_ttl_us;
}

/* ---------------------------------------------------------------- iterators */

int
storage_iter_create(struct storage *s, const void *start, size_t start_len, const void *stop,
                    size_t stop_len, struct storage_iter **out)
{
    int rc = s->engine->iter_create(s, start, start_len, stop, stop_len, out);
    if (rc == 0)
        (*out)->engine = s->engine;
    return rc;
}

bool
storage_iter_valid(struct storage_iter *it)
{
    return it->engine->iter_valid(it);
}

int
storage_iter_status(struct storage_iter *it)
{
    return it->engine->iter_status(it);
}

void
storage_iter_next(struct storage_iter *it)
{
    it->engine->iter_next(it);
}

void
storage_iter_key(struct storage_iter *it, const uint8_t **key, size_t *len)
{
    const uint8_t *v;
    size_t vlen;
    it->engine->iter_entry(it, key, len, &v, &vlen);
}

int
storage_iter_value(struct storage_iter *it, uint32_t *expire_ts, uint64_t *timetag,
                   const uint8_t **value, size_t *vlen)
{
    const uint8_t *k, *v;
    size_t klen, len;
    it->engine->iter_entry(it, &k, &klen, &v, &len);
    return record_decode(v, len, expire_ts, timetag, value, vlen);
}

void
storage_iter_destroy(struct storage_iter *it)
{
    if (it != NULL)
        it->engine->iter_destroy(it);
}

/* ---------------------------------------------------------------- flush, checkpoint, compact */

int
storage_flush(struct storage *s, decree_t *durable_out)
{
    return s->engine->flush(s, durable_out);
}

int
storage_checkpoint(struct storage *s, const char *dir, decree_t *decree_out)
{
    return s->engine->checkpoint(s, dir, decree_out);
}

void
storage_compact(struct storage *s)
{
    s->engine->compact(s);
}
