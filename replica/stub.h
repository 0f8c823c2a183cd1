#pragma once
/*
 * The replica server ("stub"): owns the worker loops, routes each RPC by gpid to the loop
 * that owns the partition, beacons the meta leader and opens/closes partitions as the meta
 * assigns them.
 */
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"

struct stub;

/* The exit status of a server that stopped because a partition's log lost durability (a
 * failed fsync): restart it (the plog is synced again at open). */
#define STUB_EXIT_LOG_BROKEN 3

/* Reads settings from cfg (borrowed for the stub's life), binds address, starts serving. */
MUST_CHECK int stub_create(struct config *cfg, const char *address, const char *data_dir,
                           struct stub **out);
/* Stops serving, commits and closes every partition. */
void stub_destroy(struct stub *s);

/* What the meta's answer to a beacon asks of the server: open a partition (if needed) and
 * adopt the assigned role and configuration, close it (no longer assigned here), or drop it
 * (its table was dropped). */
struct msg_beacon_req;
struct msg_beacon_resp;
struct replica_assign;
enum part_action { PART_ASSIGN, PART_CLOSE, PART_DROP };
typedef void beacon_action_fn(void *arg, enum part_action action, uint64_t gpid,
                              const struct replica_assign *a);
/* Calls fn for each action resp asks of the server that sent req: an assignment only if it
 * is not older than the ballot the server reported (a reply overtaken by a newer state
 * changes nothing), then the drops, then a close for every reported partition not assigned.
 * a is set for PART_ASSIGN only. */
void stub_beacon_actions(const struct msg_beacon_req *req, const struct msg_beacon_resp *resp,
                         beacon_action_fn *fn, void *arg);

/* Calls fn for each partition of req->primaries that resp answers for as led by the server
 * (a partition that moved meanwhile is not its to adopt), with its duplications from resp:
 * dups is xmalloc'd and fn's to free. */
struct msg_dup_sync_req;
struct msg_dup_sync_resp;
struct dup_assign;
typedef void dup_sync_fn(void *arg, uint64_t gpid, struct dup_assign *dups, uint32_t n);
void stub_dup_sync_actions(const struct msg_dup_sync_req *req, const struct msg_dup_sync_resp *resp,
                           dup_sync_fn *fn, void *arg);
