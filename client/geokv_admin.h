#pragma once
/*
 * geokv_admin.h: managing a cluster's tables and their duplications to other clusters, through
 * the cluster's meta servers. Installed with geokv.h, whose client it uses and whose rules it
 * follows: libc only, errors are GEOKV_ERR_*, outputs are malloc'd and freed with free()
 * unless a function says otherwise.
 *
 *     struct geokv_client *c;
 *     uint64_t dupid;
 *     bool existed;
 *     char why[256];
 *     if (geokv_client_create("10.0.0.1:34601", NULL, &c) != 0) ...
 *     if (geokv_create_table(c, "users", 8, 3, 30000) != 0) ...
 *     if (geokv_dup_add(c, "users", "tj", false, 20000, &dupid, &existed, why, sizeof(why)))
 *         fprintf(stderr, "dup add: %s\n", why);
 *
 * Calls that the meta may refuse for a reason take why/whylen (may be NULL/0): the meta's
 * one-line reason, for the operator (empty if it gave none, e.g. on a timeout).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geokv.h"

/* ---- tables ---- */

/*
 * Creates a table of partition_count partitions (at most 65536), each on replica_count replica
 * servers (at most 8), and waits until every partition has a serving primary.
 * GEOKV_ERR_APP_EXISTS, GEOKV_ERR_INVALID_ARG; a create that times out may still complete.
 */
GEOKV_MUST_CHECK int geokv_create_table(struct geokv_client *c, const char *name,
                                        uint32_t partition_count, uint32_t replica_count,
                                        int timeout_ms);
/* Drops a table (its data is removed later). GEOKV_ERR_APP_NOT_FOUND. */
GEOKV_MUST_CHECK int geokv_drop_table(struct geokv_client *c, const char *name, int timeout_ms);
/* Denies (deny true) or allows again client writes to a table on this cluster: while denied,
 * every set, delete, incr and check_and_set fails at once with GEOKV_ERR_WRITE_DENIED, and
 * writes duplicated from other clusters are still applied (a switchover's old master, a
 * follower kept read-only). Kept in the cluster's metadata; each primary applies it with its
 * next beacon (within beacon_interval_ms). GEOKV_ERR_APP_NOT_FOUND. */
GEOKV_MUST_CHECK int geokv_set_table_writes(struct geokv_client *c, const char *name, bool deny,
                                            int timeout_ms);

struct geokv_table_info {
    uint32_t id;
    char name[128];
    char status[16]; /* "AVAILABLE", "CREATING", "DROPPED" */
    uint32_t partition_count, replica_count;
    int64_t create_time_s; /* Unix time */
};
/* The cluster's tables: *out (n entries) is malloc'd. */
GEOKV_MUST_CHECK int geokv_list_tables(struct geokv_client *c, int timeout_ms,
                                       struct geokv_table_info **out, size_t *n);

/* ---- duplication ---- */

/*
 * Starts duplicating table to the remote cluster (a name in the meta's [pegasus.clusters]),
 * where a table of the same name must exist; full = first copy the data the table holds (the
 * remote table must not exist: it is created). *dupid names it; *existed is true if the same
 * duplication existed already. The meta asks the remote cluster first: give it >= 10 s.
 * GEOKV_ERR_INVALID_ARG (remote unknown), GEOKV_ERR_APP_NOT_FOUND (here or there),
 * GEOKV_ERR_BUSY (the remote cluster could not be asked), GEOKV_ERR_INVALID_STATE
 * (duplication disabled).
 */
GEOKV_MUST_CHECK int geokv_dup_add(struct geokv_client *c, const char *table, const char *remote,
                                   bool full, int timeout_ms, uint64_t *dupid, bool *existed,
                                   char *why, size_t whylen);

struct geokv_dup {
    uint64_t dupid;
    char status[16];    /* "DS_PREPARE", "DS_APP" (full copy), "DS_LOG", "DS_PAUSE" */
    char fail_mode[16]; /* "FAIL_SLOW": retry forever; "FAIL_SKIP": skip a failing batch */
    char remote[128];
    char remote_table[128];
    int64_t create_time_ms; /* Unix time */
    size_t npartitions;
    int64_t *confirmed; /* per partition: every write up to it reached the remote; -1 unknown */
    char progress[256]; /* DS_PREPARE / DS_APP: where the full copy is */
};
/* The table's duplications: *out (n entries) is freed with geokv_dup_list_free.
 * GEOKV_ERR_APP_NOT_FOUND. */
GEOKV_MUST_CHECK int geokv_dup_list(struct geokv_client *c, const char *table, int timeout_ms,
                                    struct geokv_dup **out, size_t *n, char *why, size_t whylen);
void geokv_dup_list_free(struct geokv_dup *dups, size_t n);

enum geokv_dup_op {
    GEOKV_DUP_PAUSE = 1,     /* stop shipping, keep the log (from DS_LOG) */
    GEOKV_DUP_START = 2,     /* ship again (from DS_PAUSE) */
    GEOKV_DUP_REMOVE = 3,    /* end it */
    GEOKV_DUP_FAIL_MODE = 4, /* set its fail mode */
};
enum geokv_dup_fail_mode { GEOKV_DUP_FAIL_SLOW = 0, GEOKV_DUP_FAIL_SKIP = 1 };
/* fail_mode is read by GEOKV_DUP_FAIL_MODE only. GEOKV_ERR_NOT_FOUND (no such dupid),
 * GEOKV_ERR_INVALID_STATE (a pause of a duplication not shipping, a start of one not paused). */
GEOKV_MUST_CHECK int geokv_dup_modify(struct geokv_client *c, const char *table, uint64_t dupid,
                                      enum geokv_dup_op op, enum geokv_dup_fail_mode fail_mode,
                                      int timeout_ms, char *why, size_t whylen);
