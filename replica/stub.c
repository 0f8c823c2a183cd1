/*
 * stub.c: the replica server process around its partitions: settings, the worker loops and
 * their timers, routing of every request to the loop that owns its partition, and the
 * services the replicas ask of their host (replica_int.h). Beacons are in stub_beacon.c,
 * duplication sync in stub_dup.c; stub_int.h says which thread does what.
 */
#include "replica/stub_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "proto/rpc_codes.h"
#include "proto/server_config.h"
#include "client/geokv_wire.h"
#include "replica/dup_int.h"
#include "replica/file_copy.h"

/* ---------------- the host of the replicas ---------------- */

static bool
stub_lease_valid(const struct replica *r)
{
    return clock_mono_ms() < r->loop->lease_until_ms;
}

/* A table of a remote cluster (replica_int.h): the client's handle, which the client owns. */
struct dup_remote {
    struct dup_remote *next;
    struct geokv_table *table;
};

static int
stub_remote_open(void *self, const char *cluster, const char *app, struct dup_remote **out)
{
    struct stub *s = self;
    struct remote_cluster *rc = NULL;
    struct geokv_table *table;
    int err;
    *out = NULL;
    pthread_mutex_lock(&s->remote_mu);
    for (int i = 0; i < s->nremotes && rc == NULL; i++)
        if (strcmp(s->remotes[i].name, cluster) == 0)
            rc = &s->remotes[i];
    if (rc != NULL && rc->client == NULL) {
        if (geokv_client_create(rc->metas, NULL, &rc->client) != 0)
            LOG_ERROR("duplication: bad meta list for %s: %s", rc->name, rc->metas);
        else
            geokv_client_seal(rc->client); /* another datacenter */
    }
    pthread_mutex_unlock(&s->remote_mu);
    if (rc == NULL || rc->client == NULL)
        return ERR_CONFIG;
    err = geokv_open(rc->client, app, 5000, &table); /* outside the lock: it waits on the meta */
    if (err != 0)
        return err;
    pthread_mutex_lock(&s->remote_mu);
    for (struct dup_remote *t = rc->tables; t != NULL && *out == NULL; t = t->next)
        if (t->table == table)
            *out = t;
    if (*out == NULL) {
        *out = xcalloc(1, sizeof(**out));
        (*out)->table = table;
        (*out)->next = rc->tables;
        rc->tables = *out;
    }
    pthread_mutex_unlock(&s->remote_mu);
    return 0;
}

static uint32_t
stub_remote_partitions(struct dup_remote *t)
{
    return geokv_table_partition_count(t->table);
}

static void
stub_remote_call(void *self, struct dup_remote *t, uint32_t code, uint32_t pidx,
                 const struct buf *body, int timeout_ms, rpc_done_fn *fn, void *arg)
{
    geokv_partition_call_async(t->table, code, pidx, body, timeout_ms, fn, arg);
}

static void
stub_mark_dirty(struct replica *r)
{
    if (r->dirty)
        return;
    r->dirty = true;
    r->next_dirty = r->loop->dirty;
    r->loop->dirty = r;
}

static void
stub_close_replica(struct replica *r)
{
    struct stub_loop *sl = r->loop;
    stub_part_close(sl, r->gpid, false);
    stub_publish(sl);
}

struct stub_loop *
stub_loop_of(struct stub *s, uint64_t gpid)
{
    return &s->loops[(gpid_app(gpid) * 31u + gpid_pidx(gpid)) % (unsigned)s->nloops];
}

struct replica *
stub_find_replica(struct stub_loop *sl, uint64_t gpid, size_t *idx)
{
    for (size_t i = 0; i < sl->nreps; i++)
        if (sl->reps[i]->gpid == gpid) {
            if (idx)
                *idx = i;
            return sl->reps[i];
        }
    return NULL;
}

