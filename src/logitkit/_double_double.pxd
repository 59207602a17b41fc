# Per-row double-double numerics shared by the reduction kernels (_kernels.pyx) and the losses
# (_losses.pyx): exact sums, the reciprocal and the log of a sum of exponentials, each once per
# row, so they can afford ~2^-100 relative accuracy.

from libc.math cimport fma, frexp, ldexp, log1p


cdef inline void two_sum(double a, double b, double *s, double *err) noexcept nogil:
    """s + err == a + b exactly, s = fl(a + b) (Knuth)."""
    s[0] = a + b
    cdef double bv = s[0] - a
    err[0] = (a - (s[0] - bv)) + (b - bv)


cdef inline void sum_total(double top, double hi, double lo, double *s_hi,
                           double *s_lo) noexcept nogil:
    """top + hi + lo as a normalised double-double."""
    cdef double s, e
    two_sum(top, hi, &s, &e)
    two_sum(s, e + lo, s_hi, s_lo)


cdef inline void reciprocal(double top, double hi, double lo, double *inv_hi,
                            double *inv_lo) noexcept nogil:
    """1 / (top + hi + lo) as inv_hi + inv_lo, good to ~2^-100."""
    cdef double s_hi, s_lo
    sum_total(top, hi, lo, &s_hi, &s_lo)
    inv_hi[0] = 1.0 / s_hi
    inv_lo[0] = (-fma(inv_hi[0], s_hi, -1.0) - inv_hi[0] * s_lo) * inv_hi[0]


cdef inline void log_of_sum(double top, double hi, double lo, double *L_hi,
                            double *L_lo) noexcept nogil:
    """log(top + hi + lo) as L_hi + L_lo, where top >= 1 counts the terms equal to 1 and
    hi + lo sums the rest.

    A unique max with a small rest takes log1p of the rest, so a confident row keeps its tiny
    log. Otherwise the total is written 2^k * (1 + u) with 1 + u in [0.75, 1.5) and the log is
    k ln2 + log1p(u): the only rounding left is log1p's, on a value below 0.41, ~16x smaller
    than log(total)'s would be; logsumexp needs it where m + L cancels."""
    log_of_scaled_sum(top, hi, lo, 0, L_hi, L_lo)


cdef inline void log_of_scaled_sum(double top, double hi, double lo, int scale_k,
                                   double *L_hi, double *L_lo) noexcept nogil:
    """log((top + hi + lo) * 2^scale_k), as log_of_sum. The exponents are added before they
    meet ln 2: where they cancel (a sum scaled down by 2^-scale_k that is 2^scale_k * (1 + tiny)),
    k ln2_lo would otherwise swallow the tiny log1p term (logsumexp with b= of [0, -40])."""
    # ln 2 = ln2_hi + ln2_lo; ln2_hi has 20 trailing zero bits, so k * ln2_hi is exact (fdlibm's)
    cdef double ln2_hi = 6.93147180369123816490e-01
    cdef double ln2_lo = 1.90821492927058770002e-10
    cdef double s_hi, s_lo, u, u_lo, e
    cdef int k
    if top == 1.0 and scale_k == 0:
        two_sum(hi, lo, &s_hi, &s_lo)
        if s_hi < 0.5:
            L_hi[0] = log1p(s_hi)
            L_lo[0] = s_lo / (1.0 + s_hi)
            return
    sum_total(top, hi, lo, &s_hi, &s_lo)
    u = frexp(s_hi, &k)                     # s_hi = u * 2^k, u in [0.5, 1)
    if u < 0.75:
        u = 2.0 * u
        k -= 1
    u -= 1.0                                # exact (Sterbenz)
    u_lo = ldexp(s_lo, -k)
    k += scale_k
    two_sum(k * ln2_hi, log1p(u), L_hi, &e)
    L_lo[0] = e + (k * ln2_lo + u_lo / (1.0 + u))


cdef inline double add_log(double m, double L_hi, double L_lo) noexcept nogil:
    """m + L_hi + L_lo, rounded once where m and L cancel."""
    cdef double s, e
    two_sum(m, L_hi, &s, &e)
    return s + (e + L_lo)
