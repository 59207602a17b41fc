# Design:
# - Losses and vector-Jacobian products from logits (issue 4). The Python layer (_losses_api.py)
#   validates, moves the class axis last and hands every call to one function here as a 2-d
#   (rows, n) view whose rows are contiguous (row stride arbitrary). Targets arrive as a
#   contiguous intp vector (class indices) or a (rows, n) array like the logits (probabilities).
# - cross_entropy reads each row twice while it is cache-hot (max, then exp-sum) and allocates
#   nothing the size of the logits: per row it keeps the max m, the count of terms equal to it
#   (`top`) and the sum of the others (`rest`), so that loss = (m - x_target) + log(top + rest)
#   with log1p(rest) when the target is the unique max: a confident row's loss of 1e-18 keeps
#   every digit (the naive log(softmax) gives 0). With return_grad the exps are stored into the
#   gradient row in that same pass and scaled in place: no extra pass over the logits.
# - Loops over contiguous memory are C (_losses_simd_body.h, one variant per instruction set,
#   function table lkl_f32 / lkl_f64) or the shared tables of _simd.h (lk_f32 / lk_f64); both
#   follow select_simd_path(). float32 data is computed and accumulated in double.
# - Class indices are checked in a first pass over the targets, before any logit is read: an
#   out-of-range index raises, it is never used as an offset.
# - The per-row double-double helpers (two_sum, log_of_sum, reciprocal) are _kernels.pyx's,
#   shared through _double_double.pxd.
# Directives (boundscheck, wraparound, cdivision) are set once in setup.py.

cimport cython
from cpython.pycapsule cimport PyCapsule_GetPointer
from cython cimport floating
from libc.math cimport INFINITY, NAN, exp, fma, frexp, ldexp
from libc.stdint cimport int32_t
from libc.stdlib cimport free, malloc

cimport numpy as cnp

from logitkit._double_double cimport log_of_sum, reciprocal, two_sum
from logitkit._parallel cimport lk_pool_api, lk_split, lk_team
from logitkit._plain cimport plain_floats, writes_plainly
from logitkit._simd cimport (LK_SHORT_N, LK_SHORT_ROWS, isa_index, lk_f32, lk_f64,
                             lk_select_isa, lk_sum)

cdef extern from "_losses_simd.h" nogil:
    ctypedef struct lkl_table_f32:
        void (*softmax_bwd_rows)(const float *g, const float *y, float *out, Py_ssize_t rows,
                                 Py_ssize_t n) noexcept nogil
        void (*log_softmax_bwd_rows)(const float *g, const float *y, float *out, Py_ssize_t rows,
                                     Py_ssize_t n) noexcept nogil
        void (*sigmoid_bwd)(const float *g, const float *y, float *out, Py_ssize_t n) noexcept nogil
        double (*bce)(const float *x, const float *t, const double *w, const double *pw,
                      float *loss, float *grad, Py_ssize_t n, double s) noexcept nogil
        void (*smoothing_sums)(const float *x, const float *t, const double *w, Py_ssize_t n,
                               double m, double eps, double *sums) noexcept nogil
        void (*smoothing_grad)(const float *x, const float *t, const double *w,
                               const double *e, Py_ssize_t n, Py_ssize_t y, double m,
                               double eps, double c_hi, double c_lo, double s,
                               float *g) noexcept nogil
        double (*exp_total)(const float *x, Py_ssize_t n, double m, double *lo,
                            double *store) noexcept nogil

    ctypedef struct lkl_table_f64:
        void (*softmax_bwd_rows)(const double *g, const double *y, double *out, Py_ssize_t rows,
                                 Py_ssize_t n) noexcept nogil
        void (*log_softmax_bwd_rows)(const double *g, const double *y, double *out, Py_ssize_t rows,
                                     Py_ssize_t n) noexcept nogil
        void (*sigmoid_bwd)(const double *g, const double *y, double *out, Py_ssize_t n) noexcept nogil
        double (*bce)(const double *x, const double *t, const double *w, const double *pw,
                      double *loss, double *grad, Py_ssize_t n, double s) noexcept nogil
        void (*smoothing_sums)(const double *x, const double *t, const double *w, Py_ssize_t n,
                               double m, double eps, double *sums) noexcept nogil
        void (*smoothing_grad)(const double *x, const double *t, const double *w,
                               const double *e, Py_ssize_t n, Py_ssize_t y, double m,
                               double eps, double c_hi, double c_lo, double s,
                               double *g) noexcept nogil
        double (*exp_total)(const double *x, Py_ssize_t n, double m, double *lo,
                            double *store) noexcept nogil

    lkl_table_f32 lkl_f32
    lkl_table_f64 lkl_f64
    int lkl_select_isa(int isa)
    void lkl_ce_short_f32(const float *x, const int32_t *t, const double *c, float *grad,
                          Py_ssize_t rows, Py_ssize_t n, double *m_out, double *nll) noexcept nogil
    void lkl_ce_short_f64(const double *x, const int32_t *t, const double *c, double *grad,
                          Py_ssize_t rows, Py_ssize_t n, double *m_out, double *nll) noexcept nogil