/* Copies the state the beacon reports. Runs on: replica loop. */
void
stub_publish(struct stub_loop *sl)
{
    ASSERT_ON_LOOP(sl->loop);
    pthread_mutex_lock(&sl->snap_mu);
    sl->snap = xrealloc(sl->snap, (sl->nreps + 1) * sizeof(*sl->snap));
    for (size_t i = 0; i < sl->nreps; i++)
        sl->snap[i] = replica_report(sl->reps[i]);
    sl->nsnap = sl->nreps;
    sl->ndup_snap = 0;
    for (size_t i = 0; i < sl->nreps; i++) {
        struct dup_confirm c[GROUP_CHECK_MAX_DUPS];
        uint32_t n = sl->reps[i]->role == ROLE_PRIMARY
                         ? dup_confirms(sl->reps[i], c, GROUP_CHECK_MAX_DUPS)
                         : 0;
        sl->dup_snap = xrealloc(sl->dup_snap, (sl->ndup_snap + n + 1) * sizeof(*sl->dup_snap));
        memcpy(sl->dup_snap + sl->ndup_snap, c, n * sizeof(*c));
        sl->ndup_snap += n;
    }
    pthread_mutex_unlock(&sl->snap_mu);
}

/*
 * A partition's plog lost durability (a failed fsync: plog_broken). Nothing it logged since
 * its last good sync may be acknowledged, and nothing this process believes about that log
 * can be trusted, so the whole server stops at once, like a crash and without the clean
 * shutdown that would write more (PostgreSQL and etcd stop on a failed fsync too). Restarted,
 * it reopens the plog (which syncs every segment again or fails to open) and catches up from
 * its peers; the meta gives its primaries new ballots. Runs on: replica loop.
 */
static void
stop_if_log_broken(struct replica *r)
{
    int rc = plog_broken(r->plog);
    if (rc == 0)
        return;
    RLOG_ERROR(r,
               "FATAL: the plog lost durability (%s): stopping the server; restart it to "
               "recover",
               err_str(rc));
    _exit(STUB_EXIT_LOG_BROKEN);
}

/* Group commit of everything the batch of tasks wrote. Runs on: replica loop. */
static void
loop_before_sleep(void *arg)
{
    struct stub_loop *sl = arg;
    ASSERT_ON_LOOP(sl->loop);
    bool any = sl->dirty != NULL;
    while (sl->dirty) {
        struct replica *r = sl->dirty;
        sl->dirty = r->next_dirty;
        r->dirty = false;
        replica_flush(r);
        stop_if_log_broken(r);
    }
    if (any)
        stub_publish(sl);
}

/* ---------------- request routing ---------------- */

struct req_task {
    struct stub_loop *sl;
    struct rpc_request *req;
};

static void
on_partition_info(struct replica *r, struct rpc_request *req)
{
    struct dup_arrival arrivals[128];
    struct msg_partition_info_resp m = {r->ballot,
                                        r->last_committed,
                                        r->last_durable,
                                        plog_first_decree(r->plog),
                                        plog_last_decree(r->plog),
                                        r->deny_write,
                                        0,
                                        arrivals,
                                        r->role,
                                        r->ndup_sources,
                                        r->dup_sources};
    struct buf out = BUF_INIT;
    for (uint32_t id = 0; id < 128; id++)
        if (r->dup_arrived_us[id] != 0)
            arrivals[m.narrivals++] = (struct dup_arrival){id, r->dup_arrived_us[id]};
    msg_partition_info_resp_encode(&out, &m);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
}

static void
on_checkpoint(struct replica *r, struct rpc_request *req)
{
    struct msg_checkpoint_resp m = {0};
    struct buf out = BUF_INIT;
    int rc;
    replica_flush(r);
    rc = replica_checkpoint(r, &m.decree, m.dir, sizeof(m.dir));
    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    msg_checkpoint_resp_encode(&out, &m);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
}

