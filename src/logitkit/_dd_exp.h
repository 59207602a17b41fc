/*
 * Scalar double-double arithmetic for the rarest element whose result cancels below what the
 * vector kernels resolve: e^y as a double-double (~2^-102 relative) and g - e^y S from it.
 * Plain C (math.h's fma, exact on every IEEE platform), no vectors: these run a few times a
 * row at most, so they trade speed for a simple, checkable form.
 */
#ifndef LOGITKIT_DD_EXP_H
#define LOGITKIT_DD_EXP_H

#include <math.h>

#include "_simd_math.h"

typedef struct { double hi, lo; } lk_dd;

/* ln 2 = A + B + C to 2^-150: the exp kernels' two-part split and a third part */
#define LK_DD_LN2_A LK_LN2_HI
#define LK_DD_LN2_B LK_LN2_LO
#define LK_DD_LN2_C 0x1.f97b57a079a19p-103
#define LK_DD_TERMS 24                      /* 0.35^24 / 24! < 2^-114 */

/* a + b exactly, as a normalised pair (Knuth's TwoSum: any magnitudes) */
static inline lk_dd lk_dd_two_sum(double a, double b)
{
    double s = a + b, bv = s - a;
    return (lk_dd){s, (a - (s - bv)) + (b - bv)};
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
    lk_dd p = {1.0, 0.0};
    for (int n = LK_DD_TERMS; n >= 2; n--) p = lk_dd_one_plus(lk_dd_div_int(lk_dd_mul(r, p), n));
    *k = (int)kd;
    return lk_dd_mul(r, p);
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
