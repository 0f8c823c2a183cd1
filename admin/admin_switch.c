/*
 * admin_switch.c: `dup switchover`, a planned switch of a master-slave pair with nothing lost.
 *
 *   dup switchover -c <remote cluster> -r <remote metas> -l <this cluster> [-t <remote table>]
 *                  [-w <wait s>] [--rollback]
 *
 * Run against the master cluster (-m), on the selected table (or -a), whose duplication to
 * the remote cluster (-c, as this cluster calls it; -r its metas) is in DS_LOG. -l is this
 * cluster's name as the remote one calls it (its [pegasus.clusters]). Steps:
 *
 *   1. deny client writes here (clients get ERR_WRITE_DENIED at once) and on the remote (what
 *      it took would never be shipped here);
 *   2. wait until every primary of both refuses them and has no write in flight, and until
 *      the duplication (and one back, if there is one) confirmed every commit point;
 *   3. compare both tables (dup verify); a difference stops the switch here;
 *   4. add the duplication remote -> here (it ships writes from now on);
 *   5. allow client writes on the remote;
 *   6. remove the duplication here -> remote.
 *
 * Every step checks first whether it was done, so an interrupted switchover is finished by
 * running it again (one past step 5 goes straight to step 6). --rollback undoes one not
 * finished (the duplication here -> remote still exists) unless the remote takes writes
 * already: it waits until the remote's writes reached here, removes the reverse duplication
 * and allows writes here again (for master-slave pairs: a duplication back that existed
 * before goes too). Whatever happens, the last lines say which side takes writes.
 *
 *   dup failover -c <master cluster> [-r <master metas>] [-t <master table>]
 *
 * The unplanned case, run on the follower when its master is lost: it prints, per partition
 * of the master, the last decree it confirmed here and when its newest write up to it was
 * written, as its shipments said (everything up to it is here: the RPO), and what the master
 * still says if -r reaches it (how far it shipped, what it committed), then allows client
 * writes here at once.
 */
#include "admin/admin_verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_out.h"
#include "common/clock.h"
#include "common/xmalloc.h"

#define SWITCH_USAGE                                                                               \
    "dup switchover -c <remote cluster> -r <remote metas> -l <this cluster's name there> "         \
    "[-t <remote table>] [-w <wait s>] [--rollback] [-a <app>]"
#define WHAT "dup switchover"
#define WHAT_FAILOVER "dup failover"

struct switch_state {
    struct side a, b; /* the master (here) and the remote */
    const char *remote_cluster, *local_cluster;
    uint64_t ab, ba;  /* the duplications a -> b and b -> a; 0 if none */
    bool ab_shipping; /* a -> b ships every write (DS_LOG, fail mode slow) */
    int64_t t0_ms, deadline_ms;
    int step;
};

/* The duplication of s's table to cluster `to` (its table `to_app`), 0 if none; *shipping (if
 * not NULL) says whether it ships every write (DS_LOG, fail mode slow: a skipping one confirms writes the
 * remote never got). */
static int
find_dup(struct side *s, const char *to, const char *to_app, uint64_t *dupid, bool *shipping)
{
    struct geokv_dup *dups;
    size_t n;
    char why[256];
    int err = geokv_dup_list(s->client, s->app, s->timeout_ms, &dups, &n, why, sizeof(why));
    *dupid = 0;
    for (size_t i = 0; err == 0 && i < n; i++)
        if (strcmp(dups[i].remote, to) == 0 && strcmp(dups[i].remote_table, to_app) == 0) {
            *dupid = dups[i].dupid;
            if (shipping != NULL)
                *shipping = strcmp(dups[i].status, "DS_LOG") == 0 &&
                            strcmp(dups[i].fail_mode, "FAIL_SLOW") == 0;
        }
    if (err == 0)
        geokv_dup_list_free(dups, n);
    return err;
}

static void
step_begin(struct switch_state *st, const char *fmt, const char *arg)
{
    st->step++;
    if (out_json())
        return;
    printf("step %d: ", st->step);
    printf(fmt, arg);
    putchar('\n');
    fflush(stdout);
}

