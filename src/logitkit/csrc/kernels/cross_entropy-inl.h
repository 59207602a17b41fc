/* Cross-entropy kernels: short rows against class indices in lanes (ce_short), and the label
 * smoothing and probability-target sums and gradients (with their double-double tier). */
#if !LK_IS_F64

/*
 * Cross-entropy against class indices for up to LK_SHORT_ROWS contiguous rows of n <=
 * LK_SHORT_N float32 logits, LK_WF rows to a vector as short_rows does. Per row, t its target
 * (-1: none) and c its gradient's scale (the caller's s w_t, 0 for rows it drops):
 *   nll[r] = (m - x_t) + L          (double; m - x_t exact, L = log(sum exp(x - m)))
 *   grad_j = c (p_j - [j == t])     (grad may be NULL) with p = e / S in double, and at the
 *                                   target of a row whose unique max it is, p_t - 1 = -rest / S,
 *                                   which does not cancel.
 * m_out[r] gets the row's max; rows whose max is not finite are the caller's to finish.
 */
LK_TARGET void LK_FN(ce_short)(const float *x, const int32_t *t, const double *c, float *grad,
                                ptrdiff_t rows, ptrdiff_t n, double *m_out, double *nll)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_WF };
    float buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vf8 m[GROUPS], top[GROUPS], x_t[GROUPS], at_target[GROUPS];
    lk_vmf target[GROUPS];
    lk_vd rest[GROUPS][2];
    const ptrdiff_t groups = (rows + LK_WF - 1) / LK_WF, lanes = groups * LK_WF;
    for (ptrdiff_t g = 0; g < groups; g++) {
        int32_t tg[LK_WF];
        for (ptrdiff_t j = 0; j < LK_WF; j++) tg[j] = g * LK_WF + j < rows ? t[g * LK_WF + j] : -1;
        memcpy(&target[g], tg, sizeof tg);
        LK_ROWS_TO_LANESF(x + g * LK_WF * n, n, rows - g * LK_WF, n, buf + g * LK_WF, lanes);
    }
    LK_FN(lanes_max)(buf, lanes, groups, n, rows, m, m_out);
    for (ptrdiff_t g = 0; g < groups; g++) x_t[g] = m[g];    /* lanes without a target: exp 1 */
    for (ptrdiff_t k = 0; k < n; k++)       /* each row's target logit, before buf holds exps */
        for (ptrdiff_t g = 0; g < groups; g++)
            x_t[g] = lk_selectf(LK_MASKF(target[g] == (int32_t)k),
                                LK_LOADF(buf + k * lanes + g * LK_WF, LK_WF, 0.0f), x_t[g]);
    LK_FN(lanes_exp_sums)(buf, lanes, groups, n, m, grad != NULL, top, rest);
    lk_vd scale[GROUPS][2];                             /* c / S */
    for (ptrdiff_t g = 0; g < groups; g++) {
        lk_vd tp[2], md[2], xt[2], et[2], cg[2], L[2], d_t[2];
        LK_WIDEN_F8(top[g], tp[0], tp[1]);
        LK_WIDEN_F8(m[g], md[0], md[1]);
        LK_WIDEN_F8(x_t[g], xt[0], xt[1]);
        /* the target's term, the same float as in the sums (one exp a group) */
        LK_WIDEN_F8(LK_FN(shifted_expf)(x_t[g], m[g]), et[0], et[1]);
        double cl[2 * LK_W] = {0};
        for (ptrdiff_t j = 0; j < LK_WF && g * LK_WF + j < rows; j++) cl[j] = c[g * LK_WF + j];
        memcpy(cg, cl, sizeof cg);
        for (int h = 0; h < 2; h++) {
            L[h] = LK_FN(log1p_v)((tp[h] - 1.0) + rest[g][h]);
            scale[g][h] = cg[h] / (tp[h] + rest[g][h]);
            /* grad at the target: c (p_t - 1); -c rest / S where t is the unique max */
            lk_vm unique = LK_MASK(tp[h] == 1.0) & LK_MASK(xt[h] == md[h]);
            d_t[h] = lk_select(unique, -(rest[g][h] * scale[g][h]), et[h] * scale[g][h] - cg[h]);
            lk_vd v = (md[h] - xt[h]) + L[h];
            ptrdiff_t end = (h + 1) * LK_W < LK_WF ? (h + 1) * LK_W : LK_WF;
            for (ptrdiff_t j = h * LK_W; j < end && g * LK_WF + j < rows; j++)
                nll[g * LK_WF + j] = lk_lane(v, j - h * LK_W);
        }
        at_target[g] = LK_NARROW_D(d_t[0], d_t[1]);
    }
    if (!grad) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            float *p = buf + k * lanes + g * LK_WF;
            lk_vd lo, hi;
            LK_WIDEN_F8(LK_LOADF(p, LK_WF, 0.0f), lo, hi);
            lk_vf8 d = LK_NARROW_D(lo * scale[g][0], hi * scale[g][1]);
            lk_storef(p, lk_selectf(LK_MASKF(target[g] == (int32_t)k), at_target[g], d), LK_WF);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSF(buf + g * LK_WF, lanes, rows - g * LK_WF, n, grad + g * LK_WF * n, n);
}
#else
/*
 * The same for float64 rows, LK_W to a vector, with the row path's numerics (index_row in
 * binding/cross_entropy.pxi): the exps and their compensated sums of short_rows (lanes_exp_sums_d), the log
 * of each sum in double-double lanes (log_of_sum_v), and per row
 *   nll[r] = (m - x_t) + L           m - x_t by TwoSum, +inf where it overflows or x_t = -inf
 *   grad_j = e_j (C_hi + C_lo)       C = c / S in double-double (1 / S as short_softmax's)
 * and at the target, -c rest / S where it is the row's unique max, else grad_t - c.
 */
