/*
 * test_meta_state.c: meta state logic (create/drop, ids, placement, beacons, reload, failure
 * detection, failover, learners, config proposals, the balancer), the JSON codec of the
 * ZooKeeper nodes, the in-memory store and leader election, all on the in-memory store
 * (meta_store_mem.c) with an injected clock (now_ms). The ZooKeeper backend is covered by
 * tests/integration/test_meta.sh.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "meta/meta_leader.h"
#include "meta/meta_state.h"
#include "meta/meta_store.h"

#define CLUSTER "/geokv/test"
#define GRACE_MS 1000
#define DELAY_MS 5000    /* add_secondary_delay_ms */
#define LEARNER_MS 20000 /* learner_timeout_ms */
#define BALANCE_MS 3000  /* balancer_interval_ms */

static struct meta_mem_tree *tree;
static struct meta_store *store;
static struct meta_state *st;

static const struct meta_state_options test_opt = {
    .node_grace_ms = GRACE_MS,
    .lease_ms = 800,
    .add_secondary_delay_ms = DELAY_MS,
    .learner_timeout_ms = LEARNER_MS,
    .balancer_interval_ms = BALANCE_MS,
};

/* A new leader's state on s, loaded at now. */
static struct meta_state *
state_on(struct meta_store *s, int64_t now)
{
    struct meta_state *ms = meta_state_create(s, CLUSTER, &test_opt);
    cr_assert_eq(meta_state_load(ms, now), 0);
    return ms;
}

static struct meta_state *
new_state(void)
{
    return state_on(store, 0);
}

static void
setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    tree = meta_mem_tree_create();
    store = meta_store_mem_open(tree, NULL, NULL);
    st = new_state();
}

static void
teardown(void)
{
    meta_state_destroy(st);
    meta_store_destroy(store);
    meta_mem_tree_destroy(tree);
}

TestSuite(meta_state, .init = setup, .fini = teardown, .timeout = 20);

/* Sends a beacon from addr reporting n partitions; resp is freed unless respp is given. */
static void
beacon(const char *addr, int64_t now, const struct replica_report *reps, uint32_t n,
       struct msg_beacon_resp *respp)
{
    struct msg_beacon_req req;
    struct msg_beacon_resp resp;

    memset(&req, 0, sizeof(req));
    snprintf(req.address, sizeof(req.address), "%s", addr);
    req.nreplicas = n;
    req.replicas = (struct replica_report *)reps;
    cr_assert_eq(meta_state_on_beacon(st, &req, now, &resp), 0);
    if (respp != NULL)
        *respp = resp;
    else
        meta_state_beacon_resp_fini(&resp);
}

static int
create(const char *name, uint32_t pc, uint32_t rc, int64_t now, uint32_t *idp)
{
    struct msg_create_app_req req;
    const struct meta_app *app = NULL;
    int err;

    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "%s", name);
    req.partition_count = pc;
    req.replica_count = rc;
    err = meta_state_create_app(st, &req, now, &app);
    if (idp != NULL)
        *idp = err == 0 ? app->app_id : 0;
    return err;
}

/* Primary count of addr as list_nodes reports it. */
static uint32_t
primaries_of(const char *addr, int64_t now)
{
    struct msg_list_nodes_resp m;
    uint32_t count = UINT32_MAX;

    meta_state_list_nodes(st, now, &m);
    for (uint32_t i = 0; i < m.nnodes; i++)
        if (strcmp(m.nodes[i].address, addr) == 0)
            count = m.nodes[i].primary_count;
    xfree(m.nodes);
    return count;
}

/* ---------------- create / drop / ids ---------------- */

Test(meta_state, create_drop_recreate)
{
    uint32_t id1, id2;
    struct msg_list_apps_resp apps;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("t1", 4, 1, 0, &id1), 0);
    cr_assert_eq(id1, 1);
    cr_assert_not_null(meta_state_find_app(st, "t1"));
    cr_assert_eq(create("t1", 2, 1, 0, NULL), ERR_APP_EXISTS);
    cr_assert_eq(meta_state_drop_app(st, "t1"), 0);
    cr_assert_null(meta_state_find_app(st, "t1"));
    cr_assert_eq(meta_state_drop_app(st, "t1"), ERR_APP_NOT_FOUND);
    cr_assert_eq(meta_state_get_app(st, id1)->status, APP_DROPPED);
    /* The name is free again; the id is not. */
    cr_assert_eq(create("t1", 2, 1, 0, &id2), 0);
    cr_assert_eq(id2, 2);
    cr_assert_eq(meta_state_find_app(st, "t1")->partition_count, 2);
    meta_state_list_apps(st, &apps);
    cr_assert_eq(apps.napps, 1);
    cr_assert_eq(apps.apps[0].app_id, 2);
    cr_assert_str_eq(apps.apps[0].name, "t1");
    xfree(apps.apps);
}

Test(meta_state, ids_are_max_plus_one_and_survive_reload)
{
    uint32_t id;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 1, 1, 0, &id), 0);
    cr_assert_eq(create("b", 1, 1, 0, &id), 0);
    cr_assert_eq(id, 2);
    cr_assert_eq(meta_state_drop_app(st, "b"), 0);
    cr_assert_eq(create("c", 1, 1, 0, &id), 0);
    cr_assert_eq(id, 3);
    cr_assert_eq(meta_state_drop_app(st, "c"), 0);
    /* A new leader must not reuse 3 even though its app is dropped. */
    meta_state_destroy(st);
    st = new_state();
    cr_assert_eq(meta_state_next_app_id(st), 4);
    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("d", 1, 1, 0, &id), 0);
    cr_assert_eq(id, 4);
}

