/*
 * loop.c: a task thread with an inbox (mutex + condvar), millisecond timers and a
 * before-sleep hook. The inbox is swapped out whole under the mutex, then run unlocked.
 */
#include "common/loop.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/xmalloc.h"

struct loop_task {
    loop_fn *fn;
    void *arg;
};

struct loop_timer {
    loop_fn *fn;
    void *arg;
    int64_t interval_ms, next_ms;
};

struct loop_delayed {
    loop_fn *fn;
    void *arg;
    int64_t due_ms;
};

struct loop {
    char name[16];
    pthread_t thread;
    bool started, stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct loop_task *tasks, *spare;
    size_t ntasks, cap, spare_cap;
    struct loop_timer *timers;
    size_t ntimers;
    struct loop_delayed *delayed; /* guarded by mu; few at a time, so a plain array */
    size_t ndelayed, delayed_cap;
    loop_fn *before_sleep;
    void *before_sleep_arg;
};

struct loop *
loop_create(const char *name)
{
    struct loop *l = xcalloc(1, sizeof(*l));
    pthread_condattr_t ca;
    snprintf(l->name, sizeof(l->name), "%s", name);
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    return l;
}

void
loop_post(struct loop *l, loop_fn *fn, void *arg)
{
    pthread_mutex_lock(&l->mu);
    if (l->ntasks == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->tasks = xrealloc(l->tasks, l->cap * sizeof(*l->tasks));
    }
    l->tasks[l->ntasks++] = (struct loop_task){fn, arg};
    if (l->ntasks == 1)
        pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void
loop_post_delayed(struct loop *l, int64_t delay_ms, loop_fn *fn, void *arg)
{
    pthread_mutex_lock(&l->mu);
    if (l->ndelayed == l->delayed_cap) {
        l->delayed_cap = l->delayed_cap ? l->delayed_cap * 2 : 16;
        l->delayed = xrealloc(l->delayed, l->delayed_cap * sizeof(*l->delayed));
    }
    l->delayed[l->ndelayed++] = (struct loop_delayed){fn, arg, clock_mono_ms() + delay_ms};
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Moves due delayed tasks to the inbox; returns the next due time (or limit). Holds mu. */
static int64_t
collect_delayed(struct loop *l, int64_t now, int64_t limit)
{
    for (size_t i = 0; i < l->ndelayed;) {
        struct loop_delayed d = l->delayed[i];
        if (d.due_ms <= now) {
            if (l->ntasks == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->tasks = xrealloc(l->tasks, l->cap * sizeof(*l->tasks));
            }
            l->tasks[l->ntasks++] = (struct loop_task){d.fn, d.arg};
            l->delayed[i] = l->delayed[--l->ndelayed];
            continue;
        }
        if (d.due_ms < limit)
            limit = d.due_ms;
        i++;
    }
    return limit;
}

void
loop_add_timer(struct loop *l, int64_t interval_ms, loop_fn *fn, void *arg)
{
    l->timers = xrealloc(l->timers, (l->ntimers + 1) * sizeof(*l->timers));
    l->timers[l->ntimers++] =
        (struct loop_timer){fn, arg, interval_ms, clock_mono_ms() + interval_ms};
}

void
loop_set_before_sleep(struct loop *l, loop_fn *fn, void *arg)
{
    l->before_sleep = fn;
    l->before_sleep_arg = arg;
}

/* The loop whose thread this is (set by the thread itself: pthread_create need not have
 * stored the thread id yet when the first task runs). */
static _Thread_local const struct loop *current_loop;

bool
loop_on_thread(const struct loop *l)
{
    return current_loop == l;
}

/* Runs due timers; returns the monotonic ms of the next one (or now + 1 s). */
static int64_t
run_timers(struct loop *l)
{
    int64_t now = clock_mono_ms(), next = now + 1000;
    for (size_t i = 0; i < l->ntimers; i++) {
        struct loop_timer *t = &l->timers[i];
        if (t->next_ms <= now) {
            t->fn(t->arg);
            now = clock_mono_ms();
            t->next_ms = now + t->interval_ms;
        }
        if (t->next_ms < next)
            next = t->next_ms;
    }
    return next;
}

static void *
loop_main(void *arg)
{
    struct loop *l = arg;
    current_loop = l;
    pthread_setname_np(pthread_self(), l->name);
    for (;;) {
        int64_t next = run_timers(l);
        struct loop_task *batch;
        size_t n, batch_cap;
        bool stop;

        pthread_mutex_lock(&l->mu);
        next = collect_delayed(l, clock_mono_ms(), next);
        while (l->ntasks == 0 && !l->stopping && clock_mono_ms() < next) {
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
            pthread_cond_timedwait(&l->cv, &l->mu, &ts);
            next = collect_delayed(l, clock_mono_ms(), next);
        }
        batch = l->tasks;
        batch_cap = l->cap;
        n = l->ntasks;
        stop = l->stopping && n == 0;
        /* swap the inbox with the spare array so posting never waits for the batch */
        l->tasks = l->spare;
        l->cap = l->spare_cap;
        l->spare = batch;
        l->spare_cap = batch_cap;
        l->ntasks = 0;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        for (size_t i = 0; i < n; i++)
            batch[i].fn(batch[i].arg);
        if (n && l->before_sleep)
            l->before_sleep(l->before_sleep_arg);
    }
    return NULL;
}

void
loop_start(struct loop *l)
{
    l->started = true;
    pthread_create(&l->thread, NULL, loop_main, l);
}

void
loop_destroy(struct loop *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stopping = true;
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    xfree(l->tasks);
    xfree(l->spare);
    xfree(l->timers);
    xfree(l->delayed);
    xfree(l);
}
