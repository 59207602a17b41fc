

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


# ln 2 = LN2_HI + LN2_LO, fdlibm's split (as in lk_log_of_scaled_sum, csrc/double_double.h): LN2_HI has 21
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
