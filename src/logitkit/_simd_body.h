/*
 * The loops of every kernel, for one storage type and one instruction set. Included by _simd.c
 * (baseline, AVX2) and _simd_avx512.c once per (type, ISA) with these macros defined:
 *   LK_T        storage type (float or double)
 *   LK_IS_F64   1 for double: lk_vd lanes, exact x - max, compensated sums, exp_dd;
 *               0 for float: the row and column passes and sigmoid in lk_vf8 float lanes (8 on
 *               AVX2, 16 on AVX-512) with expf_dd, sums in double; softplus in double lanes
 *               (exact x - max: Fast2Sum in the row's or column block's form, lk_shift_form)
 *   LK_FN(name) the name of this (type, ISA)'s variant
 *   LK_TARGET   the function attribute selecting the ISA (empty for the baseline)
 *   LK_FMA(F)   a*b + c on double (float) lanes: fused where the ISA has it
 *   LK_FMA(F)_EXACT  the same, exact where c nearly cancels a*b (Newton residuals) on every ISA
 *   LK_WIDEN_F8, LK_NARROW_D, LK_MAXF, LK_MAXD  conversions and NaN-keeping clamps, per ISA
 * Loops run whole vectors, then one padded tail (-inf for data: exp 0, never the max), so the
 * main loops carry no width tests.
 *
 * Accuracy (measured against mpmath by bench/accuracy.py):
 *   exp_dd  exp(dh + dl) for dh in [-1000, 0]: Cody-Waite reduction with a 2-part ln 2,
 *           degree-11 polynomial fitted on |r| <= ln2/2 (2^-55.8 relative), the 1 + p step
 *           done last; ~0.6 ulp; subnormal results rounded once (biased scaling). Where every
 *           result is normal, (1 + p) 2^k is one fma (exp_finish_normal, expf_finish_normal).
 *   expf_dd the same in float lanes: degree 6 (2^-28), ~0.75 ulp.
 *   exp_lp  exp in double for float32 data: degree 8 (truncation ~2e-10, far below float32's
 *           half ulp), d in [-200, 0].
 *   log1p_unit  log1p(z), z in [0, 1], double: < 0.85 ulp (2 x 10^6 random z vs log1pl).
 * Callers guarantee the argument ranges (clamping keeps NaN, which then propagates).
 */

/* The exp pass and the max pass are written once for both types (below both sections): LK_EV
 * vectors of LK_EW lanes of LK_T, and the helpers of the type's section. */
#if LK_IS_F64
#define LK_EV lk_vd
#define LK_EW LK_W
#define LK_EM lk_vm
#define LK_EMASK LK_MASK
#define LK_ESPLAT lk_splat
#define LK_ELOAD(p, w, pad) LK_FN(load)((p), (w), (pad))
#define LK_ESTORE(p, v, w) LK_FN(store)((p), (v), (w))
#define LK_EMIN(a, b) LK_MIND((a), (b))
#define LK_EMAX(a, b) LK_MAXD((a), (b))
#define LK_EAND(v, mask) lk_from_bits(lk_bits(v) & (mask))
#define LK_EMAX_NAN(m, v) LK_FN(max_nan)((m), (v))
#define LK_ELANES_MAX lk_lanes_max_d
#define LK_ECONSTS lk_exp_consts
#define LK_EK (&lk_exp_k)
#define LK_ENORMAL_FLOOR (-708.0)      /* exp of anything above is a normal double */
#else
#define LK_EV lk_vf8
#define LK_EW LK_WF
#define LK_EM lk_vmf
#define LK_EMASK LK_MASKF
#define LK_ESPLAT lk_splatf
#define LK_ELOAD(p, w, pad) LK_LOADF((p), (w), (pad))
#define LK_ESTORE(p, v, w) lk_storef((p), (v), (w))
#define LK_EMIN(a, b) LK_MINF((a), (b))
#define LK_EMAX(a, b) LK_MAXF((a), (b))
#define LK_EAND(v, mask) lk_from_bitsf(lk_bitsf(v) & (mask))
#define LK_EMAX_NAN(m, v) LK_FN(max_nanf)((m), (v))
#define LK_ELANES_MAX lk_lanes_max
#define LK_ECONSTS lk_expf_consts
#define LK_EK (&lk_expf_k)
#define LK_ENORMAL_FLOOR (-87.0)       /* exp of anything above is a normal float */
#endif

/* exp(dh + dl) in two stages (a loop can pipeline them; exp_dd runs both): t holds k in its
 * low bits (plus the shifter's bias), r = dh + dl - k ln 2 with a 2-part ln 2. */
typedef struct { lk_vd t, r; } LK_FN(reduced_d);

LK_INLINE LK_TARGET LK_FN(reduced_d) LK_FN(exp_reduce)(lk_vd dh, lk_vd dl, lk_vd shifter,
                                                       const lk_exp_consts *K)
{
    LK_FN(reduced_d) a;
    a.t = LK_FMA(dh, K->log2e, shifter);
    lk_vd k = a.t - shifter;
    a.r = LK_FMA(k, K->neg_ln2_hi, dh) + LK_FMA(k, K->neg_ln2_lo, dl);
    return a;
}

/* e^r - 1 for |r| <= ln2/2: r + r^2 q(r), q even(r^2) + r odd(r^2) (lk_exp_k), two short
 * Horner chains side by side */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_poly)(lk_vd r, const lk_exp_consts *K)
{
    lk_vd r2 = r * r;
    lk_vd ev = K->even[0], od = K->odd[0];
    for (int j = 1; j < 5; j++) {
        ev = LK_FMA(ev, r2, K->even[j]);
        od = LK_FMA(od, r2, K->odd[j]);
    }
    return LK_FMA(r2, LK_FMA(od, r, ev), r);
}

/* 2^(k + 512) then 2^-512: a subnormal result is rounded once, by the last multiply */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_finish)(LK_FN(reduced_d) a, const lk_exp_consts *K)
{
    lk_vd two_k512 = lk_from_bits((lk_bits(a.t) + (1023 + 512)) << 52);
    return ((1.0 + LK_FN(exp_poly)(a.r, K)) * two_k512) * 0x1p-512;
}

/* (1 + u) 2^k for t reduced with shifter_normal (k + 1023 in its low bits, k >= -1022: a
 * normal power of two), rounded once by one fma */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_finish_normal)(LK_FN(reduced_d) a, const lk_exp_consts *K)
{
    lk_vd two_k = lk_from_bits(lk_bits(a.t) << 52);
    return LK_FMA(LK_FN(exp_poly)(a.r, K), two_k, two_k);
}

/* exp(dh + dl); dh in [-1000, 0] or NaN, |dl| <= ulp(dh). */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_dd)(lk_vd dh, lk_vd dl)
{
    return LK_FN(exp_finish)(LK_FN(exp_reduce)(dh, dl, lk_exp_k.shifter, &lk_exp_k), &lk_exp_k);
}

/* exp(d) to ~1e-10 relative, for float32 results computed in double; d in [-200, 0] or NaN. */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_lp)(lk_vd d)
{
    lk_vd k = (d * LK_LOG2E + LK_SHIFTER) - LK_SHIFTER;
    lk_vd r = (d - k * LK_LN2_HI) - k * LK_LN2_LO;
    lk_vd q = lk_splat(1.0 / 40320.0);
    q = LK_FMA(q, r, lk_splat(1.0 / 5040.0));
    q = LK_FMA(q, r, lk_splat(1.0 / 720.0));
    q = LK_FMA(q, r, lk_splat(1.0 / 120.0));
    q = LK_FMA(q, r, lk_splat(1.0 / 24.0));
    q = LK_FMA(q, r, lk_splat(1.0 / 6.0));
    q = LK_FMA(q, r, lk_splat(0.5));
    lk_vd e = 1.0 + LK_FMA(r * r, q, r);
    return e * lk_pow2i(k);
}

/* LK_W elements (w of them real) of storage type, as doubles */
LK_INLINE LK_TARGET lk_vd LK_FN(load)(const LK_T *p, ptrdiff_t w, double pad)
{
    if (w == LK_W) {
#if LK_IS_F64
        lk_vd v;
        memcpy(&v, p, sizeof v);
        return v;
#else
        lk_vf f;
        memcpy(&f, p, sizeof f);
        return LK_F4_TO_D(f);
#endif
    }
#if LK_BODY_AVX2
#if LK_IS_F64
    return lk_load_part_d4_avx2(p, w, pad);
#else
    return lk_load_part_f4_avx2(p, w, pad);
#endif
#elif LK_BODY_AVX512
    __mmask8 live = (__mmask8)((1u << w) - 1u);
#if LK_IS_F64
    return (lk_vd)_mm512_mask_loadu_pd(_mm512_set1_pd(pad), live, p);
#else
    return (lk_vd)_mm512_cvtps_pd(_mm256_mask_loadu_ps(_mm256_set1_ps((float)pad), live, p));
#endif
#else
    lk_vd v = lk_splat(pad);
    for (ptrdiff_t j = 0; j < w; j++) ((double *)&v)[j] = (double)p[j];
    return v;
#endif
}

LK_INLINE LK_TARGET void LK_FN(store)(LK_T *p, lk_vd v, ptrdiff_t w)
{
    if (w == LK_W) {
#if LK_IS_F64
        memcpy(p, &v, sizeof v);
#else
        lk_vf f = LK_D_TO_F4(v);
        memcpy(p, &f, sizeof f);
#endif
        return;
    }
    for (ptrdiff_t j = 0; j < w; j++) p[j] = (LK_T)lk_lane(v, j);
}

/* (x - m) - L with x - m exact, so that the only errors are L's and one final rounding */
LK_INLINE LK_TARGET lk_vd LK_FN(shifted_log)(lk_vd x, lk_vd m, lk_vd L)
{
#if LK_IS_F64
    lk_vd dl, dh = lk_two_sum(x, -m, &dl);
    dl = lk_select(LK_MASK(dh - dh == 0.0), dl, lk_splat(0.0)); /* dh = -inf: no error term */
    lk_vd yl, yh = lk_two_sum(dh, -L, &yl);
    return lk_select(LK_MASK(dh - dh == 0.0), yh + (yl + dl), dh);  /* -inf stays -inf */
#else
    return (x - m) - L;
#endif
}

/* log1p(a) for a >= 0, ~1e-14 relative (atanh series on [sqrt(1/2), sqrt(2)), one correction
 * for the rounding of 1 + a); used where the result is rounded to float32 */
