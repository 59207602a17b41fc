# Design:
# - The Python layer (_api.py) validates arguments and hands every call to one function here, as
#   a 3-d view (outer, n, inner) of the input: the reduction runs over n. Either inner == 1 and
#   each row is contiguous ("rows"), or inner > 1 and the inner axis is contiguous ("columns",
#   a reduction over a non-last axis, vectorised across columns: no transposed copy). The outer
#   and n strides are arbitrary, so a whole call is one trip into the extension whatever the axis.
# - Loops over contiguous memory live in C (_simd_body.h), compiled per instruction set and
#   reached through a function table (_simd.c); the per-row numerics (special values here, the
#   double-double reciprocal and log1p of the non-max terms in _double_double.pxd, shared with
#   _losses.pyx) run once per row or column.
# - One generic kernel per operation over Cython's `floating` fused type; float32 data is
#   computed in double and rounded once.
# - All helpers are `noexcept nogil`: the GIL is released for the whole computation.
# Directives (boundscheck, wraparound, cdivision) are set once in setup.py.

cimport cython
from cython cimport floating
cimport numpy as cnp
from libc.limits cimport INT_MIN
from libc.math cimport INFINITY, NAN, exp, fabs, floor, fmax, frexp, ldexp
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport Py_INCREF

from logitkit._double_double cimport (add_log, log_of_scaled_sum, log_of_sum, reciprocal,
                                      two_sum)
from logitkit._plain cimport plain_floats, writes_plainly
from logitkit._parallel cimport (lk_get_num_threads, lk_parallel_run, lk_pool,
                                 lk_set_num_threads, lk_split, lk_team, lk_team_barrier,
                                 lk_threads_for)
from logitkit._simd cimport (LK_ISA_COUNT, LK_SHORT_N, LK_SHORT_ROWS, isa_index,
                             lk_active_isa, lk_f32, lk_f64, lk_isa_name, lk_isa_supported,
                             lk_select_isa, lk_short_rows_f32, lk_short_rows_f64, lk_sum)

cnp.import_array()

cdef extern from "_dd_exp.h" nogil:
    # scalar double-double logsumexp, for float64 slices where m + log(sum) cancels
    double lk_dd_logsumexp(const double *x, Py_ssize_t n, Py_ssize_t step, double m)

cdef extern from "numpy/arrayobject.h":
    # steals a reference to descr
    object PyArray_NewFromDescr(type subtype, cnp.dtype descr, int nd, cnp.npy_intp *dims,
                                cnp.npy_intp *strides, void *data, int flags, object obj)

cdef enum Reduction:
    SOFTMAX = 0
    LOG_SOFTMAX = 1
    LOGSUMEXP = 2

cdef enum Elementwise:
    SIGMOID = 0
    SIGMOID_DERIVATIVE = 1
    LOG_SIGMOID = 2
    SOFTPLUS = 3

cdef enum:
    # rows up to this size run two at a time (reduce_row_pair): both rows' input and output
    # stay in L1/L2 while the passes alternate between them
    PAIRED_ROW_BYTES = 1 << 12
    # columns handled per block by the non-last-axis kernels (state arrays of this many doubles)
    COLUMN_BLOCK = 512
    # threads one call may use (its arrays of partial results are this long)
    MAX_THREADS = 256
    # calls this small keep the GIL: releasing it costs more than the work
    SMALL_CALL = 256



# ---------------------------------------------------------------- instruction-set dispatch

def simd_paths():
    """Names of the code paths this build can run on this CPU, slowest first."""
    return [lk_isa_name(i).decode() for i in range(LK_ISA_COUNT) if lk_isa_supported(i)]


def simd_path():
    """Name of the active code path."""
    return lk_isa_name(lk_active_isa()).decode()


def select_simd_path(str name):
    """Switch every kernel to the named path. Not thread-safe: for start-up and tests."""
    if lk_select_isa(isa_index(name)) != 0:
        raise ValueError(f"SIMD path {name!r} is not supported on this CPU; "
                         f"available: {simd_paths()}")


# ---------------------------------------------------------------- per-row numerics

cdef inline void add_to(lk_sum *acc, double v) noexcept nogil:
    """acc.hi + acc.lo += v, compensated."""
    cdef double err
    two_sum(acc.hi, v, &acc.hi, &err)
    acc.lo += err


cdef inline void fill(floating *out, Py_ssize_t n, Py_ssize_t stride, double value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i * stride] = <floating>value


