#pragma once
/*
 * meta_dup: the duplications of each table, as the source cluster's meta leader keeps them
 * (docs/duplication.md). Persistent in the store:
 *
 *   <apps>/<app_id>/duplication/<dupid>          JSON {"remote","status","create_timestamp_ms",
 *                                                "fail_mode","remote_app_name",
 *                                                "remote_replica_count"}
 *   <apps>/<app_id>/duplication/<dupid>/<pidx>   confirmed decree, decimal; -1 = not known yet
 *                                                (full duplication: D_p, the decree of the
 *                                                partition's checkpoint, until DS_LOG moves it)
 *
 * Full duplication (dup add -p, docs/duplication.md): DS_PREPARE until every partition's primary
 * reported its checkpoint decree D_p (each written at once), then DS_APP: the meta leader
 * creates the follower table on the remote cluster (meta_dup_follow_next / _done, the calls
 * made by meta_service off the loop) and polls it until healthy, then DS_LOG, shipping from
 * D_p + 1. Every state is in the dup node, so a new leader resumes where the old one was.
 *
 * Written to the store first and changed in memory only after the write succeeded; loaded by
 * a new leader together with its app (meta_state_load). Removal writes status DS_REMOVED
 * into the dup node (a tombstone, so a dupid is never handed out twice for a table) and
 * deletes its per-partition nodes; tombstones are never listed or synced.
 *
 * Threads: the meta loop (single owner), like meta_state; meta_dup_options_load runs on
 * main before anything starts.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/msg.h"
#include "proto/types.h"

struct config;
struct meta_app;
struct meta_state;

#define META_DUP_MAX_CLUSTERS 32
#define META_DUP_NAME_MAX 128
#define META_DUP_METAS_MAX 1024
#define META_DUP_WHY_MAX 256 /* = sizeof(struct msg_error_text.text) */
/* A partition's confirmed decree is written at most this often (its first value at once). */
#define META_DUP_PERSIST_MS 1000
/* RPC_DUP_ADD asks the remote cluster's meta for the remote table within this. */
#define META_DUP_REMOTE_TIMEOUT_MS 5000

/* The duplication settings of the meta's config. */
struct meta_dup_options {
    bool enabled;                           /* [replication] duplication_enabled (true) */
    char cluster_name[META_DUP_NAME_MAX];   /* [cluster] name */
    char cluster_metas[META_DUP_METAS_MAX]; /* [cluster] meta_servers (named in followers) */
    uint32_t nclusters;                     /* [pegasus.clusters]: name = meta list */
    struct {
        char name[META_DUP_NAME_MAX];
        char metas[META_DUP_METAS_MAX];
    } clusters[META_DUP_MAX_CLUSTERS];
    uint32_t ngroup; /* [duplication-group]: name = cluster id */
    struct {
        char name[META_DUP_NAME_MAX];
        uint32_t id;
    } group[META_DUP_MAX_CLUSTERS];
};

/*
 * Reads [replication] duplication_enabled, [cluster] meta_servers, [pegasus.clusters] and
 * [duplication-group] (ids 1..127, distinct). cluster_name is copied. ERR_CONFIG with a message in errbuf on a bad
 * value or too many entries.
 */
MUST_CHECK int meta_dup_options_load(const struct config *cfg, const char *cluster_name,
                                     struct meta_dup_options *out, char *errbuf, size_t errlen);

/* One duplication of an app (meta_app.dups). */
struct meta_dup {
    uint64_t dupid;
    uint32_t status;    /* enum dup_status; DS_REMOVED = tombstone */
    uint32_t fail_mode; /* enum dup_fail_mode */
    char remote[GEOKV_APP_NAME_MAX];
    char remote_app[GEOKV_APP_NAME_MAX];
    uint32_t remote_replica_count;
    int64_t create_ts_ms; /* wall clock */
    uint32_t npartitions; /* the app's partition count (0 for a tombstone) */
    decree_t *confirmed;  /* per partition, as persisted; -1 = not known yet */
    decree_t *reported;   /* per partition, the largest accepted from the primary (>= confirmed;
                           * memory only until the next write) */
    int64_t *written_ms;  /* per partition, monotonic time of the last write (0 = never) */
    bool *resyncing;      /* per partition, memory only: its primary ships the partition's
                           * data because its plog lost decrees not shipped yet */
    /* full duplication, memory only (a new leader starts them again) */
    bool follow_busy;                /* DS_APP: a create/poll of the follower table is out */
    int64_t follow_next_ms;          /* DS_APP: the next create/poll not before this (monotonic) */
    uint32_t follow_failures;        /* DS_APP: remote calls failed in a row */
    char progress[META_DUP_WHY_MAX]; /* where the full copy is, for dup list */
};