LK_INLINE LK_TARGET lk_vd LK_FN(log1p_v)(lk_vd a)
{
    lk_vd s = 1.0 + a;
    lk_vd c = (a - (s - 1.0)) / s;
    lk_vm b = lk_bits(s);
    lk_vm eb = (b >> 52) & 0x7ff;
    lk_vd f = lk_from_bits((b & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);   /* [1, 2) */
    lk_vm big = LK_MASK(f > 1.41421356237309504880);
    f = lk_select(big, f * 0.5, f);
    eb = eb + (big & 1);
    lk_vd k = (lk_from_bits(eb | 0x4330000000000000LL) - 0x1p52) - 1023.0;
    lk_vd u = (f - 1.0) / (f + 1.0);
    lk_vd u2 = u * u;
    lk_vd q = lk_splat(1.0 / 15.0);
    q = LK_FMA(q, u2, lk_splat(1.0 / 13.0));
    q = LK_FMA(q, u2, lk_splat(1.0 / 11.0));
    q = LK_FMA(q, u2, lk_splat(1.0 / 9.0));
    q = LK_FMA(q, u2, lk_splat(1.0 / 7.0));
    q = LK_FMA(q, u2, lk_splat(1.0 / 5.0));
    q = LK_FMA(q, u2, lk_splat(1.0 / 3.0));
    lk_vd u2x = u + u;
    lk_vd lf = LK_FMA(u2x * u2, q, u2x);
    return k * 6.93147180369123816490e-01 + (lf + (k * 1.90821492927058770002e-10 + c));
}

/* max with NaN sticky: once a lane holds NaN it keeps it */
LK_INLINE LK_TARGET lk_vd LK_FN(max_nan)(lk_vd m, lk_vd v)
{
    return lk_select(LK_MASK(v > m) | LK_MASK(v != v), v, m);
}

#if !LK_IS_F64
/* ---- float32 data: the row passes in LK_WF float lanes ---- */

/* exp(dh + dl) in float lanes in two stages, so that a loop can pipeline them (expf_dd runs
 * both): dh in [LK_EXPF_FLOOR, 0] or NaN, |dl| <= ulp(dh) / 2. Cody-Waite reduction with a
 * 2-part ln 2 (r_hi exact by Sterbenz), degree-6 polynomial fitted for relative error on
 * |r| <= ln2/2 (2^-28), the r_lo and 1 + u steps last so that only their roundings remain
 * (~0.75 ulp worst). The constants come through K: the pipelined loops keep them in memory,
 * where they cost no register. */
typedef struct { lk_vf8 t, r_hi, r_lo; } LK_FN(reducedf);

LK_INLINE LK_TARGET LK_FN(reducedf) LK_FN(expf_reduce)(lk_vf8 dh, lk_vf8 dl, lk_vf8 shifter,
                                                       const lk_expf_consts *K)
{
    LK_FN(reducedf) a;
    a.t = LK_FMAF(dh, K->log2e, shifter);           /* k (+ the shifter's bias) in low bits */
    lk_vf8 k = a.t - shifter;
    a.r_hi = LK_FMAF(k, K->neg_ln2_hi, dh);
    a.r_lo = LK_FMAF(k, K->neg_ln2_lo, dl);
    return a;
}

/* e^r - 1 of a reduced argument (Estrin: a shorter dependency chain) */
LK_INLINE LK_TARGET lk_vf8 LK_FN(expf_poly)(LK_FN(reducedf) a, const lk_expf_consts *K)
{
    lk_vf8 r = a.r_hi + a.r_lo;
    lk_vf8 r2 = r * r;
    lk_vf8 q01 = LK_FMAF(r, K->c[1], K->c[0]);
    lk_vf8 q23 = LK_FMAF(r, K->c[3], K->c[2]);
    lk_vf8 q = LK_FMAF(r2, LK_FMAF(r2, K->c[4], q23), q01);
    return a.r_hi + LK_FMAF(r2, q, a.r_lo);
}

/* (1 + u) 2^k for t reduced with lk_expf_k.shifter_normal (k + 127 in its low bits, k >= -126:
 * a normal power of two), rounded once: one fma, the same float as 1 + u scaled */
LK_INLINE LK_TARGET lk_vf8 LK_FN(expf_finish_normal)(LK_FN(reducedf) a, const lk_expf_consts *K)
{
    lk_vf8 two_k = lk_from_bitsf(lk_bitsf(a.t) << 23);
    lk_vf8 u = LK_FN(expf_poly)(a, K);
    return LK_FMAF(u, two_k, two_k);
}

/* (1 + u) 2^k for t reduced with lk_expf_k.shifter, any k >= LK_EXPF_FLOOR / ln 2: scaled by
 * 2^(k + 64), then 2^-64, so that a subnormal result is rounded once, by the last multiply */
LK_INLINE LK_TARGET lk_vf8 LK_FN(expf_finish)(LK_FN(reducedf) a, const lk_expf_consts *K)
{
    lk_vf8 two_k64 = lk_from_bitsf((lk_bitsf(a.t) + (127 + 64)) << 23);
    lk_vf8 u = LK_FN(expf_poly)(a, K);
    return LK_FMAF(u, two_k64, two_k64) * K->two_m64;
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(expf_dd)(lk_vf8 dh, lk_vf8 dl)
{
    return LK_FN(expf_finish)(LK_FN(expf_reduce)(dh, dl, lk_expf_k.shifter, &lk_expf_k),
                              &lk_expf_k);
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(max_nanf)(lk_vf8 m, lk_vf8 v)
{
    return lk_selectf(LK_MASKF(v > m) | LK_MASKF(v != v), v, m);
}

/* ---- the float side of the pipelined exp pass (exp_pass_form, below both sections) ---- */
typedef LK_FN(reducedf) LK_FN(reduced);

/* Stage 1 after x - m was made exact as s + e: reduced, in the wide form clamped (-inf and
 * spreads past the float range give 0) and scaled for subnormal results */
LK_INLINE LK_TARGET LK_FN(reduced) LK_FN(reduce_shifted)(lk_vf8 s, lk_vf8 e, int form,
                                                         const lk_expf_consts *K)
{
    if (form != LK_SHIFT_WIDE) return LK_FN(expf_reduce)(s, e, K->shifter_normal, K);
    lk_vmf near = LK_MASKF(s > LK_EXPF_FLOOR);      /* false for -inf */
    return LK_FN(expf_reduce)(LK_MAXF(K->floor, s), lk_selectf(near, e, K->zero), K->shifter, K);
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(shift_finish)(LK_FN(reduced) a, int form,
                                                const lk_expf_consts *K)
{
    return form == LK_SHIFT_WIDE ? LK_FN(expf_finish)(a, K) : LK_FN(expf_finish_normal)(a, K);
}

/* exp(x - m) of LK_WF floats, x - m split exactly (TwoSum: any x, as the wide form takes);
 * -inf and huge spreads give 0 */
LK_INLINE LK_TARGET lk_vf8 LK_FN(shifted_expf)(lk_vf8 x, lk_vf8 m)
{
    lk_vf8 dl, dh = lk_two_sumf(x, -m, &dl);
    return LK_FN(expf_finish)(LK_FN(reduce_shifted)(dh, dl, LK_SHIFT_WIDE, &lk_expf_k),
                              &lk_expf_k);
}

LK_INLINE LK_TARGET void LK_FN(add_widened)(lk_vd *sum, lk_vf8 terms)
{
    lk_vd lo, hi;
    LK_WIDEN_F8(terms, lo, hi);
    *sum += lo + hi;
}

/* The exp pass's running sums: in double (~1e-12 relative, far below float's half ulp), and
 * per lane the count of the terms equal to the max */
typedef struct { lk_vd sum; lk_vmf top; } LK_FN(exp_totals);

LK_INLINE LK_TARGET LK_FN(exp_totals) LK_FN(totals_init)(int top)
{
    (void)top;
    LK_FN(exp_totals) t = {lk_splat(0.0), LK_MASKF(lk_splatf(0.0f) != 0.0f)};
    return t;
}

/* a term that is not the max's (top mode: those are exactly 1 and counted apart) */
LK_INLINE LK_TARGET void LK_FN(add_term)(LK_FN(exp_totals) *acc, lk_vf8 e, lk_vmf is_top)
{
    acc->top -= is_top;                             /* masks are -1 */
    LK_FN(add_widened)(&acc->sum, lk_from_bitsf(lk_bitsf(e) & ~is_top));
}

/* softmax's terms, all of them: two vectors added in float first (a relative error below
 * 2^-24 of the total, far inside softmax's bar) */
LK_INLINE LK_TARGET void LK_FN(add_pair)(LK_FN(exp_totals) *acc, lk_vf8 e0, lk_vf8 e1)
{
    LK_FN(add_widened)(&acc->sum, e0 + e1);
}

LK_INLINE LK_TARGET void LK_FN(add_one)(LK_FN(exp_totals) *acc, lk_vf8 e)
{
    LK_FN(add_widened)(&acc->sum, e);
}

LK_INLINE LK_TARGET void LK_FN(totals_finish)(const LK_FN(exp_totals) *t, int top, lk_sum *acc)
{
    (void)top;
    lk_sum_add(acc, lk_lanes_sum(t->sum));
    int32_t counts[LK_WF];                  /* per lane: a part of < 2^31 * LK_WF elements */
    memcpy(counts, &t->top, sizeof counts);
    int64_t count = 0;
    for (int j = 0; j < LK_WF; j++) count += counts[j];
    acc->top += (double)count;
}

/* The column kernels' sums of one vector of columns (lanes [0, w)), held in registers over a
 * group of rows: plain double sums as in the row kernels, and in top mode the count of the
 * terms equal to the max. (Lanes past w are read as 0 and not written back.) */
typedef struct { lk_vd sum[2], top[2]; } LK_FN(col_sums);

LK_INLINE LK_TARGET LK_FN(col_sums) LK_FN(col_sums_load)(const double *hi, const double *lo,
                                                         const double *top, ptrdiff_t w,
                                                         int top_mode)
{
    (void)lo;
    ptrdiff_t w0 = w < LK_W ? w : LK_W, w1 = w > LK_W ? w - LK_W : 0;
    LK_FN(col_sums) c = {{lk_load_d(hi, w0, 0.0), lk_load_d(hi + LK_W, w1, 0.0)},
                         {lk_splat(0.0), lk_splat(0.0)}};
    if (top_mode) {
        c.top[0] = lk_load_d(top, w0, 0.0);
        c.top[1] = lk_load_d(top + LK_W, w1, 0.0);
    }
    return c;
}

LK_INLINE LK_TARGET void LK_FN(col_sums_add)(LK_FN(col_sums) *c, lk_vf8 e, lk_vmf is_top,
                                             int top_mode)
{
    lk_vd a, b;
    if (top_mode) {
        LK_WIDEN_F8(lk_from_bitsf(lk_bitsf(lk_splatf(1.0f)) & is_top), a, b);
        c->top[0] += a;
        c->top[1] += b;
        e = lk_from_bitsf(lk_bitsf(e) & ~is_top);
    }
    LK_WIDEN_F8(e, a, b);
    c->sum[0] += a;
    c->sum[1] += b;
}

LK_INLINE LK_TARGET void LK_FN(col_sums_store)(const LK_FN(col_sums) *c, double *hi, double *lo,
                                               double *top, ptrdiff_t w, int top_mode)
{
    (void)lo;
    ptrdiff_t w0 = w < LK_W ? w : LK_W, w1 = w > LK_W ? w - LK_W : 0;
    lk_store_d(hi, c->sum[0], w0);
    lk_store_d(hi + LK_W, c->sum[1], w1);
    if (top_mode) {
        lk_store_d(top, c->top[0], w0);
        lk_store_d(top + LK_W, c->top[1], w1);
    }
}

/* the column kernels' scale: out *= 1 / sum in float, as scale does */
typedef lk_vf8 LK_FN(col_inv);

LK_INLINE LK_TARGET LK_FN(col_inv) LK_FN(col_inverse)(const double *inv_hi, const double *inv_lo,
                                              ptrdiff_t w)
{
    (void)inv_lo;
    ptrdiff_t w0 = w < LK_W ? w : LK_W, w1 = w > LK_W ? w - LK_W : 0;
    return LK_NARROW_D(lk_load_d(inv_hi, w0, 0.0), lk_load_d(inv_hi + LK_W, w1, 0.0));
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(col_scale_by)(lk_vf8 e, LK_FN(col_inv) inv) { return e * inv; }

/* out[i] *= 1 / sum, the reciprocal rounded to float once (inv_lo is below its resolution) */
LK_INLINE LK_TARGET void LK_FN(scale_step)(float *out, ptrdiff_t w, double inv)
{
    lk_vf8 e = LK_LOADF(out, w, 0.0f);
#if LK_SCALE_IN_FLOAT
    lk_storef(out, e * (float)inv, w);
#else
    lk_vd lo, hi;
    LK_WIDEN_F8(e, lo, hi);
    lk_storef(out, LK_NARROW_D(lo * inv, hi * inv), w);
#endif
}

LK_TARGET void LK_FN(scale)(float *out, ptrdiff_t n, double inv_hi, double inv_lo)
{
    (void)inv_lo;
    ptrdiff_t i = 0;
    for (; i + LK_WF <= n; i += LK_WF) LK_FN(scale_step)(out + i, LK_WF, inv_hi);
    if (i < n) LK_FN(scale_step)(out + i, n - i, inv_hi);
}


/* ---- many short rows as vector lanes: LK_WF rows to a vector, groups of them side by side
 *      (a group alone is one long chain of dependent steps, max, exps, sums, log, too long
 *      for the scheduler to overlap with the next group) ---- */

/* Lane j of a group's pair of double halves (rows j < LK_W in h[0], the rest in h[1]) */
LK_INLINE double LK_FN(group_lane)(const lk_vd h[2], ptrdiff_t j)
{
    return j < LK_W ? lk_lane(h[0], j) : lk_lane(h[1], j - LK_W);
}

/* The max of each lane over the n rows of buf (NaN sticky), into m_out for the real rows;
 * m gets it with the lanes that are not finite set to 0: those rows are the caller's */
LK_INLINE LK_TARGET void LK_FN(lanes_max)(const float *buf, ptrdiff_t lanes, ptrdiff_t groups,
                                          ptrdiff_t n, ptrdiff_t rows, lk_vf8 *m,
                                          double *m_out)
{
    const lk_vf8 zero = lk_splatf(0.0f);
    for (ptrdiff_t g = 0; g < groups; g++) m[g] = lk_splatf(-INFINITY);
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            m[g] = LK_FN(max_nanf)(m[g], LK_LOADF(buf + k * lanes + g * LK_WF, LK_WF, 0.0f));
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd h[2];
        LK_WIDEN_F8(m[g], h[0], h[1]);
        for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++)
            m_out[g * LK_WF + j] = LK_FN(group_lane)(h, j);
        m[g] = lk_selectf(LK_MASKF(m[g] - m[g] == zero), m[g], zero);
    }
}

/* exp(x - m) of every element in buf (stored back when store is set), and per lane the count
 * of the terms equal to the max and, in double, the sum of the others */
LK_INLINE LK_TARGET void LK_FN(lanes_exp_sums)(float *buf, ptrdiff_t lanes, ptrdiff_t groups,
                                               ptrdiff_t n, const lk_vf8 *m, int store,
                                               lk_vf8 *top, lk_vd (*rest)[2])
{
    const lk_vf8 zero = lk_splatf(0.0f), one = lk_splatf(1.0f);
    for (ptrdiff_t g = 0; g < groups; g++) {
        top[g] = zero;
        rest[g][0] = rest[g][1] = lk_splat(0.0);
    }
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vf8 v = LK_LOADF(p, LK_WF, 0.0f);
            lk_vmf is_top = LK_MASKF(v == m[g]);
            lk_vf8 e = LK_FN(shifted_expf)(v, m[g]);
            if (store) lk_storef(p, e, LK_WF);
            top[g] += lk_selectf(is_top, one, zero);
            lk_vd lo, hi;
            LK_WIDEN_F8(lk_selectf(is_top, zero, e), lo, hi);
            rest[g][0] += lo;
            rest[g][1] += hi;
        }
    }
}

/*
 * softmax, log_softmax or logsumexp (op: LK_OP_*) of up to LK_SHORT_ROWS rows (x_stride,
 * out_stride elements apart) of n <= LK_SHORT_N floats, with the numerics of the row passes:
 * exact x - m, the terms equal to the max counted apart, sums in double, log1p of the rest
 * (softmax scales by the reciprocal as scale does, LK_SCALE_IN_FLOAT). Writes each row's max to
 * m_out and, for logsumexp, its value to lse_out; rows whose max is not finite get unspecified
 * outputs, for the caller to overwrite.
 */
LK_TARGET void LK_FN(short_rows)(const float *x, ptrdiff_t x_stride, float *out,
                                 ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                 double *m_out, double *lse_out)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_WF };
    float buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vf8 m[GROUPS], top[GROUPS];
    lk_vd rest[GROUPS][2], value[GROUPS][2], m_d[GROUPS][2];
    const ptrdiff_t groups = (rows + LK_WF - 1) / LK_WF, lanes = groups * LK_WF;
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_ROWS_TO_LANESF(x + g * LK_WF * x_stride, x_stride, rows - g * LK_WF, n,
                          buf + g * LK_WF, lanes);
    LK_FN(lanes_max)(buf, lanes, groups, n, rows, m, m_out);
    LK_FN(lanes_exp_sums)(buf, lanes, groups, n, m, op == LK_OP_SOFTMAX, top, rest);
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd t[2];
        LK_WIDEN_F8(top[g], t[0], t[1]);
        LK_WIDEN_F8(m[g], m_d[g][0], m_d[g][1]);
        for (int h = 0; h < 2; h++) {
            if (op == LK_OP_SOFTMAX) value[g][h] = 1.0 / (t[h] + rest[g][h]);
            else value[g][h] = LK_FN(log1p_v)((t[h] - 1.0) + rest[g][h]);   /* L */
        }
        if (op == LK_OP_LOGSUMEXP)
            for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++)
                lse_out[g * LK_WF + j] = m_out[g * LK_WF + j] + LK_FN(group_lane)(value[g], j);
    }
    if (op == LK_OP_LOGSUMEXP) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vf8 v = LK_LOADF(p, LK_WF, 0.0f);
            if (op == LK_OP_SOFTMAX) {
#if LK_SCALE_IN_FLOAT
                v = v * LK_NARROW_D(value[g][0], value[g][1]);
#else
                lk_vd lo, hi;
                LK_WIDEN_F8(v, lo, hi);
                v = LK_NARROW_D(lo * value[g][0], hi * value[g][1]);
#endif
            } else {                            /* (x - m) - L, x - m exact in double */
                lk_vd lo, hi;
                LK_WIDEN_F8(v, lo, hi);
                v = LK_NARROW_D((lo - m_d[g][0]) - value[g][0], (hi - m_d[g][1]) - value[g][1]);
            }
            lk_storef(p, v, LK_WF);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSF(buf + g * LK_WF, lanes, rows - g * LK_WF, n,
                          out + g * LK_WF * out_stride, out_stride);
}

