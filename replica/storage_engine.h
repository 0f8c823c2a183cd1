#pragma once
/*
 * What a storage engine implements behind storage.h (the pattern of Redis's ConnectionType):
 * storage.c checks arguments common to every engine and dispatches here. Two engines:
 *
 *   storage_rocksdb.c  servers: RocksDB with its WAL off.
 *   storage_mem.c      in-process tests: a sorted array in memory, written whole to one file
 *                      at each flush. Same contract, crash included: what was applied since
 *                      the last flush is gone after a reopen, as with RocksDB without a WAL.
 *
 * Shared only by storage*.c.
 */
#include "replica/storage.h"

/* The first member of every engine's storage and iterator. */
struct storage {
    const struct storage_engine *engine;
};
struct storage_iter {
    const struct storage_engine *engine;
};

/* A batch is engine-neutral: records [u32 klen][raw key][u32 vlen][raw value] (storage.h's
 * layouts), and the largest timetag timestamp among them. */
struct storage_batch {
    struct buf recs;
    uint64_t max_ts;
};

struct storage_engine {
    const char *name;
    int (*open)(const char *dir, const struct storage_opts *opts, struct storage **out);
    void (*close)(struct storage *s);
    decree_t (*last_applied)(const struct storage *s);
    uint64_t (*max_ts)(const struct storage *s);
    /* decree > last_applied (checked by storage.c) */
    int (*apply)(struct storage *s, const struct storage_batch *b, decree_t decree);
    /* *raw_value is a raw stored value (header included) that get frees with free_value */
    int (*get)(struct storage *s, const struct buf *key, uint8_t **raw_value, size_t *len);
    void (*free_value)(uint8_t *raw_value);
    int (*iter_create)(struct storage *s, const void *start, size_t start_len, const void *stop,
                       size_t stop_len, struct storage_iter **out);
    bool (*iter_valid)(struct storage_iter *it);
    int (*iter_status)(struct storage_iter *it);
    void (*iter_next)(struct storage_iter *it);
    void (*iter_entry)(struct storage_iter *it, const uint8_t **key, size_t *klen,
                       const uint8_t **raw_value, size_t *vlen);
    void (*iter_destroy)(struct storage_iter *it);
    int (*flush)(struct storage *s, decree_t *durable_out);
    int (*checkpoint)(struct storage *s, const char *dir, decree_t *decree_out);
    void (*compact)(struct storage *s);
};

/* Walks b's records: *off starts at 0; false at the end. Pointers borrowed from b. */
bool storage_batch_next(const struct storage_batch *b, size_t *off, const uint8_t **key,
                        size_t *klen, const uint8_t **value, size_t *vlen);

/* Whether compaction may drop a record with this raw value now (storage.h: an invisible record
 * is kept until tombstone_ttl_us after its timetag). */
bool storage_record_expendable(const uint8_t *raw_value, size_t vlen, uint64_t tombstone_ttl_us);

/* The internal key holding the last applied decree and max_ts (storage.h). */
#define STORAGE_INTERNAL_KEY "\x00"
#define STORAGE_DEFAULT_TOMBSTONE_TTL_S 86400u
