/*
 * plog.c: a partition's write-ahead log (the plog.h API).
 *
 * On disk: a directory of segment files named "log.<first decree, 20 digits>", each a sequence
 * of records, all big-endian:
 *
 *     [u32 payload_len][u32 crc32c(decree bytes + payload)][u64 decree][payload]
 *
 * payload_len is at most PLOG_MAX_PAYLOAD (64 MiB). Decrees are strictly increasing inside a
 * segment and across segments, and the first record of a segment carries the decree in its name.
 *
 * Write path: plog_append encodes records into p->pending; plog_commit writes all of it to the
 * active (last) segment with one pwrite loop, then fdatasyncs per the fsync mode (group commit).
 * A commit first rolls to a new segment, named after the first pending decree, when the active
 * one has reached segment_bytes. A failed write truncates the segment back to its last good size
 * and keeps the records pending, so a later commit retries them.
 *
 * Open: every segment is scanned in name order. A torn or corrupt record truncates its segment
 * at the last good record. In the last segment that is an expected crash artefact (LOG_WARN);
 * in an older one it is damage (LOG_ERROR): the later segments are renamed to "<name>.corrupt"
 * (kept for inspection, ignored by later opens) so the plog again ends at the last good decree.
 * Empty segments are removed.
 *
 * Durability failures are sticky: once an fsync (or a truncate, which rewrites what is durable)
 * fails, the kernel may have dropped the dirty pages and a later fsync would succeed without
 * them, so nothing the plog says is durable can be trusted any more. Every later call fails
 * with the first error (plog_broken); the owner stops, and a reopen syncs every segment again.
 *
 * Invariants: segs[] is in decree order and every entry holds at least one record; when
 * nsegs > 0, fd is open for writing on segs[nsegs - 1] (the active segment); last_decree is
 * the last decree appended (committed or pending).
 *
 * Thread: one owner thread per plog (plog.h); nothing here is shared.
 */
#include "replica/plog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/failpoint.h"
#include "common/file.h"
#include "common/log.h"
#include "common/xmalloc.h"

#define PLOG_HEADER 16u
#define PLOG_MAX_PAYLOAD (64u << 20)
#define PLOG_DEFAULT_SEGMENT (64u << 20)
#define PLOG_READ_CHUNK (1u << 20)
#define PLOG_NAME_PREFIX "log."
#define PLOG_NAME_DIGITS 20

struct plog_seg {
    decree_t first, last;
    uint64_t size; /* committed bytes */
};

struct plog {
    char *dir;
    struct plog_opts opts;
    struct plog_seg *segs;
    size_t nsegs, cap;
    int fd; /* active segment, -1 if none */
    struct buf pending;
    decree_t pending_first; /* 0 if nothing pending */
    decree_t last_decree;
    int64_t dirty_since_ms; /* first unsynced write (PLOG_FSYNC_INTERVAL); 0 = clean */
    int broken;             /* the first durability failure (sticky), 0 if none */
};

/* A buffered reader over the first `size` bytes of one segment. */
struct seg_reader {
    int fd;
    uint64_t size;
    uint64_t off; /* file offset of buf[start] */
    uint8_t *buf;
    size_t cap, start, end;
};

/* ---------------------------------------------------------------- small helpers */

/* Records a durability failure (see the top of the file) and returns it. */
static int
set_broken(struct plog *p, int rc, const char *what)
{
    if (p->broken == 0) {
        p->broken = rc;
        LOG_ERROR("plog %s: %s failed: %s; the log is unusable until it is reopened", p->dir, what,
                  err_str(rc));
    }
    return rc;
}

/* fdatasync, or the failure the plog_fsync_error fail point injects. */
static int
data_sync(int fd)
{
    if (FAIL_POINT("plog_fsync_error"))
        return -EIO;
    return fdatasync(fd) == 0 ? 0 : -errno;
}

static char *
seg_path(const struct plog *p, decree_t first)
{
    size_t n = strlen(p->dir) + sizeof("/" PLOG_NAME_PREFIX) + PLOG_NAME_DIGITS + 1;
    char *path = xmalloc(n);

    snprintf(path, n, "%s/" PLOG_NAME_PREFIX "%020" PRId64, p->dir, (int64_t)first);
    return path;
}

