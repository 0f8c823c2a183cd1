/*
 * server.c: geokv-proxy's connections on one libuv loop.
 *
 * Why these libraries: libuv gives the loop, TCP, signals and a thread pool in one Debian
 * package (libevent has no pool, and the client library's calls block); hiredis's reader is
 * the RESP parser Redis's own tools use. Its object callbacks build our requests directly,
 * so arrays are bounded before anything is allocated and anything but an array of bulk
 * strings is refused, as Redis refuses it.
 *
 * A connection's life: bytes -> reader -> pending requests (read ahead up to
 * PENDING_MAX, then reading pauses) -> one command at a time (on the loop, or on the pool
 * for those that call geokv) -> its reply appended to the output, written when the
 * command ends. A connection that closes while its command runs on the pool is freed when
 * the command comes back.
 */
#include "proxy/server.h"

#include <ctype.h>
#include <hiredis/read.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proxy/resp.h"

#define PENDING_MAX 1024                /* requests read ahead per connection */
#define PENDING_BYTES_MAX (64u << 20)   /* and their bytes */
#define ARGS_MAX (1024 * 1024)          /* arguments of one request */
#define ARG_OVERHEAD 32                 /* memory an argument costs beyond its bytes */
#define BULK_MAX (GEOKV_PROXY_MAX_BULK) /* bytes of one argument */
#define INLINE_MAX (64 * 1024)          /* an inline (telnet) request line */
#define OUT_MAX (256u << 20)            /* unwritten reply bytes that close a connection */
#define SLOTS 16                        /* commands of one connection under way at once */

struct pending {
    struct request req;
    const char *proto_err; /* not a request: the protocol error that ends the connection */
    size_t bytes;
    struct pending *next;
};

/* A command under way: its reply waits in out until those before it are written. */
struct slot {
    uv_work_t work; /* work.data: the slot */
    struct conn *c;
    struct pending *pd;
    const struct command *cmd;
    struct call call;
    struct buf out;
    bool done, close_after;
};

struct conn {
    uv_tcp_t tcp; /* first: the handle's address is the connection's */
    struct proxy *p;
    struct conn *prev, *next; /* every open connection, for shutdown */
    redisReader *reader;
    const char *perr; /* why the reader's callbacks refused the input */
    struct buf inl;   /* an inline request line being read */
    struct pending *head, *tail;
    size_t npending, pending_bytes;
    struct slot slots[SLOTS]; /* a ring, in the order of the requests */
    unsigned first, nslots;
    unsigned running;     /* slots on the pool */
    bool stop_taking;     /* QUIT or a protocol error is in a slot: start nothing after it */
    struct buf out;       /* replies not yet handed to uv_write */
    size_t out_in_flight; /* bytes handed to uv_write, not yet written */
    bool reading, closing, close_after_write;
    bool eof;    /* the client sent all it will: answer what it sent, then close */
    bool broken; /* a protocol error is queued: read no more */
    bool shutting_down;
    uv_shutdown_t shutdown;
    int proto, id;
    char name[128];
};

struct proxy {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    struct geokv_client *client;
    struct geokv_table *table;
    int timeout_ms;
    struct conn *conns;
    struct proxy_stats stats;
};

struct write_req {
    uv_write_t w;
    struct conn *c;
    struct buf data;
};

static void conn_process(struct conn *c);
static void conn_close(struct conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* ---------------------------------------------------------------- parsing */

static void
request_free(struct request *r)
{
    for (int i = 0; i < r->argc; i++)
        xfree((void *)r->argv[i].data);
    xfree(r->argv);
    r->argv = NULL;
    r->argc = 0;
}

static void *
rd_array(const redisReadTask *task, int n)
{
    struct conn *c = task->privdata;
    struct pending *pd;

    if (task->parent != NULL) {
        c->perr = "Protocol error: expected '$', got '*'";
        return NULL;
    }
    if (n > ARGS_MAX) {
        c->perr = "Protocol error: invalid multibulk length";
        return NULL;
    }
    pd = xcalloc(1, sizeof(*pd));
    pd->req.argv = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*pd->req.argv));
    pd->req.argc = 0; /* grows as the strings arrive, so a failed request frees what it has */
    pd->bytes = (size_t)(n > 0 ? n : 0) * ARG_OVERHEAD;
    return pd;
}

