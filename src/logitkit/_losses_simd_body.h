/*
 * The loops of logitkit._losses for one storage type and one instruction set; included by
 * _losses_simd.c with LK_T, LK_IS_F64, LK_FN, LK_TARGET, LK_FMA (see _simd_body.h) and
 *   LKL_FN(name)  this file's names
 *   LKL_FUSED     1 when LK_FMA is a true fused multiply-add (exact product errors)
 * _simd_body.h is included first, under LK_FN, for its inline helpers (exp_dd, exp_lp, load,
 * store, shifted_expf, max_nan, row_max, exp_sum).
 */
#include "_simd_body.h"
#include "_dd_exp.h"

#ifndef LKL_ONCE
#define LKL_ONCE
#define LKL_HALF_LN2 0.34657359027997264   /* |y| below: e^y within a factor sqrt(2) of 1 */
#define LKL_REDO_VECS 256    /* vectors in a stretch of log_softmax_bwd_fast (their weak-lane bits) */
/* 1/j! for j = 0 .. 17 (each j! exact in double), and the low parts of the first 6 as
 * double-doubles: the series of e^r - 1 past r^3/6 in expm1_reduced, and of e^r in exp_dd2 */
static const double lkl_inv_fact_hi[18] = {
    1.0 / 1.0, 1.0 / 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0,
    1.0 / 5040.0, 1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0,
    1.0 / 479001600.0, 1.0 / 6227020800.0, 1.0 / 87178291200.0, 1.0 / 1307674368000.0,
    1.0 / 20922789888000.0, 1.0 / 355687428096000.0};
static const double lkl_inv_fact_lo[6] = {
    0.0, 0.0, 0.0, 0x1.5555555555555p-57, 0x1.5555555555555p-59, 0x1.1111111111111p-63};
/* 2^(j/64) for j = 0 .. 63 as double-doubles (hi + lo to ~2^-107): exp_dd2's table */
static const double lkl_exp2_64_hi[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0,
    0x1.0874518759bc8p+0, 0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0,
    0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0, 0x1.172b83c7d517bp+0,
    0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0,
    0x1.2d285a6e4030bp+0, 0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0,
    0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0, 0x1.3dea64c123422p+0,
    0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0,
    0x1.56f4736b527dap+0, 0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0,
    0x1.6247eb03a5585p+0, 0x1.6623882552225p+0, 0x1.6a09e667f3bcdp+0,
    0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0,
    0x1.868d99b4492edp+0, 0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0,
    0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0, 0x1.9c49182a3f090p+0,
    0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0,
    0x1.bcc1e904bc1d2p+0, 0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0,
    0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0, 0x1.d5818dcfba487p+0,
    0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0,
    0x1.fa7c1819e90d8p+0};
static const double lkl_exp2_64_lo[64] = {
    0x0.0p+0, -0x1.19083535b085dp-56, 0x1.d73e2a475b465p-55,
    0x1.186be4bb284ffp-57, 0x1.8a62e4adc610bp-54, 0x1.03a1727c57b53p-59,
    -0x1.6c51039449b3ap-54, -0x1.32fbf9af1369ep-54, -0x1.19041b9d78a76p-55,
    0x1.e5b4c7b4968e4p-55, 0x1.e016e00a2643cp-54, 0x1.dc775814a8495p-55,
    0x1.9b07eb6c70573p-54, 0x1.2bd339940e9d9p-55, 0x1.612e8afad1255p-55,
    0x1.0024754db41d5p-54, 0x1.6f46ad23182e4p-55, 0x1.32721843659a6p-54,
    -0x1.63aeabf42eae2p-54, -0x1.5e436d661f5e3p-56, 0x1.ada0911f09ebcp-55,
    -0x1.ef3691c309278p-58, 0x1.89b7a04ef80d0p-59, 0x1.3c1a3b69062f0p-56,
    0x1.d4397afec42e2p-56, -0x1.4b309d25957e3p-54, -0x1.07abe1db13cadp-55,
    0x1.9bb2c011d93adp-54, 0x1.6324c054647adp-54, 0x1.ba6f93080e65ep-54,
    -0x1.383c17e40b497p-54, -0x1.bb60987591c34p-54, -0x1.bdd3413b26456p-54,
    -0x1.bbe3a683c88abp-57, -0x1.16e4786887a99p-55, -0x1.0245957316dd3p-54,
    -0x1.41577ee04992fp-55, 0x1.05d02ba15797ep-56, -0x1.d4c1dd41532d8p-54,
    -0x1.fc6f89bd4f6bap-54, 0x1.6e9f156864b27p-54, 0x1.5cc13a2e3976cp-55,
    -0x1.75fc781b57ebcp-57, -0x1.d185b7c1b85d1p-54, 0x1.c7c46b071f2bep-56,
    -0x1.359495d1cd533p-54, -0x1.d2f6edb8d41e1p-54, 0x1.0fac90ef7fd31p-54,
    0x1.7a1cd345dcc81p-54, -0x1.2805e3084d708p-57, -0x1.5584f7e54ac3bp-56,
    0x1.23dd07a2d9e84p-55, 0x1.11065895048ddp-55, 0x1.2884dff483cadp-54,
    0x1.503cbd1e949dbp-56, -0x1.cbc3743797a9cp-54, 0x1.2ed02d75b3707p-55,
    0x1.c2300696db532p-54, -0x1.1a5cd4f184b5cp-54, 0x1.39e8980a9cc8fp-55,
    -0x1.e9c23179c2893p-54, 0x1.dc7f486a4b6b0p-54, 0x1.9d3e12dd8a18bp-54,
    0x1.74853f3a5931ep-55};
#if defined(__GNUC__)
#define LKL_VF8 1
typedef float lkl_vf8 __attribute__((vector_size(32)));
typedef int32_t lkl_vi8 __attribute__((vector_size(32)));
#define LKL_NOINLINE __attribute__((noinline))
#define LKL_UNLIKELY(c) __builtin_expect(!!(c), 0)
#define LKL_CTZ(x) __builtin_ctz(x)
#define LKL_POPCOUNT(x) __builtin_popcount(x)
#else
#define LKL_VF8 0
#define LKL_NOINLINE
#define LKL_UNLIKELY(c) (c)
/* the lowest set bit's index of x != 0, and the count of set bits (portable forms) */
static inline int lkl_ctz(unsigned x)
{
    int n = 0;
    while (!(x & 1u)) x >>= 1, n++;
    return n;
}
static inline int lkl_popcount(unsigned x)
{
    int n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}
#define LKL_CTZ(x) lkl_ctz(x)
#define LKL_POPCOUNT(x) lkl_popcount(x)
#endif
#endif

/* a * b = p + err exactly (TwoProduct): FMA where fused, Dekker's product otherwise. Veltkamp's
 * split (2^27 + 1) * a overflows for |a| > 2^996: those factors are split at 2^-64 of
 * themselves, and the error of the scaled product scaled back (exact, short of underflow). */
LK_INLINE LK_TARGET lk_vd LKL_FN(two_prod)(lk_vd a, lk_vd b, lk_vd *err)
{
    lk_vd p = a * b;
#if LKL_FUSED
    *err = LK_FMA(a, b, -p);
#else
    lk_vd one = lk_splat(1.0), down = lk_splat(0x1p-64);
    lk_vd sa = lk_select(LK_MASK(a > 0x1p995) | LK_MASK(a < -0x1p995), down, one);
    lk_vd sb = lk_select(LK_MASK(b > 0x1p995) | LK_MASK(b < -0x1p995), down, one);
    lk_vd as = a * sa, bs = b * sb, ps = as * bs;
    lk_vd ca = 134217729.0 * as, cb = 134217729.0 * bs;
    lk_vd ah = ca - (ca - as), al = as - ah, bh = cb - (cb - bs), bl = bs - bh;
    *err = (((ah * bh - ps) + ah * bl + al * bh) + al * bl) / (sa * sb);
#endif
    return p;
}

/* a * b = p + err: exact by TwoProduct for float64; float32 data's products are exact in
 * double (24 + 24 bits) */
LK_INLINE LK_TARGET lk_vd LKL_FN(prod)(lk_vd a, lk_vd b, lk_vd *err)
{
#if LK_IS_F64
    return LKL_FN(two_prod)(a, b, err);
#else
    *err = lk_splat(0.0);
    return a * b;
#endif
}

/* The lanes of two compensated sums (s0, s1) and their error terms c, as hi + *lo */
LK_INLINE LK_TARGET double LKL_FN(lanes_total)(lk_vd s0, lk_vd s1, lk_vd c, double *lo)
{
    lk_sum acc = {0.0, 0.0, 0.0};
    for (int j = 0; j < LK_W; j++) {
        lk_sum_add(&acc, lk_lane(s0, j));
        lk_sum_add(&acc, lk_lane(s1, j));
        acc.lo += lk_lane(c, j);
    }
    if (!isfinite(acc.hi)) {            /* inf or NaN: the plain sum's (acc.lo met inf - inf) */
        *lo = 0.0;
        return acc.hi;
    }
    double h = acc.hi + acc.lo;
    *lo = acc.lo - (h - acc.hi);
    return h;
}

/* sum(a * b) as hi + lo, compensated per lane (TwoSum; TwoProduct for float64): the exact
 * dot product to ~2^-100 relative, so that g - sum(g * y) keeps its digits when it cancels
 * (the top class of a confident row) */
LK_TARGET double LKL_FN(dot)(const LK_T *a, const LK_T *b, ptrdiff_t n, double *lo)
{
    lk_vd s0 = lk_splat(0.0), s1 = s0, c0 = s0, c1 = s0;
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        lk_vd x0 = LK_FN(load)(a + i, LK_W, 0.0), y0 = LK_FN(load)(b + i, LK_W, 0.0);
        lk_vd x1 = LK_FN(load)(a + i + LK_W, LK_W, 0.0), y1 = LK_FN(load)(b + i + LK_W, LK_W, 0.0);
        lk_vd pe0, pe1, se0, se1;
        lk_vd p0 = LKL_FN(prod)(x0, y0, &pe0), p1 = LKL_FN(prod)(x1, y1, &pe1);
        s0 = lk_two_sum(s0, p0, &se0);
        s1 = lk_two_sum(s1, p1, &se1);
        c0 += se0 + pe0;
        c1 += se1 + pe1;
    }
    for (; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd x0 = LK_FN(load)(a + i, w, 0.0), y0 = LK_FN(load)(b + i, w, 0.0);
        lk_vd pe0, se0;
        lk_vd p0 = LKL_FN(prod)(x0, y0, &pe0);
        s0 = lk_two_sum(s0, p0, &se0);
        c0 += se0 + pe0;
    }
    return LKL_FN(lanes_total)(s0, s1, c0 + c1, lo);
}

/* (c_hi + c_lo) exp(x - m) in double lanes, x - m split exactly (TwoSum); x = -inf gives 0 */
LK_INLINE LK_TARGET lk_vd LKL_FN(scaled_exp)(lk_vd x, lk_vd m, lk_vd c_hi, lk_vd c_lo)
{
    lk_vd dl, dh = lk_two_sum(x, -m, &dl);
    lk_vm live = LK_MASK(dh > LK_EXP_FLOOR);            /* false for -inf */
    lk_vd e = LK_FN(exp_dd)(lk_clamp_below(dh, LK_EXP_FLOOR), lk_select(live, dl, lk_splat(0.0)));
    return c_hi * e + c_lo * e;
}