/* Parses "log.<20 digits>"; false for any other name. */
static bool
parse_seg_name(const char *name, decree_t *first)
{
    size_t plen = strlen(PLOG_NAME_PREFIX);

    if (strncmp(name, PLOG_NAME_PREFIX, plen) != 0 || strlen(name) != plen + PLOG_NAME_DIGITS)
        return false;
    for (const char *c = name + plen; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    *first = (decree_t)strtoll(name + plen, NULL, 10);
    return *first > 0;
}

static int
cmp_decree(const void *a, const void *b)
{
    decree_t x = *(const decree_t *)a, y = *(const decree_t *)b;

    return x < y ? -1 : x > y;
}

static void
segs_push(struct plog *p, const struct plog_seg *seg)
{
    if (p->nsegs == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->segs = xrealloc(p->segs, p->cap * sizeof(*p->segs));
    }
    p->segs[p->nsegs++] = *seg;
}

/* ---------------------------------------------------------------- record reader */

/* Makes at least n bytes (n <= bytes left in the file) available at buf[start]. */
static int
reader_fill(struct seg_reader *r, size_t n)
{
    if (r->end - r->start >= n)
        return 0;
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
    if (r->cap < n) {
        r->cap = n;
        r->buf = xrealloc(r->buf, r->cap);
    }
    while (r->end < n) {
        uint64_t at = r->off + r->end;
        size_t want = r->cap - r->end;
        if (want > r->size - at)
            want = (size_t)(r->size - at);
        ssize_t got = pread(r->fd, r->buf + r->end, want, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return ERR_IO; /* the file shrank under us */
        r->end += (size_t)got;
    }
    return 0;
}

/*
 * Reads the next record. Returns 1 with the record (payload borrowed until the next call),
 * 0 at a clean end, ERR_INVALID_DATA with *why set for a torn or corrupt record (the reader
 * stays at its start: r->off), or -errno.
 */
static int
reader_next(struct seg_reader *r, decree_t *decree, const uint8_t **payload, size_t *len,
            const char **why)
{
    uint64_t left = r->size - r->off;
    int rc;

    if (left == 0)
        return 0;
    *why = "torn header";
    if (left < PLOG_HEADER)
        return ERR_INVALID_DATA;
    rc = reader_fill(r, PLOG_HEADER);
    if (rc != 0)
        return rc;
    const uint8_t *h = r->buf + r->start;
    uint32_t plen = be32_load(h);
    *why = plen > PLOG_MAX_PAYLOAD ? "payload length too large" : "torn record";
    if (plen > PLOG_MAX_PAYLOAD || PLOG_HEADER + plen > left)
        return ERR_INVALID_DATA;
    rc = reader_fill(r, PLOG_HEADER + plen);
    if (rc != 0)
        return rc;
    h = r->buf + r->start;
    *why = "bad crc";
    if (crc32c(crc32c(0, h + 8, 8), h + PLOG_HEADER, plen) != be32_load(h + 4))
        return ERR_INVALID_DATA;
    *decree = (decree_t)be64_load(h + 8);
    *payload = h + PLOG_HEADER;
    *len = plen;
    r->start += PLOG_HEADER + plen;
    r->off += PLOG_HEADER + plen;
    return 1;
}

static void
reader_init(struct seg_reader *r, int fd, uint64_t size)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->size = size;
    r->cap = PLOG_READ_CHUNK;
    r->buf = xmalloc(r->cap);
}

/* ---------------------------------------------------------------- open: scan */

/* Lists the segment names in dir, sorted. Caller frees *firsts. */
static int
list_segments(const char *dir, decree_t **firsts, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    decree_t first;

    *firsts = NULL;
    *n = 0;
    if (d == NULL)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        if (!parse_seg_name(e->d_name, &first))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *firsts = xrealloc(*firsts, cap * sizeof(**firsts));
        }
        (*firsts)[(*n)++] = first;
    }
    closedir(d);
    qsort(*firsts, *n, sizeof(**firsts), cmp_decree);
    return 0;
}

/*
 * Scans one segment whose name says `first`; records must follow prev_last. Fills seg with
 * the good prefix. Returns 0 if the whole file is good, 1 if it has a bad record at seg->size
 * (*why set, *file_size = full size), or -errno.
 */
