#ifndef GEOKV_H
#define GEOKV_H
/*
 * geokv.h: the geokv client library (libgeokv), for programs that read and write the tables
 * of a geokv cluster. It depends on the C library only; link with `pkg-config --libs geokv`.
 *
 *     struct geokv_client *c;
 *     struct geokv_table *t;
 *     if (geokv_client_create("10.0.0.1:34601,10.0.0.2:34601", NULL, &c) != 0) ...
 *     if (geokv_open(c, "users", 5000, &t) != 0) ...
 *     rc = geokv_set(t, geokv_str("alice"), geokv_str("email"), geokv_str("a@x.org"), 0, 1000);
 *     ...
 *     geokv_client_destroy(c);
 *
 * Data model. A table holds records keyed by (hash_key, sort_key), both byte strings. The
 * hash key picks the partition (so the records of one hash key are together, ordered by sort
 * key, and can be written atomically with geokv_multi_set); the value is a byte string with an
 * optional time to live.
 *
 * Routing and retries. A client is created from the cluster's meta servers. It caches each
 * open table's partition configuration and sends every request straight to the primary of
 * the key's partition. Every call has a deadline (timeout_ms, from the call). Until then the
 * client retries, with exponential backoff from 10 ms to 500 ms, whatever may be retried:
 * a moved primary, a stale configuration, a busy or unreachable server, a lost reply. set,
 * del, multi_set and multi_del are idempotent and always retried; incr and check_and_set are
 * retried only while the request provably was not applied. When the deadline passes the call
 * fails with GEOKV_ERR_TIMEOUT.
 *
 * Errors. Every int-returning call returns 0 or a negative code: one of GEOKV_ERR_* below,
 * or -errno. geokv_strerror names any of them. Two codes mean "maybe": GEOKV_ERR_TIMEOUT
 * (the request may have been applied) and GEOKV_ERR_UNCERTAIN (it was proposed and may still
 * commit); after either, a non-idempotent call (incr, check_and_set) must not be taken for
 * "not done".
 *
 * Threads. Every call is thread-safe; synchronous calls block the calling thread. Callbacks
 * run on one of the client's threads: they must not block, and may start new async calls.
 *
 * Memory. Arguments are borrowed for the call (the client copies what it keeps). What a call
 * returns in a void ** is allocated with malloc: release it with free.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GEOKV_MUST_CHECK __attribute__((warn_unused_result))
#else
#define GEOKV_MUST_CHECK
#endif

#define GEOKV_VERSION "1.0.0"
/* The version of the library the program runs with (GEOKV_VERSION is the one it was built
 * against). */
const char *geokv_version(void);

/* Error codes (stable values; the same ones travel on the wire). */
enum geokv_error {
    GEOKV_ERR_INVALID_ARG = -30001,     /* a bad argument (an empty meta list, n == 0...) */
    GEOKV_ERR_TOO_LARGE = -30003,       /* hash_key > 65535 bytes, or a value too large */
    GEOKV_ERR_NOT_FOUND = -30004,       /* no such record (or it expired, or was deleted) */
    GEOKV_ERR_APP_NOT_FOUND = -30005,   /* no such table (or it was dropped) */
    GEOKV_ERR_APP_EXISTS = -30006,      /* geokv_create_table: the table exists */
    GEOKV_ERR_APP_UNAVAILABLE = -30007, /* the table is being created or has no partitions */
    GEOKV_ERR_INVALID_STATE = -30009,   /* not in a state that allows it (geokv_admin.h) */
    GEOKV_ERR_NO_LEADER = -30013,       /* no meta leader (an election is running) */
    GEOKV_ERR_TIMEOUT = -30014,         /* the deadline passed; the request may have applied */
    GEOKV_ERR_NETWORK = -30015,         /* the servers could not be reached */
    GEOKV_ERR_BUSY = -30016,            /* too much in flight; nothing was sent */
    GEOKV_ERR_NO_NODES = -30019,        /* geokv_create_table: too few replica servers */
    GEOKV_ERR_CHECK_FAILED = -30024,    /* check_and_set: the check did not hold */
    GEOKV_ERR_NOT_A_NUMBER = -30025,    /* incr: the value is not a decimal integer */
    GEOKV_ERR_SHUTDOWN = -30026,        /* the client is being destroyed */
    GEOKV_ERR_CONFIG = -30027,          /* geokv_options.config could not be used */
    GEOKV_ERR_OVERFLOW = -30028,        /* incr: the result does not fit in int64 */
    GEOKV_ERR_UNCERTAIN = -30029,       /* proposed, outcome unknown (may still commit) */
    GEOKV_ERR_DISK_FULL = -30030,       /* the primary's disk is full: not written */
    GEOKV_ERR_AUTH = -30032,            /* the cluster requires signed calls: see options */
    GEOKV_ERR_WRITE_DENIED = -30034,    /* the table is read-only on this cluster now (an
                                         * operator denied writes, e.g. for a switchover):
                                         * nothing written; write to the other cluster */
};

