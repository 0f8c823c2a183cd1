#pragma once
/*
 * One partition replica, shared by the replica code of this directory (replica_*.c, dup_*.c,
 * stub*.c) and the in-process simulation (tests/sim).
 *
 * A replica is owned by one loop of the server that hosts it (struct replica_host: the replica
 * server's stub.c, or a simulated server in tests/sim); every function here runs on that loop
 * ("Runs on: replica loop"), so no locks. Completions of the calls it makes through its host
 * are posted back to the loop (host_call).
 *
 * Replication (PacificA-style, replica_2pc.c): the primary gives each write the next decree,
 * appends it to its plog and to the prepare list, and sends it to every peer (secondaries,
 * and a learner that has caught up). A decree commits when the primary's plog has it durably
 * and every secondary acknowledged logging it; then it is applied to RocksDB in decree order
 * and answered. Secondaries learn the commit point from later prepares and group checks.
 *
 * The prepare list holds exactly the decrees (last_committed, last_prepared], each with the
 * ballot of the primary that first proposed it: a (decree, ballot) pair names one mutation,
 * so a re-proposal keeps its ballot and a different ballot at a logged decree replaces it.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/log.h"
#include "proto/msg.h"
#include "proto/mutation.h"
#include "proto/rpc.h"
#include "proto/types.h"
#include "replica/plog.h"
#include "replica/storage.h"

struct dup_follow;
struct dup_state;
struct geokv_client;
struct metric;
struct replica_host;
struct runtime_setting;
struct stub_loop;

/* A logged mutation that is not committed yet. */
struct prepared {
    decree_t decree;
    ballot_t ballot;         /* of the primary that first proposed it */
    struct buf encoded;      /* the mutation as logged */
    struct rpc_request *req; /* primary: the client request answered at commit, or NULL */
    struct buf reply;        /* its reply body */
    int64_t start_us;        /* arrival, for the latency metric */
};

/* A replica the primary sends prepares to. */
struct peer {
    char addr[GEOKV_ADDR_MAX];
    bool member;          /* a secondary (counts for commit); false: a learner catching up */
    decree_t acked;       /* it logged everything up to here */
    decree_t sent;        /* prepares sent up to here */
    int inflight;         /* prepare RPCs outstanding */
    int64_t retry_at_ms;  /* after a failure, resend from acked at this time */
    bool upgrade_asked;   /* learner: CONFIG_UPGRADE_LEARNER sent to the meta; from then on
                          * commits wait for it as for a member, until the meta refuses */
    bool upgrade_pending; /* learner: that proposal has not been answered yet */
    int64_t ask_after_ms; /* learner: do not ask (again) before this */
    uint32_t gen;         /* changes when the peer's state is reset: older replies are stale */
    decree_t resent_from; /* the last point a resend restarted from (one resend per gap) */
    int64_t progress_ms;  /* member: when it last acknowledged something new or was caught up */
    bool remove_asked;    /* member: CONFIG_REMOVE_SECONDARY sent (it stopped acknowledging) */
};

