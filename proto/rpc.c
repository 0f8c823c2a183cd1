/*
 * rpc.c: request/reply over nanomsg TCP.
 *
 * Server: one raw REP socket and one receive thread. Each request keeps nanomsg's routing
 * header (the control chunk received with NN_MSG) and gives it back to nn_sendmsg with the
 * reply, so replies may leave in any order and from any thread (nanomsg sockets are
 * thread-safe). Bytes that do not decode as an envelope get an ERR_INVALID_DATA reply.
 *
 * Client: one raw REQ socket per peer address, one I/O thread polling all of them. A call
 * is registered in the pending table under a fresh rpc_id before it is sent; whoever removes
 * it from the table (reply, deadline scan, failed send, shutdown) runs its callback, so every
 * callback runs exactly once. A send that would block (the peer is not connected yet, or is
 * gone and nanomsg is reconnecting) never blocks the caller: the message waits in the outbox
 * and the I/O thread retries it until it leaves, or fails the call with ERR_NETWORK after
 * RPC_CONNECT_WAIT_MS (or at its deadline): ERR_NETWORK always means "never sent", so any
 * call, even a non-idempotent one, may be retried elsewhere after it.
 * Raw REQ needs the SP header supplied by the sender: a control
 * message whose data is a size_t length followed by the 4-byte big-endian request id with the
 * top bit set (without the length nanomsg silently drops the message).
 */
#include "proto/rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

#define RPC_POLL_MS 10
#define RPC_BUCKETS 4096
#define RPC_CONNECT_WAIT_MS 1000 /* how long a request waits for its peer to be connected */

static void
sock_tune(int sock)
{
    int maxsize = (int)GEOKV_MAX_MESSAGE, ivl = 50, ivl_max = 1000;
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsize, sizeof(maxsize));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof(ivl));
    (void)nn_setsockopt(sock, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
}

/* ================= server ================= */

struct rpc_server {
    int sock;
    pthread_t thread;
    atomic_bool stopping;
    bool started;
    rpc_handler_fn *handler;
    void *arg;
};

int
rpc_server_create(const char *addr, rpc_handler_fn *handler, void *arg, struct rpc_server **out)
{
    struct rpc_server *s;
    char url[GEOKV_ADDR_MAX + 8];
    int rcvto = 200;
    *out = NULL;
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
    *out = s;
    return 0;
}

/* Sends env with the routing header (ownership of sp_header passes to nanomsg). */
static void
server_send(struct rpc_server *s, void *sp_header, const struct envelope *env)
{
    struct buf out = BUF_INIT;
    struct nn_iovec iov;
    struct nn_msghdr hdr;
    envelope_encode(&out, env);
    iov.iov_base = out.data;
    iov.iov_len = out.len;
    memset(&hdr, 0, sizeof(hdr));
    hdr.msg_iov = &iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = &sp_header;
    hdr.msg_controllen = NN_MSG;
    /* never wait for a slow or vanished client: its call times out instead */
    if (nn_sendmsg(s->sock, &hdr, NN_DONTWAIT) < 0) {
        LOG_DEBUG("rpc: reply dropped: %s", nn_strerror(nn_errno()));
        nn_freemsg(sp_header);
    }
    buf_fini(&out);
}

void
rpc_reply(struct rpc_request *req, int err, const void *body, size_t len)
{
    struct envelope env = req->env;
    env.error = err_to_wire(err);
    env.body = body;
    env.body_len = body ? len : 0;
    server_send(req->server, req->sp_header, &env);
    unpacked_free(req->zone);
    xfree(req);
}

