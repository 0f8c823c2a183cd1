/*
 * admin_cmds.c: admin-cli's command table and commands.
 *
 * Every command gets the session (client, selected app, timeouts) and its arguments, prints
 * its result on stdout and returns ADMIN_OK, or ADMIN_FAIL after printing exactly one line on
 * stderr: "error: <what>: <reason>" or, for wrong arguments, "usage: <command usage>".
 * Bytes from the store (keys, values) are printed escaped (admin_escape: \xHH for anything
 * not printable). A get of a missing key and a check_and_set whose check fails are answers,
 * not failures. With --json (out_json()) a command writes its result's fields instead
 * (admin_out.h); the shapes are listed in README.md.
 */
#include "admin/admin.h"
#include "admin/admin_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/geokv_wire.h"
#include "common/xmalloc.h"

struct admin_cmd;
typedef enum admin_result admin_cmd_fn(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
                                       const struct admin_tok *argv);

struct admin_cmd {
    const char *name, *alias;
    const char *usage; /* arguments only */
    const char *help;
    admin_cmd_fn *fn;
    bool needs_app;
    int min_args, max_args; /* not counting the command; max -1 = any */
};

#define USAGE_FAIL (ADMIN_FAIL + 100) /* internal: print the usage line */

static void admin_print_help(void);

static enum admin_result
fail(const char *what, int err)
{
    return out_fail("%s: %s%s", what, err_str(err),
                    err == ERR_AUTH ? " (pass -c CONFIG with the cluster's [security] keys)" : "");
}

/* Prints OK ({"ok": true}) for err == 0, else the error line (the common ending of write
 * commands). */
static enum admin_result
ok_or_fail(const char *what, int err)
{
    if (err != 0)
        return fail(what, err);
    if (out_json())
        json_kv_bool("ok", true);
    else
        printf("OK\n");
    return ADMIN_OK;
}

static struct geokv_bytes
tok_bytes(const struct admin_tok *t)
{
    return geokv_bytes(t->p, t->len);
}

/* Prints bytes escaped, without a newline. */
static void
print_escaped(const void *p, size_t n)
{
    struct buf b = BUF_INIT;
    admin_escape(p, n, &b);
    fputs((const char *)b.data, stdout);
    buf_fini(&b);
}

/* Opens the selected app if needed. */
static int
need_table(struct admin_ctx *ctx)
{
    if (ctx->table != NULL && strcmp(geokv_table_name(ctx->table), ctx->app) == 0)
        return 0;
    ctx->table = NULL;
    return geokv_open(ctx->client, ctx->app, ctx->timeout_ms, &ctx->table);
}

/* ---- meta commands ---- */

static void
ls_print(const struct geokv_table_info *t, size_t n)
{
    printf("%-8s %-32s %-10s %-10s %-8s %s\n", "app_id", "name", "status", "partitions", "replicas",
           "create_time");
    for (size_t i = 0; i < n; i++) {
        char ts[32] = "-";
        time_t tt = (time_t)t[i].create_time_s;
        struct tm tm;
        if (t[i].create_time_s > 0 && localtime_r(&tt, &tm) != NULL)
            strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%-8u %-32s %-10s %-10u %-8u %s\n", t[i].id, t[i].name, t[i].status,
               t[i].partition_count, t[i].replica_count, ts);
    }
}

static void
ls_json(const struct geokv_table_info *t, size_t n)
{
    json_key("tables");
    json_begin_array();
    for (size_t i = 0; i < n; i++) {
        json_begin_object();
        json_kv_int("app_id", t[i].id);
        json_kv_str("name", t[i].name);
        json_kv_str("status", t[i].status);
        json_kv_int("partition_count", t[i].partition_count);
        json_kv_int("replica_count", t[i].replica_count);
        json_kv_int("create_time_s", t[i].create_time_s);
        json_end();
    }
    json_end();
}

static enum admin_result
cmd_ls(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    struct geokv_table_info *t;
    size_t n;
    int err = geokv_list_tables(ctx->client, ctx->timeout_ms, &t, &n);

    if (err != 0)
        return fail("ls", err);
    if (out_json())
        ls_json(t, n);
    else
        ls_print(t, n);
    free(t);
    return ADMIN_OK;
}

/* Parses create's options (-p N, -r R) after the name. */
static int
create_opts(int argc, const struct admin_tok *argv, uint32_t *pc, uint32_t *rc)
{
    for (int i = 1; i < argc; i += 2) {
        uint32_t *dst = strcmp(argv[i].p, "-p") == 0   ? pc
                        : strcmp(argv[i].p, "-r") == 0 ? rc
                                                       : NULL;
        if (dst == NULL || i + 1 >= argc || admin_parse_u32(argv[i + 1].p, dst) != 0 || *dst == 0)
            return ERR_INVALID_ARG;
    }
    return 0;
}

