/*
 * test_client.c: the pure parts of the client, admin-cli and geokv-bench: routing against
 * key_partition, the retry policy, meta list parsing, the admin tokenizer/escaping/number
 * parsing, the bench key/value generator and the latency histogram.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_util.h"
#include "bench/bench_util.h"
#include "client/client_int.h"
#include "client/geokv_wire.h"
#include "common/xmalloc.h"
#include "proto/hash.h"

/* ---- routing ---- */

static struct msg_app_config
make_cfg(uint32_t app_id, uint32_t n)
{
    struct msg_app_config cfg = {.app_id = app_id, .partition_count = n, .replica_count = 3};
    cfg.partitions = xcalloc(n, sizeof(*cfg.partitions));
    for (uint32_t i = 0; i < n; i++) {
        cfg.partitions[i].pidx = i;
        cfg.partitions[i].ballot = 100 + i;
        snprintf(cfg.partitions[i].primary, GEOKV_ADDR_MAX, "127.0.0.1:%u", 30000 + i);
    }
    return cfg;
}

Test(client, route_matches_key_partition)
{
    struct msg_app_config cfg = make_cfg(7, 8);
    for (int i = 0; i < 1000; i++) {
        char hk[32];
        struct geokv_route r;
        int n = snprintf(hk, sizeof(hk), "user-%d", i);
        uint32_t want = key_partition(hk, (size_t)n, "sk", 2, 8);
        cr_assert_eq(geokv_route_key(&cfg, bytes_of(hk, (size_t)n), bytes_of("sk", 2), &r), 0);
        cr_assert_eq(r.pidx, want);
        cr_assert_eq(r.gpid, gpid_make(7, want));
        cr_assert_eq(r.ballot, 100 + (ballot_t)want);
        cr_assert_eq(gpid_app(r.gpid), 7u);
        cr_assert_eq(gpid_pidx(r.gpid), want);
        cr_assert_str_eq(r.primary, cfg.partitions[want].primary);
    }
    msg_app_config_fini(&cfg);
}

Test(client, route_same_hash_key_same_partition)
{
    struct msg_app_config cfg = make_cfg(1, 16);
    struct geokv_route a, b;
    cr_assert_eq(geokv_route_key(&cfg, bytes_of("hk", 2), bytes_of("s1", 2), &a), 0);
    cr_assert_eq(geokv_route_key(&cfg, bytes_of("hk", 2), bytes_of("other", 5), &b), 0);
    cr_assert_eq(a.pidx, b.pidx);
    /* an empty hash key routes by the sort key */
    cr_assert_eq(geokv_route_key(&cfg, bytes_of(NULL, 0), bytes_of("s1", 2), &a), 0);
    cr_assert_eq(a.pidx, key_partition(NULL, 0, "s1", 2, 16));
    msg_app_config_fini(&cfg);
}

Test(client, route_without_primary_or_partitions)
{
    struct msg_app_config cfg = make_cfg(1, 4), empty = {0};
    struct geokv_route r;
    uint32_t p = key_partition("k", 1, "", 0, 4);
    cfg.partitions[p].primary[0] = '\0';
    cr_assert_eq(geokv_route_key(&cfg, bytes_of("k", 1), bytes_of("", 0), &r), ERR_AGAIN);
    cr_assert_eq(r.pidx, p);
    cr_assert_eq(geokv_route_key(&empty, bytes_of("k", 1), bytes_of("", 0), &r), ERR_INVALID_ARG);
    msg_app_config_fini(&cfg);
}

