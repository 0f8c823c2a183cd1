/*
 * test_storage.c: storage.h on an engine (STORAGE_ENGINE: storage_rocksdb, a real RocksDB in a
 * temp dir; or storage_mem, its in-memory twin, which must behave the same): key encoding,
 * records and tombstones, TTL and tombstone compaction, the last applied decree across
 * reopen (with and without flush, WAL off), iterator order, checkpoints.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/xmalloc.h"
#include "replica/storage.h"
#include "tests/unit/unit_fs.h"

#ifndef STORAGE_ENGINE
#define STORAGE_ENGINE storage_rocksdb
#endif

static char tmpdir[64];
static char dbdir[128];

static void
setup(void)
{
    strcpy(tmpdir, "/tmp/geokv-storage-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    snprintf(dbdir, sizeof(dbdir), "%s/db", tmpdir);
}

static void
teardown(void)
{
    unit_rm_rf(tmpdir);
}

static struct storage *
open_db(const char *dir, uint32_t tombstone_ttl_s)
{
    struct storage_opts o = {.engine = &STORAGE_ENGINE, .tombstone_ttl_s = tombstone_ttl_s};
    struct storage *s = NULL;

    cr_assert_eq(storage_open(dir, &o, &s), 0, "open %s", dir);
    cr_assert_not_null(s);
    return s;
}

/* Applies one set of (hk, sk) = value with the given decree. */
static void
put1(struct storage *s, const char *hk, const char *sk, const char *val, uint32_t expire,
     uint64_t timetag, decree_t d)
{
    struct storage_batch *b = storage_batch_create();

    storage_batch_put(b, hk, strlen(hk), sk, strlen(sk), expire, timetag, val,
                      val ? strlen(val) : 0);
    cr_assert_eq(storage_apply(s, b, d), 0);
    storage_batch_destroy(b);
}

/* Returns the rc of storage_get; on success checks the value when want != NULL. */
static int
get1(struct storage *s, const char *hk, const char *sk, const char *want,
     struct storage_record *rec)
{
    int rc = storage_get(s, hk, strlen(hk), sk, strlen(sk), rec);

    if (rc == 0 && want != NULL) {
        cr_assert_eq(rec->vlen, strlen(want));
        cr_assert(memcmp(rec->value, want, rec->vlen) == 0, "value of %s/%s", hk, sk);
    }
    return rc;
}

static uint64_t
tt_now(int deleted)
{
    return timetag_make((uint64_t)clock_wall_us(), 1, deleted);
}

TestSuite(storage, .init = setup, .fini = teardown, .timeout = 30);

Test(storage, key_encode_decode_round_trip)
{
    static const struct {
        const char *hk, *sk;
        size_t hl, sl;
    } cases[] = {{"user1", "name", 5, 4},
                 {"", "only-sort", 0, 9},
                 {"h", "", 1, 0},
                 {"", "", 0, 0},
                 {"a\0b", "\0\xff", 3, 2}};
    const uint8_t *hk, *sk;
    size_t hl, sl;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf k = BUF_INIT;
        storage_key_encode(&k, cases[i].hk, cases[i].hl, cases[i].sk, cases[i].sl);
        cr_assert_eq(k.len, 2 + cases[i].hl + cases[i].sl);
        cr_assert_eq(storage_key_decode(k.data, k.len, &hk, &hl, &sk, &sl), 0);
        cr_assert_eq(hl, cases[i].hl, "case %zu", i);
        cr_assert_eq(sl, cases[i].sl, "case %zu", i);
        cr_assert(memcmp(hk, cases[i].hk, hl) == 0 && memcmp(sk, cases[i].sk, sl) == 0);
        buf_fini(&k);
    }

    /* The longest hash_key. */
    uint8_t *big = xmalloc(GEOKV_MAX_HASH_KEY);
    memset(big, 0xab, GEOKV_MAX_HASH_KEY);
    struct buf k = BUF_INIT;
    storage_key_encode(&k, big, GEOKV_MAX_HASH_KEY, "s", 1);
    cr_assert_eq(storage_key_decode(k.data, k.len, &hk, &hl, &sk, &sl), 0);
    cr_assert_eq(hl, GEOKV_MAX_HASH_KEY);
    cr_assert(memcmp(hk, big, hl) == 0);
    cr_assert_eq(sl, 1);
    cr_assert_eq(sk[0], 's');
    /* Truncated keys and the internal key are not user keys. */
    cr_assert_eq(storage_key_decode(k.data, 100, &hk, &hl, &sk, &sl), ERR_INVALID_DATA);
    cr_assert_eq(storage_key_decode((const uint8_t *)"\x00", 1, &hk, &hl, &sk, &sl),
                 ERR_INVALID_DATA);
    buf_fini(&k);

    /* prefix_end: above every key of the hash_key, below the next hash_key. */
    struct buf end = BUF_INIT, in = BUF_INIT, next = BUF_INIT;
    storage_key_prefix_end(&end, "ab", 2);
    storage_key_encode(&in, "ab", 2, "\xff\xff\xff", 3);
    storage_key_encode(&next, "ac", 2, "", 0);
    cr_assert(memcmp(in.data, end.data, end.len) < 0);
    cr_assert_eq(end.len, next.len);
    cr_assert(memcmp(end.data, next.data, end.len) <= 0);
    buf_reset(&end);
    memset(big, 0xff, GEOKV_MAX_HASH_KEY);
    storage_key_prefix_end(&end, big, GEOKV_MAX_HASH_KEY);
    cr_assert_eq(end.len, 0, "no key follows the all-0xff longest hash_key");
    buf_fini(&end);
    buf_fini(&in);
    buf_fini(&next);
    xfree(big);
}

