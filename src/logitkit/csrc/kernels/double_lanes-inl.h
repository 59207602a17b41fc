/* float64 data: the double-lane stages of the row and column passes (the pipelined exp,
 * compensated sums, the column sums, the double-double scale pass). */
#if LK_IS_F64
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
        double err, s;
        lk_two_sum_d(lk_lane(t->hi, j), top ? 0.0 : -1.0, &s, &err);
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

#endif /* LK_IS_F64 */
