/*
 * meta_state.c: the meta leader's tables, partition configurations and replica servers.
 *
 * Invariants:
 *  - Store first, memory second: a change is applied in memory only after its store write
 *    succeeded, so memory never shows what a new leader would not load.
 *  - App ids are never reused: the next id is max(every id ever seen in the store) + 1, and
 *    an id is consumed even by a create that failed half way.
 *  - A create writes the app as "creating", then its partitions, then flips it to
 *    "available". A leader that loads an app still "creating" knows its creator never
 *    confirmed it and marks it dropped (the client got an error or no reply).
 *  - Liveness, replica reports, readiness and learners are memory only, relearnt from
 *    beacons after a failover. A new leader lists every server named in a configuration as
 *    a node from its load on, so each gets one grace period to beacon before it can be
 *    declared dead (meta_reconfig.c).
 *  - A configuration's members are distinct servers; a reported partition is assigned back
 *    only to its members and its learner.
 *
 * Reconfiguration (failover, learners, proposals) lives in meta_reconfig.c, the primary
 * balancer in meta_balance.c; both go through meta_partition_update() below.
 *
 * Threads: the meta loop (single owner); no locks.
 * Data flow: meta_service decodes a request -> meta_state_* -> store writes -> reply message.
 */
#include "meta/meta_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"
#include "meta/meta_state_int.h"
#include "meta/meta_store.h"

#define META_MAX_PARTITIONS 4096
#define STATE_NODE_PATH_MAX (META_STATE_PATH_MAX + 40) /* apps path + "/<id>/<pidx>" */

struct meta_state *
meta_state_create(struct meta_store *store, const char *cluster_path,
                  const struct meta_state_options *opt)
{
    struct meta_state *st = xcalloc(1, sizeof(*st));
    st->store = store;
    snprintf(st->cluster_path, sizeof(st->cluster_path), "%s", cluster_path);
    snprintf(st->apps_path, sizeof(st->apps_path), "%s/apps", cluster_path);
    st->opt = *opt;
    return st;
}

static void
apps_clear(struct meta_state *st)
{
    for (size_t i = 0; i < st->napps; i++) {
        meta_app_fini(st->apps[i]);
        xfree(st->apps[i]);
    }
    xfree(st->apps);
    st->apps = NULL;
    st->napps = 0;
}

void
meta_state_destroy(struct meta_state *st)
{
    if (st == NULL)
        return;
    apps_clear(st);
    for (size_t i = 0; i < st->nnodes; i++)
        xfree(st->nodes[i].reports);
    xfree(st->nodes);
    xfree(st);
}