/* Handles one received message; takes ownership of body and sp_header. */
static void
server_dispatch(struct rpc_server *s, void *body, size_t len, void *sp_header)
{
    struct rpc_request *req = xcalloc(1, sizeof(*req));
    int rc = envelope_decode(body, len, &req->env, &req->zone);
    nn_freemsg(body);
    if (rc != 0) {
        struct envelope env = {.version = ENVELOPE_VERSION, .code = RPC_ERROR_REPLY,
                               .error = err_to_wire(rc)};
        LOG_WARN("rpc: undecodable request (%zu bytes): %s", len, err_str(rc));
        server_send(s, sp_header, &env);
        xfree(req);
        return;
    }
    req->sp_header = sp_header;
    req->server = s;
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
    xfree(s);
}

/* ================= client ================= */

struct pending {
    uint64_t id;
    int64_t deadline_ms;
    rpc_done_fn *cb;
    void *arg;
    struct pending *next;
};

struct outmsg {
    int sock;
    uint64_t id;
    int64_t give_up_ms; /* past this, fail the call with ERR_NETWORK: it was never sent */
    struct buf msg;
    struct outmsg *next;
};

struct rpc_conn {
    char addr[GEOKV_ADDR_MAX];
    int sock;
};

struct rpc_client {
    pthread_mutex_t mu; /* guards conns, pending; never held while a callback runs */
    struct rpc_conn *conns;
    size_t nconns;
    struct pending *buckets[RPC_BUCKETS];
    size_t npending;
    struct outmsg *outbox, **outbox_tail; /* FIFO of sends that would have blocked */
    atomic_uint_fast64_t next_id;
    atomic_bool stopping;
    pthread_t io;
};

static bool
pending_find(struct rpc_client *c, uint64_t id)
{
    for (struct pending *p = c->buckets[id % RPC_BUCKETS]; p; p = p->next)
        if (p->id == id)
            return true;
    return false;
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

/* Takes every pending call whose deadline passed (or all, if all) into a list. */
static struct pending *
pending_take_expired(struct rpc_client *c, int64_t now, bool all)
{
    struct pending *out = NULL;
    if (c->npending == 0)
        return NULL;
    for (size_t b = 0; b < RPC_BUCKETS; b++) {
        struct pending **pp = &c->buckets[b];
        while (*pp) {
            struct pending *p = *pp;
            if (all || p->deadline_ms <= now) {
                *pp = p->next;
                c->npending--;
                p->next = out;
                out = p;
            } else {
                pp = &p->next;
            }
        }
    }
    return out;
}

static void
pending_fail_list(struct pending *list, int err)
{
    while (list) {
        struct pending *next = list->next;
        list->cb(list->arg, err, NULL, 0);
        xfree(list);
        list = next;
    }
}

/* Delivers one reply received on sock. */
static void
client_deliver(struct rpc_client *c, void *body, size_t len)
{
    struct envelope env;
    struct unpacked *zone = NULL;
    struct pending *p;
    int rc = envelope_decode(body, len, &env, &zone);
    if (rc != 0) {
        LOG_WARN("rpc: undecodable reply (%zu bytes): %s", len, err_str(rc));
        return;
    }
    pthread_mutex_lock(&c->mu);
    p = pending_take(c, env.rpc_id);
    pthread_mutex_unlock(&c->mu);
    if (p != NULL) {
        p->cb(p->arg, env.error, env.body, env.body_len);
        xfree(p);
    }
    unpacked_free(zone);
}

static void
client_drain(struct rpc_client *c, int sock)
{
    for (;;) {
        void *body = NULL;
        int n = nn_recv(sock, &body, NN_MSG, NN_DONTWAIT);
        if (n < 0)
            return;
        client_deliver(c, body, (size_t)n);
        nn_freemsg(body);
    }
}

static void outbox_flush(struct rpc_client *c);

static void *
client_main(void *arg)
{
    struct rpc_client *c = arg;
    struct nn_pollfd *fds = NULL;
    size_t cap = 0;
    int64_t next_scan = 0;
    pthread_setname_np(pthread_self(), "rpc-client");
    while (!atomic_load(&c->stopping)) {
        size_t n;
        int64_t now;
        int wait_ms;
        pthread_mutex_lock(&c->mu);
        wait_ms = c->outbox ? 1 : RPC_POLL_MS;
        n = c->nconns;
        if (n > cap) {
            cap = n * 2;
            fds = xrealloc(fds, cap * sizeof(*fds));
        }
        for (size_t i = 0; i < n; i++)
            fds[i] = (struct nn_pollfd){.fd = c->conns[i].sock, .events = NN_POLLIN};
        pthread_mutex_unlock(&c->mu);
        if (n == 0)
            clock_sleep_ms(wait_ms);
        else if (nn_poll(fds, (int)n, wait_ms) > 0)
            for (size_t i = 0; i < n; i++)
                if (fds[i].revents & NN_POLLIN)
                    client_drain(c, fds[i].fd);
        outbox_flush(c);
        now = clock_mono_ms();
        if (now >= next_scan) {
            struct pending *expired;
            pthread_mutex_lock(&c->mu);
            expired = pending_take_expired(c, now, false);
            pthread_mutex_unlock(&c->mu);
            pending_fail_list(expired, ERR_TIMEOUT);
            next_scan = now + 5;
        }
    }
    xfree(fds);
    return NULL;
}

struct rpc_client *
rpc_client_create(void)
{
    struct rpc_client *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->next_id, 1);
    c->outbox_tail = &c->outbox;
    pthread_create(&c->io, NULL, client_main, c);
    return c;
}