/* ---- RPC_DUP_ADD, in two steps around the remote cluster's answer ---- */

/*
 * Step 1, local checks in Pegasus' order: duplication enabled, remote not this cluster, remote in [pegasus.clusters] and [duplication-group] (this
 * cluster too), the table exists and is available. If the same (table, remote) duplication
 * exists (not removed), resp gets its dupid with existed = true and nothing more is needed.
 * Otherwise resp->existed is false and remote_metas (cap bytes) gets the remote cluster's
 * meta list: ask it whether the table exists there, then call meta_dup_add_finish.
 * Errors (why gets one line for the operator): ERR_INVALID_STATE (disabled), ERR_INVALID_ARG,
 * ERR_APP_NOT_FOUND, ERR_APP_UNAVAILABLE.
 */
MUST_CHECK int meta_dup_add_check(const struct meta_state *st, const struct meta_dup_options *o,
                                  const struct msg_dup_add_req *req, struct msg_dup_add_resp *resp,
                                  char *remote_metas, size_t cap, char *why, size_t whylen);

/* What the remote cluster said of the remote table (geokv_query_config there). */
struct meta_dup_remote {
    int err; /* 0, ERR_APP_NOT_FOUND, or why it could not be asked (ERR_TIMEOUT...) */
    uint32_t partition_count, replica_count;
};

/*
 * Step 2: repeats step 1 (the state may have changed meanwhile; a duplication added by a
 * concurrent request is returned with existed = true), maps a remote failure to an error
 * (without -p the remote table must exist: ERR_APP_NOT_FOUND; with -p it must not:
 * ERR_APP_EXISTS; ERR_BUSY when the remote cluster could not be reached, other codes as they
 * came), then creates the duplication: dupid = now_wall_ms / 1000, bumped while taken by one
 * of the table's duplications (tombstones included); fail mode FAIL_SLOW. Without -p: status
 * DS_LOG, every partition starting at its last reported commit point. With -p: DS_PREPARE,
 * every partition's decree -1 until its primary reports the decree of its checkpoint. The
 * nodes are written before memory changes; on a store failure the nodes written so far are
 * deleted (best effort) and ERR_ZK is returned.
 */
MUST_CHECK int meta_dup_add_finish(struct meta_state *st, const struct meta_dup_options *o,
                                   const struct msg_dup_add_req *req,
                                   const struct meta_dup_remote *remote, int64_t now_wall_ms,
                                   struct msg_dup_add_resp *resp, char *why, size_t whylen);

/* ---- RPC_CREATE_APP of a follower table, on the remote cluster's meta ---- */

/*
 * Checks the master a follower create names: duplication enabled here, the master cluster in
 * [pegasus.clusters] and [duplication-group], a valid table name. The meta list the followers
 * will copy from is taken from [pegasus.clusters] (req->master.metas is replaced): a client
 * cannot point replica servers at hosts this cluster does not know. ERR_INVALID_ARG /
 * ERR_INVALID_STATE with why.
 */
MUST_CHECK int meta_dup_follower_check(const struct meta_dup_options *o,
                                       struct msg_create_app_req *req, char *why, size_t whylen);

/* ---- RPC_DUP_LIST / RPC_DUP_MODIFY ---- */

/*
 * The table's duplications that are not removed, in dupid order, with their persisted
 * confirmed decrees. out's arrays are xmalloc'd: free with msg_dup_list_resp_fini.
 * ERR_APP_NOT_FOUND (with why).
 */
MUST_CHECK int meta_dup_list(const struct meta_state *st, const char *app,
                             struct msg_dup_list_resp *out, char *why, size_t whylen);

