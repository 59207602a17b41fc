/*
 * Fork-join parallelism for the kernels, on a small pool of helper threads.
 *
 * Helpers are started on the first call that wants them and then kept: starting a thread costs
 * about as much as the part of a large call it would take over, and a fresh thread finds none
 * of its rows in its core's cache. A kept helper that has just finished spins for a short while
 * (the spin bound, lk_set_spin_us) before it sleeps, so back-to-back calls hand it work without
 * a wake-up through a condition variable. The caller always runs part 0 and a helper keeps its
 * tid within a call, so the same rows go to the same core call after call. The spin is a
 * setting because many processes side by side (Dask workers, joblib) want it off: a waiting
 * thread then sleeps at once and leaves its core to the other processes.
 *
 * Fork: a child process inherits none of the helpers; pthread_atfork forgets them in the child
 * and the child's first parallel call starts its own, so nothing hangs after a fork.
 *
 * Oversubscription: the helpers of all concurrent calls draw from one budget of
 * (num_threads - 1); a call that finds the budget spent runs on fewer threads (down to its
 * caller's own), so N user threads calling at once never run N * num_threads threads.
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

/* How long a waiting thread (a helper between calls, a caller waiting for its helpers, a team
 * at a barrier) spins before it sleeps, in microseconds; 0 sleeps at once. */
#define LK_DEFAULT_SPIN_US 200
#define LK_MAX_SPIN_US 10000
void lk_set_spin_us(int us);
int lk_get_spin_us(void);

/* The thread cap as plain exported C functions, so that a controller outside Python
 * (threadpoolctl's, through ctypes) finds them by name in the extension module. */
#if defined(_WIN32)
#define LK_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define LK_EXPORT __attribute__((visibility("default")))
#else
#define LK_EXPORT
#endif
LK_EXPORT int logitkit_get_num_threads(void);
LK_EXPORT void logitkit_set_num_threads(int n);

/* Runs task on up to `wanted` threads (the caller's included) and returns when all are done.
 * Returns the number of threads that ran it (>= 1). */
int lk_parallel_run(int wanted, lk_task task, void *ctx);

/* Waits until every thread of the team has reached this barrier. */
void lk_team_barrier(lk_team *team);

/* The tid-th of nthreads near-equal parts of [0, total), as [*start, *stop), cut at multiples
 * of align (so that every part but the last runs whole vectors or whole blocks). Inline, so
 * that C code outside this file can use it. */
static inline void lk_split(ptrdiff_t total, int tid, int nthreads, ptrdiff_t align,
                            ptrdiff_t *start, ptrdiff_t *stop)
{
    ptrdiff_t part = (total + nthreads - 1) / nthreads;
    part = (part + align - 1) / align * align;
    *start = tid * part < total ? tid * part : total;
    *stop = *start + part < total ? *start + part : total;
}

/* How many threads a call over `elements` values in `units` independent pieces deserves: one
 * per LK_PARALLEL_GRAIN elements, at most the configured number and the units. Below the grain
 * a thread costs more than it saves (and the setting's lock is not even taken). */
#define LK_PARALLEL_GRAIN ((ptrdiff_t)1 << 17)
int lk_threads_for(ptrdiff_t elements, ptrdiff_t units);


#endif