struct replica {
    uint64_t gpid;
    ballot_t ballot;
    uint32_t role; /* enum replica_role */
    struct partition_config config;
    char dir[512];
    struct storage *storage;
    const struct storage_opts *storage_opts;
    const struct replica_opts *opts; /* borrowed from the host, read-only */
    struct plog *plog;
    struct stub_loop *loop;
    decree_t last_committed;   /* applied to storage; on the primary: acknowledged */
    decree_t last_prepared;    /* appended to the plog */
    decree_t durable_prepared; /* the plog is synced up to here */
    int log_error;             /* the last plog write failed with this (ENOSPC...); 0 if not */
    decree_t serve_from;       /* a new primary serves once it committed up to here */
    decree_t verified;         /* secondary: prepared decrees up to here are the primary's own
                              * versions, so its commit point may apply them */
    decree_t last_durable;     /* flushed to RocksDB SST files */
    decree_t prev_checkpoint;  /* the newest checkpoint made (kept when the next one is made) */
    ballot_t primary_ballot;   /* the highest ballot it ever was primary under, persisted in
                              * <dir>/primary_ballot before the first prepare under it;
                              * PRIMARY_BALLOT_UNKNOWN if the file could not tell */
    ballot_t bump_asked;       /* assigned primary under a ballot an earlier incarnation used:
                              * the CONFIG_BUMP_BALLOT asked for it (0: none out) */
    uint64_t last_ts_us;       /* hybrid clock: timetags never go backwards */
    unsigned cluster_id;
    struct prepared *plist; /* decrees last_committed + 1 .. last_prepared, in order */
    size_t plist_n, plist_cap;
    struct peer peers[GEOKV_MAX_REPLICAS];
    int npeers;
    int64_t stall_check_ms;    /* primary: the last look for stalled peers (remove_stalled) */
    struct rpc_request **acks; /* secondary: prepare requests answered after the next fsync */
    size_t nacks, acks_cap;
    bool learning;           /* learner: a learn round (or a copy) runs, or it is done */
    bool learn_done;         /* learner: the last round reached the commit point; prepares
                             * follow */
    decree_t check_verified; /* learner: verified at the last group check */
    bool copying;            /* learner: a checkpoint copy runs on the blocking loop */
    int64_t learn_touch_ms;  /* learner: last sign of life of the learn / the primary */
    struct storage_batch *batch;
    struct dup_state *dup;     /* duplications (dup_ship.c); NULL if none */
    struct dup_follow *follow; /* follower primary copying its master's data (dup_full.c);
                                * it serves nothing until then */
    struct dup_master master;  /* the table's master, from its latest assignment (cluster ""
                                * unless the table is a full duplication's follower) */
    bool deny_write;           /* client writes refused (ERR_WRITE_DENIED), from the assignment */
    /* per source cluster id: the newest write of that cluster this replica committed through
     * duplication (timetag microseconds; 0 = none since it opened): dup failover's RPO */
    uint64_t dup_arrived_us[128];
    /* what partitions of other clusters said, in their latest RPC_DUP_APPLY, they confirmed
     * (memory only: kept while this replica leads) */
    struct source_confirmed *dup_sources;
    uint32_t ndup_sources;
    struct metric *write_ops, *read_ops, *write_latency, *read_latency; /* per table */
    bool dirty; /* on the loop's dirty list */
    struct replica *next_dirty;
};

#define PRIMARY_BALLOT_UNKNOWN (-1)

/* ---- replica.c: lifecycle ---- */
/* A partition's settings, the same for every partition of a server, and its host. Read-only,
 * borrowed from the host for the life of the replica (and of the jobs it starts). */
struct replica_opts {
    const struct plog_opts *plog;
    const struct storage_opts *storage;
    const struct replica_host *host;
    char address[GEOKV_ADDR_MAX]; /* this server's ("host:port") */
    unsigned cluster_id;
    int64_t ack_timeout_ms; /* a secondary that acknowledges nothing new for this long while
                             * prepares wait is removed from the configuration */
    int64_t group_check_ms; /* a primary's group check interval */
    size_t max_value_bytes;
    const atomic_bool *stopping; /* set when the server shuts down (long jobs poll it) */
    /* run-time settings (server-config changes them): read with runtime_setting_get */
    const struct runtime_setting *copy_rate_mb;    /* nfs_copy_rate_mb */
    const struct runtime_setting *dup_batch_bytes; /* duplicate_log_batch_bytes */
    const struct runtime_setting *dup_lagging_ms;  /* dup_lagging_write_threshold_ms */
    /* duplication */
    int dup_skip_retries;
    bool cluster_ids[128]; /* every cluster id in [duplication-group] */
};
/* Opens (creating if needed) the partition in dir, applies the committed part of the plog
 * past the applied decree and keeps the rest as prepared. Role starts as ROLE_INACTIVE. */
MUST_CHECK int replica_open(uint64_t gpid, const char *dir, const struct replica_opts *opts,
                            struct replica **out);
/* Fails what is waiting, syncs and closes. */
void replica_close(struct replica *r);
/* What a beacon reports of r. */
struct replica_report replica_report(const struct replica *r);
/* Logs and replies an error. */
void replica_reply_err(struct replica *r, struct rpc_request *req, int err);
/* Frees r as a crash (kill -9) leaves it: what the plog buffered and the storage did not
 * flush is lost (in-process crash tests). Requests it held are answered, and the simulated
 * network that made them drops those answers. */
