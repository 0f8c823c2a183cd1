/*
 * dup_full.c: full duplication (`dup add -p`, docs/duplication.md) on the replica servers.
 *
 * MASTER side (the source table's primaries):
 *  - DS_PREPARE: a primary that is assigned a full duplication with no decree yet makes a
 *    checkpoint and starts the duplication's confirmed decree at its decree D_p
 *    (dup_ship.c dup_assign), so the plog after D_p is kept from then on; the decree reaches
 *    the meta with the next RPC_DUP_SYNC, which persists it.
 *  - RPC_DUP_CHECKPOINT: a follower primary asks for the checkpoint to copy. The newest
 *    checkpoint is reused when it is at or after every copying duplication's D_p (so a copy
 *    that resumes after a crash finds the same files), else a new one is made. Either way
 *    its decree is >= D_p, and shipping from D_p + 1 re-applies at most a few writes the
 *    copy already holds, which last-writer-wins makes harmless.
 *
 * FOLLOWER side (the follower table's primaries, created by the master cluster's meta with
 * only a primary per partition): a primary without secondaries (nobody else was ever a member,
 * since learners cannot join before the copy is done; its ballot may have grown with
 * restarts) that holds nothing yet (no decree applied or logged, no
 * <partition>/master_copied marker) copies before it serves: it asks the master cluster's meta
 * for the master partition's primary, gets a checkpoint from it (RPC_DUP_CHECKPOINT),
 * copies the files into <partition>/master_copy (file_copy.h: SHA-256 verified, chunks
 * re-fetched on a bad CRC, resumable after a crash, rate-limited by nfs_copy_rate_mb) and
 * installs them as its data, then writes the marker (so an empty copy is not made again
 * after a restart). Meanwhile it answers clients and learners ERR_BUSY and reports
 * itself not ready; afterwards learners the meta adds copy from it as usual. A failed copy
 * is retried with backoff; a copy interrupted by a crash resumes on restart (the partition
 * still holds nothing), keeping the files already finished.
 *
 * Runs on: replica loop (the copy on the follow-copy worker, one copy at a time per server).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/geokv_wire.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/file_copy.h"
#include "replica/replica_int.h"

#define FOLLOW_META_TIMEOUT_MS 5000
#define FOLLOW_CHECKPOINT_TIMEOUT_MS 20000 /* a checkpoint flushes the memtable */
#define FOLLOW_BACKOFF_MAX_MS 10000
#define COPY_LANES 4 /* files of a checkpoint copied at once (reading, sending, writing overlap) */

/* A follower primary's copy of its master partition. */
struct dup_follow {
    struct dup_master master;
    bool running; /* a copy job is on the follow-copy worker */
    uint64_t gen; /* of the job out: a reply for another (older) job is dropped */
    int failures; /* attempts failed in a row */
    int64_t retry_at_ms;
};

/* ---------------- master side ---------------- */

int
dup_full_prepare(struct replica *r, decree_t *decree)
{
    char dir[600];
    int rc;

    rc = replica_checkpoint(r, decree, dir, sizeof(dir));
    if (rc != 0)
        RLOG_WARN(r, "full duplication: checkpoint failed: %s (retried)", err_str(rc));
    else
        RLOG_INFO(r,
                  "full duplication: checkpoint at decree %" PRId64 " (D_p); the plog after "
                  "it is kept for shipping",
                  *decree);
    return rc;
}

void
dup_full_on_checkpoint(struct replica *r, struct rpc_request *req)
{
    struct msg_checkpoint_resp m = {0};
    struct buf out = BUF_INIT;
    decree_t floor = dup_copy_floor(r);
    int rc = replica_check_primary(r);

    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    bool fits = snprintf(m.dir, sizeof(m.dir), "%s/checkpoint.%" PRId64, r->dir,
                         r->prev_checkpoint) < (int)sizeof(m.dir);
    m.decree = r->prev_checkpoint;
    if (floor == INT64_MAX || r->prev_checkpoint < floor || !fits || access(m.dir, F_OK) != 0)
        rc = replica_checkpoint(r, &m.decree, m.dir, sizeof(m.dir));
    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    RLOG_INFO(r, "full duplication: checkpoint %" PRId64 " for a follower to copy", m.decree);
    msg_checkpoint_resp_encode(&out, &m);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
}

