/*
 * entropy and kl_divergence of softmax distributions, each row whole and straight from the
 * logits: the max pass (rows-inl.h's row_range), one pass of exps and weighted sums in double
 * lanes, and the row's result assembled from double-double parts (double_double.h). No
 * probability array is ever formed.
 *
 * entropy:  H = log s - t / s, s = sum e_i, t = sum e_i d_i, d_i = x_i - max exact (TwoSum),
 *           e_i = exp(d_i). Both parts are >= 0, so nothing cancels; log s is log1p of the
 *           terms below the max where the max is unique (lk_log_of_sum), and the max's own
 *           terms add exactly 0 to t, so a confident row's H ~ e (1 - log e) keeps its digits.
 * kl:       KL = (m_b - b_top) + log s_b - log s_a + sum e_i u_i / s_a, with a's max m_a at
 *           position top, u_i = (a_i - m_a) - (b_i - b_top) from exact differences. Where p ~ q
 *           the u_i are near 0 (no large product rounds), and the parts are added as
 *           double-doubles, so the result is the true value within a few 2^-53 of the terms
 *           sum p_i (|log p_i| + |log q_i|) that cancel (and within a few ULP where they do not);
 *           a tiny negative rounding is clamped to +0.
 * float32 rows are computed in double lanes (exact differences, exp to ~0.6 ULP of double) and
 * rounded once. For float64 rows reaching below the normal range (d < -700) the terms there are
 * taken at a scale of e^600, so that their products keep their digits where e_i is subnormal;
 * terms below e^-800 are left out (each below 2^-1150 of its product).
 */

/* exps of x - m below these are left out: float32 rows (double lanes, e^-200 ~ 2^-288: their
 * products stay far below float's subnormals), float64 rows (see above) */
#if LK_IS_F64
#define LK_INFO_DROP (-800.0)
#define LK_INFO_DEEP (-700.0)          /* below: taken at scale e^LK_INFO_SCALE */
#define LK_INFO_SCALE 600.0
#else
#define LK_INFO_DROP (-200.0)
#define LK_INFO_DEEP (-1e300)          /* float32 rows never need the scaled terms */
#define LK_INFO_SCALE 0.0
#endif

/* per-lane compensated sums (TwoSum), carried through a row */
typedef struct { lk_vd hi, lo; } LK_FN(info_acc);

LK_INLINE LK_TARGET void LK_FN(info_add)(LK_FN(info_acc) *a, lk_vd v)
{
#if LK_IS_F64
    lk_vd err;
    a->hi = lk_two_sum(a->hi, v, &err);
    a->lo += err;
#else
    a->hi += v;                         /* float32 terms: double sums are exact enough */
#endif
}

/* the lanes of a compensated sum as one lk_sum (hi + lo) */
LK_INLINE void LK_FN(info_total)(const LK_FN(info_acc) *a, lk_sum *out)
{
    for (int j = 0; j < LK_W; j++) {
        lk_sum_add(out, lk_lane(a->hi, j));
        out->lo += lk_lane(a->lo, j);
    }
}

/* exp(dh + dl) for dh <= 0: lanes with dh >= LK_INFO_DEEP as they are, lanes in [DROP, DEEP)
 * scaled by e^LK_INFO_SCALE (*deep set there), lanes below DROP (and -inf) 0; dh and dl are
 * returned clamped (finite, dl 0 where dropped), so that e * d is never NaN */
