#pragma once
/*
 * Message bodies, one struct per request/reply, each with an encoder and a strict decoder.
 * Every message is a msgpack array of fields in the order listed. Fields are only ever
 * appended, never reordered or removed: decoders ignore fields appended after the ones they
 * know (a newer sender), and a field appended later is read as optional ('|' in upk_tuple's
 * format), keeping its default when an older sender leaves it out.
 *
 * Decoding: msg_X_decode(buf, len, &m, &zone) fills m with slices borrowed from *zone
 * (free with unpacked_free after use) and arrays allocated with xmalloc (free with
 * msg_X_fini where one exists). Returns ERR_INVALID_DATA on any malformed input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/types.h"

struct unpacked;

/* A borrowed byte slice (never NUL-terminated). */
struct bytes {
    const uint8_t *p;
    size_t len;
};

static inline struct bytes
bytes_of(const void *p, size_t len)
{
    return (struct bytes){(const uint8_t *)p, len};
}

/* ---- client -> replica ---- */

/* RPC_WRITE: set / del / multi_set / multi_del. All ops route to one partition. */
struct write_op {
    uint32_t type; /* OP_SET / OP_DEL */
    struct bytes hash_key, sort_key, value;
    uint32_t ttl_s; /* OP_SET: 0 = never expires */
};
struct msg_write_req {
    uint32_t nops;
    struct write_op *ops;
};
void msg_write_req_encode(struct buf *out, const struct msg_write_req *m);
MUST_CHECK int msg_write_req_decode(const uint8_t *b, size_t n, struct msg_write_req *m,
                                    struct unpacked **zonep);
void msg_write_req_fini(struct msg_write_req *m);
/* reply: [decree] */
struct msg_write_resp {
    decree_t decree;
};
void msg_write_resp_encode(struct buf *out, const struct msg_write_resp *m);
MUST_CHECK int msg_write_resp_decode(const uint8_t *b, size_t n, struct msg_write_resp *m);

/* RPC_GET. Missing (or deleted, or expired) -> ERR_NOT_FOUND. */
struct msg_get_req {
    struct bytes hash_key, sort_key;
};
struct msg_get_resp {
    struct bytes value;
    uint32_t expire_ts;
    uint64_t timetag;
};
void msg_get_req_encode(struct buf *out, const struct msg_get_req *m);
MUST_CHECK int msg_get_req_decode(const uint8_t *b, size_t n, struct msg_get_req *m,
                                  struct unpacked **zonep);
void msg_get_resp_encode(struct buf *out, const struct msg_get_resp *m);
MUST_CHECK int msg_get_resp_decode(const uint8_t *b, size_t n, struct msg_get_resp *m,
                                   struct unpacked **zonep);

/* A returned record (multi_get, scan). */
struct kv_record {
    struct bytes hash_key, sort_key, value;
    uint32_t expire_ts;
    uint64_t timetag;
};

/* RPC_MULTI_GET: sort_keys empty = every sort key of hash_key (up to max_count). */
struct msg_multi_get_req {
    struct bytes hash_key;
    uint32_t nkeys;
    struct bytes *sort_keys;
    uint32_t max_count; /* 0 = no limit */
};
void msg_multi_get_req_encode(struct buf *out, const struct msg_multi_get_req *m);
MUST_CHECK int msg_multi_get_req_decode(const uint8_t *b, size_t n, struct msg_multi_get_req *m,
                                        struct unpacked **zonep);
void msg_multi_get_req_fini(struct msg_multi_get_req *m);

/*
 * RPC_SCAN: if full, the whole partition in key order; else the sort keys of hash_key in
 * [start_sort_key, stop_sort_key) (empty stop = to the end of the hash key). resume_key, if
 * not empty, is the next_key of a previous reply. At most limit records per reply.
 */
struct msg_scan_req {
    bool full;
    struct bytes hash_key, start_sort_key, stop_sort_key, resume_key;
    uint32_t limit;
};
void msg_scan_req_encode(struct buf *out, const struct msg_scan_req *m);
MUST_CHECK int msg_scan_req_decode(const uint8_t *b, size_t n, struct msg_scan_req *m,
                                   struct unpacked **zonep);