Test(client, retry_policy)
{
    static const int always[] = {ERR_PARTITION_NOT_HERE, ERR_NOT_PRIMARY, ERR_STALE_BALLOT,
                                 ERR_BUSY, ERR_NETWORK};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
        cr_assert(op_err_retryable(always[i], true));
        cr_assert(op_err_retryable(always[i], false), "%s", err_name(always[i]));
    }
    /* a timed-out incr may have been applied: not retried */
    cr_assert(op_err_retryable(ERR_TIMEOUT, true));
    cr_assert_not(op_err_retryable(ERR_TIMEOUT, false));
    /* nor one whose primary stepped down after proposing it */
    cr_assert(op_err_retryable(ERR_UNCERTAIN, true));
    cr_assert_not(op_err_retryable(ERR_UNCERTAIN, false));
    cr_assert_not(op_err_retryable(ERR_NOT_FOUND, true));
    cr_assert_not(op_err_retryable(ERR_CHECK_FAILED, true));
    cr_assert_not(op_err_retryable(ERR_TOO_LARGE, true));
}

Test(client, meta_list_parsing, .timeout = 10)
{
    struct geokv_client *c = NULL;
    cr_assert_eq(geokv_client_create("127.0.0.1:1, 127.0.0.1:2,,", NULL, &c), 0);
    cr_assert_eq(c->nmetas, 2);
    cr_assert_str_eq(c->metas[1], "127.0.0.1:2");
    geokv_client_destroy(c);
    cr_assert_eq(geokv_client_create("", NULL, &c), ERR_INVALID_ARG);
    cr_assert_null(c);
    cr_assert_eq(geokv_client_create("nocolon", NULL, &c), ERR_INVALID_ARG);
    cr_assert_eq(geokv_client_create(NULL, NULL, &c), ERR_INVALID_ARG);
}

/* ---- admin tokenizer ---- */

static void
assert_tokens(const char *line, int n, const char *const *want, const size_t *lens)
{
    struct admin_args a;
    const char *why;
    cr_assert_eq(admin_tokenize(line, &a, &why), 0, "line %s", line);
    cr_assert_eq(a.argc, n, "line %s: %d args", line, a.argc);
    for (int i = 0; i < n; i++) {
        size_t len = lens != NULL ? lens[i] : strlen(want[i]);
        cr_assert_eq(a.argv[i].len, len, "line %s arg %d", line, i);
        cr_assert(memcmp(a.argv[i].p, want[i], len) == 0, "line %s arg %d", line, i);
        cr_assert_eq(a.argv[i].p[len], '\0');
    }
    admin_args_fini(&a);
}

Test(client, tokenizer_plain_and_quoted)
{
    assert_tokens("  set  a b   c  ", 4, (const char *const[]){"set", "a", "b", "c"}, NULL);
    assert_tokens("set \"a b\" 'c d' e", 4, (const char *const[]){"set", "a b", "c d", "e"}, NULL);
    assert_tokens("x\"y z\"w", 1, (const char *const[]){"xy zw"}, NULL);
    assert_tokens("get \"\" ''", 3, (const char *const[]){"get", "", ""}, NULL);
    assert_tokens("'a\\x41'", 1, (const char *const[]){"a\\x41"}, NULL); /* literal in '' */
    assert_tokens("", 0, NULL, NULL);
    assert_tokens("   \t\n", 0, NULL, NULL);
}

Test(client, tokenizer_escapes)
{
    assert_tokens("\"a\\\"b\" c\\ d", 2, (const char *const[]){"a\"b", "c d"}, NULL);
    assert_tokens("\"\\x00\\xff\\n\\\\\"", 1, (const char *const[]){"\0\xff\n\\"},
                  (const size_t[]){4});
    assert_tokens("\"it's\"", 1, (const char *const[]){"it's"}, NULL);
}

Test(client, tokenizer_errors)
{
    struct admin_args a;
    const char *why = NULL;
    cr_assert_eq(admin_tokenize("set \"abc", &a, &why), ERR_INVALID_ARG);
    cr_assert_not_null(why);
    cr_assert_eq(a.argc, 0);
    cr_assert_eq(admin_tokenize("set 'abc", &a, &why), ERR_INVALID_ARG);
    cr_assert_eq(admin_tokenize("\"\\xZZ\"", &a, &why), ERR_INVALID_ARG);
    cr_assert_eq(admin_tokenize("abc\\", &a, &why), ERR_INVALID_ARG);
}

