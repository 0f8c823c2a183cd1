#pragma once
/* Domain scalars and fixed enum values shared by every process. Wire/disk values are fixed. */
#include <stdint.h>

typedef int64_t decree_t;
typedef int64_t ballot_t;

/* gpid = (app_id, partition_index), packed into 64 bits for the wire and for maps. */
static inline uint64_t
gpid_make(uint32_t app_id, uint32_t pidx)
{
    return (uint64_t)app_id << 32 | pidx;
}
static inline uint32_t
gpid_app(uint64_t gpid)
{
    return (uint32_t)(gpid >> 32);
}
static inline uint32_t
gpid_pidx(uint64_t gpid)
{
    return (uint32_t)gpid;
}

#define GEOKV_MAX_HASH_KEY 65535u     /* hash_key length is a u16 in the storage key */
#define GEOKV_MAX_MESSAGE (64u << 20) /* largest envelope accepted from the wire */
#define GEOKV_ADDR_MAX 64             /* "host:port" */
#define GEOKV_APP_NAME_MAX 128

/* Mutation op types (plog and wire). */
enum op_type { OP_SET = 1, OP_DEL = 2 };

/* check_and_set check types (wire). */
enum cas_check {
    CAS_NOT_EXIST = 1,
    CAS_EXIST = 2,
    CAS_VALUE_EQUAL = 3,
};

/* App status (ZooKeeper JSON uses the names). */
enum app_status { APP_AVAILABLE = 1, APP_CREATING = 2, APP_DROPPED = 3 };

/* The role of one replica of a partition (wire values). */
enum replica_role {
    ROLE_INACTIVE = 0, /* not serving */
    ROLE_PRIMARY = 1,
    ROLE_SECONDARY = 2,
    ROLE_LEARNER = 3, /* catching up from the primary before it joins the configuration */
};

/* Configuration changes a primary proposes to the meta (wire values). */
enum config_change {
    CONFIG_UPGRADE_LEARNER = 1,  /* the learner caught up: make it a secondary */
    CONFIG_REMOVE_SECONDARY = 2, /* a secondary stopped acknowledging prepares */
    CONFIG_BUMP_BALLOT = 3,      /* the primary restarted: same members under a new ballot, so
                             * it never proposes under a ballot an earlier incarnation used */
};

/* Duplication status (wire and ZooKeeper values; the JSON uses the DS_* names). */
enum dup_status {
    DS_INIT = 0,
    DS_PREPARE = 1, /* full duplication: checkpoints being made */
    DS_APP = 2,     /* full duplication: the follower table copies them */
    DS_LOG = 3,     /* shipping the plog */
    DS_PAUSE = 4,   /* shipping stopped, plog kept */
    DS_REMOVED = 5,
};

enum dup_fail_mode {
    FAIL_SLOW = 0, /* retry forever with backoff */
    FAIL_SKIP = 1, /* skip a batch after dup_max_retries failures, and count it */
};

enum dup_modify_op { DUP_OP_PAUSE = 1, DUP_OP_START = 2, DUP_OP_REMOVE = 3, DUP_OP_FAIL_MODE = 4 };

/* Replica server state as the meta sees it. */
enum node_state {
    NODE_ALIVE = 1,
    NODE_DEAD = 2,
    NODE_UNKNOWN = 3, /* a new meta leader has not heard from it yet (within its grace period) */
};

/* Timetag = timestamp_us << 8 | cluster_id << 1 | delete_flag. */
static inline uint64_t
timetag_make(uint64_t ts_us, unsigned cluster_id, int deleted)
{
    return ts_us << 8 | (uint64_t)(cluster_id & 0x7f) << 1 | (deleted ? 1u : 0u);
}
static inline uint64_t
timetag_ts(uint64_t tt)
{
    return tt >> 8;
}
static inline unsigned
timetag_cluster(uint64_t tt)
{
    return (unsigned)(tt >> 1) & 0x7f;
}
static inline int
timetag_deleted(uint64_t tt)
{
    return (int)(tt & 1);
}