/* Reply of RPC_MULTI_GET and RPC_SCAN. next_key empty = no more. */
struct msg_records_resp {
    uint32_t nrecords;
    struct kv_record *records;
    struct bytes next_key;
};
void msg_records_resp_encode(struct buf *out, const struct msg_records_resp *m);
MUST_CHECK int msg_records_resp_decode(const uint8_t *b, size_t n, struct msg_records_resp *m,
                                       struct unpacked **zonep);
void msg_records_resp_fini(struct msg_records_resp *m);

/* RPC_INCR: a missing record counts as 0. ttl_s: 0 keeps the record's expiry, > 0 sets it. */
struct msg_incr_req {
    struct bytes hash_key, sort_key;
    int64_t delta;
    uint32_t ttl_s;
};
struct msg_incr_resp {
    int64_t new_value;
};
void msg_incr_req_encode(struct buf *out, const struct msg_incr_req *m);
MUST_CHECK int msg_incr_req_decode(const uint8_t *b, size_t n, struct msg_incr_req *m,
                                   struct unpacked **zonep);
void msg_incr_resp_encode(struct buf *out, const struct msg_incr_resp *m);
MUST_CHECK int msg_incr_resp_decode(const uint8_t *b, size_t n, struct msg_incr_resp *m);

/* RPC_CHECK_AND_SET: if check(hash_key, check_sort_key) holds, set (hash_key, set_sort_key). */
struct msg_cas_req {
    struct bytes hash_key, check_sort_key, check_operand, set_sort_key, set_value;
    uint32_t check_type; /* enum cas_check */
    uint32_t ttl_s;
};
/* The error is 0 when the set was done, ERR_CHECK_FAILED when the check failed. */
struct msg_cas_resp {
    bool check_value_exist;
    struct bytes check_value;
};
void msg_cas_req_encode(struct buf *out, const struct msg_cas_req *m);
MUST_CHECK int msg_cas_req_decode(const uint8_t *b, size_t n, struct msg_cas_req *m,
                                  struct unpacked **zonep);
void msg_cas_resp_encode(struct buf *out, const struct msg_cas_resp *m);
MUST_CHECK int msg_cas_resp_decode(const uint8_t *b, size_t n, struct msg_cas_resp *m,
                                   struct unpacked **zonep);

/* RPC_CHECKPOINT and RPC_DUP_CHECKPOINT (empty requests): a checkpoint's decree and its
 * directory on the server that made it. */
struct msg_checkpoint_resp {
    decree_t decree;
    char dir[512];
};
void msg_checkpoint_resp_encode(struct buf *out, const struct msg_checkpoint_resp *m);
MUST_CHECK int msg_checkpoint_resp_decode(const uint8_t *b, size_t n,
                                          struct msg_checkpoint_resp *m);

struct msg_partition_info_resp {
    ballot_t ballot;
    decree_t last_committed, last_durable, plog_first, plog_last;
};
void msg_partition_info_resp_encode(struct buf *out, const struct msg_partition_info_resp *m);
MUST_CHECK int msg_partition_info_resp_decode(const uint8_t *b, size_t n,
                                              struct msg_partition_info_resp *m);

/* ---- replica <-> meta ---- */

#define GEOKV_MAX_REPLICAS 8
struct partition_config {
    uint32_t pidx;
    ballot_t ballot;
    char primary[GEOKV_ADDR_MAX]; /* empty = none */
    uint32_t nsecondaries;
    char secondaries[GEOKV_MAX_REPLICAS][GEOKV_ADDR_MAX];
    decree_t last_committed;
};

/*
 * The master of a follower table (full duplication, docs/duplication.md): the cluster, table and
 * meta list its partitions copy their first data from. cluster "" = not a follower. Kept in
 * the table's envs as duplication.master_cluster / master_app_name / master_metas.
 */
struct dup_master {
    char cluster[GEOKV_APP_NAME_MAX];
    char app[GEOKV_APP_NAME_MAX];
    char metas[1024];
};