Test(client, escape_roundtrip)
{
    struct buf b = BUF_INIT;
    struct admin_args a;
    const char *why;
    static const char raw[] = "ok \\ \x01\x7f\xff";

    admin_escape(raw, sizeof(raw) - 1, &b);
    cr_assert_str_eq((const char *)b.data, "ok \\\\ \\x01\\x7f\\xff");
    /* what is printed can be typed back inside double quotes */
    {
        char line[128];
        snprintf(line, sizeof(line), "\"%s\"", (const char *)b.data);
        cr_assert_eq(admin_tokenize(line, &a, &why), 0);
        cr_assert_eq(a.argv[0].len, sizeof(raw) - 1);
        cr_assert(memcmp(a.argv[0].p, raw, sizeof(raw) - 1) == 0);
        admin_args_fini(&a);
    }
    buf_fini(&b);
}

Test(client, parse_numbers)
{
    uint32_t u;
    int64_t i;
    cr_assert_eq(admin_parse_u32("42", &u), 0);
    cr_assert_eq(u, 42u);
    cr_assert_eq(admin_parse_u32("4294967295", &u), 0);
    cr_assert_eq(admin_parse_u32("4294967296", &u), ERR_INVALID_ARG);
    cr_assert_eq(admin_parse_u32("-1", &u), ERR_INVALID_ARG);
    cr_assert_eq(admin_parse_u32("12x", &u), ERR_INVALID_ARG);
    cr_assert_eq(admin_parse_u32("", &u), ERR_INVALID_ARG);
    cr_assert_eq(admin_parse_i64("-9223372036854775808", &i), 0);
    cr_assert_eq(i, INT64_MIN);
    cr_assert_eq(admin_parse_i64("9223372036854775808", &i), ERR_INVALID_ARG);
}

/* ---- bench ---- */

Test(client, bench_keys_and_values_deterministic)
{
    char k[64];
    struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;

    cr_assert_eq(bench_key(7, 123, k, sizeof(k)), 6);
    cr_assert_str_eq(k, "b7-123");
    bench_value(7, 123, 100, &a);
    bench_value(7, 123, 100, &b);
    bench_value(7, 124, 100, &c);
    cr_assert_eq(a.len, 100);
    cr_assert(memcmp(a.data, b.data, 100) == 0);
    cr_assert(memcmp(a.data, c.data, 100) != 0);
    buf_reset(&c);
    bench_value(8, 123, 100, &c);
    cr_assert(memcmp(a.data, c.data, 100) != 0);
    buf_reset(&c);
    bench_value(7, 123, 37, &c); /* a shorter value is a prefix of the longer one */
    cr_assert_eq(c.len, 37);
    cr_assert(memcmp(a.data, c.data, 37) == 0);
    buf_reset(&c);
    bench_value(7, 123, 0, &c);
    cr_assert_eq(c.len, 0);
    buf_fini(&a);
    buf_fini(&b);
    buf_fini(&c);
}

