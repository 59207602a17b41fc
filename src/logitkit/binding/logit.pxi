
# ---------------------------------------------------------------- logit, and softplus with beta
#
# Elementwise kernels beside the sigmoid family's (binding/sigmoid.pxi): logit, and softplus
# with a beta other than 1 (softplus_beta), which takes one scalar parameter. A thin path for a
# plain array (`*_fast`, None when the general path must run) and a path over contiguous 1-d
# views for the Python layer; both split the work over the pool as sigmoid.pxi does.

cdef enum ParamElementwise:
    LOGIT = 0
    SOFTPLUS_BETA = 1


cdef struct ParamJob:
    const char *x
    char *out
    Py_ssize_t n
    int func
    double param
    bint is_f32


cdef void param_part(const floating *x, floating *out, Py_ssize_t n, int func,
                     double param) noexcept nogil:
    if func == LOGIT:
        if floating is float:
            lk_f32.logit(x, out, n)
        else:
            lk_f64.logit(x, out, n)
    else:
        if floating is float:
            lk_f32.softplus_beta(x, out, n, param)
        else:
            lk_f64.softplus_beta(x, out, n, param)


cdef void param_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef ParamJob *job = <ParamJob *>ctx
    cdef Py_ssize_t lo, hi
    lk_split(job.n, tid, nthreads, 64, &lo, &hi)
    if hi <= lo:
        return
    if job.is_f32:
        param_part(<const float *>job.x + lo, <float *>job.out + lo, hi - lo, job.func,
                   job.param)
    else:
        param_part(<const double *>job.x + lo, <double *>job.out + lo, hi - lo, job.func,
                   job.param)


cdef void run_param(ParamJob *job) noexcept:
    if job.n == 0:
        return
    cdef int nthreads = lk_threads_for(job.n, job.n)
    if job.n <= SMALL_CALL:                 # not worth releasing the GIL
        param_task(job, 0, 1, NULL)
        return
    with nogil:
        lk_parallel_run(nthreads, param_task, job)


cdef object param_fast(object x, object out, int func, double param):
    if not plain_floats(x):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    if out is not None and not writes_plainly(out, a, cnp.PyArray_NDIM(a), True):
        return None
    cdef int type_num = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray result = (<cnp.ndarray>out if out is not None
                               else cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a),
                                                      type_num, 0))
    cdef ParamJob job
    job.n = cnp.PyArray_SIZE(a)
    job.x = <const char *>cnp.PyArray_DATA(a)
    job.out = <char *>cnp.PyArray_DATA(result)
    job.func = func
    job.param = param
    job.is_f32 = type_num == cnp.NPY_FLOAT
    run_param(&job)
    if out is not None:
        return out
    return result if cnp.PyArray_NDIM(result) else result[()]


cdef void param_flat(const floating[::1] x, floating[::1] out, int func, double param) except *:
    cdef ParamJob job
    job.n = x.shape[0]
    if out.shape[0] != job.n:
        raise ValueError("internal error: output has the wrong length")
    if job.n == 0:
        return
    job.x = <const char *>&x[0]
    job.out = <char *>&out[0]
    job.func = func
    job.param = param
    job.is_f32 = floating is float
    run_param(&job)


def logit_fast(object x, object out=None):
    """logit of a plain array, into a new array or a plain `out`; or None when the general path
    must run."""
    return param_fast(x, out, LOGIT, 0.0)


def logit(const floating[::1] x, floating[::1] out):
    """logit over a contiguous 1-d array (x and out may be the same memory)."""
    param_flat(x, out, LOGIT, 0.0)


def softplus_beta_fast(object x, double beta, object out=None):
    """softplus(beta x) / beta of a plain array (beta != 1), or None when the general path must
    run."""
    return param_fast(x, out, SOFTPLUS_BETA, beta)


def softplus_beta(const floating[::1] x, floating[::1] out, double beta):
    """softplus(beta x) / beta over a contiguous 1-d array (x and out may be the same memory)."""
    param_flat(x, out, SOFTPLUS_BETA, beta)