static void
step_end(struct switch_state *st, int64_t since_ms, const char *note)
{
    if (out_json())
        return;
    printf("step %d done: %s (%lld ms; %.1f s in all)\n", st->step, note,
           (long long)(clock_mono_ms() - since_ms), (double)(clock_mono_ms() - st->t0_ms) / 1000.0);
    fflush(stdout);
}

static enum admin_result
set_writes(struct side *s, bool deny)
{
    int err = geokv_set_table_writes(s->client, s->app, deny, s->timeout_ms);
    if (err != 0)
        return out_fail(WHAT ": %s writes on the %s cluster: %s", deny ? "denying" : "allowing",
                        s->label, err_str(err));
    return ADMIN_OK;
}

/* Waits until every primary of s has applied the table's write setting (deny or allow, with
 * its next beacon) and, when denied, has no write in flight; their commit points into
 * committed[] if not NULL. */
static enum admin_result
wait_primaries(struct switch_state *st, struct side *s, bool deny, decree_t *committed)
{
    for (uint32_t p = 0; p < s->cfg.partition_count;) {
        struct msg_partition_info_resp info;
        int err = side_partition_info(s, p, &info);
        if (err != 0)
            return out_fail(WHAT ": partition %u on the %s cluster: %s", p, s->label, err_str(err));
        msg_partition_info_resp_fini(&info);
        if (info.deny_write == deny && (!deny || info.plog_last <= info.last_committed)) {
            if (committed != NULL)
                committed[p] = info.last_committed;
            p++;
            continue;
        }
        if (clock_mono_ms() >= st->deadline_ms)
            return out_fail(WHAT ": partition %u on the %s cluster still %s", p, s->label,
                            info.deny_write != deny ? (deny ? "takes writes" : "refuses writes")
                                                    : "has writes in flight");
        usleep(100 * 1000);
    }
    return ADMIN_OK;
}

/* Step 2's and 3's work for one side: s's primaries refuse client writes and have none in
 * flight, and its duplication to `to` confirmed everything they committed. */
static enum admin_result
drain(struct switch_state *st, struct side *s, struct side *to)
{
    decree_t *committed = xcalloc(s->cfg.partition_count + 1, sizeof(*committed));
    enum admin_result res = wait_primaries(st, s, true, committed);
    if (res == ADMIN_OK)
        res = wait_confirmed(s, to, committed, st->deadline_ms, WHAT);
    xfree(committed);
    return res;
}

/* Steps 1-3: neither side takes client writes (a remote that took some would hold writes the
 * reverse duplication never ships), and everything either committed reached the other. */
static enum admin_result
quiesce(struct switch_state *st)
{
    int64_t t = clock_mono_ms();
    enum admin_result res = ADMIN_OK;
    bool already = st->a.cfg.deny_write && st->b.cfg.deny_write;

    step_begin(st, "deny client writes to %s here and on the remote cluster", st->a.app);
    if (!st->a.cfg.deny_write)
        res = set_writes(&st->a, true);
    if (res == ADMIN_OK && !st->b.cfg.deny_write)
        res = set_writes(&st->b, true);
    if (res != ADMIN_OK)
        return res;
    step_end(st, t, already ? "already denied" : "denied");
    t = clock_mono_ms();
    step_begin(st,
               "wait until every primary of %s, on both clusters, refuses them and has "
               "nothing in flight, and the duplications confirmed every write",
               st->a.app);
    res = drain(st, &st->a, &st->b);
    if (res == ADMIN_OK && st->ba != 0) /* a duplication back (master-master, or a resumed run) */
        res = drain(st, &st->b, &st->a);
    if (res == ADMIN_OK)
        step_end(st, t, "quiet and confirmed");
    return res;
}