/* sum(a), or with of_exp sum(exp(a - m)) by scaled_exp, as hi + *lo: compensated per lane
 * (TwoSum) in two chains, as one TwoSum's latency per vector would bound the loop. of_exp is
 * a constant at each call; with store (n doubles, or NULL) the terms are kept there too. */
LK_INLINE LK_TARGET double LKL_FN(sum_of)(const LK_T *a, ptrdiff_t n, double m, double *lo,
                                          const int of_exp, double *store)
{
    lk_vd mv = lk_splat(m), one = lk_splat(1.0), zero = lk_splat(0.0);
    lk_vd s0 = zero, s1 = zero, c0 = zero, c1 = zero;
    double pad = of_exp ? -INFINITY : 0.0;                  /* a term of 0 either way */
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        lk_vd x0 = LK_FN(load)(a + i, LK_W, pad), x1 = LK_FN(load)(a + i + LK_W, LK_W, pad);
        if (of_exp) {
            x0 = LKL_FN(scaled_exp)(x0, mv, one, zero);
            x1 = LKL_FN(scaled_exp)(x1, mv, one, zero);
        }
        if (store) lk_store_d(store + i, x0, LK_W), lk_store_d(store + i + LK_W, x1, LK_W);
        lk_vd e0, e1;
        s0 = lk_two_sum(s0, x0, &e0);
        s1 = lk_two_sum(s1, x1, &e1);
        c0 += e0;
        c1 += e1;
    }
    for (; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        lk_vd x0 = LK_FN(load)(a + i, wd, pad);
        if (of_exp) x0 = LKL_FN(scaled_exp)(x0, mv, one, zero);
        if (store) lk_store_d(store + i, x0, wd);
        lk_vd e0;
        s0 = lk_two_sum(s0, x0, &e0);
        c0 += e0;
    }
    return LKL_FN(lanes_total)(s0, s1, c0 + c1, lo);
}

/* sum(a) as hi + lo, compensated per lane */
LK_TARGET double LKL_FN(total)(const LK_T *a, ptrdiff_t n, double *lo)
{
    return LKL_FN(sum_of)(a, n, 0.0, lo, 0, NULL);
}

/* sum of exp(x_j - m) in double lanes as hi + *lo, the terms kept in store (n doubles, or
 * NULL) for smoothing_grad. For float32 rows under label smoothing or soft targets: their
 * gradient T p_j - q_j may cancel to the targets' rounding, and the float exps of the shared
 * exp_sum (2^-25) would then decide its every digit. */
LK_TARGET double LKL_FN(exp_total)(const LK_T *x, ptrdiff_t n, double m, double *lo,
                                   double *store)
{
    return LKL_FN(sum_of)(x, n, m, lo, 1, store);
}

/* log_softmax_backward's lanes where e^y is near 1 (|y| < ln2/2: the top class of a
 * confident row, whose NLL gradient is (1 - e^y) / N with y ~ -1e-18, and e^y's rounding to
 * 1 would leave 0): (g - S) - expm1(y) S in place of o, g - S exact (TwoSum), expm1 as
 * exp_poly with k = 0 (e^r - 1 to ~1 ulp of itself for |r| <= ln2/2). Other lanes keep o; a
 * vector without such a lane costs two compares. */
LK_INLINE LK_TARGET lk_vm LKL_FN(near_one)(lk_vd y)
{
    return LK_MASK(y < LKL_HALF_LN2) & LK_MASK(y > -LKL_HALF_LN2);
}

LK_INLINE LK_TARGET lk_vd LKL_FN(near_one_fix)(lk_vd o, lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    lk_vm near = LKL_FN(near_one)(y);
    if (!LK_ANY(near)) return o;
    lk_vd em1 = LK_FN(exp_poly)(lk_select(near, y, lk_splat(0.0)), &lk_exp_k);
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    lk_vd pe, p = LKL_FN(two_prod)(em1, s_hi, &pe);
    pe = LK_FMA(em1, s_lo, pe);
    lk_vd rl, rh = lk_two_sum(dh, -p, &rl);
    lk_vd fixed = rh + (rl + ((dl - s_lo) - pe));
    /* an inf or NaN in g or S: the plain form's result */
    lk_vm finite = LK_MASK(fixed - fixed == 0.0);
    return lk_select(near & finite, fixed, o);
}

/* |v|: the sign bit cleared (one instruction, where a select costs a compare and a blend) */
LK_INLINE LK_TARGET lk_vd LKL_FN(abs)(lk_vd v)
{
    return lk_from_bits(lk_bits(v) & INT64_MAX);
}

/* One vector of softmax_backward: y (g - s), s = s_hi + s_lo; g - s_hi exact (TwoSum); where
 * g - s_hi is +-inf or NaN (g or s infinite), the plain y (g - s_hi), as TwoSum's error term
 * met inf - inf */
LK_INLINE LK_TARGET lk_vd LKL_FN(softmax_bwd_vec)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    return lk_select(LK_MASK(dh - dh == 0.0), LK_FMA(y, dh, y * (dl - s_lo)), y * dh);
}

#if !LK_IS_F64

/* e^y = 2^k (1 + m) for float y in double lanes, k in *k, m + *m_lo to ~2^-61 of 1 + m and
 * of m itself (measured 2^-61.1 and 2^-60.8; the near-one form needs m to its own digits):
 * y - k ln2 as r + r_lo with the three-part ln2 of _dd_exp.h (k A and y - k A exact for float
 * y), m = r + r^2/2 + r^3/6 in double-double, the series' tail r^4/24 .. r^17/17! in double,
 * then (1 + m)(1 + r_lo) - 1. */
LK_INLINE LK_TARGET lk_vd LKL_FN(expm1_reduced)(lk_vd y, lk_vd *k, lk_vd *m_lo)
{
    lk_vd kd = (y * LK_LOG2E + LK_SHIFTER) - LK_SHIFTER;
    lk_vd kb_err, kb = LKL_FN(two_prod)(kd, lk_splat(LK_DD_LN2_B), &kb_err);
    lk_vd r_lo, r = lk_two_sum(y - kd * LK_DD_LN2_A, -kb, &r_lo);
    r_lo -= kb_err + kd * LK_DD_LN2_C;
    lk_vd sq_lo, sq = LKL_FN(two_prod)(r, r, &sq_lo);
    lk_vd cu_lo, cu = LKL_FN(two_prod)(r, sq, &cu_lo);
    cu_lo += r * sq_lo;
    lk_vd c6 = cu / 6.0, c6x6_err, c6x6 = LKL_FN(two_prod)(c6, lk_splat(6.0), &c6x6_err);
    lk_vd c6_lo = (((cu - c6x6) - c6x6_err) + cu_lo) / 6.0;   /* cu - c6x6 exact (Sterbenz) */
    lk_vd tail = lk_splat(lkl_inv_fact_hi[17]);
    for (int j = 16; j >= 4; j--) tail = LK_FMA(tail, r, lk_splat(lkl_inv_fact_hi[j]));
    tail *= sq * sq;
    lk_vd t, t2, m = lk_two_sum(r, 0.5 * sq, &t);
    m = lk_two_sum(m, c6, &t2);
    t += t2 + (0.5 * sq_lo + c6_lo + tail);
    t += r_lo + m * r_lo;
    lk_vd hi = m + t;
    *m_lo = t - (hi - m);
    *k = kd;
    return hi;
}

/* g - e^y S in double-double lanes (e^y to ~2^-61, from expm1_reduced), as (g - S) - m S where
 * k = 0 (e^y near 1); *term gets the magnitude it was computed against */
LK_INLINE LK_TARGET lk_vd LKL_FN(log_softmax_bwd_dd)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo,
                                                     lk_vd *term)
{
    lk_vd k, m_lo, m = LKL_FN(expm1_reduced)(y, &k, &m_lo);
    lk_vm near = LK_MASK(k == 0.0);
    lk_vd e_lo, e = lk_two_sum(lk_splat(1.0), m, &e_lo), scale = lk_pow2i(k);
    lk_vd f = lk_select(near, m, e * scale);
    lk_vd f_lo = lk_select(near, m_lo, (e_lo + m_lo) * scale);
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    dh = lk_select(near, dh, g);
    dl = lk_select(near, dl - s_lo, lk_splat(0.0));
    lk_vd pe, p = LKL_FN(two_prod)(f, s_hi, &pe);
    pe += f * s_lo + f_lo * s_hi;
    lk_vd ol, oh = lk_two_sum(dh, -p, &ol);
    *term = LKL_FN(abs)(dh) + LKL_FN(abs)(p);
    return oh + (ol + (dl - pe));
}

/* The magnitude a double g - e S is computed against: |e S|, or where e^y is near 1 the
 * near-one form's terms, |g - S| + |y S| */
LK_INLINE LK_TARGET lk_vd LKL_FN(bwd_terms)(lk_vd g, lk_vd y, lk_vd e, lk_vd s_hi)
{
    lk_vd term = LKL_FN(abs)(e * s_hi);
    lk_vm near = LKL_FN(near_one)(y);
    if (!LK_ANY(near)) return term;
    return lk_select(near, LKL_FN(abs)(g - s_hi) + LKL_FN(abs)(y * s_hi), term);
}

/* Lanes of o = g - e S that cancel below 2^-28.5 of their terms, where the double result's
 * error (e's ~1.4 * 2^-53 and two roundings: 3.4 * 2^-53 of the terms) may pass 3.5 ulp of a
 * float: the vector again in double-double lanes (log_softmax_bwd_dd), and the lanes still
 * below 2^-35 of their terms in scalar double-double (lk_dd_log_softmax_bwd, ~2^-102; with S
 * and the product in double-double, results stay within 4 ulp to ~2^-84 of the terms).
 * Cancelling lanes of random data reach one about once in 2^28 elements, g built from e^y S
 * itself (rounded to float) one lane in 11. */
LKL_NOINLINE static LK_TARGET lk_vd LKL_FN(deep_fix)(lk_vd o, lk_vd g, lk_vd y, lk_vd e,
                                                     lk_vd s_hi, lk_vd s_lo)
{
    lk_vd term = LKL_FN(bwd_terms)(g, y, e, s_hi);
    lk_vm deep = LK_MASK(o * o < 0x1p-57 * (term * term));
    if (!LK_ANY(deep)) return o;
    lk_vd term2, o2 = LKL_FN(log_softmax_bwd_dd)(g, y, s_hi, s_lo, &term2);
    o = lk_select(deep, o2, o);
    lk_vm deeper = deep & LK_MASK(o2 * o2 < 0x1p-70 * (term2 * term2));
    if (!LK_ANY(deeper)) return o;
    double ob[LK_W], gb[LK_W], yb[LK_W], hb[LK_W], lb[LK_W];
    int64_t db[LK_W];
    memcpy(ob, &o, sizeof ob), memcpy(gb, &g, sizeof gb), memcpy(yb, &y, sizeof yb);
    memcpy(hb, &s_hi, sizeof hb), memcpy(lb, &s_lo, sizeof lb), memcpy(db, &deeper, sizeof db);
    for (int j = 0; j < LK_W; j++)
        if (db[j]) ob[j] = lk_dd_log_softmax_bwd(gb[j], yb[j], hb[j], lb[j]);
    memcpy(&o, ob, sizeof o);
    return o;
}

/* One vector of log_softmax_backward for float32 data: g - e S, e = exp(y), S = s_hi + s_lo,
 * in double with e from exp_dd, the near-one form where e^y ~ 1, deep_fix where the terms
 * cancel below double's reach; y already clamped to [LK_EXP_FLOOR_LP, 88] */
