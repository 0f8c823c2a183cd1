/*
 * meta_reconfig.c: how the meta leader changes partition configurations on its own
 * (failure detection, failover, healing) and on a primary's request (config proposals).
 *
 * Rules (PacificA-style; docs/correctness.md):
 *  - A server is dead when it sent no beacon for node_grace_ms. Its lease (lease_ms, below
 *    the grace) has then run out, so a dead primary has stopped serving before it is replaced.
 *    A new leader lists every configured server at its load, so each gets one grace period
 *    to beacon before it can be declared dead.
 *  - Dead primary: the live secondary with the largest reported last_prepared (ties:
 *    last_committed) becomes primary and the dead one leaves; dead secondaries leave; the
 *    ballot grows by one per change. A primary that beacons but has not reported itself
 *    primary of the partition for node_grace_ms (it cannot record its ballot, cannot open the
 *    partition on a full disk) is replaced the same way, and stays a secondary. Only a
 *    secondary that reports holding the partition is promoted. With no such member the
 *    configuration is kept: the partition waits for its last primary to come back and keep
 *    serving it.
 *  - A partition with fewer members than replica_count for add_secondary_delay_ms, whose
 *    primary is alive, gets a learner (memory only): a live server outside the
 *    configuration, preferably one that still holds the partition's files (it learns only
 *    the gap), else the one with the fewest replicas. A learner that dies or is not upgraded
 *    within learner_timeout_ms is replaced. The primary proposes CONFIG_UPGRADE_LEARNER once
 *    it caught up.
 *  - Every change is written to the store before memory; a failed write leaves memory as it
 *    was and the periodic check tries again (proposals are retried by their primary).
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "meta/meta_dup.h"
#include "meta/meta_state.h"
#include "meta/meta_state_int.h"

/* Whether address is a known server within its grace period. */
static bool
member_alive(const struct meta_state *st, const char *address, int64_t now_ms)
{
    const struct meta_node *n = meta_node_find(st, address);
    return n != NULL && meta_node_alive(st, n, now_ms);
}

/* ======================= failure detection and failover ======================= */

/*
 * The index of the secondary to promote: alive, beaconed this leader, reporting the
 * partition, with the largest last_prepared (ties: last_committed). -1 if none.
 */
static int
promotion_pick(const struct meta_state *st, const struct meta_app *app,
               const struct partition_config *pc, int64_t now_ms)
{
    uint64_t gpid = gpid_make(app->app_id, pc->pidx);
    const struct replica_report *best_r = NULL;
    int best = -1;

    for (uint32_t i = 0; i < pc->nsecondaries; i++) {
        const struct meta_node *n = meta_node_find(st, pc->secondaries[i]);
        const struct replica_report *r;
        if (n == NULL || !meta_node_usable(st, n, now_ms))
            continue;
        r = meta_node_report(n, gpid);
        if (r == NULL)
            continue;
        if (best_r == NULL || r->last_prepared > best_r->last_prepared ||
            (r->last_prepared == best_r->last_prepared &&
             r->last_committed > best_r->last_committed)) {
            best = (int)i;
            best_r = r;
        }
    }
    return best;
}

/* Logs once that the partition waits for a dead member (no live one can take over). */
static void
orphan_log(const struct meta_app *app, struct meta_partition *part)
{
    if (part->orphan_logged)
        return;
    part->orphan_logged = true;
    LOG_WARN("partition %u.%u@%lld: primary %s is dead and no live secondary holds the "
             "partition; keeping the configuration until a member returns",
             app->app_id, part->config.pidx, (long long)part->config.ballot, part->config.primary);
}

/* Whether the primary of part beacons but has reported itself not its primary (or not held
 * it) for node_grace_ms. */
static bool
primary_unserved(const struct meta_state *st, const struct meta_app *app,
                 struct meta_partition *part, int64_t now_ms)
{
    const struct meta_node *n = meta_node_find(st, part->config.primary);
    const struct replica_report *r;

