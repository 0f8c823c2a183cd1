/*
 * sim.c: the simulated clusters (sim.h).
 *
 * One thread runs everything from a queue of events ordered by (virtual time, sequence). A
 * simulated server plays stub.c's part for its replicas (it is their replica_host):
 * it routes requests to them, runs their timers, group-commits them after every event
 * (the loop's "before sleep"), beacons its meta, applies the answer, and syncs duplications.
 * The metas are the real meta_state, called as meta_service.c calls it. A shipper's remote
 * table is the other cluster: its batches go to the primary that cluster's meta names. Every
 * message goes through send(), where the seeded generator decides its delay and whether it
 * is dropped or duplicated; replies travel back the same way, and a call that gets no reply
 * times out.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"
#include "meta/meta_state.h"
#include "meta/meta_store.h"
#include "proto/hash.h"
#include "proto/msg.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"
#include "replica/stub.h"
#include "tests/unit/unit_fs.h"

#define MAX_CLUSTERS 2
#define MAX_NODES 16 /* of every cluster */
#define MAX_PARTS 16
/* Endpoints of messages: nodes 0..MAX_NODES-1, then the metas, one per cluster; clients -1. */
#define EP_META(c) (MAX_NODES + (c))
#define NEPS (MAX_NODES + MAX_CLUSTERS + 1)
#define TABLE "sim"
#define BEACON_MS 1000
#define META_CRON_MS 100
#define GC_MS 3000
#define DUP_TICK_MS 50   /* as the replica server's duplication cron */
#define DUP_SYNC_MS 1000 /* dup_sync_interval_ms */
#define SHARED_KEYS 5    /* master-master: keys every client writes on both clusters */
#define SETTLE_S 10      /* after the run, at most this long for a move to complete */
#define CLIENT_TIMEOUT_MS 3000
#define WALL_BASE_US INT64_C(1800000000000000) /* 2027-01-15: timetags need a real epoch */

/* ---------------------------------------------------------------- the world */

struct event {
    int64_t at_us;
    uint64_t seq;
    void (*fn)(void *arg);
    void *arg;
};

struct node;

/* A cluster: its meta (the real meta_state on an in-memory store), its nodes and its table.
 * With two, each ships its table to the other (master-master) or the first to the second. */
struct cluster {
    int id; /* index; its cluster id (timetags, [duplication-group]) is id + 1 */
    char name[16];
    struct meta_mem_tree *tree;
    struct meta_store *store;
    struct meta_state *meta;
    struct meta_dup_options dup;
    uint32_t app_id;
    int partitions; /* of its table */
    int first, n;   /* its nodes: W->nodes[first, first + n) */
};

/* The host's handle of a remote table (replica_int.h): the cluster it is on. */
struct dup_remote {
    int cluster;
};

/* What replica_int.h calls the loop that owns a replica: here, its simulated server. */
struct stub_loop {
    struct node *node;
};

struct node {
    int id;
    struct cluster *cl;
    char addr[GEOKV_ADDR_MAX];
    char dir[300];
    bool up;
    uint32_t inc; /* incarnation: bumped by every crash, so old events find it gone */
    struct stub_loop loop;
    struct replica_host host;
    struct replica_opts opts;
    struct plog_opts plog_opts;
    struct storage_opts storage_opts;
    atomic_bool stopping;
    struct replica *reps[MAX_PARTS]; /* by partition index */
    struct replica *dirty;
    int64_t lease_until_ms;
    int64_t cut_until_us; /* isolated from every other endpoint until then */
};

struct beacon_call;

/* An outstanding call: completed once, by its reply or its timeout. Kept until the run ends
 * (late replies and duplicates still find it). */
enum call_kind { CALL_REPLICA, CALL_BEACON, CALL_DUP_SYNC, CALL_REMOTE, CALL_CLIENT };
struct call {
    enum call_kind kind;
    int from; /* node index (a client's call: -1) */
    uint32_t from_inc;
    uint64_t gpid;
    bool done;
    replica_reply_fn *fn; /* CALL_REPLICA */
    void *ctx;
    rpc_done_fn *remote_fn;       /* CALL_REMOTE, with ctx */
    struct beacon_call *beacon;   /* CALL_BEACON */
    struct msg_dup_sync_req sync; /* CALL_DUP_SYNC */
    int client;                   /* CALL_CLIENT */
    int64_t key;
    bool read;   /* a get of client owner's key, acknowledged before */
    bool shared; /* a write of a shared key (master-master) */
    int owner;
    int server;        /* the node it was sent to */
    struct call *next; /* every call of the run */
};

struct client {
    int id;
    struct cluster *cl; /* the cluster it writes to */
    int64_t next;       /* keys written so far */
    bool busy;
    int primary[MAX_PARTS]; /* the primary it believes in, per partition (-1: ask the meta),
                             * kept until a call fails, as a real client caches the config */
};

struct world {
    struct sim_opts o;
    struct sim_result *res;
    uint64_t rng;
    int64_t now_us;
    uint64_t seq;
    struct event *heap;
    size_t nheap, capheap;
    char dir[256];
    struct cluster clusters[MAX_CLUSTERS];
    struct dup_remote remotes[MAX_CLUSTERS];
    int nclusters, nnodes;
    int dups; /* duplications added */
    struct node nodes[MAX_NODES];
    struct client clients[16];
    bool faults; /* false once the quiet period starts */
    bool stop_clients;
    int64_t acked_at_quiet;
    struct call *calls;
    int64_t link_at[NEPS][NEPS]; /* last delivery between two endpoints */
    /* acknowledged writes: key i of client c has value "v<c>.<i>" */
    bool *acked[16];
    int64_t acked_cap;
};

static struct world *W; /* one simulation at a time: the clock sources read it */

static int64_t
virt_mono_us(void)
{
    return W->now_us;
}

static int64_t
virt_wall_us(void)
{
    return WALL_BASE_US + W->now_us;
}

static int64_t
now_ms(void)
{
    return W->now_us / 1000;
}

