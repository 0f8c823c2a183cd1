/*
 * test_meta_dup.c: the meta's duplication state (meta_dup.c) on the in-memory store: dup add
 * and each of its validation errors, idempotent add, dupid uniqueness, pause/start/remove,
 * fail mode, the replica servers' sync (confirmed decrees only grow, only from the primary,
 * persisted), a dropped table, reload by a new leader, the ZooKeeper JSON and the config.
 * The remote cluster's answer is injected (struct meta_dup_remote). The real RPCs, admin-cli
 * and ZooKeeper are covered by tests/integration/test_dup_meta.sh.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"
#include "meta/meta_state.h"
#include "meta/meta_store.h"

#define CLUSTER "/geokv/bj"
#define APPS CLUSTER "/apps"
#define A "127.0.0.1:1001"
#define B "127.0.0.1:1002"
#define T0_MS 1700000000123LL /* wall clock of the first add */

static struct meta_mem_tree *tree;
static struct meta_store *store;
static struct meta_state *st;
static struct meta_dup_options dopt;

static const struct meta_state_options test_opt = {
    .node_grace_ms = 1000,
    .lease_ms = 800,
    .add_secondary_delay_ms = 5000,
    .learner_timeout_ms = 20000,
    .balancer_interval_ms = 1000000, /* no primary moves behind the tests' back */
};

static const struct meta_dup_remote remote_ok = {0, 8, 3};

static void
options_default(struct meta_dup_options *o)
{
    memset(o, 0, sizeof(*o));
    o->enabled = true;
    snprintf(o->cluster_name, sizeof(o->cluster_name), "bjsrv-account");
    snprintf(o->cluster_metas, sizeof(o->cluster_metas), "127.0.0.1:34601");
    o->nclusters = 2;
    snprintf(o->clusters[0].name, sizeof(o->clusters[0].name), "tjsrv-account");
    snprintf(o->clusters[0].metas, sizeof(o->clusters[0].metas), "127.0.0.1:35601");
    snprintf(o->clusters[1].name, sizeof(o->clusters[1].name), "shsrv-account");
    snprintf(o->clusters[1].metas, sizeof(o->clusters[1].metas), "127.0.0.1:35701");
    o->ngroup = 3;
    snprintf(o->group[0].name, sizeof(o->group[0].name), "bjsrv-account");
    o->group[0].id = 1;
    snprintf(o->group[1].name, sizeof(o->group[1].name), "tjsrv-account");
    o->group[1].id = 2;
    snprintf(o->group[2].name, sizeof(o->group[2].name), "shsrv-account");
    o->group[2].id = 3;
}

static struct meta_state *
state_on(struct meta_store *s, int64_t now)
{
    struct meta_state *ms = meta_state_create(s, CLUSTER, &test_opt);
    cr_assert_eq(meta_state_load(ms, now), 0);
    return ms;
}

static void
beacon(const char *addr)
{
    struct msg_beacon_req req;
    struct msg_beacon_resp resp;

    memset(&req, 0, sizeof(req));
    snprintf(req.address, sizeof(req.address), "%s", addr);
    cr_assert_eq(meta_state_on_beacon(st, &req, 0, &resp), 0);
    meta_state_beacon_resp_fini(&resp);
}

static uint32_t
create(const char *name, uint32_t pc)
{
    struct msg_create_app_req req;
    const struct meta_app *app = NULL;

    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "%s", name);
    req.partition_count = pc;
    req.replica_count = 1;
    cr_assert_eq(meta_state_create_app(st, &req, 0, &app), 0);
    return app->app_id;
}

static void
setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    tree = meta_mem_tree_create();
    store = meta_store_mem_open(tree, NULL, NULL);
    st = state_on(store, 0);
    options_default(&dopt);
    beacon(A); /* the only server: primary of every partition */
}

static void
teardown(void)
{
    meta_state_destroy(st);
    meta_store_destroy(store);
    meta_mem_tree_destroy(tree);
}

TestSuite(meta_dup, .init = setup, .fini = teardown, .timeout = 20);

/* A dup add the way meta_service runs it: check, ask the remote (here: remote), finish. */
static int
add_full(struct meta_state *s, const char *app, const char *remote_cluster, bool full,
         const struct meta_dup_remote *remote, int64_t now_wall_ms, uint64_t *dupid, bool *existed,
         char *why)
{
    struct msg_dup_add_req req;
    struct msg_dup_add_resp resp;
    char metas[META_DUP_METAS_MAX];
    int rc;

    memset(&req, 0, sizeof(req));
    snprintf(req.app, sizeof(req.app), "%s", app);
    snprintf(req.remote, sizeof(req.remote), "%s", remote_cluster);
    req.full = full;
    rc = meta_dup_add_check(s, &dopt, &req, &resp, metas, sizeof(metas), why, META_DUP_WHY_MAX);
    if (rc == 0 && !resp.existed) {
        cr_assert_str_neq(metas, "");
        rc = meta_dup_add_finish(s, &dopt, &req, remote, now_wall_ms, &resp, why, META_DUP_WHY_MAX);
    }
    if (dupid != NULL)
        *dupid = resp.dupid;
    if (existed != NULL)
        *existed = resp.existed;
    return rc;
}

static uint64_t
add_ok(const char *app, const char *remote_cluster, int64_t now_wall_ms)
{
    char why[META_DUP_WHY_MAX] = "";
    uint64_t dupid = 0;
    bool existed = true;

    cr_assert_eq(
        add_full(st, app, remote_cluster, false, &remote_ok, now_wall_ms, &dupid, &existed, why), 0,
        "add failed: %s", why);
    cr_assert(!existed);
    return dupid;
}

static int
modify(const char *app, uint64_t dupid, uint32_t op, uint32_t mode, char *why)
{
    struct msg_dup_modify_req req;

    memset(&req, 0, sizeof(req));
    snprintf(req.app, sizeof(req.app), "%s", app);
    req.dupid = dupid;
    req.op = op;
    req.fail_mode = mode;
    return meta_dup_modify(st, &req, why, META_DUP_WHY_MAX);
}

/* The node's data as a string ("" if missing). */
static char *
node_text(const char *path, char *out, size_t cap)
{
    struct buf b = BUF_INIT;

    out[0] = '\0';
    if (meta_store_get(store, path, &b) == 0)
        snprintf(out, cap, "%.*s", (int)b.len, (const char *)b.data);
    buf_fini(&b);
    return out;
}

static bool
node_exists(const char *path)
{
    bool e = false;
    cr_assert_eq(meta_store_exists(store, path, false, &e), 0);
    return e;
}