bool
meta_app_name_valid(const char *name)
{
    size_t n = strnlen(name, GEOKV_APP_NAME_MAX);

    if (n == 0 || n >= GEOKV_APP_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* ======================= lookups ======================= */

const struct meta_app *
meta_state_find_app(const struct meta_state *st, const char *name)
{
    for (size_t i = 0; i < st->napps; i++)
        if (st->apps[i]->status == APP_AVAILABLE && strcmp(st->apps[i]->name, name) == 0)
            return st->apps[i];
    return NULL;
}

static struct meta_app *
app_by_id(const struct meta_state *st, uint32_t app_id)
{
    size_t lo = 0, hi = st->napps;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->apps[mid]->app_id == app_id)
            return st->apps[mid];
        if (st->apps[mid]->app_id < app_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct meta_app *
meta_state_get_app(const struct meta_state *st, uint32_t app_id)
{
    return app_by_id(st, app_id);
}

size_t
meta_state_app_count(const struct meta_state *st)
{
    return st->napps;
}

const struct meta_app *
meta_state_app_at(const struct meta_state *st, size_t i)
{
    return i < st->napps ? st->apps[i] : NULL;
}

struct meta_app *
meta_state_app_edit(const struct meta_state *st, size_t i)
{
    return i < st->napps ? st->apps[i] : NULL;
}

struct meta_store *
meta_state_store(const struct meta_state *st)
{
    return st->store;
}

const char *
meta_state_apps_path(const struct meta_state *st)
{
    return st->apps_path;
}

uint32_t
meta_state_next_app_id(const struct meta_state *st)
{
    return st->max_app_id + 1;
}

/* Whether address reported gpid ready at ballot in its latest beacon. */
static bool
member_ready(const struct meta_state *st, const char *address, uint64_t gpid, ballot_t ballot)
{
    const struct replica_report *r = meta_report_of(st, address, gpid);
    return r != NULL && r->ready && r->ballot == ballot;
}

bool
meta_state_app_ready(const struct meta_state *st, const struct meta_app *app)
{
    for (uint32_t i = 0; i < app->partition_count; i++) {
        const struct partition_config *pc = &app->parts[i].config;
        uint64_t gpid = gpid_make(app->app_id, i);
        if (pc->primary[0] == '\0' || !member_ready(st, pc->primary, gpid, pc->ballot))
            return false;
        for (uint32_t k = 0; k < pc->nsecondaries; k++)
            if (!member_ready(st, pc->secondaries[k], gpid, pc->ballot))
                return false;
    }
    return true;
}

bool
meta_partition_healthy(const struct meta_state *st, const struct meta_app *app,
                       const struct meta_partition *part, int64_t now_ms)
{
    const struct partition_config *pc = &part->config;
    const struct meta_node *n = meta_node_find(st, pc->primary);

    if (part->learner[0] != '\0' || 1 + pc->nsecondaries != app->replica_count || n == NULL ||
        !meta_node_usable(st, n, now_ms))
        return false;
    for (uint32_t i = 0; i < pc->nsecondaries; i++) {
        n = meta_node_find(st, pc->secondaries[i]);
        if (n == NULL || !meta_node_usable(st, n, now_ms))
            return false;
    }
    return true;
}

bool
meta_state_app_healthy(const struct meta_state *st, const struct meta_app *app)
{
    for (uint32_t i = 0; i < app->partition_count; i++)
        if (app->parts[i].config.nsecondaries + 1 < app->replica_count)
            return false;
    return meta_state_app_ready(st, app);
}

/* Inserts app (taking ownership) keeping the array sorted by id. */
static void
apps_insert(struct meta_state *st, struct meta_app *app)
{
    size_t pos = st->napps;
    st->apps = xrealloc(st->apps, (st->napps + 1) * sizeof(*st->apps));
    while (pos > 0 && st->apps[pos - 1]->app_id > app->app_id) {
        st->apps[pos] = st->apps[pos - 1];
        pos--;
    }
    st->apps[pos] = app;
    st->napps++;
    if (app->app_id > st->max_app_id)
        st->max_app_id = app->app_id;
}

static void
app_path(const struct meta_state *st, uint32_t app_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u", st->apps_path, app_id);
}

static void
partition_path(const struct meta_state *st, uint32_t app_id, uint32_t pidx, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%u/%u", st->apps_path, app_id, pidx);
}

/* Writes the app's JSON (create or overwrite). */
static int
app_persist(struct meta_state *st, const struct meta_app *app, bool create)
{
    char path[STATE_NODE_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc;

    app_path(st, app->app_id, path, sizeof(path));
    meta_app_json_encode(app, &b);
    if (create)
        rc = meta_store_create(st->store, path, b.data, b.len, 0, NULL, 0);
    else
        rc = meta_store_set(st->store, path, b.data, b.len);
    buf_fini(&b);
    return rc;
}

/* Overwrites the partition's node. */
static int
meta_partition_persist(struct meta_state *st, const struct meta_app *app,
                       const struct partition_config *pc)
{
    char path[STATE_NODE_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc;

    partition_path(st, app->app_id, pc->pidx, path, sizeof(path));
    meta_partition_json_encode(pc, &b);
    rc = meta_store_set(st->store, path, b.data, b.len);
    buf_fini(&b);
    return rc;
}

/* Formats pc's members as "P | S1,S2" for logs. */
static void
config_format(const struct partition_config *pc, char *out, size_t cap)
{
    size_t off = (size_t)snprintf(out, cap, "%s |", pc->primary[0] ? pc->primary : "-");

    for (uint32_t i = 0; i < pc->nsecondaries && off < cap; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "," : " ", pc->secondaries[i]);
}

int
meta_partition_update(struct meta_state *st, struct meta_app *app, struct meta_partition *part,
                      const struct partition_config *pc, const char *why)
{
    char before[(GEOKV_MAX_REPLICAS + 1) * GEOKV_ADDR_MAX + 16];
    char after[sizeof(before)];
    int rc;

    ASSERT(pc->ballot > part->config.ballot); /* ballots only grow */
    ASSERT(pc->pidx == part->config.pidx);
    config_format(&part->config, before, sizeof(before));
    config_format(pc, after, sizeof(after));
    rc = meta_partition_persist(st, app, pc);
    if (rc != 0) {
        LOG_ERROR("partition %u.%u@%lld: %s: store write failed (%s); config unchanged",
                  app->app_id, pc->pidx, (long long)part->config.ballot, why, err_str(rc));
        return rc;
    }
    LOG_INFO("partition %u.%u: %s: ballot %lld -> %lld, [%s] -> [%s]", app->app_id, pc->pidx, why,
             (long long)part->config.ballot, (long long)pc->ballot, before, after);
    part->config = *pc;
    return 0;
}

bool
meta_config_has(const struct partition_config *pc, const char *address)
{
    if (strcmp(pc->primary, address) == 0)
        return true;
    for (uint32_t i = 0; i < pc->nsecondaries; i++)
        if (strcmp(pc->secondaries[i], address) == 0)
            return true;
    return false;
}

void
meta_config_remove_secondary(struct partition_config *pc, uint32_t i)
{
    ASSERT(i < pc->nsecondaries);
    memmove(pc->secondaries[i], pc->secondaries[i + 1],
            (size_t)(pc->nsecondaries - i - 1) * sizeof(pc->secondaries[0]));
    pc->nsecondaries--;
    memset(pc->secondaries[pc->nsecondaries], 0, sizeof(pc->secondaries[0]));
}

/* ======================= nodes ======================= */

struct meta_node *
meta_node_find(const struct meta_state *st, const char *address)
{
    for (size_t i = 0; i < st->nnodes; i++)
        if (strcmp(st->nodes[i].address, address) == 0)
            return &st->nodes[i];
    return NULL;
}

static struct meta_node *
meta_node_get(struct meta_state *st, const char *address, int64_t now_ms)
{
    struct meta_node *n = meta_node_find(st, address);

    if (n != NULL)
        return n;
    st->nodes = xrealloc(st->nodes, (st->nnodes + 1) * sizeof(*st->nodes));
    n = &st->nodes[st->nnodes++];
    memset(n, 0, sizeof(*n));
    snprintf(n->address, sizeof(n->address), "%s", address);
    n->last_beacon_ms = now_ms;
    return n;
}

bool
meta_node_alive(const struct meta_state *st, const struct meta_node *n, int64_t now_ms)
{
    if (now_ms - n->last_beacon_ms <= st->opt.node_grace_ms)
        return true;
    return !n->declared_dead && now_ms - st->grace_from_ms <= st->opt.node_grace_ms;
}

bool
meta_node_usable(const struct meta_state *st, const struct meta_node *n, int64_t now_ms)
{
    return n->beaconed && now_ms - n->last_beacon_ms <= st->opt.node_grace_ms;
}

void
meta_state_grace_restart(struct meta_state *st, int64_t now_ms)
{
    st->grace_from_ms = now_ms;
    LOG_INFO("every replica server not yet declared dead gets %lld ms to beacon",
             (long long)st->opt.node_grace_ms);
}

bool
meta_state_node_alive(const struct meta_state *st, const char *address, int64_t now_ms)
{
    const struct meta_node *n = meta_node_find(st, address);
    return n != NULL && meta_node_alive(st, n, now_ms);
}

const struct replica_report *
meta_node_report(const struct meta_node *n, uint64_t gpid)
{
    uint32_t lo = 0, hi = n->nreports;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (n->reports[mid].gpid == gpid)
            return &n->reports[mid];
        if (n->reports[mid].gpid < gpid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct replica_report *
meta_report_of(const struct meta_state *st, const char *address, uint64_t gpid)
{
    const struct meta_node *n = meta_node_find(st, address);
    return n != NULL ? meta_node_report(n, gpid) : NULL;
}

void
meta_node_counts(const struct meta_state *st, const char *address, uint32_t *primaries,
                 uint32_t *secondaries)
{
    *primaries = 0;
    *secondaries = 0;
    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++) {
            const struct partition_config *pc = &app->parts[p].config;
            if (strcmp(pc->primary, address) == 0)
                (*primaries)++;
            for (uint32_t s = 0; s < pc->nsecondaries; s++)
                if (strcmp(pc->secondaries[s], address) == 0)
                    (*secondaries)++;
        }
    }
}

/* ======================= create / drop ======================= */

static int
create_validate(const struct meta_state *st, const struct msg_create_app_req *req)
{
    if (!meta_app_name_valid(req->name))
        return ERR_INVALID_ARG;
    if (req->partition_count < 1 || req->partition_count > META_MAX_PARTITIONS)
        return ERR_INVALID_ARG;
    if (req->replica_count < 1 || req->replica_count > GEOKV_MAX_REPLICAS)
        return ERR_INVALID_ARG;
    if (meta_state_find_app(st, req->name) != NULL)
        return ERR_APP_EXISTS;
    return 0;
}

/* Per-node load while placing a new app: UINT32_MAX primaries marks a node that takes none. */
struct place_load {
    uint32_t primaries, total;
};

/* The node index (from the round-robin cursor on) not in taken with the least load: by
 * primaries first when for_primary, else by total replicas first. SIZE_MAX if none. */
static size_t
place_pick(const struct meta_state *st, const struct place_load *load, const size_t *taken,
           size_t ntaken, bool for_primary)
{
    size_t best = SIZE_MAX;

    for (size_t k = 0; k < st->nnodes; k++) {
        size_t i = (st->rr_cursor + k) % st->nnodes;
        bool used = load[i].primaries == UINT32_MAX;
        for (size_t t = 0; t < ntaken && !used; t++)
            used = taken[t] == i;
        if (used)
            continue;
        if (best == SIZE_MAX)
            best = i;
        else if (for_primary &&
                 (load[i].primaries < load[best].primaries ||
                  (load[i].primaries == load[best].primaries && load[i].total < load[best].total)))
            best = i;
        else if (!for_primary &&
                 (load[i].total < load[best].total ||
                  (load[i].total == load[best].total && load[i].primaries < load[best].primaries)))
            best = i;
    }
    return best;
}

/* Places one partition: its primary, then replica_count - 1 secondaries on other nodes. */
static void
place_partition(struct meta_state *st, struct place_load *load, uint32_t replica_count,
                struct partition_config *pc)
{
    size_t taken[GEOKV_MAX_REPLICAS];

    for (uint32_t r = 0; r < replica_count; r++) {
        size_t best = place_pick(st, load, taken, r, r == 0);
        ASSERT(best != SIZE_MAX); /* the caller counted enough usable nodes */
        taken[r] = best;
        load[best].total++;
        if (r == 0) {
            load[best].primaries++;
            st->rr_cursor = (best + 1) % st->nnodes;
            snprintf(pc->primary, sizeof(pc->primary), "%s", st->nodes[best].address);
        } else {
            snprintf(pc->secondaries[pc->nsecondaries++], GEOKV_ADDR_MAX, "%s",
                     st->nodes[best].address);
        }
    }
}

/*
 * Places every partition of app over distinct usable servers, counting what existing apps
 * already put on each. ERR_NO_NODES if fewer usable servers than replica_count.
 */
static int
place_replicas(struct meta_state *st, struct meta_app *app, int64_t now_ms)
{
    struct place_load *load = xcalloc(st->nnodes ? st->nnodes : 1, sizeof(*load));
    size_t nlive = 0;

    for (size_t i = 0; i < st->nnodes; i++) {
        uint32_t secondaries;
        if (!meta_node_usable(st, &st->nodes[i], now_ms)) {
            load[i].primaries = UINT32_MAX; /* never chosen */
            continue;
        }
        meta_node_counts(st, st->nodes[i].address, &load[i].primaries, &secondaries);
        load[i].total = load[i].primaries + secondaries;
        nlive++;
    }
    if (nlive < app->replica_count) {
        xfree(load);
        return ERR_NO_NODES;
    }
    for (uint32_t p = 0; p < app->partition_count; p++)
        place_partition(st, load, app->master.cluster[0] != '\0' ? 1 : app->replica_count,
                        &app->parts[p].config);
    xfree(load);
    return 0;
}

/* Writes every partition node of app. */
static int
partitions_persist(struct meta_state *st, const struct meta_app *app)
{
    char path[STATE_NODE_PATH_MAX];
    struct buf b = BUF_INIT;
    int rc = 0;

    for (uint32_t p = 0; p < app->partition_count && rc == 0; p++) {
        partition_path(st, app->app_id, p, path, sizeof(path));
        buf_reset(&b);
        meta_partition_json_encode(&app->parts[p].config, &b);
        rc = meta_store_create(st->store, path, b.data, b.len, 0, NULL, 0);
    }
    buf_fini(&b);
    return rc;
}

static struct meta_app *
app_new(const struct msg_create_app_req *req, uint32_t app_id)
{
    struct meta_app *app = xcalloc(1, sizeof(*app));

    app->app_id = app_id;
    snprintf(app->name, sizeof(app->name), "%s", req->name);
    app->partition_count = req->partition_count;
    app->replica_count = req->replica_count;
    app->status = APP_CREATING;
    app->create_ts = clock_wall_s();
    app->master = req->master;
    app->envs =
        req->master.cluster[0] != '\0' ? meta_app_envs_of_master(&req->master) : xstrdup("{}");
    app->parts = xcalloc(req->partition_count, sizeof(*app->parts));
    for (uint32_t p = 0; p < req->partition_count; p++) {
        app->parts[p].config.pidx = p;
        app->parts[p].config.ballot = 1;
        app->parts[p].filling = req->master.cluster[0] != '\0';
    }
    return app;
}

int
meta_state_create_app(struct meta_state *st, const struct msg_create_app_req *req, int64_t now_ms,
                      const struct meta_app **appp)
{
    struct meta_app *app;
    int rc;

    *appp = NULL;
    if (!st->loaded)
        return ERR_INVALID_STATE;
    if (req->master.cluster[0] != '\0') {
        const struct meta_app *old = meta_state_find_app(st, req->name);
        if (old != NULL && strcmp(old->master.cluster, req->master.cluster) == 0 &&
            strcmp(old->master.app, req->master.app) == 0 &&
            old->partition_count == req->partition_count) {
            *appp = old;
            return 0;
        }
    }
    rc = create_validate(st, req);
    if (rc != 0)
        return rc;
    app = app_new(req, st->max_app_id + 1);
    rc = place_replicas(st, app, now_ms);
    if (rc != 0)
        goto out_free;
    /* From here the id is consumed, whatever happens. */
    st->max_app_id = app->app_id;
    rc = app_persist(st, app, true);
    if (rc != 0)
        goto out_log;
    rc = partitions_persist(st, app);
    if (rc == 0) {
        app->status = APP_AVAILABLE;
        rc = app_persist(st, app, false);
    }
    if (rc != 0) {
        /* Best effort: a later leader turns a leftover "creating" app into a dropped one. */
        app->status = APP_DROPPED;
        (void)app_persist(st, app, false);
        goto out_log;
    }
    apps_insert(st, app);
    LOG_INFO("created table %s (app_id %u, %u partitions, %u replicas)", app->name, app->app_id,
             app->partition_count, app->replica_count);
    *appp = app;
    return 0;

out_log:
    LOG_ERROR("create table %s (app_id %u) failed writing the store: %s", app->name, app->app_id,
              err_str(rc));
out_free:
    meta_app_fini(app);
    xfree(app);
    return rc;
}

int
meta_state_drop_app(struct meta_state *st, const char *name)
{
    struct meta_app *app = (struct meta_app *)meta_state_find_app(st, name);
    struct meta_app copy;
    int rc;

    if (app == NULL)
        return ERR_APP_NOT_FOUND;
    copy = *app;
    copy.status = APP_DROPPED;
    rc = app_persist(st, &copy, false);
    if (rc != 0) {
        LOG_ERROR("drop table %s (app_id %u) failed writing the store: %s", name, app->app_id,
                  err_str(rc));
        return rc;
    }
    app->status = APP_DROPPED;
    LOG_INFO("dropped table %s (app_id %u)", name, app->app_id);
    return 0;
}

int
meta_state_set_writes(struct meta_state *st, const char *name, bool deny)
{
    struct meta_app *app = (struct meta_app *)meta_state_find_app(st, name);
    struct meta_app copy;
    int rc;

    if (app == NULL)
        return ERR_APP_NOT_FOUND;
    if (app->deny_write == deny)
        return 0;
    copy = *app;
    copy.envs = meta_app_envs_with(app->envs, META_ENV_DENY_WRITE, deny ? "true" : NULL);
    rc = app_persist(st, &copy, false);
    if (rc != 0) {
        LOG_ERROR("table %s (app_id %u): writing the store failed, writes stay %s: %s", name,
                  app->app_id, app->deny_write ? "denied" : "allowed", err_str(rc));
        xfree(copy.envs);
        return rc;
    }
    xfree(app->envs);
    app->envs = copy.envs;
    app->deny_write = deny;
    LOG_INFO("table %s (app_id %u): client writes %s", name, app->app_id,
             deny ? "denied" : "allowed");
    return 0;
}

/* ======================= load ======================= */

/* Reads partition pidx of app; a missing or corrupt node leaves it without a primary. */
static int
partition_load(struct meta_state *st, struct meta_app *app, uint32_t pidx, struct buf *b)
{
    char path[STATE_NODE_PATH_MAX];
    struct meta_partition *part = &app->parts[pidx];
    int rc;

    partition_path(st, app->app_id, pidx, path, sizeof(path));
    buf_reset(b);
    rc = meta_store_get(st->store, path, b);
    if (rc == 0)
        rc = meta_partition_json_decode(b->data, b->len, &part->config);
    if (rc == 0 && part->config.pidx == pidx) {
        /* a follower partition may still be growing from its creation (each learner that
         * joined raised its ballot by one): do not wait to heal it */
        part->filling =
            app->master.cluster[0] != '\0' && part->config.ballot < (ballot_t)app->replica_count;
        return 0;
    }
    if (rc != ERR_NOT_FOUND && rc != ERR_INVALID_DATA && rc != 0)
        return rc; /* the store failed: the whole load fails */
    if (app->status == APP_AVAILABLE)
        LOG_ERROR("table %s (app_id %u) partition %u: node %s missing or corrupt; it has no "
                  "primary",
                  app->name, app->app_id, pidx, path);
    memset(part, 0, sizeof(*part));
    part->config.pidx = pidx;
    return 0;
}

/* Loads one app node and its partitions. A corrupt app node is skipped (logged); only store
 * failures are returned. */
static int
app_load(struct meta_state *st, uint32_t app_id)
{
    char path[STATE_NODE_PATH_MAX];
    struct buf b = BUF_INIT;
    struct meta_app *app = xcalloc(1, sizeof(*app));
    int rc;

    app_path(st, app_id, path, sizeof(path));
    rc = meta_store_get(st->store, path, &b);
    if (rc == 0)
        rc = meta_app_json_decode(b.data, b.len, app);
    if (rc == 0 && app->app_id != app_id)
        rc = ERR_INVALID_DATA;
    if (rc != 0)
        goto out_skip;
    app->parts = xcalloc(app->partition_count, sizeof(*app->parts));
    for (uint32_t p = 0; p < app->partition_count && rc == 0; p++)
        rc = partition_load(st, app, p, &b);
    if (rc != 0)
        goto out_skip;
    if (app->status == APP_CREATING) {
        LOG_WARN("table %s (app_id %u) was never confirmed created; marking it dropped", app->name,
                 app_id);
        app->status = APP_DROPPED;
        (void)app_persist(st, app, false); /* memory treats it as dropped either way */
    }
    if (app->status == APP_AVAILABLE) {
        rc = meta_dup_load_app(st, app); /* a dropped table's duplications ended with it */
        if (rc != 0)
            goto out_skip;
    }
    apps_insert(st, app);
    buf_fini(&b);
    return 0;

out_skip:
    if (rc == ERR_INVALID_DATA || rc == ERR_NOT_FOUND) {
        LOG_ERROR("app node %s is corrupt; skipping app_id %u", path, app_id);
        rc = 0;
    }
    meta_app_fini(app);
    xfree(app);
    buf_fini(&b);
    return rc;
}

/* Parses a decimal app id child name; 0 if it is not one. */
static uint32_t
parse_app_id(const char *name)
{
    char *end;
    unsigned long v;

    if (name[0] < '1' || name[0] > '9')
        return 0;
    errno = 0;
    v = strtoul(name, &end, 10);
    if (errno != 0 || *end != '\0' || v > UINT32_MAX)
        return 0;
    return (uint32_t)v;
}

/* Lists every member of every available partition as a node that has one grace period from
 * now to beacon (a new leader knows no server yet). */
static void
members_register(struct meta_state *st, int64_t now_ms)
{
    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++) {
            const struct partition_config *pc = &app->parts[p].config;
            if (pc->primary[0] != '\0')
                (void)meta_node_get(st, pc->primary, now_ms);
            for (uint32_t k = 0; k < pc->nsecondaries; k++)
                (void)meta_node_get(st, pc->secondaries[k], now_ms);
        }
    }
}

int
meta_state_load(struct meta_state *st, int64_t now_ms)
{
    struct meta_store_names names = {0, NULL};
    int rc;

    apps_clear(st);
    st->max_app_id = 0;
    st->loaded = false;
    rc = meta_store_mkdirs(st->store, st->apps_path);
    if (rc == 0)
        rc = meta_store_children(st->store, st->apps_path, false, &names);
    for (uint32_t i = 0; i < names.n && rc == 0; i++) {
        uint32_t id = parse_app_id(names.names[i]);
        if (id == 0)
            continue;
        if (id > st->max_app_id)
            st->max_app_id = id; /* even a corrupt app's id is never reused */
        rc = app_load(st, id);
    }
    meta_store_names_fini(&names);
    if (rc != 0) {
        LOG_ERROR("loading %s failed: %s", st->apps_path, err_str(rc));
        apps_clear(st);
        return rc;
    }
    members_register(st, now_ms);
    st->load_ms = now_ms;
    st->grace_from_ms = now_ms;
    st->last_balance_ms = now_ms;
    st->loaded = true;
    LOG_INFO("loaded %zu tables from %s (next app_id %u)", st->napps, st->apps_path,
             st->max_app_id + 1);
    return 0;
}

/* ======================= beacon ======================= */

static int
report_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct replica_report *)a)->gpid;
    uint64_t y = ((const struct replica_report *)b)->gpid;
    return x < y ? -1 : x > y;
}

