#pragma once
/*
 * The plog: a partition's write-ahead log, a directory of segment files. Each record carries
 * a decree and an opaque payload (a mutation encoded by proto/mutation.h) protected by CRC32C.
 * Appends are buffered; plog_commit writes everything buffered with one write and, per the
 * fsync mode, one fsync (group commit). Decrees appended must be strictly increasing.
 *
 * On open every segment is scanned; a torn or corrupt tail of the last segment is truncated
 * at the last good record and reported with LOG_WARN (file, offset, bytes dropped).
 *
 * Thread: one owner thread per plog.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/types.h"

enum plog_fsync { PLOG_FSYNC_ALWAYS = 0, PLOG_FSYNC_INTERVAL = 1, PLOG_FSYNC_NEVER = 2 };

struct plog_opts {
    size_t segment_bytes;      /* start a new segment past this size; 0 = 64 MiB */
    int fsync_mode;            /* enum plog_fsync */
    int64_t fsync_interval_ms; /* PLOG_FSYNC_INTERVAL: fsync at most this long after a write */
};

struct plog;

/* Opens or creates the plog in dir. *last_decree_out = the last good decree (0 if empty). */
MUST_CHECK int plog_open(const char *dir, const struct plog_opts *opts, struct plog **out,
                         decree_t *last_decree_out);
/* Flushes (as plog_commit) and closes. */
void plog_close(struct plog *p);
/* Closes as a crashed process leaves it: the records appended and not committed are lost,
 * nothing more is written (in-process crash tests). */
void plog_abandon(struct plog *p);

/* Buffers a record. ERR_INVALID_ARG if decree is not larger than the last one. */
MUST_CHECK int plog_append(struct plog *p, decree_t decree, const void *payload, size_t len);
/* Writes the buffered records; fsyncs per the mode. */
MUST_CHECK int plog_commit(struct plog *p);
/* PLOG_FSYNC_INTERVAL: fsyncs if written data is older than the interval (call from a timer). */
MUST_CHECK int plog_sync_if_due(struct plog *p);

decree_t plog_last_decree(const struct plog *p);
/* The smallest decree still in the plog (0 if empty). */
decree_t plog_first_decree(const struct plog *p);

/* cb returns 0 to continue, non-zero to stop (returned by plog_replay). payload is borrowed. */
typedef int plog_replay_cb(void *arg, decree_t decree, const uint8_t *payload, size_t len);
/* Calls cb for every committed record with decree > from, in order. */
MUST_CHECK int plog_replay(struct plog *p, decree_t from, plog_replay_cb *cb, void *arg);

/* The first durability failure (a failed fsync or truncate), 0 if none. Once set, every call
 * that writes fails with it: what is on disk is unknown, so the owner must stop using the plog
 * and reopen it (which syncs every segment again) rather than acknowledge anything more. */
int plog_broken(const struct plog *p);

/* Drops every record with decree > after (commits pending records first). A secondary uses it
 * when a new primary re-proposes decrees it had logged from an older ballot. */
MUST_CHECK int plog_truncate(struct plog *p, decree_t after);

/* Deletes whole segments whose records all have decree <= upto (never the active one). */
MUST_CHECK int plog_gc(struct plog *p, decree_t upto);
/* Total bytes in segment files. */
uint64_t plog_size_bytes(const struct plog *p);
