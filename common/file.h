#pragma once
#include <stddef.h>
#include <stdint.h>
/*
 * Small file helpers shared by the storage layers.
 */

/* Opens path with flags | O_CLOEXEC (mode 0644 if it creates it), fsyncs it and closes it:
 * O_RDONLY | O_DIRECTORY makes a rename or create in a directory durable, O_WRONLY | O_CREAT
 * makes an empty marker file. 0 or -errno. */
int file_sync_path(const char *path, int flags);

/* Writes all len bytes of data at offset off, retrying partial writes and EINTR. 0 or -errno. */
int file_pwrite_all(int fd, const void *data, size_t len, uint64_t off);

/* Replaces path with len bytes of data durably: writes path.tmp, fsyncs it, renames it over
 * path and fsyncs the directory. After a crash path holds the old or the new content, never
 * a mix. 0 or -errno. */
int file_write_atomic(const char *path, const void *data, size_t len);

/* mkdir -p: creates path and its missing parents (mode 0755). 0 or -errno (-ENAMETOOLONG). */
int file_mkdir_p(const char *path);

/* Reads at most cap - 1 bytes of path into buf, NUL-terminated. 0, -ENOENT if it does not
 * exist, or another -errno. */
int file_read_small(const char *path, char *buf, size_t cap);
