# sample over C-contiguous rows: draws from the restricted softmax by the inverse CDF of the
# uniforms given (csrc/kernels/sample-inl.h), whole rows shared out among the pool's threads,
# the GIL released. The uniforms come from Python's Generator, so the draws are the same for
# any number of threads.

cdef void sample_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef const lk_select_job *job = <const lk_select_job *>ctx
    cdef Py_ssize_t first, stop
    lk_split(job.rows, tid, nthreads, 1, &first, &stop)
    if job.is_f32:
        lk_f32.sample_rows(job, first, stop)
    else:
        lk_f64.sample_rows(job, first, stop)


def sample_rows(const floating[:, ::1] x, double temperature, Py_ssize_t top_k, double top_p,
                double min_p, const double[:, ::1] uniforms, int64_t[:, ::1] draws,
                int8_t[::1] status):
    """uniforms.shape[1] draws from each row of x (n >= 1) into draws; top_k 0 for none,
    top_p 1 for none, min_p 0 for none, temperature 0 for the first maximum. status[row] gets
    LK_ROW_* (a row with NaN, +inf or only -inf has no draws)."""
    cdef lk_select_job job
    job.rows, job.n = x.shape[0], x.shape[1]
    job.size = uniforms.shape[1]
    if (uniforms.shape[0] != job.rows or draws.shape[0] != job.rows
            or draws.shape[1] != job.size or status.shape[0] != job.rows):
        raise ValueError("internal error: sample arrays have the wrong shape")
    if job.n == 0 or not (temperature >= 0.0 and top_k >= 0 and 0.0 < top_p <= 1.0
                          and 0.0 <= min_p <= 1.0):
        raise ValueError("internal error: sample arguments out of range")
    if job.rows == 0:
        return
    job.x = <const char *>&x[0, 0]
    job.xs = x.strides[0]
    job.temperature = temperature
    job.top_k = top_k
    job.top_p = top_p
    job.min_p = min_p
    job.uniforms = &uniforms[0, 0] if job.size else NULL
    job.draws = &draws[0, 0] if job.size else NULL
    job.status = &status[0]
    job.is_f32 = floating is float
    with nogil:
        lk_parallel_run(lk_threads_for(job.rows * job.n, job.rows), sample_task, &job)
