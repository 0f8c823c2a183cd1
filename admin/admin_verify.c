/*
 * admin_verify.c: `dup verify`, whether two clusters hold the same table, while both serve.
 *
 *   dup verify -r <remote meta list> [-t <remote table>] [-c <remote cluster> -l <this cluster>]
 *              [-n <keys shown>] [-w <wait s>]
 *
 * on the selected table (or -a <app>); exit 1 if a key differs (docs/duplication.md).
 *
 * Safe point: S = now - SKEW_MARGIN_S. Every duplication between the two tables (either way;
 * only those between these two clusters when -c and -l name them) is waited on until it
 * confirmed what its source primaries had prepared when the check began, so every write
 * stamped before S is on both sides (clocks within the margin). A key
 * whose record on either side is stamped at or after S changed during the check: it is
 * counted, not compared.
 *
 * Narrowing (Merkle-style): a record's bucket is key_hash64 % M, with M a multiple of both
 * partition counts, so a bucket lies in one partition on each side whatever the counts.
 * Both sides send per-bucket digests (count, sum of record hashes) for M buckets; the
 * buckets that differ are split 64 ways and asked again, until a differing bucket holds few
 * records (or cannot split: one hash key); those are listed on both sides and compared key
 * by key. Each round is one pass over each partition involved (replica_on_verify).
 */
#include "admin/admin_verify.h"

#include "admin/admin_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/geokv_wire.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/xmalloc.h"
#include "proto/pack.h"

#define VERIFY_USAGE                                                                               \
    "dup verify -r <remote meta list> [-t <remote table>] [-c <remote cluster> -l <this "          \
    "cluster>] [-n <keys shown>] [-w <wait s>] [-a <app>]"
#define SKEW_MARGIN_S 2 /* clocks of the servers and of admin-cli agree within this */
#define FIRST_BUCKETS 4096
#define FANOUT 64
#define MAX_ROUNDS 4
#define LEAF_RECORDS 256 /* a differing bucket this small is listed rather than split */
#define LIST_PAGE 1000
#define CALL_RETRY_MS 30000
#define VERIFY_TIMEOUT_MS 60000 /* one page of a pass (it takes ~0.1 s; a loop may be busy) */
#define MAX_BUCKETS (1u << 20)  /* asked in one round: more differ, and the tables differ widely */

/* A record as listed, copied out of the reply. */
struct vrec {
    struct buf hk, sk, value;
    uint32_t expire_ts;
    uint64_t timetag;
};

struct verify {
    struct side *a, *b;
    uint64_t safe_us;   /* S */
    uint32_t live_at_s; /* expiry judged at S on both sides */
    uint64_t matching, different, missing_remote, missing_local, changed;
    size_t show;           /* differences printed at most */
    struct buf diffs_text; /* the human lines of the first ones */
    size_t shown;
};

int
side_query(struct side *s)
{
    msg_app_config_fini(&s->cfg);
    return geokv_query_config(s->client, s->app, s->timeout_ms, &s->cfg);
}

/* A call to the primary of pidx, asking the meta again after a failure (a moved primary, a
 * restarting server) until CALL_RETRY_MS passes; not after a timeout (the server may still be
 * at work on it: sending it again would only queue another). */
typedef int primary_call_fn(struct side *s, const char *addr, uint64_t gpid, void *arg);

static int
side_retry(struct side *s, uint32_t pidx, primary_call_fn *fn, void *arg)
{
    int64_t deadline = clock_mono_ms() + (s->retry_ms > 0 ? s->retry_ms : CALL_RETRY_MS);
    int err;
    for (;;) {
        const struct partition_config *pc = &s->cfg.partitions[pidx];
        err = pc->primary[0] == '\0' ? ERR_AGAIN
                                     : fn(s, pc->primary, gpid_make(s->cfg.app_id, pidx), arg);
        if (err == 0 || err == ERR_TIMEOUT || clock_mono_ms() >= deadline)
            return err;
        usleep(200 * 1000);
        if (side_query(s) != 0 || pidx >= s->cfg.partition_count)
            return ERR_INVALID_STATE; /* the table went away or changed shape */
    }
}