/* ---------------- follower side ---------------- */

struct follow_job {
    const struct replica_opts *opts;
    uint64_t gen;
    struct dup_master master;
    uint32_t pidx;
    char local[600];
    char source[GEOKV_ADDR_MAX]; /* the master partition's primary */
    struct msg_checkpoint_resp cp;
    uint64_t bytes;
    int64_t ms;
    int rc;
    char why[256]; /* which step failed */
};

/* The master partition's primary, and a checkpoint from it (asked on rpc, the copy's
 * client). Runs on: follow-copy worker. */
static int
follow_locate(struct follow_job *j, struct rpc_client *rpc)
{
    struct geokv_client *c;
    struct msg_app_config cfg;
    struct buf reply = BUF_INIT;
    uint64_t gpid = 0;
    int rc = geokv_client_create(j->master.metas, NULL, &c);

    if (rc != 0) {
        snprintf(j->why, sizeof(j->why), "bad master meta list '%.100s'", j->master.metas);
        return rc;
    }
    geokv_client_seal(c);
    rc = geokv_query_config(c, j->master.app, FOLLOW_META_TIMEOUT_MS, &cfg);
    geokv_client_destroy(c);
    if (rc != 0) {
        snprintf(j->why, sizeof(j->why), "asking %.60s for table %.60s", j->master.cluster,
                 j->master.app);
        return rc;
    }
    if (j->pidx < cfg.partition_count) {
        snprintf(j->source, sizeof(j->source), "%s", cfg.partitions[j->pidx].primary);
        gpid = gpid_make(cfg.app_id, j->pidx);
    }
    msg_app_config_fini(&cfg);
    if (j->source[0] == '\0') {
        snprintf(j->why, sizeof(j->why), "master partition %u has no primary", j->pidx);
        return ERR_NOT_PRIMARY;
    }
    rc = rpc_call(rpc, j->source, RPC_DUP_CHECKPOINT, gpid, 0, NULL, 0,
                  FOLLOW_CHECKPOINT_TIMEOUT_MS, &reply);
    if (rc == 0)
        rc = msg_checkpoint_resp_decode(reply.data, reply.len, &j->cp);
    if (rc != 0)
        snprintf(j->why, sizeof(j->why), "checkpoint from %s", j->source);
    buf_fini(&reply);
    return rc;
}

/* Runs on: follow-copy worker. */
static void
follow_copy(void *arg)
{
    struct follow_job *j = arg;
    int64_t rate_mb = runtime_setting_get(j->opts->copy_rate_mb);
    struct file_copy_opts opts = {.cancel = j->opts->stopping,
                                  .prune = true,
                                  .lanes = COPY_LANES,
                                  .rate_bytes_per_s = rate_mb * 1000000};
    int64_t t0 = clock_mono_ms();
    struct rpc_client *c = rpc_client_create(); /* its own connection: see file_copy.h */

    rpc_client_seal(c); /* the master is in another datacenter */
    j->rc = follow_locate(j, c);
    if (j->rc == 0) {
        LOG_INFO("follower partition %u: copying checkpoint %" PRId64 " of %s.%s from %s "
                 "(rate limit %s%" PRId64 " MB/s)",
                 j->pidx, j->cp.decree, j->master.cluster, j->master.app, j->source,
                 rate_mb ? "" : "none, ", rate_mb);
        j->rc = file_copy_dir(c, j->source, j->cp.dir, j->local, &opts, &j->bytes);
        if (j->rc != 0)
            snprintf(j->why, sizeof(j->why), "copying %.100s from %s", j->cp.dir, j->source);
    }
    rpc_client_destroy(c);
    j->ms = clock_mono_ms() - t0;
}

static void
marker_path(const struct replica *r, char *out, size_t cap)
{
    snprintf(out, cap, "%s/master_copied", r->dir);
}

/* Creates the marker of a finished copy, durably. */
static int
mark_copied(const struct replica *r)
{
    char path[600];
    int rc;

    marker_path(r, path, sizeof(path));
    rc = file_sync_path(path, O_WRONLY | O_CREAT);
    return rc != 0 ? rc : file_sync_path(r->dir, O_RDONLY | O_DIRECTORY);
}

