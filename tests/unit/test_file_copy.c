/*
 * test_file_copy.c: replica/file_copy.c over a real rpc_server on a loopback port, serving a
 * temp dir: identical copies, nothing refetched on a rerun, resuming a truncated file, a bad
 * local prefix, corrupt chunks (fail point), path escapes, chunk clamping and the rate
 * limiter. Also common/failpoint.c's spec parsing.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/xmalloc.h"
#include "proto/msg.h"
#include "proto/pack.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "replica/file_copy.h"
#include "tests/unit/unit_net.h"
#include "tests/unit/unit_fs.h"

#define CHUNK (64u << 10)
#define BIG_BYTES (4 * CHUNK + 1234) /* 5 chunks */

static char tmp[64], root[128], src[160], dst[160], outside[160];
static char addr[32];
static struct rpc_server *server;
static struct rpc_client *client;
static atomic_int reads;       /* RPC_FILE_READ requests served */
static atomic_long read_bytes; /* bytes asked for by them */

static const struct {
    const char *name;
    size_t size;
} files[] = {{"000012.sst", BIG_BYTES}, {"CURRENT", 16}, {"MANIFEST-000005", 1000}, {"empty", 0}};
#define NFILES (sizeof(files) / sizeof(files[0]))

/* Serves root like the replica server, counting reads. Blocking in the handler is fine
 * here: the copier sends one request at a time. */
static void
handler(void *arg, struct rpc_request *req)
{
    (void)arg;
    if (req->env.code == RPC_FILE_LIST) {
        file_copy_serve_list(root, req);
    } else if (req->env.code == RPC_FILE_READ) {
        struct msg_file_read_req m;
        atomic_fetch_add(&reads, 1);
        if (msg_file_read_req_decode(req->env.body, req->env.body_len, &m) == 0)
            atomic_fetch_add(&read_bytes, (long)m.len);
        file_copy_serve_read(root, req);
    } else {
        rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
    }
}

static void
write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* Reads a whole file into b; false if it is missing. */
static bool
read_file(const char *dir, const char *name, struct buf *b)
{
    char path[256], tmpb[4096];
    size_t n;
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    buf_reset(b);
    f = fopen(path, "rb");
    if (f == NULL)
        return false;
    while ((n = fread(tmpb, 1, sizeof(tmpb), f)) > 0)
        buf_append(b, tmpb, n);
    fclose(f);
    return true;
}

static void
make_source_file(const char *name, size_t size)
{
    uint8_t *p = xmalloc(size + 1);
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)(i * 2654435761u >> 13) ^ (uint8_t)name[0];
    write_file(src, name, p, size);
    xfree(p);
}

