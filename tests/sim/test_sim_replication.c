/*
 * test_sim_replication.c: replication and duplication in the in-process simulation (sim.h):
 * seeded runs with crashes, restarts and message faults, each checked for lost acknowledged
 * writes, diverged replicas and diverged clusters. SIM_SEEDS=N runs N seeds (default 12), SIM_SEED=S only S,
 * SIM_VERBOSE=1 prints the servers' logs and the fault schedule.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

static uint64_t
env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

/* Runs the seeds of the environment through tweak(o) and asserts each passed. */
static void
run_seeds(uint64_t first, void (*tweak)(struct sim_opts *o))
{
    uint64_t one = env_u64("SIM_SEED", 0), n = env_u64("SIM_SEEDS", 12);
    int64_t acked = 0, reads = 0, crashes = 0, msgs = 0, duplicated = 0;
    for (uint64_t i = 0; i < (one ? 1 : n); i++) {
        struct sim_opts o;
        struct sim_result res;
        sim_opts_default(&o, one ? one : first + i);
        o.verbose = env_u64("SIM_VERBOSE", 0) != 0;
        if (tweak)
            tweak(&o);
        sim_run(&o, &res);
        cr_assert(res.error[0] == '\0',
                  "%s\n(%" PRId64 " writes acknowledged, %" PRId64 " failed, %" PRId64
                  " uncertain, %" PRId64 " crashes, %" PRId64 " partitions, %" PRId64
                  " messages, %" PRId64 " dropped; replay: SIM_SEED=%" PRIu64 " SIM_VERBOSE=1)",
                  res.error, res.acked, res.failed, res.uncertain, res.crashes, res.partitions,
                  res.messages, res.dropped, o.seed);
        acked += res.acked;
        reads += res.reads;
        crashes += res.crashes;
        msgs += res.messages;
        duplicated += res.duplicated;
    }
    cr_log_info("%" PRIu64 " seeds from %" PRIu64 ": %" PRId64 " writes acknowledged, %" PRId64
                " read back, %" PRId64 " crashes, %" PRId64 " messages; %" PRId64
                " records alike on two clusters",
                one ? 1 : n, one ? one : first, acked, reads, crashes, msgs, duplicated);
}

Test(sim, crashes_and_message_faults, .timeout = 600)
{
    run_seeds(1000, NULL);
}

static void
no_faults(struct sim_opts *o)
{
    o->drop = o->dup = o->slow = o->reorder = 0;
    o->crash_every_ms = 0;
}

Test(sim, no_faults_converges, .timeout = 600)
{
    run_seeds(1, no_faults);
}

static void
two_down(struct sim_opts *o)
{
    o->nodes = 5;
    o->max_down = 2;
    o->crash_every_ms = 1500;
}

Test(sim, two_servers_down_at_once, .timeout = 600)
{
    run_seeds(5000, two_down);
}

static void
follower(struct sim_opts *o)
{
    o->follower = true;
    o->crash_every_ms = 1500;
}

/* A full duplication's follower table whose master cannot be reached: however its servers
 * crash and restart, no partition admits a member before it has its master's data. */
Test(sim, follower_partitions_wait_for_their_copy, .timeout = 600)
{
    run_seeds(7000, follower);
}

static void
master_slave(struct sim_opts *o)
{
    o->clusters = 2;
    o->remote_partitions = 3; /* entries are routed by key to the remote's own partitions */
}

/* Duplication from one cluster to another while both lose servers and messages: at the end
 * the second holds exactly the first's records. */
Test(sim, duplication_converges, .timeout = 600)
{
    run_seeds(9000, master_slave);
}

static void
master_master(struct sim_opts *o)
{
    master_slave(o);
    o->master_master = true;
}

/* Both clusters written, some keys on both at once: last-writer-wins must pick the same
 * record everywhere. */
Test(sim, master_master_converges, .timeout = 600)
{
    run_seeds(11000, master_master);
}
