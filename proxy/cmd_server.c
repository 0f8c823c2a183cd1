/*
 * cmd_server.c: commands about the connection and the proxy. They run on the loop and touch
 * no table. The proxy says it is Redis 7.0 (HELLO, INFO), the version whose commands and
 * replies it follows.
 */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "proxy/cmd.h"

#define REDIS_COMPAT_VERSION "7.0.0"

COMMAND_FN(cmd_ping)
{
    if (c->req->argc > 2)
        resp_error(c->out, "ERR wrong number of arguments for 'ping' command");
    else if (c->req->argc == 2)
        resp_bulk(c->out, arg(c, 1).data, arg(c, 1).len);
    else
        resp_status(c->out, "PONG");
}

COMMAND_FN(cmd_echo)
{
    resp_bulk(c->out, arg(c, 1).data, arg(c, 1).len);
}

COMMAND_FN(cmd_quit)
{
    resp_status(c->out, "OK");
    c->close_after = true;
}

COMMAND_FN(cmd_select)
{
    int64_t db;
    if (!arg_i64(c, 1, &db))
        return;
    if (db != 0)
        resp_error(c->out, "ERR DB index is out of range");
    else
        resp_status(c->out, "OK");
}

/* Redis refuses names with blanks, newlines or other characters outside '!'..'~'. */
static bool
name_ok(struct geokv_bytes name)
{
    const unsigned char *p = name.data;
    for (size_t i = 0; i < name.len; i++)
        if (p[i] < '!' || p[i] > '~')
            return false;
    return true;
}