/* Runs on: replica loop. */
static void
follow_done(struct replica *r, void *arg)
{
    struct follow_job *j = arg;
    struct dup_follow *f = r != NULL ? r->follow : NULL;

    if (f == NULL || f->gen != j->gen) { /* closed (and maybe reopened) meanwhile */
        xfree(j);
        return;
    }
    if (r->role != ROLE_PRIMARY) { /* demoted meanwhile: dup_full_tick lets it go */
        f->running = false;
        xfree(j);
        return;
    }
    f->running = false;
    if (j->rc == 0)
        j->rc = replica_install_checkpoint(r, j->local, j->cp.decree);
    if (j->rc != 0) {
        int shift = f->failures < 4 ? f->failures : 4;
        f->failures++;
        f->retry_at_ms = clock_mono_ms() + ((int64_t)1000 << shift);
        if (f->retry_at_ms - clock_mono_ms() > FOLLOW_BACKOFF_MAX_MS)
            f->retry_at_ms = clock_mono_ms() + FOLLOW_BACKOFF_MAX_MS;
        metric_add(dup_metric(DM_FOLLOW_COPY_FAILURES), 1);
        RLOG_WARN(r,
                  "full duplication: copy from master %s.%s failed (%s: %s), attempt %d; "
                  "retrying",
                  f->master.cluster, f->master.app, j->why[0] ? j->why : "install", err_str(j->rc),
                  f->failures);
        xfree(j);
        if (r->storage == NULL)
            host_close_replica(r);
        return;
    }
    if (mark_copied(r) != 0)
        RLOG_WARN(r, "full duplication: cannot write the master_copied marker (an empty copy "
                     "would be made again after a restart)");
    metric_add(dup_metric(DM_FOLLOW_COPIED_BYTES), (int64_t)j->bytes);
    RLOG_INFO(r,
              "full duplication: installed master %s.%s checkpoint %" PRId64 " from %s: "
              "%" PRIu64 " bytes fetched in %" PRId64 " ms (%.1f MB/s); serving",
              f->master.cluster, f->master.app, j->cp.decree, j->source, j->bytes, j->ms,
              j->ms > 0 ? (double)j->bytes / 1000.0 / (double)j->ms : 0.0);
    xfree(r->follow);
    r->follow = NULL;
    xfree(j);
}

static void
follow_start(struct replica *r)
{
    struct dup_follow *f = r->follow;
    struct follow_job *j = xcalloc(1, sizeof(*j));

    static uint64_t gens; /* replica loops only compare for equality: a race costs nothing */
    j->opts = r->opts;
    j->gen = f->gen = ++gens;
    j->master = f->master;
    j->pidx = gpid_pidx(r->gpid);
    snprintf(j->local, sizeof(j->local), "%s/master_copy", r->dir);
    j->rc = ERR_SHUTDOWN; /* stays so if the server stops before the job runs */
    f->running = true;
    host_run_blocking(r, WORKER_FOLLOW_COPY, follow_copy, follow_done, j);
}

void
dup_full_follow(struct replica *r)
{
    const struct dup_master *master = &r->master;
    char marker[600];

    if (master->cluster[0] == '\0' || r->role != ROLE_PRIMARY || r->config.nsecondaries > 0 ||
        r->follow != NULL || r->last_committed > 0 || r->last_prepared > 0)
        return;
    marker_path(r, marker, sizeof(marker));
    if (access(marker, F_OK) == 0)
        return;
    r->follow = xcalloc(1, sizeof(*r->follow));
    r->follow->master = *master;
    RLOG_INFO(r, "follower of %s.%s: copying the master partition's data before serving",
              master->cluster, master->app);
    follow_start(r);
}

void
dup_full_tick(struct replica *r)
{
    struct dup_follow *f = r->follow;

    if (f == NULL || f->running || clock_mono_ms() < f->retry_at_ms)
        return;
    if (r->role != ROLE_PRIMARY) { /* no longer ours to copy; a new primary starts over */
        xfree(r->follow);
        r->follow = NULL;
        return;
    }
    follow_start(r);
}

void
dup_full_free(struct replica *r)
{
    xfree(r->follow); /* a job still out finds r->follow NULL (or r gone) and only frees */
    r->follow = NULL;
}