/* Keeps a copy of the beacon's reports on its node, sorted by gpid for lookups. */
static void
reports_keep(struct meta_node *n, const struct msg_beacon_req *req)
{
    xfree(n->reports);
    n->reports = NULL;
    n->nreports = req->nreplicas;
    if (req->nreplicas == 0)
        return;
    n->reports = xmalloc(req->nreplicas * sizeof(*n->reports));
    memcpy(n->reports, req->replicas, req->nreplicas * sizeof(*n->reports));
    qsort(n->reports, n->nreports, sizeof(*n->reports), report_cmp);
}

/* Handles one reported partition: lists it in drop if its app was dropped; takes the commit
 * point from the primary at the current ballot. */
static void
beacon_report(struct meta_state *st, const char *address, const struct replica_report *r,
              struct msg_beacon_resp *resp)
{
    struct meta_app *app = app_by_id(st, gpid_app(r->gpid));
    struct partition_config *pc;

    if (app == NULL)
        return; /* unknown table: not ours to delete */
    if (app->status == APP_DROPPED) {
        resp->drop = xrealloc(resp->drop, (resp->ndrop + 1) * sizeof(*resp->drop));
        resp->drop[resp->ndrop++] = r->gpid;
        return;
    }
    if (app->status != APP_AVAILABLE || gpid_pidx(r->gpid) >= app->partition_count)
        return;
    pc = &app->parts[gpid_pidx(r->gpid)].config;
    if (strcmp(pc->primary, address) == 0 && r->ballot == pc->ballot && r->last_committed >= 0)
        pc->last_committed = r->last_committed;
}

