/*
 * replica.c: a partition's lifecycle — open (RocksDB + plog, replay of the plog past the
 * decree RocksDB has durably applied), close, plog garbage collection and checkpoints.
 *
 * Recovery invariant: RocksDB holds every decree <= storage_last_applied (the decree is
 * written in the same batch as the data, WAL off), and the plog holds every decree the
 * replica acknowledged after the last flush; replaying decrees above last_applied in order
 * rebuilds exactly the acknowledged state. Runs on: replica loop.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "replica/replica_int.h"

static int
mkdir_p(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

void
replica_batch_mutation(struct storage_batch *b, const struct mutation *m)
{
    for (uint32_t i = 0; i < m->nops; i++) {
        const struct mutation_op *op = &m->ops[i];
        storage_batch_put(b, op->hash_key.p, op->hash_key.len, op->sort_key.p, op->sort_key.len,
                          op->expire_ts, op->timetag, op->value.p, op->value.len);
    }
}

struct replay_ctx {
    struct replica *r;
    struct storage_batch *batch;
    int64_t applied;
};

/* Applies one logged mutation during recovery. */
static int
replay_one(void *arg, decree_t decree, const uint8_t *payload, size_t len)
{
    struct replay_ctx *c = arg;
    struct unpacked *zone;
    struct mutation m;
    int rc = mutation_decode(payload, len, &m, &zone);
    if (rc != 0) {
        RLOG_ERROR(c->r, "plog decree %" PRId64 " does not decode: %s", decree, err_str(rc));
        return rc;
    }
    storage_batch_clear(c->batch);
    replica_batch_mutation(c->batch, &m);
    for (uint32_t i = 0; i < m.nops; i++)
        if (timetag_ts(m.ops[i].timetag) > c->r->last_ts_us)
            c->r->last_ts_us = timetag_ts(m.ops[i].timetag);
    mutation_fini(&m);
    unpacked_free(zone);
    rc = storage_apply(c->r->storage, c->batch, decree);
    if (rc == 0)
        c->applied++;
    return rc;
}

static int
replica_replay(struct replica *r)
{
    struct replay_ctx c = {r, storage_batch_create(), 0};
    decree_t from = storage_last_applied(r->storage);
    int64_t t0 = clock_mono_ms();
    int rc = plog_replay(r->plog, from, replay_one, &c);
    storage_batch_destroy(c.batch);
    r->last_committed = storage_last_applied(r->storage);
    r->last_prepared = r->last_committed;
    RLOG_INFO(r, "replayed %" PRId64 " mutations (%" PRId64 " .. %" PRId64 ") in %" PRId64 " ms",
              c.applied, from, r->last_committed, clock_mono_ms() - t0);
    return rc;
}

/* Per-table metrics (shared by the table's partitions on this server). */
static void
replica_init_metrics(struct replica *r)
{
    char labels[32];
    snprintf(labels, sizeof(labels), "app_id=\"%u\"", gpid_app(r->gpid));
    r->write_ops = metric_get(METRIC_COUNTER, "geokv_write_ops", labels, "write requests served");
    r->read_ops = metric_get(METRIC_COUNTER, "geokv_read_ops", labels, "read requests served");
    r->write_latency = metric_get(METRIC_HISTOGRAM, "geokv_write_latency_us", labels,
                                  "write latency from arrival to reply, microseconds");
    r->read_latency = metric_get(METRIC_HISTOGRAM, "geokv_read_latency_us", labels,
                                 "read latency on the server, microseconds");
}

int
replica_open(uint64_t gpid, ballot_t ballot, const char *dir, const struct replica_opts *opts,
             struct replica **out)
{
    struct replica *r = xcalloc(1, sizeof(*r));
    char sub[600];
    decree_t plog_last;
    int rc;

    *out = NULL;
    r->gpid = gpid;
    r->ballot = ballot;
    r->cluster_id = opts->cluster_id;
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    rc = mkdir_p(dir);
    if (rc != 0)
        goto out_free;
    snprintf(sub, sizeof(sub), "%s/rocksdb", dir);
    rc = storage_open(sub, opts->storage, &r->storage);
    if (rc != 0)
        goto out_free;
    snprintf(sub, sizeof(sub), "%s/plog", dir);
    rc = plog_open(sub, opts->plog, &r->plog, &plog_last);
    if (rc != 0)
        goto out_close_storage;
    rc = replica_replay(r);
    if (rc != 0)
        goto out_close_plog;
    if (plog_last > r->last_committed)
        RLOG_WARN(r, "plog ends at %" PRId64 " but only %" PRId64 " replayed", plog_last,
                  r->last_committed);
    r->last_durable = storage_last_applied(r->storage);
    r->batch = storage_batch_create();
    replica_init_metrics(r);
    *out = r;
    return 0;

out_close_plog:
    plog_close(r->plog);
out_close_storage:
    storage_close(r->storage);
out_free:
    LOG_ERROR("replica %u.%u: cannot open %s: %s", gpid_app(gpid), gpid_pidx(gpid), dir,
              err_str(rc));
    xfree(r);
    return rc;
}

void
replica_close(struct replica *r)
{
    if (r == NULL)
        return;
    replica_commit_pending(r);
    plog_close(r->plog);
    storage_close(r->storage);
    storage_batch_destroy(r->batch);
    xfree(r->pending);
    xfree(r);
}

int
replica_gc(struct replica *r)
{
    decree_t durable;
    int rc = storage_flush(r->storage, &durable);
    if (rc != 0)
        return rc;
    r->last_durable = durable;
    return plog_gc(r->plog, durable);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes a directory tree; a missing one is fine. */
static void
rm_rf(const char *path)
{
    (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
replica_checkpoint(struct replica *r, decree_t *decree, char *dir, size_t dirlen)
{
    char tmp[600];
    struct stat st;
    int rc;
    snprintf(tmp, sizeof(tmp), "%s/checkpoint.tmp", r->dir);
    rm_rf(tmp); /* left by a crash during an earlier checkpoint */
    rc = storage_checkpoint(r->storage, tmp, decree);
    if (rc != 0)
        return rc;
    snprintf(dir, dirlen, "%s/checkpoint.%" PRId64, r->dir, *decree);
    if (stat(dir, &st) == 0) { /* nothing written since the last one: reuse it */
        rm_rf(tmp);
        return 0;
    }
    if (rename(tmp, dir) != 0) {
        rc = -errno;
        RLOG_ERROR(r, "rename %s -> %s: %s", tmp, dir, strerror(errno));
    }
    return rc;
}

uint64_t
replica_next_ts(struct replica *r)
{
    uint64_t now = (uint64_t)clock_wall_us();
    r->last_ts_us = now > r->last_ts_us ? now : r->last_ts_us + 1;
    return r->last_ts_us;
}
