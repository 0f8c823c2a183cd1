/*
 * storage_rocksdb.c: the RocksDB engine behind storage.h (storage_engine.h).
 *
 * Layout (see storage.h): user keys are [u16 BE hk_len][hk][sk], values are
 * [u32 BE expire_ts][u64 BE timetag][user bytes]; the one-byte internal key "\x00" holds the
 * last applied decree and the largest timetag timestamp ever applied, two u64 BE (a DB
 * written before the second field existed is scanned once for it at open). An apply writes the
 * batch's records and that key in one RocksDB write batch with RocksDB's WAL disabled: the
 * plog is our WAL. A memtable switch never splits a write batch, so
 * whatever RocksDB has on disk after a crash carries the decree it belongs to.
 *
 * Invariants:
 *  - s->last_applied only grows and equals the value under "\x00" in the memtable/SSTs.
 *  - The internal key is never returned by iterators and never dropped by the filter.
 *
 * Memory: one LRU block cache per DB (index and filter blocks are charged to it), memtables of
 * write_buffer_bytes, at most 2 of them. Worst case per partition is about
 * block_cache + 2 * write_buffer (40 MiB with the defaults); memtables grow on demand.
 *
 * Thread: the owner loop applies and reads; storage_flush / storage_checkpoint /
 * storage_compact may run on a worker thread at the same time, so last_applied is read and
 * written with atomics. storage_close does not flush the memtables (avoid_flush_during_shutdown:
 * a close must not write to a disk that may be full), so a close is like a crash: the
 * memtables are lost and the plog, which keeps everything after the last flush, replays from
 * storage_last_applied() at the next open.
 */
#include "replica/storage_engine.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define STORAGE_DEFAULT_CACHE (8u << 20)
#define STORAGE_DEFAULT_WRITE_BUFFER (16u << 20)
#define STORAGE_MIN_FREE_BYTES (4u << 20)

struct rocks {
    struct storage base;
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_block_based_table_options_t *topts;
    rocksdb_cache_t *cache;
    rocksdb_compactionfilter_t *filter;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *ropts;
    char *dir;
    uint64_t tombstone_ttl_us;
    decree_t last_applied;    /* atomic access only */
    uint64_t max_ts;          /* owner loop only */
    rocksdb_writebatch_t *wb; /* owner loop only: reused by every apply */
};

struct rocks_iter {
    struct storage_iter base;
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ropts;
    uint8_t *stop; /* the upper bound RocksDB points into; owned */
};

/* ---------------------------------------------------------------- helpers */

/* Logs a RocksDB error once with its context and frees the message. Returns ERR_IO. */
static int
rocks_err(const char *dir, const char *what, char *msg)
{
    LOG_ERROR("storage %s: %s: %s", dir, what, msg ? msg : "(no message)");
    rocksdb_free(msg);
    return ERR_IO;
}

static bool
is_internal_key(const char *key, size_t len)
{
    return len == 1 && key[0] == 0;
}

static void
set_last_applied(struct rocks *s, decree_t d)
{
    __atomic_store_n(&s->last_applied, d, __ATOMIC_RELEASE);
}

/* The largest timetag timestamp of any record in db (for a DB without it in the internal
 * key). */
static uint64_t
scan_max_ts(rocksdb_t *db)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(db, ro);
    uint64_t max = 0;
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t klen, vlen;
        const char *k = rocksdb_iter_key(it, &klen);
        const char *v = rocksdb_iter_value(it, &vlen);
        if (!is_internal_key(k, klen) && vlen >= STORAGE_VALUE_HEADER &&
            timetag_ts(be64_load((const uint8_t *)v + 4)) > max)
            max = timetag_ts(be64_load((const uint8_t *)v + 4));
    }
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return max;
}

/* Reads the internal key through db: the last applied decree and the largest timetag
 * timestamp applied (max_ts may be NULL); 0 and 0 if it is absent. */
static int
read_decree(rocksdb_t *db, const rocksdb_readoptions_t *ro, const char *dir, decree_t *out,
            uint64_t *max_ts)
{
    char *err = NULL;
    size_t vlen = 0;
    char *v = rocksdb_get(db, ro, STORAGE_INTERNAL_KEY, 1, &vlen, &err);

    *out = 0;
    if (max_ts)
        *max_ts = 0;
    if (err != NULL)
        return rocks_err(dir, "read last applied decree", err);
    if (v == NULL)
        return 0;
    if (vlen != 8 && vlen != 16) {
        LOG_ERROR("storage %s: last applied decree has %zu bytes, want 16", dir, vlen);
        rocksdb_free(v);
        return ERR_INVALID_DATA;
    }
    *out = (decree_t)be64_load((const uint8_t *)v);
    if (max_ts)
        *max_ts = vlen == 16 ? be64_load((const uint8_t *)v + 8) : scan_max_ts(db);
    rocksdb_free(v);
    return 0;
}