Test(client, bench_ack_log_round_trip)
{
    static const uint64_t idx[] = {5, 0, 18446744073709551615ull, 5, 42, 7};
    struct buf log = BUF_INIT;
    char line[BENCH_ACK_LINE_MAX];
    uint64_t *v;
    size_t n, bad;
    bool torn;

    cr_assert_eq(bench_ack_format(42, line, sizeof(line)), 3);
    cr_assert_str_eq(line, "42\n");
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
        size_t len = bench_ack_format(idx[i], line, sizeof(line));
        cr_assert_gt(len, 1);
        buf_append(&log, line, len);
    }
    /* sorted, duplicates dropped */
    cr_assert_eq(bench_ack_parse(log.data, log.len, &v, &n, &torn, &bad), 0);
    cr_assert_not(torn);
    cr_assert_eq(n, 5);
    cr_assert_eq(v[0], 0);
    cr_assert_eq(v[1], 5);
    cr_assert_eq(v[2], 7);
    cr_assert_eq(v[3], 42);
    cr_assert_eq(v[4], UINT64_MAX);
    cr_assert(bench_ack_contains(v, n, 42));
    cr_assert(bench_ack_contains(v, n, 0));
    cr_assert_not(bench_ack_contains(v, n, 6));
    cr_assert_not(bench_ack_contains(v, 0, 6));
    xfree(v);

    /* a torn last line (crash mid-write) is ignored */
    buf_append(&log, "12", 2);
    cr_assert_eq(bench_ack_parse(log.data, log.len, &v, &n, &torn, &bad), 0);
    cr_assert(torn);
    cr_assert_eq(n, 5);
    xfree(v);

    /* empty log */
    cr_assert_eq(bench_ack_parse(log.data, 0, &v, &n, &torn, &bad), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(v);

    /* malformed lines are errors with their number */
    static const char *const bad_logs[] = {"1\n\n2\n", "1\n2x\n", "1\n-3\n",
                                           "1\n18446744073709551616\n", "1\n 2\n"};
    for (size_t i = 0; i < sizeof(bad_logs) / sizeof(bad_logs[0]); i++) {
        cr_assert_eq(
            bench_ack_parse((const uint8_t *)bad_logs[i], strlen(bad_logs[i]), &v, &n, &torn, &bad),
            ERR_INVALID_DATA, "%s", bad_logs[i]);
        cr_assert_eq(bad, 2, "%s", bad_logs[i]);
        cr_assert_null(v);
    }
    buf_fini(&log);
}

