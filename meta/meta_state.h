#pragma once
/*
 * meta_state: what the meta leader knows (tables, partition configurations, replica servers)
 * and the rules that change it. Persistent parts live in the store:
 *
 *   <cluster_path>/apps/<app_id>          JSON app info
 *   <cluster_path>/apps/<app_id>/<pidx>   JSON partition config
 *
 * Every change is written to the store first and applied in memory only after the write
 * succeeded. Replica-server liveness and partition readiness are in memory only (a new leader
 * relearns them from beacons).
 *
 * Pure logic on top of meta_store: no threads, no clock reads for liveness (callers pass a
 * monotonic now_ms), so unit tests drive it with the in-memory store.
 * Threads: one owner thread (the meta loop).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/msg.h"
#include "proto/types.h"

struct meta_dup;
struct meta_store;
struct meta_state;

/*
 * One partition as the leader knows it. `config` is exactly what the store holds (JSON:
 * ballot, primary, secondaries, last_committed_decree); the rest is memory only and
 * relearnt (or restarted) by a new leader.
 */
struct meta_partition {
    struct partition_config config; /* persisted; config.last_committed is refreshed from the
                                     * primary's beacons in memory and written with the next
                                     * reconfiguration */
    char learner[GEOKV_ADDR_MAX];   /* memory only: the server catching up to join; "" = none */
    int64_t learner_deadline_ms;    /* pick another learner after this (monotonic ms) */
    bool short_seen;                /* memory only: seen with fewer than replica_count members */
    int64_t short_since_ms;         /* ... since then */
    bool orphan_logged;             /* memory only: logged as waiting for a member to return */
    int64_t unserved_since_ms;      /* memory only: since when its live primary reports not
                                     * serving it (0 = it does) ... */
    ballot_t unserved_ballot;       /* ... under this ballot (a new one restarts the clock) */
    bool filling;                   /* memory only: a follower table's partition growing to
                                     * replica_count after its creation (or, for a new leader,
                                     * maybe still); learners are added without delay */
};

struct meta_app {
    uint32_t app_id;
    char name[GEOKV_APP_NAME_MAX];
    uint32_t partition_count, replica_count;
    uint32_t status;              /* enum app_status */
    int64_t create_ts;            /* wall-clock seconds */
    char *envs;                   /* JSON object text, owned ("{}" when none) */
    struct dup_master master;     /* from envs: set if this is a follower table (memory only) */
    bool deny_write;              /* from envs: client writes refused (memory only) */
    struct meta_partition *parts; /* partition_count entries, owned; NULL until loaded */
    struct meta_dup **dups;       /* duplications (meta_dup.h), sorted by dupid, tombstones too;
                             * owned, freed by meta_app_fini */
    uint32_t ndups;
};

struct meta_state_options {
    int64_t node_grace_ms;          /* a server with no beacon for this long is dead */
    int64_t lease_ms;               /* returned in beacon replies (< node_grace_ms) */
    int64_t add_secondary_delay_ms; /* a partition short of replicas this long gets a learner */
    int64_t learner_timeout_ms;     /* a learner not upgraded by then is replaced */
    int64_t balancer_interval_ms;   /* at most one primary move per interval */
};

/* store is borrowed (must outlive the state); cluster_path ("/geokv/bjsrv-account") is
 * copied. */
struct meta_state *meta_state_create(struct meta_store *store, const char *cluster_path,
                                     const struct meta_state_options *opt);
void meta_state_destroy(struct meta_state *st);

/*
 * Creates the apps directory if needed and loads every app and partition (what a newly
 * elected leader does). Apps left "creating" by a leader that died mid-create are marked
 * dropped. now_ms starts the grace period every server named in a configuration gets to
 * beacon before it can be declared dead (they are listed as nodes from now on).
 * Returns ERR_ZK (or another store error) if the store cannot be read.
 */
MUST_CHECK int meta_state_load(struct meta_state *st, int64_t now_ms);

/* Table names: 1..127 characters of [A-Za-z0-9_.-]. */
bool meta_app_name_valid(const char *name);

