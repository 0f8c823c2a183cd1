/*
 * meta_balance.c: a simple primary balancer. Replicas are spread at create time and by
 * healing; what drifts after failovers is where the primaries are (a server that came back
 * holds only secondaries). Once per balancer_interval_ms the balancer makes at most one move:
 *
 *   if a live server S holds more than ceil(avg) primaries (avg over live servers), and a
 *   partition S leads has a secondary on a live server T holding at least two primaries fewer
 *   than S, then T becomes primary and S a secondary of that partition (ballot + 1).
 *
 * The "two fewer" rule makes every move lower the sum of squared primary counts, so moves
 * never oscillate. A move is a plain primary/secondary swap: no data is copied, the
 * membership is unchanged.
 *
 * Safety: only fully healthy partitions move: every member alive and beaconing this leader,
 * no learner, replica_count members, and the primary and the chosen secondary both report
 * ready at the current ballot with equal last_committed (the secondary has everything the
 * primary committed as of their last beacons). The replicas then handle it as any ballot
 * change: the old primary stops serving at the new ballot (a prepare from the new primary
 * at a higher ballot makes it a secondary), and the new primary first brings the group to
 * the same committed point, re-proposing what was prepared but not committed. Nothing moves
 * during the first grace period of a new leader (it does not know every server yet).
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include <string.h>

#include "common/xmalloc.h"
#include "meta/meta_state.h"
#include "meta/meta_state_int.h"

/* Whether address reported gpid ready at ballot; its report is returned in *rp. */
static bool
ready_at(const struct meta_state *st, const char *address, uint64_t gpid, ballot_t ballot,
         const struct replica_report **rp)
{
    *rp = meta_report_of(st, address, gpid);
    return *rp != NULL && (*rp)->ready && (*rp)->ballot == ballot;
}

/* The index of the secondary of part to swap with its primary (node index src holding
 * prim[src] primaries), or -1. */
static int
swap_pick(const struct meta_state *st, const struct meta_app *app,
          const struct meta_partition *part, const uint32_t *prim, size_t src)
{
    const struct partition_config *pc = &part->config;
    uint64_t gpid = gpid_make(app->app_id, pc->pidx);
    const struct replica_report *pr, *sr;
    int best = -1;
    uint32_t best_prim = 0;

    if (!ready_at(st, pc->primary, gpid, pc->ballot, &pr))
        return -1;
    for (uint32_t i = 0; i < pc->nsecondaries; i++) {
        const struct meta_node *n = meta_node_find(st, pc->secondaries[i]);
        size_t t;
        if (n == NULL)
            continue;
        t = (size_t)(n - st->nodes);
        if (prim[t] + 2 > prim[src] || (best >= 0 && prim[t] >= best_prim))
            continue;
        if (!ready_at(st, pc->secondaries[i], gpid, pc->ballot, &sr) ||
            sr->last_committed != pr->last_committed)
            continue;
        best = (int)i;
        best_prim = prim[t];
    }
    return best;
}

/* Moves one primary away from node src if a safe swap exists. */
static bool
move_from(struct meta_state *st, size_t src, const uint32_t *prim, int64_t now_ms)
{
    const char *addr = st->nodes[src].address;

    for (size_t a = 0; a < st->napps; a++) {
        struct meta_app *app = st->apps[a];
        if (app->status != APP_AVAILABLE)
            continue;
        for (uint32_t p = 0; p < app->partition_count; p++) {
            struct meta_partition *part = &app->parts[p];
            struct partition_config pc = part->config;
            int k;
            if (strcmp(pc.primary, addr) != 0 || !meta_partition_healthy(st, app, part, now_ms))
                continue;
            k = swap_pick(st, app, part, prim, src);
            if (k < 0)
                continue;
            memcpy(pc.primary, part->config.secondaries[k], sizeof(pc.primary));
            memcpy(pc.secondaries[k], addr, sizeof(pc.secondaries[k]));
            pc.ballot++;
            return meta_partition_update(st, app, part, &pc, "balancer moved the primary") == 0;
        }
    }
    return false;
}

bool
meta_state_balance(struct meta_state *st, int64_t now_ms)
{
    uint32_t *prim, total = 0, nlive = 0, ceil_avg;
    bool *tried;
    bool moved = false;

    if (!st->loaded || now_ms - st->last_balance_ms < st->opt.balancer_interval_ms ||
        now_ms - st->load_ms <= st->opt.node_grace_ms || st->nnodes < 2)
        return false;
    st->last_balance_ms = now_ms;
    prim = xcalloc(st->nnodes, sizeof(*prim));
    tried = xcalloc(st->nnodes, sizeof(*tried));
    for (size_t i = 0; i < st->nnodes; i++) {
        uint32_t sec;
        if (!meta_node_usable(st, &st->nodes[i], now_ms)) {
            tried[i] = true;          /* holds nothing to move, takes nothing */
            prim[i] = UINT32_MAX - 2; /* never a target */
            continue;
        }
        meta_node_counts(st, st->nodes[i].address, &prim[i], &sec);
        total += prim[i];
        nlive++;
    }
    ceil_avg = nlive > 0 ? (total + nlive - 1) / nlive : 0;
    /* The most loaded server first; the next one if none of its partitions can move. */
    while (!moved) {
        size_t src = SIZE_MAX;
        for (size_t i = 0; i < st->nnodes; i++)
            if (!tried[i] && prim[i] > ceil_avg && (src == SIZE_MAX || prim[i] > prim[src]))
                src = i;
        if (src == SIZE_MAX)
            break;
        tried[src] = true;
        moved = move_from(st, src, prim, now_ms);
    }
    xfree(tried);
    xfree(prim);
    return moved;
}
