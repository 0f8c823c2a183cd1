/*
 * stub_beacon.c: the replica server's beacons. Every beacon_interval_ms the beacon thread
 * reports what the loops published to the meta leader, then posts to each loop what the
 * answer asks (open, reconfigure, close, drop partitions) and the renewed lease, in that
 * order (stub_int.h).
 */
#include "replica/stub_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"

/* ---------------- partition assignment ---------------- */

struct part_task {
    struct stub_loop *sl;
    enum part_action action;
    struct replica_assign assign; /* PART_ASSIGN: role and configuration; else only gpid */
};

static void
partition_dir(const struct stub *s, uint64_t gpid, char *out, size_t len)
{
    snprintf(out, len, "%s/%u.%u", s->data_dir, gpid_app(gpid), gpid_pidx(gpid));
}

/* Opens the partition if needed and adopts the assigned role and configuration. */
static void
part_assign(struct stub_loop *sl, const struct replica_assign *a)
{
    struct replica *r = stub_find_replica(sl, a->gpid, NULL);
    char dir[512];
    if (r == NULL) {
        partition_dir(sl->stub, a->gpid, dir, sizeof(dir));
        if (replica_open(a->gpid, dir, &sl->stub->replica_opts, &r) != 0)
            return; /* logged; the next beacon retries */
        r->loop = sl;
        sl->reps = xrealloc(sl->reps, (sl->nreps + 1) * sizeof(*sl->reps));
        sl->reps[sl->nreps++] = r;
    }
    replica_adopt_assignment(r, a);
}

void
stub_part_close(struct stub_loop *sl, uint64_t gpid, bool drop)
{
    size_t idx;
    struct replica *r = stub_find_replica(sl, gpid, &idx);
    char dir[512], gar[600];
    if (r != NULL) {
        RLOG_INFO(r, "%s", drop ? "table dropped: closing" : "no longer assigned here: closing");
        if (r->dirty) { /* unlink from the dirty list; close commits it anyway */
            struct replica **pp = &sl->dirty;
            while (*pp != r)
                pp = &(*pp)->next_dirty;
            *pp = r->next_dirty;
        }
        replica_close(r);
        sl->reps[idx] = sl->reps[--sl->nreps];
    }
    if (!drop)
        return;
    /* keep the files of a dropped table aside for the operator rather than deleting them */
    partition_dir(sl->stub, gpid, dir, sizeof(dir));
    snprintf(gar, sizeof(gar), "%s.dropped.%" PRId64, dir, clock_wall_s());
    if (rename(dir, gar) != 0 && errno != ENOENT)
        LOG_WARN("rename %s -> %s: %s", dir, gar, strerror(errno));
}

/* Runs on: replica loop. */
static void
run_part_task(void *arg)
{
    struct part_task *t = arg;
    ASSERT_ON_LOOP(t->sl->loop);
    if (t->action == PART_ASSIGN)
        part_assign(t->sl, &t->assign);
    else
        stub_part_close(t->sl, t->assign.gpid, t->action == PART_DROP);
    stub_publish(t->sl);
    xfree(t);
}

/* A beacon_action_fn: posts the action to the loop that owns gpid. */
static void
post_part_task(void *arg, enum part_action action, uint64_t gpid, const struct replica_assign *a)
{
    struct stub *s = arg;
    struct part_task *t = xcalloc(1, sizeof(*t));
    t->sl = stub_loop_of(s, gpid);
    t->action = action;
    if (a)
        t->assign = *a;
    t->assign.gpid = gpid;
    loop_post(t->sl->loop, run_part_task, t);
}

/* ---------------- beacon ---------------- */

static bool
assigned(const struct msg_beacon_resp *resp, uint64_t gpid)
{
    for (uint32_t i = 0; i < resp->nassign; i++)
        if (resp->assign[i].gpid == gpid)
            return true;
    return false;
}

void
stub_beacon_actions(const struct msg_beacon_req *req, const struct msg_beacon_resp *resp,
                    beacon_action_fn *fn, void *arg)
{
    for (uint32_t i = 0; i < resp->nassign; i++) {
        const struct replica_report *have = NULL;
        for (uint32_t k = 0; k < req->nreplicas; k++)
            if (req->replicas[k].gpid == resp->assign[i].gpid)
                have = &req->replicas[k];
        if (have == NULL || have->ballot <= resp->assign[i].ballot)
            fn(arg, PART_ASSIGN, resp->assign[i].gpid, &resp->assign[i]);
    }
    for (uint32_t i = 0; i < resp->ndrop; i++)
        fn(arg, PART_DROP, resp->drop[i], NULL);
    for (uint32_t k = 0; k < req->nreplicas; k++)
        if (!assigned(resp, req->replicas[k].gpid))
            fn(arg, PART_CLOSE, req->replicas[k].gpid, NULL);
}

struct lease_task {
    struct stub_loop *sl;
    int64_t until_ms;
};

/* Runs on: replica loop. */
static void
run_lease_task(void *arg)
{
    struct lease_task *t = arg;
    ASSERT_ON_LOOP(t->sl->loop);
    if (t->until_ms > t->sl->lease_until_ms)
        t->sl->lease_until_ms = t->until_ms;
    xfree(t);
}

/* Applies the meta's answer: open what is assigned, close what is not, drop what was dropped;
 * then renews the lease. Each loop runs its tasks in order, so a primary the meta deposed has
 * left the role before the lease it came with is renewed, and never serves on it. */