/*
 * DUP_OP_PAUSE (only from DS_LOG), DUP_OP_START (only from DS_PAUSE), DUP_OP_REMOVE (any
 * state -> DS_REMOVED tombstone; the per-partition nodes are deleted, best effort),
 * DUP_OP_FAIL_MODE (FAIL_SLOW / FAIL_SKIP, any state). Persisted before memory changes.
 * ERR_APP_NOT_FOUND, ERR_NOT_FOUND (no such dupid, or removed), ERR_INVALID_STATE (wrong
 * state), ERR_INVALID_ARG (bad op or fail mode), ERR_ZK; why says which.
 */
MUST_CHECK int meta_dup_modify(struct meta_state *st, const struct msg_dup_modify_req *req,
                               char *why, size_t whylen);

/* ---- RPC_DUP_SYNC ---- */

/*
 * From the replica server req->node: applies each confirm whose partition req->node leads
 * (by the meta's configuration) and whose duplication exists and is not removed, when it is
 * larger than what the meta holds; writes changed decrees (the first at once, then at most
 * every META_DUP_PERSIST_MS). In DS_PREPARE a partition's first report is its checkpoint
 * decree D_p: written at once, and once every partition has one the duplication moves to
 * DS_APP (persisted). In DS_APP reports are ignored: D_p stays until DS_LOG. resp gets, for each gpid of req->primaries that req->node
 * really leads in an available table, every non-removed duplication of that table with the
 * persisted confirmed decree (the resume point; -1 = unknown). resp->dups is xmalloc'd:
 * free with msg_dup_sync_resp_fini. ERR_INVALID_ARG for an empty node address.
 */
MUST_CHECK int meta_dup_on_sync(struct meta_state *st, const struct msg_dup_sync_req *req,
                                int64_t now_ms, struct msg_dup_sync_resp *resp);

/* Writes reported decrees not yet persisted whose partition was last written at least
 * META_DUP_PERSIST_MS ago (the meta loop's cron), and retries DS_PREPARE -> DS_APP moves
 * whose store write failed. Store failures are retried next time. */
void meta_dup_flush(struct meta_state *st, int64_t now_ms);
/* Registers the duplication metrics of the meta (each shows from 0). */
void meta_dup_metrics_register(void);

/* ---- DS_APP: the follower table on the remote cluster ---- */

/* One step of a DS_APP duplication: create the follower table (again: harmless) on the
 * remote cluster and see whether it is healthy. */
struct meta_dup_follow {
    uint32_t app_id;
    uint64_t dupid;
    char remote[GEOKV_APP_NAME_MAX];
    char remote_metas[META_DUP_METAS_MAX];
    struct msg_create_app_req create; /* the follower table, with this cluster as master */
};
/* Retry delays of the DS_APP steps: a poll of a table still copying, and the cap of the
 * doubling backoff after a failed remote call. */
#define META_DUP_FOLLOW_POLL_MS 1000
#define META_DUP_FOLLOW_BACKOFF_MAX_MS 10000

/* A DS_APP duplication due for its next step (none out for it), marked busy; false if none. */
bool meta_dup_follow_next(struct meta_state *st, const struct meta_dup_options *o, int64_t now_ms,
                          struct meta_dup_follow *out);
/*
 * The step's outcome: err (the remote call's) or the follower table's configuration. A
 * healthy follower moves the duplication to DS_LOG (persisted; shipping starts after each
 * partition's D_p); otherwise its progress says why and the step is retried (after
 * META_DUP_FOLLOW_POLL_MS, or with backoff after an error). A removed duplication is left
 * alone.
 */
void meta_dup_follow_done(struct meta_state *st, const struct meta_dup_follow *f, int err,
                          const struct msg_app_config *cfg, int64_t now_ms);

/* ---- used by meta_state ---- */

/* Loads app's duplications (tombstones too; leftover partition nodes of removed ones are
 * deleted, best effort). A corrupt dup node is skipped (logged); store failures are
 * returned. */
MUST_CHECK int meta_dup_load_app(struct meta_state *st, struct meta_app *app);
/* Frees app's duplications. */
void meta_dup_free_all(struct meta_app *app);

/* JSON of the dup node (exposed for tests). decode: ERR_INVALID_DATA if malformed; missing
 * fail_mode / remote_app_name / remote_replica_count default to FAIL_SLOW / "" / 0, and the
 * old Pegasus status "DS_START" reads as DS_LOG. */
void meta_dup_json_encode(const struct meta_dup *d, struct buf *out);
MUST_CHECK int meta_dup_json_decode(const uint8_t *p, size_t n, struct meta_dup *d);
