#pragma once
/*
 * meta_store: the seam between the meta server and its coordination service.
 * The tree is ZooKeeper's: absolute slash-separated paths, each node holding a small blob and
 * any number of children; ephemeral nodes vanish with the session that made them; sequential
 * nodes get a 10-digit counter appended by the parent.
 *
 * Backends: meta_store_zk.c (libzookeeper_mt, the product and integration tests) and
 * meta_store_mem.c (an in-memory twin for unit tests; several stores may share one tree, each
 * store playing one session).
 *
 * Threads: every operation is synchronous and is called from one thread (the meta loop).
 * The event callback, however, runs on a foreign thread (ZooKeeper's) and must only copy what
 * it needs and post to the owner's loop; it must never touch meta state.
 *
 * Error codes: 0, ERR_NOT_FOUND (no such node, or missing parent on create), -EEXIST (node
 * exists), -ENOTEMPTY (delete of a node with children), ERR_INVALID_ARG (bad path), ERR_ZK
 * (anything else: connection loss, timeout, expired session).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct meta_store;

/* Create flags. */
#define META_STORE_EPHEMERAL 1u
#define META_STORE_SEQUENTIAL 2u

/* Events delivered to the owner. */
enum meta_store_event {
    META_STORE_EV_WATCH = 1,        /* a watched node or child list changed; path names it */
    META_STORE_EV_CONNECTED = 2,    /* session (re)connected */
    META_STORE_EV_DISCONNECTED = 3, /* connection lost; the session may still be alive */
    META_STORE_EV_EXPIRED = 4,      /* session expired: ephemeral nodes are gone */
};

/* Runs on a foreign thread (ZooKeeper's) or, for the mem backend, inside the operation that
 * triggered it. path is borrowed for the call only. */
typedef void meta_store_event_fn(void *arg, enum meta_store_event ev, const char *path);

/* A list of child names (not paths). Free with meta_store_names_fini. */
struct meta_store_names {
    uint32_t n;
    char **names;
};
void meta_store_names_fini(struct meta_store_names *names);

struct meta_store_ops {
    /* Creates path with data. With META_STORE_SEQUENTIAL the created path (with its counter)
     * is written to created (may be NULL). */
    int (*create)(struct meta_store *s, const char *path, const void *data, size_t len,
                  unsigned flags, char *created, size_t created_len);
    int (*set)(struct meta_store *s, const char *path, const void *data, size_t len);
    /* Appends the node's data to out. */
    int (*get)(struct meta_store *s, const char *path, struct buf *out);
    int (*del)(struct meta_store *s, const char *path);
    /* Lists child names (unsorted); with watch, the next change of the list (or the node's
     * deletion) is reported once as META_STORE_EV_WATCH. */
    int (*children)(struct meta_store *s, const char *path, bool watch,
                    struct meta_store_names *out);
    /* *existsp = whether the node exists; with watch, its next creation, change or deletion
     * is reported once. */
    int (*exists)(struct meta_store *s, const char *path, bool watch, bool *existsp);
    /* Closes the session (ephemeral nodes go) and frees the store. */
    void (*destroy)(struct meta_store *s);
};

/* Every backend's handle starts with this. */
struct meta_store {
    const struct meta_store_ops *ops;
};

static inline MUST_CHECK int
meta_store_create(struct meta_store *s, const char *path, const void *data, size_t len,
                  unsigned flags, char *created, size_t created_len)
{
    return s->ops->create(s, path, data, len, flags, created, created_len);
}
static inline MUST_CHECK int
meta_store_set(struct meta_store *s, const char *path, const void *data, size_t len)
{
    return s->ops->set(s, path, data, len);
}
static inline MUST_CHECK int
meta_store_get(struct meta_store *s, const char *path, struct buf *out)
{
    return s->ops->get(s, path, out);
}
static inline MUST_CHECK int
meta_store_delete(struct meta_store *s, const char *path)
{
    return s->ops->del(s, path);
}
static inline MUST_CHECK int
meta_store_children(struct meta_store *s, const char *path, bool watch,
                    struct meta_store_names *out)
{
    return s->ops->children(s, path, watch, out);
}
static inline MUST_CHECK int
meta_store_exists(struct meta_store *s, const char *path, bool watch, bool *existsp)
{
    return s->ops->exists(s, path, watch, existsp);
}
static inline void
meta_store_destroy(struct meta_store *s)
{
    if (s != NULL)
        s->ops->destroy(s);
}

/* Creates path and every missing ancestor as empty persistent nodes (existing ones are fine). */
MUST_CHECK int meta_store_mkdirs(struct meta_store *s, const char *path);

/* ---- ZooKeeper backend (meta_store_zk.c) ---- */

/*
 * Connects to hosts ("h1:p1,h2:p2") and waits up to connect_timeout_ms for the session.
 * ev(arg, ...) receives watch and session events on ZooKeeper's thread. ERR_ZK if the
 * session could not be established. *out is set to NULL on entry.
 */
MUST_CHECK int meta_store_zk_open(const char *hosts, int session_timeout_ms, int connect_timeout_ms,
                                  meta_store_event_fn *ev, void *arg, struct meta_store **out);

/* ---- in-memory backend (meta_store_mem.c) ---- */

/* A tree shared by several mem stores (sessions). Destroy it after all its stores. */
struct meta_mem_tree;
struct meta_mem_tree *meta_mem_tree_create(void);
void meta_mem_tree_destroy(struct meta_mem_tree *t);
/* Opens a session on t. ev may be NULL; it is called synchronously from the operation that
 * fired the watch (on whichever store made the change). */
struct meta_store *meta_store_mem_open(struct meta_mem_tree *t, meta_store_event_fn *ev, void *arg);
/* Simulates session expiry: drops the session's ephemeral nodes (firing watches), reports
 * META_STORE_EV_EXPIRED to its owner and makes every later call on s fail with ERR_ZK. */
void meta_store_mem_expire(struct meta_store *s);
