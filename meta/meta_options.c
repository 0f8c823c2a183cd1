/*
 * meta_options.c: the meta server's settings from its INI config.
 *
 *   [cluster]      name (required), meta_servers (comma list; checked to contain --address)
 *   [zookeeper]    hosts (required), root (default /geokv), session_timeout_ms (default 4000)
 *   [meta_server]  node_grace_ms (default 10000), lease_ms (default 4/5 of node_grace_ms),
 *                  create_timeout_ms (default 30000), add_secondary_delay_ms (default 20000),
 *                  learner_timeout_ms (default 600000), balancer_interval_ms (default 10000)
 *   [replication]  duplication_enabled (default true)
 *   [pegasus.clusters] <cluster> = <meta list>; [duplication-group] <cluster> = <id 1..127>
 *                  (meta_dup.c)
 *
 * Threads: main, before anything starts.
 */
#include "meta/meta_service.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errbuf != NULL && errlen > 0)
        vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return ERR_CONFIG;
}

/* A ZooKeeper path component: non-empty, no '/', not "." or "..". */
static bool
znode_name_valid(const char *s)
{
    if (s[0] == '\0' || strchr(s, '/') != NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ')
            return false;
    return true;
}

/* True if the comma list contains item (spaces around entries are ignored). */
static bool
list_contains(const char *list, const char *item)
{
    size_t n = strlen(item);
    while (*list) {
        const char *end = strchr(list, ',');
        size_t len = end ? (size_t)(end - list) : strlen(list);
        const char *b = list, *e = list + len;
        while (b < e && *b == ' ')
            b++;
        while (e > b && e[-1] == ' ')
            e--;
        if ((size_t)(e - b) == n && strncmp(b, item, n) == 0)
            return true;
        list += len + (end ? 1 : 0);
    }
    return false;
}

/* Reads a positive integer setting. */
static int
get_ms(const struct config *cfg, const char *section, const char *key, int64_t def, int64_t *out,
       char *errbuf, size_t errlen)
{
    if (config_get_int(cfg, section, key, def, out) != 0 || *out <= 0 || *out > 86400000)
        return fail(errbuf, errlen, "[%s] %s must be a positive number of milliseconds", section,
                    key);
    return 0;
}

/* Builds cluster_path from [zookeeper] root and the cluster name. */
static int
cluster_path(const struct config *cfg, struct meta_options *opt, char *errbuf, size_t errlen)
{
    char root[META_PATH_MAX];
    size_t n;

    snprintf(root, sizeof(root), "%s", config_get_str(cfg, "zookeeper", "root", "/geokv"));
    n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        root[--n] = '\0';
    if (root[0] != '/' && n > 0)
        return fail(errbuf, errlen, "[zookeeper] root must start with '/'");
    if (strstr(root, "//") != NULL)
        return fail(errbuf, errlen, "[zookeeper] root has an empty component");
    if ((size_t)snprintf(opt->cluster_path, sizeof(opt->cluster_path), "%s/%s", root,
                         opt->cluster_name) >= sizeof(opt->cluster_path))
        return fail(errbuf, errlen, "[zookeeper] root is too long");
    return 0;
}

int
meta_options_load(const struct config *cfg, const char *address, struct meta_options *opt,
                  char *errbuf, size_t errlen)
{
    const char *name = config_get_str(cfg, "cluster", "name", "");
    const char *hosts = config_get_str(cfg, "zookeeper", "hosts", "");
    const char *metas = config_get_str(cfg, "cluster", "meta_servers", "");
    int rc;

    memset(opt, 0, sizeof(*opt));
    if (address[0] == '\0' || strchr(address, ':') == NULL || strlen(address) >= GEOKV_ADDR_MAX)
        return fail(errbuf, errlen, "--address must be HOST:PORT");
    snprintf(opt->address, sizeof(opt->address), "%s", address);
    if (!znode_name_valid(name) || strlen(name) >= sizeof(opt->cluster_name))
        return fail(errbuf, errlen, "[cluster] name is missing or invalid");
    snprintf(opt->cluster_name, sizeof(opt->cluster_name), "%s", name);
    if (hosts[0] == '\0' || strlen(hosts) >= sizeof(opt->zk_hosts))
        return fail(errbuf, errlen, "[zookeeper] hosts is missing or too long");
    snprintf(opt->zk_hosts, sizeof(opt->zk_hosts), "%s", hosts);
    if (metas[0] != '\0' && !list_contains(metas, address))
        LOG_WARN("--address %s is not in [cluster] meta_servers (%s)", address, metas);
    rc = cluster_path(cfg, opt, errbuf, errlen);
    if (rc == 0)
        rc = get_ms(cfg, "zookeeper", "session_timeout_ms", 4000, &opt->session_timeout_ms, errbuf,
                    errlen);
    if (rc == 0)
        rc =
            get_ms(cfg, "meta_server", "node_grace_ms", 10000, &opt->node_grace_ms, errbuf, errlen);
    if (rc == 0)
        rc = get_ms(cfg, "meta_server", "lease_ms", opt->node_grace_ms * 4 / 5, &opt->lease_ms,
                    errbuf, errlen);
    if (rc == 0)
        rc = get_ms(cfg, "meta_server", "create_timeout_ms", 30000, &opt->create_timeout_ms, errbuf,
                    errlen);
    if (rc == 0)
        rc = get_ms(cfg, "meta_server", "add_secondary_delay_ms", 20000,
                    &opt->add_secondary_delay_ms, errbuf, errlen);
    if (rc == 0)
        rc = get_ms(cfg, "meta_server", "learner_timeout_ms", 600000, &opt->learner_timeout_ms,
                    errbuf, errlen);
    if (rc == 0)
        rc = get_ms(cfg, "meta_server", "balancer_interval_ms", 10000, &opt->balancer_interval_ms,
                    errbuf, errlen);
    if (rc == 0 && opt->lease_ms >= opt->node_grace_ms)
        rc = fail(errbuf, errlen, "[meta_server] lease_ms must be below node_grace_ms");
    if (rc == 0)
        rc = meta_dup_options_load(cfg, opt->cluster_name, &opt->dup, errbuf, errlen);
    return rc;
}
