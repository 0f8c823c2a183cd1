/*
 * test_rpc.c: the RPC layer under load, on real nanomsg sockets on loopback. Floods of
 * calls with replies of every size up to the largest message, a client that reads slowly,
 * and a server that answers from other threads: every call must end with its own reply (or
 * a clear error that says it was never sent), and no reply may be lost on the way.
 */
#include <criterion/criterion.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/metrics.h"
#include "common/xmalloc.h"
#include "proto/auth.h"
#include "proto/envelope.h"
#include "proto/pack.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "tests/unit/unit_net.h"

/* The reply to a request "size:u32 seed:u32" is size bytes: byte k is (seed + k) & 0xff. */
static void
fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t k = 0; k < n; k++)
        p[k] = (uint8_t)(seed + k);
}

static void
sized_handler(void *arg, struct rpc_request *req)
{
    uint32_t size, seed;
    uint8_t *body;
    (void)arg;
    if (req->env.body_len != 8 || (auth_seal_remote() && !(req->env.flags & ENVELOPE_SEALED))) {
        rpc_reply(req, ERR_INVALID_ARG, NULL, 0);
        return;
    }
    size = be32_load(req->env.body);
    seed = be32_load(req->env.body + 4);
    body = xmalloc(size + 1);
    fill_pattern(body, size, seed);
    rpc_reply(req, 0, body, size);
    xfree(body);
}

struct flood {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, bad, timeouts, never_sent, other;
    int slow_every, slow_ms; /* the reader sleeps slow_ms after every slow_every replies */
};

struct flood_call {
    struct flood *f;
    uint32_t size, seed;
    int ncb;
};

static void
flood_done(void *arg, int err, const uint8_t *body, size_t len)
{
    struct flood_call *fc = arg;
    struct flood *f = fc->f;
    bool good = err == 0 && len == fc->size;
    for (size_t k = 0; good && k < len; k += 997)
        good = body[k] == (uint8_t)(fc->seed + k);
    pthread_mutex_lock(&f->mu);
    fc->ncb++;
    f->done++;
    if (good)
        f->ok++;
    else if (err == 0)
        f->bad++;
    else if (err == ERR_TIMEOUT)
        f->timeouts++;
    else if (err == ERR_BUSY || err == ERR_NETWORK)
        f->never_sent++;
    else
        f->other++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->slow_every > 0 && f->done % f->slow_every == 0)
        clock_sleep_ms(f->slow_ms);
}

static int64_t
replies_lost(void)
{
    return metric_value(metric_get(METRIC_COUNTER, "geokv_rpc_replies_lost_total", NULL, NULL));
}

/*
 * Sends n calls at once (no window of the caller's own), sizes chosen by size_of(i), each
 * with timeout_ms, and waits for every callback. Asserts each call ran its callback once,
 * every reply was whole and its own, no call timed out and no reply was lost.
 */
