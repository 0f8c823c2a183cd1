/*
 * dup_apply.c: applying duplicated entries on the receiving primary (RPC_DUP_APPLY).
 *
 * Each entry carries its origin timetag (timestamp << 8 | cluster_id << 1 | delete flag).
 * It is kept only if its timetag is larger than that of the record or tombstone stored for
 * its key (proposed writes included): last writer wins, and because the cluster id sits in
 * the timetag a tie goes to the larger cluster id. The decision is made once, here, and
 * logged, so every replica applies the same ops whatever its compactions dropped. An entry
 * that lost only to an uncommitted write is acknowledged after that write commits, never
 * before: if the write is lost in a failover, the entry is shipped again. The comparison is total and deletes leave
 * tombstones, so every cluster ends with the same winner whatever order entries arrive in.
 * The winners go through normal replication as one mutation marked MUTATION_FROM_DUP, which
 * this cluster never ships back. The partition's clock is raised to every applied timetag,
 * so a later local write always wins over what was applied.
 * Runs on: replica loop.
 */
#include <inttypes.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/runtime_config.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/mutation.h"
#include "proto/pack.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"

static bool
same_key(const struct mutation_op *a, const struct mutation_op *b)
{
    return a->hash_key.len == b->hash_key.len && a->sort_key.len == b->sort_key.len &&
           memcmp(a->hash_key.p, b->hash_key.p, a->hash_key.len) == 0 &&
           memcmp(a->sort_key.p, b->sort_key.p, a->sort_key.len) == 0;
}

/* Adds op to m if it beats what is stored (and what m already holds for its key). An error
 * reading the stored record fails the batch, so the sender retries. *undecided is set when
 * op lost only to a write that is proposed but not committed yet. */
static int
keep_if_newer(struct replica *r, struct mutation *m, const struct mutation_op *op, bool *undecided)
{
    struct storage_record rec;
    bool proposed;
    int found;
    for (uint32_t i = 0; i < m->nops; i++)
        if (same_key(&m->ops[i], op)) {
            /* >=: of two ops of one source mutation on one key (logged before writes kept
             * one op per key) the later one won there */
            if (op->timetag >= m->ops[i].timetag)
                m->ops[i] = *op;
            goto out_clock;
        }
    found = replica_read_latest(r, op->hash_key, op->sort_key, &rec, &proposed);
    if (found < 0)
        return found;
    if (found > 0) {
        bool older = op->timetag <= rec.timetag;
        storage_record_fini(&rec);
        if (older) {
            *undecided |= proposed;
            return 0;
        }
    }
    m->ops[m->nops++] = *op;
out_clock:
    replica_clock_observe(r, op, 1);
    return 0;
}

/* Receiver-side lag: now - the entry's origin time. An entry older than the tombstone TTL
 * arrived after this cluster may have dropped a newer record's timetag (expired or
 * deleted: storage_rocksdb.c), so it may bring that record back here and not elsewhere:
 * counted and logged, as the lag to fix (or the TTL to raise). */
static void
observe_lag(struct replica *r, const struct mutation_op *op)
{
    struct metric *too_late = dup_metric(DM_BEYOND_TOMBSTONE_TTL);
    int64_t us = clock_wall_us() - (int64_t)timetag_ts(op->timetag), ms = us / 1000;
    metric_observe(dup_metric(DM_ARRIVAL_LAG), us < 0 ? 0 : us);
    if (ms > runtime_setting_get(r->opts->dup_lagging_ms))
        metric_add(dup_metric(DM_LAGGING_WRITES), 1);
    if (ms / 1000 > (int64_t)storage_tombstone_ttl_s(r->storage_opts)) {
        if (metric_value(too_late) == 0)
            RLOG_WARN(r,
                      "a duplicated write arrived %" PRId64 " s after it was made, more than "
                      "tombstone_ttl_seconds: raise it above the longest duplication lag "
                      "(geokv_dup_beyond_tombstone_ttl_writes_total counts these)",
                      ms / 1000);
        metric_add(too_late, 1);
    }
}

/* Keeps the sender's confirmed point, the highest it said, for dup failover's RPO. */
static void
note_source(struct replica *r, uint32_t cluster_id, const struct dup_source *src)
{
    struct source_confirmed *c = NULL;
    for (uint32_t i = 0; i < r->ndup_sources && c == NULL; i++)
        if (r->dup_sources[i].cluster_id == cluster_id && r->dup_sources[i].pidx == src->pidx)
            c = &r->dup_sources[i];
    if (c == NULL) {
        if (r->ndup_sources == 65536)
            return;
        r->dup_sources = xrealloc(r->dup_sources, (r->ndup_sources + 1) * sizeof(*c));
        c = &r->dup_sources[r->ndup_sources++];
        *c = (struct source_confirmed){cluster_id, src->pidx, -1, 0};
    }
    if (src->confirmed > c->confirmed) {
        c->confirmed = src->confirmed;
        if (src->confirmed_us != 0) /* else the older time stays: a lower bound of this one */
            c->confirmed_us = src->confirmed_us;
    }
}

void
replica_on_dup_apply(struct replica *r, struct rpc_request *req)
{
    struct msg_dup_apply_req a = {0};
    struct unpacked *zone = NULL;
    struct mutation m = {0};
    bool undecided = false;
    int rc = replica_check_writable(r);
    if (rc == 0)
        rc = msg_dup_apply_req_decode(req->env.body, req->env.body_len, &a, &zone);
    if (rc == 0 && (a.source_cluster_id == r->cluster_id ||
                    (a.source_cluster_id >= 128 || !r->opts->cluster_ids[a.source_cluster_id]))) {
        RLOG_WARN(r, "refusing duplicated entries from cluster id %u (%s)", a.source_cluster_id,
                  a.source_cluster_id == r->cluster_id ? "our own id"
                                                       : "not in [duplication-group]");
        rc = ERR_INVALID_ARG;
    }
    if (rc == 0 && a.source.confirmed >= 0)
        note_source(r, a.source_cluster_id, &a.source);
    for (uint32_t i = 0; rc == 0 && i < a.nops; i++)
        if (a.ops[i].hash_key.len > GEOKV_MAX_HASH_KEY ||
            a.ops[i].value.len > r->opts->max_value_bytes)
            rc = ERR_TOO_LARGE;
    if (rc == 0) {
        m.ops = xcalloc(a.nops, sizeof(*m.ops));
        for (uint32_t i = 0; i < a.nops && rc == 0; i++) {
            observe_lag(r, &a.ops[i]);
            rc = keep_if_newer(r, &m, &a.ops[i], &undecided);
        }
    }
    if (rc == 0) {
        if (m.nops == 0 && !undecided) {
            rpc_reply(req, 0, NULL, 0); /* every entry was older than what is committed */
        } else {
            /* proposed even when empty if an entry lost to an uncommitted write: answered
             * only once that write committed (a later decree commits after it), and failed,
             * so the sender ships it again, if this primary steps down before */
            m.flags = MUTATION_FROM_DUP;
            replica_propose(r, &m, req, NULL);
        }
        req = NULL;
    }
    xfree(m.ops);
    msg_dup_apply_req_fini(&a);
    unpacked_free(zone);
    if (req)
        replica_reply_err(r, req, rc);
}
