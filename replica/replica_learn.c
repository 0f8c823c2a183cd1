/*
 * replica_learn.c: a new or returning replica catches up with the primary while writes go on.
 *
 * The learner asks (RPC_LEARN) with its last committed decree. If the primary's plog still
 * holds everything after it, the primary answers with those committed mutations (a bounded
 * amount per round); once a round reaches the primary's commit point it also sends its
 * prepared decrees and from then on sends the learner every prepare ("done"). Otherwise the
 * primary makes a checkpoint; the learner copies its files (verified, resumable: file_copy.h)
 * on the blocking loop, installs them and asks again from the checkpoint's decree.
 * When the learner has acknowledged everything committed, the primary asks the meta to make
 * it a secondary (replica_2pc.c check_learners).
 * Runs on: replica loop (the copy on the blocking loop).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/file_copy.h"
#include "replica/replica_int.h"

#define LEARN_BATCH_BYTES (8u << 20) /* committed mutation bytes per learn round */
#define LEARN_TIMEOUT_MS 30000
#define LEARN_STALL_MS 10000 /* done, but no prepare or group check for this long: learn again */

/* ---------------- primary ---------------- */

struct learn_collect {
    decree_t upto;
    struct buf arena;
    size_t *offs, *lens;
    uint32_t n, cap;
};

static int
collect_one(void *arg, decree_t decree, const uint8_t *payload, size_t len)
{
    struct learn_collect *c = arg;
    if (decree > c->upto || c->arena.len >= LEARN_BATCH_BYTES)
        return 1;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->offs = xrealloc(c->offs, c->cap * sizeof(*c->offs));
        c->lens = xrealloc(c->lens, c->cap * sizeof(*c->lens));
    }
    c->offs[c->n] = c->arena.len;
    c->lens[c->n++] = len;
    buf_append(&c->arena, payload, len);
    return 0;
}

/* Adds (or resets) the learner as a peer that gets every prepare after `sent`. */
static void
add_learner_peer(struct replica *r, const char *addr, decree_t acked, decree_t sent)
{
    struct peer *p = NULL;
    for (int i = 0; i < r->npeers; i++)
        if (strcmp(r->peers[i].addr, addr) == 0)
            p = &r->peers[i];
    if (p == NULL) {
        if (r->npeers == GEOKV_MAX_REPLICAS)
            return;
        p = &r->peers[r->npeers++];
        memset(p, 0, sizeof(*p));
        snprintf(p->addr, sizeof(p->addr), "%s", addr);
    }
    if (p->member)
        return;
    p->acked = acked;
    p->sent = sent;
    p->inflight = 0; /* replies still out belong to the old generation */
    p->retry_at_ms = 0;
    p->gen = replica_peer_gen();
}

/* Answers from the plog: committed decrees after `from`, and, if that reaches the commit
 * point, the prepared ones too (done). */
static void
learn_from_log(struct replica *r, struct rpc_request *req, const struct msg_learn_req *lr)
{
    struct learn_collect c = {.upto = r->last_committed};
    struct msg_learn_resp resp = {.primary_committed = r->last_committed};
    struct buf out = BUF_INIT;
    decree_t reached = lr->last_committed;
    int rc = plog_replay(r->plog, lr->last_committed, collect_one, &c);
    if (rc < 0) {
        replica_reply_err(r, req, rc);
        goto out;
    }
    reached += c.n;
    resp.done = reached >= r->last_committed;
    resp.nmutations = c.n + (resp.done ? (uint32_t)r->plist_n : 0);
    resp.mutations = xcalloc(resp.nmutations + 1, sizeof(*resp.mutations));
    for (uint32_t i = 0; i < c.n; i++)
        resp.mutations[i] = bytes_of(c.arena.data + c.offs[i], c.lens[i]);
    for (uint32_t i = c.n; i < resp.nmutations; i++)
        resp.mutations[i] = bytes_of(r->plist[i - c.n].encoded.data, r->plist[i - c.n].encoded.len);
    if (resp.done)
        add_learner_peer(r, lr->learner, lr->last_committed, r->last_prepared);
    msg_learn_resp_encode(&out, &resp);
    rpc_reply(req, 0, out.data, out.len);
    xfree(resp.mutations);
out:
    buf_fini(&out);
    buf_fini(&c.arena);
    xfree(c.offs);
    xfree(c.lens);
}

