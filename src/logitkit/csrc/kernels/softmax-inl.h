/*
 * softmax, log_softmax and logsumexp, each a whole algorithm: a row (max pass, exp pass, the
 * double-double reciprocal or log of the sum, scale or shift pass, special values), a pair of
 * cache-resident rows, a block of columns, a block of short rows in lanes, and a long row shared
 * by a team of threads. The passes are the kernels of rows-inl.h, columns-inl.h and
 * short_rows-inl.h; the per-row numerics are double_double.h's. The job and the split over the
 * pool are softmax.h / softmax.c.
 */

LK_INLINE void LK_FN(fill)(LK_T *out, ptrdiff_t n, ptrdiff_t stride, double value)
{
    for (ptrdiff_t i = 0; i < n; i++) out[i * stride] = (LK_T)value;
}

#if !LK_IS_F64
/* logsumexp of a float32 slice (n elements, step apart) where m + log(sum) cancels (to less
 * than half of log(sum)): the float exps' 2^-24 errors would show in the last bits, so the sum
 * is redone with libm's double exp, compensated, and the double-double log of the row. */
static LK_TARGET double LK_FN(logsumexp_cancelling)(const float *x, ptrdiff_t n, ptrdiff_t step,
                                                    double m)
{
    double top = 0.0, L, L_lo;
    lk_sum acc = {0.0, 0.0, 0.0};
    for (ptrdiff_t k = 0; k < n; k++) {
        double v = x[k * step];
        if (v == m)
            top += 1.0;
        else
            lk_sum_add(&acc, exp(v - m));
    }
    lk_log_of_sum(top, acc.hi, acc.lo, &L, &L_lo);
    return lk_add_log(m, L, L_lo);
}
#endif

/* The logsumexp of a slice (n elements, step apart, max m) computed as value; where
 * m + log(sum) cancels, redone with more precise terms than the kernels'. float32 (below half
 * of the log of the sum, value - m): in double (logsumexp_cancelling). float64: in
 * double-double (lk_dd_logsumexp, ~2^-100 of the log, ~0.2 us an element), for results from
 * max(n 2^-52, 2^-50) of the log up to 1/2 of it for slices of up to 32 elements and up to 1/16
 * for longer ones. The kernels' terms (each exp rounded once) cost such a result up to ~9 ULP
 * (a confident pair at 1/16); in a long slice their roundings average out, and redoing every
 * result below 1/2 of the log would cost common data (1000 classes, logsumexp ~1) 70x. Below
 * n 2^-52 of the log sit rows of log-probabilities (their logsumexp, ~sqrt(n) 2^-53, is the
 * rounding of n values): redoing those would cost ~300x the kernels' time, so the kernels'
 * value stands there, within ~2^-52 of the log. */
static LK_TARGET double LK_FN(logsumexp_value)(const LK_T *x, ptrdiff_t n, ptrdiff_t step,
                                               double m, double value)
{
    double log_sum = value - m;
#if !LK_IS_F64
    if (fabs(value) < 0.5 * log_sum) return LK_FN(logsumexp_cancelling)(x, n, step, m);
#else
    double upper = n <= 32 ? 0.5 : 0.0625;
    double lower = fmax(ldexp((double)n, -52), ldexp(1.0, -50)) * log_sum;
    if (lower <= fabs(value) && fabs(value) < upper * log_sum)
        return lk_dd_logsumexp(x, n, step, m);
#endif
    return value;
}

/* After log_softmax's shift by L == 0, out holds x - m exactly: the max 0, the others finite
 * below it or -inf. L rounded to 0 from a positive value if some entry is finite below the max
 * (a confident row whose other exps underflowed): the top entry's true value -L then rounds to
 * -0.0. (A max alone beside -inf has L = 0 exactly, and +0.0.) */
static LK_TARGET void LK_FN(signed_zero_top)(LK_T *out, ptrdiff_t stride, ptrdiff_t n)
{
    ptrdiff_t top = -1;
    int below = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        LK_T v = out[i * stride];
        if (v == 0)
            top = i;
        else if (v > -INFINITY)
            below = 1;
    }
    if (below && top >= 0) out[top * stride] = (LK_T)-0.0;
}

