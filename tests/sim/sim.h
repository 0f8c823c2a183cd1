#pragma once
/*
 * In-process simulation of one cluster, or of two that duplicate a table: the real replica code
 * (replica_*.c, dup_*.c, plog, the in-memory storage engine) on several simulated servers, the
 * real meta state machine (meta_state.c, meta_dup.c on the in-memory store), clients, and a
 * network between them, all on one thread and on virtual time. A seeded scheduler orders every
 * event, so a seed replays the same run: same deliveries, same faults, same outcome
 * (FoundationDB's simulation is the model).
 *
 * Faults: messages delayed, reordered, dropped and duplicated; servers crashed (as kill -9:
 * the plog keeps what it wrote, the storage what it flushed) and restarted, inside and past
 * the meta's grace period; servers cut off the network (from the metas and every other server).
 * Clients write new keys and read back other clients' latest writes (a read of an
 * acknowledged write must return it), through the primaries they last learnt from the meta.
 * Then the faults stop and the run is checked: writes are acknowledged again within half the
 * quiet period (the clients stop then); at its end every partition has all its members, every
 * acknowledged write is on the primary with its value, every member holds exactly the
 * primary's records at the primary's decree, and two clusters hold exactly the same records.
 */
#include <stdbool.h>
#include <stdint.h>

struct sim_opts {
    uint64_t seed;
    int clusters;           /* 1, or 2: the first duplicates its table to the second */
    bool master_master;     /* 2 clusters: each also to the other, with clients on both */
    int nodes;              /* simulated replica servers per cluster (<= 16 in all) */
    int partitions;         /* of the table */
    int remote_partitions;  /* of the second cluster's table */
    int replicas;           /* replica_count */
    int clients;            /* each writes new keys one at a time */
    int64_t fault_ms;       /* virtual time with faults and writes */
    int64_t quiet_ms;       /* then without faults, before the check */
    int max_down;           /* servers down at once, at most */
    double drop, dup;       /* per message */
    double slow;            /* per message: delayed 50-500 ms (and the link behind it) */
    double reorder;         /* per message: not kept in order with its link */
    int64_t crash_every_ms; /* mean time between faults of servers (0: none) */
    double partition;       /* share of those faults that cut a server off the network for
                             * 0.5-10 s (the others crash it) */
    bool follower;          /* the table is a full duplication's follower whose master cannot
                             * be reached: its primaries wait for their copy, serve nothing
                             * and must admit no member (no client writes) */
    bool verbose;           /* log at info level, and print the fault schedule */
};

struct sim_result {
    int64_t acked, failed, uncertain; /* client writes by outcome */
    int64_t reads;                    /* reads of acknowledged writes that returned them */
    int64_t crashes, partitions, messages, dropped;
    int64_t duplicated; /* records the clusters hold alike at the end (2 clusters) */
    char error[1024];   /* "" if every check passed */
};

/* Fills o with the defaults for seed. */
void sim_opts_default(struct sim_opts *o, uint64_t seed);
/* Runs one simulation in a fresh temp dir (removed afterwards) and checks it. */
void sim_run(const struct sim_opts *o, struct sim_result *res);