#else /* LK_IS_F64 */

/* ---- the double side of the pipelined exp pass (exp_pass_form, below both sections) ---- */
typedef LK_FN(reduced_d) LK_FN(reduced);

/* Stage 1 after x - m was made exact as s + e: reduced, in the wide form clamped (-inf and
 * huge spreads give 0) and scaled for subnormal results */
LK_INLINE LK_TARGET LK_FN(reduced) LK_FN(reduce_shifted)(lk_vd s, lk_vd e, int form,
                                                         const lk_exp_consts *K)
{
    if (form != LK_SHIFT_WIDE) return LK_FN(exp_reduce)(s, e, K->shifter_normal, K);
    lk_vm near = LK_MASK(s > LK_EXP_FLOOR);        /* false for -inf */
    return LK_FN(exp_reduce)(LK_MAXD(K->floor, s), lk_from_bits(lk_bits(e) & near), K->shifter,
                             K);
}

LK_INLINE LK_TARGET lk_vd LK_FN(shift_finish)(LK_FN(reduced) a, int form, const lk_exp_consts *K)
{
    return form == LK_SHIFT_WIDE ? LK_FN(exp_finish)(a, K) : LK_FN(exp_finish_normal)(a, K);
}

/* exp(x - m), x - m split exactly (TwoSum: any x, as the wide form takes); -inf and huge
 * spreads give 0 */
LK_INLINE LK_TARGET lk_vd LK_FN(shifted_exp)(lk_vd x, lk_vd m)
{
    lk_vd dl, dh = lk_two_sum(x, -m, &dl);
    return LK_FN(exp_finish)(LK_FN(reduce_shifted)(dh, dl, LK_SHIFT_WIDE, &lk_exp_k), &lk_exp_k);
}

/* Adds one vector of exps to the per-lane sums of the terms below the max, compensated
 * (TwoSum: hi + lo carries the sum to ~2^-100 relative, so a confident row's tiny rest keeps
 * every bit that log1p needs), and counts the terms equal to it */
LK_INLINE LK_TARGET void LK_FN(accumulate)(lk_vd x, lk_vd m, lk_vd e, lk_vd *hi, lk_vd *lo, lk_vd *top)
{
    lk_vm is_top = LK_MASK(x == m);
    lk_vd err, term = lk_select(is_top, lk_splat(0.0), e);
    *top += lk_select(is_top, lk_splat(1.0), lk_splat(0.0));
    *hi = lk_two_sum(*hi, term, &err);
    *lo += err;
}

