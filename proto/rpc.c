/*
 * rpc.c: request/reply over nanomsg TCP.
 *
 * Server: one raw REP socket and one receive thread. Each request keeps nanomsg's routing
 * header (the control chunk received with NN_MSG) and gives it back to nn_sendmsg with the
 * reply, so replies may leave in any order and from any thread (nanomsg sockets are
 * thread-safe). Bytes that do not decode as an envelope get an ERR_INVALID_DATA reply.
 * The first 4 bytes of the routing header name the connection (nanomsg's pipe key): replies
 * are numbered per connection under send_mu, in the order they leave.
 *
 * Why the window: nanomsg's raw REP hands a reply to the connection's TCP socket and, when
 * the kernel takes only part of it, finishes it on its worker thread; until then every other
 * reply to that connection is dropped while nn_sendmsg reports success. A send is partial
 * only when the socket's send buffer is full, so each server asks for RPC_SOCKET_BUFFER,
 * states min(that, net.core.wmem_max) as its window (the kernel doubles the value it keeps,
 * which covers its per-packet bookkeeping), and clients keep the replies they wait for on a
 * connection within it. A single reply larger than the window is sent alone.
 *
 * Client: one raw REQ socket per peer address (and a second, "bulk", for calls whose reply
 * may take more than a quarter of the window, so a large transfer does not hold up small
 * calls), one I/O thread
 * polling all of them. A call is registered in the pending table under a fresh rpc_id and
 * queued on its connection; it leaves when the connection's credit allows (pump). Whoever
 * ends a call (reply, deadline scan, failed send, shutdown) runs its callback, outside the
 * lock, so every callback runs exactly once. A call whose deadline passes after it was sent
 * stays in the table without its callback (an orphan), holding its credit until its reply
 * comes; a connection with an orphan older than RPC_ORPHAN_RETIRE_MS is retired (no new
 * calls; closed once its live calls end) and a fresh one takes its queue, so credit lost with
 * a reply that never comes is given back. A send that would block (the peer is not connected
 * yet, or is gone and nanomsg is reconnecting) never blocks the caller: the connection is
 * marked blocked, the I/O thread retries it, and calls fail with ERR_NETWORK after
 * RPC_CONNECT_WAIT_MS (or at their deadline): ERR_NETWORK always means "never sent".
 * Raw REQ needs the SP header supplied by the sender: a control message whose data is a
 * size_t length followed by the 4-byte big-endian request id with the top bit set (without
 * the length nanomsg silently drops the message).
 */
#include "proto/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/file.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/auth.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

#define RPC_POLL_MS 10
#define RPC_BUCKETS 4096
#define RPC_CONNECT_WAIT_MS 1000     /* how long a request waits for its peer to be connected */
#define RPC_SOCKET_BUFFER (4u << 20) /* SO_SNDBUF / SO_RCVBUF asked for every connection */
#define RPC_DEFAULT_WMEM_MAX 212992  /* the kernel's default net.core.wmem_max */
#define RPC_INITIAL_WINDOW RPC_DEFAULT_WMEM_MAX /* until a connection's first reply says */
#define RPC_REPLY_OVERHEAD KIB(1) /* per reply: envelope, framing, kernel bookkeeping */
#define RPC_ORPHAN_RETIRE_MS 10000
#define RPC_QUEUE_MAX_CALLS 200000 /* calls waiting to be sent, per client */
#define RPC_QUEUE_MAX_BYTES (256u << 20)
#define RPC_FIXED_REPLY KIB(4) /* codes limited to this have replies of a fixed shape */
#define RPC_RESENDS 3          /* times a call is sent again asking for a larger reply */
#define RPC_SERVER_MAX_UNREPLIED 100000
#define RPC_SERVER_MAX_UNREPLIED_BYTES (512u << 20)
#define RPC_PIPE_BUCKETS 1024
#define RPC_PIPE_IDLE_MS (10 * 60 * 1000) /* a connection's reply count is forgotten after */
#define RPC_MAX_CHANNELS 100000 /* signed channels a server remembers before it starts anew */

static struct {
    pthread_once_t once;
    struct metric *lost, *queued_calls, *queued_bytes, *busy, *retired, *too_large, *unreplied,
        *server_busy, *auth_failures;
} mx = {.once = PTHREAD_ONCE_INIT};

static void
metrics_init(void)
{
    mx.lost = metric_get(METRIC_COUNTER, "geokv_rpc_replies_lost_total", NULL,
                         "replies a client found missing in its connection's numbering");
    mx.queued_calls = metric_get(METRIC_GAUGE, "geokv_rpc_queued_calls", NULL,
                                 "calls waiting in clients for their connection's reply window");
    mx.queued_bytes = metric_get(METRIC_GAUGE, "geokv_rpc_queued_bytes", NULL,
                                 "bytes of the calls waiting in clients");
    mx.busy = metric_get(METRIC_COUNTER, "geokv_rpc_client_busy_total", NULL,
                         "calls a client failed with ERR_BUSY without sending them");
    mx.retired = metric_get(METRIC_COUNTER, "geokv_rpc_connections_retired_total", NULL,
                            "connections replaced because replies never came");
    mx.too_large = metric_get(METRIC_COUNTER, "geokv_rpc_replies_too_large_total", NULL,
                              "replies larger than their request's limit");
    mx.unreplied = metric_get(METRIC_GAUGE, "geokv_rpc_server_unreplied", NULL,
                              "requests a server holds without a reply yet");
    mx.server_busy = metric_get(METRIC_COUNTER, "geokv_rpc_server_busy_total", NULL,
                                "requests a server refused with ERR_BUSY (too many unanswered)");
    mx.auth_failures = metric_get(METRIC_COUNTER, "geokv_rpc_auth_failures_total", NULL,
                                  "messages refused: unsigned where a signature is required, "
                                  "or a wrong, stale or replayed one");
}

/* ================= signing and sealing ================= */

/* A random id, never 0. */
static uint64_t
random_id(void)
{
    uint64_t v = 0;
    while (v == 0)
        ASSERT(RAND_bytes((uint8_t *)&v, sizeof(v)) == 1);
    return v;
}

/* Encodes env with body into out: a reply if reply, sealed if seal (and this process has
 * keys), signed if it has keys. */