Test(storage, put_get_and_decree_order)
{
    struct storage *s = open_db(dbdir, 0);
    struct storage_record rec;
    uint64_t tt = tt_now(0);

    cr_assert_eq(storage_last_applied(s), 0);
    struct storage_batch *b = storage_batch_create();
    storage_batch_put(b, "h1", 2, "s1", 2, 0, tt, "v1", 2);
    storage_batch_put(b, "h1", 2, "s2", 2, 12345, tt + 256, "value-two", 9);
    cr_assert_eq(storage_apply(s, b, 7), 0);
    cr_assert_eq(storage_last_applied(s), 7);
    /* Decrees must grow; a rejected apply writes nothing. */
    storage_batch_clear(b);
    storage_batch_put(b, "h1", 2, "s3", 2, 0, tt, "v3", 2);
    cr_assert_eq(storage_apply(s, b, 7), ERR_INVALID_ARG);
    cr_assert_eq(storage_apply(s, b, 3), ERR_INVALID_ARG);
    cr_assert_eq(get1(s, "h1", "s3", NULL, &rec), ERR_NOT_FOUND);
    /* The batch is unchanged by apply (the decree key is not left in it): reuse it. */
    cr_assert_eq(storage_apply(s, b, 8), 0);
    storage_batch_destroy(b);

    cr_assert_eq(get1(s, "h1", "s1", "v1", &rec), 0);
    cr_assert_eq(rec.expire_ts, 0);
    cr_assert_eq(rec.timetag, tt);
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h1", "s2", "value-two", &rec), 0);
    cr_assert_eq(rec.expire_ts, 12345);
    cr_assert_eq(rec.timetag, tt + 256);
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h1", "s3", "v3", &rec), 0);
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h1", "nope", NULL, &rec), ERR_NOT_FOUND);
    cr_assert_eq(get1(s, "h2", "s1", NULL, &rec), ERR_NOT_FOUND);
    cr_assert_eq(storage_last_applied(s), 8);
    storage_close(s);
}