/* The message of any code this library returns (0 too). Static or thread-local string. */
const char *geokv_strerror(int err);

/* A byte string, borrowed: the key and value arguments of every call. */
struct geokv_bytes {
    const void *data;
    size_t len;
};

static inline struct geokv_bytes
geokv_bytes(const void *data, size_t len)
{
    struct geokv_bytes b = {data, len};
    return b;
}

/* A C string as bytes (without its NUL). */
struct geokv_bytes geokv_str(const char *s);

struct geokv_client; /* a connection to one cluster */
struct geokv_table;  /* an open table of that cluster, owned by the client */

struct geokv_options {
    /* An INI file whose [security] section holds the cluster's keys: with it, every call is
     * signed (needed when the cluster sets require_client_auth). NULL: calls are not signed.
     * The keys are process-wide: every client of the process signs with them. */
    const char *config;
};

/*
 * Creates a client for the meta servers "host:port[,host:port...]" (spaces ignored). opts may
 * be NULL. Does no network I/O. GEOKV_ERR_INVALID_ARG for an empty or malformed list,
 * GEOKV_ERR_CONFIG if opts->config cannot be read or holds bad keys.
 */
GEOKV_MUST_CHECK int geokv_client_create(const char *meta_list, const struct geokv_options *opts,
                                         struct geokv_client **out);
/*
 * Waits for the client's async calls to complete (each ends by its deadline; calls waiting
 * for a retry complete with GEOKV_ERR_SHUTDOWN), then frees it and every table it opened.
 * Nothing may be called on it, or its tables, afterwards.
 */
void geokv_client_destroy(struct geokv_client *c);

/*
 * Opens table name: asks the meta for its configuration (GEOKV_ERR_APP_NOT_FOUND if there is
 * no such table; GEOKV_ERR_TIMEOUT or GEOKV_ERR_NO_LEADER if the meta cannot answer within
 * timeout_ms). The table belongs to the client; opening the same name again returns the same
 * handle.
 */
GEOKV_MUST_CHECK int geokv_open(struct geokv_client *c, const char *name, int timeout_ms,
                                struct geokv_table **out);
/* The table's name (owned by the table). */
const char *geokv_table_name(const struct geokv_table *t);

/* ---- writes ---- */

/* Sets (hash_key, sort_key) = value; ttl_s 0 = never expires. */
GEOKV_MUST_CHECK int geokv_set(struct geokv_table *t, struct geokv_bytes hash_key,
                               struct geokv_bytes sort_key, struct geokv_bytes value,
                               uint32_t ttl_s, int timeout_ms);
/* Deletes (hash_key, sort_key). Deleting a missing record succeeds. */
GEOKV_MUST_CHECK int geokv_del(struct geokv_table *t, struct geokv_bytes hash_key,
                               struct geokv_bytes sort_key, int timeout_ms);

/* A (sort_key, value) pair of geokv_multi_set. */
struct geokv_kv {
    struct geokv_bytes sort_key, value;
};
/* Sets n sort keys of one hash key atomically: all or none. */
GEOKV_MUST_CHECK int geokv_multi_set(struct geokv_table *t, struct geokv_bytes hash_key,
                                     const struct geokv_kv *kvs, size_t n, uint32_t ttl_s,
                                     int timeout_ms);
/* Deletes n sort keys of one hash key atomically. */
GEOKV_MUST_CHECK int geokv_multi_del(struct geokv_table *t, struct geokv_bytes hash_key,
                                     const struct geokv_bytes *sort_keys, size_t n, int timeout_ms);

/*
 * Adds delta to the decimal integer stored at the key (a missing record counts as 0) and
 * stores the result in *new_value. ttl_s 0 keeps the record's expiry.
 * GEOKV_ERR_NOT_A_NUMBER, GEOKV_ERR_OVERFLOW. Not idempotent (see Errors above).
 */
GEOKV_MUST_CHECK int geokv_incr(struct geokv_table *t, struct geokv_bytes hash_key,
                                struct geokv_bytes sort_key, int64_t delta, uint32_t ttl_s,
                                int64_t *new_value, int timeout_ms);

