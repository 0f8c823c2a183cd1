#pragma once
/*
 * libgeokv: the geokv client library.
 *
 * A client is created from the cluster's meta list ("host:port,host:port"). Tables are opened
 * by name; the client caches each table's partition configuration (from the meta leader) and
 * sends every request straight to the primary of the key's partition:
 *   pidx = key_partition(hash_key, sort_key, partition_count)
 *   envelope gpid = gpid_make(app_id, pidx), ballot = the cached partition ballot.
 *
 * Retries. Every data call has a deadline (timeout_ms, measured from the call). Until then
 * the client retries with exponential backoff (10 ms doubling to 500 ms) on
 * ERR_PARTITION_NOT_HERE, ERR_NOT_PRIMARY, ERR_STALE_BALLOT, ERR_BUSY, ERR_NETWORK, a
 * per-attempt ERR_TIMEOUT and a partition that has no primary, refreshing the table's
 * configuration from the meta (rate-limited to one query per table per 100 ms, shared by all
 * concurrent callers). When the deadline passes the call fails with ERR_TIMEOUT.
 * Non-idempotent calls (incr, check_and_set) are retried only on errors that prove the
 * request was not applied (NOT_HERE, NOT_PRIMARY, STALE_BALLOT, BUSY, a failed send); after
 * a timeout they return ERR_TIMEOUT and the caller does not know whether they were applied.
 * set, del, multi_set and multi_del are idempotent (last value wins) and always retried.
 *
 * Meta calls follow ERR_FORWARD_TO_LEADER redirects and rotate through the meta list on
 * network errors and timeouts until their deadline.
 *
 * Threads. Every call is thread-safe. Synchronous calls block the calling thread. Async
 * callbacks run on one of the client's internal threads (the RPC I/O thread or the client's
 * retry loop); they must not block, and may start new async calls.
 *
 * Keys and values are length-delimited byte strings (struct bytes, borrowed for the call;
 * the client copies what it keeps). Errors are the negative codes of common/err.h.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/msg.h"
#include "proto/rpc.h"
#include "proto/types.h"

struct geokv_client;
struct geokv_table;

/* Largest value accepted client-side (the message limit leaves room for the envelope). */
#define GEOKV_MAX_VALUE (GEOKV_MAX_MESSAGE - (1u << 20))

/* ---- client and tables ---- */

/*
 * Creates a client for the meta list "h:p[,h:p...]" (spaces ignored). Does no I/O.
 * ERR_INVALID_ARG if the list is empty or an address is too long. Free with
 * geokv_client_destroy.
 */
MUST_CHECK int geokv_client_create(const char *meta_list, struct geokv_client **out);
/* Seals every call of the client from now on, if this process's [security] says seal_remote:
 * for a client of another datacenter's cluster. */
void geokv_client_seal(struct geokv_client *c);
/*
 * Waits for the client's in-flight async calls to complete (each ends by its deadline; calls
 * still waiting for a retry complete with ERR_SHUTDOWN), then frees the client and every
 * table it opened. No call may be started on it, or its tables, afterwards.
 */
void geokv_client_destroy(struct geokv_client *c);

/*
 * Opens table name: queries its configuration (ERR_APP_NOT_FOUND if it does not exist,
 * ERR_TIMEOUT / ERR_NO_LEADER if the meta cannot be reached in timeout_ms). The table
 * is owned by the client (opening the same name again returns the same handle, refreshed)
 * and lives until geokv_client_destroy.
 */
MUST_CHECK int geokv_open(struct geokv_client *c, const char *name, int timeout_ms,
                          struct geokv_table **out);
/* The table's name (owned by the table). */
const char *geokv_table_name(const struct geokv_table *t);
/* The table's partition count from the cached configuration (0 if none yet). */
uint32_t geokv_table_partition_count(struct geokv_table *t);

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
                                const struct buf *body, int timeout_ms, rpc_done_fn *cb,
                                void *arg);

/* ---- data calls (synchronous) ----
 * Common errors: ERR_TOO_LARGE (hash_key > GEOKV_MAX_HASH_KEY or value > GEOKV_MAX_VALUE,
 * checked before sending), ERR_TIMEOUT, ERR_APP_NOT_FOUND (the table was dropped),
 * ERR_SHUTDOWN, or an error the replica returned. */

