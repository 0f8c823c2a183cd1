#pragma once
/* Allocation that aborts on out-of-memory, so callers carry no NULL checks (Redis zmalloc). */
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Copies n bytes and appends a NUL (for length-delimited input that must become a C string). */
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
void xfree(void *p);