struct verify_call {
    const struct msg_verify_req *q;
    struct msg_verify_resp *r;
    struct unpacked **zone;
};

static int
verify_fn(struct side *s, const char *addr, uint64_t gpid, void *arg)
{
    struct verify_call *c = arg;
    int timeout_ms = s->timeout_ms > VERIFY_TIMEOUT_MS ? s->timeout_ms : VERIFY_TIMEOUT_MS;
    return geokv_replica_verify(s->client, addr, gpid, c->q, timeout_ms, c->r, c->zone);
}

/* RPC_VERIFY to the primary of pidx; on success free *r and then *zone. */
static int
side_call(struct side *s, uint32_t pidx, const struct msg_verify_req *q, struct msg_verify_resp *r,
          struct unpacked **zone)
{
    struct verify_call c = {q, r, zone};
    int err;
    memset(r, 0, sizeof(*r));
    *zone = NULL;
    err = side_retry(s, pidx, verify_fn, &c);
    if (err != 0 && *zone != NULL) {
        msg_verify_resp_fini(r);
        unpacked_free(*zone);
        *zone = NULL;
    }
    return err;
}

/* Partition info, from the primary only (a replica that is not answers too: ask again). */
static int
info_fn(struct side *s, const char *addr, uint64_t gpid, void *arg)
{
    struct msg_partition_info_resp *out = arg;
    int err = geokv_replica_partition_info(s->client, addr, gpid, s->timeout_ms, out);
    if (err == 0 && out->role != ROLE_PRIMARY) {
        msg_partition_info_resp_fini(out);
        err = ERR_NOT_PRIMARY;
    }
    return err;
}

int
side_partition_info(struct side *s, uint32_t pidx, struct msg_partition_info_resp *out)
{
    memset(out, 0, sizeof(*out));
    return side_retry(s, pidx, info_fn, out);
}

/* ---- safe point: wait for the duplications between the two ---- */

enum admin_result
wait_confirmed(struct side *from, const struct side *to, const decree_t *committed,
               int64_t deadline_ms, const char *what)
{
    struct geokv_dup *dups = NULL;
    size_t n = 0;
    char why[512] = "";
    int err = 0;

    for (bool behind = true; behind && err == 0;) {
        geokv_dup_list_free(dups, n);
        dups = NULL;
        err =
            geokv_dup_list(from->client, from->app, from->timeout_ms, &dups, &n, why, sizeof(why));
        behind = false;
        for (size_t i = 0; err == 0 && i < n; i++) {
            bool this_behind = false;
            if (strcmp(dups[i].remote_table, to->app) != 0 ||
                (to->cluster != NULL && strcmp(dups[i].remote, to->cluster) != 0))
                continue;
            if (strcmp(dups[i].status, "DS_LOG") != 0 && strcmp(dups[i].status, "DS_PAUSE") != 0) {
                err = ERR_INVALID_STATE;
                snprintf(why, sizeof(why), "duplication %llu of %s is %s (its full copy runs)",
                         (unsigned long long)dups[i].dupid, from->app, dups[i].status);
                break;
            }
            for (size_t p = 0; p < dups[i].npartitions && p < from->cfg.partition_count; p++)
                this_behind |= dups[i].confirmed[p] < committed[p];
            if (this_behind && clock_mono_ms() >= deadline_ms) {
                err = ERR_TIMEOUT;
                snprintf(why, sizeof(why),
                         "duplication %llu of %s to %s (%s) has not shipped everything committed%s",
                         (unsigned long long)dups[i].dupid, from->app, dups[i].remote,
                         dups[i].status,
                         strcmp(dups[i].status, "DS_PAUSE") == 0 ? ": start it" : "");
            }
            behind |= this_behind;
        }
        if (behind && err == 0)
            usleep(200 * 1000);
    }
    geokv_dup_list_free(dups, n);
    if (err != 0)
        return out_fail("%s: %s: %s", what, from->label, why[0] ? why : err_str(err));
    return ADMIN_OK;
}

