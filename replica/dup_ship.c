/*
 * dup_ship.c: shipping a partition's committed writes to a remote cluster (dup_int.h).
 *
 * A shipper per duplication, on the partition's primary. Its position: `confirmed` (every
 * decree up to it was acknowledged by the remote, or skipped in FAIL_SKIP) <= `loaded` (every
 * decree up to it is in a shipment). A shipment covers the decrees (first, last]: it loads
 * them (from the recent-commit cache, else from the plog), drops mutations that arrived by
 * duplication (a write is shipped only by the cluster it was first written in: no echoes),
 * routes each op by its own key to the remote partition (the two tables may have different
 * partition counts) and cuts per-partition batches of about duplicate_log_batch_bytes. Up to
 * SHIP_WINDOW shipments are in flight, with at most SHIP_MAX_INFLIGHT batch RPCs out (the
 * oldest shipments' batches first); confirmed advances over the oldest shipments as they
 * complete. Re-shipping after a failover is harmless: applying is last-writer-wins.
 * FAIL_SLOW retries a failed batch forever with backoff; FAIL_SKIP gives up after
 * dup_skip_retries attempts and counts what it skipped.
 *
 * A hole: the plog no longer holds decrees not shipped yet (a learner seeded from a newer
 * checkpoint became primary; a new duplication started from a stale decree). Shipping never
 * stops there: the shipper re-seeds the remote from the partition's data instead. It notes
 * the commit point `at`, ships every record first written in this cluster (tombstones and
 * expired records included) as it iterates the storage, then ships the plog from
 * at + 1. Every write up to at is then at the remote or beaten there by a newer one:
 * applying is last-writer-wins, so records that changed during the pass do no harm. The
 * primary reports it (dup list shows the partitions, geokv_dup_resyncs_total counts them).
 * Runs on: replica loop (RPC completions are posted back to it).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/runtime_config.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/hash.h"
#include "proto/mutation.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"

#define SHIP_WINDOW 4 /* shipments in flight per duplication */
/* Batch RPCs out at once per duplication: a backlog (after a pause, an outage or a full
 * copy) is thousands of batches, and sending them all at once makes the remote primaries
 * queue them past their timeout, and the retries keep the queue full. */
#define SHIP_MAX_INFLIGHT 32
#define SHIP_MAX_BYTES (4u << 20) /* mutation bytes loaded into one shipment */
#define SHIP_TIMEOUT_MS 5000
#define CACHE_MAX_BYTES (32u << 20) /* recent committed mutations kept for shipping */
#define MAX_DUPS 8
#define RESYNC_RECORDS 20000 /* records a re-seed shipment reads at most */
#define LAG_MARKS 64         /* commit-time marks kept for the lag (coarsened when full) */

struct batch {
    uint32_t pidx;
    struct buf body; /* msg_dup_apply_req */
    size_t count_at; /* where its op count is patched in */
    uint32_t nops;
    bool closed; /* its count and trailer are written */
    int attempts;
    int64_t retry_at_ms; /* when to send it (1 = at once); 0 = in flight or done */
    bool done;
};

struct shipment {
    uint64_t seq;
    decree_t last;    /* covers (previous shipment's last, last] */
    uint64_t last_us; /* the newest write it ships (timetag microseconds), 0 if none */
    struct batch *batches;
    uint32_t nbatches, pending;
};

/* A re-seed of the remote from the partition's data (see the top of the file). Each shipment
 * reads on from the last key the previous one read, with an iterator of its own: one kept
 * open would pin the files of its view for as long as the re-seed waits on the remote. */
struct resync {
    struct buf last_key; /* the raw key the last shipment ended on (empty: none yet) */
    decree_t at;         /* the commit point it started at: the plog goes on after it */
    uint64_t records;    /* records read so far */
};

struct shipper {
    uint64_t dupid;
    uint32_t status, fail_mode;
    char remote[GEOKV_APP_NAME_MAX], remote_app[GEOKV_APP_NAME_MAX];
    decree_t confirmed, loaded;
    uint64_t confirmed_us;    /* the newest write up to confirmed (timetag microseconds) */
    bool skipped;             /* gave up on a batch (fail mode skip): confirmed says too much */
    struct dup_remote *table; /* remote table; NULL until opened */
    bool opening;
    int64_t open_retry_ms;
    struct shipment win[SHIP_WINDOW]; /* ring: oldest at head */
    uint32_t head, count;
    uint32_t inflight; /* batch RPCs out (<= SHIP_MAX_INFLIGHT) */
    struct resync *rs; /* a re-seed runs; NULL if none */
};

struct cached {
    decree_t decree;
    struct buf enc;
};

struct dup_state {
    struct shipper *sh[MAX_DUPS];
    uint32_t n;
    struct dup_confirm known[MAX_DUPS]; /* secondary: the primary's confirmed decrees */
    uint32_t nknown;
    struct cached *cache; /* committed mutations not yet loaded by every shipper */
    size_t ncache, cache_cap, cache_bytes;
    int64_t pending_reported; /* this partition's share of geokv_dup_pending_mutations */
    /* When the commit point passed decrees not yet confirmed by every duplication, oldest
     * first: the first mark tells how long the oldest unconfirmed write has waited. */
    struct {
        decree_t decree;
        int64_t at_ms; /* monotonic */
    } marks[LAG_MARKS];
    uint32_t nmarks;
    bool assigned; /* primary: dup_assign ran since it became primary */
};