LK_INLINE LK_TARGET void LK_FN(exp_step)(const LK_T *x, LK_T *out, ptrdiff_t w, lk_vd m,
                                         lk_vd *hi, lk_vd *lo, lk_vd *top)
{
    lk_vd v = LK_FN(load)(x, w, -INFINITY);
    lk_vd e = LK_FN(shifted_exp)(v, m);
    if (out) LK_FN(store)(out, e, w);
    LK_FN(accumulate)(v, m, e, hi, lo, top);
}

/* The exp pass's running sums, compensated: hi + lo carries them to ~2^-100 relative, so that a
 * confident row's tiny rest keeps every bit log1p needs; and per lane the count of the terms
 * equal to the max. softmax's sums start at a bias of 1 (taken off at the end): every term is
 * <= 1 <= hi, so Fast2Sum is exact, 3 operations where TwoSum takes 6. */
typedef struct { lk_vd hi, lo; lk_vm top; } LK_FN(exp_totals);

LK_INLINE LK_TARGET LK_FN(exp_totals) LK_FN(totals_init)(int top)
{
    LK_FN(exp_totals) t = {lk_splat(top ? 0.0 : 1.0), lk_splat(0.0), LK_MASK(lk_splat(0.0) != 0.0)};
    return t;
}

LK_INLINE LK_TARGET void LK_FN(add_term)(LK_FN(exp_totals) *acc, lk_vd e, lk_vm is_top)
{
    lk_vd err;
    acc->top -= is_top;                             /* masks are -1 */
    acc->hi = lk_two_sum(acc->hi, lk_from_bits(lk_bits(e) & ~is_top), &err);
    acc->lo += err;
}

LK_INLINE LK_TARGET void LK_FN(add_one)(LK_FN(exp_totals) *acc, lk_vd e)
{
    lk_vd s = acc->hi + e;
    acc->lo += e - (s - acc->hi);
    acc->hi = s;
}

LK_INLINE LK_TARGET void LK_FN(add_pair)(LK_FN(exp_totals) *acc, lk_vd e0, lk_vd e1)
{
    LK_FN(add_one)(acc, e0);
    LK_FN(add_one)(acc, e1);
}

LK_INLINE LK_TARGET void LK_FN(totals_finish)(const LK_FN(exp_totals) *t, int top, lk_sum *acc)
{
    for (int j = 0; j < LK_W; j++) {
        double err, s = lk_two_sum_1(lk_lane(t->hi, j), top ? 0.0 : -1.0, &err);
        lk_sum_add(acc, s);
        acc->lo += err + lk_lane(t->lo, j);
        int64_t count;
        memcpy(&count, (const char *)&t->top + j * sizeof count, sizeof count);
        acc->top += (double)count;
    }
}

/* The column kernels' sums of one vector of columns (lanes [0, w)), held in registers over a
 * group of rows, compensated as the row kernels' are: softmax's from a bias of 1 by Fast2Sum,
 * top mode's by TwoSum with the max's terms counted apart */
typedef struct { lk_vd hi, lo, top; } LK_FN(col_sums);

LK_INLINE LK_TARGET LK_FN(col_sums) LK_FN(col_sums_load)(const double *hi, const double *lo,
                                                         const double *top, ptrdiff_t w,
                                                         int top_mode)
{
    LK_FN(col_sums) c = {lk_load_d(hi, w, 0.0), lk_load_d(lo, w, 0.0),
                         top_mode ? lk_load_d(top, w, 0.0) : lk_splat(0.0)};
    return c;
}

LK_INLINE LK_TARGET void LK_FN(col_sums_add)(LK_FN(col_sums) *c, lk_vd e, lk_vm is_top,
                                             int top_mode)
{
    if (top_mode) {
        lk_vd err;
        c->top += lk_from_bits(lk_bits(lk_splat(1.0)) & is_top);
        c->hi = lk_two_sum(c->hi, lk_from_bits(lk_bits(e) & ~is_top), &err);
        c->lo += err;
    } else {
        lk_vd s = c->hi + e;
        c->lo += e - (s - c->hi);
        c->hi = s;
    }
}

LK_INLINE LK_TARGET void LK_FN(col_sums_store)(const LK_FN(col_sums) *c, double *hi, double *lo,
                                               double *top, ptrdiff_t w, int top_mode)
{
    lk_store_d(hi, c->hi, w);
    lk_store_d(lo, c->lo, w);
    if (top_mode) lk_store_d(top, c->top, w);
}

/* the column kernels' scale: out *= inv_hi + inv_lo, as scale does */
typedef struct { lk_vd hi, lo; } LK_FN(col_inv);

LK_INLINE LK_TARGET LK_FN(col_inv) LK_FN(col_inverse)(const double *inv_hi, const double *inv_lo,
                                                      ptrdiff_t w)
{
    LK_FN(col_inv) inv = {lk_load_d(inv_hi, w, 0.0), lk_load_d(inv_lo, w, 0.0)};
    return inv;
}

LK_INLINE LK_TARGET lk_vd LK_FN(col_scale_by)(lk_vd e, LK_FN(col_inv) inv)
{
    return LK_FMA(e, inv.hi, e * inv.lo);
}

/* out[i] *= inv_hi + inv_lo (a double-double reciprocal of the sum) */
LK_INLINE LK_TARGET void LK_FN(scale_step)(LK_T *out, ptrdiff_t w, lk_vd inv_hi, lk_vd inv_lo)
{
    lk_vd e = LK_FN(load)(out, w, 0.0);
    LK_FN(store)(out, LK_FMA(e, inv_hi, e * inv_lo), w);
}

LK_TARGET void LK_FN(scale)(LK_T *out, ptrdiff_t n, double inv_hi, double inv_lo)
{
    lk_vd a = lk_splat(inv_hi), b = lk_splat(inv_lo);
    ptrdiff_t i = 0;
    for (; i + LK_W <= n; i += LK_W) LK_FN(scale_step)(out + i, LK_W, a, b);
    if (i < n) LK_FN(scale_step)(out + i, n - i, a, b);
}

/*
 * float64's short rows, the passes before the reciprocal or the log: up to LK_SHORT_ROWS rows
 * of n <= LK_SHORT_N doubles into buf, LK_W rows to a vector, every pass over all the groups side
 * by side, with the row kernels' numerics (exact x - m, exp_dd, compensated sums, the terms
 * equal to the max counted in top). The exps are stored back into buf where store is set. Writes
 * each row's max to m_out; m[] gets 0 in the lanes whose max is not finite (the caller's rows).
 */
LK_INLINE LK_TARGET ptrdiff_t LK_FN(lanes_exp_sums_d)(const double *x, ptrdiff_t x_stride,
                                                      double *buf, ptrdiff_t rows, ptrdiff_t n,
                                                      int store, double *m_out, lk_vd *m,
                                                      lk_vd *hi, lk_vd *lo, lk_vd *top)
{
    const lk_vd zero = lk_splat(0.0);
    const ptrdiff_t groups = (rows + LK_W - 1) / LK_W, lanes = groups * LK_W;
    for (ptrdiff_t g = 0; g < groups; g++) {
        LK_ROWS_TO_LANESD(x + g * LK_W * x_stride, x_stride, rows - g * LK_W, n, buf + g * LK_W,
                          lanes);
        m[g] = lk_splat(-INFINITY);
        hi[g] = lo[g] = top[g] = zero;
    }
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            m[g] = LK_FN(max_nan)(m[g], lk_load_d(buf + k * lanes + g * LK_W, LK_W, 0.0));
    for (ptrdiff_t g = 0; g < groups; g++) {
        for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
            m_out[g * LK_W + j] = lk_lane(m[g], (int)j);
        m[g] = lk_select(LK_MASK(m[g] - m[g] == 0.0), m[g], zero);     /* others: caller's */
    }
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            double *p = buf + k * lanes + g * LK_W;
            LK_FN(exp_step)(p, store ? p : NULL, LK_W, m[g], &hi[g], &lo[g], &top[g]);
        }
    }
    return groups;
}

/* 1 / (top + hi + lo) per lane as inv_hi + *inv_lo, to ~2^-100 (the scalar reciprocal of
 * _double_double.pxd in lanes) */
LK_INLINE LK_TARGET lk_vd LK_FN(reciprocal_v)(lk_vd top, lk_vd hi, lk_vd lo, lk_vd *inv_lo)
{
    lk_vd e, s = lk_two_sum(top, hi, &e), s_lo;
    lk_vd s_hi = lk_two_sum(s, e + lo, &s_lo);
    lk_vd inv_hi = 1.0 / s_hi;
    *inv_lo = (-LK_FMA_EXACT(inv_hi, s_hi, lk_splat(-1.0)) - inv_hi * s_lo) * inv_hi;
    return inv_hi;
}

/* float64 softmax of short rows (after lanes_exp_sums_d): each exp scaled by the sum's
 * double-double reciprocal */
LK_INLINE LK_TARGET void LK_FN(short_softmax)(double *buf, ptrdiff_t groups, ptrdiff_t n,
                                               const lk_vd *hi, const lk_vd *lo, const lk_vd *top)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    const ptrdiff_t lanes = groups * LK_W;
    lk_vd inv_hi[GROUPS], inv_lo[GROUPS];
    for (ptrdiff_t g = 0; g < groups; g++)
        inv_hi[g] = LK_FN(reciprocal_v)(top[g], hi[g], lo[g], &inv_lo[g]);
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            LK_FN(scale_step)(buf + k * lanes + g * LK_W, LK_W, inv_hi[g], inv_lo[g]);
}

#endif /* LK_IS_F64 */

/* ---- the max pass and the exp pass, written once for both types: LK_EV vectors of LK_EW
 *      lanes; the exp's stages and the sums come from the type's section above ---- */

/* The largest element and whether any is NaN, and (want_min) the least; where a NaN is, both
 * are unspecified (callers test has_nan first). Four max chains (latency-bound otherwise), the
 * mins beside them: the pass waits on its loads, and the min picks the exp pass's form. */
