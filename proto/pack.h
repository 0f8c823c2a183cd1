#pragma once
/*
 * Typed msgpack helpers: the only door to msgpack-c (only pack.c includes <msgpack.h>).
 *
 * Encoding appends to a struct pk. Decoding first pre-scans the bytes (every container count
 * and string length must fit in the bytes left, nesting <= PACK_MAX_DEPTH, at most
 * PACK_MAX_OBJECTS values) because msgpack-c
 * trusts counts and would reserve gigabytes for a 7-byte header; only then unpacks into a
 * zone owned by struct unpacked. Values are read through struct upk cursors.
 *
 * Messages are arrays of fields; a decoder reads the fields it knows and ignores extra ones
 * at the end, so fields can be appended without breaking older peers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define PACK_MAX_DEPTH 32
/* At most this many values in one message: msgpack-c spends ~24 bytes per value, so a
 * message of one-byte values could otherwise cost 24x its size (here at most 48 MiB). */
#define PACK_MAX_OBJECTS (2u << 20)

/* Encoder: appends msgpack to out (not owned). */
struct pk {
    struct buf *out;
};

void pk_array(struct pk *p, uint32_t n);
void pk_uint(struct pk *p, uint64_t v);
void pk_int(struct pk *p, int64_t v);
void pk_bool(struct pk *p, bool v);
void pk_bin(struct pk *p, const void *data, size_t len);
/* A msgpack str of a C string (NULL packs as an empty string). */
void pk_str(struct pk *p, const char *s);
void pk_strn(struct pk *p, const char *s, size_t len);
/*
 * Packs an array of fields described by fmt, one char per field:
 *   u uint64_t   i int64_t   b bool(int)   s const char* (str)
 *   y const void*, size_t (bin)   n nil
 */
void pk_tuple(struct pk *p, const char *fmt, ...);

/* Checks that buf holds exactly one well-formed, bounded msgpack object. */
MUST_CHECK int pack_prescan(const uint8_t *buf, size_t len);

struct unpacked;
/* A cursor onto one decoded value; valid while its struct unpacked lives. */
struct upk {
    const void *obj;
};

/* Pre-scans and unpacks a copy of buf (the caller's buf is not retained). */
MUST_CHECK int unpacked_parse(const uint8_t *buf, size_t len, struct unpacked **out);
void unpacked_free(struct unpacked *u);
struct upk unpacked_root(const struct unpacked *u);

/* Each returns ERR_INVALID_DATA if the value has another type (or does not fit). */
MUST_CHECK int upk_array(struct upk v, uint32_t *n);
MUST_CHECK int upk_at(struct upk v, uint32_t i, struct upk *out);
MUST_CHECK int upk_uint(struct upk v, uint64_t *out);
MUST_CHECK int upk_int(struct upk v, int64_t *out);
/* bin or str; *data borrowed from the zone (not NUL-terminated). */
MUST_CHECK int upk_bytes(struct upk v, const uint8_t **data, size_t *len);
bool upk_is_nil(struct upk v);

/* The typed readers of the generated decoders (msg_gen.c). */
MUST_CHECK int upk_bool(struct upk v, bool *out);
/* A uint that fits 32 bits. */
MUST_CHECK int upk_u32(struct upk v, uint32_t *out);
/* A str copied NUL-terminated into dst[cap]: ERR_TOO_LARGE if it does not fit, ERR_INVALID_DATA
 * if it holds a NUL (it would be truncated). */
MUST_CHECK int upk_str(struct upk v, char *dst, size_t cap);
/* The same for text shown to people: truncated to fit, and a NUL inside ends it. */
MUST_CHECK int upk_text(struct upk v, char *dst, size_t cap);
/* Exactly n bytes (bin or str). */
MUST_CHECK int upk_bin(struct upk v, uint8_t *dst, size_t n);
/* An array of at most max entries (ERR_TOO_LARGE beyond); *n = 0 on failure. */
MUST_CHECK int upk_array_max(struct upk v, uint32_t max, uint32_t *n);
/*
 * The fields of the array v: f[i] for i < known; at least required must be there (fewer is
 * ERR_INVALID_DATA), the ones an older sender left out get a NULL obj, and the ones a newer
 * sender appended beyond known are ignored.
 */
MUST_CHECK int upk_fields(struct upk v, struct upk *f, uint32_t required, uint32_t known);
/*
 * Reads the fields of an array in fmt's order. Extra fields (appended by a newer sender)
 * are ignored. Fields after a '|' in fmt are optional (appended to the message later, so an
 * older sender leaves them out): absent ones keep the value they had. Fewer than the fields
 * before the '|' is ERR_INVALID_DATA. fmt as pk_tuple plus:
 *   u uint64_t*   i int64_t*   b bool*   y const uint8_t**, size_t*   (str or bin)
 *   s char* buf, size_t cap  (str copied and NUL-terminated; too long is ERR_TOO_LARGE)
 *   a struct upk*  (any value, for nested arrays)   _ skip
 */
MUST_CHECK int upk_tuple(struct upk v, const char *fmt, ...);
