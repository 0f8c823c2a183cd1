/* clock.c: thin wrappers over clock_gettime. */
#include "common/clock.h"

#include <time.h>

static int64_t
clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_mono_ms(void)
{
    return clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t
clock_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

int64_t
clock_wall_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

int64_t
clock_wall_s(void)
{
    return clock_us(CLOCK_REALTIME) / 1000000;
}

void
clock_sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}
