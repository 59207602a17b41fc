/* Many short rows (n <= LK_SHORT_N) at once, transposed so that each vector lane holds one
 * row: softmax, log_softmax and logsumexp of LK_SHORT_ROWS rows per call. */
#if !LK_IS_F64
/* ---- many short rows as vector lanes: LK_WF rows to a vector, groups of them side by side
 *      (a group alone is one long chain of dependent steps, max, exps, sums, log, too long
 *      for the scheduler to overlap with the next group) ---- */

/* Lane j of a group's pair of double halves (rows j < LK_W in h[0], the rest in h[1]) */
LK_INLINE double LK_FN(group_lane)(const lk_vd h[2], ptrdiff_t j)
{
    return j < LK_W ? lk_lane(h[0], j) : lk_lane(h[1], j - LK_W);
}

/* The max of each lane over the n rows of buf (NaN sticky), into m_out for the real rows;
 * m gets it with the lanes that are not finite set to 0: those rows are the caller's */
LK_INLINE LK_TARGET void LK_FN(lanes_max)(const float *buf, ptrdiff_t lanes, ptrdiff_t groups,
                                          ptrdiff_t n, ptrdiff_t rows, lk_vf8 *m,
                                          double *m_out)
{
    const lk_vf8 zero = lk_splatf(0.0f);
    for (ptrdiff_t g = 0; g < groups; g++) m[g] = lk_splatf(-INFINITY);
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            m[g] = LK_FN(max_nanf)(m[g], LK_LOADF(buf + k * lanes + g * LK_WF, LK_WF, 0.0f));
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd h[2];
        LK_WIDEN_F8(m[g], h[0], h[1]);
        for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++)
            m_out[g * LK_WF + j] = LK_FN(group_lane)(h, j);
        m[g] = lk_selectf(LK_MASKF(m[g] - m[g] == zero), m[g], zero);
    }
}

/* exp(x - m) of every element in buf (stored back when store is set), and per lane the count
 * of the terms equal to the max and, in double, the sum of the others */
LK_INLINE LK_TARGET void LK_FN(lanes_exp_sums)(float *buf, ptrdiff_t lanes, ptrdiff_t groups,
                                               ptrdiff_t n, const lk_vf8 *m, int store,
                                               lk_vf8 *top, lk_vd (*rest)[2])
{
    const lk_vf8 zero = lk_splatf(0.0f), one = lk_splatf(1.0f);
    for (ptrdiff_t g = 0; g < groups; g++) {
        top[g] = zero;
        rest[g][0] = rest[g][1] = lk_splat(0.0);
    }
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vf8 v = LK_LOADF(p, LK_WF, 0.0f);
            lk_vmf is_top = LK_MASKF(v == m[g]);
            lk_vf8 e = LK_FN(shifted_expf)(v, m[g]);
            if (store) lk_storef(p, e, LK_WF);
            top[g] += lk_selectf(is_top, one, zero);
            lk_vd lo, hi;
            LK_WIDEN_F8(lk_selectf(is_top, zero, e), lo, hi);
            rest[g][0] += lo;
            rest[g][1] += hi;
        }
    }
}

/*
 * softmax, log_softmax or logsumexp (op: LK_OP_*) of up to LK_SHORT_ROWS rows (x_stride,
 * out_stride elements apart) of n <= LK_SHORT_N floats, with the numerics of the row passes:
 * exact x - m, the terms equal to the max counted apart, sums in double, log1p of the rest
 * (softmax scales by the reciprocal as scale does, LK_SCALE_IN_FLOAT). Writes each row's max to
 * m_out and to lse_out, for logsumexp, its value, for log_softmax, its L; rows whose max is
 * not finite get unspecified outputs, for the caller to overwrite.
 */
LK_TARGET void LK_FN(short_rows)(const float *x, ptrdiff_t x_stride, float *out,
                                 ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                 double *m_out, double *lse_out)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_WF };
    float buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vf8 m[GROUPS], top[GROUPS];
    lk_vd rest[GROUPS][2], value[GROUPS][2], m_d[GROUPS][2];
    const ptrdiff_t groups = (rows + LK_WF - 1) / LK_WF, lanes = groups * LK_WF;
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_ROWS_TO_LANESF(x + g * LK_WF * x_stride, x_stride, rows - g * LK_WF, n,
                          buf + g * LK_WF, lanes);
    LK_FN(lanes_max)(buf, lanes, groups, n, rows, m, m_out);
    LK_FN(lanes_exp_sums)(buf, lanes, groups, n, m, op == LK_OP_SOFTMAX, top, rest);
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd t[2];
        LK_WIDEN_F8(top[g], t[0], t[1]);
        LK_WIDEN_F8(m[g], m_d[g][0], m_d[g][1]);
        for (int h = 0; h < 2; h++) {
            if (op == LK_OP_SOFTMAX) value[g][h] = 1.0 / (t[h] + rest[g][h]);
            else value[g][h] = LK_FN(log1p_v)((t[h] - 1.0) + rest[g][h]);   /* L */
        }
        if (op != LK_OP_SOFTMAX)              /* logsumexp's value, log_softmax's L */
            for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++)
                lse_out[g * LK_WF + j] = (op == LK_OP_LOGSUMEXP ? m_out[g * LK_WF + j] : 0.0) +
                                         LK_FN(group_lane)(value[g], j);
    }
    if (op == LK_OP_LOGSUMEXP) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vf8 v = LK_LOADF(p, LK_WF, 0.0f);
            if (op == LK_OP_SOFTMAX) {
#if LK_SCALE_IN_FLOAT
                v = v * LK_NARROW_D(value[g][0], value[g][1]);
#else
                lk_vd lo, hi;
                LK_WIDEN_F8(v, lo, hi);
                v = LK_NARROW_D(lo * value[g][0], hi * value[g][1]);
#endif
            } else {                            /* (x - m) - L, x - m exact in double */
                lk_vd lo, hi;
                LK_WIDEN_F8(v, lo, hi);
                v = LK_NARROW_D((lo - m_d[g][0]) - value[g][0], (hi - m_d[g][1]) - value[g][1]);
            }
            lk_storef(p, v, LK_WF);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSF(buf + g * LK_WF, lanes, rows - g * LK_WF, n,
                          out + g * LK_WF * out_stride, out_stride);
}