static enum admin_result
cmd_create(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
           const struct admin_tok *argv)
{
    uint32_t pc = 4, rc = 3;
    struct msg_app_config cfg;
    int err;

    if (create_opts(argc, argv, &pc, &rc) != 0)
        return USAGE_FAIL;
    err = geokv_create_app(ctx->client, argv[0].p, pc, rc, ctx->create_timeout_ms, &cfg);
    if (err != 0)
        return fail("create", err);
    if (out_json()) {
        json_kv_int("app_id", cfg.app_id);
        json_kv_str("name", argv[0].p);
        json_kv_int("partition_count", cfg.partition_count);
        json_kv_int("replica_count", cfg.replica_count);
    } else {
        printf("created app %s: app_id %u, %u partitions, %u replicas\n", argv[0].p, cfg.app_id,
               cfg.partition_count, cfg.replica_count);
    }
    msg_app_config_fini(&cfg);
    return ADMIN_OK;
}

static enum admin_result
cmd_drop(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    int err = geokv_drop_table(ctx->client, argv[0].p, ctx->timeout_ms);
    if (err != 0 || out_json())
        return ok_or_fail("drop", err);
    printf("dropped app %s\n", argv[0].p);
    return ADMIN_OK;
}

static enum admin_result
cmd_writes(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
           const struct admin_tok *argv)
{
    bool deny = strcmp(argv[1].p, "deny") == 0;
    int err;

    if (!deny && strcmp(argv[1].p, "allow") != 0)
        return USAGE_FAIL;
    err = geokv_set_table_writes(ctx->client, argv[0].p, deny, ctx->timeout_ms);
    if (err != 0 || out_json())
        return ok_or_fail("writes", err);
    printf("client writes to %s %s (each primary applies it with its next beacon)\n", argv[0].p,
           deny ? "denied" : "allowed");
    return ADMIN_OK;
}

static enum admin_result
cmd_use(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    struct geokv_table *t;
    int err;

    if (argv[0].len >= sizeof(ctx->app))
        return fail("use", ERR_INVALID_ARG);
    err = geokv_open(ctx->client, argv[0].p, ctx->timeout_ms, &t);
    if (err != 0)
        return fail("use", err);
    snprintf(ctx->app, sizeof(ctx->app), "%s", argv[0].p);
    ctx->table = t;
    return ok_or_fail("use", 0);
}

static const char *
node_state_name(uint32_t s)
{
    return s == NODE_ALIVE ? "ALIVE" : s == NODE_DEAD ? "DEAD" : "UNKNOWN";
}

static enum admin_result
cmd_nodes(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
          const struct admin_tok *argv)
{
    struct msg_list_nodes_resp m;
    int err = geokv_list_nodes(ctx->client, ctx->timeout_ms, &m);

    if (err != 0)
        return fail("nodes", err);
    if (out_json()) {
        json_key("nodes");
        json_begin_array();
        for (uint32_t i = 0; i < m.nnodes; i++) {
            json_begin_object();
            json_kv_str("address", m.nodes[i].address);
            json_kv_str("state", node_state_name(m.nodes[i].state));
            json_kv_int("primary_count", m.nodes[i].primary_count);
            json_kv_int("secondary_count", m.nodes[i].secondary_count);
            json_end();
        }
        json_end();
    } else {
        printf("%-24s %-8s %-10s %s\n", "address", "state", "primaries", "secondaries");
        for (uint32_t i = 0; i < m.nnodes; i++)
            printf("%-24s %-8s %-10u %u\n", m.nodes[i].address, node_state_name(m.nodes[i].state),
                   m.nodes[i].primary_count, m.nodes[i].secondary_count);
    }
    msg_list_nodes_resp_fini(&m);
    return ADMIN_OK;
}

static void
print_partition(const struct partition_config *p)
{
    char sec[GEOKV_MAX_REPLICAS * GEOKV_ADDR_MAX + 8] = "";
    size_t off = 0;

    for (uint32_t j = 0; j < p->nsecondaries && j < GEOKV_MAX_REPLICAS; j++)
        off +=
            (size_t)snprintf(sec + off, sizeof(sec) - off, "%s%s", j ? "," : "", p->secondaries[j]);
    printf("%-6u %-8lld %-24s %-50s %lld\n", p->pidx, (long long)p->ballot,
           p->primary[0] ? p->primary : "-", sec[0] ? sec : "-", (long long)p->last_committed);
}

static void
app_json(const struct msg_app_config *cfg)
{
    json_kv_int("app_id", cfg->app_id);
    json_kv_str("name", cfg->name);
    json_kv_str("status", app_status_name(cfg->status));
    json_kv_int("partition_count", cfg->partition_count);
    json_kv_int("replica_count", cfg->replica_count);
    json_kv_str("writes", cfg->deny_write ? "denied" : "allowed");
    json_kv_bool("healthy", cfg->healthy);
    json_key("partitions");
    json_begin_array();
    for (uint32_t i = 0; i < cfg->partition_count; i++) {
        const struct partition_config *p = &cfg->partitions[i];
        json_begin_object();
        json_kv_int("pidx", p->pidx);
        json_kv_int("ballot", p->ballot);
        json_kv_str("primary", p->primary[0] ? p->primary : NULL);
        json_key("secondaries");
        json_begin_array();
        for (uint32_t j = 0; j < p->nsecondaries && j < GEOKV_MAX_REPLICAS; j++)
            json_str(p->secondaries[j]);
        json_end();
        json_kv_int("last_committed", p->last_committed);
        json_end();
    }
    json_end();
}

