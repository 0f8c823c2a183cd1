/*
 * file_copy.c: serving and copying a directory of immutable files (a RocksDB checkpoint).
 *
 * SERVING. RPC_FILE_LIST and RPC_FILE_READ run on the replica server's blocking loop (they
 * read and hash whole files). A requested dir is absolute or relative to root; it must not
 * contain a ".." component, and its realpath must lie under root's realpath (so a symlink
 * cannot lead out either). Names are single components without "..", opened with
 * O_NOFOLLOW; only regular files are listed or read. Errors cross the wire as project codes
 * (ENOENT -> ERR_NOT_FOUND, other system errors -> ERR_IO).
 *
 * COPYING. file_copy_dir runs on the caller's thread and blocks. For each listed file:
 *   local size == listed size and SHA-256 equal  -> kept, nothing fetched;
 *   local shorter                                -> the local prefix is hashed, the rest
 *                                                   fetched chunk by chunk and appended;
 *   local longer, or a SHA-256 mismatch at the end of a pass -> truncated and fetched again
 *                                                   from 0, once; a second mismatch fails
 *                                                   with ERR_INVALID_DATA.
 * Every chunk is checked against its CRC32C before it is written; a bad chunk (or a timeout)
 * is fetched again up to max_retries times. Finished files and the directory are fsynced,
 * so after a crash a rerun keeps what was finished and continues what was not. Local files
 * that are not in the listing are left alone (the caller owns local_dir), or removed with
 * opts->prune. Bandwidth
 * is limited by a token bucket (starts empty, holds at most one chunk, charged before each
 * request, so a copy of B bytes takes at least about B / rate seconds).
 *
 * Fail point file_copy_corrupt_chunk (common/failpoint.h) flips one byte of a served chunk
 * after its CRC32C was computed.
 */
#include "replica/file_copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "common/file.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "proto/pack.h"
#include "proto/rpc_codes.h"

#define FILE_COPY_MAX_CHUNK (8u << 20)
#define FILE_COPY_DEFAULT_CHUNK (4u << 20)
#define FILE_COPY_DEFAULT_TIMEOUT_MS 10000
#define FILE_COPY_DEFAULT_RETRIES 5
#define FILE_COPY_MAX_FILES (1u << 16) /* what msg_file_list_resp_decode accepts */
#define FILE_COPY_HASH_BUF (1u << 20)

/* ---------------------------------------------------------------- shared helpers */

static EVP_MD_CTX *
sha_begin(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ASSERT(ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1);
    return ctx;
}

/* Finishes ctx into out and frees it. */
static void
sha_end(EVP_MD_CTX *ctx, uint8_t out[32])
{
    unsigned int n = 0;
    ASSERT(EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32);
    EVP_MD_CTX_free(ctx);
}

/* Feeds the first len bytes of fd into ctx. ERR_IO if the file is shorter. */
static int
sha_update_fd(EVP_MD_CTX *ctx, int fd, uint64_t len)
{
    uint8_t *b = xmalloc(FILE_COPY_HASH_BUF);
    uint64_t off = 0;
    int rc = 0;
    while (rc == 0 && off < len) {
        size_t want = len - off < FILE_COPY_HASH_BUF ? (size_t)(len - off) : FILE_COPY_HASH_BUF;
        ssize_t n = pread(fd, b, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? -errno : ERR_IO;
        else
            ASSERT(EVP_DigestUpdate(ctx, b, (size_t)n) == 1);
        off += n > 0 ? (uint64_t)n : 0;
    }
    xfree(b);
    return rc;
}

/* A file name the copier may serve or create: one path component, no "..". */
static bool
name_is_valid(const char *name)
{
    return name[0] != '\0' && strcmp(name, ".") != 0 && strchr(name, '/') == NULL &&
           strstr(name, "..") == NULL;
}

/* ---------------------------------------------------------------- serving */

/* The stable wire code for a local result (never a raw errno on the wire). */
static int
wire_err(int rc)
{
    if (rc == 0 || err_is_project(rc))
        return rc;
    return rc == -ENOENT ? ERR_NOT_FOUND : ERR_IO;
}

static bool
has_dotdot_component(const char *path)
{
    for (const char *p = path; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        p += n + (p[n] == '/');
    }
    return false;
}

/* Resolves dir (absolute, or relative to root) to its real path, which must be under root. */
static int
resolve_dir(const char *root, const char *dir, char out[PATH_MAX])
{
    char real_root[PATH_MAX], joined[PATH_MAX + 600];
    size_t n;

    if (dir[0] == '\0' || has_dotdot_component(dir))
        return ERR_INVALID_ARG;
    if (realpath(root, real_root) == NULL)
        return ERR_IO;
    snprintf(joined, sizeof(joined), "%s%s%s", dir[0] == '/' ? "" : root, dir[0] == '/' ? "" : "/",
             dir);
    if (realpath(joined, out) == NULL)
        return errno == ENOENT || errno == ENOTDIR ? ERR_NOT_FOUND : ERR_INVALID_ARG;
    n = strlen(real_root);
    if (n > 1 && (strncmp(out, real_root, n) != 0 || (out[n] != '/' && out[n] != '\0')))
        return ERR_INVALID_ARG;
    return 0;
}

/* Adds one regular file of the directory to l (anything else is skipped). */
static int
list_add(int dfd, const char *name, struct msg_file_list_resp *l, uint32_t *cap)
{
    struct stat st;
    struct file_entry *f;
    EVP_MD_CTX *ctx;
    int fd, rc;

    if (!name_is_valid(name) || strlen(name) >= sizeof(f->name))
        return 0;
    fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP || errno == ENOENT ? 0 : -errno; /* symlinks are not served */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    if (l->nfiles == FILE_COPY_MAX_FILES) {
        close(fd);
        return ERR_TOO_LARGE;
    }
    if (l->nfiles == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        l->files = xrealloc(l->files, *cap * sizeof(*l->files));
    }
    f = &l->files[l->nfiles];
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->size = (uint64_t)st.st_size;
    ctx = sha_begin();
    rc = sha_update_fd(ctx, fd, f->size);
    sha_end(ctx, f->sha256);
    close(fd);
    l->nfiles += rc == 0;
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct file_entry *)a)->name, ((const struct file_entry *)b)->name);
}