static void *
rd_string(const redisReadTask *task, char *s, size_t len)
{
    struct conn *c = task->privdata;
    struct pending *pd;
    char *copy;

    if (task->parent == NULL || task->type != REDIS_REPLY_STRING) {
        c->perr = task->type == REDIS_REPLY_STATUS  ? "Protocol error: expected '$', got '+'"
                  : task->type == REDIS_REPLY_ERROR ? "Protocol error: expected '$', got '-'"
                                                    : "Protocol error: expected '$'";
        return NULL;
    }
    pd = task->parent->obj;
    if (pd->bytes + len + ARG_OVERHEAD > PENDING_BYTES_MAX) {
        c->perr = "Protocol error: request too large";
        return NULL;
    }
    copy = xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    pd->req.argv[task->idx] = geokv_bytes(copy, len);
    pd->req.argc = task->idx + 1;
    pd->bytes += len;
    return pd;
}

static void *
rd_integer(const redisReadTask *task, long long v)
{
    struct conn *c = task->privdata;
    c->perr = "Protocol error: expected '$', got ':'";
    return NULL;
}

/* "*-1" alone is an empty request (skipped, as Redis does); "$-1" in one is refused. */
static void *
rd_nil(const redisReadTask *task)
{
    struct conn *c = task->privdata;
    if (task->parent == NULL)
        return rd_array(task, 0);
    c->perr = "Protocol error: invalid bulk length";
    return NULL;
}

static void
rd_free(void *obj)
{
    struct pending *pd = obj;
    request_free(&pd->req);
    xfree(pd);
}

static redisReplyObjectFunctions reader_fns = {
    .createString = rd_string,
    .createArray = rd_array,
    .createInteger = rd_integer,
    .createNil = rd_nil,
    .freeObject = rd_free,
};

static void
pending_push(struct conn *c, struct pending *pd)
{
    if (pd->req.argc == 0 && pd->proto_err == NULL) { /* "*0": nothing to run, as Redis */
        rd_free(pd);
        return;
    }
    pd->next = NULL;
    if (c->tail)
        c->tail->next = pd;
    else
        c->head = pd;
    c->tail = pd;
    c->npending++;
    c->pending_bytes += pd->bytes;
}

/* A protocol error: Redis answers it, after the requests before it, and closes the
 * connection; nothing after it is read. */
static void
protocol_error(struct conn *c, const char *why)
{
    struct pending *pd = xcalloc(1, sizeof(*pd));
    LOG_DEBUG("proxy: connection %d: %s", c->id, why);
    pd->proto_err = why;
    pending_push(c, pd);
    c->broken = true;
}

/* Splits an inline request ("SET k v", as telnet sends) on blanks. */
static void
inline_request(struct conn *c)
{
    struct pending *pd = xcalloc(1, sizeof(*pd));
    size_t i = 0, n = c->inl.len, cap = 4;
    const char *s = (const char *)c->inl.data;

    pd->req.argv = xcalloc(cap, sizeof(*pd->req.argv));
    while (i < n) {
        size_t start;
        char *copy;
        while (i < n && isspace((unsigned char)s[i]))
            i++;
        if (i == n)
            break;
        start = i;
        while (i < n && !isspace((unsigned char)s[i]))
            i++;
        if ((size_t)pd->req.argc == cap) {
            cap *= 2;
            pd->req.argv = xrealloc(pd->req.argv, cap * sizeof(*pd->req.argv));
        }
        copy = xmalloc(i - start + 1);
        memcpy(copy, s + start, i - start);
        copy[i - start] = '\0';
        pd->req.argv[pd->req.argc++] = geokv_bytes(copy, i - start);
        pd->bytes += i - start;
    }
    buf_reset(&c->inl);
    pending_push(c, pd);
}