static int
message_build(struct buf *out, struct envelope *env, const uint8_t *body, size_t len, bool seal,
              bool reply)
{
    int rc = ERR_AUTH;
    /* a reload between reading the signing key and using it fails the use: read it again */
    for (int tries = 0; tries < 3 && rc == ERR_AUTH; tries++) {
        struct buf sealed = BUF_INIT;
        uint32_t key = auth_sign_key();
        env->key_id = key;
        env->flags = reply ? ENVELOPE_REPLY : 0;
        env->body = body;
        env->body_len = len;
        rc = 0;
        if (seal && key) {
            rc = auth_seal(key, body, len, &sealed);
            env->flags |= ENVELOPE_SEALED;
            env->body = sealed.data;
            env->body_len = sealed.len;
        }
        buf_reset(out);
        if (rc == 0)
            envelope_encode(out, env);
        if (rc == 0 && key)
            rc = auth_sign(out, key);
        buf_fini(&sealed);
    }
    env->body = NULL;
    return rc;
}

/* Logs a refused message now and then (an attacker must not flood the log). */
static void
auth_refused(const char *what, const struct envelope *env)
{
    int64_t n;
    metric_add(mx.auth_failures, 1);
    n = metric_value(mx.auth_failures);
    if ((n & (n - 1)) == 0)
        LOG_WARN("rpc: refused %s %s (key %u): %s (%lld refused so far)", what,
                 rpc_code_name((int)env->code), env->key_id, err_str(ERR_AUTH), (long long)n);
}

/* Checks a received message: its signature (required if must_sign), then opens a sealed
 * body into plain (env->body then points there). ERR_AUTH if any check fails. */
static int
message_admit(const uint8_t *raw, size_t len, struct envelope *env, bool must_sign,
              struct buf *plain)
{
    if (env->key_id != 0 && auth_enabled()) {
        if (auth_verify(raw, len, env->key_id, env->mac, env->mac_len) != 0)
            return ERR_AUTH;
    } else if (must_sign) {
        return ERR_AUTH;
    }
    if (env->flags & ENVELOPE_SEALED) {
        if (env->key_id == 0 || auth_open(env->key_id, env->body, env->body_len, plain) != 0)
            return ERR_AUTH;
        env->body = plain->data;
        env->body_len = plain->len;
    }
    return 0;
}

static void
sock_tune(int sock)
{
    int maxsize = (int)GEOKV_MAX_MESSAGE, ivl = 50, ivl_max = 1000, buf = RPC_SOCKET_BUFFER;
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDBUF, &buf, sizeof(buf));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf));
}

/* ================= server ================= */

struct pipe_count {
    uint32_t key;
    uint64_t seq;
    int64_t used_ms;
    struct pipe_count *next;
};

/* The last message number seen on a signed channel (a client connection), against replays. */
struct channel_seen {
    uint64_t channel, seq;
    struct channel_seen *next;
};

struct rpc_server {
    int sock;
    pthread_t thread;
    atomic_bool stopping;
    bool started;
    rpc_handler_fn *handler;
    void *arg;
    uint64_t window;
    pthread_mutex_t send_mu; /* numbers the replies of each connection in the order sent */
    struct pipe_count *pipes[RPC_PIPE_BUCKETS];
    uint64_t nsent;
    atomic_uint_fast64_t unreplied, unreplied_bytes;
    /* Against replays: signed requests name this incarnation (random, from RPC_HELLO), and
     * each channel's numbers only go up. A new incarnation forgets every channel. */
    atomic_uint_fast64_t incarnation;
    struct channel_seen *channels[RPC_PIPE_BUCKETS]; /* receive thread only */
    size_t nchannels;
};

/* The reply window: what the kernel lets a connection's send buffer hold. */
static uint64_t
server_window(const char *addr)
{
    char text[32] = "";
    uint64_t wmem_max = RPC_DEFAULT_WMEM_MAX;
    /* a send stops at tcp_notsent_lowat unsent bytes, whatever the buffer holds */
    if (file_read_small("/proc/sys/net/ipv4/tcp_notsent_lowat", text, sizeof(text)) == 0 &&
        strtoull(text, NULL, 10) < RPC_SOCKET_BUFFER)
        LOG_WARN("rpc: net.ipv4.tcp_notsent_lowat is %llu bytes: replies to slow readers of %s "
                 "may be lost (each loss is counted in geokv_rpc_replies_lost_total)",
                 strtoull(text, NULL, 10), addr);
    if (file_read_small("/proc/sys/net/core/wmem_max", text, sizeof(text)) == 0)
        wmem_max = strtoull(text, NULL, 10);
    if (wmem_max >= RPC_SOCKET_BUFFER)
        return RPC_SOCKET_BUFFER;
    LOG_WARN("rpc: net.core.wmem_max is %llu: %s lets each connection wait for %llu KiB of "
             "replies instead of %u (sysctl -w net.core.wmem_max=%u raises it)",
             (unsigned long long)wmem_max, addr, (unsigned long long)(wmem_max >> 10),
             RPC_SOCKET_BUFFER >> 10, RPC_SOCKET_BUFFER);
    return wmem_max;
}

int
rpc_server_create(const char *addr, rpc_handler_fn *handler, void *arg, struct rpc_server **out)
{
    struct rpc_server *s;
    char url[GEOKV_ADDR_MAX + 8];
    int rcvto = 200;
    *out = NULL;
    pthread_once(&mx.once, metrics_init);
    s = xcalloc(1, sizeof(*s));
    s->handler = handler;
    s->arg = arg;
    s->sock = nn_socket(AF_SP_RAW, NN_REP);
    if (s->sock < 0) {
        LOG_ERROR("rpc: nn_socket: %s", nn_strerror(nn_errno()));
        xfree(s);
        return ERR_NETWORK;
    }
    sock_tune(s->sock);
    (void)nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVTIMEO, &rcvto, sizeof(rcvto));
    snprintf(url, sizeof(url), "tcp://%s", addr);
    if (nn_bind(s->sock, url) < 0) {
        LOG_ERROR("rpc: cannot listen on %s: %s", addr, nn_strerror(nn_errno()));
        nn_close(s->sock);
        xfree(s);
        return ERR_NETWORK;
    }
    s->window = server_window(addr);
    atomic_init(&s->incarnation, random_id());
    pthread_mutex_init(&s->send_mu, NULL);
    *out = s;
    return 0;
}

