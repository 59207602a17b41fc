
# ---------------------------------------------------------------- sparsemax and its backward
#
# C-ordered (rows, n) views; rows are split over the pool in contiguous parts (each row's
# result depends on that row alone, so any thread count gives the same bits). The forward pass
# needs a scratch row of n doubles per thread for its candidates.

cdef struct SparsemaxJob:
    const char *x
    const char *y
    char *out
    Py_ssize_t rows
    Py_ssize_t n
    bint masked
    bint backward
    bint is_f32
    int failed


cdef void sparsemax_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef SparsemaxJob *job = <SparsemaxJob *>ctx
    cdef Py_ssize_t lo, hi
    lk_split(job.rows, tid, nthreads, 1, &lo, &hi)
    if hi <= lo:
        return
    cdef Py_ssize_t at = lo * job.n
    cdef double *scratch
    if job.backward:
        if job.is_f32:
            lk_f32.sparsemax_bwd_rows(<const float *>job.x + at, <const float *>job.y + at,
                                      <float *>job.out + at, hi - lo, job.n)
        else:
            lk_f64.sparsemax_bwd_rows(<const double *>job.x + at, <const double *>job.y + at,
                                      <double *>job.out + at, hi - lo, job.n)
        return
    scratch = <double *>malloc(max(job.n, 1) * sizeof(double))
    if scratch == NULL:
        job.failed = 1
        return
    if job.is_f32:
        lk_f32.sparsemax_rows(<const float *>job.x + at, <float *>job.out + at, hi - lo, job.n,
                              job.masked, scratch)
    else:
        lk_f64.sparsemax_rows(<const double *>job.x + at, <double *>job.out + at, hi - lo,
                              job.n, job.masked, scratch)
    free(scratch)


cdef void run_sparsemax(SparsemaxJob *job) except *:
    if job.rows == 0 or job.n == 0:
        return
    cdef Py_ssize_t size = job.rows * job.n
    cdef int nthreads = lk_threads_for(size, job.rows)
    if size <= SMALL_CALL:
        sparsemax_task(job, 0, 1, NULL)
    else:
        with nogil:
            lk_parallel_run(nthreads, sparsemax_task, job)
    if job.failed:
        raise MemoryError("sparsemax: could not allocate a scratch row")


def sparsemax_rows(const floating[:, ::1] x, floating[:, ::1] out, bint masked):
    """sparsemax of every row of x into out (C-ordered, the same shape)."""
    cdef SparsemaxJob job
    if out.shape[0] != x.shape[0] or out.shape[1] != x.shape[1]:
        raise ValueError("internal error: output has the wrong shape")
    job.rows, job.n = x.shape[0], x.shape[1]
    if job.rows == 0 or job.n == 0:
        return
    job.x = <const char *>&x[0, 0]
    job.y = NULL
    job.out = <char *>&out[0, 0]
    job.masked = masked
    job.backward = False
    job.is_f32 = floating is float
    job.failed = 0
    run_sparsemax(&job)


def sparsemax_bwd_rows(const floating[:, ::1] g, const floating[:, ::1] y,
                       floating[:, ::1] out):
    """The sparsemax vector-Jacobian product of every row (C-ordered, the same shapes)."""
    cdef SparsemaxJob job
    if (out.shape[0] != g.shape[0] or out.shape[1] != g.shape[1] or y.shape[0] != g.shape[0]
            or y.shape[1] != g.shape[1]):
        raise ValueError("internal error: arrays of different shapes")
    job.rows, job.n = g.shape[0], g.shape[1]
    if job.rows == 0 or job.n == 0:
        return
    job.x = <const char *>&g[0, 0]
    job.y = <const char *>&y[0, 0]
    job.out = <char *>&out[0, 0]
    job.masked = False
    job.backward = True
    job.is_f32 = floating is float
    job.failed = 0
    run_sparsemax(&job)
