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
 *   1. deny client writes here (clients get ERR_WRITE_DENIED at once), and on the remote if
 *      it takes them (what it took before step 5 would never be shipped here);
 *   2. wait until every primary here refuses them and has no write in flight, and note its
 *      commit point;
 *   3. wait until the duplication confirmed every partition's commit point;
 *   4. compare both tables (dup verify); a difference stops the switch here;
 *   5. add the duplication remote -> here (it ships writes from now on);
 *   6. allow client writes on the remote;
 *   7. remove the duplication here -> remote.
 *
 * Every step checks first whether it was done, so an interrupted switchover is finished by
 * running it again. --rollback undoes one not finished (the duplication here -> remote still
 * exists): it removes the reverse duplication if the remote has not taken writes yet, and
 * allows writes here again. Whatever happens, the last lines say which side takes writes.
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

struct switch_state {
    struct side a, b; /* the master (here) and the remote */
    const char *remote_cluster, *local_cluster;
    uint64_t ab, ba; /* the duplications a -> b and b -> a; 0 if none */
    int64_t t0_ms, deadline_ms;
    int step;
};

/* The duplication of s's table to cluster `to` (its table `to_app`), 0 if none. */
static int
find_dup(struct side *s, const char *to, const char *to_app, uint64_t *dupid)
{
    struct geokv_dup *dups;
    size_t n;
    char why[256];
    int err = geokv_dup_list(s->client, s->app, s->timeout_ms, &dups, &n, why, sizeof(why));
    *dupid = 0;
    for (size_t i = 0; err == 0 && i < n; i++)
        if (strcmp(dups[i].remote, to) == 0 && strcmp(dups[i].remote_table, to_app) == 0)
            *dupid = dups[i].dupid;
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
    fflush(stdout);
}

static void
step_end(struct switch_state *st, int64_t since_ms, const char *note)
{
    if (out_json())
        return;
    printf(" ... %s (%lld ms; %.1f s in all)\n", note, (long long)(clock_mono_ms() - since_ms),
           (double)(clock_mono_ms() - st->t0_ms) / 1000.0);
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

/* Step 2: every primary of s refuses client writes and has none in flight; their commit
 * points into committed[]. */
static enum admin_result
wait_quiet(struct switch_state *st, struct side *s, decree_t *committed)
{
    for (uint32_t p = 0; p < s->cfg.partition_count;) {
        struct msg_partition_info_resp info;
        int err = side_partition_info(s, p, &info);
        if (err != 0)
            return out_fail(WHAT ": partition %u on the %s cluster: %s", p, s->label, err_str(err));
        msg_partition_info_resp_fini(&info);
        if (info.deny_write && info.plog_last <= info.last_committed) {
            committed[p++] = info.last_committed;
            continue;
        }
        if (clock_mono_ms() >= st->deadline_ms)
            return out_fail(WHAT ": partition %u on the %s cluster still %s", p, s->label,
                            info.deny_write ? "has writes in flight" : "takes writes");
        usleep(100 * 1000);
    }
    return ADMIN_OK;
}

/* Steps 1-3: s takes no more client writes, and everything it committed reached `to`. */
static enum admin_result
quiesce(struct switch_state *st, struct side *s, struct side *to)
{
    decree_t *committed = xcalloc(s->cfg.partition_count + 1, sizeof(*committed));
    int64_t t = clock_mono_ms();
    enum admin_result res = ADMIN_OK;

    step_begin(st, "deny client writes to %s here and on the remote cluster", s->app);
    if (!s->cfg.deny_write)
        res = set_writes(s, true);
    /* a remote that takes writes would take some the reverse duplication never ships */
    if (res == ADMIN_OK && !to->cfg.deny_write)
        res = set_writes(to, true);
    if (res == ADMIN_OK) {
        step_end(st, t, s->cfg.deny_write && to->cfg.deny_write ? "already denied" : "denied");
        t = clock_mono_ms();
        step_begin(st, "wait until every primary of %s refuses them, nothing in flight", s->app);
        res = wait_quiet(st, s, committed);
    }
    if (res == ADMIN_OK) {
        step_end(st, t, "quiet");
        t = clock_mono_ms();
        step_begin(st, "wait until the duplication to %s confirmed every write", to->label);
        res = wait_confirmed(s, to, committed, st->deadline_ms, WHAT);
    }
    if (res == ADMIN_OK)
        step_end(st, t, "confirmed");
    xfree(committed);
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
    res = quiesce(st, &st->a, &st->b);
    if (res != ADMIN_OK)
        return res;

    t = clock_mono_ms();
    step_begin(st, "compare %s on both clusters\n", st->a.app);
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
    }
    step_end(st, t, "dupid");
    if (!out_json())
        printf("         reverse duplication %s.%s -> %s: dupid %llu\n", st->remote_cluster,
               st->b.app, st->local_cluster, (unsigned long long)st->ba);

    t = clock_mono_ms();
    step_begin(st, "allow client writes to %s on the remote cluster", st->b.app);
    if ((res = set_writes(&st->b, false)) != ADMIN_OK)
        return res;
    step_end(st, t, "allowed");

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
    if (res != ADMIN_OK)
        goto done;
    if ((err = find_dup(&st.a, st.remote_cluster, st.b.app, &st.ab)) != 0 ||
        (err = find_dup(&st.b, st.local_cluster, st.a.app, &st.ba)) != 0) {
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