LK_INLINE LK_TARGET void LK_FN(row_extremes)(const LK_T *x, ptrdiff_t n, double *max_out,
                                             double *min_out, int *has_nan, int want_min)
{
    LK_EV m[4], lo[4];
    for (int c = 0; c < 4; c++) {
        m[c] = LK_ESPLAT(-INFINITY);
        lo[c] = LK_ESPLAT(INFINITY);
    }
    ptrdiff_t i = 0;
    for (; i + 4 * LK_EW <= n; i += 4 * LK_EW) {
        for (int c = 0; c < 4; c++) {
            LK_EV v = LK_ELOAD(x + i + c * LK_EW, LK_EW, 0.0);
            m[c] = LK_EMAX_NAN(m[c], v);
            if (want_min) lo[c] = LK_EMIN(lo[c], v);
        }
    }
    for (; i < n; i += LK_EW) {
        ptrdiff_t w = n - i < LK_EW ? n - i : LK_EW;
        m[0] = LK_EMAX_NAN(m[0], LK_ELOAD(x + i, w, -INFINITY));
        if (want_min) lo[0] = LK_EMIN(lo[0], LK_ELOAD(x + i, w, INFINITY));
    }
    m[0] = LK_EMAX_NAN(LK_EMAX_NAN(m[0], m[1]), LK_EMAX_NAN(m[2], m[3]));
    LK_T lanes[LK_EW];
    memcpy(lanes, &m[0], sizeof lanes);
    LK_ELANES_MAX(lanes, LK_EW, max_out, has_nan);
    if (!want_min) return;
    lo[0] = LK_EMIN(LK_EMIN(lo[0], lo[1]), LK_EMIN(lo[2], lo[3]));
    memcpy(lanes, &lo[0], sizeof lanes);
    LK_T least = lanes[0];
    for (int j = 1; j < LK_EW; j++) least = lanes[j] < least ? lanes[j] : least;
    *min_out = least;
}

LK_TARGET void LK_FN(row_max)(const LK_T *x, ptrdiff_t n, double *max_out, int *has_nan)
{
    LK_FN(row_extremes)(x, n, max_out, NULL, has_nan, 0);
}

LK_TARGET void LK_FN(row_range)(const LK_T *x, ptrdiff_t n, double *max_out, double *min_out,
                                int *has_nan)
{
    LK_FN(row_extremes)(x, n, max_out, min_out, has_nan, 1);
}

/* x - m made exact as s + e by Fast2Sum (3 operations where TwoSum takes 6), its operands
 * ordered as the row's form allows (lk_shift_form); then, for the exp, reduced. x is never NaN
 * here: the callers have handled rows with NaN. */
LK_INLINE LK_TARGET LK_EV LK_FN(exact_shift)(LK_EV v, LK_EV neg_m, int form, LK_EV *e)
{
    LK_EV s;
    if (form == LK_SHIFT_FROM_MAX) {                /* |x| <= m */
        s = neg_m + v;
        *e = v - (s - neg_m);
    } else if (form == LK_SHIFT_FROM_X) {           /* x <= m <= 0 */
        s = v + neg_m;
        *e = neg_m - (s - v);
    } else {
        LK_EV big = LK_EMIN(neg_m, v), small = LK_EMAX(neg_m, v);  /* by magnitude */
        s = big + small;
        *e = small - (s - big);
    }
    return s;
}

LK_INLINE LK_TARGET LK_FN(reduced) LK_FN(shift_reduce)(LK_EV v, LK_EV neg_m, int form,
                                                       const LK_ECONSTS *K)
{
    LK_EV e, s = LK_FN(exact_shift)(v, neg_m, form, &e);
    return LK_FN(reduce_shifted)(s, e, form, K);
}

/* Two whole vectors of exps, of x[0 .. 2 LK_EW): stored, and summed; top mode tells the max's
 * lanes from x read again (a load is cheaper than two mask registers carried through the
 * pipeline, which made GCC spill), before the store, so that out may be x. Its terms are
 * widened one vector at a time: a float pair sum rounds the rest that log1p passes on whole
 * (2.26 ULP on a rest of two terms, against a bar of 2). */
LK_INLINE LK_TARGET void LK_FN(consume_pair)(LK_FN(exp_totals) *totals, const LK_T *x, LK_T *out,
                                             LK_EV e0, LK_EV e1, LK_EV mv, int store, int top)
{
    if (top) {
        LK_FN(add_term)(totals, e0, LK_EMASK(LK_ELOAD(x, LK_EW, 0.0) == mv));
        LK_FN(add_term)(totals, e1, LK_EMASK(LK_ELOAD(x + LK_EW, LK_EW, 0.0) == mv));
    } else {
        LK_FN(add_pair)(totals, e0, e1);
    }
    if (store) {
        LK_ESTORE(out, e0, LK_EW);
        LK_ESTORE(out + LK_EW, e1, LK_EW);
    }
}

/*
 * The exp pass: out = exp(x - m) (store), and into acc the sum of the terms: with top, the
 * terms equal to the max (exactly 1) counted apart and the others summed, so that callers can
 * form log1p of the rest; without, every term summed (softmax).
 * Software-pipelined: each trip reduces the next two vectors while it finishes the two before,
 * so the ~50-cycle chain of one exp overlaps the next ones' instead of filling the scheduler
 * (float: 1.45x the throughput of four exps side by side); and the constants stay in memory
 * (LK_OPAQUE), which frees the registers the pipeline needs. form, store and top are constants
 * at every call (exp_pass), so each combination compiles to its own loop.
 */
LK_INLINE LK_TARGET void LK_FN(exp_pass_form)(const LK_T *x, LK_T *out, ptrdiff_t n, LK_T m,
                                              int form, int store, int top, lk_sum *acc)
{
    const LK_ECONSTS *K = LK_EK;
    const LK_EV neg_m = LK_ESPLAT(-m), mv = LK_ESPLAT(m);
    LK_FN(exp_totals) totals = LK_FN(totals_init)(top);
    ptrdiff_t i = 0;
    if (n >= 2 * LK_EW) {
        LK_EV v0 = LK_ELOAD(x, LK_EW, 0.0), v1 = LK_ELOAD(x + LK_EW, LK_EW, 0.0);
        LK_FN(reduced) a0 = LK_FN(shift_reduce)(v0, neg_m, form, K);
        LK_FN(reduced) a1 = LK_FN(shift_reduce)(v1, neg_m, form, K);
        for (i = 2 * LK_EW; i + 2 * LK_EW <= n; i += 2 * LK_EW) {
            LK_OPAQUE(K);
            LK_EV e0 = LK_FN(shift_finish)(a0, form, K);
            v0 = LK_ELOAD(x + i, LK_EW, 0.0);
            a0 = LK_FN(shift_reduce)(v0, neg_m, form, K);
            LK_EV e1 = LK_FN(shift_finish)(a1, form, K);
            v1 = LK_ELOAD(x + i + LK_EW, LK_EW, 0.0);
            a1 = LK_FN(shift_reduce)(v1, neg_m, form, K);
            LK_FN(consume_pair)(&totals, x + i - 2 * LK_EW, out + i - 2 * LK_EW, e0, e1, mv, store,
                                top);
        }
        LK_EV e0 = LK_FN(shift_finish)(a0, form, K), e1 = LK_FN(shift_finish)(a1, form, K);
        LK_FN(consume_pair)(&totals, x + i - 2 * LK_EW, out + i - 2 * LK_EW, e0, e1, mv, store,
                            top);
    }
    for (; i < n; i += LK_EW) {          /* the tail: padded with m (a valid x), lanes masked */
        ptrdiff_t w = n - i < LK_EW ? n - i : LK_EW;
        LK_EM live = LK_EMASK(K->lane < (LK_T)w);
        LK_EV v = LK_ELOAD(x + i, w, m);
        LK_EV e = LK_FN(shift_finish)(LK_FN(shift_reduce)(v, neg_m, form, K), form, K);
        if (store) LK_ESTORE(out + i, e, w);
        e = LK_EAND(e, live);
        if (top) LK_FN(add_term)(&totals, e, LK_EMASK(v == mv) & live);
        else LK_FN(add_one)(&totals, e);
    }
    LK_FN(totals_finish)(&totals, top, acc);
}

/* The exp pass in the form the row's extremes allow (mn: its min, or any lower bound) */
LK_INLINE LK_TARGET void LK_FN(exp_pass)(const LK_T *x, LK_T *out, ptrdiff_t n, double m,
                                         double mn, int store, int top, lk_sum *acc)
{
    switch (lk_shift_form(m, mn, LK_ENORMAL_FLOOR)) {
    case LK_SHIFT_FROM_MAX:
        LK_FN(exp_pass_form)(x, out, n, (LK_T)m, LK_SHIFT_FROM_MAX, store, top, acc);
        break;
    case LK_SHIFT_FROM_X:
        LK_FN(exp_pass_form)(x, out, n, (LK_T)m, LK_SHIFT_FROM_X, store, top, acc);
        break;
    case LK_SHIFT_BY_MAGNITUDE:
        LK_FN(exp_pass_form)(x, out, n, (LK_T)m, LK_SHIFT_BY_MAGNITUDE, store, top, acc);
        break;
    default:
        LK_FN(exp_pass_form)(x, out, n, (LK_T)m, LK_SHIFT_WIDE, store, top, acc);
    }
}

/* exp(x - m) into out, and the terms below the max summed apart from those equal to it (the
 * losses' gradients); mn is the row's min (row_range) */
LK_TARGET void LK_FN(exp_store)(const LK_T *x, LK_T *out, ptrdiff_t n, double m, double mn,
                                lk_sum *acc)
{
    LK_FN(exp_pass)(x, out, n, m, mn, 1, 1, acc);
}

/* softmax's exps: stored and all summed (acc->top stays 0); mn is the row's min (row_range) */
LK_TARGET void LK_FN(softmax_exps)(const LK_T *x, LK_T *out, ptrdiff_t n, double m, double mn,
                                   lk_sum *acc)
{
    LK_FN(exp_pass)(x, out, n, m, mn, 1, 0, acc);
}

LK_TARGET void LK_FN(exp_sum)(const LK_T *x, ptrdiff_t n, double m, double mn, lk_sum *acc)
{
    LK_FN(exp_pass)(x, NULL, n, m, mn, 0, 1, acc);
}

LK_INLINE LK_TARGET void LK_FN(shift_log_step)(const LK_T *x, LK_T *out, ptrdiff_t w, lk_vd m,
                                               lk_vd L)
{
    LK_FN(store)(out, LK_FN(shifted_log)(LK_FN(load)(x, w, 0.0), m, L), w);
}

#if LK_IS_F64
/* (x - m) - L of one vector with no -inf in the row (the forms but the wide one): x - m exact
 * by Fast2Sum in the row's form, then its sum with -L, both <= 0, by Fast2Sum with the lesser
 * (the larger in magnitude) first; the same decomposition as shifted_log's two TwoSums */