void replica_abandon(struct replica *r);
/* Replaces the data with the checkpoint in dir (copied from the primary) at decree. On
 * failure r keeps its previous data, or, if that does not open either (a full disk),
 * r->storage is NULL and the caller must close r at once (stub_close_replica). */
MUST_CHECK int replica_install_checkpoint(struct replica *r, const char *dir, decree_t decree);
/* Applies one decoded mutation's ops to batch (used by replay and the write path). */
void replica_batch_mutation(struct storage_batch *b, const struct mutation *m);
/* RPC_COMPACT: compacts the partition's storage now (blocks its loop meanwhile). */
void replica_on_compact(struct replica *r, struct rpc_request *req);
/* Flushes RocksDB and drops plog segments below the durable decree. */
MUST_CHECK int replica_gc(struct replica *r);
MUST_CHECK int replica_checkpoint(struct replica *r, decree_t *decree, char *dir, size_t dirlen);
/* Before acting as primary under ballot: records it durably (<dir>/primary_ballot). A
 * (decree, ballot) pair must name one mutation ever, and an earlier incarnation of this
 * replica may have sent prepares under a ballot it never logged itself: ERR_STALE_BALLOT if
 * some incarnation was already primary under ballot, or may have been (the file could not
 * tell: ballot is recorded then, so a higher one is claimed next time): ask the meta for a new
 * one. Or the error writing the file. */
MUST_CHECK int replica_claim_primary_ballot(struct replica *r, ballot_t ballot);
/* The next timetag timestamp: above the wall clock's reading only while the clock is behind
 * the floor, which is every timestamp the partition ever stored (storage_max_ts: kept across
 * restarts, compactions and checkpoints) or holds in its prepare list. So a local write
 * always wins over what was written or applied before it, whatever the clock does. */
uint64_t replica_next_ts(struct replica *r);
/* Raises the clock floor to the timestamps of m's ops (every mutation that enters the prepare
 * list, and every duplicated entry considered). */
void replica_clock_observe(struct replica *r, const struct mutation_op *ops, uint32_t nops);

/* ---- replica_write.c: client writes on the primary ---- */
void replica_on_write(struct replica *r, struct rpc_request *req);
void replica_on_incr(struct replica *r, struct rpc_request *req);
void replica_on_cas(struct replica *r, struct rpc_request *req);
/* The newest record at (hk, sk), proposed (uncommitted) writes and tombstones included:
 * 1 found (rec filled; storage_record_fini), 0 none, < 0 error. *proposed (may be NULL)
 * tells whether it is an uncommitted proposal. */
int replica_read_latest(struct replica *r, struct bytes hk, struct bytes sk,
                        struct storage_record *rec, bool *proposed);
/* 0 if r may serve clients now (primary, lease valid), else the error to answer. */
int replica_check_primary(struct replica *r);
/* As replica_check_primary, for a write: also refused (ERR_DISK_FULL, ERR_IO) at once while
 * the plog cannot be written, rather than proposed to wait for space. */
int replica_check_writable(struct replica *r);

/* ---- replica_2pc.c: prepare, commit ---- */
/* Primary: logs m (ops filled in) with the next decree; req is answered with reply once it
 * commits (or with an error). Consumes req. */
void replica_propose(struct replica *r, struct mutation *m, struct rpc_request *req,
                     const struct buf *reply);
/* Group commit, run before the loop sleeps: plog write + fsync, prepares out, commit. */
void replica_flush(struct replica *r);
/* Secondary / learner side of RPC_PREPARE and RPC_GROUP_CHECK. */
void replica_on_prepare(struct replica *r, struct rpc_request *req);
void replica_on_group_check(struct replica *r, struct rpc_request *req);
/* Primary: periodic group check to every peer, and resends after failures. */
void replica_group_check_cron(struct replica *r);
/* Secondary / learner: logs one encoded mutation from the primary (skipped if already held,
 * replacing a different one at the same decree). 1 = it does not follow last_prepared. */
MUST_CHECK int replica_accept_mutation(struct replica *r, const uint8_t *enc, size_t len);
/* Secondary / learner: applies up to the primary's commit point, but only the decrees known
 * to be that primary's versions (an uncommitted tail from an older ballot is not). */
