#pragma once
/*
 * The replica server ("stub"): owns the worker loops, routes each RPC by gpid to the loop
 * that owns the partition, beacons the meta leader and opens/closes partitions as the meta
 * assigns them.
 */
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