void
meta_assign_fill(const struct meta_app *app, const struct meta_partition *part, uint32_t role,
                 struct replica_assign *a)
{
    memset(a, 0, sizeof(*a));
    a->gpid = gpid_make(app->app_id, part->config.pidx);
    a->ballot = part->config.ballot;
    a->role = role;
    a->config = part->config;
    a->master = app->master;
    a->deny_write = app->deny_write;
}

/* address's role in part, ROLE_INACTIVE if it has none. */
static uint32_t
role_of(const struct meta_partition *part, const char *address)
{
    if (strcmp(part->config.primary, address) == 0)
        return ROLE_PRIMARY;
    for (uint32_t i = 0; i < part->config.nsecondaries; i++)
        if (strcmp(part->config.secondaries[i], address) == 0)
            return ROLE_SECONDARY;
    if (part->learner[0] != '\0' && strcmp(part->learner, address) == 0)
        return ROLE_LEARNER;
    return ROLE_INACTIVE;
}

/* Appends every partition where address is primary, secondary or the learner. */
static void
beacon_assign(const struct meta_state *st, const char *address, struct msg_beacon_resp *resp)
{
    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++) {
            uint32_t role = role_of(&app->parts[p], address);
            if (role == ROLE_INACTIVE)
                continue;
            resp->assign = xrealloc(resp->assign, (resp->nassign + 1) * sizeof(*resp->assign));
            meta_assign_fill(app, &app->parts[p], role, &resp->assign[resp->nassign++]);
        }
    }
}