LK_INLINE LK_TARGET lk_vd LK_FN(info_exp)(lk_vd *dh, lk_vd *dl, lk_vm *deep)
{
#if !LK_IS_F64
    /* float32 data: exp_lp (~1e-10, far below float's half ULP) of d in [-200, 0] */
    lk_vm near = LK_MASK(*dh >= LK_INFO_DROP);          /* false for -inf */
    *dh = lk_select(near, *dh, lk_splat(LK_INFO_DROP));
    *deep = LK_MASK(*dh != *dh);                         /* never */
    return lk_select(near, LK_FN(exp_lp)(*dh), lk_splat(0.0));
#endif
    lk_vm live = LK_MASK(*dh >= LK_INFO_DROP);          /* false for -inf */
    *dh = lk_select(live, *dh, lk_splat(LK_INFO_DROP));
    *dl = lk_select(live, *dl, lk_splat(0.0));
    *deep = LK_MASK(*dh < LK_INFO_DEEP);
    lk_vd arg = lk_select(*deep, *dh + LK_INFO_SCALE, *dh);  /* exact: |dh| < 1024 there */
    lk_vd e = LK_FN(exp_finish_normal)(LK_FN(exp_reduce)(arg, *dl, lk_exp_k.shifter_normal,
                                                         &lk_exp_k), &lk_exp_k);
    return lk_select(live, e, lk_splat(0.0));
}

/* x - m as an exact pair (TwoSum), for a lane of storage values (float32 data: one difference
 * in double, exact where the term can matter) */
LK_INLINE LK_TARGET lk_vd LK_FN(info_shift)(lk_vd v, lk_vd neg_m, lk_vd *lo)
{
#if LK_IS_F64
    return lk_two_sum(v, neg_m, lo);
#else
    /* float32 data in double lanes: exact but where the difference is too wide to matter */
    *lo = lk_splat(0.0);
    return v + neg_m;
#endif
}

/* -------------------------------------------------------------------- entropy */

/* The row's sums: rest (the terms below the max), t (sum e d, <= 0) and the count of the max;
 * with deep, the scaled terms apart. */
LK_INLINE LK_TARGET void LK_FN(entropy_pass)(const LK_T *x, ptrdiff_t n, double m, int deep,
                                             lk_sum *rest, lk_sum *t, lk_sum *rest_deep,
                                             lk_sum *t_deep)
{
    const lk_vd neg_m = lk_splat(-m), mv = lk_splat(m), zero = lk_splat(0.0);
    LK_FN(info_acc) r = {zero, zero}, s = {zero, zero}, rd = {zero, zero}, sd = {zero, zero};
    lk_vd top = zero;
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd v = LK_FN(load)(x + i, w, -INFINITY), dl, dh = LK_FN(info_shift)(v, neg_m, &dl);
        lk_vm low;
        lk_vd e = LK_FN(info_exp)(&dh, &dl, &low);
        lk_vm is_top = LK_MASK(v == mv);
        top += lk_select(is_top, lk_splat(1.0), zero);
        e = lk_select(is_top, zero, e);
        lk_vd p = LK_FMA(e, dh, e * dl);                /* e d, d exact; 0 at the max */
        if (deep) {
            LK_FN(info_add)(&r, lk_select(low, zero, e));
            LK_FN(info_add)(&s, lk_select(low, zero, p));
            LK_FN(info_add)(&rd, lk_select(low, e, zero));
            LK_FN(info_add)(&sd, lk_select(low, p, zero));
        } else {
            LK_FN(info_add)(&r, e);
            LK_FN(info_add)(&s, p);
        }
    }
    LK_FN(info_total)(&r, rest);
    LK_FN(info_total)(&s, t);
    for (int j = 0; j < LK_W; j++) rest->top += lk_lane(top, j);
    if (deep) {
        LK_FN(info_total)(&rd, rest_deep);
        LK_FN(info_total)(&sd, t_deep);
    }
}

/* the scaled sums brought back: hi + lo + deep e^-SCALE, as a normalised pair */
LK_INLINE void LK_FN(info_unscale)(const lk_sum *near, const lk_sum *deep, double *hi,
                                   double *lo)
{
    double d = LK_IS_F64 ? (deep->hi + deep->lo) * exp(-LK_INFO_SCALE) : 0.0;
    lk_two_sum_d(near->hi, near->lo + d, hi, lo);
}

/* Entropy of one contiguous row of n > 0 logits; masked: an all -inf row is one left empty by
 * where= (0) rather than undefined (NaN) */
