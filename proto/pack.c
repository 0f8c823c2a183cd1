/*
 * pack.c: the only file that includes <msgpack.h>.
 *
 * Decoding is two passes: pack_prescan walks the raw bytes and checks that every length and
 * container count fits in what is left (each element takes at least one byte) and that
 * nesting stays within PACK_MAX_DEPTH; only then msgpack_unpack builds the object tree in a
 * zone. Without the pre-scan msgpack-c would trust a header claiming 2^28 map pairs and
 * reserve gigabytes.
 */
#include "proto/pack.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"

/* ---- encoding ---- */

static int
pk_write(void *data, const char *p, size_t n)
{
    buf_append(data, p, n);
    return 0;
}

#define PK_INIT(p, pk)                                                                             \
    msgpack_packer pk;                                                                             \
    msgpack_packer_init(&pk, (p)->out, pk_write)

void
pk_array(struct pk *p, uint32_t n)
{
    PK_INIT(p, k);
    msgpack_pack_array(&k, n);
}

void
pk_uint(struct pk *p, uint64_t v)
{
    PK_INIT(p, k);
    msgpack_pack_uint64(&k, v);
}

void
pk_int(struct pk *p, int64_t v)
{
    PK_INIT(p, k);
    msgpack_pack_int64(&k, v);
}

void
pk_bool(struct pk *p, bool v)
{
    PK_INIT(p, k);
    if (v)
        msgpack_pack_true(&k);
    else
        msgpack_pack_false(&k);
}

static void
pk_nil(struct pk *p)
{
    PK_INIT(p, k);
    msgpack_pack_nil(&k);
}

void
pk_bin(struct pk *p, const void *data, size_t len)
{
    PK_INIT(p, k);
    msgpack_pack_bin(&k, len);
    msgpack_pack_bin_body(&k, data, len);
}

void
pk_strn(struct pk *p, const char *s, size_t len)
{
    PK_INIT(p, k);
    msgpack_pack_str(&k, len);
    msgpack_pack_str_body(&k, s, len);
}

void
pk_str(struct pk *p, const char *s)
{
    pk_strn(p, s ? s : "", s ? strlen(s) : 0);
}

void
pk_tuple(struct pk *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_array(p, (uint32_t)strlen(fmt));
    for (const char *f = fmt; *f; f++) {
        switch (*f) {
        case 'u': pk_uint(p, va_arg(ap, uint64_t)); break;
        case 'i': pk_int(p, va_arg(ap, int64_t)); break;
        case 'b': pk_bool(p, va_arg(ap, int) != 0); break;
        case 's': pk_str(p, va_arg(ap, const char *)); break;
        case 'n': pk_nil(p); break;
        case 'y': {
            const void *d = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            pk_bin(p, d, n);
            break;
        }
        default: ASSERT(!"bad pk_tuple format");
        }
    }
    va_end(ap);
}

/* ---- pre-scan ---- */

struct scan {
    const uint8_t *p, *end;
    uint64_t objects; /* decoded objects cost ~24 bytes each: bound the total */
};

static int scan_value(struct scan *s, int depth);

/* Reads an n-byte big-endian length; fails if it is not there. */
static int
scan_len(struct scan *s, int n, uint64_t *out)
{
    uint64_t v = 0;
    if (s->end - s->p < n)
        return ERR_INVALID_DATA;
    for (int i = 0; i < n; i++)
        v = v << 8 | *s->p++;
    *out = v;
    return 0;
}

static int
scan_skip(struct scan *s, uint64_t n)
{
    if ((uint64_t)(s->end - s->p) < n)
        return ERR_INVALID_DATA;
    s->p += n;
    return 0;
}