/*
 * Validates req and places replica_count replicas of every partition on distinct live
 * servers: the primary on the server with the fewest primaries, the secondaries on the
 * servers with the fewest replicas (ties round robin), counting existing apps. Persists the
 * app and its partitions (ballot 1) and returns the new app (borrowed, valid until the state
 * is destroyed) in *appp.
 * A follower table (req->master set) gets only its primaries: each copies its master
 * partition's data first, and healing adds learners at once (no add_secondary_delay_ms
 * while it first grows) that copy from it when it is done. Its envs name
 * the master. Creating a follower that exists with the same master and partition count
 * returns the existing app (the source meta repeats the request).
 * ERR_INVALID_ARG (name, counts), ERR_APP_EXISTS, ERR_NO_NODES (fewer live servers than
 * replica_count), ERR_ZK.
 */
MUST_CHECK int meta_state_create_app(struct meta_state *st, const struct msg_create_app_req *req,
                                     int64_t now_ms, const struct meta_app **appp);
/* Persists status "dropped". ERR_APP_NOT_FOUND, ERR_ZK. */
MUST_CHECK int meta_state_drop_app(struct meta_state *st, const char *name);
/* Persists whether client writes to the table are denied (its env META_ENV_DENY_WRITE);
 * primaries learn it with their next beacon. ERR_APP_NOT_FOUND, ERR_ZK. */
MUST_CHECK int meta_state_set_writes(struct meta_state *st, const char *name, bool deny);

/* The available app of that name, or NULL. Borrowed. */
const struct meta_app *meta_state_find_app(const struct meta_state *st, const char *name);
/* Any app (also dropped) by id, or NULL. Borrowed. */
const struct meta_app *meta_state_get_app(const struct meta_state *st, uint32_t app_id);
/* Every app ever created (dropped ones too), in id order. */
size_t meta_state_app_count(const struct meta_state *st);
const struct meta_app *meta_state_app_at(const struct meta_state *st, size_t i);
/* For the duplication module (meta_dup*.c), which keeps its state in the apps and under the
 * apps' nodes: the app at i to change (its duplications), the store, and the apps' path. */
struct meta_app *meta_state_app_edit(const struct meta_state *st, size_t i);
struct meta_store *meta_state_store(const struct meta_state *st);
const char *meta_state_apps_path(const struct meta_state *st);
/* The id the next create will use (max existing + 1; ids are never reused). */
uint32_t meta_state_next_app_id(const struct meta_state *st);
/* True once every member (primary and secondaries) of every partition reported it ready at
 * the partition's current ballot in its latest beacon. */
bool meta_state_app_ready(const struct meta_state *st, const struct meta_app *app);
/* Ready, and every partition has replica_count members (a follower table that finished
 * copying from its master and grew its secondaries). */
bool meta_state_app_healthy(const struct meta_state *st, const struct meta_app *app);

/*
 * A replica server's beacon: marks it alive, keeps its report (what it holds, at which
 * ballot and decrees) until its next beacon, refreshes last_committed from primaries, and
 * fills resp with every partition where it is primary, secondary or the learner (role and
 * full config), plus the reported gpids whose app was dropped. A reported partition it no
 * longer belongs to is simply not assigned (never dropped: its files may be learnt from).
 * resp's arrays are xmalloc'd: free with meta_state_beacon_resp_fini.
 * ERR_INVALID_ARG for an empty address.
 */
MUST_CHECK int meta_state_on_beacon(struct meta_state *st, const struct msg_beacon_req *req,
                                    int64_t now_ms, struct msg_beacon_resp *resp);
void meta_state_beacon_resp_fini(struct msg_beacon_resp *resp);
bool meta_state_node_alive(const struct meta_state *st, const char *address, int64_t now_ms);
/* Gives every server not yet declared dead a fresh grace period from now_ms: call it when
 * this leader could not hear beacons for a while (cut from ZooKeeper, a stalled loop), so
 * their silence is not taken for deaths. */
void meta_state_grace_restart(struct meta_state *st, int64_t now_ms);

