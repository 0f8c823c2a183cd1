/* main.c: geokv-proxy — flags and config; the proxy itself is proxy/server.h. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "proxy/server.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: geokv-proxy -c CONFIG [--set section.key=value ...]\n"
               "  -c, --config FILE  INI configuration: [cluster] meta_servers, [proxy] app,\n"
               "                     listen, threads, timeout_ms; [security] keys if the\n"
               "                     cluster signs its calls (see docs/proxy.md)\n"
               "  -s, --set S.K=V    override a configuration value\n"
               "  -h, --help         this help\n"
               "Exit status: 0 stopped by SIGTERM or SIGINT, 1 could not start, 2 bad flags or "
               "config.\n");
}

/* Splits "host:port" (the port after the last ':'). */
static int
parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long p;
    if (colon == NULL || (size_t)(colon - s) >= hostlen || colon == s)
        return -1;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (int)p;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"set", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct proxy_opts o = {0};
    const char *config_path = NULL, *sets[64];
    int nsets = 0, c, lvl;
    int64_t threads, timeout_ms;
    char err[512], host[256], nthreads[16];
    struct config *cfg;

    while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's':
            if (nsets == 64) {
                fprintf(stderr, "geokv-proxy: too many --set\n");
                return 2;
            }
            sets[nsets++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || config_path == NULL) {
        usage(stderr);
        return 2;
    }
    if (config_load(config_path, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "geokv-proxy: %s\n", err);
        return 2;
    }
    for (int i = 0; i < nsets; i++)
        if (config_override(cfg, sets[i]) != 0) {
            fprintf(stderr, "geokv-proxy: --set %s: expected section.key=value\n", sets[i]);
            return 2;
        }
    lvl = log_level_parse(config_get_str(cfg, "core", "log_level", "info"));
    log_set_level(lvl < 0 ? LOG_LVL_INFO : lvl);
    o.meta_servers = config_get_str(cfg, "cluster", "meta_servers", "");
    o.app = config_get_str(cfg, "proxy", "app", "");
    o.keys_config = config_get_str(cfg, "security", "keys", "")[0] ? config_path : NULL;
    if (o.meta_servers[0] == '\0' || o.app[0] == '\0') {
        fprintf(stderr, "geokv-proxy: [cluster] meta_servers and [proxy] app are required\n");
        return 2;
    }
    if (parse_listen(config_get_str(cfg, "proxy", "listen", "127.0.0.1:6379"), host, sizeof(host),
                     &o.port) != 0) {
        fprintf(stderr, "geokv-proxy: [proxy] listen: expected host:port\n");
        return 2;
    }
    o.host = host;
    if (config_get_int(cfg, "proxy", "threads", 32, &threads) != 0 || threads < 1 ||
        threads > 1024 || config_get_int(cfg, "proxy", "timeout_ms", 5000, &timeout_ms) != 0 ||
        timeout_ms < 1 || timeout_ms > 600000) {
        fprintf(stderr, "geokv-proxy: [proxy] threads must be 1..1024 and timeout_ms "
                        "1..600000\n");
        return 2;
    }
    o.timeout_ms = (int)timeout_ms;
    /* the commands that call geokv block a thread of libuv's pool each */
    snprintf(nthreads, sizeof(nthreads), "%lld", (long long)threads);
    setenv("UV_THREADPOOL_SIZE", nthreads, 1);
    signal(SIGPIPE, SIG_IGN);
    c = proxy_run(&o);
    config_destroy(cfg);
    return c == 0 ? 0 : 1;
}
