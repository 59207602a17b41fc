

# ---------------------------------------------------------------- the sigmoid family, a call

cdef struct ElementJob:
    const char *x
    char *out
    Py_ssize_t n
    int func
    bint is_f32


cdef void element_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef ElementJob *job = <ElementJob *>ctx
    cdef Py_ssize_t lo, hi
    lk_split(job.n, tid, nthreads, 64, &lo, &hi)
    if hi <= lo:
        return
    if job.is_f32:
        elementwise_part(<const float *>job.x + lo, <float *>job.out + lo, hi - lo, job.func)
    else:
        elementwise_part(<const double *>job.x + lo, <double *>job.out + lo, hi - lo, job.func)


cdef void elementwise_part(const floating *x, floating *out, Py_ssize_t n,
                           int func) noexcept nogil:
    if func == SIGMOID:
        if floating is float:
            lk_f32.sigmoid(x, out, n)
        else:
            lk_f64.sigmoid(x, out, n)
    elif func == SIGMOID_DERIVATIVE:
        if floating is float:
            lk_f32.sigmoid_derivative(x, out, n)
        else:
            lk_f64.sigmoid_derivative(x, out, n)
    elif func == LOG_SIGMOID:
        if floating is float:
            lk_f32.log_sigmoid(x, out, n)
        else:
            lk_f64.log_sigmoid(x, out, n)
    else:
        if floating is float:
            lk_f32.softplus(x, out, n)
        else:
            lk_f64.softplus(x, out, n)


def elementwise(const floating[::1] x, floating[::1] out, int func):
    """The sigmoid family over a contiguous 1-d array (x and out may be the same memory)."""
    cdef ElementJob job
    job.n = x.shape[0]
    if out.shape[0] != job.n:
        raise ValueError("internal error: output has the wrong length")
    if job.n == 0:
        return
    job.x = <const char *>&x[0]
    job.out = <char *>&out[0]
    job.func = func
    job.is_f32 = floating is float
    run_elementwise(&job)


cdef void run_elementwise(ElementJob *job) noexcept:
    if job.n == 0:
        return
    cdef int nthreads = lk_threads_for(job.n, job.n)
    if job.n <= SMALL_CALL:                 # not worth releasing the GIL
        element_task(job, 0, 1, NULL)
        return
    with nogil:
        lk_parallel_run(nthreads, element_task, job)