/* ---------------- metrics ---------------- */

static const struct {
    enum metric_kind kind;
    const char *name, *help;
} dup_metrics[DM_COUNT] = {
    [DM_SHIP_FAILURES] = {METRIC_COUNTER, "geokv_dup_ship_failures_total", "failed shipping RPCs"},
    [DM_SHIPPED_OPS] = {METRIC_COUNTER, "geokv_dup_shipped_ops_total", "entries shipped"},
    [DM_SHIPPED_BYTES] = {METRIC_COUNTER, "geokv_dup_shipped_bytes_total", "bytes shipped"},
    [DM_SKIPPED_OPS] = {METRIC_COUNTER, "geokv_dup_skipped_ops_total",
                        "entries given up on (fail mode skip)"},
    [DM_LOAD_FAILURES] = {METRIC_COUNTER, "geokv_dup_load_failures_total",
                          "failed plog reads for shipping"},
    [DM_RESYNCS] = {METRIC_COUNTER, "geokv_dup_resyncs_total",
                    "re-seeds of a remote from a partition's data (its plog had lost the decrees)"},
    [DM_RESYNC_RECORDS] = {METRIC_COUNTER, "geokv_dup_resync_records_total",
                           "records shipped by re-seeds"},
    [DM_PENDING] = {METRIC_GAUGE, "geokv_dup_pending_mutations",
                    "committed writes not yet confirmed by the remote cluster"},
    [DM_ARRIVAL_LAG] = {METRIC_HISTOGRAM, "geokv_dup_arrival_lag_seconds",
                        "time from the write at the source to its arrival here"},
    [DM_LAGGING_WRITES] = {METRIC_COUNTER, "geokv_dup_lagging_writes_total",
                           "duplicated writes that took longer than "
                           "dup_lagging_write_threshold_ms"},
    [DM_BEYOND_TOMBSTONE_TTL] = {METRIC_COUNTER, "geokv_dup_beyond_tombstone_ttl_writes_total",
                                 "duplicated writes older than tombstone_ttl_seconds on arrival: "
                                 "clusters may no longer converge on their keys"},
    [DM_FOLLOW_COPY_FAILURES] = {METRIC_COUNTER, "geokv_dup_follow_copy_failures_total",
                                 "follower partitions' failed copies of their master's data"},
    [DM_FOLLOW_COPIED_BYTES] = {METRIC_COUNTER, "geokv_dup_follow_copied_bytes_total",
                                "bytes follower partitions copied from their master"},
};

struct metric *
dup_metric(enum dup_metric which)
{
    static _Atomic(struct metric *) cache[DM_COUNT];
    struct metric *m = atomic_load_explicit(&cache[which], memory_order_acquire);
    if (m == NULL) {
        m = metric_get(dup_metrics[which].kind, dup_metrics[which].name, NULL,
                       dup_metrics[which].help);
        atomic_store_explicit(&cache[which], m, memory_order_release);
    }
    return m;
}

void
dup_metrics_register(void)
{
    for (int i = 0; i < DM_COUNT; i++)
        (void)dup_metric((enum dup_metric)i);
}

/* ---------------- state ---------------- */

static struct dup_state *
state_of(struct replica *r)
{
    if (r->dup == NULL)
        r->dup = xcalloc(1, sizeof(*r->dup));
    return r->dup;
}

static void
shipment_clear(struct shipment *s)
{
    for (uint32_t i = 0; i < s->nbatches; i++)
        buf_fini(&s->batches[i].body);
    xfree(s->batches);
    memset(s, 0, sizeof(*s));
}

/* Forgets the shipments in flight; shipping restarts at the confirmed decree. */
static void
shipper_reset(struct shipper *sh)
{
    while (sh->count > 0) {
        shipment_clear(&sh->win[sh->head]);
        sh->head = (sh->head + 1) % SHIP_WINDOW;
        sh->count--;
    }
    sh->loaded = sh->confirmed;
    sh->inflight = 0; /* replies still out find no shipment and are dropped */
}

static void
resync_free(struct shipper *sh)
{
    if (sh->rs == NULL)
        return;
    buf_fini(&sh->rs->last_key);
    xfree(sh->rs);
    sh->rs = NULL;
}

static void
shipper_free(struct shipper *sh)
{
    shipper_reset(sh);
    resync_free(sh);
    xfree(sh);
}

/* Forgets the shippers and the cache (a primary that steps down must not pin memory or the
 * plog); keeps the confirmed decrees it knew as the plog floor and a resume point. */
void
dup_stop(struct replica *r)
{
    struct dup_state *d = r->dup;
    if (d == NULL)
        return;
    for (uint32_t i = 0; i < d->n; i++) {
        struct dup_confirm c = {r->gpid, d->sh[i]->dupid, d->sh[i]->confirmed, false};
        dup_note_confirms(r, &c, 1, false);
        shipper_free(d->sh[i]);
    }
    d->n = 0;
    d->assigned = false;
    d->nmarks = 0;
    for (size_t i = 0; i < d->ncache; i++)
        buf_fini(&d->cache[i].enc);
    d->ncache = 0;
    d->cache_bytes = 0;
    metric_add(dup_metric(DM_PENDING), -d->pending_reported);
    d->pending_reported = 0;
}