#else /* LK_IS_F64 */

/*
 * float64's short rows, the passes before the reciprocal or the log: up to LK_SHORT_ROWS rows
 * of n <= LK_SHORT_N doubles into buf, LK_W rows to a vector, every pass over all the groups side
 * by side, with the row kernels' numerics (exact x - m, exp_dd, compensated sums, the terms
 * equal to the max counted in top). The exps are stored back into buf where store is set. Writes
 * each row's max to m_out; m[] gets 0 in the lanes whose max is not finite (the caller's rows).
 */
LK_INLINE LK_TARGET ptrdiff_t LK_FN(lanes_exp_sums_d)(const double *x, ptrdiff_t x_stride,
                                                      double *buf, ptrdiff_t rows, ptrdiff_t n,
                                                      int store, double *m_out, lk_vd *m,
                                                      lk_vd *hi, lk_vd *lo, lk_vd *top)
{
    const lk_vd zero = lk_splat(0.0);
    const ptrdiff_t groups = (rows + LK_W - 1) / LK_W, lanes = groups * LK_W;
    for (ptrdiff_t g = 0; g < groups; g++) {
        LK_ROWS_TO_LANESD(x + g * LK_W * x_stride, x_stride, rows - g * LK_W, n, buf + g * LK_W,
                          lanes);
        m[g] = lk_splat(-INFINITY);
        hi[g] = lo[g] = top[g] = zero;
    }
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            m[g] = LK_FN(max_nan)(m[g], lk_load_d(buf + k * lanes + g * LK_W, LK_W, 0.0));
    for (ptrdiff_t g = 0; g < groups; g++) {
        for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
            m_out[g * LK_W + j] = lk_lane(m[g], (int)j);
        m[g] = lk_select(LK_MASK(m[g] - m[g] == 0.0), m[g], zero);     /* others: caller's */
    }
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            double *p = buf + k * lanes + g * LK_W;
            LK_FN(exp_step)(p, store ? p : NULL, LK_W, m[g], &hi[g], &lo[g], &top[g]);
        }
    }
    return groups;
}

/* 1 / (top + hi + lo) per lane as inv_hi + *inv_lo, to ~2^-100 (the scalar reciprocal of
 * double_double.h in lanes) */
LK_INLINE LK_TARGET lk_vd LK_FN(reciprocal_v)(lk_vd top, lk_vd hi, lk_vd lo, lk_vd *inv_lo)
{
    lk_vd e, s = lk_two_sum(top, hi, &e), s_lo;
    lk_vd s_hi = lk_two_sum(s, e + lo, &s_lo);
    lk_vd inv_hi = 1.0 / s_hi;
    *inv_lo = (-LK_FMA_EXACT(inv_hi, s_hi, lk_splat(-1.0)) - inv_hi * s_lo) * inv_hi;
    return inv_hi;
}

/* float64 softmax of short rows (after lanes_exp_sums_d): each exp scaled by the sum's
 * double-double reciprocal */
LK_INLINE LK_TARGET void LK_FN(short_softmax)(double *buf, ptrdiff_t groups, ptrdiff_t n,
                                               const lk_vd *hi, const lk_vd *lo, const lk_vd *top)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    const ptrdiff_t lanes = groups * LK_W;
    lk_vd inv_hi[GROUPS], inv_lo[GROUPS];
    for (ptrdiff_t g = 0; g < groups; g++)
        inv_hi[g] = LK_FN(reciprocal_v)(top[g], hi[g], lo[g], &inv_lo[g]);
    for (ptrdiff_t k = 0; k < n; k++)
        for (ptrdiff_t g = 0; g < groups; g++)
            LK_FN(scale_step)(buf + k * lanes + g * LK_W, LK_W, inv_hi[g], inv_lo[g]);
}

