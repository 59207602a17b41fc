/*
 * Fork-join parallelism for the kernels, without a persistent pool.
 *
 * Threads are created for one call and joined before it returns, so no thread outlives a call:
 * a process forked between calls (multiprocessing's "fork") inherits nothing to hang on, and a
 * program that never calls logitkit on large data never starts a thread. Creating and joining a
 * thread costs ~10-30 us, so callers only go parallel for work of ~100 us or more per thread.
 *
 * Oversubscription: the threads of all concurrent calls draw from one budget of
 * (num_threads - 1) helpers; a call that finds the budget spent runs on fewer threads (down to
 * its caller's own), so N user threads calling at once never start N * num_threads threads.
 */
#ifndef LOGITKIT_PARALLEL_H
#define LOGITKIT_PARALLEL_H

#include <stddef.h>

typedef struct lk_team lk_team;

/* The work of one thread: tid in [0, nthreads); `team` allows lk_team_barrier. */
typedef void (*lk_task)(void *ctx, int tid, int nthreads, lk_team *team);

/* Settings shared by every call (thread-safe). */
void lk_set_num_threads(int n);
int lk_get_num_threads(void);

/* Runs task on up to `wanted` threads (the caller's included) and returns when all are done.
 * Returns the number of threads that ran it (>= 1). */
int lk_parallel_run(int wanted, lk_task task, void *ctx);

/* Waits until every thread of the team has reached this barrier. */
void lk_team_barrier(lk_team *team);

#endif
