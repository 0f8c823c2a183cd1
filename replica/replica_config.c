/*
 * replica_config.c: the role and configuration of a replica, as the meta assigns them
 * (beacon replies, answers to proposals) or the primary relays them (group checks).
 *
 * A configuration is only ever replaced by one with a ballot at least as high. A replica
 * becomes primary only under a ballot no incarnation of it was primary under before (it
 * records each one durably first, replica_claim_primary_ballot); a server restarted quickly
 * is assigned its old ballot again and asks the meta for a new one. Becoming
 * primary rebuilds the peer set from the secondaries and re-proposes every prepared decree
 * (its peers keep what they already logged from the same ballot); leaving the primary role
 * fails the writes still waiting, whose clients retry at the new primary.
 * Runs on: replica loop.
 */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/rpc_codes.h"
#include "replica/dup_int.h"
#include "replica/replica_int.h"

static const char *
role_name(uint32_t role)
{
    static const char *names[] = {"inactive", "primary", "secondary", "learner"};
    return role <= ROLE_LEARNER ? names[role] : "?";
}

static bool
is_secondary(const struct partition_config *cfg, const char *addr)
{
    for (uint32_t i = 0; i < cfg->nsecondaries; i++)
        if (strcmp(cfg->secondaries[i], addr) == 0)
            return true;
    return false;
}

uint32_t
replica_peer_gen(void)
{
    static uint32_t gen; /* loop threads only compare for equality: a race costs nothing */
    return ++gen ? gen : ++gen;
}

void
replica_step_down(struct replica *r, uint32_t role)
{
    replica_fail_waiting(r);
    r->npeers = 0;
    r->role = role;
    dup_stop(r);
}

/* Primary: peers = the secondaries (state kept for known ones) + learners still learning. */
static void
rebuild_peers(struct replica *r, bool promoted)
{
    struct peer old[GEOKV_MAX_REPLICAS];
    int nold = r->npeers;
    memcpy(old, r->peers, sizeof(old));
    r->npeers = 0;
    for (uint32_t i = 0; i < r->config.nsecondaries && r->npeers < GEOKV_MAX_REPLICAS; i++) {
        struct peer *p = &r->peers[r->npeers++];
        memset(p, 0, sizeof(*p));
        memcpy(p->addr, r->config.secondaries[i], sizeof(p->addr));
        p->acked = p->sent = r->last_committed;
        p->gen = replica_peer_gen();
        p->progress_ms = clock_mono_ms();
        for (int k = 0; k < nold && !promoted; k++)
            if (strcmp(old[k].addr, p->addr) == 0)
                *p = old[k];
        p->member = true;
        p->upgrade_asked = false;
        p->remove_asked = false;
    }
    for (int k = 0; k < nold && !promoted && r->npeers < GEOKV_MAX_REPLICAS; k++)
        if (!old[k].member && !is_secondary(&r->config, old[k].addr))
            r->peers[r->npeers++] = old[k];
}

void
replica_set_config(struct replica *r, uint32_t role, const struct partition_config *cfg)
{
    uint32_t old_role = r->role;
    bool ask_bump = false;
    if (cfg->ballot < r->ballot || (cfg->ballot == r->ballot && role == old_role &&
                                    memcmp(cfg, &r->config, sizeof(*cfg)) == 0))
        return;
    if (role == ROLE_PRIMARY && !(old_role == ROLE_PRIMARY && r->ballot == cfg->ballot)) {
        int rc = replica_claim_primary_ballot(r, cfg->ballot);
        if (rc == ERR_STALE_BALLOT && r->bump_asked != cfg->ballot) {
            RLOG_INFO(r,
                      "an earlier incarnation was primary under ballot %" PRId64
                      ": asking the meta for a new one",
                      cfg->ballot);
            ask_bump = true;
        }
        if (rc != 0)
            role = ROLE_INACTIVE; /* serves nothing under this ballot */
    }
    r->ballot = cfg->ballot;
    r->config = *cfg;
    r->role = role;
    if (old_role != role)
        RLOG_INFO(
            r, "%s -> %s (primary %s, %u secondaries, committed %" PRId64 ", prepared %" PRId64 ")",
            role_name(old_role), role_name(role), cfg->primary[0] ? cfg->primary : "-",
            cfg->nsecondaries, r->last_committed, r->last_prepared);
    if (old_role == ROLE_PRIMARY && role != ROLE_PRIMARY)
        replica_step_down(r, role);
    if (role == ROLE_PRIMARY) {
        /* what it holds prepared may have been committed and acknowledged by the old primary:
         * serve nothing until it is committed again here; ship from the meta's positions */
        if (old_role != ROLE_PRIMARY) {
            r->serve_from = r->last_prepared;
            dup_stop(r);
        }
        rebuild_peers(r, old_role != ROLE_PRIMARY);
        if (old_role != ROLE_PRIMARY)
            dup_full_follow(r); /* before any learner can join */
        host_mark_dirty(r);     /* re-propose / commit what is prepared */
    } else {
        r->npeers = 0;
    }
    if (role == ROLE_LEARNER && old_role != ROLE_LEARNER)
        r->learning = false;
    if (ask_bump) {
        r->bump_asked = cfg->ballot;
        replica_propose_config(r, CONFIG_BUMP_BALLOT, r->opts->address);
    }
}