/* Sets (hash_key, sort_key) = value; ttl_s 0 = never expires. */
MUST_CHECK int geokv_set(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                         struct bytes value, uint32_t ttl_s, int timeout_ms);
/* Appends the value to *value (caller owns the buf). ERR_NOT_FOUND if missing or expired.
 * expire_ts_out (absolute seconds, 0 = never) may be NULL. */
MUST_CHECK int geokv_get(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                         struct buf *value, uint32_t *expire_ts_out, int timeout_ms);
/* Deletes (writes a tombstone). Deleting a missing key succeeds. */
MUST_CHECK int geokv_del(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                         int timeout_ms);

/* A (sort_key, value) pair for multi_set. */
struct geokv_kv {
    struct bytes sort_key, value;
};
/* Sets n sort keys of one hash key atomically (one mutation on one partition). */
MUST_CHECK int geokv_multi_set(struct geokv_table *t, struct bytes hash_key,
                               const struct geokv_kv *kvs, size_t n, uint32_t ttl_s,
                               int timeout_ms);
/* Deletes n sort keys of one hash key atomically. */
MUST_CHECK int geokv_multi_del(struct geokv_table *t, struct bytes hash_key,
                               const struct bytes *sort_keys, size_t n, int timeout_ms);

/*
 * Called once per record, in sort-key order per partition; rec and its bytes are borrowed
 * for the duration of the call. Return 0 to go on, anything else to stop: the scan then
 * returns that value.
 */
typedef int geokv_record_fn(void *arg, const struct kv_record *rec);

/* The records of hash_key: the given sort keys (missing ones are skipped), or every sort key
 * if n == 0. timeout_ms applies to each page. */
MUST_CHECK int geokv_multi_get(struct geokv_table *t, struct bytes hash_key,
                               const struct bytes *sort_keys, size_t n, geokv_record_fn *cb,
                               void *arg, int timeout_ms);
/* The records of hash_key with start <= sort_key < stop (empty stop = to the end), paged
 * through resume keys. timeout_ms applies to each page. */
MUST_CHECK int geokv_scan(struct geokv_table *t, struct bytes hash_key, struct bytes start,
                          struct bytes stop, geokv_record_fn *cb, void *arg, int timeout_ms);
/* Every live record of the table, partition by partition. timeout_ms applies to each page. */
MUST_CHECK int geokv_full_scan(struct geokv_table *t, geokv_record_fn *cb, void *arg,
                               int timeout_ms);

/*
 * Adds delta to the integer stored at the key (a missing key counts as 0) and returns the
 * result in *new_value. ttl_s 0 keeps the record's expiry. ERR_NOT_A_NUMBER, ERR_OVERFLOW.
 * Not idempotent: on ERR_TIMEOUT or ERR_UNCERTAIN the increment may or may not have been
 * applied (it is never retried after either).
 */
MUST_CHECK int geokv_incr(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                          int64_t delta, uint32_t ttl_s, int64_t *new_value, int timeout_ms);

/*
 * If check_type (enum cas_check) holds for (hash_key, check_sort_key) — CAS_VALUE_EQUAL
 * compares with operand — sets (hash_key, set_sort_key) = value and returns 0; otherwise
 * returns ERR_CHECK_FAILED. If check_value is not NULL, the current value of the checked key
 * is appended to it and *check_exist says whether it exists (both may be NULL).
 * Not idempotent: on ERR_TIMEOUT or ERR_UNCERTAIN the set may or may not have been done.
 */
MUST_CHECK int geokv_check_and_set(struct geokv_table *t, struct bytes hash_key,
                                   struct bytes check_sort_key, uint32_t check_type,
                                   struct bytes operand, struct bytes set_sort_key,
                                   struct bytes value, uint32_t ttl_s, bool *check_exist,
                                   struct buf *check_value, int timeout_ms);

/* ---- data calls (asynchronous) ----
 * The request is copied before the call returns. cb runs exactly once, on a client thread
 * (possibly on the calling thread when the call fails at once, e.g. ERR_TOO_LARGE). */

