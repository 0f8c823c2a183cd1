/*
 * meta_dup_full.c: full duplication (dup add -p) on the source meta: DS_PREPARE, where every
 * partition of the source table confirms the decree its checkpoint holds, and DS_APP, where
 * the meta asks the remote meta to create the follower table and waits until every follower
 * partition copied its master's data (docs/duplication.md).
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "meta/meta_dup_int.h"
#include "meta/meta_store.h"

static struct metric *
remote_failed_calls(void)
{
    return metric_get(METRIC_COUNTER, "geokv_meta_dup_remote_failed_calls_total", NULL,
                      "failed calls to a remote cluster's meta (full duplication)");
}

void
meta_dup_metrics_register(void)
{
    (void)remote_failed_calls();
}

/* ======================= full duplication: DS_PREPARE ======================= */

/* Partitions whose checkpoint decree is persisted. */
static uint32_t
prepared_parts(const struct meta_dup *d)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < d->npartitions; p++)
        n += d->confirmed[p] >= 0;
    return n;
}

/* Every partition has its checkpoint decree: on to DS_APP (retried by the cron on failure). */
void
meta_dup_prepare_check(struct meta_state *st, const struct meta_app *app, struct meta_dup *d)
{
    if (prepared_parts(d) == d->npartitions && meta_dup_set_status(st, app, d, DS_APP) == 0)
        snprintf(d->progress, sizeof(d->progress), "creating follower table %.80s.%.80s", d->remote,
                 d->remote_app);
}

/* DS_PREPARE: partition p's primary reports its checkpoint decree. Only the first one counts
 * (a later primary resumes from it), and it is written at once: a failover must not lose it. */
void
meta_dup_prepare_confirm(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                         uint32_t p, decree_t decree)
{
    int rc;

    if (d->confirmed[p] >= 0 || decree < 0)
        return;
    rc = meta_dup_part_write(st, app->app_id, d->dupid, p, decree, false);
    if (rc != 0) {
        LOG_WARN("duplication %" PRIu64 " of %s partition %u: writing checkpoint decree %lld "
                 "failed: %s (the primary reports it again)",
                 d->dupid, app->name, p, (long long)decree, err_str(rc));
        return;
    }
    d->confirmed[p] = d->reported[p] = decree;
    LOG_INFO("duplication %" PRIu64 " of %s partition %u: checkpoint at decree %lld (%u of %u)",
             d->dupid, app->name, p, (long long)decree, prepared_parts(d), d->npartitions);
    meta_dup_prepare_check(st, app, d);
}

/* Lists the partitions re-seeding their remote from their data in out ("" if none). */
static void
resync_progress(const struct meta_dup *d, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (uint32_t p = 0; p < d->npartitions && n + 120 < cap; p++)
        if (d->resyncing[p])
            n += (size_t)snprintf(out + n, cap - n, "%s%u", n ? "," : "partitions ", p);
    if (n > 0)
        snprintf(out + n, cap - n,
                 ": their plog lost writes not shipped yet; shipping their "
                 "data, then the plog again");
}

/* What dup list says of a full duplication still copying, or of partitions re-seeding. */
void
meta_dup_progress(const struct meta_dup *d, char *out, size_t cap)
{
    if (d->status == DS_PREPARE)
        snprintf(out, cap, "checkpoints made by %u of %u partitions", prepared_parts(d),
                 d->npartitions);
    else if (d->status == DS_APP)
        snprintf(out, cap, "%s", d->progress[0] ? d->progress : "creating the follower table");
    else
        resync_progress(d, out, cap);
}

/* ======================= full duplication: DS_APP ======================= */

