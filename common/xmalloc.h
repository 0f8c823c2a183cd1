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

/* Keeps freed buffers of up to 32 MiB in the heap instead of returning them to the kernel
 * (glibc's mallopt), so the next multi-megabyte buffer does not fault every page in again.
 * Servers call it first thing. */
void xmalloc_keep_large_buffers(void);
