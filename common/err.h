#pragma once
/*
 * Error codes. Fallible functions return int: 0 on success, a negative code on failure.
 * System errors are -errno; project errors live in the reserved block below -30000, declared
 * once in ERR_MAP. The values are stable: they also cross the wire (proto maps anything not
 * in this table to ERR_INTERNAL), so never renumber or reuse one; only append.
 */

#define MUST_CHECK __attribute__((warn_unused_result))

#define ERR_MAP(XX)                                                                                \
    XX(ERR_INVALID_ARG, -30001, "invalid argument")                                                \
    XX(ERR_INVALID_DATA, -30002, "malformed or corrupt data")                                      \
    XX(ERR_TOO_LARGE, -30003, "too large")                                                         \
    XX(ERR_NOT_FOUND, -30004, "not found")                                                         \
    XX(ERR_APP_NOT_FOUND, -30005, "table not found")                                               \
    XX(ERR_APP_EXISTS, -30006, "table already exists")                                             \
    XX(ERR_APP_UNAVAILABLE, -30007, "table not available")                                         \
    XX(ERR_PARTITION_NOT_HERE, -30008, "partition not served by this replica server")              \
    XX(ERR_INVALID_STATE, -30009, "invalid state")                                                 \
    XX(ERR_NOT_PRIMARY, -30010, "not the primary")                                                 \
    XX(ERR_STALE_BALLOT, -30011, "stale ballot")                                                   \
    XX(ERR_FORWARD_TO_LEADER, -30012, "not the meta leader")                                       \
    XX(ERR_NO_LEADER, -30013, "no meta leader")                                                    \
    XX(ERR_TIMEOUT, -30014, "timed out")                                                           \
    XX(ERR_NETWORK, -30015, "network error")                                                       \
    XX(ERR_BUSY, -30016, "busy, try again")                                                        \
    XX(ERR_IO, -30017, "I/O error")                                                                \
    XX(ERR_ZK, -30018, "ZooKeeper error")                                                          \
    XX(ERR_NO_NODES, -30019, "not enough live replica servers")                                    \
    XX(ERR_UNKNOWN_RPC, -30020, "unknown rpc code")                                                \
    XX(ERR_VERSION, -30021, "unsupported protocol version")                                        \
    XX(ERR_INTERNAL, -30022, "internal error")                                                     \
    XX(ERR_AGAIN, -30023, "would block, call again")                                               \
    XX(ERR_CHECK_FAILED, -30024, "check failed")                                                   \
    XX(ERR_NOT_A_NUMBER, -30025, "value is not an integer")                                        \
    XX(ERR_SHUTDOWN, -30026, "shutting down")                                                      \
    XX(ERR_CONFIG, -30027, "bad configuration")                                                    \
    XX(ERR_OVERFLOW, -30028, "integer overflow")                                                   \
    XX(ERR_UNCERTAIN, -30029, "outcome unknown: the request may or may not have been applied")     \
    XX(ERR_DISK_FULL, -30030, "the replica's disk is full")                                        \
    XX(ERR_REPLY_TOO_LARGE, -30031, "reply larger than the caller's limit; nothing done")          \
    XX(ERR_AUTH, -30032, "not authenticated: missing, wrong, stale or replayed signature")         \
    XX(ERR_STALE_INCARNATION, -30033, "signed for another incarnation of the server; not run")     \
    XX(ERR_WRITE_DENIED, -30034,                                                                   \
       "the table takes no client writes on this cluster now (read-only): nothing written")

enum err_code {
#define ERR_ENUM(name, val, msg) name = val,
    ERR_MAP(ERR_ENUM)
#undef ERR_ENUM
};

#define ERR_FIRST (-30001)
#define ERR_LAST (-30034)

/* Symbolic name ("ERR_TIMEOUT", "EIO", "OK") of any return code. Static string. */
const char *err_name(int err);
/* Human message of any return code (strerror for -errno). Static or thread-local string. */
const char *err_str(int err);
/* True if err is in the project block. */
static inline int
err_is_project(int err)
{
    return err <= ERR_FIRST && err >= ERR_LAST;
}