    if (n == NULL || !meta_node_usable(st, n, now_ms)) {
        part->unserved_since_ms = 0; /* dead or not heard yet: the dead-primary rule */
        return false;
    }
    r = meta_node_report(n, gpid_make(app->app_id, part->config.pidx));
    if (r != NULL && r->role == ROLE_PRIMARY) {
        part->unserved_since_ms = 0;
        return false;
    }
    if (part->unserved_since_ms == 0 || part->unserved_ballot != part->config.ballot) {
        part->unserved_since_ms = now_ms;
        part->unserved_ballot = part->config.ballot;
    }
    return now_ms - part->unserved_since_ms > st->opt.node_grace_ms;
}

/* Replaces a dead (or not serving) primary and removes dead secondaries of one partition (one
 * ballot). */
static int
partition_failover(struct meta_state *st, struct meta_app *app, struct meta_partition *part,
                   int64_t now_ms)
{
    struct partition_config pc = part->config;
    char why[2 * GEOKV_ADDR_MAX + 64] = "";
    bool primary_dead, unserved = false;
    uint32_t removed = 0;

    if (pc.primary[0] == '\0')
        return 0; /* no configuration to fix (corrupt node) */
    primary_dead = !member_alive(st, pc.primary, now_ms);
    if (!primary_dead)
        primary_dead = unserved = primary_unserved(st, app, part, now_ms);
    if (primary_dead) {
        int best = promotion_pick(st, app, &pc, now_ms);
        if (best < 0) {
            orphan_log(app, part);
            return 0;
        }
        char old[GEOKV_ADDR_MAX];
        snprintf(why, sizeof(why), "primary %s %s, promoted %s", pc.primary,
                 unserved ? "does not serve it" : "is dead", pc.secondaries[best]);
        memcpy(old, pc.primary, sizeof(old));
        memcpy(pc.primary, pc.secondaries[best], sizeof(pc.primary));
        meta_config_remove_secondary(&pc, (uint32_t)best);
        /* a live one stays a member, so the new primary commits nothing before it took the
         * new ballot and stepped down (it may have become primary since its last report);
         * if it cannot acknowledge, its primary removes it (secondary_ack_timeout_ms) */
        if (unserved)
            memcpy(pc.secondaries[pc.nsecondaries++], old, sizeof(old));
    }
    for (uint32_t i = pc.nsecondaries; i-- > 0;) {
        if (member_alive(st, pc.secondaries[i], now_ms))
            continue;
        meta_config_remove_secondary(&pc, i);
        removed++;
    }
    if (!primary_dead && removed == 0)
        return 0;
    if (!primary_dead)
        snprintf(why, sizeof(why), "removed %u dead secondar%s", removed,
                 removed == 1 ? "y" : "ies");
    part->orphan_logged = false;
    pc.ballot++;
    return meta_partition_update(st, app, part, &pc, why);
}

void
meta_state_check_nodes(struct meta_state *st, int64_t now_ms)
{
    for (size_t i = 0; i < st->nnodes; i++) {
        struct meta_node *n = &st->nodes[i];
        if (meta_node_alive(st, n, now_ms))
            continue;
        if (n->declared_dead)
            continue;
        n->declared_dead = true;
        if (n->beaconed)
            LOG_WARN("replica server %s is dead: no beacon for %lld ms", n->address,
                     (long long)(now_ms - n->last_beacon_ms));
        else
            LOG_WARN("replica server %s is dead: no beacon since this meta leads (%lld ms)",
                     n->address, (long long)(now_ms - n->last_beacon_ms));
    }
    if (!st->loaded)
        return;
    for (size_t i = 0; i < st->napps; i++) {
        struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++)
            (void)partition_failover(st, app, &app->parts[p], now_ms); /* logged; retried */
    }
}

/* ======================= healing: learners ======================= */

/* How many partitions have address as their learner. */
static uint32_t
learner_count(const struct meta_state *st, const char *address)
{
    uint32_t n = 0;

    for (size_t i = 0; i < st->napps; i++) {
        const struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++)
            n += strcmp(app->parts[p].learner, address) == 0;
    }
    return n;
}

