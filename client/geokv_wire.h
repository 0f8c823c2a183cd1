#pragma once
/*
 * geokv_wire.h: the rest of libgeokv, for the project's own programs (admin-cli, geokv-bench,
 * the servers): the calls that speak in the wire's structs (proto/msg.h), so it is not
 * installed: table configurations and replica servers as the meta states them, calls
 * straight to one server, and the calls servers use to talk to another cluster. Programs
 * outside the tree use geokv.h and geokv_admin.h (included here too).
 *
 * Errors are the negative codes of common/err.h (geokv.h's GEOKV_ERR_* are the same values).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/geokv.h"
#include "client/geokv_admin.h"
#include "common/buf.h"
#include "common/err.h"
#include "proto/msg.h"
#include "proto/rpc.h"
#include "proto/types.h"

/* Largest value accepted client-side (the message limit leaves room for the envelope). */
#define GEOKV_MAX_VALUE (GEOKV_MAX_MESSAGE - (1u << 20))

/* Seals every call of the client from now on, if this process's [security] says seal_remote:
 * for a client of another datacenter's cluster. */
void geokv_client_seal(struct geokv_client *c);

/* Where a key goes in a configuration (pure; used by the client and its tests). */
struct geokv_route {
    uint32_t pidx;
    uint64_t gpid;
    ballot_t ballot;
    char primary[GEOKV_ADDR_MAX]; /* empty if the partition has no primary */
};
/*
 * Fills r for (hash_key, sort_key) in cfg. ERR_INVALID_ARG if cfg has no partitions,
 * ERR_AGAIN if the partition has no primary (r is still filled).
 */
MUST_CHECK int geokv_route_key(const struct msg_app_config *cfg, struct bytes hash_key,
                               struct bytes sort_key, struct geokv_route *r);

/*
 * Sends a request of any code to the primary of partition pidx of t, with the retries of a
 * data call (idempotent) until timeout_ms; cb gets the reply body (borrowed) or the error.
 * For servers that talk to another cluster (duplication ships entries this way).
 */
void geokv_partition_call_async(struct geokv_table *t, uint32_t code, uint32_t pidx,
                                const struct buf *body, int timeout_ms, rpc_done_fn *cb, void *arg);

/* ---- admin calls (meta) ---- */

/*
 * Creates a table and waits until the meta answers (it does once every partition has a
 * serving primary). ERR_APP_EXISTS, ERR_NO_NODES, ERR_INVALID_ARG. If out is not NULL it
 * receives the new configuration (caller frees with msg_app_config_fini). A create that
 * times out may still complete in the cluster.
 */
MUST_CHECK int geokv_create_app(struct geokv_client *c, const char *name, uint32_t partition_count,
                                uint32_t replica_count, int timeout_ms, struct msg_app_config *out);
/*
 * Creates the follower table of a full duplication (req->master names the source cluster,
 * table and meta list); the source meta calls it. Answered at once with the configuration,
 * whose `healthy` turns true when every partition copied its master's data and has all its
 * replicas. Idempotent: the same follower again is not an error, so it is retried.
 * ERR_APP_EXISTS if a table of that name exists that is not this follower.
 */
MUST_CHECK int geokv_create_follower_app(struct geokv_client *c,
                                         const struct msg_create_app_req *req, int timeout_ms,
                                         struct msg_app_config *out);
/* Lists replica servers; caller frees *out with msg_list_nodes_resp_fini. */
MUST_CHECK int geokv_list_nodes(struct geokv_client *c, int timeout_ms,
                                struct msg_list_nodes_resp *out);
/* A table's configuration straight from the meta leader; caller frees with
 * msg_app_config_fini. ERR_APP_NOT_FOUND. */
MUST_CHECK int geokv_query_config(struct geokv_client *c, const char *name, int timeout_ms,
                                  struct msg_app_config *out);
/*
 * Asks meta (or, if meta is NULL, the meta list in turn until one answers) who the leader
 * is and copies its address into leader. A follower answers with a redirect naming the
 * leader; ERR_NO_LEADER if it does not know one (an election is running).
 */
MUST_CHECK int geokv_leader(struct geokv_client *c, const char *meta, int timeout_ms,
                            char leader[GEOKV_ADDR_MAX]);

/* ---- admin calls (one replica server, directly) ---- */

/*
 * Asks the replica server at addr for its replica of gpid's digest: last committed decree,
 * number of unexpired records (tombstones included) and SHA-256 over them in key order (see
 * replica_on_digest). Any role answers; one attempt, no retries. ERR_PARTITION_NOT_HERE if
 * the server holds no such replica, ERR_TIMEOUT / ERR_NETWORK if it cannot be reached.
 */
MUST_CHECK int geokv_replica_digest(struct geokv_client *c, const char *addr, uint64_t gpid,
                                    int timeout_ms, struct msg_digest_resp *out);
/*
 * RPC_VERIFY to the replica server at addr for its replica of gpid (dup verify): digests of
 * hash buckets of its records, or a page of their records (proto/msg.schema verify_req).
 * One attempt; on success the caller frees *out with msg_verify_resp_fini and then *zone
 * (which its records borrow from) with unpacked_free.
 */
MUST_CHECK int geokv_replica_verify(struct geokv_client *c, const char *addr, uint64_t gpid,
                                    const struct msg_verify_req *req, int timeout_ms,
                                    struct msg_verify_resp *out, struct unpacked **zone);
/* RPC_PARTITION_INFO to the replica server at addr for its replica of gpid: ballot, commit
 * point, plog bounds and whether client writes are denied. One attempt. */
MUST_CHECK int geokv_replica_partition_info(struct geokv_client *c, const char *addr, uint64_t gpid,
                                            int timeout_ms, struct msg_partition_info_resp *out);
/* Asks the replica server at addr to compact its replica of gpid now (drops tombstones and
 * expired records past tombstone_ttl_seconds) and waits for it. One attempt. */
MUST_CHECK int geokv_replica_compact(struct geokv_client *c, const char *addr, uint64_t gpid,
                                     int timeout_ms);

/* ---- admin calls (any server, directly) ---- */

/* The meta list the client was created with: count, and the i-th address (borrowed, valid
 * until geokv_client_destroy; NULL past the end). */
size_t geokv_client_meta_count(const struct geokv_client *c);
const char *geokv_client_meta_addr(const struct geokv_client *c, size_t i);

/*
 * RPC_SERVER_CONFIG to the server (replica or meta) at addr: key "" lists the run-time
 * settings (out->value: names joined by ','), value "" shows key, else sets it. On success
 * out has the key and its (new) value. ERR_NOT_FOUND (no such setting there) and
 * ERR_INVALID_ARG (a bad value) come with the server's reason in out->value; ERR_TIMEOUT /
 * ERR_NETWORK if it cannot be reached (one attempt, no retries).
 */
MUST_CHECK int geokv_server_config(struct geokv_client *c, const char *addr, const char *key,
                                   const char *value, int timeout_ms,
                                   struct msg_server_config *out);
