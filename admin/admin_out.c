/*
 * admin_out.c: failure lines and the JSON writer (admin_out.h). It writes straight to stdout,
 * never buffering a document, so a scan of any size streams in constant memory; the nesting
 * stack is what lets a failure close a half-written document validly.
 */
#include "admin/admin_out.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define JSON_MAX_DEPTH 8

static struct {
    bool json, pretty;
    bool comma;     /* the next key or element follows a sibling */
    bool after_key; /* a key was written: its value comes next, no separator */
    int depth;
    char open[JSON_MAX_DEPTH]; /* '{' or '[' per level */
} w;

void
out_set_json(bool on)
{
    w.json = on;
}

bool
out_json(void)
{
    return w.json;
}

void
out_set_pretty(bool on)
{
    w.pretty = on;
}

/* Before a key, or a value that is not a key's: the comma and, pretty, the indent. */
static void
sep(void)
{
    if (w.after_key) {
        w.after_key = false;
        return;
    }
    if (w.comma)
        putchar(',');
    if (w.pretty && w.depth > 0)
        printf("\n%*s", 2 * w.depth, "");
    w.comma = true;
}

static void
begin(char ch)
{
    ASSERT(w.depth < JSON_MAX_DEPTH); /* a bug in a command, in any build */
    sep();
    putchar(ch);
    w.open[w.depth++] = ch;
    w.comma = false;
}

void
json_begin_object(void)
{
    begin('{');
}

void
json_begin_array(void)
{
    begin('[');
}

void
json_end(void)
{
    char ch = w.open[--w.depth];

    if (w.pretty && w.comma)
        printf("\n%*s", 2 * w.depth, "");
    putchar(ch == '{' ? '}' : ']');
    w.comma = true;
    if (w.depth == 0) {
        putchar('\n');
        w.comma = false;
    }
}

/* Length of the UTF-8 sequence at p[0..n), 0 if there is none (a stray or cut-short byte, an
 * overlong form, a surrogate, past U+10FFFF): such bytes cannot go into a JSON string. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
    uint32_t cp, min;
    size_t len;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2, cp = p[0] & 0x1f, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, cp = p[0] & 0x0f, min = 0x800;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        len = 4, cp = p[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : len;
}

/* Writes p[0..n) as a JSON string: " and \ escaped, control characters as \u00XX, and a byte
 * that is not UTF-8 as U+FFFD. */
static void
put_string(const uint8_t *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(p + i, n - i);
        if (len == 0) {
            fputs("\\ufffd", stdout);
            len = 1;
        } else if (p[i] == '"' || p[i] == '\\') {
            printf("\\%c", p[i]);
        } else if (p[i] < 0x20) {
            printf("\\u%04x", p[i]);
        } else {
            fwrite(p + i, 1, len, stdout);
        }
        i += len;
    }
    putchar('"');
}

void
json_key(const char *k)
{
    if (w.depth == 0) /* the command's object */
        json_begin_object();
    sep();
    put_string((const uint8_t *)k, strlen(k));
    fputs(w.pretty ? ": " : ":", stdout);
    w.after_key = true;
}

void
json_str(const char *s)
{
    sep();
    put_string((const uint8_t *)s, strlen(s));
}

static void
put_base64(const uint8_t *p, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    putchar('"');
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)(i + 1 < n ? p[i + 1] : 0) << 8 |
                     (uint32_t)(i + 2 < n ? p[i + 2] : 0);
        putchar(b64[v >> 18 & 63]);
        putchar(b64[v >> 12 & 63]);
        putchar(i + 1 < n ? b64[v >> 6 & 63] : '=');
        putchar(i + 2 < n ? b64[v & 63] : '=');
    }
    putchar('"');
}

void
json_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0, len;

    /* Control characters count as binary too: `jq -r` of a text field stays one line. */
    while (i < n && s[i] >= 0x20 && s[i] != 0x7f && (len = utf8_len(s + i, n - i)) > 0)
        i += len;
    if (i == n) {
        sep();
        put_string(s, n);
        return;
    }
    json_begin_object();
    json_key("base64");
    sep();
    put_base64(s, n);
    json_end();
}

void
json_int(int64_t v)
{
    sep();
    printf("%" PRId64, v);
}

void
json_uint(uint64_t v)
{
    sep();
    printf("%" PRIu64, v);
}

void
json_bool(bool v)
{
    sep();
    fputs(v ? "true" : "false", stdout);
}

void
json_null(void)
{
    sep();
    fputs("null", stdout);
}

void
json_kv_str(const char *k, const char *s)
{
    json_key(k);
    if (s != NULL)
        json_str(s);
    else
        json_null();
}

void
json_kv_int(const char *k, int64_t v)
{
    json_key(k);
    json_int(v);
}

void
json_kv_bool(const char *k, bool v)
{
    json_key(k);
    json_bool(v);
}

enum admin_result
out_cmd_end(enum admin_result r)
{
    while (w.depth > 0)
        json_end();
    w.after_key = false;
    fflush(stdout);
    return r;
}

/* One failure line on stderr; with --json also the "error" of the command's document. */
static enum admin_result
report(bool usage, const char *fmt, va_list ap)
{
    char msg[1024], line[1100];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    snprintf(line, sizeof(line), "%s: %s", usage ? "usage" : "error", msg);
    fflush(stdout);
    fprintf(stderr, "%s\n", line);
    out_json_error(usage ? line : msg);
    return ADMIN_FAIL;
}

void
out_json_error(const char *msg)
{
    if (!w.json)
        return;
    /* Into the command's object, after closing what is open inside it (a stream of records
     * cut short). */
    while (w.depth > 1 || (w.depth == 1 && w.open[0] != '{'))
        json_end();
    w.after_key = false;
    json_kv_str("error", msg);
    json_end();
    fflush(stdout);
}

enum admin_result
out_fail(const char *fmt, ...)
{
    va_list ap;
    enum admin_result r;

    va_start(ap, fmt);
    r = report(false, fmt, ap);
    va_end(ap);
    return r;
}

enum admin_result
out_usage(const char *fmt, ...)
{
    va_list ap;
    enum admin_result r;

    va_start(ap, fmt);
    r = report(true, fmt, ap);
    va_end(ap);
    return r;
}
