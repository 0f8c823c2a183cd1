/*
 * storage_mem.c: the in-memory twin of the RocksDB engine, for in-process tests
 * (storage_engine.h). Records live in one array sorted by raw key (bytewise, as RocksDB
 * orders them); the last applied decree and max_ts are fields, not a record.
 *
 * Durability is RocksDB's without a WAL: a flush writes the whole DB as one image file,
 * <dir>/MEMDB (file_write_atomic), and an open loads the image. So whatever was applied after
 * the last flush is gone after a close or a crash, and the decree in the image always belongs
 * to its records. A checkpoint flushes, then writes the same image into the checkpoint's
 * directory, so checkpoints can be renamed and copied as files like RocksDB's.
 *
 * Image: "GKVMEM1\n", u64 BE last_applied, u64 BE max_ts, u64 BE count, count times
 * [u32 BE klen][key][u32 BE vlen][value], then u32 BE CRC32C of everything before it.
 *
 * Sized for tests (an insert moves the tail of the array). Thread: as storage.h; a mutex
 * guards the records, because flush and checkpoint may run on another thread.
 */
#include "replica/storage_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/file.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define MEM_MAGIC "GKVMEM1\n"
#define MEM_IMAGE "MEMDB"

struct mem_rec {
    uint8_t *key, *val;
    size_t klen, vlen;
};

struct mem {
    struct storage base;
    char *dir;
    uint64_t tombstone_ttl_us;
    pthread_mutex_t mu;
    struct mem_rec *recs; /* sorted by key */
    size_t n, cap;
    decree_t last_applied;
    uint64_t max_ts;
};

/* A copy of the records of a range, taken when the iterator is made (RocksDB's iterators read
 * a snapshot too). */
struct mem_iter {
    struct storage_iter base;
    struct mem_rec *recs;
    size_t n, pos;
};

static int
key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The index of the first record whose key is >= key. */
static size_t
lower_bound(const struct mem *m, const uint8_t *key, size_t klen)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(m->recs[mid].key, m->recs[mid].klen, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
rec_free(struct mem_rec *r)
{
    xfree(r->key);
    xfree(r->val);
}

static void
put(struct mem *m, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    size_t i = lower_bound(m, key, klen);
    if (i < m->n && key_cmp(m->recs[i].key, m->recs[i].klen, key, klen) == 0) {
        xfree(m->recs[i].val);
    } else {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->recs = xrealloc(m->recs, m->cap * sizeof(*m->recs));
        }
        memmove(m->recs + i + 1, m->recs + i, (m->n - i) * sizeof(*m->recs));
        m->n++;
        m->recs[i].key = xmemdup(key, klen ? klen : 1);
        m->recs[i].klen = klen;
    }
    m->recs[i].val = xmemdup(val, vlen ? vlen : 1);
    m->recs[i].vlen = vlen;
}

/* ---------------------------------------------------------------- the image file */

static void
image_encode(const struct mem *m, struct buf *out)
{
    buf_append(out, MEM_MAGIC, 8);
    buf_append_be64(out, (uint64_t)m->last_applied);
    buf_append_be64(out, m->max_ts);
    buf_append_be64(out, m->n);
    for (size_t i = 0; i < m->n; i++) {
        buf_append_be32(out, (uint32_t)m->recs[i].klen);
        buf_append(out, m->recs[i].key, m->recs[i].klen);
        buf_append_be32(out, (uint32_t)m->recs[i].vlen);
        buf_append(out, m->recs[i].val, m->recs[i].vlen);
    }
    buf_append_be32(out, crc32c(0, out->data, out->len));
}

/* Writes m's image into dir. Called with m->mu held. */
static int
image_write(const struct mem *m, const char *dir)
{
    char path[1024];
    struct buf img = BUF_INIT;
    int rc;
    snprintf(path, sizeof(path), "%s/" MEM_IMAGE, dir);
    image_encode(m, &img);
    rc = file_write_atomic(path, img.data, img.len);
    buf_fini(&img);
    if (rc != 0) {
        LOG_ERROR("storage %s: write %s: %s", m->dir, path, strerror(-rc));
        return rc == -ENOSPC ? ERR_DISK_FULL : ERR_IO;
    }
    return 0;
}

