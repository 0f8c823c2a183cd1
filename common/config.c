/* config.c: INI settings on libinih, stored as a flat list of (section, key, value). */
#include "common/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xmalloc.h"

struct config_entry {
    char *section, *key, *value;
};

struct config {
    struct config_entry *v;
    size_t n, cap;
};

static struct config_entry *
config_find(const struct config *cfg, const char *section, const char *key)
{
    for (size_t i = cfg->n; i-- > 0;)
        if (strcmp(cfg->v[i].section, section) == 0 && strcmp(cfg->v[i].key, key) == 0)
            return &cfg->v[i];
    return NULL;
}

void
config_set(struct config *cfg, const char *section, const char *key, const char *value)
{
    struct config_entry *e = config_find(cfg, section, key);
    if (e) {
        xfree(e->value);
        e->value = xstrdup(value);
        return;
    }
    if (cfg->n == cfg->cap) {
        cfg->cap = cfg->cap ? cfg->cap * 2 : 32;
        cfg->v = xrealloc(cfg->v, cfg->cap * sizeof(*cfg->v));
    }
    cfg->v[cfg->n++] = (struct config_entry){xstrdup(section), xstrdup(key), xstrdup(value)};
}

/* The seed writes "[[duplication-group]]"; inih hands us "[duplication-group" then. */
static void
normalize_section(const char *in, char *out, size_t outlen)
{
    size_t n;
    while (*in == '[')
        in++;
    n = strlen(in);
    while (n > 0 && in[n - 1] == ']')
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

static int
config_ini_line(void *user, const char *section, const char *name, const char *value)
{
    char sec[256];
    char *v = xstrdup(value);
    char *hash = strstr(v, " #");
    if (hash == NULL)
        hash = strstr(v, "\t#");
    if (hash != NULL) { /* the seed writes inline "# ..." comments; inih strips only ';' */
        *hash = '\0';
        while (hash > v && (hash[-1] == ' ' || hash[-1] == '\t'))
            *--hash = '\0';
    }
    normalize_section(section, sec, sizeof(sec));
    config_set(user, sec, name, v);
    xfree(v);
    return 1;
}

/*
 * Reads path with the leading white space of every line removed: the seed indents its keys,
 * and inih would take an indented line for the continuation of the previous value.
 */
static char *
read_unindented(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, *out;
    size_t cap = 0, len = 0, outcap = 4096;
    ssize_t n;
    if (f == NULL)
        return NULL;
    out = xmalloc(outcap);
    while ((n = getline(&line, &cap, f)) >= 0) {
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        n -= p - line;
        if (len + (size_t)n + 1 > outcap) {
            outcap = (len + (size_t)n + 1) * 2;
            out = xrealloc(out, outcap);
        }
        memcpy(out + len, p, (size_t)n);
        len += (size_t)n;
    }
    out[len] = '\0';
    free(line);
    fclose(f);
    return out;
}

int
config_load(const char *path, struct config **cfgp, char *errbuf, size_t errlen)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    *cfgp = NULL;
    if (path != NULL) {
        char *text = read_unindented(path);
        int rc = text ? ini_parse_string(text, config_ini_line, cfg) : -1;
        xfree(text);
        if (rc != 0) {
            if (errbuf) {
                if (rc < 0)
                    snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
                else
                    snprintf(errbuf, errlen, "%s:%d: syntax error", path, rc);
            }
            config_destroy(cfg);
            return ERR_CONFIG;
        }
    }
    *cfgp = cfg;
    return 0;
}

void
config_destroy(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        xfree(cfg->v[i].section);
        xfree(cfg->v[i].key);
        xfree(cfg->v[i].value);
    }
    xfree(cfg->v);
    xfree(cfg);
}

int
config_override(struct config *cfg, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    const char *dot;
    char *lhs;
    if (eq == NULL || eq == assignment)
        return ERR_CONFIG;
    lhs = xstrndup(assignment, (size_t)(eq - assignment));
    dot = strrchr(lhs, '.');
    if (dot == NULL || dot == lhs || dot[1] == '\0') {
        xfree(lhs);
        return ERR_CONFIG;
    }
    lhs[dot - lhs] = '\0';
    config_set(cfg, lhs, dot + 1, eq + 1);
    xfree(lhs);
    return 0;
}

const char *
config_get_str(const struct config *cfg, const char *section, const char *key, const char *def)
{
    const struct config_entry *e = config_find(cfg, section, key);
    return e ? e->value : def;
}

int
config_get_int(const struct config *cfg, const char *section, const char *key, int64_t def,
               int64_t *out)
{
    const char *s = config_get_str(cfg, section, key, NULL);
    char *end;
    long long v;
    *out = def;
    if (s == NULL)
        return 0;
    errno = 0;
    v = strtoll(s, &end, 0);
    if (errno != 0 || end == s)
        return ERR_CONFIG;
    switch (*end) {
    case 'k':
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'm':
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'g':
    case 'G':
        v <<= 30;
        end++;
        break;
    default: break;
    }
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0')
        return ERR_CONFIG;
    *out = v;
    return 0;
}

int
config_get_bool(const struct config *cfg, const char *section, const char *key, bool def, bool *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
    const char *s = config_get_str(cfg, section, key, NULL);
    *out = def;
    if (s == NULL)
        return 0;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return ERR_CONFIG;
}

void
config_each(const struct config *cfg, const char *section, config_each_cb *cb, void *arg)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (strcmp(cfg->v[i].section, section) == 0)
            cb(arg, cfg->v[i].key, cfg->v[i].value);
}
