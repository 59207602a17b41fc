# The entry point of entropy and kl_divergence: rows of logits (one row, or a pair of rows, per
# result), shared out among the pool's threads by whole rows. The rows' algorithm is C
# (csrc/kernels/entropy-inl.h).

cdef struct InformationJob:
    const char *x
    const char *b           # kl_divergence's q logits, or NULL for entropy
    char *result
    Py_ssize_t xs, bs, rs   # in elements
    Py_ssize_t rows, n
    int masked
    bint is_f32


cdef void information_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef const InformationJob *job = <const InformationJob *>ctx
    cdef Py_ssize_t first, stop
    lk_split(job.rows, tid, nthreads, 1, &first, &stop)
    if first >= stop:
        return
    if job.is_f32:
        lk_f32.information_rows(<const float *>job.x, job.xs, <const float *>job.b, job.bs,
                                job.n, first, stop, job.masked, <float *>job.result, job.rs)
    else:
        lk_f64.information_rows(<const double *>job.x, job.xs, <const double *>job.b, job.bs,
                                job.n, first, stop, job.masked, <double *>job.result, job.rs)


def information_rows(const floating[:, :] x, const floating[:, :] b, floating[:] result,
                     bint masked):
    """entropy of softmax(x[r]) (b of shape (0, 0)) or KL(softmax(x[r]) || softmax(b[r])) of
    each row into result[r]. Rows of n > 0 contiguous elements; masked: an all -inf row was
    emptied by where= (0) rather than undefined (NaN)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], item = <Py_ssize_t>sizeof(floating)
    cdef bint pair = b.shape[0] != 0
    if result.shape[0] != rows or (pair and (b.shape[0] != rows or b.shape[1] != n)):
        raise ValueError("internal error: shapes differ")
    if n > 1 and (x.strides[1] != item or (pair and b.strides[1] != item)):
        raise ValueError("internal error: rows must be contiguous")
    check_aligned(x._data, x.shape, x.strides, 2, item)
    check_aligned(result._data, result.shape, result.strides, 1, item)
    if pair:
        check_aligned(b._data, b.shape, b.strides, 2, item)
    cdef Py_ssize_t r
    if rows == 0:
        return
    if n == 0:                  # an empty distribution: no information, no divergence
        for r in range(rows):
            result[r] = 0.0
        return
    cdef InformationJob job
    job.x = <const char *>&x[0, 0]
    job.xs = x.strides[0] // item
    job.b = <const char *>&b[0, 0] if pair else NULL
    job.bs = b.strides[0] // item if pair else 0
    job.result = <char *>&result[0]
    job.rs = result.strides[0] // item
    job.rows, job.n = rows, n
    job.masked = masked
    job.is_f32 = floating is float
    cdef Py_ssize_t work = rows * n * (2 if pair else 1)
    if work <= SMALL_CALL:
        information_task(&job, 0, 1, NULL)
    else:
        with nogil:
            lk_parallel_run(lk_threads_for(work, rows), information_task, &job)
