/*
 * Scalar double-double arithmetic, the one home of the per-row numerics: TwoSum, the total of
 * a row's exps and its reciprocal and log (log_of_sum: log1p of the rest for a confident row),
 * m + log rounded once, and for the rarest elements whose result cancels below what the vector
 * kernels resolve, e^y as a double-double (~2^-102 relative), g - e^y S from it and the
 * double-double logsumexp. Plain C (math.h's fma, exact on every IEEE platform), no vectors:
 * these run once a row or less, so they trade speed for a simple, checkable form.
 */
#ifndef LOGITKIT_DOUBLE_DOUBLE_H
#define LOGITKIT_DOUBLE_DOUBLE_H

#include <math.h>
#include <stddef.h>

#include "constants.h"

typedef struct { double hi, lo; } lk_dd;

/* A sum kept as an unevaluated hi + lo pair, plus how many terms were exactly 1 (x == max) */
typedef struct { double hi, lo, top; } lk_sum;

/* *s + *err == a + b exactly, *s = fl(a + b) (Knuth's TwoSum) */
static inline void lk_two_sum_d(double a, double b, double *s, double *err)
{
    *s = a + b;
    double bv = *s - a;
    *err = (a - (*s - bv)) + (b - bv);
}

/* *hi + *lo += v, compensated (the error of each addition kept in *lo) */
static inline void lk_kahan_add(double *hi, double *lo, double v)
{
    double s, e;
    lk_two_sum_d(*hi, v, &s, &e);
    *hi = s;
    *lo += e;
}

/* acc->hi + acc->lo += v, compensated */
static inline void lk_sum_add(lk_sum *acc, double v)
{
    lk_kahan_add(&acc->hi, &acc->lo, v);
}

/* hi + lo of a compensated sum; where the plain sum hi is inf or NaN, hi itself (its error
 * term met inf - inf and holds NaN) */
static inline double lk_kahan_total(double hi, double lo)
{
    return hi - hi == 0.0 ? hi + lo : hi;
}

/* top + hi + lo as a normalised double-double */
static inline void lk_sum_total(double top, double hi, double lo, double *s_hi, double *s_lo)
{
    double s, e;
    lk_two_sum_d(top, hi, &s, &e);
    lk_two_sum_d(s, e + lo, s_hi, s_lo);
}

/* 1 / (top + hi + lo) as inv_hi + inv_lo, good to ~2^-100 */
static inline void lk_reciprocal(double top, double hi, double lo, double *inv_hi, double *inv_lo)
{
    double s_hi, s_lo;
    lk_sum_total(top, hi, lo, &s_hi, &s_lo);
    *inv_hi = 1.0 / s_hi;
    *inv_lo = (-fma(*inv_hi, s_hi, -1.0) - *inv_hi * s_lo) * *inv_hi;
}

/* log((top + hi + lo) * 2^scale_k) as L_hi + L_lo, where top >= 1 counts the terms equal to 1
 * and hi + lo sums the rest. A unique max with a small rest takes log1p of the rest, so a
 * confident row keeps its tiny log. Otherwise the total is 2^k (1 + u) with 1 + u in
 * [0.75, 1.5) and the log k ln2 + log1p(u): the only rounding left is log1p's, on a value
 * below 0.41, ~16x smaller than log(total)'s would be; logsumexp needs it where m + L cancels.
 * The exponents are added before they meet ln 2: where they cancel (a sum scaled down by
 * 2^-scale_k that is 2^scale_k (1 + tiny)), k ln2_lo would otherwise swallow the tiny log1p
 * term (logsumexp with b= of [0, -40]). */
static inline void lk_log_of_scaled_sum(double top, double hi, double lo, int scale_k,
                                        double *L_hi, double *L_lo)
{
    const double ln2_hi = LK_LN2_HI_FD, ln2_lo = LK_LN2_LO_FD;
    double s_hi, s_lo, u, u_lo, e;
    int k;
    if (top == 1.0 && scale_k == 0) {
        lk_two_sum_d(hi, lo, &s_hi, &s_lo);
        if (s_hi < 0.5) {
            *L_hi = log1p(s_hi);
            *L_lo = s_lo / (1.0 + s_hi);
            return;
        }
    }
    lk_sum_total(top, hi, lo, &s_hi, &s_lo);
    u = frexp(s_hi, &k);                    /* s_hi = u 2^k, u in [0.5, 1) */
    if (u < 0.75) {
        u = 2.0 * u;
        k -= 1;
    }
    u -= 1.0;                               /* exact (Sterbenz) */
    u_lo = ldexp(s_lo, -k);
    k += scale_k;
    lk_two_sum_d(k * ln2_hi, log1p(u), L_hi, &e);
    *L_lo = e + (k * ln2_lo + u_lo / (1.0 + u));
}