/* Waits until every duplication of `from` towards `to`'s table confirmed, per partition, every
 * decree its primary had prepared when asked: a write stamped before the safe point is
 * prepared by then (it is stamped when proposed), though it may commit later. */
static enum admin_result
wait_dups(struct side *from, const struct side *to, int64_t deadline_ms)
{
    decree_t *prepared = xcalloc(from->cfg.partition_count + 1, sizeof(*prepared));
    enum admin_result res = ADMIN_OK;
    int err = 0;

    for (uint32_t p = 0; p < from->cfg.partition_count && err == 0; p++) {
        struct msg_partition_info_resp info;
        err = side_partition_info(from, p, &info);
        if (err == 0) {
            prepared[p] =
                info.plog_last > info.last_committed ? info.plog_last : info.last_committed;
            msg_partition_info_resp_fini(&info);
        }
    }
    if (err != 0)
        res = out_fail("dup verify: %s: %s", from->label, err_str(err));
    else
        res = wait_confirmed(from, to, prepared, deadline_ms, "dup verify");
    xfree(prepared);
    return res;
}

/* ---- digests ---- */

/* Calls fn for every page of RPC_VERIFY replies about buckets ids[0..n) (at modulus m) of s,
 * partition by partition; where[i] is the index in ids of the reply's i-th digest. */
typedef int page_fn(void *arg, const struct msg_verify_resp *r, const size_t *where);

static int
side_pages(struct side *s, const struct msg_verify_req *like, const uint64_t *ids, size_t n,
           page_fn *fn, void *arg)
{
    uint32_t np = s->cfg.partition_count;
    uint64_t *sub = xmalloc((n + 1) * sizeof(*sub));
    size_t *where = xmalloc((n + 1) * sizeof(*where));
    struct buf resume = BUF_INIT;
    int err = 0;
    for (uint32_t p = 0; p < np && err == 0; p++) {
        struct msg_verify_req q = *like;
        q.buckets = sub;
        q.nbuckets = 0;
        for (size_t i = 0; i < n; i++)
            if (ids[i] % np == p) {
                where[q.nbuckets] = i;
                sub[q.nbuckets++] = ids[i];
            }
        buf_reset(&resume);
        while (q.nbuckets > 0 && err == 0) {
            struct msg_verify_resp r;
            struct unpacked *zone;
            q.resume_key = bytes_of(resume.data, resume.len);
            err = side_call(s, p, &q, &r, &zone);
            if (err != 0)
                break;
            err = q.list_limit == 0 && r.ndigests != q.nbuckets ? ERR_INVALID_DATA
                                                                : fn(arg, &r, where);
            buf_reset(&resume);
            buf_append(&resume, r.next_key.p, r.next_key.len);
            msg_verify_resp_fini(&r);
            unpacked_free(zone);
            if (resume.len == 0)
                break;
        }
    }
    buf_fini(&resume);
    xfree(sub);
    xfree(where);
    return err;
}

static int
add_digests(void *arg, const struct msg_verify_resp *r, const size_t *where)
{
    struct bucket_digest *out = arg;
    for (uint32_t i = 0; i < r->ndigests; i++) {
        out[where[i]].records += r->digests[i].records;
        out[where[i]].sum += r->digests[i].sum;
    }
    return 0;
}

/* The digests of buckets ids[0..n) (at modulus m) on s, into out[n] (zeroed): the sums of
 * the pages of each partition. */
static int
side_digests(struct side *s, uint64_t m, const uint64_t *ids, size_t n, struct bucket_digest *out,
             uint32_t live_at_s)
{
    struct msg_verify_req like = {.modulus = m, .live_at_s = live_at_s};
    return side_pages(s, &like, ids, n, add_digests, out);
}

/* ---- listing and comparing ---- */