LK_INLINE LK_TARGET lk_vd LKL_FN(log_softmax_bwd_of)(lk_vd g, lk_vd y, lk_vd e, lk_vd s_hi,
                                                     lk_vd s_lo)
{
    lk_vd o = LKL_FN(near_one_fix)(g - e * (s_hi + s_lo), g, y, s_hi, s_lo);
    /* out of line past a first test against |e S| (which near-one lanes, whose terms are
     * smaller, may pass without being deep: deep_fix tests them again) */
    lk_vd term = e * s_hi;
    if (LKL_UNLIKELY(LK_ANY(LK_MASK(o * o < 0x1p-57 * (term * term)))))
        o = LKL_FN(deep_fix)(o, g, y, e, s_hi, s_lo);
    return o;
}

LK_INLINE LK_TARGET lk_vd LKL_FN(log_softmax_bwd_vec)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    return LKL_FN(log_softmax_bwd_of)(g, y, LK_FN(exp_dd)(y, lk_splat(0.0)), s_hi, s_lo);
}
#endif

/* out = y * (g - s), s = s_hi + s_lo */
LK_INLINE LK_TARGET void LKL_FN(softmax_bwd_exact)(const LK_T *g, const LK_T *y, LK_T *out,
                                                   ptrdiff_t n, double s_hi, double s_lo)
{
    lk_vd sh = lk_splat(s_hi), sl = lk_splat(s_lo);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, 0.0);
        LK_FN(store)(out + i, LKL_FN(softmax_bwd_vec)(gv, yv, sh, sl), w);
    }
}

#if LK_IS_F64
/* e^x for x in [-708, 709], its result normal: one rounding (the normal finish) */
LK_INLINE LK_TARGET lk_vd LKL_FN(exp_normal)(lk_vd x)
{
    return LK_FN(exp_finish_normal)(LK_FN(exp_reduce)(x, lk_splat(0.0), lk_exp_k.shifter_normal,
                                                      &lk_exp_k), &lk_exp_k);
}

/* e^y for y > 0 (an output that is no log-probability), where exp_dd's scaling (for results
 * <= 1) does not reach: exp_normal up to 709, e^709 e^(y - 709) beyond (two roundings; inf
 * past the double range and for y = inf, as e^(y - 709) is taken at 2 at most) */
LK_INLINE LK_TARGET lk_vd LKL_FN(exp_above_zero)(lk_vd y)
{
    lk_vm beyond = LK_MASK(y > 709.0);
    lk_vd e = LKL_FN(exp_normal)(lk_select(beyond, lk_splat(709.0), y));
    if (!LK_ANY(beyond)) return e;
    lk_vd rest = lk_select(beyond, y - 709.0, lk_splat(0.0));
    lk_vd scale = LKL_FN(exp_normal)(lk_select(LK_MASK(rest > 2.0), lk_splat(2.0), rest));
    return lk_select(beyond, e * scale, e);
}
#endif

/* out = g - exp(y) * S, S = s_hi + s_lo, with exp in double (near_one_fix where e^y ~ 1) */
LK_INLINE LK_TARGET void LKL_FN(log_softmax_bwd_exact)(const LK_T *g, const LK_T *y, LK_T *out,
                                                       ptrdiff_t n, double s_hi, double s_lo)
{
    lk_vd sh = lk_splat(s_hi), sl = lk_splat(s_lo);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, -1.0);
#if LK_IS_F64
        yv = lk_clamp_below(yv, LK_EXP_FLOOR);
        lk_vm above = LK_MASK(yv > 0.0);
        lk_vd e = LK_FN(exp_dd)(lk_select(above, lk_splat(0.0), yv), lk_splat(0.0));
        if (LK_ANY(above)) e = lk_select(above, LKL_FN(exp_above_zero)(yv), e);
        lk_vd pe, p = LKL_FN(two_prod)(e, sh, &pe);
        pe = LK_FMA(e, sl, pe);
        lk_vd de, d = lk_two_sum(gv, -p, &de);
        /* where p or g - p is +-inf, the plain difference (the error terms met inf - inf) */
        lk_vd o = lk_select(LK_MASK(d - d == 0.0), d + (de - pe), gv - p);
        LK_FN(store)(out + i, LKL_FN(near_one_fix)(o, gv, yv, sh, sl), w);
#else
        yv = lk_clamp_below(yv, LK_EXP_FLOOR_LP);
        yv = lk_select(LK_MASK(yv > 88.0), lk_splat(88.0), yv);
        LK_FN(store)(out + i, LKL_FN(log_softmax_bwd_vec)(gv, yv, sh, sl), w);
#endif
    }
}

#if !LK_IS_F64
/*
 * float32 rows in float lanes, each with a certificate: the fast function returns 0, having
 * decided nothing, when its error bound does not hold for the row, and the caller then takes
 * the exact double path above (which overwrites out). Rows with a non-finite element always
 * do (their sums are not finite), so the fast paths see finite data only.
 */

/* One step of dot_plain: w0 + w1 elements (tails padded with 0) into 4 double chains and, as
 * |g y|, 2 float chains; y == NULL reads as all ones (a constant at every call: inlined away).
 * fma(g, 1, s) and fma(|g|, 1, a) round exactly as the adds s + g and a + |g|. Whole vectors
 * are widened straight from memory, half by half (no shuffle for the top halves). */
LK_INLINE LK_TARGET void LKL_FN(dot_step)(const float *g, const float *y, ptrdiff_t w0,
                                          ptrdiff_t w1, lk_vd s[4], lk_vf8 a[2])
{
    lk_vf8 one = lk_splatf(1.0f);
    lk_vf8 g0 = LK_LOADF(g, w0, 0.0f), y0 = y ? LK_LOADF(y, w0, 0.0f) : one;
    lk_vf8 g1 = LK_LOADF(g + w0, w1, 0.0f), y1 = y ? LK_LOADF(y + w0, w1, 0.0f) : one;
    lk_vd gl, gh, yl, yh, one_d = lk_splat(1.0);
    if (w0 == LK_WF) LK_LOAD_WIDEN_F8(g, gl, gh);
    else LK_WIDEN_F8(g0, gl, gh);
    if (!y) yl = yh = one_d;
    else if (w0 == LK_WF) LK_LOAD_WIDEN_F8(y, yl, yh);
    else LK_WIDEN_F8(y0, yl, yh);
    s[0] = LK_FMA(gl, yl, s[0]);
    s[1] = LK_FMA(gh, yh, s[1]);
    if (w1 == LK_WF) LK_LOAD_WIDEN_F8(g + w0, gl, gh);
    else LK_WIDEN_F8(g1, gl, gh);
    if (!y) yl = yh = one_d;
    else if (w1 == LK_WF) LK_LOAD_WIDEN_F8(y + w0, yl, yh);
    else LK_WIDEN_F8(y1, yl, yh);
    s[2] = LK_FMA(gl, yl, s[2]);
    s[3] = LK_FMA(gh, yh, s[3]);
    a[0] = LK_FMAF(lk_absf(g0), lk_absf(y0), a[0]);
    a[1] = LK_FMAF(lk_absf(g1), lk_absf(y1), a[1]);
}

/* The lanes of 4 double chains, and of 2 float chains into *abs_sum, added as trees */
LK_INLINE LK_TARGET double LKL_FN(chains_total)(const lk_vd s[4], const lk_vf8 a[2],
                                                double *abs_sum)
{
    *abs_sum = LK_LANES_SUMF(a[0] + a[1]);
    return LK_LANES_SUMD((s[0] + s[1]) + (s[2] + s[3]));
}

/* The error bound of chains_total's sum: no product meets more than n/16 + 5 roundings (a chain
 * of m elements rounds m - 1 times: its first add, to 0, and a pad's add of 0 are exact).
 * LK_W = 4 (AVX2, the GCC baseline): 16 chains of <= ceil(n/16) elements, then a tree of
 * depth 4 (n/16 + 4). AVX-512: 32 chains of <= ceil(n/32) elements (ceil(n/32) + 4 <= n/16 +
 * 5), or < n/32 + 2 with the aligning step (n >= 64 only), then a tree of depth 5 (n/32 + 6
 * <= n/16 + 5 for n >= 32). The float sum of the magnitudes is doubled, which bounds it for
 * n < 2^22. */
LK_INLINE double LKL_FN(plain_sum_error)(ptrdiff_t n, double abs_sum)
{
#if LK_W < 4
    /* one-lane vectors (compilers without GCC's vector extensions, MSVC): fewer chains than
     * the count above assumes, so no better bound than n roundings a product */
    return ((double)n + 5.0) * 0x1p-53 * (2.0 * abs_sum);
#else
    return ((double)n / 16.0 + 5.0) * 0x1p-53 * (2.0 * abs_sum);
#endif
}

/* sum(g * y) in plain double sums (the float products are exact in double), and sum(|g y|);
 * y == NULL: sum(g) and sum(|g|) */
LK_INLINE LK_TARGET double LKL_FN(dot_plain)(const float *g, const float *y, ptrdiff_t n,
                                             double *abs_sum)
{
    lk_vd s[4] = {lk_splat(0.0), lk_splat(0.0), lk_splat(0.0), lk_splat(0.0)};
    lk_vf8 a[2] = {lk_splatf(0.0f), lk_splatf(0.0f)};
    /* up to g's vector boundary first (AVX-512; for n >= 64, which plain_sum_error's bound
     * allows): whole vectors then load from one cache line each */
    ptrdiff_t i = n >= 64 ? LK_TO_ALIGNF(g) : 0;
    if (i) LKL_FN(dot_step)(g, y, i, 0, s, a);
    for (; i + 2 * LK_WF <= n; i += 2 * LK_WF)
        LKL_FN(dot_step)(g + i, y ? y + i : NULL, LK_WF, LK_WF, s, a);
    if (i < n) {
        ptrdiff_t w0 = n - i < LK_WF ? n - i : LK_WF;
        LKL_FN(dot_step)(g + i, y ? y + i : NULL, w0, n - i - w0, s, a);
    }
    return LKL_FN(chains_total)(s, a, abs_sum);
}

/*
 * softmax_backward: out = y * (g - s), s = sum(g * y), as fma(y, g - s_f, -(y * s_r)) with
 * s = s_f + s_r (two floats, 2^-48 relative). The certificate asks that every |g - s_f| be at
 * least 2^-19 |s| and 2^27 times s's error bound: then where g - s_f cancels it is exact
 * (Sterbenz) and the s_r term is a 2^-28 correction; where it does not, its one rounding is
 * <= 2^-24 |g - s|. Either way <= 1.6 ulp. A row whose |g - s| is smaller somewhere (g all
 * equal, say: the exact answer is then ~0) goes the exact way.
 */
/* w elements of softmax_bwd_fast's pass: out = fma(y, g - s_f, -(y s_r)), and min and max
 * |g - s_f| into *lo, *hi (exact: chains and order do not change the row's min and max) */
LK_INLINE LK_TARGET void LKL_FN(softmax_bwd_step)(const float *g, const float *y, float *out,
                                                  ptrdiff_t w, lk_vf8 sf, lk_vf8 sr,
                                                  lk_vf8 *lo, lk_vf8 *hi)
{
    /* the tail padded with a real g: a pad of 0 would put |s_f| into the certificate */
    lk_vf8 gv = LK_LOADF(g, w, g[0]), yv = LK_LOADF(y, w, 0.0f);
    lk_vf8 a = gv - sf;
    *lo = LK_MIN_ABSF(*lo, a);
    *hi = LK_MAX_ABSF(*hi, a);
    LK_STOREF(out, LK_FMAF_EXACT(yv, a, -(yv * sr)), w);
}

