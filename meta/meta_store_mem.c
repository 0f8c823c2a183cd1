/*
 * meta_store_mem.c: the in-memory twin of the ZooKeeper backend, for unit tests.
 *
 * One meta_mem_tree holds the nodes (a flat array of full paths; the root "/" exists
 * implicitly); each meta_store opened on it is one session, owning its ephemeral nodes and
 * its one-shot watches. It follows ZooKeeper's semantics where the meta relies on them:
 * create needs the parent, delete refuses a node with children, sequential names get a
 * 10-digit per-parent counter, ephemeral nodes vanish when their session closes or expires,
 * watches fire once.
 *
 * Threads: not thread-safe; every session of a tree is used from one thread. Watch events are
 * delivered synchronously, after the change, from inside the call that made it.
 */
#include "meta/meta_store.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/xmalloc.h"

struct mem_session;

struct mem_node {
    char *path;
    struct buf data;
    struct mem_session *owner; /* non-NULL for an ephemeral node */
    uint32_t next_seq;
};

enum mem_watch_kind { MEM_WATCH_NODE, MEM_WATCH_CHILDREN };

struct mem_watch {
    struct mem_session *session;
    char *path;
    enum mem_watch_kind kind;
};

struct meta_mem_tree {
    struct mem_node *nodes;
    size_t nnodes;
    uint32_t root_seq;
    struct mem_watch *watches;
    size_t nwatches;
};

struct mem_session {
    struct meta_store base;
    struct meta_mem_tree *tree;
    meta_store_event_fn *ev;
    void *arg;
    bool expired;
};

static bool
path_valid(const char *p)
{
    size_t n = strlen(p);
    if (n < 2 || p[0] != '/' || p[n - 1] == '/')
        return false;
    return strstr(p, "//") == NULL;
}

/* Length of the parent's path ("/" has length 1). */
static size_t
parent_len(const char *p)
{
    const char *slash = strrchr(p, '/');
    return slash == p ? 1 : (size_t)(slash - p);
}

static bool
is_child_of(const char *child, const char *parent)
{
    size_t plen = strlen(parent);
    if (strcmp(child, "/") == 0 || parent_len(child) != plen)
        return false;
    return plen == 1 ? true : strncmp(child, parent, plen) == 0;
}

static struct mem_node *
node_find(struct meta_mem_tree *t, const char *path)
{
    for (size_t i = 0; i < t->nnodes; i++)
        if (strcmp(t->nodes[i].path, path) == 0)
            return &t->nodes[i];
    return NULL;
}

static bool
has_children(struct meta_mem_tree *t, const char *path)
{
    for (size_t i = 0; i < t->nnodes; i++)
        if (is_child_of(t->nodes[i].path, path))
            return true;
    return false;
}

static void
watch_add(struct mem_session *s, const char *path, enum mem_watch_kind kind)
{
    struct meta_mem_tree *t = s->tree;
    t->watches = xrealloc(t->watches, (t->nwatches + 1) * sizeof(*t->watches));
    t->watches[t->nwatches++] = (struct mem_watch){s, xstrdup(path), kind};
}

/* Fires (and removes) every watch of this kind on path. The matching watches are taken off
 * the list before any callback runs, so a callback may set new watches (they fire next time). */
static void
watch_fire(struct meta_mem_tree *t, const char *path, enum mem_watch_kind kind)
{
    struct mem_watch *fired = NULL;
    size_t nfired = 0;

    for (size_t i = 0; i < t->nwatches;) {
        if (t->watches[i].kind != kind || strcmp(t->watches[i].path, path) != 0) {
            i++;
            continue;
        }
        fired = xrealloc(fired, (nfired + 1) * sizeof(*fired));
        fired[nfired++] = t->watches[i];
        t->watches[i] = t->watches[--t->nwatches];
    }
    for (size_t i = 0; i < nfired; i++) {
        struct mem_session *s = fired[i].session;
        if (s->ev != NULL && !s->expired)
            s->ev(s->arg, META_STORE_EV_WATCH, fired[i].path);
        xfree(fired[i].path);
    }
    xfree(fired);
}

