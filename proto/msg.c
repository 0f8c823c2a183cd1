/* msg.c: the names of the wire's enums (the codecs are generated: msg_gen.c). */
#include "proto/msg.h"

#include <string.h>

const char *
app_status_name(uint32_t s)
{
    return s == APP_AVAILABLE  ? "AVAILABLE"
           : s == APP_CREATING ? "CREATING"
           : s == APP_DROPPED  ? "DROPPED"
                               : "UNKNOWN";
}

static const char *const dup_status_names[] = {
    [DS_INIT] = "DS_INIT", [DS_PREPARE] = "DS_PREPARE", [DS_APP] = "DS_APP",
    [DS_LOG] = "DS_LOG",   [DS_PAUSE] = "DS_PAUSE",     [DS_REMOVED] = "DS_REMOVED",
};
static const char *const dup_fail_mode_names[] = {
    [FAIL_SLOW] = "FAIL_SLOW",
    [FAIL_SKIP] = "FAIL_SKIP",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
dup_status_name(uint32_t status)
{
    return status < NELEM(dup_status_names) ? dup_status_names[status] : NULL;
}

const char *
dup_fail_mode_name(uint32_t mode)
{
    return mode < NELEM(dup_fail_mode_names) ? dup_fail_mode_names[mode] : NULL;
}

/* Index of name in names (n entries), or -1. */
static int
name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

int
dup_status_parse(const char *name)
{
    return name_index(dup_status_names, NELEM(dup_status_names), name);
}

int
dup_fail_mode_parse(const char *name)
{
    return name_index(dup_fail_mode_names, NELEM(dup_fail_mode_names), name);
}
