/* Unit tests of common/: errors, config, crc32c, buf, loop, run-time settings. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/runtime_config.h"

Test(err, names_and_messages)
{
    cr_assert_str_eq(err_name(ERR_TIMEOUT), "ERR_TIMEOUT");
    cr_assert_str_eq(err_str(ERR_APP_EXISTS), "table already exists");
    cr_assert_str_eq(err_name(-2), "ENOENT");
    cr_assert_str_eq(err_name(0), "OK");
    cr_assert(err_is_project(ERR_OVERFLOW));
    cr_assert_not(err_is_project(-5));
}

Test(crc32c, known_vectors)
{
    /* RFC 3720 B.4 test vectors */
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof(ones));
    cr_assert_eq(crc32c(0, "123456789", 9), 0xE3069283u);
    cr_assert_eq(crc32c(0, zeros, 32), 0x8A9136AAu);
    cr_assert_eq(crc32c(0, ones, 32), 0x62A8AB43u);
    /* extending equals one pass */
    cr_assert_eq(crc32c(crc32c(0, "12345", 5), "6789", 4), 0xE3069283u);
}

static char *
write_tmp(const char *text)
{
    static char path[64];
    int fd;
    snprintf(path, sizeof(path), "/tmp/geokv-cfg-XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(config, seed_sections_and_overrides)
{
    const char *text = "[replication]\n"
                       "  duplication_enabled = true\n"
                       "  duplicate_log_batch_bytes = 4096 # 0 disables batching\n"
                       "[pegasus.clusters]\n"
                       "  tjsrv-account = 127.0.0.1:51601,127.0.0.1:51602\n"
                       "  [[duplication-group]]\n"
                       "  bjsrv-account = 1\n"
                       "  tjsrv-account = 2\n"
                       "[core]\n size = 4M\n";
    char *path = write_tmp(text);
    struct config *cfg;
    int64_t v;
    bool b;
    char err[256];
    cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), 0);
    unlink(path);
    cr_assert_eq(config_get_bool(cfg, "replication", "duplication_enabled", false, &b), 0);
    cr_assert(b);
    cr_assert_eq(config_get_int(cfg, "replication", "duplicate_log_batch_bytes", 0, &v), 0);
    cr_assert_eq(v, 4096);
    cr_assert_str_eq(config_get_str(cfg, "pegasus.clusters", "tjsrv-account", ""),
                     "127.0.0.1:51601,127.0.0.1:51602");
    cr_assert_str_eq(config_get_str(cfg, "duplication-group", "tjsrv-account", ""), "2");
    cr_assert_eq(config_get_int(cfg, "core", "size", 0, &v), 0);
    cr_assert_eq(v, 4 << 20);
    cr_assert_eq(config_get_int(cfg, "core", "missing", 7, &v), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(config_override(cfg, "pegasus.clusters.tjsrv-account=x:1"), 0);
    cr_assert_str_eq(config_get_str(cfg, "pegasus.clusters", "tjsrv-account", ""), "x:1");
    cr_assert_eq(config_override(cfg, "nodot=1"), ERR_CONFIG);
    cr_assert_eq(config_override(cfg, "a.b"), ERR_CONFIG);
    config_set(cfg, "core", "bad", "12x");
    cr_assert_eq(config_get_int(cfg, "core", "bad", 0, &v), ERR_CONFIG);
    config_set(cfg, "core", "flag", "maybe");
    cr_assert_eq(config_get_bool(cfg, "core", "flag", false, &b), ERR_CONFIG);
    config_destroy(cfg);
}

Test(config, syntax_error_names_line)
{
    char *path = write_tmp("[ok]\na = 1\n[broken\n");
    struct config *cfg = (void *)1;
    char err[256] = "";
    cr_assert_eq(config_load(path, &cfg, err, sizeof(err)), ERR_CONFIG);
    cr_assert_null(cfg);
    cr_assert(strstr(err, ":3:") != NULL, "message was: %s", err);
    unlink(path);
    cr_assert_eq(config_load("/nonexistent/geokv.ini", &cfg, err, sizeof(err)), ERR_CONFIG);
}

Test(buf, grows_and_stores_big_endian)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        buf_append_be32(&b, (uint32_t)i);
    cr_assert_eq(b.len, 4000);
    cr_assert_eq(be32_load(b.data + 4 * 999), 999);
    buf_reset(&b);
    buf_append_be64(&b, 0x0102030405060708ull);
    cr_assert_eq(b.data[0], 1);
    cr_assert_eq(be64_load(b.data), 0x0102030405060708ull);
    buf_fini(&b);
}