void replica_commit_as_follower(struct replica *r, decree_t primary_committed);
/* Appends an already logged mutation to the prepare list (replay, learning). */
void replica_plist_push(struct replica *r, decree_t decree, ballot_t ballot, const uint8_t *enc,
                        size_t len);
/* Applies prepared decrees up to `upto` (bounded by last_prepared) to storage. */
int replica_commit_upto(struct replica *r, decree_t upto);
/* Fails every waiting client request (on losing the primary role) with ERR_UNCERTAIN: each
 * was proposed, and a new primary may still commit it, so a client must not take the failure
 * for "not done" (an incr retried elsewhere would count twice). */
void replica_fail_waiting(struct replica *r);

/* ---- replica_config.c: roles and configurations ---- */
/* Adopts an assignment from the meta (or a newer config from the primary). */
void replica_set_config(struct replica *r, uint32_t role, const struct partition_config *cfg);
/* Adopts what a beacon's answer assigns: the table's master (a follower table's), then the
 * role and configuration; a follower primary holding nothing yet starts copying. */
void replica_adopt_assignment(struct replica *r, const struct replica_assign *a);
/* Primary: asks the meta to change the configuration (upgrade a learner, drop a secondary). */
void replica_propose_config(struct replica *r, uint32_t type, const char *node);
/* Leaves the primary role (to ROLE_INACTIVE unless role says otherwise): fails waiting
 * writes, forgets the peers, stops shipping. */
void replica_step_down(struct replica *r, uint32_t role);
/* A fresh peer generation (never 0). */
uint32_t replica_peer_gen(void);

/* ---- replica_learn.c ---- */
/* Learner: starts a learn round if none is running. */
void replica_learn_cron(struct replica *r);
/* Primary side of RPC_LEARN. */
void replica_on_learn(struct replica *r, struct rpc_request *req);

/* ---- replica_read.c ---- */
void replica_on_get(struct replica *r, struct rpc_request *req);
void replica_on_multi_get(struct replica *r, struct rpc_request *req);
void replica_on_scan(struct replica *r, struct rpc_request *req);
/* SHA-256 over the sorted (key, value, expire_ts, timetag) of every record that is not
 * expired, tombstones included, with last_committed: equal on converged replicas. */
void replica_on_digest(struct replica *r, struct rpc_request *req);
/* dup verify: digests of hash buckets of the partition's records, or a page of them. */
void replica_on_verify(struct replica *r, struct rpc_request *req);

/* ---- the host: services of the server a replica lives in ---- */
/* Completion of host_call, run on r's loop; r is NULL if the replica closed meanwhile
 * (then fn only frees ctx). body is borrowed for the call. */
typedef void replica_reply_fn(struct replica *r, void *ctx, int err, const uint8_t *body,
                              size_t len);
typedef void replica_work_fn(void *ctx);
typedef void replica_done_fn(struct replica *r, void *ctx);
enum replica_worker {
    WORKER_BLOCKING,    /* learner copies */
    WORKER_FOLLOW_COPY, /* follower tables' copies from their master (dup_full.c) */
    WORKER_REMOTE_OPEN, /* opens of remote tables: only the host's remote_open */
};

/* A table of a remote cluster that duplications ship to (the host's handle, opaque here). */
struct dup_remote;

/*
 * What a replica asks of the server that hosts it (the replica server's stub, or a simulated
 * server in the in-process tests). Every function but post and the remote_* ones runs on r's
 * loop; the host runs the completions it is given there too.
 */