/* The pipe key at the head of a received routing header (0 if it has none). */
static uint32_t
pipe_key(const void *sp_header)
{
    const struct nn_cmsghdr *cm = sp_header;
    size_t spsz;
    if (cm == NULL || cm->cmsg_level != PROTO_SP || cm->cmsg_type != SP_HDR ||
        cm->cmsg_len < NN_CMSG_LEN(sizeof(size_t) + 4))
        return 0;
    memcpy(&spsz, NN_CMSG_DATA(cm), sizeof(spsz));
    return spsz >= 4 ? be32_load(NN_CMSG_DATA(cm) + sizeof(size_t)) : 0;
}

/* The next reply number of connection key. Holds send_mu. Forgets idle connections now and
 * then (a connection that went quiet that long starts again from 1, which clients accept). */
static uint64_t
pipe_next_seq(struct rpc_server *s, uint32_t key, int64_t now)
{
    struct pipe_count **pp, *pc;
    if (++s->nsent % 4096 == 0)
        for (size_t b = 0; b < RPC_PIPE_BUCKETS; b++)
            for (pp = &s->pipes[b]; (pc = *pp) != NULL;) {
                if (now - pc->used_ms > RPC_PIPE_IDLE_MS) {
                    *pp = pc->next;
                    xfree(pc);
                } else {
                    pp = &pc->next;
                }
            }
    for (pc = s->pipes[key % RPC_PIPE_BUCKETS]; pc && pc->key != key; pc = pc->next) {
    }
    if (pc == NULL) {
        pc = xcalloc(1, sizeof(*pc));
        pc->key = key;
        pc->next = s->pipes[key % RPC_PIPE_BUCKETS];
        s->pipes[key % RPC_PIPE_BUCKETS] = pc;
    }
    pc->used_ms = now;
    return ++pc->seq;
}

/* Numbers env, states the window, signs it (sealing body if seal) and sends it with the
 * routing header (ownership of sp_header passes to nanomsg). */
static void
server_send(struct rpc_server *s, void *sp_header, uint32_t pipe, struct envelope *env,
            const uint8_t *body, size_t len, bool seal)
{
    struct buf out = BUF_INIT;
    struct nn_iovec iov;
    struct nn_msghdr hdr;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&s->send_mu);
    env->limit = s->window;
    env->epoch = atomic_load(&s->incarnation);
    env->seq = pipe_next_seq(s, pipe, now);
    if (message_build(&out, env, body, len, seal, true) != 0) {
        struct envelope fail = {.version = ENVELOPE_VERSION,
                                .code = env->code,
                                .rpc_id = env->rpc_id,
                                .error = ERR_INTERNAL,
                                .seq = env->seq,
                                .limit = s->window};
        LOG_ERROR("rpc: cannot seal a %s reply", rpc_code_name((int)env->code));
        buf_reset(&out);
        (void)message_build(&out, &fail, NULL, 0, false, true);
    }
    iov.iov_base = out.data;
    iov.iov_len = out.len;
    memset(&hdr, 0, sizeof(hdr));
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = &sp_header;
    hdr.msg_controllen = NN_MSG;
    /* raw REP never blocks: it fails only if the socket is closing (and nanomsg has freed
     * the routing header with the message either way) */
    if (nn_sendmsg(s->sock, &hdr, NN_DONTWAIT) < 0)
        LOG_WARN("rpc: reply not sent: %s", nn_strerror(nn_errno()));
    pthread_mutex_unlock(&s->send_mu);
    buf_fini(&out);
}

bool
rpc_reply_fits(const struct rpc_request *req, size_t len)
{
    return len <= req->env.limit;
}

void
rpc_reply(struct rpc_request *req, int err, const void *body, size_t len)
{
    struct envelope env = req->env;
    struct buf need = BUF_INIT;
    if (body == NULL)
        len = 0;
    if (!rpc_reply_fits(req, len)) {
        struct pk p = {&need};
        LOG_DEBUG("rpc: %s reply of %zu bytes is over the caller's limit of %llu",
                  rpc_code_name((int)env.code), len, (unsigned long long)env.limit);
        metric_add(mx.too_large, 1);
        pk_uint(&p, len);
        err = ERR_REPLY_TOO_LARGE;
        body = need.data;
        len = need.len;
    }
    if (req->sink != NULL) {
        req->sink(req, err, body, len);
        buf_fini(&need);
        return;
    }
    env.error = err_to_wire(err);
    server_send(req->server, req->sp_header, req->pipe, &env, body, len,
                (req->env.flags & ENVELOPE_SEALED) != 0);
    atomic_fetch_sub(&req->server->unreplied, 1);
    atomic_fetch_sub(&req->server->unreplied_bytes, req->held);
    metric_add(mx.unreplied, -1);
    buf_fini(&need);
    buf_fini(&req->plain);
    unpacked_free(req->zone);
    xfree(req);
}

static void
channels_free(struct rpc_server *s)
{
    for (size_t b = 0; b < RPC_PIPE_BUCKETS; b++)
        while (s->channels[b]) {
            struct channel_seen *cs = s->channels[b];
            s->channels[b] = cs->next;
            xfree(cs);
        }
    s->nchannels = 0;
}

/* 0 if a signed request is new: signed for this incarnation (else ERR_STALE_INCARNATION), and
 * its channel's numbers only go up (a connection delivers in order; else ERR_AUTH). A server
 * that remembers too many channels becomes a new incarnation, forgetting them all: their
 * clients sign for the new one, and nothing signed before can pass. Receive thread only. */
static int
channel_fresh(struct rpc_server *s, const struct envelope *env)
{
    struct channel_seen *cs;
    if (env->channel == 0)
        return ERR_AUTH;
    if (env->epoch != atomic_load(&s->incarnation))
        return ERR_STALE_INCARNATION;
    for (cs = s->channels[env->channel % RPC_PIPE_BUCKETS]; cs && cs->channel != env->channel;
         cs = cs->next) {
    }
    if (cs == NULL) {
        if (s->nchannels == RPC_MAX_CHANNELS) {
            channels_free(s);
            atomic_store(&s->incarnation, random_id());
            LOG_INFO("rpc: %d signed connections seen: a new incarnation, every client signs "
                     "for it again",
                     RPC_MAX_CHANNELS);
            return ERR_STALE_INCARNATION;
        }
        cs = xcalloc(1, sizeof(*cs));
        cs->channel = env->channel;
        cs->next = s->channels[env->channel % RPC_PIPE_BUCKETS];
        s->channels[env->channel % RPC_PIPE_BUCKETS] = cs;
        s->nchannels++;
    } else if (env->seq <= cs->seq) {
        return ERR_AUTH;
    }
    cs->seq = env->seq;
    return 0;
}

