#pragma once
/*
 * One partition replica, shared only by replica_*.c in this directory.
 *
 * A replica is owned by one stub loop (hash(gpid) % nloops); every function here runs on
 * that loop ("Runs on: replica loop"), so no locks. Only `pub` is read by other threads
 * (the beacon), under the loop's snapshot mutex.
 *
 * Write path (replica_write.c): a write request becomes a mutation with the next decree,
 * appended to the plog buffer and queued; after the loop has run every request that arrived
 * together, replica_commit_pending writes and fsyncs the plog once (group commit), applies
 * the queued mutations to RocksDB in decree order with one write batch, and replies.
 */
#include <stdbool.h>
#include <inttypes.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/log.h"
#include "proto/mutation.h"
#include "proto/rpc.h"
#include "proto/types.h"
#include "replica/plog.h"
#include "replica/storage.h"

struct metric;
struct stub;
struct stub_loop;

/* A mutation logged but not yet applied, with the request to answer once it is. */
struct pending_write {
    decree_t decree;
    struct buf encoded;        /* the mutation as logged */
    struct rpc_request *req;   /* NULL for internal writes */
    struct buf reply;          /* reply body to send on success */
    int result;                /* reply error if the write was a no-op (cas failed) */
    int64_t start_us;          /* arrival, for the latency metric */
};

struct replica {
    uint64_t gpid;
    ballot_t ballot;
    char dir[512];
    struct storage *storage;
    struct plog *plog;
    struct stub_loop *loop;
    decree_t last_committed; /* last decree applied to storage (== acknowledged) */
    decree_t last_prepared;  /* last decree appended to the plog */
    decree_t last_durable;   /* last decree known flushed to SST */
    uint64_t last_ts_us;     /* hybrid clock: timetags never go backwards */
    unsigned cluster_id;
    struct pending_write *pending;
    size_t npending, pending_cap;
    struct storage_batch *batch; /* the ops of the pending writes */
    struct metric *write_ops, *read_ops, *write_latency, *read_latency; /* per table */
    bool dirty; /* on the loop's dirty list */
    struct replica *next_dirty;
};

/* ---- replica.c: lifecycle ---- */
struct replica_opts {
    const struct plog_opts *plog;
    const struct storage_opts *storage;
    unsigned cluster_id;
};
/* Opens (creating if needed) the partition in dir and replays the plog past the applied
 * decree. */
MUST_CHECK int replica_open(uint64_t gpid, ballot_t ballot, const char *dir,
                            const struct replica_opts *opts, struct replica **out);
/* Commits anything pending, then closes. */
void replica_close(struct replica *r);
/* Applies one decoded mutation's ops to batch (used by replay and the write path). */
void replica_batch_mutation(struct storage_batch *b, const struct mutation *m);
/* Flushes RocksDB and drops plog segments below the durable decree. */
MUST_CHECK int replica_gc(struct replica *r);
MUST_CHECK int replica_checkpoint(struct replica *r, decree_t *decree, char *dir, size_t dirlen);
/* The next timetag timestamp (monotonic per partition, never below one already applied). */
uint64_t replica_next_ts(struct replica *r);

/* ---- replica_write.c ---- */
void replica_on_write(struct replica *r, struct rpc_request *req);
void replica_on_incr(struct replica *r, struct rpc_request *req);
void replica_on_cas(struct replica *r, struct rpc_request *req);
/* Group commit: plog write + fsync, apply in decree order, reply. */
void replica_commit_pending(struct replica *r);

/* ---- replica_read.c ---- */
void replica_on_get(struct replica *r, struct rpc_request *req);
void replica_on_multi_get(struct replica *r, struct rpc_request *req);
void replica_on_scan(struct replica *r, struct rpc_request *req);
/* SHA-256 over the sorted (key, value, expire_ts, timetag) of every record that is not
 * expired, tombstones included, with last_committed: equal on converged replicas. */
void replica_on_digest(struct replica *r, struct rpc_request *req);

/* ---- replica_stub.c: services the replica code calls ---- */
/* Puts r on its loop's dirty list so replica_commit_pending runs before the loop sleeps. */
void stub_mark_dirty(struct replica *r);
size_t stub_max_value_bytes(void);
/* Logs and replies an error. */
void replica_reply_err(struct replica *r, struct rpc_request *req, int err);

#define RLOG_ERROR(r, fmt, ...) \
    LOG_ERROR("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot, ##__VA_ARGS__)
#define RLOG_WARN(r, fmt, ...) \
    LOG_WARN("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot, ##__VA_ARGS__)
#define RLOG_INFO(r, fmt, ...) \
    LOG_INFO("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot, ##__VA_ARGS__)
