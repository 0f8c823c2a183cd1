#pragma once
/*
 * The replica server's internals, shared by stub.c (life cycle, loops, routing, the host of
 * the replicas), stub_beacon.c (beacons, the lease, opening and closing partitions) and
 * stub_dup.c (duplication sync with the meta).
 *
 * Threads: the RPC server thread decodes envelopes and posts each request to the loop that
 * owns its gpid (hash % nloops); only that loop touches the replica. Each loop, before it
 * sleeps, group-commits its dirty replicas and publishes a snapshot (gpid, ballot, decree)
 * that the beacon thread reads under the loop's snapshot mutex. The beacon thread sends the
 * snapshot to the meta leader every beacon_interval_ms and posts open/close/drop tasks to
 * the owning loops from the reply.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "common/config.h"
#include "replica/replica_int.h"
#include "replica/stub.h"

#define MAX_METAS 16

struct stub_loop {
    struct stub *stub;
    struct loop *loop;
    struct replica **reps; /* owned by the loop thread */
    size_t nreps;
    struct replica *dirty;
    pthread_mutex_t snap_mu; /* leaf lock: guards snap and dup_snap only */
    struct replica_report *snap;
    size_t nsnap;
    struct dup_confirm *dup_snap; /* confirmed decrees of the duplications it ships */
    size_t ndup_snap;
    int64_t lease_until_ms; /* its primaries serve only before this (monotonic); loop only */
    /* For /metrics (stub_beacon.c): its partitions' plog bytes and the largest duplication
     * lag of its primaries, from the duplication cron. */
    atomic_int_fast64_t plog_bytes, dup_lag_ms;
};

/* A remote cluster from [pegasus.clusters], with its client created on first use and the
 * tables duplications opened on it (kept until the server stops). */
struct remote_cluster {
    char name[GEOKV_APP_NAME_MAX];
    char metas[512];
    struct geokv_client *client;
    struct dup_remote *tables;
};

struct stub {
    struct config *cfg;
    char address[GEOKV_ADDR_MAX];
    char data_dir[400];
    char metas[MAX_METAS][GEOKV_ADDR_MAX];
    int nmetas;
    atomic_int meta_idx;  /* the meta believed to lead (set by the beacon thread) */
    atomic_bool stopping; /* no new outgoing calls or blocking jobs */
    struct stub_loop *loops;
    int nloops;
    struct rpc_server *server;
    struct rpc_client *client;
    struct loop *beacon;
    struct loop *blocking;    /* slow work (learner copies, remote opens), off the partition
                               * loops */
    struct loop *follow_copy; /* follower tables' copies from their master: hours long, so
                               * they never hold up the work above */
    struct loop *file_serve;  /* serves checkpoint files: never waits behind our own copies */
    int64_t beacon_interval_ms, gc_interval_ms, gc_plog_bytes;
    struct plog_opts plog_opts;
    struct storage_opts storage_opts;
    struct replica_opts replica_opts; /* every partition's settings, and this stub as host */
    struct replica_host host;
    /* duplication */
    bool dup_enabled;
    int64_t dup_sync_ms;
    pthread_mutex_t remote_mu; /* leaf lock: guards remotes[].client creation */
    struct remote_cluster remotes[16];
    int nremotes;
};

/* The loop that owns gpid. */
struct stub_loop *stub_loop_of(struct stub *s, uint64_t gpid);
/* The replica of gpid open on sl (and its index in sl->reps), or NULL. Runs on: sl's loop. */
struct replica *stub_find_replica(struct stub_loop *sl, uint64_t gpid, size_t *idx);
/* Copies the state the beacon reports. Runs on: sl's loop. */
void stub_publish(struct stub_loop *sl);

/* ---- stub_beacon.c ---- */
/* Closes gpid's replica on sl (keeping a dropped table's files aside). Runs on: sl's loop. */
void stub_part_close(struct stub_loop *sl, uint64_t gpid, bool drop);
/* A call to the meta leader: follows a redirect once, moves to the next meta on failure.
 * Runs on: beacon loop. */
int stub_meta_call(struct stub *s, uint32_t code, const struct buf *body, struct buf *reply);
/* Sends one beacon and applies the answer (a timer of the beacon loop). */
void stub_beacon_cron(void *arg);

/* ---- stub_dup.c ---- */
/* Reports confirmed decrees and hands each primary its duplications (a timer of the beacon
 * loop). */
void stub_dup_sync_cron(void *arg);