/* ---------------------------------------------------------------- compaction filter */

static void
filter_state_destroy(void *state)
{
    (void)state; /* the state is the struct rocks, freed by rocks_close */
}

static const char *
filter_name(void *state)
{
    (void)state;
    return "geokv.ttl_tombstone";
}

/* Returns 1 to drop the record (storage_record_expendable). Runs on RocksDB's compaction
 * threads: reads only the immutable TTL from the storage. */
static unsigned char
filter_record(void *state, int level, const char *key, size_t klen, const char *val, size_t vlen,
              char **new_val, size_t *new_vlen, unsigned char *changed)
{
    const struct rocks *s = state;

    (void)level;
    (void)new_val;
    (void)new_vlen;
    *changed = 0;
    return !is_internal_key(key, klen) &&
           storage_record_expendable((const uint8_t *)val, vlen, s->tombstone_ttl_us);
}

/* ---------------------------------------------------------------- open / close */

/* Applies an option the C API has no setter for ("name=value"); *opts is replaced. */
static void
set_from_string(rocksdb_options_t **opts, const char *setting)
{
    rocksdb_options_t *next = rocksdb_options_create();
    char *err = NULL;
    rocksdb_get_options_from_string(*opts, setting, next, &err);
    ASSERT(err == NULL); /* a fixed, valid string */
    rocksdb_options_destroy(*opts);
    *opts = next;
}

