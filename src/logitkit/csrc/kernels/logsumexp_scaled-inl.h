/*
 * logsumexp with scale factors b: log|sum(b exp(x))| and its sign, row by row. Each term
 * b exp(x - m) (m = max x) is taken as a mantissa in [0.35, 1.42) times 2^p, and the terms are
 * summed scaled by 2^-k, k the largest p: the sum neither overflows (b = [DBL_MAX, DBL_MAX])
 * nor loses a term whose b is large but whose exp underflows (b = 1e300 at x - m = -800).
 * Scalar double arithmetic with libm's exp: the same on every target.
 */

#ifndef LK_SCALED_ONCE
#define LK_SCALED_ONCE
/* b exp(x - m) is below 2^1024 exp(-1600) = 2^-1284 here, and the largest term is at least
 * 2^-1074 (the max of x has exp 0 and some b != 0): such terms cannot change the sum */
#define LK_SCALED_NEGLIGIBLE (-1600.0)
#define LK_INV_LN2 1.44269504088896338700e+00

/* The c of exp(dh) = E 2^c in lk_scaled_exp (dh in [LK_SCALED_NEGLIGIBLE, 0]) */
static inline int lk_exp_exponent(double dh)
{
    return (int)floor(dh * LK_INV_LN2 + 0.5);
}

/* exp(dh + dl) as E 2^c with E in [0.7, 1.42] and full precision down to dh = -1600 (exp
 * itself underflows below -708): dh - c ln2 is formed in double-double, with fdlibm's split of
 * ln 2 (LN2_HI has 21 trailing zero bits, so c LN2_HI is exact for |c| < 2^21). */
static inline double lk_scaled_exp(double dh, double dl, int *c)
{
    double r, r_err, r_hi, r_lo;
    *c = lk_exp_exponent(dh);
    lk_two_sum_d(dh, -*c * LK_LN2_HI_FD, &r, &r_err);
    lk_two_sum_d(r, r_err + (dl - *c * LK_LN2_LO_FD), &r_hi, &r_lo);
    return exp(r_hi) * (1.0 + r_lo);
}
#endif

/* One row: log|sum(b exp(x))| into *value and its sign into *sign. Entries with b == 0 take no
 * part (even where x is inf or NaN). */
static LK_TARGET void LK_FN(scaled_row)(const LK_T *x, const LK_T *b, ptrdiff_t n, double *value,
                                        double *sign)
{
    double m = -INFINITY, v, w, t, c, e, dh, dl, bv, f, total_hi, total_lo, L_hi, L_lo;
    int k = INT_MIN, p, q, pos_inf = 0, neg_inf = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        w = b[i];
        if (w == 0.0) continue;
        v = x[i];
        if (v != v || w != w) {
            *value = NAN;
            *sign = NAN;
            return;
        }
        if (w == INFINITY || w == -INFINITY) {
            if (v == -INFINITY) {       /* inf exp(-inf) = inf 0: undefined, as in SciPy */
                *value = NAN;
                *sign = NAN;
                return;
            }
            pos_inf = pos_inf || w > 0;
            neg_inf = neg_inf || w < 0;
        } else if (v == INFINITY) {
            pos_inf = pos_inf || w > 0;
            neg_inf = neg_inf || w < 0;
        } else if (v > m) {
            m = v;
        }
    }
    if (pos_inf || neg_inf) {
        if (pos_inf && neg_inf) {
            *value = NAN;
            *sign = NAN;
        } else {
            *value = INFINITY;
            *sign = pos_inf ? 1.0 : -1.0;
        }
        return;
    }
    if (m == -INFINITY) {
        *value = -INFINITY;
        *sign = 0.0;
        return;
    }
    /* k: the largest binary exponent of a term (that of b plus that of exp(x - m)) */
    for (ptrdiff_t i = 0; i < n; i++) {
        dh = x[i] - m;                  /* -inf where it overflows: skipped */
        if (b[i] == 0.0 || !(dh >= LK_SCALED_NEGLIGIBLE)) continue;
        frexp(b[i], &p);
        if (p + lk_exp_exponent(dh) > k) k = p + lk_exp_exponent(dh);
    }
    /* Neumaier-compensated sum of the terms times 2^-k; x - m exact (TwoSum) */
    t = 0.0;
    c = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        dh = x[i] - m;
        if (b[i] == 0.0 || !(dh >= LK_SCALED_NEGLIGIBLE)) continue;
        bv = dh - x[i];
        dl = (x[i] - (dh - bv)) + (-m - bv);
        f = frexp(b[i], &p);
        f *= lk_scaled_exp(dh, dl, &q);
        e = ldexp(f, p + q - k);
        v = t + e;
        if (fabs(t) >= fabs(e))
            c += (t - v) + e;
        else
            c += (e - v) + t;
        t = v;
    }
    lk_two_sum_d(t, c, &total_hi, &total_lo);
    if (total_hi == 0.0) {
        *value = -INFINITY;
        *sign = 0.0;
        return;
    }
    *sign = total_hi > 0 ? 1.0 : -1.0;
    if (total_hi < 0) {
        total_hi = -total_hi;
        total_lo = -total_lo;
    }
    lk_log_of_scaled_sum(0.0, total_hi, total_lo, k, &L_hi, &L_lo);   /* log(sum 2^k) */
    *value = lk_add_log(m, L_hi, L_lo);
}

/* rows C-contiguous rows of n */
LK_TARGET void LK_FN(logsumexp_scaled_rows)(const LK_T *x, const LK_T *b, ptrdiff_t rows,
                                            ptrdiff_t n, LK_T *result, LK_T *sign)
{
    double value, s;
    for (ptrdiff_t r = 0; r < rows; r++) {
        LK_FN(scaled_row)(n > 0 ? x + r * n : NULL, n > 0 ? b + r * n : NULL, n, &value, &s);
        result[r] = (LK_T)value;
        sign[r] = (LK_T)s;
    }
}
