#pragma once
/*
 * Internals shared by client_*.c only.
 *
 * Lock order: client.mu, then table.mu; neither is held across an RPC or a callback.
 * Threads: callers' threads (sync calls and first attempts), the RPC I/O thread (replies),
 * the retry loop (delayed attempts) and the config loop (background config refreshes, which
 * may block on a meta round trip without delaying retries).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/geokv_wire.h"

struct loop;
struct rpc_client;

#define CLIENT_MAX_METAS 16
#define CLIENT_BACKOFF_FIRST_MS 10
#define CLIENT_BACKOFF_MAX_MS 500
#define CLIENT_REFRESH_MIN_MS 100 /* at most one config query per table per interval */
#define CLIENT_REFRESH_TIMEOUT_MS 3000
#define CLIENT_ATTEMPT_MIN_MS 1000 /* per-attempt timeout: max(this, timeout / 3) */
#define CLIENT_SCAN_PAGE 1000

/* A public byte string as the wire's. */
static inline struct bytes
wire_bytes(struct geokv_bytes b)
{
    return (struct bytes){b.data, b.len};
}

struct geokv_table {
    struct geokv_client *c;
    struct geokv_table *next; /* client.tables, guarded by client.mu */
    char name[GEOKV_APP_NAME_MAX];
    pthread_mutex_t mu; /* guards everything below */
    struct msg_app_config cfg;
    bool have_cfg;
    int cfg_err;     /* last refresh error that callers must see (ERR_APP_NOT_FOUND) */
    bool refreshing; /* a refresh task is queued or running on the config loop */
    int64_t last_refresh_ms;
};

struct geokv_client {
    char metas[CLIENT_MAX_METAS][GEOKV_ADDR_MAX];
    int nmetas;
    struct rpc_client *rpc;
    struct loop *retry_loop;
    struct loop *cfg_loop;
    pthread_mutex_t mu; /* guards tables, meta_idx, leader_hint */
    pthread_cond_t idle_cv;
    struct geokv_table *tables;
    int meta_idx;
    char leader_hint[GEOKV_ADDR_MAX];
    atomic_bool shutting;
    atomic_long inflight; /* ops started and not finished */
};

/* ---- meta calls (client.c) ---- */

/*
 * Sends a request to the meta leader (following redirects, rotating through the meta list on
 * network errors/timeouts) until timeout_ms. The reply body is appended to reply, also when
 * the server answered with an error (it may carry a msg_error_text): decode it by err.
 * retry_timeouts false: a timed-out attempt is final (non-idempotent requests).
 */
MUST_CHECK int client_meta_call(struct geokv_client *c, uint32_t code, const struct buf *req,
                                int timeout_ms, bool retry_timeouts, struct buf *reply);

/* ---- table config (client_table.c) ---- */

/* Copies the route of a partition index. 0, ERR_AGAIN (no config / no primary) or the
 * sticky refresh error (ERR_APP_NOT_FOUND). */
MUST_CHECK int table_route_pidx(struct geokv_table *t, uint32_t pidx, struct geokv_route *r);
/* Partition index of a key from the cached config. ERR_AGAIN if there is none. */
MUST_CHECK int table_key_pidx(struct geokv_table *t, struct bytes hk, struct bytes sk,
                              uint32_t *pidx);
/* Asks the config loop to refresh the table's config, unless one is running or recent. */
void table_refresh_request(struct geokv_table *t);
/* Frees a table (client destroy only). */
void table_free(struct geokv_table *t);

/* ---- the retrying operation engine (client_op.c) ---- */

/* Completion of an op: body borrowed for the call. */
typedef void op_done_fn(void *arg, int err, const uint8_t *body, size_t len);

enum op_flags {
    OP_IDEMPOTENT = 1, /* may be retried after a timeout */
};

/*
 * Starts a request to partition pidx of t. body is copied. done runs exactly once: on the
 * calling thread if the op fails at once, else on the RPC or retry thread.
 */
void op_start(struct geokv_table *t, uint32_t code, uint32_t pidx, const struct buf *body,
              int timeout_ms, unsigned flags, op_done_fn *done, void *arg);

/*
 * Synchronous op: waits for completion, appends the reply body to reply (may be NULL).
 * Returns the op's error.
 */
MUST_CHECK int op_call(struct geokv_table *t, uint32_t code, uint32_t pidx, const struct buf *body,
                       int timeout_ms, unsigned flags, struct buf *reply);

/* Is this error worth a retry with fresh config / backoff? */
bool op_err_retryable(int err, bool idempotent);