struct counter {
    atomic_int n, before_sleep, timer;
    struct loop *l;
    bool on_thread;
};

static void
bump(void *arg)
{
    struct counter *c = arg;
    c->on_thread = loop_on_thread(c->l);
    atomic_fetch_add(&c->n, 1);
}

static void
count_sleep(void *arg)
{
    atomic_fetch_add(&((struct counter *)arg)->before_sleep, 1);
}

static void
count_timer(void *arg)
{
    atomic_fetch_add(&((struct counter *)arg)->timer, 1);
}

Test(loop, runs_posted_delayed_and_timer_tasks, .timeout = 10)
{
    struct counter c = {0};
    int64_t deadline;
    c.l = loop_create("test");
    loop_set_before_sleep(c.l, count_sleep, &c);
    loop_add_timer(c.l, 10, count_timer, &c);
    loop_start(c.l);
    for (int i = 0; i < 1000; i++)
        loop_post(c.l, bump, &c);
    loop_post_delayed(c.l, 50, bump, &c);
    deadline = clock_mono_ms() + 5000;
    while ((atomic_load(&c.n) < 1001 || atomic_load(&c.timer) < 3) && clock_mono_ms() < deadline)
        clock_sleep_ms(5);
    cr_assert_eq(atomic_load(&c.n), 1001);
    cr_assert_geq(atomic_load(&c.timer), 3);
    cr_assert_geq(atomic_load(&c.before_sleep), 1);
    cr_assert(c.on_thread);
    cr_assert_not(loop_on_thread(c.l));
    loop_destroy(c.l);
}

#include "common/metrics.h"

Test(metrics, counters_histograms_and_text)
{
    struct metric *c = metric_get(METRIC_COUNTER, "t_ops", "app_id=\"1\"", "ops");
    struct metric *h = metric_get(METRIC_HISTOGRAM, "t_lat_seconds", NULL, "latency");
    struct buf out = BUF_INIT;
    cr_assert_eq(metric_get(METRIC_COUNTER, "t_ops", "app_id=\"1\"", "ops"), c);
    cr_assert_neq(metric_get(METRIC_COUNTER, "t_ops", "app_id=\"2\"", "ops"), c);
    metric_add(c, 5);
    metric_add(c, 2);
    cr_assert_eq(metric_value(c), 7);
    for (int i = 1; i <= 10000; i++)
        metric_observe(h, i);
    /* log-linear buckets: within 1/16 above the true quantile */
    cr_assert(metric_quantile(h, 0.5) >= 5000 && metric_quantile(h, 0.5) <= 5000 * 17 / 16 + 1,
              "p50 = %lld", (long long)metric_quantile(h, 0.5));
    cr_assert(metric_quantile(h, 0.99) >= 9900 && metric_quantile(h, 0.99) <= 9900 * 17 / 16 + 1);
    metrics_render(&out);
    buf_append_u8(&out, 0);
    cr_assert(strstr((char *)out.data, "t_ops{app_id=\"1\"} 7\n") != NULL, "%s", out.data);
    /* observed in microseconds, shown in seconds; one HELP/TYPE per name */
    cr_assert(strstr((char *)out.data, "t_lat_seconds_count 10000\n") != NULL, "%s", out.data);
    cr_assert(strstr((char *)out.data, "t_lat_seconds_sum 50.005000\n") != NULL, "%s", out.data);
    cr_assert(strstr((char *)out.data, "# TYPE t_lat_seconds summary") != NULL);
    cr_assert(strstr((char *)out.data, "t_ops{app_id=\"1\"} 7\nt_ops{app_id=\"2\"} 0\n") != NULL,
              "%s", out.data);
    buf_fini(&out);
}