/*
 * The server to learn the partition: usable and outside the configuration; among those that
 * report holding the partition, the one with the largest last_committed; if none holds it,
 * the one with the fewest replicas (first in node order on ties). NULL if no candidate.
 */
static const struct meta_node *
learner_pick(const struct meta_state *st, const struct meta_app *app,
             const struct partition_config *pc, int64_t now_ms)
{
    uint64_t gpid = gpid_make(app->app_id, pc->pidx);
    const struct meta_node *holder = NULL, *lightest = NULL;
    decree_t holder_committed = 0;
    uint32_t lightest_load = 0;

    for (size_t i = 0; i < st->nnodes; i++) {
        const struct meta_node *n = &st->nodes[i];
        const struct replica_report *r;
        uint32_t prim, sec, load;
        if (!meta_node_usable(st, n, now_ms) || meta_config_has(pc, n->address))
            continue;
        r = meta_node_report(n, gpid);
        if (r != NULL && (holder == NULL || r->last_committed > holder_committed)) {
            holder = n;
            holder_committed = r->last_committed;
        }
        meta_node_counts(st, n->address, &prim, &sec);
        load = prim + sec + learner_count(st, n->address);
        if (lightest == NULL || load < lightest_load) {
            lightest = n;
            lightest_load = load;
        }
    }
    return holder != NULL ? holder : lightest;
}

/* Members of pc (primary and secondaries). */
static uint32_t
member_count(const struct partition_config *pc)
{
    return pc->primary[0] != '\0' ? 1 + pc->nsecondaries : 0;
}

/* Drops a learner that died, timed out or already belongs to the configuration. */
static void
learner_check(const struct meta_state *st, const struct meta_app *app, struct meta_partition *part,
              int64_t now_ms)
{
    const char *why = NULL;

    if (part->learner[0] == '\0')
        return;
    if (meta_config_has(&part->config, part->learner))
        why = "is already a member";
    else if (!member_alive(st, part->learner, now_ms))
        why = "is dead";
    else if (now_ms >= part->learner_deadline_ms)
        why = "did not catch up in time";
    if (why == NULL)
        return;
    LOG_WARN("partition %u.%u@%lld: learner %s %s; picking another", app->app_id, part->config.pidx,
             (long long)part->config.ballot, part->learner, why);
    part->learner[0] = '\0';
}

/* Picks, keeps or drops the learner of one partition. */
static void
partition_heal(struct meta_state *st, const struct meta_app *app, struct meta_partition *part,
               int64_t now_ms)
{
    const struct partition_config *pc = &part->config;
    const struct meta_node *n;

    if (pc->primary[0] == '\0' || member_count(pc) >= app->replica_count) {
        part->learner[0] = '\0';
        part->short_seen = false;
        part->filling &= pc->primary[0] == '\0';
        return;
    }
    if (!part->short_seen) {
        part->short_seen = true;
        part->short_since_ms = now_ms;
    }
    learner_check(st, app, part, now_ms);
    if (part->learner[0] != '\0' || !member_alive(st, pc->primary, now_ms) ||
        (now_ms - part->short_since_ms < st->opt.add_secondary_delay_ms && !part->filling))
        return;
    n = learner_pick(st, app, pc, now_ms);
    if (n == NULL)
        return; /* every live server already holds it: wait for one more */
    snprintf(part->learner, sizeof(part->learner), "%s", n->address);
    part->learner_deadline_ms = now_ms + st->opt.learner_timeout_ms;
    LOG_INFO("partition %u.%u@%lld: %u of %u replicas for %lld ms; %s learns it%s", app->app_id,
             pc->pidx, (long long)pc->ballot, member_count(pc), app->replica_count,
             (long long)(now_ms - part->short_since_ms), n->address,
             meta_node_report(n, gpid_make(app->app_id, pc->pidx)) ? " (it holds old data)" : "");
}

