/*
 * meta_dup.c: the source cluster's side of duplication on the meta leader, its commands: add
 * (checked as Pegasus checks it), list, pause/start/remove/fail mode, and the replica servers'
 * periodic sync (confirmed decrees in, duplication states out) (meta_dup.h). Their store
 * nodes are in meta_dup_store.c, full duplication (dup add -p) in meta_dup_full.c.
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
#include "meta/meta_dup_int.h"
#include "meta/meta_store.h"

static int meta_dup_why_set(char *why, size_t len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes the operator's message into why and returns err. */
static int
meta_dup_why_set(char *why, size_t len, int err, const char *fmt, ...)
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
    if (o->nclusters == META_DUP_MAX_CLUSTERS || key[0] == '\0' ||
        strlen(key) >= META_DUP_NAME_MAX || strlen(value) >= META_DUP_METAS_MAX) {
        c->rc = meta_dup_why_set(c->errbuf, c->errlen, ERR_CONFIG,
                                 "[pegasus.clusters] %s: too many clusters or a name/list too long",
                                 key);
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
        c->rc = meta_dup_why_set(c->errbuf, c->errlen, ERR_CONFIG,
                                 "[duplication-group] %s: cluster id must be 1..127", key);
        return;
    }
    for (uint32_t i = 0; i < o->ngroup; i++) {
        if (o->group[i].id == (uint32_t)id) {
            c->rc = meta_dup_why_set(c->errbuf, c->errlen, ERR_CONFIG,
                                     "[duplication-group] %s and %s have the same cluster id %ld",
                                     key, o->group[i].name, id);
            return;
        }
    }
    if (o->ngroup == META_DUP_MAX_CLUSTERS || key[0] == '\0' || strlen(key) >= META_DUP_NAME_MAX) {
        c->rc = meta_dup_why_set(c->errbuf, c->errlen, ERR_CONFIG,
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
        return meta_dup_why_set(errbuf, errlen, ERR_CONFIG,
                                "[replication] duplication_enabled must be true or false");
    config_each(cfg, "pegasus.clusters", cluster_each, &c);
    if (c.rc == 0)
        config_each(cfg, "duplication-group", group_each, &c);
    return c.rc;
}

const char *
meta_dup_cluster_metas(const struct meta_dup_options *o, const char *name)
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

/* ======================= add ======================= */

/* The app named name that is not dropped (available or being created), or NULL. */
static struct meta_app *
app_by_name(const struct meta_state *st, const char *name)
{
    struct meta_app *found = NULL;

    for (size_t i = 0; i < meta_state_app_count(st); i++) {
        struct meta_app *app = meta_state_app_edit(st, i);
        if (app->status != APP_DROPPED && strcmp(app->name, name) == 0)
            found = app;
    }
    return found;
}

/* Checks of the cluster configuration, in Pegasus' order. */
static int
add_check_config(const struct meta_dup_options *o, const struct msg_dup_add_req *req, char *why,
                 size_t whylen)
{
    if (!o->enabled)
        return meta_dup_why_set(why, whylen, ERR_INVALID_STATE,
                                "duplication is disabled on cluster %s ([replication] "
                                "duplication_enabled = false)",
                                o->cluster_name);
    if (req->remote[0] == '\0')
        return meta_dup_why_set(why, whylen, ERR_INVALID_ARG,
                                "no remote cluster given (-c CLUSTER)");
    if (strcmp(req->remote, o->cluster_name) == 0)
        return meta_dup_why_set(why, whylen, ERR_INVALID_ARG,
                                "cannot duplicate table %s to its own cluster %s", req->app,
                                o->cluster_name);
    if (meta_dup_cluster_metas(o, req->remote) == NULL)
        return meta_dup_why_set(
            why, whylen, ERR_INVALID_ARG,
            "remote cluster %s is not in [pegasus.clusters] of cluster %s's meta "
            "config",
            req->remote, o->cluster_name);
    if (!in_group(o, req->remote))
        return meta_dup_why_set(
            why, whylen, ERR_INVALID_ARG,
            "remote cluster %s is not in [duplication-group] (it has no cluster id)", req->remote);
    if (!in_group(o, o->cluster_name))
        return meta_dup_why_set(
            why, whylen, ERR_INVALID_ARG,
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
        return meta_dup_why_set(
            why, whylen, ERR_INVALID_STATE,
            "full duplication (-p) needs [cluster] meta_servers of cluster %s: the "
            "follower table copies through it",
            o->cluster_name);
    app = app_by_name(st, req->app);
    if (app == NULL)
        return meta_dup_why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist",
                                req->app);
    if (app->status != APP_AVAILABLE)
        return meta_dup_why_set(why, whylen, ERR_APP_UNAVAILABLE, "table %s is not available (%s)",
                                req->app, meta_app_status_name(app->status));
    d = meta_dup_find_remote(app, req->remote);
    if (d != NULL) {
        resp->dupid = d->dupid;
        resp->existed = true;
        return 0;
    }
    snprintf(remote_metas, cap, "%s", meta_dup_cluster_metas(o, req->remote));
    return 0;
}

int
meta_dup_follower_check(const struct meta_dup_options *o, struct msg_create_app_req *req, char *why,
                        size_t whylen)
{
    const char *metas = meta_dup_cluster_metas(o, req->master.cluster);

    if (!o->enabled)
        return meta_dup_why_set(why, whylen, ERR_INVALID_STATE,
                                "duplication is disabled on cluster %s", o->cluster_name);
    if (metas == NULL || !in_group(o, req->master.cluster))
        return meta_dup_why_set(
            why, whylen, ERR_INVALID_ARG,
            "master cluster %s of follower table %s is not in [pegasus.clusters] "
            "and [duplication-group] of cluster %s",
            req->master.cluster, req->name, o->cluster_name);
    if (!meta_app_name_valid(req->master.app))
        return meta_dup_why_set(why, whylen, ERR_INVALID_ARG, "bad master table name");
    snprintf(req->master.metas, sizeof(req->master.metas), "%s", metas);
    return 0;
}

/* The code to answer when the remote cluster could not be asked. Transport codes become
 * ERR_BUSY: a client takes ERR_NETWORK / ERR_TIMEOUT / ERR_NO_LEADER from the meta for its
 * own connection's trouble and would resend the add to another meta. */
static int
remote_err_code(int err)
{
    if (err == ERR_NETWORK || err == ERR_TIMEOUT || err == ERR_NO_LEADER ||
        err == ERR_FORWARD_TO_LEADER)
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
    while (meta_dup_find(app, id) != NULL)
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
        return meta_dup_why_set(
            why, whylen, ERR_APP_NOT_FOUND,
            "table %s does not exist on remote cluster %s (create it there first: "
            "without -p the remote table must exist)",
            req->app, req->remote);
    if (remote->err == 0 && req->full)
        return meta_dup_why_set(
            why, whylen, ERR_APP_EXISTS,
            "table %s already exists on remote cluster %s: full duplication (-p) "
            "creates it and copies the data (drop it there, or add without -p)",
            req->app, req->remote);
    if (remote->err != 0 && !(remote->err == ERR_APP_NOT_FOUND && req->full))
        return meta_dup_why_set(why, whylen, remote_err_code(remote->err),
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
    meta_dup_parts_alloc(d, app->partition_count);
    /* "from now on": each partition starts at the commit point its primary last reported,
     * so every write acknowledged after the add is shipped (and a few earlier ones, which is
     * harmless under last-writer-wins). Full: at its checkpoint's decree, reported later. */
    for (uint32_t p = 0; p < d->npartitions && !req->full; p++)
        d->confirmed[p] = d->reported[p] = app->parts[p].config.last_committed;
    rc = meta_dup_create_nodes(st, app, d);
    if (rc != 0) {
        LOG_ERROR("add duplication of %s to %s: writing the store failed: %s", req->app,
                  req->remote, err_str(rc));
        meta_dup_free(d);
        return meta_dup_why_set(why, whylen, rc, "writing the duplication to ZooKeeper failed: %s",
                                err_str(rc));
    }
    meta_dup_insert(app, d);
    resp->dupid = d->dupid;
    if (req->full)
        LOG_INFO("added full duplication %" PRIu64 " of %s (app_id %u) to %s.%s: DS_PREPARE "
                 "(every partition primary makes a checkpoint)",
                 d->dupid, app->name, app->app_id, d->remote, d->remote_app);
    else
        LOG_INFO("added duplication %" PRIu64 " of %s (app_id %u) to %s.%s (%u partitions "
                 "there): DS_LOG from every partition's current commit point",
                 d->dupid, app->name, app->app_id, d->remote, d->remote_app,
                 remote->partition_count);
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
        return meta_dup_why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist", name);
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
        meta_dup_progress(d, di->progress, sizeof(di->progress));
    }
    return 0;
}

/* The new (status, fail mode) op makes of d, or an error if it does not apply. */
static int
modify_plan(const struct meta_app *app, const struct meta_dup *d,
            const struct msg_dup_modify_req *req, struct meta_dup *next, char *why, size_t whylen)
{
    const char *state = dup_status_name(d->status);

    *next = *d;
    switch (req->op) {
    case DUP_OP_PAUSE:
        if (d->status != DS_LOG)
            return meta_dup_why_set(why, whylen, ERR_INVALID_STATE,
                                    "duplication %" PRIu64 " of table %s is %s: only a DS_LOG "
                                    "duplication can be paused",
                                    d->dupid, app->name, state);
        next->status = DS_PAUSE;
        return 0;
    case DUP_OP_START:
        if (d->status != DS_PAUSE)
            return meta_dup_why_set(why, whylen, ERR_INVALID_STATE,
                                    "duplication %" PRIu64 " of table %s is %s, not paused: only a "
                                    "DS_PAUSE duplication can be started",
                                    d->dupid, app->name, state);
        next->status = DS_LOG;
        return 0;
    case DUP_OP_REMOVE: next->status = DS_REMOVED; return 0;
    case DUP_OP_FAIL_MODE:
        if (dup_fail_mode_name(req->fail_mode) == NULL)
            return meta_dup_why_set(why, whylen, ERR_INVALID_ARG,
                                    "unknown fail mode %u (want slow or "
                                    "skip)",
                                    req->fail_mode);
        next->fail_mode = req->fail_mode;
        return 0;
    default:
        return meta_dup_why_set(why, whylen, ERR_INVALID_ARG, "unknown duplication operation %u",
                                req->op);
    }
}

int
meta_dup_modify(struct meta_state *st, const struct msg_dup_modify_req *req, char *why,
                size_t whylen)
{
    const struct meta_app *capp = meta_state_find_app(st, req->app);
    struct meta_app *app = capp != NULL ? meta_dup_app_live(st, capp->app_id) : NULL;
    struct meta_dup *d, next;
    int rc;

    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if (app == NULL)
        return meta_dup_why_set(why, whylen, ERR_APP_NOT_FOUND, "table %s does not exist",
                                req->app);
    d = meta_dup_find(app, req->dupid);
    if (d == NULL)
        return meta_dup_why_set(why, whylen, ERR_NOT_FOUND, "table %s has no duplication %" PRIu64,
                                req->app, req->dupid);
    if (d->status == DS_REMOVED)
        return meta_dup_why_set(why, whylen, ERR_NOT_FOUND,
                                "duplication %" PRIu64 " of table %s was "
                                "removed",
                                req->dupid, req->app);
    rc = modify_plan(app, d, req, &next, why, whylen);
    if (rc != 0)
        return rc;
    if (next.status == d->status && next.fail_mode == d->fail_mode)
        return 0;
    rc = meta_dup_node_write(st, app->app_id, &next, false);
    if (rc != 0) {
        LOG_ERROR("duplication %" PRIu64 " of %s: writing the store failed: %s", d->dupid,
                  app->name, err_str(rc));
        return meta_dup_why_set(why, whylen, rc, "writing the duplication to ZooKeeper failed: %s",
                                err_str(rc));
    }
    LOG_INFO("duplication %" PRIu64 " of %s to %s: %s/%s -> %s/%s", d->dupid, app->name, d->remote,
             dup_status_name(d->status), dup_fail_mode_name(d->fail_mode),
             dup_status_name(next.status), dup_fail_mode_name(next.fail_mode));
    d->status = next.status;
    d->fail_mode = next.fail_mode;
    if (d->status == DS_REMOVED) {
        meta_dup_parts_delete(st, app->app_id, d->dupid, d->npartitions);
        meta_dup_parts_free(d);
    }
    return 0;
}

/* ======================= sync ======================= */

/* The app and partition of gpid if node is its primary in an available app, else NULL. */
static struct meta_app *
led_by(const struct meta_state *st, uint64_t gpid, const char *node)
{
    struct meta_app *app = meta_dup_app_live(st, gpid_app(gpid));
    uint32_t p = gpid_pidx(gpid);

    if (app == NULL || p >= app->partition_count || app->parts == NULL)
        return NULL;
    return strcmp(app->parts[p].config.primary, node) == 0 ? app : NULL;
}

/* Applies one reported confirmed decree. */
static void
sync_confirm(struct meta_state *st, const char *node, const struct dup_confirm *c, int64_t now_ms)
{
    struct meta_app *app = led_by(st, c->gpid, node);
    uint32_t p = gpid_pidx(c->gpid);
    struct meta_dup *d;

    if (app == NULL) {
        LOG_DEBUG("dup sync from %s: not the primary of %u.%u; confirm ignored", node,
                  gpid_app(c->gpid), p);
        return;
    }
    d = meta_dup_find(app, c->dupid);
    if (d == NULL || d->status == DS_REMOVED || p >= d->npartitions)
        return;
    if (d->status == DS_PREPARE) {
        meta_dup_prepare_confirm(st, app, d, p, c->confirmed);
        return;
    }
    if (d->status == DS_APP)
        return; /* D_p, which the follower copies at or after, stays until shipping starts */
    d->resyncing[p] = c->resyncing;
    if (c->confirmed > d->reported[p])
        d->reported[p] = c->confirmed;
    meta_dup_part_flush(st, app, d, p, now_ms);
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
    for (size_t i = 0; i < meta_state_app_count(st); i++) {
        struct meta_app *app = meta_state_app_edit(st, i);
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t k = 0; k < app->ndups; k++) {
            struct meta_dup *d = app->dups[k];
            if (d->status == DS_PREPARE) {
                meta_dup_prepare_check(st, app, d);
                continue;
            }
            for (uint32_t p = 0; p < d->npartitions; p++)
                meta_dup_part_flush(st, app, d, p, now_ms);
        }
    }
}