static int
scan_segment(int fd, decree_t first, decree_t prev_last, struct plog_seg *seg, uint64_t *file_size,
             const char **why)
{
    struct stat st;
    struct seg_reader r;
    const uint8_t *payload;
    size_t len;
    decree_t d;
    int rc;

    seg->first = first;
    seg->last = prev_last;
    seg->size = 0;
    if (fstat(fd, &st) != 0)
        return -errno;
    *file_size = (uint64_t)st.st_size;
    reader_init(&r, fd, *file_size);
    while ((rc = reader_next(&r, &d, &payload, &len, why)) == 1) {
        if (seg->size == 0 && d != first) {
            *why = "first decree does not match the segment name";
            rc = ERR_INVALID_DATA;
            break;
        }
        if (d <= seg->last) {
            *why = "decree not increasing";
            rc = ERR_INVALID_DATA;
            break;
        }
        seg->last = d;
        seg->size = r.off;
    }
    xfree(r.buf);
    if (rc == ERR_INVALID_DATA)
        return 1;
    return rc;
}

/* Renames the segments after a damaged one out of the way, so the plog ends at the damage. */
static void
quarantine_after(struct plog *p, const decree_t *firsts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *path = seg_path(p, firsts[i]);
        size_t len = strlen(path) + sizeof(".corrupt");
        char *to = xmalloc(len);
        snprintf(to, len, "%s.corrupt", path);
        if (rename(path, to) != 0)
            LOG_ERROR("plog %s: rename to %s: %s", path, to, strerror(errno));
        else
            LOG_ERROR("plog %s: moved aside to %s (follows a damaged segment)", path, to);
        xfree(to);
        xfree(path);
    }
}

/* Cuts a segment back to its good prefix and reports it. `older` = not the last segment. */
static int
truncate_bad_tail(const char *path, int fd, const struct plog_seg *seg, uint64_t file_size,
                  const char *why, bool older)
{
    if (older)
        LOG_ERROR("plog %s: corrupt record at offset %" PRIu64 " (%s) in an older segment, "
                  "dropped %" PRIu64 " bytes; the plog now ends at decree %" PRId64,
                  path, seg->size, why, file_size - seg->size, (int64_t)seg->last);
    else
        LOG_WARN("plog %s: corrupt record at offset %" PRIu64 " (%s), dropped %" PRIu64 " bytes",
                 path, seg->size, why, file_size - seg->size);
    if (ftruncate(fd, (off_t)seg->size) != 0 || fdatasync(fd) != 0) {
        int rc = -errno;
        LOG_ERROR("plog %s: truncate to %" PRIu64 ": %s", path, seg->size, strerror(-rc));
        return rc;
    }
    return 0;
}

/* Scans segment i of firsts[]; appends it to p->segs if it holds records. 1 = stop here. */
static int
open_one_segment(struct plog *p, const decree_t *firsts, size_t i, size_t n)
{
    char *path = seg_path(p, firsts[i]);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct plog_seg seg;
    uint64_t file_size = 0;
    const char *why = NULL;
    int rc;

    if (fd < 0) {
        rc = -errno;
        LOG_ERROR("plog %s: open: %s", path, strerror(-rc));
        goto out_free;
    }
    rc = scan_segment(fd, firsts[i], p->last_decree, &seg, &file_size, &why);
    if (rc < 0) {
        LOG_ERROR("plog %s: read: %s", path, err_str(rc));
        goto out_close;
    }
    if (rc == 1) {
        int trc = truncate_bad_tail(path, fd, &seg, file_size, why, i + 1 < n);
        if (trc != 0) {
            rc = trc;
            goto out_close;
        }
        quarantine_after(p, firsts + i + 1, n - i - 1);
    }
    if (seg.size > 0 && p->opts.fsync_mode != PLOG_FSYNC_NEVER) {
        /* what is read back must be on disk: an earlier process may have stopped on a failed
         * fsync, its records left only in the page cache */
        int src = data_sync(fd);
        if (src != 0) {
            LOG_ERROR("plog %s: fdatasync at open: %s", path, err_str(src));
            rc = src;
            goto out_close;
        }
    }
    if (seg.size == 0) {
        if (unlink(path) != 0)
            LOG_WARN("plog %s: unlink empty segment: %s", path, strerror(errno));
    } else {
        segs_push(p, &seg);
        p->last_decree = seg.last;
    }
out_close:
    close(fd);
out_free:
    xfree(path);
    return rc;
}

