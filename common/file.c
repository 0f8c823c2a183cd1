/* file.c: see file.h. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
file_sync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}