static void
flood(uint32_t (*size_of)(int), int n, int slow_every, int slow_ms, int timeout_ms)
{
    char addr[32];
    struct rpc_server *s;
    struct rpc_client *c;
    struct flood f = {.slow_every = slow_every, .slow_ms = slow_ms};
    struct flood_call *calls = xcalloc((size_t)n, sizeof(*calls));
    int64_t lost0 = replies_lost(), deadline;
    pthread_mutex_init(&f.mu, NULL);
    pthread_cond_init(&f.cv, NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    cr_assert_eq(rpc_server_create(addr, sized_handler, NULL, &s), 0);
    rpc_server_start(s);
    c = rpc_client_create();
    if (auth_seal_remote())
        rpc_client_seal(c);
    for (int i = 0; i < n; i++) {
        uint8_t req[8];
        calls[i] = (struct flood_call){&f, size_of(i), (uint32_t)i * 7919u, 0};
        be32_store(req, calls[i].size);
        be32_store(req + 4, calls[i].seed);
        rpc_call_async(c, addr, RPC_GET, 0, 0, req, sizeof(req), timeout_ms, flood_done, &calls[i]);
    }
    deadline = clock_mono_ms() + timeout_ms + 30000;
    pthread_mutex_lock(&f.mu);
    while (f.done < n && clock_mono_ms() < deadline) {
        pthread_mutex_unlock(&f.mu);
        clock_sleep_ms(20);
        pthread_mutex_lock(&f.mu);
    }
    pthread_mutex_unlock(&f.mu);
    cr_log_info("%d calls: %d ok, %d timed out, %d never sent, %d bad, %d other", n, f.ok,
                f.timeouts, f.never_sent, f.bad, f.other);
    cr_assert_eq(f.done, n, "only %d of %d calls ended", f.done, n);
    for (int i = 0; i < n; i++)
        cr_assert_eq(calls[i].ncb, 1, "call %d ran its callback %d times", i, calls[i].ncb);
    cr_assert_eq(f.bad, 0, "%d replies were not the bytes asked for", f.bad);
    cr_assert_eq(f.timeouts, 0, "%d calls timed out: their replies were lost", f.timeouts);
    cr_assert_eq(f.other, 0, "%d calls failed with an unexpected error", f.other);
    cr_assert_eq(f.ok + f.never_sent, n);
    cr_assert_gt(f.ok, n / 2, "only %d of %d calls were answered", f.ok, n);
    cr_assert_eq(replies_lost(), lost0, "the client counted lost replies");
    rpc_client_destroy(c);
    rpc_server_destroy(s);
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cv);
    xfree(calls);
}

static uint32_t
small(int i)
{
    return 100 + (uint32_t)(i % 7);
}

static uint32_t
kib(int i)
{
    return 1000 + (uint32_t)(i % 50);
}

/* Every size from a few bytes to 8 MiB, the large ones rarer. */
static uint32_t
mixed(int i)
{
    static const uint32_t sizes[] = {1, 100, 1000, 10000, 100000, 60000, 3000, 200};
    if (i % 500 == 499)
        return 8u << 20;
    if (i % 50 == 49)
        return (1u << 20) + (uint32_t)i;
    return sizes[i % 8] + (uint32_t)(i % 13);
}

Test(rpc, flood_of_small_replies, .timeout = 120)
{
    flood(small, 100000, 0, 0, 20000);
}

Test(rpc, flood_of_1kib_replies, .timeout = 120)
{
    flood(kib, 50000, 0, 0, 20000);
}

Test(rpc, replies_of_every_size_to_a_slow_reader, .timeout = 120)
{
    flood(mixed, 3000, 10, 5, 20000);
}

/* ---- a server that holds requests and answers them later, from another thread ---- */

struct holder {
    pthread_mutex_t mu;
    struct rpc_request **held;
    size_t n, cap;
    uint32_t never_seeds; /* requests with a lower seed and a limit that fits their reply
                           * are held forever */
    bool release;         /* answer what is held (from the holder's thread) */
    bool stop;
    pthread_t thread;
};

static void
holding_handler(void *arg, struct rpc_request *req)
{
    struct holder *h = arg;
    pthread_mutex_lock(&h->mu);
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->held = xrealloc(h->held, h->cap * sizeof(*h->held));
    }
    h->held[h->n++] = req;
    pthread_mutex_unlock(&h->mu);
}

static bool
held_forever(const struct holder *h, const struct rpc_request *req)
{
    return be32_load(req->env.body + 4) < h->never_seeds &&
           be32_load(req->env.body) <= req->env.limit;
}

/* Answers held requests (newest first: out of order) while release is set. */
static void *
holder_main(void *arg)
{
    struct holder *h = arg;
    for (;;) {
        struct rpc_request *req = NULL;
        pthread_mutex_lock(&h->mu);
        for (size_t i = h->n; i-- > 0;)
            if (h->stop || (h->release && !held_forever(h, h->held[i]))) {
                req = h->held[i];
                h->held[i] = h->held[--h->n];
                break;
            }
        if (req == NULL && h->stop) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        pthread_mutex_unlock(&h->mu);
        if (req != NULL)
            sized_handler(NULL, req);
        else
            clock_sleep_ms(1);
    }
}

