/*
 * Cross-entropy, each row whole: its max and exp-sum (the row passes), the loss as
 * (m - x_t) + log(top + rest) with log1p of the rest where the target is the unique max (a
 * confident row's loss of 1e-18 keeps every digit), label smoothing and probability targets
 * (cross_entropy-inl.h's sums), and the gradient written in the same pass over the logits
 * (the exps stored into the gradient row, then scaled in place). Short rows against class
 * indices go through ce_short, rows in lanes. The job and the split over the pool are
 * cross_entropy.h / cross_entropy.c.
 */

LK_INLINE void LK_FN(fill_row)(LK_T *out, ptrdiff_t n, double value)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i] = (LK_T)value;
}

/* p_hi + p_lo = a (b_hi + b_lo), to ~2^-104 */
LK_INLINE void LK_FN(dd_scale)(double a, double b_hi, double b_lo, double *p_hi, double *p_lo)
{
    *p_hi = a * b_hi;
    *p_lo = fma(a, b_hi, -*p_hi) + a * b_lo;
}

/* The row's max and the exp-sum of x - max (split as top + hi + lo); with store, the exps are
 * written there too (the row passes' exact exp) for a gradient. */
static LK_TARGET void LK_FN(row_sums)(const LK_T *x, ptrdiff_t n, LK_T *store, double *m,
                                      int *has_nan, lk_sum *acc)
{
    double mn;
    acc->hi = 0.0;
    acc->lo = 0.0;
    acc->top = 0.0;
    LK_FN(row_range)(x, n, m, &mn, has_nan);
    if (*has_nan || *m - *m != 0.0) return;
    if (store != NULL)
        LK_FN(exp_store)(x, store, n, *m, mn, acc);
    else
        LK_FN(exp_sum)(x, n, *m, mn, acc);
}

/* 1 / sum(exp(x - m)) for a gradient T p_j - q_j, which may cancel to the targets' last bits:
 * float32's row sum is redone with double exps (exp_total), as the row passes' float exps carry
 * 2^-25, and those exps are kept in kept (n doubles, or NULL) for smoothing_grad; float64's is
 * already double. */
LK_INLINE LK_TARGET void LK_FN(soft_reciprocal)(const LK_T *x, ptrdiff_t n, double m,
                                                const lk_sum *acc, double *kept, double *inv_hi,
                                                double *inv_lo)
{
#if !LK_IS_F64
    double lo, hi = LK_FN(exp_total)(x, n, m, &lo, kept);
    (void)acc;
    lk_reciprocal(0.0, hi, lo, inv_hi, inv_lo);
#else
    (void)x, (void)n, (void)m, (void)kept;
    lk_reciprocal(acc->top, acc->hi, acc->lo, inv_hi, inv_lo);
#endif
}

/* A row's exp(x_j - m) for smoothing_grad: float64's row_sums stored them in g itself (the
 * gradient then overwrites each in place, vector by vector); float32's in double are in kept
 * (soft_reciprocal; NULL: computed again). */
LK_INLINE const double *LK_FN(row_exps)(LK_T *g, const double *kept)
{
#if LK_IS_F64
    (void)kept;
    return g;
#else
    (void)g;
    return kept;
#endif
}

/* The loss of one row against class y (and its gradient into g, scaled by s; kept: room for n
 * doubles, see soft_reciprocal, or NULL). */
