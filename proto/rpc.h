#pragma once
/*
 * RPC over nanomsg TCP. Servers bind a raw (AF_SP_RAW) REP socket so they can answer out of
 * order from any thread; clients keep one raw REQ socket per peer with many requests in
 * flight, matched by the envelope's rpc_id, each with its own deadline. nanomsg reconnects
 * to a restarted peer by itself; requests caught in between time out and the caller retries.
 *
 * Flow control: a reply must never meet a full socket buffer on the server (nanomsg's raw
 * REP drops it silently), so a client keeps the replies it waits for on one connection
 * within the window the server states in every reply, counting each call at its code's
 * reply limit (rpc_codes.def) plus an overhead. Calls beyond the window wait in the client;
 * calls beyond the client's queue bound fail at once with ERR_BUSY, and so does a waiting
 * call whose deadline passes: both were never sent. The server refuses requests beyond its
 * own bound of unanswered ones with ERR_BUSY. Replies are numbered per connection, and a
 * gap is counted (metric geokv_rpc_replies_lost_total) and logged.
 *
 * Threads: the server runs its handler on its receive thread (the handler must not block:
 * it posts to a loop); rpc_reply may be called from any thread. A client's callbacks run on
 * the client's I/O thread and must not block.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/envelope.h"

struct rpc_server;
struct rpc_client;

struct rpc_request;
/* Where an in-process transport (the simulation tests) takes the replies to the requests it
 * made itself, instead of a server socket: it owns req (and frees it) from then on. */
typedef void rpc_reply_sink_fn(struct rpc_request *req, int err, const void *body, size_t len);

/* One received request. env.body is valid until rpc_reply. */
struct rpc_request {
    struct envelope env;
    struct unpacked *zone;
    void *sp_header;  /* nanomsg routing header, echoed in the reply */
    uint32_t pipe;    /* the connection it came on (numbers the replies) */
    size_t held;      /* bytes counted against the server's bound until the reply */
    struct buf plain; /* a sealed request's body, opened (env.body points here) */
    struct rpc_server *server;
    rpc_reply_sink_fn *sink; /* NULL: the reply goes to server */
};

/* Called for every well-formed request; malformed ones are answered with ERR_INVALID_DATA
 * by the server itself. The handler owns req and must rpc_reply it exactly once. */
typedef void rpc_handler_fn(void *arg, struct rpc_request *req);

/* Binds tcp://addr ("host:port"). ERR_NETWORK (with a LOG_ERROR) if the bind fails. */
MUST_CHECK int rpc_server_create(const char *addr, rpc_handler_fn *handler, void *arg,
                                 struct rpc_server **out);
void rpc_server_start(struct rpc_server *s);
/* Stops receiving: the handler is not called again once this returns, but requests already
 * handed out may still be answered with rpc_reply. */
void rpc_server_stop(struct rpc_server *s);
/* Stops receiving and closes the socket. Every request handed out must have been answered. */
void rpc_server_destroy(struct rpc_server *s);
/* Sends the reply (err = 0 or a code; body may be NULL) and frees req. Any thread. A body
 * larger than the request's limit is replaced by ERR_REPLY_TOO_LARGE naming its size, and
 * the client sends the call again asking for that much. */
void rpc_reply(struct rpc_request *req, int err, const void *body, size_t len);
/* Whether a reply body of len bytes fits the request's limit. A handler that changes state
 * checks before it does, and replies with the body at once if not (rpc_reply turns it into
 * ERR_REPLY_TOO_LARGE): that error must always mean nothing was done. */
bool rpc_reply_fits(const struct rpc_request *req, size_t len);

/* Completion of an async call. err is a transport error or the error the peer replied
 * with. ERR_NETWORK: the request was never sent (the peer was not connected within about a
 * second); ERR_BUSY from the client itself: never sent either (its queue was full, or the
 * peer's reply window stayed full until the deadline); both are safe to retry anywhere.
 * ERR_TIMEOUT: it may or may not have arrived. body is borrowed for the duration of the
 * callback. */
typedef void rpc_done_fn(void *arg, int err, const uint8_t *body, size_t len);

/* Process-wide, with [core] bind_outgoing = true in cfg (default false): every connection
 * made from now on leaves from the host of addr ("host:port", the address the server serves
 * on), so firewall rules, and the tests' network faults, can tell apart servers that share a
 * machine. Off by default: on a host with several interfaces the route to another datacenter
 * may need another source. A host that is not an IPv4 literal, or is 0.0.0.0: the kernel
 * picks. Call once at startup, before any client connects. ERR_CONFIG if the value is not a
 * boolean. */
struct config;
MUST_CHECK int rpc_configure_source(const struct config *cfg, const char *addr);

struct rpc_client *rpc_client_create(void);
/* Every request c sends from now on is sealed when [security] seal_remote is on: for clients
 * whose calls cross datacenters (proto/auth.h). */
void rpc_client_seal(struct rpc_client *c);
/* A new client sealed if c is. */
struct rpc_client *rpc_client_create_like(struct rpc_client *c);
/* Fails every pending call with ERR_SHUTDOWN, then frees. */
void rpc_client_destroy(struct rpc_client *c);
/* Sends a request to addr ("host:port"). cb always runs exactly once (on the I/O thread, or
 * on the calling thread if the send fails at once). */
void rpc_call_async(struct rpc_client *c, const char *addr, uint32_t code, uint64_t gpid,
                    ballot_t ballot, const void *body, size_t len, int timeout_ms, rpc_done_fn *cb,
                    void *arg);
/* Synchronous call: the reply body is appended to reply (if non-NULL). Returns the error. */
MUST_CHECK int rpc_call(struct rpc_client *c, const char *addr, uint32_t code, uint64_t gpid,
                        ballot_t ballot, const void *body, size_t len, int timeout_ms,
                        struct buf *reply);

/* Turns an async completion into a blocking wait: pass rpc_waiter_done and the waiter as
 * the callback, then rpc_waiter_wait (which also releases the waiter). */
struct rpc_waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int err;
    struct buf *reply; /* the reply body is appended here, if not NULL */
};
void rpc_waiter_init(struct rpc_waiter *w, struct buf *reply);
void rpc_waiter_done(void *arg, int err, const uint8_t *body, size_t len);
/* Blocks until rpc_waiter_done ran; returns its err. */
int rpc_waiter_wait(struct rpc_waiter *w);
