/*
 * runtime_config.c: the run-time settings registry (see runtime_config.h).
 *
 * A fixed array of entries, appended under reg_mu and published by a release store of
 * nsettings; readers load nsettings with acquire and only look at entries below it, whose
 * name, range and names never change after publication. Only the value (a relaxed atomic)
 * changes. Two concurrent sets of the same setting both succeed, the last store wins and
 * each runs the hook with its own value (a hook that must be ordered needs its own lock;
 * log_set_level does not).
 */
#include "common/runtime_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/log.h"

struct runtime_setting {
    char name[RUNTIME_CONFIG_NAME_MAX];
    int64_t min, max;
    const char *const *names;
    runtime_setting_hook_fn *hook;
    _Atomic int64_t value;
};

static struct runtime_setting settings[RUNTIME_CONFIG_MAX];
static atomic_size_t nsettings;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;

/* The standard settings: where their defaults come from, and their ranges. */
struct std_setting {
    const char *name, *section, *key;
    int64_t def, min, max;
    const char *const *names;
    runtime_setting_hook_fn *hook;
};

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};

static void
apply_log_level(int64_t v)
{
    log_set_level((int)v);
}

static const struct std_setting std_settings[] = {
    {RC_LOG_LEVEL, "core", "log_level", LOG_LVL_INFO, LOG_LVL_ERROR, LOG_LVL_DEBUG, log_level_names,
     apply_log_level},
    /* 0 = no batching (the seed's meaning): every entry ships on its own */
    {RC_DUPLICATE_LOG_BATCH_BYTES, "replication", "duplicate_log_batch_bytes", 4096, 0, 64 << 20,
     NULL, NULL},
    {RC_DUP_LAGGING_WRITE_THRESHOLD_MS, "pegasus.server", "dup_lagging_write_threshold_ms", 10000,
     1, 86400000, NULL, NULL},
    /* checkpoint copies (learners, follower tables) per copy; 0 = unlimited */
    {RC_NFS_COPY_RATE_MB, "replication", "nfs_copy_rate_mb", 500, 0, 1 << 20, NULL, NULL},
};
#define NSTD (sizeof(std_settings) / sizeof(std_settings[0]))

static bool
name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= RUNTIME_CONFIG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

struct runtime_setting *
runtime_config_find(const char *name)
{
    size_t n = atomic_load_explicit(&nsettings, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (strcmp(settings[i].name, name) == 0)
            return &settings[i];
    return NULL;
}

struct runtime_setting *
runtime_config_register(const char *name, int64_t def, int64_t min, int64_t max,
                        const char *const *names, runtime_setting_hook_fn *hook)
{
    struct runtime_setting *s;
    size_t n;

    if (!name_ok(name) || min > max || def < min || def > max)
        return NULL;
    pthread_mutex_lock(&reg_mu);
    s = runtime_config_find(name);
    n = atomic_load_explicit(&nsettings, memory_order_relaxed);
    if (s == NULL && n < RUNTIME_CONFIG_MAX) {
        s = &settings[n];
        snprintf(s->name, sizeof(s->name), "%s", name);
        s->min = min, s->max = max, s->names = names, s->hook = hook;
        atomic_store_explicit(&s->value, def, memory_order_relaxed);
        atomic_store_explicit(&nsettings, n + 1, memory_order_release);
        if (hook != NULL)
            hook(def);
    }
    pthread_mutex_unlock(&reg_mu);
    return s;
}

int64_t
runtime_setting_get(const struct runtime_setting *s)
{
    return atomic_load_explicit(&s->value, memory_order_relaxed);
}

int64_t
runtime_config_get(const char *name)
{
    const struct runtime_setting *s = runtime_config_find(name);

    if (s != NULL)
        return runtime_setting_get(s);
    for (size_t i = 0; i < NSTD; i++)
        if (strcmp(std_settings[i].name, name) == 0)
            return std_settings[i].def;
    return 0;
}

/* Decimal with an optional K/M/G suffix (powers of 1024); false if malformed or overflows. */
static bool
parse_int(const char *text, int64_t *out)
{
    char *end;
    long long v;
    int shift = 0;

    if (text[0] == '\0' || isspace((unsigned char)text[0]))
        return false;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text)
        return false;
    if (*end == 'K' || *end == 'k')
        shift = 10, end++;
    else if (*end == 'M' || *end == 'm')
        shift = 20, end++;
    else if (*end == 'G' || *end == 'g')
        shift = 30, end++;
    if (*end != '\0' || v > (INT64_MAX >> shift) || v < (INT64_MIN >> shift))
        return false;
    *out = (int64_t)v * ((int64_t)1 << shift);
    return true;
}