Test(client, histogram_percentiles)
{
    struct bench_hist h, h2;
    bench_hist_init(&h);
    cr_assert_eq(bench_hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        bench_hist_add(&h, v);
    uint64_t p50 = bench_hist_quantile(&h, 0.5), p99 = bench_hist_quantile(&h, 0.99);
    uint64_t p999 = bench_hist_quantile(&h, 0.999);
    cr_assert(p50 >= 50000 && p50 <= 50000 + 50000 / 16, "p50 %llu", (unsigned long long)p50);
    cr_assert(p99 >= 99000 && p99 <= 100000, "p99 %llu", (unsigned long long)p99);
    cr_assert(p999 >= 99900 && p999 <= 100000, "p999 %llu", (unsigned long long)p999);
    cr_assert_eq(bench_hist_quantile(&h, 1.0), 100000);
    cr_assert_eq(h.max, 100000);

    /* small values are exact; merge adds counts */
    bench_hist_init(&h2);
    for (int i = 0; i < 99; i++)
        bench_hist_add(&h2, 3);
    bench_hist_add(&h2, 1000000);
    cr_assert_eq(bench_hist_quantile(&h2, 0.5), 3);
    cr_assert_eq(bench_hist_quantile(&h2, 0.99), 3);
    cr_assert_eq(bench_hist_quantile(&h2, 0.999), 1000000);
    bench_hist_merge(&h, &h2);
    cr_assert_eq(h.total, 100100);
    cr_assert_eq(h.max, 1000000);
    /* huge values don't overflow the bucket table */
    bench_hist_add(&h2, UINT64_MAX);
    cr_assert_eq(bench_hist_quantile(&h2, 1.0), UINT64_MAX);
}

/* ---- the client engine against fake servers (real sockets, proto's rpc_server) ----
 * A "follower" meta redirects everything to the "leader", which is also the replica of both
 * partitions. The leader answers the first write with ERR_NOT_PRIMARY and bumps the ballot
 * (so the retry must carry a refreshed config), and never answers incr (a timeout). */

#include <pthread.h>
#include <unistd.h>

#include "common/runtime_config.h"
#include "proto/pack.h"
#include "proto/rpc.h"
#include "proto/rpc_codes.h"
#include "proto/server_config.h"

struct fake {
    char follower[GEOKV_ADDR_MAX], leader[GEOKV_ADDR_MAX];
    pthread_mutex_t mu;
    ballot_t ballot;
    int writes, queries, incrs, stale;
    bool reject_first_write;
    struct buf value;
    bool have_value;
};

static struct fake fk;

static void
fake_follower(void *arg, struct rpc_request *req)
{
    struct msg_redirect r;
    struct buf b = BUF_INIT;
    memset(&r, 0, sizeof(r));
    snprintf(r.leader, sizeof(r.leader), "%s", fk.leader);
    msg_redirect_encode(&b, &r);
    rpc_reply(req, ERR_FORWARD_TO_LEADER, b.data, b.len);
    buf_fini(&b);
}

static void
fake_config(struct rpc_request *req)
{
    struct msg_app_config cfg = make_cfg(5, 2);
    struct buf b = BUF_INIT;
    snprintf(cfg.name, sizeof(cfg.name), "t");
    cfg.status = APP_AVAILABLE;
    for (int i = 0; i < 2; i++) {
        snprintf(cfg.partitions[i].primary, GEOKV_ADDR_MAX, "%s", fk.leader);
        cfg.partitions[i].ballot = fk.ballot;
    }
    fk.queries++;
    msg_app_config_encode(&b, &cfg);
    rpc_reply(req, 0, b.data, b.len);
    buf_fini(&b);
    msg_app_config_fini(&cfg);
}

static void
fake_write(struct rpc_request *req)
{
    struct msg_write_req m;
    struct unpacked *z = NULL;
    struct buf b = BUF_INIT;
    struct msg_write_resp resp = {1};

    fk.writes++;
    if (req->env.ballot != fk.ballot) {
        fk.stale++;
        rpc_reply(req, ERR_STALE_BALLOT, NULL, 0);
        return;
    }
    if (fk.reject_first_write) {
        fk.reject_first_write = false;
        fk.ballot++;
        rpc_reply(req, ERR_NOT_PRIMARY, NULL, 0);
        return;
    }
    cr_assert_eq(msg_write_req_decode(req->env.body, req->env.body_len, &m, &z), 0);
    buf_reset(&fk.value);
    buf_append(&fk.value, m.ops[0].value.p, m.ops[0].value.len);
    fk.have_value = true;
    msg_write_req_fini(&m);
    unpacked_free(z);
    msg_write_resp_encode(&b, &resp);
    rpc_reply(req, 0, b.data, b.len);
    buf_fini(&b);
}

static void
fake_get(struct rpc_request *req)
{
    struct msg_get_resp resp = {bytes_of(fk.value.data, fk.value.len), 0, 1};
    struct buf b = BUF_INIT;
    if (!fk.have_value) {
        rpc_reply(req, ERR_NOT_FOUND, NULL, 0);
        return;
    }
    msg_get_resp_encode(&b, &resp);
    rpc_reply(req, 0, b.data, b.len);
    buf_fini(&b);
}

/* A full scan of partition p: one record, expire_ts 1000 + p, then the end. */
static void
fake_scan(struct rpc_request *req)
{
    uint32_t p = gpid_pidx(req->env.gpid);
    char hk[16];
    struct kv_record rec = {bytes_of(hk, (size_t)snprintf(hk, sizeof(hk), "h%u", p)),
                            bytes_of("s", 1), bytes_of("v\tx", 3), 1000 + p, 7};
    struct msg_records_resp resp = {1, &rec, bytes_of(NULL, 0)};
    struct buf b = BUF_INIT;

    msg_records_resp_encode(&b, &resp);
    rpc_reply(req, 0, b.data, b.len);
    buf_fini(&b);
}

static void
fake_leader(void *arg, struct rpc_request *req)
{
    pthread_mutex_lock(&fk.mu);
    switch (req->env.code) {
    case RPC_QUERY_CONFIG: fake_config(req); break;
    case RPC_WRITE: fake_write(req); break;
    case RPC_GET: fake_get(req); break;
    case RPC_INCR: fk.incrs++; break; /* never answered: the client must time out */
    case RPC_SCAN: fake_scan(req); break;
    case RPC_SERVER_CONFIG: server_config_serve(req); break;
    default: rpc_reply(req, ERR_UNKNOWN_RPC, NULL, 0); break;
    }
    pthread_mutex_unlock(&fk.mu);
}

static struct rpc_server *srv_f, *srv_l;

static void
fake_start(void)
{
    int base = 20000 + (int)(getpid() % 20000);
    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.mu, NULL);
    fk.ballot = 3;
    fk.reject_first_write = true;
    snprintf(fk.follower, sizeof(fk.follower), "127.0.0.1:%d", base);
    snprintf(fk.leader, sizeof(fk.leader), "127.0.0.1:%d", base + 1);
    cr_assert_eq(rpc_server_create(fk.follower, fake_follower, NULL, &srv_f), 0);
    cr_assert_eq(rpc_server_create(fk.leader, fake_leader, NULL, &srv_l), 0);
    rpc_server_start(srv_f);
    rpc_server_start(srv_l);
}

