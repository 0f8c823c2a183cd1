#pragma once
/*
 * Pure helpers of admin-cli, in their own library so the unit tests can link them:
 * the line tokenizer, byte escaping for printing, strict number parsing and the sorted
 * record set behind `dump`.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* One argument: len bytes at p (may hold NUL bytes; p[len] is always a NUL). */
struct admin_tok {
    char *p;
    size_t len;
};

/* An argument vector; owns its tokens (free with admin_args_fini). */
struct admin_args {
    int argc;
    struct admin_tok *argv;
};

/*
 * Splits a line into arguments. Whitespace separates; "..." groups with backslash escapes
 * (\\ \" \' \n \t \r \0 \xHH, any other \c is c); '...' groups literally; outside quotes a
 * backslash escapes like inside "...". Adjacent pieces join (a"b c" is one argument), and ""
 * is an empty argument. ERR_INVALID_ARG (and *out empty) on an unterminated quote or a
 * bad \x escape; *errmsg (static) then says which.
 */
MUST_CHECK int admin_tokenize(const char *line, struct admin_args *out, const char **errmsg);
/* Copies argv[0..argc) as they are (no unescaping: the shell already did it). */
void admin_args_from_argv(int argc, char **argv, struct admin_args *out);
void admin_args_fini(struct admin_args *a);

/* Appends p[0..n) to out with printable ASCII kept, \ as \\ and anything else as \xHH.
 * Appends a NUL but does not count it in out->len. */
void admin_escape(const void *p, size_t n, struct buf *out);
/* Appends the bytes the NUL-terminated s stands for to out, undoing admin_escape exactly
 * (\\ and \xHH). ERR_INVALID_ARG on any other escape. */
MUST_CHECK int admin_unescape(const char *s, struct buf *out);

/* Strict decimal parsing of a whole token: ERR_INVALID_ARG unless all of it is a number in
 * range. */
MUST_CHECK int admin_parse_u32(const char *s, uint32_t *out);
MUST_CHECK int admin_parse_i64(const char *s, int64_t *out);

/*
 * The records of a table dump, copied and kept until admin_dump_fini, printed sorted by
 * (hash_key, sort_key) — bytewise, a shorter key before its extensions — one line each:
 * hash_key TAB sort_key TAB value TAB expire_ts (every byte field admin_escape'd, so a tab or
 * newline in the data cannot break the line; expire_ts is absolute seconds, 0 = never).
 */
struct admin_dump_rec {
    size_t off; /* of hash_key in bytes; sort_key and value follow it */
    uint32_t hk_len, sk_len, v_len, expire_ts;
};
struct admin_dump {
    struct buf bytes;
    struct admin_dump_rec *recs;
    size_t n, cap;
};
#define ADMIN_DUMP_INIT                                                                            \
    {                                                                                              \
        BUF_INIT, NULL, 0, 0                                                                       \
    }

/* Copies one record (hash_key, sort_key, value bytes and expire_ts) into d. */
void admin_dump_add(struct admin_dump *d, const void *hk, size_t hk_len, const void *sk,
                    size_t sk_len, const void *v, size_t v_len, uint32_t expire_ts);
/* Sorts d's records by (hash_key, sort_key). */
void admin_dump_sort(struct admin_dump *d);
/* Appends record i's line, '\n' included, to out (NUL-terminated, the NUL not counted). */
void admin_dump_line(const struct admin_dump *d, size_t i, struct buf *out);
void admin_dump_fini(struct admin_dump *d);