Test(storage, tombstone_and_expiry_visibility)
{
    struct storage *s = open_db(dbdir, 0);
    struct storage_record rec;
    uint32_t now = (uint32_t)clock_wall_s();

    put1(s, "h", "live", "x", 0, tt_now(0), 1);
    put1(s, "h", "gone", NULL, 0, tt_now(1), 2);
    put1(s, "h", "old", "y", now - 10, tt_now(0), 3);
    put1(s, "h", "later", "z", now + 3600, tt_now(0), 4);

    cr_assert_eq(get1(s, "h", "live", "x", &rec), 0);
    cr_assert(storage_record_visible(&rec, now));
    storage_record_fini(&rec);

    cr_assert_eq(get1(s, "h", "gone", "", &rec), 0, "get returns the tombstone");
    cr_assert(timetag_deleted(rec.timetag));
    cr_assert_not(storage_record_visible(&rec, now));
    storage_record_fini(&rec);

    cr_assert_eq(get1(s, "h", "old", "y", &rec), 0, "get returns the expired record");
    cr_assert_not(storage_record_visible(&rec, now));
    storage_record_fini(&rec);

    cr_assert_eq(get1(s, "h", "later", "z", &rec), 0);
    cr_assert(storage_record_visible(&rec, now));
    cr_assert_not(storage_record_visible(&rec, now + 3600), "expires at expire_ts exactly");
    storage_record_fini(&rec);
    storage_close(s);
}

/* tombstone_ttl_s is 600, not 1: the fresh tombstone must stay fresh even when the test runs
 * slowly (valgrind); the old one is an hour old either way. */
Test(storage, compaction_drops_expired_and_old_tombstones)
{
    struct storage *s = open_db(dbdir, 600);
    struct storage_record rec;
    uint32_t now = (uint32_t)clock_wall_s();
    uint64_t hour_ago = timetag_make((uint64_t)clock_wall_us() - 3600ull * 1000000, 1, 1);
    uint64_t hour_ago_set = timetag_make((uint64_t)clock_wall_us() - 3600ull * 1000000, 1, 0);
    uint64_t fresh = tt_now(0);
    decree_t durable = 0;

    put1(s, "h", "expired", "e", now - 10, fresh, 1);
    put1(s, "h", "old-tomb", NULL, 0, hour_ago, 2);
    put1(s, "h", "new-tomb", NULL, 0, tt_now(1), 3);
    put1(s, "h", "live", "l", 0, tt_now(0), 4);
    put1(s, "h", "ttl-live", "t", now + 3600, tt_now(0), 5);
    put1(s, "h", "old-expired", "o", now - 10, hour_ago_set, 6);
    cr_assert_eq(get1(s, "h", "expired", NULL, &rec), 0, "present before compaction");
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h", "old-tomb", NULL, &rec), 0, "present before compaction");
    storage_record_fini(&rec);

    cr_assert_eq(storage_flush(s, &durable), 0);
    cr_assert_eq(durable, 6);
    storage_compact(s);

    /* a young expired record is kept: its timetag still beats older writes */
    cr_assert_eq(get1(s, "h", "expired", "e", &rec), 0, "a young expired record is kept");
    cr_assert_eq(rec.timetag, fresh);
    cr_assert_eq(rec.expire_ts, now - 10);
    cr_assert_not(storage_record_visible(&rec, now));
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h", "old-expired", NULL, &rec), ERR_NOT_FOUND);
    cr_assert_eq(get1(s, "h", "old-tomb", NULL, &rec), ERR_NOT_FOUND);
    cr_assert_eq(get1(s, "h", "new-tomb", NULL, &rec), 0, "a fresh tombstone is kept");
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h", "live", "l", &rec), 0);
    storage_record_fini(&rec);
    cr_assert_eq(get1(s, "h", "ttl-live", "t", &rec), 0);
    storage_record_fini(&rec);
    storage_close(s);

    /* The internal decree key survived the compaction. */
    s = open_db(dbdir, 600);
    cr_assert_eq(storage_last_applied(s), 6);
    storage_close(s);
}

/* The clock floor: the largest timetag timestamp applied survives a reopen and a compaction
 * that dropped the record carrying it. */
Test(storage, max_ts_survives_reopen_and_compaction)
{
    struct storage *s = open_db(dbdir, 1);
    uint64_t old_ts = (uint64_t)clock_wall_us() - 3600ull * 1000000;
    decree_t durable = 0;

    cr_assert_eq(storage_max_ts(s), 0);
    put1(s, "h", "a", "x", 0, timetag_make(old_ts - 5, 1, 0), 1);
    put1(s, "h", "b", NULL, 0, timetag_make(old_ts, 1, 1), 2);
    put1(s, "h", "c", "y", 0, timetag_make(old_ts - 9, 1, 0), 3);
    cr_assert_eq(storage_max_ts(s), old_ts);
    cr_assert_eq(storage_flush(s, &durable), 0);
    storage_compact(s); /* drops the hour-old tombstone "b" */
    storage_close(s);

    s = open_db(dbdir, 1);
    cr_assert_eq(storage_max_ts(s), old_ts);
    storage_close(s);
}