static LK_TARGET double LK_FN(index_row)(const LK_T *x, ptrdiff_t n, ptrdiff_t y, int ignored,
                                         const double *w, double W, double eps, double s, LK_T *g,
                                         double *kept)
{
    double m, xt, dh, dl, a, e, nll, weighted, wy, L_hi, L_lo, rest_hi, rest_lo, inv_hi, inv_lo;
    double c, c_hi, c_lo, T, loss, sums[4];
    int has_nan;
    lk_sum acc;
    if (ignored) {
        if (g != NULL) LK_FN(fill_row)(g, n, 0.0);
        return 0.0;
    }
    /* float64 keeps its exps in g for smoothing_grad (row_exps); float32 only without
     * smoothing, as its smoothed gradient wants double exps (soft_reciprocal) */
    LK_FN(row_sums)(x, n, eps == 0.0 || LK_IS_F64 ? g : NULL, &m, &has_nan, &acc);
    if (has_nan || m - m != 0.0) {      /* NaN, +inf, or all -inf: undefined */
        if (g != NULL) LK_FN(fill_row)(g, n, NAN);
        return NAN;
    }
    wy = w != NULL ? w[y] : 1.0;
    lk_log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo);
    xt = x[y];
    if (xt == -INFINITY) {
        nll = INFINITY;
    } else {
        lk_two_sum_d(m, -xt, &dh, &dl);     /* m - x_t exactly */
        if (dh == INFINITY) {               /* overflow (m and -x_t near the dtype's max) */
            nll = INFINITY;
        } else {
            lk_two_sum_d(dh, L_hi, &a, &e);
            nll = a + (e + (dl + L_lo));
        }
    }
    /* a zero class weight contributes nothing, even where nll is inf (as in the reference) */
    weighted = wy != 0.0 ? wy * nll : 0.0;
    if (eps == 0.0) {
        loss = weighted;
    } else {
        LK_FN(smoothing_sums)(x, NULL, w, n, m, eps, sums);   /* sum of w_j (m - x_j): sums[2:] */
        loss = (1.0 - eps) * weighted + (eps / n) * ((sums[2] + sums[3]) + W * L_hi + W * L_lo);
    }
    if (g == NULL) return loss;
    /* gradient: s (T p_j - q_j), q = (1 - eps) w_y e_y + (eps / n) w */
    if (eps != 0.0)
        LK_FN(soft_reciprocal)(x, n, m, &acc, kept, &inv_hi, &inv_lo);
    else
        lk_reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo);
    T = eps != 0.0 ? (1.0 - eps) * wy + (eps / n) * W : wy;
    c = s * T;
    LK_FN(dd_scale)(c, inv_hi, inv_lo, &c_hi, &c_lo);
    if (eps != 0.0) {
        LK_FN(smoothing_grad)(x, NULL, w, LK_FN(row_exps)(g, kept), n, y, m, eps, c_hi, c_lo, s,
                              g);
        return loss;
    }
    LK_FN(scale)(g, n, c_hi, c_lo);
    if (xt == m && acc.top == 1.0) {
        /* the unique max: p_y - 1 = -rest / total, without the cancellation of p_y - 1 */
        lk_two_sum_d(acc.hi, acc.lo, &rest_hi, &rest_lo);
        g[y] = (LK_T)(-c * (rest_hi * inv_hi + (rest_lo * inv_hi + rest_hi * inv_lo)));
    } else {
        g[y] = (LK_T)((double)g[y] - c);    /* p_y <= 1/2 here: no cancellation */
    }
    return loss;
}

/* Short rows (n <= LK_SHORT_N, C-contiguous), LK_SHORT_ROWS at a time in the lanes kernel
 * (ce_short), gradient included when grad is not NULL; then the rows it leaves to us: ignored
 * ones (loss and gradient 0) and those whose max is not finite (NaN). */
static LK_TARGET void LK_FN(index_rows_small)(const LK_T *x, const ptrdiff_t *t, const double *w,
                                              double s, LK_T *loss, LK_T *grad, ptrdiff_t rows,
                                              ptrdiff_t n, ptrdiff_t ignore_index)
{
    int32_t target[LK_SHORT_ROWS];
    double c[LK_SHORT_ROWS], m[LK_SHORT_ROWS], nll[LK_SHORT_ROWS];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LK_SHORT_ROWS) {
        ptrdiff_t nb = rows - r0 < LK_SHORT_ROWS ? rows - r0 : LK_SHORT_ROWS;
        for (ptrdiff_t b = 0; b < nb; b++) {
            ptrdiff_t y = t[r0 + b];
            target[b] = y == ignore_index ? -1 : (int32_t)y;
            c[b] = y == ignore_index ? 0.0 : s * (w != NULL ? w[y] : 1.0);
        }
        LK_FN(ce_short)(x + r0 * n, target, c, grad != NULL ? grad + r0 * n : NULL, nb, n, m,
                        nll);
        for (ptrdiff_t b = 0; b < nb; b++) {
            ptrdiff_t r = r0 + b;
            if (target[b] < 0) {
                loss[r] = 0.0;
                if (grad != NULL) LK_FN(fill_row)(grad + r * n, n, 0.0);
            } else if (m[b] - m[b] != 0.0) {    /* NaN, +inf, all -inf: undefined */
                loss[r] = NAN;
                if (grad != NULL) LK_FN(fill_row)(grad + r * n, n, NAN);
            } else if (w != NULL) {     /* a zero weight contributes nothing, even to inf */
                loss[r] = w[target[b]] != 0.0 ? (LK_T)(nll[b] * w[target[b]]) : 0.0;
            } else {
                loss[r] = (LK_T)nll[b];
            }
        }
    }
}