LK_TARGET void LK_FN(ce_short)(const double *x, const int32_t *t, const double *c,
                                double *grad, ptrdiff_t rows, ptrdiff_t n, double *m_out,
                                double *nll)
{
    enum { GROUPS = LK_SHORT_ROWS / LK_W };
    double buf[LK_SHORT_N * LK_SHORT_ROWS];
    lk_vd m[GROUPS], hi[GROUPS], lo[GROUPS], top[GROUPS];
    lk_vd target[GROUPS], at_unique[GROUPS], c_hi[GROUPS], c_lo[GROUPS], cv[GROUPS];
    lk_vm unique[GROUPS];
    const ptrdiff_t groups = LK_FN(lanes_exp_sums_d)(x, n, buf, rows, n, grad != NULL, m_out,
                                                     m, hi, lo, top);
    const ptrdiff_t lanes = groups * LK_W;
    for (ptrdiff_t g = 0; g < groups; g++) {
        double tl[LK_W], xl[LK_W], cl[LK_W];
        for (ptrdiff_t j = 0; j < LK_W; j++) {          /* no target: x_t = m, c = 0 */
            ptrdiff_t r = g * LK_W + j;
            int has = r < rows && t[r] >= 0;
            tl[j] = has ? (double)t[r] : -1.0;
            xl[j] = has ? x[r * n + t[r]] : lk_lane(m[g], (int)j);
            cl[j] = has ? c[r] : 0.0;
        }
        lk_vd xt;
        memcpy(&target[g], tl, sizeof tl), memcpy(&xt, xl, sizeof xl), memcpy(&cv[g], cl, sizeof cl);
        lk_vd L_lo, L_hi = LK_FN(log_of_sum_v)(top[g], hi[g], lo[g], &L_lo);
        lk_vd dl, dh = lk_two_sum(m[g], -xt, &dl), e, a = lk_two_sum(dh, L_hi, &e);
        lk_vd v = lk_select(LK_MASK(dh == INFINITY), lk_splat(INFINITY), a + (e + (dl + L_lo)));
        for (ptrdiff_t j = 0; j < LK_W && g * LK_W + j < rows; j++)
            nll[g * LK_W + j] = lk_lane(v, (int)j);
        if (!grad) continue;
        lk_vd inv_lo, inv_hi = LK_FN(reciprocal_v)(top[g], hi[g], lo[g], &inv_lo);
        c_hi[g] = cv[g] * inv_hi;
        c_lo[g] = LK_FMA_EXACT(cv[g], inv_hi, -c_hi[g]) + cv[g] * inv_lo;
        lk_vd rest_lo, rest_hi = lk_two_sum(hi[g], lo[g], &rest_lo);
        at_unique[g] = -cv[g] * (rest_hi * inv_hi + (rest_lo * inv_hi + rest_hi * inv_lo));
        unique[g] = LK_MASK(top[g] == 1.0) & LK_MASK(xt == m[g]);
    }
    if (!grad) return;
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t g = 0; g < groups; g++) {
            double *p = buf + k * lanes + g * LK_W;
            lk_vd e = lk_load_d(p, LK_W, 0.0), d = LK_FMA(e, c_hi[g], e * c_lo[g]);
            lk_vd d_t = lk_select(unique[g], at_unique[g], d - cv[g]);
            lk_store_d(p, lk_select(LK_MASK(target[g] == (double)k), d_t, d), LK_W);
        }
    }
    for (ptrdiff_t g = 0; g < groups; g++)
        LK_LANES_TO_ROWSD(buf + g * LK_W, lanes, rows - g * LK_W, n, grad + g * LK_W * n, n);
}
#endif


