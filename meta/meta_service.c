/*
 * meta_service.c: the meta server's loop, RPC dispatch, election driving and create waits.
 *
 * Threads:
 *  - meta loop ("meta"): owns everything below (leader, state, pending creates, the store
 *    handle). Every store call, every state change and every reply happens here.
 *  - RPC receive thread (proto/rpc.c): on_rpc() only posts the request to the loop.
 *  - dup loop ("meta-dup"): calls to remote clusters' metas (blocking client calls of up to
 *    META_DUP_REMOTE_TIMEOUT_MS, kept off the meta loop): RPC_DUP_ADD's question whether the
 *    table exists there, and the DS_APP steps of full duplications (create the follower
 *    table, see whether it is healthy). It touches no state: answers are posted back to the
 *    meta loop, which re-checks and applies them.
 *  - ZooKeeper's completion thread: meta_service_on_store_event() only posts to the loop.
 *  - main: create/start/destroy.
 * svc->mu guards only `closing`, so nothing is posted to the loop once shutdown began. Lock
 * order: svc->mu, then the loop's inbox mutex (inside loop_post); nothing else is held.
 *
 * Flow: start -> join election (retried by the cron until it works) -> on becoming leader,
 * load the state from the store -> serve. The cron (every META_CRON_MS) also runs the
 * state's failure detection, healing and balancer (meta_state_cron) while connected to
 * ZooKeeper, and gives every replica server a fresh grace period after the leader could not
 * hear beacons (ZooKeeper reconnect, a stalled loop), so silence it caused is not a death. Followers answer every meta RPC with
 * ERR_FORWARD_TO_LEADER + the leader's address; a leader whose load has not succeeded yet, or
 * that is disconnected from ZooKeeper (so cannot know it still leads), answers the same with
 * an empty address (as during an election).
 *
 * Fatal conditions (the process exits with status 3; the operator or onebox restarts it):
 * the ZooKeeper session expired, our election node vanished, or a leader stayed disconnected
 * from ZooKeeper for a whole session timeout. In each case ZooKeeper may already have let
 * another meta take over, and a meta that cannot know whether it still leads must not serve.
 */
#include "meta/meta_service.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/geokv_wire.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"
#include "meta/meta_leader.h"
#include "meta/meta_state.h"
#include "proto/msg.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "proto/server_config.h"

#define META_CRON_MS 100     /* failure detection, healing, balancer, create waits */
#define META_RECHECK_MS 2000 /* safety re-check of the election besides watches */
#define META_EXIT_SESSION_LOST 3

struct pending_create {
    struct rpc_request *req;
    uint32_t app_id;
    int64_t deadline_ms;
};

struct meta_service {
    struct meta_options opt;
    struct loop *loop;
    struct loop *dup_loop; /* remote checks of RPC_DUP_ADD */
    struct rpc_server *rpc;
    struct meta_store *store;
    struct meta_leader *leader; /* NULL until joined */
    struct meta_state *state;   /* non-NULL once leader and loaded */
    struct pending_create *pending;
    size_t npending;
    int64_t disconnected_since_ms; /* 0 = connected */
    int64_t last_recheck_ms;
    int64_t last_cron_ms; /* to notice a stalled loop */
    pthread_mutex_t mu;
    bool closing; /* guarded by mu */
};

struct rpc_task {
    struct meta_service *svc;
    struct rpc_request *req;
};

/* Posts fn(arg) to the meta loop unless shutdown began; false if it did not (the caller
 * still owns arg). Any thread. */
static bool
post_unless_closing(struct meta_service *svc, loop_fn *fn, void *arg)
{
    bool posted;

    pthread_mutex_lock(&svc->mu);
    posted = !svc->closing;
    if (posted)
        loop_post(svc->loop, fn, arg);
    pthread_mutex_unlock(&svc->mu);
    return posted;
}

static void
exit_session_lost(const char *why)
{
    LOG_ERROR("%s: this meta can no longer know whether it leads; exiting (status %d)", why,
              META_EXIT_SESSION_LOST);
    _exit(META_EXIT_SESSION_LOST);
}

