/*
 * meta_store.c: backend-independent helpers of the store seam (recursive create, name lists).
 * Threads: whatever thread owns the store (the meta loop).
 */
#include "meta/meta_store.h"

#include <errno.h>
#include <string.h>

#include "common/xmalloc.h"

void
meta_store_names_fini(struct meta_store_names *names)
{
    for (uint32_t i = 0; i < names->n; i++)
        xfree(names->names[i]);
    xfree(names->names);
    names->names = NULL;
    names->n = 0;
}

int
meta_store_mkdirs(struct meta_store *s, const char *path)
{
    size_t len = strlen(path);
    char *p;
    int rc = 0;

    if (len < 2 || path[0] != '/' || path[len - 1] == '/')
        return ERR_INVALID_ARG;
    p = xstrdup(path);
    /* Create each prefix ending just before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        rc = meta_store_create(s, p, NULL, 0, 0, NULL, 0);
        if (rc == -EEXIST)
            rc = 0;
        if (i < len)
            p[i] = '/';
        if (rc != 0)
            break;
    }
    xfree(p);
    return rc;
}