/* Redis's words for what the reader refused. */
static const char *
reader_error(const struct conn *c)
{
    if (c->perr)
        return c->perr;
    if (strstr(c->reader->errstr, "ulti-bulk length"))
        return "Protocol error: invalid multibulk length";
    if (strstr(c->reader->errstr, "ulk string length"))
        return "Protocol error: invalid bulk length";
    return "Protocol error: invalid request";
}

/* True while the reader holds no part of a request. (Asked for a reply with nothing left to
 * read, hiredis stays at an empty first task: that is idle too.) */
static bool
reader_idle(const redisReader *r)
{
    return (r->ridx == -1 || (r->ridx == 0 && r->rstack[0].type < 0)) && r->pos == r->len;
}

/* Why what the reader holds can never become a request within bounds, or NULL: a bulk
 * length over BULK_MAX (hiredis 0.14 has no limit and would buffer it all; it has taken the
 * '$' and waits at the length until the whole string is there), or a count line of more
 * than INLINE_MAX bytes without its end. */
static const char *
reader_overflow(const redisReader *r)
{
    uint64_t n = 0;
    size_t held = r->len - r->pos;
    bool bulk = r->ridx >= 0 && r->rstack[r->ridx].type == REDIS_REPLY_STRING;
    bool line = memchr(r->buf + r->pos, '\n', held) != NULL; /* the count line is complete */
    if (held > INLINE_MAX && !line)
        return bulk ? "Protocol error: too big bulk count string"
                    : "Protocol error: too big mbulk count string";
    if (bulk && line) {
        for (size_t i = r->pos; i < r->len && isdigit((unsigned char)r->buf[i]); i++)
            if ((n = n * 10 + (uint64_t)(r->buf[i] - '0')) > BULK_MAX)
                return "Protocol error: invalid bulk length";
        if (held > BULK_MAX + 64)
            return "Protocol error: invalid bulk length";
    }
    return NULL;
}

/* Feeds bytes to the parser. Requests that are not arrays (telnet's "PING\r\n") are
 * split on blanks, as Redis does without its quoting rules; the reader is bypassed for them,
 * and a line of them after an array is taken back out of its buffer. */
static void
conn_feed(struct conn *c, const char *data, size_t len)
{
    struct buf own = BUF_INIT, next = BUF_INIT;
    redisReader *r = c->reader;
    const char *why;

    while (len > 0 && !c->broken) {
        if (c->inl.len > 0 || (reader_idle(r) && data[0] != '*')) {
            const char *nl = memchr(data, '\n', len);
            size_t take = nl ? (size_t)(nl - data) + 1 : len;
            buf_append(&c->inl, data, take);
            data += take;
            len -= take;
            if (c->inl.len > INLINE_MAX)
                protocol_error(c, "Protocol error: too big inline request");
            else if (nl)
                inline_request(c);
            continue;
        }
        if (redisReaderFeed(r, data, len) != REDIS_OK) {
            protocol_error(c, "Protocol error: invalid request");
            break;
        }
        len = 0;
        for (;;) {
            void *obj = NULL;
            if (redisReaderGetReply(r, &obj) != REDIS_OK) {
                protocol_error(c, reader_error(c));
                break;
            }
            if (obj == NULL)
                break;
            pending_push(c, obj);
            if (r->ridx == -1 && r->pos < r->len && r->buf[r->pos] != '*') {
                buf_reset(&next);
                buf_append(&next, r->buf + r->pos, r->len - r->pos);
                r->pos = r->len;
                struct buf t = own;
                own = next;
                next = t;
                data = (const char *)own.data;
                len = own.len;
                break;
            }
        }
        if (len == 0 && !c->broken && (why = reader_overflow(r)) != NULL)
            protocol_error(c, why);
    }
    buf_fini(&own);
    buf_fini(&next);
}

/* ---------------------------------------------------------------- writing */

static void
on_written(uv_write_t *w, int status)
{
    struct write_req *wr = (struct write_req *)w;
    struct conn *c = wr->c;
    c->out_in_flight -= wr->data.len;
    buf_fini(&wr->data);
    xfree(wr);
    if (status < 0 && !c->closing)
        conn_close(c);
    else if (!c->closing)
        conn_process(c);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
    conn_close((struct conn *)req->handle);
}