/* The listed duplication dupid of app (NULL if not listed); frees with the list. */
static const struct dup_info *
listed(const struct msg_dup_list_resp *m, uint64_t dupid)
{
    for (uint32_t i = 0; i < m->ndups; i++)
        if (m->dups[i].dupid == dupid)
            return &m->dups[i];
    return NULL;
}

/* ---------------- add and its validation ---------------- */

Test(meta_dup, add_starts_in_log_with_unknown_decrees_and_persists_first)
{
    uint32_t id = create("t", 4);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    struct msg_dup_list_resp m;
    char path[256], text[512];

    cr_assert_eq(dupid, T0_MS / 1000);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.app_id, id);
    cr_assert_eq(m.ndups, 1);
    cr_assert_eq(m.dups[0].status, DS_LOG);
    cr_assert_eq(m.dups[0].fail_mode, FAIL_SLOW);
    cr_assert_str_eq(m.dups[0].remote, "tjsrv-account");
    cr_assert_str_eq(m.dups[0].remote_app, "t");
    cr_assert_eq(m.dups[0].create_ts_ms, T0_MS);
    cr_assert_eq(m.dups[0].npartitions, 4);
    for (uint32_t p = 0; p < 4; p++)
        cr_assert_eq(m.dups[0].confirmed[p], 0);
    msg_dup_list_resp_fini(&m);

    /* ZooKeeper layout and JSON */
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)dupid);
    node_text(path, text, sizeof(text));
    cr_assert(strstr(text, "\"remote\":\"tjsrv-account\"") != NULL, "%s", text);
    cr_assert(strstr(text, "\"status\":\"DS_LOG\"") != NULL, "%s", text);
    cr_assert(strstr(text, "\"create_timestamp_ms\":1700000000123") != NULL, "%s", text);
    cr_assert(strstr(text, "\"fail_mode\":\"FAIL_SLOW\"") != NULL, "%s", text);
    cr_assert(strstr(text, "\"remote_app_name\":\"t\"") != NULL, "%s", text);
    cr_assert(strstr(text, "\"remote_replica_count\":3") != NULL, "%s", text);
    for (uint32_t p = 0; p < 4; p++) {
        snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/%u", id, (unsigned long long)dupid,
                 p);
        cr_assert_str_eq(node_text(path, text, sizeof(text)), "0");
    }
}

/* Expects add to fail with err and a reason containing needle. */
static void
add_refused(const char *app, const char *remote_cluster, bool full,
            const struct meta_dup_remote *remote, int err, const char *needle)
{
    char why[META_DUP_WHY_MAX] = "";
    int rc = add_full(st, app, remote_cluster, full, remote, T0_MS, NULL, NULL, why);

    cr_assert_eq(rc, err, "%s -> %s: rc %d (%s), want %d", app, remote_cluster, rc, why, err);
    cr_assert(strstr(why, needle) != NULL, "reason '%s' lacks '%s'", why, needle);
}

Test(meta_dup, add_validation_gives_one_clear_reason_each)
{
    struct meta_dup_remote gone = {ERR_APP_NOT_FOUND, 0, 0};
    struct meta_dup_remote unreachable = {ERR_TIMEOUT, 0, 0};
    struct msg_dup_list_resp m;

    create("t", 2);
    add_refused("t", "tjsrv-account", true, &remote_ok, ERR_APP_EXISTS,
                "table t already exists on remote cluster tjsrv-account: full duplication");
    add_refused("t", "tjsrv-account", true, &unreachable, ERR_BUSY,
                "cannot ask remote cluster tjsrv-account");
    add_refused("t", "bjsrv-account", false, &remote_ok, ERR_INVALID_ARG, "its own cluster");
    add_refused("t", "nosuch", false, &remote_ok, ERR_INVALID_ARG,
                "remote cluster nosuch is not in [pegasus.clusters]");
    add_refused("nosuch", "tjsrv-account", false, &remote_ok, ERR_APP_NOT_FOUND,
                "table nosuch does not exist");
    add_refused("t", "tjsrv-account", false, &gone, ERR_APP_NOT_FOUND,
                "table t does not exist on remote cluster tjsrv-account");
    add_refused("t", "tjsrv-account", false, &unreachable, ERR_BUSY,
                "cannot ask remote cluster tjsrv-account (127.0.0.1:35601)");

    dopt.ngroup = 2; /* shsrv-account has a meta list but no cluster id */
    add_refused("t", "shsrv-account", false, &remote_ok, ERR_INVALID_ARG,
                "remote cluster shsrv-account is not in [duplication-group]");
    dopt.group[0] = dopt.group[1]; /* this cluster not in the group either */
    add_refused("t", "tjsrv-account", false, &remote_ok, ERR_INVALID_ARG,
                "this cluster bjsrv-account is not in [duplication-group]");
    options_default(&dopt);

    dopt.enabled = false;
    add_refused("t", "tjsrv-account", false, &remote_ok, ERR_INVALID_STATE,
                "duplication_enabled = false");
    options_default(&dopt);

    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 0); /* nothing was added by any refusal */
    msg_dup_list_resp_fini(&m);
}

Test(meta_dup, dropped_or_creating_table_cannot_be_duplicated)
{
    char why[META_DUP_WHY_MAX];

    create("t", 2);
    cr_assert_eq(meta_state_drop_app(st, "t"), 0);
    add_refused("t", "tjsrv-account", false, &remote_ok, ERR_APP_NOT_FOUND, "does not exist");
    cr_assert_eq(modify("t", 1, DUP_OP_PAUSE, 0, why), ERR_APP_NOT_FOUND);
}

Test(meta_dup, add_again_returns_the_existing_dupid)
{
    uint64_t first, again = 0;
    bool existed = false;
    char why[META_DUP_WHY_MAX];
    struct meta_dup_remote gone = {ERR_APP_NOT_FOUND, 0, 0};

    create("t", 2);
    first = add_ok("t", "tjsrv-account", T0_MS);
    /* later, and even if the remote is unreachable now: no remote question is needed */
    cr_assert_eq(
        add_full(st, "t", "tjsrv-account", false, &gone, T0_MS + 5000, &again, &existed, why), 0);
    cr_assert(existed);
    cr_assert_eq(again, first);
    /* a concurrent add that asked the remote meanwhile finds it in finish */
    {
        struct msg_dup_add_req req = {.app = "t", .remote = "tjsrv-account"};
        struct msg_dup_add_resp resp;
        cr_assert_eq(
            meta_dup_add_finish(st, &dopt, &req, &remote_ok, T0_MS + 9000, &resp, why, sizeof(why)),
            0);
        cr_assert(resp.existed);
        cr_assert_eq(resp.dupid, first);
    }
}