static void
timed_read(struct replica *r, struct rpc_request *req,
           void (*handler)(struct replica *, struct rpc_request *))
{
    int64_t t0 = clock_mono_us();
    int rc = replica_check_primary(r);
    if (rc != 0) {
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    handler(r, req);
    metric_add(r->read_ops, 1);
    metric_observe(r->read_latency, clock_mono_us() - t0);
}

enum route_kind { ROUTE_NONE, ROUTE_PARTITION, ROUTE_READ, ROUTE_FILES, ROUTE_RECEIVE };

struct route {
    enum route_kind kind;
    void (*on_partition)(struct replica *r, struct rpc_request *req); /* PARTITION, READ */
    void (*on_files)(const char *data_dir, struct rpc_request *req);  /* FILES */
    void (*on_receive)(struct rpc_request *req);                      /* RECEIVE */
};

/* Indexed by code (stub_routes.def). */
static const struct route routes[] = {
#define PARTITION(code, fn) [code] = {ROUTE_PARTITION, fn, NULL, NULL},
#define READ(code, fn) [code] = {ROUTE_READ, fn, NULL, NULL},
#define FILES(code, fn) [code] = {ROUTE_FILES, NULL, fn, NULL},
#define RECEIVE(code, fn) [code] = {ROUTE_RECEIVE, NULL, NULL, fn},
#include "replica/stub_routes.def"
#undef PARTITION
#undef READ
#undef FILES
#undef RECEIVE
};

static const struct route *
route_of(uint32_t code)
{
    static const struct route none = {ROUTE_NONE, NULL, NULL, NULL};
    return code < sizeof(routes) / sizeof(routes[0]) ? &routes[code] : &none;
}

/* Runs on: replica loop. */
static void
run_request(void *arg)
{
    struct req_task *t = arg;
    struct rpc_request *req = t->req;
    const struct route *rt = route_of(req->env.code);
    struct replica *r = stub_find_replica(t->sl, req->env.gpid, NULL);
    ASSERT_ON_LOOP(t->sl->loop);
    xfree(t);
    if (r == NULL)
        rpc_reply(req, ERR_PARTITION_NOT_HERE, NULL, 0);
    else if (rt->kind == ROUTE_READ)
        timed_read(r, req, rt->on_partition);
    else
        rt->on_partition(r, req);
}

struct file_task {
    struct stub *stub;
    struct rpc_request *req;
};

/* Runs on: file-serve loop. */
static void
run_file_request(void *arg)
{
    struct file_task *t = arg;
    ASSERT_ON_LOOP(t->stub->file_serve);
    route_of(t->req->env.code)->on_files(t->stub->data_dir, t->req);
    xfree(t);
}

/* Runs on: RPC server thread. */
static void
on_request(void *arg, struct rpc_request *req)
{
    struct stub *s = arg;
    const struct route *rt = route_of(req->env.code);
    struct req_task *t;
    struct file_task *ft;
    switch (rt->kind) {
    case ROUTE_FILES:
        ft = xmalloc(sizeof(*ft));
        *ft = (struct file_task){s, req};
        loop_post(s->file_serve, run_file_request, ft);
        return;
    case ROUTE_RECEIVE: rt->on_receive(req); return;
    case ROUTE_PARTITION:
    case ROUTE_READ:
        t = xmalloc(sizeof(*t));
        t->sl = stub_loop_of(s, req->env.gpid);
        t->req = req;
        loop_post(t->sl->loop, run_request, t);
        return;
    case ROUTE_NONE:
        LOG_WARN("replica: unknown rpc code %u", req->env.code);
        rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
    }
}

/* ---------------- outgoing calls and blocking work for replicas ---------------- */

struct call_ctx {
    struct stub_loop *sl;
    uint64_t gpid;
    replica_reply_fn *fn;
    void *ctx;
    int err;
    struct buf body;
};

/* Runs on: replica loop. */
static void
run_call_done(void *arg)
{
    struct call_ctx *c = arg;
    ASSERT_ON_LOOP(c->sl->loop);
    c->fn(stub_find_replica(c->sl, c->gpid, NULL), c->ctx, c->err, c->body.data, c->body.len);
    buf_fini(&c->body);
    xfree(c);
}

/* Runs on: RPC client thread (or the caller's, when the send fails at once). */
static void
on_call_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct call_ctx *c = arg;
    c->err = err;
    if (body)
        buf_append(&c->body, body, len);
    loop_post(c->sl->loop, run_call_done, c);
}