/* The closing lines: which side takes writes now, with a warning when both or neither do. */
static void
print_outcome(struct switch_state *st)
{
    bool a_writes, b_writes;
    if (side_query(&st->a) != 0 || side_query(&st->b) != 0) {
        if (!out_json())
            printf("could not read the tables' state: check both with `app %s`\n", st->a.app);
        return;
    }
    a_writes = !st->a.cfg.deny_write;
    b_writes = !st->b.cfg.deny_write;
    if (out_json()) {
        json_kv_bool("local_takes_writes", a_writes);
        json_kv_bool("remote_takes_writes", b_writes);
        return;
    }
    printf("writes to %s: %s here, %s on %s\n", st->a.app, a_writes ? "taken" : "denied",
           b_writes ? "taken" : "denied", st->remote_cluster);
    if (a_writes && b_writes)
        printf("WARNING: both clusters take client writes to %s\n", st->a.app);
    else if (!a_writes && !b_writes)
        printf("WARNING: neither cluster takes client writes to %s: run the switchover again "
               "to finish it, or with --rollback\n",
               st->a.app);
}

static enum admin_result
switchover(struct switch_state *st)
{
    int64_t t;
    enum admin_result res;
    char why[256];
    int err;

    if (st->ab == 0) {
        if (st->ba != 0 && st->a.cfg.deny_write && !st->b.cfg.deny_write) {
            if (!out_json())
                printf("already switched over: %s on %s is the master, duplicating here "
                       "(dupid %llu)\n",
                       st->b.app, st->remote_cluster, (unsigned long long)st->ba);
            return ADMIN_OK;
        }
        return out_fail(WHAT ": %s has no duplication to %s.%s", st->a.app, st->remote_cluster,
                        st->b.app);
    }
    if (st->ba != 0 && st->a.cfg.deny_write && !st->b.cfg.deny_write) {
        st->step = 5; /* an earlier run got through step 5: the remote is the master already */
        goto remove_old;
    }
    if (!st->ab_shipping)
        return out_fail(WHAT ": the duplication %s -> %s must be in DS_LOG with fail mode slow "
                             "(`dup start`, `set_dup_fail_mode ... slow`): nothing changed",
                        st->a.app, st->remote_cluster);
    res = quiesce(st);
    if (res != ADMIN_OK)
        return res;

    t = clock_mono_ms();
    step_begin(st, "compare %s on both clusters", st->a.app);
    if (out_json()) {
        json_key("verify");
        json_begin_object();
    }
    res = verify_tables(&st->a, &st->b, (uint64_t)clock_wall_us(), 10, WHAT);
    if (out_json())
        json_end();
    if (res != ADMIN_OK)
        return res;
    step_end(st, t, "equal");

    t = clock_mono_ms();
    step_begin(st, "duplicate %s back from the remote cluster", st->b.app);
    if (st->ba == 0) {
        bool existed;
        err = geokv_dup_add(st->b.client, st->b.app, st->local_cluster, false, st->b.timeout_ms,
                            &st->ba, &existed, why, sizeof(why));
        if (err != 0)
            return out_fail(WHAT ": dup add on the remote cluster: %s",
                            why[0] ? why : err_str(err));
        step_end(st, t, "added");
    } else {
        step_end(st, t, "already there");
    }
    if (!out_json())
        printf("         the reverse duplication %s.%s -> %s is dupid %llu\n", st->remote_cluster,
               st->b.app, st->local_cluster, (unsigned long long)st->ba);

    t = clock_mono_ms();
    step_begin(st, "allow client writes to %s on the remote cluster", st->b.app);
    if ((res = set_writes(&st->b, false)) != ADMIN_OK ||
        (res = wait_primaries(st, &st->b, false, NULL)) != ADMIN_OK)
        return res;
    step_end(st, t, "every primary takes them");

remove_old:
    t = clock_mono_ms();
    step_begin(st, "remove the duplication %s -> remote", st->a.app);
    err = geokv_dup_modify(st->a.client, st->a.app, st->ab, GEOKV_DUP_REMOVE, GEOKV_DUP_FAIL_SLOW,
                           st->a.timeout_ms, why, sizeof(why));
    if (err != 0)
        return out_fail(WHAT ": dup remove here: %s", why[0] ? why : err_str(err));
    step_end(st, t, "removed");
    if (out_json()) {
        json_key("reverse_dupid");
        json_uint(st->ba);
    } else {
        printf("switched over in %.1f s: %s on %s is the master\n",
               (double)(clock_mono_ms() - st->t0_ms) / 1000.0, st->b.app, st->remote_cluster);
    }
    return ADMIN_OK;
}