/* One vector of smoothing_sums_of: the elements i .. i + wd into the compensated sums (A,
 * A_err) of q_j (m - x_j) and, with t, (T, T_err) of q_j */
LK_INLINE LK_TARGET void LK_FN(smoothing_step)(const LK_T *x, const LK_T *t, const double *w,
                                                ptrdiff_t i, ptrdiff_t wd, lk_vd mv, lk_vd keep,
                                                lk_vd share, lk_vd sums[4], const int with_t,
                                                const int with_w)
{
    lk_vd zero = lk_exp_k.zero;
    lk_vd q = with_t ? keep * LK_FN(load)(t + i, wd, 0.0) + share : lk_splat(1.0);
    if (with_w) q *= lk_load_d(w + i, wd, 1.0);
    lk_vd gap = mv - LK_FN(load)(x + i, wd, 0.0);
    lk_vd term = with_t || with_w ? lk_select(LK_MASK(q != 0.0), q * gap, zero) : gap;
    if (wd < LK_W) {                                /* the tail: no terms past the row */
        lk_vm live = LK_MASK(lk_exp_k.lane < (double)wd);
        term = lk_select(live, term, zero);
        q = lk_select(live, q, zero);
    }
    lk_vd sum = sums[0] + term, part = sum - sums[0];
    sums[1] += (sums[0] - (sum - part)) + (term - part);
    sums[0] = sum;
    if (with_t) {
        sum = sums[2] + q;
        part = sum - sums[2];
        sums[3] += (sums[2] - (sum - part)) + (q - part);
        sums[2] = sum;
    }
}

/* Label smoothing's sums over one row of n logits with max m. With q_j = (t ? (1 - eps) t_j +
 * eps / n : 1) * (w ? w_j : 1): sums[0] + sums[1] = sum of q_j (only with t: the caller knows
 * it otherwise), sums[2] + sums[3] = sum of q_j (m - x_j) over q_j != 0 (a class without mass
 * takes no part, even at x_j = -inf). Both compensated per lane (TwoSum), in two chains a
 * sum, as one TwoSum's latency per vector would bound the loop; their terms are >= 0 for q >=
 * 0, so neither cancels. with_t and with_w are constants at each call. */