/* The loss of one row against class probabilities t: sum_c q_c (logsumexp - x_c), q = w ((1 -
 * eps) t + eps / n); with g, s (T softmax - q), T = sum q. */
static LK_TARGET double LK_FN(prob_row)(const LK_T *x, const LK_T *t, ptrdiff_t n,
                                        const double *w, double eps, double s, LK_T *g,
                                        double *kept)
{
    double m, L_hi, L_lo, inv_hi, inv_lo, c_hi, c_lo, A_hi, A_lo, T, sums[4];
    int has_nan;
    lk_sum acc;
    LK_FN(row_sums)(x, n, LK_IS_F64 ? g : NULL, &m, &has_nan, &acc);
    if (has_nan || m - m != 0.0) {
        if (g != NULL) LK_FN(fill_row)(g, n, NAN);
        return NAN;
    }
    lk_log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo);
    /* T = sum of q_j; A = sum of q_j (m - x_j), where 0 log(0) = 0: a class with no mass takes
     * no part */
    LK_FN(smoothing_sums)(x, t, w, n, m, eps, sums);
    T = sums[0] + sums[1];
    A_hi = sums[2];
    A_lo = sums[3];
    if (g != NULL) {
        LK_FN(soft_reciprocal)(x, n, m, &acc, kept, &inv_hi, &inv_lo);
        LK_FN(dd_scale)(s * T, inv_hi, inv_lo, &c_hi, &c_lo);
        LK_FN(smoothing_grad)(x, t, w, LK_FN(row_exps)(g, kept), n, -1, m, eps, c_hi, c_lo, s,
                              g);
    }
    return (A_hi + A_lo) + (T * L_hi + T * L_lo);
}

/* Rows [lo, hi) of a cross-entropy job */
LK_TARGET void LK_FN(cross_entropy_rows)(const lk_ce_job *job, ptrdiff_t lo, ptrdiff_t hi)
{
    const ptrdiff_t n = job->n;
    LK_T *loss = (LK_T *)job->loss, *grad = (LK_T *)job->grad;
    if (job->in_lanes) {
        LK_FN(index_rows_small)((const LK_T *)job->x + lo * n, job->index + lo, job->w, job->s,
                                loss + lo, grad != NULL ? grad + lo * n : NULL, hi - lo, n,
                                job->ignore_index);
        return;
    }
    /* float32 soft gradients: a row's double exps, kept from its sum for its gradient (NULL, if
     * malloc fails, has them computed twice) */
    double *kept = NULL;
    if (!LK_IS_F64 && grad != NULL && (job->index == NULL || job->eps != 0.0))
        kept = malloc((size_t)(n > 1 ? n : 1) * sizeof(double));
    for (ptrdiff_t r = lo; r < hi; r++) {
        const LK_T *x = (const LK_T *)(job->x + r * job->xs);
        LK_T *g = grad != NULL ? grad + r * n : NULL;
        if (job->index != NULL) {
            ptrdiff_t y = job->index[r];
            loss[r] = (LK_T)LK_FN(index_row)(x, n, y, y == job->ignore_index, job->w, job->W,
                                             job->eps, job->s, g, kept);
        } else {
            loss[r] = (LK_T)LK_FN(prob_row)(x, (const LK_T *)(job->prob + r * job->ts), n,
                                            job->w, job->eps, job->s, g, kept);
        }
    }
    free(kept);
}