/* A partition as a replica server reports it. */
struct replica_report {
    uint64_t gpid;
    ballot_t ballot;
    decree_t last_committed;
    bool ready; /* opened and serving (false while a follower primary copies its
                           * master's data) */
    decree_t last_prepared;
    uint32_t role; /* enum replica_role, as the replica sees itself */
};
/* RPC_BEACON request. */
struct msg_beacon_req {
    char address[GEOKV_ADDR_MAX];
    uint32_t nreplicas;
    struct replica_report *replicas;
};
/* An assignment: serve gpid in this role under this configuration. */
struct replica_assign {
    uint64_t gpid;
    ballot_t ballot;
    uint32_t role; /* enum replica_role */
    struct partition_config config;
    struct dup_master master; /* the table's master, if it is a follower table */
};
/* RPC_BEACON reply: the full list of partitions this server should serve, and the ones
 * whose table was dropped (their data may be removed). */
struct msg_beacon_resp {
    uint32_t nassign;
    struct replica_assign *assign;
    uint32_t ndrop;
    uint64_t *drop;
    int64_t lease_ms;
};
void msg_beacon_req_encode(struct buf *out, const struct msg_beacon_req *m);
MUST_CHECK int msg_beacon_req_decode(const uint8_t *b, size_t n, struct msg_beacon_req *m);
void msg_beacon_req_fini(struct msg_beacon_req *m);
void msg_beacon_resp_encode(struct buf *out, const struct msg_beacon_resp *m);
MUST_CHECK int msg_beacon_resp_decode(const uint8_t *b, size_t n, struct msg_beacon_resp *m);
void msg_beacon_resp_fini(struct msg_beacon_resp *m);

/* ---- client / admin -> meta ---- */

/* Any meta request may be answered ERR_FORWARD_TO_LEADER with this body (leader may be
 * empty while an election runs). */
struct msg_redirect {
    char leader[GEOKV_ADDR_MAX];
};
void msg_redirect_encode(struct buf *out, const struct msg_redirect *m);
MUST_CHECK int msg_redirect_decode(const uint8_t *b, size_t n, struct msg_redirect *m);

/* RPC_QUERY_CONFIG request / RPC_DROP_APP request. */
struct msg_app_name {
    char name[GEOKV_APP_NAME_MAX];
};
void msg_app_name_encode(struct buf *out, const struct msg_app_name *m);
MUST_CHECK int msg_app_name_decode(const uint8_t *b, size_t n, struct msg_app_name *m);

/* RPC_QUERY_CONFIG reply. */
struct msg_app_config {
    uint32_t app_id;
    char name[GEOKV_APP_NAME_MAX];
    uint32_t partition_count, replica_count;
    uint32_t status;                     /* enum app_status */
    struct partition_config *partitions; /* partition_count entries */
    bool healthy; /* every partition has replica_count members, all serving at its ballot */
    struct dup_master master;
};
void msg_app_config_encode(struct buf *out, const struct msg_app_config *m);
MUST_CHECK int msg_app_config_decode(const uint8_t *b, size_t n, struct msg_app_config *m);
void msg_app_config_fini(struct msg_app_config *m);

/* RPC_CREATE_APP request; reply is struct msg_app_config once every partition is ready.
 * A follower table (master.cluster set) is answered at once, and creating it again with the
 * same master is not an error (the source meta repeats it until it sees the table). */
struct msg_create_app_req {
    char name[GEOKV_APP_NAME_MAX];
    uint32_t partition_count, replica_count;
    struct dup_master master;
};
void msg_create_app_req_encode(struct buf *out, const struct msg_create_app_req *m);
MUST_CHECK int msg_create_app_req_decode(const uint8_t *b, size_t n, struct msg_create_app_req *m);

/* RPC_LIST_APPS reply. */
struct app_info {
    uint32_t app_id;
    char name[GEOKV_APP_NAME_MAX];
    uint32_t status, partition_count, replica_count;
    int64_t create_ts; /* seconds */
};
struct msg_list_apps_resp {
    uint32_t napps;
    struct app_info *apps;
};
void msg_list_apps_resp_encode(struct buf *out, const struct msg_list_apps_resp *m);
MUST_CHECK int msg_list_apps_resp_decode(const uint8_t *b, size_t n, struct msg_list_apps_resp *m);
void msg_list_apps_resp_fini(struct msg_list_apps_resp *m);

