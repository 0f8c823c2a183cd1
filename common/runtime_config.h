#pragma once
/*
 * Run-time settings: named int64 values that can be changed while a server runs
 * (RPC_SERVER_CONFIG, `admin-cli server-config <node|all> <key> [value]`), without a restart.
 *
 * A module registers a setting once, at start, with its default (usually read from the INI
 * config), its allowed range and optionally names for its values (log_level: error..debug)
 * and a hook run after every change. Hot paths read it lock-free: runtime_setting_get on the
 * handle returned by registration (or runtime_config_find), or runtime_config_get by name.
 *
 * The standard settings (RUNTIME_CONFIG_STD below) are registered from the config by
 * runtime_config_register_std, which both server binaries call in main; a standard setting
 * that was never registered (a unit test, a tool) reads as its built-in default.
 *
 * Threads: any thread may read or set. Registration takes a mutex (start-up only); entries
 * are never removed or moved, so lookups and reads are lock-free (the entry count is
 * published with release/acquire; values are relaxed atomics). Settings live until exit.
 * common/ never logs: errors are returned, with a message in errbuf where one is taken.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct config;
struct runtime_setting;

/* Called after a successful runtime_config_set (on the setting thread), and once at
 * registration with the initial value. Must not block. */
typedef void runtime_setting_hook_fn(int64_t value);

#define RUNTIME_CONFIG_MAX 64       /* settings per process */
#define RUNTIME_CONFIG_NAME_MAX 64  /* bytes of a name, NUL included */
#define RUNTIME_CONFIG_VALUE_MAX 32 /* bytes of a formatted value, NUL included */

/* Names of the standard settings. */
#define RC_DUPLICATE_LOG_BATCH_BYTES "duplicate_log_batch_bytes"
#define RC_DUP_LAGGING_WRITE_THRESHOLD_MS "dup_lagging_write_threshold_ms"
#define RC_LOG_LEVEL "log_level"
#define RC_NFS_COPY_RATE_MB "nfs_copy_rate_mb"

/*
 * Registers an integer setting: name (copied; [a-z0-9_]), initial value def, allowed range
 * [min, max]; names, if not NULL, is an array of max - min + 1 static strings naming the
 * values min..max (a value is then shown by its name and set by name or number). hook may
 * be NULL. Registering a name again returns the existing setting unchanged. Returns NULL
 * (for a bad name, def outside [min, max], or a full registry) — a programming error the
 * caller asserts on.
 */
struct runtime_setting *runtime_config_register(const char *name, int64_t def, int64_t min,
                                                int64_t max, const char *const *names,
                                                runtime_setting_hook_fn *hook);

/* The setting called name, or NULL. Lock-free. */
struct runtime_setting *runtime_config_find(const char *name);

/* The current value of a setting. Lock-free (one relaxed atomic load). */
int64_t runtime_setting_get(const struct runtime_setting *s);

/* The current value of the setting called name; an unregistered standard setting reads as
 * its built-in default, any other unknown name as 0. Lock-free, but a linear lookup: cache
 * the handle (runtime_config_find) on hot paths. */
int64_t runtime_config_get(const char *name);

/*
 * Parses text (a decimal integer with an optional K/M/G suffix, powers of 1024, or one of the
 * setting's value names) and stores it. ERR_NOT_FOUND if no such setting, ERR_INVALID_ARG if
 * text is not a value or is out of range; errbuf (may be NULL) then gets a one-line reason.
 */
MUST_CHECK int runtime_config_set(const char *name, const char *text, char *errbuf, size_t errlen);

/* Formats the current value of name (its value name, or decimal) into out.
 * ERR_NOT_FOUND if no such setting. */
MUST_CHECK int runtime_config_show(const char *name, char *out, size_t cap);

/* Copies the names of every registered setting, in registration order, into out joined by
 * ','; stops before a name that would not fit. Returns the number of names copied. */
size_t runtime_config_list(char *out, size_t cap);

/*
 * Registers the standard settings with their defaults from cfg:
 *   log_level                       [core] log_level                       info (error..debug)
 *   duplicate_log_batch_bytes       [replication] duplicate_log_batch_bytes  4096 (0..64M;
 *                                   0 = no batching, every entry ships on its own)
 *   dup_lagging_write_threshold_ms  [pegasus.server] dup_lagging_write_threshold_ms  10000
 *   nfs_copy_rate_mb                [replication] nfs_copy_rate_mb  500 (MB/s of each
 *                                   checkpoint copy; 0 = unlimited)
 * log_level's hook is log_set_level. ERR_CONFIG (with a message in errbuf) if a value in cfg
 * is malformed or out of range.
 */
MUST_CHECK int runtime_config_register_std(const struct config *cfg, char *errbuf, size_t errlen);
