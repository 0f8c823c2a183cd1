/*
 * meta_dup.c: the source cluster's side of duplication on the meta leader: add (checked as
 * Pegasus checks it), list, pause/start/remove/fail mode, the replica servers' periodic sync
 * (confirmed decrees in, duplication states out), and their store nodes (meta_dup.h).
 *
 * Invariants:
 *  - Store first, memory second, as in meta_state.c. The one exception is a partition's
 *    reported confirmed decree, which is accepted in memory (d->reported) and written at most
 *    every META_DUP_PERSIST_MS; what the meta hands out (sync replies, list) is always the
 *    persisted value (d->confirmed), so nobody resumes from a point a new leader would not
 *    know. A confirmed decree only grows, and only the partition's primary (by the meta's
 *    configuration) moves it.
 *  - dupids are unique per table for its whole life: removed duplications stay as tombstones
 *    (the dup node with status DS_REMOVED; their per-partition nodes are deleted), and a new
 *    dupid (creation second) is bumped past any taken one.
 *  - At most one live (not removed) duplication per (table, remote cluster): adding it again
 *    returns the existing dupid.
 *  - The duplications of a dropped table end with it: they are not loaded, listed or synced
 *    (their nodes stay under the dropped app's node, which is never reused).
 *
 * Data flow: meta_service decodes RPC_DUP_* -> meta_dup_* -> store writes -> reply (with a
 * msg_error_text for the operator on failure). RPC_DUP_ADD asks the remote cluster's meta
 * between meta_dup_add_check and meta_dup_add_finish, off the meta loop.
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include "meta/meta_dup.h"

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
#include "meta/meta_state.h"
#include "meta/meta_state_int.h"
#include "meta/meta_store.h"

#define DUP_PATH_MAX (META_STATE_PATH_MAX + 96) /* apps path + "/<id>/duplication/<dupid>/<p>" */
#define DUP_NEVER_WRITTEN (INT64_MIN / 2)
#define JSON_MAX_INT 9007199254740992.0 /* 2^53 */

static int
why_set(char *why, size_t len, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Writes the operator's message into why and returns err. */
static int
why_set(char *why, size_t len, int err, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ======================= options ======================= */

struct opt_ctx {
    struct meta_dup_options *o;
    char *errbuf;
    size_t errlen;
    int rc;
};

static void
cluster_each(void *arg, const char *key, const char *value)
{
    struct opt_ctx *c = arg;
    struct meta_dup_options *o = c->o;

    if (c->rc != 0)
        return;
    if (o->nclusters == META_DUP_MAX_CLUSTERS || key[0] == '\0'
        || strlen(key) >= META_DUP_NAME_MAX || strlen(value) >= META_DUP_METAS_MAX) {
        c->rc = why_set(c->errbuf, c->errlen, ERR_CONFIG,
                        "[pegasus.clusters] %s: too many clusters or a name/list too long", key);
        return;
    }
    snprintf(o->clusters[o->nclusters].name, META_DUP_NAME_MAX, "%s", key);
    snprintf(o->clusters[o->nclusters].metas, META_DUP_METAS_MAX, "%s", value);
    o->nclusters++;
}

static void
group_each(void *arg, const char *key, const char *value)
{
    struct opt_ctx *c = arg;
    struct meta_dup_options *o = c->o;
    char *end;
    long id;

    if (c->rc != 0)
        return;
    errno = 0;
    id = strtol(value, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno != 0 || end == value || *end != '\0' || id < 1 || id > 127) {
        c->rc = why_set(c->errbuf, c->errlen, ERR_CONFIG,
                        "[duplication-group] %s: cluster id must be 1..127", key);
        return;
    }
    for (uint32_t i = 0; i < o->ngroup; i++) {
        if (o->group[i].id == (uint32_t)id) {
            c->rc = why_set(c->errbuf, c->errlen, ERR_CONFIG,
                            "[duplication-group] %s and %s have the same cluster id %ld", key,
                            o->group[i].name, id);
            return;
        }
    }
    if (o->ngroup == META_DUP_MAX_CLUSTERS || key[0] == '\0' || strlen(key) >= META_DUP_NAME_MAX) {
        c->rc = why_set(c->errbuf, c->errlen, ERR_CONFIG,
                        "[duplication-group] %s: too many clusters or name too long", key);
        return;
    }
    snprintf(o->group[o->ngroup].name, META_DUP_NAME_MAX, "%s", key);
    o->group[o->ngroup].id = (uint32_t)id;
    o->ngroup++;
}

int
meta_dup_options_load(const struct config *cfg, const char *cluster_name,
                      struct meta_dup_options *out, char *errbuf, size_t errlen)
{
    struct opt_ctx c = {out, errbuf, errlen, 0};

    memset(out, 0, sizeof(*out));
    snprintf(out->cluster_name, sizeof(out->cluster_name), "%s", cluster_name);
    snprintf(out->cluster_metas, sizeof(out->cluster_metas), "%s",
             config_get_str(cfg, "cluster", "meta_servers", ""));
    if (config_get_bool(cfg, "replication", "duplication_enabled", true, &out->enabled) != 0)
        return why_set(errbuf, errlen, ERR_CONFIG,
                       "[replication] duplication_enabled must be true or false");
    config_each(cfg, "pegasus.clusters", cluster_each, &c);
    if (c.rc == 0)
        config_each(cfg, "duplication-group", group_each, &c);
    return c.rc;
}

static const char *
cluster_metas(const struct meta_dup_options *o, const char *name)
{
    for (uint32_t i = 0; i < o->nclusters; i++)
        if (strcmp(o->clusters[i].name, name) == 0)
            return o->clusters[i].metas;
    return NULL;
}

static bool
in_group(const struct meta_dup_options *o, const char *name)
{
    for (uint32_t i = 0; i < o->ngroup; i++)
        if (strcmp(o->group[i].name, name) == 0)
            return true;
    return false;
}

/* ======================= names and JSON ======================= */


void
meta_dup_json_encode(const struct meta_dup *d, struct buf *out)
{
    cJSON *j = cJSON_CreateObject();
    char *text;

    cJSON_AddStringToObject(j, "remote", d->remote);
    cJSON_AddStringToObject(j, "status", dup_status_name(d->status));
    cJSON_AddNumberToObject(j, "create_timestamp_ms", (double)d->create_ts_ms);
    cJSON_AddStringToObject(j, "fail_mode", dup_fail_mode_name(d->fail_mode));
    cJSON_AddStringToObject(j, "remote_app_name", d->remote_app);
    cJSON_AddNumberToObject(j, "remote_replica_count", d->remote_replica_count);
    text = cJSON_PrintUnformatted(j);
    ASSERT(text != NULL); /* cJSON fails only on OOM */
    buf_append(out, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(j);
}

/* A string field shorter than cap; false if present with another type or too long. A missing
 * field leaves dst as it is and returns !required. */
static bool
json_str_field(const cJSON *j, const char *key, bool required, char *dst, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

    if (it == NULL)
        return !required;
    if (!cJSON_IsString(it) || it->valuestring == NULL || strlen(it->valuestring) >= cap)
        return false;
    memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
    return true;
}

/* An integral number field in [0, max]; a missing one leaves *out and returns !required. */
static bool
json_num_field(const cJSON *j, const char *key, bool required, double max, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, key);

    if (it == NULL)
        return !required;
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= max)
        || floor(it->valuedouble) != it->valuedouble)
        return false;
    *out = (int64_t)it->valuedouble;
    return true;
}