static enum admin_result
cmd_app(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    const char *name = argc > 0 ? argv[0].p : ctx->app;
    struct msg_app_config cfg;
    int err;

    if (name[0] == '\0')
        return USAGE_FAIL;
    err = geokv_query_config(ctx->client, name, ctx->timeout_ms, &cfg);
    if (err != 0)
        return fail("app", err);
    if (out_json()) {
        app_json(&cfg);
        msg_app_config_fini(&cfg);
        return ADMIN_OK;
    }
    printf("app_id: %u\nname: %s\nstatus: %s\npartition_count: %u\nreplica_count: %u\nwrites: "
           "%s\nhealthy: %s\n",
           cfg.app_id, cfg.name, app_status_name(cfg.status), cfg.partition_count,
           cfg.replica_count, cfg.deny_write ? "denied" : "allowed", cfg.healthy ? "yes" : "no");
    printf("%-6s %-8s %-24s %-50s %s\n", "pidx", "ballot", "primary", "secondaries",
           "last_committed");
    for (uint32_t i = 0; i < cfg.partition_count; i++)
        print_partition(&cfg.partitions[i]);
    msg_app_config_fini(&cfg);
    return ADMIN_OK;
}

/* Why a table is not converged: the first reason found, for the error line. */
struct digest_verdict {
    bool converged;
    char why[160];
};

static void
digest_diverged(struct digest_verdict *v, const char *fmt, uint32_t pidx, const char *node,
                const char *detail)
{
    if (v->converged)
        snprintf(v->why, sizeof(v->why), fmt, pidx, node, detail);
    v->converged = false;
}

/* Prints one replica's row: its digest d, or (d NULL) why there is none. JSON rows have every
 * field, null where it does not apply. */