static enum admin_result
rollback(struct switch_state *st)
{
    int64_t t = clock_mono_ms();
    enum admin_result res = ADMIN_OK;
    char why[256];
    int err;

    if (st->ab == 0)
        return out_fail(WHAT ": nothing to roll back: %s has no duplication to %s (switched "
                             "over already? switch back by running the switchover on %s)",
                        st->a.app, st->remote_cluster, st->remote_cluster);
    if (st->ba != 0) {
        if (!st->b.cfg.deny_write)
            return out_fail(WHAT ": the remote cluster already takes writes to %s and ships "
                                 "them here (dupid %llu): finish the switchover instead",
                            st->b.app, (unsigned long long)st->ba);
        /* whatever the remote took meanwhile reaches here before its duplication goes */
        step_begin(st, "wait until %s on the remote cluster is quiet and shipped here", st->b.app);
        if ((res = drain(st, &st->b, &st->a)) != ADMIN_OK)
            return res;
        step_end(st, t, "shipped");
        t = clock_mono_ms();
        step_begin(st, "remove the reverse duplication of %s", st->b.app);
        err = geokv_dup_modify(st->b.client, st->b.app, st->ba, GEOKV_DUP_REMOVE,
                               GEOKV_DUP_FAIL_SLOW, st->b.timeout_ms, why, sizeof(why));
        if (err != 0)
            return out_fail(WHAT ": dup remove on the remote cluster: %s",
                            why[0] ? why : err_str(err));
        step_end(st, t, "removed");
        t = clock_mono_ms();
    }
    step_begin(st, "allow client writes to %s here", st->a.app);
    if (st->a.cfg.deny_write)
        res = set_writes(&st->a, false);
    if (res == ADMIN_OK)
        step_end(st, t, "allowed");
    return res;
}

enum admin_result
admin_dup_switchover(struct admin_ctx *ctx, int argc, const struct admin_tok *argv)
{
    struct switch_state st = {.step = 0};
    const char *remote_metas = NULL, *app = ctx->app, *remote_app = NULL;
    int64_t wait_s = 120;
    bool back = false;
    enum admin_result res;
    int err;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i].p;
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "-r") == 0 && has_value)
            remote_metas = argv[++i].p;
        else if (strcmp(arg, "-c") == 0 && has_value)
            st.remote_cluster = argv[++i].p;
        else if (strcmp(arg, "-l") == 0 && has_value)
            st.local_cluster = argv[++i].p;
        else if (strcmp(arg, "-t") == 0 && has_value)
            remote_app = argv[++i].p;
        else if (strcmp(arg, "-w") == 0 && has_value &&
                 admin_parse_i64(argv[i + 1].p, &wait_s) == 0 && wait_s > 0)
            i++;
        else if (strcmp(arg, "-a") == 0 && has_value)
            app = argv[++i].p;
        else if (strcmp(arg, "--rollback") == 0)
            back = true;
        else
            return out_usage("%s", SWITCH_USAGE);
    }
    if (remote_metas == NULL || st.remote_cluster == NULL || st.local_cluster == NULL)
        return out_usage("%s", SWITCH_USAGE);
    if (app[0] == '\0')
        return out_fail(WHAT ": no table selected (use <app>, or -a <app>)");
    st.t0_ms = clock_mono_ms();
    st.deadline_ms = st.t0_ms + wait_s * 1000;
    res = sides_open(&st.a, &st.b, ctx, app, remote_app ? remote_app : app, remote_metas,
                     st.local_cluster, st.remote_cluster, WHAT);
    st.a.retry_ms = st.b.retry_ms = (int)(wait_s * 1000); /* a lost primary fails within -w */
    if (res != ADMIN_OK)
        goto done;
    if ((err = find_dup(&st.a, st.remote_cluster, st.b.app, &st.ab, &st.ab_shipping)) != 0 ||
        (err = find_dup(&st.b, st.local_cluster, st.a.app, &st.ba, NULL)) != 0) {
        res = out_fail(WHAT ": dup list: %s", err_str(err));
        goto done;
    }
    if (!out_json())
        printf("%s %s: here -> %s (%s)%s\n",
               back ? "rolling back the switchover of" : "switching over", app, st.remote_cluster,
               remote_metas, back ? "" : "; clients writing here get ERR_WRITE_DENIED from step 1");
    res = back ? rollback(&st) : switchover(&st);
    print_outcome(&st);