/* RPC_LIST_NODES reply. */
struct node_info {
    char address[GEOKV_ADDR_MAX];
    uint32_t state; /* enum node_state */
    uint32_t primary_count, secondary_count;
};
struct msg_list_nodes_resp {
    char leader[GEOKV_ADDR_MAX]; /* the meta leader's address */
    uint32_t nnodes;
    struct node_info *nodes;
};
void msg_list_nodes_resp_encode(struct buf *out, const struct msg_list_nodes_resp *m);
MUST_CHECK int msg_list_nodes_resp_decode(const uint8_t *b, size_t n,
                                          struct msg_list_nodes_resp *m);
void msg_list_nodes_resp_fini(struct msg_list_nodes_resp *m);

/* ---- replication inside a cluster ---- */

/* The confirmed decree of one duplication of one partition. */
struct dup_confirm {
    uint64_t gpid;
    uint64_t dupid;
    decree_t confirmed;
    bool resyncing; /* its plog lost decrees not shipped yet: the partition's data is being
                     * shipped instead (RPC_DUP_SYNC only, an appended field) */
};

/* RPC_DIGEST reply: SHA-256 over the sorted (key, value, expire_ts, timetag) records. */
struct msg_digest_resp {
    decree_t last_committed;
    uint64_t records;
    uint8_t sha256[32];
};
void msg_digest_resp_encode(struct buf *out, const struct msg_digest_resp *m);
MUST_CHECK int msg_digest_resp_decode(const uint8_t *b, size_t n, struct msg_digest_resp *m);

/* RPC_PREPARE request: encoded mutations (proto/mutation.h) in decree order. The envelope
 * carries gpid and the primary's ballot. */
struct msg_prepare_req {
    decree_t last_committed;
    uint32_t nmutations;
    struct bytes *mutations;
};
void msg_prepare_req_encode(struct buf *out, const struct msg_prepare_req *m);
MUST_CHECK int msg_prepare_req_decode(const uint8_t *b, size_t n, struct msg_prepare_req *m,
                                      struct unpacked **zonep);
void msg_prepare_req_fini(struct msg_prepare_req *m);

/* Reply of RPC_PREPARE and RPC_GROUP_CHECK: where the replica stands. */
struct msg_replica_state {
    decree_t last_committed, last_prepared;
};
void msg_replica_state_encode(struct buf *out, const struct msg_replica_state *m);
MUST_CHECK int msg_replica_state_decode(const uint8_t *b, size_t n, struct msg_replica_state *m);

/* RPC_GROUP_CHECK request: the primary's view of the configuration, its commit point and
 * the confirmed decree of each duplication (so a new primary resumes shipping there).
 * dups_complete (appended field; absent = false): the list is every duplication the
 * partition has, so a secondary forgets the others (and lets the plog they held go). */
#define GROUP_CHECK_MAX_DUPS 8
struct msg_group_check_req {
    struct partition_config config;
    decree_t last_committed;
    uint32_t nconfirms;
    struct dup_confirm confirms[GROUP_CHECK_MAX_DUPS]; /* gpid unused */
    bool dups_complete;
};
void msg_group_check_req_encode(struct buf *out, const struct msg_group_check_req *m);
MUST_CHECK int msg_group_check_req_decode(const uint8_t *b, size_t n,
                                          struct msg_group_check_req *m);

/* RPC_LEARN: a learner asks the primary for what it misses after last_committed. */
struct msg_learn_req {
    char learner[GEOKV_ADDR_MAX];
    decree_t last_committed;
};
/*
 * Reply: if checkpoint_decree > 0 the learner first copies the checkpoint in checkpoint_dir
 * (RPC_FILE_LIST / RPC_FILE_READ) and replaces its data with it; then it applies mutations
 * (encoded, decree order, all after its start point). done = the primary now sends this
 * learner every prepare, so it holds everything and may become a secondary.
 */
struct msg_learn_resp {
    decree_t primary_committed;
    decree_t checkpoint_decree;
    char checkpoint_dir[512];
    uint32_t nmutations;
    struct bytes *mutations;
    bool done;
};
void msg_learn_req_encode(struct buf *out, const struct msg_learn_req *m);
MUST_CHECK int msg_learn_req_decode(const uint8_t *b, size_t n, struct msg_learn_req *m);
void msg_learn_resp_encode(struct buf *out, const struct msg_learn_resp *m);
MUST_CHECK int msg_learn_resp_decode(const uint8_t *b, size_t n, struct msg_learn_resp *m,
                                     struct unpacked **zonep);
