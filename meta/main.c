/*
 * geokv-meta: the meta server binary.
 *
 *   geokv-meta -c CONFIG --address HOST:PORT [--set section.key=value ...] [-h]
 *
 * Exit status: 0 after SIGTERM/SIGINT (clean shutdown), 1 on a configuration, ZooKeeper or
 * bind failure at start (RPC address or [core] metrics_address), 2 on bad command-line flags,
 * 3 when the ZooKeeper session is lost (see meta_service.c: a meta that may have lost
 * leadership must not serve; restart it).
 *
 * Also serves Prometheus text on HTTP /metrics ([core] metrics_address) and answers
 * RPC_SERVER_CONFIG from the run-time settings registered here (common/runtime_config.h).
 *
 * Threads: main parses, starts the service and then only waits for a signal; SIGTERM and
 * SIGINT are blocked in every thread and taken with sigwait here.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runtime_config.h"
#include "common/xmalloc.h"
#include "meta/meta_dup.h"
#include "meta/meta_service.h"
#include "meta/meta_store.h"
#include "proto/auth.h"
#include "proto/rpc.h"

#define META_CONNECT_TIMEOUT_MIN_MS 10000

struct cli {
    const char *config;
    const char *address;
    const char **sets;
    int nsets;
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: geokv-meta -c CONFIG --address HOST:PORT [--set section.key=value ...]\n"
               "  -c, --config FILE      INI configuration ([cluster], [zookeeper], "
               "[meta_server], [core]; see docs/config.md)\n"
               "  -a, --address H:P      address to serve RPCs on (also names this meta)\n"
               "  -s, --set S.K=V        override a configuration value (repeatable)\n"
               "  -h, --help             show this help\n");
}

/* Parses argv; exits 0 for -h and 2 for bad flags. */
static void
cli_parse(int argc, char **argv, struct cli *cli)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"address", required_argument, NULL, 'a'},
        {"set", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    cli->sets = xcalloc((size_t)argc, sizeof(char *));
    while ((c = getopt_long(argc, argv, "c:a:s:h", opts, NULL)) != -1) {
        if (c == 'c') {
            cli->config = optarg;
        } else if (c == 'a') {
            cli->address = optarg;
        } else if (c == 's') {
            cli->sets[cli->nsets++] = optarg;
        } else if (c == 'h') {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || cli->config == NULL || cli->address == NULL) {
        fprintf(stderr, "geokv-meta: %s\n",
                optind != argc ? "unexpected argument" : "-c and --address are required");
        usage(stderr);
        exit(2);
    }
}

/* Loads the file, applies overrides and the log level. NULL (after a message) on error. */
static struct config *
config_read(const struct cli *cli)
{
    struct config *cfg;
    char err[512] = "";
    int level;

    if (config_load(cli->config, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-meta: %s\n", err[0] ? err : "cannot read the config");
        return NULL;
    }
    for (int i = 0; i < cli->nsets; i++) {
        if (config_override(cfg, cli->sets[i]) != 0) {
            fprintf(stderr, "geokv-meta: bad --set %s (want section.key=value)\n", cli->sets[i]);
            config_destroy(cfg);
            return NULL;
        }
    }
    level = log_level_parse(config_get_str(cfg, "core", "log_level", "info"));
    if (level < 0) {
        fprintf(stderr, "geokv-meta: [core] log_level must be error|warn|info|debug\n");
        config_destroy(cfg);
        return NULL;
    }
    log_set_level(level);
    if (runtime_config_register_std(cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-meta: %s\n", err);
        config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

/* Starts the service; NULL (logged) on failure. */
static struct meta_service *
service_start(const struct meta_options *opt)
{
    struct meta_service *svc = meta_service_create(opt);
    struct meta_store *store;
    int connect_ms = (int)(opt->session_timeout_ms * 2 > META_CONNECT_TIMEOUT_MIN_MS
                               ? opt->session_timeout_ms * 2
                               : META_CONNECT_TIMEOUT_MIN_MS);

    if (meta_store_zk_open(opt->zk_hosts, (int)opt->session_timeout_ms, connect_ms,
                           meta_service_on_store_event, svc, &store) != 0) {
        meta_service_destroy(svc);
        return NULL;
    }
    if (meta_service_start(svc, store) != 0) {
        meta_service_destroy(svc);
        return NULL;
    }
    return svc;
}

/* Serves /metrics on [core] metrics_address, if set (with the meta's own gauges; the meta's
 * modules register theirs next to them). ERR_NETWORK (after a message) if it cannot bind. */
static int
metrics_start(const struct config *cfg)
{
    const char *address = config_get_str(cfg, "core", "metrics_address", "");

    metric_set(metric_get(METRIC_GAUGE, "geokv_meta_up", NULL, "1 while this meta server runs"), 1);
    meta_dup_metrics_register();
    metric_set(metric_get(METRIC_GAUGE, "geokv_meta_start_time_seconds", NULL,
                          "when this meta server started (unix seconds)"),
               clock_wall_s());
    if (address[0] != '\0' && metrics_http_start(address) != 0) {
        fprintf(stderr, "geokv-meta: cannot serve /metrics on %s\n", address);
        return ERR_NETWORK;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct cli cli;
    struct config *cfg;
    struct meta_options opt;
    struct meta_service *svc;
    char err[512] = "";
    sigset_t sigs;
    int sig = 0;

    cli_parse(argc, argv, &cli);
    cfg = config_read(&cli);
    if (cfg == NULL)
        return 1;
    if (meta_options_load(cfg, cli.address, &opt, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-meta: %s\n", err);
        config_destroy(cfg);
        return 1;
    }
    /* Block the stop signals before any thread exists, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (rpc_configure_source(cfg, opt.address) != 0) {
        fprintf(stderr, "geokv-meta: [core] bind_outgoing is not a boolean\n");
        config_destroy(cfg);
        return 2;
    }
    if (auth_configure(cfg) != 0) {
        fprintf(stderr, "geokv-meta: bad [security] (see the log above)\n");
        config_destroy(cfg);
        return 2;
    }
    if (metrics_start(cfg) != 0) {
        config_destroy(cfg);
        return 1;
    }
    svc = service_start(&opt);
    if (svc == NULL) {
        metrics_http_stop();
        config_destroy(cfg);
        return 1;
    }
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        auth_load(cli.config, cli.sets, cli.nsets);
    LOG_INFO("signal %d: shutting down", sig);
    meta_service_destroy(svc);
    metrics_http_stop();
    config_destroy(cfg);
    xfree(cli.sets);
    LOG_INFO("meta %s stopped", opt.address);
    return 0;
}