static LK_TARGET double LK_FN(entropy_row)(const LK_T *x, ptrdiff_t n, int masked)
{
    double m, mn, L_hi, L_lo, r_hi, r_lo, t_hi, t_lo, s_hi, s_lo, q, q_lo, h, err;
    int has_nan;
    lk_sum rest = {0.0, 0.0, 0.0}, t = {0.0, 0.0, 0.0}, rd = {0.0, 0.0, 0.0}, td = {0.0, 0.0, 0.0};
    LK_FN(row_range)(x, n, &m, &mn, &has_nan);
    if (has_nan || m == INFINITY) return NAN;
    if (m == -INFINITY) return masked ? 0.0 : NAN;
    int deep = LK_IS_F64 && !(mn - m >= LK_INFO_DEEP);   /* also mn = -inf */
    if (deep)
        LK_FN(entropy_pass)(x, n, m, 1, &rest, &t, &rd, &td);
    else
        LK_FN(entropy_pass)(x, n, m, 0, &rest, &t, &rd, &td);
    LK_FN(info_unscale)(&rest, &rd, &r_hi, &r_lo);
    LK_FN(info_unscale)(&t, &td, &t_hi, &t_lo);
    lk_log_of_sum(rest.top, r_hi, r_lo, &L_hi, &L_lo);
    lk_sum_total(rest.top, r_hi, r_lo, &s_hi, &s_lo);
    /* -t / s as q + q_lo (both parts of H are >= 0: H = L + q rounded once) */
    q = -t_hi / s_hi;
    q_lo = (-fma(q, s_hi, t_hi) - t_lo - q * s_lo) / s_hi;
    lk_two_sum_d(L_hi, q, &h, &err);
    h += err + (L_lo + q_lo);
    return h < 0.0 ? 0.0 : h;
}

/* -------------------------------------------------------------------- kl_divergence */

/* The pair of rows' sums: rest_a, rest_b (terms below each max, counts of the max in .top)
 * and T = sum e_i u_i; with deep, the scaled terms apart (rest_a's and T's share a's scale,
 * rest_b's its own). *infinite: some p_i > 0 sits where q_i = 0 (b = -inf, a finite). */
LK_INLINE LK_TARGET void LK_FN(kl_pass)(const LK_T *a, const LK_T *b, ptrdiff_t n, double ma,
                                        double mb, double b_top, int deep, lk_sum *sums,
                                        int *infinite)
{
    const lk_vd neg_ma = lk_splat(-ma), neg_mb = lk_splat(-mb), neg_bt = lk_splat(-b_top);
    const lk_vd mav = lk_splat(ma), mbv = lk_splat(mb), zero = lk_splat(0.0);
    const lk_vd one = lk_splat(1.0), ninf = lk_splat(-INFINITY);
    LK_FN(info_acc) ra = {zero, zero}, rb = {zero, zero}, tu = {zero, zero};
    LK_FN(info_acc) rad = {zero, zero}, rbd = {zero, zero}, tud = {zero, zero};
    lk_vd top_a = zero, top_b = zero;
    lk_vm inf_lanes = LK_MASK(zero != zero);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd va = LK_FN(load)(a + i, w, -INFINITY), vb = LK_FN(load)(b + i, w, -INFINITY);
        lk_vd al, ah = LK_FN(info_shift)(va, neg_ma, &al);
        lk_vd bl, bh = LK_FN(info_shift)(vb, neg_mb, &bl);
        lk_vd cl, ch = LK_FN(info_shift)(vb, neg_bt, &cl);       /* b - b_top */
#if LK_IS_F64
        lk_vd ul, uh = lk_two_sum(ah, -ch, &ul);                  /* u = (a - m_a) - (b - b_top) */
        ul += al - cl;
#else
        lk_vd ul = zero, uh = ah - ch;
        (void)cl;
#endif
        inf_lanes |= LK_MASK(va > ninf) & LK_MASK(vb == ninf);
        lk_vm low_a, low_b;
        lk_vd e = LK_FN(info_exp)(&ah, &al, &low_a);
        lk_vd f = LK_FN(info_exp)(&bh, &bl, &low_b);
        lk_vm live = LK_MASK(e > zero);                          /* u may be NaN elsewhere */
        lk_vd p = lk_select(live, LK_FMA(e, uh, e * ul), zero);
        lk_vm is_top_a = LK_MASK(va == mav), is_top_b = LK_MASK(vb == mbv);
        top_a += lk_select(is_top_a, one, zero);
        top_b += lk_select(is_top_b, one, zero);
        e = lk_select(is_top_a, zero, e);
        f = lk_select(is_top_b, zero, f);
        if (deep) {
            LK_FN(info_add)(&ra, lk_select(low_a, zero, e));
            LK_FN(info_add)(&rb, lk_select(low_b, zero, f));
            LK_FN(info_add)(&tu, lk_select(low_a, zero, p));
            LK_FN(info_add)(&rad, lk_select(low_a, e, zero));
            LK_FN(info_add)(&rbd, lk_select(low_b, f, zero));
            LK_FN(info_add)(&tud, lk_select(low_a, p, zero));
        } else {
            LK_FN(info_add)(&ra, e);
            LK_FN(info_add)(&rb, f);
            LK_FN(info_add)(&tu, p);
        }
    }
    LK_FN(info_total)(&ra, &sums[0]);
    LK_FN(info_total)(&rb, &sums[1]);
    LK_FN(info_total)(&tu, &sums[2]);
    for (int j = 0; j < LK_W; j++) {
        sums[0].top += lk_lane(top_a, j);
        sums[1].top += lk_lane(top_b, j);
    }
    if (deep) {
        LK_FN(info_total)(&rad, &sums[3]);
        LK_FN(info_total)(&rbd, &sums[4]);
        LK_FN(info_total)(&tud, &sums[5]);
    }
    *infinite = LK_ANY(inf_lanes);
}