LK_INLINE LK_TARGET void LK_FN(shift_log_near)(const double *x, double *out, ptrdiff_t w,
                                                lk_vd neg_m, lk_vd neg_L, int form)
{
    lk_vd e, s = LK_FN(exact_shift)(LK_FN(load)(x, w, 0.0), neg_m, form, &e);
    lk_vd big = LK_MIND(s, neg_L), small = LK_MAXD(s, neg_L);
    lk_vd y = big + small;
    LK_FN(store)(out, y + ((small - (y - big)) + e), w);
}

LK_INLINE LK_TARGET void LK_FN(shift_log_form)(const double *x, double *out, ptrdiff_t n,
                                                double m, double L, int form)
{
    lk_vd neg_m = lk_splat(-m), neg_L = lk_splat(-L);
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        LK_FN(shift_log_near)(x + i, out + i, LK_W, neg_m, neg_L, form);
        LK_FN(shift_log_near)(x + i + LK_W, out + i + LK_W, LK_W, neg_m, neg_L, form);
    }
    for (; i < n; i += LK_W) LK_FN(shift_log_near)(x + i, out + i, lk_width(n, i), neg_m, neg_L, form);
}
#endif

/* out = (x - m) - L (log_softmax's last pass); mn: the row's min, or any lower bound */
LK_TARGET void LK_FN(shift_log)(const LK_T *x, LK_T *out, ptrdiff_t n, double m, double mn,
                                double L)
{
#if LK_IS_F64
    switch (lk_shift_form(m, mn, -DBL_MAX)) {       /* wide only where an x is -inf */
    case LK_SHIFT_FROM_MAX:
        LK_FN(shift_log_form)(x, out, n, m, L, LK_SHIFT_FROM_MAX);
        return;
    case LK_SHIFT_FROM_X:
        LK_FN(shift_log_form)(x, out, n, m, L, LK_SHIFT_FROM_X);
        return;
    case LK_SHIFT_BY_MAGNITUDE:
        LK_FN(shift_log_form)(x, out, n, m, L, LK_SHIFT_BY_MAGNITUDE);
        return;
    default:
        break;
    }
#endif
    (void)mn;                            /* float: exact in double lanes whatever the row */
    lk_vd mv = lk_splat(m), Lv = lk_splat(L);
    ptrdiff_t i = 0;
    for (; i + LK_W <= n; i += LK_W) LK_FN(shift_log_step)(x + i, out + i, LK_W, mv, Lv);
    if (i < n) LK_FN(shift_log_step)(x + i, out + i, n - i, mv, Lv);
}

/* ---- reductions over a non-last axis: an (n, inner) block (rows x_step bytes apart),
 *      vectorised across the columns, LK_COL_ROWS rows at a time: their exps independent of
 *      each other, the per-column state (max, sums) read and written once per group ---- */

#define LK_COL_ROWS 4

#define LK_ROW(p, k, step) ((const LK_T *)((const char *)(p) + (k) * (step)))
#define LK_ROW_OUT(p, k, step) ((LK_T *)((char *)(p) + (k) * (step)))

/* m = max(m, x) per column (a NaN, once seen, stays); *least = the block's least x other than
 * NaN (a NaN column's results are overwritten; a -inf must never be lost behind one), which
 * picks the exp pass's form */
LK_TARGET void LK_FN(col_max)(const LK_T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner,
                              LK_T *m, double *least)
{
    LK_EV lo = LK_ESPLAT(INFINITY);
    for (ptrdiff_t k = 0; k < n; k += LK_COL_ROWS) {
        ptrdiff_t rows = n - k < LK_COL_ROWS ? n - k : LK_COL_ROWS;
        for (ptrdiff_t j = 0; j < inner; j += LK_EW) {
            ptrdiff_t w = inner - j < LK_EW ? inner - j : LK_EW;
            LK_EV mv = LK_ELOAD(m + j, w, 0.0);
            for (ptrdiff_t r = 0; r < rows; r++) {
                LK_EV v = LK_ELOAD(LK_ROW(x, k + r, x_step) + j, w, INFINITY);
                mv = LK_EMAX_NAN(mv, v);
                lo = LK_EMIN(v, lo);                    /* lo where v is NaN */
            }
            LK_ESTORE(m + j, mv, w);
        }
    }
    LK_T lanes[LK_EW];
    memcpy(lanes, &lo, sizeof lanes);
    for (int k = 0; k < LK_EW; k++)
        if (lanes[k] < *least) *least = lanes[k];
}

/* exp(x - m) per column: stored (softmax) or not, and summed (col_sums_add; top mode counts
 * the terms equal to the max apart). x - m is exact by Fast2Sum ordered lane by lane, as the
 * row kernels' exp pass does for rows of either sign. */
LK_INLINE LK_TARGET void LK_FN(col_exp_form)(const LK_T *x, ptrdiff_t x_step, LK_T *out,
                                             ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,
                                             const LK_T *m, double *hi, double *lo, double *top,
                                             int form, int store, int top_mode)
{
    const LK_ECONSTS *K = LK_EK;
    for (ptrdiff_t k = 0; k < n; k += LK_COL_ROWS) {
        ptrdiff_t rows = n - k < LK_COL_ROWS ? n - k : LK_COL_ROWS;
        for (ptrdiff_t j = 0; j < inner; j += LK_EW) {
            LK_OPAQUE(K);
            ptrdiff_t w = inner - j < LK_EW ? inner - j : LK_EW;
            LK_EV mv = LK_ELOAD(m + j, w, 0.0), neg_m = -mv, v[LK_COL_ROWS];
            LK_FN(reduced) a[LK_COL_ROWS];
            LK_FN(col_sums) sums = LK_FN(col_sums_load)(hi + j, lo + j, top + j, w, top_mode);
            for (ptrdiff_t r = 0; r < LK_COL_ROWS; r++) {
                v[r] = LK_ELOAD(LK_ROW(x, k + (r < rows ? r : 0), x_step) + j, w, 0.0);
                a[r] = LK_FN(shift_reduce)(v[r], neg_m, form, K);
            }
            for (ptrdiff_t r = 0; r < rows; r++) {
                LK_EV e = LK_FN(shift_finish)(a[r], form, K);
                if (store) LK_ESTORE(LK_ROW_OUT(out, k + r, out_step) + j, e, w);
                LK_FN(col_sums_add)(&sums, e, LK_EMASK(v[r] == mv), top_mode);
            }
            LK_FN(col_sums_store)(&sums, hi + j, lo + j, top + j, w, top_mode);
        }
    }
}

/* The form: the block's spread (its least x minus its largest max) tells whether every exp
 * is a normal number (no clamp, 2^k one fma) */
LK_INLINE LK_TARGET void LK_FN(col_exp)(const LK_T *x, ptrdiff_t x_step, LK_T *out,
                                        ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,
                                        const LK_T *m, double spread, double *hi, double *lo,
                                        double *top, int store, int top_mode)
{
    if (spread >= LK_ENORMAL_FLOOR)
        LK_FN(col_exp_form)(x, x_step, out, out_step, n, inner, m, hi, lo, top,
                            LK_SHIFT_BY_MAGNITUDE, store, top_mode);
    else
        LK_FN(col_exp_form)(x, x_step, out, out_step, n, inner, m, hi, lo, top, LK_SHIFT_WIDE,
                            store, top_mode);
}

/* softmax: the exps stored and all summed (float64's sums start at the bias of 1) */
LK_TARGET void LK_FN(col_exp_store)(const LK_T *x, ptrdiff_t x_step, LK_T *out,
                                    ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,
                                    const LK_T *m, double spread, double *hi, double *lo,
                                    double *top)
{
    LK_FN(col_exp)(x, x_step, out, out_step, n, inner, m, spread, hi, lo, top, 1, 0);
}

/* log_softmax, logsumexp: the terms equal to the max counted in top, the others summed */
LK_TARGET void LK_FN(col_exp_sum)(const LK_T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner,
                                  const LK_T *m, double spread, double *hi, double *lo,
                                  double *top)
{
    LK_FN(col_exp)(x, x_step, NULL, 0, n, inner, m, spread, hi, lo, top, 0, 1);
}

/* out *= 1 / sum per column (col_inverse / col_scale_by: the type's own scale) */
LK_TARGET void LK_FN(col_scale)(LK_T *out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,
                                const double *inv_hi, const double *inv_lo)
{
    for (ptrdiff_t k = 0; k < n; k += LK_COL_ROWS) {
        ptrdiff_t rows = n - k < LK_COL_ROWS ? n - k : LK_COL_ROWS;
        for (ptrdiff_t j = 0; j < inner; j += LK_EW) {
            ptrdiff_t w = inner - j < LK_EW ? inner - j : LK_EW;
            LK_FN(col_inv) inv = LK_FN(col_inverse)(inv_hi + j, inv_lo + j, w);
            for (ptrdiff_t r = 0; r < rows; r++) {
                LK_T *p = LK_ROW_OUT(out, k + r, out_step) + j;
                LK_ESTORE(p, LK_FN(col_scale_by)(LK_ELOAD(p, w, 0.0), inv), w);
            }
        }
    }
}

#undef LK_ROW
#undef LK_ROW_OUT

#undef LK_EV
#undef LK_EW
#undef LK_EM
#undef LK_EMASK
#undef LK_ESPLAT
#undef LK_ELOAD
#undef LK_ESTORE
#undef LK_EMIN
#undef LK_EMAX
#undef LK_EAND
#undef LK_EMAX_NAN
#undef LK_ELANES_MAX
#undef LK_ECONSTS
#undef LK_EK
#undef LK_ENORMAL_FLOOR

/* ---- log_softmax's last pass over a block of columns, in double lanes ---- */
LK_TARGET void LK_FN(col_shift_log)(const LK_T *x, ptrdiff_t x_step, LK_T *out,
                                    ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,
                                    const LK_T *m, const double *L)
{
    for (ptrdiff_t k = 0; k < n; k++) {
        const LK_T *row = (const LK_T *)((const char *)x + k * x_step);
        LK_T *row_out = (LK_T *)((char *)out + k * out_step);
        for (ptrdiff_t j = 0; j < inner; j += LK_W) {
            ptrdiff_t w = lk_width(inner, j);
            lk_vd y = LK_FN(shifted_log)(LK_FN(load)(row + j, w, 0.0), LK_FN(load)(m + j, w, 0.0),
                                         lk_load_d(L + j, w, 0.0));
            LK_FN(store)(row_out + j, y, w);
        }
    }
}

/* ---- the sigmoid family, elementwise; z = exp(-|x|) in (0, 1] keeps every form finite ---- */

LK_INLINE LK_TARGET lk_vd LK_FN(exp_neg_abs)(lk_vd x)
{
    lk_vd a = lk_select(LK_MASK(x < 0.0), x, -x);   /* -|x|; NaN stays NaN */
#if LK_IS_F64
    return LK_FN(exp_dd)(lk_clamp_below(a, LK_EXP_FLOOR), lk_splat(0.0));
#else
    return LK_FN(exp_lp)(lk_clamp_below(a, LK_EXP_FLOOR_LP));
#endif
}