static int
vrec_cmp(const void *pa, const void *pb)
{
    const struct vrec *a = pa, *b = pb;
    size_t n = a->hk.len < b->hk.len ? a->hk.len : b->hk.len;
    int c = memcmp(a->hk.data, b->hk.data, n);
    if (c != 0 || a->hk.len != b->hk.len)
        return c ? c : (a->hk.len < b->hk.len ? -1 : 1);
    n = a->sk.len < b->sk.len ? a->sk.len : b->sk.len;
    c = memcmp(a->sk.data, b->sk.data, n);
    return c ? c : (a->sk.len < b->sk.len ? -1 : a->sk.len > b->sk.len);
}

static void
vrecs_free(struct vrec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        buf_fini(&v[i].hk);
        buf_fini(&v[i].sk);
        buf_fini(&v[i].value);
    }
    xfree(v);
}

struct vrecs {
    struct vrec *v;
    size_t n, cap;
};

static int
add_records(void *arg, const struct msg_verify_resp *r, const size_t *where)
{
    struct vrecs *l = arg;
    for (uint32_t i = 0; i < r->nrecords; i++) {
        const struct kv_record *k = &r->records[i];
        struct vrec *v;
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 256;
            l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        v = &l->v[l->n++];
        *v = (struct vrec){BUF_INIT, BUF_INIT, BUF_INIT, k->expire_ts, k->timetag};
        buf_append(&v->hk, k->hash_key.p, k->hash_key.len);
        buf_append(&v->sk, k->sort_key.p, k->sort_key.len);
        buf_append(&v->value, k->value.p, k->value.len);
    }
    return 0;
}

/* Every record (tombstones and expired ones too) of buckets ids[0..n) at modulus m on s,
 * sorted by key. */
static int
side_list(struct side *s, uint64_t m, const uint64_t *ids, size_t n, struct vrec **out,
          size_t *nout)
{
    struct msg_verify_req like = {.modulus = m, .list_limit = LIST_PAGE};
    struct vrecs l = {NULL, 0, 0};
    int err = side_pages(s, &like, ids, n, add_records, &l);
    if (l.n > 0)
        qsort(l.v, l.n, sizeof(*l.v), vrec_cmp);
    *out = l.v;
    *nout = l.n;
    return err;
}

static bool
vrec_live(const struct vrec *v, uint32_t at_s)
{
    return v != NULL && !timetag_deleted(v->timetag) && (v->expire_ts == 0 || v->expire_ts > at_s);
}

static void
text_bytes(struct buf *out, const struct buf *b)
{
    buf_append(out, "\"", 1);
    admin_escape(b->data, b->len, out);
    buf_append(out, "\"", 1);
}

void
admin_time_text(char *out, size_t len, uint64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    size_t n = strftime(out, len, "%Y-%m-%d %H:%M:%S", gmtime_r(&secs, &tm));
    snprintf(out + n, len - n, ".%06llu UTC", (unsigned long long)(us % 1000000));
}

static void
text_side(struct buf *out, const char *label, const struct vrec *v, uint32_t at_s)
{
    char line[200], when[64];
    int n;
    buf_append(out, "  ", 2);
    buf_append(out, label, strlen(label));
    if (v == NULL) {
        buf_append(out, ": none\n", 7);
        return;
    }
    buf_append(out, ": ", 2);
    if (vrec_live(v, at_s))
        text_bytes(out, &v->value);
    else /* "deleted" and "expired" have the same length */
        buf_append(out, timetag_deleted(v->timetag) ? "deleted" : "expired", 7);
    admin_time_text(when, sizeof(when), timetag_ts(v->timetag));
    n = snprintf(line, sizeof(line), " (written %s by cluster %u, timetag %llu, expire_ts %u)\n",
                 when, timetag_cluster(v->timetag), (unsigned long long)v->timetag, v->expire_ts);
    buf_append(out, line, (size_t)n);
}

static void
json_side(const char *key, const struct vrec *v, uint32_t at_s)
{
    json_key(key);
    if (v == NULL) {
        json_null();
        return;
    }
    json_begin_object();
    json_key("value");
    if (vrec_live(v, at_s))
        json_bytes(v->value.data, v->value.len);
    else
        json_null();
    json_kv_bool("deleted", timetag_deleted(v->timetag));
    json_kv_int("expire_ts", v->expire_ts);
    json_key("timetag");
    json_uint(v->timetag);
    json_key("written_us");
    json_uint(timetag_ts(v->timetag));
    json_kv_int("cluster_id", timetag_cluster(v->timetag));
    json_end();
}

