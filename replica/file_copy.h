#pragma once
/*
 * Copying a checkpoint (a directory of immutable files) from another replica server:
 * RPC_FILE_LIST gives every file's name, size and SHA-256; RPC_FILE_READ gives one chunk with
 * its CRC32C. The copier verifies each chunk (a bad one is fetched again) and each whole
 * file, resumes after a crash without copying finished files again, and can be rate limited.
 * Used by learning (a new secondary) and by full duplication (a follower table).
 */
#include <stdatomic.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/rpc.h"

/* Serving side. Only directories under root (the server's data dir) are served; anything
 * else, or a name with '/' or "..", is ERR_INVALID_ARG. Blocking (reads and hashes files):
 * call it off the partition loops. Replies and frees req. */
void file_copy_serve_list(const char *root, struct rpc_request *req);
void file_copy_serve_read(const char *root, struct rpc_request *req);

struct file_copy_opts {
    uint32_t chunk_bytes;      /* 0 = 4 MiB */
    int64_t rate_bytes_per_s;  /* 0 = unlimited */
    int timeout_ms;            /* per RPC; 0 = 10 s */
    int max_retries;           /* per chunk; 0 = 5 */
    const atomic_bool *cancel; /* if set and true, the copy stops with ERR_SHUTDOWN */
    bool prune;                /* remove local files that are not in the listing (a copy of an
                             * older checkpoint left behind) */
    int lanes;                 /* files copied at once (0 = 1); lanes past the first open their
                             * own connection; the rate limit is shared out among them */
};

/* Copies remote_dir from the server at addr into local_dir (created if missing). Give it a
 * client of its own: a nanomsg raw REP server drops a reply (silently) when the connection
 * is still sending an earlier one, so multi-MB chunk replies sharing a connection with other
 * traffic lose replies to it, and each loss costs a timeout. Files
 * already present with the right size and SHA-256 are kept; a partial file continues from
 * its length. Returns 0 when every file is present and verified; *bytes (if not NULL) gets
 * how many bytes were fetched. Blocking. */
MUST_CHECK int file_copy_dir(struct rpc_client *c, const char *addr, const char *remote_dir,
                             const char *local_dir, const struct file_copy_opts *opts,
                             uint64_t *bytes);
