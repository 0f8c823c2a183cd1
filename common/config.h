#pragma once
/*
 * INI configuration (parsed by libinih), with the seed's sections and keys
 * ([replication], [pegasus.clusters], [duplication-group], ...). Overrides given on the
 * command line as "section.key=value" win over the file. Lookups are by section and key;
 * values are copied strings owned by the config.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct config;

/* Loads path (may be NULL for an empty config). On a parse error returns ERR_CONFIG and, if
 * errbuf is given, a message naming the file and line. *cfgp is set to NULL on entry. */
MUST_CHECK int config_load(const char *path, struct config **cfgp, char *errbuf, size_t errlen);
void config_destroy(struct config *cfg);
/* Applies "section.key=value" (the last dot before '=' splits section from key). */
MUST_CHECK int config_override(struct config *cfg, const char *assignment);
/* Sets a value (copied). */
void config_set(struct config *cfg, const char *section, const char *key, const char *value);

/* Returns the value (borrowed, valid until the config changes or is destroyed) or def. */
const char *config_get_str(const struct config *cfg, const char *section, const char *key,
                           const char *def);
/* Integer with optional K/M/G suffix (powers of 1024). A malformed value returns ERR_CONFIG. */
MUST_CHECK int config_get_int(const struct config *cfg, const char *section, const char *key,
                              int64_t def, int64_t *out);
/* true/false/yes/no/1/0/on/off. */
MUST_CHECK int config_get_bool(const struct config *cfg, const char *section, const char *key,
                               bool def, bool *out);

typedef void config_each_cb(void *arg, const char *key, const char *value);
/* Calls cb for every key of section, in file order. */
void config_each(const struct config *cfg, const char *section, config_each_cb *cb, void *arg);