/* Opens the last segment for appending (the invariant: fd is on segs[nsegs - 1]). */
static int
open_active(struct plog *p, int flags)
{
    char *path = seg_path(p, p->segs[p->nsegs - 1].first);
    int rc = 0;

    p->fd = open(path, O_WRONLY | O_CLOEXEC | flags, 0644);
    if (p->fd < 0) {
        rc = -errno;
        LOG_ERROR("plog %s: open for writing: %s", path, strerror(-rc));
    }
    xfree(path);
    return rc;
}

static int
scan_all(struct plog *p)
{
    decree_t *firsts;
    size_t n;
    int rc = list_segments(p->dir, &firsts, &n);

    if (rc != 0) {
        LOG_ERROR("plog %s: list: %s", p->dir, strerror(-rc));
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        rc = open_one_segment(p, firsts, i, n);
        if (rc != 0)
            break;
    }
    xfree(firsts);
    if (rc < 0)
        return rc;
    return p->nsegs > 0 ? open_active(p, 0) : 0;
}

int
plog_open(const char *dir, const struct plog_opts *opts, struct plog **out,
          decree_t *last_decree_out)
{
    struct plog *p = xcalloc(1, sizeof(*p));
    int rc;

    *out = NULL;
    *last_decree_out = 0;
    p->dir = xstrdup(dir);
    p->fd = -1;
    if (opts != NULL)
        p->opts = *opts;
    if (p->opts.segment_bytes == 0)
        p->opts.segment_bytes = PLOG_DEFAULT_SEGMENT;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        rc = -errno;
        LOG_ERROR("plog %s: mkdir: %s", dir, strerror(-rc));
        goto out_free;
    }
    rc = scan_all(p);
    if (rc != 0)
        goto out_free;
    *out = p;
    *last_decree_out = p->last_decree;
    return 0;

out_free:
    if (p->fd >= 0)
        close(p->fd);
    xfree(p->segs);
    xfree(p->dir);
    xfree(p);
    return rc;
}

/* ---------------------------------------------------------------- append and commit */

int
plog_append(struct plog *p, decree_t decree, const void *payload, size_t len)
{
    uint8_t db[8];
    uint32_t crc;

    if (decree <= p->last_decree)
        return ERR_INVALID_ARG;
    if (len > PLOG_MAX_PAYLOAD)
        return ERR_TOO_LARGE;
    be64_store(db, (uint64_t)decree);
    crc = crc32c(crc32c(0, db, sizeof(db)), payload, len);
    buf_reserve(&p->pending, PLOG_HEADER + len);
    buf_append_be32(&p->pending, (uint32_t)len);
    buf_append_be32(&p->pending, crc);
    buf_append(&p->pending, db, sizeof(db));
    buf_append(&p->pending, payload, len);
    if (p->pending_first == 0)
        p->pending_first = decree;
    p->last_decree = decree;
    return 0;
}

static int
sync_active(struct plog *p)
{
    int rc;
    if (p->fd < 0 || p->dirty_since_ms == 0)
        return 0;
    rc = data_sync(p->fd);
    if (rc != 0)
        return set_broken(p, rc, "fdatasync");
    p->dirty_since_ms = 0;
    return 0;
}

/* Closes the active segment (synced unless the mode is NEVER) and creates the next one, named
 * after the first pending decree. */
