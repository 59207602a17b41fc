/* Fork-join threads for the kernels: see _parallel.h for the design. */
#include "_parallel.h"

#include <stdlib.h>

#if defined(_WIN32)
#include <windows.h>
typedef SRWLOCK lk_mutex;
typedef CONDITION_VARIABLE lk_cond;
typedef HANDLE lk_thread;
#define LK_MUTEX_INIT SRWLOCK_INIT
static void mutex_init(lk_mutex *m) { InitializeSRWLock(m); }
static void mutex_lock(lk_mutex *m) { AcquireSRWLockExclusive(m); }
static void mutex_unlock(lk_mutex *m) { ReleaseSRWLockExclusive(m); }
static void mutex_destroy(lk_mutex *m) { (void)m; }
static void cond_init(lk_cond *c) { InitializeConditionVariable(c); }
static void cond_wait(lk_cond *c, lk_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static void cond_broadcast(lk_cond *c) { WakeAllConditionVariable(c); }
static void cond_destroy(lk_cond *c) { (void)c; }
static DWORD WINAPI worker_main(LPVOID arg);
static int thread_start(lk_thread *t, void *arg)
{
    *t = CreateThread(NULL, 0, worker_main, arg, 0, NULL);
    return *t != NULL;
}
static void thread_join(lk_thread t)
{
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
#else
#include <pthread.h>
typedef pthread_mutex_t lk_mutex;
typedef pthread_cond_t lk_cond;
typedef pthread_t lk_thread;
#define LK_MUTEX_INIT PTHREAD_MUTEX_INITIALIZER
static void mutex_init(lk_mutex *m) { pthread_mutex_init(m, NULL); }
static void mutex_lock(lk_mutex *m) { pthread_mutex_lock(m); }
static void mutex_unlock(lk_mutex *m) { pthread_mutex_unlock(m); }
static void mutex_destroy(lk_mutex *m) { pthread_mutex_destroy(m); }
static void cond_init(lk_cond *c) { pthread_cond_init(c, NULL); }
static void cond_wait(lk_cond *c, lk_mutex *m) { pthread_cond_wait(c, m); }
static void cond_broadcast(lk_cond *c) { pthread_cond_broadcast(c); }
static void cond_destroy(lk_cond *c) { pthread_cond_destroy(c); }
static void *worker_main(void *arg);
static int thread_start(lk_thread *t, void *arg)
{
    return pthread_create(t, NULL, worker_main, arg) == 0;
}
static void thread_join(lk_thread t) { pthread_join(t, NULL); }
#endif

struct lk_team {
    lk_mutex lock;
    lk_cond cond;
    int nthreads;       /* fixed before any thread runs the task */
    int started;        /* helpers wait for this gate, so a failed start changes nothing */
    int arrived;        /* barrier: threads waiting in this generation */
    unsigned generation;
    lk_task task;
    void *ctx;
};

typedef struct {
    lk_team *team;
    int tid;
    lk_thread handle;
} lk_worker;

/* ---- the budget of helper threads shared by all concurrent calls ---- */

static lk_mutex budget_lock = LK_MUTEX_INIT;
static int num_threads = 1;
static int helpers_busy = 0;

#if !defined(_WIN32)
/* A fork while another thread held the budget lock would leave it locked in the child. */
static void reset_after_fork(void)
{
    mutex_init(&budget_lock);
    helpers_busy = 0;
}
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, reset_after_fork); }
#endif

void lk_set_num_threads(int n)
{
#if !defined(_WIN32)
    pthread_once(&atfork_once, register_atfork);
#endif
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

static int take_helpers(int wanted)
{
    mutex_lock(&budget_lock);
    int free_helpers = num_threads - 1 - helpers_busy;
    int granted = wanted < free_helpers ? wanted : free_helpers;
    if (granted < 0) granted = 0;
    helpers_busy += granted;
    mutex_unlock(&budget_lock);
    return granted;
}

static void give_back_helpers(int count)
{
    mutex_lock(&budget_lock);
    helpers_busy -= count;
    mutex_unlock(&budget_lock);
}

/* ---- the team ---- */

void lk_team_barrier(lk_team *team)
{
    if (team == NULL || team->nthreads == 1) return;
    mutex_lock(&team->lock);
    unsigned generation = team->generation;
    if (++team->arrived == team->nthreads) {
        team->arrived = 0;
        team->generation++;
        cond_broadcast(&team->cond);
    } else {
        while (generation == team->generation) cond_wait(&team->cond, &team->lock);
    }
    mutex_unlock(&team->lock);
}

#if defined(_WIN32)
static DWORD WINAPI worker_main(LPVOID arg)
#else
static void *worker_main(void *arg)
#endif
{
    lk_worker *w = (lk_worker *)arg;
    lk_team *team = w->team;
    mutex_lock(&team->lock);
    while (!team->started) cond_wait(&team->cond, &team->lock);
    mutex_unlock(&team->lock);
    team->task(team->ctx, w->tid, team->nthreads, team);
    return 0;
}

int lk_parallel_run(int wanted, lk_task task, void *ctx)
{
    int helpers = wanted > 1 ? take_helpers(wanted - 1) : 0;
    lk_worker *workers = helpers ? (lk_worker *)malloc(sizeof(lk_worker) * (size_t)helpers) : NULL;
    if (workers == NULL && helpers) {
        give_back_helpers(helpers);
        helpers = 0;
    }
    if (helpers == 0) {
        task(ctx, 0, 1, NULL);
        return 1;
    }
    lk_team team;
    mutex_init(&team.lock);
    cond_init(&team.cond);
    team.started = 0;
    team.arrived = 0;
    team.generation = 0;
    team.task = task;
    team.ctx = ctx;
    int running = 0;
    for (int i = 0; i < helpers; i++) {
        workers[running].team = &team;
        workers[running].tid = running + 1;
        if (thread_start(&workers[running].handle, &workers[running])) running++;
    }
    mutex_lock(&team.lock);
    team.nthreads = running + 1;
    team.started = 1;
    cond_broadcast(&team.cond);
    mutex_unlock(&team.lock);

    task(ctx, 0, running + 1, &team);

    for (int i = 0; i < running; i++) thread_join(workers[i].handle);
    give_back_helpers(helpers);
    free(workers);
    cond_destroy(&team.cond);
    mutex_destroy(&team.lock);
    return running + 1;
}