LK_INLINE LK_TARGET void LK_FN(smoothing_sums_of)(const LK_T *x, const LK_T *t, const double *w,
                                                   ptrdiff_t n, double m, double eps,
                                                   double sums[4], const int with_t,
                                                   const int with_w)
{
    lk_vd zero = lk_splat(0.0), even[4] = {zero, zero, zero, zero};
    lk_vd odd[4] = {zero, zero, zero, zero};        /* A, A_err, T, T_err of each chain */
    lk_vd mv = lk_splat(m), keep = lk_splat(1.0 - eps), share = lk_splat(eps / (double)n);
    ptrdiff_t i = 0;
    for (; i + 2 * LK_W <= n; i += 2 * LK_W) {
        LK_FN(smoothing_step)(x, t, w, i, LK_W, mv, keep, share, even, with_t, with_w);
        LK_FN(smoothing_step)(x, t, w, i + LK_W, LK_W, mv, keep, share, odd, with_t, with_w);
    }
    for (; i < n; i += LK_W)
        LK_FN(smoothing_step)(x, t, w, i, lk_width(n, i), mv, keep, share, even, with_t,
                               with_w);
    sums[0] = LK_FN(lanes_total)(even[2], odd[2], even[3] + odd[3], &sums[1]);
    sums[2] = LK_FN(lanes_total)(even[0], odd[0], even[1] + odd[1], &sums[3]);
    if (!isfinite(sums[2])) {                   /* an inf term: the plain sum's answer */
        sums[2] = lk_lanes_sum(even[0] + odd[0]);
        sums[3] = 0.0;
    }
}

LK_TARGET void LK_FN(smoothing_sums)(const LK_T *x, const LK_T *t, const double *w,
                                      ptrdiff_t n, double m, double eps, double sums[4])
{
    if (t && w)
        LK_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 1, 1);
    else if (t)
        LK_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 1, 0);
    else if (w)
        LK_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 0, 1);
    else
        LK_FN(smoothing_sums_of)(x, t, w, n, m, eps, sums, 0, 0);
}

/* A row's soft targets: q_j = ((t ? (1 - eps) t_j : 0) + eps / n + (j == y ? 1 - eps : 0)) *
 * (w ? w_j : 1), t NULL for a class index y (else y = -1); the gradient s (T p_j - q_j);
 * e: exp(x_j - m) as exp_total kept them, or NULL (computed again) */
typedef struct {
    const LK_T *x, *t;
    const double *w, *e;
    ptrdiff_t n, y;
    double m, eps, s;
    lk_vd keep, share, m_v, s_v;        /* 1 - eps, eps / n, m and s in every lane */
} LK_FN(soft_row);

LK_INLINE LK_TARGET LK_FN(soft_row) LK_FN(soft_row_of)(const LK_T *x, const LK_T *t,
                                                       const double *w, const double *e,
                                                       ptrdiff_t n, ptrdiff_t y, double m,
                                                       double eps, double s)
{
    LK_FN(soft_row) row = {x, t, w, e, n, y, m, eps, s, lk_splat(1.0 - eps),
                            lk_splat(eps / (double)n), lk_splat(m), lk_splat(s)};
    return row;
}

/* q for the elements i .. i + wd of a row (0 past its end) */
LK_INLINE LK_TARGET lk_vd LK_FN(soft_q)(const LK_FN(soft_row) *row, ptrdiff_t i, ptrdiff_t wd)
{
    lk_vd q = row->t ? row->keep * LK_FN(load)(row->t + i, wd, 0.0) + row->share : row->share;
    lk_vd keep = row->keep;
    if (row->w) {
        lk_vd wv = lk_load_d(row->w + i, wd, 1.0);
        q *= wv;
        keep *= wv;
    }
    /* the target's q as the caller's T counts it: (1 - eps) w_y + eps / n w_y */
    if ((size_t)(row->y - i) < (size_t)wd)
        q += lk_select(LK_MASK(lk_exp_k.lane == (double)(row->y - i)), keep, lk_exp_k.zero);
    return wd < LK_W ? lk_select(LK_MASK(lk_exp_k.lane < (double)wd), q, lk_splat(0.0)) : q;
}

