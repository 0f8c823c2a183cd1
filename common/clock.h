#pragma once
/* Clocks: monotonic for timeouts and intervals, wall-clock for timetags and expiry. */
#include <stdint.h>

/* Monotonic milliseconds / microseconds (CLOCK_MONOTONIC). */
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void);
/* Wall-clock microseconds / seconds since the epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);
int64_t clock_wall_s(void);
/* In-process simulations run on virtual time: they set both sources (microseconds); NULL
 * restores the system clocks. Set it before anything reads the clock. */
typedef int64_t clock_source_fn(void);
void clock_set_source(clock_source_fn *mono_us, clock_source_fn *wall_us);
/* Sleeps for ms milliseconds (tools and tests only; servers use timers). */
void clock_sleep_ms(int64_t ms);