static inline void lk_log_of_sum(double top, double hi, double lo, double *L_hi, double *L_lo)
{
    lk_log_of_scaled_sum(top, hi, lo, 0, L_hi, L_lo);
}

/* m + L_hi + L_lo, rounded once where m and L cancel */
static inline double lk_add_log(double m, double L_hi, double L_lo)
{
    double s, e;
    lk_two_sum_d(m, L_hi, &s, &e);
    return s + (e + L_lo);
}

/* ln 2 = A + B + C to 2^-150: the exp kernels' two-part split and a third part */
#define LK_DD_LN2_A LK_LN2_HI
#define LK_DD_LN2_B LK_LN2_LO
#define LK_DD_LN2_C 0x1.f97b57a079a19p-103
#define LK_DD_TERMS 24                      /* 0.35^24 / 24! < 2^-114 */

/* a + b exactly, as a normalised pair (Knuth's TwoSum: any magnitudes) */
static inline lk_dd lk_dd_two_sum(double a, double b)
{
    lk_dd r;
    lk_two_sum_d(a, b, &r.hi, &r.lo);
    return r;
}

/* a + b for |a| >= |b| or a == 0 (Dekker's FastTwoSum) */
static inline lk_dd lk_dd_fast_sum(double a, double b)
{
    double s = a + b;
    return (lk_dd){s, b - (s - a)};
}

static inline lk_dd lk_dd_mul(lk_dd a, lk_dd b)
{
    double p = a.hi * b.hi;
    return lk_dd_fast_sum(p, fma(a.hi, b.hi, -p) + (a.hi * b.lo + a.lo * b.hi));
}

/* a / n for a small positive integer n: the first quotient's remainder is exact (fma) */
static inline lk_dd lk_dd_div_int(lk_dd a, double n)
{
    double q = a.hi / n;
    return lk_dd_fast_sum(q, (fma(-q, n, a.hi) + a.lo) / n);
}

/* 1 + a for |a| <= 1/2 */
static inline lk_dd lk_dd_one_plus(lk_dd a)
{
    lk_dd s = lk_dd_fast_sum(1.0, a.hi);
    return lk_dd_fast_sum(s.hi, s.lo + a.lo);
}

/* e^r - 1 for a double-double |r| <= 0.35: the Taylor series in Horner form, r p_2 with
 * p_n = 1 + r p_(n+1)/n */
static inline lk_dd lk_dd_expm1_series(lk_dd r)
{
    lk_dd p = {1.0, 0.0};
    for (int n = LK_DD_TERMS; n >= 2; n--) p = lk_dd_one_plus(lk_dd_div_int(lk_dd_mul(r, p), n));
    return lk_dd_mul(r, p);
}

/* e^y = 2^k (1 + m) for y in [-200, 89]: y = k ln2 + r, r a double-double (k A is exact: 51
 * bits for |k| <= 289; so is y - k A, by Sterbenz's lemma for k != 0, as y and k A are within
 * a factor of 2 for any double y, and checked for every float32 y in the range; k B's
 * rounding is kept by fma); m = e^r - 1 = r p_2 by the
 * Taylor series in Horner form, p_n = 1 + r p_(n+1)/n (|r| <= 0.35), so m keeps its digits
 * relative to itself where r is tiny (2^-102 of m, 2^-105 of 1 + m, measured) */
static inline lk_dd lk_dd_expm1_reduced(double y, int *k)
{
    double kd = nearbyint(y * LK_LOG2E);
    double t = fma(kd, -LK_DD_LN2_A, y), kb = kd * LK_DD_LN2_B;
    lk_dd r = lk_dd_two_sum(t, -kb);
    r = lk_dd_fast_sum(r.hi, r.lo - (fma(kd, LK_DD_LN2_B, -kb) + kd * LK_DD_LN2_C));
    *k = (int)kd;
    return lk_dd_expm1_series(r);
}

/* g - e^y (s_hi + s_lo) with e^y to ~2^-102: where k = 0 (e^y near 1) as (g - S) - m S, so
 * that the gradient of a confident row's top class keeps its digits too */