void
rpc_client_destroy(struct rpc_client *c)
{
    struct pending *all;
    if (c == NULL)
        return;
    atomic_store(&c->stopping, true);
    pthread_join(c->io, NULL);
    pthread_mutex_lock(&c->mu);
    all = pending_take_expired(c, 0, true);
    pthread_mutex_unlock(&c->mu);
    pending_fail_list(all, ERR_SHUTDOWN);
    while (c->outbox) {
        struct outmsg *o = c->outbox;
        c->outbox = o->next;
        buf_fini(&o->msg);
        xfree(o);
    }
    for (size_t i = 0; i < c->nconns; i++)
        nn_close(c->conns[i].sock);
    xfree(c->conns);
    pthread_mutex_destroy(&c->mu);
    xfree(c);
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

/* Finds or opens the socket for addr. Holds mu. Returns -1 if nanomsg refuses. */
static int
conn_sock(struct rpc_client *c, const char *addr)
{
    char url[GEOKV_ADDR_MAX + INET_ADDRSTRLEN + 8];
    int sock;
    for (size_t i = 0; i < c->nconns; i++)
        if (strcmp(c->conns[i].addr, addr) == 0)
            return c->conns[i].sock;
    if (strlen(addr) >= GEOKV_ADDR_MAX)
        return -1;
    sock = nn_socket(AF_SP_RAW, NN_REQ);
    if (sock < 0)
        return -1;
    sock_tune(sock);
    /* nanomsg's "tcp://local;remote" binds the connection to the local address */
    snprintf(url, sizeof(url), "tcp://%s%s%s", source_host, source_host[0] ? ";" : "", addr);
    if (nn_connect(sock, url) < 0) {
        nn_close(sock);
        return -1;
    }
    c->conns = xrealloc(c->conns, (c->nconns + 1) * sizeof(*c->conns));
    snprintf(c->conns[c->nconns].addr, GEOKV_ADDR_MAX, "%s", addr);
    c->conns[c->nconns++].sock = sock;
    return sock;
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

/* Fails the call of a message that could not be sent (if the call has not ended). */
static void
outmsg_fail(struct rpc_client *c, struct outmsg *o)
{
    struct pending *p;
    pthread_mutex_lock(&c->mu);
    p = pending_take(c, o->id);
    pthread_mutex_unlock(&c->mu);
    if (p) {
        p->cb(p->arg, ERR_NETWORK, NULL, 0);
        xfree(p);
    }
}

/*
 * Retries the outbox in FIFO order; a socket that would block keeps the rest of its messages
 * queued behind the first, so each peer sees requests in the order they were made. Messages
 * whose call already ended are dropped. Runs on: I/O thread.
 */
static void
outbox_flush(struct rpc_client *c)
{
    struct outmsg *list, *keep = NULL, **keep_tail = &keep;
    int blocked[16], nblocked = 0;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->mu);
    list = c->outbox;
    c->outbox = NULL;
    c->outbox_tail = &c->outbox;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        struct outmsg *o = list;
        bool is_blocked = false;
        int rc = ERR_AGAIN;
        list = o->next;
        for (int i = 0; i < nblocked; i++)
            is_blocked |= blocked[i] == o->sock;
        pthread_mutex_lock(&c->mu);
        bool live = pending_find(c, o->id);
        pthread_mutex_unlock(&c->mu);
        if (live && !is_blocked)
            rc = client_send(o->sock, o->id, &o->msg);
        if (rc == ERR_AGAIN && now >= o->give_up_ms)
            rc = ERR_NETWORK;
        if (live && rc == ERR_AGAIN) {
            if (!is_blocked && nblocked < 16)
                blocked[nblocked++] = o->sock;
            o->next = NULL;
            *keep_tail = o;
            keep_tail = &o->next;
            continue;
        }
        if (live && rc != 0)
            outmsg_fail(c, o);
        buf_fini(&o->msg);
        xfree(o);
    }
    if (keep == NULL)
        return;
    pthread_mutex_lock(&c->mu); /* the kept ones go before anything queued meanwhile */
    *keep_tail = c->outbox;
    if (c->outbox == NULL)
        c->outbox_tail = keep_tail;
    c->outbox = keep;
    pthread_mutex_unlock(&c->mu);
}