Test(meta_state, invalid_names_and_counts_rejected)
{
    char longest[128], too_long[129];

    for (int i = 0; i < GEOKV_MAX_REPLICAS; i++) {
        char addr[32];
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", 1001 + i);
        beacon(addr, 0, NULL, 0, NULL);
    }
    memset(longest, 'x', 127);
    longest[127] = '\0';
    memset(too_long, 'y', 128);
    too_long[128] = '\0';
    cr_assert_eq(create("", 1, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("a b", 1, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("a/b", 1, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("t\xc3\xa9", 1, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_not(meta_app_name_valid(too_long));
    cr_assert_eq(create("t", 0, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("t", 4097, 1, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("t", 1, 0, 0, NULL), ERR_INVALID_ARG);
    cr_assert_eq(create("t", 1, GEOKV_MAX_REPLICAS + 1, 0, NULL), ERR_INVALID_ARG);
    /* Nothing was created, so no id was used. */
    cr_assert_eq(meta_state_app_count(st), 0);
    cr_assert_eq(meta_state_next_app_id(st), 1);
    cr_assert_eq(create(longest, 1, 1, 0, NULL), 0);
    cr_assert_eq(create("Ok_name.v-2", 4096, GEOKV_MAX_REPLICAS, 0, NULL), 0);
}

Test(meta_state, create_needs_a_live_server)
{
    cr_assert_eq(create("t", 1, 1, 0, NULL), ERR_NO_NODES);
    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 1, GRACE_MS + 1, NULL), ERR_NO_NODES); /* it went dead */
    beacon("127.0.0.1:1001", GRACE_MS + 2, NULL, 0, NULL);             /* and came back */
    cr_assert_eq(create("t", 1, 1, GRACE_MS + 3, NULL), 0);
}

/* ---------------- placement ---------------- */

Test(meta_state, placement_spreads_primaries_evenly)
{
    const char *nodes[] = {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"};

    for (int i = 0; i < 3; i++)
        beacon(nodes[i], 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 6, 1, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(primaries_of(nodes[i], 0), 2, "%s", nodes[i]);
    /* Single partitions go round robin, not always to the first node. */
    cr_assert_eq(create("b", 1, 1, 0, NULL), 0);
    cr_assert_eq(create("c", 1, 1, 0, NULL), 0);
    cr_assert_eq(create("d", 1, 1, 0, NULL), 0);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(primaries_of(nodes[i], 0), 3, "%s", nodes[i]);
    /* A new empty server takes the next partitions until it catches up. */
    beacon("127.0.0.1:1004", 0, NULL, 0, NULL);
    cr_assert_eq(create("e", 3, 1, 0, NULL), 0);
    cr_assert_eq(primaries_of("127.0.0.1:1004", 0), 3);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(primaries_of(nodes[i], 0), 3, "%s", nodes[i]);
}

Test(meta_state, placement_ties_go_round_robin)
{
    const char *nodes[] = {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"};
    const struct meta_app *app;
    uint32_t id;

    for (int i = 0; i < 3; i++)
        beacon(nodes[i], 0, NULL, 0, NULL);
    /* Each table is dropped before the next, so every create sees a three-way tie. */
    for (int round = 0; round < 6; round++) {
        cr_assert_eq(create("t", 1, 1, 0, &id), 0);
        app = meta_state_get_app(st, id);
        cr_assert_str_eq(app->parts[0].config.primary, nodes[round % 3], "round %d", round);
        cr_assert_eq(meta_state_drop_app(st, "t"), 0);
    }
}

Test(meta_state, placement_skips_dead_servers)
{
    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    beacon("127.0.0.1:1002", 5000, NULL, 0, NULL);
    /* At 5000, 1001 is dead (grace 1000): everything goes to 1002. */
    cr_assert_eq(create("a", 4, 1, 5000, NULL), 0);
    cr_assert_eq(primaries_of("127.0.0.1:1002", 5000), 4);
    cr_assert_eq(primaries_of("127.0.0.1:1001", 5000), 0);
}

/* ---------------- beacons ---------------- */

Test(meta_state, beacon_assigns_partitions_and_lists_dropped)
{
    struct msg_beacon_resp resp;
    uint32_t id;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 2, 1, 0, &id), 0);
    beacon("127.0.0.1:1002", 0, NULL, 0, &resp); /* joined after the create: nothing */
    cr_assert_eq(resp.nassign, 0);
    meta_state_beacon_resp_fini(&resp);
    beacon("127.0.0.1:1001", 0, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 2);
    cr_assert_eq(resp.assign[0].gpid, gpid_make(id, 0));
    cr_assert_eq(resp.assign[1].gpid, gpid_make(id, 1));
    cr_assert_eq(resp.assign[0].ballot, 1);
    cr_assert_eq(resp.ndrop, 0);
    cr_assert_eq(resp.lease_ms, 800);
    meta_state_beacon_resp_fini(&resp);

    cr_assert_eq(meta_state_drop_app(st, "a"), 0);
    struct replica_report reps[] = {
        {gpid_make(id, 0), 1, 10, true, 10, ROLE_PRIMARY},
        {gpid_make(99, 0), 1, 10, true, 10, ROLE_PRIMARY}, /* unknown table: never ours to delete */
    };
    beacon("127.0.0.1:1001", 0, reps, 2, &resp);
    cr_assert_eq(resp.nassign, 0);
    cr_assert_eq(resp.ndrop, 1);
    cr_assert_eq(resp.drop[0], gpid_make(id, 0));
    meta_state_beacon_resp_fini(&resp);
}

Test(meta_state, beacon_with_empty_address_rejected)
{
    struct msg_beacon_req req;
    struct msg_beacon_resp resp;

    memset(&req, 0, sizeof(req));
    cr_assert_eq(meta_state_on_beacon(st, &req, 0, &resp), ERR_INVALID_ARG);
}

Test(meta_state, app_ready_once_its_primaries_report_ready)
{
    uint32_t id;
    const struct meta_app *app;
    struct replica_report p0 = {0, 1, 5, true, 5, ROLE_PRIMARY},
                          p1 = {0, 1, 7, true, 7, ROLE_PRIMARY},
                          p1_not = {0, 1, 0, false, 0, ROLE_INACTIVE};

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 2, 1, 0, &id), 0);
    struct replica_report both[2], both_not[2];

    app = meta_state_get_app(st, id);
    cr_assert_not(meta_state_app_ready(st, app));
    p0.gpid = gpid_make(id, 0);
    p1.gpid = p1_not.gpid = gpid_make(id, 1);
    both[0] = p0;
    both[1] = p1;
    both_not[0] = p0;
    both_not[1] = p1_not;
    beacon("127.0.0.1:1001", 0, both_not, 2, NULL);
    cr_assert_not(meta_state_app_ready(st, app));
    beacon("127.0.0.1:1002", 0, both, 2, NULL); /* not its primary: does not count */
    cr_assert_not(meta_state_app_ready(st, app));
    beacon("127.0.0.1:1001", 0, both, 2, NULL);
    cr_assert(meta_state_app_ready(st, app));
    cr_assert_eq(app->parts[1].config.last_committed, 7);
    /* A report replaces the previous one: a beacon without p1 makes the app unready again. */
    beacon("127.0.0.1:1001", 0, &p0, 1, NULL);
    cr_assert_not(meta_state_app_ready(st, app));
}

Test(meta_state, dead_server_comes_back_with_its_partitions)
{
    struct msg_list_nodes_resp m;
    struct msg_beacon_resp resp;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 3, 1, 0, NULL), 0);
    meta_state_check_nodes(st, 5000);
    meta_state_list_nodes(st, 5000, &m);
    cr_assert_eq(m.nnodes, 1);
    cr_assert_eq(m.nodes[0].state, NODE_DEAD);
    xfree(m.nodes);
    beacon("127.0.0.1:1001", 5001, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 3);
    meta_state_beacon_resp_fini(&resp);
    meta_state_list_nodes(st, 5001, &m);
    cr_assert_eq(m.nodes[0].state, NODE_ALIVE);
    cr_assert_eq(m.nodes[0].primary_count, 3);
    xfree(m.nodes);
}

/* ---------------- persistence ---------------- */

static void
assert_apps_equal(const struct meta_state *a, const struct meta_state *b)
{
    cr_assert_eq(meta_state_app_count(a), meta_state_app_count(b));
    for (size_t i = 0; i < meta_state_app_count(a); i++) {
        const struct meta_app *x = meta_state_app_at(a, i), *y = meta_state_app_at(b, i);
        cr_assert_eq(x->app_id, y->app_id);
        cr_assert_str_eq(x->name, y->name);
        cr_assert_eq(x->status, y->status);
        cr_assert_eq(x->partition_count, y->partition_count);
        cr_assert_eq(x->replica_count, y->replica_count);
        cr_assert_eq(x->create_ts, y->create_ts);
        cr_assert_str_eq(x->envs, y->envs);
        for (uint32_t p = 0; p < x->partition_count; p++) {
            const struct partition_config *u = &x->parts[p].config, *v = &y->parts[p].config;
            cr_assert_eq(u->pidx, v->pidx);
            cr_assert_eq(u->ballot, v->ballot, "app %u partition %u", x->app_id, p);
            cr_assert_str_eq(u->primary, v->primary);
            cr_assert_eq(u->nsecondaries, v->nsecondaries);
            for (uint32_t k = 0; k < u->nsecondaries; k++)
                cr_assert_str_eq(u->secondaries[k], v->secondaries[k]);
            cr_assert_eq(u->last_committed, v->last_committed);
        }
    }
}

Test(meta_state, reload_sees_what_the_old_leader_had)
{
    struct meta_state *reloaded;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    beacon("127.0.0.1:1002", 0, NULL, 0, NULL);
    beacon("127.0.0.1:1003", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 5, 3, 0, NULL), 0);
    cr_assert_eq(create("b", 2, 1, 0, NULL), 0);
    cr_assert_eq(meta_state_drop_app(st, "b"), 0);
    cr_assert_eq(create("b", 3, 2, 0, NULL), 0);
    reloaded = new_state();
    cr_assert_eq(meta_state_app_count(reloaded), 3);
    assert_apps_equal(st, reloaded);
    cr_assert_eq(meta_state_find_app(reloaded, "b")->app_id, 3);
    cr_assert_eq(meta_state_next_app_id(reloaded), 4);
    meta_state_destroy(reloaded);
}

Test(meta_state, store_layout_is_the_documented_one)
{
    struct buf b = BUF_INIT;
    uint32_t id;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("tbl", 2, 1, 0, &id), 0);
    cr_assert_eq(meta_store_get(store, CLUSTER "/apps/1", &b), 0);
    buf_append_u8(&b, 0);
    cr_assert(strstr((char *)b.data, "\"name\":\"tbl\"") != NULL, "%s", (char *)b.data);
    cr_assert(strstr((char *)b.data, "\"status\":\"available\"") != NULL, "%s", (char *)b.data);
    buf_reset(&b);
    cr_assert_eq(meta_store_get(store, CLUSTER "/apps/1/1", &b), 0);
    buf_append_u8(&b, 0);
    cr_assert(strstr((char *)b.data, "\"primary\":\"127.0.0.1:1001\"") != NULL, "%s",
              (char *)b.data);
    buf_fini(&b);
}

Test(meta_state, unconfirmed_create_is_dropped_on_load)
{
    const char *app = "{\"app_id\":7,\"name\":\"half\",\"partition_count\":2,\"replica_count\":1,"
                      "\"status\":\"creating\",\"envs\":{},\"create_ts\":1}";
    struct meta_state *reloaded;
    struct buf b = BUF_INIT;

    cr_assert_eq(meta_store_create(store, CLUSTER "/apps/7", app, strlen(app), 0, NULL, 0), 0);
    reloaded = new_state();
    cr_assert_null(meta_state_find_app(reloaded, "half"));
    cr_assert_eq(meta_state_get_app(reloaded, 7)->status, APP_DROPPED);
    cr_assert_eq(meta_state_next_app_id(reloaded), 8);
    cr_assert_eq(meta_store_get(store, CLUSTER "/apps/7", &b), 0);
    buf_append_u8(&b, 0);
    cr_assert(strstr((char *)b.data, "\"dropped\"") != NULL, "%s", (char *)b.data);
    buf_fini(&b);
    meta_state_destroy(reloaded);
}

