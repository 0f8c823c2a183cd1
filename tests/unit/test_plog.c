/*
 * test_plog.c: replica/plog.c on real files in a temp dir: append/commit/replay, reopen,
 * torn and corrupt tails, damage in an older segment, segment roll and gc, decree order.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/failpoint.h"
#include "replica/plog.h"
#include "tests/unit/unit_fs.h"

#define MAXREC 256

static char tmpdir[64];
static char logdir[128];

struct seen {
    int n;
    decree_t d[MAXREC];
    char payload[MAXREC][64];
    size_t len[MAXREC];
    decree_t stop_at; /* the callback returns 7 at this decree; 0 = never */
};

static void
setup(void)
{
    strcpy(tmpdir, "/tmp/geokv-plog-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(logdir, sizeof(logdir), "%s/plog", tmpdir);
}

static void
teardown(void)
{
    unit_rm_rf(tmpdir);
}

TestSuite(plog, .init = setup, .fini = teardown, .timeout = 30);

static int
collect(void *arg, decree_t d, const uint8_t *payload, size_t len)
{
    struct seen *s = arg;

    cr_assert_lt(s->n, MAXREC);
    cr_assert_leq(len, sizeof(s->payload[0]));
    s->d[s->n] = d;
    memcpy(s->payload[s->n], payload, len);
    s->len[s->n] = len;
    s->n++;
    return d == s->stop_at ? 7 : 0;
}

/* The payload of decree d: "rec-<d>" padded to a length that varies with d (0 for d % 7 == 0). */
static size_t
payload_of(decree_t d, char *out)
{
    size_t len = d % 7 == 0 ? 0 : (size_t)(d % 5) * 8 + 8;

    memset(out, 'a' + (int)(d % 26), len);
    if (len > 0)
        snprintf(out, len, "rec-%lld", (long long)d);
    return len;
}

static struct plog *
open_log(size_t segment_bytes, decree_t want_last)
{
    struct plog_opts o = {.segment_bytes = segment_bytes, .fsync_mode = PLOG_FSYNC_ALWAYS};
    struct plog *p = NULL;
    decree_t last = -1;

    cr_assert_eq(plog_open(logdir, &o, &p, &last), 0);
    cr_assert_not_null(p);
    cr_assert_eq(last, want_last, "last decree %lld, want %lld", (long long)last,
                 (long long)want_last);
    cr_assert_eq(plog_last_decree(p), want_last);
    return p;
}

/* Appends decrees [from, to], committing every `group` records. */
static void
append_range(struct plog *p, decree_t from, decree_t to, int group)
{
    char buf[64];

    for (decree_t d = from; d <= to; d++) {
        size_t len = payload_of(d, buf);
        cr_assert_eq(plog_append(p, d, buf, len), 0, "append %lld", (long long)d);
        if ((d - from + 1) % group == 0 || d == to)
            cr_assert_eq(plog_commit(p), 0);
    }
}

/* Replays from `from` and checks the records are exactly (from, to], in order, intact. */
static void
check_replay(struct plog *p, decree_t from, decree_t to)
{
    struct seen *s = calloc(1, sizeof(*s));
    char want[64];

    cr_assert_eq(plog_replay(p, from, collect, s), 0);
    cr_assert_eq(s->n, to - from, "replayed %d records, want %lld", s->n, (long long)(to - from));
    for (int i = 0; i < s->n; i++) {
        decree_t d = from + 1 + i;
        size_t len = payload_of(d, want);
        cr_assert_eq(s->d[i], d);
        cr_assert_eq(s->len[i], len);
        cr_assert(memcmp(s->payload[i], want, len) == 0, "payload of %lld", (long long)d);
    }
    free(s);
}

/* Path of the only (or the last) segment file. */
static void
last_segment(char *out, size_t n)
{
    DIR *d = opendir(logdir);
    struct dirent *e;
    char best[64] = "";

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "log.", 4) == 0 && strlen(e->d_name) == 24 &&
            strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", e->d_name);
    closedir(d);
    cr_assert_neq(best[0], 0, "no segment");
    snprintf(out, n, "%s/%s", logdir, best);
}