void
dup_free(struct replica *r)
{
    struct dup_state *d = r->dup;
    if (d == NULL)
        return;
    metric_add(dup_metric(DM_PENDING), -d->pending_reported);
    for (uint32_t i = 0; i < d->n; i++)
        shipper_free(d->sh[i]);
    for (size_t i = 0; i < d->ncache; i++)
        buf_fini(&d->cache[i].enc);
    xfree(d->cache);
    xfree(d);
    r->dup = NULL;
}

decree_t
dup_plog_floor(const struct replica *r)
{
    const struct dup_state *d = r->dup;
    decree_t floor = INT64_MAX;
    for (uint32_t i = 0; d && i < d->n; i++)
        if (d->sh[i]->confirmed < floor)
            floor = d->sh[i]->confirmed;
    for (uint32_t i = 0; d && i < d->nknown; i++)
        if (d->known[i].confirmed < floor)
            floor = d->known[i].confirmed;
    return floor < 0 ? 0 : floor;
}

uint32_t
dup_confirms(const struct replica *r, struct dup_confirm *out, uint32_t max)
{
    const struct dup_state *d = r->dup;
    uint32_t n = 0;
    for (uint32_t i = 0; d && i < d->n && n < max; i++)
        out[n++] = (struct dup_confirm){r->gpid, d->sh[i]->dupid, d->sh[i]->confirmed,
                                        d->sh[i]->rs != NULL};
    return n;
}

bool
dup_list_complete(const struct replica *r)
{
    return r->dup != NULL && r->dup->assigned;
}

/* Forgets the known decrees of duplications not in c. */
static void
forget_others(struct dup_state *d, const struct dup_confirm *c, uint32_t n)
{
    for (uint32_t i = 0; i < d->nknown;) {
        bool listed = false;
        for (uint32_t k = 0; k < n; k++)
            listed |= c[k].dupid == d->known[i].dupid;
        if (listed)
            i++;
        else
            d->known[i] = d->known[--d->nknown];
    }
}

/* Merges confirmed decrees (they only grow). Only a complete list forgets: a primary that
 * does not know every duplication yet must not lift a secondary's plog floor. */
void
dup_note_confirms(struct replica *r, const struct dup_confirm *c, uint32_t n, bool complete)
{
    struct dup_state *d;
    if (n == 0 && (!complete || r->dup == NULL))
        return;
    d = state_of(r);
    if (complete)
        forget_others(d, c, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = 0;
        while (k < d->nknown && d->known[k].dupid != c[i].dupid)
            k++;
        if (k == d->nknown) {
            if (d->nknown == MAX_DUPS)
                continue;
            d->known[d->nknown++] = c[i];
        } else if (c[i].confirmed > d->known[k].confirmed) {
            d->known[k].confirmed = c[i].confirmed;
        }
    }
}

static bool
copying(uint32_t status)
{
    return status == DS_PREPARE || status == DS_APP;
}

decree_t
dup_copy_floor(const struct replica *r)
{
    const struct dup_state *d = r->dup;
    decree_t floor = INT64_MAX;
    for (uint32_t i = 0; d && i < d->n; i++)
        if (copying(d->sh[i]->status) && d->sh[i]->confirmed < floor)
            floor = d->sh[i]->confirmed;
    return floor;
}

/* The decree a new shipper starts from: the meta's, or what the group check told us; -1 for
 * a full duplication with none yet (its checkpoint decides). While a full duplication copies,
 * the meta's D_p is the only value (a primary that made another checkpoint adopts it). */
static decree_t
resume_point(struct replica *r, const struct dup_assign *a)
{
    decree_t at = a->confirmed;
    if (copying(a->status) && at >= 0)
        return at;
    for (uint32_t i = 0; i < r->dup->nknown; i++)
        if (r->dup->known[i].dupid == a->dupid && r->dup->known[i].confirmed > at)
            at = r->dup->known[i].confirmed;
    if (at < 0 && a->status == DS_PREPARE)
        return -1;
    if (at < 0 || at > r->last_committed) /* new ("from now on"), or unknown here */
        at = r->last_committed;
    return at;
}

