
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
