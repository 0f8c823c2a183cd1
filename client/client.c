/*
 * client.c: the client object and everything that talks to the meta servers.
 *
 * A meta request goes to the last known leader (leader_hint) or else to the meta at
 * meta_idx. A follower answers ERR_FORWARD_TO_LEADER with the leader's address: the call
 * follows it at once (a few hops at most). A network error or an attempt timeout forgets
 * the hint and rotates to the next meta in the list; ERR_NO_LEADER (election running) backs
 * off. All of it until the caller's deadline, so a meta failover is invisible to callers
 * that give it a few seconds.
 *
 * Threads: callers' threads and the config loop (table refreshes) call client_meta_call
 * concurrently; client.mu guards meta_idx and leader_hint, never held across an RPC.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/xmalloc.h"
#include "proto/auth.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"

#define META_MAX_HOPS 4

/* Copies the next address of list (comma separated, spaces ignored) into out. */
static const char *
next_addr(const char *p, char *out, size_t cap, int *err)
{
    size_t n = 0;
    *err = 0;
    while (*p == ' ' || *p == ',')
        p++;
    while (*p && *p != ',' && *p != ' ') {
        if (n + 1 >= cap)
            *err = ERR_INVALID_ARG;
        else
            out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return p;
}

int
geokv_client_create(const char *meta_list, const struct geokv_options *opts,
                    struct geokv_client **out)
{
    struct geokv_client *c;
    const char *p = meta_list;
    int err = 0;

    *out = NULL;
    if (meta_list == NULL)
        return ERR_INVALID_ARG;
    if (opts != NULL && opts->config != NULL && auth_load(opts->config, NULL, 0) != 0)
        return ERR_CONFIG;
    c = xcalloc(1, sizeof(*c));
    while (*p && err == 0) {
        char addr[GEOKV_ADDR_MAX];
        p = next_addr(p, addr, sizeof(addr), &err);
        if (err == 0 && addr[0] != '\0') {
            if (c->nmetas == CLIENT_MAX_METAS || strchr(addr, ':') == NULL)
                err = ERR_INVALID_ARG;
            else
                memcpy(c->metas[c->nmetas++], addr, sizeof(addr));
        }
    }
    if (err != 0 || c->nmetas == 0) {
        xfree(c);
        return ERR_INVALID_ARG;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->idle_cv, NULL);
    atomic_init(&c->shutting, false);
    atomic_init(&c->inflight, 0);
    c->rpc = rpc_client_create();
    c->retry_loop = loop_create("geokv-retry");
    c->cfg_loop = loop_create("geokv-cfg");
    loop_start(c->retry_loop);
    loop_start(c->cfg_loop);
    *out = c;
    return 0;
}

void
geokv_client_seal(struct geokv_client *c)
{
    rpc_client_seal(c->rpc);
}

void
geokv_client_destroy(struct geokv_client *c)
{
    if (c == NULL)
        return;
    atomic_store(&c->shutting, true);
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->inflight) > 0) {
        /* ops finish by their deadlines; poll too, in case a wakeup raced us */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->idle_cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    loop_destroy(c->retry_loop);
    loop_destroy(c->cfg_loop);
    rpc_client_destroy(c->rpc);
    while (c->tables != NULL) {
        struct geokv_table *t = c->tables;
        c->tables = t->next;
        table_free(t);
    }
    pthread_cond_destroy(&c->idle_cv);
    pthread_mutex_destroy(&c->mu);
    xfree(c);
}

/* The address the next meta attempt goes to. */
static void
meta_pick(struct geokv_client *c, char addr[GEOKV_ADDR_MAX])
{
    pthread_mutex_lock(&c->mu);
    if (c->leader_hint[0] != '\0')
        memcpy(addr, c->leader_hint, GEOKV_ADDR_MAX);
    else
        memcpy(addr, c->metas[c->meta_idx % c->nmetas], GEOKV_ADDR_MAX);
    pthread_mutex_unlock(&c->mu);
}