cdef enum:
    MEAN = 0
    SUM = 1
    NONE = 2

from logitkit import _kernels as _kernels_module

# logitkit._kernels' pool of threads (this module does not link _parallel.c: one pool, one
# budget of helpers for every module)
cnp.import_array()

cdef const lk_pool_api *pool = <const lk_pool_api *>PyCapsule_GetPointer(
    _kernels_module.POOL_API, "logitkit._kernels.lk_pool")
if pool == NULL:
    raise ImportError("logitkit._losses: logitkit._kernels exports no thread pool")


# ---------------------------------------------------------------- instruction-set dispatch

def select_simd_path(str name):
    """Switch this module's kernels (its copy of the shared tables and its own) to `name`."""
    cdef int isa = isa_index(name)
    if lk_select_isa(isa) != 0 or lkl_select_isa(isa) != 0:
        raise ValueError(f"SIMD path {name!r} is not supported on this CPU")


# ---------------------------------------------------------------- per-row numerics

cdef inline void kahan_add(double *hi, double *lo, double v) noexcept nogil:
    cdef double s, e
    two_sum(hi[0], v, &s, &e)
    hi[0] = s
    lo[0] += e


cdef inline double kahan_total(double hi, double lo) noexcept nogil:
    """hi + lo of a compensated sum; where the plain sum hi is inf or NaN, hi itself (its error
    term met inf - inf and holds NaN)."""
    return hi + lo if hi - hi == 0.0 else hi


cdef inline void smoothing_sums(const floating *x, const floating *t, const double *w,
                                Py_ssize_t n, double m, double eps, double *sums) noexcept nogil:
    """The compensated sums of label smoothing over one row (smoothing_sums in
    _losses_simd_body.h; t NULL for class indices)."""
    if floating is float:
        lkl_f32.smoothing_sums(x, t, w, n, m, eps, sums)
    else:
        lkl_f64.smoothing_sums(x, t, w, n, m, eps, sums)


cdef inline void smoothing_grad(const floating *x, const floating *t, const double *w,
                                const double *kept, Py_ssize_t n, Py_ssize_t y, double m,
                                double eps, double c_hi, double c_lo, double s,
                                floating *g) noexcept nogil:
    """A row's gradient under label smoothing or soft targets (smoothing_grad in
    _losses_simd_body.h; t NULL for a class index y, else y = -1; kept: the exps
    soft_reciprocal kept, or NULL)."""
    if floating is float:
        lkl_f32.smoothing_grad(x, t, w, kept, n, y, m, eps, c_hi, c_lo, s, g)
    else:
        lkl_f64.smoothing_grad(x, t, w, kept, n, y, m, eps, c_hi, c_lo, s, g)


cdef inline const double *row_exps(floating *g, const double *kept) noexcept nogil:
    """A row's exp(x_j - m) for smoothing_grad: float64's row_sums stored them in g itself
    (the gradient then overwrites each in place, vector by vector); float32's in double are
    in kept (soft_reciprocal; NULL: computed again)."""
    if floating is double:
        return g
    else:
        return kept