Test(meta_state, corrupt_app_node_is_skipped_but_its_id_kept)
{
    struct meta_state *reloaded;

    cr_assert_eq(meta_store_create(store, CLUSTER "/apps/12", "{nope", 5, 0, NULL, 0), 0);
    cr_assert_eq(meta_store_create(store, CLUSTER "/apps/junk", "x", 1, 0, NULL, 0), 0);
    reloaded = new_state();
    cr_assert_eq(meta_state_app_count(reloaded), 0);
    cr_assert_eq(meta_state_next_app_id(reloaded), 13);
    meta_state_destroy(reloaded);
}

/* A store that fails every create after `budget` successful ones (wraps the mem store). */
struct flaky_store {
    struct meta_store base;
    struct meta_store *inner;
    int budget;     /* creates that still succeed */
    int set_budget; /* sets that still succeed */
};
static struct meta_store_ops flaky_ops;
static void flaky_init(struct flaky_store *f);

#define FLAKY_INNER(s) (((struct flaky_store *)(s))->inner)
static int
flaky_set(struct meta_store *s, const char *path, const void *data, size_t len)
{
    struct flaky_store *f = (struct flaky_store *)s;
    if (f->set_budget-- <= 0)
        return ERR_ZK;
    return meta_store_set(f->inner, path, data, len);
}
static int
flaky_get(struct meta_store *s, const char *path, struct buf *out)
{
    return meta_store_get(FLAKY_INNER(s), path, out);
}
static int
flaky_del(struct meta_store *s, const char *path)
{
    return meta_store_delete(FLAKY_INNER(s), path);
}
static int
flaky_children(struct meta_store *s, const char *path, bool watch, struct meta_store_names *out)
{
    return meta_store_children(FLAKY_INNER(s), path, watch, out);
}
static int
flaky_exists(struct meta_store *s, const char *path, bool watch, bool *existsp)
{
    return meta_store_exists(FLAKY_INNER(s), path, watch, existsp);
}

static int
flaky_create(struct meta_store *s, const char *path, const void *data, size_t len, unsigned flags,
             char *created, size_t created_len)
{
    struct flaky_store *f = (struct flaky_store *)s;
    if (f->budget-- <= 0)
        return ERR_ZK;
    return meta_store_create(f->inner, path, data, len, flags, created, created_len);
}

static void
flaky_init(struct flaky_store *f)
{
    flaky_ops = (struct meta_store_ops){.create = flaky_create,
                                        .set = flaky_set,
                                        .get = flaky_get,
                                        .del = flaky_del,
                                        .children = flaky_children,
                                        .exists = flaky_exists};
    f->base.ops = &flaky_ops;
}

Test(meta_state, failed_store_write_changes_nothing_in_memory_but_uses_the_id)
{
    struct flaky_store f = {.inner = store, .budget = 2, .set_budget = 100};
    struct meta_state *fs;
    struct msg_create_app_req req = {.name = "t", .partition_count = 4, .replica_count = 1};
    struct msg_beacon_req b = {.address = "127.0.0.1:1001"};
    struct msg_beacon_resp resp;
    const struct meta_app *app;

    flaky_init(&f);
    f.budget = 100; /* enough for load's mkdirs */
    fs = state_on(&f.base, 0);
    cr_assert_eq(meta_state_on_beacon(fs, &b, 0, &resp), 0);
    meta_state_beacon_resp_fini(&resp);
    f.budget = 2; /* app node + one partition, then failure */
    cr_assert_eq(meta_state_create_app(fs, &req, 0, &app), ERR_ZK);
    cr_assert_null(meta_state_find_app(fs, "t"));
    cr_assert_eq(meta_state_app_count(fs), 0);
    cr_assert_eq(meta_state_next_app_id(fs), 2);
    f.budget = 100;
    cr_assert_eq(meta_state_create_app(fs, &req, 0, &app), 0);
    cr_assert_eq(app->app_id, 2);
    meta_state_destroy(fs);
}

/* ---------------- JSON ---------------- */

Test(meta_state, json_round_trip)
{
    struct meta_app a = {.app_id = 42,
                         .partition_count = 16,
                         .replica_count = 3,
                         .status = APP_DROPPED,
                         .create_ts = 1700000000,
                         .envs = "{\"k\":\"v\"}"};
    struct meta_app a2;
    struct partition_config p = {.pidx = 5,
                                 .ballot = 9,
                                 .primary = "127.0.0.1:34801",
                                 .nsecondaries = 2,
                                 .last_committed = 123456789012LL};
    struct partition_config p2;
    struct buf b = BUF_INIT;

    snprintf(a.name, sizeof(a.name), "my.table-1");
    snprintf(p.secondaries[0], GEOKV_ADDR_MAX, "127.0.0.1:34802");
    snprintf(p.secondaries[1], GEOKV_ADDR_MAX, "127.0.0.1:34803");
    meta_app_json_encode(&a, &b);
    cr_assert_eq(meta_app_json_decode(b.data, b.len, &a2), 0);
    cr_assert_eq(a2.app_id, 42);
    cr_assert_str_eq(a2.name, "my.table-1");
    cr_assert_eq(a2.partition_count, 16);
    cr_assert_eq(a2.replica_count, 3);
    cr_assert_eq(a2.status, APP_DROPPED);
    cr_assert_eq(a2.create_ts, 1700000000);
    cr_assert_str_eq(a2.envs, "{\"k\":\"v\"}");
    meta_app_fini(&a2);
    buf_reset(&b);
    meta_partition_json_encode(&p, &b);
    cr_assert_eq(meta_partition_json_decode(b.data, b.len, &p2), 0);
    cr_assert_eq(p2.pidx, 5);
    cr_assert_eq(p2.ballot, 9);
    cr_assert_str_eq(p2.primary, "127.0.0.1:34801");
    cr_assert_eq(p2.nsecondaries, 2);
    cr_assert_str_eq(p2.secondaries[1], "127.0.0.1:34803");
    cr_assert_eq(p2.last_committed, 123456789012LL);
    buf_fini(&b);
}

Test(meta_state, json_rejects_bad_nodes)
{
    static const char *bad_apps[] = {
        "",
        "[]",
        "{\"app_id\":1}",
        "{\"app_id\":\"1\",\"name\":\"t\",\"partition_count\":1,\"replica_count\":1,"
        "\"status\":\"available\",\"envs\":{},\"create_ts\":0}",
        "{\"app_id\":1,\"name\":\"t\",\"partition_count\":0,\"replica_count\":1,"
        "\"status\":\"available\",\"envs\":{},\"create_ts\":0}",
        "{\"app_id\":1,\"name\":\"t\",\"partition_count\":1.5,\"replica_count\":1,"
        "\"status\":\"available\",\"envs\":{},\"create_ts\":0}",
        "{\"app_id\":1,\"name\":\"t\",\"partition_count\":1,\"replica_count\":1,"
        "\"status\":\"gone\",\"envs\":{},\"create_ts\":0}",
        "{\"app_id\":1,\"name\":\"a b\",\"partition_count\":1,\"replica_count\":1,"
        "\"status\":\"available\",\"envs\":{},\"create_ts\":0}",
        "{\"app_id\":1,\"name\":\"t\",\"partition_count\":1,\"replica_count\":1,"
        "\"status\":\"available\",\"envs\":[],\"create_ts\":0}",
    };
    static const char *bad_parts[] = {
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[1],"
        "\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":-1,\"primary\":\"x\",\"secondaries\":[],"
        "\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"secondaries\":[],\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"a\",\"b\",\"c\",\"d\","
        "\"e\",\"f\",\"g\",\"h\",\"i\"],\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"a\",\"a\"],"
        "\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"x\"],"
        "\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"\"],"
        "\"last_committed_decree\":0}",
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"\",\"secondaries\":[\"a\"],"
        "\"last_committed_decree\":0}",
    };
    const char *good_part =
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"a\",\"b\"],"
        "\"last_committed_decree\":0}";
    const char *good = "{\"app_id\":1,\"name\":\"t\",\"partition_count\":1,\"replica_count\":1,"
                       "\"status\":\"available\",\"envs\":{},\"create_ts\":0}";
    struct meta_app a;
    struct partition_config p;

    for (size_t i = 0; i < sizeof(bad_apps) / sizeof(bad_apps[0]); i++)
        cr_assert_eq(meta_app_json_decode((const uint8_t *)bad_apps[i], strlen(bad_apps[i]), &a),
                     ERR_INVALID_DATA, "accepted %s", bad_apps[i]);
    for (size_t i = 0; i < sizeof(bad_parts) / sizeof(bad_parts[0]); i++)
        cr_assert_eq(
            meta_partition_json_decode((const uint8_t *)bad_parts[i], strlen(bad_parts[i]), &p),
            ERR_INVALID_DATA, "accepted %s", bad_parts[i]);
    /* The same shape with valid values is accepted (so the rejections are about values). */
    cr_assert_eq(meta_app_json_decode((const uint8_t *)good, strlen(good), &a), 0);
    meta_app_fini(&a);
    cr_assert_eq(meta_partition_json_decode((const uint8_t *)good_part, strlen(good_part), &p), 0);
    cr_assert_eq(p.nsecondaries, 2);
}

