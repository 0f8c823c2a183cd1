#pragma once
/*
 * meta_state_int.h: shared by meta_state.c (tables, load, beacons, replies), meta_reconfig.c
 * (failure detection, failover, learners, proposals) and meta_balance.c (primary balancer).
 * Not for other directories.
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include <stdbool.h>
#include <stdint.h>

#include "meta/meta_state.h"

#define META_STATE_PATH_MAX 512

/* A replica server as the leader knows it. Memory only. */
struct meta_node {
    char address[GEOKV_ADDR_MAX];
    int64_t last_beacon_ms;         /* for a server never heard from: when the leader loaded */
    bool beaconed;                  /* beaconed this leader at least once: may receive replicas */
    bool declared_dead;             /* logged as dead; cleared by the next beacon */
    struct replica_report *reports; /* its latest beacon's partitions, sorted by gpid */
    uint32_t nreports;
};

struct meta_state {
    struct meta_store *store;
    char cluster_path[META_STATE_PATH_MAX];
    char apps_path[META_STATE_PATH_MAX + 8];
    struct meta_state_options opt;
    struct meta_app **apps; /* sorted by app_id; pointers are stable */
    size_t napps;
    uint32_t max_app_id;
    struct meta_node *nodes; /* in order of first appearance; never removed */
    size_t nnodes;
    size_t rr_cursor;        /* round-robin tie-break for placement */
    int64_t load_ms;         /* when this leader loaded: start of the first grace period */
    int64_t grace_from_ms;   /* no server not yet declared dead dies before this + grace */
    int64_t last_balance_ms; /* last balancer pass */
    int64_t last_metrics_ms; /* last meta_state_metrics refresh */
    bool loaded;
};

/* The node of that address, or NULL. */
struct meta_node *meta_node_find(const struct meta_state *st, const char *address);
/* Not dead: beaconed within node_grace_ms, or not declared dead yet and within a grace period
 * from the leader's load or its last meta_state_grace_restart (a server never heard from
 * gets one grace period from the load). */
bool meta_node_alive(const struct meta_state *st, const struct meta_node *n, int64_t now_ms);
/* Beaconed this leader within node_grace_ms: may be given replicas and promoted. */
bool meta_node_usable(const struct meta_state *st, const struct meta_node *n, int64_t now_ms);
/* meta_metrics.c: refreshes the leader's gauges (at most once a second). */
void meta_state_metrics(struct meta_state *st, int64_t now_ms);
/* Every member usable, no learner, not short of replicas. */
bool meta_partition_healthy(const struct meta_state *st, const struct meta_app *app,
                            const struct meta_partition *part, int64_t now_ms);
/* The node's latest report of gpid, or NULL. Borrowed until its next beacon. */
const struct replica_report *meta_node_report(const struct meta_node *n, uint64_t gpid);
/* The report of gpid by address's latest beacon, or NULL. */
const struct replica_report *meta_report_of(const struct meta_state *st, const char *address,
                                            uint64_t gpid);
/* Counts the primaries and secondaries of available apps on address. */
void meta_node_counts(const struct meta_state *st, const char *address, uint32_t *primaries,
                      uint32_t *secondaries);

/* Whether address is the primary or a secondary of pc. */
bool meta_config_has(const struct partition_config *pc, const char *address);
/* Removes secondary i of pc (keeping the order of the rest). */
void meta_config_remove_secondary(struct partition_config *pc, uint32_t i);
/* Persists pc (ballot already raised by the caller), then applies it in memory and logs
 * why. On a store failure memory is unchanged and the error is logged and returned. */
MUST_CHECK int meta_partition_update(struct meta_state *st, struct meta_app *app,
                                     struct meta_partition *part, const struct partition_config *pc,
                                     const char *why);
/* Fills a with gpid, role and part's config. */
void meta_assign_fill(const struct meta_app *app, const struct meta_partition *part, uint32_t role,
                      struct replica_assign *a);