/* softmax / log_softmax of one contiguous row into out, or its logsumexp (returned) */
static LK_TARGET double LK_FN(reduce_row)(const LK_T *x, LK_T *out, ptrdiff_t n, int op,
                                          int masked)
{
    double m, mn, value, inv_hi, inv_lo, L, L_lo;
    int has_nan;
    lk_sum acc = {0.0, 0.0, 0.0};
    if (n == 0) return -INFINITY;
    LK_FN(row_range)(x, n, &m, &mn, &has_nan);
    if (lk_special_slice(m, has_nan, op, masked, &value)) {
        if (op != LK_OP_LOGSUMEXP) LK_FN(fill)(out, n, 1, value);
        return value;
    }
    if (op == LK_OP_SOFTMAX) {
        LK_FN(softmax_exps)(x, out, n, m, mn, &acc);
        lk_reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo);
        LK_FN(scale)(out, n, inv_hi, inv_lo);
        return 0.0;
    }
    LK_FN(exp_sum)(x, n, m, mn, &acc);
    lk_log_of_sum(acc.top, acc.hi, acc.lo, &L, &L_lo);
    if (op == LK_OP_LOG_SOFTMAX) {
        LK_FN(shift_log)(x, out, n, m, mn, L + L_lo);
        if (L + L_lo == 0.0 && n > 1) LK_FN(signed_zero_top)(out, 1, n);
        return 0.0;
    }
    return LK_FN(logsumexp_value)(x, n, 1, m, lk_add_log(m, L, L_lo));
}

/* Two rows of n (> 0) elements, as reduce_row each (logsumexps into values[0], values[1]),
 * every pass run for both before the next: each row's waits (its max before its exps, its sum
 * before its scale) then overlap the other row's work in the CPU's reorder window. */
static LK_TARGET void LK_FN(reduce_row_pair)(const LK_T *xa, LK_T *oa, const LK_T *xb, LK_T *ob,
                                             ptrdiff_t n, int op, int masked, double *values)
{
    double ma, mna, mb, mnb, inv_a_hi, inv_a_lo, inv_b_hi, inv_b_lo, La, La_lo, Lb, Lb_lo, value;
    int nan_a, nan_b;
    lk_sum acc_a = {0.0, 0.0, 0.0}, acc_b = {0.0, 0.0, 0.0};
    values[0] = values[1] = 0.0;
    LK_FN(row_range)(xa, n, &ma, &mna, &nan_a);
    LK_FN(row_range)(xb, n, &mb, &mnb, &nan_b);
    if (lk_special_slice(ma, nan_a, op, masked, &value) ||
        lk_special_slice(mb, nan_b, op, masked, &value)) {
        values[0] = LK_FN(reduce_row)(xa, oa, n, op, masked);     /* rare: one row at a time */
        values[1] = LK_FN(reduce_row)(xb, ob, n, op, masked);
        return;
    }
    if (op == LK_OP_SOFTMAX) {
        LK_FN(softmax_exps)(xa, oa, n, ma, mna, &acc_a);
        LK_FN(softmax_exps)(xb, ob, n, mb, mnb, &acc_b);
        lk_reciprocal(acc_a.top, acc_a.hi, acc_a.lo, &inv_a_hi, &inv_a_lo);
        lk_reciprocal(acc_b.top, acc_b.hi, acc_b.lo, &inv_b_hi, &inv_b_lo);
        LK_FN(scale)(oa, n, inv_a_hi, inv_a_lo);
        LK_FN(scale)(ob, n, inv_b_hi, inv_b_lo);
        return;
    }
    LK_FN(exp_sum)(xa, n, ma, mna, &acc_a);
    LK_FN(exp_sum)(xb, n, mb, mnb, &acc_b);
    lk_log_of_sum(acc_a.top, acc_a.hi, acc_a.lo, &La, &La_lo);
    lk_log_of_sum(acc_b.top, acc_b.hi, acc_b.lo, &Lb, &Lb_lo);
    if (op == LK_OP_LOG_SOFTMAX) {
        LK_FN(shift_log)(xa, oa, n, ma, mna, La + La_lo);
        LK_FN(shift_log)(xb, ob, n, mb, mnb, Lb + Lb_lo);
        if (La + La_lo == 0.0 && n > 1) LK_FN(signed_zero_top)(oa, 1, n);
        if (Lb + Lb_lo == 0.0 && n > 1) LK_FN(signed_zero_top)(ob, 1, n);
        return;
    }
    values[0] = LK_FN(logsumexp_value)(xa, n, 1, ma, lk_add_log(ma, La, La_lo));
    values[1] = LK_FN(logsumexp_value)(xb, n, 1, mb, lk_add_log(mb, Lb, Lb_lo));
}