int
meta_dup_json_decode(const uint8_t *p, size_t n, struct meta_dup *d)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    char status[32] = "", mode[32] = "FAIL_SLOW";
    int64_t ts = 0, rrc = 0;
    int s, m, rc = ERR_INVALID_DATA;

    memset(d, 0, sizeof(*d));
    if (j == NULL)
        return ERR_INVALID_DATA;
    if (!cJSON_IsObject(j) || !json_str_field(j, "remote", true, d->remote, sizeof(d->remote))
        || d->remote[0] == '\0' || !json_str_field(j, "status", true, status, sizeof(status))
        || !json_num_field(j, "create_timestamp_ms", true, JSON_MAX_INT, &ts)
        || !json_str_field(j, "fail_mode", false, mode, sizeof(mode))
        || !json_str_field(j, "remote_app_name", false, d->remote_app, sizeof(d->remote_app))
        || !json_num_field(j, "remote_replica_count", false, GEOKV_MAX_REPLICAS, &rrc))
        goto out_delete;
    s = strcmp(status, "DS_START") == 0 ? DS_LOG /* older Pegasus name */
                                        : dup_status_parse(status);
    m = dup_fail_mode_parse(mode);
    if (s < 0 || m < 0)
        goto out_delete;
    d->status = (uint32_t)s;
    d->fail_mode = (uint32_t)m;
    d->create_ts_ms = ts;
    d->remote_replica_count = (uint32_t)rrc;
    rc = 0;
out_delete:
    cJSON_Delete(j);
    if (rc != 0)
        memset(d, 0, sizeof(*d));
    return rc;
}

/* ======================= memory ======================= */

/* Gives d npartitions partitions, all at -1 and never written. */
static void
dup_parts_alloc(struct meta_dup *d, uint32_t npartitions)
{
    d->npartitions = npartitions;
    d->confirmed = xmalloc(npartitions * sizeof(*d->confirmed));
    d->reported = xmalloc(npartitions * sizeof(*d->reported));
    d->written_ms = xmalloc(npartitions * sizeof(*d->written_ms));
    d->resyncing = xcalloc(npartitions, sizeof(*d->resyncing));
    for (uint32_t p = 0; p < npartitions; p++) {
        d->confirmed[p] = d->reported[p] = -1;
        d->written_ms[p] = DUP_NEVER_WRITTEN;
    }
}

/* Drops d's partitions (a tombstone has none). */
static void
dup_parts_free(struct meta_dup *d)
{
    xfree(d->confirmed);
    xfree(d->reported);
    xfree(d->written_ms);
    xfree(d->resyncing);
    d->confirmed = d->reported = NULL;
    d->written_ms = NULL;
    d->resyncing = NULL;
    d->npartitions = 0;
}

static void
dup_free(struct meta_dup *d)
{
    dup_parts_free(d);
    xfree(d);
}

void
meta_dup_free_all(struct meta_app *app)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        dup_free(app->dups[i]);
    xfree(app->dups);
    app->dups = NULL;
    app->ndups = 0;
}

/* Inserts d (taking ownership) keeping app->dups sorted by dupid. */
static void
dups_insert(struct meta_app *app, struct meta_dup *d)
{
    uint32_t pos = app->ndups;

    app->dups = xrealloc(app->dups, (app->ndups + 1) * sizeof(*app->dups));
    while (pos > 0 && app->dups[pos - 1]->dupid > d->dupid) {
        app->dups[pos] = app->dups[pos - 1];
        pos--;
    }
    app->dups[pos] = d;
    app->ndups++;
}