/* Builds the options: small shared-per-DB cache, bounded memtables, the TTL filter. */
static void
build_options(struct rocks *s, const struct storage_opts *o)
{
    size_t cache = o && o->block_cache_bytes ? o->block_cache_bytes : STORAGE_DEFAULT_CACHE;
    size_t wbuf = o && o->write_buffer_bytes ? o->write_buffer_bytes : STORAGE_DEFAULT_WRITE_BUFFER;

    s->cache = rocksdb_cache_create_lru(cache);
    s->topts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(s->topts, s->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(s->topts, 1);
    rocksdb_block_based_options_set_filter_policy(s->topts, rocksdb_filterpolicy_create_bloom(10));

    s->filter =
        rocksdb_compactionfilter_create(s, filter_state_destroy, filter_record, filter_name);
    s->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_set_block_based_table_factory(s->opts, s->topts);
    rocksdb_options_set_compaction_filter(s->opts, s->filter);
    rocksdb_options_set_write_buffer_size(s->opts, wbuf);
    rocksdb_options_set_max_write_buffer_number(s->opts, 2);
    rocksdb_options_set_max_background_jobs(s->opts, 2);
    rocksdb_options_set_max_open_files(s->opts, 256);
    /* FATAL only: RocksDB's info log lives on the data disk, and its writer asserts (aborting
     * the server) on the next message after a write to a full disk failed. Errors reach our
     * log through the statuses returned. */
    rocksdb_options_set_info_log_level(s->opts, 4 /* FATAL */);
    rocksdb_options_set_keep_log_file_num(s->opts, 2);
    rocksdb_options_set_max_log_file_size(s->opts, 1u << 20);

    set_from_string(&s->opts, "avoid_flush_during_shutdown=true");
    s->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(s->wopts, 1);
    s->ropts = rocksdb_readoptions_create();
    s->wb = rocksdb_writebatch_create();
}

/* Frees everything but the DB handle (which must be closed first). */
static void
free_options(struct rocks *s)
{
    rocksdb_writebatch_destroy(s->wb);
    rocksdb_readoptions_destroy(s->ropts);
    rocksdb_writeoptions_destroy(s->wopts);
    rocksdb_options_destroy(s->opts);
    rocksdb_compactionfilter_destroy(s->filter);
    rocksdb_block_based_options_destroy(s->topts);
    rocksdb_cache_destroy(s->cache);
    xfree(s->dir);
    xfree(s);
}

/* RocksDB writes its info log header at open, on the data disk, and its log writer asserts
 * (aborting the server) when a write after a failed one comes: a DB is opened only with room
 * for that. ERR_DISK_FULL if the filesystem holding dir (or its parent) has less free. */
static int
check_room(const char *dir)
{
    char parent[1024];
    struct statvfs v;
    char *slash;
    if (statvfs(dir, &v) != 0) {
        snprintf(parent, sizeof(parent), "%s", dir);
        slash = strrchr(parent, '/');
        if (slash == NULL || slash == parent)
            return 0;
        *slash = '\0';
        if (statvfs(parent, &v) != 0)
            return 0; /* let RocksDB report it */
    }
    return (uint64_t)v.f_bavail * v.f_frsize < STORAGE_MIN_FREE_BYTES ? ERR_DISK_FULL : 0;
}

static int
rocks_open(const char *dir, const struct storage_opts *opts, struct storage **out)
{
    struct rocks *s;
    char *err = NULL;
    decree_t d = 0;
    int rc;

    *out = NULL;
    rc = check_room(dir);
    if (rc != 0) {
        LOG_ERROR("storage %s: less than %u KiB free on its disk: not opened", dir,
                  STORAGE_MIN_FREE_BYTES / 1024);
        return rc;
    }
    s = xcalloc(1, sizeof(*s));
    s->dir = xstrdup(dir);
    s->tombstone_ttl_us = (uint64_t)storage_tombstone_ttl_s(opts) * 1000000u;
    build_options(s, opts);
    s->db = rocksdb_open(s->opts, dir, &err);
    if (err != NULL) {
        rc = rocks_err(dir, "open", err);
        goto out_free;
    }
    rc = read_decree(s->db, s->ropts, dir, &d, &s->max_ts);
    if (rc != 0)
        goto out_close;
    set_last_applied(s, d);
    *out = &s->base;
    return 0;

out_close:
    rocksdb_close(s->db);
out_free:
    free_options(s);
    return rc;
}

static void
rocks_close(struct storage *base)
{
    struct rocks *s = (struct rocks *)base;
    rocksdb_close(s->db);
    free_options(s);
}

static decree_t
rocks_last_applied(const struct storage *base)
{
    const struct rocks *s = (const struct rocks *)base;
    return __atomic_load_n(&s->last_applied, __ATOMIC_ACQUIRE);
}

static uint64_t
rocks_max_ts(const struct storage *base)
{
    return ((const struct rocks *)base)->max_ts;
}

/* ---------------------------------------------------------------- writes and reads */

static int
rocks_apply(struct storage *base, const struct storage_batch *b, decree_t decree)
{
    struct rocks *s = (struct rocks *)base;
    uint8_t dv[16];
    uint64_t max_ts = b->max_ts > s->max_ts ? b->max_ts : s->max_ts;
    const uint8_t *k, *v;
    size_t klen, vlen, off = 0;
    char *err = NULL;

    rocksdb_writebatch_clear(s->wb);
    while (storage_batch_next(b, &off, &k, &klen, &v, &vlen))
        rocksdb_writebatch_put(s->wb, (const char *)k, klen, (const char *)v, vlen);
    be64_store(dv, (uint64_t)decree);
    be64_store(dv + 8, max_ts);
    rocksdb_writebatch_put(s->wb, STORAGE_INTERNAL_KEY, 1, (const char *)dv, sizeof(dv));
    rocksdb_write(s->db, s->wopts, s->wb, &err);
    if (err != NULL)
        return rocks_err(s->dir, "write", err);
    set_last_applied(s, decree);
    s->max_ts = max_ts;
    return 0;
}

static int
rocks_get(struct storage *base, const struct buf *key, uint8_t **raw, size_t *len)
{
    struct rocks *s = (struct rocks *)base;
    char *err = NULL;
    char *v = rocksdb_get(s->db, s->ropts, (const char *)key->data, key->len, len, &err);

    *raw = (uint8_t *)v;
    if (err != NULL)
        return rocks_err(s->dir, "get", err);
    return v == NULL ? ERR_NOT_FOUND : 0;
}

static void
rocks_free_value(uint8_t *raw)
{
    rocksdb_free(raw);
}

/* ---------------------------------------------------------------- iterators */

/* Steps over the internal key if the iterator stands on it. */
static void
skip_internal(struct rocks_iter *it)
{
    size_t len = 0;

    while (rocksdb_iter_valid(it->it)) {
        const char *k = rocksdb_iter_key(it->it, &len);
        if (!is_internal_key(k, len))
            return;
        rocksdb_iter_next(it->it);
    }
}

static void
rocks_iter_destroy(struct storage_iter *base)
{
    struct rocks_iter *it = (struct rocks_iter *)base;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ropts);
    xfree(it->stop);
    xfree(it);
}