static void
stub_call(struct replica *r, const char *addr, uint32_t code, const struct buf *body,
          int timeout_ms, replica_reply_fn *fn, void *ctx)
{
    struct stub *s = r->loop->stub;
    struct call_ctx *c = xcalloc(1, sizeof(*c));
    c->sl = r->loop;
    c->gpid = r->gpid;
    c->fn = fn;
    c->ctx = ctx;
    if (atomic_load(&s->stopping)) {
        on_call_done(c, ERR_SHUTDOWN, NULL, 0);
        return;
    }
    rpc_call_async(s->client, addr, code, r->gpid, r->ballot, body->data, body->len, timeout_ms,
                   on_call_done, c);
}

static void
stub_call_meta(struct replica *r, uint32_t code, const struct buf *body, replica_reply_fn *fn,
               void *ctx)
{
    struct stub *s = r->loop->stub;
    const char *meta = s->metas[atomic_load(&s->meta_idx)];
    stub_call(r, meta, code, body, (int)s->beacon_interval_ms * 3, fn, ctx);
}

struct blocking_job {
    struct stub_loop *sl;
    uint64_t gpid;
    replica_work_fn *fn;
    replica_done_fn *done;
    void *ctx;
};

/* Runs on: replica loop. */
static void
run_blocking_done(void *arg)
{
    struct blocking_job *job = arg;
    ASSERT_ON_LOOP(job->sl->loop);
    job->done(stub_find_replica(job->sl, job->gpid, NULL), job->ctx);
    xfree(job);
}

/* Runs on: blocking loop. */
static void
run_blocking(void *arg)
{
    struct blocking_job *job = arg;
    job->fn(job->ctx);
    loop_post(job->sl->loop, run_blocking_done, job);
}

static void
stub_post(void *self, uint64_t gpid, replica_done_fn *fn, void *ctx)
{
    struct blocking_job *job = xmalloc(sizeof(*job));
    *job = (struct blocking_job){stub_loop_of(self, gpid), gpid, NULL, fn, ctx};
    loop_post(job->sl->loop, run_blocking_done, job);
}

static void
stub_run_blocking(struct replica *r, enum replica_worker w, replica_work_fn *fn,
                  replica_done_fn *done, void *ctx)
{
    struct stub *s = r->loop->stub;
    struct blocking_job *job = xmalloc(sizeof(*job));
    *job = (struct blocking_job){r->loop, r->gpid, fn, done, ctx};
    if (atomic_load(&s->stopping)) /* done without the work: ctx says it did not run */
        loop_post(job->sl->loop, run_blocking_done, job);
    else
        loop_post(w == WORKER_FOLLOW_COPY ? s->follow_copy : s->blocking, run_blocking, job);
}

/* ---------------- loop timers ---------------- */

static void
loop_gc_cron(void *arg)
{
    struct stub_loop *sl = arg;
    for (size_t i = 0; i < sl->nreps; i++) {
        struct replica *r = sl->reps[i];
        /* a learner does not know yet which decrees duplications still need (group checks
         * tell a member): it keeps what it learnt */
        if ((int64_t)plog_size_bytes(r->plog) < sl->stub->gc_plog_bytes || r->role == ROLE_LEARNER)
            continue;
        replica_flush(r);
        if (replica_gc(r) != 0)
            RLOG_WARN(r, "plog garbage collection failed");
    }
}

/* Duplication: retries and shipping that no commit triggered; the loop's figures for
 * /metrics. */
static void
loop_dup_cron(void *arg)
{
    struct stub_loop *sl = arg;
    int64_t now = clock_mono_ms(), plog_bytes = 0, lag = 0;
    for (size_t i = 0; i < sl->nreps; i++) {
        dup_tick(sl->reps[i]);
        plog_bytes += (int64_t)plog_size_bytes(sl->reps[i]->plog);
        if (dup_lag_ms(sl->reps[i], now) > lag)
            lag = dup_lag_ms(sl->reps[i], now);
    }
    atomic_store(&sl->plog_bytes, plog_bytes);
    atomic_store(&sl->dup_lag_ms, lag);
    stub_publish(sl);
}