Test(meta_dup, dupids_are_unique_per_table_even_in_one_second)
{
    uint64_t a, b, c, d;
    char why[META_DUP_WHY_MAX];

    create("t", 2);
    create("u", 2);
    a = add_ok("t", "tjsrv-account", T0_MS);
    b = add_ok("t", "shsrv-account", T0_MS + 10); /* same second: bumped */
    cr_assert_eq(a, T0_MS / 1000);
    cr_assert_eq(b, a + 1);
    c = add_ok("u", "tjsrv-account", T0_MS); /* another table may use the same id */
    cr_assert_eq(c, a);
    /* removed and added again in the same second: the tombstone keeps its id taken */
    cr_assert_eq(modify("t", a, DUP_OP_REMOVE, 0, why), 0);
    d = add_ok("t", "tjsrv-account", T0_MS + 20);
    cr_assert_neq(d, a);
    cr_assert_neq(d, b);
    cr_assert_eq(d, a + 2);
}

/* ---------------- pause / start / remove / fail mode ---------------- */

Test(meta_dup, pause_start_follow_the_state_machine)
{
    uint32_t id = create("t", 2);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    char why[META_DUP_WHY_MAX], path[256], text[512];
    struct msg_dup_list_resp m;

    cr_assert_eq(modify("t", dupid, DUP_OP_START, 0, why), ERR_INVALID_STATE);
    cr_assert(strstr(why, "is DS_LOG, not paused") != NULL, "%s", why);
    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), 0);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)dupid);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"DS_PAUSE\"") != NULL, "%s", text);
    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), ERR_INVALID_STATE);
    cr_assert(strstr(why, "is DS_PAUSE: only a DS_LOG duplication can be paused") != NULL, "%s",
              why);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.dups[0].status, DS_PAUSE);
    msg_dup_list_resp_fini(&m);
    cr_assert_eq(modify("t", dupid, DUP_OP_START, 0, why), 0);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"DS_LOG\"") != NULL, "%s", text);
}

Test(meta_dup, unknown_dupid_table_and_op_are_refused)
{
    uint64_t dupid;
    char why[META_DUP_WHY_MAX];

    create("t", 2);
    dupid = add_ok("t", "tjsrv-account", T0_MS);
    cr_assert_eq(modify("t", dupid + 7, DUP_OP_PAUSE, 0, why), ERR_NOT_FOUND);
    cr_assert(strstr(why, "table t has no duplication") != NULL, "%s", why);
    cr_assert_eq(modify("nosuch", dupid, DUP_OP_PAUSE, 0, why), ERR_APP_NOT_FOUND);
    cr_assert(strstr(why, "table nosuch does not exist") != NULL, "%s", why);
    cr_assert_eq(modify("t", dupid, 99, 0, why), ERR_INVALID_ARG);
    cr_assert_eq(modify("t", dupid, DUP_OP_FAIL_MODE, 7, why), ERR_INVALID_ARG);
    cr_assert(strstr(why, "unknown fail mode") != NULL, "%s", why);
}

Test(meta_dup, remove_leaves_a_tombstone_and_ends_the_duplication)
{
    uint32_t id = create("t", 3);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS), again;
    char why[META_DUP_WHY_MAX], path[256], text[512];
    struct msg_dup_list_resp m;

    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), 0);
    cr_assert_eq(modify("t", dupid, DUP_OP_REMOVE, 0, why), 0); /* from any state */
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 0);
    msg_dup_list_resp_fini(&m);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)dupid);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"DS_REMOVED\"") != NULL, "%s", text);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/0", id, (unsigned long long)dupid);
    cr_assert(!node_exists(path)); /* its progress is dropped */
    cr_assert_eq(modify("t", dupid, DUP_OP_REMOVE, 0, why), ERR_NOT_FOUND);
    cr_assert(strstr(why, "was removed") != NULL, "%s", why);
    cr_assert_eq(modify("t", dupid, DUP_OP_START, 0, why), ERR_NOT_FOUND);
    /* and it may be added again: a new duplication */
    again = add_ok("t", "tjsrv-account", T0_MS + 60000);
    cr_assert_eq(again, T0_MS / 1000 + 60);
}

Test(meta_dup, fail_mode_is_set_and_persisted)
{
    uint32_t id = create("t", 2);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    char why[META_DUP_WHY_MAX], path[256], text[512];
    struct msg_dup_list_resp m;

    cr_assert_eq(modify("t", dupid, DUP_OP_FAIL_MODE, FAIL_SKIP, why), 0);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)dupid);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"FAIL_SKIP\"") != NULL, "%s", text);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.dups[0].fail_mode, FAIL_SKIP);
    cr_assert_eq(m.dups[0].status, DS_LOG); /* the state is untouched */
    msg_dup_list_resp_fini(&m);
    cr_assert_eq(modify("t", dupid, DUP_OP_FAIL_MODE, FAIL_SLOW, why), 0);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"FAIL_SLOW\"") != NULL, "%s", text);
}

/* ---------------- sync ---------------- */

/* One sync from node: primaries gpids, confirms (gpid, dupid, decree) triples. */
static void
sync_from(const char *node, const uint64_t *primaries, uint32_t np,
          const struct dup_confirm *confirms, uint32_t nc, int64_t now,
          struct msg_dup_sync_resp *resp)
{
    struct msg_dup_sync_req req;

    memset(&req, 0, sizeof(req));
    snprintf(req.node, sizeof(req.node), "%s", node);
    req.nprimaries = np;
    req.primaries = (uint64_t *)primaries;
    req.nconfirms = nc;
    req.confirms = (struct dup_confirm *)confirms;
    cr_assert_eq(meta_dup_on_sync(st, &req, now, resp), 0);
}

/* The decree the meta holds for (app, dupid, pidx) per list. */
static decree_t
held(const char *app, uint64_t dupid, uint32_t p)
{
    struct msg_dup_list_resp m;
    const struct dup_info *d;
    decree_t v;

    cr_assert_eq(meta_dup_list(st, app, &m, NULL, 0), 0);
    d = listed(&m, dupid);
    cr_assert_not_null(d);
    v = d->confirmed[p];
    msg_dup_list_resp_fini(&m);
    return v;
}