/* Fires the watches of the parent's child list. */
static void
watch_fire_parent(struct meta_mem_tree *t, const char *path)
{
    char parent[512];
    size_t plen = parent_len(path);
    if (plen >= sizeof(parent))
        return;
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    watch_fire(t, parent, MEM_WATCH_CHILDREN);
}

/* Makes the full path of a new node (with its sequence counter if asked). */
static int
new_node_path(struct meta_mem_tree *t, const char *path, unsigned flags, char **outp)
{
    char parent[512];
    size_t plen = parent_len(path);
    uint32_t *seq;
    size_t n;

    *outp = NULL;
    if (plen >= sizeof(parent))
        return ERR_INVALID_ARG;
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    if (plen == 1) {
        seq = &t->root_seq;
    } else {
        struct mem_node *pn = node_find(t, parent);
        if (pn == NULL)
            return ERR_NOT_FOUND;
        seq = &pn->next_seq;
    }
    n = strlen(path) + 11;
    *outp = xmalloc(n);
    if (flags & META_STORE_SEQUENTIAL)
        snprintf(*outp, n, "%s%010u", path, (*seq)++);
    else
        snprintf(*outp, n, "%s", path);
    return 0;
}

static int
mem_create(struct meta_store *st, const char *path, const void *data, size_t len, unsigned flags,
           char *created, size_t created_len)
{
    struct mem_session *s = (struct mem_session *)st;
    struct meta_mem_tree *t = s->tree;
    struct mem_node *n;
    char *full;
    int rc;

    if (s->expired)
        return ERR_ZK;
    if (!path_valid(path))
        return ERR_INVALID_ARG;
    rc = new_node_path(t, path, flags, &full);
    if (rc != 0)
        return rc;
    if (node_find(t, full) != NULL) {
        xfree(full);
        return -EEXIST;
    }
    t->nodes = xrealloc(t->nodes, (t->nnodes + 1) * sizeof(*t->nodes));
    n = &t->nodes[t->nnodes++];
    *n = (struct mem_node){.path = full, .data = BUF_INIT};
    n->owner = (flags & META_STORE_EPHEMERAL) ? s : NULL;
    buf_append(&n->data, data, len);
    if (created != NULL && created_len > 0)
        snprintf(created, created_len, "%s", full);
    watch_fire(t, full, MEM_WATCH_NODE);
    watch_fire_parent(t, full);
    return 0;
}

static int
mem_set(struct meta_store *st, const char *path, const void *data, size_t len)
{
    struct mem_session *s = (struct mem_session *)st;
    struct mem_node *n;

    if (s->expired)
        return ERR_ZK;
    n = node_find(s->tree, path);
    if (n == NULL)
        return ERR_NOT_FOUND;
    buf_reset(&n->data);
    buf_append(&n->data, data, len);
    watch_fire(s->tree, path, MEM_WATCH_NODE);
    return 0;
}

static int
mem_get(struct meta_store *st, const char *path, struct buf *out)
{
    struct mem_session *s = (struct mem_session *)st;
    struct mem_node *n;

    if (s->expired)
        return ERR_ZK;
    n = node_find(s->tree, path);
    if (n == NULL)
        return ERR_NOT_FOUND;
    buf_append(out, n->data.data, n->data.len);
    return 0;
}

/* Removes node i from the tree and fires the watches a deletion fires in ZooKeeper. */
static void
node_remove(struct meta_mem_tree *t, size_t i)
{
    char *path = t->nodes[i].path;
    buf_fini(&t->nodes[i].data);
    t->nodes[i] = t->nodes[--t->nnodes];
    watch_fire(t, path, MEM_WATCH_NODE);
    watch_fire(t, path, MEM_WATCH_CHILDREN);
    watch_fire_parent(t, path);
    xfree(path);
}