/* ---------------- mem store and election ---------------- */

Test(meta_state, mem_store_follows_zookeeper_rules)
{
    char created[128];
    bool exists;

    cr_assert_eq(meta_store_create(store, "/x/y", "", 0, 0, NULL, 0), ERR_NOT_FOUND);
    cr_assert_eq(meta_store_mkdirs(store, "/x/y"), 0);
    cr_assert_eq(meta_store_mkdirs(store, "/x/y"), 0);
    cr_assert_eq(meta_store_create(store, "/x/y", "", 0, 0, NULL, 0), -EEXIST);
    cr_assert_eq(meta_store_delete(store, "/x"), -ENOTEMPTY);
    cr_assert_eq(
        meta_store_create(store, "/x/y/n_", "", 0, META_STORE_SEQUENTIAL, created, sizeof(created)),
        0);
    cr_assert_str_eq(created, "/x/y/n_0000000000");
    cr_assert_eq(
        meta_store_create(store, "/x/y/n_", "", 0, META_STORE_SEQUENTIAL, created, sizeof(created)),
        0);
    cr_assert_str_eq(created, "/x/y/n_0000000001");
    cr_assert_eq(meta_store_delete(store, "/x/y/n_0000000000"), 0);
    cr_assert_eq(meta_store_exists(store, "/x/y/n_0000000000", false, &exists), 0);
    cr_assert_not(exists);
}

static int events;
static void
count_event(void *arg, enum meta_store_event ev, const char *path)
{
    if (ev == META_STORE_EV_WATCH)
        events++;
}

Test(meta_state, election_lowest_node_leads_and_successor_takes_over)
{
    struct meta_store *s1 = meta_store_mem_open(tree, count_event, NULL);
    struct meta_store *s2 = meta_store_mem_open(tree, count_event, NULL);
    struct meta_leader *l1 = meta_leader_create(s1, CLUSTER, "127.0.0.1:2001");
    struct meta_leader *l2 = meta_leader_create(s2, CLUSTER, "127.0.0.1:2002");
    bool became;

    cr_assert_eq(meta_leader_join(l1), 0);
    cr_assert_eq(meta_leader_join(l2), 0);
    cr_assert(meta_leader_is_leader(l1));
    cr_assert_not(meta_leader_is_leader(l2));
    cr_assert_str_eq(meta_leader_address(l2), "127.0.0.1:2001");
    events = 0;
    meta_store_mem_expire(s1); /* l1's session ends: its node goes, l2's watch fires */
    cr_assert_gt(events, 0);
    cr_assert_eq(meta_leader_check(l2, &became), 0);
    cr_assert(became);
    cr_assert(meta_leader_is_leader(l2));
    cr_assert_str_eq(meta_leader_address(l2), "127.0.0.1:2002");
    cr_assert_eq(meta_leader_check(l2, &became), 0);
    cr_assert_not(became); /* reported once */
    /* The old leader's handle sees its session is gone. */
    cr_assert_neq(meta_leader_check(l1, &became), 0);
    meta_leader_destroy(l1);
    meta_leader_destroy(l2);
    meta_store_destroy(s1);
    meta_store_destroy(s2);
}

Test(meta_state, election_removes_a_dead_run_of_the_same_address)
{
    struct meta_store *old = meta_store_mem_open(tree, NULL, NULL);
    struct meta_store *s2 = meta_store_mem_open(tree, NULL, NULL);
    struct meta_store *s3 = meta_store_mem_open(tree, NULL, NULL);
    struct meta_leader *lo = meta_leader_create(old, CLUSTER, "127.0.0.1:2001");
    struct meta_leader *l2 = meta_leader_create(s2, CLUSTER, "127.0.0.1:2002");
    struct meta_leader *l3 = meta_leader_create(s3, CLUSTER, "127.0.0.1:2001");
    struct meta_store_names names;

    cr_assert_eq(meta_leader_join(lo), 0);
    cr_assert_eq(meta_leader_join(l2), 0);
    /* 2001 restarts while its old session still lingers: the ghost node is removed. */
    cr_assert_eq(meta_leader_join(l3), 0);
    cr_assert_eq(meta_store_children(s3, CLUSTER "/leader", false, &names), 0);
    cr_assert_eq(names.n, 2);
    meta_store_names_fini(&names);
    cr_assert_not(meta_leader_is_leader(l3));
    cr_assert_str_eq(meta_leader_address(l3), "127.0.0.1:2002");
    meta_leader_destroy(lo);
    meta_leader_destroy(l2);
    meta_leader_destroy(l3);
    meta_store_destroy(old);
    meta_store_destroy(s2);
    meta_store_destroy(s3);
}

/* ================ replication: placement, failover, learners, proposals, balancer ======= */

#define A "127.0.0.1:1001"
#define B "127.0.0.1:1002"
#define C "127.0.0.1:1003"
#define D "127.0.0.1:1004"
#define E "127.0.0.1:1005"

/* A beacon's partition list under construction. */
struct reps {
    struct replica_report r[32];
    uint32_t n;
};

static void
rep_add(struct reps *rs, uint64_t gpid, ballot_t ballot, decree_t committed, decree_t prepared,
        bool ready)
{
    cr_assert_lt(rs->n, 32);
    rs->r[rs->n++] =
        (struct replica_report){gpid, ballot, committed, ready, prepared, ROLE_INACTIVE};
}

/* Beacons addr reporting every partition of app_id it belongs to at its current ballot, in its
 * role, ready, with the given decrees. */
static void
beacon_members(const char *addr, int64_t now, uint32_t app_id, decree_t committed,
               decree_t prepared)
{
    const struct meta_app *app = meta_state_get_app(st, app_id);
    struct reps rs = {.n = 0};

    for (uint32_t p = 0; p < app->partition_count; p++) {
        const struct partition_config *pc = &app->parts[p].config;
        bool member = strcmp(pc->primary, addr) == 0;
        for (uint32_t k = 0; k < pc->nsecondaries; k++)
            member = member || strcmp(pc->secondaries[k], addr) == 0;
        if (!member)
            continue;
        rep_add(&rs, gpid_make(app_id, p), pc->ballot, committed, prepared, true);
        rs.r[rs.n - 1].role = strcmp(pc->primary, addr) == 0 ? ROLE_PRIMARY : ROLE_SECONDARY;
    }
    beacon(addr, now, rs.r, rs.n, NULL);
}

static const struct partition_config *
config_of(uint32_t app_id, uint32_t pidx)
{
    return &meta_state_get_app(st, app_id)->parts[pidx].config;
}

static bool
config_has(const struct partition_config *pc, const char *addr)
{
    if (strcmp(pc->primary, addr) == 0)
        return true;
    for (uint32_t k = 0; k < pc->nsecondaries; k++)
        if (strcmp(pc->secondaries[k], addr) == 0)
            return true;
    return false;
}

/* The partition's config as the store holds it. */
static void
stored_config(uint32_t app_id, uint32_t pidx, struct partition_config *out)
{
    char path[128];
    struct buf b = BUF_INIT;

    snprintf(path, sizeof(path), CLUSTER "/apps/%u/%u", app_id, pidx);
    cr_assert_eq(meta_store_get(store, path, &b), 0);
    cr_assert_eq(meta_partition_json_decode(b.data, b.len, out), 0);
    buf_fini(&b);
}

static void
assert_config_eq(const struct partition_config *x, const struct partition_config *y)
{
    cr_assert_eq(x->ballot, y->ballot);
    cr_assert_str_eq(x->primary, y->primary);
    cr_assert_eq(x->nsecondaries, y->nsecondaries);
    for (uint32_t k = 0; k < x->nsecondaries; k++)
        cr_assert_str_eq(x->secondaries[k], y->secondaries[k]);
}

/* Writes an available app with the given partition configs straight into the store (what an
 * earlier leader left). */
