/* Binary cross-entropy with logits, its gradient and the float32 cancellation fix. */
/* exp(-|x|) to double precision for both types (exp_dd); NaN stays NaN */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_neg_abs_full)(lk_vd x)
{
    lk_vd a = lk_select(LK_MASK(x < 0.0), x, -x);
    return LK_FN(exp_dd)(lk_clamp_below(a, LK_EXP_FLOOR), lk_splat(0.0));
}

/* bce's gradient before the factor s w: (1 - t) sigma(x) - pw t sigma(-x) in double, with z =
 * e^-|x|; *pos gets its first term */
LK_INLINE LK_TARGET lk_vd LK_FN(bce_diff)(lk_vd v, lk_vd z, lk_vd tv, lk_vd pv, lk_vd *pos)
{
    lk_vm nonneg = LK_MASK(v >= 0.0);
    lk_vd den = 1.0 + z;
#if LK_IS_F64
    lk_vd small = z / den, big = 1.0 / den;     /* each rounded once */
#else
    lk_vd big = 1.0 / den, small = z * big;
#endif
    lk_vd a = pv * tv;
    *pos = (1.0 - tv) * lk_select(nonneg, big, small);
    lk_vd d = *pos - a * lk_select(nonneg, small, big);
#if LK_IS_F64
    /* -a sigma(-x) alone, its sigma underflowed (x >= 745): -0.0, the sign of the true value
     * (float32 data keep e^-|x| in double's range, nonzero) */
    d = lk_select(LK_MASK(d == 0.0) & LK_MASK(a > 0.0) & nonneg, lk_splat(-0.0), d);
#endif
    return d;
}

#if !LK_IS_F64
/* bce's gradient (1 - t) sigma(x) - pw t sigma(-x) in double-double lanes (~2^-98 of its
 * terms), for float32 lanes where it cancels below double's reach (targets that are the
 * model's own sigmoid, rounded): z = e^-|x| from exp_dd2, 1 / (1 + z) by one Newton step on
 * the double quotient, 1 - t and pw t exact. |x| <= 700; the caller scales by s w. */
LK_INLINE LK_TARGET lk_vd LK_FN(bce_grad_dd)(lk_vd v, lk_vd tv, lk_vd pv)
{
    lk_vd zero = lk_exp_k.zero, one = lk_splat(1.0);
    lk_vd z_lo, z = LK_FN(exp_dd2)(-LK_FN(abs)(v), zero, &z_lo);
    lk_vd den = one + z, den_lo = (z - (den - one)) + z_lo;
    lk_vd big = one / den, big_lo = big * (LK_FMA_EXACT(-big, den, one) - big * den_lo);
    lk_vd small_lo, small = LK_FN(dd_mul)(z, z_lo, big, big_lo, &small_lo);
    lk_vm nonneg = LK_MASK(v >= 0.0);
    lk_vd b_lo, b = lk_two_sum(one, -tv, &b_lo), a_lo, a = LK_FN(two_prod)(pv, tv, &a_lo);
    lk_vd p_lo, p = LK_FN(dd_mul)(b, b_lo, lk_select(nonneg, big, small),
                                   lk_select(nonneg, big_lo, small_lo), &p_lo);
    lk_vd q_lo, q = LK_FN(dd_mul)(a, a_lo, lk_select(nonneg, small, big),
                                   lk_select(nonneg, small_lo, big_lo), &q_lo);
    lk_vd d_lo, d = lk_two_sum(p, -q, &d_lo);
    return d + (d_lo + (p_lo - q_lo));
}

/* The gradient of n elements again where some lane cancels below ~2^-26 of its terms, where
 * the double result's ~6 roundings may pass float's 4 ulp: those lanes (|x| <= 700) in
 * double-double (bce_grad_dd), the rest as bce computed them */
static LK_NOINLINE LK_TARGET void LK_FN(bce_fix)(const LK_T *x, const LK_T *t, const double *w,
                                                   const double *pw, LK_T *grad, ptrdiff_t n,
                                                   double s)
{
    lk_vd one = lk_splat(1.0);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        lk_vd v = LK_FN(load)(x + i, wd, 0.0), tv = LK_FN(load)(t + i, wd, 0.0);
        lk_vd wv = w ? lk_load_d(w + i, wd, 1.0) : one, pv = pw ? lk_load_d(pw + i, wd, 1.0) : one;
        lk_vd pos, d = LK_FN(bce_diff)(v, LK_FN(exp_neg_abs_full)(v), tv, pv, &pos);
        lk_vm deep = LK_MASK(d * d < 0x1p-50 * (pos * pos)) & LK_MASK(LK_FN(abs)(v) <= 700.0);
        if (!LK_ANY(deep)) continue;
        lk_vd fixed = LK_FN(bce_grad_dd)(lk_select(deep, v, lk_exp_k.zero), tv, pv);
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
LK_TARGET double LK_FN(bce)(const LK_T *x, const LK_T *t, const double *w, const double *pw,
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
        lk_vd z = LK_FN(exp_neg_abs_full)(v);
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
            lk_vd pos, d = LK_FN(bce_diff)(v, z, tv, pv, &pos);
#if !LK_IS_F64
            least = LK_MIND(LK_FMA(d, d, -0x1p-50 * (pos * pos)), least);
#endif
            LK_FN(store)(grad + i, lk_select(LK_MASK(v != v), nan, (s * wv) * d), wd);
        }
    }
#if !LK_IS_F64
    if (LK_UNLIKELY(LK_ANY(LK_MASK(least < 0.0)))) LK_FN(bce_fix)(x, t, w, pw, grad, n, s);
#endif
    double hi = 0.0, lo = 0.0;
    for (int j = 0; j < LK_W; j++) {
        double part = lk_lane(total, j), sum = hi + part, part_in = sum - hi;
        lo += ((hi - (sum - part_in)) + (part - part_in)) + lk_lane(error, j);
        hi = sum;
    }
    return isfinite(hi) ? hi + lo : hi;        /* an inf or NaN total is the plain sum's */
}