static inline double lk_dd_log_softmax_bwd(double g, double y, double s_hi, double s_lo)
{
    int k;
    lk_dd m = lk_dd_expm1_reduced(y, &k), s = {s_hi, s_lo}, p, d;
    if (k == 0) {
        d = lk_dd_two_sum(g, -s_hi);
        d.lo -= s_lo;
        p = lk_dd_mul(m, s);
    } else {
        lk_dd e = lk_dd_fast_sum(1.0, m.hi);
        e.lo += m.lo;
        p = lk_dd_mul((lk_dd){ldexp(e.hi, k), ldexp(e.lo, k)}, s);
        d = (lk_dd){g, 0.0};
    }
    lk_dd o = lk_dd_two_sum(d.hi, -p.hi);
    return o.hi + (o.lo + (d.lo - p.lo));
}

/* a + b, both normalised pairs (~2^-104 relative where they do not cancel) */
static inline lk_dd lk_dd_add(lk_dd a, lk_dd b)
{
    lk_dd s = lk_dd_two_sum(a.hi, b.hi);
    return lk_dd_fast_sum(s.hi, s.lo + (a.lo + b.lo));
}

/* e^(hi + lo) for hi in [-200, 89] and |lo| <= ulp(hi): 2^k (1 + m) (1 + lo), ~2^-102 where
 * |hi| <= 1; lo^2 / 2 grows to ~2^-91 of the result at hi = -200 (in a sum of exps, below
 * 2^-107 of the sum, as such a term is e^-200 of it) */
static inline lk_dd lk_dd_exp(double hi, double lo)
{
    int k;
    lk_dd e = lk_dd_one_plus(lk_dd_expm1_reduced(hi, &k));
    e = lk_dd_fast_sum(e.hi, e.lo + e.hi * lo);
    return (lk_dd){ldexp(e.hi, k), ldexp(e.lo, k)};
}

/* log(s) for s in [1, 2^64): libm's log (< 1 ulp), then one Newton step with e^-L in
 * double-double: log(s) = L + log(s e^-L), s e^-L = 1 + r with |r| ~ 2^-52, so log(1 + r) = r
 * to r^2/2 ~ 2^-105 */
static inline lk_dd lk_dd_log(lk_dd s)
{
    double L = log(s.hi);
    lk_dd p = lk_dd_mul(s, lk_dd_exp(-L, 0.0));
    double r = (p.hi - 1.0) + p.lo;         /* p.hi - 1 exact (Sterbenz) */
    return lk_dd_two_sum(L, r - 0.5 * r * r);
}

/* log1p(a) for a double-double a in [0, 1/2): libm's log1p, then one Newton step on expm1 in
 * double-double (e^L - 1 = m, or 1 + 2 m where k = 1, L > 0.35), so that a tiny a keeps its
 * digits relative to itself: ~2^-100 of the result */
static inline lk_dd lk_dd_log1p(lk_dd a)
{
    int k;
    double L = log1p(a.hi);
    lk_dd m = lk_dd_expm1_reduced(L, &k);
    lk_dd em1 = k == 0 ? m : lk_dd_one_plus((lk_dd){2.0 * m.hi, 2.0 * m.lo});
    lk_dd gap = lk_dd_add(a, (lk_dd){-em1.hi, -em1.lo});       /* a - (e^L - 1) */
    return lk_dd_two_sum(L, (gap.hi + gap.lo) / (1.0 + em1.hi));
}

/* logsumexp of n doubles (step apart, max m finite, no NaN) where m + log(sum) cancels: the
 * terms e^(x - m) in double-double (x - m split exactly), the log of the sum as log_of_sum
 * takes it (a unique max with a rest below 1/2: log1p of the rest, which keeps a confident
 * row's tiny log to its own digits; else lk_dd_log of the total, >= 1.5), and m + L rounded
 * once: ~2^-100 of the log. Terms below e^-200 (< 2^-288 of the sum) are left out. */
static inline double lk_dd_logsumexp(const double *x, ptrdiff_t n, ptrdiff_t step, double m)
{
    lk_dd rest = {0.0, 0.0};
    double top = 0.0;
    for (ptrdiff_t k = 0; k < n; k++) {
        double v = x[k * step];
        if (v == m) {
            top += 1.0;
            continue;
        }
        lk_dd d = lk_dd_two_sum(v, -m);
        if (d.hi >= -200.0) rest = lk_dd_add(rest, lk_dd_exp(d.hi, d.lo));
    }
    lk_dd L = top == 1.0 && rest.hi < 0.5 ? lk_dd_log1p(rest)
                                          : lk_dd_log(lk_dd_add((lk_dd){top, 0.0}, rest));
    lk_dd v = lk_dd_two_sum(m, L.hi);
    return v.hi + (v.lo + L.lo);
}

#endif
