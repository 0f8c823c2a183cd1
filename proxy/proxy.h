#pragma once
/*
 * geokv-proxy: the Redis protocol in front of one geokv table.
 *
 * One libuv loop thread owns the listening socket and every connection: it reads, parses
 * requests (hiredis's reader), and writes replies, always in the order of the requests.
 * Commands that only look at the connection run on the loop; those that call geokv run on
 * libuv's thread pool with the synchronous calls of libgeokv. A connection's commands on one
 * key run one after the other, in the order sent; pipelined commands on different keys run
 * at the same time (up to 16), as they would on a Redis Cluster whose keys live on different
 * nodes; a command on several keys or the whole table runs alone.
 *
 * Data model: a Redis string key K is the record (hash_key K, sort_key ""); the field F of a
 * Redis hash H is the record (H, F). A key whose only record is at sort_key "" is a string,
 * one with records at other sort keys is a hash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/geokv.h"
#include "common/buf.h"

/* A request: the arguments of one command (argv[0] is the name). */
struct request {
    int argc;
    struct geokv_bytes *argv;
};

/* What a command sees: its request, the table and the reply it writes. */
struct call {
    const struct request *req;
    struct geokv_table *table;
    struct buf *out;   /* the reply (RESP) */
    int proto;         /* 2 or 3 (HELLO) */
    int timeout_ms;    /* of each geokv call */
    struct conn *conn; /* LOCAL commands only: the connection's state */
    struct proxy *proxy;
    bool close_after; /* QUIT: close once the reply is written */
};

typedef void command_fn(struct call *c);

enum command_flags {
    CMD_LOCAL = 1, /* runs on the loop: touches no table, never blocks */
    CMD_WRITE = 2, /* changes the table */
    CMD_MULTI = 4, /* several keys, or the whole table: runs alone on its connection */
};

struct command {
    const char *name; /* lower case */
    int arity;        /* > 0: exactly; < 0: at least -arity (argv[0] included), as Redis */
    int flags;
    command_fn *fn;
};

/* Equal byte strings. */
bool bytes_eq(struct geokv_bytes a, struct geokv_bytes b);

/* The command named by bytes (case-insensitive), or NULL. */
const struct command *command_find(const void *name, size_t len);
/* Every command, NULL-terminated by name. */
extern const struct command commands[];

/* Proxy-wide facts for INFO and the connection commands. Loop thread only. */
struct proxy_stats {
    uint64_t connections_received, commands_processed;
    uint64_t connected_clients;
    int64_t start_ms;
    int port;
};
const struct proxy_stats *proxy_stats(const struct proxy *p);
const char *proxy_table_name(const struct proxy *p);

/* Connection state that LOCAL commands read and change (loop thread only). */
int conn_id(const struct conn *c);
const char *conn_name(const struct conn *c);
void conn_set_name(struct conn *c, const void *name, size_t len);
void conn_set_proto(struct conn *c, int proto);