/* Hands the replies gathered so far to libuv; closes the connection after them if asked. */
static void
conn_flush(struct conn *c)
{
    struct write_req *wr;
    uv_buf_t b;

    if (c->closing)
        return;
    if (c->out.len > 0) {
        wr = xcalloc(1, sizeof(*wr));
        wr->c = c;
        wr->data = c->out;
        c->out = (struct buf)BUF_INIT;
        c->out_in_flight += wr->data.len;
        b = uv_buf_init((char *)wr->data.data, (unsigned)wr->data.len);
        if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
            c->out_in_flight -= wr->data.len;
            buf_fini(&wr->data);
            xfree(wr);
            conn_close(c);
            return;
        }
    }
    if (c->close_after_write && c->running == 0 && !c->shutting_down) {
        /* uv_close would drop writes still queued: shut the write side down after them */
        c->shutting_down = true;
        if (c->out_in_flight == 0 ||
            uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
            conn_close(c);
    }
}

/* ---------------------------------------------------------------- running commands */

static void
unknown_command(struct buf *out, const struct request *r)
{
    char args[160];
    size_t n = 0;
    args[0] = '\0';
    for (int i = 1; i < r->argc && n < 128; i++) {
        int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ", (int)(128 - n),
                         (const char *)r->argv[i].data);
        if (w < 0)
            break;
        n += (size_t)w < sizeof(args) - n ? (size_t)w : sizeof(args) - n - 1;
    }
    resp_error(out, "ERR unknown command '%.128s', with args beginning with: %s",
               (const char *)r->argv[0].data, args);
}