void
rpc_call_async(struct rpc_client *c, const char *addr, uint32_t code, uint64_t gpid,
               ballot_t ballot, const void *body, size_t len, int timeout_ms, rpc_done_fn *cb,
               void *arg)
{
    uint64_t id = atomic_fetch_add(&c->next_id, 1);
    struct envelope env = {ENVELOPE_VERSION, code, id, gpid, ballot, 0, body, len};
    struct pending *p = xmalloc(sizeof(*p));
    struct buf msg = BUF_INIT;
    bool queued;
    int sock, rc;

    *p = (struct pending){id, clock_mono_ms() + timeout_ms, cb, arg, NULL};
    envelope_encode(&msg, &env);
    pthread_mutex_lock(&c->mu);
    sock = conn_sock(c, addr);
    if (sock >= 0) {
        p->next = c->buckets[id % RPC_BUCKETS];
        c->buckets[id % RPC_BUCKETS] = p;
        c->npending++;
    }
    queued = c->outbox != NULL; /* keep order behind messages already waiting */
    pthread_mutex_unlock(&c->mu);
    rc = sock < 0 ? ERR_INVALID_ARG : queued ? ERR_AGAIN : client_send(sock, id, &msg);
    if (rc == ERR_AGAIN) {
        struct outmsg *o = xmalloc(sizeof(*o));
        int64_t give_up = clock_mono_ms() + (timeout_ms < RPC_CONNECT_WAIT_MS ? timeout_ms - 1
                                                                            : RPC_CONNECT_WAIT_MS);
        *o = (struct outmsg){sock, id, give_up, msg, NULL};
        pthread_mutex_lock(&c->mu);
        *c->outbox_tail = o;
        c->outbox_tail = &o->next;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    buf_fini(&msg);
    if (rc == 0)
        return;
    if (sock >= 0) {
        pthread_mutex_lock(&c->mu);
        p = pending_take(c, id); /* NULL if the deadline scan already failed it */
        pthread_mutex_unlock(&c->mu);
    }
    if (p != NULL) {
        p->cb(p->arg, rc, NULL, 0);
        xfree(p);
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
