/*
 * admin_dup.c: admin-cli's duplication commands, as the Pegasus duplication
 * manual shows them:
 *
 *   dup add -c <cluster> [-p]          on the selected table (use <app>, or -a <app>)
 *   dup list                           JSON array: dupid, status, remote, create_ts (ms),
 *                                      fail_mode, progress (pidx -> confirmed decree),
 *                                      and full_copy (DS_PREPARE / DS_APP: where the copy of
 *                                      a full duplication is, or why it waits)
 *   dup pause|start|remove -d <dupid>
 *   dup verify -r <remote metas> ...   do both clusters hold the same table (admin_verify.c)
 *   dup switchover -c ... -r ... -l ... planned master switch, nothing lost (admin_switch.c)
 *   dup failover -c <master> [-r ...]  the follower takes writes now; prints the RPO
 *   set_dup_fail_mode <app> <dupid> slow|skip
 *
 * Each subcommand also takes -a <app> instead of the selected table. A refusal prints one
 * line, "error: dup <sub>: <the meta's reason>", and the command fails (non-zero exit).
 * With --json: add {"dupid", "existed"}, list {"duplications": [the same objects]}, the
 * others {"ok": true, "dupid", ...}.
 */
#include "admin/admin.h"
#include "admin/admin_out.h"

#include <stdio.h>
#include <string.h>

#include "client/geokv_wire.h"

#define DUP_ADD_MIN_TIMEOUT_MS 15000 /* the meta asks the remote cluster (up to 5 s) */
#define DUP_USAGE                                                                                  \
    "dup add -c <cluster> [-p] | dup list | dup pause|start|remove -d <dupid> | "                  \
    "dup verify -r <remote meta list> [-t <remote table>] [-n N] [-w S] | "                        \
    "dup switchover -c <remote cluster> -r <remote metas> -l <this cluster> [--rollback]  "        \
    "(on the table of 'use', or add -a <app>)"

/* Parsed options of one dup subcommand. */
struct dup_opts {
    const char *app;
    const char *cluster;
    bool full;
    bool have_dupid;
    uint64_t dupid;
};

static enum admin_result
dup_usage(void)
{
    return out_usage("%s", DUP_USAGE);
}

/* One error line: the meta's reason if it gave one, else the code's message. */
static enum admin_result
dup_fail(const char *what, int err, const char *why)
{
    return out_fail("%s: %s", what, why[0] != '\0' ? why : err_str(err));
}

/* Parses a dupid (a positive decimal). */
static int
parse_dupid(const char *s, uint64_t *out)
{
    int64_t v;

    if (admin_parse_i64(s, &v) != 0 || v <= 0)
        return ERR_INVALID_ARG;
    *out = (uint64_t)v;
    return 0;
}

/* Parses -a APP, -c CLUSTER, -p, -d DUPID after the subcommand. */
static int
dup_opts_parse(int argc, const struct admin_tok *argv, struct dup_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i].p;
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-p") == 0) {
            o->full = true;
        } else if (strcmp(a, "-a") == 0 && has_value) {
            o->app = argv[++i].p;
        } else if (strcmp(a, "-c") == 0 && has_value) {
            o->cluster = argv[++i].p;
        } else if (strcmp(a, "-d") == 0 && has_value) {
            if (parse_dupid(argv[++i].p, &o->dupid) != 0)
                return ERR_INVALID_ARG;
            o->have_dupid = true;
        } else {
            return ERR_INVALID_ARG;
        }
    }
    return 0;
}

/* The name of a status or fail mode, "?" for a value this build does not know. */
static const char *
or_unknown(const char *name)
{
    return name ? name : "?";
}

/* One duplication; the human list is these objects too, indented (out_set_pretty). */
static void
dup_json(const struct geokv_dup *d)
{
    json_begin_object();
    json_key("dupid");
    json_uint(d->dupid);
    json_kv_str("status", d->status);
    json_kv_str("remote", d->remote);
    json_kv_int("create_ts", d->create_time_ms);
    json_kv_str("fail_mode", d->fail_mode);
    json_key("progress");
    json_begin_object();
    for (size_t p = 0; p < d->npartitions; p++) {
        char pidx[24];
        snprintf(pidx, sizeof(pidx), "%zu", p);
        json_kv_int(pidx, d->confirmed[p]);
    }
    json_end();
    /* The human list shows full_copy only during a copy; --json keeps every field. */
    if (d->progress[0] != '\0' || out_json())
        json_kv_str("full_copy", d->progress[0] != '\0' ? d->progress : NULL);
    json_end();
}

