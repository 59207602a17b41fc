
/* ---- sparsemax (Martins & Astudillo 2016): the Euclidean projection of a row onto the
 * probability simplex, p = max(z - tau, 0) with sum(p) = 1, and its vector-Jacobian product.
 *
 * tau: only entries above max - 1 can be in the support (p_i <= 1, so tau >= max - 1), so those
 * candidates alone are sorted (descending, O(c log c); shifted by a large max, exactly); the
 * support is the longest prefix with 1 + j z_(j) > S_j (S_j the sum of the first j), and
 * tau = (S_k - 1) / k. S_j, j z_(j) and
 * the test are carried as double-doubles: an exact tie (z_(j) == tau_j, which changes no
 * output) is decided exactly, and tau is known to about 2^-104 of the candidates' magnitude,
 * so each p_i = (z_i - tau_hi) - tau_lo is rounded about once. Edges as softmax's: a row with
 * NaN or +inf, or of only -inf, is NaN (0 where the -inf come from a `where` mask, masked);
 * -inf entries get 0. Both storage types run in double. */

static int LK_FN(descending)(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u < v) - (u > v);
}

/* s + e == a + b exactly (TwoSum), scalar */
LK_INLINE double LK_FN(two_sum1)(double a, double b, double *e)
{
    double s = a + b, bv = s - a;
    *e = (a - (s - bv)) + (b - bv);
    return s;
}

/* tau of one row as th + tl; 0 when the row is NaN (fill set), else 1 */
LK_INLINE int LK_FN(sparsemax_tau)(const LK_T *x, ptrdiff_t n, int masked, double *scratch,
                                   double *th, double *tl, double *fill)
{
    double m = -INFINITY;
    int bad = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        double v = (double)x[i];
        bad |= (v != v) | (v == INFINITY);
        m = v > m ? v : m;
    }
    if (bad || m == -INFINITY) {
        *fill = (bad || !masked) ? NAN : 0.0;
        return 0;
    }
    double floor_ = nextafter(m - 1.0, -INFINITY);     /* below max - 1, whatever its rounding */
    /* sparsemax(z - c) = sparsemax(z): the candidates, within 1 of max, shifted by a large max
     * exactly (Sterbenz) so that their sums cannot overflow */
    double shift = fabs(m) >= 2.0 ? m : 0.0;
    ptrdiff_t c = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        if ((double)x[i] > floor_) scratch[c++] = (double)x[i] - shift;
    qsort(scratch, (size_t)c, sizeof(double), LK_FN(descending));
    double sh = 0.0, sl = 0.0, kh = 0.0, kl = 0.0, k = 0.0;
    for (ptrdiff_t j = 1; j <= c; j++) {
        double z = scratch[j - 1], e;
        sh = LK_FN(two_sum1)(sh, z, &e);
        sl += e;
        /* D = j z - S_j + 1, its sign from a double-double */
        double ph = (double)j * z, pl = fma((double)j, z, -ph);
        double al, ah = LK_FN(two_sum1)(ph, -sh, &al);
        double bl, bh = LK_FN(two_sum1)(ah, 1.0, &bl);
        if (!(bh + (((bl + al) + pl) - sl) > 0.0)) break;      /* the test holds on a prefix */
        k = (double)j, kh = sh, kl = sl;
    }
    double nl, nh = LK_FN(two_sum1)(kh, -1.0, &nl);
    nl += kl;
    double qh = nh / k, ql = (fma(-qh, k, nh) + nl) / k, e;
    *th = LK_FN(two_sum1)(shift, qh, &e);
    *tl = e + ql;
    return 1;
}

LK_TARGET void LK_FN(sparsemax_rows)(const LK_T *x, LK_T *out, ptrdiff_t rows, ptrdiff_t n,
                                     int masked, double *scratch)
{
    for (ptrdiff_t r = 0; r < rows; r++) {
        const LK_T *xr = x + r * n;
        LK_T *yr = out + r * n;
        double th, tl, fill;
        if (!LK_FN(sparsemax_tau)(xr, n, masked, scratch, &th, &tl, &fill)) {
            for (ptrdiff_t i = 0; i < n; i++) yr[i] = (LK_T)fill;
            continue;
        }
        for (ptrdiff_t i = 0; i < n; i += LK_W) {
            ptrdiff_t w = lk_width(n, i);
            lk_vd e, d = lk_two_sum(LK_FN(load)(xr + i, w, -INFINITY), lk_splat(-th), &e);
            lk_vd p = d + (e - tl);                        /* -inf: NaN, then 0 below */
            LK_FN(store)(yr + i, lk_select(LK_MASK(p > 0.0), p, lk_splat(0.0)), w);
        }
    }
}

/* grad_in = s * (g - mean of g over the support), s = (y > 0): the mean as a double-double
 * (compensated sum, exact residual of the division), each difference rounded once. A row of y
 * with NaN gives NaN. */
LK_TARGET void LK_FN(sparsemax_bwd_rows)(const LK_T *g, const LK_T *y, LK_T *out,
                                         ptrdiff_t rows, ptrdiff_t n)
{
    for (ptrdiff_t r = 0; r < rows; r++) {
        const LK_T *gr = g + r * n, *yr = y + r * n;
        LK_T *outr = out + r * n;
        lk_vd hi = lk_splat(0.0), lo = lk_splat(0.0), cnt = lk_splat(0.0);
        lk_vm nan = LK_MASK(hi != hi);
        for (ptrdiff_t i = 0; i < n; i += LK_W) {
            ptrdiff_t w = lk_width(n, i);
            lk_vd yv = LK_FN(load)(yr + i, w, 0.0), gv = LK_FN(load)(gr + i, w, 0.0);
            lk_vm in = LK_MASK(yv > 0.0);
            nan |= LK_MASK(yv != yv);
            lk_vd e;
            hi = lk_two_sum(hi, lk_select(in, gv, lk_splat(0.0)), &e);
            lo += lk_select(LK_MASK(e - e == 0.0), e, lk_splat(0.0));
            cnt += lk_select(in, lk_splat(1.0), lk_splat(0.0));
        }
        double sh = 0.0, sl = 0.0, k = 0.0;
        for (int j = 0; j < LK_W; j++) {
            double e;
            sh = LK_FN(two_sum1)(sh, lk_lane(hi, j), &e);
            sl += (e - e == 0.0 ? e : 0.0) + lk_lane(lo, j);
            k += lk_lane(cnt, j);
        }
        if (LK_ANY(nan)) {
            for (ptrdiff_t i = 0; i < n; i++) outr[i] = (LK_T)NAN;
            continue;
        }
        double mh = k > 0.0 ? sh / k : 0.0;
        double ml = k > 0.0 ? (fma(-mh, k, sh) + sl) / k : 0.0;
        if (!(mh - mh == 0.0)) ml = 0.0;                  /* an infinite or NaN mean stays */
        for (ptrdiff_t i = 0; i < n; i += LK_W) {
            ptrdiff_t w = lk_width(n, i);
            lk_vd yv = LK_FN(load)(yr + i, w, 0.0), gv = LK_FN(load)(gr + i, w, 0.0);
            lk_vd e, d = lk_two_sum(gv, lk_splat(-mh), &e);
            lk_vd v = lk_select(LK_MASK(d - d == 0.0), d + (e - ml), d);
            LK_FN(store)(outr + i, lk_select(LK_MASK(yv > 0.0), v, lk_splat(0.0)), w);
        }
    }
}