Test(meta_dup, sync_assigns_duplications_to_the_primary_only)
{
    uint32_t id = create("t", 2);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    uint64_t gp[2] = {gpid_make(id, 0), gpid_make(id, 1)};
    uint64_t bogus[2] = {gpid_make(id, 9), gpid_make(id + 5, 0)};
    struct msg_dup_sync_resp resp;
    char why[META_DUP_WHY_MAX];

    sync_from(A, gp, 2, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 2);
    cr_assert(resp.has_led && resp.nled == 2 && resp.led[0] == gp[0] && resp.led[1] == gp[1]);
    for (uint32_t i = 0; i < 2; i++) {
        cr_assert_eq(resp.dups[i].gpid, gp[i]);
        cr_assert_eq(resp.dups[i].dupid, dupid);
        cr_assert_eq(resp.dups[i].status, DS_LOG);
        cr_assert_eq(resp.dups[i].fail_mode, FAIL_SLOW);
        cr_assert_str_eq(resp.dups[i].remote, "tjsrv-account");
        cr_assert_str_eq(resp.dups[i].remote_app, "t");
        cr_assert_eq(resp.dups[i].confirmed, 0);
    }
    msg_dup_sync_resp_fini(&resp);

    beacon(B); /* alive but primary of nothing: claims are ignored, and it is told so (it must
                * not take the empty list for its partitions' list) */
    sync_from(B, gp, 2, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 0);
    cr_assert(resp.has_led && resp.nled == 0);
    msg_dup_sync_resp_fini(&resp);
    sync_from(A, bogus, 2, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 0);
    msg_dup_sync_resp_fini(&resp);

    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), 0);
    cr_assert_eq(modify("t", dupid, DUP_OP_FAIL_MODE, FAIL_SKIP, why), 0);
    sync_from(A, gp, 1, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 1);
    cr_assert_eq(resp.dups[0].status, DS_PAUSE);
    cr_assert_eq(resp.dups[0].fail_mode, FAIL_SKIP);
    msg_dup_sync_resp_fini(&resp);

    cr_assert_eq(modify("t", dupid, DUP_OP_REMOVE, 0, why), 0);
    sync_from(A, gp, 2, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 0);    /* removed: the primaries stop */
    cr_assert_eq(resp.nled, 2); /* and know the empty list is complete */
    msg_dup_sync_resp_fini(&resp);
}

Test(meta_dup, confirmed_decree_only_grows_and_only_from_the_primary)
{
    uint32_t id = create("t", 2);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    uint64_t g0 = gpid_make(id, 0);
    struct dup_confirm c;
    struct msg_dup_sync_resp resp;
    char path[256], text[64];

    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/0", id, (unsigned long long)dupid);
    /* the primary's first report sets it, written at once, and the reply carries it */
    c = (struct dup_confirm){g0, dupid, 37, false};
    sync_from(A, &g0, 1, &c, 1, 10000, &resp);
    cr_assert_eq(resp.n, 1);
    cr_assert_eq(resp.dups[0].confirmed, 37);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "37");
    cr_assert_eq(held("t", dupid, 0), 37);
    cr_assert_eq(held("t", dupid, 1), 0);

    /* lower: ignored */
    c.confirmed = 20;
    sync_from(A, &g0, 1, &c, 1, 20000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(held("t", dupid, 0), 37);
    /* -1 (a new primary that knows nothing yet): ignored */
    c.confirmed = -1;
    sync_from(A, &g0, 1, &c, 1, 30000, &resp);
    cr_assert_eq(resp.dups[0].confirmed, 37); /* where the new primary resumes */
    msg_dup_sync_resp_fini(&resp);
    /* not the primary: ignored */
    beacon(B);
    c.confirmed = 1000;
    sync_from(B, NULL, 0, &c, 1, 40000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(held("t", dupid, 0), 37);
    /* unknown dupid: ignored */
    c = (struct dup_confirm){g0, dupid + 1, 500, false};
    sync_from(A, NULL, 0, &c, 1, 50000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(held("t", dupid, 0), 37);
    /* higher from the primary: taken */
    c = (struct dup_confirm){g0, dupid, 90, false};
    sync_from(A, NULL, 0, &c, 1, 60000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(held("t", dupid, 0), 90);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "90");
}

Test(meta_dup, confirmed_decree_writes_are_rate_limited_and_flushed)
{
    uint32_t id = create("t", 1);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    uint64_t g0 = gpid_make(id, 0);
    struct dup_confirm c = {g0, dupid, 10, false};
    struct msg_dup_sync_resp resp;
    char path[256], text[64];

    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/0", id, (unsigned long long)dupid);
    sync_from(A, NULL, 0, &c, 1, 5000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "10");
    c.confirmed = 20; /* 100 ms later: accepted, not written yet; the meta still hands out 10 */
    sync_from(A, &g0, 1, &c, 1, 5100, &resp);
    cr_assert_eq(resp.dups[0].confirmed, 10);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "10");
    meta_dup_flush(st, 5500);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "10");
    meta_dup_flush(st, 6000 + 1); /* the cron writes it once due */
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "20");
    cr_assert_eq(held("t", dupid, 0), 20);
    c.confirmed = 30;
    sync_from(A, NULL, 0, &c, 1, 6200, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "20");
    meta_state_cron(st, 7100); /* the meta loop's cron flushes too */
    cr_assert_str_eq(node_text(path, text, sizeof(text)), "30");
}

/* A primary re-seeding its remote (its plog lost decrees not shipped yet) says so in the
 * sync; dup list names the partition until it is done. */
