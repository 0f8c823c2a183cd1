#pragma once
/* cmd.h: what the command files (cmd_*.c) share: arguments, numbers, keys and errors. */
#include <stdbool.h>
#include <stdint.h>

#include "proxy/proxy.h"
#include "proxy/resp.h"

/* A command's function; cmd_list.h names them all. */
#define COMMAND_FN(name) void name(struct call *c)
#define CMD(name, arity, flags, fn) COMMAND_FN(fn);
#include "proxy/cmd_list.h"
#undef CMD

static inline struct geokv_bytes
arg(const struct call *c, int i)
{
    return c->req->argv[i];
}

/* argv[i] equals word, ignoring case. */
bool arg_is(const struct call *c, int i, const char *word);
/* A Redis integer: optional '-', digits, no leading zero, no blanks, fits in int64. */
bool parse_i64(struct geokv_bytes b, int64_t *out);
/* argv[i] as an integer, or the Redis error written and false. */
bool arg_i64(struct call *c, int i, int64_t *out);

/* Writes the error reply for a geokv call that failed. */
void reply_geokv_error(struct call *c, int rc);

/* A key as geokv sees it. */
enum key_type { KEY_NONE, KEY_STRING, KEY_HASH };
struct key_info {
    enum key_type type;
    void *value; /* KEY_STRING: its value (malloc'd; free it) */
    size_t len;
    uint32_t expire_ts; /* of the string, or of the hash's first field; 0 = never */
};
/* Finds what key holds (one scan of its first records). 0, or a geokv error (replied). */
int key_lookup(struct call *c, struct geokv_bytes key, struct key_info *ki);
/* Redis's glob patterns: * ? [abc] [^a-z] and \x for a literal x. */
bool glob_match(struct geokv_bytes pattern, struct geokv_bytes s);
/* Parses argv[first..] as [MATCH pattern] [COUNT n] [TYPE t] (TYPE only if allow_type; a
 * type this proxy has no keys of gives KEY_NONE). false: the error is replied. */
bool scan_options(struct call *c, int first, bool allow_type, struct geokv_bytes *match,
                  int64_t *count, int *type);

/* Records of one hash key, copied by records_collect (a geokv_record_fn): a record at the
 * empty sort key only sets has_string; a sort key seen before is skipped. */
struct records {
    struct geokv_kv *kvs;
    uint32_t *expire_ts;
    size_t n, cap;
    bool has_string;
};
int records_collect(void *records, const struct geokv_record *r);
/* The value of sort key field, or NULL. */
const struct geokv_kv *records_find(const struct records *rs, struct geokv_bytes field);
void records_free(struct records *rs);

/* Deletes every field of hash key (as of now). 0, or a geokv error (not replied). */
int hash_clear(struct call *c, struct geokv_bytes key);

/* geokv TTLs are whole seconds, counted by the server from the start of its current second:
 * a Redis expiry in ms rounds up and gains a second, so a key never goes early (and at most
 * two seconds late). Returns -1 when ms is not in the future. */
int64_t ttl_from_ms(int64_t ms);
/* Seconds left of expire_ts (seconds since the epoch). */
uint32_t ttl_left(uint32_t expire_ts);

/* The empty sort key: where a string key keeps its value. */
#define STRING_SORT_KEY geokv_bytes("", 0)
