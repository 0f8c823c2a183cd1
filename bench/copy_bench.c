/*
 * copy_bench.c: geokv-copy-bench — the checkpoint copy path alone (replica/file_copy.c over
 * a real loopback RPC server, as a follower or a learner copies), to profile it:
 *
 *     geokv-copy-bench [-l lanes] [-k chunk_kib] [-m] SRC_DIR DEST_DIR
 *
 * serves SRC_DIR's parent like a replica server (one thread serving reads, as its file
 * loop), copies SRC_DIR into DEST_DIR (which must not exist; remove it after) with `lanes`
 * files at once (4, as a follower) in chunks of chunk_kib (4096), and prints the bytes, the
 * time, MB/s, and the process's CPU time and minor page faults per MB. -m leaves glibc's
 * malloc thresholds as they are (the replica server keeps large buffers:
 * xmalloc_keep_large_buffers), to measure what that buys.
 */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/xmalloc.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "replica/file_copy.h"

static char root[PATH_MAX];

static void
serve(void *arg, struct rpc_request *req)
{
    (void)arg;
    if (req->env.code == RPC_FILE_LIST)
        file_copy_serve_list(root, req);
    else if (req->env.code == RPC_FILE_READ)
        file_copy_serve_read(root, req);
    else
        rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0);
}

static double
cpu_s(const struct rusage *r)
{
    return (double)r->ru_utime.tv_sec + (double)r->ru_stime.tv_sec +
           ((double)r->ru_utime.tv_usec + (double)r->ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
    struct file_copy_opts o = {.lanes = 4, .chunk_bytes = 4u << 20};
    char src[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX], addr[64];
    struct rpc_server *server = NULL;
    struct rpc_client *client;
    struct rusage r0, r1;
    uint64_t bytes = 0;
    int c, rc, port;
    bool keep_malloc = false;
    int64_t t0, us;
    struct stat st;
    double mb;

    while ((c = getopt(argc, argv, "l:k:m")) != -1) {
        switch (c) {
        case 'l': o.lanes = atoi(optarg); break;
        case 'k': o.chunk_bytes = (uint32_t)atoi(optarg) << 10; break;
        case 'm': keep_malloc = true; break;
        default: goto usage;
        }
    }
    if (argc - optind != 2 || o.lanes < 1 || o.chunk_bytes == 0)
        goto usage;
    if (!keep_malloc)
        xmalloc_keep_large_buffers();
    if (realpath(argv[optind], src) == NULL || stat(argv[optind + 1], &st) == 0) {
        fprintf(stderr, "geokv-copy-bench: %s must exist and %s must not\n", argv[optind],
                argv[optind + 1]);
        return 2;
    }
    snprintf(tmp, sizeof(tmp), "%s", src); /* basename and dirname may change their input */
    snprintf(base, sizeof(base), "%s", basename(tmp));
    snprintf(tmp, sizeof(tmp), "%s", src);
    snprintf(root, sizeof(root), "%s", dirname(tmp));
    for (port = 20000 + (int)(clock_mono_us() % 20000); server == NULL; port++) {
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
        if (rpc_server_create(addr, serve, NULL, &server) != 0)
            server = NULL;
    }
    rpc_server_start(server);
    client = rpc_client_create();
    getrusage(RUSAGE_SELF, &r0);
    t0 = clock_mono_us();
    rc = file_copy_dir(client, addr, base, argv[optind + 1], &o, &bytes);
    us = clock_mono_us() - t0;
    getrusage(RUSAGE_SELF, &r1);
    rpc_client_destroy(client);
    rpc_server_destroy(server);
    if (rc != 0) {
        fprintf(stderr, "geokv-copy-bench: copy failed: %d\n", rc);
        return 1;
    }
    mb = (double)bytes / 1e6;
    printf("bytes: %llu\nms: %.1f\nmb_per_s: %.1f\ncpu_ms_per_mb: %.2f\nminor_faults_per_mb: "
           "%.0f\n",
           (unsigned long long)bytes, (double)us / 1e3, mb / ((double)us / 1e6),
           (cpu_s(&r1) - cpu_s(&r0)) * 1e3 / mb, (double)(r1.ru_minflt - r0.ru_minflt) / mb);
    return 0;
usage:
    fprintf(stderr, "usage: geokv-copy-bench [-l lanes] [-k chunk_kib] [-m] SRC_DIR DEST_DIR\n");
    return 2;
}