static void
fake_stop(void)
{
    rpc_server_destroy(srv_f);
    rpc_server_destroy(srv_l);
}

struct async_count {
    pthread_mutex_t mu;
    int done, ok;
};

static void
count_done(void *arg, int err)
{
    struct async_count *a = arg;
    pthread_mutex_lock(&a->mu);
    a->done++;
    a->ok += err == 0;
    pthread_mutex_unlock(&a->mu);
}

Test(client, engine_against_fake_servers, .init = fake_start, .fini = fake_stop, .timeout = 30)
{
    struct geokv_client *c;
    struct geokv_table *t;
    void *v = NULL;
    size_t vlen = 0;
    int64_t nv;
    struct async_count ac = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    static char big[GEOKV_MAX_HASH_KEY + 1];

    cr_assert_eq(geokv_client_create(fk.follower, NULL, &c), 0);
    cr_assert_eq(geokv_open(c, "t", 5000, &t), 0); /* via the redirect */
    cr_assert_eq(geokv_table_partition_count(t), 2);
    cr_assert_eq(geokv_get(t, geokv_str("k"), geokv_str("s"), &v, &vlen, NULL, 3000),
                 ERR_NOT_FOUND);
    cr_assert_null(v);
    /* NOT_PRIMARY + new ballot: the retry must refresh the config first */
    cr_assert_eq(geokv_set(t, geokv_str("k"), geokv_str("s"), geokv_str("v1"), 0, 5000), 0);
    pthread_mutex_lock(&fk.mu);
    cr_assert_geq(fk.writes, 2);
    cr_assert_geq(fk.queries, 2);
    pthread_mutex_unlock(&fk.mu);
    cr_assert_eq(geokv_get(t, geokv_str("k"), geokv_str("s"), &v, &vlen, NULL, 3000), 0);
    cr_assert_eq(vlen, 2);
    cr_assert(memcmp(v, "v1", 2) == 0);
    free(v);
    /* incr is not retried after a timeout */
    cr_assert_eq(geokv_incr(t, geokv_str("k"), geokv_str("n"), 1, 0, &nv, 1200), ERR_TIMEOUT);
    pthread_mutex_lock(&fk.mu);
    cr_assert_eq(fk.incrs, 1);
    pthread_mutex_unlock(&fk.mu);
    cr_assert_eq(
        geokv_set(t, geokv_bytes(big, sizeof(big)), geokv_str("s"), geokv_str("v"), 0, 1000),
        ERR_TOO_LARGE);
    for (int i = 0; i < 200; i++)
        geokv_set_async(t, geokv_str("k"), geokv_str("s"), geokv_str("v2"), 0, 5000, count_done,
                        &ac);
    geokv_client_destroy(c); /* waits for the async calls */
    cr_assert_eq(ac.done, 200);
    cr_assert_eq(ac.ok, 200);
}

static int
dump_add(void *arg, const struct geokv_record *r)
{
    admin_dump_add(arg, r->hash_key.data, r->hash_key.len, r->sort_key.data, r->sort_key.len,
                   r->value.data, r->value.len, r->expire_ts);
    return 0;
}