static int
count_files(const char *suffix)
{
    DIR *d = opendir(logdir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (strncmp(e->d_name, "log.", 4) == 0 && l >= sl &&
            strcmp(e->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static off_t
file_size(const char *path)
{
    struct stat st;

    cr_assert_eq(stat(path, &st), 0);
    return st.st_size;
}

static void
flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    uint8_t c;

    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x40;
    cr_assert_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* Bytes taken by records (from, to]. */
static off_t
records_bytes(decree_t from, decree_t to)
{
    char buf[64];
    off_t n = 0;

    for (decree_t d = from + 1; d <= to; d++)
        n += 16 + (off_t)payload_of(d, buf);
    return n;
}

Test(plog, append_commit_replay)
{
    struct plog *p = open_log(0, 0);

    cr_assert_eq(plog_first_decree(p), 0);
    append_range(p, 1, 20, 3);
    cr_assert_eq(plog_last_decree(p), 20);
    cr_assert_eq(plog_first_decree(p), 1);
    cr_assert_eq(plog_size_bytes(p), (uint64_t)records_bytes(0, 20));
    check_replay(p, 0, 20);

    /* Appended but not committed: not replayed, not on disk. */
    cr_assert_eq(plog_append(p, 21, "x", 1), 0);
    cr_assert_eq(plog_last_decree(p), 21);
    check_replay(p, 0, 20);
    cr_assert_eq(plog_size_bytes(p), (uint64_t)records_bytes(0, 20));
    plog_close(p); /* commits 21 */

    p = open_log(0, 21);
    plog_close(p);
}

Test(plog, replay_from_middle_and_stop)
{
    struct plog *p = open_log(0, 0);
    struct seen *s = calloc(1, sizeof(*s));

    append_range(p, 1, 10, 10);
    check_replay(p, 6, 10);
    check_replay(p, 10, 10);
    s->stop_at = 4;
    cr_assert_eq(plog_replay(p, 2, collect, s), 7, "the callback's value stops the replay");
    cr_assert_eq(s->n, 2);
    cr_assert_eq(s->d[0], 3);
    cr_assert_eq(s->d[1], 4);
    free(s);
    plog_close(p);
}

Test(plog, reopen_returns_last_decree)
{
    struct plog *p = open_log(0, 0);

    append_range(p, 5, 12, 2);
    plog_close(p);
    p = open_log(0, 12);
    cr_assert_eq(plog_first_decree(p), 5);
    check_replay(p, 4, 12);
    append_range(p, 13, 15, 1);
    plog_close(p);
    p = open_log(0, 15);
    check_replay(p, 4, 15);
    plog_close(p);
}

Test(plog, torn_tail_is_truncated_and_appending_continues)
{
    struct plog *p = open_log(0, 0);
    char seg[256];

    append_range(p, 1, 5, 1);
    plog_close(p);
    last_segment(seg, sizeof(seg));
    cr_assert_eq(file_size(seg), records_bytes(0, 5));
    cr_assert_eq(truncate(seg, records_bytes(0, 5) - 3), 0);

    p = open_log(0, 4);
    cr_assert_eq(file_size(seg), records_bytes(0, 4), "truncated at the last good record");
    check_replay(p, 0, 4);
    append_range(p, 5, 8, 2);
    check_replay(p, 0, 8);
    plog_close(p);

    p = open_log(0, 8);
    check_replay(p, 0, 8);
    plog_close(p);
}

Test(plog, torn_header_and_huge_length_are_dropped)
{
    struct plog *p = open_log(0, 0);
    char seg[256];

    append_range(p, 1, 3, 3);
    plog_close(p);
    last_segment(seg, sizeof(seg));

    /* A header claiming 4 GiB: must be rejected without allocating it. */
    int fd = open(seg, O_WRONLY | O_APPEND);
    uint8_t hdr[16];
    memset(hdr, 0xff, sizeof(hdr));
    cr_assert_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
    close(fd);
    p = open_log(0, 3);
    cr_assert_eq(file_size(seg), records_bytes(0, 3));
    plog_close(p);

    /* Half a header. */
    fd = open(seg, O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, hdr, 7), 7);
    close(fd);
    p = open_log(0, 3);
    cr_assert_eq(file_size(seg), records_bytes(0, 3));
    check_replay(p, 0, 3);
    plog_close(p);
}

Test(plog, bad_crc_in_last_record_is_dropped)
{
    struct plog *p = open_log(0, 0);
    char seg[256];

    append_range(p, 1, 6, 6);
    plog_close(p);
    last_segment(seg, sizeof(seg));
    /* Decree 6 has a non-empty payload; flip its last byte. */
    flip_byte(seg, records_bytes(0, 6) - 1);

    p = open_log(0, 5);
    cr_assert_eq(file_size(seg), records_bytes(0, 5));
    check_replay(p, 0, 5);
    /* A flipped byte in the middle drops everything from that record on. */
    append_range(p, 6, 6, 1);
    plog_close(p);
    flip_byte(seg, records_bytes(0, 3) + 16 + 2);
    p = open_log(0, 3);
    cr_assert_eq(file_size(seg), records_bytes(0, 3));
    check_replay(p, 0, 3);
    plog_close(p);
}

Test(plog, segment_roll_and_gc)
{
    struct plog *p = open_log(100, 0);

    append_range(p, 1, 40, 1);
    int segs = count_files("");
    cr_assert_geq(segs, 8, "small segments roll (%d files)", segs);
    cr_assert_eq(plog_size_bytes(p), (uint64_t)records_bytes(0, 40));
    check_replay(p, 0, 40);

    cr_assert_eq(plog_gc(p, 20), 0);
    decree_t first = plog_first_decree(p);
    cr_assert_gt(first, 1, "old segments removed");
    cr_assert_leq(first, 21, "nothing above the gc point removed");
    cr_assert_lt(count_files(""), segs);
    cr_assert_eq(plog_size_bytes(p), (uint64_t)records_bytes(first - 1, 40));
    check_replay(p, first - 1, 40);
    check_replay(p, 30, 40);

    /* gc never removes the active segment. */
    cr_assert_eq(plog_gc(p, 1000), 0);
    cr_assert_eq(count_files(""), 1);
    decree_t active_first = plog_first_decree(p);
    cr_assert_leq(active_first, 40);
    check_replay(p, active_first - 1, 40);
    append_range(p, 41, 45, 1);
    plog_close(p);

    p = open_log(100, 45);
    cr_assert_eq(plog_first_decree(p), active_first);
    check_replay(p, active_first - 1, 45);
    plog_close(p);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The segment names ("log.<20 digits>"), sorted. */
static int
segment_names(char names[][32], int max)
{
    DIR *d = opendir(logdir);
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "log.", 4) == 0 && strlen(e->d_name) == 24 && n < max)
            snprintf(names[n++], 32, "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, 32, cmp_str);
    return n;
}

Test(plog, damage_in_older_segment_ends_the_log_there)
{
    struct plog *p = open_log(100, 0);
    char names[64][32];
    char seg[256];

    append_range(p, 1, 20, 1);
    plog_close(p);
    int n = segment_names(names, 64);
    cr_assert_geq(n, 4);
    /* Break the CRC of the second record of the second segment. */
    decree_t f = strtoll(names[1] + 4, NULL, 10);
    decree_t next = strtoll(names[2] + 4, NULL, 10);
    cr_assert_gt(next, f + 1, "the second segment holds at least two records");
    snprintf(seg, sizeof(seg), "%s/%s", logdir, names[1]);
    flip_byte(seg, records_bytes(f - 1, f) + 4);

    p = open_log(100, f);
    check_replay(p, 0, f);
    cr_assert_eq(file_size(seg), records_bytes(f - 1, f));
    cr_assert_eq(count_files(".corrupt"), n - 2, "later segments moved aside");
    append_range(p, f + 1, f + 6, 1);
    plog_close(p);
    p = open_log(100, f + 6);
    check_replay(p, 0, f + 6);
    plog_close(p);
}

Test(plog, non_increasing_decree_rejected)
{
    struct plog *p = open_log(0, 0);

    cr_assert_eq(plog_append(p, 5, "a", 1), 0);
    cr_assert_eq(plog_append(p, 5, "b", 1), ERR_INVALID_ARG);
    cr_assert_eq(plog_append(p, 3, "c", 1), ERR_INVALID_ARG);
    cr_assert_eq(plog_append(p, 0, "d", 1), ERR_INVALID_ARG);
    cr_assert_eq(plog_commit(p), 0);
    cr_assert_eq(plog_append(p, 5, "e", 1), ERR_INVALID_ARG);
    cr_assert_eq(plog_append(p, 6, NULL, (64u << 20) + 1), ERR_TOO_LARGE);
    plog_close(p);
    p = open_log(0, 5);
    cr_assert_eq(plog_append(p, 5, "f", 1), ERR_INVALID_ARG);
    cr_assert_eq(plog_append(p, 9, "g", 1), 0);
    cr_assert_eq(plog_commit(p), 0);
    plog_close(p);
}

struct trunc_seen {
    decree_t d[64];
    char first[64];
    int n;
};

static int
trunc_collect(void *arg, decree_t decree, const uint8_t *payload, size_t len)
{
    struct trunc_seen *c = arg;
    c->d[c->n] = decree;
    c->first[c->n++] = len ? (char)payload[0] : 0;
    return 0;
}

Test(plog, truncate_drops_the_tail_across_segments, .timeout = 30)
{
    char dir[] = "/tmp/geokv-plog-trunc-XXXXXX";
    struct plog_opts o = {.segment_bytes = 64, .fsync_mode = PLOG_FSYNC_ALWAYS};
    struct plog *p;
    struct trunc_seen c = {0};
    decree_t last;
    char sub[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/plog", dir);
    cr_assert_eq(plog_open(sub, &o, &p, &last), 0);
    for (decree_t d = 1; d <= 20; d++) {
        cr_assert_eq(plog_append(p, d, "aaaaaaaaaaaaaaaaaaaa", 20), 0);
        cr_assert_eq(plog_commit(p), 0);
    }
    cr_assert_eq(plog_truncate(p, 12), 0);
    cr_assert_eq(plog_last_decree(p), 12);
    /* a re-proposal of 13.. with other content, then a reopen: the new records win */
    for (decree_t d = 13; d <= 15; d++)
        cr_assert_eq(plog_append(p, d, "bbbb", 4), 0);
    cr_assert_eq(plog_commit(p), 0);
    plog_close(p);
    cr_assert_eq(plog_open(sub, &o, &p, &last), 0);
    cr_assert_eq(last, 15);
    cr_assert_eq(plog_replay(p, 10, trunc_collect, &c), 0);
    cr_assert_eq(c.n, 5);
    cr_assert_eq(c.d[0], 11);
    cr_assert_eq(c.d[4], 15);
    cr_assert_eq(c.first[1], 'a'); /* 12 kept */
    cr_assert_eq(c.first[2], 'b'); /* 13 replaced */
    /* truncating everything leaves an empty plog that accepts the next decree */
    cr_assert_eq(plog_truncate(p, 0), 0);
    cr_assert_eq(plog_append(p, 1, "c", 1), 0);
    cr_assert_eq(plog_commit(p), 0);
    plog_close(p);
    cr_assert_eq(plog_open(sub, &o, &p, &last), 0);
    cr_assert_eq(last, 1);
    plog_close(p);
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
    }
}

/* A failed fsync is never forgotten: the commit that hit it fails, every later commit fails
 * with the same error (a retried fsync could succeed without the lost pages), and a reopen
 * starts over from what is on disk. */
Test(plog, failed_fsync_is_sticky)
{
    struct plog *p = open_log(0, 0);

    append_range(p, 1, 5, 5);
    cr_assert_eq(failpoint_configure("plog_fsync_error=1"), 0);
    cr_assert_eq(plog_append(p, 6, "x", 1), 0);
    cr_assert_eq(plog_commit(p), -EIO);
    cr_assert_eq(plog_broken(p), -EIO);
    cr_assert_eq(failpoint_configure(NULL), 0);
    cr_assert_eq(plog_commit(p), -EIO, "the next commit must not report success");
    cr_assert_eq(plog_append(p, 7, "y", 1), 0);
    cr_assert_eq(plog_commit(p), -EIO);
    cr_assert_eq(plog_sync_if_due(p), -EIO);
    plog_close(p);

    /* 6 was written before its fsync failed and is read back (never acknowledged: keeping
     * it is harmless); 7 was never written */
    p = open_log(0, 6);
    cr_assert_eq(plog_broken(p), 0);
    cr_assert_eq(plog_append(p, 7, "y", 1), 0);
    cr_assert_eq(plog_commit(p), 0);
    plog_close(p);
}