/* ======================= replies ======================= */

static void
reply_buf(struct rpc_request *req, int err, struct buf *b)
{
    rpc_reply(req, err, b->data, b->len);
    buf_fini(b);
}

static void
reply_redirect(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_redirect m;
    struct buf b = BUF_INIT;

    memset(&m, 0, sizeof(m));
    if (svc->leader != NULL && !meta_leader_is_leader(svc->leader))
        snprintf(m.leader, sizeof(m.leader), "%s", meta_leader_address(svc->leader));
    msg_redirect_encode(&b, &m);
    reply_buf(req, ERR_FORWARD_TO_LEADER, &b);
}

static void
reply_app_config(struct meta_service *svc, struct rpc_request *req, const struct meta_app *app)
{
    struct msg_app_config m;
    struct buf b = BUF_INIT;

    meta_state_app_config(svc->state, app, &m);
    msg_app_config_encode(&b, &m);
    xfree(m.partitions);
    reply_buf(req, 0, &b);
}

/* Replies err with the operator's message why (if any) as a msg_error_text body. */
static void
reply_why(struct rpc_request *req, int err, const char *why)
{
    struct msg_error_text m;
    struct buf b = BUF_INIT;

    if (why == NULL || why[0] == '\0') {
        rpc_reply(req, err, NULL, 0);
        return;
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.text, sizeof(m.text), "%s", why);
    msg_error_text_encode(&b, &m);
    reply_buf(req, err, &b);
}

/* ======================= pending creates ======================= */

/* Answers the creates whose partitions are all ready, or whose time ran out. */
static void
pending_check(struct meta_service *svc, int64_t now_ms)
{
    for (size_t i = 0; i < svc->npending;) {
        struct pending_create *pc = &svc->pending[i];
        const struct meta_app *app = svc->state ? meta_state_get_app(svc->state, pc->app_id) : NULL;

        if (app == NULL || app->status != APP_AVAILABLE) {
            rpc_reply(pc->req, ERR_APP_NOT_FOUND, NULL, 0); /* dropped meanwhile */
        } else if (meta_state_app_ready(svc->state, app)) {
            reply_app_config(svc, pc->req, app);
        } else if (now_ms >= pc->deadline_ms) {
            LOG_WARN("create table %s (app_id %u): partitions not all ready in time", app->name,
                     app->app_id);
            rpc_reply(pc->req, ERR_TIMEOUT, NULL, 0);
        } else {
            i++;
            continue;
        }
        svc->pending[i] = svc->pending[--svc->npending];
    }
}

static void
pending_add(struct meta_service *svc, struct rpc_request *req, uint32_t app_id)
{
    svc->pending = xrealloc(svc->pending, (svc->npending + 1) * sizeof(*svc->pending));
    svc->pending[svc->npending++] =
        (struct pending_create){req, app_id, clock_mono_ms() + svc->opt.create_timeout_ms};
}

static void
pending_fail_all(struct meta_service *svc, int err)
{
    for (size_t i = 0; i < svc->npending; i++)
        rpc_reply(svc->pending[i].req, err, NULL, 0);
    svc->npending = 0;
}

/* ======================= handlers (leader only) ======================= */