static void
beacon_apply(struct stub *s, const struct msg_beacon_req *req, const struct msg_beacon_resp *resp,
             int64_t lease_until_ms)
{
    if (FAIL_POINT("beacon_apply_delay"))
        usleep(1000 * 1000); /* a slow beacon thread: the lease must not outrun the roles */
    stub_beacon_actions(req, resp, post_part_task, s);
    for (int i = 0; i < s->nloops; i++) {
        struct lease_task *t = xmalloc(sizeof(*t));
        *t = (struct lease_task){&s->loops[i], lease_until_ms};
        loop_post(s->loops[i].loop, run_lease_task, t);
    }
}

static void
beacon_collect(struct stub *s, struct msg_beacon_req *req)
{
    memset(req, 0, sizeof(*req));
    snprintf(req->address, sizeof(req->address), "%s", s->address);
    for (int i = 0; i < s->nloops; i++) {
        struct stub_loop *sl = &s->loops[i];
        pthread_mutex_lock(&sl->snap_mu);
        req->replicas =
            xrealloc(req->replicas, (req->nreplicas + sl->nsnap + 1) * sizeof(*req->replicas));
        memcpy(req->replicas + req->nreplicas, sl->snap, sl->nsnap * sizeof(*sl->snap));
        req->nreplicas += (uint32_t)sl->nsnap;
        pthread_mutex_unlock(&sl->snap_mu);
    }
}

static void
gauge_set(const char *name, const char *labels, const char *help, int64_t v)
{
    metric_set(metric_get(METRIC_GAUGE, name, labels, help), v);
}

/* The server's gauges on /metrics, refreshed with each beacon: partitions by role (from the
 * report), plog bytes and duplication lag (from the loops), the data directory's filesystem. */
static void
server_metrics(struct stub *s, const struct msg_beacon_req *req)
{
    static const char *roles[] = {"inactive", "primary", "secondary", "learner"};
    int64_t count[4] = {0}, plog_bytes = 0, lag = 0;
    struct statvfs v;
    char labels[32];
    for (uint32_t i = 0; i < req->nreplicas; i++)
        if (req->replicas[i].role < 4)
            count[req->replicas[i].role]++;
    for (int i = 0; i < 4; i++) {
        snprintf(labels, sizeof(labels), "role=\"%s\"", roles[i]);
        gauge_set("geokv_replica_partitions", labels, "partitions this server holds, by role",
                  count[i]);
    }
    for (int i = 0; i < s->nloops; i++) {
        plog_bytes += atomic_load(&s->loops[i].plog_bytes);
        if (atomic_load(&s->loops[i].dup_lag_ms) > lag)
            lag = atomic_load(&s->loops[i].dup_lag_ms);
    }
    gauge_set("geokv_replica_plog_bytes", NULL, "bytes in the plogs of this server's partitions",
              plog_bytes);
    gauge_set("geokv_dup_lag_seconds", NULL,
              "how long the oldest write not yet confirmed by a remote cluster has waited since "
              "it committed, over this server's primaries (0: none waits)",
              lag / 1000);
    if (statvfs(s->data_dir, &v) == 0) {
        gauge_set("geokv_replica_data_dir_size_bytes", NULL,
                  "size of the filesystem holding the data directory",
                  (int64_t)v.f_blocks * (int64_t)v.f_frsize);
        gauge_set("geokv_replica_data_dir_available_bytes", NULL,
                  "bytes available to this server on the filesystem of the data directory",
                  (int64_t)v.f_bavail * (int64_t)v.f_frsize);
    }
}

/* A call to the meta leader: follows a redirect once, moves to the next meta on failure.
 * Runs on: beacon loop. */
int
stub_meta_call(struct stub *s, uint32_t code, const struct buf *body, struct buf *reply)
{
    int rc = ERR_NO_LEADER;
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *meta = s->metas[atomic_load(&s->meta_idx)];
        struct msg_redirect redir;
        buf_reset(reply);
        rc = rpc_call(s->client, meta, code, 0, 0, body->data, body->len,
                      (int)s->beacon_interval_ms, reply);
        if (rc == ERR_FORWARD_TO_LEADER &&
            msg_redirect_decode(reply->data, reply->len, &redir) == 0 && redir.leader[0]) {
            for (int i = 0; i < s->nmetas; i++)
                if (strcmp(s->metas[i], redir.leader) == 0)
                    atomic_store(&s->meta_idx, i);
            continue;
        }
        if (rc != 0)
            atomic_store(&s->meta_idx, (atomic_load(&s->meta_idx) + 1) % s->nmetas);
        break;
    }
    return rc;
}

/* Sends one beacon and applies the answer. Runs on: beacon loop. */
void
stub_beacon_cron(void *arg)
{
    struct stub *s = arg;
    struct msg_beacon_req req;
    struct buf body = BUF_INIT, reply = BUF_INIT;
    int rc;
    int64_t sent_ms = clock_mono_ms();
    beacon_collect(s, &req);
    server_metrics(s, &req);
    msg_beacon_req_encode(&body, &req);
    rc = stub_meta_call(s, RPC_BEACON, &body, &reply);
    if (rc == 0) {
        struct msg_beacon_resp resp;
        if (msg_beacon_resp_decode(reply.data, reply.len, &resp) == 0) {
            /* measured from the send: the meta's grace period starts later than this */
            beacon_apply(s, &req, &resp, sent_ms + resp.lease_ms);
            msg_beacon_resp_fini(&resp);
        } else {
            LOG_WARN("beacon: undecodable reply from %s", s->metas[atomic_load(&s->meta_idx)]);
        }
    } else {
        LOG_DEBUG("beacon: %s", err_name(rc));
    }
    msg_beacon_req_fini(&req);
    buf_fini(&body);
    buf_fini(&reply);
}