/* splitmix64 */
static uint64_t
rnd(void)
{
    uint64_t z = (W->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
rnd01(void)
{
    return (double)(rnd() >> 11) / (double)(1ull << 53);
}

static int64_t
rnd_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static void
trace(const char *fmt, ...)
{
    va_list ap;
    if (!W->o.verbose)
        return;
    fprintf(stderr, "[sim %8.3f s] ", (double)W->now_us / 1e6);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void
fail(const char *fmt, ...)
{
    va_list ap;
    size_t n;
    if (W->res->error[0])
        return; /* keep the first */
    n = (size_t)snprintf(W->res->error, sizeof(W->res->error),
                         "seed %" PRIu64 " at %.3f s: ", W->o.seed, (double)W->now_us / 1e6);
    va_start(ap, fmt);
    vsnprintf(W->res->error + n, sizeof(W->res->error) - n, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- the scheduler */

static bool
event_before(const struct event *a, const struct event *b)
{
    return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static void
at(int64_t delay_us, void (*fn)(void *), void *arg)
{
    struct event e = {W->now_us + delay_us, W->seq++, fn, arg};
    size_t i;
    if (W->nheap == W->capheap) {
        W->capheap = W->capheap ? W->capheap * 2 : 1024;
        W->heap = xrealloc(W->heap, W->capheap * sizeof(*W->heap));
    }
    i = W->nheap++;
    while (i > 0 && event_before(&e, &W->heap[(i - 1) / 2])) {
        W->heap[i] = W->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    W->heap[i] = e;
}

static struct event
pop(void)
{
    struct event top = W->heap[0], last = W->heap[--W->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= W->nheap)
            break;
        if (c + 1 < W->nheap && event_before(&W->heap[c + 1], &W->heap[c]))
            c++;
        if (!event_before(&W->heap[c], &last))
            break;
        W->heap[i] = W->heap[c];
        i = c;
    }
    if (W->nheap > 0)
        W->heap[i] = last;
    return top;
}

/* ---------------------------------------------------------------- servers as hosts */

static struct node *
node_of(const struct replica *r)
{
    return r->loop->node;
}

static struct node *
node_by_addr(const char *addr)
{
    for (int i = 0; i < W->nnodes; i++)
        if (strcmp(W->nodes[i].addr, addr) == 0)
            return &W->nodes[i];
    return NULL;
}

static struct replica *
find_replica(struct node *n, uint64_t gpid)
{
    if (!n->up || gpid_app(gpid) != n->cl->app_id || gpid_pidx(gpid) >= MAX_PARTS)
        return NULL;
    return n->reps[gpid_pidx(gpid)];
}

/* The loop's "before sleep": group commit of what the event wrote. */
static void
before_sleep(struct node *n)
{
    while (n->up && n->dirty) {
        struct replica *r = n->dirty;
        n->dirty = r->next_dirty;
        r->dirty = false;
        replica_flush(r);
        if (plog_broken(r->plog) != 0)
            fail("%s: plog broken", n->addr);
    }
}

static void
host_mark_dirty_impl(struct replica *r)
{
    struct node *n = node_of(r);
    if (r->dirty)
        return;
    r->dirty = true;
    r->next_dirty = n->dirty;
    n->dirty = r;
}

static void
unlink_dirty(struct node *n, struct replica *r)
{
    struct replica **pp = &n->dirty;
    while (*pp && *pp != r)
        pp = &(*pp)->next_dirty;
    if (*pp)
        *pp = r->next_dirty;
    r->dirty = false;
}

static void
close_part(struct node *n, uint32_t pidx)
{
    struct replica *r = n->reps[pidx];
    if (r == NULL)
        return;
    unlink_dirty(n, r);
    n->reps[pidx] = NULL;
    replica_close(r);
}

static void
host_close_replica_impl(struct replica *r)
{
    close_part(node_of(r), gpid_pidx(r->gpid));
}

static bool
host_lease_valid_impl(const struct replica *r)
{
    return now_ms() < node_of(r)->lease_until_ms;
}

/* ---------------------------------------------------------------- the network */

/* A message in flight: a request to a node or a meta, or a reply to a call. */
struct msg {
    struct call *call;
    int from, to;    /* endpoints (EP_META, -1: a client) */
    uint32_t to_inc; /* the incarnation it was sent to (replies: the caller's) */
    uint32_t code;
    uint64_t gpid;
    ballot_t ballot;
    int err; /* replies */
    bool reply;
    struct buf body;
};

struct sim_req {
    struct rpc_request req; /* first: the sink gets it back */
    struct call *call;
    int node;
    uint32_t inc;
};

static void deliver(void *arg);

static struct msg *
msg_copy(const struct msg *m)
{
    struct msg *c = xmalloc(sizeof(*c));
    *c = *m;
    c->body = (struct buf)BUF_INIT;
    buf_append(&c->body, m->body.data, m->body.len);
    return c;
}

static void
msg_free(struct msg *m)
{
    buf_fini(&m->body);
    xfree(m);
}

/* Whether endpoint ep is a node cut off the network now. */
static bool
is_cut(int ep)
{
    return ep >= 0 && ep < MAX_NODES && W->nodes[ep].cut_until_us > W->now_us;
}

/*
 * Puts m on the wire. A connection delivers in order (TCP), so a message normally arrives
 * after the previous one between the same two endpoints, and a slow one holds up those behind
 * it; but with probability `reorder` it takes another path (a new connection, the bulk one)
 * and may overtake. It may also be dropped (a connection reset) or arrive twice (a retry
 * whose first attempt got through). Consumes m.
 */
static void
send(struct msg *m)
{
    int64_t *link = &W->link_at[m->from + 1][m->to + 1], when;
    W->res->messages++;
    /* a cut separates a server from the meta and the other servers; clients may still reach
     * it (a client with an old configuration then talks to a primary that was replaced) */
    bool cut = m->call->kind != CALL_CLIENT && (is_cut(m->from) || is_cut(m->to));
    if (cut || (W->faults && rnd01() < W->o.drop)) {
        W->res->dropped++;
        msg_free(m);
        return;
    }
    if (W->faults && rnd01() < W->o.dup)
        at(rnd_range(100, 5000), deliver, msg_copy(m));
    when = W->now_us +
           (W->faults && rnd01() < W->o.slow ? rnd_range(50000, 500000) : rnd_range(100, 2000));
    if (!(W->faults && rnd01() < W->o.reorder) && when < *link)
        when = *link;
    if (when > *link)
        *link = when;
    at(when - W->now_us, deliver, m);
}

/* Completes c once: runs the caller's function on its replica (NULL if it is gone). */
static void complete(struct call *c, int err, const uint8_t *body, size_t len);

static void
call_timeout(void *arg)
{
    struct call *c = arg;
    complete(c, ERR_TIMEOUT, NULL, 0);
}

static struct call *
call_new(enum call_kind kind, int from, uint64_t gpid, int timeout_ms)
{
    struct call *c = xcalloc(1, sizeof(*c));
    c->kind = kind;
    c->from = from;
    c->from_inc = from >= 0 ? W->nodes[from].inc : 0;
    c->gpid = gpid;
    c->next = W->calls;
    W->calls = c;
    at((int64_t)timeout_ms * 1000, call_timeout, c);
    return c;
}

static void
reply_sink(struct rpc_request *req, int err, const void *body, size_t len)
{
    struct sim_req *sr = (struct sim_req *)req;
    struct node *n = &W->nodes[sr->node];
    if (n->up && n->inc == sr->inc) { /* a crashed server answers nothing */
        struct msg m = {
            sr->call, n->id, sr->call->from, sr->call->from_inc, req->env.code, sr->call->gpid, 0,
            err,      true,  BUF_INIT};
        buf_append(&m.body, body, len);
        send(msg_copy(&m));
        buf_fini(&m.body);
    }
    buf_fini(&req->plain);
    xfree(sr);
}

static void
host_call_impl(struct replica *r, const char *addr, uint32_t code, const struct buf *body,
               int timeout_ms, replica_reply_fn *fn, void *ctx)
{
    struct node *from = node_of(r), *to = node_by_addr(addr);
    struct call *c = call_new(CALL_REPLICA, from->id, r->gpid, timeout_ms);
    c->fn = fn;
    c->ctx = ctx;
    if (to == NULL) {
        fail("%s called unknown address %s", from->addr, addr);
        return;
    }
    struct msg m = {c, from->id, to->id, to->inc, code, r->gpid, r->ballot, 0, false, BUF_INIT};
    buf_append(&m.body, body->data, body->len);
    send(msg_copy(&m));
    buf_fini(&m.body);
}

static void
host_call_meta_impl(struct replica *r, uint32_t code, const struct buf *body, replica_reply_fn *fn,
                    void *ctx)
{
    struct node *n = node_of(r);
    struct call *c = call_new(CALL_REPLICA, n->id, r->gpid, BEACON_MS * 3);
    c->fn = fn;
    c->ctx = ctx;
    struct msg m = {c, n->id, EP_META(n->cl->id), 0, code, r->gpid, r->ballot, 0, false, BUF_INIT};
    buf_append(&m.body, body->data, body->len);
    send(msg_copy(&m));
    buf_fini(&m.body);
}

/* A blocking job runs only if it opens a remote table (through the host): the others (a
 * checkpoint copy) would need real sockets, and are done without running, as when a server
 * stops (the job's context says it did not run). */
struct job {
    int node;
    uint32_t inc;
    uint64_t gpid;
    replica_done_fn *done;
    void *ctx;
};

static void
run_job(void *arg)
{
    struct job *j = arg;
    struct node *n = &W->nodes[j->node];
    j->done(n->inc == j->inc ? find_replica(n, j->gpid) : NULL, j->ctx);
    if (n->inc == j->inc)
        before_sleep(n);
    xfree(j);
}

static void
host_run_blocking_impl(struct replica *r, enum replica_worker w, replica_work_fn *fn,
                       replica_done_fn *done, void *ctx)
{
    struct job *j = xmalloc(sizeof(*j));
    *j = (struct job){node_of(r)->id, node_of(r)->inc, r->gpid, done, ctx};
    if (w == WORKER_REMOTE_OPEN)
        fn(ctx);
    else
        trace("%s: blocking job for %u.%u not run", node_of(r)->addr, gpid_app(r->gpid),
              gpid_pidx(r->gpid));
    at(1000, run_job, j);
}

static void
host_post_impl(void *self, uint64_t gpid, replica_done_fn *fn, void *ctx)
{
    struct node *n = self;
    struct job *j = xmalloc(sizeof(*j));
    *j = (struct job){n->id, n->inc, gpid, fn, ctx};
    at(0, run_job, j);
}

static struct cluster *
cluster_named(const char *name)
{
    for (int c = 0; c < W->nclusters; c++)
        if (strcmp(W->clusters[c].name, name) == 0)
            return &W->clusters[c];
    return NULL;
}

static int
host_remote_open_impl(void *self, const char *cluster, const char *app, struct dup_remote **out)
{
    struct cluster *cl = cluster_named(cluster);
    (void)self;
    if (cl == NULL || strcmp(app, TABLE) != 0)
        return cl == NULL ? ERR_CONFIG : ERR_APP_NOT_FOUND;
    *out = &W->remotes[cl->id];
    return 0;
}

static uint32_t
host_remote_partitions_impl(struct dup_remote *t)
{
    return (uint32_t)W->clusters[t->cluster].partitions;
}

/* As geokv_partition_call_async, from node self: to the primary the remote meta names now. */
static void
host_remote_call_impl(void *self, struct dup_remote *t, uint32_t code, uint32_t pidx,
                      const struct buf *body, int timeout_ms, rpc_done_fn *fn, void *arg)
{
    struct node *from = self;
    struct cluster *cl = &W->clusters[t->cluster];
    const struct meta_app *app = meta_state_get_app(cl->meta, cl->app_id);
    struct node *to =
        app && pidx < app->partition_count ? node_by_addr(app->parts[pidx].config.primary) : NULL;
    struct call *c = call_new(CALL_REMOTE, from->id, gpid_make(cl->app_id, pidx), timeout_ms);
    c->remote_fn = fn;
    c->ctx = arg;
    if (to == NULL)
        return; /* no primary now: it times out, as a client's call would */
    struct msg m = {c, from->id, to->id, to->inc, code, c->gpid, 0, 0, false, BUF_INIT};
    buf_append(&m.body, body->data, body->len);
    send(msg_copy(&m));
    buf_fini(&m.body);
}

/* ---------------------------------------------------------------- deliveries */

static void client_done(struct call *c, int err, const uint8_t *body, size_t len);
static void beacon_done(struct node *n, struct beacon_call *bc, const uint8_t *body, size_t len);
static void beacon_free(struct beacon_call *bc);
static void dup_sync_done(struct node *n, struct call *c, const uint8_t *body, size_t len);

static void
complete(struct call *c, int err, const uint8_t *body, size_t len)
{
    struct node *n;
    if (c->done)
        return;
    c->done = true;
    if (c->kind == CALL_CLIENT) {
        client_done(c, err, body, len);
        return;
    }
    n = &W->nodes[c->from];
    if (c->kind == CALL_BEACON) {
        if (err == 0 && n->up && n->inc == c->from_inc)
            beacon_done(n, c->beacon, body, len);
        beacon_free(c->beacon);
    } else if (c->kind == CALL_DUP_SYNC) {
        if (err == 0 && n->up && n->inc == c->from_inc)
            dup_sync_done(n, c, body, len);
        msg_dup_sync_req_fini(&c->sync);
    } else if (c->kind == CALL_REMOTE) {
        c->remote_fn(c->ctx, n->inc == c->from_inc ? err : ERR_SHUTDOWN, body, len); /* posts */
        return;
    } else if (n->inc != c->from_inc) {
        c->fn(NULL, c->ctx, ERR_SHUTDOWN, NULL, 0); /* only frees ctx */
        return;
    } else {
        c->fn(find_replica(n, c->gpid), c->ctx, err, body, len);
    }
    before_sleep(n);
}

/* The meta's side of a message, as meta_service.c handles it. */
static void
meta_handle(struct cluster *cl, struct msg *m)
{
    struct buf out = BUF_INIT;
    int rc = ERR_UNKNOWN_RPC;
    if (m->code == RPC_DUP_SYNC) {
        struct msg_dup_sync_req req;
        struct msg_dup_sync_resp resp;
        rc = msg_dup_sync_req_decode(m->body.data, m->body.len, &req);
        if (rc == 0) {
            rc = meta_dup_on_sync(cl->meta, &req, now_ms(), &resp);
            msg_dup_sync_req_fini(&req);
        }
        if (rc == 0) {
            msg_dup_sync_resp_encode(&out, &resp);
            msg_dup_sync_resp_fini(&resp);
        }
    } else if (m->code == RPC_CONFIG_PROPOSAL) {
        struct msg_config_proposal p;
        struct replica_assign a;
        rc = msg_config_proposal_decode(m->body.data, m->body.len, &p);
        if (rc == 0)
            rc = meta_state_config_proposal(cl->meta, &p, now_ms(), &a);
        if (rc == 0)
            msg_replica_assign_encode(&out, &a);
        trace("meta: proposal for %u.%u -> %s", gpid_app(m->gpid), gpid_pidx(m->gpid),
              err_name(rc));
    } else if (m->code == RPC_BEACON) {
        struct msg_beacon_req req;
        struct msg_beacon_resp resp;
        rc = msg_beacon_req_decode(m->body.data, m->body.len, &req);
        if (rc == 0) {
            rc = meta_state_on_beacon(cl->meta, &req, now_ms(), &resp);
            msg_beacon_req_fini(&req);
        }
        if (rc == 0) {
            msg_beacon_resp_encode(&out, &resp);
            meta_state_beacon_resp_fini(&resp);
        }
    }
    struct msg r = {m->call, m->to, m->call->from, m->call->from_inc, m->code, m->gpid, 0, rc,
                    true,    out};
    send(msg_copy(&r));
    buf_fini(&out);
}

/* A server's side of a request, as stub.c routes it. */
static void
node_handle(struct node *n, struct msg *m)
{
    struct sim_req *sr = xcalloc(1, sizeof(*sr));
    struct rpc_request *req = &sr->req;
    struct replica *r = find_replica(n, m->gpid);
    sr->call = m->call;
    sr->node = n->id;
    sr->inc = n->inc;
    buf_append(&req->plain, m->body.data, m->body.len);
    req->env.code = m->code;
    req->env.gpid = m->gpid;
    req->env.ballot = m->ballot;
    req->env.body = req->plain.data;
    req->env.body_len = req->plain.len;
    req->env.limit = 64u << 20;
    req->sink = reply_sink;
    if (r == NULL) {
        rpc_reply(req, ERR_PARTITION_NOT_HERE, NULL, 0);
        return;
    }
    switch (m->code) {
    case RPC_WRITE: replica_on_write(r, req); break;
    case RPC_GET: /* as stub.c's timed_read: only a serving primary reads */
        if (replica_check_primary(r) != 0)
            rpc_reply(req, replica_check_primary(r), NULL, 0);
        else
            replica_on_get(r, req);
        break;
    case RPC_PREPARE: replica_on_prepare(r, req); break;
    case RPC_GROUP_CHECK: replica_on_group_check(r, req); break;
    case RPC_LEARN: replica_on_learn(r, req); break;
    case RPC_DUP_APPLY: replica_on_dup_apply(r, req); break;
    default: rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0); break;
    }
    before_sleep(n);
}

static void
deliver(void *arg)
{
    struct msg *m = arg;
    if (m->reply) {
        complete(m->call, m->err, m->body.data, m->body.len);
    } else if (m->to >= MAX_NODES) {
        meta_handle(&W->clusters[m->to - MAX_NODES], m);
    } else {
        struct node *n = &W->nodes[m->to];
        if (n->up && n->inc == m->to_inc) /* a restarted server has no connection from before */
            node_handle(n, m);
    }
    msg_free(m);
}

/* ---------------------------------------------------------------- beacons */

struct beacon_call {
    struct msg_beacon_req req;
    int64_t sent_ms;
};

static void
open_part(struct node *n, const struct replica_assign *a)
{
    uint32_t pidx = gpid_pidx(a->gpid);
    if (n->reps[pidx] == NULL) {
        char dir[400];
        struct replica *r;
        snprintf(dir, sizeof(dir), "%s/%u.%u", n->dir, gpid_app(a->gpid), pidx);
        if (replica_open(a->gpid, dir, &n->opts, &r) != 0) {
            fail("%s: cannot open %s", n->addr, dir);
            return;
        }
        r->loop = &n->loop;
        n->reps[pidx] = r;
    }
    replica_adopt_assignment(n->reps[pidx], a);
}

static void
beacon_action(void *arg, enum part_action action, uint64_t gpid, const struct replica_assign *a)
{
    struct node *n = arg;
    static const char *const actions[] = {"assign", "close", "drop"};
    trace("%s: %s %u.%u (role %u)", n->addr, actions[action], gpid_app(gpid), gpid_pidx(gpid),
          a != NULL ? a->role : ROLE_INACTIVE);
    if (action == PART_ASSIGN)
        open_part(n, a);
    else
        close_part(n, gpid_pidx(gpid));
}

/* As stub_beacon.c applies the answer: roles first, then the lease. */
static void
beacon_done(struct node *n, struct beacon_call *bc, const uint8_t *body, size_t len)
{
    struct msg_beacon_resp resp;
    if (msg_beacon_resp_decode(body, len, &resp) != 0) {
        fail("%s: undecodable beacon reply", n->addr);
        return;
    }
    stub_beacon_actions(&bc->req, &resp, beacon_action, n);
    if (bc->sent_ms + resp.lease_ms > n->lease_until_ms)
        n->lease_until_ms = bc->sent_ms + resp.lease_ms;
    msg_beacon_resp_fini(&resp);
}

static void
beacon_free(struct beacon_call *bc)
{
    msg_beacon_req_fini(&bc->req);
    xfree(bc);
}

/* As stub.c publishes and stub_beacon.c collects, then the call to the meta. */
static void
beacon_send(struct node *n)
{
    struct beacon_call *bc = xcalloc(1, sizeof(*bc));
    struct call *c;
    struct buf body = BUF_INIT;
    bc->sent_ms = now_ms();
    snprintf(bc->req.address, sizeof(bc->req.address), "%s", n->addr);
    bc->req.replicas = xcalloc(MAX_PARTS, sizeof(*bc->req.replicas));
    for (uint32_t p = 0; p < MAX_PARTS; p++) {
        struct replica *r = n->reps[p];
        if (r != NULL)
            bc->req.replicas[bc->req.nreplicas++] = replica_report(r);
    }
    c = call_new(CALL_BEACON, n->id, 0, BEACON_MS);
    c->beacon = bc;
    msg_beacon_req_encode(&body, &bc->req);
    struct msg m = {c, n->id, EP_META(n->cl->id), 0, RPC_BEACON, 0, 0, 0, false, body};
    send(msg_copy(&m));
    buf_fini(&body);
}

/* ---------------------------------------------------------------- duplication sync */

/* As stub_dup.c: the node's primaries and the confirmed decrees of their duplications. */
static void
dup_sync_send(struct node *n)
{
    struct msg_dup_sync_req req = {0};
    struct buf body = BUF_INIT;
    struct call *c;
    snprintf(req.node, sizeof(req.node), "%s", n->addr);
    req.primaries = xcalloc(MAX_PARTS, sizeof(*req.primaries));
    req.confirms = xcalloc(MAX_PARTS * GROUP_CHECK_MAX_DUPS, sizeof(*req.confirms));
    for (int p = 0; p < MAX_PARTS; p++) {
        struct replica *r = n->reps[p];
        if (r == NULL)
            continue;
        if (r->role == ROLE_PRIMARY)
            req.primaries[req.nprimaries++] = r->gpid;
        req.nconfirms += dup_confirms(r, req.confirms + req.nconfirms, GROUP_CHECK_MAX_DUPS);
    }
    if (req.nprimaries == 0) {
        msg_dup_sync_req_fini(&req);
        return;
    }
    c = call_new(CALL_DUP_SYNC, n->id, 0, DUP_SYNC_MS);
    c->sync = req;
    msg_dup_sync_req_encode(&body, &req);
    struct msg m = {c, n->id, EP_META(n->cl->id), 0, RPC_DUP_SYNC, 0, 0, 0, false, body};
    send(msg_copy(&m));
    buf_fini(&body);
}

static void
dup_assign_one(void *arg, uint64_t gpid, struct dup_assign *dups, uint32_t n)
{
    struct replica *r = find_replica(arg, gpid);
    if (r != NULL && r->role == ROLE_PRIMARY) {
        dup_assign(r, dups, n);
        dup_tick(r);
    }
    xfree(dups);
}

static void
dup_sync_done(struct node *n, struct call *c, const uint8_t *body, size_t len)
{
    struct msg_dup_sync_resp resp;
    if (msg_dup_sync_resp_decode(body, len, &resp) != 0) {
        fail("%s: undecodable dup sync reply", n->addr);
        return;
    }
    stub_dup_sync_actions(&c->sync, &resp, dup_assign_one, n);
    msg_dup_sync_resp_fini(&resp);
}

/* ---------------------------------------------------------------- timers */

/* A node's timer: fn(n) every period_ms while the incarnation lives. */
struct timer {
    int node;
    uint32_t inc;
    int64_t period_ms;
    void (*fn)(struct node *n);
};

static void
timer_fire(void *arg)
{
    struct timer *t = arg;
    struct node *n = &W->nodes[t->node];
    if (!n->up || n->inc != t->inc) {
        xfree(t);
        return;
    }
    t->fn(n);
    before_sleep(n);
    at(t->period_ms * 1000, timer_fire, t);
}

static void
timer_start(struct node *n, int64_t period_ms, void (*fn)(struct node *))
{
    struct timer *t = xmalloc(sizeof(*t));
    *t = (struct timer){n->id, n->inc, period_ms, fn};
    at(rnd_range(0, period_ms * 1000), timer_fire, t); /* servers are not in step */
}

static void
group_cron(struct node *n)
{
    for (int p = 0; p < MAX_PARTS; p++)
        if (n->reps[p]) {
            replica_group_check_cron(n->reps[p]);
            if (n->reps[p]) /* may have closed itself */
                replica_learn_cron(n->reps[p]);
        }
}

static void
gc_cron(struct node *n)
{
    for (int p = 0; p < MAX_PARTS; p++) {
        struct replica *r = n->reps[p];
        if (r == NULL || r->role == ROLE_LEARNER)
            continue;
        replica_flush(r);
        if (replica_gc(r) != 0)
            fail("%s: plog gc of %u.%d failed", n->addr, n->cl->app_id, p);
    }
}

/* Shipping that no commit triggered, and retries. */
static void
dup_cron(struct node *n)
{
    for (int p = 0; p < MAX_PARTS; p++)
        if (n->reps[p])
            dup_tick(n->reps[p]);
}

static void
node_start(struct node *n)
{
    n->up = true;
    n->lease_until_ms = 0;
    timer_start(n, BEACON_MS, beacon_send);
    timer_start(n, n->opts.group_check_ms, group_cron);
    timer_start(n, GC_MS, gc_cron);
    if (W->nclusters > 1) {
        timer_start(n, DUP_SYNC_MS, dup_sync_send);
        timer_start(n, DUP_TICK_MS, dup_cron);
    }
}

static void
meta_cron(void *arg)
{
    struct cluster *cl = arg;
    meta_state_cron(cl->meta, now_ms());
    at(META_CRON_MS * 1000, meta_cron, cl);
}

/* ---------------------------------------------------------------- crashes */

static void
restart(void *arg)
{
    struct node *n = arg;
    trace("restart %s", n->addr);
    node_start(n);
}

static void
crash(struct node *n)
{
    trace("crash %s", n->addr);
    W->res->crashes++;
    n->up = false;
    n->inc++;
    n->dirty = NULL;
    for (int p = 0; p < MAX_PARTS; p++)
        if (n->reps[p]) {
            struct replica *r = n->reps[p];
            n->reps[p] = NULL;
            replica_abandon(r);
        }
    for (struct call *c = W->calls; c; c = c->next)
        if (!c->done && c->kind != CALL_CLIENT && c->from == n->id)
            complete(c, ERR_SHUTDOWN, NULL, 0);
}

static void
nemesis(void *arg)
{
    int down = 0, pick;
    (void)arg;
    if (!W->faults)
        return;
    pick = (int)rnd_range(0, W->nnodes - 1);
    for (int i = 0; i < W->nnodes; i++) /* max_down is per cluster */
        down += !W->nodes[i].up && W->nodes[i].cl == W->nodes[pick].cl;
    if (rnd01() < W->o.partition) {
        int64_t ms = rnd_range(500, 10000);
        trace("cut %s off for %" PRId64 " ms", W->nodes[pick].addr, ms);
        W->res->partitions++;
        W->nodes[pick].cut_until_us = W->now_us + ms * 1000;
    } else if (down < W->o.max_down && W->nodes[pick].up) {
        /* back inside the grace period, or well after it */
        int64_t back_ms = rnd01() < 0.5 ? rnd_range(100, 2000) : rnd_range(3000, 15000);
        crash(&W->nodes[pick]);
        at(back_ms * 1000, restart, &W->nodes[pick]);
    }
    at(rnd_range(W->o.crash_every_ms / 2, W->o.crash_every_ms * 3 / 2) * 1000, nemesis, NULL);
}

/* ---------------------------------------------------------------- clients */

static void client_write(void *arg);

static void
key_name(char *out, size_t cap, int client, int64_t key)
{
    snprintf(out, cap, "c%d.k%" PRId64, client, key);
}

static void client_read(struct client *cl, int owner, int64_t key);

/* A read of an acknowledged write must return it: from a primary that serves, nothing older
 * than what was acknowledged (a deposed primary must stop before its successor serves). */
static void
read_done(struct call *c, int err, const uint8_t *body, size_t len)
{
    char k[64], v[64];
    struct msg_get_resp resp;
    struct unpacked *zone = NULL;
    key_name(k, sizeof(k), c->owner, c->key);
    snprintf(v, sizeof(v), "v%d.%" PRId64, c->owner, c->key);
    if (err == ERR_NOT_FOUND) {
        fail("acknowledged write %s read as not found from %s", k, W->nodes[c->server].addr);
    } else if (err == 0) {
        if (msg_get_resp_decode(body, len, &resp, &zone) != 0)
            fail("undecodable get reply from %s", W->nodes[c->server].addr);
        else if (resp.value.len != strlen(v) || memcmp(resp.value.p, v, resp.value.len) != 0)
            fail("acknowledged write %s read as %.*s from %s", k, (int)resp.value.len,
                 (const char *)resp.value.p, W->nodes[c->server].addr);
        else
            W->res->reads++;
        unpacked_free(zone);
    }
}

static void
client_done(struct call *c, int err, const uint8_t *body, size_t len)
{
    struct client *cl = &W->clients[c->client];
    cl->busy = false;
    if (err != 0 && err != ERR_NOT_FOUND)
        cl->primary[gpid_pidx(c->gpid)] = -1; /* ask the meta again */
    if (c->read) {
        read_done(c, err, body, len);
        at(rnd_range(1000, 20000), client_write, cl);
        return;
    }
    if (err == 0) {
        if (!c->shared)
            W->acked[c->client][c->key] = true;
        W->res->acked++;
    } else if (err == ERR_TIMEOUT || err == ERR_UNCERTAIN) {
        W->res->uncertain++;
    } else {
        W->res->failed++;
    }
    /* read back the latest write of any client of the cluster (the others' writes arrive
     * later, by duplication) */
    if (err == 0 && !c->shared && rnd01() < 0.3) {
        int other = (int)rnd_range(0, W->o.clients - 1);
        while (W->clients[other].cl != cl->cl)
            other = (other + 1) % W->o.clients;
        int64_t key = W->clients[other].next - 1;
        while (key > 0 && !W->acked[other][key])
            key--;
        if (key >= 0 && W->acked[other][key])
            client_read(cl, other, key);
        else
            client_read(cl, cl->id, c->key);
        return;
    }
    at(rnd_range(1000, 20000), client_write, cl);
}

/* The partition of key k in the client's cluster and the node the client believes is its
 * primary (the meta's answer when it has none cached; NULL: the meta names none now). */
static struct node *
primary_of(struct client *cl, const char *k, uint32_t *pidx)
{
    const struct meta_app *app = meta_state_get_app(cl->cl->meta, cl->cl->app_id);
    struct node *n;
    *pidx = key_partition(k, strlen(k), "", 0, app->partition_count);
    if (cl->primary[*pidx] >= 0)
        return &W->nodes[cl->primary[*pidx]];
    n = node_by_addr(app->parts[*pidx].config.primary);
    cl->primary[*pidx] = n != NULL ? n->id : -1;
    return n;
}

/* Sends a client request to partition pidx's primary `to`; the caller fills in what it asks. */
static struct call *
client_send(struct client *cl, struct node *to, uint32_t pidx, uint32_t code,
            const struct buf *body)
{
    struct call *c = call_new(CALL_CLIENT, -1, gpid_make(cl->cl->app_id, pidx), CLIENT_TIMEOUT_MS);
    c->client = cl->id;
    c->server = to->id;
    cl->busy = true;
    struct msg m = {c, -1, to->id, to->inc, code, c->gpid, 0, 0, false, BUF_INIT};
    buf_append(&m.body, body->data, body->len);
    send(msg_copy(&m));
    buf_fini(&m.body);
    return c;
}

/* Reads key of client owner, through cl's view of the configuration. */
static void
client_read(struct client *cl, int owner, int64_t key)
{
    char k[64];
    uint32_t pidx;
    struct node *to;
    key_name(k, sizeof(k), owner, key);
    to = primary_of(cl, k, &pidx);
    struct msg_get_req g = {{(const uint8_t *)k, strlen(k)}, {(const uint8_t *)"", 0}};
    struct buf body = BUF_INIT;
    struct call *c;
    if (to == NULL) {
        at(100000, client_write, cl);
        return;
    }
    msg_get_req_encode(&body, &g);
    c = client_send(cl, to, pidx, RPC_GET, &body);
    c->owner = owner;
    c->key = key;
    c->read = true;
    buf_fini(&body);
}

/* Writes the client's next key to the partition's primary as the meta knows it. */
static void
client_write(void *arg)
{
    struct client *cl = arg;
    char k[64], v[64];
    struct write_op op = {OP_SET, {0}, {(const uint8_t *)"", 0}, {0}, 0};
    struct msg_write_req w = {1, &op};
    struct buf body = BUF_INIT;
    uint32_t pidx;
    struct node *to;
    struct call *c;
    bool shared;

    if (W->stop_clients || cl->next >= W->acked_cap)
        return;
    /* master-master: some writes go to keys every client writes, on both clusters, so the
     * clusters must resolve the same conflicts the same way */
    shared = W->o.master_master && rnd01() < 0.3;
    if (shared) {
        snprintf(k, sizeof(k), "s%" PRId64, rnd_range(0, SHARED_KEYS - 1));
        snprintf(v, sizeof(v), "w%d.%" PRId64, cl->id, cl->next);
    } else {
        key_name(k, sizeof(k), cl->id, cl->next);
        snprintf(v, sizeof(v), "v%d.%" PRId64, cl->id, cl->next);
    }
    to = primary_of(cl, k, &pidx);
    if (to == NULL) { /* no primary now: try again soon */
        at(100000, client_write, cl);
        return;
    }
    op.hash_key = (struct bytes){(const uint8_t *)k, strlen(k)};
    op.value = (struct bytes){(const uint8_t *)v, strlen(v)};
    msg_write_req_encode(&body, &w);
    c = client_send(cl, to, pidx, RPC_WRITE, &body);
    c->owner = cl->id;
    c->shared = shared;
    c->key = shared ? -1 : cl->next++;
    buf_fini(&body);
}

/* ---------------------------------------------------------------- the checks */

/* Whether replicas a and b hold the same records (keys, values, expiry, timetags). */
static bool
same_records(struct replica *a, struct replica *b, char *why, size_t cap)
{
    struct storage_iter *ia = NULL, *ib = NULL;
    bool same = false;
    if (storage_iter_create(a->storage, NULL, 0, NULL, 0, &ia) != 0 ||
        storage_iter_create(b->storage, NULL, 0, NULL, 0, &ib) != 0) {
        snprintf(why, cap, "cannot iterate");
        goto out;
    }
    for (;; storage_iter_next(ia), storage_iter_next(ib)) {
        const uint8_t *ka, *kb, *va, *vb;
        size_t kal, kbl, val, vbl;
        uint32_t ea, eb;
        uint64_t ta, tb;
        bool more_a = storage_iter_valid(ia), more_b = storage_iter_valid(ib);
        if (!more_a || !more_b) {
            same = more_a == more_b;
            if (!same)
                snprintf(why, cap, "one has more records");
            break;
        }
        storage_iter_key(ia, &ka, &kal);
        storage_iter_key(ib, &kb, &kbl);
        if (storage_iter_value(ia, &ea, &ta, &va, &val) != 0 ||
            storage_iter_value(ib, &eb, &tb, &vb, &vbl) != 0 || kal != kbl ||
            memcmp(ka, kb, kal) != 0 || val != vbl || memcmp(va, vb, val) != 0 || ea != eb ||
            ta != tb) {
            snprintf(why, cap, "records differ at key %.*s", (int)(kal > 2 ? kal - 2 : 0),
                     (const char *)ka + 2);
            break;
        }
    }
out:
    storage_iter_destroy(ia);
    storage_iter_destroy(ib);
    return same;
}

/* The serving primary of partition p of cl's table (NULL if none). */
static struct replica *
primary_replica(const struct cluster *cl, const struct meta_app *app, uint32_t p)
{
    const struct partition_config *cfg = &app->parts[p].config;
    struct node *pn = node_by_addr(cfg->primary);
    struct replica *pr = pn ? find_replica(pn, gpid_make(cl->app_id, p)) : NULL;
    return pr != NULL && pr->role == ROLE_PRIMARY && pr->ballot == cfg->ballot ? pr : NULL;
}

static void
check_partition(const struct cluster *cl, const struct meta_app *app, uint32_t p)
{
    const struct partition_config *cfg = &app->parts[p].config;
    struct node *pn = node_by_addr(cfg->primary);
    struct replica *pr = primary_replica(cl, app, p);
    char why[256];
    if (pr == NULL) {
        fail("%s partition %u: primary %s (ballot %" PRId64 ") is not serving", cl->name, p,
             cfg->primary[0] ? cfg->primary : "-", cfg->ballot);
        return;
    }
    if (cfg->nsecondaries + 1 != (uint32_t)W->o.replicas)
        fail("%s partition %u: %u secondaries after the quiet period, want %d", cl->name, p,
             cfg->nsecondaries, W->o.replicas - 1);
    for (uint32_t i = 0; i < cfg->nsecondaries; i++) {
        struct node *sn = node_by_addr(cfg->secondaries[i]);
        struct replica *sr = sn ? find_replica(sn, gpid_make(cl->app_id, p)) : NULL;
        if (sr == NULL || sr->role != ROLE_SECONDARY) {
            fail("%s partition %u: secondary %s is not serving", cl->name, p, cfg->secondaries[i]);
            continue;
        }
        if (sr->last_committed != pr->last_committed)
            fail("%s partition %u: secondary %s committed %" PRId64 ", primary %s %" PRId64,
                 cl->name, p, sn->addr, sr->last_committed, pn->addr, pr->last_committed);
        else if (!same_records(pr, sr, why, sizeof(why)))
            fail("%s partition %u: secondary %s and primary %s diverged at decree %" PRId64 ": %s",
                 cl->name, p, sn->addr, pn->addr, pr->last_committed, why);
    }
}

/* A follower partition that never copied its master's data: its primary still waits for the
 * copy, and nobody joined it (a member would hold, and later serve, an empty partition). */
static void
check_follower(const struct cluster *cl, const struct meta_app *app, uint32_t p)
{
    const struct partition_config *cfg = &app->parts[p].config;
    struct node *pn = node_by_addr(cfg->primary);
    struct replica *pr = pn ? find_replica(pn, gpid_make(cl->app_id, p)) : NULL;
    if (cfg->nsecondaries > 0)
        fail("follower partition %u admitted %u secondaries (first %s) before copying its "
             "master's data",
             p, cfg->nsecondaries, cfg->secondaries[0]);
    else if (pr != NULL && pr->role == ROLE_PRIMARY && pr->follow == NULL)
        fail("follower partition %u: primary %s stopped waiting for its copy (committed %" PRId64
             ")",
             p, pn->addr, pr->last_committed);
}

/* Every acknowledged write is on its cluster's primary with its value. */
static void
check_acked(void)
{
    for (int c = 0; c < W->o.clients; c++)
        for (int64_t i = 0; i < W->clients[c].next; i++) {
            const struct cluster *cl = W->clients[c].cl;
            const struct meta_app *app = meta_state_get_app(cl->meta, cl->app_id);
            char k[64], v[64];
            struct storage_record rec;
            uint32_t p;
            struct replica *pr;
            if (!W->acked[c][i])
                continue;
            key_name(k, sizeof(k), c, i);
            snprintf(v, sizeof(v), "v%d.%" PRId64, c, i);
            p = key_partition(k, strlen(k), "", 0, app->partition_count);
            pr = primary_replica(cl, app, p);
            if (pr == NULL)
                return; /* reported by check_partition */
            if (storage_get(pr->storage, k, strlen(k), "", 0, &rec) != 0) {
                fail("acknowledged write %s lost (%s partition %u, primary %s)", k, cl->name, p,
                     node_of(pr)->addr);
                return;
            }
            if (rec.vlen != strlen(v) || memcmp(rec.value, v, rec.vlen) != 0 ||
                !storage_record_visible(&rec, (uint32_t)clock_wall_s()))
                fail("acknowledged write %s reads %.*s, want %s", k, (int)rec.vlen,
                     (const char *)rec.value, v);
            storage_record_fini(&rec);
        }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every record of cl's table, as "key value expire_ts timetag" lines, sorted. */
static size_t
table_records(const struct cluster *cl, char ***out)
{
    const struct meta_app *app = meta_state_get_app(cl->meta, cl->app_id);
    size_t n = 0, cap = 0;
    char **recs = NULL;
    for (uint32_t p = 0; p < app->partition_count; p++) {
        struct replica *pr = primary_replica(cl, app, p);
        struct storage_iter *it = NULL;
        if (pr == NULL || storage_iter_create(pr->storage, NULL, 0, NULL, 0, &it) != 0) {
            fail("%s partition %u cannot be read", cl->name, p);
            continue;
        }
        for (; storage_iter_valid(it); storage_iter_next(it)) {
            const uint8_t *k, *v;
            size_t kl, vl;
            uint32_t exp;
            uint64_t tt;
            char line[256];
            storage_iter_key(it, &k, &kl);
            if (storage_iter_value(it, &exp, &tt, &v, &vl) != 0)
                continue;
            snprintf(line, sizeof(line), "%.*s %.*s %u %" PRIu64, (int)(kl > 2 ? kl - 2 : 0),
                     (const char *)k + 2, (int)vl, (const char *)v, exp, tt);
            if (n == cap)
                recs = xrealloc(recs, (cap = cap ? cap * 2 : 1024) * sizeof(*recs));
            recs[n++] = xstrdup(line);
        }
        storage_iter_destroy(it);
    }
    qsort(recs, n, sizeof(*recs), cmp_str);
    *out = recs;
    return n;
}

/* The clusters hold the same records (timetags too): duplication converged. */
static void
check_clusters_equal(void)
{
    char **a, **b;
    size_t na = table_records(&W->clusters[0], &a), nb = table_records(&W->clusters[1], &b);
    size_t i = 0;
    while (i < na && i < nb && strcmp(a[i], b[i]) == 0)
        i++;
    if (i < na || i < nb)
        fail("clusters differ (%zu and %zu records): first at %s %s / %s %s", na, nb,
             W->clusters[0].name, i < na ? a[i] : "(end)", W->clusters[1].name,
             i < nb ? b[i] : "(end)");
    W->res->duplicated = (int64_t)(na < nb ? na : nb);
    for (size_t k = 0; k < na; k++)
        xfree(a[k]);
    for (size_t k = 0; k < nb; k++)
        xfree(b[k]);
    xfree(a);
    xfree(b);
}

/* ---------------------------------------------------------------- the run */

/* Once the tables (and their duplications) exist: a duplication ships what is written after
 * it was added. */
static void
start_clients(void)
{
    for (int c = 0; c < W->o.clients && !W->o.follower; c++)
        at(rnd_range(1000000, 2000000), client_write, &W->clients[c]);
}

static void
create_table(void *arg)
{
    struct cluster *cl = arg;
    struct msg_create_app_req req = {.partition_count = (uint32_t)cl->partitions,
                                     .replica_count = (uint32_t)W->o.replicas};
    const struct meta_app *app;
    snprintf(req.name, sizeof(req.name), TABLE);
    if (W->o.follower) {
        snprintf(req.master.cluster, sizeof(req.master.cluster), "master");
        snprintf(req.master.app, sizeof(req.master.app), TABLE);
        snprintf(req.master.metas, sizeof(req.master.metas), "10.0.1.1:34601");
    }
    if (meta_state_create_app(cl->meta, &req, now_ms(), &app) != 0) {
        fail("cannot create the table");
        return;
    }
    cl->app_id = app->app_id;
    if (W->nclusters == 1)
        start_clients();
}

/* As an operator runs dup add on cluster cl's meta (again until its table is available). */
static void
dup_add(void *arg)
{
    struct cluster *cl = arg, *to = &W->clusters[1 - cl->id];
    const struct meta_app *remote = meta_state_get_app(to->meta, to->app_id);
    struct msg_dup_add_req req = {0};
    struct msg_dup_add_resp resp;
    struct meta_dup_remote r = {0, (uint32_t)to->partitions, (uint32_t)W->o.replicas};
    char metas[META_DUP_METAS_MAX], why[META_DUP_WHY_MAX];
    int rc;
    snprintf(req.app, sizeof(req.app), TABLE);
    snprintf(req.remote, sizeof(req.remote), "%s", to->name);
    rc = remote == NULL ? ERR_APP_NOT_FOUND
                        : meta_dup_add_check(cl->meta, &cl->dup, &req, &resp, metas, sizeof(metas),
                                             why, sizeof(why));
    if (rc == 0 && !resp.existed)
        rc = meta_dup_add_finish(cl->meta, &cl->dup, &req, &r, virt_wall_us() / 1000, &resp, why,
                                 sizeof(why));
    trace("dup add %s -> %s: %s %s", cl->name, to->name, err_name(rc), rc ? why : "");
    if (rc == ERR_APP_UNAVAILABLE || rc == ERR_APP_NOT_FOUND)
        at(500000, dup_add, cl);
    else if (rc != 0)
        fail("dup add %s -> %s: %s (%s)", cl->name, to->name, err_name(rc), why);
    else if (++W->dups == (W->o.master_master ? 2 : 1))
        start_clients();
}

static void
quiet(void *arg)
{
    (void)arg;
    trace("faults end");
    W->faults = false;
    W->acked_at_quiet = W->res->acked;
}

static void
stop_clients(void *arg)
{
    (void)arg;
    trace("clients stop");
    W->stop_clients = true;
    if (W->res->acked == W->acked_at_quiet && !W->o.follower)
        fail("no write was acknowledged in the first %" PRId64 " ms without faults",
             W->o.quiet_ms / 2);
}

void
sim_opts_default(struct sim_opts *o, uint64_t seed)
{
    *o = (struct sim_opts){.seed = seed,
                           .clusters = 1,
                           .nodes = 4,
                           .partitions = 2,
                           .remote_partitions = 2,
                           .replicas = 3,
                           .clients = 4,
                           .fault_ms = 20000,
                           .quiet_ms = 40000,
                           .max_down = 1,
                           .drop = 0.005,
                           .dup = 0.005,
                           .slow = 0.01,
                           .reorder = 0.005,
                           .crash_every_ms = 2500,
                           .partition = 0.3};
}

static void
cluster_init(struct world *w, struct cluster *cl, int id)
{
    const struct sim_opts *o = &w->o;
    struct meta_state_options mo = {.node_grace_ms = 3000,
                                    .lease_ms = 2400,
                                    .add_secondary_delay_ms = 5000,
                                    .learner_timeout_ms = 60000,
                                    .balancer_interval_ms = 10000};
    static const char *const names[MAX_CLUSTERS] = {"bj", "tj"};
    cl->id = id;
    snprintf(cl->name, sizeof(cl->name), "%s", names[id]);
    cl->partitions = id == 0 ? o->partitions : o->remote_partitions;
    cl->first = w->nnodes;
    cl->n = o->nodes;
    cl->tree = meta_mem_tree_create();
    cl->store = meta_store_mem_open(cl->tree, NULL, NULL);
    cl->meta = meta_state_create(cl->store, "/geokv/sim", &mo);
    ASSERT(meta_state_load(cl->meta, 0) == 0);
    /* [cluster], [pegasus.clusters] and [duplication-group] of a two-datacenter setup */
    cl->dup.enabled = true;
    snprintf(cl->dup.cluster_name, sizeof(cl->dup.cluster_name), "%s", cl->name);
    snprintf(cl->dup.cluster_metas, sizeof(cl->dup.cluster_metas), "10.0.%d.100:34601", id + 1);
    for (int c = 0; c < MAX_CLUSTERS; c++) {
        snprintf(cl->dup.clusters[c].name, META_DUP_NAME_MAX, "%s", names[c]);
        snprintf(cl->dup.clusters[c].metas, META_DUP_METAS_MAX, "10.0.%d.100:34601", c + 1);
        snprintf(cl->dup.group[c].name, META_DUP_NAME_MAX, "%s", names[c]);
        cl->dup.group[c].id = (uint32_t)c + 1;
    }
    cl->dup.nclusters = cl->dup.ngroup = MAX_CLUSTERS;
    w->remotes[id].cluster = id;
    for (int i = 0; i < o->nodes; i++) {
        struct node *n = &w->nodes[w->nnodes];
        n->id = w->nnodes++;
        n->cl = cl;
        snprintf(n->addr, sizeof(n->addr), "10.0.%d.%d:34801", id + 1, i + 1);
        snprintf(n->dir, sizeof(n->dir), "%s/node%d", w->dir, n->id + 1);
        ASSERT(mkdir(n->dir, 0755) == 0);
        n->loop.node = n;
        n->host = (struct replica_host){n,
                                        host_mark_dirty_impl,
                                        host_close_replica_impl,
                                        host_lease_valid_impl,
                                        host_call_impl,
                                        host_call_meta_impl,
                                        host_run_blocking_impl,
                                        host_post_impl,
                                        host_remote_open_impl,
                                        host_remote_partitions_impl,
                                        host_remote_call_impl};
        n->plog_opts = (struct plog_opts){.fsync_mode = PLOG_FSYNC_ALWAYS};
        n->storage_opts = (struct storage_opts){.engine = &storage_mem};
        n->opts = (struct replica_opts){
            .plog = &n->plog_opts,
            .storage = &n->storage_opts,
            .host = &n->host,
            .cluster_id = (uint32_t)id + 1,
            .ack_timeout_ms = 10000,
            .group_check_ms = 500,
            .max_value_bytes = 1 << 20,
            .stopping = &n->stopping,
            .dup_skip_retries = 3,
            .copy_rate_mb = runtime_config_find(RC_NFS_COPY_RATE_MB),
            .dup_batch_bytes = runtime_config_find(RC_DUPLICATE_LOG_BATCH_BYTES),
            .dup_lagging_ms = runtime_config_find(RC_DUP_LAGGING_WRITE_THRESHOLD_MS)};
        for (int c = 0; c < MAX_CLUSTERS; c++)
            n->opts.cluster_ids[c + 1] = true;
        memcpy(n->opts.address, n->addr, sizeof(n->addr));
    }
}

static void
world_init(struct world *w, const struct sim_opts *o, struct sim_result *res)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    w->o = *o;
    w->res = res;
    w->rng = o->seed;
    w->faults = true;
    snprintf(w->dir, sizeof(w->dir), "%s/geokv-sim-XXXXXX", base);
    ASSERT(mkdtemp(w->dir) != NULL);
    ASSERT(runtime_config_register_std(NULL, NULL, 0) == 0); /* their defaults */
    log_set_level(o->verbose ? LOG_LVL_INFO : -1);           /* after log_level's registration */
    w->nclusters = o->clusters;
    for (int c = 0; c < w->nclusters; c++)
        cluster_init(w, &w->clusters[c], c);
    w->acked_cap = 100000;
    for (int c = 0; c < o->clients; c++) {
        w->clients[c].id = c;
        /* master-master: clients on both clusters; else on the first only */
        w->clients[c].cl = &w->clusters[o->master_master ? c % w->nclusters : 0];
        memset(w->clients[c].primary, -1, sizeof(w->clients[c].primary));
        w->acked[c] = xcalloc((size_t)w->acked_cap, sizeof(bool));
    }
}

static void
world_fini(struct world *w)
{
    for (int i = 0; i < w->nnodes; i++) {
        struct node *n = &w->nodes[i];
        for (int p = 0; p < MAX_PARTS; p++)
            close_part(n, (uint32_t)p);
        n->up = false;
        n->inc++;
    }
    while (w->calls) {
        struct call *c = w->calls;
        w->calls = c->next;
        if (!c->done && c->kind == CALL_REPLICA)
            c->fn(NULL, c->ctx, ERR_SHUTDOWN, NULL, 0);
        else if (!c->done && c->kind == CALL_BEACON)
            beacon_free(c->beacon);
        else if (!c->done && c->kind == CALL_DUP_SYNC)
            msg_dup_sync_req_fini(&c->sync);
        else if (!c->done && c->kind == CALL_REMOTE)
            xfree(c->ctx); /* a shipper's batch context */
        xfree(c);
    }
    xfree(w->heap); /* what the events left behind is small, and this process ends soon */
    for (int c = 0; c < w->nclusters; c++) {
        meta_state_destroy(w->clusters[c].meta);
        meta_store_destroy(w->clusters[c].store);
        meta_mem_tree_destroy(w->clusters[c].tree);
    }
    for (int c = 0; c < w->o.clients; c++)
        xfree(w->acked[c]);
    unit_rm_rf(w->dir);
}

/* Runs the events due up to virtual time end_us (or until a check failed). */
static void
run_until(int64_t end_us)
{
    while (W->nheap > 0 && W->res->error[0] == '\0' && W->heap[0].at_us <= end_us) {
        struct event e = pop();
        W->now_us = e.at_us;
        e.fn(e.arg);
    }
    W->now_us = end_us;
}

/* Every partition of every cluster has a serving primary and all its members serving. */
static bool
settled(void)
{
    for (int c = 0; c < W->nclusters; c++) {
        const struct cluster *cl = &W->clusters[c];
        const struct meta_app *app = meta_state_get_app(cl->meta, cl->app_id);
        for (uint32_t p = 0; app != NULL && p < app->partition_count; p++) {
            const struct partition_config *cfg = &app->parts[p].config;
            if (primary_replica(cl, app, p) == NULL ||
                (!W->o.follower && cfg->nsecondaries + 1 != (uint32_t)W->o.replicas))
                return false;
            for (uint32_t i = 0; i < cfg->nsecondaries; i++) {
                struct node *sn = node_by_addr(cfg->secondaries[i]);
                struct replica *sr = sn ? find_replica(sn, gpid_make(cl->app_id, p)) : NULL;
                if (sr == NULL || sr->role != ROLE_SECONDARY)
                    return false;
            }
        }
    }
    return true;
}

void
sim_run(const struct sim_opts *o, struct sim_result *res)
{
    struct world *w = xcalloc(1, sizeof(*w));
    int saved_level = log_level_current;
    int64_t end_us = (o->fault_ms + o->quiet_ms) * 1000;

    memset(res, 0, sizeof(*res));
    ASSERT(o->clusters >= 1 && o->clusters <= MAX_CLUSTERS && o->nodes * o->clusters <= MAX_NODES &&
           o->partitions <= MAX_PARTS && o->remote_partitions <= MAX_PARTS && o->clients <= 16);
    W = w;
    clock_set_source(virt_mono_us, virt_wall_us);
    world_init(w, o, res);
    for (int i = 0; i < w->nnodes; i++)
        node_start(&w->nodes[i]);
    for (int c = 0; c < w->nclusters; c++) {
        at(0, meta_cron, &w->clusters[c]);
        at(2000000, create_table, &w->clusters[c]);
    }
    if (w->nclusters > 1) { /* the first cluster ships to the second, and back if master-master */
        at(3000000, dup_add, &w->clusters[0]);
        if (o->master_master)
            at(3000000, dup_add, &w->clusters[1]);
    }
    if (o->crash_every_ms > 0)
        at(5000000, nemesis, NULL);
    at(o->fault_ms * 1000, quiet, NULL);
    at((o->fault_ms + o->quiet_ms / 2) * 1000, stop_clients, NULL);
    run_until(end_us);
    /* a configuration change the balancer started late in the quiet period may still be on
     * its way: give it a few beacons */
    for (int i = 0; i < SETTLE_S && !o->follower && !settled() && res->error[0] == '\0'; i++)
        run_until(w->now_us + 1000000);
    for (int c = 0; c < w->nclusters && res->error[0] == '\0'; c++) {
        const struct cluster *cl = &w->clusters[c];
        const struct meta_app *app = meta_state_get_app(cl->meta, cl->app_id);
        if (app == NULL) {
            fail("%s: no table", cl->name);
            break;
        }
        for (uint32_t p = 0; p < app->partition_count; p++)
            if (o->follower)
                check_follower(cl, app, p);
            else
                check_partition(cl, app, p);
    }
    if (res->error[0] == '\0' && !o->follower) {
        check_acked();
        if (w->nclusters > 1)
            check_clusters_equal();
        if (res->acked == 0)
            fail("no write was acknowledged");
    }
    world_fini(w);
    log_set_level(saved_level);
    clock_set_source(NULL, NULL);
    W = NULL;
    xfree(w);
}
