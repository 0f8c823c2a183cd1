/*
 * replica.c: a partition's lifecycle — open (RocksDB + plog, replay of the plog past the
 * decree RocksDB has durably applied), close, plog garbage collection and checkpoints.
 *
 * Recovery invariant: RocksDB holds every decree <= storage_last_applied (the decree is
 * written in the same batch as the data, WAL off), and the plog holds every decree the
 * replica acknowledged after the last flush; replaying decrees above last_applied in order
 * rebuilds exactly the acknowledged state. Runs on: replica loop.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"

static void rm_rf(const char *path);
static void drop_old_dirs(struct replica *r, const char *prefix, decree_t keep_from);

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
    decree_t max_committed; /* the largest commit point any replayed mutation carried */
    int64_t replayed;
};

/* Puts one logged mutation back in the prepare list; commits what is known committed. */
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
    replica_clock_observe(c->r, m.ops, m.nops);
    mutation_fini(&m);
    unpacked_free(zone);
    if (decree != c->r->last_prepared + 1) {
        RLOG_ERROR(c->r, "plog jumps from decree %" PRId64 " to %" PRId64, c->r->last_prepared,
                   decree);
        return ERR_INVALID_DATA;
    }
    replica_plist_push(c->r, decree, m.ballot, payload, len);
    if (m.last_committed > c->max_committed)
        c->max_committed = m.last_committed;
    c->replayed++;
    /* keep the prepare list short while replaying a long plog */
    return c->r->plist_n >= 4096 ? replica_commit_upto(c->r, c->max_committed) : 0;
}

/*
 * Rebuilds the state after RocksDB's durable decree: every logged decree goes back to the
 * prepare list; those at or below the largest commit point a mutation carried are applied.
 * The rest stay prepared: a primary re-proposes them, a secondary gets them confirmed or
 * replaced by its primary.
 */
static int
replica_replay(struct replica *r)
{
    struct replay_ctx c = {r, 0, 0};
    decree_t from = storage_last_applied(r->storage);
    int64_t t0 = clock_mono_ms();
    int rc;
    r->last_committed = r->last_prepared = from;
    r->last_ts_us = storage_max_ts(r->storage);
    rc = plog_replay(r->plog, from, replay_one, &c);
    if (rc == 0)
        rc = replica_commit_upto(r, c.max_committed);
    r->durable_prepared = r->last_prepared;
    r->verified = r->last_committed;
    RLOG_INFO(r,
              "replayed %" PRId64 " mutations after %" PRId64 " in %" PRId64
              " ms: committed %" PRId64 ", prepared %" PRId64,
              c.replayed, from, clock_mono_ms() - t0, r->last_committed, r->last_prepared);
    return rc;
}

static void
primary_ballot_path(const struct replica *r, char *out, size_t len)
{
    snprintf(out, len, "%s/primary_ballot", r->dir);
}

/* Reads <dir>/primary_ballot. Absent in a partition that holds nothing: never primary.
 * Unreadable, empty, or absent where data is held (written before the file existed): unknown,
 * so the first assignment as primary asks for a new ballot (replica_claim_primary_ballot). */
static void
primary_ballot_load(struct replica *r)
{
    char path[600], text[32], *end = NULL;
    long long v = -1;
    int rc;
    primary_ballot_path(r, path, sizeof(path));
    rc = file_read_small(path, text, sizeof(text));
    if (rc == -ENOENT && r->last_prepared == 0)
        return;
    if (rc == 0)
        v = strtoll(text, &end, 10);
    if (v < 0 || end == text || (*end != '\n' && *end != '\0')) {
        RLOG_WARN(r, "%s is %s: the first time it is primary it asks for a new ballot", path,
                  rc == -ENOENT ? "missing in a partition that holds data"
                  : rc != 0     ? err_str(rc)
                                : "not a ballot");
        v = PRIMARY_BALLOT_UNKNOWN;
    }
    r->primary_ballot = v;
}

int
replica_claim_primary_ballot(struct replica *r, ballot_t ballot)
{
    char path[600], text[32];
    bool unknown = r->primary_ballot == PRIMARY_BALLOT_UNKNOWN;
    int rc;
    if (!unknown && ballot <= r->primary_ballot)
        return ERR_STALE_BALLOT;
    primary_ballot_path(r, path, sizeof(path));
    snprintf(text, sizeof(text), "%" PRId64 "\n", ballot);
    rc = file_write_atomic(path, text, strlen(text));
    if (rc != 0) {
        RLOG_ERROR(r, "cannot record primary ballot %" PRId64 " in %s: %s", ballot, path,
                   err_str(rc));
        return rc;
    }
    r->primary_ballot = ballot;
    return unknown ? ERR_STALE_BALLOT : 0; /* unknown: this one may have been used before */
}

