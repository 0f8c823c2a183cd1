/*
 * meta_dup_store.c: duplications in memory and in the store: their JSON, their nodes
 * (<app>/duplication/<dupid> and one per partition with its confirmed decree), and loading
 * them when a leader loads its tables. Store first, memory second (meta_dup.c).
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
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= max) ||
        floor(it->valuedouble) != it->valuedouble)
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
    if (!cJSON_IsObject(j) || !json_str_field(j, "remote", true, d->remote, sizeof(d->remote)) ||
        d->remote[0] == '\0' || !json_str_field(j, "status", true, status, sizeof(status)) ||
        !json_num_field(j, "create_timestamp_ms", true, JSON_MAX_INT, &ts) ||
        !json_str_field(j, "fail_mode", false, mode, sizeof(mode)) ||
        !json_str_field(j, "remote_app_name", false, d->remote_app, sizeof(d->remote_app)) ||
        !json_num_field(j, "remote_replica_count", false, GEOKV_MAX_REPLICAS, &rrc))
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
void
meta_dup_parts_alloc(struct meta_dup *d, uint32_t npartitions)
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
void
meta_dup_parts_free(struct meta_dup *d)
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

void
meta_dup_free(struct meta_dup *d)
{
    meta_dup_parts_free(d);
    xfree(d);
}

void
meta_dup_free_all(struct meta_app *app)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        meta_dup_free(app->dups[i]);
    xfree(app->dups);
    app->dups = NULL;
    app->ndups = 0;
}

/* Inserts d (taking ownership) keeping app->dups sorted by dupid. */
void
meta_dup_insert(struct meta_app *app, struct meta_dup *d)
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
struct meta_dup *
meta_dup_find(const struct meta_app *app, uint64_t dupid)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        if (app->dups[i]->dupid == dupid)
            return app->dups[i];
    return NULL;
}

/* The live duplication of app to remote, or NULL. */
struct meta_dup *
meta_dup_find_remote(const struct meta_app *app, const char *remote)
{
    for (uint32_t i = 0; i < app->ndups; i++)
        if (app->dups[i]->status != DS_REMOVED && strcmp(app->dups[i]->remote, remote) == 0)
            return app->dups[i];
    return NULL;
}

/* The available app of that id, or NULL (meta_state owns it; this module may change its
 * duplications). */
struct meta_app *
meta_dup_app_live(const struct meta_state *st, uint32_t app_id)
{
    struct meta_app *app = (struct meta_app *)meta_state_get_app(st, app_id);
    return app != NULL && app->status == APP_AVAILABLE ? app : NULL;
}

/* ======================= store nodes ======================= */

static void
dup_dir_path(const struct meta_state *st, uint32_t app_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication", meta_state_apps_path(st), app_id);
}

static void
dup_node_path(const struct meta_state *st, uint32_t app_id, uint64_t dupid, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication/%" PRIu64, meta_state_apps_path(st), app_id, dupid);
}

static void
dup_part_path(const struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t pidx,
              char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/duplication/%" PRIu64 "/%u", meta_state_apps_path(st), app_id, dupid,
             pidx);
}

