/*
 * stub_dup.c: duplication sync. Every dup_sync_interval_ms the beacon thread reports the
 * decrees each duplication has confirmed and the partitions this server leads, and hands each
 * primary its duplications from the meta's answer (dup_assign).
 */
#include "replica/stub_int.h"

#include <stdio.h>
#include <string.h>

#include "common/loop.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"

struct dup_task {
    struct stub_loop *sl;
    uint64_t gpid;
    uint32_t n;
    struct dup_assign *a;
};

/* Runs on: replica loop. */
static void
run_dup_assign(void *arg)
{
    struct dup_task *t = arg;
    ASSERT_ON_LOOP(t->sl->loop);
    struct replica *r = stub_find_replica(t->sl, t->gpid, NULL);
    if (r != NULL && r->role == ROLE_PRIMARY) {
        dup_assign(r, t->a, t->n);
        dup_tick(r);
    }
    xfree(t->a);
    xfree(t);
}

/* Whether the meta answered for gpid as led by this server (a meta that does not say
 * answers for every partition asked about). */
static bool
dup_sync_led(const struct msg_dup_sync_resp *resp, uint64_t gpid)
{
    for (uint32_t i = 0; i < resp->nled; i++)
        if (resp->led[i] == gpid)
            return true;
    return !resp->has_led;
}

void
stub_dup_sync_actions(const struct msg_dup_sync_req *req, const struct msg_dup_sync_resp *resp,
                      dup_sync_fn *fn, void *arg)
{
    for (uint32_t i = 0; i < req->nprimaries; i++) {
        uint64_t gpid = req->primaries[i];
        struct dup_assign *a;
        uint32_t n = 0;
        if (!dup_sync_led(resp, gpid))
            continue;
        a = xcalloc(resp->n + 1, sizeof(*a));
        for (uint32_t k = 0; k < resp->n; k++)
            if (resp->dups[k].gpid == gpid)
                a[n++] = resp->dups[k];
        fn(arg, gpid, a, n);
    }
}

/* Hands a primary its duplications on its loop. */
static void
post_dup_assign(void *arg, uint64_t gpid, struct dup_assign *dups, uint32_t n)
{
    struct stub *s = arg;
    struct dup_task *t = xcalloc(1, sizeof(*t));
    t->sl = stub_loop_of(s, gpid);
    t->gpid = gpid;
    t->a = dups;
    t->n = n;
    loop_post(t->sl->loop, run_dup_assign, t);
}

/* Reports confirmed decrees and hands each primary its duplications. Runs on: beacon loop. */
void
stub_dup_sync_cron(void *arg)
{
    struct stub *s = arg;
    struct msg_dup_sync_req req = {0};
    struct msg_dup_sync_resp resp;
    struct buf body = BUF_INIT, reply = BUF_INIT;
    snprintf(req.node, sizeof(req.node), "%s", s->address);
    for (int i = 0; i < s->nloops; i++) {
        struct stub_loop *sl = &s->loops[i];
        pthread_mutex_lock(&sl->snap_mu);
        req.primaries =
            xrealloc(req.primaries, (req.nprimaries + sl->nsnap + 1) * sizeof(uint64_t));
        for (size_t k = 0; k < sl->nsnap; k++)
            if (sl->snap[k].role == ROLE_PRIMARY)
                req.primaries[req.nprimaries++] = sl->snap[k].gpid;
        req.confirms =
            xrealloc(req.confirms, (req.nconfirms + sl->ndup_snap + 1) * sizeof(*req.confirms));
        memcpy(req.confirms + req.nconfirms, sl->dup_snap, sl->ndup_snap * sizeof(*sl->dup_snap));
        req.nconfirms += (uint32_t)sl->ndup_snap;
        pthread_mutex_unlock(&sl->snap_mu);
    }
    msg_dup_sync_req_encode(&body, &req);
    if (req.nprimaries > 0 && stub_meta_call(s, RPC_DUP_SYNC, &body, &reply) == 0 &&
        msg_dup_sync_resp_decode(reply.data, reply.len, &resp) == 0) {
        stub_dup_sync_actions(&req, &resp, post_dup_assign, s);
        msg_dup_sync_resp_fini(&resp);
    }
    msg_dup_sync_req_fini(&req);
    buf_fini(&body);
    buf_fini(&reply);
}