/*
 * The checkpoint a learner copies. A duplication still needs the decrees after its confirmed
 * decree F from every member's plog (a member may become the primary that ships them), but a
 * learner's plog starts after the checkpoint it copied. So while the checkpoint made at or
 * below F (a full duplication's D_p checkpoint) exists and the plog covers everything after
 * it, the learner gets that one and learns the log from there; otherwise a new one.
 */
static int
learn_checkpoint(struct replica *r, struct msg_learn_resp *resp)
{
    decree_t floor = dup_plog_floor(r), first = plog_first_decree(r->plog);
    struct stat st;

    if (floor != INT64_MAX && r->prev_checkpoint > 0 && r->prev_checkpoint <= floor && first > 0 &&
        r->prev_checkpoint >= first - 1 &&
        snprintf(resp->checkpoint_dir, sizeof(resp->checkpoint_dir), "%s/checkpoint.%" PRId64,
                 r->dir, r->prev_checkpoint) < (int)sizeof(resp->checkpoint_dir) &&
        stat(resp->checkpoint_dir, &st) == 0) {
        resp->checkpoint_decree = r->prev_checkpoint;
        return 0;
    }
    return replica_checkpoint(r, &resp->checkpoint_decree, resp->checkpoint_dir,
                              sizeof(resp->checkpoint_dir));
}

void
replica_on_learn(struct replica *r, struct rpc_request *req)
{
    struct msg_learn_req lr;
    struct msg_learn_resp resp = {0};
    struct buf out = BUF_INIT;
    int rc = replica_check_primary(r);
    if (rc == 0)
        rc = msg_learn_req_decode(req->env.body, req->env.body_len, &lr);
    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    /* the plog still has everything after the learner's point: send mutations */
    if (lr.last_committed >= plog_first_decree(r->plog) - 1 &&
        lr.last_committed <= r->last_committed && plog_first_decree(r->plog) > 0) {
        learn_from_log(r, req, &lr);
        return;
    }
    if (lr.last_committed == r->last_committed && r->plist_n == 0) {
        learn_from_log(r, req, &lr); /* nothing to copy at all */
        return;
    }
    rc = learn_checkpoint(r, &resp);
    if (rc != 0) {
        replica_reply_err(r, req, rc);
        return;
    }
    RLOG_INFO(r, "learner %s at %" PRId64 " is past the plog: checkpoint at %" PRId64, lr.learner,
              lr.last_committed, resp.checkpoint_decree);
    resp.primary_committed = r->last_committed;
    msg_learn_resp_encode(&out, &resp);
    rpc_reply(req, 0, out.data, out.len);
    buf_fini(&out);
}

/* ---------------- learner ---------------- */

struct copy_job {
    const struct replica_opts *opts;
    char primary[GEOKV_ADDR_MAX];
    char remote[512], local[600];
    decree_t decree;
    int rc;
};

/* Runs on: blocking loop. */
static void
copy_checkpoint(void *arg)
{
    struct copy_job *job = arg;
    struct file_copy_opts opts = {.cancel = job->opts->stopping,
                                  .rate_bytes_per_s =
                                      runtime_setting_get(job->opts->copy_rate_mb) * 1000000};
    struct rpc_client *c = rpc_client_create(); /* its own connection: see file_copy.h */
    job->rc = file_copy_dir(c, job->primary, job->remote, job->local, &opts, NULL);
    rpc_client_destroy(c);
}