typedef void geokv_done_fn(void *arg, int err);
/* value is borrowed for the duration of the callback (NULL unless err == 0). */
typedef void geokv_get_fn(void *arg, int err, const uint8_t *value, size_t len);

void geokv_set_async(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                     struct bytes value, uint32_t ttl_s, int timeout_ms, geokv_done_fn *cb,
                     void *arg);
void geokv_get_async(struct geokv_table *t, struct bytes hash_key, struct bytes sort_key,
                     int timeout_ms, geokv_get_fn *cb, void *arg);

/* ---- admin calls (meta) ---- */

/*
 * Creates a table and waits until the meta answers (it does once every partition has a
 * serving primary). ERR_APP_EXISTS, ERR_NO_NODES, ERR_INVALID_ARG. If out is not NULL it
 * receives the new configuration (caller frees with msg_app_config_fini). A create that
 * times out may still complete in the cluster.
 */
MUST_CHECK int geokv_create_app(struct geokv_client *c, const char *name,
                                uint32_t partition_count, uint32_t replica_count,
                                int timeout_ms, struct msg_app_config *out);
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
/* Drops a table. ERR_APP_NOT_FOUND. */
MUST_CHECK int geokv_drop_app(struct geokv_client *c, const char *name, int timeout_ms);
/* Lists tables; caller frees *out with msg_list_apps_resp_fini. */
MUST_CHECK int geokv_list_apps(struct geokv_client *c, int timeout_ms,
                               struct msg_list_apps_resp *out);
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

/* ---- duplication admin calls (meta) ----
 * why/whylen (may be NULL/0) receive the meta's one-line reason when it refuses (empty if it
 * gave none, e.g. on a timeout): print it rather than the error code's name. */

/*
 * Starts duplicating table app to the remote cluster (a name of the meta's [pegasus.clusters]);
 * full = copy the existing data first (-p). out gets the dupid, existed = the same
 * duplication already existed. The meta asks the remote cluster first: give it >= 10 s.
 * ERR_INVALID_STATE (duplication disabled), ERR_INVALID_ARG (remote unknown or this cluster,
 * -p), ERR_APP_NOT_FOUND (here or there), ERR_APP_UNAVAILABLE, ERR_BUSY (the remote cluster
 * could not be asked), ERR_TIMEOUT...
 */
MUST_CHECK int geokv_dup_add(struct geokv_client *c, const char *app, const char *remote,
                             bool full, int timeout_ms, struct msg_dup_add_resp *out, char *why,
                             size_t whylen);
/* The table's duplications (not removed) and their per-partition confirmed decrees; caller
 * frees *out with msg_dup_list_resp_fini. ERR_APP_NOT_FOUND. */
MUST_CHECK int geokv_dup_list(struct geokv_client *c, const char *app, int timeout_ms,
                              struct msg_dup_list_resp *out, char *why, size_t whylen);
/* op: DUP_OP_PAUSE / START / REMOVE / FAIL_MODE (with fail_mode FAIL_SLOW / FAIL_SKIP).
 * ERR_APP_NOT_FOUND, ERR_NOT_FOUND (no such dupid, or removed), ERR_INVALID_STATE (pause of a
 * duplication not in DS_LOG, start of one not in DS_PAUSE), ERR_INVALID_ARG. */
MUST_CHECK int geokv_dup_modify(struct geokv_client *c, const char *app, uint64_t dupid,
                                uint32_t op, uint32_t fail_mode, int timeout_ms, char *why,
                                size_t whylen);

/* ---- admin calls (one replica server, directly) ---- */

/*
 * Asks the replica server at addr for its replica of gpid's digest: last committed decree,
 * number of unexpired records (tombstones included) and SHA-256 over them in key order (see
 * replica_on_digest). Any role answers; one attempt, no retries. ERR_PARTITION_NOT_HERE if
 * the server holds no such replica, ERR_TIMEOUT / ERR_NETWORK if it cannot be reached.
 */
MUST_CHECK int geokv_replica_digest(struct geokv_client *c, const char *addr, uint64_t gpid,
                                    int timeout_ms, struct msg_digest_resp *out);
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
