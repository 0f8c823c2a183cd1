/*
 * meta_store_zk.c: the ZooKeeper backend of meta_store, on libzookeeper_mt.
 *
 * Operations use the synchronous zoo_* calls from the owner's thread (the meta loop): meta
 * traffic is a handful of small writes per table operation, so blocking the loop for one
 * ZooKeeper round trip is simple and cheap. The client library runs two threads of its own
 * (I/O and completion); the global watcher below runs on the completion thread and only
 * forwards the event to the owner's callback, which posts to the meta loop.
 *
 * Session expiry is reported as META_STORE_EV_EXPIRED; the handle is useless after that (every
 * call fails with ERR_ZK) and the meta server exits (see meta_service.c).
 */
#include "meta/meta_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zookeeper.h>

#include "common/log.h"
#include "common/xmalloc.h"

struct zk_store {
    struct meta_store base;
    zhandle_t *zh;
    meta_store_event_fn *ev;
    void *arg;
    pthread_mutex_t mu; /* guards connected; leaf lock, held for no call */
    pthread_cond_t cv;
    bool connected;
};

/* Maps a ZooKeeper return code to ours (meta_store.h lists them). */
static int
zk_err(int zrc, const char *op, const char *path)
{
    switch (zrc) {
    case ZOK: return 0;
    case ZNONODE: return ERR_NOT_FOUND;
    case ZNODEEXISTS: return -EEXIST;
    case ZNOTEMPTY: return -ENOTEMPTY;
    case ZBADARGUMENTS: return ERR_INVALID_ARG;
    default: LOG_DEBUG("zookeeper %s %s: %s", op, path, zerror(zrc)); return ERR_ZK;
    }
}

/* Global watcher; runs on ZooKeeper's completion thread. */
static void
zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct zk_store *z = ctx;

    if (type != ZOO_SESSION_EVENT) {
        z->ev(z->arg, META_STORE_EV_WATCH, path != NULL ? path : "");
        return;
    }
    if (state == ZOO_CONNECTED_STATE) {
        pthread_mutex_lock(&z->mu);
        z->connected = true;
        pthread_cond_broadcast(&z->cv);
        pthread_mutex_unlock(&z->mu);
        z->ev(z->arg, META_STORE_EV_CONNECTED, "");
    } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        z->ev(z->arg, META_STORE_EV_EXPIRED, "");
    } else if (state == ZOO_CONNECTING_STATE) {
        z->ev(z->arg, META_STORE_EV_DISCONNECTED, "");
    }
}

static int
zk_create(struct meta_store *st, const char *path, const void *data, size_t len, unsigned flags,
          char *created, size_t created_len)
{
    struct zk_store *z = (struct zk_store *)st;
    int mode = 0, zrc;

    if (len > (1u << 20))
        return ERR_TOO_LARGE;
    if (flags & META_STORE_EPHEMERAL)
        mode |= ZOO_EPHEMERAL;
    if (flags & META_STORE_SEQUENTIAL)
        mode |= ZOO_SEQUENCE;
    zrc = zoo_create(z->zh, path, data != NULL ? data : NULL, data != NULL ? (int)len : -1,
                     &ZOO_OPEN_ACL_UNSAFE, mode, created, created != NULL ? (int)created_len : 0);
    return zk_err(zrc, "create", path);
}

static int
zk_set(struct meta_store *st, const char *path, const void *data, size_t len)
{
    struct zk_store *z = (struct zk_store *)st;

    if (len > (1u << 20))
        return ERR_TOO_LARGE;
    return zk_err(zoo_set(z->zh, path, data, (int)len, -1), "set", path);
}

static int
zk_get(struct meta_store *st, const char *path, struct buf *out)
{
    struct zk_store *z = (struct zk_store *)st;
    int cap = 4096, zrc;

    for (int attempt = 0; attempt < 3; attempt++) {
        struct Stat stat;
        int len = cap;
        buf_reserve(out, (size_t)cap);
        zrc = zoo_get(z->zh, path, 0, (char *)out->data + out->len, &len, &stat);
        if (zrc != ZOK)
            return zk_err(zrc, "get", path);
        if (stat.dataLength <= cap) {
            out->len += len > 0 ? (size_t)len : 0;
            return 0;
        }
        cap = stat.dataLength; /* the node grew past our buffer: read again */
    }
    return ERR_ZK;
}

static int
zk_del(struct meta_store *st, const char *path)
{
    struct zk_store *z = (struct zk_store *)st;
    return zk_err(zoo_delete(z->zh, path, -1), "delete", path);
}

static int
zk_children(struct meta_store *st, const char *path, bool watch, struct meta_store_names *out)
{
    struct zk_store *z = (struct zk_store *)st;
    struct String_vector sv = {0, NULL};
    int zrc;

    out->n = 0;
    out->names = NULL;
    zrc = zoo_get_children(z->zh, path, watch ? 1 : 0, &sv);
    if (zrc != ZOK)
        return zk_err(zrc, "get_children", path);
    if (sv.count > 0) {
        out->names = xmalloc((size_t)sv.count * sizeof(char *));
        for (int i = 0; i < sv.count; i++)
            out->names[i] = xstrdup(sv.data[i]);
        out->n = (uint32_t)sv.count;
    }
    deallocate_String_vector(&sv);
    return 0;
}

static int
zk_exists(struct meta_store *st, const char *path, bool watch, bool *existsp)
{
    struct zk_store *z = (struct zk_store *)st;
    struct Stat stat;
    int zrc;

    *existsp = false;
    zrc = zoo_exists(z->zh, path, watch ? 1 : 0, &stat);
    if (zrc == ZNONODE)
        return 0;
    *existsp = zrc == ZOK;
    return zk_err(zrc, "exists", path);
}

static void
zk_destroy(struct meta_store *st)
{
    struct zk_store *z = (struct zk_store *)st;
    (void)zookeeper_close(z->zh); /* ends the session: our ephemeral nodes go at once */
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    xfree(z);
}

static const struct meta_store_ops zk_ops = {
    .create = zk_create,
    .set = zk_set,
    .get = zk_get,
    .del = zk_del,
    .children = zk_children,
    .exists = zk_exists,
    .destroy = zk_destroy,
};

/* Waits for the first ZOO_CONNECTED_STATE; false on timeout. */
static bool
wait_connected(struct zk_store *z, int timeout_ms)
{
    struct timespec ts;
    bool ok;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&z->mu);
    while (!z->connected) {
        if (pthread_cond_timedwait(&z->cv, &z->mu, &ts) == ETIMEDOUT)
            break;
    }
    ok = z->connected;
    pthread_mutex_unlock(&z->mu);
    return ok;
}

int
meta_store_zk_open(const char *hosts, int session_timeout_ms, int connect_timeout_ms,
                   meta_store_event_fn *ev, void *arg, struct meta_store **out)
{
    struct zk_store *z = xcalloc(1, sizeof(*z));

    *out = NULL;
    z->base.ops = &zk_ops;
    z->ev = ev;
    z->arg = arg;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    z->zh = zookeeper_init(hosts, zk_watcher, session_timeout_ms, NULL, z, 0);
    if (z->zh == NULL) {
        LOG_ERROR("zookeeper_init(%s) failed: %s", hosts, strerror(errno));
        goto out_free;
    }
    if (!wait_connected(z, connect_timeout_ms)) {
        LOG_ERROR("no ZooKeeper session with %s after %d ms", hosts, connect_timeout_ms);
        (void)zookeeper_close(z->zh);
        goto out_free;
    }
    *out = &z->base;
    return 0;

out_free:
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    xfree(z);
    return ERR_ZK;
}
