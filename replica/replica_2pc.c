/*
 * replica_2pc.c: PacificA-style replication of one partition.
 *
 * Primary: replica_propose logs a mutation with the next decree and appends it to the prepare
 * list; replica_flush (before the loop sleeps) syncs the plog once for everything proposed
 * together, sends the new decrees to every peer (at most PREPARE_WINDOW prepare RPCs in flight
 * per peer, each carrying every decree not sent yet) and commits what is durable everywhere:
 * commit point = min(own synced decree, every secondary's acknowledged decree). Committed
 * decrees are applied to RocksDB in decree order with one write batch and answered.
 *
 * Secondary / learner: replica_on_prepare logs the decrees it gets (a decree it holds from
 * another ballot is replaced: only an uncommitted decree can differ, and the newer primary's
 * version wins) and answers after its own plog sync, with how far it has logged; it applies
 * up to the commit point the primary sends with every prepare and group check.
 *
 * Runs on: replica loop.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"

#define PREPARE_WINDOW 4               /* prepare RPCs in flight per peer */
#define PREPARE_BATCH_BYTES (4u << 20) /* most mutation bytes in one prepare RPC */
#define PREPARE_TIMEOUT_MS 3000
#define PREPARE_RETRY_MS 200
#define MAX_PREPARED 20000 /* uncommitted decrees before writes are refused */

static struct prepared *
plist_at(struct replica *r, decree_t d)
{
    ASSERT(d > r->last_committed && d <= r->last_prepared);
    return &r->plist[d - r->last_committed - 1];
}

void
replica_plist_push(struct replica *r, decree_t decree, ballot_t ballot, const uint8_t *enc,
                   size_t len)
{
    struct prepared *e;
    ASSERT(decree == r->last_prepared + 1);
    if (r->plist_n == r->plist_cap) {
        r->plist_cap = r->plist_cap ? r->plist_cap * 2 : 64;
        r->plist = xrealloc(r->plist, r->plist_cap * sizeof(*r->plist));
    }
    e = &r->plist[r->plist_n++];
    memset(e, 0, sizeof(*e));
    e->decree = decree;
    e->ballot = ballot;
    buf_append(&e->encoded, enc, len);
    r->last_prepared = decree;
}

static void
prepared_fini(struct prepared *e)
{
    buf_fini(&e->encoded);
    buf_fini(&e->reply);
}

void
replica_fail_waiting(struct replica *r)
{
    for (size_t i = 0; i < r->plist_n; i++)
        if (r->plist[i].req) {
            rpc_reply(r->plist[i].req, ERR_UNCERTAIN, NULL, 0);
            r->plist[i].req = NULL;
        }
}

/* Drops every prepared decree after `after` from the plog and the prepare list. */
static int
plist_truncate(struct replica *r, decree_t after)
{
    int rc;
    ASSERT(after >= r->last_committed);
    rc = plog_truncate(r->plog, after);
    if (rc != 0)
        return rc;
    while (r->last_prepared > after) {
        struct prepared *e = &r->plist[--r->plist_n];
        if (e->req)
            rpc_reply(e->req, ERR_UNCERTAIN, NULL, 0);
        prepared_fini(e);
        r->last_prepared--;
    }
    if (r->durable_prepared > after)
        r->durable_prepared = after;
    if (r->verified > after)
        r->verified = after;
    return 0;
}

/* ---------------- commit ---------------- */

int
replica_commit_upto(struct replica *r, decree_t upto)
{
    size_t n;
    int rc = 0;
    if (upto > r->last_prepared)
        upto = r->last_prepared;
    if (upto <= r->last_committed)
        return 0;
    n = (size_t)(upto - r->last_committed);
    storage_batch_clear(r->batch);
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct prepared *e = &r->plist[i];
        struct unpacked *zone;
        struct mutation m;
        rc = mutation_decode(e->encoded.data, e->encoded.len, &m, &zone);
        if (rc != 0)
            break;
        for (uint32_t k = 0; (m.flags & MUTATION_FROM_DUP) && k < m.nops; k++) {
            uint64_t *newest = &r->dup_arrived_us[timetag_cluster(m.ops[k].timetag)];
            if (timetag_ts(m.ops[k].timetag) > *newest)
                *newest = timetag_ts(m.ops[k].timetag);
        }
        replica_batch_mutation(r->batch, &m);
        mutation_fini(&m);
        unpacked_free(zone);
    }
    if (rc == 0)
        rc = storage_apply(r->storage, r->batch, upto);
    if (rc != 0) {
        RLOG_ERROR(r, "applying decrees %" PRId64 "..%" PRId64 " failed: %s", r->last_committed + 1,
                   upto, err_str(rc));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        struct prepared *e = &r->plist[i];
        if (r->dup)
            dup_on_commit(r, e->decree, e->encoded.data, e->encoded.len);
        if (e->req) {
            rpc_reply(e->req, 0, e->reply.data, e->reply.len);
            metric_add(r->write_ops, 1);
            metric_observe(r->write_latency, clock_mono_us() - e->start_us);
        }
        prepared_fini(e);
    }
    memmove(r->plist, r->plist + n, (r->plist_n - n) * sizeof(*r->plist));
    r->plist_n -= n;
    r->last_committed = upto;
    if (r->dup && r->role == ROLE_PRIMARY)
        dup_tick(r);
    return 0;
}