static struct rpc_server *
holder_start(struct holder *h, const char *addr, uint32_t never_seeds)
{
    struct rpc_server *s;
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    h->never_seeds = never_seeds;
    cr_assert_eq(rpc_server_create(addr, holding_handler, h, &s), 0);
    rpc_server_start(s);
    pthread_create(&h->thread, NULL, holder_main, h);
    return s;
}

static void
holder_stop(struct holder *h, struct rpc_server *s)
{
    rpc_server_stop(s);
    pthread_mutex_lock(&h->mu);
    h->stop = true;
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    rpc_server_destroy(s);
    xfree(h->held);
    pthread_mutex_destroy(&h->mu);
}

static void
call_sized(struct rpc_client *c, const char *addr, struct flood_call *fc, int timeout_ms)
{
    uint8_t req[8];
    be32_store(req, fc->size);
    be32_store(req + 4, fc->seed);
    rpc_call_async(c, addr, RPC_GET, 0, 0, req, sizeof(req), timeout_ms, flood_done, fc);
}

static bool
flood_wait(struct flood *f, int n, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&f->mu);
    while (!(ok = f->done >= n) && clock_mono_ms() < deadline) {
        pthread_mutex_unlock(&f->mu);
        clock_sleep_ms(5);
        pthread_mutex_lock(&f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

/* A client whose peer does not answer stops taking calls at its queue bound: the calls
 * beyond it fail at once with ERR_BUSY (never sent), and the rest are answered in full once
 * the peer answers, out of order, from another thread. */
Test(rpc, a_full_queue_refuses_at_once, .timeout = 120)
{
    enum { N = 230000 };
    char addr[32];
    struct holder h;
    struct rpc_server *s;
    struct rpc_client *c = rpc_client_create();
    struct flood f = {0};
    struct flood_call *calls = xcalloc(N, sizeof(*calls));
    pthread_mutex_init(&f.mu, NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = holder_start(&h, addr, 0);
    for (int i = 0; i < N; i++) {
        calls[i] = (struct flood_call){&f, 10, (uint32_t)i, 0};
        call_sized(c, addr, &calls[i], 60000);
    }
    cr_assert(flood_wait(&f, N - 200000 - 400, 5000), "calls over the bound did not fail");
    pthread_mutex_lock(&f.mu);
    cr_assert_eq(f.done, f.never_sent, "%d calls ended, %d of them never sent", f.done,
                 f.never_sent);
    cr_assert_geq(f.never_sent, N - 200000 - 400);
    pthread_mutex_unlock(&f.mu);
    pthread_mutex_lock(&h.mu);
    h.release = true;
    pthread_mutex_unlock(&h.mu);
    cr_assert(flood_wait(&f, N, 90000), "only %d of %d calls ended", f.done, N);
    cr_assert_eq(f.ok + f.never_sent, N, "ok %d, never sent %d, timed out %d, bad %d", f.ok,
                 f.never_sent, f.timeouts, f.bad);
    rpc_client_destroy(c);
    holder_stop(&h, s);
    xfree(calls);
}

/* Replies that never come (the peer lost them, or holds them forever) give their credit
 * back: the connection is replaced, and the calls behind them go through. */
Test(rpc, credit_of_replies_that_never_come_is_given_back, .timeout = 60)
{
    char addr[32];
    struct holder h;
    struct rpc_server *s;
    struct rpc_client *c = rpc_client_create();
    struct flood f = {0};
    struct flood_call lost[4], behind[5];
    struct metric *retired =
        metric_get(METRIC_COUNTER, "geokv_rpc_connections_retired_total", NULL, NULL);
    int64_t retired0 = metric_value(retired);
    pthread_mutex_init(&f.mu, NULL);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    s = holder_start(&h, addr, 4);
    h.release = true;
    /* 4 calls of 1000 KiB (the most a call on the connection of small ones may ask for, a
     * quarter of a 4 MiB window) whose replies never come: once their first attempt has said
     * how large the reply is, their second takes all but 92 KiB of the window until it times
     * out, and on */
    for (int i = 0; i < 4; i++) {
        lost[i] = (struct flood_call){&f, 1000u << 10, (uint32_t)i, 0};
        call_sized(c, addr, &lost[i], 1000);
    }
    cr_assert(flood_wait(&f, 4, 5000));
    cr_assert_eq(f.timeouts, 4);
    /* so calls as large behind them wait until the connection is replaced */
    for (int i = 0; i < 5; i++) {
        behind[i] = (struct flood_call){&f, 1000u << 10, 100 + (uint32_t)i, 0};
        call_sized(c, addr, &behind[i], 30000);
    }
    cr_assert(flood_wait(&f, 9, 25000), "the calls behind lost replies never went");
    cr_assert_eq(f.ok, 5, "%d of the 5 calls answered", f.ok);
    cr_assert_eq(metric_value(retired), retired0 + 1);
    rpc_client_destroy(c);
    holder_stop(&h, s);
}

/* ---- servers written by hand ---- */

/* A raw REP socket bound on a free loopback port, its address in addr. */
static int
raw_server(char *addr, size_t cap)
{
    char url[48];
    int sock = nn_socket(AF_SP_RAW, NN_REP);
    snprintf(addr, cap, "127.0.0.1:%d", free_port());
    snprintf(url, sizeof(url), "tcp://%s", addr);
    cr_assert_geq(nn_bind(sock, url), 0);
    return sock;
}

/* One request received by hand: its bytes, its routing header, its envelope. */
struct raw_request {
    void *body, *control;
    struct envelope env;
    struct unpacked *zone;
};

static void
raw_recv(int sock, struct raw_request *r)
{
    struct nn_iovec iov = {&r->body, NN_MSG};
    struct nn_msghdr hdr = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &r->control, .msg_controllen = NN_MSG};
    int n = nn_recvmsg(sock, &hdr, 0);
    cr_assert_gt(n, 0);
    cr_assert_eq(envelope_decode(r->body, (size_t)n, &r->env, &r->zone), 0);
}

/* Sends msg as a reply to r (its routing header copied: r may be answered again). */
static void
raw_reply(int sock, const struct raw_request *r, const struct buf *msg)
{
    const struct nn_cmsghdr *cm = r->control;
    uint8_t ctl[256];
    size_t ctl_len = NN_CMSG_SPACE(cm->cmsg_len - NN_CMSG_LEN(0));
    struct nn_iovec iov = {msg->data, msg->len};
    struct nn_msghdr hdr = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = ctl_len};
    cr_assert_leq(ctl_len, sizeof(ctl));
    memcpy(ctl, cm, ctl_len);
    cr_assert_geq(nn_sendmsg(sock, &hdr, 0), 0);
}

static void
raw_fini(struct raw_request *r)
{
    unpacked_free(r->zone);
    nn_freemsg(r->body);
    nn_freemsg(r->control);
}

/* A gap in a connection's reply numbers is counted, never silent: a raw server numbers its
 * two replies 1 and 3. */
Test(rpc, a_gap_in_reply_numbers_is_counted, .timeout = 30)
{
    char addr[32];
    struct rpc_client *c = rpc_client_create();
    struct flood f = {0};
    struct flood_call calls[2];
    int64_t lost0 = replies_lost();
    int sock = raw_server(addr, sizeof(addr));
    pthread_mutex_init(&f.mu, NULL);
    for (int i = 0; i < 2; i++) {
        calls[i] = (struct flood_call){&f, 0, (uint32_t)i, 0};
        call_sized(c, addr, &calls[i], 10000);
    }
    for (uint64_t seq = 1; seq <= 3; seq += 2) {
        struct raw_request r;
        struct buf out = BUF_INIT;
        raw_recv(sock, &r);
        r.env.seq = seq;
        r.env.flags = ENVELOPE_REPLY;
        r.env.limit = 1u << 20;
        r.env.body = NULL;
        r.env.body_len = 0;
        envelope_encode(&out, &r.env);
        raw_reply(sock, &r, &out);
        buf_fini(&out);
        raw_fini(&r);
    }
    cr_assert(flood_wait(&f, 2, 10000));
    cr_assert_eq(f.ok, 2);
    cr_assert_eq(replies_lost(), lost0 + 1);
    rpc_client_destroy(c);
    nn_close(sock);
}

/* ---- signed and sealed messages ---- */

static void
use_keys(const char *keys, bool seal)
{
    struct config *cfg;
    char err[128];
    cr_assert_eq(config_load(NULL, &cfg, err, sizeof(err)), 0);
    config_set(cfg, "security", "keys", keys);
    config_set(cfg, "security", "seal_remote", seal ? "true" : "false");
    cr_assert_eq(auth_configure(cfg), 0);
    config_destroy(cfg);
}

#define KEY1 "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* With keys, every call and reply is signed, and with sealing every body is encrypted (the
 * server refuses plain ones here): a flood of every size still comes back whole. */
