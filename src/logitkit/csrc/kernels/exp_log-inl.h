
/*
 * The lane primitives every kernel is written in, for one storage type and one instruction set:
 * exp and log in vector lanes, loads and stores of partial vectors. Included with the other
 * kernel files by kernels/all-inl.h once per (type, ISA), with these macros defined:
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
