#pragma once
/*
 * geokv-bench --op lag: duplication visibility lag between two clusters (see bench_lag.c).
 */
#include <stddef.h>
#include <stdint.h>

struct bench_lag_opts {
    const char *src_metas, *dst_metas, *app;
    uint64_t rate;     /* writes/s, > 0 */
    double duration_s; /* 0: write count records instead */
    uint64_t count;
    size_t value_size;
    int inflight;        /* bound on outstanding writes, and separately on outstanding polls */
    int timeout_ms;      /* per write / per poll */
    int64_t poll_min_us; /* shortest interval between two polls of one key */
    int64_t deadline_us; /* a key not visible this long after its ack is not_visible */
    double window_s;     /* > 0: also report the lag per window of this many seconds of the
                           * write schedule (record n belongs to window floor(n/rate/window_s)) */
};

/* Runs the measurement and prints its report ("name: value" lines). Returns the exit status:
 * 0, 1 if no key became visible (or nothing was written), 2 if a table cannot be opened. */
int bench_lag_run(const struct bench_lag_opts *o);
