#pragma once
/*
 * A mutation: what one decree of a partition changes. One codec serves the plog, the
 * prepare messages of replication and duplication shipping, so a logged mutation can be
 * replayed, replicated or shipped as is. Every op is an idempotent write of a full record
 * (incr and check_and_set are turned into sets by the primary before they are logged).
 *
 * Encoding: [gpid, ballot, decree, flags, [[type, hash_key, sort_key, value, expire_ts,
 * timetag], ...], last_committed]. last_committed is the primary's commit point when it
 * proposed the mutation: replaying a plog, every decree <= the largest one seen is committed.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/msg.h"
#include "proto/types.h"

#define MUTATION_FROM_DUP 0x1u /* arrived by duplication: never shipped again */

struct mutation_op {
    uint32_t type; /* OP_SET / OP_DEL (a tombstone) */
    struct bytes hash_key, sort_key, value;
    uint32_t expire_ts; /* absolute seconds, 0 = never */
    uint64_t timetag;
};

struct mutation {
    uint64_t gpid;
    ballot_t ballot;
    decree_t decree;
    uint32_t flags;
    uint32_t nops;
    struct mutation_op *ops;
    decree_t last_committed;
};

void mutation_encode(struct buf *out, const struct mutation *m);
/* Slices borrow from *zonep (unpacked_free); ops is xmalloc'd (mutation_fini). */
MUST_CHECK int mutation_decode(const uint8_t *b, size_t n, struct mutation *m,
                               struct unpacked **zonep);
void mutation_fini(struct mutation *m);

/* RPC_DUP_APPLY request: entries (mutation ops with their origin timetags) from cluster
 * source_cluster_id, all routed to the receiving partition. Empty reply. */
/* Where the sending partition's duplication stood when it built the request: every one of its
 * writes up to decree `confirmed` (the newest written at confirmed_us) reached this cluster.
 * Appended to the request later: absent (confirmed -1) from an older sender. */
struct dup_source {
    uint32_t pidx;
    decree_t confirmed;    /* -1: not known (it skipped writes, or an older sender) */
    uint64_t confirmed_us; /* 0: not known (a shipper that started since) */
};

struct msg_dup_apply_req {
    uint32_t source_cluster_id;
    uint32_t nops;
    struct mutation_op *ops;
    struct dup_source source;
};
void msg_dup_apply_req_encode(struct buf *out, const struct msg_dup_apply_req *m);
MUST_CHECK int msg_dup_apply_req_decode(const uint8_t *b, size_t n, struct msg_dup_apply_req *m,
                                        struct unpacked **zonep);
void msg_dup_apply_req_fini(struct msg_dup_apply_req *m);

/* Builds a msg_dup_apply_req one op at a time: dup_apply_begin writes the header and returns
 * where the op count goes; dup_apply_end patches it in and appends src. */
size_t dup_apply_begin(struct buf *out, uint32_t source_cluster_id);
void dup_apply_add(struct buf *out, const struct mutation_op *op);
void dup_apply_end(struct buf *out, size_t count_at, uint32_t nops, const struct dup_source *src);