static void
setup(void)
{
    char path[256];
    snprintf(tmp, sizeof(tmp), "/tmp/geokv-fc-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(root, sizeof(root), "%s/data", tmp);
    snprintf(src, sizeof(src), "%s/1.0/checkpoint.42", root);
    snprintf(dst, sizeof(dst), "%s/learner/1.0/copy", tmp);
    snprintf(outside, sizeof(outside), "%s/outside", tmp);
    cr_assert_eq(mkdir(root, 0755), 0);
    snprintf(path, sizeof(path), "%s/1.0", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    cr_assert_eq(mkdir(src, 0755), 0);
    cr_assert_eq(mkdir(outside, 0755), 0);
    for (size_t i = 0; i < NFILES; i++)
        make_source_file(files[i].name, files[i].size);
    write_file(outside, "secret", "secret", 6);
    /* never listed or served: a subdirectory and a symlink leading out */
    snprintf(path, sizeof(path), "%s/subdir", src);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/link", src);
    cr_assert_eq(symlink("../../../outside/secret", path), 0);
    snprintf(path, sizeof(path), "%s/escape", root);
    cr_assert_eq(symlink(outside, path), 0);

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
    cr_assert_eq(rpc_server_create(addr, handler, NULL, &server), 0);
    rpc_server_start(server);
    client = rpc_client_create();
}

static void
teardown(void)
{
    rpc_client_destroy(client);
    rpc_server_destroy(server);
    unit_rm_rf(tmp);
}

TestSuite(file_copy, .init = setup, .fini = teardown, .timeout = 60);

static int
copy(int max_retries)
{
    struct file_copy_opts o = {
        .chunk_bytes = CHUNK, .timeout_ms = 5000, .max_retries = max_retries};
    return file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, NULL);
}

/* Every source file is in dst with identical bytes, and nothing else was copied. */
static void
assert_identical(void)
{
    struct buf a = BUF_INIT, b = BUF_INIT;
    for (size_t i = 0; i < NFILES; i++) {
        cr_assert(read_file(src, files[i].name, &a));
        cr_assert(read_file(dst, files[i].name, &b), "%s missing", files[i].name);
        cr_assert_eq(b.len, files[i].size, "%s: %zu bytes", files[i].name, b.len);
        cr_assert(a.len == 0 || memcmp(a.data, b.data, a.len) == 0, "%s differs", files[i].name);
    }
    cr_assert_not(read_file(dst, "link", &b));
    cr_assert_not(read_file(dst, "secret", &b));
    buf_fini(&a);
    buf_fini(&b);
}

static int
chunks_of(size_t size)
{
    return (int)((size + CHUNK - 1) / CHUNK);
}

static int
all_chunks(void)
{
    int n = 0;
    for (size_t i = 0; i < NFILES; i++)
        n += chunks_of(files[i].size);
    return n;
}

Test(file_copy, copies_identical_then_nothing_again)
{
    cr_assert_eq(copy(0), 0);
    assert_identical();
    cr_assert_eq(atomic_load(&reads), all_chunks());
    cr_assert_geq(chunks_of(files[0].size), 4);

    atomic_store(&reads, 0);
    cr_assert_eq(copy(0), 0);
    assert_identical();
    cr_assert_eq(atomic_load(&reads), 0, "a rerun fetched %d chunks", atomic_load(&reads));
}

Test(file_copy, prune_removes_unlisted_local_files_only_when_asked)
{
    struct file_copy_opts o = {.chunk_bytes = CHUNK, .timeout_ms = 5000};
    struct buf b = BUF_INIT;
    uint64_t bytes = 0;
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, &bytes), 0);
    cr_assert_gt(bytes, 0);
    write_file(dst, "000099.sst", "stale", 5);
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, &bytes), 0);
    cr_assert(read_file(dst, "000099.sst", &b), "kept without prune");
    o.prune = true;
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, &bytes), 0);
    cr_assert_not(read_file(dst, "000099.sst", &b), "removed with prune");
    cr_assert_eq(bytes, 0, "listed files were fetched again: %llu bytes",
                 (unsigned long long)bytes);
    assert_identical();
    buf_fini(&b);
}

Test(file_copy, lanes_copy_files_at_once_with_the_same_result)
{
    struct file_copy_opts o = {.chunk_bytes = CHUNK, .timeout_ms = 5000, .lanes = 3};
    uint64_t bytes = 0;
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, &bytes), 0);
    assert_identical();
    cr_assert_eq(atomic_load(&reads), all_chunks());
    cr_assert_gt(bytes, 0);
    atomic_store(&reads, 0);
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, &bytes), 0);
    cr_assert_eq(atomic_load(&reads), 0);
    cr_assert_eq(bytes, 0);
}

Test(file_copy, truncated_file_continues_from_its_length)
{
    char path[256];
    off_t keep = 2 * CHUNK + 100;
    cr_assert_eq(copy(0), 0);
    snprintf(path, sizeof(path), "%s/%s", dst, files[0].name);
    cr_assert_eq(truncate(path, keep), 0);
    snprintf(path, sizeof(path), "%s/CURRENT", dst);
    cr_assert_eq(unlink(path), 0);

    atomic_store(&reads, 0);
    atomic_store(&read_bytes, 0);
    cr_assert_eq(copy(0), 0);
    assert_identical();
    cr_assert_eq(atomic_load(&reads), chunks_of(BIG_BYTES - (size_t)keep) + 1);
    cr_assert_eq(atomic_load(&read_bytes), (long)(BIG_BYTES - (size_t)keep) + 16);
}

