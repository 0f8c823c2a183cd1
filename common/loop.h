#pragma once
/*
 * A loop is one thread that runs tasks posted to it, periodic timers, and a before-sleep
 * hook that runs after every batch of tasks (the replica uses it for group commit: all
 * writes that arrived together share one plog write and one fsync).
 * Everything a loop owns is touched only on its thread; other threads post.
 * Lock order: the inbox mutex is a leaf; it is never held while a task runs.
 */
#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

struct loop;
typedef void loop_fn(void *arg);

/* name is copied (used for the thread name). */
struct loop *loop_create(const char *name);
/* Starts the thread. */
void loop_start(struct loop *l);
/* Stops the thread after the tasks already posted have run, joins it and frees the loop. */
void loop_destroy(struct loop *l);

/* Runs fn(arg) on the loop thread soon. Any thread. */
void loop_post(struct loop *l, loop_fn *fn, void *arg);
/* Runs fn(arg) once on the loop thread after delay_ms. Any thread. */
void loop_post_delayed(struct loop *l, int64_t delay_ms, loop_fn *fn, void *arg);
/* Runs fn(arg) on the loop thread every interval_ms. Before loop_start or on the loop thread. */
void loop_add_timer(struct loop *l, int64_t interval_ms, loop_fn *fn, void *arg);
/* Runs fn(arg) after each batch of posted tasks, before the loop waits again. */
void loop_set_before_sleep(struct loop *l, loop_fn *fn, void *arg);

bool loop_on_thread(const struct loop *l);
#define ASSERT_ON_LOOP(l) ASSERT(loop_on_thread(l))