LK_INLINE LK_TARGET int LKL_FN(softmax_bwd_fast)(const float *g, const float *y, float *out,
                                                 ptrdiff_t n)
{
    if (n >= ((ptrdiff_t)1 << 22)) return 0;        /* keeps the float |g y| sum a bound */
    double abs_sum, s = LKL_FN(dot_plain)(g, y, n, &abs_sum);
    if (!(fabs(s) <= 0x1p126)) return 0;            /* also NaN and inf */
    double floor = fmax(0x1p-19 * fabs(s), 0x1p27 * LKL_FN(plain_sum_error)(n, abs_sum));
    float s_f = (float)s, s_r = (float)(s - (double)s_f);
    lk_vf8 sf = lk_splatf(s_f), sr = lk_splatf(s_r);
    /* two min and max chains (each a 2-cycle dependency a vector): whole vectors in pairs,
     * unmasked; then the rest */
    lk_vf8 lo[2] = {lk_splatf(INFINITY), lk_splatf(INFINITY)};
    lk_vf8 hi[2] = {lk_splatf(0.0f), lk_splatf(0.0f)};
    /* up to y's vector boundary first (AVX-512): y is read twice a vector (the compiler folds
     * both loads), and a load across cache lines costs more than such a store (measured) */
    ptrdiff_t i = LK_TO_ALIGNF(y);
    if (i > n) i = n;
    if (i) LKL_FN(softmax_bwd_step)(g, y, out, i, sf, sr, &lo[0], &hi[0]);
    for (; i + 2 * LK_WF <= n; i += 2 * LK_WF) {
        LKL_FN(softmax_bwd_step)(g + i, y + i, out + i, LK_WF, sf, sr, &lo[0], &hi[0]);
        LKL_FN(softmax_bwd_step)(g + i + LK_WF, y + i + LK_WF, out + i + LK_WF, LK_WF, sf, sr,
                                 &lo[1], &hi[1]);
    }
    for (; i < n; i += LK_WF)
        LKL_FN(softmax_bwd_step)(g + i, y + i, out + i, n - i < LK_WF ? n - i : LK_WF, sf, sr,
                                 &lo[0], &hi[0]);
    return (double)LK_LANES_MINF(LK_MINF(lo[0], lo[1])) >= floor &&
           LK_LANES_MAXF(LK_MAXF(hi[0], hi[1])) <= FLT_MAX;
}

/*
 * log_softmax_backward: out = g - exp(y) * S in float lanes, fma(-e, S_f, g) with e = expf_dd(y)
 * (<= 0.88 ulp, measured) and S_f = S rounded to float: within 1.13 * 2^-23 |e S| plus the
 * final rounding, so <= 2.26 * 16/11 + 0.5 = 3.8 ulp wherever |out| >= 11/16 |e S|. The lanes
 * below that (g and e^y S cancel: ~1.5% of random normal g, the top class of a confident NLL
 * row) are listed as the pass meets them and redone in double (redo_weak), LKL_REDO_VECS
 * vectors at a time. S = sum(g) by plain double sums, accepted when their error bound is below
 * 2^-30 |S|. For y <= 0 (log-probabilities) and |S| <= 2^126; other rows go the double way.
 */

/* A stretch of the fast pass: where it starts, its vectors' weak-lane bits (bit j of lanes[v]:
 * element start + v LK_WF + j); and S with its error bound (0 once summed exactly) */
typedef struct {
    ptrdiff_t start;
    int vecs;
    unsigned lanes[LKL_REDO_VECS];
    double s_hi, s_lo, bound;
} LKL_FN(weak_lanes);

/* LK_W listed elements (gathered into gb, yb; the rest padding) redone in double lanes
 * (log_softmax_bwd_of: exp_dd, the near-one form) and written to out[at[j]]; the lanes where
 * S's bound is not below 2^-28 |out| come back set */
LK_INLINE LK_TARGET lk_vm LKL_FN(redo_lanes)(const double *gb, const double *yb,
                                             const ptrdiff_t *at, int w, float *out,
                                             const LKL_FN(weak_lanes) *weak)
{
    lk_vd gv, yv;
    double ob[LK_W];
    memcpy(&gv, gb, sizeof gv);
    memcpy(&yv, yb, sizeof yv);
    /* y > 0 or NaN only in a row the caller sends the double way after the pass */
    yv = lk_clamp_below(lk_select(LK_MASK(yv > 0.0), lk_splat(0.0), yv), LK_EXP_FLOOR_LP);
    lk_vd e = LK_FN(exp_dd)(yv, lk_splat(0.0));
    lk_vd ov = LKL_FN(log_softmax_bwd_of)(gv, yv, e, lk_splat(weak->s_hi), lk_splat(weak->s_lo));
    memcpy(ob, &ov, sizeof ob);
    for (int j = 0; j < w; j++) out[at[j]] = (float)ob[j];
    return LK_MASK(e * lk_splat(0x1p28 * weak->bound) > LKL_FN(abs)(ov));
}

/* The stretch's weak lanes redone with weak's S; 0 where its bound was too loose for some */
LK_INLINE LK_TARGET int LKL_FN(redo_listed)(const float *g, const float *y, float *out,
                                            ptrdiff_t n, const LKL_FN(weak_lanes) *weak)
{
    double gb[LK_W], yb[LK_W];
    ptrdiff_t at[LK_W];
    int w = 0;
    lk_vm loose = LK_MASK(lk_splat(0.0) != lk_splat(0.0));
    for (int v = 0; v < weak->vecs; v++)
        for (unsigned bits = weak->lanes[v]; bits; bits &= bits - 1) {
            ptrdiff_t j = weak->start + (ptrdiff_t)v * LK_WF + LKL_CTZ(bits);
            if (j >= n) break;
            at[w] = j, gb[w] = g[j], yb[w] = y[j];
            if (++w < LK_W) continue;
            loose |= LKL_FN(redo_lanes)(gb, yb, at, w, out, weak);
            w = 0;
        }
    if (w) {
        for (int j = w; j < LK_W; j++) gb[j] = 0.0, yb[j] = -1.0;
        loose |= LKL_FN(redo_lanes)(gb, yb, at, w, out, weak);
    }
    return !LK_ANY(loose);
}

/* S summed exactly, once a row */
LK_INLINE LK_TARGET void LKL_FN(exact_S)(const float *g, ptrdiff_t n, LKL_FN(weak_lanes) *weak)
{
    if (weak->bound == 0.0) return;
    weak->s_hi = LKL_FN(total)(g, n, &weak->s_lo);
    weak->bound = 0.0;
}

/* Redoes the stretch's weak lanes; where the plain sum of g is too loose for one of them, g is
 * summed again exactly and the stretch redone with that. A stretch where more than one lane in
 * 8 is weak (g built from e^y S itself, say) is redone whole on the exact path's vectors,
 * faster there than element by element. */
LK_INLINE LK_TARGET void LKL_FN(redo_weak)(const float *g, const float *y, float *out,
                                           ptrdiff_t n, LKL_FN(weak_lanes) *weak)
{
    ptrdiff_t len = n - weak->start, count = 0;
    if (len > (ptrdiff_t)weak->vecs * LK_WF) len = (ptrdiff_t)weak->vecs * LK_WF;
    for (int v = 0; v < weak->vecs; v++) count += LKL_POPCOUNT(weak->lanes[v]);
    if (8 * count > len) {
        LKL_FN(exact_S)(g, n, weak);
        LKL_FN(log_softmax_bwd_exact)(g + weak->start, y + weak->start, out + weak->start, len,
                                      weak->s_hi, weak->s_lo);
        return;
    }
    if (!LKL_FN(redo_listed)(g, y, out, n, weak)) {
        LKL_FN(exact_S)(g, n, weak);
        LKL_FN(redo_listed)(g, y, out, n, weak);
    }
}

LK_INLINE LK_TARGET int LKL_FN(log_softmax_bwd_fast)(const float *g, const float *y, float *out,
                                                     ptrdiff_t n)
{
    if (n >= ((ptrdiff_t)1 << 22)) return 0;
    double abs_sum, S = LKL_FN(dot_plain)(g, NULL, n, &abs_sum);
    LKL_FN(weak_lanes) weak;            /* lanes[] written before read: no 1 KB zeroing a row */
    weak.s_hi = S, weak.s_lo = 0.0, weak.bound = LKL_FN(plain_sum_error)(n, abs_sum);
    if (!(fabs(S) <= 0x1p126) || weak.bound > 0x1p-30 * fabs(S)) return 0;
    lk_vf8 Sf = lk_splatf((float)S), top = lk_splatf(-INFINITY), zero = lk_splatf(0.0f);
    lk_vf8 floor = lk_splatf(LK_EXPF_FLOOR), certain_S = lk_splatf(0.6875f * (float)S);
    lk_vf8 y_sum = zero;                    /* NaN in any lane if some y is NaN (maxps drops it) */
    for (ptrdiff_t i = 0; i < n;) {
        ptrdiff_t end = n - i < LKL_REDO_VECS * LK_WF ? n : i + LKL_REDO_VECS * LK_WF;
        unsigned any = 0;
        int v = 0;
        weak.start = i;
        for (; i < end; i += LK_WF, v++) {
            ptrdiff_t w = end - i < LK_WF ? end - i : LK_WF;
            lk_vf8 gv = LK_LOADF(g + i, w, 0.0f), yv = LK_LOADF(y + i, w, -INFINITY);
            top = LK_MAXF(top, yv);
            y_sum += yv;
            lk_vf8 e = LK_FN(expf_dd)(LK_MAXF(floor, LK_MINF(zero, yv)), zero);
            lk_vf8 o = LK_FMAF_EXACT(-e, Sf, gv);
            lk_storef(out + i, o, w);
            weak.lanes[v] = LK_LESSF_BITS(lk_absf(o), lk_absf(e * certain_S));
            any |= weak.lanes[v];
        }
        weak.vecs = v;
        if (any) LKL_FN(redo_weak)(g, y, out, n, &weak);
    }
    float y_total = lk_lanes_sumf(y_sum);
    return lk_lanes_maxf(top) <= 0.0f && y_total == y_total;
}

/*
 * Many short rows (n <= LK_SHORT_N) as vector lanes, LK_WF rows to a vector and groups of them
 * side by side, as short_rows does for the forward functions: one row alone is a chain of
 * dependent steps (its sum, then its outputs) that leaves the vector units idle. The numerics
 * are the exact paths' (softmax_bwd_vec, log_softmax_bwd_vec): compensated double sums
 * (float products are exact in double), g - s by TwoSum, one rounding to float.
 */

/* A block of up to LK_SHORT_ROWS rows of g and y, transposed: gb, yb[k * lanes + j] */
typedef struct {
    float g[LK_SHORT_N * LK_SHORT_ROWS], y[LK_SHORT_N * LK_SHORT_ROWS];
    ptrdiff_t groups, lanes;
} LKL_FN(lanes_block);

LK_INLINE LK_TARGET void LKL_FN(load_block)(LKL_FN(lanes_block) *b, const float *g,
                                            const float *y, ptrdiff_t rows, ptrdiff_t n)
{
    b->groups = (rows + LK_WF - 1) / LK_WF;
    b->lanes = b->groups * LK_WF;
    for (ptrdiff_t q = 0; q < b->groups; q++) {
        LK_ROWS_TO_LANESF(g + q * LK_WF * n, n, rows - q * LK_WF, n, b->g + q * LK_WF, b->lanes);
        LK_ROWS_TO_LANESF(y + q * LK_WF * n, n, rows - q * LK_WF, n, b->y + q * LK_WF, b->lanes);
    }
}