/* Whether commits wait for p: a member, or a learner the meta may be making one. A learner
 * joins holding every decree committed before it was asked for, and it must not miss one
 * committed while the meta decides, or, promoted later, it would lose it. */
static bool
counts_for_commit(const struct peer *p)
{
    return p->member || p->upgrade_asked;
}

/* Primary: commits what every member has logged. */
static void
try_commit(struct replica *r)
{
    decree_t to = r->durable_prepared;
    for (int i = 0; i < r->npeers; i++)
        if (counts_for_commit(&r->peers[i]) && r->peers[i].acked < to)
            to = r->peers[i].acked;
    replica_commit_upto(r, to);
}

/* ---------------- primary: propose and send ---------------- */

void
replica_propose(struct replica *r, struct mutation *m, struct rpc_request *req,
                const struct buf *reply)
{
    struct buf enc = BUF_INIT;
    struct prepared *e;
    int rc = r->plist_n >= MAX_PREPARED ? ERR_BUSY : 0;
    m->gpid = r->gpid;
    m->ballot = r->ballot;
    m->decree = r->last_prepared + 1;
    m->last_committed = r->last_committed;
    if (rc == 0) {
        mutation_encode(&enc, m);
        rc = plog_append(r->plog, m->decree, enc.data, enc.len);
    }
    if (rc != 0) {
        buf_fini(&enc);
        replica_reply_err(r, req, rc);
        return;
    }
    replica_plist_push(r, m->decree, m->ballot, enc.data, enc.len);
    buf_fini(&enc);
    e = &r->plist[r->plist_n - 1];
    e->req = req;
    e->start_us = clock_mono_us();
    if (reply)
        buf_append(&e->reply, reply->data, reply->len);
    host_mark_dirty(r);
}

struct prepare_ctx {
    char addr[GEOKV_ADDR_MAX];
    ballot_t ballot;
    uint32_t gen;
    decree_t upto;
    decree_t committed; /* the commit point the prepare carried */
};

static struct peer *
find_peer(struct replica *r, const char *addr)
{
    for (int i = 0; i < r->npeers; i++)
        if (strcmp(r->peers[i].addr, addr) == 0)
            return &r->peers[i];
    return NULL;
}

static void send_prepares(struct replica *r);

/* A learner that logged everything committed and gets every prepare may join. One whose
 * proposal ended without an answer (the meta may have applied it) is asked for again, and
 * counted for commits meanwhile. */
static void
check_learners(struct replica *r)
{
    int64_t now = clock_mono_ms();
    for (int i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];
        if (p->member || p->upgrade_pending || now < p->ask_after_ms ||
            (!p->upgrade_asked && p->acked < r->last_committed))
            continue;
        if (!p->upgrade_asked) {
            p->progress_ms = now;
            RLOG_INFO(r, "learner %s caught up (decree %" PRId64 "): asking the meta to add it",
                      p->addr, p->acked);
        }
        p->upgrade_asked = p->upgrade_pending = true;
        replica_propose_config(r, CONFIG_UPGRADE_LEARNER, p->addr);
    }
}

/* Handles a failed prepare to p. A peer verifies its log only up to the commit point a
 * prepare carries (committed), which may be below ours by now: it misses committed decrees
 * only if it has less than that. */