/* Handles one received message; takes ownership of body and sp_header. */
static void
server_dispatch(struct rpc_server *s, void *body, size_t len, void *sp_header)
{
    struct rpc_request *req = xcalloc(1, sizeof(*req));
    int rc = envelope_decode(body, len, &req->env, &req->zone);
    bool hello = rc == 0 && req->env.code == RPC_HELLO; /* answered by anyone: says the epoch */
    bool must_sign = auth_enabled() &&
                     (rpc_code_auth((int)req->env.code) != RPC_AUTH_DATA || auth_require_clients());
    if (rc == 0 && ((req->env.flags & ENVELOPE_REPLY) ||
                    (!hello && message_admit(body, len, &req->env, must_sign, &req->plain) != 0)))
        rc = ERR_AUTH; /* a reply sent back as a request is refused too */
    if (rc == 0 && !hello && req->env.key_id != 0 && auth_enabled())
        rc = channel_fresh(s, &req->env);
    if (rc == ERR_AUTH)
        auth_refused("a request", &req->env);
    nn_freemsg(body);
    req->sp_header = sp_header;
    req->pipe = pipe_key(sp_header);
    req->held = len;
    req->server = s;
    atomic_fetch_add(&s->unreplied, 1);
    atomic_fetch_add(&s->unreplied_bytes, len);
    metric_add(mx.unreplied, 1);
    if (rc == ERR_AUTH || rc == ERR_STALE_INCARNATION || hello) {
        req->env.flags = 0; /* not sealed */
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    if (rc != 0) {
        LOG_WARN("rpc: undecodable request (%zu bytes): %s", len, err_str(rc));
        req->env = (struct envelope){.version = ENVELOPE_VERSION,
                                     .code = RPC_ERROR_REPLY,
                                     .limit = rpc_reply_limit(RPC_ERROR_REPLY)};
        rpc_reply(req, rc, NULL, 0);
        return;
    }
    if (atomic_load(&s->unreplied) > RPC_SERVER_MAX_UNREPLIED ||
        atomic_load(&s->unreplied_bytes) > RPC_SERVER_MAX_UNREPLIED_BYTES) {
        metric_add(mx.server_busy, 1);
        rpc_reply(req, ERR_BUSY, NULL, 0);
        return;
    }
    s->handler(s->arg, req);
}

static void *
server_main(void *arg)
{
    struct rpc_server *s = arg;
    pthread_setname_np(pthread_self(), "rpc-server");
    while (!atomic_load(&s->stopping)) {
        void *body = NULL, *control = NULL;
        struct nn_iovec iov = {&body, NN_MSG};
        struct nn_msghdr hdr;
        int n;
        memset(&hdr, 0, sizeof(hdr));
        hdr.msg_iov = &iov;
        hdr.msg_iovlen = 1;
        hdr.msg_control = &control;
        hdr.msg_controllen = NN_MSG;
        n = nn_recvmsg(s->sock, &hdr, 0);
        if (n < 0) {
            int e = nn_errno();
            if (e == ETIMEDOUT || e == EAGAIN || e == EINTR)
                continue;
            if (e == EBADF || e == ETERM)
                break;
            LOG_WARN("rpc: recv: %s", nn_strerror(e));
            continue;
        }
        server_dispatch(s, body, (size_t)n, control);
    }
    return NULL;
}

void
rpc_server_start(struct rpc_server *s)
{
    s->started = true;
    pthread_create(&s->thread, NULL, server_main, s);
}

void
rpc_server_stop(struct rpc_server *s)
{
    atomic_store(&s->stopping, true);
    if (s->started)
        pthread_join(s->thread, NULL);
    s->started = false;
}

void
rpc_server_destroy(struct rpc_server *s)
{
    if (s == NULL)
        return;
    rpc_server_stop(s);
    nn_close(s->sock);
    for (size_t b = 0; b < RPC_PIPE_BUCKETS; b++) {
        while (s->pipes[b]) {
            struct pipe_count *pc = s->pipes[b];
            s->pipes[b] = pc->next;
            xfree(pc);
        }
    }
    channels_free(s);
    pthread_mutex_destroy(&s->send_mu);
    xfree(s);
}

/* ================= client ================= */

struct rpc_conn;

struct pending {
    uint64_t id;
    int64_t deadline_ms;
    int64_t queued_ms; /* when it joined its connection's queue */
    int64_t orphan_ms; /* when it timed out after it was sent; 0 while its call lives */
    rpc_done_fn *cb;   /* NULL once the call ended: an orphan waiting for its reply */
    void *arg;
    struct rpc_conn *conn;
    uint64_t credit;     /* reply bytes reserved on conn; 0 while queued */
    struct envelope env; /* as sent (without its body) */
    struct buf body;     /* until sent; after, kept to send it again unless the reply has a
                          * fixed shape (no ERR_REPLY_TOO_LARGE) */
    struct buf msg;      /* the encoded request, from the first try to send it until sent */
    int resends;
    struct pending *next;          /* hash bucket */
    struct pending *qprev, *qnext; /* conn's send queue */
};

struct rpc_conn {
    char addr[GEOKV_ADDR_MAX];
    int sock;
    bool bulk;
    bool retired;       /* takes no new calls; closed once its live calls end */
    bool blocked;       /* the last send would have blocked: the peer is not connected */
    int64_t blocked_ms; /* since when */
    uint64_t window, reserved, next_seq;
    uint32_t nsent, nlive;        /* sent and unanswered: all, and those whose call lives */
    uint64_t channel, signed_seq; /* names the connection in signed requests, and numbers them */
    uint64_t epoch;               /* the server's incarnation they are signed for; 0 = ask */
    bool hello_sent;
    struct pending *qhead, *qtail;
};

/* A callback to run outside the lock. */
struct ended {
    rpc_done_fn *cb;
    void *arg;
    int err;
    struct ended *next;
};

struct rpc_client {
    pthread_mutex_t mu; /* guards everything below; never held while a callback runs */
    struct rpc_conn **conns;
    size_t nconns;
    struct pending *buckets[RPC_BUCKETS];
    size_t npending;
    size_t queued_calls, queued_bytes;
    struct ended *deferred; /* callbacks of calls that failed on a caller's thread: the I/O
                             * thread runs them (a caller may hold its own locks) */
    atomic_uint_fast64_t next_id;
    atomic_bool stopping;
    bool sealed; /* requests cross datacenters: seal them (auth_seal_remote) */
    pthread_t io;
};

static int64_t
max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static void
ended_push(struct ended **list, rpc_done_fn *cb, void *arg, int err)
{
    struct ended *e = xmalloc(sizeof(*e));
    *e = (struct ended){cb, arg, err, *list};
    *list = e;
}

static void
ended_run(struct ended *list)
{
    while (list) {
        struct ended *next = list->next;
        list->cb(list->arg, list->err, NULL, 0);
        xfree(list);
        list = next;
    }
}

static void
pending_free(struct pending *p)
{
    buf_fini(&p->body);
    buf_fini(&p->msg);
    xfree(p);
}

static void
pending_insert(struct rpc_client *c, struct pending *p)
{
    p->next = c->buckets[p->id % RPC_BUCKETS];
    c->buckets[p->id % RPC_BUCKETS] = p;
    c->npending++;
}

static struct pending *
pending_find(struct rpc_client *c, uint64_t id)
{
    struct pending *p = c->buckets[id % RPC_BUCKETS];
    while (p && p->id != id)
        p = p->next;
    return p;
}

static struct pending *
pending_take(struct rpc_client *c, uint64_t id)
{
    struct pending **pp = &c->buckets[id % RPC_BUCKETS];
    for (; *pp; pp = &(*pp)->next) {
        struct pending *p = *pp;
        if (p->id == id) {
            *pp = p->next;
            c->npending--;
            return p;
        }
    }
    return NULL;
}

static void
queue_push(struct rpc_client *c, struct rpc_conn *cn, struct pending *p)
{
    p->conn = cn;
    p->queued_ms = clock_mono_ms();
    p->qnext = NULL;
    p->qprev = cn->qtail;
    if (cn->qtail)
        cn->qtail->qnext = p;
    else
        cn->qhead = p;
    cn->qtail = p;
    c->queued_calls++;
    c->queued_bytes += p->body.len;
    metric_add(mx.queued_calls, 1);
    metric_add(mx.queued_bytes, (int64_t)p->body.len);
}

static void
queue_remove(struct rpc_client *c, struct pending *p)
{
    struct rpc_conn *cn = p->conn;
    if (p->qprev)
        p->qprev->qnext = p->qnext;
    else
        cn->qhead = p->qnext;
    if (p->qnext)
        p->qnext->qprev = p->qprev;
    else
        cn->qtail = p->qprev;
    p->qprev = p->qnext = NULL;
    c->queued_calls--;
    c->queued_bytes -= p->body.len;
    metric_add(mx.queued_calls, -1);
    metric_add(mx.queued_bytes, -(int64_t)p->body.len);
}

static char source_host[INET_ADDRSTRLEN]; /* set once at startup, then only read */

int
rpc_configure_source(const struct config *cfg, const char *addr)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(addr, ':');
    size_t n = colon ? (size_t)(colon - addr) : strlen(addr);
    struct in_addr a;
    bool on = false;
    source_host[0] = '\0';
    if (config_get_bool(cfg, "core", "bind_outgoing", false, &on) != 0)
        return ERR_CONFIG;
    if (!on || n >= sizeof(host))
        return 0;
    memcpy(host, addr, n);
    host[n] = '\0';
    if (inet_pton(AF_INET, host, &a) == 1 && a.s_addr != htonl(INADDR_ANY))
        memcpy(source_host, host, n + 1);
    return 0;
}