/* ---- run-time settings ---- */

static int64_t hook_seen = -1;

static void
record_hook(int64_t v)
{
    hook_seen = v;
}

Test(runtime_config, register_get_set_and_validate)
{
    struct runtime_setting *s =
        runtime_config_register("batch_bytes", 4096, 1, 1 << 20, NULL, record_hook);
    char err[200], out[RUNTIME_CONFIG_VALUE_MAX];

    cr_assert_not_null(s);
    cr_assert_eq(hook_seen, 4096); /* the hook sees the initial value */
    cr_assert_eq(runtime_setting_get(s), 4096);
    cr_assert_eq(runtime_config_find("batch_bytes"), s);
    /* registering again returns the same setting, unchanged */
    cr_assert_eq(runtime_config_register("batch_bytes", 1, 1, 2, NULL, NULL), s);
    cr_assert_eq(runtime_config_get("batch_bytes"), 4096);

    cr_assert_eq(runtime_config_set("batch_bytes", "8192", err, sizeof(err)), 0);
    cr_assert_eq(runtime_setting_get(s), 8192);
    cr_assert_eq(hook_seen, 8192);
    cr_assert_eq(runtime_config_set("batch_bytes", "64K", err, sizeof(err)), 0);
    cr_assert_eq(runtime_config_get("batch_bytes"), 65536);
    cr_assert_eq(runtime_config_show("batch_bytes", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "65536");

    /* bad values leave the setting alone and say why */
    const char *bad[] = {"0", "2M", "-1", "12x", "", " 5", "abc", "99999999999999999999", "8G"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(runtime_config_set("batch_bytes", bad[i], err, sizeof(err)), ERR_INVALID_ARG,
                     "'%s' accepted", bad[i]);
        cr_assert(strstr(err, "batch_bytes") != NULL, "%s", err);
    }
    cr_assert(strstr(err, "out of range") != NULL || strstr(err, "not an integer") != NULL);
    cr_assert_eq(runtime_config_get("batch_bytes"), 65536);
    cr_assert_eq(hook_seen, 65536);

    cr_assert_eq(runtime_config_set("nope", "1", err, sizeof(err)), ERR_NOT_FOUND);
    cr_assert(strstr(err, "unknown setting 'nope'") != NULL, "%s", err);
    cr_assert_eq(runtime_config_show("nope", out, sizeof(out)), ERR_NOT_FOUND);
    cr_assert_null(runtime_config_find("nope"));
    cr_assert_eq(runtime_config_get("nope"), 0);
}

Test(runtime_config, bad_registrations)
{
    cr_assert_null(runtime_config_register("", 0, 0, 1, NULL, NULL));
    cr_assert_null(runtime_config_register("Upper", 0, 0, 1, NULL, NULL));
    cr_assert_null(runtime_config_register("has space", 0, 0, 1, NULL, NULL));
    cr_assert_null(runtime_config_register("x", 5, 0, 1, NULL, NULL)); /* def out of range */
    cr_assert_null(runtime_config_register("y", 0, 2, 1, NULL, NULL)); /* min > max */
    for (int i = 0; i < RUNTIME_CONFIG_MAX; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        cr_assert_not_null(runtime_config_register(name, 0, 0, 1, NULL, NULL));
    }
    cr_assert_null(runtime_config_register("one_too_many", 0, 0, 1, NULL, NULL));
    cr_assert_not_null(runtime_config_register("s0", 0, 0, 1, NULL, NULL));
}

Test(runtime_config, standard_settings_from_config)
{
    const char *text = "[replication]\n  duplicate_log_batch_bytes = 8K\n"
                       "[pegasus.server]\n  dup_lagging_write_threshold_ms = 2000\n"
                       "[core]\n  log_level = warn\n";
    struct config *cfg;
    char err[256] = "", out[RUNTIME_CONFIG_VALUE_MAX], names[256];

    /* before registration the standard names read as their built-in defaults */
    cr_assert_eq(runtime_config_get(RC_DUPLICATE_LOG_BATCH_BYTES), 4096);
    cr_assert_eq(runtime_config_get(RC_DUP_LAGGING_WRITE_THRESHOLD_MS), 10000);
    cr_assert_eq(config_load(write_tmp(text), &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(runtime_config_register_std(cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(runtime_config_get(RC_DUPLICATE_LOG_BATCH_BYTES), 8192);
    cr_assert_eq(runtime_config_get(RC_DUP_LAGGING_WRITE_THRESHOLD_MS), 2000);
    cr_assert_eq(runtime_config_get(RC_NFS_COPY_RATE_MB), 500); /* the default */
    cr_assert_eq(log_level_current, LOG_LVL_WARN);
    cr_assert_eq(runtime_config_show(RC_LOG_LEVEL, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "warn");
    /* log_level: by name or number, applied at once */
    cr_assert_eq(runtime_config_set(RC_LOG_LEVEL, "DEBUG", err, sizeof(err)), 0);
    cr_assert_eq(log_level_current, LOG_LVL_DEBUG);
    cr_assert_eq(runtime_config_set(RC_LOG_LEVEL, "1", err, sizeof(err)), 0);
    cr_assert_eq(log_level_current, LOG_LVL_WARN);
    cr_assert_eq(runtime_config_set(RC_LOG_LEVEL, "verbose", err, sizeof(err)), ERR_INVALID_ARG);
    cr_assert(strstr(err, "value name") != NULL, "%s", err);
    cr_assert_eq(runtime_config_set(RC_LOG_LEVEL, "4", err, sizeof(err)), ERR_INVALID_ARG);
    cr_assert_eq(runtime_config_list(names, sizeof(names)), 4);
    cr_assert_str_eq(names, "log_level,duplicate_log_batch_bytes,dup_lagging_write_threshold_ms,"
                            "nfs_copy_rate_mb");
    cr_assert_eq(runtime_config_list(names, 20), 1); /* only whole names */
    cr_assert_str_eq(names, "log_level");
    config_destroy(cfg);
}

Test(runtime_config, standard_settings_reject_bad_config)
{
    struct config *cfg;
    char err[256] = "";

    cr_assert_eq(config_load(write_tmp("[replication]\nduplicate_log_batch_bytes = -1\n"), &cfg,
                             err, sizeof(err)),
                 0);
    cr_assert_eq(runtime_config_register_std(cfg, err, sizeof(err)), ERR_CONFIG);
    cr_assert(strstr(err, "[replication] duplicate_log_batch_bytes") != NULL, "%s", err);
    config_destroy(cfg);
}

/* Readers on other threads see a set value without locks (and never a torn one). */
static void *
reader_main(void *arg)
{
    const struct runtime_setting *s = arg;
    int64_t v;
    do {
        v = runtime_setting_get(s);
        cr_assert(v == 1 || v == 0x7fffffffffffll);
    } while (v != 0x7fffffffffffll);
    return NULL;
}

Test(runtime_config, concurrent_readers, .timeout = 10)
{
    struct runtime_setting *s = runtime_config_register("wide", 1, 0, INT64_MAX, NULL, NULL);
    pthread_t t[2];

    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, reader_main, s);
    usleep(1000);
    cr_assert_eq(runtime_config_set("wide", "140737488355327", NULL, 0), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
}
