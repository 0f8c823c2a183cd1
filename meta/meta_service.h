#pragma once
/*
 * meta_service: the geokv-meta server process minus main(): the meta loop, the RPC server,
 * leader election and the leader's state. See meta_service.c for the threads and the flow.
 */
#include <stdint.h>

#include "common/err.h"
#include "meta/meta_dup.h"
#include "meta/meta_store.h"
#include "proto/types.h"

struct config;
struct meta_service;

#define META_PATH_MAX 512

struct meta_options {
    char address[GEOKV_ADDR_MAX]; /* RPC address (host:port), also the election data */
    char cluster_name[128];
    char cluster_path[META_PATH_MAX]; /* <zookeeper.root>/<cluster.name> */
    char zk_hosts[1024];
    int64_t session_timeout_ms;     /* [zookeeper] session_timeout_ms, default 4000 */
    int64_t node_grace_ms;          /* [meta_server] node_grace_ms, default 10000 */
    int64_t lease_ms;               /* [meta_server] lease_ms, default 4/5 of node_grace_ms */
    int64_t create_timeout_ms;      /* [meta_server] create_timeout_ms, default 30000 */
    int64_t add_secondary_delay_ms; /* [meta_server] add_secondary_delay_ms, default 20000 */
    int64_t learner_timeout_ms;     /* [meta_server] learner_timeout_ms, default 600000 */
    int64_t balancer_interval_ms;   /* [meta_server] balancer_interval_ms, default 10000 */
    struct meta_dup_options dup;    /* [replication] duplication_enabled, [pegasus.clusters],
                                     * [duplication-group] */
};

/* Reads [cluster], [zookeeper], [meta_server] and the duplication sections (see meta_options.c for keys and defaults).
 * ERR_CONFIG with a message in errbuf on a missing or bad value. */
MUST_CHECK int meta_options_load(const struct config *cfg, const char *address,
                                 struct meta_options *opt, char *errbuf, size_t errlen);

/* Creates the service and its (not yet started) loop. */
struct meta_service *meta_service_create(const struct meta_options *opt);
/* The store event callback: pass it with the service as arg when opening the store. Any
 * thread; it only posts to the meta loop. */
void meta_service_on_store_event(void *arg, enum meta_store_event ev, const char *path);
/* Takes ownership of store, binds the RPC address, starts the loop and joins the election.
 * ERR_NETWORK if the address cannot be bound (the store is then closed). */
MUST_CHECK int meta_service_start(struct meta_service *svc, struct meta_store *store);
/* Answers what is pending with ERR_SHUTDOWN, stops the RPC server and the loop, closes the
 * store (so the election node goes at once) and frees everything. Not on the meta loop. */
void meta_service_destroy(struct meta_service *svc);