static bool
arity_ok(const struct command *cmd, int argc)
{
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

static void
on_pool(uv_work_t *w)
{
    struct slot *sl = w->data;
    sl->cmd->fn(&sl->call);
}

static void
after_pool(uv_work_t *w, int status)
{
    struct slot *sl = w->data;
    struct conn *c = sl->c;

    sl->done = true;
    c->running--;
    if (c->closing) { /* closed while commands ran: it goes when the last is back */
        conn_close(c);
        return;
    }
    conn_process(c);
}

/* Whether a command on key may start now: none of several keys runs (they run alone), and
 * none on the same key, so a connection's commands on one key run in the order sent. */
static bool
may_start(const struct conn *c, const struct command *cmd, const struct request *req)
{
    if (c->running > 0 && (cmd->flags & CMD_MULTI))
        return false;
    for (unsigned k = 0; k < c->nslots; k++) {
        const struct slot *sl = &c->slots[(c->first + k) % SLOTS];
        if (sl->done)
            continue;
        if ((sl->cmd->flags & CMD_MULTI) || bytes_eq(sl->call.req->argv[1], req->argv[1]))
            return false;
    }
    return true;
}

/* Moves the replies of the finished slots at the head of the ring to out, in order. */
static void
slots_deliver(struct conn *c)
{
    while (c->nslots > 0 && c->slots[c->first].done) {
        struct slot *sl = &c->slots[c->first];
        buf_append(&c->out, sl->out.data, sl->out.len);
        buf_reset(&sl->out);
        c->close_after_write |= sl->close_after;
        if (sl->pd) {
            request_free(&sl->pd->req);
            xfree(sl->pd);
            sl->pd = NULL;
        }
        c->first = (c->first + 1) % SLOTS;
        c->nslots--;
    }
}

/* Starts what is pending, in order: commands on the loop at once, the others on the pool
 * while they may (may_start) and a slot is free; then writes the replies that are ready. */
static void
conn_process(struct conn *c)
{
    while (!c->closing && !c->stop_taking && c->head && c->nslots < SLOTS) {
        struct pending *pd = c->head;
        const struct command *cmd = NULL;
        struct slot *sl;

        if (pd->proto_err == NULL) {
            cmd = command_find(pd->req.argv[0].data, pd->req.argv[0].len);
            if (cmd && !(cmd->flags & CMD_LOCAL) && arity_ok(cmd, pd->req.argc) &&
                !may_start(c, cmd, &pd->req))
                break;
        }
        c->head = pd->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->npending--;
        c->pending_bytes -= pd->bytes;
        sl = &c->slots[(c->first + c->nslots++) % SLOTS];
        *sl = (struct slot){.c = c, .pd = pd, .cmd = cmd, .out = sl->out, .done = true};
        sl->work.data = sl;
        sl->call = (struct call){.req = &pd->req,
                                 .table = c->p->table,
                                 .out = &sl->out,
                                 .proto = c->proto,
                                 .timeout_ms = c->p->timeout_ms,
                                 .conn = c,
                                 .proxy = c->p};
        if (pd->proto_err) {
            resp_error(&sl->out, "ERR %s", pd->proto_err);
            sl->close_after = c->stop_taking = true;
            continue;
        }
        c->p->stats.commands_processed++;
        if (cmd == NULL) {
            unknown_command(&sl->out, &pd->req);
        } else if (!arity_ok(cmd, pd->req.argc)) {
            resp_error(&sl->out, "ERR wrong number of arguments for '%s' command", cmd->name);
        } else if (cmd->flags & CMD_LOCAL) {
            cmd->fn(&sl->call);
            sl->close_after = c->stop_taking = sl->call.close_after;
        } else {
            sl->call.conn = NULL; /* pool commands see no connection state */
            sl->done = false;
            c->running++;
            ASSERT(uv_queue_work(&c->p->loop, &sl->work, on_pool, after_pool) == 0);
        }
    }
    slots_deliver(c);
    if (c->out.len + c->out_in_flight > OUT_MAX) {
        /* a client that sends and never reads: Redis's output buffer limit, closing it */
        LOG_WARN("proxy: connection %d: %zu bytes of replies unread: closed", c->id,
                 c->out.len + c->out_in_flight);
        conn_close(c);
        return;
    }
    if (c->eof && c->nslots == 0 && c->head == NULL)
        c->close_after_write = true;
    conn_flush(c);
    if (!c->closing && !c->reading && !c->close_after_write && !c->eof && !c->broken &&
        c->npending < PENDING_MAX / 2 && c->pending_bytes < PENDING_BYTES_MAX / 2) {
        /* read_start fails only on a closing handle */
        c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
    }
}

/* ---------------------------------------------------------------- connections */

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)h;
    b->base = xmalloc(suggested);
    b->len = suggested;
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)s;
    if (n > 0)
        conn_feed(c, b->base, (size_t)n);
    xfree(b->base);
    if (n == UV_EOF) {
        c->eof = true;
    } else if (n < 0) { /* reset: what runs finishes, nothing more is answered */
        conn_close(c);
        return;
    }
    if (c->npending >= PENDING_MAX || c->pending_bytes >= PENDING_BYTES_MAX || c->broken ||
        c->close_after_write || c->eof) {
        uv_read_stop(s);
        c->reading = false;
    }
    conn_process(c);
}

static void
on_closed(uv_handle_t *h)
{
    struct conn *c = (struct conn *)h;

    while (c->head) {
        struct pending *pd = c->head;
        c->head = pd->next;
        request_free(&pd->req);
        xfree(pd);
    }
    redisReaderFree(c->reader);
    buf_fini(&c->inl);
    buf_fini(&c->out);
    for (unsigned k = 0; k < SLOTS; k++) {
        struct slot *sl = &c->slots[k];
        if (sl->pd) {
            request_free(&sl->pd->req);
            xfree(sl->pd);
        }
        buf_fini(&sl->out);
    }
    xfree(c);
}