/* Parses text as a value of s: a number or one of its value names, within range. */
static int
parse_value(const struct runtime_setting *s, const char *text, int64_t *out, char *errbuf,
            size_t errlen)
{
    if (s->names != NULL)
        for (int64_t v = s->min; v <= s->max; v++)
            if (strcasecmp(text, s->names[v - s->min]) == 0) {
                *out = v;
                return 0;
            }
    if (!parse_int(text, out)) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "%s: '%s' is not %s", s->name, text,
                     s->names ? "a value name or an integer" : "an integer");
        return ERR_INVALID_ARG;
    }
    if (*out < s->min || *out > s->max) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "%s: %s is out of range [%" PRId64 ", %" PRId64 "]", s->name,
                     text, s->min, s->max);
        return ERR_INVALID_ARG;
    }
    return 0;
}

int
runtime_config_set(const char *name, const char *text, char *errbuf, size_t errlen)
{
    struct runtime_setting *s = runtime_config_find(name);
    int64_t v;
    int rc;

    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (s == NULL) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "unknown setting '%s'", name);
        return ERR_NOT_FOUND;
    }
    rc = parse_value(s, text, &v, errbuf, errlen);
    if (rc != 0)
        return rc;
    atomic_store_explicit(&s->value, v, memory_order_relaxed);
    if (s->hook != NULL)
        s->hook(v);
    return 0;
}

int
runtime_config_show(const char *name, char *out, size_t cap)
{
    const struct runtime_setting *s = runtime_config_find(name);
    int64_t v;

    if (cap > 0)
        out[0] = '\0';
    if (s == NULL)
        return ERR_NOT_FOUND;
    v = runtime_setting_get(s);
    if (s->names != NULL && v >= s->min && v <= s->max)
        snprintf(out, cap, "%s", s->names[v - s->min]);
    else
        snprintf(out, cap, "%" PRId64, v);
    return 0;
}

size_t
runtime_config_list(char *out, size_t cap)
{
    size_t n = atomic_load_explicit(&nsettings, memory_order_acquire), copied = 0, off = 0;

    if (cap > 0)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(settings[i].name) + (copied > 0);
        if (off + len + 1 > cap)
            break;
        off +=
            (size_t)snprintf(out + off, cap - off, "%s%s", copied > 0 ? "," : "", settings[i].name);
        copied++;
    }
    return copied;
}

/* Registers one standard setting with its default from cfg. */
static int
register_std(const struct std_setting *d, const struct config *cfg, char *errbuf, size_t errlen)
{
    /* A throwaway entry with the setting's range and names, so parse_value can check the
     * configured text exactly as a run-time set would. */
    struct runtime_setting probe = {.min = d->min, .max = d->max, .names = d->names};
    const char *text = cfg != NULL ? config_get_str(cfg, d->section, d->key, NULL) : NULL;
    char why[160];
    int64_t v = d->def;

    snprintf(probe.name, sizeof(probe.name), "%s", d->name);
    if (text != NULL && parse_value(&probe, text, &v, why, sizeof(why)) != 0) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "[%s] %s: %s", d->section, d->key, why);
        return ERR_CONFIG;
    }
    if (runtime_config_register(d->name, v, d->min, d->max, d->names, d->hook) == NULL) {
        if (errbuf != NULL)
            snprintf(errbuf, errlen, "cannot register run-time setting %s", d->name);
        return ERR_CONFIG;
    }
    return 0;
}

int
runtime_config_register_std(const struct config *cfg, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < NSTD; i++) {
        int rc = register_std(&std_settings[i], cfg, errbuf, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}