static void
prepare_failed(struct replica *r, struct peer *p, int err, const uint8_t *body, size_t len,
               decree_t committed)
{
    struct msg_replica_state st;
    if (err == ERR_PARTITION_NOT_HERE && !p->member) { /* a learner that gave up or moved */
        *p = r->peers[--r->npeers];
        return;
    }
    if (err == ERR_STALE_BALLOT) {
        RLOG_WARN(r, "%s has a newer ballot: stop serving as primary", p->addr);
        replica_step_down(r, ROLE_INACTIVE);
        return;
    }
    if (err == ERR_INVALID_STATE && msg_replica_state_decode(body, len, &st) == 0) {
        if (st.last_prepared >= committed) {
            /* a gap: resend every uncommitted decree (it keeps what it has from our ballot) */
            if (p->acked > st.last_prepared)
                p->acked = st.last_prepared;
            p->sent = r->last_committed;
            return;
        }
        if (p->member) {
            RLOG_WARN(r, "%s misses committed decrees (it has %" PRId64 "): it must learn", p->addr,
                      st.last_prepared);
            if (!p->remove_asked)
                replica_propose_config(r, CONFIG_REMOVE_SECONDARY, p->addr);
            p->remove_asked = true;
            p->sent = p->acked;
            p->retry_at_ms = clock_mono_ms() + PREPARE_RETRY_MS;
        } else { /* a learner that fell behind (a prepare overtook its learn reply): it learns
                  * again at once (replica_on_prepare) and is added back when done */
            *p = r->peers[--r->npeers];
        }
        return;
    }
    p->sent = p->acked > r->last_committed ? p->acked : r->last_committed;
    p->retry_at_ms = clock_mono_ms() + PREPARE_RETRY_MS;
}

/* Completion of a prepare RPC. Runs on: replica loop. */
static void
on_prepare_reply(struct replica *r, void *arg, int err, const uint8_t *body, size_t len)
{
    struct prepare_ctx *ctx = arg;
    struct peer *p = r && r->role == ROLE_PRIMARY ? find_peer(r, ctx->addr) : NULL;
    struct msg_replica_state st;
    if (p == NULL || p->gen != ctx->gen) { /* the peer was reset: its window was too */
        xfree(ctx);
        return;
    }
    p->inflight--;
    if (r->ballot != ctx->ballot) { /* an answer to the previous configuration */
        xfree(ctx);
        send_prepares(r);
        return;
    }
    if (err == 0 && msg_replica_state_decode(body, len, &st) == 0) {
        /* st.last_prepared: logged, synced and known to be our versions, contiguously */
        decree_t got = st.last_prepared < ctx->upto ? st.last_prepared : ctx->upto;
        if (got > p->acked) {
            p->acked = got;
            p->progress_ms = clock_mono_ms();
        }
        if (got < ctx->upto && p->sent > got && p->resent_from != got) {
            p->sent = got > r->last_committed || !p->member ? got : r->last_committed;
            p->resent_from = got; /* it holds another ballot's versions there: resend */
        }
        if (p->sent < p->acked)
            p->sent = p->acked;
    } else {
        if (err != ERR_PARTITION_NOT_HERE)
            RLOG_WARN(r, "prepare up to %" PRId64 " to %s failed: %s", ctx->upto, p->addr,
                      err_name(err));
        prepare_failed(r, p, err ? err : ERR_INVALID_DATA, body, len, ctx->committed);
    }
    xfree(ctx);
    if (r->role != ROLE_PRIMARY)
        return;
    send_prepares(r);
    try_commit(r);
    check_learners(r);
}

/* Sends p the decrees after p->sent (one RPC, bounded in size). */
static void
send_prepare_to(struct replica *r, struct peer *p)
{
    struct bytes muts[1024];
    struct msg_prepare_req m = {r->last_committed, 0, muts};
    struct prepare_ctx *ctx;
    struct buf body = BUF_INIT;
    size_t bytes = 0;
    decree_t d = p->sent;
    while (d < r->last_prepared && m.nmutations < 1024 && bytes < PREPARE_BATCH_BYTES) {
        struct prepared *e = plist_at(r, ++d);
        muts[m.nmutations++] = bytes_of(e->encoded.data, e->encoded.len);
        bytes += e->encoded.len;
    }
    msg_prepare_req_encode(&body, &m);
    ctx = xmalloc(sizeof(*ctx));
    snprintf(ctx->addr, sizeof(ctx->addr), "%s", p->addr);
    ctx->ballot = r->ballot;
    ctx->gen = p->gen;
    ctx->upto = d;
    ctx->committed = r->last_committed;
    p->sent = d;
    p->inflight++;
    host_call(r, p->addr, RPC_PREPARE, &body, PREPARE_TIMEOUT_MS, on_prepare_reply, ctx);
    buf_fini(&body);
}