void
replica_reply_err(struct replica *r, struct rpc_request *req, int err)
{
    if (err != ERR_NOT_FOUND && err != ERR_CHECK_FAILED)
        LOG_DEBUG("%u.%u: %s failed: %s", gpid_app(r->gpid), gpid_pidx(r->gpid),
                  rpc_code_name((int)req->env.code), err_name(err));
    rpc_reply(req, err, NULL, 0);
}

struct replica_report
replica_report(const struct replica *r)
{
    return (struct replica_report){r->gpid,           r->ballot,        r->last_committed,
                                   r->follow == NULL, r->last_prepared, r->role};
}

/* Per-table metrics (shared by the table's partitions on this server). */
static void
replica_init_metrics(struct replica *r)
{
    char labels[32];
    snprintf(labels, sizeof(labels), "app_id=\"%u\"", gpid_app(r->gpid));
    r->write_ops =
        metric_get(METRIC_COUNTER, "geokv_write_requests_total", labels, "write requests served");
    r->read_ops =
        metric_get(METRIC_COUNTER, "geokv_read_requests_total", labels, "read requests served");
    r->write_latency = metric_get(METRIC_HISTOGRAM, "geokv_write_latency_seconds", labels,
                                  "write latency from arrival to reply");
    r->read_latency = metric_get(METRIC_HISTOGRAM, "geokv_read_latency_seconds", labels,
                                 "read latency on the server");
}

int
replica_open(uint64_t gpid, const char *dir, const struct replica_opts *opts, struct replica **out)
{
    struct replica *r = xcalloc(1, sizeof(*r));
    char sub[600];
    decree_t plog_last;
    int rc;

    *out = NULL;
    r->gpid = gpid;
    r->role = ROLE_INACTIVE;
    r->storage_opts = opts->storage;
    r->opts = opts;
    r->batch = storage_batch_create();
    r->cluster_id = opts->cluster_id;
    snprintf(r->dir, sizeof(r->dir), "%s", dir);
    /* one level: the data dir must exist (a vanished one is not silently made anew) */
    rc = mkdir(dir, 0755) != 0 && errno != EEXIST ? -errno : 0;
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
    primary_ballot_load(r);
    replica_init_metrics(r);
    *out = r;
    return 0;

out_close_plog:
    plog_close(r->plog);
out_close_storage:
    storage_close(r->storage);
out_free:
    storage_batch_destroy(r->batch);
    LOG_ERROR("replica %u.%u: cannot open %s: %s", gpid_app(gpid), gpid_pidx(gpid), dir,
              err_str(rc));
    xfree(r);
    return rc;
}

/* Frees r; closes its plog as replica_close or replica_abandon says. */
static void
replica_free(struct replica *r, void (*close_plog)(struct plog *))
{
    replica_fail_waiting(r);
    for (size_t i = 0; i < r->nacks; i++)
        rpc_reply(r->acks[i], ERR_PARTITION_NOT_HERE, NULL, 0);
    for (size_t i = 0; i < r->plist_n; i++) {
        buf_fini(&r->plist[i].encoded);
        buf_fini(&r->plist[i].reply);
    }
    dup_free(r);
    dup_full_free(r);
    close_plog(r->plog);
    storage_close(r->storage);
    storage_batch_destroy(r->batch);
    xfree(r->plist);
    xfree(r->acks);
    xfree(r->dup_sources);
    xfree(r);
}

void
replica_close(struct replica *r)
{
    if (r == NULL)
        return;
    replica_flush(r);
    replica_free(r, plog_close);
}

void
replica_abandon(struct replica *r)
{
    if (r == NULL)
        return;
    replica_free(r, plog_abandon);
}

/* Opens the partition's RocksDB at db during an install (fail point replica_install_open). */
static int
install_open(struct replica *r, const char *db)
{
    if (FAIL_POINT("replica_install_open"))
        return ERR_IO;
    return storage_open(db, r->storage_opts, &r->storage);
}