/* The duplication dupid of app (tombstones too), or NULL. */
static struct meta_dup *
dup_find(const struct meta_app *app, uint64_t dupid)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        if (app->dups[i]->dupid == dupid)
            return app->dups[i];
    return NULL;
}

/* The live duplication of app to remote, or NULL. */
static struct meta_dup *
dup_find_remote(const struct meta_app *app, const char *remote)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        if (app->dups[i]->status != DS_REMOVED && strcmp(app->dups[i]->remote, remote) == 0)
            return app->dups[i];
    return NULL;
}

/* The available app of that id, or NULL (meta_state owns it; this module may change its
 * duplications). */
static struct meta_app *
app_live(const struct meta_state *st, uint32_t app_id)
{
    struct meta_app *app = (struct meta_app *)meta_state_get_app(st, app_id);
    return app != NULL && app->status == APP_AVAILABLE ? app : NULL;
}

/* ======================= store nodes ======================= */

static void
dup_dir_path(const struct meta_state *st, uint32_t app_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication", st->apps_path, app_id);
}

static void
dup_node_path(const struct meta_state *st, uint32_t app_id, uint64_t dupid, char *out,
              size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication/%" PRIu64, st->apps_path, app_id, dupid);
}

static void
dup_part_path(const struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t pidx,
              char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication/%" PRIu64 "/%u", st->apps_path, app_id, dupid, pidx);
}