/* Group checks (primaries) and learn rounds (learners). */
static void
loop_group_cron(void *arg)
{
    struct stub_loop *sl = arg;
    for (size_t i = 0; i < sl->nreps; i++) {
        stop_if_log_broken(sl->reps[i]); /* broken outside a flush (a learner's truncate) */
        replica_group_check_cron(sl->reps[i]);
        replica_learn_cron(sl->reps[i]);
        dup_full_tick(sl->reps[i]);
    }
    stub_publish(sl);
}

static void
loop_sync_cron(void *arg)
{
    struct stub_loop *sl = arg;
    for (size_t i = 0; i < sl->nreps; i++)
        if (plog_sync_if_due(sl->reps[i]->plog) != 0)
            stop_if_log_broken(sl->reps[i]);
}

/* ---------------- life cycle ---------------- */

static int
parse_meta_list(struct stub *s, const char *list)
{
    char *copy = xstrdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok && s->nmetas < MAX_METAS;
         tok = strtok_r(NULL, ", ", &save))
        snprintf(s->metas[s->nmetas++], GEOKV_ADDR_MAX, "%s", tok);
    xfree(copy);
    return s->nmetas > 0 ? 0 : ERR_CONFIG;
}

static int
read_int(struct stub *s, const char *sec, const char *key, int64_t def, int64_t min, int64_t *out)
{
    int rc = config_get_int(s->cfg, sec, key, def, out);
    if (rc != 0 || *out < min) {
        LOG_ERROR("config: [%s] %s = %s is not a number >= %" PRId64, sec, key,
                  config_get_str(s->cfg, sec, key, "?"), min);
        return ERR_CONFIG;
    }
    return 0;
}

static int
read_plog_fsync(struct stub *s)
{
    static const char *names[] = {"always", "interval", "never"};
    const char *v = config_get_str(s->cfg, "replication", "plog_fsync", "always");
    for (int i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) {
            s->plog_opts.fsync_mode = i;
            return 0;
        }
    LOG_ERROR("config: [replication] plog_fsync = %s: expected always, interval or never", v);
    return ERR_CONFIG;
}

static void
add_cluster_id(void *arg, const char *key, const char *value)
{
    struct stub *s = arg;
    long id = strtol(value, NULL, 10);
    if (id > 0 && id < 128)
        s->replica_opts.cluster_ids[id] = true;
}

static void
add_remote(void *arg, const char *key, const char *value)
{
    struct stub *s = arg;
    if (s->nremotes == 16)
        return;
    snprintf(s->remotes[s->nremotes].name, GEOKV_APP_NAME_MAX, "%s", key);
    snprintf(s->remotes[s->nremotes].metas, sizeof(s->remotes[0].metas), "%s", value);
    s->nremotes++;
}

/* [replication] duplication_*, [duplication-group], [pegasus.clusters]; the batch size and
 * the lagging threshold are run-time settings (common/runtime_config.h). */
static int
read_dup_config(struct stub *s)
{
    int64_t v;
    int rc = config_get_bool(s->cfg, "replication", "duplication_enabled", true, &s->dup_enabled);
    if (rc != 0)
        LOG_ERROR("config: [replication] duplication_enabled is not a boolean");
    rc = rc ? rc : read_int(s, "replication", "dup_fail_skip_retries", 3, 1, &v);
    s->replica_opts.dup_skip_retries = (int)v;
    rc = rc ? rc : read_int(s, "replication", "dup_sync_interval_ms", 1000, 10, &s->dup_sync_ms);
    config_each(s->cfg, "duplication-group", add_cluster_id, s);
    config_each(s->cfg, "pegasus.clusters", add_remote, s);
    return rc;
}