Test(file_copy, bad_local_prefix_restarts_the_file_once)
{
    uint8_t junk[500];
    memset(junk, 0xab, sizeof(junk));
    cr_assert_eq(copy(0), 0);
    write_file(dst, "MANIFEST-000005", junk, sizeof(junk)); /* shorter, wrong bytes */
    write_file(dst, "CURRENT", junk, 16);                   /* right size, wrong bytes */

    atomic_store(&reads, 0);
    cr_assert_eq(copy(0), 0);
    assert_identical();
    /* MANIFEST: the tail, then all of it again; CURRENT: all of it */
    cr_assert_eq(atomic_load(&reads), 2 + 1);
}

Test(file_copy, longer_local_file_is_refetched)
{
    uint8_t junk[2000] = {0};
    cr_assert_eq(copy(0), 0);
    write_file(dst, "MANIFEST-000005", junk, sizeof(junk));
    cr_assert_eq(copy(0), 0);
    assert_identical();
}

Test(file_copy, corrupt_chunk_is_detected_and_fetched_again)
{
    cr_assert_eq(failpoint_configure("file_copy_corrupt_chunk=3"), 0);
    cr_assert_eq(copy(0), 0);
    assert_identical();
    cr_assert_eq(atomic_load(&reads), all_chunks() + 1);
}

Test(file_copy, chunk_corrupt_every_time_fails_after_max_retries)
{
    cr_assert_eq(failpoint_configure("file_copy_corrupt_chunk=1-"), 0);
    cr_assert_eq(copy(2), ERR_INVALID_DATA);
    cr_assert_eq(atomic_load(&reads), 3); /* the first file's first chunk, 1 + 2 retries */
}

Test(file_copy, absolute_dir_under_root_is_served)
{
    struct file_copy_opts o = {.chunk_bytes = CHUNK};
    cr_assert_eq(file_copy_dir(client, addr, src, dst, &o, NULL), 0);
    assert_identical();
}

static int
list(const char *dir)
{
    struct msg_file_list_req q;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int rc;
    snprintf(q.dir, sizeof(q.dir), "%s", dir);
    msg_file_list_req_encode(&req, &q);
    rc = rpc_call(client, addr, RPC_FILE_LIST, 0, 0, req.data, req.len, 5000, &reply);
    buf_fini(&req);
    buf_fini(&reply);
    return rc;
}

static int
read_chunk(const char *dir, const char *name, uint32_t len, size_t *got)
{
    struct msg_file_read_req q;
    struct msg_file_read_resp resp;
    struct unpacked *zone = NULL;
    struct buf req = BUF_INIT, reply = BUF_INIT;
    int rc;
    snprintf(q.dir, sizeof(q.dir), "%s", dir);
    snprintf(q.name, sizeof(q.name), "%s", name);
    q.offset = 0;
    q.len = len;
    msg_file_read_req_encode(&req, &q);
    rc = rpc_call(client, addr, RPC_FILE_READ, 0, 0, req.data, req.len, 5000, &reply);
    *got = 0;
    if (rc == 0) {
        cr_assert_eq(msg_file_read_resp_decode(reply.data, reply.len, &resp, &zone), 0);
        *got = resp.data.len;
        unpacked_free(zone);
    }
    buf_fini(&req);
    buf_fini(&reply);
    return rc;
}