/* Records what an attempt at addr taught us: a new leader, or that addr is unusable. */
static void
meta_learn(struct geokv_client *c, const char *addr, const char *leader)
{
    pthread_mutex_lock(&c->mu);
    if (leader != NULL && leader[0] != '\0') {
        snprintf(c->leader_hint, sizeof(c->leader_hint), "%s", leader);
    } else {
        if (strcmp(c->metas[c->meta_idx % c->nmetas], addr) == 0)
            c->meta_idx = (c->meta_idx + 1) % c->nmetas;
        if (strcmp(c->leader_hint, addr) == 0)
            c->leader_hint[0] = '\0';
    }
    pthread_mutex_unlock(&c->mu);
}

/* Handles a redirect reply; returns true if it named another leader to try at once. */
static bool
meta_redirect(struct geokv_client *c, const char *addr, const struct buf *body)
{
    struct msg_redirect r;
    if (msg_redirect_decode(body->data, body->len, &r) != 0 || r.leader[0] == '\0' ||
        strcmp(r.leader, addr) == 0) {
        meta_learn(c, addr, NULL);
        return false;
    }
    meta_learn(c, addr, r.leader);
    return true;
}

int
client_meta_call(struct geokv_client *c, uint32_t code, const struct buf *req, int timeout_ms,
                 bool retry_timeouts, struct buf *reply)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int64_t backoff = CLIENT_BACKOFF_FIRST_MS;
    int cap = timeout_ms / 3 > CLIENT_ATTEMPT_MIN_MS ? timeout_ms / 3 : CLIENT_ATTEMPT_MIN_MS;
    int hops = 0, err = ERR_TIMEOUT;
    struct buf body = BUF_INIT;

    for (;;) {
        char addr[GEOKV_ADDR_MAX];
        int64_t remaining = deadline - clock_mono_ms();
        if (remaining <= 0)
            break;
        meta_pick(c, addr);
        buf_reset(&body);
        err = rpc_call(c->rpc, addr, code, 0, 0, req->data, req->len,
                       (int)(retry_timeouts && remaining > cap ? cap : remaining), &body);
        LOG_DEBUG("meta %s %s: %s", addr, rpc_code_name((int)code), err_name(err));
        if (err == ERR_FORWARD_TO_LEADER) {
            if (meta_redirect(c, addr, &body) && ++hops <= META_MAX_HOPS)
                continue;
        } else if (err == ERR_NETWORK || (err == ERR_TIMEOUT && retry_timeouts)) {
            meta_learn(c, addr, NULL);
        } else if (err != ERR_NO_LEADER) {
            break;
        }
        hops = 0;
        remaining = deadline - clock_mono_ms();
        clock_sleep_ms(backoff < remaining ? backoff : (remaining > 0 ? remaining : 0));
        backoff = backoff * 2 > CLIENT_BACKOFF_MAX_MS ? CLIENT_BACKOFF_MAX_MS : backoff * 2;
    }
    /* On a server's error too: its body may explain it (msg_error_text). */
    if (reply != NULL && err != ERR_FORWARD_TO_LEADER)
        buf_append(reply, body.data, body.len);
    buf_fini(&body);
    return err;
}

/* ---- admin calls ---- */