int
replica_install_checkpoint(struct replica *r, const char *dir, decree_t decree)
{
    char db[600], old[620];
    int rc;
    snprintf(db, sizeof(db), "%s/rocksdb", r->dir);
    snprintf(old, sizeof(old), "%s/rocksdb.replaced", r->dir);
    rm_rf(old);
    replica_fail_waiting(r);
    rc = plog_truncate(r->plog, 0); /* what we had logged is older than the checkpoint */
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < r->plist_n; i++) {
        buf_fini(&r->plist[i].encoded);
        buf_fini(&r->plist[i].reply);
    }
    r->plist_n = 0;
    storage_close(r->storage);
    r->storage = NULL;
    if (rename(db, old) != 0) {
        rc = -errno;
        goto out_reopen;
    }
    if (rename(dir, db) != 0) {
        rc = -errno;
        goto out_restore;
    }
    rc = install_open(r, db);
    if (rc == 0 && storage_last_applied(r->storage) != decree) {
        rc = ERR_INVALID_DATA;
        storage_close(r->storage);
        r->storage = NULL;
    }
    if (rc != 0)
        goto out_restore;
    rm_rf(old);
    drop_old_dirs(r, "learn.", INT64_MAX); /* copies of other checkpoints, now useless */
    r->last_committed = r->last_prepared = r->durable_prepared = r->last_durable = decree;
    r->verified = decree;
    if (storage_max_ts(r->storage) > r->last_ts_us)
        r->last_ts_us = storage_max_ts(r->storage);
    RLOG_INFO(r, "installed checkpoint at decree %" PRId64, decree);
    return 0;

out_restore:
    rm_rf(db);
    if (rename(old, db) != 0)
        RLOG_ERROR(r, "rename %s -> %s: %s", old, db, strerror(errno));
out_reopen:
    RLOG_ERROR(r, "installing checkpoint %s failed: %s", dir, err_str(rc));
    if (install_open(r, db) != 0) {
        RLOG_ERROR(r, "the previous data does not open either: the partition closes here "
                      "(the meta assigns it again, and it learns from scratch)");
        r->storage = NULL; /* the caller closes r (stub_close_replica) */
        r->last_prepared = r->durable_prepared = r->verified = r->last_committed;
        return rc;
    }
    r->last_committed = r->last_prepared = r->durable_prepared = r->verified =
        storage_last_applied(r->storage);
    return rc; /* still a learner on its old data: the next round tries again */
}

int
replica_gc(struct replica *r)
{
    decree_t durable, floor = dup_plog_floor(r);
    int rc = storage_flush(r->storage, &durable);
    if (rc != 0)
        return rc;
    r->last_durable = durable;
    /* keep what a duplication has not confirmed yet */
    return plog_gc(r->plog, durable < floor ? durable : floor);
}

void
replica_on_compact(struct replica *r, struct rpc_request *req)
{
    int64_t t0 = clock_mono_ms();
    storage_compact(r->storage);
    RLOG_INFO(r, "compacted on request in %" PRId64 " ms", clock_mono_ms() - t0);
    rpc_reply(req, 0, NULL, 0);
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

/* Removes checkpoint.<decree> and learn.<decree> dirs older than keep_from: their hard links
 * would pin SST files forever. The previous checkpoint is kept for a learner still copying. */
static void
drop_old_dirs(struct replica *r, const char *prefix, decree_t keep_from)
{
    DIR *d = opendir(r->dir);
    struct dirent *e;
    size_t plen = strlen(prefix);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        char *end;
        long long v;
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        v = strtoll(e->d_name + plen, &end, 10);
        if (*end != '\0' || v >= keep_from)
            continue;
        snprintf(path, sizeof(path), "%s/%s", r->dir, e->d_name);
        rm_rf(path);
    }
    closedir(d);
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
        r->prev_checkpoint = *decree;
        return 0;
    }
    if (rename(tmp, dir) != 0) {
        rc = -errno;
        RLOG_ERROR(r, "rename %s -> %s: %s", tmp, dir, strerror(errno));
    }
    if (rc == 0) {
        drop_old_dirs(r, "checkpoint.", r->prev_checkpoint);
        r->prev_checkpoint = *decree;
    }
    return rc;
}

void
replica_clock_observe(struct replica *r, const struct mutation_op *ops, uint32_t nops)
{
    for (uint32_t i = 0; i < nops; i++)
        if (timetag_ts(ops[i].timetag) > r->last_ts_us)
            r->last_ts_us = timetag_ts(ops[i].timetag);
}

uint64_t
replica_next_ts(struct replica *r)
{
    uint64_t now = (uint64_t)clock_wall_us();
    r->last_ts_us = now > r->last_ts_us ? now : r->last_ts_us + 1;
    return r->last_ts_us;
}
