/*
 * client_op.c: one request to one partition, retried until its deadline.
 *
 * Life of an op:
 *   op_start (caller thread) -> attempt -> rpc_call_async -> on_reply (RPC I/O thread)
 *     -> success or final error: finish (runs the done callback, frees the op)
 *     -> retryable error: ask for a config refresh, then attempt again after a backoff
 *        (10 ms doubling to 500 ms) on the client's retry loop.
 * An attempt to a partition without a primary (or before any config) also waits a backoff.
 * Each attempt's RPC timeout is min(time left, max(CLIENT_ATTEMPT_MIN_MS, timeout / 3)), so a
 * dead primary costs one attempt, not the whole deadline.
 *
 * Idempotency: ops without OP_IDEMPOTENT (incr, check_and_set) are not retried after an
 * attempt timed out or failed with ERR_UNCERTAIN (its primary stepped down after proposing
 * it), because the request may have been applied.
 *
 * client.inflight counts ops between op_start and the end of finish, so client destroy can
 * wait for them; once the client is shutting down, no new attempt starts.
 */
#include "client/client_int.h"

#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "proto/rpc.h"

struct op {
    struct geokv_table *t;
    uint32_t code, pidx;
    unsigned flags;
    struct buf body;
    int64_t deadline_ms;
    int attempt_cap_ms;
    int backoff_ms;
    int last_err;
    op_done_fn *done;
    void *arg;
};

static void attempt(struct op *op);

bool
op_err_retryable(int err, bool idempotent)
{
    switch (err) {
    case ERR_PARTITION_NOT_HERE:
    case ERR_NOT_PRIMARY:
    case ERR_STALE_BALLOT:
    case ERR_BUSY:
    case ERR_NETWORK:
    case ERR_APP_UNAVAILABLE: return true;
    case ERR_TIMEOUT:
    case ERR_UNCERTAIN: /* it may have been applied: only an idempotent op may go again */
        return idempotent;
    default: return false;
    }
}

static void
finish(struct op *op, int err, const uint8_t *body, size_t len)
{
    struct geokv_client *c = op->t->c;

    op->done(op->arg, err, body, len);
    buf_fini(&op->body);
    xfree(op);
    if (atomic_fetch_sub(&c->inflight, 1) == 1 && atomic_load(&c->shutting)) {
        pthread_mutex_lock(&c->mu);
        pthread_cond_broadcast(&c->idle_cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* Deadline passed: report the last error if it says more than "timed out". */
static void
finish_expired(struct op *op)
{
    int err = ERR_TIMEOUT;
    if (op->last_err == ERR_APP_UNAVAILABLE || op->last_err == ERR_BUSY)
        err = op->last_err;
    LOG_DEBUG("op to %s.%u expired (last error %s)", op->t->name, op->pidx, err_name(op->last_err));
    finish(op, err, NULL, 0);
}

static void
attempt_task(void *arg)
{
    attempt(arg);
}

/* Schedules the next attempt after the current backoff (or expires the op). */
static void
retry_later(struct op *op)
{
    int64_t remaining = op->deadline_ms - clock_mono_ms();
    int64_t delay;

    if (remaining <= 0 || atomic_load(&op->t->c->shutting)) {
        if (atomic_load(&op->t->c->shutting))
            finish(op, ERR_SHUTDOWN, NULL, 0);
        else
            finish_expired(op);
        return;
    }
    delay = op->backoff_ms < remaining ? op->backoff_ms : remaining;
    op->backoff_ms =
        op->backoff_ms * 2 > CLIENT_BACKOFF_MAX_MS ? CLIENT_BACKOFF_MAX_MS : op->backoff_ms * 2;
    loop_post_delayed(op->t->c->retry_loop, delay, attempt_task, op);
}

static void
on_reply(void *arg, int err, const uint8_t *body, size_t len)
{
    struct op *op = arg;
    bool idem = (op->flags & OP_IDEMPOTENT) != 0;

    if (err == 0 || !op_err_retryable(err, idem) || atomic_load(&op->t->c->shutting)) {
        finish(op, err, body, len);
        return;
    }
    LOG_DEBUG("op to %s.%u: %s, retrying", op->t->name, op->pidx, err_name(err));
    op->last_err = err;
    if (err != ERR_BUSY)
        table_refresh_request(op->t);
    retry_later(op);
}

static void
attempt(struct op *op)
{
    struct geokv_client *c = op->t->c;
    struct geokv_route r;
    int64_t remaining = op->deadline_ms - clock_mono_ms();
    int err;

    if (atomic_load(&c->shutting)) {
        finish(op, ERR_SHUTDOWN, NULL, 0);
        return;
    }
    if (remaining <= 0) {
        finish_expired(op);
        return;
    }
    err = table_route_pidx(op->t, op->pidx, &r);
    if (err == ERR_AGAIN) {
        op->last_err = ERR_APP_UNAVAILABLE;
        table_refresh_request(op->t);
        retry_later(op);
        return;
    }
    if (err != 0) {
        finish(op, err, NULL, 0);
        return;
    }
    rpc_call_async(c->rpc, r.primary, op->code, r.gpid, r.ballot, op->body.data, op->body.len,
                   (int)(remaining < op->attempt_cap_ms ? remaining : op->attempt_cap_ms), on_reply,
                   op);
}

void
op_start(struct geokv_table *t, uint32_t code, uint32_t pidx, const struct buf *body,
         int timeout_ms, unsigned flags, op_done_fn *done, void *arg)
{
    struct op *op = xcalloc(1, sizeof(*op));

    op->t = t;
    op->code = code;
    op->pidx = pidx;
    op->flags = flags;
    buf_append(&op->body, body->data, body->len);
    op->deadline_ms = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    op->attempt_cap_ms =
        timeout_ms / 3 > CLIENT_ATTEMPT_MIN_MS ? timeout_ms / 3 : CLIENT_ATTEMPT_MIN_MS;
    op->backoff_ms = CLIENT_BACKOFF_FIRST_MS;
    op->done = done;
    op->arg = arg;
    atomic_fetch_add(&t->c->inflight, 1);
    attempt(op);
}

/* ---- synchronous wrapper ---- */

int
op_call(struct geokv_table *t, uint32_t code, uint32_t pidx, const struct buf *body, int timeout_ms,
        unsigned flags, struct buf *reply)
{
    struct rpc_waiter w;
    rpc_waiter_init(&w, reply);
    op_start(t, code, pidx, body, timeout_ms, flags, rpc_waiter_done, &w);
    return rpc_waiter_wait(&w);
}
