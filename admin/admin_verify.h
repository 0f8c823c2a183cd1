#pragma once
/*
 * What dup verify (admin_verify.c) shares with dup switchover (admin_switch.c): a table on each
 * of two clusters, calls to its primaries, waiting for the duplications between the two, and
 * the comparison itself.
 */
#include <stddef.h>
#include <stdint.h>

#include "admin/admin.h"
#include "client/geokv_wire.h"

/* A table on one cluster: "local" (admin-cli's -m) or "remote". */
struct side {
    const char *label;
    const char *cluster;         /* its name as the other cluster knows it; NULL: not given */
    struct geokv_client *client; /* the remote one is owned (sides_close) */
    char app[GEOKV_APP_NAME_MAX];
    struct msg_app_config cfg;
    int timeout_ms;
    int retry_ms; /* how long a call to a primary is tried again; 0: 30 s */
};

/* Fills a (ctx's cluster, named local_cluster by the remote one) and b (a client on
 * remote_metas, sealed; named remote_cluster here) and reads both tables' configurations;
 * prints "<what>: ..." and fails otherwise. Close with sides_close either way. */
enum admin_result sides_open(struct side *a, struct side *b, struct admin_ctx *ctx, const char *app,
                             const char *remote_app, const char *remote_metas,
                             const char *local_cluster, const char *remote_cluster,
                             const char *what);
void sides_close(struct side *a, struct side *b);
/* "2026-12-06 05:02:43.922169 UTC" for microseconds since the epoch (a timetag's). */
void admin_time_text(char *out, size_t len, uint64_t us);
/* Reads s's configuration again. */
int side_query(struct side *s);
/* RPC_PARTITION_INFO to the primary of pidx, following moves for up to 30 s. */
int side_partition_info(struct side *s, uint32_t pidx, struct msg_partition_info_resp *out);
/* Waits until every duplication of `from` towards `to`'s table (on cluster to->cluster, if
 * known) confirmed committed[pidx] of each partition; prints "<what>: ..." and fails if one is
 * copying or deadline_ms passes. */
enum admin_result wait_confirmed(struct side *from, const struct side *to,
                                 const decree_t *committed, int64_t deadline_ms, const char *what);
/* Compares the two tables over the writes stamped before safe_us (dup verify's narrowing),
 * printing the counts and the first `show` differences; fails ("<what>: N keys differ") on a
 * difference. */
enum admin_result verify_tables(struct side *a, struct side *b, uint64_t safe_us, size_t show,
                                const char *what);