Test(meta_dup, dup_list_shows_partitions_re_seeding)
{
    uint32_t id = create("t", 3);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    struct dup_confirm c = {gpid_make(id, 2), dupid, 10, true};
    struct msg_dup_sync_resp resp;
    struct msg_dup_list_resp m;
    char why[META_DUP_WHY_MAX];

    sync_from(A, NULL, 0, &c, 1, 5000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(meta_dup_list(st, "t", &m, why, sizeof(why)), 0);
    cr_assert(strstr(m.dups[0].progress, "partitions 2:") != NULL, "progress: %s",
              m.dups[0].progress);
    msg_dup_list_resp_fini(&m);
    c.resyncing = false;
    sync_from(A, NULL, 0, &c, 1, 6000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(meta_dup_list(st, "t", &m, why, sizeof(why)), 0);
    cr_assert_str_eq(m.dups[0].progress, "");
    msg_dup_list_resp_fini(&m);
}

Test(meta_dup, dropped_table_duplications_end)
{
    uint32_t id = create("t", 2);
    uint64_t g0 = gpid_make(id, 0);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    struct dup_confirm c = {g0, dupid, 5, false};
    struct msg_dup_sync_resp resp;
    struct msg_dup_list_resp m;
    char why[META_DUP_WHY_MAX];
    struct meta_state *st2;

    cr_assert_eq(meta_state_drop_app(st, "t"), 0);
    sync_from(A, &g0, 1, &c, 1, 0, &resp);
    cr_assert_eq(resp.n, 0);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(meta_dup_list(st, "t", &m, why, sizeof(why)), ERR_APP_NOT_FOUND);
    cr_assert(strstr(why, "does not exist") != NULL);
    /* a re-created table of that name starts without duplications */
    create("t", 2);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 0);
    msg_dup_list_resp_fini(&m);
    st2 = state_on(store, 0);
    cr_assert_eq(meta_dup_list(st2, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 0);
    msg_dup_list_resp_fini(&m);
    meta_state_destroy(st2);
}

/* ---------------- reload ---------------- */

Test(meta_dup, new_leader_reloads_state_fail_mode_progress_and_tombstones)
{
    uint32_t id = create("t", 3);
    uint64_t a = add_ok("t", "tjsrv-account", T0_MS);
    uint64_t b = add_ok("t", "shsrv-account", T0_MS + 1000);
    uint64_t c;
    struct dup_confirm conf[2] = {{gpid_make(id, 1), a, 41, false},
                                  {gpid_make(id, 2), b, 7, false}};
    struct msg_dup_sync_resp resp;
    struct msg_dup_list_resp m;
    const struct dup_info *d;
    char why[META_DUP_WHY_MAX];
    struct meta_store *s2;
    struct meta_state *old = st;

    cr_assert_eq(modify("t", a, DUP_OP_PAUSE, 0, why), 0);
    cr_assert_eq(modify("t", a, DUP_OP_FAIL_MODE, FAIL_SKIP, why), 0);
    sync_from(A, NULL, 0, conf, 2, 1000, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(modify("t", b, DUP_OP_REMOVE, 0, why), 0);
    c = add_ok("t", "shsrv-account", T0_MS + 1000); /* b's second is taken: bumped */
    cr_assert_eq(c, b + 1);

    /* a new leader on another session of the same tree */
    s2 = meta_store_mem_open(tree, NULL, NULL);
    st = state_on(s2, 0);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 2);
    d = listed(&m, a);
    cr_assert_not_null(d);
    cr_assert_eq(d->status, DS_PAUSE);
    cr_assert_eq(d->fail_mode, FAIL_SKIP);
    cr_assert_str_eq(d->remote, "tjsrv-account");
    cr_assert_eq(d->create_ts_ms, T0_MS);
    cr_assert_eq(d->npartitions, 3);
    cr_assert_eq(d->confirmed[0], 0);
    cr_assert_eq(d->confirmed[1], 41);
    cr_assert_eq(d->confirmed[2], 0);
    d = listed(&m, c);
    cr_assert_not_null(d);
    cr_assert_eq(d->status, DS_LOG);
    cr_assert_null(listed(&m, b)); /* removed */
    msg_dup_list_resp_fini(&m);
    /* the new leader keeps the rules: add again -> the existing one; b's id stays taken */
    {
        uint64_t again = 0, d2;
        bool existed = false;
        cr_assert_eq(add_full(st, "t", "tjsrv-account", false, &remote_ok, T0_MS + 9000, &again,
                              &existed, why),
                     0);
        cr_assert(existed);
        cr_assert_eq(again, a);
        cr_assert_eq(modify("t", b, DUP_OP_START, 0, why), ERR_NOT_FOUND);
        cr_assert(strstr(why, "was removed") != NULL, "%s", why);
        cr_assert_eq(modify("t", c, DUP_OP_REMOVE, 0, why), 0);
        d2 = add_ok("t", "shsrv-account", T0_MS + 1000);
        cr_assert_eq(d2, c + 1);
    }
    meta_state_destroy(st);
    meta_store_destroy(s2);
    st = old;
}

/* ---------------- full duplication ---------------- */

/* A DS_APP step as meta_service runs it, with the remote's answer given. */
static bool
follow_step(struct meta_dup_follow *f, int64_t now)
{
    return meta_dup_follow_next(st, &dopt, now, f);
}

static uint32_t
status_of(const char *app, uint64_t dupid, char *progress, size_t cap)
{
    struct msg_dup_list_resp m;
    const struct dup_info *d;
    uint32_t status;

    cr_assert_eq(meta_dup_list(st, app, &m, NULL, 0), 0);
    d = listed(&m, dupid);
    cr_assert_not_null(d);
    status = d->status;
    if (progress != NULL)
        snprintf(progress, cap, "%s", d->progress);
    msg_dup_list_resp_fini(&m);
    return status;
}

Test(meta_dup, full_duplication_moves_prepare_app_log_and_persists_each_step)
{
    static const struct meta_dup_remote absent = {ERR_APP_NOT_FOUND, 0, 0};
    uint32_t id = create("t", 2);
    uint64_t gp[2] = {gpid_make(id, 0), gpid_make(id, 1)};
    char why[META_DUP_WHY_MAX] = "", progress[256], path[256], text[256];
    struct msg_dup_sync_resp resp;
    struct meta_dup_follow f;
    struct msg_app_config cfg;
    struct partition_config parts[2];
    uint64_t dupid = 0;
    bool existed = true;

    dopt.cluster_metas[0] = '\0';
    cr_assert_eq(add_full(st, "t", "tjsrv-account", true, &absent, T0_MS, &dupid, &existed, why),
                 ERR_INVALID_STATE);
    cr_assert(strstr(why, "[cluster] meta_servers") != NULL, "%s", why);
    options_default(&dopt);
    cr_assert_eq(add_full(st, "t", "tjsrv-account", true, &absent, T0_MS, &dupid, &existed, why), 0,
                 "%s", why);
    cr_assert_not(existed);
    cr_assert_eq(status_of("t", dupid, progress, sizeof(progress)), DS_PREPARE);
    cr_assert_str_eq(progress, "checkpoints made by 0 of 2 partitions");
    cr_assert_eq(held("t", dupid, 0), -1);
    cr_assert_not(follow_step(&f, 0), "nothing to create before every checkpoint is in");

    /* the primary is told DS_PREPARE with no decree: it makes a checkpoint and reports it */
    sync_from(A, gp, 2, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 2);
    cr_assert_eq(resp.dups[0].status, DS_PREPARE);
    cr_assert_eq(resp.dups[0].confirmed, -1);
    msg_dup_sync_resp_fini(&resp);
    {
        struct dup_confirm c[2] = {{gp[0], dupid, 17, false}, {gp[0], dupid, 30, false}};
        sync_from(A, gp, 2, c, 1, 0, &resp); /* persisted at once, not rate limited */
        msg_dup_sync_resp_fini(&resp);
        snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/0", id, (unsigned long long)dupid);
        cr_assert_str_eq(node_text(path, text, sizeof(text)), "17");
        sync_from(A, gp, 2, c + 1, 1, 1, &resp); /* a later report does not move D_p */
        msg_dup_sync_resp_fini(&resp);
        cr_assert_eq(held("t", dupid, 0), 17);
        cr_assert_eq(status_of("t", dupid, progress, sizeof(progress)), DS_PREPARE);
        cr_assert_str_eq(progress, "checkpoints made by 1 of 2 partitions");
    }
    {
        struct dup_confirm c = {gp[1], dupid, 0, false}; /* an empty partition: D_p 0 */
        sync_from(A, gp, 2, &c, 1, 2, &resp);
        msg_dup_sync_resp_fini(&resp);
    }
    cr_assert_eq(status_of("t", dupid, NULL, 0), DS_APP);
    {
        struct dup_confirm c = {gp[0], dupid, 99, false}; /* ignored in DS_APP: D_p stays */
        sync_from(A, gp, 2, &c, 1, 5000, &resp);
        msg_dup_sync_resp_fini(&resp);
        meta_dup_flush(st, 10000);
        cr_assert_eq(held("t", dupid, 0), 17);
    }
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)dupid);
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"DS_APP\"") != NULL, "%s", text);

    /* DS_APP: a create of the follower table, one at a time */
    cr_assert(follow_step(&f, 0));
    cr_assert_str_eq(f.remote_metas, "127.0.0.1:35601");
    cr_assert_str_eq(f.create.name, "t");
    cr_assert_eq(f.create.partition_count, 2);
    cr_assert_eq(f.create.replica_count, 1);
    cr_assert_str_eq(f.create.master.cluster, "bjsrv-account");
    cr_assert_str_eq(f.create.master.app, "t");
    cr_assert_str_eq(f.create.master.metas, "127.0.0.1:34601");
    cr_assert_not(follow_step(&f, 0), "a step is already out");
    /* unreachable: retried with backoff, visible in the list */
    meta_dup_follow_done(st, &f, ERR_TIMEOUT, NULL, 0);
    cr_assert_eq(status_of("t", dupid, progress, sizeof(progress)), DS_APP);
    cr_assert(strstr(progress, "ERR_TIMEOUT") != NULL, "%s", progress);
    cr_assert_not(follow_step(&f, 1000));
    cr_assert(follow_step(&f, 2000));
    /* created but still copying */
    memset(&cfg, 0, sizeof(cfg));
    memset(parts, 0, sizeof(parts));
    cfg.partition_count = 2;
    cfg.replica_count = 1;
    cfg.partitions = parts;
    meta_dup_follow_done(st, &f, 0, &cfg, 2000);
    cr_assert_eq(status_of("t", dupid, progress, sizeof(progress)), DS_APP);
    cr_assert(strstr(progress, "of 2 partitions") != NULL, "%s", progress);
    cr_assert_not(follow_step(&f, 2500));
    cr_assert(follow_step(&f, 3000));
    /* healthy: DS_LOG from each partition's checkpoint decree */
    cfg.healthy = true;
    meta_dup_follow_done(st, &f, 0, &cfg, 3000);
    cr_assert_eq(status_of("t", dupid, progress, sizeof(progress)), DS_LOG);
    cr_assert_str_eq(progress, "");
    cr_assert(strstr(node_text(path, text, sizeof(text)), "\"DS_LOG\"") != NULL, "%s", text);
    cr_assert_eq(held("t", dupid, 0), 17);
    cr_assert_eq(held("t", dupid, 1), 0);
    cr_assert_not(follow_step(&f, 10000));
}