void
dup_assign(struct replica *r, const struct dup_assign *a, uint32_t n)
{
    struct dup_state *d = state_of(r);
    d->assigned = true;
    for (uint32_t i = 0; i < d->nknown;) { /* forget removed ones in the plog floor too */
        bool keep = false;
        for (uint32_t k = 0; k < n; k++)
            keep |= a[k].dupid == d->known[i].dupid && a[k].status != DS_REMOVED;
        if (keep)
            i++;
        else
            d->known[i] = d->known[--d->nknown];
    }
    for (uint32_t i = 0; i < d->n;) { /* drop the removed ones */
        bool keep = false;
        for (uint32_t k = 0; k < n; k++)
            keep |= a[k].dupid == d->sh[i]->dupid && a[k].status != DS_REMOVED;
        if (keep) {
            i++;
            continue;
        }
        RLOG_INFO(r, "duplication %" PRIu64 " removed here", d->sh[i]->dupid);
        shipper_free(d->sh[i]);
        d->sh[i] = d->sh[--d->n];
    }
    for (uint32_t k = 0; k < n; k++) {
        struct shipper *sh = NULL;
        if (a[k].status == DS_REMOVED)
            continue;
        for (uint32_t i = 0; i < d->n; i++)
            if (d->sh[i]->dupid == a[k].dupid)
                sh = d->sh[i];
        if (sh == NULL && d->n < MAX_DUPS) {
            decree_t at = resume_point(r, &a[k]);
            if (at < 0 && dup_full_prepare(r, &at) != 0)
                continue; /* logged; the next sync assigns it again */
            sh = xcalloc(1, sizeof(*sh));
            sh->dupid = a[k].dupid;
            snprintf(sh->remote, sizeof(sh->remote), "%s", a[k].remote);
            snprintf(sh->remote_app, sizeof(sh->remote_app), "%s", a[k].remote_app);
            sh->confirmed = sh->loaded = at;
            d->sh[d->n++] = sh;
            RLOG_INFO(r, "duplication %" PRIu64 " to %s: %s, shipping after decree %" PRId64,
                      sh->dupid, sh->remote, dup_status_name(a[k].status), sh->confirmed);
        } else if (sh && sh->status != a[k].status) {
            RLOG_INFO(r, "duplication %" PRIu64 " to %s: %s -> %s", sh->dupid, sh->remote,
                      dup_status_name(sh->status), dup_status_name(a[k].status));
        }
        if (sh) {
            sh->status = a[k].status;
            sh->fail_mode = a[k].fail_mode;
            if (copying(a[k].status) && a[k].confirmed >= 0) /* the persisted D_p */
                sh->confirmed = sh->loaded = a[k].confirmed;
            else if (a[k].confirmed > sh->confirmed && sh->count == 0) /* another primary went on */
                sh->confirmed = sh->loaded = a[k].confirmed;
        }
    }
}

/* ---------------- the recent-commit cache ---------------- */

static bool
any_shipping(const struct dup_state *d)
{
    for (uint32_t i = 0; d && i < d->n; i++)
        if (d->sh[i]->status == DS_LOG || d->sh[i]->status == DS_PAUSE)
            return true;
    return false;
}

/* Drops cached decrees every shipper has loaded, and the oldest beyond the size cap. */
static void
cache_trim(struct dup_state *d)
{
    decree_t min_loaded = INT64_MAX;
    size_t drop = 0;
    for (uint32_t i = 0; i < d->n; i++)
        if (d->sh[i]->loaded < min_loaded)
            min_loaded = d->sh[i]->loaded;
    while (drop < d->ncache &&
           (d->cache[drop].decree <= min_loaded || d->cache_bytes > CACHE_MAX_BYTES)) {
        d->cache_bytes -= d->cache[drop].enc.len;
        buf_fini(&d->cache[drop].enc);
        drop++;
    }
    memmove(d->cache, d->cache + drop, (d->ncache - drop) * sizeof(*d->cache));
    d->ncache -= drop;
}

void
dup_on_commit(struct replica *r, decree_t decree, const uint8_t *enc, size_t len)
{
    struct dup_state *d = r->dup;
    struct cached *c;
    if (r->role != ROLE_PRIMARY || !any_shipping(d))
        return;
    if (d->ncache == d->cache_cap) {
        d->cache_cap = d->cache_cap ? d->cache_cap * 2 : 256;
        d->cache = xrealloc(d->cache, d->cache_cap * sizeof(*d->cache));
    }
    c = &d->cache[d->ncache++];
    c->decree = decree;
    memset(&c->enc, 0, sizeof(c->enc));
    buf_append(&c->enc, enc, len);
    d->cache_bytes += len;
}

/* ---------------- loading and batching ---------------- */

/* Batches of one shipment being built, one open batch per remote partition. */
struct builder {
    struct replica *r;
    struct shipper *sh;
    struct shipment *s;
    uint32_t partitions;
    int32_t *open; /* per remote pidx: index of its open batch, or -1 */
    size_t bytes, batch_bytes;
    decree_t last;
    int err;
};

/* A builder of shipment s, from the decrees after sh->loaded. */
static struct builder
builder_for(struct replica *r, struct shipper *sh, struct shipment *s)
{
    return (struct builder){.r = r,
                            .sh = sh,
                            .s = s,
                            .partitions = host_remote_partitions(r->opts, sh->table),
                            .batch_bytes = (size_t)runtime_setting_get(r->opts->dup_batch_bytes),
                            .last = sh->loaded};
}

static struct batch *
new_batch(struct builder *b, uint32_t pidx)
{
    struct shipment *s = b->s;
    s->batches = xrealloc(s->batches, (s->nbatches + 1) * sizeof(*s->batches));
    memset(&s->batches[s->nbatches], 0, sizeof(*s->batches));
    s->batches[s->nbatches].pidx = pidx;
    b->open[pidx] = (int32_t)s->nbatches;
    return &s->batches[s->nbatches++];
}

/* Writes the batch's op count and the trailer telling the remote how far this partition's
 * duplication is confirmed (for dup failover's RPO there). */