static int
mem_del(struct meta_store *st, const char *path)
{
    struct mem_session *s = (struct mem_session *)st;
    struct meta_mem_tree *t = s->tree;

    if (s->expired)
        return ERR_ZK;
    for (size_t i = 0; i < t->nnodes; i++) {
        if (strcmp(t->nodes[i].path, path) != 0)
            continue;
        if (has_children(t, path))
            return -ENOTEMPTY;
        node_remove(t, i);
        return 0;
    }
    return ERR_NOT_FOUND;
}

static int
mem_children(struct meta_store *st, const char *path, bool watch, struct meta_store_names *out)
{
    struct mem_session *s = (struct mem_session *)st;
    struct meta_mem_tree *t = s->tree;
    size_t plen = strlen(path);

    out->n = 0;
    out->names = NULL;
    if (s->expired)
        return ERR_ZK;
    if (strcmp(path, "/") != 0 && node_find(t, path) == NULL)
        return ERR_NOT_FOUND;
    for (size_t i = 0; i < t->nnodes; i++) {
        if (!is_child_of(t->nodes[i].path, path))
            continue;
        out->names = xrealloc(out->names, (out->n + 1) * sizeof(char *));
        out->names[out->n++] = xstrdup(t->nodes[i].path + (plen == 1 ? 1 : plen + 1));
    }
    if (watch)
        watch_add(s, path, MEM_WATCH_CHILDREN);
    return 0;
}

static int
mem_exists(struct meta_store *st, const char *path, bool watch, bool *existsp)
{
    struct mem_session *s = (struct mem_session *)st;

    *existsp = false;
    if (s->expired)
        return ERR_ZK;
    *existsp = node_find(s->tree, path) != NULL;
    if (watch)
        watch_add(s, path, MEM_WATCH_NODE);
    return 0;
}

/* Drops the session's ephemeral nodes and watches (as ZooKeeper does when it closes). */
static void
session_end(struct mem_session *s)
{
    struct meta_mem_tree *t = s->tree;

    for (size_t i = 0; i < t->nwatches;) {
        if (t->watches[i].session == s) {
            xfree(t->watches[i].path);
            t->watches[i] = t->watches[--t->nwatches];
        } else {
            i++;
        }
    }
    for (size_t i = 0; i < t->nnodes;) {
        if (t->nodes[i].owner == s)
            node_remove(t, i);
        else
            i++;
    }
}

static void
mem_destroy(struct meta_store *st)
{
    struct mem_session *s = (struct mem_session *)st;
    if (!s->expired)
        session_end(s);
    xfree(s);
}

static const struct meta_store_ops mem_ops = {
    .create = mem_create,
    .set = mem_set,
    .get = mem_get,
    .del = mem_del,
    .children = mem_children,
    .exists = mem_exists,
    .destroy = mem_destroy,
};

struct meta_mem_tree *
meta_mem_tree_create(void)
{
    return xcalloc(1, sizeof(struct meta_mem_tree));
}

void
meta_mem_tree_destroy(struct meta_mem_tree *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nnodes; i++) {
        xfree(t->nodes[i].path);
        buf_fini(&t->nodes[i].data);
    }
    for (size_t i = 0; i < t->nwatches; i++)
        xfree(t->watches[i].path);
    xfree(t->nodes);
    xfree(t->watches);
    xfree(t);
}

struct meta_store *
meta_store_mem_open(struct meta_mem_tree *t, meta_store_event_fn *ev, void *arg)
{
    struct mem_session *s = xcalloc(1, sizeof(*s));
    s->base.ops = &mem_ops;
    s->tree = t;
    s->ev = ev;
    s->arg = arg;
    return &s->base;
}

void
meta_store_mem_expire(struct meta_store *st)
{
    struct mem_session *s = (struct mem_session *)st;
    if (s->expired)
        return;
    session_end(s);
    s->expired = true;
    if (s->ev != NULL)
        s->ev(s->arg, META_STORE_EV_EXPIRED, "");
}
