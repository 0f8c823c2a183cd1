#pragma once
/* admin-cli internals: the session state and the command dispatcher (admin_cmds.c). */
#include <stdbool.h>

#include "admin/admin_util.h"
#include "proto/types.h"

struct geokv_client;
struct geokv_table;

struct admin_ctx {
    struct geokv_client *client;
    char app[GEOKV_APP_NAME_MAX]; /* "" = none selected */
    struct geokv_table *table;    /* opened lazily for app */
    int timeout_ms;               /* data and meta calls */
    int create_timeout_ms;
};

enum admin_result {
    ADMIN_OK = 0,
    ADMIN_FAIL = 1, /* the command failed; one "error: ..." or usage line was printed */
    ADMIN_EXIT = 2, /* exit / quit */
};

/* Runs one command line (argv[0] is the command). Output on stdout, errors on stderr. */
enum admin_result admin_run(struct admin_ctx *ctx, const struct admin_args *args);

/* Duplication commands (admin_dup.c); each prints its own usage or error line. */
struct admin_cmd;
enum admin_result admin_cmd_dup(struct admin_ctx *ctx, const struct admin_cmd *cmd, int argc,
                                const struct admin_tok *argv);
/* dup verify (admin_verify.c) and dup switchover (admin_switch.c): argv[0] is the subcommand. */
enum admin_result admin_dup_verify(struct admin_ctx *ctx, int argc, const struct admin_tok *argv);
enum admin_result admin_dup_switchover(struct admin_ctx *ctx, int argc,
                                       const struct admin_tok *argv);
enum admin_result admin_dup_failover(struct admin_ctx *ctx, int argc, const struct admin_tok *argv);
enum admin_result admin_cmd_set_dup_fail_mode(struct admin_ctx *ctx, const struct admin_cmd *cmd,
                                              int argc, const struct admin_tok *argv);
