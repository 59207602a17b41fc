

# ---------------------------------------------------------------- vector-Jacobian products

cdef enum:
    SOFTMAX_BWD = 0
    LOG_SOFTMAX_BWD = 1
    SIGMOID_BWD = 2


cdef struct BackwardJob:
    # one vector-Jacobian product, shared out among threads by rows (sigmoid's: rows of 1)
    const char *g
    const char *y
    char *out
    Py_ssize_t rows, n
    int op
    bint is_f32


cdef void backward_part(const floating *kind, const BackwardJob *job, Py_ssize_t lo,
                        Py_ssize_t hi) noexcept nogil:
    if hi <= lo:
        return
    cdef const floating *g = <const floating *>job.g + lo * job.n
    cdef const floating *y = <const floating *>job.y + lo * job.n
    cdef floating *out = <floating *>job.out + lo * job.n
    if floating is float:
        if job.op == SOFTMAX_BWD:
            lk_f32.softmax_bwd_rows(g, y, out, hi - lo, job.n)
        elif job.op == LOG_SOFTMAX_BWD:
            lk_f32.log_softmax_bwd_rows(g, y, out, hi - lo, job.n)
        else:
            lk_f32.sigmoid_bwd(g, y, out, hi - lo)
    else:
        if job.op == SOFTMAX_BWD:
            lk_f64.softmax_bwd_rows(g, y, out, hi - lo, job.n)
        elif job.op == LOG_SOFTMAX_BWD:
            lk_f64.log_softmax_bwd_rows(g, y, out, hi - lo, job.n)
        else:
            lk_f64.sigmoid_bwd(g, y, out, hi - lo)


cdef void backward_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    """Thread tid's rows, cut at multiples of LK_SHORT_ROWS: the short-row kernels see the very
    blocks of a serial call (results bit-identical), and sigmoid's parts are whole vectors."""
    cdef const BackwardJob *job = <const BackwardJob *>ctx
    cdef Py_ssize_t lo, hi
    lk_split(job.rows, tid, nthreads, LK_SHORT_ROWS, &lo, &hi)
    if job.is_f32:
        backward_part(<const float *>NULL, job, lo, hi)
    else:
        backward_part(<const double *>NULL, job, lo, hi)


cdef void run_backward(const floating *g, const floating *y, floating *out, Py_ssize_t rows,
                       Py_ssize_t n, int op) noexcept nogil:
    cdef BackwardJob job
    job.g = <const char *>g
    job.y = <const char *>y
    job.out = <char *>out
    job.rows = rows
    job.n = n
    job.op = op
    job.is_f32 = floating is float
    lk_parallel_run(lk_threads_for(rows * n, rows), backward_task, &job)


def softmax_backward_rows(const floating[:, ::1] g, const floating[:, ::1] y,
                          floating[:, ::1] out):
    """out = y * (g - sum(g * y)) per row (softmax_bwd_rows, csrc/kernels/backward-inl.h)."""
    cdef Py_ssize_t rows = g.shape[0], n = g.shape[1]
    if rows == 0 or n == 0:
        return
    if y.shape[0] != rows or y.shape[1] != n or out.shape[0] != rows or out.shape[1] != n:
        raise ValueError("internal error: shapes differ")
    with nogil:
        run_backward(&g[0, 0], &y[0, 0], &out[0, 0], rows, n, SOFTMAX_BWD)


def log_softmax_backward_rows(const floating[:, ::1] g, const floating[:, ::1] y,
                              floating[:, ::1] out):
    """out = g - exp(y) * sum(g) per row (log_softmax_bwd_rows, csrc/kernels/backward-inl.h)."""
    cdef Py_ssize_t rows = g.shape[0], n = g.shape[1]
    if rows == 0 or n == 0:
        return
    if y.shape[0] != rows or y.shape[1] != n or out.shape[0] != rows or out.shape[1] != n:
        raise ValueError("internal error: shapes differ")
    with nogil:
        run_backward(&g[0, 0], &y[0, 0], &out[0, 0], rows, n, LOG_SOFTMAX_BWD)


def sigmoid_backward_flat(const floating[::1] g, const floating[::1] y, floating[::1] out):
    """out = g * y * (1 - y)."""
    cdef Py_ssize_t n = g.shape[0]
    if n == 0:
        return
    if y.shape[0] != n or out.shape[0] != n:
        raise ValueError("internal error: shapes differ")
    with nogil:
        run_backward(&g[0], &y[0], &out[0], n, 1, SIGMOID_BWD)


# ---------------------------------------------------------------- the thin call path

# the kinds of vjp_fast, for the Python layer
VJP_SOFTMAX, VJP_LOG_SOFTMAX, VJP_SIGMOID = SOFTMAX_BWD, LOG_SOFTMAX_BWD, SIGMOID_BWD

cdef inline bint plain_pair(object g, object y) noexcept:
    """Two arrays the kernels can read as they are: plain (see binding/arrays.pxi), of one dtype and
    one shape, at least 1-d."""
    if not plain_floats(g) or not plain_floats(y):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>g, b = <cnp.ndarray>y
    cdef int ndim = cnp.PyArray_NDIM(a), d
    if ndim == 0 or cnp.PyArray_NDIM(b) != ndim or cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(b):
        return False
    for d in range(ndim):
        if cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]:
            return False
    return True


def vjp_fast(object g, object y, object axis, int op, object out=None):
    """softmax_backward / log_softmax_backward (op VJP_SOFTMAX / VJP_LOG_SOFTMAX, over the
    last axis) or sigmoid_backward (VJP_SIGMOID, elementwise; axis unused) of two plain arrays
    alike, into a new array or a plain `out` clear of both (the kernels may read an input
    after writing out: no in-place); or None when the general path must run."""
    if not plain_pair(g, y):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>g, b = <cnp.ndarray>y
    cdef int ndim = cnp.PyArray_NDIM(a)
    if op != SIGMOID_BWD and (type(axis) is not int or (axis != -1 and axis != ndim - 1)):
        return None
    if out is not None and not (writes_plainly(out, a, ndim, False)
                                and writes_plainly(out, b, ndim, False)):
        return None
    cdef int type_num = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray result = (<cnp.ndarray>out if out is not None
                               else cnp.PyArray_EMPTY(ndim, cnp.PyArray_DIMS(a), type_num, 0))
    cdef Py_ssize_t size = cnp.PyArray_SIZE(a)
    cdef Py_ssize_t n = 1 if op == SIGMOID_BWD else cnp.PyArray_DIMS(a)[ndim - 1]
    if size == 0:
        return result
    cdef const void *gp = cnp.PyArray_DATA(a)
    cdef const void *yp = cnp.PyArray_DATA(b)
    cdef void *rp = cnp.PyArray_DATA(result)
    if size <= SMALL_CALL:
        run_backward_of(type_num == cnp.NPY_FLOAT, gp, yp, rp, size // n, n, op)
    else:
        with nogil:
            run_backward_of(type_num == cnp.NPY_FLOAT, gp, yp, rp, size // n, n, op)
    return result


cdef inline void run_backward_of(bint is_f32, const void *g, const void *y, void *out,
                                 Py_ssize_t rows, Py_ssize_t n, int op) noexcept nogil:
    """run_backward on untyped data: float32 where is_f32, else float64"""
    if is_f32:
        run_backward(<const float *>g, <const float *>y, <float *>out, rows, n, op)
    else:
        run_backward(<const double *>g, <const double *>y, <double *>out, rows, n, op)