COMMAND_FN(cmd_hello)
{
    int64_t proto = 0;
    struct geokv_bytes name = {NULL, 0};
    bool set_name = false;

    if (c->req->argc >= 2) {
        if (!parse_i64(arg(c, 1), &proto)) {
            resp_error(c->out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (proto < 2 || proto > 3) {
            resp_error(c->out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int i = 2; i < c->req->argc; i++) {
        if (arg_is(c, i, "auth") && i + 2 < c->req->argc) {
            /* no users: "default" without a password, as a Redis without requirepass */
            if (!arg_is(c, i + 1, "default")) {
                resp_error(c->out, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            i += 2;
        } else if (arg_is(c, i, "setname") && i + 1 < c->req->argc) {
            name = arg(c, ++i);
            set_name = true;
            if (!name_ok(name)) {
                resp_error(c->out, "ERR Client names cannot contain spaces, newlines or "
                                   "special characters.");
                return;
            }
        } else {
            resp_error(c->out, "ERR Syntax error in HELLO option '%.*s'", (int)arg(c, i).len,
                       (const char *)arg(c, i).data);
            return;
        }
    }
    if (proto != 0) {
        conn_set_proto(c->conn, (int)proto);
        c->proto = (int)proto;
    }
    if (set_name)
        conn_set_name(c->conn, name.data, name.len);
    resp_map(c->out, 7, c->proto);
    resp_bulk_str(c->out, "server");
    resp_bulk_str(c->out, "redis");
    resp_bulk_str(c->out, "version");
    resp_bulk_str(c->out, REDIS_COMPAT_VERSION);
    resp_bulk_str(c->out, "proto");
    resp_int(c->out, c->proto);
    resp_bulk_str(c->out, "id");
    resp_int(c->out, conn_id(c->conn));
    resp_bulk_str(c->out, "mode");
    resp_bulk_str(c->out, "standalone");
    resp_bulk_str(c->out, "role");
    resp_bulk_str(c->out, "master");
    resp_bulk_str(c->out, "modules");
    resp_array(c->out, 0);
}

static void
subcommand_arity(struct call *c, const char *cmd, const char *sub)
{
    resp_error(c->out, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

static void
unknown_subcommand(struct call *c, const char *cmd)
{
    resp_error(c->out, "ERR unknown subcommand '%.*s'. Try %s HELP.", (int)arg(c, 1).len,
               (const char *)arg(c, 1).data, cmd);
}

COMMAND_FN(cmd_client)
{
    int argc = c->req->argc;
    if (arg_is(c, 1, "setname")) {
        if (argc != 3)
            subcommand_arity(c, "client", "setname");
        else if (!name_ok(arg(c, 2)))
            resp_error(c->out, "ERR Client names cannot contain spaces, newlines or special "
                               "characters.");
        else {
            conn_set_name(c->conn, arg(c, 2).data, arg(c, 2).len);
            resp_status(c->out, "OK");
        }
    } else if (arg_is(c, 1, "getname")) {
        if (argc != 2)
            subcommand_arity(c, "client", "getname");
        else if (conn_name(c->conn)[0] == '\0')
            resp_null(c->out, c->proto);
        else
            resp_bulk_str(c->out, conn_name(c->conn));
    } else if (arg_is(c, 1, "id")) {
        if (argc != 2)
            subcommand_arity(c, "client", "id");
        else
            resp_int(c->out, conn_id(c->conn));
    } else if (arg_is(c, 1, "setinfo")) { /* what a client library says of itself */
        if (argc != 4)
            subcommand_arity(c, "client", "setinfo");
        else
            resp_status(c->out, "OK");
    } else {
        unknown_subcommand(c, "CLIENT");
    }
}

/* COMMAND's description of one command: name, arity, flags, first key, last key, step, and
 * the four lists Redis 7 adds (ACL categories, tips, key specs, subcommands), left empty. */
static void
command_entry(struct call *c, const struct command *cmd)
{
    bool many = strcmp(cmd->name, "del") == 0 || strcmp(cmd->name, "unlink") == 0 ||
                strcmp(cmd->name, "exists") == 0 || strcmp(cmd->name, "mget") == 0;
    bool pairs = strcmp(cmd->name, "mset") == 0 || strcmp(cmd->name, "msetnx") == 0;
    bool keyed = !(cmd->flags & CMD_LOCAL);

    resp_array(c->out, 10);
    resp_bulk_str(c->out, cmd->name);
    resp_int(c->out, cmd->arity);
    resp_array(c->out, 1);
    resp_status(c->out, cmd->flags & CMD_WRITE ? "write" : keyed ? "readonly" : "fast");
    resp_int(c->out, keyed ? 1 : 0);
    resp_int(c->out, !keyed ? 0 : many || pairs ? -1 : 1);
    resp_int(c->out, !keyed ? 0 : pairs ? 2 : 1);
    for (int i = 0; i < 4; i++)
        resp_array(c->out, 0);
}

COMMAND_FN(cmd_command)
{
    size_t n = 0;
    while (commands[n].name)
        n++;
    if (c->req->argc == 1) {
        resp_array(c->out, n);
        for (size_t i = 0; i < n; i++)
            command_entry(c, &commands[i]);
    } else if (arg_is(c, 1, "count")) {
        resp_int(c->out, (int64_t)n);
    } else if (arg_is(c, 1, "docs")) { /* redis-cli asks at start; no docs is a valid answer */
        resp_map(c->out, 0, c->proto);
    } else if (arg_is(c, 1, "info")) {
        resp_array(c->out, (size_t)(c->req->argc - 2));
        for (int i = 2; i < c->req->argc; i++) {
            const struct command *cmd = command_find(arg(c, i).data, arg(c, i).len);
            if (cmd)
                command_entry(c, cmd);
            else
                resp_null_array(c->out, c->proto);
        }
    } else {
        unknown_subcommand(c, "COMMAND");
    }
}

/* CONFIG GET answers with nothing (no parameter of Redis applies: geokv's settings are in its
 * own config files), which is what redis-benchmark asks at start. */
COMMAND_FN(cmd_config)
{
    if (arg_is(c, 1, "get")) {
        if (c->req->argc < 3)
            subcommand_arity(c, "config", "get");
        else
            resp_map(c->out, 0, c->proto);
    } else if (arg_is(c, 1, "set") || arg_is(c, 1, "resetstat") || arg_is(c, 1, "rewrite")) {
        resp_error(c->out,
                   "ERR geokv-proxy: CONFIG %.*s is not supported (see the proxy's "
                   "config file)",
                   (int)arg(c, 1).len, (const char *)arg(c, 1).data);
    } else {
        unknown_subcommand(c, "CONFIG");
    }
}

static bool
section_wanted(const struct call *c, const char *name)
{
    if (c->req->argc == 1)
        return true;
    for (int i = 1; i < c->req->argc; i++)
        if (arg_is(c, i, name) || arg_is(c, i, "all") || arg_is(c, i, "everything") ||
            arg_is(c, i, "default"))
            return true;
    return false;
}

COMMAND_FN(cmd_info)
{
    const struct proxy_stats *st = proxy_stats(c->proxy);
    char text[2048];
    size_t n = 0;

#define ADD(...) n += (size_t)snprintf(text + n, sizeof(text) - n, __VA_ARGS__)
    if (section_wanted(c, "server")) {
        ADD("# Server\r\nredis_version:%s\r\ngeokv_proxy_version:%s\r\nredis_mode:standalone\r\n"
            "tcp_port:%d\r\nuptime_in_seconds:%lld\r\ngeokv_table:%s\r\n\r\n",
            REDIS_COMPAT_VERSION, GEOKV_VERSION, st->port,
            (long long)(((clock_wall_us() / 1000) - st->start_ms) / 1000),
            proxy_table_name(c->proxy));
    }
    if (section_wanted(c, "clients"))
        ADD("# Clients\r\nconnected_clients:%llu\r\n\r\n",
            (unsigned long long)st->connected_clients);
    if (section_wanted(c, "stats"))
        ADD("# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n\r\n",
            (unsigned long long)st->connections_received,
            (unsigned long long)st->commands_processed);
    if (section_wanted(c, "keyspace"))
        ADD("# Keyspace\r\n");
#undef ADD
    resp_bulk(c->out, text, n < sizeof(text) ? n : sizeof(text) - 1);
}