/* Reads every setting; logs and returns ERR_CONFIG on a bad one. */
static int
stub_read_config(struct stub *s)
{
    const char *cluster = config_get_str(s->cfg, "cluster", "name", "onebox");
    int64_t v, threads, ack_timeout = 0;
    int rc = 0;
    if (parse_meta_list(s, config_get_str(s->cfg, "cluster", "meta_servers", "")) != 0) {
        LOG_ERROR("config: [cluster] meta_servers is empty");
        return ERR_CONFIG;
    }
    rc = rc ? rc : read_int(s, "replica_server", "worker_threads", 2, 1, &threads);
    rc = rc ? rc
            : read_int(s, "replica_server", "beacon_interval_ms", 1000, 10, &s->beacon_interval_ms);
    rc = rc ? rc
            : read_int(s, "replication", "group_check_interval_ms", 500, 10,
                       &s->replica_opts.group_check_ms);
    rc = rc ? rc : read_int(s, "replication", "secondary_ack_timeout_ms", 10000, 100, &ack_timeout);
    rc = rc ? rc : read_int(s, "replication", "plog_segment_bytes", 64 << 20, 4096, &v);
    s->plog_opts.segment_bytes = (size_t)v;
    rc = rc ? rc
            : read_int(s, "replication", "plog_fsync_interval_ms", 10, 1,
                       &s->plog_opts.fsync_interval_ms);
    rc = rc ? rc : read_int(s, "replication", "plog_gc_bytes", 64 << 20, 0, &s->gc_plog_bytes);
    rc = rc ? rc : read_int(s, "replication", "plog_gc_interval_ms", 10000, 10, &s->gc_interval_ms);
    rc = rc ? rc : read_int(s, "replication", "max_value_bytes", 1 << 20, 1, &v);
    s->replica_opts.max_value_bytes = (size_t)v;
    rc = rc ? rc : read_int(s, "replication", "tombstone_ttl_seconds", 86400, 1, &v);
    s->storage_opts.tombstone_ttl_s = (uint32_t)v;
    /* 8 MiB memtables keep a server with 8+ partitions well under 300 MiB resident */
    rc = rc ? rc : read_int(s, "rocksdb", "write_buffer_bytes", 8 << 20, 1 << 20, &v);
    s->storage_opts.write_buffer_bytes = (size_t)v;
    rc = rc ? rc : read_int(s, "rocksdb", "block_cache_bytes", 8 << 20, 0, &v);
    s->storage_opts.block_cache_bytes = (size_t)v;
    rc = rc ? rc : read_int(s, "duplication-group", cluster, 1, 1, &v);
    if (rc == 0 && v > 127) {
        LOG_ERROR("config: [duplication-group] %s = %" PRId64 ": cluster ids are 1..127", cluster,
                  v);
        rc = ERR_CONFIG;
    }
    rc = rc ? rc : read_plog_fsync(s);
    rc = rc ? rc : read_dup_config(s);
    s->replica_opts.plog = &s->plog_opts;
    s->replica_opts.storage = &s->storage_opts;
    s->replica_opts.host = &s->host;
    s->replica_opts.cluster_id = (unsigned)v;
    s->replica_opts.ack_timeout_ms = ack_timeout;
    s->replica_opts.stopping = &s->stopping;
    s->replica_opts.copy_rate_mb = runtime_config_find(RC_NFS_COPY_RATE_MB);
    s->replica_opts.dup_batch_bytes = runtime_config_find(RC_DUPLICATE_LOG_BATCH_BYTES);
    s->replica_opts.dup_lagging_ms = runtime_config_find(RC_DUP_LAGGING_WRITE_THRESHOLD_MS);
    ASSERT(s->replica_opts.copy_rate_mb && s->replica_opts.dup_batch_bytes &&
           s->replica_opts.dup_lagging_ms); /* main registers them first */
    snprintf(s->replica_opts.address, sizeof(s->replica_opts.address), "%s", s->address);
    s->nloops = (int)threads;
    return rc;
}

