# The entry points of softmax, log_softmax and logsumexp.

# ---------------------------------------------------------------- entry points

cdef int check_aligned(const void *data, const Py_ssize_t *shape, const Py_ssize_t *strides,
                       int ndim, Py_ssize_t item) except -1:
    """The C loops read and write whole, aligned elements (the Python layer hands them aligned
    arrays only): a view whose data or strides are not is refused."""
    cdef int d
    cdef bint empty = False
    for d in range(ndim):
        empty = empty or shape[d] == 0
        if shape[d] > 1 and strides[d] % item != 0:
            raise ValueError("internal error: strides must be whole elements")
    if not empty and <size_t>data % <size_t>item != 0:
        raise ValueError("internal error: data must be aligned")
    return 0


cdef int check_layout(const floating[:, :, :] x, const floating[:, :, :] out) except -1:
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1] or x.shape[2] != out.shape[2]:
        raise ValueError("internal error: input and output views differ in shape")
    check_aligned(x._data, x.shape, x.strides, 3, item)
    check_aligned(out._data, out.shape, out.strides, 3, item)
    if x.shape[2] == 1:
        if x.shape[1] > 1 and (x.strides[1] != item or out.strides[1] != item):
            raise ValueError("internal error: rows must be contiguous")
    elif x.strides[2] != item or out.strides[2] != item:
        raise ValueError("internal error: columns must be contiguous")
    return 0


def softmax_3d(const floating[:, :, :] x, floating[:, :, :] out, int op, bint masked):
    """softmax (op 0) or log_softmax (op 1) over axis 1 of x, into out (same shape)."""
    check_layout(x, out)
    cdef lk_reduce_job job
    job.outer, job.n, job.inner = x.shape[0], x.shape[1], x.shape[2]
    if job.outer == 0 or job.n == 0 or job.inner == 0:
        return
    job.x = <const char *>&x[0, 0, 0]
    job.xs0, job.xs1 = x.strides[0], x.strides[1]
    job.out = <char *>&out[0, 0, 0]
    job.os0, job.os1 = out.strides[0], out.strides[1]
    job.result = NULL
    job.rs0 = job.rs1 = 0
    job.op = op
    job.masked = masked
    job.is_f32 = floating is float
    with nogil:
        lk_run_reduction(&job)


def logsumexp_3d(const floating[:, :, :] x, floating[:, :] result):
    """logsumexp over axis 1 of x into result[outer, inner]."""
    cdef lk_reduce_job job
    job.outer, job.n, job.inner = x.shape[0], x.shape[1], x.shape[2]
    if result.shape[0] != job.outer or result.shape[1] != job.inner:
        raise ValueError("internal error: result has the wrong shape")
    if job.inner > 1 and job.n > 0 and x.strides[2] != <Py_ssize_t>sizeof(floating):
        raise ValueError("internal error: columns must be contiguous")
    if job.inner == 1 and job.n > 1 and x.strides[1] != <Py_ssize_t>sizeof(floating):
        raise ValueError("internal error: rows must be contiguous")
    check_aligned(x._data, x.shape, x.strides, 3, sizeof(floating))
    check_aligned(result._data, result.shape, result.strides, 2, sizeof(floating))
    if job.outer == 0 or job.inner == 0:
        return
    cdef Py_ssize_t o, j
    if job.n == 0:
        for o in range(job.outer):
            for j in range(job.inner):
                result[o, j] = -INFINITY
        return
    job.x = <const char *>&x[0, 0, 0]
    job.xs0, job.xs1 = x.strides[0], x.strides[1]
    job.out = NULL
    job.os0 = job.os1 = 0
    job.result = <char *>&result[0, 0]
    job.rs0 = result.strides[0] // <Py_ssize_t>sizeof(floating)
    job.rs1 = result.strides[1] // <Py_ssize_t>sizeof(floating)
    job.op = LOGSUMEXP
    job.masked = False
    job.is_f32 = floating is float
    with nogil:
        lk_run_reduction(&job)


# ---------------------------------------------------------------- the thin call path
# The most common call (a plain float32/float64 C-ordered array, last axis, no options) goes
# straight from here to the kernels: asarray, validation and memoryviews are most of the cost
# of a small call. Anything else returns None and takes the general path in _softmax.py.

def rows_fast(object x, object axis, int op, object out=None):
    """softmax / log_softmax (op 0 / 1, result shaped like x) or logsumexp (op 2, the last axis
    reduced) of a plain array over its last axis, into a new array or a plain `out`; or None
    when the general path must run."""
    if type(axis) is not int or not plain_floats(x):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int ndim = cnp.PyArray_NDIM(a)
    if ndim == 0 or (axis != -1 and axis != ndim - 1) or cnp.PyArray_SIZE(a) == 0:
        return None
    cdef int result_ndim = ndim - 1 if op == LOGSUMEXP else ndim
    if out is not None and not writes_plainly(out, a, result_ndim, op != LOGSUMEXP):
        return None
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef int type_num = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray result = (<cnp.ndarray>out if out is not None
                               else cnp.PyArray_EMPTY(result_ndim, dims, type_num, 0))
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(a)
    cdef lk_reduce_job job
    job.n = dims[ndim - 1]
    job.outer = cnp.PyArray_SIZE(a) // job.n
    job.inner = 1
    job.x = <const char *>cnp.PyArray_DATA(a)
    job.xs0 = job.n * item
    job.xs1 = item
    if op == LOGSUMEXP:
        job.out = NULL
        job.os0 = job.os1 = 0
        job.result = <char *>cnp.PyArray_DATA(result)
        job.rs0, job.rs1 = 1, 0
    else:
        job.out = <char *>cnp.PyArray_DATA(result)
        job.os0, job.os1 = job.xs0, item
        job.result = NULL
        job.rs0 = job.rs1 = 0
    job.op = op
    job.masked = False
    job.is_f32 = type_num == cnp.NPY_FLOAT
    if cnp.PyArray_SIZE(a) <= SMALL_CALL:
        lk_run_reduction(&job)
    else:
        with nogil:
            lk_run_reduction(&job)
    if out is not None:
        return out
    return result if cnp.PyArray_NDIM(result) else result[()]


def elementwise_fast(object x, int func, object out=None):
    """The sigmoid family of a plain array, into a new array or a plain `out`; or None when
    the general path must run."""
    if not plain_floats(x):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    if out is not None and not writes_plainly(out, a, cnp.PyArray_NDIM(a), True):
        return None
    cdef int type_num = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray result = (<cnp.ndarray>out if out is not None
                               else cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a),
                                                      type_num, 0))
    cdef ElementJob job
    job.n = cnp.PyArray_SIZE(a)
    job.x = <const char *>cnp.PyArray_DATA(a)
    job.out = <char *>cnp.PyArray_DATA(result)
    job.func = func
    job.is_f32 = type_num == cnp.NPY_FLOAT
    run_elementwise(&job)
    if out is not None:
        return out
    return result if cnp.PyArray_NDIM(result) else result[()]