static int
scan_container(struct scan *s, uint64_t count, int per_entry, int depth)
{
    if (depth >= PACK_MAX_DEPTH)
        return ERR_INVALID_DATA;
    /* every element takes at least one byte: a count larger than the rest is a lie */
    if (count > (uint64_t)(s->end - s->p) ||
        count * (uint64_t)per_entry > (uint64_t)(s->end - s->p))
        return ERR_INVALID_DATA;
    for (uint64_t i = 0; i < count * (uint64_t)per_entry; i++) {
        int rc = scan_value(s, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Sizes of the fixed-width formats 0xc0..0xdf (0 = variable, -1 = never used). */
static const int8_t fixed_size[32] = {
    /* c0 nil */ 0,
    /* c1 */ -1,
    /* c2 c3 bool */ 0,
    0,
    /* c4-c6 bin8/16/32 */ -2,
    -2,
    -2,
    /* c7-c9 ext8/16/32 */ -3,
    -3,
    -3,
    /* ca float32 */ 4,
    /* cb float64 */ 8,
    /* cc-cf uint8..64 */ 1,
    2,
    4,
    8,
    /* d0-d3 int8..64 */ 1,
    2,
    4,
    8,
    /* d4-d8 fixext 1,2,4,8,16 (+1 type byte) */ 2,
    3,
    5,
    9,
    17,
    /* d9-db str8/16/32 */ -2,
    -2,
    -2,
    /* dc dd array16/32 */ -4,
    -4,
    /* de df map16/32 */ -5,
    -5,
};

static int
scan_value(struct scan *s, int depth)
{
    uint64_t n;
    uint8_t b;
    int rc;
    if (s->p >= s->end || ++s->objects > PACK_MAX_OBJECTS)
        return ERR_INVALID_DATA;
    b = *s->p++;
    if (b <= 0x7f || b >= 0xe0)
        return 0; /* fixint */
    if (b >= 0x80 && b <= 0x8f)
        return scan_container(s, b & 0x0f, 2, depth); /* fixmap */
    if (b >= 0x90 && b <= 0x9f)
        return scan_container(s, b & 0x0f, 1, depth); /* fixarray */
    if (b >= 0xa0 && b <= 0xbf)
        return scan_skip(s, b & 0x1f); /* fixstr */
    switch (fixed_size[b - 0xc0]) {
    case -1: return ERR_INVALID_DATA;
    case -2: /* bin / str: 1, 2 or 4 length bytes */
        rc = scan_len(s, b == 0xc4 || b == 0xd9 ? 1 : b == 0xc5 || b == 0xda ? 2 : 4, &n);
        return rc ? rc : scan_skip(s, n);
    case -3: /* ext: length, type byte, data */
        rc = scan_len(s, b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4, &n);
        return rc ? rc : scan_skip(s, n + 1);
    case -4:
        rc = scan_len(s, b == 0xdc ? 2 : 4, &n);
        return rc ? rc : scan_container(s, n, 1, depth);
    case -5:
        rc = scan_len(s, b == 0xde ? 2 : 4, &n);
        return rc ? rc : scan_container(s, n, 2, depth);
    default: return scan_skip(s, (uint64_t)fixed_size[b - 0xc0]);
    }
}

int
pack_prescan(const uint8_t *buf, size_t len)
{
    struct scan s = {buf, buf + len, 0};
    int rc = scan_value(&s, 0);
    if (rc != 0)
        return rc;
    return s.p == s.end ? 0 : ERR_INVALID_DATA;
}

/* ---- decoding ---- */

/* msgpack-c's objects point into the input bytes, so the unpacked keeps its own copy. */
struct unpacked {
    msgpack_unpacked u;
    uint8_t *bytes;
};

int
unpacked_parse(const uint8_t *buf, size_t len, struct unpacked **out)
{
    struct unpacked *u;
    size_t off = 0;
    int rc = pack_prescan(buf, len);
    *out = NULL;
    if (rc != 0)
        return rc;
    u = xmalloc(sizeof(*u));
    u->bytes = xmemdup(buf, len);
    msgpack_unpacked_init(&u->u);
    if (msgpack_unpack_next(&u->u, (const char *)u->bytes, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        unpacked_free(u);
        return ERR_INVALID_DATA;
    }
    *out = u;
    return 0;
}

void
unpacked_free(struct unpacked *u)
{
    if (u == NULL)
        return;
    msgpack_unpacked_destroy(&u->u);
    xfree(u->bytes);
    xfree(u);
}

struct upk
unpacked_root(const struct unpacked *u)
{
    return (struct upk){&u->u.data};
}

#define OBJ(v) ((const msgpack_object *)(v).obj)

int
upk_array(struct upk v, uint32_t *n)
{
    *n = 0;
    if (OBJ(v)->type != MSGPACK_OBJECT_ARRAY)
        return ERR_INVALID_DATA;
    *n = OBJ(v)->via.array.size;
    return 0;
}

int
upk_at(struct upk v, uint32_t i, struct upk *out)
{
    if (OBJ(v)->type != MSGPACK_OBJECT_ARRAY || i >= OBJ(v)->via.array.size)
        return ERR_INVALID_DATA;
    out->obj = &OBJ(v)->via.array.ptr[i];
    return 0;
}

int
upk_uint(struct upk v, uint64_t *out)
{
    *out = 0;
    if (OBJ(v)->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ERR_INVALID_DATA;
    *out = OBJ(v)->via.u64;
    return 0;
}

int
upk_int(struct upk v, int64_t *out)
{
    *out = 0;
    if (OBJ(v)->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = OBJ(v)->via.i64;
        return 0;
    }
    if (OBJ(v)->type == MSGPACK_OBJECT_POSITIVE_INTEGER && OBJ(v)->via.u64 <= INT64_MAX) {
        *out = (int64_t)OBJ(v)->via.u64;
        return 0;
    }
    return ERR_INVALID_DATA;
}

int
upk_bool(struct upk v, bool *out)
{
    *out = false;
    if (OBJ(v)->type != MSGPACK_OBJECT_BOOLEAN)
        return ERR_INVALID_DATA;
    *out = OBJ(v)->via.boolean;
    return 0;
}

int
upk_bytes(struct upk v, const uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    /* msgpack-c gives an empty bin a NULL ptr; slices are never NULL (memcpy/memchr) */
    if (OBJ(v)->type == MSGPACK_OBJECT_BIN) {
        *data = OBJ(v)->via.bin.ptr ? (const uint8_t *)OBJ(v)->via.bin.ptr : (const uint8_t *)"";
        *len = OBJ(v)->via.bin.size;
        return 0;
    }
    if (OBJ(v)->type == MSGPACK_OBJECT_STR) {
        *data = OBJ(v)->via.str.ptr ? (const uint8_t *)OBJ(v)->via.str.ptr : (const uint8_t *)"";
        *len = OBJ(v)->via.str.size;
        return 0;
    }
    return ERR_INVALID_DATA;
}

bool
upk_is_nil(struct upk v)
{
    return OBJ(v)->type == MSGPACK_OBJECT_NIL;
}

int
upk_u32(struct upk v, uint32_t *out)
{
    uint64_t u;
    int rc = upk_uint(v, &u);
    *out = 0;
    if (rc == 0 && u > UINT32_MAX)
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        *out = (uint32_t)u;
    return rc;
}

/* Copies the str or bin v into dst[cap], NUL-terminated. trunc (text for display): a longer
 * one is cut, and a NUL inside ends it. Else a longer one is refused, and so is a NUL inside
 * (the copy would end early: a name or an address would change). */
static int
copy_str(struct upk v, char *dst, size_t cap, bool trunc)
{
    const uint8_t *d;
    size_t n;
    int rc = upk_bytes(v, &d, &n);
    ASSERT(cap > 0);
    if (rc == 0 && n >= cap && !trunc)
        rc = ERR_TOO_LARGE;
    if (rc == 0 && n >= cap)
        n = cap - 1;
    if (rc == 0 && !trunc && memchr(d, '\0', n) != NULL)
        rc = ERR_INVALID_DATA;
    if (rc == 0) {
        memcpy(dst, d, n);
        dst[n] = '\0';
    }
    return rc;
}

int
upk_str(struct upk v, char *dst, size_t cap)
{
    return copy_str(v, dst, cap, false);
}

int
upk_text(struct upk v, char *dst, size_t cap)
{
    return copy_str(v, dst, cap, true);
}

int
upk_bin(struct upk v, uint8_t *dst, size_t n)
{
    const uint8_t *d;
    size_t len;
    int rc = upk_bytes(v, &d, &len);
    if (rc == 0 && len != n)
        rc = ERR_INVALID_DATA;
    if (rc == 0)
        memcpy(dst, d, n);
    return rc;
}

int
upk_array_max(struct upk v, uint32_t max, uint32_t *n)
{
    int rc = upk_array(v, n);
    if (rc == 0 && *n > max)
        rc = ERR_TOO_LARGE;
    if (rc != 0)
        *n = 0;
    return rc;
}

int
upk_fields(struct upk v, struct upk *f, uint32_t required, uint32_t known)
{
    uint32_t n;
    int rc = upk_array(v, &n);
    if (rc == 0 && n < required)
        rc = ERR_INVALID_DATA;
    for (uint32_t i = 0; i < known; i++)
        f[i].obj = rc == 0 && i < n ? &OBJ(v)->via.array.ptr[i] : NULL;
    return rc;
}

static int
upk_field(struct upk f, char c, va_list *ap)
{
    switch (c) {
    case 'u': return upk_uint(f, va_arg(*ap, uint64_t *));
    case 'i': return upk_int(f, va_arg(*ap, int64_t *));
    case 'b': return upk_bool(f, va_arg(*ap, bool *));
    case 'a': *va_arg(*ap, struct upk *) = f; return 0;
    case '_': return 0;
    case 'y': {
        const uint8_t **d = va_arg(*ap, const uint8_t **);
        size_t *n = va_arg(*ap, size_t *);
        return upk_bytes(f, d, n);
    }
    case 's': {
        char *dst = va_arg(*ap, char *);
        return upk_str(f, dst, va_arg(*ap, size_t));
    }
    default: ASSERT(!"bad upk_tuple format");
    }
    return ERR_INTERNAL;
}

int
upk_tuple(struct upk v, const char *fmt, ...)
{
    const char *bar = strchr(fmt, '|');
    uint32_t n, need = (uint32_t)(bar != NULL ? bar - fmt : (ptrdiff_t)strlen(fmt));
    va_list ap;
    int rc = upk_array(v, &n);
    if (rc != 0)
        return rc;
    if (n < need)
        return ERR_INVALID_DATA;
    va_start(ap, fmt);
    /* fields after '|' were appended later: an older sender leaves them out */
    for (uint32_t i = 0, k = 0; fmt[k] != '\0' && i < n && rc == 0; k++)
        if (fmt[k] != '|')
            rc = upk_field((struct upk){&OBJ(v)->via.array.ptr[i++]}, fmt[k], &ap);
    va_end(ap);
    return rc;
}
