/* buf.c: growable byte buffer. */
#include "common/buf.h"

#include <string.h>

#include "common/xmalloc.h"

void
buf_reserve(struct buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void
buf_append_u8(struct buf *b, uint8_t v)
{
    buf_append(b, &v, 1);
}

void
buf_append_be16(struct buf *b, uint16_t v)
{
    buf_reserve(b, 2);
    be16_store(b->data + b->len, v);
    b->len += 2;
}

void
buf_append_be32(struct buf *b, uint32_t v)
{
    buf_reserve(b, 4);
    be32_store(b->data + b->len, v);
    b->len += 4;
}

void
buf_append_be64(struct buf *b, uint64_t v)
{
    buf_reserve(b, 8);
    be64_store(b->data + b->len, v);
    b->len += 8;
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
}

void
buf_fini(struct buf *b)
{
    xfree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
