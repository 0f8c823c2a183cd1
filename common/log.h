#pragma once
/*
 * Logging to stderr: "2026-11-22 02:30:01.123 W replica_2pc.c:88 message". The level is
 * checked before the arguments are evaluated. Servers redirect stderr to their log file.
 */
#include <stdbool.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

extern int log_level_current;

/* Parses "error|warn|info|debug"; returns -1 on an unknown name. */
int log_level_parse(const char *name);
void log_set_level(int level);
void log_write(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, ...)                                                                           \
    do {                                                                                           \
        if ((lvl) <= log_level_current)                                                            \
            log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                                     \
    } while (0)
#define LOG_ERROR(...) LOG_AT(LOG_LVL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) LOG_AT(LOG_LVL_WARN, __VA_ARGS__)
#define LOG_INFO(...) LOG_AT(LOG_LVL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) LOG_AT(LOG_LVL_DEBUG, __VA_ARGS__)

/* Always-on invariant check: violation would corrupt data. Never use on network/disk input. */
void log_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define ASSERT(e) ((e) ? (void)0 : log_assert_fail(#e, __FILE__, __LINE__))
#ifdef GEOKV_DIAGNOSTIC
#define DASSERT(e) ASSERT(e)
#else
#define DASSERT(e) ((void)0)
#endif