#if !LK_IS_F64
/* float32: z in float lanes, the rest corrected or in double so that z's error (< 0.8 ulp) and
 * one final rounding are all that remain */

/* sigma(x) = num / (1 + z), num = 1 (x >= 0) or z (x < 0). 1 + z = den + den_lo exactly
 * (Fast2Sum), and one Newton step with an exact residual (FMA) turns the float quotient into
 * num / (den + den_lo) rounded about once; 1/den is at hand as q or 1 - q. */
LK_INLINE LK_TARGET lk_vf8 LK_FN(sigmoid_of)(lk_vf8 v, lk_vf8 z)
{
    lk_vmf neg = LK_MASKF(v < 0.0f);
    lk_vf8 num = lk_selectf(neg, z, lk_splatf(1.0f));
    lk_vf8 den = 1.0f + z;
    lk_vf8 den_lo = z - (den - 1.0f);
    lk_vf8 q = num / den;
    lk_vf8 residual = LK_FMAF_EXACT(-q, den, num) - q * den_lo;
    lk_vf8 inv_den = lk_selectf(neg, 1.0f - q, q);
    return LK_FMAF(residual, inv_den, q);
}

/* z / (1 + z)^2 in double (1 + z and the square exact to 2^-53), rounded to float once */
LK_INLINE LK_TARGET lk_vf8 LK_FN(sigmoid_derivative_of)(lk_vf8 z)
{
    lk_vd lo, hi;
    LK_WIDEN_F8(z, lo, hi);
    lk_vd s_lo = 1.0 + lo, s_hi = 1.0 + hi;
    return LK_NARROW_D(lo / (s_lo * s_lo), hi / (s_hi * s_hi));
}

/* Stage 1 of z = exp(-|x|) (x may be NaN: it stays NaN) */
LK_INLINE LK_TARGET LK_FN(reduced) LK_FN(neg_abs_reduce)(lk_vf8 v, const lk_expf_consts *K)
{
    lk_vf8 a = lk_selectf(LK_MASKF(v < 0.0f), v, -v);
    return LK_FN(expf_reduce)(LK_MAXF(K->floor, a), K->zero, K->shifter, K);
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(exp_neg_absf)(lk_vf8 x)
{
    return LK_FN(expf_finish)(LK_FN(neg_abs_reduce)(x, &lk_expf_k), &lk_expf_k);
}

LK_INLINE LK_TARGET lk_vf8 LK_FN(neg_abs_of)(lk_vf8 v, LK_FN(reduced) a, int kind,
                                              const lk_expf_consts *K)
{
    lk_vf8 z = LK_FN(expf_finish)(a, K);
    return kind == LK_OF_SIGMOID ? LK_FN(sigmoid_of)(v, z) : LK_FN(sigmoid_derivative_of)(z);
}

/* out = sigmoid or its derivative (kind, a constant at each call) of n floats, pipelined as the
 * exp pass: each trip reduces the next two vectors' exps while it finishes the two before */
LK_INLINE LK_TARGET void LK_FN(neg_abs_pass)(const float *x, float *out, ptrdiff_t n, int kind)
{
    const lk_expf_consts *K = &lk_expf_k;
    ptrdiff_t i = 0;
    if (n >= 2 * LK_WF) {
        lk_vf8 v0 = LK_LOADF(x, LK_WF, 0.0f), v1 = LK_LOADF(x + LK_WF, LK_WF, 0.0f);
        LK_FN(reduced) a0 = LK_FN(neg_abs_reduce)(v0, K), a1 = LK_FN(neg_abs_reduce)(v1, K);
        for (i = 2 * LK_WF; i + 2 * LK_WF <= n; i += 2 * LK_WF) {
            LK_OPAQUE(K);
            lk_vf8 y0 = LK_FN(neg_abs_of)(v0, a0, kind, K);
            v0 = LK_LOADF(x + i, LK_WF, 0.0f);
            a0 = LK_FN(neg_abs_reduce)(v0, K);
            lk_vf8 y1 = LK_FN(neg_abs_of)(v1, a1, kind, K);
            v1 = LK_LOADF(x + i + LK_WF, LK_WF, 0.0f);
            a1 = LK_FN(neg_abs_reduce)(v1, K);
            lk_storef(out + i - 2 * LK_WF, y0, LK_WF);
            lk_storef(out + i - LK_WF, y1, LK_WF);
        }
        lk_storef(out + i - 2 * LK_WF, LK_FN(neg_abs_of)(v0, a0, kind, K), LK_WF);
        lk_storef(out + i - LK_WF, LK_FN(neg_abs_of)(v1, a1, kind, K), LK_WF);
    }
    for (; i < n; i += LK_WF) {
        ptrdiff_t w = n - i < LK_WF ? n - i : LK_WF;
        lk_vf8 v = LK_LOADF(x + i, w, 0.0f);
        lk_storef(out + i, LK_FN(neg_abs_of)(v, LK_FN(neg_abs_reduce)(v, K), kind, K), w);
    }
}

LK_TARGET void LK_FN(sigmoid)(const float *x, float *out, ptrdiff_t n)
{
    LK_FN(neg_abs_pass)(x, out, n, LK_OF_SIGMOID);
}

LK_TARGET void LK_FN(sigmoid_derivative)(const float *x, float *out, ptrdiff_t n)
{
    LK_FN(neg_abs_pass)(x, out, n, LK_OF_SIGMOID_DERIVATIVE);
}


#else /* LK_IS_F64 */

/* sigma(x) = num / (1 + z), num = 1 (x >= 0) or z (x < 0): as for float32, 1 + z is kept as
 * den + den_lo and one Newton step with an exact residual corrects the quotient, so that z's
 * error (scaled by 1/(1 + z)) and one rounding remain. */
LK_INLINE LK_TARGET void LK_FN(sigmoid_step)(const LK_T *x, LK_T *out, ptrdiff_t w)
{
    lk_vd v = LK_FN(load)(x, w, 0.0);
    lk_vd z = LK_FN(exp_neg_abs)(v);
    lk_vm neg = LK_MASK(v < 0.0);
    lk_vd num = lk_select(neg, z, lk_splat(1.0));
    lk_vd den = 1.0 + z;
    lk_vd den_lo = z - (den - 1.0);
    lk_vd q = num / den;
    lk_vd residual = LK_FMA_EXACT(-q, den, num) - q * den_lo;
    lk_vd inv_den = lk_select(neg, 1.0 - q, q);
    LK_FN(store)(out, LK_FMA(residual, inv_den, q), w);
}

/* sigma(x) * sigma(-x) = z / (1 + z)^2, the square formed exactly (Dekker's product, no FMA
 * needed) so that only z's error, one division and one correction remain. */
LK_INLINE LK_TARGET void LK_FN(sigmoid_derivative_step)(const LK_T *x, LK_T *out, ptrdiff_t w)
{
    lk_vd z = LK_FN(exp_neg_abs)(LK_FN(load)(x, w, 0.0));
    lk_vd s = 1.0 + z;
    lk_vd sl = z - (s - 1.0);                 /* 1 + z == s + sl exactly (s >= z) */
    lk_vd c = 134217729.0 * s;                /* Veltkamp split of s into 26-bit halves */
    lk_vd ah = c - (c - s), al = s - ah;
    lk_vd dh = s * s;
    lk_vd dl = (((ah * ah - dh) + 2.0 * ah * al) + al * al) + 2.0 * s * sl;
    lk_vd q = z / dh;
    LK_FN(store)(out, q - q * (dl / dh), w);
}


LK_TARGET void LK_FN(sigmoid)(const LK_T *x, LK_T *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(sigmoid_step), x, out, n, LK_W);
}

LK_TARGET void LK_FN(sigmoid_derivative)(const LK_T *x, LK_T *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(sigmoid_derivative_step), x, out, n, LK_W);
}


#endif /* LK_IS_F64 */

LK_INLINE LK_TARGET void LK_FN(exp_neg_abs_step)(const LK_T *x, double *out, ptrdiff_t w)
{
    lk_store_d(out, LK_FN(exp_neg_abs)(LK_FN(load)(x, w, 0.0)), w);
}

/* exp(-|x|) into a double buffer, in double lanes for both types (for the scalar-log1p softplus
 * path, which passes z's error straight through) */
LK_TARGET void LK_FN(exp_neg_abs_array)(const LK_T *x, double *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(exp_neg_abs_step), x, out, n, LK_W);
}

/* log1p(z) for z in [0, 1] or NaN, to < 1 ulp in double: after fdlibm's s_log1p.c, branch-free.
 * 1 + z = u + c exactly; u = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), k in {0, 1};
 * log(1 + f) = 2 atanh(s), s = f / (2 + f), as f - hfsq + s (hfsq + R(s^2)); c / u is added
 * as a first-order correction (1/u from a 3-term series: c is below ulp(u)). */
LK_INLINE LK_TARGET lk_vd LK_FN(log1p_unit)(lk_vd z)
{
    lk_vd u = 1.0 + z;
    lk_vm big = LK_MASK(u >= 0x1.6a09e667f3bcdp0);             /* u >= sqrt(2): k = 1 */
    lk_vd k = lk_select(big, lk_splat(1.0), lk_splat(0.0));
    lk_vd f = lk_select(big, 0.5 * u - 1.0, u - 1.0);          /* exact (Sterbenz) */
    lk_vd c = z - (u - 1.0);                   /* (1 + z) - u, exact: u - 1 by Sterbenz */
    lk_vd inv_u = lk_select(big, lk_splat(0.5), lk_splat(1.0)) * LK_FMA(f, f, 1.0 - f);
    c = c * inv_u;
    lk_vd hfsq = 0.5 * f * f;
    lk_vd s = f / (2.0 + f);
    lk_vd s2 = s * s, s4 = s2 * s2;
    /* fdlibm's Lp1..Lp7 in two chains (even and odd powers of s^2) */
    lk_vd ev = LK_FMA(s4, LK_FMA(s4, lk_splat(1.531383769920937332e-01),
                                 lk_splat(2.222219843214978396e-01)),
                      lk_splat(3.999999999940941908e-01));
    lk_vd od = LK_FMA(s4, LK_FMA(s4, LK_FMA(s4, lk_splat(1.479819860511658591e-01),
                                            lk_splat(1.818357216161805012e-01)),
                                 lk_splat(2.857142874366239149e-01)),
                      lk_splat(6.666666666666735130e-01));
    lk_vd R = s2 * LK_FMA(s2, ev, od);
    /* k ln2_hi + f is exact (ln2_hi has 20 trailing zero bits, f is a multiple of 2^-53 and
     * the sum is below 1): the small terms are added to it with one rounding */
    return (k * LK_LN2_HI_FD + f) + ((s * (hfsq + R) + (k * LK_LN2_LO_FD + c)) - hfsq);
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)); log_sigmoid(x) = min(x, 0) - log1p(...) */
LK_INLINE LK_TARGET void LK_FN(softplus_step)(const LK_T *x, LK_T *out, ptrdiff_t w,
                                              const int negate)
{
    lk_vd v = LK_FN(load)(x, w, 0.0);
    lk_vd l = LK_FN(log1p_unit)(LK_FN(exp_neg_abs)(v));
    lk_vd y = negate ? lk_select(LK_MASK(v < 0.0), v, lk_splat(0.0)) - l
                     : lk_select(LK_MASK(v > 0.0), v, lk_splat(0.0)) + l;
    LK_FN(store)(out, y, w);
}