#if LK_IS_F64
/* KL of a pair of rows whose logits span more than the double range (a difference of two of
 * them overflows), in scalar code: the differences that weigh the terms are taken at a quarter
 * of their scale (exact, and no difference of two quarters overflows) and the result scaled
 * back, so that a divergence near the double max is not +inf. Such rows have nothing to cancel
 * at double's resolution; libm's exp suffices. */
static double LK_FN(kl_row_wide)(const double *a, const double *b, ptrdiff_t n, double ma,
                                 double mb, double b_top)
{
    lk_sum ra = {0.0, 0.0, 0.0}, rb = {0.0, 0.0, 0.0}, tu = {0.0, 0.0, 0.0};
    double La_hi, La_lo, Lb_hi, Lb_lo, s_hi, s_lo;
    for (ptrdiff_t i = 0; i < n; i++) {
        if (a[i] > -INFINITY && b[i] == -INFINITY) return INFINITY;
        double e = a[i] == ma ? 1.0 : exp(a[i] - ma), f = b[i] == mb ? 1.0 : exp(b[i] - mb);
        if (a[i] == ma) ra.top += 1.0; else lk_sum_add(&ra, e);
        if (b[i] == mb) rb.top += 1.0; else lk_sum_add(&rb, f);
        if (e > 0.0)
            lk_sum_add(&tu, e * ((0.25 * a[i] - 0.25 * ma) - (0.25 * b[i] - 0.25 * b_top)));
    }
    lk_log_of_sum(ra.top, ra.hi, ra.lo, &La_hi, &La_lo);
    lk_log_of_sum(rb.top, rb.hi, rb.lo, &Lb_hi, &Lb_lo);
    lk_sum_total(ra.top, ra.hi, ra.lo, &s_hi, &s_lo);
    double quarter = (0.25 * mb - 0.25 * b_top) + (tu.hi + tu.lo) / s_hi
                     + 0.25 * ((Lb_hi - La_hi) + (Lb_lo - La_lo));
    double kl = 4.0 * quarter;
    return kl <= 0.0 ? 0.0 : kl;
}
#endif