void msg_learn_resp_fini(struct msg_learn_resp *m);

/* RPC_FILE_LIST request: the directory (as named by the server that made it). */
struct msg_file_list_req {
    char dir[512];
};
struct file_entry {
    char name[256];
    uint64_t size;
    uint8_t sha256[32];
};
struct msg_file_list_resp {
    uint32_t nfiles;
    struct file_entry *files;
};
void msg_file_list_req_encode(struct buf *out, const struct msg_file_list_req *m);
MUST_CHECK int msg_file_list_req_decode(const uint8_t *b, size_t n, struct msg_file_list_req *m);
void msg_file_list_resp_encode(struct buf *out, const struct msg_file_list_resp *m);
MUST_CHECK int msg_file_list_resp_decode(const uint8_t *b, size_t n, struct msg_file_list_resp *m);
void msg_file_list_resp_fini(struct msg_file_list_resp *m);

/* RPC_FILE_READ: one chunk; the reply carries the CRC32C of the chunk's bytes. */
struct msg_file_read_req {
    char dir[512];
    char name[256];
    uint64_t offset;
    uint32_t len;
};
struct msg_file_read_resp {
    struct bytes data;
    uint32_t crc32c;
};
void msg_file_read_req_encode(struct buf *out, const struct msg_file_read_req *m);
MUST_CHECK int msg_file_read_req_decode(const uint8_t *b, size_t n, struct msg_file_read_req *m);
void msg_file_read_resp_encode(struct buf *out, const struct msg_file_read_resp *m);
MUST_CHECK int msg_file_read_resp_decode(const uint8_t *b, size_t n, struct msg_file_read_resp *m,
                                         struct unpacked **zonep);

/* RPC_CONFIG_PROPOSAL request (primary -> meta); the reply is a struct replica_assign with
 * the new configuration (role = the proposer's). */
struct msg_config_proposal {
    uint64_t gpid;
    ballot_t ballot; /* the proposer's current ballot: stale proposals are refused */
    uint32_t type;   /* enum config_change */
    char node[GEOKV_ADDR_MAX];
};
void msg_config_proposal_encode(struct buf *out, const struct msg_config_proposal *m);
MUST_CHECK int msg_config_proposal_decode(const uint8_t *b, size_t n,
                                          struct msg_config_proposal *m);
void msg_replica_assign_encode(struct buf *out, const struct replica_assign *m);
MUST_CHECK int msg_replica_assign_decode(const uint8_t *b, size_t n, struct replica_assign *m);

/* ---- duplication ---- */

/* RPC_DUP_ADD request; reply msg_dup_add_resp. */
struct msg_dup_add_req {
    char app[GEOKV_APP_NAME_MAX];
    char remote[GEOKV_APP_NAME_MAX]; /* remote cluster name, as in [pegasus.clusters] */
    bool full;                       /* -p: copy the existing data first */
};
struct msg_dup_add_resp {
    uint64_t dupid;
    bool existed; /* the same duplication already existed: its dupid */
};
void msg_dup_add_req_encode(struct buf *out, const struct msg_dup_add_req *m);
MUST_CHECK int msg_dup_add_req_decode(const uint8_t *b, size_t n, struct msg_dup_add_req *m);
void msg_dup_add_resp_encode(struct buf *out, const struct msg_dup_add_resp *m);
MUST_CHECK int msg_dup_add_resp_decode(const uint8_t *b, size_t n, struct msg_dup_add_resp *m);

/* One duplication of a table. */
struct dup_info {
    uint64_t dupid;
    uint32_t status;    /* enum dup_status */
    uint32_t fail_mode; /* enum dup_fail_mode */
    char remote[GEOKV_APP_NAME_MAX];
    char remote_app[GEOKV_APP_NAME_MAX];
    int64_t create_ts_ms;
    uint32_t npartitions;
    decree_t *confirmed; /* per partition; -1 = not known yet */
    char progress[256];  /* DS_PREPARE / DS_APP: where the full copy is, for the operator */
};