/* Counts one key present on at least one side; a difference is noted for printing. */
static void
compare_key(struct verify *vf, const struct vrec *a, const struct vrec *b)
{
    bool la = vrec_live(a, vf->live_at_s), lb = vrec_live(b, vf->live_at_s);
    const char *kind;
    if ((a && timetag_ts(a->timetag) >= vf->safe_us) ||
        (b && timetag_ts(b->timetag) >= vf->safe_us)) {
        vf->changed++;
        return;
    }
    if (!la && !lb)
        return;
    if (la && lb && a->timetag == b->timetag && a->expire_ts == b->expire_ts &&
        a->value.len == b->value.len && memcmp(a->value.data, b->value.data, a->value.len) == 0) {
        vf->matching++;
        return;
    }
    if (la && lb) {
        vf->different++;
        kind = "different";
    } else if (la) {
        vf->missing_remote++;
        kind = "missing on remote";
    } else {
        vf->missing_local++;
        kind = "missing on local";
    }
    if (vf->shown >= vf->show)
        return;
    vf->shown++;
    if (out_json()) {
        const struct vrec *k = a ? a : b;
        json_begin_object();
        json_kv_str("kind", kind);
        json_key("hash_key");
        json_bytes(k->hk.data, k->hk.len);
        json_key("sort_key");
        json_bytes(k->sk.data, k->sk.len);
        json_side("local", a, vf->live_at_s);
        json_side("remote", b, vf->live_at_s);
        json_end();
        return;
    }
    buf_append(&vf->diffs_text, kind, strlen(kind));
    buf_append(&vf->diffs_text, ": ", 2);
    text_bytes(&vf->diffs_text, a ? &a->hk : &b->hk);
    buf_append(&vf->diffs_text, " : ", 3);
    text_bytes(&vf->diffs_text, a ? &a->sk : &b->sk);
    buf_append(&vf->diffs_text, "\n", 1);
    text_side(&vf->diffs_text, "local", a, vf->live_at_s);
    text_side(&vf->diffs_text, "remote", b, vf->live_at_s);
}

/* Lists buckets ids[0..n) at modulus m on both sides and compares them key by key. */
static int
compare_buckets(struct verify *vf, uint64_t m, const uint64_t *ids, size_t n)
{
    struct vrec *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, i = 0, j = 0;
    int err = side_list(vf->a, m, ids, n, &a, &na);
    if (err == 0)
        err = side_list(vf->b, m, ids, n, &b, &nb);
    while (err == 0 && (i < na || j < nb)) {
        int c = i == na ? 1 : j == nb ? -1 : vrec_cmp(&a[i], &b[j]);
        compare_key(vf, c <= 0 ? &a[i] : NULL, c >= 0 ? &b[j] : NULL);
        i += c <= 0;
        j += c >= 0;
    }
    vrecs_free(a, na);
    vrecs_free(b, nb);
    return err;
}

/* ---- the narrowing ---- */