void
meta_state_heal(struct meta_state *st, int64_t now_ms)
{
    if (!st->loaded)
        return;
    for (size_t i = 0; i < st->napps; i++) {
        struct meta_app *app = st->apps[i];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++)
            partition_heal(st, app, &app->parts[p], now_ms);
    }
}

void
meta_state_cron(struct meta_state *st, int64_t now_ms)
{
    meta_state_check_nodes(st, now_ms);
    meta_state_heal(st, now_ms);
    (void)meta_state_balance(st, now_ms);
    meta_dup_flush(st, now_ms);
    meta_state_metrics(st, now_ms);
}

/* ======================= proposals from primaries ======================= */

/* Applies m to pc (ballot not raised yet). ERR_INVALID_STATE if m->node is not the learner
 * (upgrade) or a secondary (remove); ERR_INVALID_ARG for an unknown type. */
static int
proposal_apply(const struct meta_partition *part, const struct msg_config_proposal *m,
               struct partition_config *pc)
{
    if (m->type == CONFIG_UPGRADE_LEARNER) {
        if (part->learner[0] == '\0' || strcmp(part->learner, m->node) != 0 ||
            meta_config_has(pc, m->node) || pc->nsecondaries >= GEOKV_MAX_REPLICAS)
            return ERR_INVALID_STATE;
        snprintf(pc->secondaries[pc->nsecondaries++], GEOKV_ADDR_MAX, "%s", m->node);
        return 0;
    }
    if (m->type == CONFIG_REMOVE_SECONDARY) {
        for (uint32_t i = 0; i < pc->nsecondaries; i++) {
            if (strcmp(pc->secondaries[i], m->node) == 0) {
                meta_config_remove_secondary(pc, i);
                return 0;
            }
        }
        return ERR_INVALID_STATE;
    }
    if (m->type == CONFIG_BUMP_BALLOT)
        return strcmp(pc->primary, m->node) == 0 ? 0 : ERR_INVALID_STATE;
    return ERR_INVALID_ARG;
}

int
meta_state_config_proposal(struct meta_state *st, const struct msg_config_proposal *m,
                           int64_t now_ms, struct replica_assign *out)
{
    struct meta_app *app = (struct meta_app *)meta_state_get_app(st, gpid_app(m->gpid));
    struct meta_partition *part;
    struct partition_config pc;
    char why[GEOKV_ADDR_MAX + 64];
    int rc;

    memset(out, 0, sizeof(*out));
    if (app == NULL || app->status != APP_AVAILABLE || gpid_pidx(m->gpid) >= app->partition_count)
        return ERR_APP_NOT_FOUND;
    part = &app->parts[gpid_pidx(m->gpid)];
    pc = part->config;
    if (m->ballot < pc.ballot)
        return ERR_STALE_BALLOT;
    if (m->ballot > pc.ballot)
        return ERR_INVALID_STATE; /* a ballot this meta never gave out */
    rc = proposal_apply(part, m, &pc);
    if (rc != 0) {
        LOG_WARN("partition %u.%u@%lld: refused proposal %u for %s: %s", app->app_id, pc.pidx,
                 (long long)pc.ballot, m->type, m->node, err_str(rc));
        return rc;
    }
    snprintf(why, sizeof(why), "%s %s",
             m->type == CONFIG_UPGRADE_LEARNER    ? "primary upgraded learner"
             : m->type == CONFIG_REMOVE_SECONDARY ? "primary removed secondary"
                                                  : "new ballot for restarted primary",
             m->node);
    pc.ballot++;
    rc = meta_partition_update(st, app, part, &pc, why);
    if (rc != 0)
        return rc;
    if (m->type == CONFIG_UPGRADE_LEARNER)
        part->learner[0] = '\0';
    partition_heal(st, app, part, now_ms); /* restarts or stops the shortage clock */
    meta_assign_fill(app, part, ROLE_PRIMARY, out);
    return 0;
}