int
stub_create(struct config *cfg, const char *address, const char *data_dir, struct stub **out)
{
    struct stub *s = xcalloc(1, sizeof(*s));
    int rc;
    *out = NULL;
    s->cfg = cfg;
    s->host = (struct replica_host){s,
                                    stub_mark_dirty,
                                    stub_close_replica,
                                    stub_lease_valid,
                                    stub_call,
                                    stub_call_meta,
                                    stub_run_blocking,
                                    stub_post,
                                    stub_remote_open,
                                    stub_remote_partitions,
                                    stub_remote_call};
    snprintf(s->address, sizeof(s->address), "%s", address);
    snprintf(s->data_dir, sizeof(s->data_dir), "%s", data_dir);
    dup_metrics_register();
    rc = stub_read_config(s);
    if (rc == 0 && (rc = file_mkdir_p(data_dir)) != 0)
        LOG_ERROR("cannot create data dir %s: %s", data_dir, err_str(rc));
    if (rc != 0) {
        xfree(s);
        return rc;
    }
    pthread_mutex_init(&s->remote_mu, NULL);
    s->loops = xcalloc((size_t)s->nloops, sizeof(*s->loops));
    for (int i = 0; i < s->nloops; i++) {
        struct stub_loop *sl = &s->loops[i];
        char name[16];
        snprintf(name, sizeof(name), "replica-%d", i % 1000);
        sl->stub = s;
        sl->loop = loop_create(name);
        pthread_mutex_init(&sl->snap_mu, NULL);
        loop_set_before_sleep(sl->loop, loop_before_sleep, sl);
        loop_add_timer(sl->loop, s->gc_interval_ms, loop_gc_cron, sl);
        loop_add_timer(sl->loop, s->replica_opts.group_check_ms, loop_group_cron, sl);
        loop_add_timer(sl->loop, 50, loop_dup_cron, sl);
        if (s->plog_opts.fsync_mode == PLOG_FSYNC_INTERVAL)
            loop_add_timer(sl->loop, s->plog_opts.fsync_interval_ms, loop_sync_cron, sl);
        loop_start(sl->loop);
    }
    s->client = rpc_client_create();
    s->blocking = loop_create("blocking");
    loop_start(s->blocking);
    s->follow_copy = loop_create("follow-copy");
    loop_start(s->follow_copy);
    s->file_serve = loop_create("file-serve");
    loop_start(s->file_serve);
    rc = rpc_server_create(address, on_request, s, &s->server);
    if (rc != 0) {
        stub_destroy(s);
        return rc;
    }
    rpc_server_start(s->server);
    s->beacon = loop_create("beacon");
    loop_add_timer(s->beacon, s->beacon_interval_ms, stub_beacon_cron, s);
    if (s->dup_enabled)
        loop_add_timer(s->beacon, s->dup_sync_ms, stub_dup_sync_cron, s);
    loop_post(s->beacon, stub_beacon_cron, s); /* first beacon at once */
    loop_start(s->beacon);
    LOG_INFO("replica server %s serving, data in %s, %d worker loops, metas %s", address, data_dir,
             s->nloops, config_get_str(cfg, "cluster", "meta_servers", ""));
    *out = s;
    return 0;
}

static void
close_all(void *arg)
{
    struct stub_loop *sl = arg;
    while (sl->nreps > 0)
        stub_part_close(sl, sl->reps[0]->gpid, false);
    sl->dirty = NULL;
}

void
stub_destroy(struct stub *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stopping, true);
    loop_destroy(s->beacon);
    if (s->server)
        rpc_server_stop(s->server); /* no new requests; queued ones are still answered */
    loop_destroy(s->blocking);      /* a running copy sees `stopping` and ends */
    loop_destroy(s->follow_copy);
    loop_destroy(s->file_serve);
    for (int i = 0; i < s->nremotes; i++) { /* waits for shipments in flight; their ends post */
        if (s->remotes[i].client)
            geokv_client_destroy(s->remotes[i].client);
        while (s->remotes[i].tables != NULL) {
            struct dup_remote *t = s->remotes[i].tables;
            s->remotes[i].tables = t->next;
            xfree(t);
        }
    }
    rpc_client_destroy(s->client); /* fails calls in flight: their completions are posted */
    for (int i = 0; i < s->nloops; i++) {
        loop_post(s->loops[i].loop, close_all, &s->loops[i]);
        loop_destroy(s->loops[i].loop);
        pthread_mutex_destroy(&s->loops[i].snap_mu);
        xfree(s->loops[i].reps);
        xfree(s->loops[i].snap);
        xfree(s->loops[i].dup_snap);
    }
    rpc_server_destroy(s->server);
    xfree(s->loops);
    xfree(s);
}