static void
copy_done(struct replica *r, void *arg)
{
    struct copy_job *job = arg;
    if (r != NULL && (r->role != ROLE_LEARNER || !r->copying)) /* not the learner that asked */
        r = NULL;
    if (r != NULL) {
        if (job->rc == 0)
            job->rc = replica_install_checkpoint(r, job->local, job->decree);
        if (job->rc != 0)
            RLOG_WARN(r, "checkpoint copy from %s failed: %s", job->primary, err_str(job->rc));
        r->learning = false; /* the next round learns the log after the checkpoint */
        r->copying = false;
        if (r->storage == NULL)
            host_close_replica(r);
    }
    xfree(job);
}

static void
start_copy(struct replica *r, const struct msg_learn_resp *resp)
{
    struct copy_job *job = xcalloc(1, sizeof(*job));
    job->opts = r->opts;
    snprintf(job->primary, sizeof(job->primary), "%s", r->config.primary);
    snprintf(job->remote, sizeof(job->remote), "%s", resp->checkpoint_dir);
    snprintf(job->local, sizeof(job->local), "%s/learn.%" PRId64, r->dir, resp->checkpoint_decree);
    job->decree = resp->checkpoint_decree;
    job->rc = ERR_SHUTDOWN; /* stays so if the stub stops before the copy runs */
    RLOG_INFO(r, "copying checkpoint %" PRId64 " from %s", job->decree, job->primary);
    r->copying = true;
    host_run_blocking(r, WORKER_BLOCKING, copy_checkpoint, copy_done, job);
}

/* Logs the learned mutations and applies what the primary has committed. */
static int
apply_learned(struct replica *r, const struct msg_learn_resp *resp)
{
    int rc = 0;
    for (uint32_t i = 0; i < resp->nmutations && rc == 0; i++)
        rc = replica_accept_mutation(r, resp->mutations[i].p, resp->mutations[i].len);
    if (rc == 1)
        rc = ERR_INVALID_STATE;
    if (rc == 0)
        replica_commit_as_follower(r, resp->primary_committed);
    host_mark_dirty(r);
    return rc;
}

static void
on_learn_reply(struct replica *r, void *arg, int err, const uint8_t *body, size_t len)
{
    struct msg_learn_resp resp;
    struct unpacked *zone = NULL;
    if (r == NULL || r->role != ROLE_LEARNER)
        goto out;
    if (err == 0)
        err = msg_learn_resp_decode(body, len, &resp, &zone);
    r->learn_touch_ms = clock_mono_ms();
    if (err == ERR_BUSY) { /* the primary is catching up, or copying a follower's data */
        RLOG_DEBUG(r, "learn from %s: busy, asking again", r->config.primary);
        r->learning = false;
        goto out;
    }
    if (err != 0) {
        RLOG_WARN(r, "learn from %s failed: %s", r->config.primary, err_name(err));
        r->learning = false;
        goto out;
    }
    if (resp.checkpoint_decree > 0) {
        start_copy(r, &resp); /* learning stays true until the copy is installed */
    } else {
        err = apply_learned(r, &resp);
        if (err != 0)
            RLOG_WARN(r, "applying learned mutations failed: %s", err_name(err));
        /* done: the primary now sends every prepare; keep learning only if not done */
        r->learning = r->learn_done = resp.done && err == 0;
        if (resp.done && err == 0)
            RLOG_INFO(r, "caught up with %s at %" PRId64 ", waiting to join", r->config.primary,
                      r->last_committed);
    }
    msg_learn_resp_fini(&resp);
out:
    unpacked_free(zone);
}

void
replica_learn_cron(struct replica *r)
{
    struct msg_learn_req m;
    struct buf body = BUF_INIT;
    if (r->role != ROLE_LEARNER || r->config.primary[0] == '\0' || r->copying)
        return;
    if (r->learning && clock_mono_ms() - r->learn_touch_ms < LEARN_STALL_MS)
        return;
    r->learning = true;
    r->learn_done = false;
    r->learn_touch_ms = clock_mono_ms();
    snprintf(m.learner, sizeof(m.learner), "%s", r->opts->address);
    m.last_committed = r->last_committed;
    msg_learn_req_encode(&body, &m);
    host_call(r, r->config.primary, RPC_LEARN, &body, LEARN_TIMEOUT_MS, on_learn_reply, NULL);
    buf_fini(&body);
}