/* Overwrites d's node with d's JSON (create if create). */
int
meta_dup_node_write(struct meta_state *st, uint32_t app_id, const struct meta_dup *d, bool create)
{
    char path[DUP_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc;

    dup_node_path(st, app_id, d->dupid, path, sizeof(path));
    meta_dup_json_encode(d, &b);
    if (create)
        rc = meta_store_create(meta_state_store(st), path, b.data, b.len, 0, NULL, 0);
    else
        rc = meta_store_set(meta_state_store(st), path, b.data, b.len);
    buf_fini(&b);
    return rc;
}

/* Writes one partition's confirmed decree (creating the node if it is missing). */
int
meta_dup_part_write(struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t pidx,
                    decree_t decree, bool create)
{
    char path[DUP_PATH_MAX], text[32];
    int n = snprintf(text, sizeof(text), "%lld", (long long)decree);
    int rc;

    dup_part_path(st, app_id, dupid, pidx, path, sizeof(path));
    if (!create) {
        rc = meta_store_set(meta_state_store(st), path, text, (size_t)n);
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    return meta_store_create(meta_state_store(st), path, text, (size_t)n, 0, NULL, 0);
}

/* Deletes the per-partition nodes of a duplication (best effort; missing ones are fine). */
void
meta_dup_parts_delete(struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t npartitions)
{
    char path[DUP_PATH_MAX];

    for (uint32_t p = 0; p < npartitions; p++) {
        int rc;
        dup_part_path(st, app_id, dupid, p, path, sizeof(path));
        rc = meta_store_delete(meta_state_store(st), path);
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
int
meta_dup_create_nodes(struct meta_state *st, const struct meta_app *app, const struct meta_dup *d)
{
    char path[DUP_PATH_MAX];
    uint32_t p = 0;
    int rc;

    dup_dir_path(st, app->app_id, path, sizeof(path));
    rc = meta_store_mkdirs(meta_state_store(st), path);
    if (rc != 0)
        return rc;
    rc = meta_dup_node_write(st, app->app_id, d, true);
    if (rc != 0)
        return rc;
    for (; p < d->npartitions && rc == 0; p++)
        rc = meta_dup_part_write(st, app->app_id, d->dupid, p, d->confirmed[p], true);
    if (rc == 0)
        return 0;
    meta_dup_parts_delete(st, app->app_id, d->dupid, p);
    dup_node_path(st, app->app_id, d->dupid, path, sizeof(path));
    if (meta_store_delete(meta_state_store(st), path) !=
        0) /* a leftover loads as a live duplication */
        LOG_WARN("could not delete %s after a failed add", path);
    return rc;
}

/* Writes partition p's reported decree if it is ahead of the persisted one and due (the
 * first write of this leader at once, then at most every META_DUP_PERSIST_MS, failed tries
 * included). */
void
meta_dup_part_flush(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                    uint32_t p, int64_t now_ms)
{
    int rc;

    if (d->reported[p] <= d->confirmed[p])
        return;
    if (d->written_ms[p] != DUP_NEVER_WRITTEN && now_ms - d->written_ms[p] < META_DUP_PERSIST_MS)
        return;
    d->written_ms[p] = now_ms; /* a failure is retried after the interval too */
    rc = meta_dup_part_write(st, app->app_id, d->dupid, p, d->reported[p], false);
    if (rc != 0) {
        LOG_WARN("duplication %" PRIu64 " of %s partition %u: writing confirmed decree %lld "
                 "failed: %s (will retry)",
                 d->dupid, app->name, p, (long long)d->reported[p], err_str(rc));
        return;
    }
    d->confirmed[p] = d->reported[p];
}

/* Writes d's node with status, then changes d (logged). */
int
meta_dup_set_status(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                    uint32_t status)
{
    struct meta_dup next = *d;
    int rc;

    next.status = status;
    rc = meta_dup_node_write(st, app->app_id, &next, false);
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

    meta_dup_parts_alloc(d, app->partition_count);
    for (uint32_t p = 0; p < d->npartitions && rc == 0; p++) {
        dup_part_path(st, app->app_id, d->dupid, p, path, sizeof(path));
        buf_reset(&b);
        rc = meta_store_get(meta_state_store(st), path, &b);
        if (rc == 0)
            rc = parse_decree(&b, &d->confirmed[p]);
        if (rc == ERR_NOT_FOUND || rc == ERR_INVALID_DATA) {
            LOG_WARN("duplication %" PRIu64 " of %s: %s missing or corrupt; confirmed decree "
                     "unknown (-1)",
                     d->dupid, app->name, path);
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

    if (meta_store_children(meta_state_store(st), path, false, &names) != 0)
        return;
    for (uint32_t i = 0; i < names.n; i++) {
        snprintf(child, sizeof(child), "%s/%s", path, names.names[i]);
        if (meta_store_delete(meta_state_store(st), child) != 0)
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
    rc = meta_store_get(meta_state_store(st), path, &b);
    if (rc == 0)
        rc = meta_dup_json_decode(b.data, b.len, d);
    buf_fini(&b);
    d->dupid = dupid;
    if (rc == ERR_INVALID_DATA || rc == ERR_NOT_FOUND) {
        LOG_ERROR("duplication node %s is corrupt; its dupid stays taken, it is not loaded", path);
        d->status = DS_REMOVED;
        rc = 0;
    } else if (rc != 0) {
        meta_dup_free(d);
        return rc;
    } else if (d->status == DS_REMOVED) {
        dup_leftovers_delete(st, path); /* the removal may have stopped half way */
    } else {
        if (d->remote_app[0] == '\0')
            snprintf(d->remote_app, sizeof(d->remote_app), "%s", app->name);
        rc = dup_load_parts(st, app, d);
        if (rc != 0) {
            meta_dup_free(d);
            return rc;
        }
    }
    meta_dup_insert(app, d);
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
    rc = meta_store_children(meta_state_store(st), path, false, &names);
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
        LOG_INFO("table %s (app_id %u): loaded %u duplication(s)", app->name, app->app_id, live);
    return 0;
}