static void
send_prepares(struct replica *r)
{
    int64_t now = clock_mono_ms();
    for (int i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];
        if (p->sent < r->last_committed) {
            if (!p->member) /* a learner lacking committed decrees: learning's job */
                continue;
            p->sent = r->last_committed; /* a member holds everything committed */
        }
        while (p->inflight < PREPARE_WINDOW && p->sent < r->last_prepared && p->retry_at_ms <= now)
            send_prepare_to(r, p);
    }
}

/* ---------------- secondary ---------------- */

/* Answers the prepares logged since the last flush (their decrees are now synced). */
static void
answer_acks(struct replica *r, int err)
{
    struct msg_replica_state st = {
        r->last_committed, r->durable_prepared < r->verified ? r->durable_prepared : r->verified};
    struct buf body = BUF_INIT;
    msg_replica_state_encode(&body, &st);
    for (size_t i = 0; i < r->nacks; i++)
        rpc_reply(r->acks[i], err, err ? NULL : body.data, body.len);
    r->nacks = 0;
    buf_fini(&body);
}

void
replica_flush(struct replica *r)
{
    int rc = 0;
    /* prepares leave before our own fsync, so the secondaries' syncs overlap it */
    if (r->role == ROLE_PRIMARY)
        send_prepares(r);
    if (r->durable_prepared < r->last_prepared || r->nacks > 0) {
        rc = plog_commit(r->plog);
        if (rc == 0)
            r->durable_prepared = r->last_prepared;
        if (rc != 0 && r->log_error == 0) /* once per episode: it is retried at every flush */
            RLOG_ERROR(r, "plog write failed: %s (retried; new writes are refused meanwhile)",
                       err_str(rc));
        else if (rc == 0 && r->log_error != 0)
            RLOG_INFO(r, "plog writes work again");
        r->log_error = rc;
    }
    if (r->nacks > 0)
        answer_acks(r, rc);
    if (r->role == ROLE_PRIMARY && rc == 0)
        try_commit(r);
}

/*
 * Checks the ballot of a message from a primary; adopts a newer one (this replica then
 * follows that primary). Returns 0 or the error to answer.
 */
static int
accept_ballot(struct replica *r, ballot_t ballot)
{
    if (ballot < r->ballot)
        return ERR_STALE_BALLOT;
    if (ballot == r->ballot && r->role == ROLE_PRIMARY)
        return ERR_INVALID_STATE;
    r->learn_touch_ms = clock_mono_ms(); /* the primary is alive and sends to us */
    if (ballot > r->ballot) {
        if (r->role == ROLE_PRIMARY) {
            RLOG_WARN(r, "a primary with ballot %" PRId64 " exists: stepping down", ballot);
            replica_step_down(r, ROLE_SECONDARY);
        }
        r->ballot = ballot;
        r->verified = r->last_committed; /* our uncommitted tail may be another ballot's */
        if (r->role != ROLE_LEARNER)
            r->role = ROLE_SECONDARY;
    }
    return 0;
}

/* Logs one mutation from the primary (or a learn reply). 1 = a gap: ask from last_prepared. */
int
replica_accept_mutation(struct replica *r, const uint8_t *enc, size_t len)
{
    struct unpacked *zone;
    struct mutation m;
    int rc = mutation_decode(enc, len, &m, &zone);
    if (rc != 0)
        return rc;
    if (m.gpid == r->gpid)
        replica_clock_observe(r, m.ops, m.nops);
    mutation_fini(&m);
    unpacked_free(zone);
    if (m.gpid != r->gpid)
        return ERR_INVALID_DATA;
    if (m.decree <= r->last_committed)
        return 0;
    if (m.decree <= r->last_prepared) {
        if (plist_at(r, m.decree)->ballot == m.ballot) {
            if (m.decree == r->verified + 1)
                r->verified = m.decree;
            return 0;
        }
        RLOG_INFO(r, "decree %" PRId64 " re-proposed with ballot %" PRId64 ": replacing ours",
                  m.decree, m.ballot);
        rc = plist_truncate(r, m.decree - 1);
        if (rc != 0)
            return rc;
    }
    if (m.decree != r->last_prepared + 1)
        return 1;
    rc = plog_append(r->plog, m.decree, enc, len);
    if (rc == 0) {
        replica_plist_push(r, m.decree, m.ballot, enc, len);
        if (m.decree == r->verified + 1) /* only contiguously: a stale entry may lie between */
            r->verified = m.decree;
    }
    return rc;
}