Test(meta_dup, full_duplication_resumes_under_a_new_leader_and_can_be_removed)
{
    static const struct meta_dup_remote absent = {ERR_APP_NOT_FOUND, 0, 0};
    uint32_t id = create("t", 1);
    uint64_t gp = gpid_make(id, 0);
    char why[META_DUP_WHY_MAX] = "";
    struct msg_dup_sync_resp resp;
    struct dup_confirm c;
    struct meta_dup_follow f;
    struct meta_store *s2;
    struct meta_state *old = st;
    uint64_t dupid = 0;

    cr_assert_eq(add_full(st, "t", "tjsrv-account", true, &absent, T0_MS, &dupid, NULL, why), 0);
    c = (struct dup_confirm){gp, dupid, 5, false};
    sync_from(A, &gp, 1, &c, 1, 0, &resp);
    msg_dup_sync_resp_fini(&resp);
    cr_assert_eq(status_of("t", dupid, NULL, 0), DS_APP);

    /* a new leader finds DS_APP and D_p, and hands D_p to the (new) primary */
    s2 = meta_store_mem_open(tree, NULL, NULL);
    st = state_on(s2, 0);
    beacon(A);
    cr_assert_eq(status_of("t", dupid, NULL, 0), DS_APP);
    cr_assert_eq(held("t", dupid, 0), 5);
    sync_from(A, &gp, 1, NULL, 0, 0, &resp);
    cr_assert_eq(resp.n, 1);
    cr_assert_eq(resp.dups[0].status, DS_APP);
    cr_assert_eq(resp.dups[0].confirmed, 5);
    msg_dup_sync_resp_fini(&resp);
    cr_assert(follow_step(&f, 0));

    /* removed while a step is out: the step's answer changes nothing */
    cr_assert_eq(modify("t", dupid, DUP_OP_REMOVE, 0, why), 0);
    meta_dup_follow_done(st, &f, ERR_TIMEOUT, NULL, 0);
    cr_assert_not(follow_step(&f, 100000));
    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), ERR_NOT_FOUND);
    meta_state_destroy(st);
    meta_store_destroy(s2);
    st = old;
}

Test(meta_dup, pause_is_refused_while_a_full_copy_runs)
{
    static const struct meta_dup_remote absent = {ERR_APP_NOT_FOUND, 0, 0};
    char why[META_DUP_WHY_MAX] = "";
    uint64_t dupid = 0;

    create("t", 1);
    cr_assert_eq(add_full(st, "t", "tjsrv-account", true, &absent, T0_MS, &dupid, NULL, why), 0);
    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), ERR_INVALID_STATE);
    cr_assert(strstr(why, "DS_PREPARE") != NULL, "%s", why);
}

