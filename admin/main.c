/*
 * admin-cli: the operator shell.
 *
 *   admin-cli -m META_LIST [-c CONFIG] [-a APP] [-t MS] [--keep-going] [--json]
 *             [COMMAND ARGS...]
 *
 * With a command: run it and exit 0 / 1. Without: an interactive shell (">>> ", line editing
 * and history through libedit) when stdin is a terminal, else stdin line by line (blank lines
 * and # comments skipped), stopping with status 1 at the first failing line unless
 * --keep-going (then: every line runs, status 1 if any failed). --json: each command prints
 * one JSON document instead (admin_out.h). Commands live in admin_cmds.c; this file only
 * parses options and feeds lines.
 */
#include <editline/readline.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "admin/admin_out.h"
#include "client/geokv_wire.h"
#include "common/log.h"
#include "proto/auth.h"

#define HISTORY_FILE ".geokv_admin_history"

static void
usage(FILE *f)
{
    fprintf(
        f, "usage: admin-cli -m META_LIST [-c CONFIG] [-a APP] [-t TIMEOUT_MS] [--keep-going] "
           "[--json]\n"
           "                 [COMMAND ARGS...]\n"
           "  -m, --meta META_LIST   meta servers, host:port[,host:port...]\n"
           "  -c, --config CONFIG    sign calls with the [security] keys of CONFIG (servers\n"
           "                         with keys refuse unsigned admin calls)\n"
           "  -a, --app APP          table for data commands (like 'use APP')\n"
           "  -t, --timeout-ms MS    per-call timeout (default 5000; create waits >= 60 s)\n"
           "  --keep-going           with commands on stdin: run every line\n"
           "  -j, --json             print each command's result as one line of JSON on stdout\n"
           "                         (a failure: {\"error\": ...}); dump: one line per record\n"
           "  -v, --verbose          debug logging on stderr\n"
           "Without COMMAND: an interactive shell, or the commands on stdin. 'help' lists them.\n");
}

/* Runs one input line; returns its result (blank and comment lines are OK). */
static enum admin_result
run_line(struct admin_ctx *ctx, const char *line)
{
    struct admin_args args;
    const char *why;
    enum admin_result r;

    while (*line == ' ' || *line == '\t')
        line++;
    if (*line == '#')
        return ADMIN_OK;
    if (admin_tokenize(line, &args, &why) != 0)
        return out_fail("parse: %s", why);
    r = admin_run(ctx, &args);
    admin_args_fini(&args);
    return r;
}

static int
run_interactive(struct admin_ctx *ctx)
{
    char hist[4096] = "";
    const char *home = getenv("HOME");
    char *line;

    if (home != NULL)
        snprintf(hist, sizeof(hist), "%s/%s", home, HISTORY_FILE);
    using_history();
    if (hist[0])
        (void)read_history(hist);
    while ((line = readline(">>> ")) != NULL) {
        enum admin_result r;
        if (line[strspn(line, " \t")] != '\0')
            add_history(line);
        r = run_line(ctx, line);
        free(line);
        if (r == ADMIN_EXIT)
            break;
    }
    if (hist[0])
        (void)write_history(hist);
    return 0;
}

static int
run_stdin(struct admin_ctx *ctx, bool keep_going)
{
    char *line = NULL;
    size_t cap = 0;
    int status = 0;

    while (getline(&line, &cap, stdin) >= 0) {
        enum admin_result r = run_line(ctx, line);
        if (r == ADMIN_EXIT)
            break;
        if (r == ADMIN_FAIL) {
            status = 1;
            if (!keep_going)
                break;
        }
    }
    free(line);
    return status;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"meta", required_argument, NULL, 'm'},
                                         {"app", required_argument, NULL, 'a'},
                                         {"timeout-ms", required_argument, NULL, 't'},
                                         {"keep-going", no_argument, NULL, 'k'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    struct admin_ctx ctx = {.timeout_ms = 5000};
    const char *metas = NULL, *config = NULL;
    bool keep_going = false, bad_option = false, help = false;
    int opt, status, err;

    log_set_level(LOG_LVL_WARN);
    /* Errors wait for the end of the options, so a --json after them still shapes them. */
    while ((opt = getopt_long(argc, argv, "+m:a:t:c:vhj", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': metas = optarg; break;
        case 'c': config = optarg; break;
        case 'a': snprintf(ctx.app, sizeof(ctx.app), "%s", optarg); break;
        case 't': ctx.timeout_ms = atoi(optarg); break;
        case 'k': keep_going = true; break;
        case 'v': log_set_level(LOG_LVL_DEBUG); break;
        case 'j': out_set_json(true); break;
        case 'h': help = !bad_option; break;
        default: bad_option = true; break;
        }
    }
    if (help) {
        usage(stdout);
        return 0;
    }
    if (bad_option) { /* getopt printed which */
        usage(stderr);
        out_json_error("usage: bad option (admin-cli --help lists them)");
        return 2;
    }
    if (config != NULL && auth_load(config, NULL, 0) != 0) {
        out_json_error("-c: cannot use the [security] keys of that config (see the log line)");
        return 2;
    }
    if (metas == NULL || ctx.timeout_ms <= 0) {
        out_fail("%s", metas == NULL ? "-m META_LIST is required" : "-t needs a positive number");
        usage(stderr);
        return 2;
    }
    ctx.create_timeout_ms = ctx.timeout_ms > 60000 ? ctx.timeout_ms : 60000;
    err = geokv_client_create(metas, NULL, &ctx.client);
    if (err != 0) {
        out_fail("meta list '%s': %s", metas, err_str(err));
        return 2;
    }
    if (optind < argc) {
        struct admin_args args;
        admin_args_from_argv(argc - optind, argv + optind, &args);
        status = admin_run(&ctx, &args) == ADMIN_FAIL ? 1 : 0;
        admin_args_fini(&args);
    } else if (isatty(STDIN_FILENO)) {
        status = run_interactive(&ctx);
    } else {
        status = run_stdin(&ctx, keep_going);
    }
    geokv_client_destroy(ctx.client);
    return status;
}