static int
roll_segment(struct plog *p)
{
    struct plog_seg seg = {p->pending_first, p->pending_first - 1, 0};
    int rc;

    if (p->fd >= 0) {
        rc = p->opts.fsync_mode == PLOG_FSYNC_NEVER ? 0 : sync_active(p);
        if (rc != 0)
            return rc;
        close(p->fd);
        p->fd = -1;
        p->dirty_since_ms = 0;
    }
    segs_push(p, &seg);
    rc = open_active(p, O_CREAT | O_EXCL);
    if (rc != 0)
        goto out_pop;
    if (p->opts.fsync_mode != PLOG_FSYNC_NEVER) {
        rc = file_sync_path(p->dir, O_RDONLY | O_DIRECTORY);
        if (rc != 0)
            goto out_unlink;
    }
    return 0;

out_unlink:
    (void)set_broken(p, rc, "fsync of the directory");
    close(p->fd);
    p->fd = -1;
    {
        char *path = seg_path(p, seg.first);
        (void)unlink(path); /* empty; a leftover would be removed by the next open anyway */
        xfree(path);
    }
out_pop:
    p->nsegs--;
    return rc;
}

/* Writes the pending records to the active segment; on failure cuts it back. */
static int
write_pending(struct plog *p)
{
    struct plog_seg *seg = &p->segs[p->nsegs - 1];
    int rc = file_pwrite_all(p->fd, p->pending.data, p->pending.len, seg->size);

    if (rc != 0) {
        LOG_ERROR("plog %s: write %zu bytes at segment %" PRId64 " offset %" PRIu64 ": %s", p->dir,
                  p->pending.len, (int64_t)seg->first, seg->size, strerror(-rc));
        if (ftruncate(p->fd, (off_t)seg->size) != 0)
            LOG_ERROR("plog %s: truncate after failed write: %s", p->dir, strerror(errno));
        return rc;
    }
    seg->size += p->pending.len;
    seg->last = p->last_decree;
    buf_reset(&p->pending);
    p->pending_first = 0;
    if (p->dirty_since_ms == 0)
        p->dirty_since_ms = clock_mono_ms();
    return 0;
}

int
plog_commit(struct plog *p)
{
    int rc;

    if (p->broken)
        return p->broken;
    if (p->pending.len == 0)
        return 0;
    if (p->nsegs == 0 || p->segs[p->nsegs - 1].size >= p->opts.segment_bytes) {
        rc = roll_segment(p);
        if (rc != 0)
            return rc;
    }
    rc = write_pending(p);
    if (rc != 0)
        return rc;
    switch (p->opts.fsync_mode) {
    case PLOG_FSYNC_ALWAYS: return sync_active(p);
    case PLOG_FSYNC_INTERVAL: return plog_sync_if_due(p);
    default: return 0;
    }
}

int
plog_sync_if_due(struct plog *p)
{
    if (p->broken)
        return p->broken;
    if (p->dirty_since_ms == 0 || p->opts.fsync_mode == PLOG_FSYNC_NEVER)
        return 0;
    if (p->opts.fsync_mode == PLOG_FSYNC_INTERVAL &&
        clock_mono_ms() - p->dirty_since_ms < p->opts.fsync_interval_ms)
        return 0;
    return sync_active(p);
}

void
plog_close(struct plog *p)
{
    if (p == NULL)
        return;
    if (plog_commit(p) != 0)
        LOG_ERROR("plog %s: close: %zu pending bytes lost", p->dir, p->pending.len);
    if (p->opts.fsync_mode != PLOG_FSYNC_NEVER)
        (void)sync_active(p); /* logged inside */
    plog_abandon(p);
}

void
plog_abandon(struct plog *p)
{
    if (p == NULL)
        return;
    if (p->fd >= 0)
        close(p->fd);
    buf_fini(&p->pending);
    xfree(p->segs);
    xfree(p->dir);
    xfree(p);
}

/* ---------------------------------------------------------------- queries, replay, gc */

decree_t
plog_last_decree(const struct plog *p)
{
    return p->last_decree;
}

decree_t
plog_first_decree(const struct plog *p)
{
    if (p->nsegs > 0)
        return p->segs[0].first;
    return p->pending_first;
}

uint64_t
plog_size_bytes(const struct plog *p)
{
    uint64_t total = 0;

    for (size_t i = 0; i < p->nsegs; i++)
        total += p->segs[i].size;
    return total;
}

