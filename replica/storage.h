#pragma once
/*
 * Partition storage: one DB per partition, on RocksDB (RocksDB's own WAL off: the plog is the
 * write-ahead log) or, in in-process tests, on its in-memory twin with the same contract
 * (storage_engine.h).
 *
 * Storage key   = [u16 BE hash_key length][hash_key][sort_key]   (so one hash_key is contiguous
 *                 and ordered by sort_key)
 * Storage value = [u32 BE expire_ts][u64 BE timetag][user bytes]
 * The last applied decree and the largest timetag timestamp applied live under the internal
 * key "\x00" (one byte: shorter than any user key, which has at least the two length bytes),
 * written in the same write batch as the data, so after a crash RocksDB's durable state and
 * its decree always agree.
 *
 * A compaction filter drops tombstones and expired records once their timetag is older than
 * tombstone_ttl_s (until then their timetag still beats older duplicated writes). Reads return
 * tombstones and expired records too; the caller decides visibility with
 * storage_record_visible().
 *
 * Thread: a struct storage is used by its partition's owner loop; storage_checkpoint and
 * storage_flush may run on another thread at the same time (RocksDB allows it).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/types.h"

#define STORAGE_VALUE_HEADER 12 /* expire_ts + timetag */

struct storage;
struct storage_batch;
struct storage_iter;

/* An engine: storage_rocksdb (servers) or storage_mem (in-process tests). */
struct storage_engine;
extern const struct storage_engine storage_rocksdb;
extern const struct storage_engine storage_mem;

struct storage_opts {
    const struct storage_engine *engine; /* NULL = storage_rocksdb */
    uint32_t tombstone_ttl_s;  /* tombstones older than this are compacted away; 0 = 86400 */
    size_t block_cache_bytes;  /* 0 = 8 MiB */
    size_t write_buffer_bytes; /* memtable size; 0 = 16 MiB */
};

/* A record as stored. value is owned by the record (storage_record_fini frees it). */
struct storage_record {
    uint32_t expire_ts;
    uint64_t timetag;
    uint8_t *value;
    size_t vlen;
};

/* The tombstone TTL o gives (its default when o or its field is 0). */
uint32_t storage_tombstone_ttl_s(const struct storage_opts *o);

/* Opens or creates the DB in dir (created if missing, parents must exist). RocksDB:
 * ERR_DISK_FULL if its disk has less than 4 MiB free (RocksDB would abort writing its log
 * there). A close does not flush: what was applied since the last flush is gone after a
 * reopen, as after a crash (the plog replays it). */
MUST_CHECK int storage_open(const char *dir, const struct storage_opts *opts, struct storage **out);
void storage_close(struct storage *s);

/* The last decree applied (durable after reopen only up to the last flush). */
decree_t storage_last_applied(const struct storage *s);
/* The largest timetag timestamp ever applied, kept with the decree (so compactions that drop
 * records, restarts and checkpoints keep it): the floor of the partition's clock. */
uint64_t storage_max_ts(const struct storage *s);

struct storage_batch *storage_batch_create(void);
void storage_batch_destroy(struct storage_batch *b);
void storage_batch_clear(struct storage_batch *b);
/* Adds a record; deletes are records too (a tombstone: timetag with the delete flag, no value). */
void storage_batch_put(struct storage_batch *b, const void *hk, size_t hk_len, const void *sk,
                       size_t sk_len, uint32_t expire_ts, uint64_t timetag, const void *value,
                       size_t vlen);
/* Writes the batch and last_applied = decree atomically (WAL off). decree must grow. */
MUST_CHECK int storage_apply(struct storage *s, struct storage_batch *b, decree_t decree);

/* ERR_NOT_FOUND if there is no record at all (tombstones and expired records are returned). */
MUST_CHECK int storage_get(struct storage *s, const void *hk, size_t hk_len, const void *sk,
                           size_t sk_len, struct storage_record *out);
void storage_record_fini(struct storage_record *r);
bool storage_record_visible(const struct storage_record *r, uint32_t now_s);

/* Raw-key encoding helpers. */
void storage_key_encode(struct buf *out, const void *hk, size_t hk_len, const void *sk,
                        size_t sk_len);
/* Borrowed pointers into key. ERR_INVALID_DATA if it is not a user key. */
MUST_CHECK int storage_key_decode(const uint8_t *key, size_t len, const uint8_t **hk,
                                  size_t *hk_len, const uint8_t **sk, size_t *sk_len);
/* The smallest raw key after every key with this hash_key (for range ends). */
void storage_key_prefix_end(struct buf *out, const void *hk, size_t hk_len);

/* Iterates user records in raw-key order over [start, stop); stop_len 0 = to the end. */
MUST_CHECK int storage_iter_create(struct storage *s, const void *start, size_t start_len,
                                   const void *stop, size_t stop_len, struct storage_iter **out);
bool storage_iter_valid(struct storage_iter *it);
/* 0, or the error that ended the iteration early (an invalid iterator is not the end then). */
MUST_CHECK int storage_iter_status(struct storage_iter *it);
void storage_iter_next(struct storage_iter *it);
/* Borrowed until the next storage_iter_next / destroy. */
void storage_iter_key(struct storage_iter *it, const uint8_t **key, size_t *len);
/* Decodes the current value; ERR_INVALID_DATA if it is shorter than the header.
 * *value is borrowed until the next storage_iter_next / destroy. */
MUST_CHECK int storage_iter_value(struct storage_iter *it, uint32_t *expire_ts, uint64_t *timetag,
                                  const uint8_t **value, size_t *vlen);
void storage_iter_destroy(struct storage_iter *it);

/* Flushes memtables to SST and waits. *durable_out = the decree durable on disk. */
MUST_CHECK int storage_flush(struct storage *s, decree_t *durable_out);
/* Makes a RocksDB checkpoint (hard links) in dir (must not exist). *decree_out = its decree. */
MUST_CHECK int storage_checkpoint(struct storage *s, const char *dir, decree_t *decree_out);
/* Compacts the whole key range now and waits (runs the compaction filter over every record:
 * drops old tombstones and old expired records). Blocking: tools, tests, manual compaction on a
 * worker thread. */
void storage_compact(struct storage *s);