static void
batch_close(const struct replica *r, const struct shipper *sh, struct batch *bt)
{
    struct dup_source src = {gpid_pidx(r->gpid), sh->skipped ? -1 : sh->confirmed,
                             sh->confirmed_us};
    if (bt->closed)
        return;
    dup_apply_end(&bt->body, bt->count_at, bt->nops, &src);
    bt->closed = true;
}

/* Adds one op to its partition's open batch (a msg_dup_apply_req built op by op). */
static void
add_op(struct builder *b, const struct mutation_op *op)
{
    uint32_t pidx = key_partition(op->hash_key.p, op->hash_key.len, op->sort_key.p,
                                  op->sort_key.len, b->partitions);
    struct batch *bt;
    size_t before;
    if (b->open[pidx] < 0) {
        bt = new_batch(b, pidx);
        bt->count_at = dup_apply_begin(&bt->body, b->r->cluster_id);
    }
    bt = &b->s->batches[b->open[pidx]];
    before = bt->body.len;
    dup_apply_add(&bt->body, op);
    bt->nops++;
    b->bytes += bt->body.len - before;
    if (timetag_ts(op->timetag) > b->s->last_us)
        b->s->last_us = timetag_ts(op->timetag);
    if (bt->body.len >= b->batch_bytes) { /* full (0: one op per batch): close it */
        batch_close(b->r, b->sh, bt);
        b->open[pidx] = -1;
    }
}

/* Takes one committed mutation into the shipment. */
static int
take_mutation(void *arg, decree_t decree, const uint8_t *enc, size_t len)
{
    struct builder *b = arg;
    struct unpacked *zone;
    struct mutation m;
    if (decree <= b->last)
        return 0;
    if (decree > b->r->last_committed || b->bytes >= SHIP_MAX_BYTES)
        return 1;
    if (decree != b->last + 1) { /* collected from the plog: never ship past a hole */
        RLOG_WARN(b->r,
                  "duplication %" PRIu64 ": decrees %" PRId64 "..%" PRId64
                  " are no longer in the plog",
                  b->sh->dupid, b->last + 1, decree - 1);
        b->err = ERR_NOT_FOUND;
        return 1;
    }
    if (mutation_decode(enc, len, &m, &zone) != 0) {
        b->err = ERR_INVALID_DATA;
        return 1;
    }
    if (!(m.flags & MUTATION_FROM_DUP))
        for (uint32_t i = 0; i < m.nops; i++)
            add_op(b, &m.ops[i]);
    mutation_fini(&m);
    unpacked_free(zone);
    b->last = decree;
    return 0;
}

/* Loads the decrees after sh->loaded into b: from the cache when it covers them. A plog that
 * starts after them (or is empty) is a hole: ERR_NOT_FOUND. */
static void
load(struct builder *b)
{
    struct dup_state *d = b->r->dup;
    decree_t first;
    if (d->ncache > 0 && d->cache[0].decree <= b->last + 1) {
        for (size_t i = 0; i < d->ncache; i++)
            if (take_mutation(b, d->cache[i].decree, d->cache[i].enc.data, d->cache[i].enc.len))
                break;
        return;
    }
    first = plog_first_decree(b->r->plog);
    if (first == 0 || first > b->last + 1) {
        RLOG_WARN(b->r,
                  "duplication %" PRIu64 ": decrees %" PRId64 "..%" PRId64 " are no "
                  "longer in the plog",
                  b->sh->dupid, b->last + 1, first == 0 ? b->r->last_committed : first - 1);
        b->err = ERR_NOT_FOUND;
        return;
    }
    if (plog_replay(b->r->plog, b->last, take_mutation, b) < 0) {
        metric_add(dup_metric(DM_LOAD_FAILURES), 1);
        b->err = ERR_IO;
    }
}

/* Shipment ids unique in the process, so a late reply never completes a batch of a shipper
 * that was closed and created again. Loop threads only; a race would only skip a number. */
static uint64_t
next_shipment_seq(void)
{
    static uint64_t seq;
    return ++seq;
}

/* Starts a re-seed of the remote from the partition's data at the current commit point. */
static void
resync_start(struct replica *r, struct shipper *sh)
{
    struct resync *rs = xcalloc(1, sizeof(*rs));
    rs->at = r->last_committed;
    sh->rs = rs;
    metric_add(dup_metric(DM_RESYNCS), 1);
    RLOG_WARN(r,
              "duplication %" PRIu64 ": re-seeding %s from this partition's data (at decree "
              "%" PRId64 "), then shipping the plog from there",
              sh->dupid, sh->remote, rs->at);
}

/* Takes the record under the iterator into b if this cluster first wrote it (a write is
 * shipped only by the cluster it was first written in). The op borrows from the iterator. */
static int
take_record(struct builder *b, struct storage_iter *it)
{
    const uint8_t *key, *sk, *hk;
    size_t klen, hk_len, sk_len;
    struct mutation_op op = {0};
    int rc;
    storage_iter_key(it, &key, &klen);
    rc = storage_key_decode(key, klen, &hk, &hk_len, &sk, &sk_len);
    if (rc == 0)
        rc = storage_iter_value(it, &op.expire_ts, &op.timetag, &op.value.p, &op.value.len);
    if (rc != 0 || timetag_cluster(op.timetag) != b->r->cluster_id)
        return rc;
    op.type = timetag_deleted(op.timetag) ? OP_DEL : OP_SET;
    op.hash_key = bytes_of(hk, hk_len);
    op.sort_key = bytes_of(sk, sk_len);
    add_op(b, &op);
    return 0;
}