/* The live connection to addr (the bulk one if bulk), opened if needed. Holds mu. NULL if
 * nanomsg refuses the address. */
static struct rpc_conn *
conn_open(struct rpc_client *c, const char *addr, bool bulk)
{
    char url[GEOKV_ADDR_MAX + INET_ADDRSTRLEN + 8];
    struct rpc_conn *cn;
    int sock;
    for (size_t i = 0; i < c->nconns; i++) {
        cn = c->conns[i];
        if (!cn->retired && cn->bulk == bulk && strcmp(cn->addr, addr) == 0)
            return cn;
    }
    if (strlen(addr) >= GEOKV_ADDR_MAX)
        return NULL;
    sock = nn_socket(AF_SP_RAW, NN_REQ);
    if (sock < 0)
        return NULL;
    sock_tune(sock);
    /* nanomsg's "tcp://local;remote" binds the connection to the local address */
    snprintf(url, sizeof(url), "tcp://%s%s%s", source_host, source_host[0] ? ";" : "", addr);
    if (nn_connect(sock, url) < 0) {
        nn_close(sock);
        return NULL;
    }
    cn = xcalloc(1, sizeof(*cn));
    snprintf(cn->addr, sizeof(cn->addr), "%s", addr);
    cn->sock = sock;
    cn->bulk = bulk;
    cn->window = RPC_INITIAL_WINDOW;
    cn->next_seq = 1;
    cn->channel = random_id();
    c->conns = xrealloc(c->conns, (c->nconns + 1) * sizeof(*c->conns));
    c->conns[c->nconns++] = cn;
    return cn;
}

/* The connection for a call to addr taking limit bytes of reply: one whose reply would take
 * more than a quarter of the window goes on the bulk connection, so it cannot hold up the
 * small calls. Holds mu. */
static struct rpc_conn *
conn_for(struct rpc_client *c, const char *addr, uint64_t limit)
{
    struct rpc_conn *cn = conn_open(c, addr, false);
    if (cn == NULL || limit + RPC_REPLY_OVERHEAD <= cn->window / 4)
        return cn;
    return conn_open(c, addr, true);
}