Test(meta_dup, follower_create_needs_a_known_master_and_takes_its_metas_from_config)
{
    struct msg_create_app_req req;
    char why[META_DUP_WHY_MAX] = "";

    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "t");
    snprintf(req.master.cluster, sizeof(req.master.cluster), "tjsrv-account");
    snprintf(req.master.app, sizeof(req.master.app), "t");
    snprintf(req.master.metas, sizeof(req.master.metas), "10.9.9.9:1"); /* not trusted */
    cr_assert_eq(meta_dup_follower_check(&dopt, &req, why, sizeof(why)), 0, "%s", why);
    cr_assert_str_eq(req.master.metas, "127.0.0.1:35601");
    snprintf(req.master.cluster, sizeof(req.master.cluster), "evil");
    cr_assert_eq(meta_dup_follower_check(&dopt, &req, why, sizeof(why)), ERR_INVALID_ARG);
    cr_assert(strstr(why, "is not in [pegasus.clusters]") != NULL, "%s", why);
    snprintf(req.master.cluster, sizeof(req.master.cluster), "tjsrv-account");
    snprintf(req.master.app, sizeof(req.master.app), "../x");
    cr_assert_eq(meta_dup_follower_check(&dopt, &req, why, sizeof(why)), ERR_INVALID_ARG);
    snprintf(req.master.app, sizeof(req.master.app), "t");
    dopt.enabled = false;
    cr_assert_eq(meta_dup_follower_check(&dopt, &req, why, sizeof(why)), ERR_INVALID_STATE);
}

/* ---------------- JSON and config ---------------- */

Test(meta_dup, json_round_trip_and_the_seeds_old_node)
{
    struct meta_dup d = {.dupid = 5,
                         .status = DS_PAUSE,
                         .fail_mode = FAIL_SKIP,
                         .remote = "tjsrv-account",
                         .remote_app = "acct",
                         .remote_replica_count = 3,
                         .create_ts_ms = 1692240106066LL};
    const char *seed = "{\"remote\":\"tjsrv-account\",\"status\":\"DS_START\","
                       "\"create_timestamp_ms\":1537336970483}";
    struct buf b = BUF_INIT;
    struct meta_dup out;

    meta_dup_json_encode(&d, &b);
    cr_assert_eq(meta_dup_json_decode(b.data, b.len, &out), 0);
    cr_assert_eq(out.status, DS_PAUSE);
    cr_assert_eq(out.fail_mode, FAIL_SKIP);
    cr_assert_str_eq(out.remote, "tjsrv-account");
    cr_assert_str_eq(out.remote_app, "acct");
    cr_assert_eq(out.remote_replica_count, 3);
    cr_assert_eq(out.create_ts_ms, 1692240106066LL);
    buf_fini(&b);
    /* the manual's ZooKeeper example (older Pegasus): DS_START = shipping, default fail mode */
    cr_assert_eq(meta_dup_json_decode((const uint8_t *)seed, strlen(seed), &out), 0);
    cr_assert_eq(out.status, DS_LOG);
    cr_assert_eq(out.fail_mode, FAIL_SLOW);
    cr_assert_eq(out.create_ts_ms, 1537336970483LL);
}

Test(meta_dup, json_rejects_bad_nodes)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"status\":\"DS_LOG\",\"create_timestamp_ms\":1}",
        "{\"remote\":\"\",\"status\":\"DS_LOG\",\"create_timestamp_ms\":1}",
        "{\"remote\":\"x\",\"status\":\"DS_WHAT\",\"create_timestamp_ms\":1}",
        "{\"remote\":\"x\",\"status\":\"DS_LOG\",\"create_timestamp_ms\":-1}",
        "{\"remote\":\"x\",\"status\":\"DS_LOG\",\"create_timestamp_ms\":1.5}",
        "{\"remote\":\"x\",\"status\":\"DS_LOG\",\"create_timestamp_ms\":1,\"fail_mode\":\"FAST\"}",
        "{\"remote\":\"x\",\"status\":3,\"create_timestamp_ms\":1}",
        "{\"remote\":\"x\",\"status\":\"DS_LOG\",\"create_timestamp_ms\":1,"
        "\"remote_replica_count\":1000}",
    };
    struct meta_dup out;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(meta_dup_json_decode((const uint8_t *)bad[i], strlen(bad[i]), &out),
                     ERR_INVALID_DATA, "accepted: %s", bad[i]);
}

Test(meta_dup, corrupt_nodes_load_safely)
{
    uint32_t id = create("t", 2);
    uint64_t dupid = add_ok("t", "tjsrv-account", T0_MS);
    char path[256];
    struct msg_dup_list_resp m;
    struct meta_state *st2;

    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu/1", id, (unsigned long long)dupid);
    cr_assert_eq(meta_store_set(store, path, "x7", 2), 0);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%llu", id, (unsigned long long)(dupid + 50));
    cr_assert_eq(meta_store_create(store, path, "{", 1, 0, NULL, 0), 0);
    st2 = state_on(store, 0);
    cr_assert_eq(meta_dup_list(st2, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 1);                 /* the corrupt node is not listed... */
    cr_assert_eq(m.dups[0].confirmed[1], -1); /* ...and a corrupt decree reads as unknown */
    msg_dup_list_resp_fini(&m);
    meta_state_destroy(st2);
}

/* Writes text to a temp file and loads it as a config. */
static struct config *
config_from(const char *text)
{
    char path[] = "/tmp/test_meta_dup.XXXXXX";
    int fd = mkstemp(path);
    struct config *cfg = NULL;
    char err[256];

    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), 0, "%s", err);
    unlink(path);
    return cfg;
}