static void
handle_beacon(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_beacon_req m;
    struct msg_beacon_resp resp;
    struct buf b = BUF_INIT;
    int64_t now = clock_mono_ms();
    int rc;

    rc = msg_beacon_req_decode(req->env.body, req->env.body_len, &m);
    if (rc != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_state_on_beacon(svc->state, &m, now, &resp);
    msg_beacon_req_fini(&m);
    if (rc != 0) {
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    msg_beacon_resp_encode(&b, &resp);
    meta_state_beacon_resp_fini(&resp);
    reply_buf(req, 0, &b);
    pending_check(svc, now);
}

static void
handle_config_proposal(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_config_proposal m;
    struct replica_assign out;
    struct buf b = BUF_INIT;
    int rc;

    if (msg_config_proposal_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_state_config_proposal(svc->state, &m, clock_mono_ms(), &out);
    if (rc != 0) {
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    msg_replica_assign_encode(&b, &out);
    reply_buf(req, 0, &b);
}

static void
handle_query_config(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_app_name m;
    const struct meta_app *app;

    if (msg_app_name_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    app = meta_state_find_app(svc->state, m.name);
    if (app == NULL) {
        rpc_reply(req, ERR_APP_NOT_FOUND, NULL, 0);
        return;
    }
    reply_app_config(svc, req, app);
}

static void
handle_create_app(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_create_app_req m;
    const struct meta_app *app;
    int rc;

    rc = msg_create_app_req_decode(req->env.body, req->env.body_len, &m);
    if (rc != 0) {
        /* A name longer than the message allows is the caller's bad argument. */
        rpc_reply(req, rc == ERR_TOO_LARGE ? ERR_INVALID_ARG : ERR_INVALID_DATA, NULL, 0);
        return;
    }
    if (m.master.cluster[0] != '\0') {
        char why[META_DUP_WHY_MAX] = "";
        rc = meta_dup_follower_check(&svc->opt.dup, &m, why, sizeof(why));
        if (rc != 0) {
            LOG_WARN("create follower table %s refused: %s", m.name, why);
            reply_why(req, rc, why);
            return;
        }
    }
    rc = meta_state_create_app(svc->state, &m, clock_mono_ms(), &app);
    if (rc != 0) {
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    /* The reply waits until every partition's primary reports it ready (pending_check); a
     * follower's primaries first copy their master's data, which its creator polls for */
    if (m.master.cluster[0] != '\0')
        reply_app_config(svc, req, app);
    else
        pending_add(svc, req, app->app_id);
}

static void
handle_drop_app(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_app_name m;
    int rc;

    if (msg_app_name_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_state_drop_app(svc->state, m.name);
    rpc_reply(req, rc, NULL, 0);
    pending_check(svc, clock_mono_ms());
}

static void
handle_app_writes(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_app_writes_req m;

    if (msg_app_writes_req_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rpc_reply(req, meta_state_set_writes(svc->state, m.app, m.deny), NULL, 0);
}

static void
handle_list_apps(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_list_apps_resp m;
    struct buf b = BUF_INIT;

    meta_state_list_apps(svc->state, &m);
    msg_list_apps_resp_encode(&b, &m);
    xfree(m.apps);
    reply_buf(req, 0, &b);
}

static void
handle_list_nodes(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_list_nodes_resp m;
    struct buf b = BUF_INIT;

    meta_state_list_nodes(svc->state, clock_mono_ms(), &m);
    snprintf(m.leader, sizeof(m.leader), "%s", svc->opt.address);
    msg_list_nodes_resp_encode(&b, &m);
    xfree(m.nodes);
    reply_buf(req, 0, &b);
}

/* ======================= duplication ======================= */

/* An RPC_DUP_ADD between its local checks and its remote answer. */
struct dup_add_task {
    struct meta_service *svc;
    struct rpc_request *req;
    struct msg_dup_add_req m;
    char metas[META_DUP_METAS_MAX];
    struct meta_dup_remote remote;
};

static void
dup_add_reply(struct rpc_request *req, int rc, const struct msg_dup_add_resp *resp, const char *why)
{
    struct buf b = BUF_INIT;

    if (rc != 0) {
        reply_why(req, rc, why);
        return;
    }
    msg_dup_add_resp_encode(&b, resp);
    reply_buf(req, 0, &b);
}

/* Runs on: meta loop. The remote cluster answered: check again and add. */
static void
dup_add_done_task(void *arg)
{
    struct dup_add_task *t = arg;
    struct meta_service *svc = t->svc;
    struct msg_dup_add_resp resp;
    char why[META_DUP_WHY_MAX] = "";
    int rc;

    if (svc->state == NULL || svc->disconnected_since_ms != 0) {
        reply_redirect(svc, t->req);
    } else {
        rc = meta_dup_add_finish(svc->state, &svc->opt.dup, &t->m, &t->remote,
                                 clock_wall_us() / 1000, &resp, why, sizeof(why));
        if (rc != 0)
            LOG_WARN("dup add %s -> %s refused: %s", t->m.app, t->m.remote, why);
        dup_add_reply(t->req, rc, &resp, why);
    }
    xfree(t);
}

/* Runs on: dup loop. Asks the remote cluster's meta whether the table exists there. */
static void
dup_remote_task(void *arg)
{
    struct dup_add_task *t = arg;
    struct meta_service *svc = t->svc;
    struct geokv_client *c;
    struct msg_app_config cfg;
    int err;

    err = geokv_client_create(t->metas, NULL, &c);
    if (err == 0) {
        geokv_client_seal(c); /* the remote cluster */
        err = geokv_query_config(c, t->m.app, META_DUP_REMOTE_TIMEOUT_MS, &cfg);
        if (err == 0) {
            t->remote.partition_count = cfg.partition_count;
            t->remote.replica_count = cfg.replica_count;
            msg_app_config_fini(&cfg);
        }
        geokv_client_destroy(c);
    }
    t->remote.err = err;
    if (!post_unless_closing(svc, dup_add_done_task, t)) {
        rpc_reply(t->req, ERR_SHUTDOWN, NULL, 0);
        xfree(t);
    }
}

static void
handle_dup_add(struct meta_service *svc, struct rpc_request *req)
{
    struct dup_add_task *t = xcalloc(1, sizeof(*t));
    struct msg_dup_add_resp resp;
    char why[META_DUP_WHY_MAX] = "";
    int rc;

    rc = msg_dup_add_req_decode(req->env.body, req->env.body_len, &t->m);
    if (rc != 0) {
        xfree(t);
        reply_why(req, rc == ERR_TOO_LARGE ? ERR_INVALID_ARG : ERR_INVALID_DATA,
                  "bad dup add request (names too long?)");
        return;
    }
    rc = meta_dup_add_check(svc->state, &svc->opt.dup, &t->m, &resp, t->metas, sizeof(t->metas),
                            why, sizeof(why));
    if (rc != 0 || resp.existed) {
        if (rc != 0)
            LOG_WARN("dup add %s -> %s refused: %s", t->m.app, t->m.remote, why);
        dup_add_reply(req, rc, &resp, why);
        xfree(t);
        return;
    }
    t->svc = svc;
    t->req = req;
    loop_post(svc->dup_loop, dup_remote_task, t);
}

/* A DS_APP step of a full duplication on its way to the remote cluster and back. */
struct follow_task {
    struct meta_service *svc;
    struct meta_dup_follow f;
    int err;
    struct msg_app_config cfg;
};

/* Runs on: meta loop. */
static void
follow_done_task(void *arg)
{
    struct follow_task *t = arg;

    if (t->svc->state != NULL)
        meta_dup_follow_done(t->svc->state, &t->f, t->err, t->err == 0 ? &t->cfg : NULL,
                             clock_mono_ms());
    msg_app_config_fini(&t->cfg);
    xfree(t);
}

/* Runs on: dup loop. Creates the follower table (again: harmless) and reads its state. */
static void
follow_remote_task(void *arg)
{
    struct follow_task *t = arg;
    struct meta_service *svc = t->svc;
    struct geokv_client *c;

    t->err = geokv_client_create(t->f.remote_metas, NULL, &c);
    if (t->err == 0) {
        geokv_client_seal(c); /* the remote cluster */
        t->err = geokv_create_follower_app(c, &t->f.create, META_DUP_REMOTE_TIMEOUT_MS, &t->cfg);
        geokv_client_destroy(c);
    }
    if (!post_unless_closing(svc, follow_done_task, t)) {
        msg_app_config_fini(&t->cfg);
        xfree(t);
    }
}

/* Starts the DS_APP steps that are due. Runs on: meta loop. */
static void
follow_cron(struct meta_service *svc, int64_t now_ms)
{
    struct meta_dup_follow f;

    while (meta_dup_follow_next(svc->state, &svc->opt.dup, now_ms, &f)) {
        struct follow_task *t = xcalloc(1, sizeof(*t));
        t->svc = svc;
        t->f = f;
        loop_post(svc->dup_loop, follow_remote_task, t);
    }
}

static void
handle_dup_list(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_app_name m;
    struct msg_dup_list_resp resp;
    struct buf b = BUF_INIT;
    char why[META_DUP_WHY_MAX] = "";
    int rc;

    if (msg_app_name_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_dup_list(svc->state, m.name, &resp, why, sizeof(why));
    if (rc != 0) {
        reply_why(req, rc, why);
        return;
    }
    msg_dup_list_resp_encode(&b, &resp);
    msg_dup_list_resp_fini(&resp);
    reply_buf(req, 0, &b);
}

static void
handle_dup_modify(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_dup_modify_req m;
    char why[META_DUP_WHY_MAX] = "";
    int rc;

    if (msg_dup_modify_req_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_dup_modify(svc->state, &m, why, sizeof(why));
    reply_why(req, rc, why);
}

static void
handle_dup_sync(struct meta_service *svc, struct rpc_request *req)
{
    struct msg_dup_sync_req m;
    struct msg_dup_sync_resp resp;
    struct buf b = BUF_INIT;
    int rc;

    if (msg_dup_sync_req_decode(req->env.body, req->env.body_len, &m) != 0) {
        rpc_reply(req, ERR_INVALID_DATA, NULL, 0);
        return;
    }
    rc = meta_dup_on_sync(svc->state, &m, clock_mono_ms(), &resp);
    msg_dup_sync_req_fini(&m);
    if (rc != 0) {
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    msg_dup_sync_resp_encode(&b, &resp);
    msg_dup_sync_resp_fini(&resp);
    reply_buf(req, 0, &b);
}

typedef void handler_fn(struct meta_service *svc, struct rpc_request *req);

static handler_fn *
handler_of(uint32_t code)
{
    switch (code) {
    case RPC_BEACON: return handle_beacon;
    case RPC_CONFIG_PROPOSAL: return handle_config_proposal;
    case RPC_QUERY_CONFIG: return handle_query_config;
    case RPC_CREATE_APP: return handle_create_app;
    case RPC_DROP_APP: return handle_drop_app;
    case RPC_APP_WRITES: return handle_app_writes;
    case RPC_LIST_APPS: return handle_list_apps;
    case RPC_LIST_NODES: return handle_list_nodes;
    case RPC_DUP_ADD: return handle_dup_add;
    case RPC_DUP_LIST: return handle_dup_list;
    case RPC_DUP_MODIFY: return handle_dup_modify;
    case RPC_DUP_SYNC: return handle_dup_sync;
    default: return NULL;
    }
}

/* Runs on: meta loop. Dispatches one request. */
static void
request_task(void *arg)
{
    struct rpc_task *t = arg;
    struct meta_service *svc = t->svc;
    struct rpc_request *req = t->req;
    handler_fn *h = handler_of(req->env.code);

    xfree(t);
    if (h == NULL) {
        LOG_DEBUG("unknown rpc code %u", req->env.code);
        rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
    } else if (svc->state == NULL || svc->disconnected_since_ms != 0) {
        /* Not leader, not loaded yet, or cut from ZooKeeper (so unsure it still leads). */
        reply_redirect(svc, req);
    } else {
        h(svc, req);
    }
}

/* Runs on: the RPC receive thread. */
static void
on_rpc(void *arg, struct rpc_request *req)
{
    struct meta_service *svc = arg;
    struct rpc_task *t;

    if (req->env.code == RPC_SERVER_CONFIG) { /* any meta, leader or not; only atomics */
        server_config_serve(req);
        return;
    }
    t = xmalloc(sizeof(*t));
    *t = (struct rpc_task){svc, req};
    if (!post_unless_closing(svc, request_task, t)) {
        xfree(t);
        rpc_reply(req, ERR_SHUTDOWN, NULL, 0);
    }
}

/* ======================= election ======================= */

/* Loads the state once this meta leads; retried by the cron until it works. */
static void
leader_load(struct meta_service *svc)
{
    struct meta_state_options so = {
        .node_grace_ms = svc->opt.node_grace_ms,
        .lease_ms = svc->opt.lease_ms,
        .add_secondary_delay_ms = svc->opt.add_secondary_delay_ms,
        .learner_timeout_ms = svc->opt.learner_timeout_ms,
        .balancer_interval_ms = svc->opt.balancer_interval_ms,
    };
    struct meta_state *st;

    if (svc->state != NULL || svc->leader == NULL || !meta_leader_is_leader(svc->leader))
        return;
    st = meta_state_create(svc->store, svc->opt.cluster_path, &so);
    if (meta_state_load(st, clock_mono_ms()) != 0) {
        meta_state_destroy(st); /* logged by meta_state_load; the cron retries */
        return;
    }
    svc->state = st;
    LOG_INFO("meta %s is the leader of cluster %s and serving", svc->opt.address,
             svc->opt.cluster_name);
}

/* Re-reads the election; becomes leader (and loads) when it is our turn. */
static void
election_check(struct meta_service *svc)
{
    const char *before;
    char prev[GEOKV_ADDR_MAX];
    bool became;
    int rc;

    if (svc->leader == NULL)
        return;
    before = meta_leader_address(svc->leader);
    snprintf(prev, sizeof(prev), "%s", before);
    svc->last_recheck_ms = clock_mono_ms();
    rc = meta_leader_check(svc->leader, &became);
    if (rc == ERR_INVALID_STATE)
        exit_session_lost("our election node is gone");
    if (rc != 0) {
        LOG_WARN("election check failed: %s (will retry)", err_str(rc));
        return;
    }
    if (became)
        LOG_INFO("meta %s won the election (%s)", svc->opt.address, meta_leader_node(svc->leader));
    else if (strcmp(prev, meta_leader_address(svc->leader)) != 0)
        LOG_INFO("meta leader is now %s", meta_leader_address(svc->leader)[0]
                                              ? meta_leader_address(svc->leader)
                                              : "(unknown)");
    leader_load(svc);
}

/* Creates our election node; retried by the cron until it works. */
static void
election_join(struct meta_service *svc)
{
    struct meta_leader *l;
    int rc;

    if (svc->leader != NULL)
        return;
    l = meta_leader_create(svc->store, svc->opt.cluster_path, svc->opt.address);
    rc = meta_leader_join(l);
    if (rc != 0 && meta_leader_node(l)[0] == '\0') {
        LOG_WARN("joining the meta election failed: %s (will retry)", err_str(rc));
        meta_leader_destroy(l);
        return;
    }
    svc->leader = l;
    if (meta_leader_is_leader(l))
        LOG_INFO("meta %s won the election (%s)", svc->opt.address, meta_leader_node(l));
    else
        LOG_INFO("meta %s follows leader %s", svc->opt.address,
                 meta_leader_address(l)[0] ? meta_leader_address(l) : "(unknown)");
    election_check(svc);
}

static void
join_task(void *arg)
{
    election_join(arg);
}

/* ======================= store events (posted) ======================= */

static void
ev_watch_task(void *arg)
{
    election_check(arg);
}

static void
ev_expired_task(void *arg)
{
    exit_session_lost("ZooKeeper session expired");
}

static void
ev_disconnected_task(void *arg)
{
    struct meta_service *svc = arg;
    if (svc->disconnected_since_ms == 0)
        svc->disconnected_since_ms = clock_mono_ms();
    LOG_WARN("lost the ZooKeeper connection; reconnecting");
}

static void
ev_connected_task(void *arg)
{
    struct meta_service *svc = arg;
    if (svc->disconnected_since_ms != 0) {
        LOG_INFO("ZooKeeper connection is back");
        /* Beacons were redirected meanwhile: do not take their absence for deaths. */
        if (svc->state != NULL)
            meta_state_grace_restart(svc->state, clock_mono_ms());
    }
    svc->disconnected_since_ms = 0;
    election_check(svc);
}

void
meta_service_on_store_event(void *arg, enum meta_store_event ev, const char *path)
{
    struct meta_service *svc = arg;

    switch (ev) {
    case META_STORE_EV_WATCH: (void)post_unless_closing(svc, ev_watch_task, svc); break;
    case META_STORE_EV_EXPIRED: (void)post_unless_closing(svc, ev_expired_task, svc); break;
    case META_STORE_EV_DISCONNECTED:
        (void)post_unless_closing(svc, ev_disconnected_task, svc);
        break;
    case META_STORE_EV_CONNECTED: (void)post_unless_closing(svc, ev_connected_task, svc); break;
    }
}

/* ======================= cron ======================= */

static void
cron(void *arg)
{
    struct meta_service *svc = arg;
    int64_t now = clock_mono_ms();

    if (svc->state != NULL && svc->last_cron_ms != 0 &&
        now - svc->last_cron_ms > svc->opt.node_grace_ms / 2) {
        LOG_WARN("meta loop stalled for %lld ms", (long long)(now - svc->last_cron_ms));
        meta_state_grace_restart(svc->state, now);
    }
    svc->last_cron_ms = now;
    metric_set(metric_get(METRIC_GAUGE, "geokv_meta_leader", NULL,
                          "1 while this meta server leads the cluster and serves"),
               svc->state != NULL && svc->disconnected_since_ms == 0);
    if (svc->state != NULL) {
        if (svc->disconnected_since_ms == 0) {
            meta_state_cron(svc->state, now); /* store writes need the connection */
            follow_cron(svc, now);
        }
        pending_check(svc, now);
    }
    if (svc->disconnected_since_ms != 0) {
        if (svc->state != NULL && now - svc->disconnected_since_ms > svc->opt.session_timeout_ms)
            exit_session_lost("the leader was cut from ZooKeeper for a whole session timeout");
        return; /* store calls would fail: wait for the connection */
    }
    if (svc->leader == NULL)
        election_join(svc);
    else if (svc->state == NULL || now - svc->last_recheck_ms >= META_RECHECK_MS)
        election_check(svc);
}

/* ======================= lifecycle ======================= */

struct meta_service *
meta_service_create(const struct meta_options *opt)
{
    struct meta_service *svc = xcalloc(1, sizeof(*svc));
    svc->opt = *opt;
    svc->loop = loop_create("meta");
    svc->dup_loop = loop_create("meta-dup");
    pthread_mutex_init(&svc->mu, NULL);
    return svc;
}

int
meta_service_start(struct meta_service *svc, struct meta_store *store)
{
    int rc;

    svc->store = store;
    rc = rpc_server_create(svc->opt.address, on_rpc, svc, &svc->rpc);
    if (rc != 0)
        return rc; /* logged by rpc; meta_service_destroy closes the store */
    loop_add_timer(svc->loop, META_CRON_MS, cron, svc);
    loop_post(svc->loop, join_task, svc);
    loop_start(svc->loop);
    loop_start(svc->dup_loop);
    rpc_server_start(svc->rpc);
    LOG_INFO("meta %s started (cluster %s, store %s)", svc->opt.address, svc->opt.cluster_name,
             svc->opt.cluster_path);
    return 0;
}

static void
drain_task(void *arg)
{
    struct meta_service *svc = arg;
    pending_fail_all(svc, ERR_SHUTDOWN);
}

void
meta_service_destroy(struct meta_service *svc)
{
    if (svc == NULL)
        return;
    pthread_mutex_lock(&svc->mu);
    svc->closing = true;
    loop_post(svc->loop, drain_task, svc); /* after every request already posted */
    pthread_mutex_unlock(&svc->mu);
    loop_destroy(svc->loop);     /* runs what is posted, then joins */
    loop_destroy(svc->dup_loop); /* its answers find `closing` set and reply ERR_SHUTDOWN */
    if (svc->rpc != NULL)
        rpc_server_destroy(svc->rpc);
    meta_state_destroy(svc->state);
    if (svc->leader != NULL)
        meta_leader_destroy(svc->leader);
    meta_store_destroy(svc->store); /* closes the session: our election node goes now */
    xfree(svc->pending);
    pthread_mutex_destroy(&svc->mu);
    xfree(svc);
}
