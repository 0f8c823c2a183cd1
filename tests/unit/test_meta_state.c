/*
 * test_meta_state.c: meta state logic (create/drop, ids, placement, beacons, reload), the JSON
 * codec of the ZooKeeper nodes, the in-memory store and leader election, all on the
 * in-memory store (meta_store_mem.c). The ZooKeeper backend is covered by
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

static struct meta_mem_tree *tree;
static struct meta_store *store;
static struct meta_state *st;

static struct meta_state *
new_state(void)
{
    struct meta_state_options opt = {GRACE_MS, 800};
    struct meta_state *s = meta_state_create(store, CLUSTER, &opt);
    cr_assert_eq(meta_state_load(s), 0);
    return s;
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
    cr_assert_eq(create("t1", 4, 3, 0, &id1), 0);
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

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
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
        cr_assert_str_eq(app->parts[0].primary, nodes[round % 3], "round %d", round);
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
    struct replica_report p0 = {0, 1, 5, true, 5, ROLE_PRIMARY}, p1 = {0, 1, 7, true, 7, ROLE_PRIMARY},
                          p1_not = {0, 1, 0, false, 0, ROLE_INACTIVE};

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    cr_assert_eq(create("a", 2, 1, 0, &id), 0);
    app = meta_state_get_app(st, id);
    cr_assert_not(meta_state_app_ready(app));
    p0.gpid = gpid_make(id, 0);
    p1.gpid = p1_not.gpid = gpid_make(id, 1);
    beacon("127.0.0.1:1001", 0, &p0, 1, NULL);
    beacon("127.0.0.1:1001", 0, &p1_not, 1, NULL);
    cr_assert_not(meta_state_app_ready(app));
    beacon("127.0.0.1:1002", 0, &p1, 1, NULL); /* not its primary: does not count */
    cr_assert_not(meta_state_app_ready(app));
    beacon("127.0.0.1:1001", 0, &p1, 1, NULL);
    cr_assert(meta_state_app_ready(app));
    cr_assert_eq(app->parts[1].last_committed, 7);
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
            cr_assert_eq(x->parts[p].ballot, y->parts[p].ballot);
            cr_assert_str_eq(x->parts[p].primary, y->parts[p].primary);
            cr_assert_eq(x->parts[p].nsecondaries, y->parts[p].nsecondaries);
        }
    }
}

Test(meta_state, reload_sees_what_the_old_leader_had)
{
    struct meta_state *reloaded;

    beacon("127.0.0.1:1001", 0, NULL, 0, NULL);
    beacon("127.0.0.1:1002", 0, NULL, 0, NULL);
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
    int budget;
};
static struct meta_store_ops flaky_ops;

#define FLAKY_INNER(s) (((struct flaky_store *)(s))->inner)
static int
flaky_set(struct meta_store *s, const char *path, const void *data, size_t len)
{
    return meta_store_set(FLAKY_INNER(s), path, data, len);
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
flaky_create(struct meta_store *s, const char *path, const void *data, size_t len,
             unsigned flags, char *created, size_t created_len)
{
    struct flaky_store *f = (struct flaky_store *)s;
    if (f->budget-- <= 0)
        return ERR_ZK;
    return meta_store_create(f->inner, path, data, len, flags, created, created_len);
}

Test(meta_state, failed_store_write_changes_nothing_in_memory_but_uses_the_id)
{
    struct flaky_store f = {.inner = store, .budget = 2};
    struct meta_state_options opt = {GRACE_MS, 800};
    struct meta_state *fs;
    struct msg_create_app_req req = {.name = "t", .partition_count = 4, .replica_count = 1};
    struct msg_beacon_req b = {.address = "127.0.0.1:1001"};
    struct msg_beacon_resp resp;
    const struct meta_app *app;

    flaky_ops = (struct meta_store_ops){.create = flaky_create, .set = flaky_set,
                                        .get = flaky_get, .del = flaky_del,
                                        .children = flaky_children, .exists = flaky_exists};
    f.base.ops = &flaky_ops;
    f.budget = 100; /* enough for load's mkdirs */
    fs = meta_state_create(&f.base, CLUSTER, &opt);
    cr_assert_eq(meta_state_load(fs), 0);
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
    struct meta_app a = {.app_id = 42, .partition_count = 16, .replica_count = 3,
                         .status = APP_DROPPED, .create_ts = 1700000000,
                         .envs = "{\"k\":\"v\"}"};
    struct meta_app a2;
    struct meta_partition p = {.pidx = 5, .ballot = 9, .primary = "127.0.0.1:34801",
                               .nsecondaries = 2, .last_committed = 123456789012LL};
    struct meta_partition p2;
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
        "{\"pidx\":0,\"ballot\":1,\"primary\":\"x\",\"secondaries\":[\"a\",\"a\",\"a\",\"a\","
        "\"a\",\"a\",\"a\",\"a\",\"a\"],\"last_committed_decree\":0}",
    };
    const char *good = "{\"app_id\":1,\"name\":\"t\",\"partition_count\":1,\"replica_count\":1,"
                       "\"status\":\"available\",\"envs\":{},\"create_ts\":0}";
    struct meta_app a;
    struct meta_partition p;

    for (size_t i = 0; i < sizeof(bad_apps) / sizeof(bad_apps[0]); i++)
        cr_assert_eq(meta_app_json_decode((const uint8_t *)bad_apps[i], strlen(bad_apps[i]), &a),
                     ERR_INVALID_DATA, "accepted %s", bad_apps[i]);
    for (size_t i = 0; i < sizeof(bad_parts) / sizeof(bad_parts[0]); i++)
        cr_assert_eq(meta_partition_json_decode((const uint8_t *)bad_parts[i],
                                                strlen(bad_parts[i]), &p),
                     ERR_INVALID_DATA, "accepted %s", bad_parts[i]);
    /* The same shape with valid values is accepted (so the rejections are about values). */
    cr_assert_eq(meta_app_json_decode((const uint8_t *)good, strlen(good), &a), 0);
    meta_app_fini(&a);
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
    cr_assert_eq(meta_store_create(store, "/x/y/n_", "", 0, META_STORE_SEQUENTIAL, created,
                                   sizeof(created)),
                 0);
    cr_assert_str_eq(created, "/x/y/n_0000000000");
    cr_assert_eq(meta_store_create(store, "/x/y/n_", "", 0, META_STORE_SEQUENTIAL, created,
                                   sizeof(created)),
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