static int
client_send(int sock, uint64_t id, const struct buf *msg)
{
    uint8_t ctrl[NN_CMSG_SPACE(sizeof(size_t) + 4)];
    struct nn_cmsghdr *cm = (struct nn_cmsghdr *)(void *)ctrl;
    struct nn_iovec iov = {msg->data, msg->len};
    struct nn_msghdr hdr;
    size_t hlen = 4;
    uint8_t *d;
    memset(ctrl, 0, sizeof(ctrl));
    cm->cmsg_len = NN_CMSG_LEN(sizeof(size_t) + 4);
    cm->cmsg_level = PROTO_SP;
    cm->cmsg_type = SP_HDR;
    d = NN_CMSG_DATA(cm);
    memcpy(d, &hlen, sizeof(hlen));
    be32_store(d + sizeof(hlen), 0x80000000u | (uint32_t)(id & 0x7fffffff));
    memset(&hdr, 0, sizeof(hdr));
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = ctrl;
    hdr.msg_controllen = sizeof(ctrl);
    if (nn_sendmsg(sock, &hdr, NN_DONTWAIT) >= 0)
        return 0;
    return nn_errno() == EAGAIN ? ERR_AGAIN : ERR_NETWORK;
}

/* Whether p keeps its body after it is sent (to go again, asking for a larger reply). */
static bool
keeps_body(const struct pending *p)
{
    return p->env.limit > RPC_FIXED_REPLY;
}

/* Sends cn's RPC_HELLO, once: until its reply names the server's incarnation, signed calls
 * wait. It has no caller (like an orphan), so a server that never answers gets cn retired.
 * Holds mu. */
static void
conn_hello(struct rpc_client *c, struct rpc_conn *cn)
{
    struct pending *p;
    if (cn->hello_sent)
        return;
    p = xcalloc(1, sizeof(*p));
    p->id = atomic_fetch_add(&c->next_id, 1);
    p->env = (struct envelope){.version = ENVELOPE_VERSION,
                               .code = RPC_HELLO,
                               .rpc_id = p->id,
                               .channel = cn->channel,
                               .limit = rpc_reply_limit(RPC_HELLO)};
    if (message_build(&p->msg, &p->env, NULL, 0, false, false) != 0 ||
        client_send(cn->sock, p->id, &p->msg) != 0) {
        if (!cn->blocked)
            cn->blocked_ms = clock_mono_ms();
        cn->blocked = true; /* not connected yet: the I/O loop tries again */
        pending_free(p);
        return;
    }
    buf_fini(&p->msg);
    cn->blocked = false;
    p->conn = cn;
    p->orphan_ms = clock_mono_ms();
    p->credit = p->env.limit + RPC_REPLY_OVERHEAD;
    cn->reserved += p->credit;
    cn->nsent++;
    cn->hello_sent = true;
    pending_insert(c, p);
}

/*
 * Sends cn's queued calls in order while its window has room for their replies (a call
 * whose reply alone exceeds the window goes when nothing else is outstanding), each signed
 * as it first goes (numbered in the order sent, for the server's incarnation). Holds mu;
 * calls that cannot be sent at all are added to ended.
 */
static void
conn_pump(struct rpc_client *c, struct rpc_conn *cn, struct ended **ended)
{
    struct pending *p;
    while ((p = cn->qhead) != NULL) {
        uint64_t credit = p->env.limit + RPC_REPLY_OVERHEAD;
        bool sign = auth_enabled();
        int rc = 0;
        if (cn->nsent > 0 && cn->reserved + credit > cn->window)
            return;
        if (sign && cn->epoch == 0) {
            conn_hello(c, cn);
            return;
        }
        if (p->msg.len == 0) {
            p->env.channel = sign ? cn->channel : 0;
            p->env.seq = sign ? ++cn->signed_seq : 0;
            p->env.epoch = cn->epoch;
            rc = message_build(&p->msg, &p->env, p->body.data, p->body.len,
                               c->sealed && auth_seal_remote(), false);
        }
        if (rc == 0)
            rc = client_send(cn->sock, p->id, &p->msg);
        if (rc == ERR_AGAIN) {
            if (!cn->blocked)
                cn->blocked_ms = clock_mono_ms();
            cn->blocked = true;
            return;
        }
        queue_remove(c, p);
        if (rc != 0) {
            (void)pending_take(c, p->id);
            ended_push(ended, p->cb, p->arg, rc);
            pending_free(p);
            continue;
        }
        cn->blocked = false;
        p->credit = credit;
        cn->reserved += credit;
        cn->nsent++;
        cn->nlive++;
        buf_fini(&p->msg);
        if (!keeps_body(p))
            buf_fini(&p->body);
    }
}

/* Queues p under a fresh id on cn, asking for limit bytes of reply. Holds mu. */
static void
call_queue(struct rpc_client *c, struct pending *p, struct rpc_conn *cn, uint64_t limit,
           struct ended **ended)
{
    buf_fini(&p->msg);
    p->id = atomic_fetch_add(&c->next_id, 1);
    p->env.rpc_id = p->id;
    p->env.limit = limit;
    p->credit = 0;
    pending_insert(c, p);
    queue_push(c, cn, p);
    conn_pump(c, cn, ended);
}

/* A reply to p came: gives back its credit. Holds mu. */
static void
call_answered(struct rpc_conn *cn, struct pending *p)
{
    cn->reserved -= p->credit;
    cn->nsent--;
    if (p->cb != NULL)
        cn->nlive--;
}

/* Reads the reply numbering of cn: a number past the one expected means replies were lost
 * on the way; a lower one, a new connection under the same socket. Holds mu. */
static void
conn_count(struct rpc_conn *cn, const struct envelope *env)
{
    if (env->seq > cn->next_seq) {
        LOG_ERROR("rpc: %llu replies from %s never arrived (reply %llu came after %llu)",
                  (unsigned long long)(env->seq - cn->next_seq), cn->addr,
                  (unsigned long long)env->seq, (unsigned long long)(cn->next_seq - 1));
        metric_add(mx.lost, (int64_t)(env->seq - cn->next_seq));
    }
    cn->next_seq = env->seq + 1;
    if (env->limit > 0)
        cn->window = env->limit;
}

/* The size an ERR_REPLY_TOO_LARGE reply names, if p may be sent again asking for it. */
static bool
resend_limit(const struct pending *p, const struct envelope *env, uint64_t *limit)
{
    struct unpacked *zone = NULL;
    bool ok = env->error == ERR_REPLY_TOO_LARGE && p->cb != NULL && keeps_body(p) &&
              p->resends < RPC_RESENDS && unpacked_parse(env->body, env->body_len, &zone) == 0 &&
              upk_uint(unpacked_root(zone), limit) == 0 && *limit > p->env.limit &&
              *limit <= GEOKV_MAX_MESSAGE;
    unpacked_free(zone);
    return ok;
}

