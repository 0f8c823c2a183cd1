/*
 * failpoint.c: the fail point table (see failpoint.h). Parsed from GEOKV_FAILPOINTS once,
 * or replaced by failpoint_configure; every access holds mu, except the armed fast path.
 */
#include "common/failpoint.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

struct failpoint {
    char name[64];
    uint64_t first, last; /* fires on hits first..last (inclusive) */
    uint64_t hits;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static atomic_bool armed;
static struct failpoint points[FAILPOINT_MAX];
static int npoints;

/* Parses one "name=N[-[M]]" item into p. */
static int
parse_item(const char *s, size_t len, struct failpoint *p)
{
    char item[128], *eq, *end;

    if (len == 0 || len >= sizeof(item))
        return ERR_INVALID_ARG;
    memcpy(item, s, len);
    item[len] = '\0';
    eq = strchr(item, '=');
    if (eq == NULL || eq == item || (size_t)(eq - item) >= sizeof(p->name))
        return ERR_INVALID_ARG;
    *eq = '\0';
    memcpy(p->name, item, (size_t)(eq - item) + 1); /* checked: shorter than name */
    p->hits = 0;
    p->first = p->last = strtoull(eq + 1, &end, 10);
    if (end == eq + 1 || p->first == 0)
        return ERR_INVALID_ARG;
    if (strcmp(end, "-") == 0) {
        p->last = UINT64_MAX;
        end++;
    } else if (*end == '-') {
        p->last = strtoull(end + 1, &end, 10);
    }
    return *end == '\0' && p->last >= p->first ? 0 : ERR_INVALID_ARG;
}

/* Replaces the table with spec's points (nothing armed if spec is malformed). */
static int
apply(const char *spec)
{
    int rc = 0, n = 0;

    pthread_mutex_lock(&mu);
    for (const char *s = spec; rc == 0 && s != NULL && *s != '\0';) {
        size_t len = strcspn(s, ",");
        rc = n < FAILPOINT_MAX ? parse_item(s, len, &points[n++]) : ERR_INVALID_ARG;
        s += len + (s[len] == ',');
    }
    npoints = rc == 0 ? n : 0;
    atomic_store(&armed, npoints > 0);
    pthread_mutex_unlock(&mu);
    return rc;
}

static void
configure_from_env(void)
{
    (void)apply(getenv("GEOKV_FAILPOINTS"));
}

int
failpoint_configure(const char *spec)
{
    pthread_once(&env_once, configure_from_env); /* so the environment cannot override spec later */
    return apply(spec);
}

bool
failpoint_hit(const char *name)
{
    bool fire = false;

    pthread_once(&env_once, configure_from_env);
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < npoints; i++) {
        if (strcmp(points[i].name, name) == 0) {
            points[i].hits++;
            fire = points[i].hits >= points[i].first && points[i].hits <= points[i].last;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return fire;
}