/* Finds or adds the node and marks it alive (logging a join or a return from the dead). */
static struct meta_node *
node_touch(struct meta_state *st, const char *address, int64_t now_ms)
{
    struct meta_node *n = meta_node_get(st, address, now_ms);

    if (!n->beaconed)
        LOG_INFO("replica server %s joined", address);
    else if (n->declared_dead || !meta_node_alive(st, n, now_ms))
        LOG_INFO("replica server %s is alive again", address);
    n->last_beacon_ms = now_ms;
    n->beaconed = true;
    n->declared_dead = false;
    return n;
}

int
meta_state_on_beacon(struct meta_state *st, const struct msg_beacon_req *req, int64_t now_ms,
                     struct msg_beacon_resp *resp)
{
    struct meta_node *n;

    memset(resp, 0, sizeof(*resp));
    if (strnlen(req->address, sizeof(req->address)) == 0 ||
        strnlen(req->address, sizeof(req->address)) >= sizeof(req->address))
        return ERR_INVALID_ARG;
    n = node_touch(st, req->address, now_ms);
    reports_keep(n, req);
    for (uint32_t i = 0; i < req->nreplicas; i++)
        beacon_report(st, req->address, &req->replicas[i], resp);
    beacon_assign(st, req->address, resp);
    resp->lease_ms = st->opt.lease_ms;
    return 0;
}