/* Delivers one reply received on cn. Runs on: I/O thread. */
static void
client_deliver(struct rpc_client *c, struct rpc_conn *cn, void *body, size_t len)
{
    struct envelope env;
    struct unpacked *zone = NULL;
    struct pending *p;
    struct ended *ended = NULL;
    struct buf plain = BUF_INIT;
    uint64_t limit;
    int rc = envelope_decode(body, len, &env, &zone);
    if (rc != 0) {
        LOG_WARN("rpc: undecodable reply (%zu bytes) from %s: %s", len, cn->addr, err_str(rc));
        return;
    }
    if (!(env.flags & ENVELOPE_REPLY) ||
        message_admit(body, len, &env, auth_enabled(), &plain) != 0 ||
        (auth_enabled() && env.channel != cn->channel)) {
        auth_refused("a reply to", &env); /* not its reply: the call waits for the real one */
        unpacked_free(zone);
        buf_fini(&plain);
        return;
    }
    pthread_mutex_lock(&c->mu);
    conn_count(cn, &env);
    if (auth_enabled() && env.epoch != 0) { /* the server's incarnation, for signed calls */
        cn->epoch = env.epoch;
        cn->hello_sent = false;
    }
    p = pending_find(c, env.rpc_id);
    if (p != NULL && p->credit > 0 && p->conn == cn && p->env.code == env.code) {
        (void)pending_take(c, p->id);
        call_answered(p->conn, p);
        if (p->cb == NULL) {
            pending_free(p);
            p = NULL;
        } else if (resend_limit(p, &env, &limit)) {
            struct rpc_conn *to = conn_for(c, cn->addr, limit);
            p->resends++;
            if (to != NULL) {
                call_queue(c, p, to, limit, &ended);
                p = NULL;
            }
        } else if (env.error == ERR_STALE_INCARNATION) {
            /* signed for the server's previous incarnation (it restarted): refused unread */
            if (keeps_body(p) && p->resends++ < RPC_RESENDS) {
                call_queue(c, p, cn, p->env.limit, &ended);
                p = NULL;
            } else {
                env.error = ERR_NETWORK; /* never run: safe to send again */
            }
        }
    } else {
        p = NULL;
    }
    conn_pump(c, cn, &ended);
    pthread_mutex_unlock(&c->mu);
    if (p != NULL) {
        p->cb(p->arg, env.error, env.body, env.body_len);
        pending_free(p);
    }
    ended_run(ended);
    unpacked_free(zone);
    buf_fini(&plain);
}

static void
client_drain(struct rpc_client *c, struct rpc_conn *cn)
{
    for (;;) {
        void *body = NULL;
        int n = nn_recv(cn->sock, &body, NN_MSG, NN_DONTWAIT);
        if (n < 0)
            return;
        client_deliver(c, cn, body, (size_t)n);
        nn_freemsg(body);
    }
}

/* Drops conn i (retired, no live calls) with its orphans; returns its socket to close. */
static int
conn_close(struct rpc_client *c, size_t i)
{
    struct rpc_conn *cn = c->conns[i];
    int sock = cn->sock;
    for (size_t b = 0; b < RPC_BUCKETS && cn->nsent > 0; b++)
        for (struct pending **pp = &c->buckets[b]; *pp;) {
            struct pending *p = *pp;
            if (p->conn == cn && p->credit > 0) {
                *pp = p->next;
                c->npending--;
                call_answered(cn, p);
                pending_free(p);
            } else {
                pp = &p->next;
            }
        }
    c->conns[i] = c->conns[--c->nconns];
    xfree(cn);
    return sock;
}

/* Stops new calls on cn and moves its queue to a fresh connection to the same peer (the
 * I/O loop sends it). Leaves the pending table as it is: the scan is walking it. */
static void
conn_retire(struct rpc_client *c, struct rpc_conn *cn)
{
    struct rpc_conn *to;
    cn->retired = true;
    metric_add(mx.retired, 1);
    LOG_WARN("rpc: replies from %s stopped coming; new calls go on a new connection", cn->addr);
    to = cn->qhead ? conn_open(c, cn->addr, cn->bulk) : NULL;
    while (to != NULL && cn->qhead) {
        struct pending *p = cn->qhead;
        queue_remove(c, p);
        buf_reset(&p->msg); /* signed for cn: signed again for to */
        queue_push(c, to, p);
    }
}

/*
 * Ends calls whose deadline passed (a queued one was never sent: ERR_BUSY, or ERR_NETWORK if
 * its peer is not connected; a sent one becomes an orphan: ERR_TIMEOUT), fails queued calls
 * of unconnected peers past their give-up time, retires connections with old orphans and
 * closes retired ones whose calls all ended. Holds mu; returns the sockets to close in socks
 * (up to cap).
 */
static size_t
client_scan(struct rpc_client *c, int64_t now, struct ended **ended, int *socks, size_t cap)
{
    size_t nsocks = 0;
    for (size_t b = 0; b < RPC_BUCKETS && c->npending > 0; b++)
        for (struct pending **pp = &c->buckets[b]; *pp;) {
            struct pending *p = *pp;
            struct rpc_conn *cn = p->conn;
            bool queued = p->credit == 0;
            if (p->cb == NULL) {
                if (now - p->orphan_ms > RPC_ORPHAN_RETIRE_MS && !cn->retired)
                    conn_retire(c, cn);
            } else if (queued && (now >= p->deadline_ms ||
                                  (cn->blocked && now - max64(p->queued_ms, cn->blocked_ms) >=
                                                      RPC_CONNECT_WAIT_MS))) {
                int err = cn->blocked ? ERR_NETWORK : ERR_BUSY;
                if (err == ERR_BUSY)
                    metric_add(mx.busy, 1);
                queue_remove(c, p);
                *pp = p->next;
                c->npending--;
                ended_push(ended, p->cb, p->arg, err);
                pending_free(p);
                continue;
            } else if (now >= p->deadline_ms) {
                ended_push(ended, p->cb, p->arg, ERR_TIMEOUT);
                p->cb = NULL;
                p->orphan_ms = now;
                cn->nlive--;
                buf_fini(&p->msg);
            }
            pp = &p->next;
        }
    for (size_t i = 0; i < c->nconns && nsocks < cap;)
        if (c->conns[i]->retired && c->conns[i]->nlive == 0 && c->conns[i]->qhead == NULL)
            socks[nsocks++] = conn_close(c, i);
        else
            i++;
    return nsocks;
}