static int
rocks_iter_create(struct storage *base, const void *start, size_t start_len, const void *stop,
                  size_t stop_len, struct storage_iter **out)
{
    struct rocks *s = (struct rocks *)base;
    struct rocks_iter *it = xcalloc(1, sizeof(*it));
    char *err = NULL;

    *out = NULL;
    it->ropts = rocksdb_readoptions_create();
    if (stop_len > 0) {
        it->stop = xmemdup(stop, stop_len);
        rocksdb_readoptions_set_iterate_upper_bound(it->ropts, (const char *)it->stop, stop_len);
    }
    it->it = rocksdb_create_iterator(s->db, it->ropts);
    rocksdb_iter_seek(it->it, start_len ? (const char *)start : "", start_len);
    rocksdb_iter_get_error(it->it, &err);
    if (err != NULL) {
        rocks_iter_destroy(&it->base);
        return rocks_err(s->dir, "iterator seek", err);
    }
    skip_internal(it);
    *out = &it->base;
    return 0;
}

static bool
rocks_iter_valid(struct storage_iter *base)
{
    return rocksdb_iter_valid(((struct rocks_iter *)base)->it) != 0;
}

static int
rocks_iter_status(struct storage_iter *base)
{
    char *err = NULL;
    rocksdb_iter_get_error(((struct rocks_iter *)base)->it, &err);
    return err == NULL ? 0 : rocks_err("iterator", "read", err);
}

static void
rocks_iter_next(struct storage_iter *base)
{
    struct rocks_iter *it = (struct rocks_iter *)base;
    rocksdb_iter_next(it->it);
    skip_internal(it);
}

static void
rocks_iter_entry(struct storage_iter *base, const uint8_t **key, size_t *klen,
                 const uint8_t **value, size_t *vlen)
{
    struct rocks_iter *it = (struct rocks_iter *)base;
    *key = (const uint8_t *)rocksdb_iter_key(it->it, klen);
    *value = (const uint8_t *)rocksdb_iter_value(it->it, vlen);
}

/* ---------------------------------------------------------------- flush, checkpoint, compact */

static int
rocks_flush(struct storage *base, decree_t *durable_out)
{
    struct rocks *s = (struct rocks *)base;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    /* Everything up to d is in the memtables now, so the flush below makes it durable. */
    decree_t d = rocks_last_applied(base);
    char *err = NULL;

    *durable_out = 0;
    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush(s->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    if (err != NULL)
        return rocks_err(s->dir, "flush", err);
    *durable_out = d;
    return 0;
}

/* Reads the decree stored in a finished checkpoint, so it is exact even when applies ran
 * while the checkpoint was made. */
static int
checkpoint_decree(struct rocks *s, const char *dir, decree_t *out)
{
    char *err = NULL;
    rocksdb_t *db = rocksdb_open_for_read_only(s->opts, dir, 0, &err);
    int rc;

    *out = 0;
    if (err != NULL)
        return rocks_err(dir, "open checkpoint read-only", err);
    rc = read_decree(db, s->ropts, dir, out, NULL);
    rocksdb_close(db);
    return rc;
}

static int
rocks_checkpoint(struct storage *base, const char *dir, decree_t *decree_out)
{
    struct rocks *s = (struct rocks *)base;
    char *err = NULL;
    rocksdb_checkpoint_t *cp;

    *decree_out = 0;
    cp = rocksdb_checkpoint_object_create(s->db, &err);
    if (err != NULL)
        return rocks_err(s->dir, "create checkpoint object", err);
    /* log_size_for_flush = 0: flush the memtables first, the WAL holds nothing. */
    rocksdb_checkpoint_create(cp, dir, 0, &err);
    rocksdb_checkpoint_object_destroy(cp);
    if (err != NULL)
        return rocks_err(s->dir, "create checkpoint", err);
    return checkpoint_decree(s, dir, decree_out);
}

static void
rocks_compact(struct storage *base)
{
    rocksdb_compact_range(((struct rocks *)base)->db, NULL, 0, NULL, 0);
}

const struct storage_engine storage_rocksdb = {
    .name = "rocksdb",
    .open = rocks_open,
    .close = rocks_close,
    .last_applied = rocks_last_applied,
    .max_ts = rocks_max_ts,
    .apply = rocks_apply,
    .get = rocks_get,
    .free_value = rocks_free_value,
    .iter_create = rocks_iter_create,
    .iter_valid = rocks_iter_valid,
    .iter_status = rocks_iter_status,
    .iter_next = rocks_iter_next,
    .iter_entry = rocks_iter_entry,
    .iter_destroy = rocks_iter_destroy,
    .flush = rocks_flush,
    .checkpoint = rocks_checkpoint,
    .compact = rocks_compact,
};