done:
    sides_close(&st.a, &st.b);
    return res;
}

/* ---- dup failover ---- */

#define FAILOVER_USAGE                                                                             \
    "dup failover -c <master cluster> [-r <master metas>] [-t <master table>] [-a <app>]"
#define MASTER_TIMEOUT_MS 2000 /* a master that does not answer this fast is taken as lost */

/* What the master may still say: per partition its confirmed and committed decrees. */
static void
master_report(const char *metas, const char *app, const char *local_app, int64_t *pending,
              uint32_t *partitions)
{
    struct side m = {"master", NULL, NULL, "", {0}, MASTER_TIMEOUT_MS, 0};
    struct geokv_dup *dups = NULL;
    size_t n = 0;
    char why[256];
    int err = geokv_client_create(metas, NULL, &m.client);

    *pending = -1;
    snprintf(m.app, sizeof(m.app), "%s", app);
    if (err == 0)
        geokv_client_seal(m.client);
    if (err == 0)
        err = side_query(&m);
    *partitions = err == 0 ? m.cfg.partition_count : 0;
    if (err == 0)
        err = geokv_dup_list(m.client, app, MASTER_TIMEOUT_MS, &dups, &n, why, sizeof(why));
    if (out_json()) {
        json_key("master");
        if (err != 0)
            json_null();
        else
            json_begin_array();
    }
    if (err != 0 && !out_json())
        printf("         the master does not answer (%s): what it had not shipped is unknown\n",
               err_str(err));
    for (size_t i = 0; err == 0 && i < n; i++) {
        if (strcmp(dups[i].remote_table, local_app) != 0)
            continue;
        *pending = 0;
        for (uint32_t p = 0; p < dups[i].npartitions && p < m.cfg.partition_count; p++) {
            const struct partition_config *pc = &m.cfg.partitions[p];
            struct msg_partition_info_resp info;
            int e = pc->primary[0] == '\0'
                        ? ERR_AGAIN
                        : geokv_replica_partition_info(m.client, pc->primary,
                                                       gpid_make(m.cfg.app_id, p),
                                                       MASTER_TIMEOUT_MS, &info);
            if (e == 0) {
                msg_partition_info_resp_fini(&info);
                if (*pending >= 0)
                    *pending += info.last_committed - dups[i].confirmed[p];
            } else {
                *pending = -1;
            }
            if (out_json()) {
                json_begin_object();
                json_kv_int("pidx", p);
                json_kv_int("confirmed", dups[i].confirmed[p]);
                json_key("committed");
                if (e == 0)
                    json_int(info.last_committed);
                else
                    json_null();
                json_end();
            } else if (e == 0) {
                printf("         master partition %u: shipped up to decree %lld of %lld "
                       "committed\n",
                       p, (long long)dups[i].confirmed[p], (long long)info.last_committed);
            } else {
                printf("         master partition %u: shipped up to decree %lld; its primary "
                       "does not answer (%s)\n",
                       p, (long long)dups[i].confirmed[p], err_str(e));
            }
        }
    }
    if (out_json() && err == 0)
        json_end();
    geokv_dup_list_free(dups, n);
    msg_app_config_fini(&m.cfg);
    geokv_client_destroy(m.client);
}