/* Opens an iterator just after the key the re-seed's last shipment ended on. */
static int
resync_iter(struct replica *r, const struct resync *rs, struct storage_iter **it)
{
    const uint8_t *key;
    size_t klen;
    int rc = storage_iter_create(r->storage, rs->last_key.data, rs->last_key.len, NULL, 0, it);
    if (rc != 0 || rs->last_key.len == 0 || !storage_iter_valid(*it))
        return rc;
    storage_iter_key(*it, &key, &klen);
    if (klen == rs->last_key.len && memcmp(key, rs->last_key.data, klen) == 0)
        storage_iter_next(*it);
    return 0;
}

/* Builds the next shipment of a re-seed (records from where the last one ended, at most
 * RESYNC_RECORDS read, so a partition of records another cluster wrote, none shipped, does
 * not hold the loop); the last one covers the decrees up to the re-seed's commit point.
 * False (tried again later) if the storage cannot be read. */
static bool
build_resync_shipment(struct replica *r, struct shipper *sh)
{
    struct shipment *s = &sh->win[(sh->head + sh->count) % SHIP_WINDOW];
    struct resync *rs = sh->rs;
    struct builder b = builder_for(r, sh, s);
    struct storage_iter *it = NULL;
    struct buf from = BUF_INIT; /* where this shipment starts: read again after an error */
    const uint8_t *key;
    size_t klen;
    uint64_t n = 0;
    bool done;
    if (b.partitions == 0)
        return false;
    buf_append(&from, rs->last_key.data, rs->last_key.len);
    b.err = resync_iter(r, rs, &it);
    memset(s, 0, sizeof(*s));
    b.open = xmalloc(b.partitions * sizeof(*b.open));
    for (uint32_t i = 0; i < b.partitions; i++)
        b.open[i] = -1;
    for (; b.err == 0 && storage_iter_valid(it) && b.bytes < SHIP_MAX_BYTES && n < RESYNC_RECORDS;
         storage_iter_next(it), n++) {
        b.err = take_record(&b, it);
        storage_iter_key(it, &key, &klen);
        buf_reset(&rs->last_key);
        buf_append(&rs->last_key, key, klen);
    }
    if (b.err != 0) {
        buf_reset(&rs->last_key);
        buf_append(&rs->last_key, from.data, from.len);
    }
    buf_fini(&from);
    if (b.err == 0 && !storage_iter_valid(it))
        b.err = storage_iter_status(it);
    done = b.err == 0 && !storage_iter_valid(it);
    storage_iter_destroy(it);
    xfree(b.open);
    if (b.err != 0) { /* read again from the last key next time */
        RLOG_ERROR(r,
                   "duplication %" PRIu64 ": reading the partition to re-seed %s failed: %s "
                   "(retried)",
                   sh->dupid, sh->remote, err_str(b.err));
        shipment_clear(s);
        return false;
    }
    for (uint32_t i = 0; i < s->nbatches; i++)
        batch_close(r, sh, &s->batches[i]);
    rs->records += n;
    metric_add(dup_metric(DM_RESYNC_RECORDS), (int64_t)n);
    s->seq = next_shipment_seq();
    s->last = sh->loaded;
    s->last_us = 0; /* records of any age, some newer than the decrees it covers */
    if (done) {     /* the pass is over: the plog goes on after at */
        RLOG_INFO(r,
                  "duplication %" PRIu64 ": re-seed of %s done (%" PRIu64 " records read); "
                  "shipping the plog from decree %" PRId64,
                  sh->dupid, sh->remote, rs->records, rs->at + 1);
        s->last = sh->loaded = rs->at;
        resync_free(sh);
    }
    s->pending = s->nbatches;
    sh->count++;
    return true;
}

/* Builds the next shipment (the committed decrees after sh->loaded); false if none. */
static bool
build_shipment(struct replica *r, struct shipper *sh)
{
    struct shipment *s = &sh->win[(sh->head + sh->count) % SHIP_WINDOW];
    struct builder b = builder_for(r, sh, s);
    if (b.partitions == 0 || sh->loaded >= r->last_committed)
        return false;
    memset(s, 0, sizeof(*s));
    b.open = xmalloc(b.partitions * sizeof(*b.open));
    for (uint32_t i = 0; i < b.partitions; i++)
        b.open[i] = -1;
    load(&b);
    xfree(b.open);
    for (uint32_t i = 0; i < s->nbatches; i++)
        batch_close(r, sh, &s->batches[i]);
    if (b.err == ERR_NOT_FOUND && b.last == sh->loaded) { /* at the hole itself */
        shipment_clear(s);
        resync_start(r, sh);
        return false;
    }
    if (b.last == sh->loaded) { /* nothing loaded (a read error, counted in load) */
        shipment_clear(s);
        return false;
    }
    s->seq = next_shipment_seq();
    RLOG_DEBUG(r,
               "dup %" PRIu64 " shipment %" PRIu64 ": decrees %" PRId64 "..%" PRId64
               " (committed %" PRId64 "), %u batches, cache %zu from %" PRId64,
               sh->dupid, s->seq, sh->loaded + 1, b.last, r->last_committed, s->nbatches,
               r->dup->ncache, r->dup->ncache ? r->dup->cache[0].decree : -1);
    s->last = b.last;
    s->pending = s->nbatches;
    sh->loaded = b.last;
    sh->count++;
    return true;
}

