/* resp.c: RESP reply writers. */
#include "proxy/resp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void
put_line(struct buf *b, char type, const char *s, size_t n)
{
    buf_reserve(b, n + 3);
    b->data[b->len++] = (uint8_t)type;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

static void
put_count(struct buf *b, char type, int64_t n)
{
    char num[24];
    int len = snprintf(num, sizeof(num), "%" PRId64, n);
    put_line(b, type, num, (size_t)len);
}

void
resp_status(struct buf *b, const char *s)
{
    put_line(b, '+', s, strlen(s));
}

void
resp_error(struct buf *b, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(text))
        n = sizeof(text) - 1;
    for (int i = 0; i < n; i++)
        if (text[i] == '\r' || text[i] == '\n')
            text[i] = ' ';
    put_line(b, '-', text, (size_t)n);
}

void
resp_int(struct buf *b, int64_t v)
{
    put_count(b, ':', v);
}

void
resp_bulk(struct buf *b, const void *p, size_t n)
{
    put_count(b, '$', (int64_t)n);
    buf_reserve(b, n + 2);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void
resp_bulk_str(struct buf *b, const char *s)
{
    resp_bulk(b, s, strlen(s));
}

void
resp_null(struct buf *b, int proto)
{
    if (proto >= 3)
        put_line(b, '_', "", 0);
    else
        put_line(b, '$', "-1", 2);
}

void
resp_array(struct buf *b, size_t n)
{
    put_count(b, '*', (int64_t)n);
}

void
resp_null_array(struct buf *b, int proto)
{
    if (proto >= 3)
        put_line(b, '_', "", 0);
    else
        put_line(b, '*', "-1", 2);
}

void
resp_map(struct buf *b, size_t n, int proto)
{
    if (proto >= 3)
        put_count(b, '%', (int64_t)n);
    else
        put_count(b, '*', (int64_t)(2 * n));
}
