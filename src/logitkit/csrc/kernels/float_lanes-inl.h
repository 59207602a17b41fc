/* float32 data: the float-lane stages of the row and column passes (expf in two pipelined
 * stages, the sums widened to double, the column sums, the scale pass). */
#if !LK_IS_F64

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


#endif /* !LK_IS_F64 */