static int
read_all(const char *path, struct buf *out)
{
    uint8_t chunk[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(out, chunk, (size_t)n);
    n = n < 0 ? -errno : 0;
    close(fd);
    return (int)n;
}

/* Loads dir's image into the empty m; an absent image is an empty DB. */
static int
image_load(struct mem *m, const char *dir)
{
    char path[1024];
    struct buf img = BUF_INIT;
    const uint8_t *p, *end;
    uint64_t count;
    int rc;

    snprintf(path, sizeof(path), "%s/" MEM_IMAGE, dir);
    rc = read_all(path, &img);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        LOG_ERROR("storage %s: read %s: %s", dir, path, strerror(-rc));
        buf_fini(&img);
        return ERR_IO;
    }
    rc = ERR_INVALID_DATA;
    if (img.len < 8 + 24 + 4 || memcmp(img.data, MEM_MAGIC, 8) != 0 ||
        crc32c(0, img.data, img.len - 4) != be32_load(img.data + img.len - 4))
        goto out;
    p = img.data + 8;
    end = img.data + img.len - 4;
    m->last_applied = (decree_t)be64_load(p);
    m->max_ts = be64_load(p + 8);
    count = be64_load(p + 16);
    p += 24;
    for (uint64_t i = 0; i < count; i++) {
        size_t klen, vlen;
        const uint8_t *k;
        if (end - p < 4 || (size_t)(end - p) < 8 + (klen = be32_load(p)))
            goto out;
        k = p + 4;
        p += 4 + klen;
        vlen = be32_load(p);
        if ((size_t)(end - p) < 4 + vlen)
            goto out;
        put(m, k, klen, p + 4, vlen);
        p += 4 + vlen;
    }
    rc = p == end ? 0 : ERR_INVALID_DATA;
out:
    if (rc != 0)
        LOG_ERROR("storage %s: %s is corrupt", dir, path);
    buf_fini(&img);
    return rc;
}

/* ---------------------------------------------------------------- the engine */

static void
mem_free(struct mem *m)
{
    for (size_t i = 0; i < m->n; i++)
        rec_free(&m->recs[i]);
    xfree(m->recs);
    pthread_mutex_destroy(&m->mu);
    xfree(m->dir);
    xfree(m);
}

static int
mem_open(const char *dir, const struct storage_opts *opts, struct storage **out)
{
    struct mem *m;
    int rc;

    *out = NULL;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        LOG_ERROR("storage %s: mkdir: %s", dir, strerror(errno));
        return errno == ENOSPC ? ERR_DISK_FULL : ERR_IO;
    }
    m = xcalloc(1, sizeof(*m));
    m->dir = xstrdup(dir);
    m->tombstone_ttl_us = (uint64_t)storage_tombstone_ttl_s(opts) * 1000000u;
    pthread_mutex_init(&m->mu, NULL);
    rc = image_load(m, dir);
    if (rc != 0) {
        mem_free(m);
        return rc;
    }
    *out = &m->base;
    return 0;
}

static void
mem_close(struct storage *base)
{
    mem_free((struct mem *)base);
}

static decree_t
mem_last_applied(const struct storage *base)
{
    struct mem *m = (struct mem *)base;
    decree_t d;
    pthread_mutex_lock(&m->mu);
    d = m->last_applied;
    pthread_mutex_unlock(&m->mu);
    return d;
}

static uint64_t
mem_max_ts(const struct storage *base)
{
    return ((const struct mem *)base)->max_ts; /* owner loop only, as it is written */
}