/* Applies up to the primary's commit point, but only decrees known to be its versions.
 * For a secondary everything up to that commit point is: every member of the primary's
 * configuration logged those decrees (or learned them from it) before they committed. A
 * learner is not a member yet: it goes only as far as it verified decree by decree. */
void
replica_commit_as_follower(struct replica *r, decree_t primary_committed)
{
    decree_t held = primary_committed < r->last_prepared ? primary_committed : r->last_prepared;
    if (r->role == ROLE_SECONDARY && held > r->verified)
        r->verified = held;
    replica_commit_upto(r, primary_committed < r->verified ? primary_committed : r->verified);
}

/* Replies with where this replica stands, and error err: how far it holds the primary's
 * versions (only as far as synced when upto is durable_prepared, as a group check answer is:
 * a joining learner's counts for commits; a gap answer says what it logged). */
static void
reply_state(struct replica *r, struct rpc_request *req, int err, decree_t upto)
{
    struct msg_replica_state st = {r->last_committed, r->verified < upto ? r->verified : upto};
    struct buf body = BUF_INIT;
    msg_replica_state_encode(&body, &st);
    rpc_reply(req, err, body.data, body.len);
    buf_fini(&body);
}

void
replica_on_prepare(struct replica *r, struct rpc_request *req)
{
    struct msg_prepare_req m;
    struct unpacked *zone;
    int rc = accept_ballot(r, req->env.ballot);
    if (rc != 0) {
        reply_state(r, req, rc, r->last_prepared);
        return;
    }
    rc = msg_prepare_req_decode(req->env.body, req->env.body_len, &m, &zone);
    for (uint32_t i = 0; rc == 0 && i < m.nmutations; i++)
        rc = replica_accept_mutation(r, m.mutations[i].p, m.mutations[i].len);
    if (zone) {
        if (rc >= 0)
            replica_commit_as_follower(r, m.last_committed);
        msg_prepare_req_fini(&m);
        unpacked_free(zone);
    }
    if (rc != 0) { /* a gap (1) or bad input: tell the primary where we are */
        if (rc == 1 && r->role == ROLE_LEARNER)
            r->learning = false; /* missed decrees: another learn round fetches them */
        reply_state(r, req, rc == 1 ? ERR_INVALID_STATE : rc, r->last_prepared);
        host_mark_dirty(r); /* sync what was logged before the gap */
        return;
    }
    if (r->nacks == r->acks_cap) {
        r->acks_cap = r->acks_cap ? r->acks_cap * 2 : 16;
        r->acks = xrealloc(r->acks, r->acks_cap * sizeof(*r->acks));
    }
    r->acks[r->nacks++] = req; /* answered by replica_flush once synced */
    host_mark_dirty(r);
}

/* A learner done learning that verified nothing since the last group check while behind
 * the primary's commit point cannot catch up from prepares (a new ballot made it doubt a
 * tail the primary no longer resends, as everything below its commit point is learning's
 * job): it learns again. */
static void
relearn_if_stuck(struct replica *r, decree_t primary_committed)
{
    if (r->role != ROLE_LEARNER || !r->learn_done)
        return;
    if (r->verified < primary_committed && r->verified == r->check_verified) {
        RLOG_INFO(
            r, "learner stuck at %" PRId64 " behind the commit point %" PRId64 ": learning again",
            r->verified, primary_committed);
        r->learning = r->learn_done = false;
    }
    r->check_verified = r->verified;
}

void
replica_on_group_check(struct replica *r, struct rpc_request *req)
{
    struct msg_group_check_req m;
    int rc = accept_ballot(r, req->env.ballot);
    if (rc == 0)
        rc = msg_group_check_req_decode(req->env.body, req->env.body_len, &m);
    if (rc == 0) {
        uint32_t role = r->role == ROLE_LEARNER ? ROLE_LEARNER : ROLE_SECONDARY;
        for (uint32_t i = 0; i < m.config.nsecondaries; i++)
            if (strcmp(m.config.secondaries[i], r->opts->address) == 0)
                role = ROLE_SECONDARY;
        replica_set_config(r, role, &m.config);
        replica_commit_as_follower(r, m.last_committed);
        relearn_if_stuck(r, m.last_committed);
        dup_note_confirms(r, m.confirms, m.nconfirms, m.dups_complete);
    }
    reply_state(r, req, rc, r->durable_prepared);
}