/* Lists path's regular files with sizes and SHA-256, sorted by name. */
static int
list_dir(const char *path, struct msg_file_list_resp *l)
{
    DIR *d = opendir(path);
    struct dirent *e;
    uint32_t cap = 0;
    int rc = 0;

    if (d == NULL)
        return -errno;
    while (rc == 0 && (e = readdir(d)) != NULL)
        rc = list_add(dirfd(d), e->d_name, l, &cap);
    closedir(d);
    if (rc == 0 && l->nfiles > 1)
        qsort(l->files, l->nfiles, sizeof(*l->files), entry_cmp);
    return rc;
}

void
file_copy_serve_list(const char *root, struct rpc_request *req)
{
    struct msg_file_list_req m;
    struct msg_file_list_resp l = {0};
    struct buf out = BUF_INIT;
    char dir[PATH_MAX];
    int rc;

    m.dir[0] = '\0';
    rc = msg_file_list_req_decode(req->env.body, req->env.body_len, &m);
    if (rc == 0)
        rc = resolve_dir(root, m.dir, dir);
    if (rc == 0)
        rc = list_dir(dir, &l);
    if (rc == 0)
        msg_file_list_resp_encode(&out, &l);
    else
        LOG_WARN("file_copy: list '%s' refused: %s", m.dir, err_str(rc));
    rpc_reply(req, wire_err(rc), out.data, out.len);
    msg_file_list_resp_fini(&l);
    buf_fini(&out);
}

/* Reads up to len bytes of dir/name at offset into out (fewer only at the end of the file). */
static int
read_chunk(const char *dir, const char *name, uint64_t offset, uint32_t len, struct buf *out)
{
    char path[PATH_MAX + 300];
    struct stat st;
    size_t n, got = 0;
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? ERR_INVALID_ARG : -errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || offset > (uint64_t)st.st_size) {
        close(fd);
        return ERR_INVALID_ARG;
    }
    n = (uint64_t)st.st_size - offset < len ? (size_t)((uint64_t)st.st_size - offset) : len;
    buf_reserve(out, n);
    while (rc == 0 && got < n) {
        ssize_t r = pread(fd, out->data + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = r < 0 ? -errno : ERR_IO; /* the file shrank: not an immutable file */
        got += r > 0 ? (size_t)r : 0;
    }
    out->len = got;
    close(fd);
    return rc;
}