struct replica_host {
    void *self; /* the host's own state, passed to post, remote_open and remote_call */
    /* Puts r on its loop's dirty list so replica_flush runs before the loop sleeps. */
    void (*mark_dirty)(struct replica *r);
    /* Closes and frees r (its storage is unusable); the meta assigns it again later. The
     * caller must not touch r afterwards: call it last in a task. */
    void (*close_replica)(struct replica *r);
    /* True while the meta's lease on this server is valid (a primary serves only then). */
    bool (*lease_valid)(const struct replica *r);
    /* Sends an RPC for r (gpid and r's ballot in the envelope); fn runs on r's loop. */
    void (*call)(struct replica *r, const char *addr, uint32_t code, const struct buf *body,
                 int timeout_ms, replica_reply_fn *fn, void *ctx);
    /* Sends an RPC to the meta leader; fn runs on r's loop as for call. */
    void (*call_meta)(struct replica *r, uint32_t code, const struct buf *body,
                      replica_reply_fn *fn, void *ctx);
    /* Runs fn(ctx) on a worker thread, then done(r, ctx) on r's loop. Jobs of one worker run
     * one at a time, in order. While the server stops, done runs without fn. */
    void (*run_blocking)(struct replica *r, enum replica_worker w, replica_work_fn *fn,
                         replica_done_fn *done, void *ctx);
    /* Runs fn(r, ctx) on the loop that owns gpid (r NULL if it is not open there). Any
     * thread. */
    void (*post)(void *self, uint64_t gpid, replica_done_fn *fn, void *ctx);
    /* Opens table app of the remote cluster named in [pegasus.clusters] (ERR_CONFIG if it is
     * not named there); the host keeps the handle. May block: call it from run_blocking. */
    int (*remote_open)(void *self, const char *cluster, const char *app, struct dup_remote **out);
    /* The remote table's partition count as last known (0 if none yet). Any thread. */
    uint32_t (*remote_partitions)(struct dup_remote *t);
    /* Sends code to the primary of partition pidx of the remote table, retrying as a client
     * does until timeout_ms; fn gets the reply body (borrowed) or the error, on any thread. */
    void (*remote_call)(void *self, struct dup_remote *t, uint32_t code, uint32_t pidx,
                        const struct buf *body, int timeout_ms, rpc_done_fn *fn, void *arg);
};

static inline void
host_mark_dirty(struct replica *r)
{
    r->opts->host->mark_dirty(r);
}

static inline void
host_close_replica(struct replica *r)
{
    r->opts->host->close_replica(r);
}

static inline bool
host_lease_valid(const struct replica *r)
{
    return r->opts->host->lease_valid(r);
}

static inline void
host_call(struct replica *r, const char *addr, uint32_t code, const struct buf *body,
          int timeout_ms, replica_reply_fn *fn, void *ctx)
{
    r->opts->host->call(r, addr, code, body, timeout_ms, fn, ctx);
}

static inline void
host_call_meta(struct replica *r, uint32_t code, const struct buf *body, replica_reply_fn *fn,
               void *ctx)
{
    r->opts->host->call_meta(r, code, body, fn, ctx);
}

static inline void
host_run_blocking(struct replica *r, enum replica_worker w, replica_work_fn *fn,
                  replica_done_fn *done, void *ctx)
{
    r->opts->host->run_blocking(r, w, fn, done, ctx);
}

static inline void
host_post(const struct replica_opts *o, uint64_t gpid, replica_done_fn *fn, void *ctx)
{
    o->host->post(o->host->self, gpid, fn, ctx);
}

static inline int
host_remote_open(const struct replica_opts *o, const char *cluster, const char *app,
                 struct dup_remote **out)
{
    return o->host->remote_open(o->host->self, cluster, app, out);
}

static inline uint32_t
host_remote_partitions(const struct replica_opts *o, struct dup_remote *t)
{
    return o->host->remote_partitions(t);
}

static inline void
host_remote_call(const struct replica_opts *o, struct dup_remote *t, uint32_t code, uint32_t pidx,
                 const struct buf *body, int timeout_ms, rpc_done_fn *fn, void *arg)
{
    o->host->remote_call(o->host->self, t, code, pidx, body, timeout_ms, fn, arg);
}
#define RLOG_ERROR(r, fmt, ...)                                                                    \
    LOG_ERROR("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot,    \
              ##__VA_ARGS__)
#define RLOG_WARN(r, fmt, ...)                                                                     \
    LOG_WARN("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot,     \
             ##__VA_ARGS__)
#define RLOG_DEBUG(r, fmt, ...)                                                                    \
    LOG_DEBUG("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot,    \
              ##__VA_ARGS__)
#define RLOG_INFO(r, fmt, ...)                                                                     \
    LOG_INFO("%u.%u@%" PRId64 " " fmt, gpid_app((r)->gpid), gpid_pidx((r)->gpid), (r)->ballot,     \
             ##__VA_ARGS__)