cdef inline void soft_reciprocal(const floating *x, Py_ssize_t n, double m, const lk_sum *acc,
                                 double *kept, double *inv_hi, double *inv_lo) noexcept nogil:
    """1 / sum(exp(x - m)) for a gradient T p_j - q_j, which may cancel to the targets' last
    bits: float32's row sum is redone with double exps (exp_total in _losses_simd_body.h), as
    the shared exp_sum's float exps carry 2^-25, and those exps are kept in kept (n doubles,
    or NULL) for smoothing_grad; float64's is already double."""
    cdef double hi, lo
    if floating is float:
        hi = lkl_f32.exp_total(x, n, m, &lo, kept)
        reciprocal(0.0, hi, lo, inv_hi, inv_lo)
    else:
        reciprocal(acc.top, acc.hi, acc.lo, inv_hi, inv_lo)


# ---------------------------------------------------------------- typed access to the C tables

cdef inline void row_sums(const floating *x, Py_ssize_t n, floating *store, double *m,
                          int *has_nan, lk_sum *acc) noexcept nogil:
    """max of the row, and the exp-sum of x - max (split as top + hi + lo); with store, the
    exps are written there too (the shared tables' exact exp) for a gradient."""
    cdef double mn
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if floating is float:
        lk_f32.row_range(x, n, m, &mn, has_nan)
        if has_nan[0] or m[0] - m[0] != 0.0:
            return
        if store != NULL:
            lk_f32.exp_store(x, store, n, m[0], mn, acc)
        else:
            lk_f32.exp_sum(x, n, m[0], mn, acc)
    else:
        lk_f64.row_range(x, n, m, &mn, has_nan)
        if has_nan[0] or m[0] - m[0] != 0.0:
            return
        if store != NULL:
            lk_f64.exp_store(x, store, n, m[0], mn, acc)
        else:
            lk_f64.exp_sum(x, n, m[0], mn, acc)


cdef inline void scale_row(floating *out, Py_ssize_t n, double a_hi, double a_lo) noexcept nogil:
    if floating is float:
        lk_f32.scale(out, n, a_hi, a_lo)
    else:
        lk_f64.scale(out, n, a_hi, a_lo)


