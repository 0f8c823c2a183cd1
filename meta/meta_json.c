/*
 * meta_json.c: JSON encoding of the meta's ZooKeeper nodes (app info and partition config),
 * readable with zkCli.sh. Uses cJSON (Debian libcjson). Decoding is strict: every field must be
 * present with the right type and range, since a new leader trusts what it loads. Numbers are
 * JSON doubles, exact for every value below 2^53 (ballots and decrees stay far below).
 *
 *   app:       {"app_id":1,"name":"t","partition_count":8,"replica_count":3,
 *               "status":"available","envs":{},"create_ts":1700000000}
 *   partition: {"pidx":0,"ballot":1,"primary":"127.0.0.1:34801","secondaries":[],
 *               "last_committed_decree":0}
 *
 * Threads: pure functions.
 */
#include "meta/meta_state.h"
#include "meta/meta_state_int.h"

#include <cJSON.h>
#include <math.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"

#define JSON_MAX_INT 9007199254740992.0 /* 2^53 */

static const char *const status_names[] = {
    [APP_AVAILABLE] = "available",
    [APP_CREATING] = "creating",
    [APP_DROPPED] = "dropped",
};

const char *
meta_app_status_name(uint32_t status)
{
    if (status >= sizeof(status_names) / sizeof(status_names[0]))
        return NULL;
    return status_names[status];
}

static uint32_t
meta_app_status_parse(const char *name)
{
    for (uint32_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (status_names[i] != NULL && strcmp(status_names[i], name) == 0)
            return i;
    return 0;
}

/* Prints j (unformatted) into out and frees j. */
static void
json_emit(cJSON *j, struct buf *out)
{
    char *text = cJSON_PrintUnformatted(j);
    ASSERT(text != NULL); /* cJSON fails only on OOM */
    buf_append(out, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(j);
}

/* An integral number field within [min, max]. */
static bool
json_int(const cJSON *obj, const char *key, double min, double max, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;

    if (!cJSON_IsNumber(it))
        return false;
    v = it->valuedouble;
    if (!(v >= min && v <= max) || floor(v) != v)
        return false;
    *out = (int64_t)v;
    return true;
}

/* A string field shorter than cap, copied into dst. */
static bool
json_str(const cJSON *obj, const char *key, char *dst, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(it) || it->valuestring == NULL || strlen(it->valuestring) >= cap)
        return false;
    memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
    return true;
}

void
meta_app_json_encode(const struct meta_app *app, struct buf *out)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *envs = cJSON_Parse(app->envs != NULL ? app->envs : "{}");

    if (envs == NULL)
        envs = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "app_id", app->app_id);
    cJSON_AddStringToObject(j, "name", app->name);
    cJSON_AddNumberToObject(j, "partition_count", app->partition_count);
    cJSON_AddNumberToObject(j, "replica_count", app->replica_count);
    cJSON_AddStringToObject(j, "status", meta_app_status_name(app->status));
    cJSON_AddItemToObject(j, "envs", envs);
    cJSON_AddNumberToObject(j, "create_ts", (double)app->create_ts);
    json_emit(j, out);
}

/* Fills the scalar fields of app from j; false if any is missing or out of range. */
static bool
app_fields(const cJSON *j, struct meta_app *app)
{
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");
    int64_t id, pc, rc, ts;

    if (!json_int(j, "app_id", 1, UINT32_MAX, &id) ||
        !json_int(j, "partition_count", 1, 4096, &pc) ||
        !json_int(j, "replica_count", 1, GEOKV_MAX_REPLICAS, &rc) ||
        !json_int(j, "create_ts", 0, JSON_MAX_INT, &ts))
        return false;
    if (!json_str(j, "name", app->name, sizeof(app->name)) || !meta_app_name_valid(app->name))
        return false;
    if (!cJSON_IsString(status) || meta_app_status_parse(status->valuestring) == 0)
        return false;
    app->app_id = (uint32_t)id;
    app->partition_count = (uint32_t)pc;
    app->replica_count = (uint32_t)rc;
    app->create_ts = ts;
    app->status = meta_app_status_parse(status->valuestring);
    return true;
}

/* The envs of a follower table (Pegasus' names). */
#define ENV_MASTER_CLUSTER "duplication.master_cluster"
#define ENV_MASTER_APP "duplication.master_app_name"
#define ENV_MASTER_METAS "duplication.master_metas"

/* Copies the string env key into dst (cap bytes); absent, not a string or too long: "". */
static void
env_str(const cJSON *envs, const char *key, char *dst, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(envs, key);

    dst[0] = '\0';
    if (cJSON_IsString(it) && it->valuestring != NULL && strlen(it->valuestring) < cap)
        memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
}

/* j's text (xmalloc'd); deletes j. */
static char *
json_text_take(cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j), *out;
    ASSERT(text != NULL); /* cJSON fails only on OOM */
    out = xstrdup(text);
    cJSON_free(text);
    cJSON_Delete(j);
    return out;
}