Test(meta_dup, options_from_the_seeds_config)
{
    struct config *cfg = config_from(
        "[replication]\n  duplication_enabled = true\n  duplicate_log_batch_bytes = 4096\n"
        "[pegasus.clusters]\n  tjsrv-account = 127.0.0.1:51601,127.0.0.1:51602\n"
        "[[duplication-group]]\n  bjsrv-account = 1\n  tjsrv-account = 2\n");
    struct meta_dup_options *o = xmalloc(sizeof(*o));
    char err[256] = "";

    cr_assert_eq(meta_dup_options_load(cfg, "bjsrv-account", o, err, sizeof(err)), 0, "%s", err);
    cr_assert(o->enabled);
    cr_assert_str_eq(o->cluster_name, "bjsrv-account");
    cr_assert_eq(o->nclusters, 1);
    cr_assert_str_eq(o->clusters[0].name, "tjsrv-account");
    cr_assert_str_eq(o->clusters[0].metas, "127.0.0.1:51601,127.0.0.1:51602");
    cr_assert_eq(o->ngroup, 2);
    cr_assert_eq(o->group[1].id, 2);
    cr_assert_eq(config_override(cfg, "replication.duplication_enabled=false"), 0);
    cr_assert_eq(meta_dup_options_load(cfg, "bjsrv-account", o, err, sizeof(err)), 0);
    cr_assert(!o->enabled);
    config_destroy(cfg);

    cfg = config_from("[duplication-group]\na = 1\nb = 1\n");
    cr_assert_eq(meta_dup_options_load(cfg, "a", o, err, sizeof(err)), ERR_CONFIG);
    cr_assert(strstr(err, "same cluster id") != NULL, "%s", err);
    config_destroy(cfg);
    cfg = config_from("[duplication-group]\na = 128\n");
    cr_assert_eq(meta_dup_options_load(cfg, "a", o, err, sizeof(err)), ERR_CONFIG);
    config_destroy(cfg);
    /* nothing configured: enabled by default, no remote known */
    cfg = config_from("");
    cr_assert_eq(meta_dup_options_load(cfg, "a", o, err, sizeof(err)), 0);
    cr_assert(o->enabled);
    cr_assert_eq(o->nclusters, 0);
    config_destroy(cfg);
    xfree(o);
}

/* ---------------- store failures ---------------- */

/* A store that fails every create after `budget` successful ones. */
struct flaky_store {
    struct meta_store base;
    struct meta_store *inner;
    int budget;
};
static struct meta_store_ops flaky_ops;

static int
flaky_create(struct meta_store *s, const char *path, const void *data, size_t len, unsigned flags,
             char *created, size_t created_len)
{
    struct flaky_store *f = (struct flaky_store *)s;
    if (f->budget-- <= 0)
        return ERR_ZK;
    return meta_store_create(f->inner, path, data, len, flags, created, created_len);
}
static int
flaky_set(struct meta_store *s, const char *path, const void *data, size_t len)
{
    struct flaky_store *f = (struct flaky_store *)s;
    if (f->budget <= 0)
        return ERR_ZK;
    return meta_store_set(f->inner, path, data, len);
}
static int
flaky_get(struct meta_store *s, const char *path, struct buf *out)
{
    return meta_store_get(((struct flaky_store *)s)->inner, path, out);
}
static int
flaky_del(struct meta_store *s, const char *path)
{
    return meta_store_delete(((struct flaky_store *)s)->inner, path);
}
static int
flaky_children(struct meta_store *s, const char *path, bool watch, struct meta_store_names *out)
{
    return meta_store_children(((struct flaky_store *)s)->inner, path, watch, out);
}
static int
flaky_exists(struct meta_store *s, const char *path, bool watch, bool *e)
{
    return meta_store_exists(((struct flaky_store *)s)->inner, path, watch, e);
}

Test(meta_dup, failed_store_writes_change_nothing)
{
    struct flaky_store f = {.inner = store, .budget = 1000};
    struct meta_state *fs, *old = st;
    char why[META_DUP_WHY_MAX] = "", path[256];
    struct msg_dup_list_resp m;
    uint64_t dupid;
    uint32_t id;

    flaky_ops = (struct meta_store_ops){.create = flaky_create,
                                        .set = flaky_set,
                                        .get = flaky_get,
                                        .del = flaky_del,
                                        .children = flaky_children,
                                        .exists = flaky_exists};
    f.base.ops = &flaky_ops;
    fs = state_on(&f.base, 0);
    st = fs;
    beacon(A);
    id = create("t", 4);
    f.budget = 3; /* the dup node and two of four partitions */
    cr_assert_eq(add_full(st, "t", "tjsrv-account", false, &remote_ok, T0_MS, &dupid, NULL, why),
                 ERR_ZK);
    cr_assert(strstr(why, "ZooKeeper") != NULL, "%s", why);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.ndups, 0);
    msg_dup_list_resp_fini(&m);
    snprintf(path, sizeof(path), APPS "/%u/duplication/%lld", id, T0_MS / 1000);
    cr_assert(!node_exists(path)); /* what was written is gone again */

    f.budget = 1000;
    dupid = add_ok("t", "tjsrv-account", T0_MS);
    f.budget = 0; /* every write fails now */
    cr_assert_eq(modify("t", dupid, DUP_OP_PAUSE, 0, why), ERR_ZK);
    cr_assert_eq(meta_dup_list(st, "t", &m, NULL, 0), 0);
    cr_assert_eq(m.dups[0].status, DS_LOG);
    msg_dup_list_resp_fini(&m);
    {
        struct dup_confirm c = {gpid_make(id, 0), dupid, 9, false};
        struct msg_dup_sync_resp resp;
        sync_from(A, &c.gpid, 1, &c, 1, 0, &resp);
        cr_assert_eq(resp.dups[0].confirmed, 0); /* not persisted: the start point is handed out */
        msg_dup_sync_resp_fini(&resp);
        f.budget = 1000;
        meta_dup_flush(st, 500); /* a failed write is retried after the interval */
        cr_assert_eq(held("t", dupid, 0), 0);
        meta_dup_flush(st, 1000);
        cr_assert_eq(held("t", dupid, 0), 9);
    }
    meta_state_destroy(fs);
    st = old;
}

/* ---------------- the error text on the wire ---------------- */

Test(meta_dup, error_text_round_trips_and_truncates)
{
    struct msg_error_text m, out;
    struct buf b = BUF_INIT;
    char longer[600];

    memset(&m, 0, sizeof(m));
    snprintf(m.text, sizeof(m.text), "table t does not exist");
    msg_error_text_encode(&b, &m);
    cr_assert_eq(msg_error_text_decode(b.data, b.len, &out), 0);
    cr_assert_str_eq(out.text, "table t does not exist");
    buf_fini(&b);
    /* a longer text from a newer peer is cut to fit, not refused */
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    {
        struct buf raw = BUF_INIT;
        const uint8_t hdr[2] = {0x91, 0xda}; /* fixarray(1), str16 + its length */
        buf_append(&raw, hdr, sizeof(hdr));
        buf_append_be16(&raw, (uint16_t)strlen(longer));
        buf_append(&raw, longer, strlen(longer));
        cr_assert_eq(msg_error_text_decode(raw.data, raw.len, &out), 0);
        cr_assert_eq(strlen(out.text), sizeof(out.text) - 1);
        buf_fini(&raw);
    }
    cr_assert_eq(msg_error_text_decode((const uint8_t *)"\xc1", 1, &out), ERR_INVALID_DATA);
}