/* KL(softmax(a) || softmax(b)) of one pair of contiguous rows of n > 0 logits */
static LK_TARGET double LK_FN(kl_row)(const LK_T *a, const LK_T *b, ptrdiff_t n, int masked)
{
    double ma, mna, mb, mnb, b_top = 0.0;
    double ra_hi, ra_lo, rb_hi, rb_lo, t_hi, t_lo, La_hi, La_lo, Lb_hi, Lb_lo, s_hi, s_lo;
    int nan_a, nan_b, infinite;
    lk_sum sums[6] = {{0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0},
                      {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}};
    LK_FN(row_range)(a, n, &ma, &mna, &nan_a);
    LK_FN(row_range)(b, n, &mb, &mnb, &nan_b);
    if (nan_a || nan_b || ma == INFINITY || mb == INFINITY) return NAN;
    if (ma == -INFINITY) return masked && mb == -INFINITY ? 0.0 : NAN;
    if (mb == -INFINITY) return NAN;                     /* q undefined, as softmax's */
    for (ptrdiff_t i = 0; i < n; i++)
        if (a[i] == ma) {
            b_top = b[i];
            break;
        }
    if (b_top == -INFINITY) return INFINITY;             /* p's top class has q = 0 */
    int deep = LK_IS_F64 && (!(mna - ma >= LK_INFO_DEEP) || !(mnb - mb >= LK_INFO_DEEP));
    if (deep)
        LK_FN(kl_pass)(a, b, n, ma, mb, b_top, 1, sums, &infinite);
    else
        LK_FN(kl_pass)(a, b, n, ma, mb, b_top, 0, sums, &infinite);
    if (infinite) return INFINITY;
    LK_FN(info_unscale)(&sums[0], &sums[3], &ra_hi, &ra_lo);
    LK_FN(info_unscale)(&sums[1], &sums[4], &rb_hi, &rb_lo);
    LK_FN(info_unscale)(&sums[2], &sums[5], &t_hi, &t_lo);
    lk_log_of_sum(sums[0].top, ra_hi, ra_lo, &La_hi, &La_lo);
    lk_log_of_sum(sums[1].top, rb_hi, rb_lo, &Lb_hi, &Lb_lo);
    lk_sum_total(sums[0].top, ra_hi, ra_lo, &s_hi, &s_lo);
    /* E_p[u] = T / s_a as a pair */
    double c = t_hi / s_hi;
    double c_lo = (-fma(c, s_hi, -t_hi) + t_lo - c * s_lo) / s_hi;
    /* (m_b - b_top) + (L_b - L_a) + E_p[u], each exact pair added as double-doubles */
    lk_dd k = lk_dd_two_sum(mb, -b_top);
    lk_dd L = lk_dd_add((lk_dd){Lb_hi, Lb_lo}, (lk_dd){-La_hi, -La_lo});
    lk_dd total = lk_dd_add(lk_dd_add(k, L), lk_dd_two_sum(c, c_lo));
    double kl = total.hi + total.lo;
#if LK_IS_F64
    if (!(kl - kl == 0.0))                               /* a difference overflowed */
        return LK_FN(kl_row_wide)(a, b, n, ma, mb, b_top);
#endif
    return kl <= 0.0 ? 0.0 : kl;                         /* -0.0 and tiny negative roundings */
}

/* -------------------------------------------------------------------- rows of a call */

/* entropy (b NULL) or kl_divergence of rows [first, stop): rows of n > 0 contiguous logits,
 * xs (bs) elements apart; result[r * rs] */
LK_TARGET void LK_FN(information_rows)(const LK_T *x, ptrdiff_t xs, const LK_T *b,
                                       ptrdiff_t bs, ptrdiff_t n, ptrdiff_t first,
                                       ptrdiff_t stop, int masked, LK_T *result, ptrdiff_t rs)
{
    for (ptrdiff_t r = first; r < stop; r++) {
        double v = b == NULL ? LK_FN(entropy_row)(x + r * xs, n, masked)
                             : LK_FN(kl_row)(x + r * xs, b + r * bs, n, masked);
        result[r * rs] = (LK_T)v;
    }
}

#undef LK_INFO_DROP
#undef LK_INFO_DEEP
#undef LK_INFO_SCALE