static void
digest_row(uint32_t pidx, const char *node, const char *role, const struct msg_digest_resp *d,
           const char *why)
{
    char hex[17] = "";

    for (int i = 0; d != NULL && i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", d->sha256[i]);
    if (!out_json()) {
        if (d == NULL)
            printf("%-6u %-24s %-10s %s\n", pidx, node != NULL ? node : "-", role, why);
        else
            printf("%-6u %-24s %-10s %-14lld %-10llu %s\n", pidx, node, role,
                   (long long)d->last_committed, (unsigned long long)d->records, hex);
        return;
    }
    json_begin_object();
    json_kv_int("pidx", pidx);
    json_kv_str("node", node);
    json_kv_str("role", role);
    json_key("last_committed");
    if (d != NULL)
        json_int(d->last_committed);
    else
        json_null();
    json_key("records");
    if (d != NULL)
        json_uint(d->records);
    else
        json_null();
    json_kv_str("digest", d != NULL ? hex : NULL);
    json_kv_str("error", why);
    json_end();
}

/* Asks one replica for its digest, prints its row and compares it with the first answer. */
static void
digest_replica(struct admin_ctx *ctx, uint64_t gpid, uint32_t pidx, const char *node,
               const char *role, struct msg_digest_resp *first, bool *have_first,
               struct digest_verdict *v)
{
    struct msg_digest_resp d;
    char why[128];
    int err = geokv_replica_digest(ctx->client, node, gpid, ctx->timeout_ms, &d);

    if (err != 0) {
        snprintf(why, sizeof(why), "unreachable: %s", err_str(err));
        digest_row(pidx, node, role, NULL, why);
        digest_diverged(v, "partition %u: %s unreachable: %s", pidx, node, err_str(err));
        return;
    }
    digest_row(pidx, node, role, &d, NULL);
    if (!*have_first) {
        *first = d;
        *have_first = true;
    } else if (first->last_committed != d.last_committed) {
        digest_diverged(v, "partition %u: %s differs in %s", pidx, node, "last_committed");
    } else if (memcmp(first->sha256, d.sha256, sizeof(d.sha256)) != 0) {
        digest_diverged(v, "partition %u: %s differs in %s", pidx, node, "digest");
    }
}

static enum admin_result
cmd_digest(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
           const struct admin_tok *argv)
{
    const char *name = argc > 0 ? argv[0].p : ctx->app;
    struct digest_verdict v = {true, ""};
    struct msg_app_config cfg;
    int err;

    if (name[0] == '\0')
        return USAGE_FAIL;
    err = geokv_query_config(ctx->client, name, ctx->timeout_ms, &cfg);
    if (err != 0)
        return fail("digest", err);
    if (out_json()) {
        json_key("replicas");
        json_begin_array();
    } else {
        printf("%-6s %-24s %-10s %-14s %-10s %s\n", "pidx", "node", "role", "last_committed",
               "records", "digest");
    }
    for (uint32_t i = 0; i < cfg.partition_count; i++) {
        const struct partition_config *p = &cfg.partitions[i];
        uint64_t gpid = gpid_make(cfg.app_id, p->pidx);
        struct msg_digest_resp first;
        bool have_first = false;
        if (p->primary[0] == '\0') {
            digest_row(p->pidx, NULL, "primary", NULL, "no primary");
            digest_diverged(&v, "partition %u: %s%s", p->pidx, "no primary", "");
        } else {
            digest_replica(ctx, gpid, p->pidx, p->primary, "primary", &first, &have_first, &v);
        }
        for (uint32_t j = 0; j < p->nsecondaries && j < GEOKV_MAX_REPLICAS; j++)
            digest_replica(ctx, gpid, p->pidx, p->secondaries[j], "secondary", &first, &have_first,
                           &v);
    }
    msg_app_config_fini(&cfg);
    if (out_json()) {
        json_end();
        json_kv_bool("converged", v.converged);
    } else {
        printf("converged: %s\n", v.converged ? "yes" : "no");
    }
    return v.converged ? ADMIN_OK : out_fail("digest: not converged: %s", v.why);
}

/* Compacts every replica of every partition (the operator's manual compaction). */
static enum admin_result
cmd_compact(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
            const struct admin_tok *argv)
{
    const char *name = argc > 0 ? argv[0].p : ctx->app;
    struct msg_app_config cfg;
    int err, failed = 0;

    if (name[0] == '\0')
        return USAGE_FAIL;
    err = geokv_query_config(ctx->client, name, ctx->timeout_ms, &cfg);
    if (err != 0)
        return fail("compact", err);
    if (out_json()) {
        json_key("replicas");
        json_begin_array();
    }
    for (uint32_t i = 0; i < cfg.partition_count; i++) {
        const struct partition_config *p = &cfg.partitions[i];
        for (uint32_t j = 0; j <= p->nsecondaries && j <= GEOKV_MAX_REPLICAS; j++) {
            const char *node = j == 0 ? p->primary : p->secondaries[j - 1];
            if (node[0] == '\0')
                continue;
            err = geokv_replica_compact(ctx->client, node, gpid_make(cfg.app_id, p->pidx),
                                        ctx->timeout_ms);
            failed += err != 0;
            if (!out_json()) {
                printf("%-6u %-24s %s\n", p->pidx, node, err ? err_str(err) : "compacted");
                continue;
            }
            json_begin_object();
            json_kv_int("pidx", p->pidx);
            json_kv_str("node", node);
            json_kv_bool("compacted", err == 0);
            json_kv_str("error", err ? err_str(err) : NULL);
            json_end();
        }
    }
    msg_app_config_fini(&cfg);
    if (out_json())
        json_end();
    return failed == 0 ? ADMIN_OK : out_fail("compact: %d replica(s) failed", failed);
}

static enum admin_result
cmd_leader(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
           const struct admin_tok *argv)
{
    char leader[GEOKV_ADDR_MAX];
    int err = geokv_leader(ctx->client, argc > 0 ? argv[0].p : NULL, ctx->timeout_ms, leader);

    if (err != 0)
        return fail("leader", err);
    if (out_json())
        json_kv_str("leader", leader);
    else
        printf("%s\n", leader);
    return ADMIN_OK;
}

/* ---- server-config ---- */

#define SERVER_CONFIG_MAX_TARGETS 256

/* The servers `server-config` talks to: one address, or for "all" every alive replica
 * server (from the meta) and every meta of the list. */
struct sc_targets {
    char addr[SERVER_CONFIG_MAX_TARGETS][GEOKV_ADDR_MAX];
    size_t n;
};

static void
sc_add(struct sc_targets *t, const char *addr)
{
    if (t->n < SERVER_CONFIG_MAX_TARGETS)
        snprintf(t->addr[t->n++], GEOKV_ADDR_MAX, "%s", addr);
}

static int
sc_collect(struct admin_ctx *ctx, const char *target, struct sc_targets *t)
{
    struct msg_list_nodes_resp m;
    int err;

    t->n = 0;
    if (strcmp(target, "all") != 0) {
        if (strchr(target, ':') == NULL || strlen(target) >= GEOKV_ADDR_MAX)
            return ERR_INVALID_ARG;
        sc_add(t, target);
        return 0;
    }
    err = geokv_list_nodes(ctx->client, ctx->timeout_ms, &m);
    if (err != 0)
        return err;
    for (uint32_t i = 0; i < m.nnodes; i++)
        if (m.nodes[i].state == NODE_ALIVE)
            sc_add(t, m.nodes[i].address);
    msg_list_nodes_resp_fini(&m);
    for (size_t i = 0; i < geokv_client_meta_count(ctx->client); i++)
        sc_add(t, geokv_client_meta_addr(ctx->client, i));
    return 0;
}

/* The first failure of a server-config run, for the one error line. */
struct sc_failure {
    size_t count;
    char first[400];
};

static void
sc_failed(struct sc_failure *f, const char *addr, int err, const char *reason)
{
    if (f->count++ == 0)
        snprintf(f->first, sizeof(f->first), "%s: %s", addr, reason[0] ? reason : err_str(err));
}

/* One server: shows/sets key, or with key "" shows every setting it has. */
static void
sc_one(struct admin_ctx *ctx, const char *addr, const char *key, const char *value,
       struct sc_failure *f)
{
    struct msg_server_config m;
    char names[sizeof(m.value)], *save = NULL, *name;
    int err = geokv_server_config(ctx->client, addr, key, value, ctx->timeout_ms, &m);

    if (err != 0) {
        sc_failed(f, addr, err, m.value);
        return;
    }
    if (key[0] != '\0' && out_json()) {
        json_begin_object();
        json_kv_str("node", addr);
        json_kv_str("key", m.key);
        json_kv_str("value", m.value);
        json_end();
        return;
    }
    if (key[0] != '\0') {
        printf("%s %s %s\n", addr, m.key, m.value);
        return;
    }
    memcpy(names, m.value, sizeof(names));
    for (name = strtok_r(names, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save))
        sc_one(ctx, addr, name, "", f);
}

static enum admin_result
cmd_server_config(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
                  const struct admin_tok *argv)
{
    const char *key = argc > 1 ? argv[1].p : "", *value = argc > 2 ? argv[2].p : "";
    struct sc_targets *t = xmalloc(sizeof(*t));
    struct sc_failure f = {0, ""};
    int err = sc_collect(ctx, argv[0].p, t);

    if (err == ERR_INVALID_ARG) {
        xfree(t);
        return USAGE_FAIL;
    }
    if (err == 0 && argc > 2 && value[0] == '\0')
        err = ERR_INVALID_ARG;
    if (err != 0) {
        xfree(t);
        return fail("server-config", err);
    }
    if (out_json()) {
        json_key("settings");
        json_begin_array();
    }
    for (size_t i = 0; i < t->n; i++)
        sc_one(ctx, t->addr[i], key, value, &f);
    xfree(t);
    if (out_json())
        json_end();
    if (f.count == 0)
        return ADMIN_OK;
    if (f.count > 1)
        return out_fail("server-config: %s (and %zu more failures)", f.first, f.count - 1);
    return out_fail("server-config: %s", f.first);
}

/* ---- data commands ---- */

static enum admin_result
cmd_set(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    uint32_t ttl = 0;
    int err;

    if (argc == 4 && admin_parse_u32(argv[3].p, &ttl) != 0)
        return USAGE_FAIL;
    err = geokv_set(ctx->table, tok_bytes(&argv[0]), tok_bytes(&argv[1]), tok_bytes(&argv[2]), ttl,
                    ctx->timeout_ms);
    return ok_or_fail("set", err);
}

static enum admin_result
cmd_get(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    void *v = NULL;
    size_t len = 0;
    uint32_t expire_ts = 0;
    int err = geokv_get(ctx->table, tok_bytes(&argv[0]), tok_bytes(&argv[1]), &v, &len, &expire_ts,
                        ctx->timeout_ms);

    if ((err == 0 || err == ERR_NOT_FOUND) && out_json()) {
        json_kv_bool("found", err == 0);
        json_key("value");
        if (err == 0)
            json_bytes(v, len);
        else
            json_null();
        json_key("expire_ts");
        if (err == 0)
            json_int(expire_ts);
        else
            json_null();
        err = 0;
    } else if (err == ERR_NOT_FOUND) {
        printf("not found\n");
        err = 0;
    } else if (err == 0) {
        print_escaped(v, len);
        printf("\n");
    }
    free(v);
    return err != 0 ? fail("get", err) : ADMIN_OK;
}

static enum admin_result
cmd_del(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    int err = geokv_del(ctx->table, tok_bytes(&argv[0]), tok_bytes(&argv[1]), ctx->timeout_ms);
    return ok_or_fail("del", err);
}

/* One record as a JSON object (its own document at the top level: dump's NDJSON). */
static void
record_json(const struct geokv_record *r)
{
    json_begin_object();
    json_key("hash_key");
    json_bytes(r->hash_key.data, r->hash_key.len);
    json_key("sort_key");
    json_bytes(r->sort_key.data, r->sort_key.len);
    json_key("value");
    json_bytes(r->value.data, r->value.len);
    json_kv_int("expire_ts", r->expire_ts);
    json_end();
}

/* Prints one record as: hash_key : sort_key => value (with --json: an object of "records"). */
static int
print_record(void *arg, const struct geokv_record *r)
{
    long *n = arg;
    if (out_json()) {
        record_json(r);
        (*n)++;
        return 0;
    }
    print_escaped(r->hash_key.data, r->hash_key.len);
    printf(" : ");
    print_escaped(r->sort_key.data, r->sort_key.len);
    printf(" => ");
    print_escaped(r->value.data, r->value.len);
    printf("\n");
    (*n)++;
    return 0;
}

/* multi_get's and scan's {"records": [...], "count": N}, streamed as the pages arrive (a
 * failure closes it with "error" instead of "count"). */
static void
records_begin(void)
{
    if (out_json()) {
        json_key("records");
        json_begin_array();
    }
}

static enum admin_result
records_end(long n)
{
    if (out_json()) {
        json_end();
        json_kv_int("count", n);
    } else {
        printf("%ld record(s)\n", n);
    }
    return ADMIN_OK;
}

static enum admin_result
cmd_multi_get(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
              const struct admin_tok *argv)
{
    struct geokv_bytes *sks = xcalloc((size_t)argc, sizeof(*sks));
    long n = 0;
    int err;

    for (int i = 1; i < argc; i++)
        sks[i - 1] = tok_bytes(&argv[i]);
    records_begin();
    err = geokv_multi_get(ctx->table, tok_bytes(&argv[0]), sks, (size_t)argc - 1, print_record, &n,
                          ctx->timeout_ms);
    xfree(sks);
    return err != 0 ? fail("multi_get", err) : records_end(n);
}

static enum admin_result
cmd_multi_set(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
              const struct admin_tok *argv)
{
    size_t n = (size_t)(argc - 1) / 2;
    struct geokv_kv *kvs;
    int err;

    if ((argc - 1) % 2 != 0)
        return USAGE_FAIL;
    kvs = xcalloc(n, sizeof(*kvs));
    for (size_t i = 0; i < n; i++)
        kvs[i] = (struct geokv_kv){tok_bytes(&argv[1 + 2 * i]), tok_bytes(&argv[2 + 2 * i])};
    err = geokv_multi_set(ctx->table, tok_bytes(&argv[0]), kvs, n, 0, ctx->timeout_ms);
    xfree(kvs);
    return ok_or_fail("multi_set", err);
}

static enum admin_result
cmd_multi_del(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
              const struct admin_tok *argv)
{
    struct geokv_bytes *sks = xcalloc((size_t)argc, sizeof(*sks));
    int err;

    for (int i = 1; i < argc; i++)
        sks[i - 1] = tok_bytes(&argv[i]);
    err = geokv_multi_del(ctx->table, tok_bytes(&argv[0]), sks, (size_t)argc - 1, ctx->timeout_ms);
    xfree(sks);
    return ok_or_fail("multi_del", err);
}

static enum admin_result
cmd_scan(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    struct geokv_bytes start = argc > 1 ? tok_bytes(&argv[1]) : geokv_bytes(NULL, 0);
    struct geokv_bytes stop = argc > 2 ? tok_bytes(&argv[2]) : geokv_bytes(NULL, 0);
    long n = 0;
    int err;

    records_begin();
    err =
        geokv_scan(ctx->table, tok_bytes(&argv[0]), start, stop, print_record, &n, ctx->timeout_ms);
    return err != 0 ? fail("scan", err) : records_end(n);
}

static int
count_record(void *arg, const struct geokv_record *r)
{
    (*(long long *)arg)++;
    return 0;
}

static enum admin_result
cmd_count(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
          const struct admin_tok *argv)
{
    long long n = 0;
    int err = geokv_full_scan(ctx->table, count_record, &n, ctx->timeout_ms);

    if (err != 0)
        return fail("count", err);
    if (out_json())
        json_kv_int("count", n);
    else
        printf("%lld\n", n);
    return ADMIN_OK;
}

/* Copies one record of a full scan into the dump. */
static int
dump_record(void *arg, const struct geokv_record *r)
{
    admin_dump_add(arg, r->hash_key.data, r->hash_key.len, r->sort_key.data, r->sort_key.len,
                   r->value.data, r->value.len, r->expire_ts);
    return 0;
}

/* Every live record of a table, sorted by key, for diffs between clusters: the whole table
 * is collected before anything is printed (so a failure prints nothing else). With --json one
 * record object per line (NDJSON): still diffable, and readable in constant memory. */
static enum admin_result
cmd_dump(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    struct admin_dump d = ADMIN_DUMP_INIT;
    struct buf line = BUF_INIT;
    struct geokv_table *t;
    int err;

    if (argc > 0) {
        err = geokv_open(ctx->client, argv[0].p, ctx->timeout_ms, &t);
    } else if (ctx->app[0] == '\0') {
        return USAGE_FAIL;
    } else {
        err = need_table(ctx);
        t = ctx->table;
    }
    if (err == 0)
        err = geokv_full_scan(t, dump_record, &d, ctx->timeout_ms);
    if (err != 0) {
        admin_dump_fini(&d);
        return fail("dump", err);
    }
    admin_dump_sort(&d);
    for (size_t i = 0; i < d.n; i++) {
        const struct admin_dump_rec *r = &d.recs[i];
        const uint8_t *p = d.bytes.data + r->off;
        if (out_json()) {
            record_json(&(struct geokv_record){
                geokv_bytes(p, r->hk_len), geokv_bytes(p + r->hk_len, r->sk_len),
                geokv_bytes(p + r->hk_len + r->sk_len, r->v_len), r->expire_ts});
            continue;
        }
        buf_reset(&line);
        admin_dump_line(&d, i, &line);
        fwrite(line.data, 1, line.len, stdout);
    }
    buf_fini(&line);
    admin_dump_fini(&d);
    return ADMIN_OK;
}

static enum admin_result
cmd_incr(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    int64_t delta = 1, v;
    int err;

    if (argc == 3 && admin_parse_i64(argv[2].p, &delta) != 0)
        return USAGE_FAIL;
    err = geokv_incr(ctx->table, tok_bytes(&argv[0]), tok_bytes(&argv[1]), delta, 0, &v,
                     ctx->timeout_ms);
    if (err != 0)
        return fail("incr", err);
    if (out_json())
        json_kv_int("value", v);
    else
        printf("%lld\n", (long long)v);
    return ADMIN_OK;
}

/* Parses not_exist | exist | equal:<operand>. */
static int
cas_check(const struct admin_tok *t, enum geokv_check *type, struct geokv_bytes *operand)
{
    *operand = geokv_bytes(NULL, 0);
    if (strcmp(t->p, "not_exist") == 0)
        *type = GEOKV_CHECK_NOT_EXIST;
    else if (strcmp(t->p, "exist") == 0)
        *type = GEOKV_CHECK_EXIST;
    else if (t->len >= 6 && memcmp(t->p, "equal:", 6) == 0)
        *type = GEOKV_CHECK_VALUE_EQUAL, *operand = geokv_bytes(t->p + 6, t->len - 6);
    else
        return ERR_INVALID_ARG;
    return 0;
}

static enum admin_result
cmd_cas(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    struct geokv_cas cas = {.check_sort_key = tok_bytes(&argv[1]),
                            .set_sort_key = tok_bytes(&argv[3]),
                            .value = tok_bytes(&argv[4])};
    void *cv = NULL;
    size_t cvlen = 0;
    bool exist = false;
    int err;

    if (cas_check(&argv[2], &cas.check, &cas.operand) != 0 ||
        (argc == 6 && admin_parse_u32(argv[5].p, &cas.ttl_s) != 0))
        return USAGE_FAIL;
    err = geokv_check_and_set(ctx->table, tok_bytes(&argv[0]), &cas, &exist, &cv, &cvlen,
                              ctx->timeout_ms);
    if ((err == 0 || err == ERR_CHECK_FAILED) && out_json()) {
        json_kv_bool("set", err == 0);
        json_kv_bool("check_exists", exist);
        json_key("check_value");
        if (exist)
            json_bytes(cv, cvlen);
        else
            json_null();
        err = 0;
    } else if (err == 0) {
        printf("OK\n");
    } else if (err == ERR_CHECK_FAILED) {
        printf("check failed, not set (checked key %s", exist ? "exists: " : "does not exist");
        if (exist)
            print_escaped(cv, cvlen);
        printf(")\n");
        err = 0;
    }
    free(cv);
    return err != 0 ? fail("check_and_set", err) : ADMIN_OK;
}

static enum admin_result
cmd_help(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    admin_print_help();
    return ADMIN_OK;
}

static enum admin_result
cmd_exit(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc, const struct admin_tok *argv)
{
    return ADMIN_EXIT;
}

/* ---- table and dispatcher ---- */

static const struct admin_cmd cmds[] = {
    {"help", NULL, "", "this list", cmd_help, false, 0, -1},
    {"ls", NULL, "", "list tables", cmd_ls, false, 0, 0},
    {"create", NULL, "<app> [-p partitions=4] [-r replicas=3]",
     "create a table (waits until every partition is ready)", cmd_create, false, 1, 5},
    {"drop", NULL, "<app>", "drop a table", cmd_drop, false, 1, 1},
    {"writes", NULL, "<app> deny|allow",
     "refuse (deny) or take again client writes to a table on this cluster; duplicated writes "
     "are applied either way",
     cmd_writes, false, 2, 2},
    {"use", NULL, "<app>", "select the table for data commands", cmd_use, false, 1, 1},
    {"nodes", NULL, "", "list replica servers", cmd_nodes, false, 0, 0},
    {"app", NULL, "[app]",
     "a table's partitions: pidx ballot primary secondaries "
     "last_committed",
     cmd_app, false, 0, 1},
    {"digest", NULL, "[app]",
     "every replica's last_committed, record count and digest; "
     "fails unless all replicas of each partition agree",
     cmd_digest, false, 0, 1},
    {"compact", NULL, "[app]",
     "compact every replica of a table now (drops tombstones and "
     "expired records older than tombstone_ttl_seconds)",
     cmd_compact, false, 0, 1},
    {"leader", NULL, "[meta]", "the meta leader's address (as one meta, or the list, sees it)",
     cmd_leader, false, 0, 1},
    {"server-config", NULL, "<node|all> [key [value]]",
     "show or change a run-time setting (duplicate_log_batch_bytes, log_level, ...) on one "
     "server (host:port, replica or meta) or on all (alive replica servers and the metas) "
     "without a restart; prints 'node key value' per server; no key: every setting. Not "
     "persisted: a restarted server reads its config file again",
     cmd_server_config, false, 1, 3},
    {"set", NULL, "<hk> <sk> <value> [ttl_s]", "set a value", cmd_set, true, 3, 4},
    {"get", NULL, "<hk> <sk>", "print a value (\"not found\" if missing)", cmd_get, true, 2, 2},
    {"del", NULL, "<hk> <sk>", "delete a key", cmd_del, true, 2, 2},
    {"multi_get", NULL, "<hk> [sk ...]", "sort keys of a hash key (all if none given)",
     cmd_multi_get, true, 1, -1},
    {"multi_set", NULL, "<hk> <sk> <value> [<sk> <value> ...]", "set several sort keys",
     cmd_multi_set, true, 3, -1},
    {"multi_del", NULL, "<hk> <sk> [sk ...]", "delete several sort keys", cmd_multi_del, true, 2,
     -1},
    {"scan", NULL, "<hk> [start [stop]]", "sort keys of a hash key in [start, stop)", cmd_scan,
     true, 1, 3},
    {"count", NULL, "", "number of live records in the table (full scan)", cmd_count, true, 0, 0},
    {"dump", NULL, "[app]",
     "every live record of a table (default: the selected one), sorted "
     "by key, one line each: hash_key TAB sort_key TAB value TAB expire_ts (escaped; for "
     "diffs between clusters)",
     cmd_dump, false, 0, 1},
    {"incr", NULL, "<hk> <sk> [delta=1]", "add delta to an integer value, print the result",
     cmd_incr, true, 2, 3},
    {"check_and_set", "cas",
     "<hk> <check_sk> not_exist|exist|equal:<operand> <set_sk> <value> "
     "[ttl_s]",
     "set set_sk if the check on check_sk holds", cmd_cas, true, 5, 6},
    {"dup", NULL,
     "add -c <cluster> [-p] | list | pause|start|remove -d <dupid> | verify -r <remote metas> "
     "[-t <remote table>] [-n N] [-w S] | switchover -c <remote cluster> -r <remote metas> -l "
     "<this cluster> [--rollback] | failover -c <master cluster> [-r <master metas>]  [-a "
     "<app>]",
     "duplication of the selected table to another cluster (add prints the dupid; list prints "
     "JSON with each partition's confirmed decree; verify compares the table on both clusters, "
     "exit 1 on a difference; switchover makes the remote table the master with nothing lost; "
     "failover makes this one "
     "take writes when its master is lost, and prints what may be missing)",
     admin_cmd_dup, false, 1, -1},
    {"set_dup_fail_mode", NULL, "<app> <dupid> slow|skip",
     "what a duplication does when shipping keeps failing: retry forever, or skip the batch",
     admin_cmd_set_dup_fail_mode, false, 3, 3},
    {"exit", "quit", "", "leave the shell", cmd_exit, false, 0, -1},
};

static void
admin_print_help(void)
{
    if (out_json()) {
        json_key("commands");
        json_begin_array();
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
            json_begin_object();
            json_kv_str("name", cmds[i].name);
            json_kv_str("alias", cmds[i].alias);
            json_kv_str("usage", cmds[i].usage);
            json_kv_str("help", cmds[i].help);
            json_end();
        }
        json_end();
        return;
    }
    printf("commands (quote arguments with \"...\" or '...'; \\xHH escapes inside \"...\"):\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        const struct admin_cmd *c = &cmds[i];
        printf("  %s%s%s %s\n      %s\n", c->name, c->alias ? " | " : "", c->alias ? c->alias : "",
               c->usage, c->help);
    }
}

