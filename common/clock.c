/* clock.c: thin wrappers over clock_gettime, or a simulation's virtual clocks. */
#include "common/clock.h"

#include <time.h>

static clock_source_fn *fake_mono_us, *fake_wall_us;

void
clock_set_source(clock_source_fn *mono_us, clock_source_fn *wall_us)
{
    fake_mono_us = mono_us;
    fake_wall_us = wall_us;
}

static int64_t
clock_us(clockid_t id)
{
    struct timespec ts;
    if (id == CLOCK_MONOTONIC && fake_mono_us)
        return fake_mono_us();
    if (id == CLOCK_REALTIME && fake_wall_us)
        return fake_wall_us();
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
