# top_k over C-contiguous rows: the k first classes of each row (csrc/kernels/top_k-inl.h),
# whole rows shared out among the pool's threads, the GIL released.

cdef void top_k_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef const lk_select_job *job = <const lk_select_job *>ctx
    cdef Py_ssize_t first, stop
    lk_split(job.rows, tid, nthreads, 1, &first, &stop)
    if job.is_f32:
        lk_f32.top_k_rows(job, first, stop)
    else:
        lk_f64.top_k_rows(job, first, stop)


def top_k_rows(const floating[:, ::1] x, Py_ssize_t k, bint sorted, floating[:, ::1] values,
               int64_t[:, ::1] indices, int8_t[::1] status):
    """The k first of each row of x (1 <= k <= n) into values and indices (rows x k), in rank
    order when sorted; status[row] is set where a row's scratch memory could not be had."""
    cdef lk_select_job job
    job.rows, job.n = x.shape[0], x.shape[1]
    if (values.shape[0] != job.rows or indices.shape[0] != job.rows
            or values.shape[1] != k or indices.shape[1] != k or status.shape[0] != job.rows):
        raise ValueError("internal error: top_k results have the wrong shape")
    if not 0 <= k <= job.n:
        raise ValueError("internal error: k out of range")
    if job.rows == 0 or k == 0:
        return
    job.x = <const char *>&x[0, 0]
    job.xs = x.strides[0]
    job.k = k
    job.sorted = sorted
    job.values = <char *>&values[0, 0]
    job.indices = &indices[0, 0]
    job.status = &status[0]
    job.is_f32 = floating is float
    with nogil:
        lk_parallel_run(lk_threads_for(job.rows * job.n, job.rows), top_k_task, &job)