LK_INLINE LK_TARGET void LK_FN(softplus_step_pos)(const LK_T *x, LK_T *out, ptrdiff_t w)
{
    LK_FN(softplus_step)(x, out, w, 0);
}

LK_INLINE LK_TARGET void LK_FN(softplus_step_neg)(const LK_T *x, LK_T *out, ptrdiff_t w)
{
    LK_FN(softplus_step)(x, out, w, 1);
}

#if LK_IS_F64
LK_TARGET void LK_FN(softplus)(const LK_T *x, LK_T *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(softplus_step_pos), x, out, n, LK_W);
}

LK_TARGET void LK_FN(log_sigmoid)(const LK_T *x, LK_T *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(softplus_step_neg), x, out, n, LK_W);
}
#else
/* float32: z = exp(-|x|) in float lanes (< 0.8 ulp, and log1p passes a relative error in z
 * through at most 1:1), then log1p and the sum with max(x, 0) in double on each half, rounded
 * to float once. The double-lane z of the generic path costs 4x more and buys nothing a float
 * result can show beyond that half ulp. */
/* log1p(z) for a float z in [0, 1] (or NaN), to ~2^-34 relative in double: enough for a float
 * result, at a third of log1p_unit's cost. 1 + z = u + c exactly (c != 0 only when z is below
 * 2^-29, where log1p(z) = c to 2^-30); u = 2^k (1 + f), f exact; with t = 2f / (2 + f),
 * log1p(f) = 2 atanh(t / 2) = t + t^3/12 + t^5/80 + ..., |t| <= 0.35, truncated after t^11.
 * (A float reciprocal refined by Newton instead of the double division measured slower.) */
LK_INLINE LK_TARGET lk_vd LK_FN(log1p_unit_lp)(lk_vd z)
{
    lk_vd u = 1.0 + z;
    lk_vd c = z - (u - 1.0);
    lk_vm big = LK_MASK(u >= 0x1.6a09e667f3bcdp0);             /* u >= sqrt(2): k = 1 */
    lk_vd k = lk_select(big, lk_splat(1.0), lk_splat(0.0));
    lk_vd f = LK_FMA(u, lk_select(big, lk_splat(0.5), lk_splat(1.0)), lk_splat(-1.0));
    lk_vd t = (f + f) / (2.0 + f);
    lk_vd t2 = t * t;
    lk_vd q = LK_FMA(t2, lk_splat(1.0 / 11264.0), lk_splat(1.0 / 2304.0));
    q = LK_FMA(q, t2, lk_splat(1.0 / 448.0));
    q = LK_FMA(q, t2, lk_splat(1.0 / 80.0));
    q = LK_FMA(q, t2, lk_splat(1.0 / 12.0));
    return LK_FMA(k, lk_splat(LK_LN2), LK_FMA(t * t2, q, t) + c);
}

/* max(v, 0) + l (softplus) or min(v, 0) - l (log_sigmoid) */
LK_INLINE LK_TARGET lk_vd LK_FN(softplus_finish)(lk_vd v, lk_vd l, const int negate)
{
    return negate ? lk_select(LK_MASK(v < 0.0), v, lk_splat(0.0)) - l
                  : lk_select(LK_MASK(v > 0.0), v, lk_splat(0.0)) + l;
}

/* softplus (negate = 0) or log_sigmoid (negate = 1) of one float vector */
LK_INLINE LK_TARGET void LK_FN(softplus_stepf)(const float *x, float *out, ptrdiff_t w,
                                               const int negate)
{
    lk_vf8 v = LK_LOADF(x, w, 0.0f);
    lk_vd v_lo, v_hi, z_lo, z_hi;
    LK_WIDEN_F8(v, v_lo, v_hi);
    LK_WIDEN_F8(LK_FN(exp_neg_absf)(v), z_lo, z_hi);
    lk_vd y_lo = LK_FN(softplus_finish)(v_lo, LK_FN(log1p_unit_lp)(z_lo), negate);
    lk_vd y_hi = LK_FN(softplus_finish)(v_hi, LK_FN(log1p_unit_lp)(z_hi), negate);
    lk_storef(out, LK_NARROW_D(y_lo, y_hi), w);
}

LK_INLINE LK_TARGET void LK_FN(softplus_stepf_pos)(const float *x, float *out, ptrdiff_t w)
{
    LK_FN(softplus_stepf)(x, out, w, 0);
}

LK_INLINE LK_TARGET void LK_FN(softplus_stepf_neg)(const float *x, float *out, ptrdiff_t w)
{
    LK_FN(softplus_stepf)(x, out, w, 1);
}

LK_TARGET void LK_FN(softplus)(const float *x, float *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(softplus_stepf_pos), x, out, n, LK_WF);
}

LK_TARGET void LK_FN(log_sigmoid)(const float *x, float *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(softplus_stepf_neg), x, out, n, LK_WF);
}
#endif

#if LK_IS_F64
/*
 * log(top + hi + lo) per lane as L_hi + *L_lo, top >= 1 counting the terms equal to the max:
 * _double_double.pxd's log_of_sum in lanes. A unique max with a rest below 1/2 takes log1p of
 * the rest (a confident row keeps its tiny log); otherwise the total is 2^k (1 + u) with 1 + u
 * in [0.75, 1.5), and the log k ln2 + log1p(u), so that the only rounding left is log1p's, on
 * a value below 1/2. log1p_unit's reduction holds on [-0.25, 0.5] as on [0, 1] (1 + z and
 * (1 + z) - 1 exact by Sterbenz, |s| < 0.15). Lanes with top < 1 get unspecified values.
 */
LK_INLINE LK_TARGET lk_vd LK_FN(log_of_sum_v)(lk_vd top, lk_vd hi, lk_vd lo, lk_vd *L_lo)
{
    lk_vd r_lo, r_hi = lk_two_sum(hi, lo, &r_lo);
    lk_vd e, s = lk_two_sum(top, hi, &e), s_lo;
    lk_vd s_hi = lk_two_sum(s, e + lo, &s_lo);
    /* s_hi in [1, 2^6): its exponent from the bits (as a double, through 2^52's mantissa), its
     * mantissa in [1, 2), halved with k one more where it is 1.5 or above */
    const lk_vm exponent_bits = lk_bits(s_hi) >> 52;
    lk_vd k = lk_from_bits(exponent_bits | lk_bits(lk_splat(0x1p52))) - (0x1p52 + 1023.0);
    lk_vd mant = lk_from_bits((lk_bits(s_hi) & ~(exponent_bits << 52)) | lk_bits(lk_splat(1.0)));
    lk_vm up = LK_MASK(mant >= 1.5);
    lk_vd u = lk_select(up, 0.5 * mant, mant) - 1.0;                  /* exact (Sterbenz) */
    k += lk_select(up, lk_splat(1.0), lk_splat(0.0));
    lk_vd u_lo = s_lo * lk_pow2i(-k);
    lk_vm unique = LK_MASK(top == 1.0) & LK_MASK(r_hi < 0.5);
    lk_vd arg = lk_select(unique, r_hi, u), arg_lo = lk_select(unique, r_lo, u_lo);
    k = lk_select(unique, lk_splat(0.0), k);
    lk_vd err, L = lk_two_sum(k * LK_LN2_HI_FD, LK_FN(log1p_unit)(arg), &err);
    *L_lo = err + (k * LK_LN2_LO_FD + arg_lo / (1.0 + arg));
    return L;
}

/*
 * float64 softmax, log_softmax or logsumexp (op: LK_OP_*) of up to LK_SHORT_ROWS rows (x_stride,
 * out_stride elements apart) of n <= LK_SHORT_N doubles as vector lanes, as short_rows does for
 * float32. log_softmax: (x - m) - L with x - m exact and L = L_hi + L_lo (shifted_log, as the
 * column kernels); logsumexp: lse_out gets m + L_hi + L_lo rounded once (add_log). Writes each
 * row's max to m_out; rows whose max is not finite get unspecified outputs, for the caller to
 * overwrite.
 */
LK_TARGET void LK_FN(short_rows)(const double *x, ptrdiff_t x_stride, double *out,
                                 ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                 double *m_out, double *lse_out)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    double buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vd m[GROUPS], hi[GROUPS], lo[GROUPS], top[GROUPS], L[GROUPS];
    const ptrdiff_t groups = LK_FN(lanes_exp_sums_d)(x, x_stride, buf, rows, n,
                                                     op == LK_OP_SOFTMAX, m_out, m, hi, lo, top);
    const ptrdiff_t lanes = groups * LK_W;
    if (op == LK_OP_SOFTMAX) {
        LK_FN(short_softmax)(buf, groups, n, hi, lo, top);
    } else {
        for (ptrdiff_t g = 0; g < groups; g++) {
            lk_vd L_lo, L_hi = LK_FN(log_of_sum_v)(top[g], hi[g], lo[g], &L_lo);
            L[g] = L_hi + L_lo;
            if (op != LK_OP_LOGSUMEXP) continue;
            lk_vd err, value = lk_two_sum(m[g], L_hi, &err);          /* add_log */
            value += err + L_lo;
            for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
                lse_out[g * LK_W + j] = lk_lane(value, (int)j);
        }
        if (op == LK_OP_LOGSUMEXP) return;
        for (ptrdiff_t k = 0; k < n; k++) {
            for (ptrdiff_t g = 0; g < groups; g++) {
                double *p = buf + k * lanes + g * LK_W;
                lk_store_d(p, LK_FN(shifted_log)(lk_load_d(p, LK_W, 0.0), m[g], L[g]), LK_W);
            }
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSD(buf + g * LK_W, lanes, rows - g * LK_W, n,
                          out + g * LK_W * out_stride, out_stride);
}
#endif
