/* main.c: geokv-replica — flags, config, signals; the server itself is replica/stub.h. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "proto/auth.h"
#include "proto/rpc.h"
#include "replica/stub.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: geokv-replica -c CONFIG --address HOST:PORT --data-dir DIR "
               "[--set section.key=value ...]\n"
               "  -c, --config FILE      INI configuration (see docs/config.md)\n"
               "  -a, --address H:P      address to serve on (and report to the meta)\n"
               "  -d, --data-dir DIR     where partitions are stored\n"
               "  -s, --set S.K=V        override a configuration value\n"
               "  -h, --help             this help\n"
               "Exit status: 0 stopped by a signal, 1 could not start, 2 bad flags or config,\n"
               "3 a partition's log lost durability (an fsync failed): restart it.\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"address", required_argument, NULL, 'a'},
        {"data-dir", required_argument, NULL, 'd'}, {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *address = NULL, *data_dir = NULL, *metrics_address;
    const char *sets[64];
    int nsets = 0, c, sig, lvl;
    struct config *cfg;
    struct stub *stub;
    char err[512];
    sigset_t mask;

    xmalloc_keep_large_buffers();
    while ((c = getopt_long(argc, argv, "c:a:d:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'a': address = optarg; break;
        case 'd': data_dir = optarg; break;
        case 's':
            if (nsets == 64) {
                fprintf(stderr, "geokv-replica: too many --set\n");
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || config_path == NULL || address == NULL || data_dir == NULL) {
        fprintf(stderr, "geokv-replica: -c, --address and --data-dir are required\n");
        usage(stderr);
        return 2;
    }
    if (config_load(config_path, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-replica: %s\n", err);
        return 2;
    }
    for (int i = 0; i < nsets; i++)
        if (config_override(cfg, sets[i]) != 0) {
            fprintf(stderr, "geokv-replica: --set %s: expected section.key=value\n", sets[i]);
            return 2;
        }
    lvl = log_level_parse(config_get_str(cfg, "core", "log_level", "info"));
    log_set_level(lvl < 0 ? LOG_LVL_INFO : lvl);
    /* run-time settings (admin-cli server-config): log_level, duplicate_log_batch_bytes, ... */
    if (runtime_config_register_std(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-replica: %s\n", err);
        config_destroy(cfg);
        return 2;
    }

    /* signals are taken synchronously by main; every thread inherits the mask */
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    metrics_address = config_get_str(cfg, "core", "metrics_address", "");
    if (metrics_address[0] && metrics_http_start(metrics_address) != 0) {
        fprintf(stderr, "geokv-replica: cannot serve /metrics on %s\n", metrics_address);
        return 1;
    }
    if (rpc_configure_source(cfg, address) != 0) {
        fprintf(stderr, "geokv-replica: [core] bind_outgoing is not a boolean\n");
        return 2;
    }
    if (auth_configure(cfg) != 0) {
        fprintf(stderr, "geokv-replica: bad [security] (see the log above)\n");
        return 2;
    }
    if (stub_create(cfg, address, data_dir, &stub) != 0) {
        fprintf(stderr, "geokv-replica: cannot start (see the log above)\n");
        config_destroy(cfg);
        return 1;
    }
    while (sigwait(&mask, &sig) == 0 && sig == SIGHUP)
        auth_load(config_path, sets, nsets);
    LOG_INFO("signal %d: shutting down", sig);
    stub_destroy(stub);
    metrics_http_stop();
    config_destroy(cfg);
    return 0;
}
