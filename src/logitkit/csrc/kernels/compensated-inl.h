/*
 * Exact products and compensated sums in lanes, shared by the loss and backward kernels:
 * TwoProduct (FMA where LK_FUSED, Dekker's split otherwise), dot products and sums of exps kept
 * as double-double totals. The constants (1/j!, 2^(j/64) as double-doubles) serve the
 * double-double exp of the cancelling paths.
 */
#ifndef LK_ONCE
#define LK_ONCE
#define LK_HALF_LN2 0.34657359027997264   /* |y| below: e^y within a factor sqrt(2) of 1 */
#define LK_REDO_VECS 256    /* vectors in a stretch of log_softmax_bwd_fast (their weak-lane bits) */
/* 1/j! for j = 0 .. 17 (each j! exact in double), and the low parts of the first 6 as
 * double-doubles: the series of e^r - 1 past r^3/6 in expm1_reduced, and of e^r in exp_dd2 */
static const double lk_inv_fact_hi[18] = {
    1.0 / 1.0, 1.0 / 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0,
    1.0 / 5040.0, 1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0,
    1.0 / 479001600.0, 1.0 / 6227020800.0, 1.0 / 87178291200.0, 1.0 / 1307674368000.0,
    1.0 / 20922789888000.0, 1.0 / 355687428096000.0};
static const double lk_inv_fact_lo[6] = {
    0.0, 0.0, 0.0, 0x1.5555555555555p-57, 0x1.5555555555555p-59, 0x1.1111111111111p-63};