static void
conn_close(struct conn *c)
{
    struct proxy *p = c->p;
    if (!c->closing) {
        c->closing = true;
        if (c->prev)
            c->prev->next = c->next;
        else
            p->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        p->stats.connected_clients--;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    if (c->running == 0 && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void
free_handle(uv_handle_t *h)
{
    xfree(h);
}

static void
on_connection(uv_stream_t *listener, int status)
{
    struct proxy *p = listener->data;
    struct conn *c;

    if (status < 0) {
        LOG_WARN("proxy: accept: %s", uv_strerror(status));
        return;
    }
    c = xcalloc(1, sizeof(*c));
    c->p = p;
    c->proto = 2;
    c->id = (int)++p->stats.connections_received;
    ASSERT(uv_tcp_init(&p->loop, &c->tcp) == 0);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_handle);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->reader = redisReaderCreateWithFunctions(&reader_fns);
    ASSERT(c->reader != NULL);
    c->reader->privdata = c;
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    p->stats.connected_clients++;
    c->reading = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0;
}

/* ---------------------------------------------------------------- the proxy */

static void
on_signal(uv_signal_t *s, int signum)
{
    struct proxy *p = s->data;
    LOG_INFO("proxy: signal %d: closing %" PRIu64 " connections", signum,
             p->stats.connected_clients);
    uv_close((uv_handle_t *)&p->listener, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    for (struct conn *c = p->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

int
proxy_run(const struct proxy_opts *o)
{
    struct proxy *p = xcalloc(1, sizeof(*p));
    struct sockaddr_storage sa;
    int rc;

    p->timeout_ms = o->timeout_ms;
    p->stats.start_ms = (clock_wall_us() / 1000);
    p->stats.port = o->port;
    ASSERT(uv_loop_init(&p->loop) == 0);
    rc = geokv_client_create(o->meta_servers, &(struct geokv_options){o->keys_config}, &p->client);
    if (rc == 0)
        rc =
            geokv_open(p->client, o->app, o->timeout_ms > 10000 ? o->timeout_ms : 10000, &p->table);
    if (rc != 0) {
        LOG_ERROR("proxy: cannot open table '%s' on %s: %s", o->app, o->meta_servers,
                  geokv_strerror(rc));
        goto out;
    }
    if ((rc = uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&sa)) != 0 &&
        (rc = uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&sa)) != 0) {
        LOG_ERROR("proxy: bad listen address %s", o->host);
        goto out;
    }
    ASSERT(uv_tcp_init(&p->loop, &p->listener) == 0);
    p->listener.data = p;
    if ((rc = uv_tcp_bind(&p->listener, (struct sockaddr *)&sa, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&p->listener, 511, on_connection)) != 0) {
        LOG_ERROR("proxy: cannot listen on %s:%d: %s", o->host, o->port, uv_strerror(rc));
        uv_close((uv_handle_t *)&p->listener, NULL);
        uv_run(&p->loop, UV_RUN_DEFAULT);
        goto out;
    }
    ASSERT(uv_signal_init(&p->loop, &p->sigterm) == 0 && uv_signal_init(&p->loop, &p->sigint) == 0);
    p->sigterm.data = p->sigint.data = p;
    ASSERT(uv_signal_start(&p->sigterm, on_signal, SIGTERM) == 0);
    ASSERT(uv_signal_start(&p->sigint, on_signal, SIGINT) == 0);
    LOG_INFO("proxy: serving table '%s' of %s on %s:%d", o->app, o->meta_servers, o->host, o->port);
    uv_run(&p->loop, UV_RUN_DEFAULT); /* returns once the signal closed every handle */
    rc = 0;
out:
    if (p->client)
        geokv_client_destroy(p->client);
    (void)uv_loop_close(&p->loop);
    xfree(p);
    return rc;
}

/* ---------------------------------------------------------------- for the commands */

const struct proxy_stats *
proxy_stats(const struct proxy *p)
{
    return &p->stats;
}

const char *
proxy_table_name(const struct proxy *p)
{
    return geokv_table_name(p->table);
}

int
conn_id(const struct conn *c)
{
    return c->id;
}

const char *
conn_name(const struct conn *c)
{
    return c->name;
}

void
conn_set_name(struct conn *c, const void *name, size_t len)
{
    if (len >= sizeof(c->name))
        len = sizeof(c->name) - 1;
    memcpy(c->name, name, len);
    c->name[len] = '\0';
}

void
conn_set_proto(struct conn *c, int proto)
{
    c->proto = proto;
}
