/*
 * meta_leader.c: ZooKeeper-style leader election (lowest ephemeral sequential node wins).
 *
 * Every check lists <cluster_path>/leader with a child watch, so all metas re-check on every
 * change of the list (a handful of metas: the herd is tiny, and this also keeps followers'
 * idea of the leader address fresh for redirects). Once leader, always leader: the lowest
 * node can only stop being ours when our session ends, which the meta treats as fatal.
 *
 * Threads: the meta loop only.
 */
#include "meta/meta_leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "meta/meta_store.h"
#include "proto/types.h"

#define LEADER_PREFIX "n_"
#define LEADER_PATH_MAX 512

struct meta_leader {
    struct meta_store *store;
    char dir[LEADER_PATH_MAX];  /* <cluster_path>/leader */
    char node[LEADER_PATH_MAX]; /* our election node's full path */
    const char *node_name;      /* its last component (points into node) */
    char address[GEOKV_ADDR_MAX];
    char leader_addr[GEOKV_ADDR_MAX];
    bool is_leader;
};

struct meta_leader *
meta_leader_create(struct meta_store *store, const char *cluster_path, const char *address)
{
    struct meta_leader *l = xcalloc(1, sizeof(*l));
    l->store = store;
    snprintf(l->dir, sizeof(l->dir), "%s/leader", cluster_path);
    snprintf(l->address, sizeof(l->address), "%s", address);
    l->node_name = "";
    return l;
}

void
meta_leader_destroy(struct meta_leader *l)
{
    xfree(l);
}

/*
 * Deletes election nodes holding our address: the caller has bound that address, so they
 * were left by a dead earlier run of this meta (kill -9 and restart within the session
 * timeout) or by our own create whose reply was lost. Without this a restarted meta could
 * follow its own ghost until the old session expires.
 */
static int
remove_stale_nodes(struct meta_leader *l)
{
    struct meta_store_names names = {0, NULL};
    char path[LEADER_PATH_MAX * 2];
    struct buf b = BUF_INIT;
    int rc;

    rc = meta_store_children(l->store, l->dir, false, &names);
    for (uint32_t i = 0; i < names.n && rc == 0; i++) {
        snprintf(path, sizeof(path), "%s/%s", l->dir, names.names[i]);
        buf_reset(&b);
        rc = meta_store_get(l->store, path, &b);
        if (rc == ERR_NOT_FOUND) {
            rc = 0;
            continue;
        }
        if (rc != 0 || b.len != strlen(l->address) || memcmp(b.data, l->address, b.len) != 0)
            continue;
        LOG_INFO("removing stale election node %s left by an earlier run at %s", path, l->address);
        rc = meta_store_delete(l->store, path);
        if (rc == ERR_NOT_FOUND)
            rc = 0;
    }
    buf_fini(&b);
    meta_store_names_fini(&names);
    return rc;
}

int
meta_leader_join(struct meta_leader *l)
{
    char prefix[LEADER_PATH_MAX + 8];
    bool became;
    int rc;

    rc = meta_store_mkdirs(l->store, l->dir);
    if (rc == 0)
        rc = remove_stale_nodes(l);
    if (rc != 0)
        return rc;
    snprintf(prefix, sizeof(prefix), "%s/" LEADER_PREFIX, l->dir);
    rc = meta_store_create(l->store, prefix, l->address, strlen(l->address),
                           META_STORE_EPHEMERAL | META_STORE_SEQUENTIAL, l->node, sizeof(l->node));
    if (rc != 0)
        return rc;
    l->node_name = strrchr(l->node, '/') + 1;
    LOG_INFO("joined the meta election as %s", l->node);
    return meta_leader_check(l, &became);
}

/* The sequence number of an election node name, or -1 if it is not one. */
static long long
node_seq(const char *name)
{
    char *end;
    long long v;

    if (strncmp(name, LEADER_PREFIX, strlen(LEADER_PREFIX)) != 0)
        return -1;
    name += strlen(LEADER_PREFIX);
    if (*name < '0' || *name > '9')
        return -1;
    v = strtoll(name, &end, 10);
    return *end == '\0' ? v : -1;
}

/* Reads the leader's address from its node; "" if it vanished meanwhile. */
static int
read_leader_addr(struct meta_leader *l, const char *name)
{
    char path[LEADER_PATH_MAX * 2];
    struct buf b = BUF_INIT;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", l->dir, name);
    rc = meta_store_get(l->store, path, &b);
    l->leader_addr[0] = '\0';
    if (rc == 0 && b.len < sizeof(l->leader_addr)) {
        memcpy(l->leader_addr, b.data, b.len);
        l->leader_addr[b.len] = '\0';
    }
    buf_fini(&b);
    return rc == ERR_NOT_FOUND ? 0 : rc; /* the watch will fire: check again then */
}

int
meta_leader_check(struct meta_leader *l, bool *became_leaderp)
{
    struct meta_store_names names = {0, NULL};
    const char *lowest = NULL;
    long long lowest_seq = -1;
    bool mine = false;
    int rc;

    *became_leaderp = false;
    rc = meta_store_children(l->store, l->dir, true, &names);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < names.n; i++) {
        long long seq = node_seq(names.names[i]);
        if (seq < 0)
            continue;
        if (strcmp(names.names[i], l->node_name) == 0)
            mine = true;
        if (lowest == NULL || seq < lowest_seq) {
            lowest = names.names[i];
            lowest_seq = seq;
        }
    }
    if (!mine) {
        rc = ERR_INVALID_STATE;
    } else if (strcmp(lowest, l->node_name) == 0) {
        snprintf(l->leader_addr, sizeof(l->leader_addr), "%s", l->address);
        *became_leaderp = !l->is_leader;
        l->is_leader = true;
    } else if (l->is_leader) {
        /* A leader's node stays lowest until its session ends; someone else wrote one. */
        LOG_ERROR("election node %s/%s is below ours (%s) while we lead", l->dir, lowest,
                  l->node_name);
        rc = ERR_INVALID_STATE;
    } else {
        rc = read_leader_addr(l, lowest);
    }
    meta_store_names_fini(&names);
    return rc;
}

bool
meta_leader_is_leader(const struct meta_leader *l)
{
    return l->is_leader;
}

const char *
meta_leader_address(const struct meta_leader *l)
{
    return l->leader_addr;
}

const char *
meta_leader_node(const struct meta_leader *l)
{
    return l->node;
}