static enum admin_result
dup_add(struct admin_ctx *ctx, const char *app, const struct dup_opts *o)
{
    int timeout =
        ctx->timeout_ms > DUP_ADD_MIN_TIMEOUT_MS ? ctx->timeout_ms : DUP_ADD_MIN_TIMEOUT_MS;
    uint64_t dupid;
    bool existed;
    char why[256];
    int err;

    if (o->cluster == NULL || o->have_dupid)
        return dup_usage();
    err = geokv_dup_add(ctx->client, app, o->cluster, o->full, timeout, &dupid, &existed, why,
                        sizeof(why));
    if (err != 0)
        return dup_fail("dup add", err, why);
    if (out_json()) {
        json_key("dupid");
        json_uint(dupid);
        json_kv_bool("existed", existed);
    } else if (existed) {
        printf("duplication of %s to %s already exists [dupid: %llu]\n", app, o->cluster,
               (unsigned long long)dupid);
    } else {
        printf("successfully add duplication [dupid: %llu]\n", (unsigned long long)dupid);
    }
    return ADMIN_OK;
}

static enum admin_result
dup_list(struct admin_ctx *ctx, const char *app, const struct dup_opts *o)
{
    struct geokv_dup *dups;
    size_t n;
    char why[256];
    int err;

    if (o->cluster != NULL || o->full || o->have_dupid)
        return dup_usage();
    err = geokv_dup_list(ctx->client, app, ctx->timeout_ms, &dups, &n, why, sizeof(why));
    if (err != 0)
        return dup_fail("dup list", err, why);
    if (out_json())
        json_key("duplications");
    else
        out_set_pretty(true);
    json_begin_array();
    for (size_t i = 0; i < n; i++)
        dup_json(&dups[i]);
    json_end();
    out_set_pretty(false);
    geokv_dup_list_free(dups, n);
    return ADMIN_OK;
}

static enum admin_result
dup_modify(struct admin_ctx *ctx, const char *app, const char *sub, enum geokv_dup_op op,
           const struct dup_opts *o)
{
    char what[32], why[256];
    int err;

    if (!o->have_dupid || o->cluster != NULL || o->full)
        return dup_usage();
    snprintf(what, sizeof(what), "dup %s", sub);
    err = geokv_dup_modify(ctx->client, app, o->dupid, op, GEOKV_DUP_FAIL_SLOW, ctx->timeout_ms,
                           why, sizeof(why));
    if (err != 0)
        return dup_fail(what, err, why);
    if (out_json()) {
        json_kv_bool("ok", true);
        json_key("dupid");
        json_uint(o->dupid);
    } else {
        printf("successfully %s duplication [dupid: %llu]\n", sub, (unsigned long long)o->dupid);
    }
    return ADMIN_OK;
}

enum admin_result
admin_cmd_dup(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
              const struct admin_tok *argv)
{
    struct dup_opts o = {NULL, NULL, false, false, 0};
    const char *sub = argv[0].p, *app;

    if (strcmp(sub, "verify") == 0) /* options of their own */
        return admin_dup_verify(ctx, argc, argv);
    if (strcmp(sub, "switchover") == 0)
        return admin_dup_switchover(ctx, argc, argv);
    if (strcmp(sub, "failover") == 0)
        return admin_dup_failover(ctx, argc, argv);
    if (dup_opts_parse(argc, argv, &o) != 0)
        return dup_usage();
    app = o.app != NULL ? o.app : ctx->app;
    if (app[0] == '\0')
        return out_fail("dup %s: no table selected (use <app>, or -a <app>)", sub);
    if (strcmp(sub, "add") == 0)
        return dup_add(ctx, app, &o);
    if (strcmp(sub, "list") == 0)
        return dup_list(ctx, app, &o);
    if (strcmp(sub, "pause") == 0)
        return dup_modify(ctx, app, sub, GEOKV_DUP_PAUSE, &o);
    if (strcmp(sub, "start") == 0)
        return dup_modify(ctx, app, sub, GEOKV_DUP_START, &o);
    if (strcmp(sub, "remove") == 0)
        return dup_modify(ctx, app, sub, GEOKV_DUP_REMOVE, &o);
    return dup_usage();
}

enum admin_result
admin_cmd_set_dup_fail_mode(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
                            const struct admin_tok *argv)
{
    const char *mode = argv[2].p;
    enum geokv_dup_fail_mode fm;
    uint64_t dupid;
    char why[256];
    int err;

    if (parse_dupid(argv[1].p, &dupid) != 0 ||
        (strcmp(mode, "slow") != 0 && strcmp(mode, "skip") != 0))
        return out_usage("set_dup_fail_mode <app> <dupid> slow|skip");
    fm = strcmp(mode, "slow") == 0 ? GEOKV_DUP_FAIL_SLOW : GEOKV_DUP_FAIL_SKIP;
    err = geokv_dup_modify(ctx->client, argv[0].p, dupid, GEOKV_DUP_FAIL_MODE, fm, ctx->timeout_ms,
                           why, sizeof(why));
    if (err != 0)
        return dup_fail("set_dup_fail_mode", err, why);
    if (out_json()) {
        json_kv_bool("ok", true);
        json_key("dupid");
        json_uint(dupid);
        json_kv_str("fail_mode", or_unknown(dup_fail_mode_name(fm)));
    } else {
        printf("successfully set fail mode of duplication [dupid: %llu] to %s\n",
               (unsigned long long)dupid, or_unknown(dup_fail_mode_name(fm)));
    }
    return ADMIN_OK;
}