/* s[q][h] + c[q][h] = per lane, sum over k of g_k * y_k (with_y == 0: of g_k), compensated */
LK_INLINE LK_TARGET void LKL_FN(lanes_dot)(const LKL_FN(lanes_block) *b, ptrdiff_t n, int with_y,
                                           lk_vd (*s)[2], lk_vd (*c)[2])
{
    for (ptrdiff_t q = 0; q < b->groups; q++)
        s[q][0] = s[q][1] = c[q][0] = c[q][1] = lk_splat(0.0);
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t q = 0; q < b->groups; q++) {
            ptrdiff_t at = k * b->lanes + q * LK_WF;
            lk_vd p[2], y[2], e;
            LK_WIDEN_F8(LK_LOADF(b->g + at, LK_WF, 0.0f), p[0], p[1]);
            if (with_y) {
                LK_WIDEN_F8(LK_LOADF(b->y + at, LK_WF, 0.0f), y[0], y[1]);
                p[0] *= y[0];
                p[1] *= y[1];
            }
            for (int h = 0; h < 2; h++) {
                s[q][h] = lk_two_sum(s[q][h], p[h], &e);
                c[q][h] += e;
            }
        }
    }
    /* a sum that met an infinity: its error term holds NaN (inf - inf); the sum alone stands */
    for (ptrdiff_t q = 0; q < b->groups; q++)
        for (int h = 0; h < 2; h++)
            c[q][h] = lk_select(LK_MASK(s[q][h] - s[q][h] == 0.0), c[q][h], lk_splat(0.0));
}

/* out = y * (g - s) (log_softmax: g - exp(y) * s) for a block, into b->g, then back to rows */
LK_INLINE LK_TARGET void LKL_FN(lanes_bwd)(LKL_FN(lanes_block) *b, ptrdiff_t rows, ptrdiff_t n,
                                           int log_softmax, lk_vd (*s)[2], lk_vd (*c)[2],
                                           float *out)
{
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t q = 0; q < b->groups; q++) {
            ptrdiff_t at = k * b->lanes + q * LK_WF;
            lk_vd g0, g1, y0, y1;
            LK_WIDEN_F8(LK_LOADF(b->g + at, LK_WF, 0.0f), g0, g1);
            lk_vf8 yf = LK_LOADF(b->y + at, LK_WF, 0.0f);
            if (log_softmax)        /* clamped to exp_lp's domain, as the exact path does */
                yf = LK_MINF(lk_splatf(88.0f), LK_MAXF(lk_splatf((float)LK_EXP_FLOOR_LP), yf));
            LK_WIDEN_F8(yf, y0, y1);
            lk_vd o0 = log_softmax ? LKL_FN(log_softmax_bwd_vec)(g0, y0, s[q][0], c[q][0])
                                   : LKL_FN(softmax_bwd_vec)(g0, y0, s[q][0], c[q][0]);
            lk_vd o1 = log_softmax ? LKL_FN(log_softmax_bwd_vec)(g1, y1, s[q][1], c[q][1])
                                   : LKL_FN(softmax_bwd_vec)(g1, y1, s[q][1], c[q][1]);
            lk_storef(b->g + at, LK_NARROW_D(o0, o1), LK_WF);
        }
    }
    for (ptrdiff_t q = 0; q < b->groups; q++)
        LK_LANES_TO_ROWSF(b->g + q * LK_WF, b->lanes, rows - q * LK_WF, n, out + q * LK_WF * n, n);
}

/* softmax_backward (log_softmax_backward) of rows of n <= LK_SHORT_N, in blocks */
LK_INLINE LK_TARGET void LKL_FN(bwd_short_rows)(const float *g, const float *y, float *out,
                                                ptrdiff_t rows, ptrdiff_t n, int log_softmax)
{
    LKL_FN(lanes_block) b;
    lk_vd s[LK_SHORT_ROWS / LK_WF][2], c[LK_SHORT_ROWS / LK_WF][2];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LK_SHORT_ROWS) {
        ptrdiff_t count = rows - r0 < LK_SHORT_ROWS ? rows - r0 : LK_SHORT_ROWS;
        LKL_FN(load_block)(&b, g + r0 * n, y + r0 * n, count, n);
        LKL_FN(lanes_dot)(&b, n, !log_softmax, s, c);
        LKL_FN(lanes_bwd)(&b, count, n, log_softmax, s, c, out + r0 * n);
    }
}

/*
 * Cross-entropy against class indices for up to LK_SHORT_ROWS contiguous rows of n <=
 * LK_SHORT_N float32 logits, LK_WF rows to a vector as short_rows does. Per row, t its target
 * (-1: none) and c its gradient's scale (the caller's s w_t, 0 for rows it drops):
 *   nll[r] = (m - x_t) + L          (double; m - x_t exact, L = log(sum exp(x - m)))
 *   grad_j = c (p_j - [j == t])     (grad may be NULL) with p = e / S in double, and at the
 *                                   target of a row whose unique max it is, p_t - 1 = -rest / S,
 *                                   which does not cancel.
 * m_out[r] gets the row's max; rows whose max is not finite are the caller's to finish.
 */
LK_TARGET void LKL_FN(ce_short)(const float *x, const int32_t *t, const double *c, float *grad,
                                ptrdiff_t rows, ptrdiff_t n, double *m_out, double *nll)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_WF };
    float buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vf8 m[GROUPS], top[GROUPS], x_t[GROUPS], at_target[GROUPS];
    lk_vmf target[GROUPS];
    lk_vd rest[GROUPS][2];
    const ptrdiff_t groups = (rows + LK_WF - 1) / LK_WF, lanes = groups * LK_WF;
    for (ptrdiff_t g = 0; g < groups; g++) {
        int32_t tg[LK_WF];
        for (ptrdiff_t j = 0; j < LK_WF; j++) tg[j] = g * LK_WF + j < rows ? t[g * LK_WF + j] : -1;
        memcpy(&target[g], tg, sizeof tg);
        LK_ROWS_TO_LANESF(x + g * LK_WF * n, n, rows - g * LK_WF, n, buf + g * LK_WF, lanes);
    }
    LK_FN(lanes_max)(buf, lanes, groups, n, rows, m, m_out);
    for (ptrdiff_t g = 0; g < groups; g++) x_t[g] = m[g];    /* lanes without a target: exp 1 */
    for (ptrdiff_t k = 0; k < n; k++)       /* each row's target logit, before buf holds exps */
        for (ptrdiff_t g = 0; g < groups; g++)
            x_t[g] = lk_selectf(LK_MASKF(target[g] == (int32_t)k),
                                LK_LOADF(buf + k * lanes + g * LK_WF, LK_WF, 0.0f), x_t[g]);
    LK_FN(lanes_exp_sums)(buf, lanes, groups, n, m, grad != NULL, top, rest);
    lk_vd scale[GROUPS][2];                             /* c / S */
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd tp[2], md[2], xt[2], et[2], cg[2], L[2], d_t[2];
        LK_WIDEN_F8(top[g], tp[0], tp[1]);
        LK_WIDEN_F8(m[g], md[0], md[1]);
        LK_WIDEN_F8(x_t[g], xt[0], xt[1]);
        /* the target's term, the same float as in the sums (one exp a group) */
        LK_WIDEN_F8(LK_FN(shifted_expf)(x_t[g], m[g]), et[0], et[1]);
        double cl[2 * LK_W] = {0};
        for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++) cl[j] = c[g * LK_WF + j];
        memcpy(cg, cl, sizeof cg);
        for (int h = 0; h < 2; h++) {
            L[h] = LK_FN(log1p_v)((tp[h] - 1.0) + rest[g][h]);
            scale[g][h] = cg[h] / (tp[h] + rest[g][h]);
            /* grad at the target: c (p_t - 1); -c rest / S where t is the unique max */
            lk_vm unique = LK_MASK(tp[h] == 1.0) & LK_MASK(xt[h] == md[h]);
            d_t[h] = lk_select(unique, -(rest[g][h] * scale[g][h]), et[h] * scale[g][h] - cg[h]);
            lk_vd v = (md[h] - xt[h]) + L[h];
            ptrdiff_t end = (h + 1) * LK_W < LK_WF ? (h + 1) * LK_W : LK_WF;
            for (ptrdiff_t j = h * LK_W; j < end && g * LK_WF + j < rows; j++)
                nll[g * LK_WF + j] = lk_lane(v, j - h * LK_W);
        }
        at_target[g] = LK_NARROW_D(d_t[0], d_t[1]);
    }
    if (!grad) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vd lo, hi;
            LK_WIDEN_F8(LK_LOADF(p, LK_WF, 0.0f), lo, hi);
            lk_vf8 d = LK_NARROW_D(lo * scale[g][0], hi * scale[g][1]);
            lk_storef(p, lk_selectf(LK_MASKF(target[g] == (int32_t)k), at_target[g], d), LK_WF);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSF(buf + g * LK_WF, lanes, rows - g * LK_WF, n, grad + g * LK_WF * n, n);
}
#else
/*
 * The same for float64 rows, LK_W to a vector, with the row path's numerics (index_row in
 * _losses.pyx): the exps and their compensated sums of short_rows (lanes_exp_sums_d), the log
 * of each sum in double-double lanes (log_of_sum_v), and per row
 *   nll[r] = (m - x_t) + L           m - x_t by TwoSum, +inf where it overflows or x_t = -inf
 *   grad_j = e_j (C_hi + C_lo)       C = c / S in double-double (1 / S as short_softmax's)
 * and at the target, -c rest / S where it is the row's unique max, else grad_t - c.
 */
LK_TARGET void LKL_FN(ce_short)(const double *x, const int32_t *t, const double *c,
                                double *grad, ptrdiff_t rows, ptrdiff_t n, double *m_out,
                                double *nll)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    double buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vd m[GROUPS], hi[GROUPS], lo[GROUPS], top[GROUPS];
    lk_vd target[GROUPS], at_unique[GROUPS], c_hi[GROUPS], c_lo[GROUPS], cv[GROUPS];
    lk_vm unique[GROUPS];
    const ptrdiff_t groups = LK_FN(lanes_exp_sums_d)(x, n, buf, rows, n, grad != NULL, m_out,
                                                     m, hi, lo, top);
    const ptrdiff_t lanes = groups * LK_W;
    for (ptrdiff_t g = 0; g < groups; g++) {
        double tl[LK_W], xl[LK_W], cl[LK_W];
        for (ptrdiff_t j = 0; j < LK_W; j++) {          /* no target: x_t = m, c = 0 */
            ptrdiff_t r = g * LK_W + j;
            int has = r < rows && t[r] >= 0;
            tl[j] = has ? (double)t[r] : -1.0;
            xl[j] = has ? x[r * n + t[r]] : lk_lane(m[g], (int)j);
            cl[j] = has ? c[r] : 0.0;
        }
        lk_vd xt;
        memcpy(&target[g], tl, sizeof tl), memcpy(&xt, xl, sizeof xl), memcpy(&cv[g], cl, sizeof cl);
        lk_vd L_lo, L_hi = LK_FN(log_of_sum_v)(top[g], hi[g], lo[g], &L_lo);
        lk_vd dl, dh = lk_two_sum(m[g], -xt, &dl), e, a = lk_two_sum(dh, L_hi, &e);
        lk_vd v = lk_select(LK_MASK(dh == INFINITY), lk_splat(INFINITY), a + (e + (dl + L_lo)));
        for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
            nll[g * LK_W + j] = lk_lane(v, (int)j);
        if (!grad) continue;
        lk_vd inv_lo, inv_hi = LK_FN(reciprocal_v)(top[g], hi[g], lo[g], &inv_lo);
        c_hi[g] = cv[g] * inv_hi;
        c_lo[g] = LK_FMA_EXACT(cv[g], inv_hi, -c_hi[g]) + cv[g] * inv_lo;
        lk_vd rest_lo, rest_hi = lk_two_sum(hi[g], lo[g], &rest_lo);
        at_unique[g] = -cv[g] * (rest_hi * inv_hi + (rest_lo * inv_hi + rest_hi * inv_lo));
        unique[g] = LK_MASK(top[g] == 1.0) & LK_MASK(xt == m[g]);
    }
    if (!grad) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            double *p = buf + k * lanes + g * LK_W;
            lk_vd e = lk_load_d(p, LK_W, 0.0), d = LK_FMA(e, c_hi[g], e * c_lo[g]);
            lk_vd d_t = lk_select(unique[g], at_unique[g], d - cv[g]);
            lk_store_d(p, lk_select(LK_MASK(target[g] == (double)k), d_t, d), LK_W);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSD(buf + g * LK_W, lanes, rows - g * LK_W, n, grad + g * LK_W * n, n);
}
#endif