static uint64_t
gcd(uint64_t x, uint64_t y)
{
    while (y) {
        uint64_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

static bool
digest_eq(const struct bucket_digest *x, const struct bucket_digest *y)
{
    return x->records == y->records && x->sum == y->sum;
}

static int
narrow(struct verify *vf)
{
    uint64_t na = vf->a->cfg.partition_count, nb = vf->b->cfg.partition_count;
    uint64_t m = na / gcd(na, nb) * nb;
    uint64_t *ids;
    size_t n;
    int err = 0;

    if (m > MAX_BUCKETS)
        return ERR_TOO_LARGE; /* partition counts with a huge least common multiple */
    while (m < FIRST_BUCKETS)
        m *= 2;
    n = (size_t)m;
    ids = xmalloc(n * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = i;
    for (int round = 1; n > 0 && err == 0; round++) {
        struct bucket_digest *da = xcalloc(n, sizeof(*da)), *db = xcalloc(n, sizeof(*db));
        uint64_t *leaf = xmalloc(n * sizeof(*leaf)), *next = NULL;
        size_t nleaf = 0, nnext = 0, ndiff = 0;
        err = side_digests(vf->a, m, ids, n, da, vf->live_at_s);
        if (err == 0)
            err = side_digests(vf->b, m, ids, n, db, vf->live_at_s);
        for (size_t i = 0; err == 0 && i < n; i++) {
            if (digest_eq(&da[i], &db[i])) {
                vf->matching += da[i].records;
                continue;
            }
            ndiff++;
            if (round == MAX_ROUNDS ||
                (da[i].records <= LEAF_RECORDS && db[i].records <= LEAF_RECORDS)) {
                leaf[nleaf++] = ids[i];
                continue;
            }
            if (nnext + FANOUT > MAX_BUCKETS) {
                err = ERR_TOO_LARGE; /* too many differ to narrow down */
                break;
            }
            next = xrealloc(next, (nnext + FANOUT) * sizeof(*next));
            for (uint64_t k = 0; k < FANOUT; k++)
                next[nnext++] = ids[i] + k * m;
        }
        if (err == 0 && !out_json())
            printf("round %d: compared %zu of %llu buckets, %zu differ\n", round, n,
                   (unsigned long long)m, ndiff);
        if (err == 0 && nleaf > 0)
            err = compare_buckets(vf, m, leaf, nleaf);
        xfree(da);
        xfree(db);
        xfree(leaf);
        xfree(ids);
        ids = next;
        n = nnext;
        m *= FANOUT;
    }
    xfree(ids);
    return err;
}

/* ---- shared with dup switchover ---- */

enum admin_result
sides_open(struct side *a, struct side *b, struct admin_ctx *ctx, const char *app,
           const char *remote_app, const char *remote_metas, const char *local_cluster,
           const char *remote_cluster, const char *what)
{
    int err;
    *a = (struct side){"local", local_cluster, ctx->client, "", {0}, ctx->timeout_ms, 0};
    *b = (struct side){"remote", remote_cluster, NULL, "", {0}, ctx->timeout_ms, 0};
    snprintf(a->app, sizeof(a->app), "%s", app);
    snprintf(b->app, sizeof(b->app), "%s", remote_app);
    err = geokv_client_create(remote_metas, NULL, &b->client);
    if (err != 0)
        return out_fail("%s: remote meta list '%s': %s", what, remote_metas, err_str(err));
    geokv_client_seal(b->client);
    if ((err = side_query(a)) != 0)
        return out_fail("%s: table %s on the local cluster: %s", what, a->app, err_str(err));
    if ((err = side_query(b)) != 0)
        return out_fail("%s: table %s on the remote cluster: %s", what, b->app, err_str(err));
    return ADMIN_OK;
}

void
sides_close(struct side *a, struct side *b)
{
    msg_app_config_fini(&a->cfg);
    msg_app_config_fini(&b->cfg);
    geokv_client_destroy(b->client);
    b->client = NULL;
}

enum admin_result
verify_tables(struct side *a, struct side *b, uint64_t safe_us, size_t show, const char *what)
{
    struct verify vf = {a,    b,        safe_us, (uint32_t)(safe_us / 1000000), 0, 0, 0, 0, 0,
                        show, BUF_INIT, 0};
    enum admin_result res = ADMIN_OK;
    uint64_t ndiff;
    int err;

    if (out_json()) {
        json_key("safe_point_us");
        json_uint(safe_us);
        json_key("differences");
        json_begin_array();
    }
    err = narrow(&vf);
    if (out_json())
        json_end();
    if (err != 0) {
        buf_fini(&vf.diffs_text);
        return out_fail("%s: %s", what,
                        err == ERR_TOO_LARGE ? "too many buckets differ (or the partition counts "
                                               "have too large a common multiple) to narrow "
                                               "down: the tables differ widely"
                                             : err_str(err));
    }
    ndiff = vf.different + vf.missing_remote + vf.missing_local;
    if (out_json()) {
        json_kv_int("matching", (int64_t)vf.matching);
        json_kv_int("different", (int64_t)vf.different);
        json_kv_int("missing_on_remote", (int64_t)vf.missing_remote);
        json_kv_int("missing_on_local", (int64_t)vf.missing_local);
        json_kv_int("changed_during_check", (int64_t)vf.changed);
        json_kv_bool("equal", ndiff == 0);
    } else {
        fwrite(vf.diffs_text.data, 1, vf.diffs_text.len, stdout);
        printf("matching: %llu\ndifferent: %llu\nmissing on remote: %llu\nmissing on local: "
               "%llu\nchanged during the check (not compared): %llu\n",
               (unsigned long long)vf.matching, (unsigned long long)vf.different,
               (unsigned long long)vf.missing_remote, (unsigned long long)vf.missing_local,
               (unsigned long long)vf.changed);
    }
    if (ndiff > 0)
        res = out_fail("%s: %llu keys differ", what, (unsigned long long)ndiff);
    else if (!out_json())
        printf("equal\n");
    buf_fini(&vf.diffs_text);
    return res;
}

/* ---- the command ---- */

enum admin_result
admin_dup_verify(struct admin_ctx *ctx, int argc, const struct admin_tok *argv)
{
    struct side a, b;
    const char *remote_metas = NULL, *app = ctx->app, *remote_app = NULL;
    const char *local_cluster = NULL, *remote_cluster = NULL;
    int64_t wait_s = 60, show = 10, t0;
    enum admin_result res;
    uint64_t safe_us;
    char when[64];

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i].p;
        bool has_value = i + 1 < argc;
        if (strcmp(arg, "-r") == 0 && has_value)
            remote_metas = argv[++i].p;
        else if (strcmp(arg, "-t") == 0 && has_value)
            remote_app = argv[++i].p;
        else if (strcmp(arg, "-c") == 0 && has_value)
            remote_cluster = argv[++i].p;
        else if (strcmp(arg, "-l") == 0 && has_value)
            local_cluster = argv[++i].p;
        else if (strcmp(arg, "-n") == 0 && has_value &&
                 admin_parse_i64(argv[i + 1].p, &show) == 0 && show >= 0)
            i++;
        else if (strcmp(arg, "-w") == 0 && has_value &&
                 admin_parse_i64(argv[i + 1].p, &wait_s) == 0 && wait_s >= 0)
            i++;
        else if (strcmp(arg, "-a") == 0 && has_value)
            app = argv[++i].p;
        else
            return out_usage("%s", VERIFY_USAGE);
    }
    if (remote_metas == NULL)
        return out_usage("%s", VERIFY_USAGE);
    if (app[0] == '\0')
        return out_fail("dup verify: no table selected (use <app>, or -a <app>)");
    res = sides_open(&a, &b, ctx, app, remote_app ? remote_app : app, remote_metas, local_cluster,
                     remote_cluster, "dup verify");
    if (res != ADMIN_OK)
        goto done;
    safe_us = (uint64_t)(clock_wall_us() - SKEW_MARGIN_S * 1000000LL);
    admin_time_text(when, sizeof(when), safe_us);
    if (!out_json())
        printf("verify %s (local, %u partitions) against %s on %s (%u partitions); writes "
               "stamped before %s are compared\n",
               a.app, a.cfg.partition_count, b.app, remote_metas, b.cfg.partition_count, when);
    t0 = clock_mono_ms();
    res = wait_dups(&a, &b, t0 + wait_s * 1000);
    if (res == ADMIN_OK)
        res = wait_dups(&b, &a, t0 + wait_s * 1000);
    if (res != ADMIN_OK)
        goto done;
    if (out_json()) {
        json_kv_str("table", a.app);
        json_kv_str("remote_table", b.app);
    } else {
        printf("duplications caught up with the start of the check in %.1f s\n",
               (double)(clock_mono_ms() - t0) / 1000.0);
    }
    res = verify_tables(&a, &b, safe_us, (size_t)show, "dup verify");
done:
    sides_close(&a, &b);
    return res;
}