void
replica_adopt_assignment(struct replica *r, const struct replica_assign *a)
{
    r->master = a->master;
    if (r->deny_write != a->deny_write)
        RLOG_INFO(r, "client writes %s", a->deny_write ? "denied" : "allowed");
    r->deny_write = a->deny_write;
    replica_set_config(r, a->role, &a->config);
    dup_full_follow(r);
}

/* ---------------- proposals to the meta ---------------- */

struct proposal_ctx {
    uint32_t type;
    char node[GEOKV_ADDR_MAX];
};

/* A proposal about p failed. Only a refusal is final: after a timeout the meta may have
 * applied an upgrade, so the learner still counts for commits and is asked for again. */
static void
proposal_failed(struct peer *p, uint32_t type, int err)
{
    bool refused = err == ERR_INVALID_STATE || err == ERR_APP_NOT_FOUND || err == ERR_INVALID_ARG;
    p->remove_asked = false; /* asked again at the next check */
    if (type != CONFIG_UPGRADE_LEARNER)
        return;
    if (refused)
        p->upgrade_asked = false;
    p->ask_after_ms = clock_mono_ms() + 1000;
}

static void
on_proposal_reply(struct replica *r, void *arg, int err, const uint8_t *body, size_t len)
{
    struct proposal_ctx *ctx = arg;
    struct replica_assign a;
    if (r == NULL) {
        xfree(ctx);
        return;
    }
    if (err == 0 && (err = msg_replica_assign_decode(body, len, &a)) == 0) {
        RLOG_INFO(r, "meta accepted the change for %s: ballot %" PRId64, ctx->node,
                  a.config.ballot);
        replica_set_config(r, a.role, &a.config);
    } else {
        RLOG_WARN(r, "meta refused the change for %s: %s", ctx->node, err_name(err));
        if (ctx->type == CONFIG_BUMP_BALLOT)
            r->bump_asked = 0; /* the next assignment asks again */
        for (int i = 0; i < r->npeers; i++)
            if (strcmp(r->peers[i].addr, ctx->node) == 0)
                proposal_failed(&r->peers[i], ctx->type, err);
    }
    if (ctx->type == CONFIG_UPGRADE_LEARNER)
        for (int i = 0; i < r->npeers; i++)
            if (strcmp(r->peers[i].addr, ctx->node) == 0)
                r->peers[i].upgrade_pending = false;
    xfree(ctx);
}

void
replica_propose_config(struct replica *r, uint32_t type, const char *node)
{
    struct msg_config_proposal m = {r->gpid, r->ballot, type, ""};
    struct proposal_ctx *ctx = xmalloc(sizeof(*ctx));
    struct buf body = BUF_INIT;
    snprintf(m.node, sizeof(m.node), "%s", node);
    ctx->type = type;
    snprintf(ctx->node, sizeof(ctx->node), "%s", node);
    msg_config_proposal_encode(&body, &m);
    host_call_meta(r, RPC_CONFIG_PROPOSAL, &body, on_proposal_reply, ctx);
    buf_fini(&body);
}