/* Reduce over n rows (x_step bytes apart) of w contiguous columns; state: 6 w doubles. */
static LK_TARGET void LK_FN(reduce_columns)(const char *x, ptrdiff_t x_step, char *out,
                                            ptrdiff_t out_step, LK_T *result,
                                            ptrdiff_t result_stride, ptrdiff_t n, ptrdiff_t w,
                                            int op, int masked, double *state)
{
    LK_T *m = (LK_T *)state;            /* the columns' maxima, in their own type */
    double *hi = state + w, *lo = state + 2 * w, *top = state + 3 * w;
    double *a = state + 4 * w, *b = state + 5 * w;
    double value, least = INFINITY, most = -INFINITY, others_hi, others_lo;
    const ptrdiff_t item = (ptrdiff_t)sizeof(LK_T);
    /* float64's softmax sums start at 1, above every term, so that Fast2Sum adds them exactly */
    const double bias = LK_IS_F64 && op == LK_OP_SOFTMAX ? 1.0 : 0.0;
    for (ptrdiff_t j = 0; j < w; j++) {
        m[j] = -INFINITY;
        hi[j] = bias;
        lo[j] = 0.0;
        top[j] = 0.0;
    }
    LK_FN(col_max)((const LK_T *)x, x_step, n, w, m, &least);
    for (ptrdiff_t j = 0; j < w; j++)
        if (m[j] > most) most = m[j];   /* NaN columns aside: their results are overwritten */
    if (op == LK_OP_SOFTMAX)
        LK_FN(col_exp_store)((const LK_T *)x, x_step, (LK_T *)out, out_step, n, w, m,
                             least - most, hi, lo, top);
    else
        LK_FN(col_exp_sum)((const LK_T *)x, x_step, n, w, m, least - most, hi, lo, top);
    for (ptrdiff_t j = 0; j < w; j++)
        hi[j] -= bias;                  /* exact: 1 is a multiple of ulp(hi) for hi < 2^53 */
    for (ptrdiff_t j = 0; j < w; j++) {
        lk_two_sum_d(hi[j], lo[j], &others_hi, &others_lo);
        if (op == LK_OP_SOFTMAX) {
            lk_reciprocal(top[j], others_hi, others_lo, &a[j], &b[j]);
        } else if (top[j] >= 1.0) {
            lk_log_of_sum(top[j], others_hi, others_lo, &a[j], &b[j]);
        } else {                        /* a special slice, dealt with below */
            a[j] = 0.0;
            b[j] = 0.0;
        }
    }
    if (op == LK_OP_SOFTMAX) {
        LK_FN(col_scale)((LK_T *)out, out_step, n, w, a, b);
    } else if (op == LK_OP_LOG_SOFTMAX) {
        for (ptrdiff_t j = 0; j < w; j++) a[j] += b[j];
        LK_FN(col_shift_log)((const LK_T *)x, x_step, (LK_T *)out, out_step, n, w, m, a);
        for (ptrdiff_t j = 0; j < w; j++)
            if (a[j] == 0.0 && top[j] == 1.0 && n > 1)
                LK_FN(signed_zero_top)((LK_T *)out + j, out_step / item, n);
    }
    for (ptrdiff_t j = 0; j < w; j++) {
        if (lk_special_slice(m[j], m[j] != m[j], op, masked, &value)) {
            if (op == LK_OP_LOGSUMEXP)
                result[j * result_stride] = (LK_T)value;
            else
                LK_FN(fill)((LK_T *)out + j, n, out_step / item, value);
        } else if (op == LK_OP_LOGSUMEXP) {
            result[j * result_stride] = (LK_T)LK_FN(logsumexp_value)(
                (const LK_T *)x + j, n, x_step / item, m[j], lk_add_log(m[j], a[j], b[j]));
        }
    }
}

