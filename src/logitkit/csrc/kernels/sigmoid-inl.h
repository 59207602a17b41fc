
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

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)); log_sigmoid(x) = min(x, 0) - log1p(...), with
 * -0.0 for the min of x >= 0: log_sigmoid(800) is -0.0, the sign of its true value */
LK_INLINE LK_TARGET void LK_FN(softplus_step)(const LK_T *x, LK_T *out, ptrdiff_t w,
                                              const int negate)
{
    lk_vd v = LK_FN(load)(x, w, 0.0);
    lk_vd l = LK_FN(log1p_unit)(LK_FN(exp_neg_abs)(v));
    lk_vd y = negate ? lk_select(LK_MASK(v < 0.0), v, lk_splat(-0.0)) - l
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

/* max(v, 0) + l (softplus) or min(v, 0) - l (log_sigmoid; -0.0 - l for v >= 0, so that a
 * result that rounds to zero is -0.0, as its true value -log1p(e^-v) is negative) */
LK_INLINE LK_TARGET lk_vd LK_FN(softplus_finish)(lk_vd v, lk_vd l, const int negate)
{
    return negate ? lk_select(LK_MASK(v < 0.0), v, lk_splat(-0.0)) - l
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
