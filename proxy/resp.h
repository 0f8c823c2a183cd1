#pragma once
/*
 * RESP replies, written into a buffer. proto is 2 or 3 (HELLO): RESP3 has a null, maps and
 * doubles of its own; RESP2 clients get a null bulk string and flat arrays.
 */
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

void resp_status(struct buf *b, const char *s);
/* "-" + text: text starts with its code ("ERR ...", "WRONGTYPE ..."); \r and \n become ' '. */
void resp_error(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_int(struct buf *b, int64_t v);
void resp_bulk(struct buf *b, const void *p, size_t n);
void resp_bulk_str(struct buf *b, const char *s);
void resp_null(struct buf *b, int proto);
void resp_array(struct buf *b, size_t n);
/* A null array (RESP2 "*-1", RESP3 null): EXEC-like "nothing", and SET ... GET on none. */
void resp_null_array(struct buf *b, int proto);
/* A map of n pairs: RESP3 "%n", RESP2 an array of 2n. */
void resp_map(struct buf *b, size_t n, int proto);

/* Redis's error texts, shared by the commands. */
#define RESP_ERR_SYNTAX "ERR syntax error"
#define RESP_ERR_NOT_INT "ERR value is not an integer or out of range"
#define RESP_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