static void
seed_app(uint32_t app_id, uint32_t replica_count, const struct partition_config *pcs, uint32_t n)
{
    struct meta_app app = {.app_id = app_id,
                           .partition_count = n,
                           .replica_count = replica_count,
                           .status = APP_AVAILABLE,
                           .create_ts = 1,
                           .envs = "{}"};
    char path[128];
    struct buf b = BUF_INIT;

    snprintf(app.name, sizeof(app.name), "seed%u", app_id);
    snprintf(path, sizeof(path), CLUSTER "/apps/%u", app_id);
    meta_app_json_encode(&app, &b);
    cr_assert_eq(meta_store_create(store, path, b.data, b.len, 0, NULL, 0), 0);
    for (uint32_t p = 0; p < n; p++) {
        buf_reset(&b);
        meta_partition_json_encode(&pcs[p], &b);
        snprintf(path, sizeof(path), CLUSTER "/apps/%u/%u", app_id, p);
        cr_assert_eq(meta_store_create(store, path, b.data, b.len, 0, NULL, 0), 0);
    }
    buf_fini(&b);
}

static struct partition_config
pc_make(uint32_t pidx, ballot_t ballot, const char *primary, const char *s1, const char *s2)
{
    struct partition_config pc = {.pidx = pidx, .ballot = ballot};

    snprintf(pc.primary, sizeof(pc.primary), "%s", primary);
    if (s1 != NULL)
        snprintf(pc.secondaries[pc.nsecondaries++], GEOKV_ADDR_MAX, "%s", s1);
    if (s2 != NULL)
        snprintf(pc.secondaries[pc.nsecondaries++], GEOKV_ADDR_MAX, "%s", s2);
    return pc;
}

static uint32_t
secondaries_of(const char *addr, int64_t now)
{
    struct msg_list_nodes_resp m;
    uint32_t count = UINT32_MAX;

    meta_state_list_nodes(st, now, &m);
    for (uint32_t i = 0; i < m.nnodes; i++)
        if (strcmp(m.nodes[i].address, addr) == 0)
            count = m.nodes[i].secondary_count;
    xfree(m.nodes);
    return count;
}

Test(meta_state, placement_puts_replicas_on_distinct_servers_evenly)
{
    const char *nodes[] = {A, B, C, D};
    uint32_t id;

    for (int i = 0; i < 4; i++)
        beacon(nodes[i], 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 8, 3, 0, &id), 0);
    for (uint32_t p = 0; p < 8; p++) {
        const struct partition_config *pc = config_of(id, p);
        cr_assert_eq(pc->ballot, 1);
        cr_assert_eq(pc->nsecondaries, 2, "partition %u", p);
        cr_assert_str_neq(pc->primary, pc->secondaries[0]);
        cr_assert_str_neq(pc->primary, pc->secondaries[1]);
        cr_assert_str_neq(pc->secondaries[0], pc->secondaries[1]);
    }
    /* 8 primaries and 24 replicas over 4 servers: 2 primaries and 6 replicas each. */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(primaries_of(nodes[i], 0), 2, "%s", nodes[i]);
        cr_assert_eq(primaries_of(nodes[i], 0) + secondaries_of(nodes[i], 0), 6, "%s", nodes[i]);
    }
}

Test(meta_state, create_needs_replica_count_live_servers)
{
    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, -GRACE_MS - 1, NULL, 0, NULL); /* long silent: dead at 0 */
    cr_assert_eq(create("t", 2, 3, 0, NULL), ERR_NO_NODES);
    cr_assert_eq(meta_state_app_count(st), 0);
    cr_assert_eq(create("t", 2, 2, 0, NULL), 0);
    beacon(C, 1, NULL, 0, NULL);
    cr_assert_eq(create("u", 2, 3, 1, NULL), 0);
}

Test(meta_state, create_is_ready_only_when_every_member_is)
{
    const struct meta_app *app;
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 2, 3, 0, &id), 0);
    app = meta_state_get_app(st, id);
    beacon_members(A, 1, id, 0, 0);
    beacon_members(B, 1, id, 0, 0);
    cr_assert_not(meta_state_app_ready(st, app)); /* C has not reported */
    {
        struct reps rs = {.n = 0}; /* C reports both, one at an old ballot */
        rep_add(&rs, gpid_make(id, 0), 1, 0, 0, true);
        rep_add(&rs, gpid_make(id, 1), 0, 0, 0, true);
        beacon(C, 1, rs.r, rs.n, NULL);
    }
    cr_assert_not(meta_state_app_ready(st, app));
    beacon_members(C, 2, id, 0, 0);
    cr_assert(meta_state_app_ready(st, app));
}

Test(meta_state, follower_table_starts_with_primaries_heals_at_once_and_is_created_once)
{
    struct msg_create_app_req req;
    const struct meta_app *app, *again;
    struct msg_beacon_resp resp;
    const struct partition_config *pc;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    memset(&req, 0, sizeof(req));
    snprintf(req.name, sizeof(req.name), "f");
    req.partition_count = 2;
    req.replica_count = 3;
    snprintf(req.master.cluster, sizeof(req.master.cluster), "bjsrv-account");
    snprintf(req.master.app, sizeof(req.master.app), "f");
    snprintf(req.master.metas, sizeof(req.master.metas), "127.0.0.1:34601");
    cr_assert_eq(meta_state_create_app(st, &req, 0, &app), 0);
    cr_assert(strstr(app->envs, "\"duplication.master_cluster\":\"bjsrv-account\"") != NULL, "%s",
              app->envs);
    pc = config_of(app->app_id, 0);
    cr_assert_eq(pc->nsecondaries, 0, "a follower starts with its primary only");
    cr_assert_not(meta_state_app_healthy(st, app));
    /* the primary's assignment names the master */
    beacon(pc->primary, 1, NULL, 0, &resp);
    cr_assert_geq(resp.nassign, 1);
    cr_assert_str_eq(resp.assign[0].master.cluster, "bjsrv-account");
    cr_assert_str_eq(resp.assign[0].master.metas, "127.0.0.1:34601");
    meta_state_beacon_resp_fini(&resp);
    /* learners at once, not after add_secondary_delay_ms */
    meta_state_heal(st, 1);
    cr_assert_str_neq(app->parts[0].learner, "");
    /* the same follower again: the same table; another master: it exists */
    cr_assert_eq(meta_state_create_app(st, &req, 2, &again), 0);
    cr_assert_eq(again, app);
    snprintf(req.master.app, sizeof(req.master.app), "other");
    cr_assert_eq(meta_state_create_app(st, &req, 2, &again), ERR_APP_EXISTS);
    cr_assert_eq(meta_state_app_count(st), 1);
}

Test(meta_state, beacon_reply_has_roles_and_full_configs)
{
    struct msg_beacon_resp resp;
    const struct partition_config *pc;
    const char *sec;
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 3, 0, &id), 0);
    pc = config_of(id, 0);
    sec = pc->secondaries[1];
    beacon(sec, 1, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 1);
    cr_assert_eq(resp.assign[0].role, ROLE_SECONDARY);
    cr_assert_eq(resp.assign[0].ballot, 1);
    cr_assert_str_eq(resp.assign[0].config.primary, pc->primary);
    cr_assert_eq(resp.assign[0].config.nsecondaries, 2);
    cr_assert_str_eq(resp.assign[0].config.secondaries[0], pc->secondaries[0]);
    cr_assert_str_eq(resp.assign[0].config.secondaries[1], sec);
    meta_state_beacon_resp_fini(&resp);
    beacon(pc->primary, 1, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 1);
    cr_assert_eq(resp.assign[0].role, ROLE_PRIMARY);
    meta_state_beacon_resp_fini(&resp);
}

Test(meta_state, dead_primary_promotes_the_most_advanced_secondary)
{
    const struct partition_config *pc;
    struct partition_config before, stored;
    char s0[GEOKV_ADDR_MAX], s1[GEOKV_ADDR_MAX];
    struct reps r0 = {.n = 0}, r1 = {.n = 0};
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 3, 0, &id), 0);
    pc = config_of(id, 0);
    before = *pc;
    snprintf(s0, sizeof(s0), "%s", pc->secondaries[0]);
    snprintf(s1, sizeof(s1), "%s", pc->secondaries[1]);
    /* s1 prepared more (12 vs 10) though it committed less: it has every acknowledged write. */
    rep_add(&r0, gpid_make(id, 0), 1, 9, 10, true);
    rep_add(&r1, gpid_make(id, 0), 1, 7, 12, true);
    beacon(s0, 900, r0.r, 1, NULL);
    beacon(s1, 900, r1.r, 1, NULL);
    meta_state_check_nodes(st, GRACE_MS); /* the primary's grace is not over yet */
    assert_config_eq(pc, &before);
    meta_state_check_nodes(st, GRACE_MS + 1);
    cr_assert_str_eq(pc->primary, s1);
    cr_assert_eq(pc->nsecondaries, 1);
    cr_assert_str_eq(pc->secondaries[0], s0);
    cr_assert_eq(pc->ballot, 2);
    stored_config(id, 0, &stored);
    assert_config_eq(&stored, pc);
    /* Again, on a tie in last_prepared: the larger last_committed wins. */
    beacon(D, 900, NULL, 0, NULL);
    beacon(E, 900, NULL, 0, NULL);
    cr_assert_eq(create("u", 1, 3, 900, &id), 0); /* on the three live servers */
    pc = config_of(id, 0);
    snprintf(s0, sizeof(s0), "%s", pc->secondaries[0]);
    snprintf(s1, sizeof(s1), "%s", pc->secondaries[1]);
    r0.n = r1.n = 0;
    rep_add(&r0, gpid_make(id, 0), 1, 11, 12, true);
    rep_add(&r1, gpid_make(id, 0), 1, 10, 12, true);
    beacon(s0, 2000, r0.r, 1, NULL);
    beacon(s1, 2000, r1.r, 1, NULL);
    meta_state_check_nodes(st, 2000);
    cr_assert_str_eq(pc->primary, s0);
    cr_assert_str_eq(pc->secondaries[0], s1);
}