struct batch_ctx {
    const struct replica_opts *opts;
    uint64_t gpid, dupid, seq;
    uint32_t idx;
    int err;
};

static struct shipment *
find_shipment(struct shipper *sh, uint64_t seq)
{
    for (uint32_t i = 0; i < sh->count; i++) {
        struct shipment *s = &sh->win[(sh->head + i) % SHIP_WINDOW];
        if (s->seq == seq)
            return s;
    }
    return NULL;
}

static struct shipper *
find_shipper(struct replica *r, uint64_t dupid)
{
    for (uint32_t i = 0; r && r->dup && i < r->dup->n; i++)
        if (r->dup->sh[i]->dupid == dupid)
            return r->dup->sh[i];
    return NULL;
}

/* Confirms the oldest shipments whose every batch is done. */
static void
advance(struct shipper *sh)
{
    while (sh->count > 0 && sh->win[sh->head].pending == 0) {
        sh->confirmed = sh->win[sh->head].last;
        if (sh->win[sh->head].last_us > sh->confirmed_us)
            sh->confirmed_us = sh->win[sh->head].last_us;
        shipment_clear(&sh->win[sh->head]);
        sh->head = (sh->head + 1) % SHIP_WINDOW;
        sh->count--;
    }
}

static void batch_done(struct replica *r, void *arg);

/* Runs on: client thread. */
static void
on_batch_reply(void *arg, int err, const uint8_t *body, size_t len)
{
    struct batch_ctx *c = arg;
    c->err = err;
    host_post(c->opts, c->gpid, batch_done, c);
}

static void
send_batch(struct replica *r, struct shipper *sh, struct shipment *s, uint32_t idx)
{
    struct batch_ctx *c = xmalloc(sizeof(*c));
    *c = (struct batch_ctx){r->opts, r->gpid, sh->dupid, s->seq, idx, 0};
    s->batches[idx].retry_at_ms = 0;
    sh->inflight++;
    LOG_DEBUG("dup %" PRIu64 " shipment %" PRIu64 " batch %u (%u ops) sent", sh->dupid, s->seq, idx,
              s->batches[idx].nops);
    host_remote_call(r->opts, sh->table, RPC_DUP_APPLY, s->batches[idx].pidx, &s->batches[idx].body,
                     SHIP_TIMEOUT_MS, on_batch_reply, c);
}

/* A batch finished: count it, retry it (FAIL_SLOW) or give up on it (FAIL_SKIP). */
static void
batch_done(struct replica *r, void *arg)
{
    struct batch_ctx *c = arg;
    struct shipper *sh = r && r->role == ROLE_PRIMARY ? find_shipper(r, c->dupid) : NULL;
    struct shipment *s = sh ? find_shipment(sh, c->seq) : NULL;
    struct batch *bt = s ? &s->batches[c->idx] : NULL;
    if (bt == NULL || bt->done) {
        xfree(c);
        return;
    }
    LOG_DEBUG("dup %" PRIu64 " shipment %" PRIu64 " batch %u (%u ops) -> %s", c->dupid, c->seq,
              c->idx, bt->nops, err_name(c->err));
    sh->inflight--;
    if (c->err == 0) {
        metric_add(dup_metric(DM_SHIPPED_OPS), bt->nops);
        metric_add(dup_metric(DM_SHIPPED_BYTES), (int64_t)bt->body.len);
    } else {
        metric_add(dup_metric(DM_SHIP_FAILURES), 1);
        bt->attempts++;
        if (bt->attempts == 1 || bt->attempts % 10 == 0)
            RLOG_WARN(r,
                      "duplication %" PRIu64 ": batch to %s partition %u failed (%s), attempt %d",
                      sh->dupid, sh->remote, bt->pidx, err_name(c->err), bt->attempts);
    }
    if (c->err != 0 && !(sh->fail_mode == FAIL_SKIP && bt->attempts >= r->opts->dup_skip_retries)) {
        int shift = bt->attempts < 6 ? bt->attempts : 6;
        bt->retry_at_ms = clock_mono_ms() + (50 << shift); /* FAIL_SLOW: retry forever */
        dup_tick(r);                                       /* its slot may send another batch */
    } else {
        if (c->err != 0) {
            sh->skipped = true;
            metric_add(dup_metric(DM_SKIPPED_OPS), bt->nops);
            RLOG_WARN(r, "duplication %" PRIu64 ": skipped a batch of %u entries (FAIL_SKIP)",
                      sh->dupid, bt->nops);
        }
        bt->done = true;
        s->pending--;
        advance(sh);
        dup_tick(r);
    }
    xfree(c);
}

/* ---------------- the remote table ---------------- */