char *
meta_app_envs_with(const char *envs, const char *key, const char *value)
{
    cJSON *j = cJSON_Parse(envs);

    if (!cJSON_IsObject(j)) { /* envs are checked when loaded: cannot happen */
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    if (value != NULL)
        cJSON_AddStringToObject(j, key, value);
    return json_text_take(j);
}

char *
meta_app_envs_of_master(const struct dup_master *master)
{
    cJSON *j = cJSON_CreateObject();

    cJSON_AddStringToObject(j, ENV_MASTER_CLUSTER, master->cluster);
    cJSON_AddStringToObject(j, ENV_MASTER_APP, master->app);
    cJSON_AddStringToObject(j, ENV_MASTER_METAS, master->metas);
    return json_text_take(j);
}

int
meta_app_json_decode(const uint8_t *p, size_t n, struct meta_app *app)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    const cJSON *envs;
    char *text;
    int rc = ERR_INVALID_DATA;

    memset(app, 0, sizeof(*app));
    if (j == NULL)
        return ERR_INVALID_DATA;
    if (!cJSON_IsObject(j) || !app_fields(j, app))
        goto out_delete;
    envs = cJSON_GetObjectItemCaseSensitive(j, "envs");
    if (!cJSON_IsObject(envs))
        goto out_delete;
    text = cJSON_PrintUnformatted(envs);
    ASSERT(text != NULL);
    app->envs = xstrdup(text);
    cJSON_free(text);
    env_str(envs, ENV_MASTER_CLUSTER, app->master.cluster, sizeof(app->master.cluster));
    env_str(envs, ENV_MASTER_APP, app->master.app, sizeof(app->master.app));
    env_str(envs, ENV_MASTER_METAS, app->master.metas, sizeof(app->master.metas));
    {
        const cJSON *deny = cJSON_GetObjectItemCaseSensitive(envs, META_ENV_DENY_WRITE);
        app->deny_write = cJSON_IsString(deny) && strcmp(deny->valuestring, "true") == 0;
    }
    rc = 0;
out_delete:
    cJSON_Delete(j);
    return rc;
}

void
meta_partition_json_encode(const struct partition_config *pc, struct buf *out)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *secs = cJSON_CreateArray();

    for (uint32_t i = 0; i < pc->nsecondaries; i++)
        cJSON_AddItemToArray(secs, cJSON_CreateString(pc->secondaries[i]));
    cJSON_AddNumberToObject(j, "pidx", pc->pidx);
    cJSON_AddNumberToObject(j, "ballot", (double)pc->ballot);
    cJSON_AddStringToObject(j, "primary", pc->primary);
    cJSON_AddItemToObject(j, "secondaries", secs);
    cJSON_AddNumberToObject(j, "last_committed_decree", (double)pc->last_committed);
    json_emit(j, out);
}

/* Copies the secondaries array; false unless it is an array of at most GEOKV_MAX_REPLICAS
 * non-empty short strings, distinct and none the primary (parsed before). */
static bool
partition_secondaries(const cJSON *j, struct partition_config *pc)
{
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(j, "secondaries");
    const cJSON *it;

    if (!cJSON_IsArray(secs) || cJSON_GetArraySize(secs) > GEOKV_MAX_REPLICAS)
        return false;
    cJSON_ArrayForEach(it, secs)
    {
        char *dst = pc->secondaries[pc->nsecondaries];
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
            strlen(it->valuestring) >= GEOKV_ADDR_MAX || meta_config_has(pc, it->valuestring))
            return false;
        memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
        pc->nsecondaries++;
    }
    return true;
}

int
meta_partition_json_decode(const uint8_t *p, size_t n, struct partition_config *pc)
{
    cJSON *j = cJSON_ParseWithLength((const char *)p, n);
    int64_t pidx, ballot, decree;
    int rc = ERR_INVALID_DATA;

    memset(pc, 0, sizeof(*pc));
    if (j == NULL)
        return ERR_INVALID_DATA;
    if (!cJSON_IsObject(j) || !json_int(j, "pidx", 0, 4095, &pidx) ||
        !json_int(j, "ballot", 0, JSON_MAX_INT, &ballot) ||
        !json_int(j, "last_committed_decree", 0, JSON_MAX_INT, &decree))
        goto out_delete;
    if (!json_str(j, "primary", pc->primary, sizeof(pc->primary)) || !partition_secondaries(j, pc))
        goto out_delete;
    if (pc->primary[0] == '\0' && pc->nsecondaries > 0)
        goto out_delete; /* secondaries without a primary is no configuration we write */
    pc->pidx = (uint32_t)pidx;
    pc->ballot = ballot;
    pc->last_committed = decree;
    rc = 0;
out_delete:
    if (rc != 0)
        memset(pc, 0, sizeof(*pc));
    cJSON_Delete(j);
    return rc;
}

void
meta_app_fini(struct meta_app *app)
{
    meta_dup_free_all(app);
    xfree(app->envs);
    xfree(app->parts);
    app->envs = NULL;
    app->parts = NULL;
}