/* What geokv_check_and_set checks at (hash_key, check_sort_key). */
enum geokv_check {
    GEOKV_CHECK_NOT_EXIST = 1,   /* no record */
    GEOKV_CHECK_EXIST = 2,       /* a record */
    GEOKV_CHECK_VALUE_EQUAL = 3, /* a record whose value equals operand */
};
struct geokv_cas {
    struct geokv_bytes check_sort_key;
    enum geokv_check check;
    struct geokv_bytes operand;      /* GEOKV_CHECK_VALUE_EQUAL only */
    struct geokv_bytes set_sort_key; /* set when the check holds ... */
    struct geokv_bytes value;        /* ... to this value */
    uint32_t ttl_s;
};
/*
 * If the check holds, sets (hash_key, set_sort_key) = value and returns 0; otherwise returns
 * GEOKV_ERR_CHECK_FAILED. Both happen atomically on the hash key's partition. If check_value
 * is not NULL it receives (malloc'd; NULL if the record does not exist) the checked record's
 * value and *check_len (then required) its length; *check_exist (may be NULL) whether the
 * checked record exists. Not idempotent.
 */
GEOKV_MUST_CHECK int geokv_check_and_set(struct geokv_table *t, struct geokv_bytes hash_key,
                                         const struct geokv_cas *cas, bool *check_exist,
                                         void **check_value, size_t *check_len, int timeout_ms);

/* ---- reads (from the primary: they see every acknowledged write) ---- */

/* Stores the value (malloc'd) in *value and its length in *len. GEOKV_ERR_NOT_FOUND if there
 * is no live record. *expire_ts (may be NULL): when it expires, in seconds since the epoch,
 * 0 = never. */
GEOKV_MUST_CHECK int geokv_get(struct geokv_table *t, struct geokv_bytes hash_key,
                               struct geokv_bytes sort_key, void **value, size_t *len,
                               uint32_t *expire_ts, int timeout_ms);

/* A record found by a scan; borrowed for the duration of the callback. */
struct geokv_record {
    struct geokv_bytes hash_key, sort_key, value;
    uint32_t expire_ts; /* seconds since the epoch; 0 = never */
};
/* Called once per record, in sort-key order within a partition. Return 0 to go on, anything
 * else to stop: the scan then returns that value. */
typedef int geokv_record_fn(void *arg, const struct geokv_record *rec);

/* The records of hash_key: the n sort keys given (missing ones are skipped), or all of them if
 * n == 0. timeout_ms applies to each page of up to 1000 records. */
GEOKV_MUST_CHECK int geokv_multi_get(struct geokv_table *t, struct geokv_bytes hash_key,
                                     const struct geokv_bytes *sort_keys, size_t n,
                                     geokv_record_fn *cb, void *arg, int timeout_ms);
/* The records of hash_key with start <= sort_key < stop (an empty stop: to the end). */
GEOKV_MUST_CHECK int geokv_scan(struct geokv_table *t, struct geokv_bytes hash_key,
                                struct geokv_bytes start, struct geokv_bytes stop,
                                geokv_record_fn *cb, void *arg, int timeout_ms);
/* Every live record of the table, partition by partition. */
GEOKV_MUST_CHECK int geokv_full_scan(struct geokv_table *t, geokv_record_fn *cb, void *arg,
                                     int timeout_ms);

/* The table's partition count (0 until its configuration is known). */
uint32_t geokv_table_partition_count(struct geokv_table *t);
/*
 * One page of a whole-table scan, for callers that go on later (a cursor): up to limit
 * records (1..1000) of partition pidx, from position resume (empty: the partition's start;
 * otherwise what *next held after the page before). *next (malloc'd; may be NULL when
 * *next_len is 0) and *next_len receive the position after this page: *next_len == 0 at
 * the partition's end. A page can hold fewer than limit records before the end.
 */
GEOKV_MUST_CHECK int geokv_full_scan_page(struct geokv_table *t, uint32_t pidx,
                                          struct geokv_bytes resume, uint32_t limit,
                                          geokv_record_fn *cb, void *arg, void **next,
                                          size_t *next_len, int timeout_ms);

/* ---- asynchronous calls ----
 * The request is copied before the call returns. cb runs exactly once, on a client thread,
 * or on the calling thread when the call fails at once (GEOKV_ERR_TOO_LARGE...). */

typedef void geokv_done_fn(void *arg, int err);
/* value is borrowed for the duration of the callback (NULL unless err == 0). */
typedef void geokv_get_fn(void *arg, int err, const void *value, size_t len);

void geokv_set_async(struct geokv_table *t, struct geokv_bytes hash_key,
                     struct geokv_bytes sort_key, struct geokv_bytes value, uint32_t ttl_s,
                     int timeout_ms, geokv_done_fn *cb, void *arg);
void geokv_get_async(struct geokv_table *t, struct geokv_bytes hash_key,
                     struct geokv_bytes sort_key, int timeout_ms, geokv_get_fn *cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* GEOKV_H */