struct open_job {
    const struct replica_opts *opts;
    uint64_t dupid;
    char remote[GEOKV_APP_NAME_MAX], app[GEOKV_APP_NAME_MAX];
    struct dup_remote *table;
    int rc;
};

/* Runs on: blocking loop. */
static void
open_remote(void *arg)
{
    struct open_job *j = arg;
    j->rc = host_remote_open(j->opts, j->remote, j->app, &j->table);
}

static void
open_done(struct replica *r, void *arg)
{
    struct open_job *j = arg;
    struct shipper *sh = find_shipper(r, j->dupid);
    if (sh != NULL) {
        sh->opening = false;
        if (j->rc == 0) {
            sh->table = j->table;
            dup_tick(r);
        } else {
            RLOG_WARN(r, "duplication %" PRIu64 ": cannot open %s on %s: %s", sh->dupid, j->app,
                      j->remote, err_str(j->rc));
            metric_add(dup_metric(DM_SHIP_FAILURES), 1);
            sh->open_retry_ms = clock_mono_ms() + 1000;
        }
    }
    xfree(j);
}

static void
start_open(struct replica *r, struct shipper *sh)
{
    struct open_job *j = xcalloc(1, sizeof(*j));
    j->opts = r->opts;
    j->dupid = sh->dupid;
    j->rc = ERR_SHUTDOWN;
    snprintf(j->remote, sizeof(j->remote), "%s", sh->remote);
    snprintf(j->app, sizeof(j->app), "%s", sh->remote_app);
    sh->opening = true;
    host_run_blocking(r, WORKER_REMOTE_OPEN, open_remote, open_done, j);
}

/* ---------------- the shipping loop ---------------- */

static void
ship(struct replica *r, struct shipper *sh, int64_t now)
{
    if (sh->table == NULL) {
        if (!sh->opening && now >= sh->open_retry_ms)
            start_open(r, sh);
        return;
    }
    while (sh->count < SHIP_WINDOW &&
           (sh->rs != NULL ? build_resync_shipment(r, sh) : build_shipment(r, sh))) {
        struct shipment *s = &sh->win[(sh->head + sh->count - 1) % SHIP_WINDOW];
        for (uint32_t k = 0; k < s->nbatches; k++)
            s->batches[k].retry_at_ms = 1; /* due at once */
        advance(sh); /* a shipment of only duplicated writes has nothing to wait for */
    }
    /* due batches, oldest shipment first, as long as there is room */
    for (uint32_t i = 0; i < sh->count && sh->inflight < SHIP_MAX_INFLIGHT; i++) {
        struct shipment *s = &sh->win[(sh->head + i) % SHIP_WINDOW];
        for (uint32_t k = 0; k < s->nbatches && sh->inflight < SHIP_MAX_INFLIGHT; k++)
            if (!s->batches[k].done && s->batches[k].retry_at_ms &&
                s->batches[k].retry_at_ms <= now)
                send_batch(r, sh, s, k);
    }
}

static decree_t
dup_min_confirmed(const struct dup_state *d)
{
    decree_t min = INT64_MAX;
    for (uint32_t i = 0; i < d->n; i++)
        if (d->sh[i]->confirmed < min)
            min = d->sh[i]->confirmed;
    return min;
}

/* Drops the marks every duplication has passed and marks the commit point if it moved. When
 * full, every other mark goes (the oldest stays): the lag stays exact to a coarser grain. */
static void
marks_note(const struct replica *r, struct dup_state *d, int64_t now)
{
    decree_t floor = dup_min_confirmed(d);
    uint32_t keep = 0;
    for (uint32_t i = 0; i < d->nmarks; i++)
        if (d->marks[i].decree > floor)
            d->marks[keep++] = d->marks[i];
    d->nmarks = keep;
    if (r->last_committed <= floor ||
        (d->nmarks > 0 && d->marks[d->nmarks - 1].decree >= r->last_committed))
        return;
    if (d->nmarks == LAG_MARKS) {
        for (uint32_t i = 0; i < LAG_MARKS / 2; i++)
            d->marks[i] = d->marks[2 * i];
        d->nmarks = LAG_MARKS / 2;
    }
    d->marks[d->nmarks].decree = r->last_committed;
    d->marks[d->nmarks++].at_ms = now;
}

void
dup_tick(struct replica *r)
{
    struct dup_state *d = r->dup;
    int64_t now = clock_mono_ms(), pending = 0;
    if (d == NULL || r->role != ROLE_PRIMARY || atomic_load(r->opts->stopping))
        return;
    for (uint32_t i = 0; i < d->n; i++) {
        if (d->sh[i]->status == DS_LOG)
            ship(r, d->sh[i], now);
        pending += r->last_committed - d->sh[i]->confirmed;
    }
    metric_add(dup_metric(DM_PENDING), pending - d->pending_reported);
    d->pending_reported = pending;
    marks_note(r, d, now);
    cache_trim(d);
}

int64_t
dup_lag_ms(const struct replica *r, int64_t now_ms)
{
    const struct dup_state *d = r->dup;
    if (d == NULL || r->role != ROLE_PRIMARY || d->nmarks == 0 ||
        dup_min_confirmed(d) >= r->last_committed)
        return 0;
    return now_ms - d->marks[0].at_ms;
}