/* ---------------- primary: group check ---------------- */

/* A secondary that acknowledges nothing while prepares wait for it (its disk is full, the
 * link to it is cut, but it beacons, so the meta keeps it) would hold every write forever:
 * after ack_timeout_ms without progress it is removed from the configuration, as PacificA
 * prescribes, and writes go on without it (the meta adds a learner later). */
static void
remove_stalled(struct replica *r)
{
    int64_t now = clock_mono_ms();
    /* this loop itself stalled (a long task ran): replies may wait in its queue, unread */
    bool blind = now - r->stall_check_ms > 2 * r->opts->group_check_ms;
    r->stall_check_ms = now;
    for (int i = 0; i < r->npeers; i++) {
        struct peer *p = &r->peers[i];
        if (blind || !counts_for_commit(p) || p->acked >= r->last_prepared) {
            p->progress_ms = now;
            continue;
        }
        if (p->remove_asked || now - p->progress_ms < r->opts->ack_timeout_ms)
            continue;
        if (!p->member && !p->upgrade_pending) { /* a joining learner that stalled: writes
                                                  * stop waiting for it */
            RLOG_WARN(r, "learner %s stalled while joining: writes no longer wait for it", p->addr);
            p->upgrade_asked = false;
            p->ask_after_ms = now + r->opts->ack_timeout_ms;
            continue;
        }
        p->remove_asked = true;
        RLOG_WARN(r,
                  "secondary %s acknowledged nothing for %" PRId64 " ms (it has %" PRId64
                  ", prepared %" PRId64 "): asking the meta to remove it",
                  p->addr, now - p->progress_ms, p->acked, r->last_prepared);
        replica_propose_config(r, CONFIG_REMOVE_SECONDARY, p->addr);
    }
}

/* A group check answer also tells how far an idle learner has applied. */
static void
on_group_check_reply(struct replica *r, void *arg, int err, const uint8_t *body, size_t len)
{
    char *addr = arg;
    struct msg_replica_state st;
    struct peer *p = r && r->role == ROLE_PRIMARY ? find_peer(r, addr) : NULL;
    xfree(addr);
    if (p == NULL)
        return;
    if (err == ERR_STALE_BALLOT) {
        RLOG_WARN(r, "group check: a peer has a newer ballot: stop serving as primary");
        replica_step_down(r, ROLE_INACTIVE);
        return;
    }
    /* a learner whose prepares stopped (a gap before its learn reply landed) says here how
     * far it verified: prepares go on from there */
    if (err == 0 && !p->member && msg_replica_state_decode(body, len, &st) == 0) {
        decree_t v = st.last_prepared < r->last_prepared ? st.last_prepared : r->last_prepared;
        if (v > p->acked)
            p->acked = v;
        if (p->sent < p->acked && p->inflight == 0)
            p->sent = p->acked;
        check_learners(r);
        send_prepares(r);
    }
}

void
replica_group_check_cron(struct replica *r)
{
    struct msg_group_check_req m;
    struct buf body = BUF_INIT;
    if (r->log_error != 0)
        host_mark_dirty(r); /* retries the plog write (a full disk may have room again) */
    if (r->role != ROLE_PRIMARY)
        return;
    m.config = r->config;
    m.config.ballot = r->ballot;
    m.config.last_committed = r->last_committed;
    m.last_committed = r->last_committed;
    m.nconfirms = dup_confirms(r, m.confirms, GROUP_CHECK_MAX_DUPS);
    m.dups_complete = dup_list_complete(r);
    msg_group_check_req_encode(&body, &m);
    for (int i = 0; i < r->npeers; i++)
        host_call(r, r->peers[i].addr, RPC_GROUP_CHECK, &body, PREPARE_TIMEOUT_MS,
                  on_group_check_reply, xstrdup(r->peers[i].addr));
    buf_fini(&body);
    send_prepares(r); /* resend after failures whose retry time has come */
    try_commit(r);
    check_learners(r); /* an idle partition's learner is caught up at once */
    remove_stalled(r);
}