bool
meta_dup_follow_next(struct meta_state *st, const struct meta_dup_options *o, int64_t now_ms,
                     struct meta_dup_follow *out)
{
    for (size_t i = 0; i < meta_state_app_count(st); i++) {
        struct meta_app *app = meta_state_app_edit(st, i);
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t k = 0; k < app->ndups; k++) {
            struct meta_dup *d = app->dups[k];
            const char *metas = meta_dup_cluster_metas(o, d->remote);
            if (d->status != DS_APP || d->follow_busy || now_ms < d->follow_next_ms)
                continue;
            if (metas == NULL) { /* the config changed under a running duplication */
                snprintf(d->progress, sizeof(d->progress),
                         "remote cluster %s is no longer "
                         "in [pegasus.clusters]: waiting",
                         d->remote);
                d->follow_next_ms = now_ms + META_DUP_FOLLOW_BACKOFF_MAX_MS;
                continue;
            }
            memset(out, 0, sizeof(*out));
            out->app_id = app->app_id;
            out->dupid = d->dupid;
            snprintf(out->remote, sizeof(out->remote), "%s", d->remote);
            snprintf(out->remote_metas, sizeof(out->remote_metas), "%s", metas);
            snprintf(out->create.name, sizeof(out->create.name), "%s", d->remote_app);
            out->create.partition_count = app->partition_count;
            out->create.replica_count =
                d->remote_replica_count ? d->remote_replica_count : app->replica_count;
            snprintf(out->create.master.cluster, sizeof(out->create.master.cluster), "%s",
                     o->cluster_name);
            snprintf(out->create.master.app, sizeof(out->create.master.app), "%s", app->name);
            snprintf(out->create.master.metas, sizeof(out->create.master.metas), "%s",
                     o->cluster_metas);
            d->follow_busy = true;
            return true;
        }
    }
    return false;
}

/* Partitions of the follower table with all their replicas. */
static uint32_t
follower_parts_complete(const struct msg_app_config *cfg)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < cfg->partition_count; p++)
        n += cfg->partitions[p].nsecondaries + 1 >= cfg->replica_count;
    return n;
}

void
meta_dup_follow_done(struct meta_state *st, const struct meta_dup_follow *f, int err,
                     const struct msg_app_config *cfg, int64_t now_ms)
{
    struct meta_app *app = meta_dup_app_live(st, f->app_id);
    struct meta_dup *d = app != NULL ? meta_dup_find(app, f->dupid) : NULL;
    int64_t delay;

    if (d == NULL || d->status != DS_APP)
        return; /* removed (or dropped) meanwhile */
    d->follow_busy = false;
    if (err != 0) {
        metric_add(remote_failed_calls(), 1);
        d->follow_failures++;
        delay = META_DUP_FOLLOW_POLL_MS << (d->follow_failures < 4 ? d->follow_failures : 4);
        if (delay > META_DUP_FOLLOW_BACKOFF_MAX_MS)
            delay = META_DUP_FOLLOW_BACKOFF_MAX_MS;
        snprintf(d->progress, sizeof(d->progress),
                 "creating follower table %.80s on %.80s failed: "
                 "%s (%u tries); retrying",
                 f->create.name, f->remote, err_name(err), d->follow_failures);
        if (d->follow_failures == 1 || d->follow_failures % 10 == 0)
            LOG_WARN("duplication %" PRIu64 " of %s: %s", d->dupid, app->name, d->progress);
        d->follow_next_ms = now_ms + delay;
        return;
    }
    d->follow_failures = 0;
    d->follow_next_ms = now_ms + META_DUP_FOLLOW_POLL_MS;
    if (!cfg->healthy) {
        snprintf(d->progress, sizeof(d->progress),
                 "follower table %.80s.%.80s: %u of %u partitions "
                 "copied and fully replicated",
                 f->remote, f->create.name, follower_parts_complete(cfg), cfg->partition_count);
        return;
    }
    if (meta_dup_set_status(st, app, d, DS_LOG) == 0) {
        d->progress[0] = '\0';
        LOG_INFO("duplication %" PRIu64 " of %s: follower table %s.%s is healthy: DS_LOG from "
                 "every partition's checkpoint decree",
                 d->dupid, app->name, f->remote, f->create.name);
    }
}
