#pragma once
/*
 * Small file helpers shared by the storage layers.
 */

/* Opens path with flags | O_CLOEXEC (mode 0644 if it creates it), fsyncs it and closes it:
 * O_RDONLY | O_DIRECTORY makes a rename or create in a directory durable, O_WRONLY | O_CREAT
 * makes an empty marker file. 0 or -errno. */
int file_sync_path(const char *path, int flags);