Test(storage, last_applied_survives_reopen_after_flush)
{
    struct storage *s = open_db(dbdir, 0);
    struct storage_record rec;
    decree_t durable = -1;

    for (int d = 1; d <= 5; d++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "k%d", d);
        put1(s, "h", sk, "v", 0, tt_now(0), d * 10);
    }
    cr_assert_eq(storage_flush(s, &durable), 0);
    cr_assert_eq(durable, 50);
    storage_close(s);

    s = open_db(dbdir, 0);
    cr_assert_eq(storage_last_applied(s), 50);
    cr_assert_eq(get1(s, "h", "k5", "v", &rec), 0);
    storage_record_fini(&rec);
    put1(s, "h", "k6", "v", 0, tt_now(0), 51);
    storage_close(s);
}

/* Child of the crash test: applies 1..3, flushes, applies 4..6 and is SIGKILLed unclosed. */
static void
crash_child(void)
{
    struct storage_opts o = {.engine = &STORAGE_ENGINE};
    struct storage *s = NULL;
    struct storage_batch *b = storage_batch_create();
    decree_t durable = 0;

    if (storage_open(dbdir, &o, &s) != 0)
        _exit(2);
    for (int d = 1; d <= 6; d++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "k%d", d);
        storage_batch_clear(b);
        storage_batch_put(b, "h", 1, sk, strlen(sk), 0, 1 << 8, "v", 1);
        if (storage_apply(s, b, d) != 0)
            _exit(3);
        if (d == 3 && (storage_flush(s, &durable) != 0 || durable != 3))
            _exit(4);
    }
    /* No storage_close: die as in a crash; the memtable (decrees 4..6) is lost. */
    (void)kill(getpid(), SIGKILL);
    _exit(5);
}

Test(storage, crash_without_flush_loses_memtable_consistently)
{
    struct storage_record rec;
    int status = 0;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0)
        crash_child();
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %#x", status);

    struct storage *s = open_db(dbdir, 0);
    decree_t d = storage_last_applied(s);
    cr_assert_eq(d, 3, "WAL off: only the flushed decree survives, got %lld", (long long)d);
    for (int i = 1; i <= 6; i++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "k%d", i);
        int rc = get1(s, "h", sk, "v", &rec);
        if (rc == 0)
            storage_record_fini(&rec);
        cr_assert_eq(rc, i <= d ? 0 : ERR_NOT_FOUND, "data and decree agree at k%d", i);
    }
    /* Replaying 4.. on top works. */
    put1(s, "h", "k4", "v", 0, 1 << 8, 4);
    storage_close(s);

    /* A close does not flush either (the plog replays the rest): still 3 after reopening. */
    s = open_db(dbdir, 0);
    cr_assert_eq(storage_last_applied(s), 3);
    storage_close(s);
}

/* 4 hash keys x 4 sort keys, value = sort key, all in decree 1. */
static struct storage *
open_grid(void)
{
    static const char *hks[] = {"bb", "a", "", "c"};
    static const char *sks[] = {"3", "1", "2", ""};
    struct storage *s = open_db(dbdir, 0);
    struct storage_batch *b = storage_batch_create();

    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++)
            storage_batch_put(b, hks[i], strlen(hks[i]), sks[j], strlen(sks[j]), 0, tt_now(0),
                              sks[j], strlen(sks[j]));
    cr_assert_eq(storage_apply(s, b, 1), 0);
    storage_batch_destroy(b);
    return s;
}