/* Replays the committed records of one segment with decree > from. */
static int
replay_segment(struct plog *p, const struct plog_seg *seg, decree_t from, plog_replay_cb *cb,
               void *arg)
{
    char *path = seg_path(p, seg->first);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct seg_reader r;
    const uint8_t *payload;
    const char *why = NULL;
    size_t len;
    decree_t d;
    int rc, stop = 0;

    if (fd < 0) {
        rc = -errno;
        LOG_ERROR("plog %s: open for replay: %s", path, strerror(-rc));
        xfree(path);
        return rc;
    }
    reader_init(&r, fd, seg->size);
    while ((rc = reader_next(&r, &d, &payload, &len, &why)) == 1) {
        if (d <= from)
            continue;
        stop = cb(arg, d, payload, len);
        if (stop != 0)
            break;
    }
    if (stop != 0)
        rc = stop;
    else if (rc == ERR_INVALID_DATA)
        LOG_ERROR("plog %s: replay: bad record at offset %" PRIu64 " (%s)", path, r.off, why);
    else if (rc != 0)
        LOG_ERROR("plog %s: replay: %s", path, err_str(rc));
    xfree(r.buf);
    close(fd);
    xfree(path);
    return rc;
}

int
plog_replay(struct plog *p, decree_t from, plog_replay_cb *cb, void *arg)
{
    for (size_t i = 0; i < p->nsegs; i++) {
        if (p->segs[i].last <= from)
            continue;
        int rc = replay_segment(p, &p->segs[i], from, cb, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Offset of the first record with decree > after in the segment (its size if none). */
static int
seg_cut_offset(struct plog *p, const struct plog_seg *seg, decree_t after, uint64_t *off,
               decree_t *last)
{
    char *path = seg_path(p, seg->first);
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    struct seg_reader r;
    const uint8_t *payload;
    const char *why;
    size_t len;
    decree_t d;

    xfree(path);
    if (fd < 0)
        return -errno;
    reader_init(&r, fd, seg->size);
    *off = 0;
    *last = seg->first - 1;
    while ((rc = reader_next(&r, &d, &payload, &len, &why)) == 1 && d <= after) {
        *off = r.off;
        *last = d;
    }
    xfree(r.buf);
    close(fd);
    return rc < 0 && rc != ERR_INVALID_DATA ? rc : 0;
}

int
plog_truncate(struct plog *p, decree_t after)
{
    int rc = plog_commit(p);
    if (rc != 0 || after >= p->last_decree)
        return rc;
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    while (p->nsegs > 0 && p->segs[p->nsegs - 1].first > after) {
        char *path = seg_path(p, p->segs[--p->nsegs].first);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = -errno;
        xfree(path);
    }
    if (rc == 0 && p->nsegs > 0) {
        struct plog_seg *seg = &p->segs[p->nsegs - 1];
        uint64_t off = 0;
        decree_t last = 0;
        rc = seg_cut_offset(p, seg, after, &off, &last);
        if (rc == 0 && off < seg->size) {
            char *path = seg_path(p, seg->first);
            if (truncate(path, (off_t)off) != 0)
                rc = -errno;
            xfree(path);
            seg->size = off;
            seg->last = last;
        }
        if (rc == 0)
            rc = open_active(p, 0);
        if (rc == 0)
            rc = data_sync(p->fd);
    }
    if (rc == 0 && p->opts.fsync_mode != PLOG_FSYNC_NEVER)
        rc = file_sync_path(p->dir, O_RDONLY | O_DIRECTORY);
    p->last_decree = after;
    return rc != 0 ? set_broken(p, rc, "truncate") : 0;
}

int
plog_broken(const struct plog *p)
{
    return p->broken;
}

int
plog_gc(struct plog *p, decree_t upto)
{
    size_t done = 0;
    int rc = 0;

    /* Never the active (last) segment. */
    while (done + 1 < p->nsegs && p->segs[done].last <= upto) {
        char *path = seg_path(p, p->segs[done].first);
        if (unlink(path) != 0 && errno != ENOENT) {
            rc = -errno;
            LOG_ERROR("plog %s: gc unlink: %s", path, strerror(-rc));
            xfree(path);
            break;
        }
        LOG_DEBUG("plog %s: gc removed (last decree %" PRId64 ")", path,
                  (int64_t)p->segs[done].last);
        xfree(path);
        done++;
    }
    memmove(p->segs, p->segs + done, (p->nsegs - done) * sizeof(*p->segs));
    p->nsegs -= done;
    return rc;
}
