#pragma once
/*
 * Message bodies, one struct per request/reply, each with an encoder and a strict decoder,
 * generated from proto/msg.schema (which says how a message is laid out and extended) into
 * msg_gen.h and msg_gen.c in the build directory.
 *
 * Decoding: msg_X_decode(buf, len, &m, &zone) fills m with slices borrowed from *zone
 * (free with unpacked_free after use) and arrays allocated with xmalloc (free with
 * msg_X_fini where one exists). Returns ERR_INVALID_DATA on any malformed input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/types.h"

struct unpacked;

/* A borrowed byte slice (never NUL-terminated). */
struct bytes {
    const uint8_t *p;
    size_t len;
};

static inline struct bytes
bytes_of(const void *p, size_t len)
{
    return (struct bytes){(const uint8_t *)p, len};
}

#define GEOKV_MAX_REPLICAS 8   /* members of a partition */
#define GROUP_CHECK_MAX_DUPS 8 /* duplications one group check carries */

#include "proto/msg_gen.h"

/* "AVAILABLE", "CREATING", "DROPPED" (as tools show them); "UNKNOWN" for another value. */
const char *app_status_name(uint32_t status);
/* "DS_LOG", "FAIL_SLOW", ... (the names ZooKeeper's JSON, dup list and the logs use); NULL
 * for a value out of range. */
const char *dup_status_name(uint32_t status);
const char *dup_fail_mode_name(uint32_t mode);
/* The value a name stands for, -1 if none. */
int dup_status_parse(const char *name);
int dup_fail_mode_parse(const char *name);