void
meta_state_beacon_resp_fini(struct msg_beacon_resp *resp)
{
    xfree(resp->assign);
    xfree(resp->drop);
    resp->assign = NULL;
    resp->drop = NULL;
    resp->nassign = resp->ndrop = 0;
}

/* ======================= replies ======================= */

void
meta_state_app_config(const struct meta_state *st, const struct meta_app *app,
                      struct msg_app_config *out)
{
    memset(out, 0, sizeof(*out));
    out->app_id = app->app_id;
    snprintf(out->name, sizeof(out->name), "%s", app->name);
    out->partition_count = app->partition_count;
    out->replica_count = app->replica_count;
    out->status = app->status;
    out->partitions = xcalloc(app->partition_count, sizeof(*out->partitions));
    for (uint32_t p = 0; p < app->partition_count; p++)
        out->partitions[p] = app->parts[p].config;
    out->healthy = meta_state_app_healthy(st, app);
    out->master = app->master;
    out->deny_write = app->deny_write;
}

void
meta_state_list_apps(const struct meta_state *st, struct msg_list_apps_resp *out)
{
    memset(out, 0, sizeof(*out));
    out->apps = xcalloc(st->napps ? st->napps : 1, sizeof(*out->apps));
    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        struct app_info *info;
        if (app->status != APP_AVAILABLE)
            continue;
        info = &out->apps[out->napps++];
        info->app_id = app->app_id;
        snprintf(info->name, sizeof(info->name), "%s", app->name);
        info->status = app->status;
        info->partition_count = app->partition_count;
        info->replica_count = app->replica_count;
        info->create_ts = app->create_ts;
    }
}

void
meta_state_list_nodes(const struct meta_state *st, int64_t now_ms, struct msg_list_nodes_resp *out)
{
    memset(out, 0, sizeof(*out));
    out->nodes = xcalloc(st->nnodes ? st->nnodes : 1, sizeof(*out->nodes));
    for (size_t i = 0; i < st->nnodes; i++) {
        struct node_info *ni = &out->nodes[out->nnodes++];
        memcpy(ni->address, st->nodes[i].address, sizeof(ni->address));
        ni->state = meta_node_usable(st, &st->nodes[i], now_ms)  ? NODE_ALIVE
                    : meta_node_alive(st, &st->nodes[i], now_ms) ? NODE_UNKNOWN
                                                                 : NODE_DEAD;
        meta_node_counts(st, ni->address, &ni->primary_count, &ni->secondary_count);
    }
}