/* count (<= LK_SHORT_ROWS) rows of n <= LK_SHORT_N values in one call of short_rows, rows
 * across vector lanes; then the edge values of the rows whose max is not finite, and
 * logsumexp where m + log(sum) cancels. state: 2 LK_SHORT_ROWS doubles. */
static LK_TARGET void LK_FN(reduce_short_rows)(const lk_reduce_job *job, ptrdiff_t first,
                                               ptrdiff_t count, double *state)
{
    double *m = state, *lse = state + LK_SHORT_ROWS, value;
    const ptrdiff_t n = job->n, item = (ptrdiff_t)sizeof(LK_T);   /* signed: exact division */
    LK_T *result = (LK_T *)job->result;
    const LK_T *x0 = (const LK_T *)(job->x + first * job->xs0);
    LK_T *out0 = job->out != NULL ? (LK_T *)(job->out + first * job->os0) : NULL;
    LK_FN(short_rows)(x0, job->xs0 / item, out0, job->os0 / item, count, n, job->op, m, lse);
    for (ptrdiff_t r = 0; r < count; r++) {
        if (lk_special_slice(m[r], m[r] != m[r], job->op, job->masked, &value)) {
            if (job->op == LK_OP_LOGSUMEXP)
                result[(first + r) * job->rs0] = (LK_T)value;
            else
                LK_FN(fill)((LK_T *)(job->out + (first + r) * job->os0), n, 1, value);
        } else if (job->op == LK_OP_LOG_SOFTMAX) {
            if (lse[r] == 0.0 && n > 1)        /* short_rows gives L there */
                LK_FN(signed_zero_top)((LK_T *)(job->out + (first + r) * job->os0), 1, n);
        } else if (job->op == LK_OP_LOGSUMEXP) {
            result[(first + r) * job->rs0] = (LK_T)LK_FN(logsumexp_value)(
                (const LK_T *)(job->x + (first + r) * job->xs0), n, 1, m[r], lse[r]);
        }
    }
}

/* Units [first, stop) of the job: rows (inner == 1) or blocks of LK_COLUMN_BLOCK columns,
 * numbered in memory order. */
LK_TARGET void LK_FN(reduce_units)(const lk_reduce_job *job, ptrdiff_t first, ptrdiff_t stop)
{
    double state[6 * LK_COLUMN_BLOCK], pair_values[2], value;
    LK_T *result = (LK_T *)job->result;
    ptrdiff_t u = first;
    while (u < stop) {
        ptrdiff_t o = u / job->blocks;
        /* rows of up to LK_SHORT_N, LK_SHORT_ROWS at a time, vectorised across rows */
        if (job->inner == 1 && job->n <= LK_SHORT_N && stop - u >= 2) {
            ptrdiff_t w = stop - u < LK_SHORT_ROWS ? stop - u : LK_SHORT_ROWS;
            LK_FN(reduce_short_rows)(job, u, w, state);
            u += w;
            continue;
        }
        /* rows that stay in the first caches, two at a time */
        if (job->inner == 1 && stop - u >= 2 && job->n > 0 &&
            job->n * (ptrdiff_t)sizeof(LK_T) <= LK_PAIRED_ROW_BYTES) {
            LK_FN(reduce_row_pair)(
                (const LK_T *)(job->x + o * job->xs0),
                job->out != NULL ? (LK_T *)(job->out + o * job->os0) : NULL,
                (const LK_T *)(job->x + (o + 1) * job->xs0),
                job->out != NULL ? (LK_T *)(job->out + (o + 1) * job->os0) : NULL, job->n,
                job->op, job->masked, pair_values);
            if (job->op == LK_OP_LOGSUMEXP) {
                result[o * job->rs0] = (LK_T)pair_values[0];
                result[(o + 1) * job->rs0] = (LK_T)pair_values[1];
            }
            u += 2;
            continue;
        }
        if (job->inner == 1) {
            value = LK_FN(reduce_row)((const LK_T *)(job->x + o * job->xs0),
                                      job->out != NULL ? (LK_T *)(job->out + o * job->os0) : NULL,
                                      job->n, job->op, job->masked);
            if (job->op == LK_OP_LOGSUMEXP) result[o * job->rs0] = (LK_T)value;
        } else {
            ptrdiff_t c = (u % job->blocks) * LK_COLUMN_BLOCK;
            ptrdiff_t w = job->inner - c < LK_COLUMN_BLOCK ? job->inner - c : LK_COLUMN_BLOCK;
            LK_FN(reduce_columns)(
                job->x + o * job->xs0 + c * (ptrdiff_t)sizeof(LK_T), job->xs1,
                job->out != NULL ? job->out + o * job->os0 + c * (ptrdiff_t)sizeof(LK_T) : NULL,
                job->os1, result != NULL ? result + o * job->rs0 + c * job->rs1 : NULL, job->rs1,
                job->n, w, job->op, job->masked, state);
        }
        u += 1;
    }
}