/* A primary that beacons but does not serve its partition (it reports it inactive: its disk
 * cannot take its ballot file; or not at all: the partition does not open) for a grace period
 * is replaced like a dead one. */
Test(meta_state, live_primary_that_does_not_serve_is_replaced)
{
    const struct partition_config *pc;
    char prim[GEOKV_ADDR_MAX], s0[GEOKV_ADDR_MAX];
    struct reps rp = {.n = 0}, r0 = {.n = 0}, r1 = {.n = 0};
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 3, 0, &id), 0);
    pc = config_of(id, 0);
    snprintf(prim, sizeof(prim), "%s", pc->primary);
    snprintf(s0, sizeof(s0), "%s", pc->secondaries[0]);
    rep_add(&rp, gpid_make(id, 0), 1, 10, 10, true); /* held, but ROLE_INACTIVE */
    rep_add(&r0, gpid_make(id, 0), 1, 10, 12, true);
    rep_add(&r1, gpid_make(id, 0), 1, 10, 10, true);
    for (int64_t t = 100; t <= 100 + GRACE_MS; t += 100) {
        beacon(prim, t, rp.r, 1, NULL);
        beacon(s0, t, r0.r, 1, NULL);
        beacon(pc->secondaries[1], t, r1.r, 1, NULL);
        meta_state_check_nodes(st, t);
        cr_assert_str_eq(pc->primary, prim, "replaced within the grace period (t %lld)",
                         (long long)t);
    }
    beacon(prim, 100 + GRACE_MS + 50, rp.r, 1, NULL);
    meta_state_check_nodes(st, 100 + GRACE_MS + 50);
    cr_assert_str_eq(pc->primary, s0);
    cr_assert_eq(pc->ballot, 2);
    cr_assert_eq(pc->nsecondaries, 2);
    cr_assert_str_eq(pc->secondaries[1], prim); /* alive: it stays, as a secondary */
    /* a primary that reports itself primary is never replaced */
    rp.r[0].role = ROLE_PRIMARY;
    rp.r[0].ballot = 2;
    for (int64_t t = 2000; t <= 2000 + 3 * GRACE_MS; t += 100) {
        beacon(s0, t, rp.r, 1, NULL);
        beacon(B, t, NULL, 0, NULL);
        beacon(C, t, NULL, 0, NULL);
        beacon(A, t, NULL, 0, NULL);
        meta_state_check_nodes(st, t);
    }
    cr_assert_str_eq(pc->primary, s0);
}

Test(meta_state, dead_secondary_is_removed_and_dropped_from_assignments)
{
    const struct partition_config *pc;
    struct msg_beacon_resp resp;
    char prim[GEOKV_ADDR_MAX], dead[GEOKV_ADDR_MAX], other[GEOKV_ADDR_MAX];
    struct reps rs = {.n = 0};
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 3, 0, &id), 0);
    pc = config_of(id, 0);
    snprintf(prim, sizeof(prim), "%s", pc->primary);
    snprintf(dead, sizeof(dead), "%s", pc->secondaries[0]);
    snprintf(other, sizeof(other), "%s", pc->secondaries[1]);
    beacon(prim, 900, NULL, 0, NULL);
    beacon(other, 900, NULL, 0, NULL);
    meta_state_check_nodes(st, 1500);
    cr_assert_str_eq(pc->primary, prim);
    cr_assert_eq(pc->nsecondaries, 1);
    cr_assert_str_eq(pc->secondaries[0], other);
    cr_assert_eq(pc->ballot, 2);
    /* Nothing more to do: a second check changes nothing. */
    meta_state_check_nodes(st, 1600);
    cr_assert_eq(pc->ballot, 2);
    /* The removed server comes back reporting the partition: not assigned, not dropped. */
    rep_add(&rs, gpid_make(id, 0), 1, 5, 5, true);
    beacon(dead, 1700, rs.r, rs.n, &resp);
    cr_assert_eq(resp.nassign, 0);
    cr_assert_eq(resp.ndrop, 0);
    meta_state_beacon_resp_fini(&resp);
}

Test(meta_state, no_live_member_keeps_the_config_until_the_primary_returns)
{
    const struct partition_config *pc;
    struct partition_config before;
    struct msg_beacon_resp resp;
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 2, 0, &id), 0);
    pc = config_of(id, 0);
    before = *pc;
    meta_state_check_nodes(st, 5000); /* both dead */
    assert_config_eq(pc, &before);
    stored_config(id, 0, &before);
    assert_config_eq(pc, &before);
    /* The secondary alone comes back but reports nothing of the partition: not promoted. */
    beacon(pc->secondaries[0], 5100, NULL, 0, NULL);
    meta_state_check_nodes(st, 5200);
    assert_config_eq(pc, &before);
    /* The old primary comes back: it is still the primary and keeps serving. */
    beacon(pc->primary, 5300, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 1);
    cr_assert_eq(resp.assign[0].role, ROLE_PRIMARY);
    cr_assert_eq(resp.assign[0].ballot, 1);
    meta_state_beacon_resp_fini(&resp);
    meta_state_check_nodes(st, 5400);
    assert_config_eq(pc, &before);
}

Test(meta_state, only_primary_left_removes_the_dead_then_waits_when_it_dies_too)
{
    const struct partition_config *pc;
    char prim[GEOKV_ADDR_MAX];
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 1, 2, 0, &id), 0);
    pc = config_of(id, 0);
    snprintf(prim, sizeof(prim), "%s", pc->primary);
    beacon(prim, 900, NULL, 0, NULL);
    meta_state_check_nodes(st, 1500);
    cr_assert_eq(pc->nsecondaries, 0);
    cr_assert_eq(pc->ballot, 2);
    meta_state_check_nodes(st, 9000); /* the primary died too */
    cr_assert_str_eq(pc->primary, prim);
    cr_assert_eq(pc->ballot, 2);
}

Test(meta_state, new_leader_gives_every_server_one_grace_period)
{
    struct partition_config pcs[2] = {pc_make(0, 4, A, B, C), pc_make(1, 7, B, C, A)};
    struct msg_list_nodes_resp m;

    seed_app(1, 3, pcs, 2);
    meta_state_destroy(st);
    st = state_on(store, 10000); /* a new leader, knowing no server yet */
    meta_state_list_nodes(st, 10000, &m);
    cr_assert_eq(m.nnodes, 3); /* every configured server is listed */
    xfree(m.nodes);
    /* B and C beacon; A never does. Within A's grace nothing changes. */
    beacon_members(B, 10500, 1, 3, 3);
    beacon_members(C, 10500, 1, 3, 4);
    meta_state_check_nodes(st, 10000 + GRACE_MS);
    cr_assert_eq(config_of(1, 0)->ballot, 4);
    cr_assert_eq(config_of(1, 1)->ballot, 7);
    cr_assert(meta_state_node_alive(st, A, 10000 + GRACE_MS));
    meta_state_check_nodes(st, 10000 + GRACE_MS + 1);
    cr_assert_not(meta_state_node_alive(st, A, 10000 + GRACE_MS + 1));
    cr_assert_str_eq(config_of(1, 0)->primary, C); /* prepared 4 > 3 */
    cr_assert_eq(config_of(1, 0)->ballot, 5);
    cr_assert_str_eq(config_of(1, 1)->primary, B);
    cr_assert_eq(config_of(1, 1)->nsecondaries, 1);
    cr_assert_eq(config_of(1, 1)->ballot, 8);
}

Test(meta_state, grace_restart_spares_silent_servers_but_not_declared_dead_ones)
{
    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    meta_state_check_nodes(st, 800);
    beacon(A, 900, NULL, 0, NULL);
    meta_state_check_nodes(st, 1500); /* B is declared dead; A is not */
    cr_assert_not(meta_state_node_alive(st, B, 1500));
    meta_state_grace_restart(st, 2500); /* say the leader was cut from ZooKeeper 900..2500 */
    cr_assert(meta_state_node_alive(st, A, 2500 + GRACE_MS));
    cr_assert_not(meta_state_node_alive(st, A, 2500 + GRACE_MS + 1));
    cr_assert_not(meta_state_node_alive(st, B, 2500));
}