/* 2^(j/64) for j = 0 .. 63 as double-doubles (hi + lo to ~2^-107): exp_dd2's table */
static const double lk_exp2_64_hi[64] = {
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
static const double lk_exp2_64_lo[64] = {
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
#if LK_VECTOR_EXT
#define LK_HAVE_F32X8 1
typedef float lk_f32x8 __attribute__((vector_size(32)));
typedef int32_t lk_i32x8 __attribute__((vector_size(32)));
#define LK_NOINLINE __attribute__((noinline))
#define LK_UNLIKELY(c) __builtin_expect(!!(c), 0)
#define LK_CTZ(x) __builtin_ctz(x)
#define LK_POPCOUNT(x) __builtin_popcount(x)
#else
#define LK_HAVE_F32X8 0
#define LK_NOINLINE
#define LK_UNLIKELY(c) (c)
/* the lowest set bit's index of x != 0, and the count of set bits (portable forms) */
static inline int lk_ctz(unsigned x)
{
    int n = 0;
    while (!(x & 1u)) x >>= 1, n++;
    return n;
}
static inline int lk_popcount(unsigned x)
{
    int n = 0;
    for (; x; x &= x - 1) n++;
    return n;
}
#define LK_CTZ(x) lk_ctz(x)
#define LK_POPCOUNT(x) lk_popcount(x)
#endif
#endif

/* a * b = p + err exactly (TwoProduct): FMA where fused, Dekker's product otherwise. Veltkamp's
 * split (2^27 + 1) * a overflows for |a| > 2^996: those factors are split at 2^-64 of
 * themselves, and the error of the scaled product scaled back (exact, short of underflow). */
LK_INLINE LK_TARGET lk_vd LK_FN(two_prod)(lk_vd a, lk_vd b, lk_vd *err)
{
    lk_vd p = a * b;
#if LK_FUSED
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
LK_INLINE LK_TARGET lk_vd LK_FN(prod)(lk_vd a, lk_vd b, lk_vd *err)
{
#if LK_IS_F64
    return LK_FN(two_prod)(a, b, err);
#else
    *err = lk_splat(0.0);
    return a * b;
#endif
}

/* The lanes of two compensated sums (s0, s1) and their error terms c, as hi + *lo */
LK_INLINE LK_TARGET double LK_FN(lanes_total)(lk_vd s0, lk_vd s1, lk_vd c, double *lo)
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

#if LK_W == 1
/* One-lane builds (MSVC) keep the 8 chains of the vector baseline's two 4-lane vectors as
 * scalars, each element in the chain it has there: one chain a lane would pile a row's terms
 * onto two compensated sums, whose error terms' own roundings (~(n/2)^2 eps^2 of the terms'
 * magnitudes) fall short of the double-double these totals promise. */
#define LK_CHAINS 8
/* the chain of element i of n: i mod 8 in the whole blocks, the tail in the first 4 */
LK_INLINE int LK_FN(chain_of)(ptrdiff_t i, ptrdiff_t n)
{
    ptrdiff_t whole = n - n % LK_CHAINS;
    return (int)(i < whole ? i % LK_CHAINS : (i - whole) % (LK_CHAINS / 2));
}

/* lanes_total of the vector baseline over the 8 chains */
LK_INLINE double LK_FN(chains_sum)(const double *s, const double *c, double *lo)
{
    lk_sum acc = {0.0, 0.0, 0.0};
    for (int j = 0; j < LK_CHAINS / 2; j++) {
        lk_sum_add(&acc, s[j]);
        lk_sum_add(&acc, s[LK_CHAINS / 2 + j]);
        acc.lo += c[j] + c[LK_CHAINS / 2 + j];
    }
    if (!isfinite(acc.hi)) {
        *lo = 0.0;
        return acc.hi;
    }
    double h = acc.hi + acc.lo;
    *lo = acc.lo - (h - acc.hi);
    return h;
}

/* dot and sum_of (below) as the vector baseline computes them */
LK_TARGET double LK_FN(dot)(const LK_T *a, const LK_T *b, ptrdiff_t n, double *lo)
{
    double s[LK_CHAINS] = {0.0}, c[LK_CHAINS] = {0.0};
    for (ptrdiff_t i = 0; i < n; i++) {
        int k = LK_FN(chain_of)(i, n);
        double pe, se, p = LK_FN(prod)((double)a[i], (double)b[i], &pe);
        s[k] = lk_two_sum(s[k], p, &se);
        c[k] += se + pe;
    }
    return LK_FN(chains_sum)(s, c, lo);
}

#else
/* sum(a * b) as hi + lo, compensated per lane (TwoSum; TwoProduct for float64): the exact
 * dot product to ~2^-100 relative, so that g - sum(g * y) keeps its digits when it cancels
 * (the top class of a confident row) */
LK_TARGET double LK_FN(dot)(const LK_T *a, const LK_T *b, ptrdiff_t n, double *lo)
{
    lk_vd s0 = lk_splat(0.0), s1 = s0, c0 = s0, c1 = s0;
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        lk_vd x0 = LK_FN(load)(a + i, LK_W, 0.0), y0 = LK_FN(load)(b + i, LK_W, 0.0);
        lk_vd x1 = LK_FN(load)(a + i + LK_W, LK_W, 0.0), y1 = LK_FN(load)(b + i + LK_W, LK_W, 0.0);
        lk_vd pe0, pe1, se0, se1;
        lk_vd p0 = LK_FN(prod)(x0, y0, &pe0), p1 = LK_FN(prod)(x1, y1, &pe1);
        s0 = lk_two_sum(s0, p0, &se0);
        s1 = lk_two_sum(s1, p1, &se1);
        c0 += se0 + pe0;
        c1 += se1 + pe1;
    }
    for (; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd x0 = LK_FN(load)(a + i, w, 0.0), y0 = LK_FN(load)(b + i, w, 0.0);
        lk_vd pe0, se0;
        lk_vd p0 = LK_FN(prod)(x0, y0, &pe0);
        s0 = lk_two_sum(s0, p0, &se0);
        c0 += se0 + pe0;
    }
    return LK_FN(lanes_total)(s0, s1, c0 + c1, lo);
}

#endif

/* (c_hi + c_lo) exp(x - m) in double lanes, x - m split exactly (TwoSum); x = -inf gives 0 */
LK_INLINE LK_TARGET lk_vd LK_FN(scaled_exp)(lk_vd x, lk_vd m, lk_vd c_hi, lk_vd c_lo)
{
    lk_vd dl, dh = lk_two_sum(x, -m, &dl);
    lk_vm live = LK_MASK(dh > LK_EXP_FLOOR);            /* false for -inf */
    lk_vd e = LK_FN(exp_dd)(lk_clamp_below(dh, LK_EXP_FLOOR), lk_select(live, dl, lk_splat(0.0)));
    return c_hi * e + c_lo * e;
}

#if LK_W == 1
LK_INLINE LK_TARGET double LK_FN(sum_of)(const LK_T *a, ptrdiff_t n, double m, double *lo,
                                          const int of_exp, double *store)
{
    double s[LK_CHAINS] = {0.0}, c[LK_CHAINS] = {0.0};
    for (ptrdiff_t i = 0; i < n; i++) {
        int k = LK_FN(chain_of)(i, n);
        double se, x = (double)a[i];
        if (of_exp) x = LK_FN(scaled_exp)(x, m, 1.0, 0.0);
        if (store) store[i] = x;
        s[k] = lk_two_sum(s[k], x, &se);
        c[k] += se;
    }
    return LK_FN(chains_sum)(s, c, lo);
}
#else
/* sum(a), or with of_exp sum(exp(a - m)) by scaled_exp, as hi + *lo: compensated per lane
 * (TwoSum) in two chains, as one TwoSum's latency per vector would bound the loop. of_exp is
 * a constant at each call; with store (n doubles, or NULL) the terms are kept there too. */
LK_INLINE LK_TARGET double LK_FN(sum_of)(const LK_T *a, ptrdiff_t n, double m, double *lo,
                                          const int of_exp, double *store)
{
    lk_vd mv = lk_splat(m), one = lk_splat(1.0), zero = lk_splat(0.0);
    lk_vd s0 = zero, s1 = zero, c0 = zero, c1 = zero;
    double pad = of_exp ? -INFINITY : 0.0;                  /* a term of 0 either way */
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        lk_vd x0 = LK_FN(load)(a + i, LK_W, pad), x1 = LK_FN(load)(a + i + LK_W, LK_W, pad);
        if (of_exp) {
            x0 = LK_FN(scaled_exp)(x0, mv, one, zero);
            x1 = LK_FN(scaled_exp)(x1, mv, one, zero);
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
        if (of_exp) x0 = LK_FN(scaled_exp)(x0, mv, one, zero);
        if (store) lk_store_d(store + i, x0, wd);
        lk_vd e0;
        s0 = lk_two_sum(s0, x0, &e0);
        c0 += e0;
    }
    return LK_FN(lanes_total)(s0, s1, c0 + c1, lo);
}
#endif

/* sum(a) as hi + lo, compensated per lane */
LK_TARGET double LK_FN(total)(const LK_T *a, ptrdiff_t n, double *lo)
{
    return LK_FN(sum_of)(a, n, 0.0, lo, 0, NULL);
}

/* sum of exp(x_j - m) in double lanes as hi + *lo, the terms kept in store (n doubles, or
 * NULL) for smoothing_grad. For float32 rows under label smoothing or soft targets: their
 * gradient T p_j - q_j may cancel to the targets' rounding, and the float exps of the shared
 * exp_sum (2^-25) would then decide its every digit. */
LK_TARGET double LK_FN(exp_total)(const LK_T *x, ptrdiff_t n, double m, double *lo,
                                   double *store)
{
    return LK_FN(sum_of)(x, n, m, lo, 1, store);
}