static int
mem_apply(struct storage *base, const struct storage_batch *b, decree_t decree)
{
    struct mem *m = (struct mem *)base;
    const uint8_t *k, *v;
    size_t klen, vlen, off = 0;

    pthread_mutex_lock(&m->mu);
    while (storage_batch_next(b, &off, &k, &klen, &v, &vlen))
        put(m, k, klen, v, vlen);
    m->last_applied = decree;
    if (b->max_ts > m->max_ts)
        m->max_ts = b->max_ts;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

static int
mem_get(struct storage *base, const struct buf *key, uint8_t **raw, size_t *len)
{
    struct mem *m = (struct mem *)base;
    int rc = ERR_NOT_FOUND;
    size_t i;

    *raw = NULL;
    *len = 0;
    pthread_mutex_lock(&m->mu);
    i = lower_bound(m, key->data, key->len);
    if (i < m->n && key_cmp(m->recs[i].key, m->recs[i].klen, key->data, key->len) == 0) {
        *raw = xmemdup(m->recs[i].val, m->recs[i].vlen ? m->recs[i].vlen : 1);
        *len = m->recs[i].vlen;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void
mem_free_value(uint8_t *raw)
{
    xfree(raw);
}

static int
mem_iter_create(struct storage *base, const void *start, size_t start_len, const void *stop,
                size_t stop_len, struct storage_iter **out)
{
    struct mem *m = (struct mem *)base;
    struct mem_iter *it = xcalloc(1, sizeof(*it));

    pthread_mutex_lock(&m->mu);
    for (size_t i = lower_bound(m, start, start_len); i < m->n; i++) {
        const struct mem_rec *r = &m->recs[i];
        if (stop_len > 0 && key_cmp(r->key, r->klen, stop, stop_len) >= 0)
            break;
        it->recs = xrealloc(it->recs, (it->n + 1) * sizeof(*it->recs));
        it->recs[it->n++] =
            (struct mem_rec){xmemdup(r->key, r->klen ? r->klen : 1),
                             xmemdup(r->val, r->vlen ? r->vlen : 1), r->klen, r->vlen};
    }
    pthread_mutex_unlock(&m->mu);
    *out = &it->base;
    return 0;
}

static bool
mem_iter_valid(struct storage_iter *base)
{
    struct mem_iter *it = (struct mem_iter *)base;
    return it->pos < it->n;
}

static int
mem_iter_status(struct storage_iter *base)
{
    (void)base;
    return 0;
}

static void
mem_iter_next(struct storage_iter *base)
{
    ((struct mem_iter *)base)->pos++;
}

static void
mem_iter_entry(struct storage_iter *base, const uint8_t **key, size_t *klen, const uint8_t **value,
               size_t *vlen)
{
    struct mem_iter *it = (struct mem_iter *)base;
    *key = it->recs[it->pos].key;
    *klen = it->recs[it->pos].klen;
    *value = it->recs[it->pos].val;
    *vlen = it->recs[it->pos].vlen;
}

static void
mem_iter_destroy(struct storage_iter *base)
{
    struct mem_iter *it = (struct mem_iter *)base;
    for (size_t i = 0; i < it->n; i++)
        rec_free(&it->recs[i]);
    xfree(it->recs);
    xfree(it);
}

static int
mem_flush(struct storage *base, decree_t *durable_out)
{
    struct mem *m = (struct mem *)base;
    int rc;
    pthread_mutex_lock(&m->mu);
    rc = image_write(m, m->dir);
    *durable_out = rc == 0 ? m->last_applied : 0;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static int
mem_checkpoint(struct storage *base, const char *dir, decree_t *decree_out)
{
    struct mem *m = (struct mem *)base;
    int rc;

    *decree_out = 0;
    if (mkdir(dir, 0755) != 0) {
        LOG_ERROR("storage %s: checkpoint mkdir %s: %s", m->dir, dir, strerror(errno));
        return errno == ENOSPC ? ERR_DISK_FULL : ERR_IO;
    }
    pthread_mutex_lock(&m->mu);
    rc = image_write(m, m->dir); /* as RocksDB flushes its memtables first */
    if (rc == 0)
        rc = image_write(m, dir);
    if (rc == 0)
        *decree_out = m->last_applied;
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void
mem_compact(struct storage *base)
{
    struct mem *m = (struct mem *)base;
    size_t kept = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        if (storage_record_expendable(m->recs[i].val, m->recs[i].vlen, m->tombstone_ttl_us))
            rec_free(&m->recs[i]);
        else
            m->recs[kept++] = m->recs[i];
    }
    m->n = kept;
    (void)image_write(m, m->dir); /* RocksDB's compaction flushes first; logged on failure */
    pthread_mutex_unlock(&m->mu);
}

const struct storage_engine storage_mem = {
    .name = "mem",
    .open = mem_open,
    .close = mem_close,
    .last_applied = mem_last_applied,
    .max_ts = mem_max_ts,
    .apply = mem_apply,
    .get = mem_get,
    .free_value = mem_free_value,
    .iter_create = mem_iter_create,
    .iter_valid = mem_iter_valid,
    .iter_status = mem_iter_status,
    .iter_next = mem_iter_next,
    .iter_entry = mem_iter_entry,
    .iter_destroy = mem_iter_destroy,
    .flush = mem_flush,
    .checkpoint = mem_checkpoint,
    .compact = mem_compact,
};
