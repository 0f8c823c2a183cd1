#pragma once
/*
 *meta_dup_int.h: shared by meta_dup.c (commands and sync), meta_dup_store.c (memory, JSON,
 * store nodes, load) and meta_dup_full.c (full duplication). Not for other files: they use
 * meta_dup.h.
 *
 * Threads: the meta loop (single owner); no locks.
 */
#include "meta/meta_dup.h"
#include "meta/meta_state.h"

#define DUP_PATH_MAX 608 /* the state's apps path (< 512) + "/<id>/duplication/<dupid>/<p>" */
#define DUP_NEVER_WRITTEN (INT64_MIN / 2)
#define JSON_MAX_INT 9007199254740992.0 /* 2^53 */

/* The available app of that id, or NULL (meta_state owns it; this module may change its
 * duplications). */
struct meta_app *meta_dup_app_live(const struct meta_state *st, uint32_t app_id);
/* The meta list of cluster name in [pegasus.clusters], or NULL. */
const char *meta_dup_cluster_metas(const struct meta_dup_options *o, const char *name);
/* Persists a new duplication: its node, then one node per partition at its start decree. On
 * failure what was written is deleted again (best effort) so memory and store agree. */
int meta_dup_create_nodes(struct meta_state *st, const struct meta_app *app,
                          const struct meta_dup *d);
/* The duplication dupid of app (tombstones too), or NULL. */
struct meta_dup *meta_dup_find(const struct meta_app *app, uint64_t dupid);
/* The live duplication of app to remote, or NULL. */
struct meta_dup *meta_dup_find_remote(const struct meta_app *app, const char *remote);
/* Frees d and its partitions. */
void meta_dup_free(struct meta_dup *d);
/* Overwrites d's node with d's JSON (create if create). */
int meta_dup_node_write(struct meta_state *st, uint32_t app_id, const struct meta_dup *d,
                        bool create);
/* Writes partition p's reported decree if it is ahead of the persisted one and due (the
 * first write of this leader at once, then at most every META_DUP_PERSIST_MS, failed tries
 * included). */
void meta_dup_part_flush(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                         uint32_t p, int64_t now_ms);
/* Writes one partition's confirmed decree (creating the node if it is missing). */
int meta_dup_part_write(struct meta_state *st, uint32_t app_id, uint64_t dupid, uint32_t pidx,
                        decree_t decree, bool create);
/* Gives d npartitions partitions, all at -1 and never written. */
void meta_dup_parts_alloc(struct meta_dup *d, uint32_t npartitions);
/* Deletes the per-partition nodes of a duplication (best effort; missing ones are fine). */
void meta_dup_parts_delete(struct meta_state *st, uint32_t app_id, uint64_t dupid,
                           uint32_t npartitions);
/* Drops d's partitions (a tombstone has none). */
void meta_dup_parts_free(struct meta_dup *d);
/* What dup list says of a full duplication still copying, or of partitions re-seeding. */
void meta_dup_progress(const struct meta_dup *d, char *out, size_t cap);
/* Writes d's node with status, then changes d (logged). */
int meta_dup_set_status(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                        uint32_t status);
/* Inserts d (taking ownership) keeping app->dups sorted by dupid. */
void meta_dup_insert(struct meta_app *app, struct meta_dup *d);
/* Every partition has its checkpoint decree: on to DS_APP (retried by the cron on failure). */
void meta_dup_prepare_check(struct meta_state *st, const struct meta_app *app, struct meta_dup *d);
/* DS_PREPARE: partition p's primary reports its checkpoint decree. Only the first one counts
 * (a later primary resumes from it), and it is written at once: a failover must not lose it. */
void meta_dup_prepare_confirm(struct meta_state *st, const struct meta_app *app, struct meta_dup *d,
                              uint32_t p, decree_t decree);