Test(file_copy, path_escapes_are_refused)
{
    struct file_copy_opts o = {.chunk_bytes = CHUNK};
    char dotdot[256];
    size_t got;

    cr_assert_eq(list("1.0/checkpoint.42"), 0);
    cr_assert_eq(list("../outside"), ERR_INVALID_ARG);
    cr_assert_eq(list("1.0/../../outside"), ERR_INVALID_ARG);
    cr_assert_eq(list(outside), ERR_INVALID_ARG);
    cr_assert_eq(list("/etc"), ERR_INVALID_ARG);
    cr_assert_eq(list("escape"), ERR_INVALID_ARG); /* a symlink under root leading out */
    cr_assert_eq(list(""), ERR_INVALID_ARG);
    snprintf(dotdot, sizeof(dotdot), "%s/..", root);
    cr_assert_eq(list(dotdot), ERR_INVALID_ARG);
    cr_assert_eq(file_copy_dir(client, addr, "../outside", dst, &o, NULL), ERR_INVALID_ARG);
    cr_assert_eq(file_copy_dir(client, addr, outside, dst, &o, NULL), ERR_INVALID_ARG);

    cr_assert_eq(read_chunk("1.0/checkpoint.42", "CURRENT", 100, &got), 0);
    cr_assert_eq(got, 16);
    cr_assert_eq(read_chunk("1.0/checkpoint.42", "../../../outside/secret", 100, &got),
                 ERR_INVALID_ARG);
    cr_assert_eq(read_chunk("1.0", "checkpoint.42/CURRENT", 100, &got), ERR_INVALID_ARG);
    cr_assert_eq(read_chunk("1.0/checkpoint.42", "link", 100, &got), ERR_INVALID_ARG);
    cr_assert_eq(read_chunk("1.0/checkpoint.42", "subdir", 100, &got), ERR_INVALID_ARG);
    cr_assert_eq(read_chunk("escape", "secret", 100, &got), ERR_INVALID_ARG);
    cr_assert_eq(read_chunk(outside, "secret", 100, &got), ERR_INVALID_ARG);
    cr_assert_eq(read_chunk("1.0/checkpoint.42", "nope", 100, &got), ERR_NOT_FOUND);
    cr_assert_eq(list("1.0/nope"), ERR_NOT_FOUND);
}

Test(file_copy, big_reads_are_clamped_to_8_mib)
{
    size_t n = (9u << 20) + 5, got;
    uint8_t *p = xcalloc(1, n);
    write_file(src, "huge", p, n);
    xfree(p);
    cr_assert_eq(read_chunk("1.0/checkpoint.42", "huge", 64u << 20, &got), 0);
    cr_assert_eq(got, 8u << 20);
}

Test(file_copy, rate_limit_slows_the_copy)
{
    /* 4 MB at 2 MB/s: the bucket starts empty and is charged before each chunk, so the copy
     * cannot take less than ~2 s; 1.5 s is a loose lower bound. */
    struct file_copy_opts o = {.chunk_bytes = 256u << 10, .rate_bytes_per_s = 2000000};
    size_t n = 4000000;
    uint8_t *p = xcalloc(1, n);
    int64_t t0;
    for (size_t i = 0; i < NFILES; i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", src, files[i].name);
        cr_assert_eq(unlink(path), 0);
    }
    write_file(src, "4mb", p, n);
    xfree(p);
    t0 = clock_mono_ms();
    cr_assert_eq(file_copy_dir(client, addr, "1.0/checkpoint.42", dst, &o, NULL), 0);
    cr_log_info("4 MB at 2 MB/s took %lld ms", (long long)(clock_mono_ms() - t0));
    cr_assert_geq(clock_mono_ms() - t0, 1500);
}

Test(file_copy, failpoint_spec_parsing)
{
    cr_assert_eq(failpoint_configure("a=2,b=1-2,c=3-"), 0);
    cr_assert_not(FAIL_POINT("a"));
    cr_assert(FAIL_POINT("a"));
    cr_assert_not(FAIL_POINT("a"));
    cr_assert(FAIL_POINT("b"));
    cr_assert(FAIL_POINT("b"));
    cr_assert_not(FAIL_POINT("b"));
    cr_assert_not(FAIL_POINT("c"));
    cr_assert_not(FAIL_POINT("c"));
    for (int i = 0; i < 5; i++)
        cr_assert(FAIL_POINT("c"));
    cr_assert_not(FAIL_POINT("zzz"));
    cr_assert_eq(failpoint_configure("a=0"), ERR_INVALID_ARG);
    cr_assert_eq(failpoint_configure("a"), ERR_INVALID_ARG);
    cr_assert_eq(failpoint_configure("=1"), ERR_INVALID_ARG);
    cr_assert_eq(failpoint_configure("a=3-2"), ERR_INVALID_ARG);
    cr_assert_eq(failpoint_configure("a=1x"), ERR_INVALID_ARG);
    cr_assert_not(FAIL_POINT("b")); /* a malformed spec arms nothing */
    cr_assert_eq(failpoint_configure(NULL), 0);
    cr_assert_not(FAIL_POINT("a"));
}