/* Row o, split across the team: partial maxima, then partial sums, are combined by every
 * thread in the same order, so all agree on the max and the total (and the result does not
 * depend on timing). */
LK_TARGET void LK_FN(reduce_row_part)(lk_reduce_job *job, ptrdiff_t o, int tid, int nthreads,
                                      lk_team *team)
{
    ptrdiff_t lo, hi;
    double m = -INFINITY, mn = INFINITY, part_m = -INFINITY, part_mn = INFINITY, value;
    double inv_hi, inv_lo, L = 1.0, L_lo = 0.0;      /* L: set for the log ops */
    int has_nan = 0, part_nan = 0;
    lk_sum acc = {0.0, 0.0, 0.0}, total = {0.0, 0.0, 0.0};
    lk_split(job->n, tid, nthreads, 64, &lo, &hi);
    const ptrdiff_t length = hi - lo;
    const LK_T *x = (const LK_T *)(job->x + o * job->xs0) + lo;
    LK_T *out = job->out != NULL ? (LK_T *)(job->out + o * job->os0) + lo : NULL;
    LK_T *result = (LK_T *)job->result;
    if (length > 0) LK_FN(row_range)(x, length, &part_m, &part_mn, &part_nan);
    job->part_max[tid] = part_m;
    job->part_min[tid] = part_mn;
    job->part_nan[tid] = part_nan;
    lk_team_barrier(team);
    for (int t = 0; t < nthreads; t++) {
        has_nan |= job->part_nan[t];
        if (job->part_max[t] > m) m = job->part_max[t];
        if (job->part_min[t] < mn) mn = job->part_min[t];
    }
    if (lk_special_slice(m, has_nan, job->op, job->masked, &value)) {
        if (job->op != LK_OP_LOGSUMEXP)
            LK_FN(fill)(out, length, 1, value);
        else if (tid == 0)
            result[o * job->rs0] = (LK_T)value;
        lk_team_barrier(team);          /* the parts are reused by the next row */
        return;
    }
    if (job->op == LK_OP_SOFTMAX)
        LK_FN(softmax_exps)(x, out, length, m, mn, &acc);
    else
        LK_FN(exp_sum)(x, length, m, mn, &acc);
    job->part_sum[tid] = acc;
    lk_team_barrier(team);
    for (int t = 0; t < nthreads; t++) {
        lk_sum_add(&total, job->part_sum[t].hi);
        lk_sum_add(&total, job->part_sum[t].lo);
        total.top += job->part_sum[t].top;
    }
    if (job->op == LK_OP_SOFTMAX) {
        lk_reciprocal(total.top, total.hi, total.lo, &inv_hi, &inv_lo);
        LK_FN(scale)(out, length, inv_hi, inv_lo);
    } else {
        lk_log_of_sum(total.top, total.hi, total.lo, &L, &L_lo);
        if (job->op == LK_OP_LOG_SOFTMAX)
            LK_FN(shift_log)(x, out, length, m, mn, L + L_lo);
        else if (tid == 0)
            result[o * job->rs0] = (LK_T)LK_FN(logsumexp_value)(
                (const LK_T *)(job->x + o * job->xs0), job->n, 1, m, lk_add_log(m, L, L_lo));
    }
    lk_team_barrier(team);
    /* the whole row is shifted now; the caller's thread (tid 0) returns after this */
    if (job->op == LK_OP_LOG_SOFTMAX && tid == 0 && L + L_lo == 0.0 && job->n > 1)
        LK_FN(signed_zero_top)((LK_T *)(job->out + o * job->os0), 1, job->n);
}