/* One vector of the gradient in double, o = (c_hi + c_lo) exp(x_j - m) - s q_j with c = s T /
 * S. *margin = |o| - 2^-25 |c e| is negative on the lanes that cancel below ~2^-26 of their
 * terms (|c e| and |s q| then within a hair of each other), where the double result's error
 * (~10 roundings of the terms, S's among them) may pass float's 4 ulp; NaN on none of them.
 * (float64's results are double's own: no margin.) */
LK_INLINE LK_TARGET lk_vd LK_FN(soft_grad_vec)(const LK_FN(soft_row) *row, ptrdiff_t i,
                                                ptrdiff_t wd, lk_vd c_hi, lk_vd c_lo,
                                                lk_vd *margin)
{
    lk_vd sq = row->s_v * LK_FN(soft_q)(row, i, wd);
    lk_vd e;
    if (row->e) {
        lk_vd kept = lk_load_d(row->e + i, wd, 0.0);
        e = c_hi * kept + c_lo * kept;          /* scaled_exp's arithmetic: the same bits */
    } else {
        e = LK_FN(scaled_exp)(LK_FN(load)(row->x + i, wd, row->m), row->m_v, c_hi, c_lo);
    }
    lk_vd o = e - sq;
#if !LK_IS_F64
    *margin = LK_FMA(LK_FN(abs)(e), lk_splat(-0x1p-25), LK_FN(abs)(o));
#else
    *margin = lk_exp_k.zero;
#endif
    return o;
}

#if !LK_IS_F64

/* hi + lo of a (p, p_lo) * (q, q_lo) product of double-double lanes, to ~2^-104 */
LK_INLINE LK_TARGET lk_vd LK_FN(dd_mul)(lk_vd p, lk_vd p_lo, lk_vd q, lk_vd q_lo, lk_vd *lo)
{
    lk_vd e, h = LK_FN(two_prod)(p, q, &e);
    *lo = e + (p * q_lo + p_lo * q);
    return h;
}

/* the lanes of tab at the indices idx (a table lookup; 0 <= idx < the table's length) */
LK_INLINE LK_TARGET lk_vd LK_FN(lookup)(const double *tab, lk_vm idx)
{
#if LK_W == 1
    return tab[idx];
#else
    lk_vd v;
    for (int l = 0; l < LK_W; l++) v[l] = tab[idx[l]];
    return v;
#endif
}

/* ln 2 / 64 = A + B + C: A has 32 significant bits (fdlibm's split of ln 2, over 64), so K A
 * is exact for |K| < 2^20 */
#define LK_LN2_64_A (0x1.62e42feep-1 / 64.0)
#define LK_LN2_64_B (0x1.a39ef35793c76p-33 / 64.0)
#define LK_LN2_64_C (0x1.cc01f97b57a08p-87 / 64.0)

