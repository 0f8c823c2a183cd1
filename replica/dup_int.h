#pragma once
/*
 * Duplication on the replica side (docs/duplication.md), shared by replica_*.c and dup_*.c.
 *
 * dup_ship.c: for each duplication of a partition it leads, the primary loads committed
 * mutations after the confirmed decree, skips those that arrived by duplication, routes each
 * op by its own key to the remote table's partition, ships batches of about
 * duplicate_log_batch_bytes with several shipments in flight, and advances the confirmed
 * decree only past shipments whose every batch was acknowledged.
 * dup_apply.c: the receiving primary keeps an entry only if its timetag is larger than the
 * stored record's (last writer wins, ties by cluster id, which is in the timetag) and
 * replicates the winners as a mutation marked MUTATION_FROM_DUP.
 * dup_full.c: full duplication (dup add -p): the master primary's checkpoint, and the
 * follower primary's copy of it before it serves.
 * The server's part (stub_dup.c): every second it reports confirmed decrees to the meta and
 * hands each primary its duplications from the answer (dup_assign).
 * Runs on: replica loop, unless a function says otherwise.
 */
#include <stdint.h>

#include "proto/msg.h"
#include "proto/types.h"

struct replica;
struct rpc_request;
struct mutation;

/* The duplications of one partition it leads now: adopt, update, or drop (missing ones). */
void dup_assign(struct replica *r, const struct dup_assign *d, uint32_t n);
/* Primary: ships what is committed and due, retries what failed. Cheap when idle. */
void dup_tick(struct replica *r);
/* The duplication metrics of a replica server (dup_ship.c), registered when it starts so
 * each shows from 0. */
enum dup_metric {
    DM_SHIP_FAILURES,
    DM_SHIPPED_OPS,
    DM_SHIPPED_BYTES,
    DM_SKIPPED_OPS,
    DM_LOAD_FAILURES,
    DM_RESYNCS,
    DM_RESYNC_RECORDS,
    DM_PENDING,
    DM_ARRIVAL_LAG,
    DM_LAGGING_WRITES,
    DM_BEYOND_TOMBSTONE_TTL,
    DM_FOLLOW_COPY_FAILURES,
    DM_FOLLOW_COPIED_BYTES,
    DM_COUNT
};
struct metric *dup_metric(enum dup_metric which);
void dup_metrics_register(void);
/* Primary: how long the oldest write not yet confirmed by every duplication has waited since
 * it committed (to a dup_tick's grain), 0 if none. */
int64_t dup_lag_ms(const struct replica *r, int64_t now_ms);
/* A decree was just committed: remember it for shipping (skips FROM_DUP mutations). */
void dup_on_commit(struct replica *r, decree_t decree, const uint8_t *enc, size_t len);
/* The lowest decree some duplication still needs (INT64_MAX if none): the plog keeps it. */
decree_t dup_plog_floor(const struct replica *r);
/* The confirmed decree of every duplication (for reports and group checks). */
uint32_t dup_confirms(const struct replica *r, struct dup_confirm *out, uint32_t max);
/* Secondary: the primary's confirmed decrees, kept as a plog floor and resume point. complete:
 * c lists every duplication of the partition, so the others are forgotten (removed). */
void dup_note_confirms(struct replica *r, const struct dup_confirm *c, uint32_t n, bool complete);
/* Primary: whether it has had its duplication list from the meta since it became primary
 * (until then what dup_confirms lists may lack some). */
bool dup_list_complete(const struct replica *r);
/* The lowest D_p of the full duplications still copying (DS_PREPARE, DS_APP); INT64_MAX if
 * none: a checkpoint at or after it may be copied by their followers. */
decree_t dup_copy_floor(const struct replica *r);
/* Leaving the primary role or closing: stop shipping, forget shipments in flight. */
void dup_stop(struct replica *r);
void dup_free(struct replica *r);

/* dup_full.c. Master primary: RPC_DUP_CHECKPOINT, the checkpoint a follower copies. */
void dup_full_on_checkpoint(struct replica *r, struct rpc_request *req);
/* Master primary: makes the checkpoint of a DS_PREPARE duplication; its decree is D_p. */
MUST_CHECK int dup_full_prepare(struct replica *r, decree_t *decree);
/* Follower: a primary holding nothing yet starts copying from r->master (the host sets it from
 * every assignment, before the configuration). Called after each assignment, and whenever r
 * becomes primary: a restarted primary gets its new ballot from a proposal, with no
 * assignment, and must not admit a learner into an empty partition before it copies. */
void dup_full_follow(struct replica *r);
/* Follower primary: retries a failed copy when its backoff is over (group cron). */
void dup_full_tick(struct replica *r);
void dup_full_free(struct replica *r);

/* dup_apply.c: RPC_DUP_APPLY on the receiving primary. */
void replica_on_dup_apply(struct replica *r, struct rpc_request *req);
