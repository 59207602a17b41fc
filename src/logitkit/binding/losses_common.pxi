# What the loss bindings share: reductions, compensated sums, typed access to the tables.

cdef enum:
    MEAN = 0
    SUM = 1
    NONE = 2


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
    csrc/kernels/cross_entropy-inl.h; t NULL for class indices)."""
    if floating is float:
        lk_f32.smoothing_sums(x, t, w, n, m, eps, sums)
    else:
        lk_f64.smoothing_sums(x, t, w, n, m, eps, sums)


cdef inline void smoothing_grad(const floating *x, const floating *t, const double *w,
                                const double *kept, Py_ssize_t n, Py_ssize_t y, double m,
                                double eps, double c_hi, double c_lo, double s,
                                floating *g) noexcept nogil:
    """A row's gradient under label smoothing or soft targets (smoothing_grad in
    csrc/kernels/cross_entropy-inl.h; t NULL for a class index y, else y = -1; kept: the exps
    soft_reciprocal kept, or NULL)."""
    if floating is float:
        lk_f32.smoothing_grad(x, t, w, kept, n, y, m, eps, c_hi, c_lo, s, g)
    else:
        lk_f64.smoothing_grad(x, t, w, kept, n, y, m, eps, c_hi, c_lo, s, g)


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
    bits: float32's row sum is redone with double exps (exp_total in csrc/kernels/compensated-inl.h), as
    the shared exp_sum's float exps carry 2^-25, and those exps are kept in kept (n doubles,
    or NULL) for smoothing_grad; float64's is already double."""
    cdef double hi, lo
    if floating is float:
        hi = lk_f32.exp_total(x, n, m, &lo, kept)
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


cdef inline void fill_row(floating *out, Py_ssize_t n, double value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = <floating>value


cdef inline void dd_mul(double a, double b_hi, double b_lo, double *p_hi, double *p_lo) noexcept nogil:
    p_hi[0] = a * b_hi
    p_lo[0] = fma(a, b_hi, -p_hi[0]) + a * b_lo