/* e^(y + y_lo) as hi + *lo to ~2^-98 of itself (*lo is subnormal below y ~ -672: there
 * ~2^-64, of terms < 2^-960 of a row sum >= 1), for y in [-700, 89] and |y_lo| <= ulp(y):
 * the second tier of float32's soft-target gradients T p_j - q_j, which may cancel far below
 * double's reach (a model's softmax against its own rounding). y = K ln2 / 64 + r, K = 64 k +
 * j: e^y = 2^k 2^(j/64) e^r, the middle factor from a double-double table, |r| <= ln2 / 128
 * (y - K A exact: both are multiples of y's or A's last bit, and the difference is small).
 * e^r by Horner: r^i / i! for i = 6 .. 10 in double (below 2^-56 of e^r, so their rounding
 * stays under 2^-105; the first term left out, 2^-114), then i = 5 .. 0 in double-double,
 * where each coefficient outweighs the product it meets (FastTwoSum) */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_dd2)(lk_vd y, lk_vd y_lo, lk_vd *lo)
{
    lk_vd shifted = y * (64.0 * LK_LOG2E) + LK_SHIFTER, kd = shifted - LK_SHIFTER;
    lk_vm K = lk_bits(shifted) - lk_bits(lk_splat(LK_SHIFTER));
    lk_vd kb_err, kb = LK_FN(two_prod)(kd, lk_splat(LK_LN2_64_B), &kb_err);
    lk_vd r_lo, r = lk_two_sum(y - kd * LK_LN2_64_A, -kb, &r_lo);
    r = lk_two_sum(r, r_lo + (y_lo - (kb_err + kd * LK_LN2_64_C)), &r_lo);
    const double *inv = lk_inv_fact_hi;
    lk_vd ph = lk_splat(inv[10]), pl = lk_splat(0.0);
    for (int i = 9; i >= 6; i--) ph = LK_FMA(ph, r, lk_splat(inv[i]));
    for (int i = 5; i >= 0; i--) {
        lk_vd pe, p = LK_FN(two_prod)(r, ph, &pe);
        pe += r * pl + r_lo * ph;
        lk_vd c = lk_splat(inv[i]), sum = c + p;
        pl = (p - (sum - c)) + (pe + lk_inv_fact_lo[i]);
        ph = sum;
    }
    lk_vm j = K & 63;
    lk_vd t_lo, t = LK_FN(dd_mul)(LK_FN(lookup)(lk_exp2_64_hi, j),
                                   LK_FN(lookup)(lk_exp2_64_lo, j), ph, pl, &t_lo);
    lk_vd hi = t + t_lo, scale = lk_from_bits(((K >> 6) + 1023) << 52);     /* 2^k */
    *lo = (t_lo - (hi - t)) * scale;
    return hi * scale;
}

/* q of soft_q as double-doubles: keep = 1 - eps and share = eps / n as pairs (hi, lo) */
typedef struct { lk_vd keep[2], share[2]; } LK_FN(soft_parts);

LK_INLINE LK_TARGET lk_vd LK_FN(soft_q_dd)(const LK_FN(soft_row) *row, ptrdiff_t i,
                                            ptrdiff_t wd, const LK_FN(soft_parts) *c, lk_vd *lo)
{
    lk_vd zero = lk_exp_k.zero, qh = c->share[0], ql = c->share[1], e;
    if (row->t) {
        lk_vd tv = LK_FN(load)(row->t + i, wd, 0.0), kt_lo;
        lk_vd kt = LK_FN(dd_mul)(c->keep[0], c->keep[1], tv, zero, &kt_lo);
        qh = lk_two_sum(kt, qh, &e);
        ql += e + kt_lo;
    }
    if ((size_t)(row->y - i) < (size_t)wd) {
        lk_vm at = LK_MASK(lk_exp_k.lane == (double)(row->y - i));
        lk_vd sum = lk_two_sum(qh, lk_select(at, c->keep[0], zero), &e);
        ql += e + lk_select(at, c->keep[1], zero);
        qh = sum;
    }
    if (row->w) qh = LK_FN(dd_mul)(qh, ql, lk_load_d(row->w + i, wd, 1.0), zero, &ql);
    lk_vm live = LK_MASK(lk_exp_k.lane < (double)wd);
    *lo = lk_select(live, ql, zero);
    return lk_select(live, qh, zero);
}

/* exp(x_j - m) as double-doubles for elements i .. i + wd (0 past the end and below e^-700,
 * whose terms are < 2^-1000 of a sum >= 1) */
LK_INLINE LK_TARGET lk_vd LK_FN(soft_exp_dd)(const LK_FN(soft_row) *row, ptrdiff_t i,
                                              ptrdiff_t wd, lk_vd *lo)
{
    lk_vd dl, dh = lk_two_sum(LK_FN(load)(row->x + i, wd, -INFINITY), -row->m_v, &dl);
    lk_vm live = LK_MASK(dh >= -700.0);
    lk_vd el, eh = LK_FN(exp_dd2)(lk_select(live, dh, lk_splat(0.0)),
                                   lk_select(live, dl, lk_splat(0.0)), &el);
    *lo = lk_select(live, el, lk_splat(0.0));
    return lk_select(live, eh, lk_splat(0.0));
}

