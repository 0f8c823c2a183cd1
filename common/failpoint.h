#pragma once
/*
 * Fail points: named places where a test can make the code misbehave on purpose (corrupt a
 * chunk, fail a write), in the spirit of Pegasus src/utils/fail_point.h. Always compiled in:
 * an unarmed FAIL_POINT costs one relaxed atomic load.
 *
 * Configuration, read once from the environment at the first FAIL_POINT in the process:
 *   GEOKV_FAILPOINTS="name=N[,name=N-M][,name=N-]..."
 * Each evaluation of FAIL_POINT(name) counts a hit (1-based, per process); the point fires
 * on hit N, on hits N..M, or on every hit from N on. Unknown names never fire; a malformed
 * spec arms nothing. At most FAILPOINT_MAX points.
 *
 * Points in use (keep this list current):
 *   file_copy_corrupt_chunk  replica/file_copy.c: a served RPC_FILE_READ chunk gets one
 *                            byte flipped after its CRC32C was computed.
 *   plog_fsync_error         replica/plog.c: an fdatasync of the plog fails with EIO (the
 *                            syncs at open count too).
 *   replica_install_open     replica/replica.c: opening RocksDB while installing a checkpoint
 *                            (the copy, or the old data after a failed install) fails.
 *   beacon_apply_delay       replica/stub_beacon.c: the beacon thread sleeps 1 s before it
 *                            applies a beacon reply.
 *
 * Thread-safe (a mutex, taken only when something is armed).
 */
#include <stdbool.h>

#define FAILPOINT_MAX 16

/* True if the fail point fires on this evaluation. */
bool failpoint_hit(const char *name);
#define FAIL_POINT(name) failpoint_hit(name)

/* Replaces the configuration (same syntax as GEOKV_FAILPOINTS; NULL or "" disarms all) and
 * resets the hit counts. For tests that configure in-process. ERR_INVALID_ARG if malformed
 * (then nothing is armed). */
int failpoint_configure(const char *spec);