Test(storage, iterator_order_and_internal_key_skipped)
{
    struct storage *s = open_grid();
    struct storage_iter *it = NULL;
    struct buf prev = BUF_INIT;
    const uint8_t *k;
    size_t klen;
    int n = 0;

    /* Whole DB, starting below the internal key "\x00". */
    cr_assert_eq(storage_iter_create(s, "", 0, NULL, 0, &it), 0);
    for (; storage_iter_valid(it); storage_iter_next(it), n++) {
        const uint8_t *hk, *sk, *v;
        size_t hl, sl, vlen;
        uint32_t exp;
        uint64_t tt;
        storage_iter_key(it, &k, &klen);
        cr_assert_eq(storage_key_decode(k, klen, &hk, &hl, &sk, &sl), 0, "only user keys");
        cr_assert_eq(storage_iter_value(it, &exp, &tt, &v, &vlen), 0);
        cr_assert(vlen == sl && memcmp(v, sk, sl) == 0);
        if (prev.len > 0) {
            size_t m = prev.len < klen ? prev.len : klen;
            int c = memcmp(prev.data, k, m);
            cr_assert(c < 0 || (c == 0 && prev.len < klen), "keys strictly increasing");
        }
        buf_reset(&prev);
        buf_append(&prev, k, klen);
    }
    cr_assert_eq(n, 16);
    storage_iter_destroy(it);
    buf_fini(&prev);

    /* Starting exactly at the internal key still skips it. */
    cr_assert_eq(storage_iter_create(s, "\x00", 1, NULL, 0, &it), 0);
    cr_assert(storage_iter_valid(it));
    storage_iter_key(it, &k, &klen);
    cr_assert_eq(klen, 2 + 0 + 0, "first key is (\"\", \"\")");
    storage_iter_destroy(it);
    storage_close(s);
}

Test(storage, iterator_over_one_hash_key)
{
    struct storage *s = open_grid();
    struct buf start = BUF_INIT, stop = BUF_INIT;
    const char *want[] = {"", "1", "2", "3"};
    struct storage_iter *it = NULL;
    int n;

    storage_key_encode(&start, "a", 1, NULL, 0);
    storage_key_prefix_end(&stop, "a", 1);
    cr_assert_eq(storage_iter_create(s, start.data, start.len, stop.data, stop.len, &it), 0);
    for (n = 0; storage_iter_valid(it); storage_iter_next(it), n++) {
        const uint8_t *k, *hk, *sk;
        size_t klen, hl, sl;
        storage_iter_key(it, &k, &klen);
        cr_assert_eq(storage_key_decode(k, klen, &hk, &hl, &sk, &sl), 0);
        cr_assert(hl == 1 && hk[0] == 'a');
        cr_assert_lt(n, 4);
        cr_assert(sl == strlen(want[n]) && memcmp(sk, want[n], sl) == 0, "sort key %d", n);
    }
    cr_assert_eq(n, 4);
    storage_iter_destroy(it);
    buf_fini(&start);
    buf_fini(&stop);
    storage_close(s);
}

Test(storage, checkpoint_is_openable_with_data_and_decree)
{
    struct storage *s = open_db(dbdir, 0);
    struct storage_record rec;
    char cpdir[160];
    decree_t cpd = 0;

    snprintf(cpdir, sizeof(cpdir), "%s/checkpoint.4", tmpdir);
    for (int d = 1; d <= 4; d++) {
        char sk[16];
        snprintf(sk, sizeof(sk), "k%d", d);
        put1(s, "h", sk, sk, 0, tt_now(0), d);
    }
    cr_assert_eq(storage_checkpoint(s, cpdir, &cpd), 0);
    cr_assert_eq(cpd, 4);
    put1(s, "h", "k5", "k5", 0, tt_now(0), 5);
    cr_assert_neq(storage_checkpoint(s, cpdir, &cpd), 0, "the dir must not exist");

    struct storage *c = open_db(cpdir, 0);
    cr_assert_eq(storage_last_applied(c), 4);
    cr_assert_eq(get1(c, "h", "k1", "k1", &rec), 0);
    storage_record_fini(&rec);
    cr_assert_eq(get1(c, "h", "k4", "k4", &rec), 0);
    storage_record_fini(&rec);
    cr_assert_eq(get1(c, "h", "k5", NULL, &rec), ERR_NOT_FOUND);
    /* The checkpoint is its own DB: writes to it do not reach the source. */
    put1(c, "h", "only-cp", "x", 0, tt_now(0), 5);
    storage_close(c);
    cr_assert_eq(get1(s, "h", "only-cp", NULL, &rec), ERR_NOT_FOUND);
    cr_assert_eq(storage_last_applied(s), 5);
    storage_close(s);
}