/* The full scan carries each record's expire_ts through to the callback (dump prints it). */
Test(client, full_scan_returns_expire_ts, .init = fake_start, .fini = fake_stop, .timeout = 30)
{
    struct geokv_client *c;
    struct geokv_table *t;
    struct admin_dump d = ADMIN_DUMP_INIT;
    struct buf line = BUF_INIT;

    cr_assert_eq(geokv_client_create(fk.follower, NULL, &c), 0);
    cr_assert_eq(geokv_open(c, "t", 5000, &t), 0);
    cr_assert_eq(geokv_full_scan(t, dump_add, &d, 3000), 0);
    cr_assert_eq(d.n, 2);
    admin_dump_sort(&d);
    admin_dump_line(&d, 0, &line);
    cr_assert_str_eq((const char *)line.data, "h0\ts\tv\\x09x\t1000\n");
    buf_reset(&line);
    admin_dump_line(&d, 1, &line);
    cr_assert_str_eq((const char *)line.data, "h1\ts\tv\\x09x\t1001\n");
    buf_fini(&line);
    admin_dump_fini(&d);
    geokv_client_destroy(c);
}

/* server-config through the client: show, set, bad value, unknown key, list. */
Test(client, server_config_rpc, .init = fake_start, .fini = fake_stop, .timeout = 30)
{
    struct geokv_client *c;
    struct msg_server_config m;

    cr_assert_eq(runtime_config_register_std(NULL, NULL, 0), 0);
    cr_assert_eq(geokv_client_create(fk.leader, NULL, &c), 0);
    cr_assert_eq(geokv_client_meta_count(c), 1);
    cr_assert_str_eq(geokv_client_meta_addr(c, 0), fk.leader);
    cr_assert_null(geokv_client_meta_addr(c, 1));
    cr_assert_eq(geokv_server_config(c, fk.leader, RC_DUPLICATE_LOG_BATCH_BYTES, "", 3000, &m), 0);
    cr_assert_str_eq(m.value, "4096");
    cr_assert_eq(geokv_server_config(c, fk.leader, RC_DUPLICATE_LOG_BATCH_BYTES, "8K", 3000, &m),
                 0);
    cr_assert_str_eq(m.value, "8192");
    cr_assert_eq(runtime_config_get(RC_DUPLICATE_LOG_BATCH_BYTES), 8192);
    cr_assert_eq(geokv_server_config(c, fk.leader, RC_DUPLICATE_LOG_BATCH_BYTES, "-5", 3000, &m),
                 ERR_INVALID_ARG);
    cr_assert(strstr(m.value, "out of range") != NULL, "%s", m.value);
    cr_assert_eq(runtime_config_get(RC_DUPLICATE_LOG_BATCH_BYTES), 8192);
    cr_assert_eq(geokv_server_config(c, fk.leader, "no_such_key", "1", 3000, &m), ERR_NOT_FOUND);
    cr_assert(strstr(m.value, "unknown setting 'no_such_key'") != NULL, "%s", m.value);
    cr_assert_eq(geokv_server_config(c, fk.leader, "", "", 3000, &m), 0);
    cr_assert_str_eq(m.value, "log_level,duplicate_log_batch_bytes,dup_lagging_write_threshold_ms,"
                              "nfs_copy_rate_mb");
    geokv_client_destroy(c);
}

Test(client, dump_sorts_by_hash_then_sort_key)
{
    struct admin_dump d = ADMIN_DUMP_INIT;
    struct buf out = BUF_INIT;

    admin_dump_add(&d, "b", 1, "1", 1, "x", 1, 0);
    admin_dump_add(&d, "a", 1, "2", 1, "y", 1, 5);
    admin_dump_add(&d, "ab", 2, "", 0, "", 0, 0);
    admin_dump_add(&d, "a", 1, "10", 2, "\n", 1, 0);
    admin_dump_add(&d, "a", 1, "1", 1, "z", 1, 0);
    admin_dump_sort(&d);
    for (size_t i = 0; i < d.n; i++)
        admin_dump_line(&d, i, &out);
    cr_assert_str_eq((const char *)out.data, "a\t1\tz\t0\n"
                                             "a\t10\t\\x0a\t0\n"
                                             "a\t2\ty\t5\n"
                                             "ab\t\t\t0\n"
                                             "b\t1\tx\t0\n");
    buf_fini(&out);
    admin_dump_fini(&d);
}

