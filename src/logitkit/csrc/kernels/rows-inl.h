
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
