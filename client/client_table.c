/*
 * client_table.c: the per-table configuration cache and routing.
 *
 * Each opened table keeps the last msg_app_config the meta leader gave it. Routing reads it
 * under table.mu and copies what an attempt needs (primary address, gpid, ballot), so a
 * refresh can swap the config while attempts are in flight. Refreshes run on the client's
 * config loop, at most one at a time per table and at most one per CLIENT_REFRESH_MIN_MS,
 * however many callers ask (they all retry with backoff and pick up the new config).
 * A refresh that says the table no longer exists makes routing fail with ERR_APP_NOT_FOUND
 * until a later refresh finds it again.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "proto/hash.h"

int
geokv_route_key(const struct msg_app_config *cfg, struct bytes hash_key, struct bytes sort_key,
                struct geokv_route *r)
{
    const struct partition_config *pc;

    memset(r, 0, sizeof(*r));
    if (cfg->partition_count == 0 || cfg->partitions == NULL)
        return ERR_INVALID_ARG;
    r->pidx =
        key_partition(hash_key.p, hash_key.len, sort_key.p, sort_key.len, cfg->partition_count);
    pc = &cfg->partitions[r->pidx];
    r->gpid = gpid_make(cfg->app_id, r->pidx);
    r->ballot = pc->ballot;
    memcpy(r->primary, pc->primary, sizeof(r->primary));
    r->primary[sizeof(r->primary) - 1] = '\0';
    return r->primary[0] == '\0' ? ERR_AGAIN : 0;
}

int
table_route_pidx(struct geokv_table *t, uint32_t pidx, struct geokv_route *r)
{
    int err = 0;

    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&t->mu);
    if (t->cfg_err != 0) {
        err = t->cfg_err;
    } else if (!t->have_cfg || pidx >= t->cfg.partition_count) {
        err = ERR_AGAIN;
    } else {
        const struct partition_config *pc = &t->cfg.partitions[pidx];
        r->pidx = pidx;
        r->gpid = gpid_make(t->cfg.app_id, pidx);
        r->ballot = pc->ballot;
        memcpy(r->primary, pc->primary, sizeof(r->primary));
        r->primary[sizeof(r->primary) - 1] = '\0';
        if (r->primary[0] == '\0')
            err = ERR_AGAIN;
    }
    pthread_mutex_unlock(&t->mu);
    if (err == ERR_APP_NOT_FOUND)
        table_refresh_request(t); /* notice a re-created table */
    return err;
}

int
table_key_pidx(struct geokv_table *t, struct bytes hk, struct bytes sk, uint32_t *pidx)
{
    int err = 0;

    *pidx = 0;
    pthread_mutex_lock(&t->mu);
    if (!t->have_cfg || t->cfg.partition_count == 0)
        err = t->cfg_err != 0 ? t->cfg_err : ERR_APP_UNAVAILABLE;
    else
        *pidx = key_partition(hk.p, hk.len, sk.p, sk.len, t->cfg.partition_count);
    pthread_mutex_unlock(&t->mu);
    return err;
}

uint32_t
geokv_table_partition_count(struct geokv_table *t)
{
    uint32_t n;
    pthread_mutex_lock(&t->mu);
    n = t->have_cfg ? t->cfg.partition_count : 0;
    pthread_mutex_unlock(&t->mu);
    return n;
}

const char *
geokv_table_name(const struct geokv_table *t)
{
    return t->name;
}

static void
table_install(struct geokv_table *t, struct msg_app_config *cfg)
{
    pthread_mutex_lock(&t->mu);
    if (t->have_cfg)
        msg_app_config_fini(&t->cfg);
    t->cfg = *cfg;
    t->have_cfg = true;
    t->cfg_err = 0;
    t->last_refresh_ms = clock_mono_ms();
    pthread_mutex_unlock(&t->mu);
    memset(cfg, 0, sizeof(*cfg));
}

/* Runs on the config loop: one meta round trip, then installs the result. */
static void
refresh_task(void *arg)
{
    struct geokv_table *t = arg;
    struct msg_app_config cfg;
    int err = ERR_SHUTDOWN;

    if (!atomic_load(&t->c->shutting))
        err = geokv_query_config(t->c, t->name, CLIENT_REFRESH_TIMEOUT_MS, &cfg);
    if (err == 0) {
        LOG_DEBUG("table %s: config refreshed (app_id %u)", t->name, cfg.app_id);
        table_install(t, &cfg);
    } else {
        LOG_DEBUG("table %s: config refresh failed: %s", t->name, err_name(err));
    }
    pthread_mutex_lock(&t->mu);
    if (err == ERR_APP_NOT_FOUND)
        t->cfg_err = err;
    t->refreshing = false;
    t->last_refresh_ms = clock_mono_ms();
    pthread_mutex_unlock(&t->mu);
}

void
table_refresh_request(struct geokv_table *t)
{
    bool post = false;
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&t->mu);
    if (!t->refreshing && now - t->last_refresh_ms >= CLIENT_REFRESH_MIN_MS) {
        t->refreshing = true;
        post = true;
    }
    pthread_mutex_unlock(&t->mu);
    if (post)
        loop_post(t->c->cfg_loop, refresh_task, t);
}

void
table_free(struct geokv_table *t)
{
    if (t->have_cfg)
        msg_app_config_fini(&t->cfg);
    pthread_mutex_destroy(&t->mu);
    xfree(t);
}

/* The table named name in c's list, or NULL. Holds c->mu. */
static struct geokv_table *
table_find(struct geokv_client *c, const char *name)
{
    for (struct geokv_table *t = c->tables; t != NULL; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

int
geokv_open(struct geokv_client *c, const char *name, int timeout_ms, struct geokv_table **out)
{
    struct msg_app_config cfg;
    struct geokv_table *t;
    int err;

    *out = NULL;
    if (name == NULL || name[0] == '\0' || strlen(name) >= GEOKV_APP_NAME_MAX)
        return ERR_INVALID_ARG;
    err = geokv_query_config(c, name, timeout_ms, &cfg);
    if (err != 0)
        return err;
    if (cfg.partition_count == 0 || cfg.partitions == NULL) {
        msg_app_config_fini(&cfg);
        return ERR_INVALID_DATA;
    }
    pthread_mutex_lock(&c->mu);
    t = table_find(c, name);
    if (t == NULL) {
        t = xcalloc(1, sizeof(*t));
        t->c = c;
        snprintf(t->name, sizeof(t->name), "%s", name);
        pthread_mutex_init(&t->mu, NULL);
        t->next = c->tables;
        c->tables = t;
    }
    table_install(t, &cfg); /* under c->mu so nobody sees t without a config */
    pthread_mutex_unlock(&c->mu);
    *out = t;
    return 0;
}