/* Builds: 5 servers, table "t" (1 partition, 3 replicas) on A, B, C (seeded), one secondary
 * (C) dead and removed at 1500. D and E are live spares. Returns the app id. */
static uint32_t
short_partition_setup(void)
{
    struct partition_config pc = pc_make(0, 1, A, B, C);

    seed_app(1, 3, &pc, 1);
    meta_state_destroy(st);
    st = new_state();
    for (int64_t t = 0; t <= 1500; t += 500) {
        beacon_members(A, t, 1, 10, 10);
        beacon_members(B, t, 1, 10, 10);
        beacon(D, t, NULL, 0, NULL);
        beacon(E, t, NULL, 0, NULL);
    }
    meta_state_check_nodes(st, 1500);
    cr_assert_eq(config_of(1, 0)->nsecondaries, 1);
    cr_assert_eq(config_of(1, 0)->ballot, 2);
    meta_state_heal(st, 1500); /* as the cron does right after: short since 1500 */
    cr_assert(meta_state_get_app(st, 1)->parts[0].short_seen);
    return 1;
}

/* Keeps A, B, D, E alive at now (members report their partitions). */
static void
keep_alive(int64_t now, bool with_d, bool with_e)
{
    beacon_members(A, now, 1, 10, 10);
    beacon_members(B, now, 1, 10, 10);
    if (with_d)
        beacon(D, now, NULL, 0, NULL);
    if (with_e)
        beacon(E, now, NULL, 0, NULL);
}

Test(meta_state, learner_comes_after_the_delay_and_is_replaced_when_it_dies)
{
    const struct meta_app *app;
    const struct meta_partition *part;
    struct msg_beacon_resp resp;

    short_partition_setup();
    app = meta_state_get_app(st, 1);
    part = &app->parts[0];
    cr_assert_str_empty(part->learner);
    keep_alive(1500 + DELAY_MS - 1, true, true);
    meta_state_heal(st, 1500 + DELAY_MS - 1);
    cr_assert_str_empty(part->learner);
    keep_alive(1500 + DELAY_MS, true, true);
    meta_state_heal(st, 1500 + DELAY_MS);
    cr_assert_str_eq(part->learner, D); /* D and E hold nothing: the first with fewest */
    beacon(D, 1500 + DELAY_MS, NULL, 0, &resp);
    cr_assert_eq(resp.nassign, 1);
    cr_assert_eq(resp.assign[0].role, ROLE_LEARNER);
    cr_assert_eq(resp.assign[0].ballot, 2);
    cr_assert_str_eq(resp.assign[0].config.primary, A);
    meta_state_beacon_resp_fini(&resp);
    /* D dies (last beacon at 6500): E is picked at once (the delay already passed). */
    keep_alive(7000, false, true);
    meta_state_heal(st, 7000);
    cr_assert_str_eq(part->learner, D); /* within D's grace */
    keep_alive(7501, false, true);
    meta_state_check_nodes(st, 7501);
    meta_state_heal(st, 7501);
    cr_assert_str_eq(part->learner, E);
    cr_assert_eq(part->config.ballot, 2); /* a learner is memory only */
}

Test(meta_state, learner_prefers_a_server_holding_the_partition_and_times_out)
{
    const struct meta_partition *part;
    struct reps rs = {.n = 0};
    int64_t t = 1500 + DELAY_MS;

    short_partition_setup();
    part = &meta_state_get_app(st, 1)->parts[0];
    rep_add(&rs, gpid_make(1, 0), 1, 8, 8, false); /* E still has old files of it */
    keep_alive(t, true, false);
    beacon(E, t, rs.r, rs.n, NULL);
    meta_state_heal(st, t);
    cr_assert_str_eq(part->learner, E);
    /* Not upgraded by the deadline: dropped and picked again. */
    keep_alive(t + LEARNER_MS - 1, true, false);
    beacon(E, t + LEARNER_MS - 1, rs.r, rs.n, NULL);
    meta_state_heal(st, t + LEARNER_MS - 1);
    cr_assert_str_eq(part->learner, E);
    cr_assert_eq(part->learner_deadline_ms, t + LEARNER_MS);
    keep_alive(t + LEARNER_MS, true, false);
    meta_state_heal(st, t + LEARNER_MS);
    cr_assert_eq(part->learner_deadline_ms, t + 2 * LEARNER_MS); /* a fresh pick */
}

Test(meta_state, learner_upgrade_and_stale_proposals)
{
    const struct meta_partition *part;
    struct partition_config stored;
    struct replica_assign out;
    struct msg_config_proposal m = {
        .gpid = gpid_make(1, 0), .ballot = 2, .type = CONFIG_UPGRADE_LEARNER};
    int64_t t = 1500 + DELAY_MS;

    short_partition_setup();
    part = &meta_state_get_app(st, 1)->parts[0];
    keep_alive(t, true, true);
    meta_state_heal(st, t);
    cr_assert_str_eq(part->learner, D);
    /* Refused: not the learner, stale ballot, future ballot, unknown type or partition. */
    snprintf(m.node, sizeof(m.node), "%s", E);
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_INVALID_STATE);
    snprintf(m.node, sizeof(m.node), "%s", D);
    m.ballot = 1;
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_STALE_BALLOT);
    m.ballot = 3;
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_INVALID_STATE);
    m.ballot = 2;
    m.type = 77;
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_INVALID_ARG);
    m.type = CONFIG_UPGRADE_LEARNER;
    m.gpid = gpid_make(1, 1);
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_APP_NOT_FOUND);
    m.gpid = gpid_make(1, 0);
    cr_assert_eq(part->config.ballot, 2);
    cr_assert_eq(part->config.nsecondaries, 1);
    /* Accepted. */
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), 0);
    cr_assert_eq(part->config.ballot, 3);
    cr_assert_eq(part->config.nsecondaries, 2);
    cr_assert_str_eq(part->config.secondaries[1], D);
    cr_assert_str_empty(part->learner);
    cr_assert_eq(out.gpid, gpid_make(1, 0));
    cr_assert_eq(out.ballot, 3);
    cr_assert_eq(out.role, ROLE_PRIMARY);
    cr_assert_eq(out.config.nsecondaries, 2);
    cr_assert_str_eq(out.config.secondaries[1], D);
    stored_config(1, 0, &stored);
    assert_config_eq(&stored, &part->config);
    /* The same proposal again is stale now. */
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_STALE_BALLOT);
    /* Full again: no new learner. */
    meta_state_heal(st, t + 1);
    cr_assert_str_empty(part->learner);
    /* Remove a secondary: must be one, ballot must match. */
    m.type = CONFIG_REMOVE_SECONDARY;
    m.ballot = 3;
    snprintf(m.node, sizeof(m.node), "%s", A); /* the primary is not a secondary */
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_INVALID_STATE);
    snprintf(m.node, sizeof(m.node), "%s", B);
    m.ballot = 2;
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), ERR_STALE_BALLOT);
    m.ballot = 3;
    cr_assert_eq(meta_state_config_proposal(st, &m, t, &out), 0);
    cr_assert_eq(part->config.ballot, 4);
    cr_assert_eq(part->config.nsecondaries, 1);
    cr_assert_str_eq(part->config.secondaries[0], D);
    stored_config(1, 0, &stored);
    assert_config_eq(&stored, &part->config);
}

Test(meta_state, failed_proposal_write_changes_nothing)
{
    struct flaky_store f = {.inner = store, .budget = 100, .set_budget = 100};
    struct partition_config pc = pc_make(0, 5, A, B, NULL), stored;
    struct msg_config_proposal m = {
        .gpid = gpid_make(1, 0), .ballot = 5, .type = CONFIG_REMOVE_SECONDARY, .node = B};
    struct replica_assign out;

    seed_app(1, 2, &pc, 1);
    flaky_init(&f);
    meta_state_destroy(st);
    st = state_on(&f.base, 0);
    f.set_budget = 0;
    cr_assert_eq(meta_state_config_proposal(st, &m, 0, &out), ERR_ZK);
    assert_config_eq(config_of(1, 0), &pc);
    stored_config(1, 0, &stored);
    assert_config_eq(&stored, &pc);
    f.set_budget = 1;
    cr_assert_eq(meta_state_config_proposal(st, &m, 0, &out), 0);
    cr_assert_eq(config_of(1, 0)->ballot, 6);
    meta_state_destroy(st);
    st = new_state();
}

