# Declarations of the fork-join threads (_parallel.h / _parallel.c).

cdef extern from "_parallel.h" nogil:
    ctypedef struct lk_team:
        pass
    ctypedef void (*lk_task)(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil
    void lk_set_num_threads(int n)
    int lk_get_num_threads()
    int lk_parallel_run(int wanted, lk_task task, void *ctx)
    void lk_team_barrier(lk_team *team)
    int lk_threads_for(Py_ssize_t elements, Py_ssize_t units)
    void lk_split(Py_ssize_t total, int tid, int nthreads, Py_ssize_t align,
                  Py_ssize_t *start, Py_ssize_t *stop)
    ctypedef struct lk_pool_api:
        int (*parallel_run)(int wanted, lk_task task, void *ctx) noexcept nogil
        int (*threads_for)(Py_ssize_t elements, Py_ssize_t units) noexcept nogil
    const lk_pool_api lk_pool