cdef inline bint special_slice(double m, bint has_nan, int op, bint masked,
                               double *value) noexcept nogil:
    """Whether a slice with max m is not finite, and then the value every output entry takes
    (SPEC.md "Values at the edges"); for logsumexp it is the result itself."""
    if has_nan:
        value[0] = NAN
    elif m == INFINITY:
        value[0] = INFINITY if op == LOGSUMEXP else NAN
    elif m == -INFINITY:
        if op == LOGSUMEXP:
            value[0] = -INFINITY
        elif masked:
            value[0] = 0.0 if op == SOFTMAX else -INFINITY
        else:
            value[0] = NAN
    else:
        return False
    return True


# ---------------------------------------------------------------- typed access to the C tables

cdef inline void row_range(const floating *x, Py_ssize_t n, double *m, double *mn,
                           int *has_nan) noexcept nogil:
    """The row's max (with has_nan: whether any entry is NaN) and its min, which picks the exp
    pass's form."""
    if floating is float:
        lk_f32.row_range(x, n, m, mn, has_nan)
    else:
        lk_f64.row_range(x, n, m, mn, has_nan)


cdef inline void softmax_exps(const floating *x, floating *out, Py_ssize_t n, double m, double mn,
                              lk_sum *acc) noexcept nogil:
    """exp(x - m) into out, all of it summed into acc (the row's min mn picks the kernel)."""
    if floating is float:
        lk_f32.softmax_exps(x, out, n, m, mn, acc)
    else:
        lk_f64.softmax_exps(x, out, n, m, mn, acc)


cdef inline void exp_sum(const floating *x, Py_ssize_t n, double m, double mn,
                         lk_sum *acc) noexcept nogil:
    """The sum of exp(x - m): the terms equal to 1 counted in acc.top, the others in hi + lo."""
    if floating is float:
        lk_f32.exp_sum(x, n, m, mn, acc)
    else:
        lk_f64.exp_sum(x, n, m, mn, acc)


cdef inline void scale(floating *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil:
    if floating is float:
        lk_f32.scale(out, n, inv_hi, inv_lo)
    else:
        lk_f64.scale(out, n, inv_hi, inv_lo)


cdef inline void shift_log(const floating *x, floating *out, Py_ssize_t n, double m, double mn,
                           double L) noexcept nogil:
    """out = (x - m) - L, exact but for L's error and one rounding (mn: the row's min)."""
    if floating is float:
        lk_f32.shift_log(x, out, n, m, mn, L)
    else:
        lk_f64.shift_log(x, out, n, m, mn, L)


cdef inline void col_max(const char *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t w,
                         floating *m, double *least) noexcept nogil:
    """m = max(m, x) per column over n rows x_step bytes apart (a NaN, once seen, stays);
    least = min(least, x)."""
    if floating is float:
        lk_f32.col_max(<const float *>x, x_step, n, w, m, least)
    else:
        lk_f64.col_max(<const double *>x, x_step, n, w, m, least)


cdef inline void col_exp(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                         Py_ssize_t n, Py_ssize_t w, const floating *m, double spread,
                         double *hi, double *lo, double *top) noexcept nogil:
    """exp(x - m) into out, all summed (softmax), or only summed, the terms equal to the max
    counted in top (out NULL). spread: the block's least x minus its largest max."""
    if floating is float:
        if out == NULL:
            lk_f32.col_exp_sum(<const float *>x, x_step, n, w, m, spread, hi, lo, top)
        else:
            lk_f32.col_exp_store(<const float *>x, x_step, <float *>out, out_step, n, w, m,
                                 spread, hi, lo, top)
    else:
        if out == NULL:
            lk_f64.col_exp_sum(<const double *>x, x_step, n, w, m, spread, hi, lo, top)
        else:
            lk_f64.col_exp_store(<const double *>x, x_step, <double *>out, out_step, n, w, m,
                                 spread, hi, lo, top)


cdef inline void col_scale(char *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t w,
                           const double *a, const double *b, floating *kind) noexcept nogil:
    if floating is float:
        lk_f32.col_scale(<float *>out, out_step, n, w, a, b)
    else:
        lk_f64.col_scale(<double *>out, out_step, n, w, a, b)


cdef inline void col_shift_log(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                               Py_ssize_t n, Py_ssize_t w, const floating *m,
                               const double *L) noexcept nogil:
    if floating is float:
        lk_f32.col_shift_log(<const float *>x, x_step, <float *>out, out_step, n, w, m, L)
    else:
        lk_f64.col_shift_log(<const double *>x, x_step, <double *>out, out_step, n, w, m, L)


# ---------------------------------------------------------------- reductions, one row

cdef double reduce_row(const floating *x, floating *out, Py_ssize_t n, int op,
                       bint masked) noexcept nogil:
    """softmax / log_softmax of one contiguous row into out, or its logsumexp (returned)."""
    cdef double m, mn, value, inv_hi, inv_lo, L, L_lo
    cdef int has_nan
    cdef lk_sum acc
    if n == 0:
        return -INFINITY
    row_range(x, n, &m, &mn, &has_nan)
    if special_slice(m, has_nan, op, masked, &value):
        if op != LOGSUMEXP:
            fill(out, n, 1, value)
        return value
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if op == SOFTMAX:
        softmax_exps(x, out, n, m, mn, &acc)
        reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo)
        scale(out, n, inv_hi, inv_lo)
        return 0.0
    exp_sum(x, n, m, mn, &acc)
    log_of_sum(acc.top, acc.hi, acc.lo, &L, &L_lo)
    if op == LOG_SOFTMAX:
        shift_log(x, out, n, m, mn, L + L_lo)
        return 0.0
    return logsumexp_value(x, n, 1, m, add_log(m, L, L_lo))