/* softmax_backward of `rows` contiguous rows of n: out = y * (g - sum(g * y)) */
LK_TARGET void LKL_FN(softmax_bwd_rows)(const LK_T *g, const LK_T *y, LK_T *out, ptrdiff_t rows,
                                        ptrdiff_t n)
{
#if !LK_IS_F64
    /* up to 12: beyond, the float fast path (one row at a time) measured faster */
    if (n <= 12 && rows >= 2) {
        LKL_FN(bwd_short_rows)(g, y, out, rows, n, 0);
        return;
    }
#endif
    for (ptrdiff_t r = 0; r < rows; r++, g += n, y += n, out += n) {
#if !LK_IS_F64
        if (LKL_FN(softmax_bwd_fast)(g, y, out, n)) continue;
#endif
        double lo, hi = LKL_FN(dot)(g, y, n, &lo);
        LKL_FN(softmax_bwd_exact)(g, y, out, n, hi, lo);
    }
}

/* log_softmax_backward of `rows` contiguous rows of n: out = g - exp(y) * sum(g) */
LK_TARGET void LKL_FN(log_softmax_bwd_rows)(const LK_T *g, const LK_T *y, LK_T *out,
                                            ptrdiff_t rows, ptrdiff_t n)
{
#if !LK_IS_F64
    if (n <= LK_SHORT_N && rows >= 2) {
        LKL_FN(bwd_short_rows)(g, y, out, rows, n, 1);
        return;
    }
#endif
    for (ptrdiff_t r = 0; r < rows; r++, g += n, y += n, out += n) {
        double lo, hi;
#if !LK_IS_F64
        /* below 32, the latency of the float exps (one ~60-cycle chain a row) measured slower
         * than the double path's shorter polynomial */
        if (n >= 32 && LKL_FN(log_softmax_bwd_fast)(g, y, out, n)) continue;
#endif
        hi = LKL_FN(total)(g, n, &lo);
        LKL_FN(log_softmax_bwd_exact)(g, y, out, n, hi, lo);
    }
}

/* out = g * y * (1 - y); float32 in 8 float lanes (three roundings: <= 2 ulp), float64 in
 * double */
LK_TARGET void LKL_FN(sigmoid_bwd)(const LK_T *g, const LK_T *y, LK_T *out, ptrdiff_t n)
{
#if !LK_IS_F64 && LKL_VF8
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        lkl_vf8 gv, yv, ov;
        memcpy(&gv, g + i, sizeof gv);
        memcpy(&yv, y + i, sizeof yv);
        ov = (gv * yv) * (1.0f - yv);
        memcpy(out + i, &ov, sizeof ov);
    }
    for (; i < n; i++) out[i] = (g[i] * y[i]) * (1.0f - y[i]);
#else
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, 0.0);
        LK_FN(store)(out + i, (gv * yv) * (1.0 - yv), w);
    }
#endif
}

/* One vector of smoothing_sums_of: the elements i .. i + wd into the compensated sums (A,
 * A_err) of q_j (m - x_j) and, with t, (T, T_err) of q_j */
LK_INLINE LK_TARGET void LKL_FN(smoothing_step)(const LK_T *x, const LK_T *t, const double *w,
                                                ptrdiff_t i, ptrdiff_t wd, lk_vd mv, lk_vd keep,
                                                lk_vd share, lk_vd sums[4], const int with_t,
                                                const int with_w)
{
    lk_vd zero = lk_exp_k.zero;
    lk_vd q = with_t ? keep * LK_FN(load)(t + i, wd, 0.0) + share : lk_splat(1.0);
    if (with_w) q *= lk_load_d(w + i, wd, 1.0);
    lk_vd gap = mv - LK_FN(load)(x + i, wd, 0.0);
    lk_vd term = with_t || with_w ? lk_select(LK_MASK(q != 0.0), q * gap, zero) : gap;
    if (wd < LK_W) {                                /* the tail: no terms past the row */
        lk_vm live = LK_MASK(lk_exp_k.lane < (double)wd);
        term = lk_select(live, term, zero);
        q = lk_select(live, q, zero);
    }
    lk_vd sum = sums[0] + term, part = sum - sums[0];
    sums[1] += (sums[0] - (sum - part)) + (term - part);
    sums[0] = sum;
    if (with_t) {
        sum = sums[2] + q;
        part = sum - sums[2];
        sums[3] += (sums[2] - (sum - part)) + (q - part);
        sums[2] = sum;
    }
}

/* Label smoothing's sums over one row of n logits with max m. With q_j = (t ? (1 - eps) t_j +
 * eps / n : 1) * (w ? w_j : 1): sums[0] + sums[1] = sum of q_j (only with t: the caller knows
 * it otherwise), sums[2] + sums[3] = sum of q_j (m - x_j) over q_j != 0 (a class without mass
 * takes no part, even at x_j = -inf). Both compensated per lane (TwoSum), in two chains a
 * sum, as one TwoSum's latency per vector would bound the loop; their terms are >= 0 for q >=
 * 0, so neither cancels. with_t and with_w are constants at each call. */
LK_INLINE LK_TARGET void LKL_FN(smoothing_sums_of)(const LK_T *x, const LK_T *t, const double *w,
                                                   ptrdiff_t n, double m, double eps,
                                                   double sums[4], const int with_t,
                                                   const int with_w)
{
    lk_vd zero = lk_splat(0.0), even[4] = {zero, zero, zero, zero};
    lk_vd odd[4] = {zero, zero, zero, zero};        /* A, A_err, T, T_err of each chain */
    lk_vd mv = lk_splat(m), keep = lk_splat(1.0 - eps), share = lk_splat(eps / (double)n);
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        LKL_FN(smoothing_step)(x, t, w, i, LK_W, mv, keep, share, even, with_t, with_w);
        LKL_FN(smoothing_step)(x, t, w, i + LK_W, LK_W, mv, keep, share, odd, with_t, with_w);
    }
    for (; i < n; i += LK_W)
        LKL_FN(smoothing_step)(x, t, w, i, lk_width(n, i), mv, keep, share, even, with_t,
                               with_w);
    sums[0] = LKL_FN(lanes_total)(even[2], odd[2], even[3] + odd[3], &sums[1]);
    sums[2] = LKL_FN(lanes_total)(even[0], odd[0], even[1] + odd[1], &sums[3]);
    if (!isfinite(sums[2])) {                   /* an inf term: the plain sum's answer */
        sums[2] = lk_lanes_sum(even[0] + odd[0]);
        sums[3] = 0.0;
    }
}

LK_TARGET void LKL_FN(smoothing_sums)(const LK_T *x, const LK_T *t, const double *w,
                                      ptrdiff_t n, double m, double eps, double sums[4])
{
    if (t && w)
        LKL_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 1, 1);
    else if (t)
        LKL_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 1, 0);
    else if (w)
        LKL_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 0, 1);
    else
        LKL_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 0, 0);
}

/* A row's soft targets: q_j = ((t ? (1 - eps) t_j : 0) + eps / n + (j == y ? 1 - eps : 0)) *
 * (w ? w_j : 1), t NULL for a class index y (else y = -1); the gradient s (T p_j - q_j);
 * e: exp(x_j - m) as exp_total kept them, or NULL (computed again) */
typedef struct {
    const LK_T *x, *t;
    const double *w, *e;
    ptrdiff_t n, y;
    double m, eps, s;
    lk_vd keep, share, m_v, s_v;        /* 1 - eps, eps / n, m and s in every lane */
} LKL_FN(soft_row);

LK_INLINE LK_TARGET LKL_FN(soft_row) LKL_FN(soft_row_of)(const LK_T *x, const LK_T *t,
                                                       const double *w, const double *e,
                                                       ptrdiff_t n, ptrdiff_t y, double m,
                                                       double eps, double s)
{
    LKL_FN(soft_row) row = {x, t, w, e, n, y, m, eps, s, lk_splat(1.0 - eps),
                            lk_splat(eps / (double)n), lk_splat(m), lk_splat(s)};
    return row;
}

/* q for the elements i .. i + wd of a row (0 past its end) */
LK_INLINE LK_TARGET lk_vd LKL_FN(soft_q)(const LKL_FN(soft_row) *row, ptrdiff_t i, ptrdiff_t wd)
{
    lk_vd q = row->t ? row->keep * LK_FN(load)(row->t + i, wd, 0.0) + row->share : row->share;
    lk_vd keep = row->keep;
    if (row->w) {
        lk_vd wv = lk_load_d(row->w + i, wd, 1.0);
        q *= wv;
        keep *= wv;
    }
    /* the target's q as the caller's T counts it: (1 - eps) w_y + eps / n w_y */
    if ((size_t)(row->y - i) < (size_t)wd)
        q += lk_select(LK_MASK(lk_exp_k.lane == (double)(row->y - i)), keep, lk_exp_k.zero);
    return wd < LK_W ? lk_select(LK_MASK(lk_exp_k.lane < (double)wd), q, lk_splat(0.0)) : q;
}

/* One vector of the gradient in double, o = (c_hi + c_lo) exp(x_j - m) - s q_j with c = s T /
 * S. *margin = |o| - 2^-25 |c e| is negative on the lanes that cancel below ~2^-26 of their
 * terms (|c e| and |s q| then within a hair of each other), where the double result's error
 * (~10 roundings of the terms, S's among them) may pass float's 4 ulp; NaN on none of them.
 * (float64's results are double's own: no margin.) */
LK_INLINE LK_TARGET lk_vd LKL_FN(soft_grad_vec)(const LKL_FN(soft_row) *row, ptrdiff_t i,
                                                ptrdiff_t wd, lk_vd c_hi, lk_vd c_lo,
                                                lk_vd *margin)
{
    lk_vd sq = row->s_v * LKL_FN(soft_q)(row, i, wd);
    lk_vd e;
    if (row->e) {
        lk_vd kept = lk_load_d(row->e + i, wd, 0.0);
        e = c_hi * kept + c_lo * kept;          /* scaled_exp's arithmetic: the same bits */
    } else {
        e = LKL_FN(scaled_exp)(LK_FN(load)(row->x + i, wd, row->m), row->m_v, c_hi, c_lo);
    }
    lk_vd o = e - sq;
#if !LK_IS_F64
    *margin = LK_FMA(LKL_FN(abs)(e), lk_splat(-0x1p-25), LKL_FN(abs)(o));
#else
    *margin = lk_exp_k.zero;
#endif
    return o;
}