cdef inline void fill(floating *out, Py_ssize_t n, double value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = <floating>value


cdef inline void dd_mul(double a, double b_hi, double b_lo, double *p_hi, double *p_lo) noexcept nogil:
    p_hi[0] = a * b_hi
    p_lo[0] = fma(a, b_hi, -p_hi[0]) + a * b_lo


# ---------------------------------------------------------------- cross-entropy, class indices

cdef Py_ssize_t check_targets(const Py_ssize_t *t, Py_ssize_t rows, Py_ssize_t n,
                              Py_ssize_t ignore_index, const double *w, double *denom) noexcept nogil:
    """First bad row (an index outside [0, n) that is not ignore_index), or -1; denom is the
    sum of the weights of the targets that are not ignored (their count without weights)."""
    cdef Py_ssize_t r, y, count = 0
    cdef double hi = 0.0, lo = 0.0
    for r in range(rows):
        y = t[r]
        if y == ignore_index:
            continue
        if y < 0 or y >= n:
            return r
        if w != NULL:
            kahan_add(&hi, &lo, w[y])
        else:
            count += 1
    denom[0] = hi + lo if w != NULL else <double>count
    return -1


cdef struct CrossEntropyRows:
    # the rows of one cross-entropy call, shared out among threads (cross_entropy_task)
    const char *x
    Py_ssize_t xs, n, rows
    const Py_ssize_t *index         # class indices; NULL for probability targets
    Py_ssize_t ignore_index
    const char *prob                # probability rows, ts bytes apart (index NULL)
    Py_ssize_t ts
    const double *w
    double W, eps, s
    char *loss
    char *grad
    bint is_f32
    bint in_lanes                   # class indices, no smoothing, short contiguous rows


cdef void cross_entropy_part(const floating *kind, const CrossEntropyRows *job, Py_ssize_t lo,
                             Py_ssize_t hi) noexcept nogil:
    cdef floating *loss = <floating *>job.loss
    cdef floating *g
    cdef const floating *x
    cdef Py_ssize_t r, y
    # float32 soft gradients: a row's double exps, kept from its sum for its gradient (NULL,
    # if malloc fails, has them computed twice)
    cdef double *kept = NULL
    if floating is float and job.grad != NULL and (job.index == NULL or job.eps != 0.0):
        kept = <double *>malloc(max(job.n, 1) * sizeof(double))
    for r in range(lo, hi):
        x = <const floating *>(job.x + r * job.xs)
        g = <floating *>job.grad + r * job.n if job.grad != NULL else NULL
        if job.index != NULL:
            y = job.index[r]
            loss[r] = <floating>index_row(x, job.n, y, y == job.ignore_index, job.w, job.W,
                                          job.eps, job.s, g, kept)
        else:
            loss[r] = <floating>prob_row(x, <const floating *>(job.prob + r * job.ts), job.n,
                                         job.w, job.eps, job.s, g, kept)
    free(kept)


cdef void cross_entropy_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    """Thread tid's contiguous share of the rows. Each row's loss lands in its own slot and
    the caller adds them up in order afterwards, so the result does not depend on threads."""
    cdef const CrossEntropyRows *job = <const CrossEntropyRows *>ctx
    cdef Py_ssize_t lo, hi
    # short rows: whole blocks of the lanes kernel to each thread
    lk_split(job.rows, tid, nthreads, LK_SHORT_ROWS if job.in_lanes else 1, &lo, &hi)
    if lo >= hi:
        return
    if job.in_lanes and job.is_f32:
        rows_in_lanes(<const float *>NULL, job, lo, hi)
    elif job.in_lanes:
        rows_in_lanes(<const double *>NULL, job, lo, hi)
    elif job.is_f32:
        cross_entropy_part(<const float *>NULL, job, lo, hi)
    else:
        cross_entropy_part(<const double *>NULL, job, lo, hi)


cdef void rows_in_lanes(const floating *kind, const CrossEntropyRows *job, Py_ssize_t lo,
                        Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t n = job.n
    cdef floating *grad = <floating *>job.grad
    index_rows_small(<const floating *>job.x + lo * n, job.index + lo, job.w, job.s,
                     <floating *>job.loss + lo, grad + lo * n if grad != NULL else NULL,
                     hi - lo, n, job.ignore_index)


def cross_entropy_index(const floating[:, :] x, const Py_ssize_t[::1] target,
                        const double[::1] weight, floating[::1] loss, floating[:, ::1] grad,
                        Py_ssize_t ignore_index, double eps, int reduction,
                        double[::1] result):
    """Cross-entropy of each row of x against a class index. loss[r] gets the per-row loss
    (0 where ignored); result[0] the sum of the losses, result[1] the mean's denominator.
    With grad (shape (rows, n); (0, 0) for none) the gradient of the reduced loss (of the sum
    of the losses for reduction 'none'). Returns -1, or the first row whose index is bad."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, j, y
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if target.shape[0] != rows or loss.shape[0] != rows or result.shape[0] < 2:
        raise ValueError("internal error: shapes differ")
    if n > 1 and rows > 0 and x.strides[1] != item:
        raise ValueError("internal error: rows must be contiguous")
    if weight.shape[0] != 0 and weight.shape[0] != n:
        raise ValueError("internal error: weight has the wrong length")
    cdef bint want_grad = grad.shape[0] != 0
    if want_grad and (grad.shape[0] != rows or grad.shape[1] != n):
        raise ValueError("internal error: grad has the wrong shape")
    cdef const double *w = &weight[0] if weight.shape[0] != 0 else NULL
    cdef const Py_ssize_t *t = &target[0] if rows > 0 else NULL
    cdef floating *lp = &loss[0] if rows > 0 else NULL
    cdef const char *xp = <const char *>&x[0, 0] if rows > 0 and n > 0 else NULL
    cdef Py_ssize_t xs = x.strides[0]
    cdef floating *gp = &grad[0, 0] if want_grad and rows > 0 and n > 0 else NULL
    cdef double denom = 0.0, s, W = 0.0, tot_hi = 0.0, tot_lo = 0.0
    cdef Py_ssize_t bad
    cdef CrossEntropyRows job
    with nogil:
        bad = check_targets(t, rows, n, ignore_index, w, &denom)
        if bad < 0:
            s = 1.0 / denom if reduction == MEAN else 1.0
            if eps != 0.0:
                for j in range(n):
                    W += w[j] if w != NULL else 1.0
            job = CrossEntropyRows(
                x=xp, xs=xs, n=n, rows=rows, index=t, ignore_index=ignore_index, prob=NULL,
                ts=0, w=w, W=W, eps=eps, s=s, loss=<char *>lp, grad=<char *>gp,
                is_f32=floating is float,
                in_lanes=eps == 0.0 and n <= LK_SHORT_N and x.strides[0] == n * item)
            pool.parallel_run(pool.threads_for(rows * n, rows), cross_entropy_task, &job)
            if floating is float:           # float losses: a double sum is exact enough
                for r in range(rows):
                    tot_hi += lp[r]
            else:
                for r in range(rows):
                    kahan_add(&tot_hi, &tot_lo, lp[r])
    if bad >= 0:
        return bad
    result[0] = kahan_total(tot_hi, tot_lo)
    result[1] = denom
    return -1


cdef double index_row(const floating *x, Py_ssize_t n, Py_ssize_t y, bint ignored,
                      const double *w, double W, double eps, double s,
                      floating *g, double *kept) noexcept nogil:
    """The loss of one row against class y (and its gradient into g, scaled by s; kept:
    room for n doubles, see soft_reciprocal, or NULL)."""
    cdef double m, xt, dh, dl, a, e, nll, weighted, wy, L_hi, L_lo, rest_hi, rest_lo, inv_hi
    cdef double inv_lo
    cdef double c, c_hi, c_lo, T, loss
    cdef double sums[4]
    cdef int has_nan
    cdef lk_sum acc
    if ignored:
        if g != NULL:
            fill(g, n, 0.0)
        return 0.0
    # float64 keeps its exps in g for smoothing_grad (row_exps); float32 only without
    # smoothing, as its smoothed gradient wants double exps (soft_reciprocal)
    row_sums(x, n, g if eps == 0.0 or floating is double else NULL, &m, &has_nan, &acc)
    if has_nan or m - m != 0.0:         # NaN, +inf, or all -inf: undefined
        if g != NULL:
            fill(g, n, NAN)
        return NAN
    wy = w[y] if w != NULL else 1.0
    log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo)
    xt = x[y]
    if xt == -INFINITY:
        nll = INFINITY
    else:
        two_sum(m, -xt, &dh, &dl)       # m - x_t exactly
        if dh == INFINITY:              # overflow (m and -x_t near the dtype's max)
            nll = INFINITY
        else:
            two_sum(dh, L_hi, &a, &e)
            nll = a + (e + (dl + L_lo))
    # a zero class weight contributes nothing, even where nll is inf (as in the reference)
    weighted = wy * nll if wy != 0.0 else 0.0
    if eps == 0.0:
        loss = weighted
    else:
        smoothing_sums(x, NULL, w, n, m, eps, sums)     # sum of w_j (m - x_j) in sums[2:]
        loss = (1.0 - eps) * weighted + (eps / n) * ((sums[2] + sums[3]) + W * L_hi + W * L_lo)
    if g == NULL:
        return loss
    # gradient: s * (T p_j - q_j), q = (1 - eps) w_y e_y + (eps / n) w
    if eps != 0.0:
        soft_reciprocal(x, n, m, &acc, kept, &inv_hi, &inv_lo)
    else:
        reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo)
    T = (1.0 - eps) * wy + (eps / n) * W if eps != 0.0 else wy
    c = s * T
    dd_mul(c, inv_hi, inv_lo, &c_hi, &c_lo)
    if eps != 0.0:
        smoothing_grad(x, NULL, w, row_exps(g, kept), n, y, m, eps, c_hi, c_lo, s, g)
        return loss
    scale_row(g, n, c_hi, c_lo)
    if xt == m and acc.top == 1.0:
        # the unique max: p_y - 1 = -rest / total, without the cancellation of p_y - 1
        two_sum(acc.hi, acc.lo, &rest_hi, &rest_lo)
        g[y] = <floating>(-c * (rest_hi * inv_hi + (rest_lo * inv_hi + rest_hi * inv_lo)))
    else:
        g[y] = <floating>(<double>g[y] - c)         # p_y <= 1/2 here: no cancellation
    return loss


cdef void index_rows_small(const floating *x, const Py_ssize_t *t, const double *w, double s,
                           floating *loss, floating *grad, Py_ssize_t rows, Py_ssize_t n,
                           Py_ssize_t ignore_index) noexcept nogil:
    """Short rows (n <= LK_SHORT_N, C-contiguous), LK_SHORT_ROWS at a time in the lanes kernel
    (ce_short in _losses_simd_body.h), gradient included when grad is not NULL; then the rows
    it leaves to us: ignored ones (loss and gradient 0) and those whose max is not finite
    (NaN)."""
    cdef int32_t target[LK_SHORT_ROWS]
    cdef double c[LK_SHORT_ROWS]
    cdef double m[LK_SHORT_ROWS]
    cdef double nll[LK_SHORT_ROWS]
    cdef Py_ssize_t r0 = 0, b, y, nb, r
    while r0 < rows:
        nb = min(<Py_ssize_t>LK_SHORT_ROWS, rows - r0)
        for b in range(nb):
            y = t[r0 + b]
            target[b] = -1 if y == ignore_index else <int32_t>y
            c[b] = 0.0 if y == ignore_index else s * (w[y] if w != NULL else 1.0)
        if floating is float:
            lkl_ce_short_f32(x + r0 * n, target, c, grad + r0 * n if grad != NULL else NULL, nb,
                             n, m, nll)
        else:
            lkl_ce_short_f64(x + r0 * n, target, c, grad + r0 * n if grad != NULL else NULL, nb,
                             n, m, nll)
        for b in range(nb):
            r = r0 + b
            if target[b] < 0:
                loss[r] = 0.0
                if grad != NULL:
                    fill(grad + r * n, n, 0.0)
            elif m[b] - m[b] != 0.0:        # NaN, +inf, all -inf: undefined
                loss[r] = NAN
                if grad != NULL:
                    fill(grad + r * n, n, NAN)
            elif w != NULL:                 # a zero weight contributes nothing, even to inf
                loss[r] = <floating>(nll[b] * w[target[b]]) if w[target[b]] != 0.0 else 0.0
            else:
                loss[r] = <floating>nll[b]
        r0 += nb


# ---------------------------------------------------------------- cross-entropy, probabilities

def cross_entropy_prob(const floating[:, :] x, const floating[:, :] target,
                       const double[::1] weight, floating[::1] loss, floating[:, ::1] grad,
                       double eps, double s, double[::1] result):
    """Cross-entropy of each row of x against class probabilities (same shape): loss[r] =
    sum_c q_c (logsumexp - x_c) with q = weight * ((1 - eps) target + eps / n). With grad,
    s * (T softmax - q) per row, T = sum q. result[0] gets the sum of the losses."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if target.shape[0] != rows or target.shape[1] != n or loss.shape[0] != rows:
        raise ValueError("internal error: shapes differ")
    if n > 1 and rows > 0 and (x.strides[1] != item or target.strides[1] != item):
        raise ValueError("internal error: rows must be contiguous")
    cdef bint want_grad = grad.shape[0] != 0
    if want_grad and (grad.shape[0] != rows or grad.shape[1] != n):
        raise ValueError("internal error: grad has the wrong shape")
    cdef const double *w = &weight[0] if weight.shape[0] != 0 else NULL
    cdef double tot_hi = 0.0, tot_lo = 0.0
    if rows == 0:
        result[0] = 0.0
        return
    if n == 0:
        for r in range(rows):
            loss[r] = 0.0
        result[0] = 0.0
        return
    cdef const char *xp = <const char *>&x[0, 0]
    cdef const char *tp = <const char *>&target[0, 0]
    cdef Py_ssize_t xs = x.strides[0], ts = target.strides[0]
    cdef floating *gp = &grad[0, 0] if want_grad else NULL
    cdef CrossEntropyRows job
    job = CrossEntropyRows(x=xp, xs=xs, n=n, rows=rows, index=NULL, ignore_index=0, prob=tp,
                           ts=ts, w=w, W=0.0, eps=eps, s=s, loss=<char *>&loss[0],
                           grad=<char *>gp, is_f32=floating is float, in_lanes=False)
    with nogil:
        pool.parallel_run(pool.threads_for(rows * n, rows), cross_entropy_task, &job)
        for r in range(rows):
            kahan_add(&tot_hi, &tot_lo, loss[r])
    result[0] = kahan_total(tot_hi, tot_lo)


cdef double prob_row(const floating *x, const floating *t, Py_ssize_t n, const double *w,
                     double eps, double s, floating *g, double *kept) noexcept nogil:
    cdef double m, L_hi, L_lo, inv_hi, inv_lo, c_hi, c_lo
    cdef double A_hi, A_lo, T
    cdef double sums[4]
    cdef int has_nan
    cdef lk_sum acc
    row_sums(x, n, g if floating is double else NULL, &m, &has_nan, &acc)
    if has_nan or m - m != 0.0:
        if g != NULL:
            fill(g, n, NAN)
        return NAN
    log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo)
    # T = sum of q_j; A = sum of q_j (m - x_j), where 0 * log(0) = 0: a class with no mass
    # takes no part
    smoothing_sums(x, t, w, n, m, eps, sums)
    T = sums[0] + sums[1]
    A_hi, A_lo = sums[2], sums[3]
    if g != NULL:
        soft_reciprocal(x, n, m, &acc, kept, &inv_hi, &inv_lo)
        dd_mul(s * T, inv_hi, inv_lo, &c_hi, &c_lo)
        smoothing_grad(x, t, w, row_exps(g, kept), n, -1, m, eps, c_hi, c_lo, s, g)
    return (A_hi + A_lo) + (T * L_hi + T * L_lo)


# ---------------------------------------------------------------- binary cross-entropy

cdef enum:
    # binary cross-entropy sums its losses per block of this many elements, and the blocks in
    # order: the total is the same for any number of threads
    BCE_BLOCK = 1 << 15


cdef struct BceJob:
    # one binary cross-entropy call, shared out among threads by blocks (bce_task)
    const char *x
    const char *t
    const double *w
    const double *pw
    char *loss
    char *grad
    Py_ssize_t n, blocks
    double s
    double *totals          # one per block
    bint is_f32


cdef void bce_blocks(const floating *kind, const BceJob *job, Py_ssize_t first,
                     Py_ssize_t last) noexcept nogil:
    cdef const floating *x = <const floating *>job.x
    cdef const floating *t = <const floating *>job.t
    cdef floating *loss = <floating *>job.loss
    cdef floating *grad = <floating *>job.grad
    cdef Py_ssize_t b, at, k
    for b in range(first, last):
        at = b * BCE_BLOCK
        k = min(<Py_ssize_t>BCE_BLOCK, job.n - at)
        if floating is float:
            job.totals[b] = lkl_f32.bce(x + at, t + at, job.w + at if job.w != NULL else NULL,
                                        job.pw + at if job.pw != NULL else NULL, loss + at,
                                        grad + at if grad != NULL else NULL, k, job.s)
        else:
            job.totals[b] = lkl_f64.bce(x + at, t + at, job.w + at if job.w != NULL else NULL,
                                        job.pw + at if job.pw != NULL else NULL, loss + at,
                                        grad + at if grad != NULL else NULL, k, job.s)


cdef void bce_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef const BceJob *job = <const BceJob *>ctx
    cdef Py_ssize_t first, last
    lk_split(job.blocks, tid, nthreads, 1, &first, &last)
    if job.is_f32:
        bce_blocks(<const float *>NULL, job, first, last)
    else:
        bce_blocks(<const double *>NULL, job, first, last)


def bce_with_logits(const floating[::1] x, const floating[::1] t, const double[::1] w,
                    const double[::1] pw, floating[::1] loss, floating[::1] grad, double s,
                    double[::1] result):
    """loss_i = w_i (pw_i t_i softplus(-x_i) + (1 - t_i) softplus(x_i)), both terms >= 0 for
    t in [0, 1]: no cancellation, exact for |x| up to the dtype's max. grad_i = s w_i
    ((1 - t_i) sigmoid(x_i) - pw_i t_i sigmoid(-x_i)). w / pw: length 0 (none) or len(x).
    result[0] gets the sum of the losses."""
    cdef Py_ssize_t n = x.shape[0]
    cdef bint want_grad = grad.shape[0] != 0
    if t.shape[0] != n or loss.shape[0] != n or (want_grad and grad.shape[0] != n):
        raise ValueError("internal error: shapes differ")
    if (w.shape[0] != 0 and w.shape[0] != n) or (pw.shape[0] != 0 and pw.shape[0] != n):
        raise ValueError("internal error: weights have the wrong length")
    if n == 0:
        result[0] = 0.0
        return
    cdef BceJob job
    job.x = <const char *>&x[0]
    job.t = <const char *>&t[0]
    job.w = &w[0] if w.shape[0] != 0 else NULL
    job.pw = &pw[0] if pw.shape[0] != 0 else NULL
    job.loss = <char *>&loss[0]
    job.grad = <char *>&grad[0] if want_grad else NULL
    job.n = n
    job.s = s
    job.is_f32 = floating is float
    job.blocks = (n + BCE_BLOCK - 1) // BCE_BLOCK
    cdef double stack_totals[64]
    job.totals = &stack_totals[0]
    if job.blocks > 64:
        job.totals = <double *>malloc(job.blocks * sizeof(double))
    if job.totals == NULL:
        raise MemoryError("binary_cross_entropy_with_logits: no memory for the block totals")
    cdef double hi = 0.0, lo = 0.0
    cdef Py_ssize_t b
    with nogil:
        pool.parallel_run(pool.threads_for(n, job.blocks), bce_task, &job)
        for b in range(job.blocks):
            kahan_add(&hi, &lo, job.totals[b])
    if job.totals != &stack_totals[0]:
        free(job.totals)
    result[0] = kahan_total(hi, lo)


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
            lkl_f32.softmax_bwd_rows(g, y, out, hi - lo, job.n)
        elif job.op == LOG_SOFTMAX_BWD:
            lkl_f32.log_softmax_bwd_rows(g, y, out, hi - lo, job.n)
        else:
            lkl_f32.sigmoid_bwd(g, y, out, hi - lo)
    else:
        if job.op == SOFTMAX_BWD:
            lkl_f64.softmax_bwd_rows(g, y, out, hi - lo, job.n)
        elif job.op == LOG_SOFTMAX_BWD:
            lkl_f64.log_softmax_bwd_rows(g, y, out, hi - lo, job.n)
        else:
            lkl_f64.sigmoid_bwd(g, y, out, hi - lo)


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
    pool.parallel_run(pool.threads_for(rows * n, rows), backward_task, &job)


def softmax_backward_rows(const floating[:, ::1] g, const floating[:, ::1] y,
                          floating[:, ::1] out):
    """out = y * (g - sum(g * y)) per row (see softmax_bwd_rows in _losses_simd_body.h)."""
    cdef Py_ssize_t rows = g.shape[0], n = g.shape[1]
    if rows == 0 or n == 0:
        return
    if y.shape[0] != rows or y.shape[1] != n or out.shape[0] != rows or out.shape[1] != n:
        raise ValueError("internal error: shapes differ")
    with nogil:
        run_backward(&g[0, 0], &y[0, 0], &out[0, 0], rows, n, SOFTMAX_BWD)


def log_softmax_backward_rows(const floating[:, ::1] g, const floating[:, ::1] y,
                              floating[:, ::1] out):
    """out = g - exp(y) * sum(g) per row (see log_softmax_bwd_rows in _losses_simd_body.h)."""
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

cdef enum:
    # calls this small keep the GIL: releasing it costs more than the work (as in _kernels)
    SMALL_VJP = 256


cdef inline bint plain_pair(object g, object y) noexcept:
    """Two arrays the kernels can read as they are: plain (see _plain.pxd), of one dtype and
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
    if size <= SMALL_VJP:
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
