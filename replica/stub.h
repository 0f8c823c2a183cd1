#pragma once
/*
 * The replica server ("stub"): owns the worker loops, routes each RPC by gpid to the loop
 * that owns the partition, beacons the meta leader and opens/closes partitions as the meta
 * assigns them.
 */
#include "common/config.h"
#include "common/err.h"

struct stub;

/* Reads settings from cfg (borrowed for the stub's life), binds address, starts serving. */
MUST_CHECK int stub_create(struct config *cfg, const char *address, const char *data_dir,
                           struct stub **out);
/* Stops serving, commits and closes every partition. */
void stub_destroy(struct stub *s);