/*
 * log(top + hi + lo) per lane as L_hi + *L_lo, top >= 1 counting the terms equal to the max:
 * double_double.h's lk_log_of_sum in lanes. A unique max with a rest below 1/2 takes log1p of
 * the rest (a confident row keeps its tiny log); otherwise the total is 2^k (1 + u) with 1 + u
 * in [0.75, 1.5), and the log k ln2 + log1p(u), so that the only rounding left is log1p's, on
 * a value below 1/2. log1p_unit's reduction holds on [-0.25, 0.5] as on [0, 1] (1 + z and
 * (1 + z) - 1 exact by Sterbenz, |s| < 0.15). Lanes with top < 1 get unspecified values.
 */
LK_INLINE LK_TARGET lk_vd LK_FN(log_of_sum_v)(lk_vd top, lk_vd hi, lk_vd lo, lk_vd *L_lo)
{
    lk_vd r_lo, r_hi = lk_two_sum(hi, lo, &r_lo);
    lk_vd e, s = lk_two_sum(top, hi, &e), s_lo;
    lk_vd s_hi = lk_two_sum(s, e + lo, &s_lo);
    /* s_hi in [1, 2^6): its exponent from the bits (as a double, through 2^52's mantissa), its
     * mantissa in [1, 2), halved with k one more where it is 1.5 or above */
    const lk_vm exponent_bits = lk_bits(s_hi) >> 52;
    lk_vd k = lk_from_bits(exponent_bits | lk_bits(lk_splat(0x1p52))) - (0x1p52 + 1023.0);
    lk_vd mant = lk_from_bits((lk_bits(s_hi) & ~(exponent_bits << 52)) | lk_bits(lk_splat(1.0)));
    lk_vm up = LK_MASK(mant >= 1.5);
    lk_vd u = lk_select(up, 0.5 * mant, mant) - 1.0;                  /* exact (Sterbenz) */
    k += lk_select(up, lk_splat(1.0), lk_splat(0.0));
    lk_vd u_lo = s_lo * lk_pow2i(-k);
    lk_vm unique = LK_MASK(top == 1.0) & LK_MASK(r_hi < 0.5);
    lk_vd arg = lk_select(unique, r_hi, u), arg_lo = lk_select(unique, r_lo, u_lo);
    k = lk_select(unique, lk_splat(0.0), k);
    lk_vd err, L = lk_two_sum(k * LK_LN2_HI_FD, LK_FN(log1p_unit)(arg), &err);
    *L_lo = err + (k * LK_LN2_LO_FD + arg_lo / (1.0 + arg));
    return L;
}

/*
 * float64 softmax, log_softmax or logsumexp (op: LK_OP_*) of up to LK_SHORT_ROWS rows (x_stride,
 * out_stride elements apart) of n <= LK_SHORT_N doubles as vector lanes, as short_rows does for
 * float32. log_softmax: (x - m) - L with x - m exact and L = L_hi + L_lo (shifted_log, as the
 * column kernels; lse_out gets L); logsumexp: lse_out gets m + L_hi + L_lo rounded once
 * (add_log). Writes each row's max to m_out; rows whose max is not finite get unspecified outputs, for the caller to
 * overwrite.
 */
LK_TARGET void LK_FN(short_rows)(const double *x, ptrdiff_t x_stride, double *out,
                                 ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                 double *m_out, double *lse_out)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    double buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vd m[GROUPS], hi[GROUPS], lo[GROUPS], top[GROUPS], L[GROUPS];
    const ptrdiff_t groups = LK_FN(lanes_exp_sums_d)(x, x_stride, buf, rows, n,
                                                     op == LK_OP_SOFTMAX, m_out, m, hi, lo, top);
    const ptrdiff_t lanes = groups * LK_W;
    if (op == LK_OP_SOFTMAX) {
        LK_FN(short_softmax)(buf, groups, n, hi, lo, top);
    } else {
        for (ptrdiff_t g = 0; g < groups; g++) {
            lk_vd L_lo, L_hi = LK_FN(log_of_sum_v)(top[g], hi[g], lo[g], &L_lo);
            L[g] = L_hi + L_lo;
            if (op != LK_OP_LOGSUMEXP) {
                for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
                    lse_out[g * LK_W + j] = lk_lane(L[g], (int)j);      /* log_softmax's L */
                continue;
            }
            lk_vd err, value = lk_two_sum(m[g], L_hi, &err);          /* add_log */
            value += err + L_lo;
            for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
                lse_out[g * LK_W + j] = lk_lane(value, (int)j);
        }
        if (op == LK_OP_LOGSUMEXP) return;
        for (ptrdiff_t k = 0; k < n; k++) {
            for (ptrdiff_t g = 0; g < groups; g++) {
                double *p = buf + k * lanes + g * LK_W;
                lk_store_d(p, LK_FN(shifted_log)(lk_load_d(p, LK_W, 0.0), m[g], L[g]), LK_W);
            }
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSD(buf + g * LK_W, lanes, rows - g * LK_W, n,
                          out + g * LK_W * out_stride, out_stride);
}
#endif /* LK_IS_F64 */