cdef void reduce_row_pair(const floating *xa, floating *oa, const floating *xb, floating *ob,
                          Py_ssize_t n, int op, bint masked, double *values) noexcept nogil:
    """Two rows of n (> 0) elements, as reduce_row each (logsumexps into values[0], values[1]),
    every pass run for both before the next: each row's waits (its max before its exps, its
    sum before its scale) then overlap the other row's work in the CPU's reorder window."""
    cdef double ma, mna, mb, mnb, inv_a_hi, inv_a_lo, inv_b_hi, inv_b_lo, La, La_lo, Lb, Lb_lo
    cdef double value
    cdef int nan_a, nan_b
    cdef lk_sum acc_a, acc_b
    values[0] = values[1] = 0.0
    row_range(xa, n, &ma, &mna, &nan_a)
    row_range(xb, n, &mb, &mnb, &nan_b)
    if special_slice(ma, nan_a, op, masked, &value) or special_slice(mb, nan_b, op, masked,
                                                                     &value):
        values[0] = reduce_row(xa, oa, n, op, masked)           # rare: one row at a time
        values[1] = reduce_row(xb, ob, n, op, masked)
        return
    acc_a.hi = acc_a.lo = acc_a.top = 0.0
    acc_b.hi = acc_b.lo = acc_b.top = 0.0
    if op == SOFTMAX:
        softmax_exps(xa, oa, n, ma, mna, &acc_a)
        softmax_exps(xb, ob, n, mb, mnb, &acc_b)
        reciprocal(acc_a.top, acc_a.hi, acc_a.lo, &inv_a_hi, &inv_a_lo)
        reciprocal(acc_b.top, acc_b.hi, acc_b.lo, &inv_b_hi, &inv_b_lo)
        scale(oa, n, inv_a_hi, inv_a_lo)
        scale(ob, n, inv_b_hi, inv_b_lo)
        return
    exp_sum(xa, n, ma, mna, &acc_a)
    exp_sum(xb, n, mb, mnb, &acc_b)
    log_of_sum(acc_a.top, acc_a.hi, acc_a.lo, &La, &La_lo)
    log_of_sum(acc_b.top, acc_b.hi, acc_b.lo, &Lb, &Lb_lo)
    if op == LOG_SOFTMAX:
        shift_log(xa, oa, n, ma, mna, La + La_lo)
        shift_log(xb, ob, n, mb, mnb, Lb + Lb_lo)
        return
    values[0] = logsumexp_value(xa, n, 1, ma, add_log(ma, La, La_lo))
    values[1] = logsumexp_value(xb, n, 1, mb, add_log(mb, Lb, Lb_lo))


# ---------------------------------------------------------------- reductions, a block of columns

