/* Fork-join threads for the kernels: see parallel.h for the design. */
#include "parallel.h"

#include <stdlib.h>

#if defined(_WIN32)
#include <windows.h>
typedef SRWLOCK lk_mutex;
typedef CONDITION_VARIABLE lk_cond;
#define LK_MUTEX_INIT SRWLOCK_INIT
static void mutex_init(lk_mutex *m) { InitializeSRWLock(m); }
static void mutex_lock(lk_mutex *m) { AcquireSRWLockExclusive(m); }
static void mutex_unlock(lk_mutex *m) { ReleaseSRWLockExclusive(m); }
static void mutex_destroy(lk_mutex *m) { (void)m; }
static void cond_init(lk_cond *c) { InitializeConditionVariable(c); }
static void cond_wait(lk_cond *c, lk_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void cond_broadcast(lk_cond *c) { WakeAllConditionVariable(c); }
static void cond_destroy(lk_cond *c) { (void)c; }
static DWORD WINAPI helper_main(LPVOID arg);
static int thread_start_detached(void *arg)
{
    HANDLE t = CreateThread(NULL, 0, helper_main, arg, 0, NULL);
    if (t == NULL) return 0;
    CloseHandle(t);
    return 1;
}
static double now_us(void)
{
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart * 1e6 / (double)frequency.QuadPart;
}
#else
#include <pthread.h>
#include <signal.h>
#include <time.h>
typedef pthread_mutex_t lk_mutex;
typedef pthread_cond_t lk_cond;
#define LK_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static void mutex_init(lk_mutex *m) { pthread_mutex_init(m, NULL); }
static void mutex_lock(lk_mutex *m) { pthread_mutex_lock(m); }
static void mutex_unlock(lk_mutex *m) { pthread_mutex_unlock(m); }
static void mutex_destroy(lk_mutex *m) { pthread_mutex_destroy(m); }
static void cond_init(lk_cond *c) { pthread_cond_init(c, NULL); }
static void cond_wait(lk_cond *c, lk_mutex *m) { pthread_cond_wait(c, m); }
static void cond_broadcast(lk_cond *c) { pthread_cond_broadcast(c); }
static void cond_destroy(lk_cond *c) { pthread_cond_destroy(c); }
static void *helper_main(void *arg);
/* Helpers start with every signal blocked, so the process's signals (SIGINT for Python's
 * KeyboardInterrupt) keep going to the user's threads. */
static int thread_start_detached(void *arg)
{
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&t, &attr, helper_main, arg) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &before, NULL);
    return ok;
}
static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}
#endif

/* Shared counters: written by one thread, read by others while they spin. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
typedef volatile long lk_counter;
static long load_acquire(lk_counter *p) { return _InterlockedOr(p, 0); }
static void store_release(lk_counter *p, long v) { _InterlockedExchange(p, v); }
static long add_fetch(lk_counter *p, long v) { return _InterlockedExchangeAdd(p, v) + v; }
#else
typedef long lk_counter;
static long load_acquire(lk_counter *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_release(lk_counter *p, long v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static long add_fetch(lk_counter *p, long v) { return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
static void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
static void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static void cpu_relax(void) { }
#endif

/* The spin bound, in us (lk_set_spin_us). The default is long enough for the next call of a
 * loop (the Python between two calls takes a few us), short enough that an idle helper leaves
 * its core to the user's own threads almost at once. */
static lk_counter spin_us = LK_DEFAULT_SPIN_US;

void lk_set_spin_us(int us)
{
    if (us < 0) us = 0;
    if (us > LK_MAX_SPIN_US) us = LK_MAX_SPIN_US;
    store_release(&spin_us, us);
}

int lk_get_spin_us(void) { return (int)load_acquire(&spin_us); }

/* Spins while *counter == value, for up to the spin bound; returns whether it changed. */
static int spin_while_equal(lk_counter *counter, long value)
{
    long bound = load_acquire(&spin_us);
    if (bound <= 0) return load_acquire(counter) != value;
    double deadline = 0.0;
    for (unsigned round = 1;; round++) {
        if (load_acquire(counter) != value) return 1;
        cpu_relax();
        if (round % 64 == 0) {
            double t = now_us();
            if (deadline == 0.0) deadline = t + (double)bound;
            else if (t > deadline) return 0;
        }
    }
}

/* Waits until *counter != value: spins first, then sleeps on cond (whoever changes the counter
 * broadcasts cond under lock afterwards, so the wake-up cannot be lost). */
static void wait_while_equal(lk_counter *counter, long value, lk_mutex *lock, lk_cond *cond)
{
    if (spin_while_equal(counter, value)) return;
    mutex_lock(lock);
    while (load_acquire(counter) == value) cond_wait(cond, lock);
    mutex_unlock(lock);
}

static void change_and_wake(lk_counter *counter, long value, lk_mutex *lock, lk_cond *cond)
{
    mutex_lock(lock);
    store_release(counter, value);
    cond_broadcast(cond);
    mutex_unlock(lock);
}

struct lk_team {
    lk_mutex lock;
    lk_cond cond;
    int nthreads;
    lk_counter arrived;     /* barrier: threads waiting in this generation */
    lk_counter generation;
    lk_task task;
    void *ctx;
};

/* A kept helper thread. posted and finished count the calls handed to it and done by it; the
 * caller that takes the helper (busy, under budget_lock) writes team and tid, then posts. */
typedef struct {
    lk_mutex lock;
    lk_cond cond;
    lk_counter posted;
    lk_counter finished;
    lk_team *team;
    int tid;
    int busy;
} lk_helper;

#define LK_MAX_HELPERS 255

/* ---- the pool and the budget of helpers shared by all concurrent calls ---- */