/* ---- geokv-bench --op lag bookkeeping ---- */

Test(client, lag_poll_interval_grows_with_age)
{
    cr_assert_eq(bench_lag_poll_interval_us(0, 5000), 5000);
    cr_assert_eq(bench_lag_poll_interval_us(8000, 5000), 5000);
    cr_assert_eq(bench_lag_poll_interval_us(40000, 5000), 10000);
    cr_assert_eq(bench_lag_poll_interval_us(10000000, 5000), BENCH_LAG_POLL_MAX_US);
}

Test(client, lag_queue_pops_due_items_in_time_order)
{
    struct bench_lag_queue q = {0};
    struct bench_lag_item it;
    int64_t last = -1;

    cr_assert_eq(bench_lag_queue_next_us(&q), -1);
    for (uint64_t i = 0; i < 1000; i++) {
        struct bench_lag_item x = {i, 0, (int64_t)((i * 7919) % 1000)};
        bench_lag_queue_push(&q, &x);
    }
    cr_assert_eq(bench_lag_queue_next_us(&q), 0);
    cr_assert_not(bench_lag_queue_pop_due(&q, -1, &it)); /* nothing due yet */
    for (int n = 0; n < 500; n++) {
        cr_assert(bench_lag_queue_pop_due(&q, 499, &it));
        cr_assert_geq(it.next_us, last);
        last = it.next_us;
    }
    cr_assert_not(bench_lag_queue_pop_due(&q, 499, &it));
    cr_assert_eq(q.n, 500);
    while (bench_lag_queue_pop_due(&q, INT64_MAX, &it)) {
        cr_assert_geq(it.next_us, last);
        last = it.next_us;
    }
    cr_assert_eq(q.n, 0);
    bench_lag_queue_fini(&q);
}

Test(client, lag_stats_visible_retry_and_deadline)
{
    struct bench_lag_stats s;
    struct bench_lag_item a = {1, 1000000, 1000000}, b = {2, 1000000, 1000000};
    const int64_t deadline = 30000000, min_poll = 5000;

    bench_lag_stats_init(&s);
    /* a: not yet visible at +2 ms -> repoll after the minimum interval; visible at +12 ms */
    cr_assert(bench_lag_poll_done(&s, &a, false, 1002000, deadline, min_poll));
    cr_assert_eq(a.next_us, 1007000);
    cr_assert_not(bench_lag_poll_done(&s, &a, true, 1012000, deadline, min_poll));
    /* b: never visible: retried with growing intervals until the deadline */
    int64_t now = 1000000, prev_gap = 0;
    int polls = 0;
    while (bench_lag_poll_done(&s, &b, false, now, deadline, min_poll)) {
        cr_assert_geq(b.next_us - now, prev_gap);
        prev_gap = b.next_us - now;
        now = b.next_us;
        polls++;
    }
    cr_assert_geq(now - b.ack_us, deadline);
    cr_assert_lt(polls, 400); /* ~30 s at up to 100 ms apart, not 6000 polls at 5 ms */
    cr_assert_eq(s.visible, 1);
    cr_assert_eq(s.not_visible, 1);
    cr_assert_eq(s.polls, 2 + (uint64_t)polls + 1);
    cr_assert_eq(s.lag_us.total, 1);
    cr_assert_eq(s.lag_us.max, 12000);
    cr_assert_leq(bench_hist_quantile(&s.lag_us, 0.5), 12000);
    cr_assert_geq(bench_hist_quantile(&s.lag_us, 0.5), 11250);
}
