
/* ---- nll_loss: the per-sample losses -w lp and their exact sums ----
 *
 * The caller has gathered each sample's log-probability of its target class (lp) and that
 * class's weight (w; 0 for an ignored sample). Each loss is one product, formed exactly as a
 * double-double (an exact residual, FMA or Dekker's split), rounded once to the storage type;
 * the losses and the weights are summed in lanes with TwoSum, so the sums carry about twice
 * the working precision whatever their length. A non-finite product or sum keeps its IEEE
 * value (its residual counts 0). sums[] = {loss hi, loss lo, weight hi, weight lo}. */

/* err where v is finite, else 0 (inf - inf residuals are NaN) */
LK_INLINE LK_TARGET lk_vd LK_FN(finite_residual)(lk_vd v, lk_vd err)
{
    return lk_select(LK_MASK(v - v == 0.0) & LK_MASK(err - err == 0.0), err, lk_splat(0.0));
}

LK_TARGET void LK_FN(nll_terms)(const LK_T *lp, const double *w, LK_T *loss, ptrdiff_t n,
                                double *sums)
{
    lk_vd lh = lk_splat(0.0), ll = lk_splat(0.0), wh = lk_splat(0.0), wl = lk_splat(0.0);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t width = lk_width(n, i);
        lk_vd v = LK_FN(load)(lp + i, width, 0.0);
        lk_vd wv = lk_load_d(w + i, width, 0.0);
        lk_vd p = -(wv * v);
        lk_vd p_lo = LK_FN(finite_residual)(p, -LK_FMA_EXACT(wv, v, p));  /* p + p_lo == -w v */
        LK_FN(store)(loss + i, p, width);
        lk_vd e;
        lh = lk_two_sum(lh, p, &e);
        ll += LK_FN(finite_residual)(lh, e) + p_lo;
        wh = lk_two_sum(wh, wv, &e);
        wl += LK_FN(finite_residual)(wh, e);
    }
    /* the lanes, in order, by TwoSum */
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    for (int j = 0; j < LK_W; j++) {
        double a = s[0] + lk_lane(lh, j);
        double bv = a - s[0];
        double e = (s[0] - (a - bv)) + (lk_lane(lh, j) - bv);
        s[1] += (e - e == 0.0 ? e : 0.0) + lk_lane(ll, j);
        s[0] = a;
        a = s[2] + lk_lane(wh, j);
        bv = a - s[2];
        e = (s[2] - (a - bv)) + (lk_lane(wh, j) - bv);
        s[3] += (e - e == 0.0 ? e : 0.0) + lk_lane(wl, j);
        s[2] = a;
    }
    for (int j = 0; j < 4; j++) sums[j] = s[j];
}