static lk_mutex budget_lock = LK_MUTEX_INIT;
static int num_threads = 1;
static int helpers_busy = 0;
static lk_helper *pool[LK_MAX_HELPERS];
static int pool_size = 0;

#if !defined(_WIN32)
/* The child of a fork has none of the helpers (only the forking thread survives): it forgets
 * them and starts its own. The lock is held across the fork so the pool is consistent. */
static void before_fork(void) { mutex_lock(&budget_lock); }
static void after_fork_parent(void) { mutex_unlock(&budget_lock); }
static void after_fork_child(void)
{
    mutex_init(&budget_lock);
    for (int i = 0; i < pool_size; i++) free(pool[i]);
    pool_size = 0;
    helpers_busy = 0;
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }
static void watch_forks(void) { pthread_once(&atfork_once, register_atfork); }
#else
static void watch_forks(void) { }
#endif

void lk_set_num_threads(int n)
{
    watch_forks();
    mutex_lock(&budget_lock);
    num_threads = n < 1 ? 1 : n;
    mutex_unlock(&budget_lock);
}

int lk_get_num_threads(void)
{
    mutex_lock(&budget_lock);
    int n = num_threads;
    mutex_unlock(&budget_lock);
    return n;
}

/* Clamped rather than refused: a C caller has no way to see an error, and threadpoolctl only
 * ever passes counts it read from here or a positive limit. */
int logitkit_get_num_threads(void) { return lk_get_num_threads(); }

void logitkit_set_num_threads(int n)
{
    lk_set_num_threads(n > LK_MAX_HELPERS + 1 ? LK_MAX_HELPERS + 1 : n);
}

#if defined(_WIN32)
static DWORD WINAPI helper_main(LPVOID arg)
#else
static void *helper_main(void *arg)
#endif
{
    lk_helper *h = (lk_helper *)arg;
    for (long done = 0;; ) {
        wait_while_equal(&h->posted, done, &h->lock, &h->cond);
        lk_team *team = h->team;
        team->task(team->ctx, h->tid, team->nthreads, team);
        change_and_wake(&h->finished, ++done, &h->lock, &h->cond);
    }
    return 0;
}

static lk_helper *start_helper(void)
{
    lk_helper *h = (lk_helper *)calloc(1, sizeof(lk_helper));
    if (h == NULL) return NULL;
    mutex_init(&h->lock);
    cond_init(&h->cond);
    if (!thread_start_detached(h)) {
        cond_destroy(&h->cond);
        mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

/* Up to `wanted` idle helpers, within the budget; starts new ones while the pool is short. */
static int take_helpers(int wanted, lk_helper **taken)
{
    watch_forks();
    mutex_lock(&budget_lock);
    int allowed = num_threads - 1 - helpers_busy;
    if (wanted > allowed) wanted = allowed;
    int count = 0;
    for (int i = 0; i < pool_size && count < wanted; i++)
        if (!pool[i]->busy) taken[count++] = pool[i];
    while (count < wanted && pool_size < LK_MAX_HELPERS) {
        lk_helper *h = start_helper();
        if (h == NULL) break;
        pool[pool_size++] = h;
        taken[count++] = h;
    }
    for (int i = 0; i < count; i++) taken[i]->busy = 1;
    helpers_busy += count;
    mutex_unlock(&budget_lock);
    return count;
}

static void give_back_helpers(lk_helper **taken, int count)
{
    mutex_lock(&budget_lock);
    for (int i = 0; i < count; i++) taken[i]->busy = 0;
    helpers_busy -= count;
    mutex_unlock(&budget_lock);
}

/* ---- the team ---- */

void lk_team_barrier(lk_team *team)
{
    if (team == NULL || team->nthreads == 1) return;
    long generation = load_acquire(&team->generation);
    if (add_fetch(&team->arrived, 1) == team->nthreads) {
        store_release(&team->arrived, 0);
        change_and_wake(&team->generation, generation + 1, &team->lock, &team->cond);
    } else {
        wait_while_equal(&team->generation, generation, &team->lock, &team->cond);
    }
}

int lk_parallel_run(int wanted, lk_task task, void *ctx)
{
    lk_helper *helpers[LK_MAX_HELPERS];
    if (wanted > LK_MAX_HELPERS + 1) wanted = LK_MAX_HELPERS + 1;
    int count = wanted > 1 ? take_helpers(wanted - 1, helpers) : 0;
    if (count == 0) {
        task(ctx, 0, 1, NULL);
        return 1;
    }
    lk_team team;
    mutex_init(&team.lock);
    cond_init(&team.cond);
    team.nthreads = count + 1;
    team.arrived = 0;
    team.generation = 0;
    team.task = task;
    team.ctx = ctx;
    for (int i = 0; i < count; i++) {
        lk_helper *h = helpers[i];
        h->team = &team;
        h->tid = i + 1;
        change_and_wake(&h->posted, h->posted + 1, &h->lock, &h->cond);
    }

    task(ctx, 0, count + 1, &team);

    /* The team lives on this stack: every helper must be done with it before it goes. */
    for (int i = 0; i < count; i++) {
        lk_helper *h = helpers[i];
        wait_while_equal(&h->finished, h->posted - 1, &h->lock, &h->cond);
    }
    give_back_helpers(helpers, count);
    cond_destroy(&team.cond);
    mutex_destroy(&team.lock);
    return count + 1;
}

int lk_threads_for(ptrdiff_t elements, ptrdiff_t units)
{
    ptrdiff_t wanted = elements / LK_PARALLEL_GRAIN;
    if (wanted < 2) return 1;
    int limit = lk_get_num_threads();
    if (wanted > limit) wanted = limit;
    if (wanted > units) wanted = units;
    return wanted > 1 ? (int)wanted : 1;
}