/* A row's double-double exps, kept from the S pass of soft_grad_dd for its second pass
 * (NULL when malloc fails: that pass computes them again) */
typedef struct { double *hi, *lo; } LK_FN(exp_cache);

LK_INLINE LK_TARGET void LK_FN(cache_put)(LK_FN(exp_cache) *c, ptrdiff_t i, ptrdiff_t wd,
                                           lk_vd hi, lk_vd lo)
{
    if (c->hi) lk_store_d(c->hi + i, hi, wd), lk_store_d(c->lo + i, lo, wd);
}

LK_INLINE LK_TARGET lk_vd LK_FN(cached_exp_dd)(const LK_FN(exp_cache) *c,
                                                const LK_FN(soft_row) *row, ptrdiff_t i,
                                                ptrdiff_t wd, lk_vd *lo)
{
    if (!c->hi) return LK_FN(soft_exp_dd)(row, i, wd, lo);
    *lo = lk_load_d(c->lo + i, wd, 0.0);
    return lk_load_d(c->hi + i, wd, 0.0);
}

/* The row's deep lanes (soft_grad_vec) again in double-double: S = sum exp(x_j - m) and T =
 * sum q_j from soft_exp_dd and soft_q_dd, C = s T / S, and C e_j - s q_j rounded once (~2^-98
 * of the terms: within 4 ulp of a float result down to ~2^-74 of them). Runs once for a row
 * with a deep lane: a pass of double-double exps over the row (kept for the next), then the
 * double pass again, redoing its deep lanes. */