static const struct admin_cmd *
cmd_find(const char *name)
{
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmds[i].name, name) == 0 ||
            (cmds[i].alias != NULL && strcmp(cmds[i].alias, name) == 0))
            return &cmds[i];
    return NULL;
}

static enum admin_result
usage_fail(const struct admin_cmd *c)
{
    return out_usage("%s %s", c->name, c->usage);
}

enum admin_result
admin_run(struct admin_ctx *ctx, const struct admin_args *args)
{
    const struct admin_cmd *c;
    int nargs = args->argc - 1, rc;

    if (args->argc == 0)
        return ADMIN_OK;
    c = cmd_find(args->argv[0].p);
    if (c == NULL)
        return out_fail("unknown command '%s' (try help)", args->argv[0].p);
    if (nargs < c->min_args || (c->max_args >= 0 && nargs > c->max_args))
        return usage_fail(c);
    if (c->needs_app) {
        if (ctx->app[0] == '\0')
            return out_fail("%s: no table selected (use <app>, or -a APP)", c->name);
        rc = need_table(ctx);
        if (rc != 0)
            return fail(ctx->app, rc);
    }
    rc = c->fn(ctx, c, nargs, args->argv + 1);
    return out_cmd_end(rc == USAGE_FAIL ? usage_fail(c) : (enum admin_result)rc);
}