/* Seeds 4 partitions (2 replicas) all led by A, with secondaries on B and C. */
static void
balancer_setup(void)
{
    struct partition_config pcs[4] = {pc_make(0, 1, A, B, NULL), pc_make(1, 1, A, C, NULL),
                                      pc_make(2, 1, A, B, NULL), pc_make(3, 1, A, C, NULL)};

    seed_app(1, 2, pcs, 4);
    meta_state_destroy(st);
    st = new_state();
}

Test(meta_state, balancer_swaps_one_primary_per_interval)
{
    struct partition_config stored;
    int moves = 0;

    balancer_setup();
    beacon_members(A, 100, 1, 50, 50);
    beacon_members(B, 100, 1, 50, 50);
    beacon_members(C, 100, 1, 50, 50);
    cr_assert_not(meta_state_balance(st, 200)); /* first grace period: nothing moves */
    for (int64_t t = 0; t < 4; t++) {
        int64_t now = BALANCE_MS * (t + 1);
        beacon_members(A, now, 1, 50, 50);
        beacon_members(B, now, 1, 50, 50);
        beacon_members(C, now, 1, 50, 50);
        if (meta_state_balance(st, now))
            moves++;
        cr_assert_not(meta_state_balance(st, now + BALANCE_MS - 1)); /* one per interval */
    }
    /* 4 primaries over 3 servers: A keeps 2 (= ceil(4/3)), B and C lead one each. */
    cr_assert_eq(moves, 2);
    cr_assert_eq(primaries_of(A, 4 * BALANCE_MS), 2);
    cr_assert_eq(primaries_of(B, 4 * BALANCE_MS), 1);
    cr_assert_eq(primaries_of(C, 4 * BALANCE_MS), 1);
    for (uint32_t p = 0; p < 4; p++) {
        const struct partition_config *pc = config_of(1, p);
        cr_assert_eq(pc->nsecondaries, 1);
        cr_assert(config_has(pc, A), "partition %u lost A", p);
        cr_assert_eq(pc->ballot, strcmp(pc->primary, A) == 0 ? 1 : 2);
        stored_config(1, p, &stored);
        assert_config_eq(&stored, pc);
    }
}

Test(meta_state, balancer_skips_lagging_or_unready_secondaries)
{
    struct reps rb = {.n = 0};
    int64_t now = BALANCE_MS;

    balancer_setup();
    /* B lags on its partitions (0, 2); C is not ready at the current ballot. */
    beacon_members(A, now, 1, 50, 50);
    rep_add(&rb, gpid_make(1, 0), 1, 49, 50, true);
    rep_add(&rb, gpid_make(1, 2), 1, 49, 50, true);
    beacon(B, now, rb.r, rb.n, NULL);
    beacon_members(C, now, 1, 50, 50);
    {
        struct reps rc = {.n = 0};
        rep_add(&rc, gpid_make(1, 1), 1, 50, 50, false);
        rep_add(&rc, gpid_make(1, 3), 0, 50, 50, true);
        beacon(C, now, rc.r, rc.n, NULL);
    }
    cr_assert_not(meta_state_balance(st, now));
    cr_assert_eq(primaries_of(A, now), 4);
    /* C catches up: now a move happens, to C. */
    now += BALANCE_MS;
    beacon_members(A, now, 1, 50, 50);
    beacon(B, now, rb.r, rb.n, NULL);
    beacon_members(C, now, 1, 50, 50);
    cr_assert(meta_state_balance(st, now));
    cr_assert_eq(primaries_of(C, now), 1);
    cr_assert_eq(primaries_of(B, now), 0);
}

Test(meta_state, reload_after_reconfigurations_equals_the_state)
{
    struct meta_state *reloaded;
    uint32_t id;

    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    beacon(D, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 6, 3, 0, &id), 0);
    /* D dies: its partitions are reconfigured. */
    for (int64_t t = 500; t <= 1500; t += 500) {
        beacon_members(A, t, id, 0, 0);
        beacon_members(B, t, id, 0, 0);
        beacon_members(C, t, id, 0, 0);
    }
    meta_state_check_nodes(st, 1500);
    cr_assert_eq(secondaries_of(D, 1500) + primaries_of(D, 1500), 0);
    reloaded = state_on(store, 1600);
    assert_apps_equal(st, reloaded);
    meta_state_destroy(reloaded);
}

Test(meta_state, leader_dies_in_the_middle_of_a_failover)
{
    struct flaky_store f = {.inner = store, .budget = 100, .set_budget = 100};
    struct meta_state *old;
    struct partition_config before[6], stored;
    uint32_t id, changed = 0;

    flaky_init(&f);
    meta_state_destroy(st);
    st = old = state_on(&f.base, 0);
    beacon(A, 0, NULL, 0, NULL);
    beacon(B, 0, NULL, 0, NULL);
    beacon(C, 0, NULL, 0, NULL);
    cr_assert_eq(create("t", 6, 3, 0, &id), 0);
    for (uint32_t p = 0; p < 6; p++)
        before[p] = *config_of(id, p);
    beacon_members(B, 900, id, 4, 5);
    beacon_members(C, 900, id, 4, 4);
    /* A is dead; every partition has it. The store takes 2 writes, then fails. */
    f.set_budget = 2;
    meta_state_check_nodes(st, 1500);
    for (uint32_t p = 0; p < 6; p++) {
        const struct partition_config *pc = config_of(id, p);
        stored_config(id, p, &stored);
        assert_config_eq(&stored, pc); /* memory never ahead of (or behind) the store */
        if (pc->ballot == 2) {
            cr_assert_not(config_has(pc, A));
            changed++;
        } else {
            assert_config_eq(pc, &before[p]); /* unchanged */
        }
    }
    cr_assert_eq(changed, 2);
    /* The leader dies; a new one loads what the store has and finishes the job. */
    st = state_on(store, 1600);
    meta_state_destroy(old);
    for (uint32_t p = 0; p < 6; p++) {
        stored_config(id, p, &stored);
        assert_config_eq(config_of(id, p), &stored);
    }
    beacon_members(B, 2000, id, 4, 5);
    beacon_members(C, 2000, id, 4, 4);
    meta_state_check_nodes(st, 2500); /* A is still within the new leader's grace */
    cr_assert_eq(primaries_of(A, 2500) + secondaries_of(A, 2500), 4);
    beacon_members(B, 2600, id, 4, 5);
    beacon_members(C, 2600, id, 4, 4);
    meta_state_check_nodes(st, 1600 + GRACE_MS + 1);
    for (uint32_t p = 0; p < 6; p++) {
        const struct partition_config *pc = config_of(id, p);
        cr_assert_not(config_has(pc, A), "partition %u", p);
        cr_assert_eq(pc->nsecondaries, 1);
        cr_assert_eq(pc->ballot, 2);
        if (strcmp(before[p].primary, A) == 0)
            cr_assert_str_eq(pc->primary, B); /* B prepared more */
        else
            cr_assert_str_eq(pc->primary, before[p].primary);
        stored_config(id, p, &stored);
        assert_config_eq(&stored, pc);
    }
}

Test(meta_state, balancer_never_moves_to_a_server_just_one_below)
{
    /* A leads 4, B leads 3 (each the other's secondary), C leads nothing and holds nothing.
     * ceil(7/3) = 3 < 4, but moving a primary to B (3) would only swap the roles of A and B
     * (and then back): no move. */
    struct partition_config pcs[7];
    int64_t now = BALANCE_MS;

    for (uint32_t p = 0; p < 7; p++)
        pcs[p] = p < 4 ? pc_make(p, 1, A, B, NULL) : pc_make(p, 1, B, A, NULL);
    seed_app(1, 2, pcs, 7);
    meta_state_destroy(st);
    st = new_state();
    for (int round = 0; round < 3; round++, now += BALANCE_MS) {
        beacon_members(A, now, 1, 9, 9);
        beacon_members(B, now, 1, 9, 9);
        beacon(C, now, NULL, 0, NULL);
        cr_assert_not(meta_state_balance(st, now), "round %d", round);
    }
    cr_assert_eq(primaries_of(A, now), 4);
    cr_assert_eq(primaries_of(B, now), 3);
}

Test(meta_state, balancer_waits_for_the_first_grace_period_of_a_new_leader)
{
    struct meta_state_options fast = test_opt;

    fast.balancer_interval_ms = 100;
    balancer_setup();
    meta_state_destroy(st);
    st = meta_state_create(store, CLUSTER, &fast);
    cr_assert_eq(meta_state_load(st, 0), 0);
    beacon_members(A, 500, 1, 50, 50);
    beacon_members(B, 500, 1, 50, 50);
    beacon_members(C, 500, 1, 50, 50);
    cr_assert_not(meta_state_balance(st, 500)); /* B and C might not be all the servers yet */
    cr_assert_not(meta_state_balance(st, GRACE_MS));
    cr_assert(meta_state_balance(st, GRACE_MS + 1));
    cr_assert_eq(primaries_of(A, GRACE_MS + 1), 3);
}