static LK_NOINLINE LK_TARGET void LK_FN(soft_grad_dd)(const LK_FN(soft_row) *row,
                                                        double c_hi, double c_lo, LK_T *g)
{
    lk_vd zero = lk_splat(0.0), S = zero, S1 = zero, S_err = zero, T = zero, T_err = zero;
    lk_vd e, e1, lo, lo1;
    lk_dd keep = lk_dd_two_sum(1.0, -row->eps);
    lk_dd share = lk_dd_div_int((lk_dd){row->eps, 0.0}, (double)row->n);
    LK_FN(soft_parts) parts = {{lk_splat(keep.hi), lk_splat(keep.lo)},
                                {lk_splat(share.hi), lk_splat(share.lo)}};
    LK_FN(exp_cache) cache = {malloc(2 * (size_t)row->n * sizeof(double)), NULL};
    if (cache.hi) cache.lo = cache.hi + row->n;
    ptrdiff_t i = 0;
    /* two vectors a step: the exps' Horner chains are long and serial */
    for (; i + 2 * LK_W <= row->n; i += 2 * LK_W) {
        lk_vd hi = LK_FN(soft_exp_dd)(row, i, LK_W, &lo);
        lk_vd hi1 = LK_FN(soft_exp_dd)(row, i + LK_W, LK_W, &lo1);
        LK_FN(cache_put)(&cache, i, LK_W, hi, lo);
        LK_FN(cache_put)(&cache, i + LK_W, LK_W, hi1, lo1);
        S = lk_two_sum(S, hi, &e);
        S1 = lk_two_sum(S1, hi1, &e1);
        S_err += (e + lo) + (e1 + lo1);
        hi = LK_FN(soft_q_dd)(row, i, LK_W, &parts, &lo);
        hi1 = LK_FN(soft_q_dd)(row, i + LK_W, LK_W, &parts, &lo1);
        T = lk_two_sum(T, hi, &e);
        T_err += e + lo;
        T = lk_two_sum(T, hi1, &e);
        T_err += e + lo1;
    }
    for (; i < row->n; i += LK_W) {
        ptrdiff_t wd = lk_width(row->n, i);
        lk_vd hi = LK_FN(soft_exp_dd)(row, i, wd, &lo);
        LK_FN(cache_put)(&cache, i, wd, hi, lo);
        S = lk_two_sum(S, hi, &e);
        S_err += e + lo;
        hi = LK_FN(soft_q_dd)(row, i, wd, &parts, &lo);
        T = lk_two_sum(T, hi, &e);
        T_err += e + lo;
    }
    double S_lo, S_hi = LK_FN(lanes_total)(S, S1, S_err, &S_lo);
    double T_lo, T_hi = LK_FN(lanes_total)(T, zero, T_err, &T_lo);
    /* C = s T / S: the quotient, then its remainder's (fma: exact) */
    double a_hi = row->s * T_hi, a_lo = fma(row->s, T_hi, -a_hi) + row->s * T_lo;
    double q1 = a_hi / S_hi, q2 = ((fma(-q1, S_hi, a_hi) + a_lo) - q1 * S_lo) / S_hi;
    lk_vd C = lk_splat(q1 + q2), C_lo = lk_splat(q2 - ((q1 + q2) - q1));
    lk_vd ch = lk_splat(c_hi), cl = lk_splat(c_lo), s = row->s_v;
    for (ptrdiff_t i = 0; i < row->n; i += LK_W) {
        ptrdiff_t wd = lk_width(row->n, i);
        lk_vd margin, o = LK_FN(soft_grad_vec)(row, i, wd, ch, cl, &margin);
        lk_vm deep = LK_MASK(margin < 0.0);
        if (LK_ANY(deep)) {
            lk_vd e_lo, e_hi = LK_FN(cached_exp_dd)(&cache, row, i, wd, &e_lo);
            lk_vd q_lo, q_hi = LK_FN(soft_q_dd)(row, i, wd, &parts, &q_lo);
            lk_vd p_lo, p = LK_FN(dd_mul)(C, C_lo, e_hi, e_lo, &p_lo);
            lk_vd sq_lo, sq = LK_FN(dd_mul)(s, zero, q_hi, q_lo, &sq_lo);
            lk_vd d_lo, d = lk_two_sum(p, -sq, &d_lo);
            lk_vd fixed = d + (d_lo + (p_lo - sq_lo));
            o = lk_select(deep & LK_MASK(fixed - fixed == 0.0), fixed, o);
        }
        LK_FN(store)(g + i, o, wd);
    }
    free(cache.hi);
}
#endif

/* The gradient of a row under label smoothing or soft targets: s (T p_j - q_j), q_j as in
 * soft_row, (c_hi + c_lo) = s T / S (S the double sum of exp(x_j - m), whose terms e, if not
 * NULL, exp_total kept). In double lanes and rounded once, as T p_j - q_j may cancel; float32
 * rows with a lane that cancels below 2^-26 of its terms go through soft_grad_dd. */
LK_TARGET void LK_FN(smoothing_grad)(const LK_T *x, const LK_T *t, const double *w,
                                      const double *e, ptrdiff_t n, ptrdiff_t y, double m,
                                      double eps, double c_hi, double c_lo, double s, LK_T *g)
{
    LK_FN(soft_row) row = LK_FN(soft_row_of)(x, t, w, e, n, y, m, eps, s);
    lk_vd ch = lk_splat(c_hi), cl = lk_splat(c_lo);
    lk_vd margin, least = lk_exp_k.zero;
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t wd = lk_width(n, i);
        LK_FN(store)(g + i, LK_FN(soft_grad_vec)(&row, i, wd, ch, cl, &margin), wd);
        least = LK_MIND(margin, least);         /* a NaN margin keeps least */
    }
#if !LK_IS_F64
    if (LK_UNLIKELY(LK_ANY(LK_MASK(least < 0.0)))) LK_FN(soft_grad_dd)(&row, c_hi, c_lo, g);
#else
    (void)least;
#endif
}