int
geokv_create_app(struct geokv_client *c, const char *name, uint32_t partition_count,
                 uint32_t replica_count, int timeout_ms, struct msg_app_config *out)
{
    struct msg_create_app_req m = {.partition_count = partition_count,
                                   .replica_count = replica_count};
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(m.name) || partition_count == 0 ||
        replica_count == 0 || replica_count > GEOKV_MAX_REPLICAS)
        return ERR_INVALID_ARG;
    snprintf(m.name, sizeof(m.name), "%s", name);
    msg_create_app_req_encode(&req, &m);
    /* not idempotent: a timed-out create is not resent (a resend would say APP_EXISTS) */
    err = client_meta_call(c, RPC_CREATE_APP, &req, timeout_ms, false, &reply);
    if (err == 0 && out != NULL && msg_app_config_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

int
geokv_create_table(struct geokv_client *c, const char *name, uint32_t partition_count,
                   uint32_t replica_count, int timeout_ms)
{
    return geokv_create_app(c, name, partition_count, replica_count, timeout_ms, NULL);
}

int
geokv_create_follower_app(struct geokv_client *c, const struct msg_create_app_req *m,
                          int timeout_ms, struct msg_app_config *out)
{
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    if (m->master.cluster[0] == '\0')
        return ERR_INVALID_ARG;
    msg_create_app_req_encode(&req, m);
    err = client_meta_call(c, RPC_CREATE_APP, &req, timeout_ms, true, &reply);
    if (err == 0 && msg_app_config_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* A request whose body is just an app name; reply appended to reply. */
static int
app_name_call(struct geokv_client *c, uint32_t code, const char *name, int timeout_ms,
              bool retry_timeouts, struct buf *reply)
{
    struct msg_app_name m;
    struct buf req = BUF_INIT;
    int err;

    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(m.name))
        return ERR_INVALID_ARG;
    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "%s", name);
    msg_app_name_encode(&req, &m);
    err = client_meta_call(c, code, &req, timeout_ms, retry_timeouts, reply);
    buf_fini(&req);
    return err;
}

int
geokv_drop_table(struct geokv_client *c, const char *name, int timeout_ms)
{
    return app_name_call(c, RPC_DROP_APP, name, timeout_ms, false, NULL);
}

int
geokv_set_table_writes(struct geokv_client *c, const char *name, bool deny, int timeout_ms)
{
    struct msg_app_writes_req m = {.deny = deny};
    struct buf req = BUF_INIT;
    int err;

    if (name == NULL || name[0] == '\0' || strlen(name) >= sizeof(m.app))
        return ERR_INVALID_ARG;
    snprintf(m.app, sizeof(m.app), "%s", name);
    msg_app_writes_req_encode(&req, &m);
    err = client_meta_call(c, RPC_APP_WRITES, &req, timeout_ms, true, NULL);
    buf_fini(&req);
    return err;
}

int
geokv_query_config(struct geokv_client *c, const char *name, int timeout_ms,
                   struct msg_app_config *out)
{
    struct buf reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    err = app_name_call(c, RPC_QUERY_CONFIG, name, timeout_ms, true, &reply);
    if (err == 0 && msg_app_config_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&reply);
    return err;
}

int
geokv_list_tables(struct geokv_client *c, int timeout_ms, struct geokv_table_info **out, size_t *n)
{
    struct buf req = BUF_INIT, reply = BUF_INIT;
    struct msg_list_apps_resp m;
    int err;

    *out = NULL;
    *n = 0;
    err = client_meta_call(c, RPC_LIST_APPS, &req, timeout_ms, true, &reply);
    if (err == 0 && msg_list_apps_resp_decode(reply.data, reply.len, &m) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&reply);
    if (err != 0)
        return err;
    *out = xcalloc(m.napps + 1, sizeof(**out));
    for (uint32_t i = 0; i < m.napps; i++) {
        struct geokv_table_info *t = &(*out)[i];
        t->id = m.apps[i].app_id;
        snprintf(t->name, sizeof(t->name), "%s", m.apps[i].name);
        snprintf(t->status, sizeof(t->status), "%s", app_status_name(m.apps[i].status));
        t->partition_count = m.apps[i].partition_count;
        t->replica_count = m.apps[i].replica_count;
        t->create_time_s = m.apps[i].create_ts;
    }
    *n = m.napps;
    msg_list_apps_resp_fini(&m);
    return 0;
}

int
geokv_list_nodes(struct geokv_client *c, int timeout_ms, struct msg_list_nodes_resp *out)
{
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    err = client_meta_call(c, RPC_LIST_NODES, &req, timeout_ms, true, &reply);
    if (err == 0 && msg_list_nodes_resp_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&reply);
    return err;
}

/* Asks one meta who leads: its redirect, or its own list_nodes reply. */
static int
leader_ask(struct geokv_client *c, const char *meta, int timeout_ms, char leader[GEOKV_ADDR_MAX])
{
    struct buf reply = BUF_INIT;
    int err = rpc_call(c->rpc, meta, RPC_LIST_NODES, 0, 0, NULL, 0, timeout_ms, &reply);

    if (err == ERR_FORWARD_TO_LEADER) {
        struct msg_redirect r;
        err = msg_redirect_decode(reply.data, reply.len, &r) != 0 ? ERR_INVALID_DATA
              : r.leader[0] == '\0'                               ? ERR_NO_LEADER
                                                                  : 0;
        if (err == 0)
            memcpy(leader, r.leader, GEOKV_ADDR_MAX);
    } else if (err == 0) {
        struct msg_list_nodes_resp m;
        err = msg_list_nodes_resp_decode(reply.data, reply.len, &m) != 0 ? ERR_INVALID_DATA : 0;
        if (err == 0) {
            snprintf(leader, GEOKV_ADDR_MAX, "%s", m.leader[0] != '\0' ? m.leader : meta);
            msg_list_nodes_resp_fini(&m);
        }
    }
    buf_fini(&reply);
    return err;
}

int
geokv_leader(struct geokv_client *c, const char *meta, int timeout_ms, char leader[GEOKV_ADDR_MAX])
{
    int err = ERR_INVALID_ARG;

    leader[0] = '\0';
    if (meta != NULL)
        return leader_ask(c, meta, timeout_ms, leader);
    for (int i = 0; i < c->nmetas; i++) {
        int share = timeout_ms / (c->nmetas - i);
        int64_t start = clock_mono_ms();
        err = leader_ask(c, c->metas[i], share > 0 ? share : 1, leader);
        if (err == 0)
            break;
        timeout_ms -= (int)(clock_mono_ms() - start);
        if (timeout_ms <= 0)
            break;
    }
    return err;
}

int
geokv_replica_digest(struct geokv_client *c, const char *addr, uint64_t gpid, int timeout_ms,
                     struct msg_digest_resp *out)
{
    struct buf reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    err = rpc_call(c->rpc, addr, RPC_DIGEST, gpid, 0, NULL, 0, timeout_ms, &reply);
    if (err == 0 && msg_digest_resp_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&reply);
    return err;
}

int
geokv_replica_verify(struct geokv_client *c, const char *addr, uint64_t gpid,
                     const struct msg_verify_req *req, int timeout_ms, struct msg_verify_resp *out,
                     struct unpacked **zone)
{
    struct buf body = BUF_INIT, reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    *zone = NULL;
    msg_verify_req_encode(&body, req);
    err = rpc_call(c->rpc, addr, RPC_VERIFY, gpid, 0, body.data, body.len, timeout_ms, &reply);
    if (err == 0 && msg_verify_resp_decode(reply.data, reply.len, out, zone) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&body);
    buf_fini(&reply);
    return err;
}

int
geokv_replica_partition_info(struct geokv_client *c, const char *addr, uint64_t gpid,
                             int timeout_ms, struct msg_partition_info_resp *out)
{
    struct buf reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    err = rpc_call(c->rpc, addr, RPC_PARTITION_INFO, gpid, 0, NULL, 0, timeout_ms, &reply);
    if (err == 0 && msg_partition_info_resp_decode(reply.data, reply.len, out) != 0)
        err = ERR_INVALID_DATA;
    buf_fini(&reply);
    return err;
}

int
geokv_replica_compact(struct geokv_client *c, const char *addr, uint64_t gpid, int timeout_ms)
{
    struct buf reply = BUF_INIT;
    int err = rpc_call(c->rpc, addr, RPC_COMPACT, gpid, 0, NULL, 0, timeout_ms, &reply);
    buf_fini(&reply);
    return err;
}

size_t
geokv_client_meta_count(const struct geokv_client *c)
{
    return (size_t)c->nmetas;
}

const char *
geokv_client_meta_addr(const struct geokv_client *c, size_t i)
{
    return i < (size_t)c->nmetas ? c->metas[i] : NULL;
}

int
geokv_server_config(struct geokv_client *c, const char *addr, const char *key, const char *value,
                    int timeout_ms, struct msg_server_config *out)
{
    struct msg_server_config m;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int err;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    if (strlen(key) >= sizeof(m.key) || strlen(value) >= sizeof(m.value))
        return ERR_INVALID_ARG;
    snprintf(m.key, sizeof(m.key), "%s", key);
    snprintf(m.value, sizeof(m.value), "%s", value);
    msg_server_config_encode(&req, &m);
    err = rpc_call(c->rpc, addr, RPC_SERVER_CONFIG, 0, 0, req.data, req.len, timeout_ms, &reply);
    /* an error reply may carry the server's reason in out->value */
    if (reply.len > 0 && msg_server_config_decode(reply.data, reply.len, out) != 0) {
        memset(out, 0, sizeof(*out));
        err = err != 0 ? err : ERR_INVALID_DATA;
    }
    buf_fini(&req);
    buf_fini(&reply);
    return err;
}

/* ---- geokv.h's helpers ---- */

/* geokv.h and geokv_admin.h state the codes and enums they share with the wire: they must not
 * drift. */
#define SAME(pub, internal) _Static_assert((int)(pub) == (int)(internal), #pub " != " #internal)
SAME(GEOKV_ERR_INVALID_ARG, ERR_INVALID_ARG);
SAME(GEOKV_ERR_TOO_LARGE, ERR_TOO_LARGE);
SAME(GEOKV_ERR_NOT_FOUND, ERR_NOT_FOUND);
SAME(GEOKV_ERR_APP_NOT_FOUND, ERR_APP_NOT_FOUND);
SAME(GEOKV_ERR_APP_EXISTS, ERR_APP_EXISTS);
SAME(GEOKV_ERR_INVALID_STATE, ERR_INVALID_STATE);
SAME(GEOKV_ERR_NO_NODES, ERR_NO_NODES);
SAME(GEOKV_ERR_APP_UNAVAILABLE, ERR_APP_UNAVAILABLE);
SAME(GEOKV_ERR_NO_LEADER, ERR_NO_LEADER);
SAME(GEOKV_ERR_TIMEOUT, ERR_TIMEOUT);
SAME(GEOKV_ERR_NETWORK, ERR_NETWORK);
SAME(GEOKV_ERR_BUSY, ERR_BUSY);
SAME(GEOKV_ERR_CHECK_FAILED, ERR_CHECK_FAILED);
SAME(GEOKV_ERR_NOT_A_NUMBER, ERR_NOT_A_NUMBER);
SAME(GEOKV_ERR_SHUTDOWN, ERR_SHUTDOWN);
SAME(GEOKV_ERR_CONFIG, ERR_CONFIG);
SAME(GEOKV_ERR_OVERFLOW, ERR_OVERFLOW);
SAME(GEOKV_ERR_UNCERTAIN, ERR_UNCERTAIN);
SAME(GEOKV_ERR_DISK_FULL, ERR_DISK_FULL);
SAME(GEOKV_ERR_AUTH, ERR_AUTH);
SAME(GEOKV_CHECK_NOT_EXIST, CAS_NOT_EXIST);
SAME(GEOKV_CHECK_EXIST, CAS_EXIST);
SAME(GEOKV_CHECK_VALUE_EQUAL, CAS_VALUE_EQUAL);
SAME(GEOKV_DUP_PAUSE, DUP_OP_PAUSE);
SAME(GEOKV_DUP_START, DUP_OP_START);
SAME(GEOKV_DUP_REMOVE, DUP_OP_REMOVE);
SAME(GEOKV_DUP_FAIL_MODE, DUP_OP_FAIL_MODE);
SAME(GEOKV_DUP_FAIL_SLOW, FAIL_SLOW);
SAME(GEOKV_DUP_FAIL_SKIP, FAIL_SKIP);
#undef SAME

const char *
geokv_strerror(int err)
{
    return err_str(err);
}

struct geokv_bytes
geokv_str(const char *s)
{
    return geokv_bytes(s, strlen(s));
}
