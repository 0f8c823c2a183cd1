#pragma once
/* unit_fs.h: file helpers shared by the in-process tests. */
#include <ftw.h>
#include <stdio.h>

static int
unit_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf path (errors ignored: a test's temp dir). */
static inline void
unit_rm_rf(const char *path)
{
    (void)nftw(path, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