#if !LK_IS_F64

/* hi + lo of a (p, p_lo) * (q, q_lo) product of double-double lanes, to ~2^-104 */
LK_INLINE LK_TARGET lk_vd LKL_FN(dd_mul)(lk_vd p, lk_vd p_lo, lk_vd q, lk_vd q_lo, lk_vd *lo)
{
    lk_vd e, h = LKL_FN(two_prod)(p, q, &e);
    *lo = e + (p * q_lo + p_lo * q);
    return h;
}

/* the lanes of tab at the indices idx (a table lookup; 0 <= idx < the table's length) */
LK_INLINE LK_TARGET lk_vd LKL_FN(lookup)(const double *tab, lk_vm idx)
{
#if LK_W == 1
    return tab[idx];
#else
    lk_vd v;
    for (int l = 0; l < LK_W; l++) v[l] = tab[idx[l]];
    return v;
#endif
}

/* ln 2 / 64 = A + B + C: A has 32 significant bits (fdlibm's split of ln 2, over 64), so K A
 * is exact for |K| < 2^20 */
#define LKL_LN2_64_A (0x1.62e42feep-1 / 64.0)
#define LKL_LN2_64_B (0x1.a39ef35793c76p-33 / 64.0)
#define LKL_LN2_64_C (0x1.cc01f97b57a08p-87 / 64.0)

/* e^(y + y_lo) as hi + *lo to ~2^-98 of itself (*lo is subnormal below y ~ -672: there
 * ~2^-64, of terms < 2^-960 of a row sum >= 1), for y in [-700, 89] and |y_lo| <= ulp(y):
 * the second tier of float32's soft-target gradients T p_j - q_j, which may cancel far below
 * double's reach (a model's softmax against its own rounding). y = K ln2 / 64 + r, K = 64 k +
 * j: e^y = 2^k 2^(j/64) e^r, the middle factor from a double-double table, |r| <= ln2 / 128
 * (y - K A exact: both are multiples of y's or A's last bit, and the difference is small).
 * e^r by Horner: r^i / i! for i = 6 .. 10 in double (below 2^-56 of e^r, so their rounding
 * stays under 2^-105; the first term left out, 2^-114), then i = 5 .. 0 in double-double,
 * where each coefficient outweighs the product it meets (FastTwoSum) */
LK_INLINE LK_TARGET lk_vd LKL_FN(exp_dd2)(lk_vd y, lk_vd y_lo, lk_vd *lo)
{
    lk_vd shifted = y * (64.0 * LK_LOG2E) + LK_SHIFTER, kd = shifted - LK_SHIFTER;
    lk_vm K = lk_bits(shifted) - lk_bits(lk_splat(LK_SHIFTER));
    lk_vd kb_err, kb = LKL_FN(two_prod)(kd, lk_splat(LKL_LN2_64_B), &kb_err);
    lk_vd r_lo, r = lk_two_sum(y - kd * LKL_LN2_64_A, -kb, &r_lo);
    r = lk_two_sum(r, r_lo + (y_lo - (kb_err + kd * LKL_LN2_64_C)), &r_lo);
    const double *inv = lkl_inv_fact_hi;
    lk_vd ph = lk_splat(inv[10]), pl = lk_splat(0.0);
    for (int i = 9; i >= 6; i--) ph = LK_FMA(ph, r, lk_splat(inv[i]));
    for (int i = 5; i >= 0; i--) {
        lk_vd pe, p = LKL_FN(two_prod)(r, ph, &pe);
        pe += r * pl + r_lo * ph;
        lk_vd c = lk_splat(inv[i]), sum = c + p;
        pl = (p - (sum - c)) + (pe + lkl_inv_fact_lo[i]);
        ph = sum;
    }
    lk_vm j = K & 63;
    lk_vd t_lo, t = LKL_FN(dd_mul)(LKL_FN(lookup)(lkl_exp2_64_hi, j),
                                   LKL_FN(lookup)(lkl_exp2_64_lo, j), ph, pl, &t_lo);
    lk_vd hi = t + t_lo, scale = lk_from_bits(((K >> 6) + 1023) << 52);     /* 2^k */
    *lo = (t_lo - (hi - t)) * scale;
    return hi * scale;
}

/* q of soft_q as double-doubles: keep = 1 - eps and share = eps / n as pairs (hi, lo) */
typedef struct { lk_vd keep[2], share[2]; } LKL_FN(soft_parts);

LK_INLINE LK_TARGET lk_vd LKL_FN(soft_q_dd)(const LKL_FN(soft_row) *row, ptrdiff_t i,
                                            ptrdiff_t wd, const LKL_FN(soft_parts) *c, lk_vd *lo)
{
    lk_vd zero = lk_exp_k.zero, qh = c->share[0], ql = c->share[1], e;
    if (row->t) {
        lk_vd tv = LK_FN(load)(row->t + i, wd, 0.0), kt_lo;
        lk_vd kt = LKL_FN(dd_mul)(c->keep[0], c->keep[1], tv, zero, &kt_lo);
        qh = lk_two_sum(kt, qh, &e);
        ql += e + kt_lo;
    }
    if ((size_t)(row->y - i) < (size_t)wd) {
        lk_vm at = LK_MASK(lk_exp_k.lane == (double)(row->y - i));
        lk_vd sum = lk_two_sum(qh, lk_select(at, c->keep[0], zero), &e);
        ql += e + lk_select(at, c->keep[1], zero);
        qh = sum;
    }
    if (row->w) qh = LKL_FN(dd_mul)(qh, ql, lk_load_d(row->w + i, wd, 1.0), zero, &ql);
    lk_vm live = LK_MASK(lk_exp_k.lane < (double)wd);
    *lo = lk_select(live, ql, zero);
    return lk_select(live, qh, zero);
}

/* exp(x_j - m) as double-doubles for elements i .. i + wd (0 past the end and below e^-700,
 * whose terms are < 2^-1000 of a sum >= 1) */
LK_INLINE LK_TARGET lk_vd LKL_FN(soft_exp_dd)(const LKL_FN(soft_row) *row, ptrdiff_t i,
                                              ptrdiff_t wd, lk_vd *lo)
{
    lk_vd dl, dh = lk_two_sum(LK_FN(load)(row->x + i, wd, -INFINITY), -row->m_v, &dl);
    lk_vm live = LK_MASK(dh >= -700.0);
    lk_vd el, eh = LKL_FN(exp_dd2)(lk_select(live, dh, lk_splat(0.0)),
                                   lk_select(live, dl, lk_splat(0.0)), &el);
    *lo = lk_select(live, el, lk_splat(0.0));
    return lk_select(live, eh, lk_splat(0.0));
}

/* A row's double-double exps, kept from the S pass of soft_grad_dd for its second pass
 * (NULL when malloc fails: that pass computes them again) */
typedef struct { double *hi, *lo; } LKL_FN(exp_cache);

LK_INLINE LK_TARGET void LKL_FN(cache_put)(LKL_FN(exp_cache) *c, ptrdiff_t i, ptrdiff_t wd,
                                           lk_vd hi, lk_vd lo)
{
    if (c->hi) lk_store_d(c->hi + i, hi, wd), lk_store_d(c->lo + i, lo, wd);
}

LK_INLINE LK_TARGET lk_vd LKL_FN(cached_exp_dd)(const LKL_FN(exp_cache) *c,
                                                const LKL_FN(soft_row) *row, ptrdiff_t i,
                                                ptrdiff_t wd, lk_vd *lo)
{
    if (!c->hi) return LKL_FN(soft_exp_dd)(row, i, wd, lo);
    *lo = lk_load_d(c->lo + i, wd, 0.0);
    return lk_load_d(c->hi + i, wd, 0.0);
}

/* The row's deep lanes (soft_grad_vec) again in double-double: S = sum exp(x_j - m) and T =
 * sum q_j from soft_exp_dd and soft_q_dd, C = s T / S, and C e_j - s q_j rounded once (~2^-98
 * of the terms: within 4 ulp of a float result down to ~2^-74 of them). Runs once for a row
 * with a deep lane: a pass of double-double exps over the row (kept for the next), then the
 * double pass again, redoing its deep lanes. */
static LKL_NOINLINE LK_TARGET void LKL_FN(soft_grad_dd)(const LKL_FN(soft_row) *row,
                                                        double c_hi, double c_lo, LK_T *g)
{
    lk_vd zero = lk_splat(0.0), S = zero, S1 = zero, S_err = zero, T = zero, T_err = zero;
    lk_vd e, e1, lo, lo1;
    lk_dd keep = lk_dd_two_sum(1.0, -row->eps);
    lk_dd share = lk_dd_div_int((lk_dd){row->eps, 0.0}, (double)row->n);
    LKL_FN(soft_parts) parts = {{lk_splat(keep.hi), lk_splat(keep.lo)},
                                {lk_splat(share.hi), lk_splat(share.lo)}};
    LKL_FN(exp_cache) cache = {malloc(2 * (size_t)row->n * sizeof(double)), NULL};
    if (cache.hi) cache.lo = cache.hi + row->n;
    ptrdiff_t i = 0;
    /* two vectors a step: the exps' Horner chains are long and serial */
    for (; i + 2 * LK_W <= row->n; i += 2 * LK_W) {
        lk_vd hi = LKL_FN(soft_exp_dd)(row, i, LK_W, &lo);
        lk_vd hi1 = LKL_FN(soft_exp_dd)(row, i + LK_W, LK_W, &lo1);
        LKL_FN(cache_put)(&cache, i, LK_W, hi, lo);
        LKL_FN(cache_put)(&cache, i + LK_W, LK_W, hi1, lo1);
        S = lk_two_sum(S, hi, &e);
        S1 = lk_two_sum(S1, hi1, &e1);
        S_err += (e + lo) + (e1 + lo1);
        hi = LKL_FN(soft_q_dd)(row, i, LK_W, &parts, &lo);
        hi1 = LKL_FN(soft_q_dd)(row, i + LK_W, LK_W, &parts, &lo1);
        T = lk_two_sum(T, hi, &e);
        T_err += e + lo;
        T = lk_two_sum(T, hi1, &e);
        T_err += e + lo1;
    }
    for (; i < row->n; i += LK_W) {
        ptrdiff_t wd = lk_width(row->n, i);
        lk_vd hi = LKL_FN(soft_exp_dd)(row, i, wd, &lo);
        LKL_FN(cache_put)(&cache, i, wd, hi, lo);
        S = lk_two_sum(S, hi, &e);
        S_err += e + lo;
        hi = LKL_FN(soft_q_dd)(row, i, wd, &parts, &lo);
        T = lk_two_sum(T, hi, &e);
        T_err += e + lo;
    }
    double S_lo, S_hi = LKL_FN(lanes_total)(S, S1, S_err, &S_lo);
    double T_lo, T_hi = LKL_FN(lanes_total)(T, zero, T_err, &T_lo);
    /* C = s T / S: the quotient, then its remainder's (fma: exact) */
    double a_hi = row->s * T_hi, a_lo = fma(row->s, T_hi, -a_hi) + row->s * T_lo;
    double q1 = a_hi / S_hi, q2 = ((fma(-q1, S_hi, a_hi) + a_lo) - q1 * S_lo) / S_hi;
    lk_vd C = lk_splat(q1 + q2), C_lo = lk_splat(q2 - ((q1 + q2) - q1));
    lk_vd ch = lk_splat(c_hi), cl = lk_splat(c_lo), s = row->s_v;
    for (ptrdiff_t i = 0; i < row->n; i += LK_W) {
        ptrdiff_t wd = lk_width(row->n, i);
        lk_vd margin, o = LKL_FN(soft_grad_vec)(row, i, wd, ch, cl, &margin);
        lk_vm deep = LK_MASK(margin < 0.0);
        if (LK_ANY(deep)) {
            lk_vd e_lo, e_hi = LKL_FN(cached_exp_dd)(&cache, row, i, wd, &e_lo);
            lk_vd q_lo, q_hi = LKL_FN(soft_q_dd)(row, i, wd, &parts, &q_lo);
            lk_vd p_lo, p = LKL_FN(dd_mul)(C, C_lo, e_hi, e_lo, &p_lo);
            lk_vd sq_lo, sq = LKL_FN(dd_mul)(s, zero, q_hi, q_lo, &sq_lo);
            lk_vd d_lo, d = lk_two_sum(p, -sq, &d_lo);
            lk_vd fixed = d + (d_lo + (p_lo - sq_lo));
            o = lk_select(deep & LK_MASK(fixed - fixed == 0.0), fixed, o);
        }
        LK_FN(store)(g + i, o, wd);
    }
    free(cache.hi);
}
#endif