cdef void reduce_columns(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                         floating *result, Py_ssize_t result_stride,
                         Py_ssize_t n, Py_ssize_t w, int op, bint masked,
                         double *state) noexcept nogil:
    """Reduce over n rows (x_step bytes apart) of w contiguous columns. state: 6 * w doubles."""
    cdef floating *m = <floating *>state        # the columns' maxima, in their own type
    cdef double *hi = state + w
    cdef double *lo = state + 2 * w
    cdef double *top = state + 3 * w
    cdef double *a = state + 4 * w
    cdef double *b = state + 5 * w
    cdef Py_ssize_t j, k
    cdef double value, least = INFINITY, most = -INFINITY
    # float64's softmax sums start at 1, above every term, so that Fast2Sum adds them exactly
    cdef double bias = 1.0 if floating is double and op == SOFTMAX else 0.0
    for j in range(w):
        m[j] = -INFINITY
        hi[j] = bias
        lo[j] = 0.0
        top[j] = 0.0
    col_max(x, x_step, n, w, m, &least)
    for j in range(w):
        if m[j] > most:             # NaN columns aside: their results are overwritten
            most = m[j]
    col_exp(x, x_step, out if op == SOFTMAX else NULL, out_step, n, w, m, least - most,
            hi, lo, top)
    for j in range(w):
        hi[j] -= bias               # exact: 1 is a multiple of ulp(hi) for hi < 2^53
    cdef double others_hi, others_lo
    for j in range(w):
        two_sum(hi[j], lo[j], &others_hi, &others_lo)
        if op == SOFTMAX:
            reciprocal(top[j], others_hi, others_lo, &a[j], &b[j])
        else:
            if top[j] >= 1.0:
                log_of_sum(top[j], others_hi, others_lo, &a[j], &b[j])
            else:           # a special slice, dealt with below
                a[j] = 0.0
                b[j] = 0.0
    if op == SOFTMAX:
        col_scale(out, out_step, n, w, a, b, m)
    elif op == LOG_SOFTMAX:
        for j in range(w):
            a[j] += b[j]
        col_shift_log(x, x_step, out, out_step, n, w, m, a)
    for j in range(w):
        if special_slice(m[j], m[j] != m[j], op, masked, &value):
            if op == LOGSUMEXP:
                result[j * result_stride] = <floating>value
            else:
                fill(<floating *>out + j, n, out_step // <Py_ssize_t>sizeof(floating), value)
        elif op == LOGSUMEXP:
            result[j * result_stride] = <floating>logsumexp_value(
                <const floating *>x + j, n, x_step // <Py_ssize_t>sizeof(floating), m[j],
                add_log(m[j], a[j], b[j]))


# ---------------------------------------------------------------- threads

def set_num_threads(int n):
    """Upper bound on the threads one call (or all concurrent calls together) may use."""
    if n < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    lk_set_num_threads(min(n, MAX_THREADS))


def get_num_threads():
    return lk_get_num_threads()


# The pool for logitkit._losses, which does not link _parallel.c (one pool, one budget)
POOL_API = PyCapsule_New(<void *>&lk_pool, "logitkit._kernels.lk_pool", NULL)


# ---------------------------------------------------------------- reductions, a whole call

cdef struct ReduceJob:
    # x viewed as (outer, n, inner) with contiguous rows (inner == 1) or columns (inner > 1);
    # strides in bytes, result strides in elements
    const char *x
    Py_ssize_t xs0, xs1
    char *out
    Py_ssize_t os0, os1
    char *result
    Py_ssize_t rs0, rs1
    Py_ssize_t outer, n, inner, blocks
    int op
    bint masked
    bint is_f32
    # a few long rows, each split across the threads: their per-thread partial results
    double part_max[MAX_THREADS]
    double part_min[MAX_THREADS]
    int part_nan[MAX_THREADS]
    lk_sum part_sum[MAX_THREADS]


cdef void reduce_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef ReduceJob *job = <ReduceJob *>ctx
    if job.is_f32:
        reduce_share(job, <float *>NULL, tid, nthreads, team)
    else:
        reduce_share(job, <double *>NULL, tid, nthreads, team)


cdef void reduce_share(ReduceJob *job, floating *kind, int tid, int nthreads,
                       lk_team *team) noexcept nogil:
    """Thread tid's share: whole rows or column blocks when there are enough of them,
    otherwise a part of every (long) row."""
    cdef Py_ssize_t units = job.outer * job.blocks, first, stop, o
    if nthreads == 1 or units >= nthreads or job.inner > 1:
        lk_split(units, tid, nthreads, 1, &first, &stop)
        reduce_units(job, kind, first, stop)
        return
    for o in range(job.outer):
        reduce_row_part(job, kind, o, tid, nthreads, team)


cdef void reduce_units(const ReduceJob *job, floating *kind, Py_ssize_t first,
                       Py_ssize_t stop) noexcept nogil:
    """Rows (inner == 1) or column blocks of COLUMN_BLOCK columns, numbered in memory order."""
    cdef double state[6 * COLUMN_BLOCK]
    cdef Py_ssize_t u, o, c, w
    cdef double value
    cdef double pair_values[2]
    cdef floating *result = <floating *>job.result
    u = first
    while u < stop:
        o = u // job.blocks
        # rows of up to LK_SHORT_N, LK_SHORT_ROWS at a time, vectorised across rows
        if job.inner == 1 and job.n <= LK_SHORT_N and stop - u >= 2:
            w = min(<Py_ssize_t>LK_SHORT_ROWS, stop - u)
            short_rows_in_lanes(job, kind, u, w, state)
            u += w
            continue
        # rows that stay in the first caches, two at a time (reduce_row_pair)
        if (job.inner == 1 and stop - u >= 2 and job.n > 0
                and job.n * <Py_ssize_t>sizeof(floating) <= PAIRED_ROW_BYTES):
            reduce_row_pair(<const floating *>(job.x + o * job.xs0),
                            <floating *>(job.out + o * job.os0) if job.out != NULL else NULL,
                            <const floating *>(job.x + (o + 1) * job.xs0),
                            <floating *>(job.out + (o + 1) * job.os0) if job.out != NULL else NULL,
                            job.n, job.op, job.masked, pair_values)
            if job.op == LOGSUMEXP:
                result[o * job.rs0] = <floating>pair_values[0]
                result[(o + 1) * job.rs0] = <floating>pair_values[1]
            u += 2
            continue
        if job.inner == 1:
            value = reduce_row(<const floating *>(job.x + o * job.xs0),
                               <floating *>(job.out + o * job.os0) if job.out != NULL else NULL,
                               job.n, job.op, job.masked)
            if job.op == LOGSUMEXP:
                result[o * job.rs0] = <floating>value
        else:
            c = (u % job.blocks) * COLUMN_BLOCK
            w = min(COLUMN_BLOCK, job.inner - c)
            reduce_columns(
                job.x + o * job.xs0 + c * sizeof(floating), job.xs1,
                job.out + o * job.os0 + c * sizeof(floating) if job.out != NULL else NULL,
                job.os1,
                result + o * job.rs0 + c * job.rs1 if result != NULL else NULL, job.rs1,
                job.n, w, job.op, job.masked, state)
        u += 1


cdef void short_rows_in_lanes(const ReduceJob *job, floating *kind, Py_ssize_t first,
                              Py_ssize_t count, double *state) noexcept nogil:
    """count (<= LK_SHORT_ROWS) rows of n <= LK_SHORT_N values in one C call, rows across
    vector lanes (short_rows in _simd_body.h); then the edge values of the rows whose max is
    not finite, and float32 logsumexp where m + log(sum) cancels."""
    cdef double *m = state
    cdef double *lse = state + LK_SHORT_ROWS
    cdef Py_ssize_t r, n = job.n
    # strides in elements (whole: check_aligned); item signed, so a negative one divides exactly
    cdef Py_ssize_t item = sizeof(floating)
    cdef double value
    cdef floating *result = <floating *>job.result
    cdef const floating *x0 = <const floating *>(job.x + first * job.xs0)
    cdef floating *out0 = <floating *>(job.out + first * job.os0) if job.out != NULL else NULL
    if floating is float:
        lk_short_rows_f32(x0, job.xs0 // item, out0, job.os0 // item, count, n, job.op, m, lse)
    else:
        lk_short_rows_f64(x0, job.xs0 // item, out0, job.os0 // item, count, n, job.op, m, lse)
    for r in range(count):
        if special_slice(m[r], m[r] != m[r], job.op, job.masked, &value):
            if job.op == LOGSUMEXP:
                result[(first + r) * job.rs0] = <floating>value
            else:
                fill(<floating *>(job.out + (first + r) * job.os0), n, 1, value)
        elif job.op == LOGSUMEXP:
            result[(first + r) * job.rs0] = <floating>logsumexp_value(
                <const floating *>(job.x + (first + r) * job.xs0), n, 1, m[r], lse[r])


cdef double logsumexp_cancelling(const float *x, Py_ssize_t n, Py_ssize_t step,
                                 double m) noexcept nogil:
    """logsumexp of a float32 slice (n elements, step apart) where m + log(sum) cancels (to
    less than half of log(sum)): the float exps' 2^-24 errors would show in the last bits, so
    the sum is redone with libm's double exp, compensated, and the double-double log of the
    row kernels."""
    cdef double top = 0.0, v
    cdef lk_sum acc
    cdef double L, L_lo
    cdef Py_ssize_t k
    acc.hi = 0.0
    acc.lo = 0.0
    for k in range(n):
        v = x[k * step]
        if v == m:
            top += 1.0
        else:
            add_to(&acc, exp(v - m))
    log_of_sum(top, acc.hi, acc.lo, &L, &L_lo)
    return add_log(m, L, L_lo)


cdef inline double logsumexp_value(const floating *x, Py_ssize_t n, Py_ssize_t step, double m,
                                   double value) noexcept nogil:
    """The logsumexp of a slice (n elements, step apart, max m) computed as value; where
    m + log(sum) cancels, redone with more precise terms than the kernels'. float32 (below
    half of the log of the sum, value - m): in double (logsumexp_cancelling). float64: in
    double-double (lk_dd_logsumexp, ~2^-100 of the log, ~0.2 us an element), for results
    from max(n 2^-52, 2^-50) of the log up to 1/2 of it for slices of up to 32 elements and
    up to 1/16 for longer ones. The kernels' terms (each exp rounded once) cost such a result
    up to ~9 ULP (a confident pair at 1/16, measured); in a long slice their roundings
    average out, and redoing every result below 1/2 of the log cost common data (1000
    classes, logsumexp ~1) 70x. Below n 2^-52 of the log sit rows of log-probabilities (their
    logsumexp, ~sqrt(n) 2^-53, is the rounding of n values): redone, 1024 such rows of 1000
    took ~300x the kernels' time, so the kernels' value stands there, within ~2^-52 of the
    log."""
    cdef double log_sum = value - m
    cdef double upper = 0.5 if n <= 32 else 0.0625
    if floating is float:
        if fabs(value) < 0.5 * log_sum:
            return logsumexp_cancelling(x, n, step, m)
    elif fmax(ldexp(<double>n, -52), ldexp(1.0, -50)) * log_sum <= fabs(value) < upper * log_sum:
        return lk_dd_logsumexp(x, n, step, m)
    return value


cdef void reduce_row_part(ReduceJob *job, floating *kind, Py_ssize_t o, int tid, int nthreads,
                          lk_team *team) noexcept nogil:
    """Row o, split across the team: partial maxima, then partial sums, are combined by every
    thread in the same order, so all agree on the max and the total (and the result does not
    depend on timing)."""
    cdef Py_ssize_t lo, hi, length
    cdef double m = -INFINITY, mn = INFINITY, part_m, part_mn, value, inv_hi, inv_lo, L, L_lo
    cdef int has_nan = 0, part_nan = 0, t
    cdef lk_sum acc, total
    lk_split(job.n, tid, nthreads, 64, &lo, &hi)
    length = hi - lo
    cdef const floating *x = <const floating *>(job.x + o * job.xs0) + lo
    cdef floating *out = <floating *>(job.out + o * job.os0) + lo if job.out != NULL else NULL
    cdef floating *result = <floating *>job.result
    part_m = -INFINITY
    part_mn = INFINITY
    if length > 0:
        row_range(x, length, &part_m, &part_mn, &part_nan)
    job.part_max[tid] = part_m
    job.part_min[tid] = part_mn
    job.part_nan[tid] = part_nan
    lk_team_barrier(team)
    for t in range(nthreads):
        has_nan |= job.part_nan[t]
        if job.part_max[t] > m:
            m = job.part_max[t]
        if job.part_min[t] < mn:
            mn = job.part_min[t]
    if special_slice(m, has_nan, job.op, job.masked, &value):
        if job.op != LOGSUMEXP:
            fill(out, length, 1, value)
        elif tid == 0:
            result[o * job.rs0] = <floating>value
        lk_team_barrier(team)               # the parts are reused by the next row
        return
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if job.op == SOFTMAX:
        softmax_exps(x, out, length, m, mn, &acc)
    else:
        exp_sum(x, length, m, mn, &acc)
    job.part_sum[tid] = acc
    lk_team_barrier(team)
    total.hi = 0.0
    total.lo = 0.0
    total.top = 0.0
    for t in range(nthreads):
        add_to(&total, job.part_sum[t].hi)
        add_to(&total, job.part_sum[t].lo)
        total.top += job.part_sum[t].top
    if job.op == SOFTMAX:
        reciprocal(total.top, total.hi, total.lo, &inv_hi, &inv_lo)
        scale(out, length, inv_hi, inv_lo)
    else:
        log_of_sum(total.top, total.hi, total.lo, &L, &L_lo)
        if job.op == LOG_SOFTMAX:
            shift_log(x, out, length, m, mn, L + L_lo)
        elif tid == 0:
            result[o * job.rs0] = <floating>logsumexp_value(
                <const floating *>(job.x + o * job.xs0), job.n, 1, m, add_log(m, L, L_lo))
    lk_team_barrier(team)


cdef void run_reduction(ReduceJob *job) noexcept nogil:
    job.blocks = 1 if job.inner == 1 else (job.inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    cdef Py_ssize_t units = job.outer * job.blocks
    if job.inner == 1 and job.outer < MAX_THREADS:
        units = MAX_THREADS                 # long rows can be split
    cdef int nthreads = lk_threads_for(job.outer * job.n * job.inner, units)
    lk_parallel_run(nthreads, reduce_task, job)


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
    cdef ReduceJob job
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
        run_reduction(&job)


def logsumexp_3d(const floating[:, :, :] x, floating[:, :] result):
    """logsumexp over axis 1 of x into result[outer, inner]."""
    cdef ReduceJob job
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
        run_reduction(&job)


# ---------------------------------------------------------------- the thin call path
# The most common call (a plain float32/float64 C-ordered array, last axis, no options) goes
# straight from here to the kernels: asarray, validation and memoryviews are most of the cost
# of a small call. Anything else returns None and takes the general path in _core.py.

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
    cdef ReduceJob job
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
        run_reduction(&job)
    else:
        with nogil:
            run_reduction(&job)
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


# ---------------------------------------------------------------- views for the Python layer

def strided_view(cnp.ndarray base, tuple shape, tuple strides):
    """A view of base's first element with the given shape and byte strides, writeable when
    base is: NumPy's as_strided without its ~3 us round trip through __array_interface__.
    The caller (_layout) derives shape and strides from base's own, so every element the view
    reaches is one of base's."""
    cdef int ndim = len(shape), d
    cdef cnp.npy_intp dims[3]
    cdef cnp.npy_intp steps[3]
    if ndim > 3 or len(strides) != ndim:
        raise ValueError("internal error: a strided view has at most 3 axes, one stride each")
    for d in range(ndim):
        dims[d] = shape[d]
        steps[d] = strides[d]
    cdef cnp.dtype descr = base.dtype
    Py_INCREF(descr)
    cdef cnp.ndarray view = PyArray_NewFromDescr(
        cnp.ndarray, descr, ndim, dims, steps, cnp.PyArray_DATA(base),
        cnp.NPY_ARRAY_WRITEABLE if cnp.PyArray_ISWRITEABLE(base) else 0, None)
    cnp.set_array_base(view, base)
    return view


def same_elements(cnp.ndarray a, cnp.ndarray b):
    """Whether a and b are the very same elements: same data, shape, strides and dtype."""
    cdef int d, ndim = cnp.PyArray_NDIM(a)
    if (cnp.PyArray_DATA(a) != cnp.PyArray_DATA(b) or ndim != cnp.PyArray_NDIM(b)
            or not cnp.PyArray_EquivTypes(a.dtype, b.dtype)):
        return False
    for d in range(ndim):
        if (cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]
                or cnp.PyArray_STRIDES(a)[d] != cnp.PyArray_STRIDES(b)[d]):
            return False
    return True


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


# ---------------------------------------------------------------- logsumexp with scale factors

def logsumexp_scaled(const floating[:, ::1] x, const floating[:, ::1] b,
                     floating[::1] result, floating[::1] sign):
    """log|sum(b * exp(x))| and its sign, per row of C-contiguous (rows, n) arrays.
    Entries with b == 0 take no part (even where x is inf or NaN)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    if b.shape[0] != rows or b.shape[1] != n or result.shape[0] != rows or sign.shape[0] != rows:
        raise ValueError("internal error: shapes differ")
    cdef double value, s
    with nogil:
        for r in range(rows):
            scaled_row(&x[r, 0] if n > 0 else NULL, &b[r, 0] if n > 0 else NULL, n,
                       &value, &s)
            result[r] = <floating>value
            sign[r] = <floating>s


# ln 2 = LN2_HI + LN2_LO, fdlibm's split (as in _double_double.log_of_sum): LN2_HI has 21
# trailing zero bits, so c * LN2_HI is exact for |c| < 2^21
cdef double LN2_HI = 6.93147180369123816490e-01
cdef double LN2_LO = 1.90821492927058770002e-10
cdef double INV_LN2 = 1.44269504088896338700e+00
# b * exp(x - m) is below 2^1024 * exp(-1600) = 2^-1284 here, and the largest term is at least
# 2^-1074 (the max of x has exp 0 and some b != 0): such terms cannot change the sum
cdef double NEGLIGIBLE = -1600.0


cdef void scaled_row(const floating *x, const floating *b, Py_ssize_t n,
                     double *value, double *sign) noexcept nogil:
    """log|sum(b * exp(x))| and its sign for one row. Each term b * exp(x - m) (m = max x) is
    taken as a mantissa in [0.35, 1.42) times 2^p, and the terms are summed scaled by 2^-k,
    k the largest p: the sum neither overflows (b = [DBL_MAX, DBL_MAX]) nor loses a term
    whose b is large but whose exp underflows (b = 1e300 at x - m = -800)."""
    cdef double m = -INFINITY, v, w, t, c, e, dh, dl, bv, f
    cdef double total_hi, total_lo, L_hi, L_lo
    cdef Py_ssize_t i
    cdef int k = INT_MIN, p, q
    cdef bint pos_inf = False, neg_inf = False
    for i in range(n):
        w = b[i]
        if w == 0.0:
            continue
        v = x[i]
        if v != v or w != w:
            value[0] = NAN
            sign[0] = NAN
            return
        if w == INFINITY or w == -INFINITY:
            if v == -INFINITY:          # inf * exp(-inf) = inf * 0: undefined, as in SciPy
                value[0] = NAN
                sign[0] = NAN
                return
            pos_inf = pos_inf or w > 0
            neg_inf = neg_inf or w < 0
        elif v == INFINITY:
            pos_inf = pos_inf or w > 0
            neg_inf = neg_inf or w < 0
        elif v > m:
            m = v
    if pos_inf or neg_inf:
        if pos_inf and neg_inf:
            value[0] = NAN
            sign[0] = NAN
        else:
            value[0] = INFINITY
            sign[0] = 1.0 if pos_inf else -1.0
        return
    if m == -INFINITY:
        value[0] = -INFINITY
        sign[0] = 0.0
        return
    # k: the largest binary exponent of a term (that of b plus that of exp(x - m))
    for i in range(n):
        dh = x[i] - m                   # -inf where it overflows: skipped
        if b[i] == 0.0 or not dh >= NEGLIGIBLE:
            continue
        frexp(b[i], &p)
        k = max(k, p + exp_exponent(dh))
    # Neumaier-compensated sum of the terms times 2^-k; x - m exact (TwoSum)
    t = 0.0
    c = 0.0
    for i in range(n):
        dh = x[i] - m
        if b[i] == 0.0 or not dh >= NEGLIGIBLE:
            continue
        bv = dh - x[i]
        dl = (x[i] - (dh - bv)) + (-m - bv)
        f = frexp(b[i], &p) * scaled_exp(dh, dl, &q)
        e = ldexp(f, p + q - k)         # (q is set by the call above: C's argument order)
        v = t + e
        if fabs(t) >= fabs(e):
            c += (t - v) + e
        else:
            c += (e - v) + t
        t = v
    two_sum(t, c, &total_hi, &total_lo)
    if total_hi == 0.0:
        value[0] = -INFINITY
        sign[0] = 0.0
        return
    sign[0] = 1.0 if total_hi > 0 else -1.0
    if total_hi < 0:
        total_hi = -total_hi
        total_lo = -total_lo
    log_of_scaled_sum(0.0, total_hi, total_lo, k, &L_hi, &L_lo)     # log(sum * 2^k)
    value[0] = add_log(m, L_hi, L_lo)


cdef inline int exp_exponent(double dh) noexcept nogil:
    """The c of exp(dh) = E * 2^c in scaled_exp (dh in [NEGLIGIBLE, 0])."""
    return <int>floor(dh * INV_LN2 + 0.5)


cdef inline double scaled_exp(double dh, double dl, int *c) noexcept nogil:
    """exp(dh + dl) as E * 2^c with E in [0.7, 1.42] and full precision down to dh = -1600
    (exp itself underflows below -708): dh - c ln2 is formed in double-double."""
    cdef double r, r_err, r_hi, r_lo
    c[0] = exp_exponent(dh)
    two_sum(dh, -c[0] * LN2_HI, &r, &r_err)
    two_sum(r, r_err + (dl - c[0] * LN2_LO), &r_hi, &r_lo)
    return exp(r_hi) * (1.0 + r_lo)