/* "DS_LOG", "FAIL_SLOW", ... (the names ZooKeeper's JSON, dup list and the logs use); NULL
 * for a value out of range. */
const char *dup_status_name(uint32_t status);
const char *dup_fail_mode_name(uint32_t mode);
/* The value a name stands for, -1 if none. */
int dup_status_parse(const char *name);
int dup_fail_mode_parse(const char *name);

/* RPC_DUP_LIST: request msg_app_name; reply: */
struct msg_dup_list_resp {
    uint32_t app_id;
    uint32_t ndups;
    struct dup_info *dups;
};
void msg_dup_list_resp_encode(struct buf *out, const struct msg_dup_list_resp *m);
MUST_CHECK int msg_dup_list_resp_decode(const uint8_t *b, size_t n, struct msg_dup_list_resp *m);
void msg_dup_list_resp_fini(struct msg_dup_list_resp *m);

/* RPC_DUP_MODIFY request; empty reply. */
struct msg_dup_modify_req {
    char app[GEOKV_APP_NAME_MAX];
    uint64_t dupid;
    uint32_t op;        /* enum dup_modify_op */
    uint32_t fail_mode; /* DUP_OP_FAIL_MODE */
};
void msg_dup_modify_req_encode(struct buf *out, const struct msg_dup_modify_req *m);
MUST_CHECK int msg_dup_modify_req_decode(const uint8_t *b, size_t n, struct msg_dup_modify_req *m);

/* RPC_DUP_SYNC: a replica server reports, for each partition it leads, the confirmed
 * decree of each of its duplications (decree -1: the partition knows no duplication yet). */
struct msg_dup_sync_req {
    char node[GEOKV_ADDR_MAX];
    uint32_t nprimaries;
    uint64_t *primaries; /* every gpid this server is primary of */
    uint32_t nconfirms;
    struct dup_confirm *confirms;
};
/* Reply: every duplication of those partitions, with the confirmed decree the meta holds
 * (where a new primary resumes). */
struct dup_assign {
    uint64_t gpid;
    uint64_t dupid;
    uint32_t status, fail_mode;
    char remote[GEOKV_APP_NAME_MAX];
    char remote_app[GEOKV_APP_NAME_MAX];
    decree_t confirmed;
};
struct msg_dup_sync_resp {
    uint32_t n;
    struct dup_assign *dups;
    /* appended: the partitions of the request the meta holds the node primary of (only
     * their lists are complete; a partition that moved gets none and must keep its own).
     * has_led is false from a meta that does not send it. */
    bool has_led;
    uint32_t nled;
    uint64_t *led;
};
void msg_dup_sync_req_encode(struct buf *out, const struct msg_dup_sync_req *m);
MUST_CHECK int msg_dup_sync_req_decode(const uint8_t *b, size_t n, struct msg_dup_sync_req *m);
void msg_dup_sync_req_fini(struct msg_dup_sync_req *m);
void msg_dup_sync_resp_encode(struct buf *out, const struct msg_dup_sync_resp *m);
MUST_CHECK int msg_dup_sync_resp_decode(const uint8_t *b, size_t n, struct msg_dup_sync_resp *m);
void msg_dup_sync_resp_fini(struct msg_dup_sync_resp *m);

/* RPC_SERVER_CONFIG: value empty = show; the reply carries the (new) value. */
struct msg_server_config {
    char key[128];
    char value[256];
};
void msg_server_config_encode(struct buf *out, const struct msg_server_config *m);
MUST_CHECK int msg_server_config_decode(const uint8_t *b, size_t n, struct msg_server_config *m);

/*
 * Human-readable reason sent as the reply body together with a non-zero error code (e.g. why
 * RPC_DUP_ADD refused), so admin tools can show the operator more than the code's name.
 * Decoding truncates a longer text to fit (it is for display only).
 */
struct msg_error_text {
    char text[256];
};
void msg_error_text_encode(struct buf *out, const struct msg_error_text *m);
MUST_CHECK int msg_error_text_decode(const uint8_t *b, size_t n, struct msg_error_text *m);