Test(rpc, signed_and_sealed_floods_round_trip, .timeout = 120)
{
    use_keys(KEY1, true);
    flood(mixed, 1500, 0, 0, 20000);
    cr_assert(auth_enabled() && auth_seal_remote());
}

/* A reply that fails verification is not the reply: the call waits for the genuine one. */
Test(rpc, a_forged_reply_is_dropped, .timeout = 30)
{
    char addr[32];
    struct rpc_client *c;
    struct flood f = {0};
    struct flood_call call;
    struct metric *refused =
        metric_get(METRIC_COUNTER, "geokv_rpc_auth_failures_total", NULL, NULL);
    struct raw_request r;
    int sock = raw_server(addr, sizeof(addr));
    use_keys(KEY1, false);
    c = rpc_client_create();
    pthread_mutex_init(&f.mu, NULL);
    call = (struct flood_call){&f, 0, 1, 0};
    call_sized(c, addr, &call, 10000);
    raw_recv(sock, &r); /* a new connection asks for the server's incarnation first */
    cr_assert_eq(r.env.code, RPC_HELLO);
    {
        struct buf out = BUF_INIT;
        r.env.epoch = 42;
        r.env.key_id = 1;
        r.env.flags = ENVELOPE_REPLY;
        envelope_encode(&out, &r.env);
        cr_assert_eq(auth_sign(&out, 1), 0);
        raw_reply(sock, &r, &out);
        buf_fini(&out);
        raw_fini(&r);
    }
    raw_recv(sock, &r);
    cr_assert(r.env.key_id == 1 && r.env.epoch == 42, "the request was not signed for epoch 42");
    for (int i = 0; i < 3; i++) { /* unsigned, then a wrong MAC, then genuine */
        struct buf out = BUF_INIT;
        r.env.seq = 1; /* the forged ones are dropped before they are counted */
        r.env.limit = 1u << 20;
        r.env.body = NULL;
        r.env.body_len = 0;
        r.env.key_id = i == 0 ? 0 : 1;
        r.env.flags = ENVELOPE_REPLY;
        envelope_encode(&out, &r.env);
        if (i > 0)
            cr_assert_eq(auth_sign(&out, 1), 0);
        if (i == 1)
            out.data[out.len - 1] ^= 1;
        raw_reply(sock, &r, &out);
        buf_fini(&out);
        if (i < 2) {
            clock_sleep_ms(100);
            cr_assert_eq(f.done, 0, "a forged reply ended the call");
        }
    }
    cr_assert(flood_wait(&f, 1, 5000));
    cr_assert_eq(f.ok, 1);
    cr_assert_eq(metric_value(refused), 2);
    raw_fini(&r);
    rpc_client_destroy(c);
    nn_close(sock);
}