/*
 * Failure detection and failover (meta_reconfig.c): declares dead (logged once) the servers
 * without a beacon for node_grace_ms, then fixes every partition with a dead member: a dead
 * primary is replaced by the live secondary with the largest reported last_prepared (ties:
 * last_committed); dead secondaries are removed; ballot + 1. A partition with no live
 * promotable member keeps its config. Each change is written to the store first; a failed
 * write leaves that partition as it was and the next call retries it.
 */
void meta_state_check_nodes(struct meta_state *st, int64_t now_ms);
/* Healing (meta_reconfig.c): picks, replaces or clears the learner of every partition with
 * fewer members than replica_count (memory only). */
void meta_state_heal(struct meta_state *st, int64_t now_ms);
/* Balancer (meta_balance.c): at most one primary/secondary swap per balancer_interval_ms.
 * Returns true if it moved a primary. */
bool meta_state_balance(struct meta_state *st, int64_t now_ms);
/* The meta loop's periodic work: check_nodes, heal, balance, and writing duplications' pending
 * confirmed decrees (meta_dup_flush). */
void meta_state_cron(struct meta_state *st, int64_t now_ms);

/*
 * RPC_CONFIG_PROPOSAL from a primary. m->ballot must equal the partition's ballot
 * (ERR_STALE_BALLOT if lower, ERR_INVALID_STATE if higher).
 *  CONFIG_UPGRADE_LEARNER: m->node must be the current learner; it joins the secondaries.
 *  CONFIG_REMOVE_SECONDARY: m->node must be a secondary; it is removed.
 *  CONFIG_BUMP_BALLOT: m->node must be the primary; only the ballot changes.
 * Either way ballot + 1, persisted before memory changes. out gets the new config (role
 * ROLE_PRIMARY, the proposer's). ERR_APP_NOT_FOUND (unknown/dropped table or partition),
 * ERR_INVALID_ARG (bad type), ERR_INVALID_STATE (node not learner/secondary/primary), ERR_ZK.
 */
MUST_CHECK int meta_state_config_proposal(struct meta_state *st,
                                          const struct msg_config_proposal *m, int64_t now_ms,
                                          struct replica_assign *out);

/* Fill reply messages. Arrays are xmalloc'd: free them with xfree(out->partitions / apps /
 * nodes). */
void meta_state_app_config(const struct meta_state *st, const struct meta_app *app,
                           struct msg_app_config *out);
void meta_state_list_apps(const struct meta_state *st, struct msg_list_apps_resp *out);
void meta_state_list_nodes(const struct meta_state *st, int64_t now_ms,
                           struct msg_list_nodes_resp *out);

/* ---- JSON codec of the store's nodes (meta_json.c) ---- */

void meta_app_json_encode(const struct meta_app *app, struct buf *out);
/* Fills every field but parts; app->envs is allocated (free with meta_app_fini).
 * ERR_INVALID_DATA on malformed JSON, missing or mistyped fields, or out-of-range values. */
MUST_CHECK int meta_app_json_decode(const uint8_t *p, size_t n, struct meta_app *app);
void meta_partition_json_encode(const struct partition_config *pc, struct buf *out);
/* Strict: also rejects an empty or repeated member. */
MUST_CHECK int meta_partition_json_decode(const uint8_t *p, size_t n, struct partition_config *pc);
/* envs (JSON object text) with key set to value, or removed if value is NULL (xmalloc'd). */
char *meta_app_envs_with(const char *envs, const char *key, const char *value);
/* The env that denies client writes ("true"), as Pegasus names its request-denying env. */
#define META_ENV_DENY_WRITE "replica.deny_client_write"
/* The envs text of a follower table of master (xmalloc'd). */
char *meta_app_envs_of_master(const struct dup_master *master);
/* Frees envs, parts and dups (not app itself). */
void meta_app_fini(struct meta_app *app);
/* "available" / "creating" / "dropped" (NULL for an unknown value) and back (0 if unknown). */
const char *meta_app_status_name(uint32_t status);