/* Overwrites d's node with d's JSON (create if create). */
static int
dup_node_write(struct meta_state *st, uint32_t app_id, const struct meta_dup *d, bool create)
{
    char path[DUP_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc;

    dup_node_path(st, app_id, d->dupid, path, sizeof(path));
    meta_dup_json_encode(d, &b);
    if (create)
        rc = meta_store_create(st->store, path, b.data, b.len, 0, NULL, 0);
    else
        rc = meta_store_set(st->store, path, b.data, b.len);
    buf_fini(&b);
    return rc;
}

/* Writes one partition's confirmed decree (creating the node if it is missing). */
static int
dup_part_write(struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t pidx,
               decree_t decree, bool create)
{
    char path[DUP_PATH_MAX], text[32];
    int n = snprintf(text, sizeof(text), "%lld", (long long)decree);
    int rc;

    dup_part_path(st, app_id, dupid, pidx, path, sizeof(path));
    if (!create) {
        rc = meta_store_set(st->store, path, text, (size_t)n);
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    return meta_store_create(st->store, path, text, (size_t)n, 0, NULL, 0);
}

/* Deletes the per-partition nodes of a duplication (best effort; missing ones are fine). */
static void
dup_parts_delete(struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t npartitions)
{
    char path[DUP_PATH_MAX];

    for (uint32_t p = 0; p < npartitions; p++) {
        int rc;
        dup_part_path(st, app_id, dupid, p, path, sizeof(path));
        rc = meta_store_delete(st->store, path);
        if (rc != 0 && rc != ERR_NOT_FOUND) {
            LOG_WARN("duplication %" PRIu64 " of app %u: deleting %s failed: %s (left behind)",
                     dupid, app_id, path, err_str(rc));
            return;
        }
    }
}

/* Persists a new duplication: its node, then one node per partition at its start decree. On
 * failure what
 * was written is deleted again (best effort) so memory and store agree. */
static int
dup_create_nodes(struct meta_state *st, const struct meta_app *app, const struct meta_dup *d)
{
    char path[DUP_PATH_MAX];
    uint32_t p = 0;
    int rc;

    dup_dir_path(st, app->app_id, path, sizeof(path));
    rc = meta_store_mkdirs(st->store, path);
    if (rc != 0)
        return rc;
    rc = dup_node_write(st, app->app_id, d, true);
    if (rc != 0)
        return rc;
    for (; p < d->npartitions && rc == 0; p++)
        rc = dup_part_write(st, app->app_id, d->dupid, p, d->confirmed[p], true);
    if (rc == 0)
        return 0;
    dup_parts_delete(st, app->app_id, d->dupid, p);
    dup_node_path(st, app->app_id, d->dupid, path, sizeof(path));
    if (meta_store_delete(st->store, path) != 0) /* a leftover loads as a live duplication */
        LOG_WARN("could not delete %s after a failed add", path);
    return rc;
}

/* Writes partition p's reported decree if it is ahead of the persisted one and due (the
 * first write of this leader at once, then at most every META_DUP_PERSIST_MS, failed tries
 * included). */
static void
dup_part_flush(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
               uint32_t p, int64_t now_ms)
{
    int rc;

    if (d->reported[p] <= d->confirmed[p])
        return;
    if (d->written_ms[p] != DUP_NEVER_WRITTEN && now_ms - d->written_ms[p] < META_DUP_PERSIST_MS)
        return;
    d->written_ms[p] = now_ms; /* a failure is retried after the interval too */
    rc = dup_part_write(st, app->app_id, d->dupid, p, d->reported[p], false);
    if (rc != 0) {
        LOG_WARN("duplication %" PRIu64 " of %s partition %u: writing confirmed decree %lld "
                 "failed: %s (will retry)", d->dupid, app->name, p, (long long)d->reported[p],
                 err_str(rc));
        return;
    }
    d->confirmed[p] = d->reported[p];
}

/* Writes d's node with status, then changes d (logged). */
static int
dup_set_status(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
               uint32_t status)
{
    struct meta_dup next = *d;
    int rc;

    next.status = status;
    rc = dup_node_write(st, app->app_id, &next, false);
    if (rc != 0) {
        LOG_WARN("duplication %" PRIu64 " of %s: writing %s failed: %s (will retry)", d->dupid,
                 app->name, dup_status_name(status), err_str(rc));
        return rc;
    }
    LOG_INFO("duplication %" PRIu64 " of %s to %s: %s -> %s", d->dupid, app->name, d->remote,
             dup_status_name(d->status), dup_status_name(status));
    d->status = status;
    return 0;
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
static void
prepare_check(struct meta_state *st, const struct meta_app *app, struct meta_dup *d)
{
    if (prepared_parts(d) == d->npartitions && dup_set_status(st, app, d, DS_APP) == 0)
        snprintf(d->progress, sizeof(d->progress), "creating follower table %.80s.%.80s",
                 d->remote, d->remote_app);
}

/* DS_PREPARE: partition p's primary reports its checkpoint decree. Only the first one counts
 * (a later primary resumes from it), and it is written at once: a failover must not lose it. */
static void
prepare_confirm(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                uint32_t p, decree_t decree)
{
    int rc;

    if (d->confirmed[p] >= 0 || decree < 0)
        return;
    rc = dup_part_write(st, app->app_id, d->dupid, p, decree, false);
    if (rc != 0) {
        LOG_WARN("duplication %" PRIu64 " of %s partition %u: writing checkpoint decree %lld "
                 "failed: %s (the primary reports it again)", d->dupid, app->name, p,
                 (long long)decree, err_str(rc));
        return;
    }
    d->confirmed[p] = d->reported[p] = decree;
    LOG_INFO("duplication %" PRIu64 " of %s partition %u: checkpoint at decree %lld (%u of %u)",
             d->dupid, app->name, p, (long long)decree, prepared_parts(d), d->npartitions);
    prepare_check(st, app, d);
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
        snprintf(out + n, cap - n, ": their plog lost writes not shipped yet; shipping their "
                                   "data, then the plog again");
}

/* What dup list says of a full duplication still copying, or of partitions re-seeding. */
static void
dup_progress(const struct meta_dup *d, char *out, size_t cap)
{
    if (d->status == DS_PREPARE)
        snprintf(out, cap, "checkpoints made by %u of %u partitions", prepared_parts(d),
                 d->npartitions);
    else if (d->status == DS_APP)
        snprintf(out, cap, "%s", d->progress[0] ? d->progress : "creating the follower table");
    else
        resync_progress(d, out, cap);
}

/* ======================= add ======================= */

/* The app named name that is not dropped (available or being created), or NULL. */
static struct meta_app *
app_by_name(const struct meta_state *st, const char *name)
{
    struct meta_app *found = NULL;

    for (size_t i = 0; i < st->napps; i++)
        if (st->apps[i]->status != APP_DROPPED && strcmp(st->apps[i]->name, name) == 0)
            found = st->apps[i];
    return found;
}

/* Checks of the cluster configuration, in Pegasus' order. */
static int
add_check_config(const struct meta_dup_options *o, const struct msg_dup_add_req *req,
                 char *why, size_t whylen)
{
    if (!o->enabled)
        return why_set(why, whylen, ERR_INVALID_STATE,
                       "duplication is disabled on cluster %s ([replication] "
                       "duplication_enabled = false)", o->cluster_name);
    if (req->remote[0] == '\0')
        return why_set(why, whylen, ERR_INVALID_ARG, "no remote cluster given (-c CLUSTER)");
    if (strcmp(req->remote, o->cluster_name) == 0)
        return why_set(why, whylen, ERR_INVALID_ARG,
                       "cannot duplicate table %s to its own cluster %s", req->app,
                       o->cluster_name);
    if (cluster_metas(o, req->remote) == NULL)
        return why_set(why, whylen, ERR_INVALID_ARG,
                       "remote cluster %s is not in [pegasus.clusters] of cluster %s's meta "
                       "config", req->remote, o->cluster_name);
    if (!in_group(o, req->remote))
        return why_set(why, whylen, ERR_INVALID_ARG,
                       "remote cluster %s is not in [duplication-group] (it has no cluster id)",
                       req->remote);
    if (!in_group(o, o->cluster_name))
        return why_set(why, whylen, ERR_INVALID_ARG,
                       "this cluster %s is not in [duplication-group] (it has no cluster id)",
                       o->cluster_name);
    return 0;
}

int
meta_dup_add_check(const struct meta_state *st, const struct meta_dup_options *o,
                   const struct msg_dup_add_req *req, struct msg_dup_add_resp *resp,
                   char *remote_metas, size_t cap, char *why, size_t whylen)
{
    const struct meta_app *app;
    const struct meta_dup *d;
    int rc;

    memset(resp, 0, sizeof(*resp));
    if (cap > 0)
        remote_metas[0] = '\0';
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    rc = add_check_config(o, req, why, whylen);
    if (rc != 0)
        return rc;
    if (req->full && o->cluster_metas[0] == '\0')
        return why_set(why, whylen, ERR_INVALID_STATE,
                       "full duplication (-p) needs [cluster] meta_servers of cluster %s: the "
                       "follower table copies through it", o->cluster_name);
    app = app_by_name(st, req->app);
    if (app == NULL)
        return why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist", req->app);
    if (app->status != APP_AVAILABLE)
        return why_set(why, whylen, ERR_APP_UNAVAILABLE, "table %s is not available (%s)",
                       req->app, meta_app_status_name(app->status));
    d = dup_find_remote(app, req->remote);
    if (d != NULL) {
        resp->dupid = d->dupid;
        resp->existed = true;
        return 0;
    }
    snprintf(remote_metas, cap, "%s", cluster_metas(o, req->remote));
    return 0;
}

int
meta_dup_follower_check(const struct meta_dup_options *o, struct msg_create_app_req *req,
                        char *why, size_t whylen)
{
    const char *metas = cluster_metas(o, req->master.cluster);

    if (!o->enabled)
        return why_set(why, whylen, ERR_INVALID_STATE, "duplication is disabled on cluster %s",
                       o->cluster_name);
    if (metas == NULL || !in_group(o, req->master.cluster))
        return why_set(why, whylen, ERR_INVALID_ARG,
                       "master cluster %s of follower table %s is not in [pegasus.clusters] "
                       "and [duplication-group] of cluster %s", req->master.cluster, req->name,
                       o->cluster_name);
    if (!meta_app_name_valid(req->master.app))
        return why_set(why, whylen, ERR_INVALID_ARG, "bad master table name");
    snprintf(req->master.metas, sizeof(req->master.metas), "%s", metas);
    return 0;
}

/* The code to answer when the remote cluster could not be asked. Transport codes become
 * ERR_BUSY: a client takes ERR_NETWORK / ERR_TIMEOUT / ERR_NO_LEADER from the meta for its
 * own connection's trouble and would resend the add to another meta. */
static int
remote_err_code(int err)
{
    if (err == ERR_NETWORK || err == ERR_TIMEOUT || err == ERR_NO_LEADER
        || err == ERR_FORWARD_TO_LEADER)
        return ERR_BUSY;
    return err;
}

/* A dupid for app: the creation second, bumped while any duplication of app has it. */
static uint64_t
dupid_pick(const struct meta_app *app, int64_t now_wall_ms)
{
    uint64_t id = now_wall_ms > 0 ? (uint64_t)(now_wall_ms / 1000) : 1;

    if (id == 0)
        id = 1;
    while (dup_find(app, id) != NULL)
        id++;
    return id;
}

int
meta_dup_add_finish(struct meta_state *st, const struct meta_dup_options *o,
                    const struct msg_dup_add_req *req, const struct meta_dup_remote *remote,
                    int64_t now_wall_ms, struct msg_dup_add_resp *resp, char *why, size_t whylen)
{
    char metas[META_DUP_METAS_MAX];
    struct meta_app *app;
    struct meta_dup *d;
    int rc;

    rc = meta_dup_add_check(st, o, req, resp, metas, sizeof(metas), why, whylen);
    if (rc != 0 || resp->existed)
        return rc;
    if (remote->err == ERR_APP_NOT_FOUND && !req->full)
        return why_set(why, whylen, ERR_APP_NOT_FOUND,
                       "table %s does not exist on remote cluster %s (create it there first: "
                       "without -p the remote table must exist)", req->app, req->remote);
    if (remote->err == 0 && req->full)
        return why_set(why, whylen, ERR_APP_EXISTS,
                       "table %s already exists on remote cluster %s: full duplication (-p) "
                       "creates it and copies the data (drop it there, or add without -p)",
                       req->app, req->remote);
    if (remote->err != 0 && !(remote->err == ERR_APP_NOT_FOUND && req->full))
        return why_set(why, whylen, remote_err_code(remote->err),
                       "cannot ask remote cluster %s (%s) whether table %s exists: %s",
                       req->remote, metas, req->app, err_str(remote->err));
    app = app_by_name(st, req->app); /* available: checked above */
    d = xcalloc(1, sizeof(*d));
    d->dupid = dupid_pick(app, now_wall_ms);
    d->status = req->full ? DS_PREPARE : DS_LOG;
    d->fail_mode = FAIL_SLOW;
    snprintf(d->remote, sizeof(d->remote), "%s", req->remote);
    snprintf(d->remote_app, sizeof(d->remote_app), "%s", req->app);
    d->remote_replica_count = req->full ? app->replica_count : remote->replica_count;
    d->create_ts_ms = now_wall_ms;
    dup_parts_alloc(d, app->partition_count);
    /* "from now on": each partition starts at the commit point its primary last reported,
     * so every write acknowledged after the add is shipped (and a few earlier ones, which is
     * harmless under last-writer-wins). Full: at its checkpoint's decree, reported later. */
    for (uint32_t p = 0; p < d->npartitions && !req->full; p++)
        d->confirmed[p] = d->reported[p] = app->parts[p].config.last_committed;
    rc = dup_create_nodes(st, app, d);
    if (rc != 0) {
        LOG_ERROR("add duplication of %s to %s: writing the store failed: %s", req->app,
                  req->remote, err_str(rc));
        dup_free(d);
        return why_set(why, whylen, rc, "writing the duplication to ZooKeeper failed: %s",
                       err_str(rc));
    }
    dups_insert(app, d);
    resp->dupid = d->dupid;
    if (req->full)
        LOG_INFO("added full duplication %" PRIu64 " of %s (app_id %u) to %s.%s: DS_PREPARE "
                 "(every partition primary makes a checkpoint)", d->dupid, app->name,
                 app->app_id, d->remote, d->remote_app);
    else
        LOG_INFO("added duplication %" PRIu64 " of %s (app_id %u) to %s.%s (%u partitions "
                 "there): DS_LOG from every partition's current commit point", d->dupid,
                 app->name, app->app_id, d->remote, d->remote_app, remote->partition_count);
    return 0;
}

/* ======================= list / modify ======================= */

int
meta_dup_list(const struct meta_state *st, const char *name, struct msg_dup_list_resp *out,
              char *why, size_t whylen)
{
    const struct meta_app *app = meta_state_find_app(st, name);

    memset(out, 0, sizeof(*out));
    if (app == NULL)
        return why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist", name);
    out->app_id = app->app_id;
    out->dups = xcalloc(app->ndups ? app->ndups : 1, sizeof(*out->dups));
    for (uint32_t i = 0; i < app->ndups; i++) {
        const struct meta_dup *d = app->dups[i];
        struct dup_info *di;
        if (d->status == DS_REMOVED)
            continue;
        di = &out->dups[out->ndups++];
        di->dupid = d->dupid;
        di->status = d->status;
        di->fail_mode = d->fail_mode;
        snprintf(di->remote, sizeof(di->remote), "%s", d->remote);
        snprintf(di->remote_app, sizeof(di->remote_app), "%s", d->remote_app);
        di->create_ts_ms = d->create_ts_ms;
        di->npartitions = d->npartitions;
        di->confirmed = xmalloc((d->npartitions ? d->npartitions : 1) * sizeof(decree_t));
        memcpy(di->confirmed, d->confirmed, d->npartitions * sizeof(decree_t));
        dup_progress(d, di->progress, sizeof(di->progress));
    }
    return 0;
}

/* The new (status, fail mode) op makes of d, or an error if it does not apply. */
static int
modify_plan(const struct meta_app *app, const struct meta_dup *d,
            const struct msg_dup_modify_req *req, struct meta_dup *next, char *why,
            size_t whylen)
{
    const char *state = dup_status_name(d->status);

    *next = *d;
    switch (req->op) {
    case DUP_OP_PAUSE:
        if (d->status != DS_LOG)
            return why_set(why, whylen, ERR_INVALID_STATE,
                           "duplication %" PRIu64 " of table %s is %s: only a DS_LOG "
                           "duplication can be paused", d->dupid, app->name, state);
        next->status = DS_PAUSE;
        return 0;
    case DUP_OP_START:
        if (d->status != DS_PAUSE)
            return why_set(why, whylen, ERR_INVALID_STATE,
                           "duplication %" PRIu64 " of table %s is %s, not paused: only a "
                           "DS_PAUSE duplication can be started", d->dupid, app->name, state);
        next->status = DS_LOG;
        return 0;
    case DUP_OP_REMOVE:
        next->status = DS_REMOVED;
        return 0;
    case DUP_OP_FAIL_MODE:
        if (dup_fail_mode_name(req->fail_mode) == NULL)
            return why_set(why, whylen, ERR_INVALID_ARG, "unknown fail mode %u (want slow or "
                           "skip)", req->fail_mode);
        next->fail_mode = req->fail_mode;
        return 0;
    default:
        return why_set(why, whylen, ERR_INVALID_ARG, "unknown duplication operation %u",
                       req->op);
    }
}

int
meta_dup_modify(struct meta_state *st, const struct msg_dup_modify_req *req, char *why,
                size_t whylen)
{
    const struct meta_app *capp = meta_state_find_app(st, req->app);
    struct meta_app *app = capp != NULL ? app_live(st, capp->app_id) : NULL;
    struct meta_dup *d, next;
    int rc;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (app == NULL)
        return why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist", req->app);
    d = dup_find(app, req->dupid);
    if (d == NULL)
        return why_set(why, whylen, ERR_NOT_FOUND, "table %s has no duplication %" PRIu64,
                       req->app, req->dupid);
    if (d->status == DS_REMOVED)
        return why_set(why, whylen, ERR_NOT_FOUND, "duplication %" PRIu64 " of table %s was "
                       "removed", req->dupid, req->app);
    rc = modify_plan(app, d, req, &next, why, whylen);
    if (rc != 0)
        return rc;
    if (next.status == d->status && next.fail_mode == d->fail_mode)
        return 0;
    rc = dup_node_write(st, app->app_id, &next, false);
    if (rc != 0) {
        LOG_ERROR("duplication %" PRIu64 " of %s: writing the store failed: %s", d->dupid,
                  app->name, err_str(rc));
        return why_set(why, whylen, rc, "writing the duplication to ZooKeeper failed: %s",
                       err_str(rc));
    }
    LOG_INFO("duplication %" PRIu64 " of %s to %s: %s/%s -> %s/%s", d->dupid, app->name,
             d->remote, dup_status_name(d->status), dup_fail_mode_name(d->fail_mode),
             dup_status_name(next.status), dup_fail_mode_name(next.fail_mode));
    d->status = next.status;
    d->fail_mode = next.fail_mode;
    if (d->status == DS_REMOVED) {
        dup_parts_delete(st, app->app_id, d->dupid, d->npartitions);
        dup_parts_free(d);
    }
    return 0;
}

/* ======================= sync ======================= */

/* The app and partition of gpid if node is its primary in an available app, else NULL. */
static struct meta_app *
led_by(const struct meta_state *st, uint64_t gpid, const char *node)
{
    struct meta_app *app = app_live(st, gpid_app(gpid));
    uint32_t p = gpid_pidx(gpid);

    if (app == NULL || p >= app->partition_count || app->parts == NULL)
        return NULL;
    return strcmp(app->parts[p].config.primary, node) == 0 ? app : NULL;
}

/* Applies one reported confirmed decree. */
static void
sync_confirm(struct meta_state *st, const char *node, const struct dup_confirm *c,
             int64_t now_ms)
{
    struct meta_app *app = led_by(st, c->gpid, node);
    uint32_t p = gpid_pidx(c->gpid);
    struct meta_dup *d;

    if (app == NULL) {
        LOG_DEBUG("dup sync from %s: not the primary of %u.%u; confirm ignored", node,
                  gpid_app(c->gpid), p);
        return;
    }
    d = dup_find(app, c->dupid);
    if (d == NULL || d->status == DS_REMOVED || p >= d->npartitions)
        return;
    if (d->status == DS_PREPARE) {
        prepare_confirm(st, app, d, p, c->confirmed);
        return;
    }
    if (d->status == DS_APP)
        return; /* D_p, which the follower copies at or after, stays until shipping starts */
    d->resyncing[p] = c->resyncing;
    if (c->confirmed > d->reported[p])
        d->reported[p] = c->confirmed;
    dup_part_flush(st, app, d, p, now_ms);
}

/* Appends every live duplication of gpid's app, with gpid's persisted decree. */
static void
sync_assign(const struct meta_app *app, uint64_t gpid, struct msg_dup_sync_resp *resp)
{
    uint32_t p = gpid_pidx(gpid);

    for (uint32_t i = 0; i < app->ndups; i++) {
        const struct meta_dup *d = app->dups[i];
        struct dup_assign *a;
        if (d->status == DS_REMOVED || p >= d->npartitions)
            continue;
        resp->dups = xrealloc(resp->dups, (resp->n + 1) * sizeof(*resp->dups));
        a = &resp->dups[resp->n++];
        memset(a, 0, sizeof(*a));
        a->gpid = gpid;
        a->dupid = d->dupid;
        a->status = d->status;
        a->fail_mode = d->fail_mode;
        snprintf(a->remote, sizeof(a->remote), "%s", d->remote);
        snprintf(a->remote_app, sizeof(a->remote_app), "%s", d->remote_app);
        a->confirmed = d->confirmed[p];
    }
}

int
meta_dup_on_sync(struct meta_state *st, const struct msg_dup_sync_req *req, int64_t now_ms,
                 struct msg_dup_sync_resp *resp)
{
    size_t len = strnlen(req->node, sizeof(req->node));

    memset(resp, 0, sizeof(*resp));
    if (len == 0 || len >= sizeof(req->node))
        return ERR_INVALID_ARG;
    for (uint32_t i = 0; i < req->nconfirms; i++)
        sync_confirm(st, req->node, &req->confirms[i], now_ms);
    resp->led = xcalloc(req->nprimaries + 1, sizeof(*resp->led));
    for (uint32_t i = 0; i < req->nprimaries; i++) {
        const struct meta_app *app = led_by(st, req->primaries[i], req->node);
        if (app == NULL)
            continue;
        sync_assign(app, req->primaries[i], resp);
        resp->led[resp->nled++] = req->primaries[i];
    }
    resp->has_led = true;
    return 0;
}

void
meta_dup_flush(struct meta_state *st, int64_t now_ms)
{
    for (size_t i = 0; i < st->napps; i++) {
        struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t k = 0; k < app->ndups; k++) {
            struct meta_dup *d = app->dups[k];
            if (d->status == DS_PREPARE) {
                prepare_check(st, app, d);
                continue;
            }
            for (uint32_t p = 0; p < d->npartitions; p++)
                dup_part_flush(st, app, d, p, now_ms);
        }
    }
}

/* ======================= full duplication: DS_APP ======================= */

bool
meta_dup_follow_next(struct meta_state *st, const struct meta_dup_options *o, int64_t now_ms,
                     struct meta_dup_follow *out)
{
    for (size_t i = 0; i < st->napps; i++) {
        struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t k = 0; k < app->ndups; k++) {
            struct meta_dup *d = app->dups[k];
            const char *metas = cluster_metas(o, d->remote);
            if (d->status != DS_APP || d->follow_busy || now_ms < d->follow_next_ms)
                continue;
            if (metas == NULL) { /* the config changed under a running duplication */
                snprintf(d->progress, sizeof(d->progress), "remote cluster %s is no longer "
                         "in [pegasus.clusters]: waiting", d->remote);
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
            out->create.replica_count = d->remote_replica_count ? d->remote_replica_count
                                                                : app->replica_count;
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
    struct meta_app *app = app_live(st, f->app_id);
    struct meta_dup *d = app != NULL ? dup_find(app, f->dupid) : NULL;
    int64_t delay;

    if (d == NULL || d->status != DS_APP)
        return; /* removed (or dropped) meanwhile */
    d->follow_busy = false;
    if (err != 0) {
        metric_add(metric_get(METRIC_COUNTER, "dup_remote_failed_calls", NULL,
                              "meta: failed calls to a remote cluster's meta (full duplication)"),
                   1);
        d->follow_failures++;
        delay = META_DUP_FOLLOW_POLL_MS << (d->follow_failures < 4 ? d->follow_failures : 4);
        if (delay > META_DUP_FOLLOW_BACKOFF_MAX_MS)
            delay = META_DUP_FOLLOW_BACKOFF_MAX_MS;
        snprintf(d->progress, sizeof(d->progress), "creating follower table %.80s on %.80s failed: "
                 "%s (%u tries); retrying", f->create.name, f->remote, err_name(err),
                 d->follow_failures);
        if (d->follow_failures == 1 || d->follow_failures % 10 == 0)
            LOG_WARN("duplication %" PRIu64 " of %s: %s", d->dupid, app->name, d->progress);
        d->follow_next_ms = now_ms + delay;
        return;
    }
    d->follow_failures = 0;
    d->follow_next_ms = now_ms + META_DUP_FOLLOW_POLL_MS;
    if (!cfg->healthy) {
        snprintf(d->progress, sizeof(d->progress), "follower table %.80s.%.80s: %u of %u partitions "
                 "copied and fully replicated", f->remote, f->create.name,
                 follower_parts_complete(cfg), cfg->partition_count);
        return;
    }
    if (dup_set_status(st, app, d, DS_LOG) == 0) {
        d->progress[0] = '\0';
        LOG_INFO("duplication %" PRIu64 " of %s: follower table %s.%s is healthy: DS_LOG from "
                 "every partition's checkpoint decree", d->dupid, app->name, f->remote,
                 f->create.name);
    }
}

/* ======================= load ======================= */

/* Parses a decimal dupid child name; 0 if it is not one. */
static uint64_t
parse_dupid(const char *name)
{
    char *end;
    unsigned long long v;

    if (name[0] < '1' || name[0] > '9')
        return 0;
    errno = 0;
    v = strtoull(name, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    return (uint64_t)v;
}

/* Parses a confirmed decree node ("-1" or a non-negative decimal). */
static int
parse_decree(const struct buf *b, decree_t *out)
{
    char text[32], *end;
    long long v;

    if (b->len == 0 || b->len >= sizeof(text))
        return ERR_INVALID_DATA;
    memcpy(text, b->data, b->len);
    text[b->len] = '\0';
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < -1)
        return ERR_INVALID_DATA;
    *out = v;
    return 0;
}

/* Reads every partition's confirmed decree of d (missing or corrupt: -1, logged). */
static int
dup_load_parts(struct meta_state *st, const struct meta_app *app, struct meta_dup *d)
{
    char path[DUP_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc = 0;

    dup_parts_alloc(d, app->partition_count);
    for (uint32_t p = 0; p < d->npartitions && rc == 0; p++) {
        dup_part_path(st, app->app_id, d->dupid, p, path, sizeof(path));
        buf_reset(&b);
        rc = meta_store_get(st->store, path, &b);
        if (rc == 0)
            rc = parse_decree(&b, &d->confirmed[p]);
        if (rc == ERR_NOT_FOUND || rc == ERR_INVALID_DATA) {
            LOG_WARN("duplication %" PRIu64 " of %s: %s missing or corrupt; confirmed decree "
                     "unknown (-1)", d->dupid, app->name, path);
            d->confirmed[p] = -1;
            rc = 0;
        }
        d->reported[p] = d->confirmed[p];
    }
    buf_fini(&b);
    return rc;
}

/* Deletes whatever partition nodes are left under a tombstone at path (best effort). */
static void
dup_leftovers_delete(struct meta_state *st, const char *path)
{
    struct meta_store_names names = {0, NULL};
    char child[DUP_PATH_MAX + 16];

    if (meta_store_children(st->store, path, false, &names) != 0)
        return;
    for (uint32_t i = 0; i < names.n; i++) {
        snprintf(child, sizeof(child), "%s/%s", path, names.names[i]);
        if (meta_store_delete(st->store, child) != 0)
            LOG_DEBUG("could not delete %s (retried by the next leader)", child);
    }
    meta_store_names_fini(&names);
}

/* Loads one dup node of app. A corrupt one is kept as a tombstone (its dupid stays taken). */
static int
dup_load_one(struct meta_state *st, struct meta_app *app, uint64_t dupid)
{
    char path[DUP_PATH_MAX];
    struct buf b = BUF_INIT;
    struct meta_dup *d = xcalloc(1, sizeof(*d));
    int rc;

    dup_node_path(st, app->app_id, dupid, path, sizeof(path));
    rc = meta_store_get(st->store, path, &b);
    if (rc == 0)
        rc = meta_dup_json_decode(b.data, b.len, d);
    buf_fini(&b);
    d->dupid = dupid;
    if (rc == ERR_INVALID_DATA || rc == ERR_NOT_FOUND) {
        LOG_ERROR("duplication node %s is corrupt; its dupid stays taken, it is not loaded",
                  path);
        d->status = DS_REMOVED;
        rc = 0;
    } else if (rc != 0) {
        dup_free(d);
        return rc;
    } else if (d->status == DS_REMOVED) {
        dup_leftovers_delete(st, path); /* the removal may have stopped half way */
    } else {
        if (d->remote_app[0] == '\0')
            snprintf(d->remote_app, sizeof(d->remote_app), "%s", app->name);
        rc = dup_load_parts(st, app, d);
        if (rc != 0) {
            dup_free(d);
            return rc;
        }
    }
    dups_insert(app, d);
    return 0;
}

int
meta_dup_load_app(struct meta_state *st, struct meta_app *app)
{
    char path[DUP_PATH_MAX];
    struct meta_store_names names = {0, NULL};
    uint32_t live = 0;
    int rc;

    meta_dup_free_all(app);
    dup_dir_path(st, app->app_id, path, sizeof(path));
    rc = meta_store_children(st->store, path, false, &names);
    if (rc == ERR_NOT_FOUND)
        return 0;
    for (uint32_t i = 0; i < names.n && rc == 0; i++) {
        uint64_t dupid = parse_dupid(names.names[i]);
        if (dupid != 0)
            rc = dup_load_one(st, app, dupid);
    }
    meta_store_names_fini(&names);
    if (rc != 0) {
        meta_dup_free_all(app);
        return rc;
    }
    for (uint32_t i = 0; i < app->ndups; i++)
        live += app->dups[i]->status != DS_REMOVED;
    if (live > 0)
        LOG_INFO("table %s (app_id %u): loaded %u duplication(s)", app->name, app->app_id,
                 live);
    return 0;
}
