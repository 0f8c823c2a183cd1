#pragma once
/*
 * meta_state: what the meta leader knows (tables, partition configurations, replica servers)
 * and the rules that change it. Persistent parts live in the store (DESIGN.md §3):
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

struct meta_store;
struct meta_state;

struct meta_partition {
    uint32_t pidx;
    ballot_t ballot;
    char primary[GEOKV_ADDR_MAX]; /* empty = none */
    uint32_t nsecondaries;
    char secondaries[GEOKV_MAX_REPLICAS][GEOKV_ADDR_MAX];
    decree_t last_committed;
    bool ready; /* memory only: the primary reported it serving at this ballot */
};

struct meta_app {
    uint32_t app_id;
    char name[GEOKV_APP_NAME_MAX];
    uint32_t partition_count, replica_count;
    uint32_t status;   /* enum app_status */
    int64_t create_ts; /* wall-clock seconds */
    char *envs;        /* JSON object text, owned ("{}" when none) */
    struct meta_partition *parts; /* partition_count entries, owned; NULL until loaded */
};

struct meta_state_options {
    int64_t node_grace_ms; /* a server with no beacon for this long is dead */
    int64_t lease_ms;      /* returned in beacon replies */
};

/* store is borrowed (must outlive the state); cluster_path ("/geokv/bjsrv-account") is
 * copied. */
struct meta_state *meta_state_create(struct meta_store *store, const char *cluster_path,
                                     const struct meta_state_options *opt);
void meta_state_destroy(struct meta_state *st);

/* Creates the apps directory if needed and loads every app and partition (what a newly
 * elected leader does). Apps left "creating" by a leader that died mid-create are marked
 * dropped. Returns ERR_ZK (or another store error) if the store cannot be read. */
MUST_CHECK int meta_state_load(struct meta_state *st);

/* Table names: 1..127 characters of [A-Za-z0-9_.-]. */
bool meta_app_name_valid(const char *name);

/*
 * Validates req, places every partition's primary on the live server with the fewest
 * primaries (ties go round robin), persists the app and its partitions (ballot 1) and
 * returns the new app (borrowed, valid until the state is destroyed) in *appp.
 * ERR_INVALID_ARG (name, counts), ERR_APP_EXISTS, ERR_NO_NODES, ERR_ZK.
 */
MUST_CHECK int meta_state_create_app(struct meta_state *st, const struct msg_create_app_req *req,
                                     int64_t now_ms, const struct meta_app **appp);
/* Persists status "dropped". ERR_APP_NOT_FOUND, ERR_ZK. */
MUST_CHECK int meta_state_drop_app(struct meta_state *st, const char *name);

/* The available app of that name, or NULL. Borrowed. */
const struct meta_app *meta_state_find_app(const struct meta_state *st, const char *name);
/* Any app (also dropped) by id, or NULL. Borrowed. */
const struct meta_app *meta_state_get_app(const struct meta_state *st, uint32_t app_id);
/* Every app ever created (dropped ones too), in id order. */
size_t meta_state_app_count(const struct meta_state *st);
const struct meta_app *meta_state_app_at(const struct meta_state *st, size_t i);
/* The id the next create will use (max existing + 1; ids are never reused). */
uint32_t meta_state_next_app_id(const struct meta_state *st);
/* True once every partition's primary reported it ready. */
bool meta_state_app_ready(const struct meta_app *app);

/*
 * A replica server's beacon: marks it alive, records readiness of the partitions it serves,
 * and fills resp with every partition assigned to it plus the reported gpids whose app was
 * dropped. resp's arrays are xmalloc'd: free with meta_state_beacon_resp_fini.
 * ERR_INVALID_ARG for an empty address.
 */
MUST_CHECK int meta_state_on_beacon(struct meta_state *st, const struct msg_beacon_req *req,
                                    int64_t now_ms, struct msg_beacon_resp *resp);
void meta_state_beacon_resp_fini(struct msg_beacon_resp *resp);
/* Logs servers that just missed their grace period (once per transition). */
void meta_state_check_nodes(struct meta_state *st, int64_t now_ms);
bool meta_state_node_alive(const struct meta_state *st, const char *address, int64_t now_ms);

/* Fill reply messages. Arrays are xmalloc'd: free them with xfree(out->partitions / apps /
 * nodes). */
void meta_state_app_config(const struct meta_app *app, struct msg_app_config *out);
void meta_state_list_apps(const struct meta_state *st, struct msg_list_apps_resp *out);
void meta_state_list_nodes(const struct meta_state *st, int64_t now_ms,
                           struct msg_list_nodes_resp *out);

/* ---- JSON codec of the store's nodes (meta_json.c) ---- */

void meta_app_json_encode(const struct meta_app *app, struct buf *out);
/* Fills every field but parts; app->envs is allocated (free with meta_app_fini).
 * ERR_INVALID_DATA on malformed JSON, missing or mistyped fields, or out-of-range values. */
MUST_CHECK int meta_app_json_decode(const uint8_t *p, size_t n, struct meta_app *app);
void meta_partition_json_encode(const struct meta_partition *part, struct buf *out);
MUST_CHECK int meta_partition_json_decode(const uint8_t *p, size_t n, struct meta_partition *part);
/* Frees envs and parts (not app itself). */
void meta_app_fini(struct meta_app *app);
/* "available" / "creating" / "dropped" (NULL for an unknown value) and back (0 if unknown). */
const char *meta_app_status_name(uint32_t status);
uint32_t meta_app_status_parse(const char *name);