static int
source_cmp(const void *pa, const void *pb)
{
    const struct source_confirmed *x = pa, *y = pb;
    if (x->cluster_id != y->cluster_id)
        return x->cluster_id < y->cluster_id ? -1 : 1;
    return x->pidx < y->pidx ? -1 : x->pidx > y->pidx;
}

/* What the partitions duplicating here said they confirmed (the highest any primary of s
 * heard, per source partition), and the newest duplicated write committed here; the oldest
 * confirmed write's time into *rpo_from_us (0 if none heard). */
static enum admin_result
sources_report(struct side *s, uint32_t master_partitions, uint64_t *rpo_from_us)
{
    struct source_confirmed *all = NULL;
    size_t n = 0;
    uint64_t now_us = (uint64_t)clock_wall_us(), newest_us = 0;

    for (uint32_t p = 0; p < s->cfg.partition_count; p++) {
        struct msg_partition_info_resp info;
        int err = side_partition_info(s, p, &info);
        if (err != 0) {
            xfree(all);
            return out_fail(WHAT_FAILOVER ": partition %u here: %s", p, err_str(err));
        }
        for (uint32_t i = 0; i < info.narrivals; i++)
            if (info.arrivals[i].newest_us > newest_us)
                newest_us = info.arrivals[i].newest_us;
        for (uint32_t i = 0; i < info.nsources; i++) {
            size_t k = 0;
            while (k < n && source_cmp(&all[k], &info.sources[i]) != 0)
                k++;
            if (k == n) {
                all = xrealloc(all, (n + 1) * sizeof(*all));
                all[n++] = info.sources[i];
            } else if (info.sources[i].confirmed > all[k].confirmed) {
                all[k] = info.sources[i];
            }
        }
        msg_partition_info_resp_fini(&info);
    }
    if (n > 0)
        qsort(all, n, sizeof(*all), source_cmp);
    *rpo_from_us = UINT64_MAX;
    if (out_json()) {
        json_key("sources");
        json_begin_array();
    }
    for (size_t i = 0; i < n; i++) {
        char when[64];
        if (all[i].confirmed_us < *rpo_from_us) /* 0 (time not known) makes it unknown */
            *rpo_from_us = all[i].confirmed_us;
        if (out_json()) {
            json_begin_object();
            json_kv_int("cluster_id", all[i].cluster_id);
            json_kv_int("pidx", all[i].pidx);
            json_kv_int("confirmed", all[i].confirmed);
            json_key("confirmed_us");
            json_uint(all[i].confirmed_us);
            json_end();
            continue;
        }
        if (all[i].confirmed_us == 0) {
            printf("         cluster %u partition %u: confirmed up to decree %lld, written at a "
                   "time not known here\n",
                   all[i].cluster_id, all[i].pidx, (long long)all[i].confirmed);
            continue;
        }
        admin_time_text(when, sizeof(when), all[i].confirmed_us);
        printf("         cluster %u partition %u: confirmed up to decree %lld, its newest write "
               "written %s (%.1f s ago)\n",
               all[i].cluster_id, all[i].pidx, (long long)all[i].confirmed, when,
               (double)(now_us - all[i].confirmed_us) / 1e6);
    }
    /* every master partition must have been heard from (each source cluster's count checked
     * against the master's, or else this table's, partition count) */
    for (size_t i = 0, run = 0; i <= n; i++, run++) {
        uint32_t expected = master_partitions ? master_partitions : s->cfg.partition_count;
        if (i > 0 && (i == n || all[i].cluster_id != all[i - 1].cluster_id)) {
            if (run < expected) {
                *rpo_from_us = 0;
                if (!out_json())
                    printf("         cluster %u: only %zu of %u partitions heard from: the "
                           "others' writes may all be missing\n",
                           all[i - 1].cluster_id, run, expected);
            }
            run = 0;
        }
    }
    if (n == 0 || *rpo_from_us == UINT64_MAX)
        *rpo_from_us = 0;
    if (out_json()) {
        json_end();
        json_key("newest_arrival_us");
        json_uint(newest_us);
    } else {
        char when[64];
        if (n == 0)
            printf("         no duplicating partition has said what it confirmed to these "
                   "primaries\n");
        admin_time_text(when, sizeof(when), newest_us);
        if (newest_us)
            printf("         the newest duplicated write committed here was written %s (some "
                   "after a confirmed decree may have arrived too)\n",
                   when);
    }
    xfree(all);
    return ADMIN_OK;
}