void
file_copy_serve_read(const char *root, struct rpc_request *req)
{
    struct msg_file_read_req m;
    struct buf data = BUF_INIT, out = BUF_INIT;
    char dir[PATH_MAX];
    uint32_t crc = 0;
    int rc;

    m.dir[0] = m.name[0] = '\0';
    rc = msg_file_read_req_decode(req->env.body, req->env.body_len, &m);
    if (rc == 0 && !name_is_valid(m.name))
        rc = ERR_INVALID_ARG;
    if (rc == 0)
        rc = resolve_dir(root, m.dir, dir);
    if (rc == 0)
        rc = read_chunk(dir, m.name, m.offset,
                        m.len < FILE_COPY_MAX_CHUNK ? m.len : FILE_COPY_MAX_CHUNK, &data);
    if (rc == 0) {
        crc = crc32c(0, data.data, data.len);
        if (data.len > 0 && FAIL_POINT("file_copy_corrupt_chunk"))
            data.data[data.len / 2] ^= 0x01;
        msg_file_read_resp_encode(&out,
                                  &(struct msg_file_read_resp){bytes_of(data.data, data.len), crc});
    } else {
        LOG_WARN("file_copy: read dir '%s' name '%s' refused: %s", m.dir, m.name, err_str(rc));
    }
    rpc_reply(req, wire_err(rc), out.data, out.len);
    buf_fini(&data);
    buf_fini(&out);
}

/* ---------------------------------------------------------------- copying */

struct copier {
    struct rpc_client *c;
    const char *addr, *remote_dir, *local_dir;
    struct file_copy_opts o; /* defaults filled in */
    int dfd;                 /* local_dir */
    double tokens;           /* token bucket: may go negative (debt, slept off) */
    int64_t refill_us;
    uint64_t fetched_bytes;
    uint32_t kept_files; /* present and verified, nothing fetched */
};

/* One lane of a copy: a copier (its own connection past the first) taking the next file. */
struct lane {
    struct copier cp;
    const struct msg_file_list_resp *l;
    atomic_uint *next;  /* the next file to take, shared by the lanes */
    atomic_int *failed; /* the first error of any lane: the others stop taking files */
    pthread_t thread;
};

/* Charges n bytes to the token bucket, sleeping off any debt. */
static void
rate_acquire(struct copier *cp, size_t n)
{
    double rate = (double)cp->o.rate_bytes_per_s;
    int64_t now = clock_mono_us();

    if (cp->o.rate_bytes_per_s <= 0)
        return;
    cp->tokens += (double)(now - cp->refill_us) * rate / 1e6;
    if (cp->tokens > (double)cp->o.chunk_bytes)
        cp->tokens = (double)cp->o.chunk_bytes;
    cp->refill_us = now;
    cp->tokens -= (double)n;
    if (cp->tokens < 0)
        clock_sleep_ms((int64_t)(-cp->tokens * 1000.0 / rate) + 1);
}

static bool
err_is_retryable(int rc)
{
    return rc == ERR_TIMEOUT || rc == ERR_NETWORK || rc == ERR_BUSY || rc == ERR_INVALID_DATA;
}

/* One RPC_FILE_READ; the verified chunk (1..len bytes) is appended to data. */
static int
fetch_once(struct copier *cp, const char *name, uint64_t offset, uint32_t len, struct buf *data)
{
    struct msg_file_read_req q;
    struct msg_file_read_resp resp;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    struct unpacked *zone = NULL;
    int rc;

    snprintf(q.dir, sizeof(q.dir), "%s", cp->remote_dir);
    snprintf(q.name, sizeof(q.name), "%s", name);
    q.offset = offset;
    q.len = len;
    msg_file_read_req_encode(&req, &q);
    rate_acquire(cp, len);
    rc =
        rpc_call(cp->c, cp->addr, RPC_FILE_READ, 0, 0, req.data, req.len, cp->o.timeout_ms, &reply);
    if (rc == 0)
        rc = msg_file_read_resp_decode(reply.data, reply.len, &resp, &zone);
    if (rc == 0 && (resp.data.len == 0 || resp.data.len > len))
        rc = ERR_INVALID_DATA;
    if (rc == 0 && crc32c(0, resp.data.p, resp.data.len) != resp.crc32c) {
        LOG_WARN("file_copy: %s %s/%s @%llu: chunk CRC32C mismatch, fetching it again", cp->addr,
                 cp->remote_dir, name, (unsigned long long)offset);
        rc = ERR_INVALID_DATA;
    }
    if (rc == 0)
        buf_append(data, resp.data.p, resp.data.len);
    unpacked_free(zone);
    buf_fini(&reply);
    buf_fini(&req);
    return rc;
}

/* Fetches one verified chunk, retrying bad chunks and transport errors. */
static int
fetch_chunk(struct copier *cp, const char *name, uint64_t offset, uint32_t len, struct buf *data)
{
    int rc = 0;

    for (int attempt = 0; attempt <= cp->o.max_retries; attempt++) {
        if (attempt > 0 && rc != ERR_INVALID_DATA)
            clock_sleep_ms(50 << (attempt < 5 ? attempt : 5)); /* transport trouble: back off */
        rc = fetch_once(cp, name, offset, len, data);
        if (rc == 0 || !err_is_retryable(rc))
            break;
    }
    return rc;
}