/* The gradient of a row under label smoothing or soft targets: s (T p_j - q_j), q_j as in
 * soft_row, (c_hi + c_lo) = s T / S (S the double sum of exp(x_j - m), whose terms e, if not
 * NULL, exp_total kept). In double lanes and rounded once, as T p_j - q_j may cancel; float32
 * rows with a lane that cancels below 2^-26 of its terms go through soft_grad_dd. */
LK_TARGET void LKL_FN(smoothing_grad)(const LK_T *x, const LK_T *t, const double *w,
                                      const double *e, ptrdiff_t n, ptrdiff_t y, double m,
                                      double eps, double c_hi, double c_lo, double s, LK_T *g)
{
    LKL_FN(soft_row) row = LKL_FN(soft_row_of)(x, t, w, e, n, y, m, eps, s);
    lk_vd ch = lk_splat(c_hi), cl = lk_splat(c_lo);
    lk_vd margin, least = lk_exp_k.zero;
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        LK_FN(store)(g + i, LKL_FN(soft_grad_vec)(&row, i, wd, ch, cl, &margin), wd);
        least = LK_MIND(margin, least);         /* a NaN margin keeps least */
    }
#if !LK_IS_F64
    if (LKL_UNLIKELY(LK_ANY(LK_MASK(least < 0.0)))) LKL_FN(soft_grad_dd)(&row, c_hi, c_lo, g);
#else
    (void)least;
#endif
}

/* exp(-|x|) to double precision for both types (exp_dd); NaN stays NaN */
LK_INLINE LK_TARGET lk_vd LKL_FN(exp_neg_abs_full)(lk_vd x)
{
    lk_vd a = lk_select(LK_MASK(x < 0.0), x, -x);
    return LK_FN(exp_dd)(lk_clamp_below(a, LK_EXP_FLOOR), lk_splat(0.0));
}

/* bce's gradient before the factor s w: (1 - t) sigma(x) - pw t sigma(-x) in double, with z =
 * e^-|x|; *pos gets its first term */
LK_INLINE LK_TARGET lk_vd LKL_FN(bce_diff)(lk_vd v, lk_vd z, lk_vd tv, lk_vd pv, lk_vd *pos)
{
    lk_vm nonneg = LK_MASK(v >= 0.0);
    lk_vd den = 1.0 + z;
#if LK_IS_F64
    lk_vd small = z / den, big = 1.0 / den;     /* each rounded once */
#else
    lk_vd big = 1.0 / den, small = z * big;
#endif
    *pos = (1.0 - tv) * lk_select(nonneg, big, small);
    return *pos - (pv * tv) * lk_select(nonneg, small, big);
}

#if !LK_IS_F64
/* bce's gradient (1 - t) sigma(x) - pw t sigma(-x) in double-double lanes (~2^-98 of its
 * terms), for float32 lanes where it cancels below double's reach (targets that are the
 * model's own sigmoid, rounded): z = e^-|x| from exp_dd2, 1 / (1 + z) by one Newton step on
 * the double quotient, 1 - t and pw t exact. |x| <= 700; the caller scales by s w. */
LK_INLINE LK_TARGET lk_vd LKL_FN(bce_grad_dd)(lk_vd v, lk_vd tv, lk_vd pv)
{
    lk_vd zero = lk_exp_k.zero, one = lk_splat(1.0);
    lk_vd z_lo, z = LKL_FN(exp_dd2)(-LKL_FN(abs)(v), zero, &z_lo);
    lk_vd den = one + z, den_lo = (z - (den - one)) + z_lo;
    lk_vd big = one / den, big_lo = big * (LK_FMA_EXACT(-big, den, one) - big * den_lo);
    lk_vd small_lo, small = LKL_FN(dd_mul)(z, z_lo, big, big_lo, &small_lo);
    lk_vm nonneg = LK_MASK(v >= 0.0);
    lk_vd b_lo, b = lk_two_sum(one, -tv, &b_lo), a_lo, a = LKL_FN(two_prod)(pv, tv, &a_lo);
    lk_vd p_lo, p = LKL_FN(dd_mul)(b, b_lo, lk_select(nonneg, big, small),
                                   lk_select(nonneg, big_lo, small_lo), &p_lo);
    lk_vd q_lo, q = LKL_FN(dd_mul)(a, a_lo, lk_select(nonneg, small, big),
                                   lk_select(nonneg, small_lo, big_lo), &q_lo);
    lk_vd d_lo, d = lk_two_sum(p, -q, &d_lo);
    return d + (d_lo + (p_lo - q_lo));
}

/* The gradient of n elements again where some lane cancels below ~2^-26 of its terms, where
 * the double result's ~6 roundings may pass float's 4 ulp: those lanes (|x| <= 700) in
 * double-double (bce_grad_dd), the rest as bce computed them */
static LKL_NOINLINE LK_TARGET void LKL_FN(bce_fix)(const LK_T *x, const LK_T *t, const double *w,
                                                   const double *pw, LK_T *grad, ptrdiff_t n,
                                                   double s)
{
    lk_vd one = lk_splat(1.0);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        lk_vd v = LK_FN(load)(x + i, wd, 0.0), tv = LK_FN(load)(t + i, wd, 0.0);
        lk_vd wv = w ? lk_load_d(w + i, wd, 1.0) : one, pv = pw ? lk_load_d(pw + i, wd, 1.0) : one;
        lk_vd pos, d = LKL_FN(bce_diff)(v, LKL_FN(exp_neg_abs_full)(v), tv, pv, &pos);
        lk_vm deep = LK_MASK(d * d < 0x1p-50 * (pos * pos)) & LK_MASK(LKL_FN(abs)(v) <= 700.0);
        if (!LK_ANY(deep)) continue;
        lk_vd fixed = LKL_FN(bce_grad_dd)(lk_select(deep, v, lk_exp_k.zero), tv, pv);
        d = lk_select(deep & LK_MASK(fixed - fixed == 0.0), fixed, d);
        LK_FN(store)(grad + i, (s * wv) * d, wd);          /* a NaN x: d is NaN */
    }
}
#endif

/* Binary cross-entropy with logits, elementwise (arithmetic in double lanes for both types):
 * loss = w (pw t softplus(-x) + (1 - t) softplus(x)), grad = s w ((1 - t) sigmoid(x) -
 * pw t sigmoid(-x)), with z = exp(-|x|). log1p(z): float32 data take log1p_unit_lp (~1e-10
 * relative, far below float's half ulp), float64 log1p_unit (< 0.85 ulp), and float64's total
 * is compensated (TwoSum per lane), as its results are doubles. w, pw: NULL or n doubles; grad
 * may be NULL. Returns the sum of the losses. */
LK_TARGET double LKL_FN(bce)(const LK_T *x, const LK_T *t, const double *w, const double *pw,
                             LK_T *loss, LK_T *grad, ptrdiff_t n, double s)
{
    lk_vd total = lk_splat(0.0), error = total, zero = total, one = lk_splat(1.0);
    lk_vd nan = lk_splat(NAN);
#if !LK_IS_F64
    lk_vd least = zero;         /* the deepest cancellation seen, signed: < 0 means fix */
#endif
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        lk_vd v = LK_FN(load)(x + i, wd, 0.0), tv = LK_FN(load)(t + i, wd, 0.0);
        lk_vd wv = w ? lk_load_d(w + i, wd, 1.0) : one, pv = pw ? lk_load_d(pw + i, wd, 1.0) : one;
        /* exp_dd for both types: float32's exp_neg_abs (exp_lp, 1e-10) would do for the
         * loss, not for the gradient (1 - t) sigma(x) - pw t sigma(-x), which may cancel to
         * the targets' rounding; one z for both, so the loss is the same with or without */
        lk_vd z = LKL_FN(exp_neg_abs_full)(v);
        lk_vd z_or_0 = lk_select(LK_MASK(v != v), zero, z);
#if LK_IS_F64
        lk_vd lz = LK_FN(log1p_unit)(z_or_0);
#else
        lk_vd lz = LK_FN(log1p_unit_lp)(z_or_0);
#endif
        lk_vd sp_pos = lk_select(LK_MASK(v > 0.0), v, zero) + lz;
        lk_vd sp_neg = lk_select(LK_MASK(v < 0.0), -v, zero) + lz;
        lk_vd a = pv * tv, b = 1.0 - tv;
        /* a coefficient of 0 takes no part (no 0 * inf at x = +-inf) */
        lk_vd l = wv * (lk_select(LK_MASK(a != 0.0), a * sp_neg, zero)
                        + lk_select(LK_MASK(b != 0.0), b * sp_pos, zero));
        l = lk_select(LK_MASK(v != v), nan, l);
        LK_FN(store)(loss + i, l, wd);
        for (ptrdiff_t j = wd; j < LK_W; j++) ((double *)&l)[j] = 0.0;   /* tail padding */
#if LK_IS_F64
        lk_vd sum = total + l, l_part = sum - total;
        error += (total - (sum - l_part)) + (l - l_part);
        total = sum;
#else
        total += l;
#endif
        if (grad) {
            lk_vd pos, d = LKL_FN(bce_diff)(v, z, tv, pv, &pos);
#if !LK_IS_F64
            least = LK_MIND(LK_FMA(d, d, -0x1p-50 * (pos * pos)), least);
#endif
            LK_FN(store)(grad + i, lk_select(LK_MASK(v != v), nan, (s * wv) * d), wd);
        }
    }
#if !LK_IS_F64
    if (LKL_UNLIKELY(LK_ANY(LK_MASK(least < 0.0)))) LKL_FN(bce_fix)(x, t, w, pw, grad, n, s);
#endif
    double hi = 0.0, lo = 0.0;
    for (int j = 0; j < LK_W; j++) {
        double part = lk_lane(total, j), sum = hi + part, part_in = sum - hi;
        lo += ((hi - (sum - part_in)) + (part - part_in)) + lk_lane(error, j);
        hi = sum;
    }
    return isfinite(hi) ? hi + lo : hi;        /* an inf or NaN total is the plain sum's */
}