enum admin_result
admin_dup_failover(struct admin_ctx *ctx, int argc, const struct admin_tok *argv)
{
    struct side b = {"local", NULL, ctx->client, "", {0}, ctx->timeout_ms, 0};
    const char *master = NULL, *metas = NULL, *app = ctx->app, *master_app = NULL;
    int64_t t = clock_mono_ms(), pending = -1;
    uint64_t rpo_from_us = 0;
    uint32_t master_partitions = 0;
    enum admin_result res;
    char when[64];
    int err;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i].p;
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "-c") == 0 && has_value)
            master = argv[++i].p;
        else if (strcmp(arg, "-r") == 0 && has_value)
            metas = argv[++i].p;
        else if (strcmp(arg, "-t") == 0 && has_value)
            master_app = argv[++i].p;
        else if (strcmp(arg, "-a") == 0 && has_value)
            app = argv[++i].p;
        else
            return out_usage("%s", FAILOVER_USAGE);
    }
    if (master == NULL)
        return out_usage("%s", FAILOVER_USAGE);
    if (app[0] == '\0')
        return out_fail(WHAT_FAILOVER ": no table selected (use <app>, or -a <app>)");
    snprintf(b.app, sizeof(b.app), "%s", app);
    if ((err = side_query(&b)) != 0) {
        res = out_fail(WHAT_FAILOVER ": table %s: %s", app, err_str(err));
        goto done;
    }
    if (!out_json())
        printf("failing over %s from %s: this cluster takes client writes from now on; %s is "
               "not asked to stop\n",
               app, master, master);
    if (metas != NULL) {
        if (!out_json())
            printf("step 1: what the master says\n");
        master_report(metas, master_app ? master_app : app, app, &pending, &master_partitions);
    }
    if (!out_json())
        printf("step %d: how far the master's partitions said they had shipped here\n",
               metas ? 2 : 1);
    res = sources_report(&b, master_partitions, &rpo_from_us);
    if (res != ADMIN_OK)
        goto done;
    if (!out_json())
        printf("step %d: allow client writes to %s here\n", metas ? 3 : 2, app);
    t = clock_mono_ms();
    err = geokv_set_table_writes(b.client, app, false, b.timeout_ms);
    if (err != 0) {
        res = out_fail(WHAT_FAILOVER ": allowing writes: %s", err_str(err));
        goto done;
    }
    if (out_json()) {
        json_key("rpo_from_us");
        if (rpo_from_us)
            json_uint(rpo_from_us);
        else
            json_null();
        json_key("unshipped_writes");
        if (pending >= 0)
            json_int(pending);
        else
            json_null();
        json_kv_bool("local_takes_writes", true);
        goto done;
    }
    printf("step %d done: allowed (%lld ms)\n", metas ? 3 : 2, (long long)(clock_mono_ms() - t));
    if (rpo_from_us) {
        admin_time_text(when, sizeof(when), rpo_from_us);
        printf("RPO: writes made on %s after %s may be missing here (per partition above: "
               "those after its confirmed decree)",
               master, when);
    } else {
        printf("RPO: unknown (a partition of %s said nothing, or nothing with its time, to "
               "these primaries: any of its writes may be missing)",
               master);
    }
    if (pending >= 0)
        printf("; the master counts %lld writes not shipped", (long long)pending);
    printf("\nwhen %s is back, there: `writes %s deny`, then `dup remove` its duplication to "
           "this cluster (else it ships the writes it had not shipped, older than those made "
           "here since); compare with `dup verify`; to re-seed it, drop its table and run `dup "
           "add -c %s -p` here\n",
           master, master_app ? master_app : app, master);
done:
    msg_app_config_fini(&b.cfg);
    return res;
}