/* Appends f's bytes from have to its end to fd (and to ctx). */
static int
fetch_rest(struct copier *cp, const struct file_entry *f, int fd, uint64_t have, EVP_MD_CTX *ctx)
{
    struct buf data = BUF_INIT;
    int rc = 0;

    while (rc == 0 && have < f->size) {
        uint64_t left = f->size - have;
        if (cp->o.cancel && atomic_load(cp->o.cancel)) {
            rc = ERR_SHUTDOWN;
            break;
        }
        uint32_t want = left < cp->o.chunk_bytes ? (uint32_t)left : cp->o.chunk_bytes;
        buf_reset(&data);
        rc = fetch_chunk(cp, f->name, have, want, &data);
        if (rc == 0)
            rc = file_pwrite_all(fd, data.data, data.len, have);
        if (rc == 0) {
            ASSERT(EVP_DigestUpdate(ctx, data.data, data.len) == 1);
            have += data.len;
            cp->fetched_bytes += data.len;
        }
    }
    buf_fini(&data);
    return rc;
}

/* One pass over f: keep, continue or (from_scratch) refetch; *match = SHA-256 agrees. */
static int
copy_pass(struct copier *cp, const struct file_entry *f, bool from_scratch, bool *match)
{
    uint8_t sha[32];
    struct stat st;
    uint64_t have;
    EVP_MD_CTX *ctx;
    int rc = 0, fd = openat(cp->dfd, f->name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

    *match = false;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    have = rc == 0 ? (uint64_t)st.st_size : 0;
    if (rc == 0 && (from_scratch || have > f->size)) {
        have = 0;
        rc = ftruncate(fd, 0) == 0 ? 0 : -errno;
    }
    ctx = sha_begin();
    if (rc == 0)
        rc = sha_update_fd(ctx, fd, have);
    if (rc == 0 && have < f->size)
        rc = fetch_rest(cp, f, fd, have, ctx);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    sha_end(ctx, sha);
    close(fd);
    *match = rc == 0 && memcmp(sha, f->sha256, sizeof(sha)) == 0;
    return rc;
}

/* Copies one listed file; a SHA-256 mismatch restarts it from 0 once. */
static int
copy_file(struct copier *cp, const struct file_entry *f)
{
    uint64_t fetched_before = cp->fetched_bytes;
    bool match = false;

    for (int pass = 0; pass < 2; pass++) {
        int rc = copy_pass(cp, f, pass > 0, &match);
        if (rc != 0) {
            LOG_ERROR("file_copy: %s %s/%s -> %s: %s", cp->addr, cp->remote_dir, f->name,
                      cp->local_dir, err_str(rc));
            return rc;
        }
        if (match) {
            cp->kept_files += cp->fetched_bytes == fetched_before;
            return 0;
        }
        LOG_WARN("file_copy: %s/%s: SHA-256 mismatch over the whole file (pass %d)", cp->local_dir,
                 f->name, pass + 1);
    }
    LOG_ERROR("file_copy: %s %s/%s: SHA-256 still wrong after a fresh copy", cp->addr,
              cp->remote_dir, f->name);
    return ERR_INVALID_DATA;
}

/* Copies files of the listing until none is left or a lane failed. Runs on: the caller's
 * thread (lane 0) or the lane's own. */
static void *
lane_run(void *arg)
{
    struct lane *ln = arg;
    unsigned i;

    while (atomic_load(ln->failed) == 0 && (i = atomic_fetch_add(ln->next, 1)) < ln->l->nfiles) {
        int rc = copy_file(&ln->cp, &ln->l->files[i]);
        int none = 0;
        if (rc != 0)
            atomic_compare_exchange_strong(ln->failed, &none, rc);
    }
    return NULL;
}

/* Copies every listed file over o.lanes lanes; 0 or the first error. */
static int
copy_files(struct copier *cp, const struct msg_file_list_resp *l)
{
    int nlanes = cp->o.lanes > 1 ? cp->o.lanes : 1;
    struct lane *lanes = xcalloc((size_t)nlanes, sizeof(*lanes));
    atomic_uint next = 0;
    atomic_int failed = 0;
    int started = 1;

    cp->o.rate_bytes_per_s /= nlanes;
    for (int k = 0; k < nlanes; k++) {
        lanes[k] = (struct lane){*cp, l, &next, &failed, 0};
        if (k > 0)
            lanes[k].cp.c = rpc_client_create_like(cp->c);
    }
    for (int k = 1; k < nlanes && (size_t)k < l->nfiles; k++, started++)
        ASSERT(pthread_create(&lanes[k].thread, NULL, lane_run, &lanes[k]) == 0);
    lane_run(&lanes[0]);
    for (int k = 0; k < nlanes; k++) {
        if (k > 0 && k < started)
            pthread_join(lanes[k].thread, NULL);
        if (k > 0)
            rpc_client_destroy(lanes[k].cp.c);
        cp->fetched_bytes += lanes[k].cp.fetched_bytes;
        cp->kept_files += lanes[k].cp.kept_files;
    }
    xfree(lanes);
    return atomic_load(&failed);
}

/* RPC_FILE_LIST of the remote dir; every name is checked before it is used locally. */
static int
list_remote(struct copier *cp, struct msg_file_list_resp *l)
{
    struct msg_file_list_req q;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int rc;

    memset(l, 0, sizeof(*l));
    snprintf(q.dir, sizeof(q.dir), "%s", cp->remote_dir);
    msg_file_list_req_encode(&req, &q);
    for (int attempt = 0;; attempt++) {
        buf_reset(&reply);
        rc = rpc_call(cp->c, cp->addr, RPC_FILE_LIST, 0, 0, req.data, req.len, cp->o.timeout_ms,
                      &reply);
        if (rc == 0 || rc == ERR_INVALID_DATA || !err_is_retryable(rc) ||
            attempt >= cp->o.max_retries)
            break;
        clock_sleep_ms(50 << (attempt < 5 ? attempt : 5));
    }
    if (rc == 0)
        rc = msg_file_list_resp_decode(reply.data, reply.len, l);
    for (uint32_t i = 0; rc == 0 && i < l->nfiles; i++)
        if (!name_is_valid(l->files[i].name))
            rc = ERR_INVALID_DATA;
    if (rc != 0)
        msg_file_list_resp_fini(l);
    buf_fini(&reply);
    buf_fini(&req);
    return rc;
}

/* Removes the regular files of the local dir that l does not list. */
static int
prune_unlisted(struct copier *cp, const struct msg_file_list_resp *l)
{
    int fd = dup(cp->dfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat st;
        bool listed = false;
        if (e->d_type != DT_REG &&
            (e->d_type != DT_UNKNOWN ||
             fstatat(cp->dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)))
            continue;
        for (uint32_t i = 0; i < l->nfiles && !listed; i++)
            listed = strcmp(l->files[i].name, e->d_name) == 0;
        if (!listed && unlinkat(cp->dfd, e->d_name, 0) != 0)
            rc = -errno;
    }
    closedir(d);
    return rc;
}

int
file_copy_dir(struct rpc_client *c, const char *addr, const char *remote_dir, const char *local_dir,
              const struct file_copy_opts *opts, uint64_t *bytes)
{
    struct copier cp = {c, addr, remote_dir, local_dir, *opts, -1, 0, clock_mono_us(), 0, 0};
    struct msg_file_list_resp l;
    int rc;

    if (cp.o.chunk_bytes == 0)
        cp.o.chunk_bytes = FILE_COPY_DEFAULT_CHUNK;
    if (cp.o.chunk_bytes > FILE_COPY_MAX_CHUNK)
        cp.o.chunk_bytes = FILE_COPY_MAX_CHUNK;
    if (cp.o.timeout_ms <= 0)
        cp.o.timeout_ms = FILE_COPY_DEFAULT_TIMEOUT_MS;
    if (cp.o.max_retries <= 0)
        cp.o.max_retries = FILE_COPY_DEFAULT_RETRIES;
    rc = file_mkdir_p(local_dir);
    if (rc == 0 && (cp.dfd = open(local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = -errno;
    if (rc != 0) {
        LOG_ERROR("file_copy: local dir %s: %s", local_dir, err_str(rc));
        return rc;
    }
    rc = list_remote(&cp, &l);
    if (rc != 0)
        LOG_ERROR("file_copy: list %s on %s: %s", remote_dir, addr, err_str(rc));
    if (rc == 0 && cp.o.prune)
        rc = prune_unlisted(&cp, &l);
    if (rc == 0)
        rc = copy_files(&cp, &l);
    if (rc == 0 && fsync(cp.dfd) != 0)
        rc = -errno;
    if (rc == 0)
        LOG_INFO("file_copy: %s %s -> %s: %u files, %u kept, %llu bytes fetched", addr, remote_dir,
                 local_dir, l.nfiles, cp.kept_files, (unsigned long long)cp.fetched_bytes);
    if (bytes != NULL)
        *bytes = cp.fetched_bytes;
    msg_file_list_resp_fini(&l);
    close(cp.dfd);
    return rc;
}