static void *
client_main(void *arg)
{
    struct rpc_client *c = arg;
    struct nn_pollfd *fds = NULL;
    struct rpc_conn **polled = NULL;
    size_t cap = 0;
    int64_t next_scan = 0;
    pthread_setname_np(pthread_self(), "rpc-client");
    while (!atomic_load(&c->stopping)) {
        struct ended *ended = NULL;
        int socks[16];
        size_t n, nsocks = 0;
        int64_t now;
        int wait_ms = RPC_POLL_MS;
        pthread_mutex_lock(&c->mu);
        n = c->nconns;
        if (n > cap) {
            cap = n * 2;
            fds = xrealloc(fds, cap * sizeof(*fds));
            polled = xrealloc(polled, cap * sizeof(*polled));
        }
        for (size_t i = 0; i < n; i++) {
            polled[i] = c->conns[i];
            fds[i] = (struct nn_pollfd){.fd = c->conns[i]->sock, .events = NN_POLLIN};
            if (c->conns[i]->blocked && c->conns[i]->qhead != NULL)
                wait_ms = 1; /* waiting for the peer to be connected */
        }
        pthread_mutex_unlock(&c->mu);
        /* only this thread closes connections, so polled[] stays valid until the scan */
        if (n == 0)
            clock_sleep_ms(wait_ms);
        else if (nn_poll(fds, (int)n, wait_ms) > 0)
            for (size_t i = 0; i < n; i++)
                if (fds[i].revents & NN_POLLIN)
                    client_drain(c, polled[i]);
        now = clock_mono_ms();
        pthread_mutex_lock(&c->mu);
        for (size_t i = 0; i < c->nconns; i++)
            conn_pump(c, c->conns[i], &ended);
        if (now >= next_scan) {
            nsocks = client_scan(c, now, &ended, socks, 16);
            next_scan = now + 5;
        }
        while (c->deferred) {
            struct ended *e = c->deferred;
            c->deferred = e->next;
            e->next = ended;
            ended = e;
        }
        pthread_mutex_unlock(&c->mu);
        for (size_t i = 0; i < nsocks; i++)
            nn_close(socks[i]);
        ended_run(ended);
    }
    xfree(fds);
    xfree(polled);
    return NULL;
}

void
rpc_client_seal(struct rpc_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->sealed = true;
    pthread_mutex_unlock(&c->mu);
}

struct rpc_client *
rpc_client_create_like(struct rpc_client *c)
{
    struct rpc_client *n = rpc_client_create();
    bool sealed;
    pthread_mutex_lock(&c->mu);
    sealed = c->sealed;
    pthread_mutex_unlock(&c->mu);
    if (sealed)
        rpc_client_seal(n);
    return n;
}

struct rpc_client *
rpc_client_create(void)
{
    struct rpc_client *c = xcalloc(1, sizeof(*c));
    pthread_once(&mx.once, metrics_init);
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->next_id, random_id() >> 1); /* ids never repeat across processes */
    pthread_create(&c->io, NULL, client_main, c);
    return c;
}

void
rpc_client_destroy(struct rpc_client *c)
{
    struct ended *ended = NULL;
    if (c == NULL)
        return;
    atomic_store(&c->stopping, true);
    pthread_join(c->io, NULL);
    pthread_mutex_lock(&c->mu);
    for (size_t b = 0; b < RPC_BUCKETS; b++)
        while (c->buckets[b]) {
            struct pending *p = c->buckets[b];
            c->buckets[b] = p->next;
            if (p->credit == 0)
                queue_remove(c, p);
            if (p->cb != NULL)
                ended_push(&ended, p->cb, p->arg, ERR_SHUTDOWN);
            pending_free(p);
        }
    c->npending = 0;
    pthread_mutex_unlock(&c->mu);
    ended_run(c->deferred); /* the I/O thread has ended: nothing adds to it any more */
    ended_run(ended);
    for (size_t i = 0; i < c->nconns; i++) {
        nn_close(c->conns[i]->sock);
        xfree(c->conns[i]);
    }
    xfree(c->conns);
    pthread_mutex_destroy(&c->mu);
    xfree(c);
}

void
rpc_call_async(struct rpc_client *c, const char *addr, uint32_t code, uint64_t gpid,
               ballot_t ballot, const void *body, size_t len, int timeout_ms, rpc_done_fn *cb,
               void *arg)
{
    struct pending *p = xcalloc(1, sizeof(*p));
    uint64_t limit = rpc_reply_limit((int)code);
    struct rpc_conn *cn;
    int64_t now = clock_mono_ms();
    int err = 0;

    p->deadline_ms = now + timeout_ms;
    p->cb = cb;
    p->arg = arg;
    p->env = (struct envelope){
        .version = ENVELOPE_VERSION, .code = code, .gpid = gpid, .ballot = ballot};
    if (body == NULL)
        len = 0;
    buf_append(&p->body, body, len);
    pthread_mutex_lock(&c->mu);
    if (c->queued_calls >= RPC_QUEUE_MAX_CALLS || c->queued_bytes + len > RPC_QUEUE_MAX_BYTES)
        err = ERR_BUSY;
    else if ((cn = conn_for(c, addr, limit)) == NULL)
        err = ERR_INVALID_ARG;
    else
        call_queue(c, p, cn, limit, &c->deferred);
    pthread_mutex_unlock(&c->mu);
    if (err != 0) {
        if (err == ERR_BUSY)
            metric_add(mx.busy, 1);
        cb(arg, err, NULL, 0);
        pending_free(p);
    }
}

void
rpc_waiter_init(struct rpc_waiter *w, struct buf *reply)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = false;
    w->err = 0;
    w->reply = reply;
}

void
rpc_waiter_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct rpc_waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    if (w->reply && body)
        buf_append(w->reply, body, len);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
rpc_waiter_wait(struct rpc_waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return w->err;
}

int
rpc_call(struct rpc_client *c, const char *addr, uint32_t code, uint64_t gpid, ballot_t ballot,
         const void *body, size_t len, int timeout_ms, struct buf *reply)
{
    struct rpc_waiter w;
    rpc_waiter_init(&w, reply);
    rpc_call_async(c, addr, code, gpid, ballot, body, len, timeout_ms, rpc_waiter_done, &w);
    return rpc_waiter_wait(&w);
}
