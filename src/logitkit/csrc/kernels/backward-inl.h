/* The vector-Jacobian products: softmax_backward, log_softmax_backward (with the exact tier for
 * the lanes that cancel) and sigmoid_backward. */
/* log_softmax_backward's lanes where e^y is near 1 (|y| < ln2/2: the top class of a
 * confident row, whose NLL gradient is (1 - e^y) / N with y ~ -1e-18, and e^y's rounding to
 * 1 would leave 0): (g - S) - expm1(y) S in place of o, g - S exact (TwoSum), expm1 as
 * exp_poly with k = 0 (e^r - 1 to ~1 ulp of itself for |r| <= ln2/2). Other lanes keep o; a
 * vector without such a lane costs two compares. */
LK_INLINE LK_TARGET lk_vm LK_FN(near_one)(lk_vd y)
{
    return LK_MASK(y < LK_HALF_LN2) & LK_MASK(y > -LK_HALF_LN2);
}

LK_INLINE LK_TARGET lk_vd LK_FN(near_one_fix)(lk_vd o, lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    lk_vm near = LK_FN(near_one)(y);
    if (!LK_ANY(near)) return o;
    lk_vd em1 = LK_FN(exp_poly)(lk_select(near, y, lk_splat(0.0)), &lk_exp_k);
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    lk_vd pe, p = LK_FN(two_prod)(em1, s_hi, &pe);
    pe = LK_FMA(em1, s_lo, pe);
    lk_vd rl, rh = lk_two_sum(dh, -p, &rl);
    lk_vd fixed = rh + (rl + ((dl - s_lo) - pe));
    /* an inf or NaN in g or S: the plain form's result */
    lk_vm finite = LK_MASK(fixed - fixed == 0.0);
    return lk_select(near & finite, fixed, o);
}

/* |v|: the sign bit cleared (one instruction, where a select costs a compare and a blend) */
LK_INLINE LK_TARGET lk_vd LK_FN(abs)(lk_vd v)
{
    return lk_from_bits(lk_bits(v) & INT64_MAX);
}

/* One vector of softmax_backward: y (g - s), s = s_hi + s_lo; g - s_hi exact (TwoSum); where
 * g - s_hi is +-inf or NaN (g or s infinite), the plain y (g - s_hi), as TwoSum's error term
 * met inf - inf */
LK_INLINE LK_TARGET lk_vd LK_FN(softmax_bwd_vec)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    return lk_select(LK_MASK(dh - dh == 0.0), LK_FMA(y, dh, y * (dl - s_lo)), y * dh);
}

#if !LK_IS_F64

/* e^y = 2^k (1 + m) for float y in double lanes, k in *k, m + *m_lo to ~2^-61 of 1 + m and
 * of m itself (measured 2^-61.1 and 2^-60.8; the near-one form needs m to its own digits):
 * y - k ln2 as r + r_lo with the three-part ln2 of double_double.h (k A and y - k A exact for float
 * y), m = r + r^2/2 + r^3/6 in double-double, the series' tail r^4/24 .. r^17/17! in double,
 * then (1 + m)(1 + r_lo) - 1. */
LK_INLINE LK_TARGET lk_vd LK_FN(expm1_reduced)(lk_vd y, lk_vd *k, lk_vd *m_lo)
{
    lk_vd kd = (y * LK_LOG2E + LK_SHIFTER) - LK_SHIFTER;
    lk_vd kb_err, kb = LK_FN(two_prod)(kd, lk_splat(LK_DD_LN2_B), &kb_err);
    lk_vd r_lo, r = lk_two_sum(y - kd * LK_DD_LN2_A, -kb, &r_lo);
    r_lo -= kb_err + kd * LK_DD_LN2_C;
    lk_vd sq_lo, sq = LK_FN(two_prod)(r, r, &sq_lo);
    lk_vd cu_lo, cu = LK_FN(two_prod)(r, sq, &cu_lo);
    cu_lo += r * sq_lo;
    lk_vd c6 = cu / 6.0, c6x6_err, c6x6 = LK_FN(two_prod)(c6, lk_splat(6.0), &c6x6_err);
    lk_vd c6_lo = (((cu - c6x6) - c6x6_err) + cu_lo) / 6.0;   /* cu - c6x6 exact (Sterbenz) */
    lk_vd tail = lk_splat(lk_inv_fact_hi[17]);
    for (int j = 16; j >= 4; j--) tail = LK_FMA(tail, r, lk_splat(lk_inv_fact_hi[j]));
    tail *= sq * sq;
    lk_vd t, t2, m = lk_two_sum(r, 0.5 * sq, &t);
    m = lk_two_sum(m, c6, &t2);
    t += t2 + (0.5 * sq_lo + c6_lo + tail);
    t += r_lo + m * r_lo;
    lk_vd hi = m + t;
    *m_lo = t - (hi - m);
    *k = kd;
    return hi;
}

/* g - e^y S in double-double lanes (e^y to ~2^-61, from expm1_reduced), as (g - S) - m S where
 * k = 0 (e^y near 1); *term gets the magnitude it was computed against */
LK_INLINE LK_TARGET lk_vd LK_FN(log_softmax_bwd_dd)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo,
                                                     lk_vd *term)
{
    lk_vd k, m_lo, m = LK_FN(expm1_reduced)(y, &k, &m_lo);
    lk_vm near = LK_MASK(k == 0.0);
    lk_vd e_lo, e = lk_two_sum(lk_splat(1.0), m, &e_lo), scale = lk_pow2i(k);
    lk_vd f = lk_select(near, m, e * scale);
    lk_vd f_lo = lk_select(near, m_lo, (e_lo + m_lo) * scale);
    lk_vd dl, dh = lk_two_sum(g, -s_hi, &dl);
    dh = lk_select(near, dh, g);
    dl = lk_select(near, dl - s_lo, lk_splat(0.0));
    lk_vd pe, p = LK_FN(two_prod)(f, s_hi, &pe);
    pe += f * s_lo + f_lo * s_hi;
    lk_vd ol, oh = lk_two_sum(dh, -p, &ol);
    *term = LK_FN(abs)(dh) + LK_FN(abs)(p);
    return oh + (ol + (dl - pe));
}

/* The magnitude a double g - e S is computed against: |e S|, or where e^y is near 1 the
 * near-one form's terms, |g - S| + |y S| */
LK_INLINE LK_TARGET lk_vd LK_FN(bwd_terms)(lk_vd g, lk_vd y, lk_vd e, lk_vd s_hi)
{
    lk_vd term = LK_FN(abs)(e * s_hi);
    lk_vm near = LK_FN(near_one)(y);
    if (!LK_ANY(near)) return term;
    return lk_select(near, LK_FN(abs)(g - s_hi) + LK_FN(abs)(y * s_hi), term);
}

/* Lanes of o = g - e S that cancel below 2^-28.5 of their terms, where the double result's
 * error (e's ~1.4 * 2^-53 and two roundings: 3.4 * 2^-53 of the terms) may pass 3.5 ulp of a
 * float: the vector again in double-double lanes (log_softmax_bwd_dd), and the lanes still
 * below 2^-35 of their terms in scalar double-double (lk_dd_log_softmax_bwd, ~2^-102; with S
 * and the product in double-double, results stay within 4 ulp to ~2^-84 of the terms).
 * Cancelling lanes of random data reach one about once in 2^28 elements, g built from e^y S
 * itself (rounded to float) one lane in 11. */
LK_NOINLINE static LK_TARGET lk_vd LK_FN(deep_fix)(lk_vd o, lk_vd g, lk_vd y, lk_vd e,
                                                     lk_vd s_hi, lk_vd s_lo)
{
    lk_vd term = LK_FN(bwd_terms)(g, y, e, s_hi);
    lk_vm deep = LK_MASK(o * o < 0x1p-57 * (term * term));
    if (!LK_ANY(deep)) return o;
    lk_vd term2, o2 = LK_FN(log_softmax_bwd_dd)(g, y, s_hi, s_lo, &term2);
    o = lk_select(deep, o2, o);
    lk_vm deeper = deep & LK_MASK(o2 * o2 < 0x1p-70 * (term2 * term2));
    if (!LK_ANY(deeper)) return o;
    double ob[LK_W], gb[LK_W], yb[LK_W], hb[LK_W], lb[LK_W];
    int64_t db[LK_W];
    memcpy(ob, &o, sizeof ob), memcpy(gb, &g, sizeof gb), memcpy(yb, &y, sizeof yb);
    memcpy(hb, &s_hi, sizeof hb), memcpy(lb, &s_lo, sizeof lb), memcpy(db, &deeper, sizeof db);
    for (int j = 0; j < LK_W; j++)
        if (db[j]) ob[j] = lk_dd_log_softmax_bwd(gb[j], yb[j], hb[j], lb[j]);
    memcpy(&o, ob, sizeof o);
    return o;
}

/* One vector of log_softmax_backward for float32 data: g - e S, e = exp(y), S = s_hi + s_lo,
 * in double with e from exp_dd, the near-one form where e^y ~ 1, deep_fix where the terms
 * cancel below double's reach; y already clamped to [LK_EXP_FLOOR_LP, 88] */
LK_INLINE LK_TARGET lk_vd LK_FN(log_softmax_bwd_of)(lk_vd g, lk_vd y, lk_vd e, lk_vd s_hi,
                                                     lk_vd s_lo)
{
    lk_vd o = LK_FN(near_one_fix)(g - e * (s_hi + s_lo), g, y, s_hi, s_lo);
    /* out of line past a first test against |e S| (which near-one lanes, whose terms are
     * smaller, may pass without being deep: deep_fix tests them again) */
    lk_vd term = e * s_hi;
    if (LK_UNLIKELY(LK_ANY(LK_MASK(o * o < 0x1p-57 * (term * term)))))
        o = LK_FN(deep_fix)(o, g, y, e, s_hi, s_lo);
    return o;
}

LK_INLINE LK_TARGET lk_vd LK_FN(log_softmax_bwd_vec)(lk_vd g, lk_vd y, lk_vd s_hi, lk_vd s_lo)
{
    return LK_FN(log_softmax_bwd_of)(g, y, LK_FN(exp_dd)(y, lk_splat(0.0)), s_hi, s_lo);
}
#endif

/* out = y * (g - s), s = s_hi + s_lo */
LK_INLINE LK_TARGET void LK_FN(softmax_bwd_exact)(const LK_T *g, const LK_T *y, LK_T *out,
                                                   ptrdiff_t n, double s_hi, double s_lo)
{
    lk_vd sh = lk_splat(s_hi), sl = lk_splat(s_lo);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, 0.0);
        LK_FN(store)(out + i, LK_FN(softmax_bwd_vec)(gv, yv, sh, sl), w);
    }
}

#if LK_IS_F64
/* e^x for x in [-708, 709], its result normal: one rounding (the normal finish) */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_normal)(lk_vd x)
{
    return LK_FN(exp_finish_normal)(LK_FN(exp_reduce)(x, lk_splat(0.0), lk_exp_k.shifter_normal,
                                                      &lk_exp_k), &lk_exp_k);
}

/* e^y for y > 0 (an output that is no log-probability), where exp_dd's scaling (for results
 * <= 1) does not reach: exp_normal up to 709, e^709 e^(y - 709) beyond (two roundings; inf
 * past the double range and for y = inf, as e^(y - 709) is taken at 2 at most) */
LK_INLINE LK_TARGET lk_vd LK_FN(exp_above_zero)(lk_vd y)
{
    lk_vm beyond = LK_MASK(y > 709.0);
    lk_vd e = LK_FN(exp_normal)(lk_select(beyond, lk_splat(709.0), y));
    if (!LK_ANY(beyond)) return e;
    lk_vd rest = lk_select(beyond, y - 709.0, lk_splat(0.0));
    lk_vd scale = LK_FN(exp_normal)(lk_select(LK_MASK(rest > 2.0), lk_splat(2.0), rest));
    return lk_select(beyond, e * scale, e);
}
#endif

/* out = g - exp(y) * S, S = s_hi + s_lo, with exp in double (near_one_fix where e^y ~ 1) */
LK_INLINE LK_TARGET void LK_FN(log_softmax_bwd_exact)(const LK_T *g, const LK_T *y, LK_T *out,
                                                       ptrdiff_t n, double s_hi, double s_lo)
{
    lk_vd sh = lk_splat(s_hi), sl = lk_splat(s_lo);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, -1.0);
#if LK_IS_F64
        yv = lk_clamp_below(yv, LK_EXP_FLOOR);
        lk_vm above = LK_MASK(yv > 0.0);
        lk_vd e = LK_FN(exp_dd)(lk_select(above, lk_splat(0.0), yv), lk_splat(0.0));
        if (LK_ANY(above)) e = lk_select(above, LK_FN(exp_above_zero)(yv), e);
        lk_vd pe, p = LK_FN(two_prod)(e, sh, &pe);
        pe = LK_FMA(e, sl, pe);
        lk_vd de, d = lk_two_sum(gv, -p, &de);
        /* where p or g - p is +-inf, the plain difference (the error terms met inf - inf) */
        lk_vd o = lk_select(LK_MASK(d - d == 0.0), d + (de - pe), gv - p);
        LK_FN(store)(out + i, LK_FN(near_one_fix)(o, gv, yv, sh, sl), w);
#else
        yv = lk_clamp_below(yv, LK_EXP_FLOOR_LP);
        yv = lk_select(LK_MASK(yv > 88.0), lk_splat(88.0), yv);
        LK_FN(store)(out + i, LK_FN(log_softmax_bwd_vec)(gv, yv, sh, sl), w);
#endif
    }
}

#if !LK_IS_F64
/*
 * float32 rows in float lanes, each with a certificate: the fast function returns 0, having
 * decided nothing, when its error bound does not hold for the row, and the caller then takes
 * the exact double path above (which overwrites out). Rows with a non-finite element always
 * do (their sums are not finite), so the fast paths see finite data only.
 */

/* One step of dot_plain: w0 + w1 elements (tails padded with 0) into 4 double chains and, as
 * |g y|, 2 float chains; y == NULL reads as all ones (a constant at every call: inlined away).
 * fma(g, 1, s) and fma(|g|, 1, a) round exactly as the adds s + g and a + |g|. Whole vectors
 * are widened straight from memory, half by half (no shuffle for the top halves). */
LK_INLINE LK_TARGET void LK_FN(dot_step)(const float *g, const float *y, ptrdiff_t w0,
                                          ptrdiff_t w1, lk_vd s[4], lk_vf8 a[2])
{
    lk_vf8 one = lk_splatf(1.0f);
    lk_vf8 g0 = LK_LOADF(g, w0, 0.0f), y0 = y ? LK_LOADF(y, w0, 0.0f) : one;
    lk_vf8 g1 = LK_LOADF(g + w0, w1, 0.0f), y1 = y ? LK_LOADF(y + w0, w1, 0.0f) : one;
    lk_vd gl, gh, yl, yh, one_d = lk_splat(1.0);
    if (w0 == LK_WF) LK_LOAD_WIDEN_F8(g, gl, gh);
    else LK_WIDEN_F8(g0, gl, gh);
    if (!y) yl = yh = one_d;
    else if (w0 == LK_WF) LK_LOAD_WIDEN_F8(y, yl, yh);
    else LK_WIDEN_F8(y0, yl, yh);
    s[0] = LK_FMA(gl, yl, s[0]);
    s[1] = LK_FMA(gh, yh, s[1]);
    if (w1 == LK_WF) LK_LOAD_WIDEN_F8(g + w0, gl, gh);
    else LK_WIDEN_F8(g1, gl, gh);
    if (!y) yl = yh = one_d;
    else if (w1 == LK_WF) LK_LOAD_WIDEN_F8(y + w0, yl, yh);
    else LK_WIDEN_F8(y1, yl, yh);
    s[2] = LK_FMA(gl, yl, s[2]);
    s[3] = LK_FMA(gh, yh, s[3]);
    a[0] = LK_FMAF(lk_absf(g0), lk_absf(y0), a[0]);
    a[1] = LK_FMAF(lk_absf(g1), lk_absf(y1), a[1]);
}

/* The lanes of 4 double chains, and of 2 float chains into *abs_sum, added as trees */
LK_INLINE LK_TARGET double LK_FN(chains_total)(const lk_vd s[4], const lk_vf8 a[2],
                                                double *abs_sum)
{
    *abs_sum = LK_LANES_SUMF(a[0] + a[1]);
    return LK_LANES_SUMD((s[0] + s[1]) + (s[2] + s[3]));
}

/* The error bound of chains_total's sum: no product meets more than n/16 + 5 roundings (a chain
 * of m elements rounds m - 1 times: its first add, to 0, and a pad's add of 0 are exact).
 * LK_W = 4 (AVX2, the GCC baseline): 16 chains of <= ceil(n/16) elements, then a tree of
 * depth 4 (n/16 + 4). AVX-512: 32 chains of <= ceil(n/32) elements (ceil(n/32) + 4 <= n/16 +
 * 5), or < n/32 + 2 with the aligning step (n >= 64 only), then a tree of depth 5 (n/32 + 6
 * <= n/16 + 5 for n >= 32). The float sum of the magnitudes is doubled, which bounds it for
 * n < 2^22. */
LK_INLINE double LK_FN(plain_sum_error)(ptrdiff_t n, double abs_sum)
{
#if LK_W < 4
    /* one-lane vectors (compilers without GCC's vector extensions, MSVC): fewer chains than
     * the count above assumes, so no better bound than n roundings a product */
    return ((double)n + 5.0) * 0x1p-53 * (2.0 * abs_sum);
#else
    return ((double)n / 16.0 + 5.0) * 0x1p-53 * (2.0 * abs_sum);
#endif
}

/* sum(g * y) in plain double sums (the float products are exact in double), and sum(|g y|);
 * y == NULL: sum(g) and sum(|g|) */
LK_INLINE LK_TARGET double LK_FN(dot_plain)(const float *g, const float *y, ptrdiff_t n,
                                             double *abs_sum)
{
    lk_vd s[4] = {lk_splat(0.0), lk_splat(0.0), lk_splat(0.0), lk_splat(0.0)};
    lk_vf8 a[2] = {lk_splatf(0.0f), lk_splatf(0.0f)};
    /* up to g's vector boundary first (AVX-512; for n >= 64, which plain_sum_error's bound
     * allows): whole vectors then load from one cache line each */
    ptrdiff_t i = n >= 64 ? LK_TO_ALIGNF(g) : 0;
    if (i) LK_FN(dot_step)(g, y, i, 0, s, a);
    for (; i + 2 * LK_WF <= n; i += 2 * LK_WF)
        LK_FN(dot_step)(g + i, y ? y + i : NULL, LK_WF, LK_WF, s, a);
    if (i < n) {
        ptrdiff_t w0 = n - i < LK_WF ? n - i : LK_WF;
        LK_FN(dot_step)(g + i, y ? y + i : NULL, w0, n - i - w0, s, a);
    }
    return LK_FN(chains_total)(s, a, abs_sum);
}

/*
 * softmax_backward: out = y * (g - s), s = sum(g * y), as fma(y, g - s_f, -(y * s_r)) with
 * s = s_f + s_r (two floats, 2^-48 relative). The certificate asks that every |g - s_f| be at
 * least 2^-19 |s| and 2^27 times s's error bound: then where g - s_f cancels it is exact
 * (Sterbenz) and the s_r term is a 2^-28 correction; where it does not, its one rounding is
 * <= 2^-24 |g - s|. Either way <= 1.6 ulp. A row whose |g - s| is smaller somewhere (g all
 * equal, say: the exact answer is then ~0) goes the exact way.
 */
/* w elements of softmax_bwd_fast's pass: out = fma(y, g - s_f, -(y s_r)), and min and max
 * |g - s_f| into *lo, *hi (exact: chains and order do not change the row's min and max) */
LK_INLINE LK_TARGET void LK_FN(softmax_bwd_step)(const float *g, const float *y, float *out,
                                                  ptrdiff_t w, lk_vf8 sf, lk_vf8 sr,
                                                  lk_vf8 *lo, lk_vf8 *hi)
{
    /* the tail padded with a real g: a pad of 0 would put |s_f| into the certificate */
    lk_vf8 gv = LK_LOADF(g, w, g[0]), yv = LK_LOADF(y, w, 0.0f);
    lk_vf8 a = gv - sf;
    *lo = LK_MIN_ABSF(*lo, a);
    *hi = LK_MAX_ABSF(*hi, a);
    LK_STOREF(out, LK_FMAF_EXACT(yv, a, -(yv * sr)), w);
}

LK_INLINE LK_TARGET int LK_FN(softmax_bwd_fast)(const float *g, const float *y, float *out,
                                                 ptrdiff_t n)
{
    if (n >= ((ptrdiff_t)1 << 22)) return 0;        /* keeps the float |g y| sum a bound */
    double abs_sum, s = LK_FN(dot_plain)(g, y, n, &abs_sum);
    if (!(fabs(s) <= 0x1p126)) return 0;            /* also NaN and inf */
    double floor = fmax(0x1p-19 * fabs(s), 0x1p27 * LK_FN(plain_sum_error)(n, abs_sum));
    float s_f = (float)s, s_r = (float)(s - (double)s_f);
    lk_vf8 sf = lk_splatf(s_f), sr = lk_splatf(s_r);
    /* two min and max chains (each a 2-cycle dependency a vector): whole vectors in pairs,
     * unmasked; then the rest */
    lk_vf8 lo[2] = {lk_splatf(INFINITY), lk_splatf(INFINITY)};
    lk_vf8 hi[2] = {lk_splatf(0.0f), lk_splatf(0.0f)};
    /* up to y's vector boundary first (AVX-512): y is read twice a vector (the compiler folds
     * both loads), and a load across cache lines costs more than such a store (measured) */
    ptrdiff_t i = LK_TO_ALIGNF(y);
    if (i > n) i = n;
    if (i) LK_FN(softmax_bwd_step)(g, y, out, i, sf, sr, &lo[0], &hi[0]);
    for (; i + 2 * LK_WF <= n; i += 2 * LK_WF) {
        LK_FN(softmax_bwd_step)(g + i, y + i, out + i, LK_WF, sf, sr, &lo[0], &hi[0]);
        LK_FN(softmax_bwd_step)(g + i + LK_WF, y + i + LK_WF, out + i + LK_WF, LK_WF, sf, sr,
                                 &lo[1], &hi[1]);
    }
    for (; i < n; i += LK_WF)
        LK_FN(softmax_bwd_step)(g + i, y + i, out + i, n - i < LK_WF ? n - i : LK_WF, sf, sr,
                                 &lo[0], &hi[0]);
    return (double)LK_LANES_MINF(LK_MINF(lo[0], lo[1])) >= floor &&
           LK_LANES_MAXF(LK_MAXF(hi[0], hi[1])) <= FLT_MAX;
}

/*
 * log_softmax_backward: out = g - exp(y) * S in float lanes, fma(-e, S_f, g) with e = expf_dd(y)
 * (<= 0.88 ulp, measured) and S_f = S rounded to float: within 1.13 * 2^-23 |e S| plus the
 * final rounding, so <= 2.26 * 16/11 + 0.5 = 3.8 ulp wherever |out| >= 11/16 |e S|. The lanes
 * below that (g and e^y S cancel: ~1.5% of random normal g, the top class of a confident NLL
 * row) are listed as the pass meets them and redone in double (redo_weak), LK_REDO_VECS
 * vectors at a time. S = sum(g) by plain double sums, accepted when their error bound is below
 * 2^-30 |S|. For y <= 0 (log-probabilities) and |S| <= 2^126; other rows go the double way.
 */

/* A stretch of the fast pass: where it starts, its vectors' weak-lane bits (bit j of lanes[v]:
 * element start + v LK_WF + j); and S with its error bound (0 once summed exactly) */
typedef struct {
    ptrdiff_t start;
    int vecs;
    unsigned lanes[LK_REDO_VECS];
    double s_hi, s_lo, bound;
} LK_FN(weak_lanes);

/* LK_W listed elements (gathered into gb, yb; the rest padding) redone in double lanes
 * (log_softmax_bwd_of: exp_dd, the near-one form) and written to out[at[j]]; the lanes where
 * S's bound is not below 2^-28 |out| come back set */
LK_INLINE LK_TARGET lk_vm LK_FN(redo_lanes)(const double *gb, const double *yb,
                                             const ptrdiff_t *at, int w, float *out,
                                             const LK_FN(weak_lanes) *weak)
{
    lk_vd gv, yv;
    double ob[LK_W];
    memcpy(&gv, gb, sizeof gv);
    memcpy(&yv, yb, sizeof yv);
    /* y > 0 or NaN only in a row the caller sends the double way after the pass */
    yv = lk_clamp_below(lk_select(LK_MASK(yv > 0.0), lk_splat(0.0), yv), LK_EXP_FLOOR_LP);
    lk_vd e = LK_FN(exp_dd)(yv, lk_splat(0.0));
    lk_vd ov = LK_FN(log_softmax_bwd_of)(gv, yv, e, lk_splat(weak->s_hi), lk_splat(weak->s_lo));
    memcpy(ob, &ov, sizeof ob);
    for (int j = 0; j < w; j++) out[at[j]] = (float)ob[j];
    return LK_MASK(e * lk_splat(0x1p28 * weak->bound) > LK_FN(abs)(ov));
}

/* The stretch's weak lanes redone with weak's S; 0 where its bound was too loose for some */
LK_INLINE LK_TARGET int LK_FN(redo_listed)(const float *g, const float *y, float *out,
                                            ptrdiff_t n, const LK_FN(weak_lanes) *weak)
{
    double gb[LK_W], yb[LK_W];
    ptrdiff_t at[LK_W];
    int w = 0;
    lk_vm loose = LK_MASK(lk_splat(0.0) != lk_splat(0.0));
    for (int v = 0; v < weak->vecs; v++)
        for (unsigned bits = weak->lanes[v]; bits; bits &= bits - 1) {
            ptrdiff_t j = weak->start + (ptrdiff_t)v * LK_WF + LK_CTZ(bits);
            if (j >= n) break;
            at[w] = j, gb[w] = g[j], yb[w] = y[j];
            if (++w < LK_W) continue;
            loose |= LK_FN(redo_lanes)(gb, yb, at, w, out, weak);
            w = 0;
        }
    if (w) {
        for (int j = w; j < LK_W; j++) gb[j] = 0.0, yb[j] = -1.0;
        loose |= LK_FN(redo_lanes)(gb, yb, at, w, out, weak);
    }
    return !LK_ANY(loose);
}

/* S summed exactly, once a row */
LK_INLINE LK_TARGET void LK_FN(exact_S)(const float *g, ptrdiff_t n, LK_FN(weak_lanes) *weak)
{
    if (weak->bound == 0.0) return;
    weak->s_hi = LK_FN(total)(g, n, &weak->s_lo);
    weak->bound = 0.0;
}

/* Redoes the stretch's weak lanes; where the plain sum of g is too loose for one of them, g is
 * summed again exactly and the stretch redone with that. A stretch where more than one lane in
 * 8 is weak (g built from e^y S itself, say) is redone whole on the exact path's vectors,
 * faster there than element by element. */
LK_INLINE LK_TARGET void LK_FN(redo_weak)(const float *g, const float *y, float *out,
                                           ptrdiff_t n, LK_FN(weak_lanes) *weak)
{
    ptrdiff_t len = n - weak->start, count = 0;
    if (len > (ptrdiff_t)weak->vecs * LK_WF) len = (ptrdiff_t)weak->vecs * LK_WF;
    for (int v = 0; v < weak->vecs; v++) count += LK_POPCOUNT(weak->lanes[v]);
    if (8 * count > len) {
        LK_FN(exact_S)(g, n, weak);
        LK_FN(log_softmax_bwd_exact)(g + weak->start, y + weak->start, out + weak->start, len,
                                      weak->s_hi, weak->s_lo);
        return;
    }
    if (!LK_FN(redo_listed)(g, y, out, n, weak)) {
        LK_FN(exact_S)(g, n, weak);
        LK_FN(redo_listed)(g, y, out, n, weak);
    }
}

LK_INLINE LK_TARGET int LK_FN(log_softmax_bwd_fast)(const float *g, const float *y, float *out,
                                                     ptrdiff_t n)
{
    if (n >= ((ptrdiff_t)1 << 22)) return 0;
    double abs_sum, S = LK_FN(dot_plain)(g, NULL, n, &abs_sum);
    LK_FN(weak_lanes) weak;            /* lanes[] written before read: no 1 KB zeroing a row */
    weak.s_hi = S, weak.s_lo = 0.0, weak.bound = LK_FN(plain_sum_error)(n, abs_sum);
    if (!(fabs(S) <= 0x1p126) || weak.bound > 0x1p-30 * fabs(S)) return 0;
    lk_vf8 Sf = lk_splatf((float)S), top = lk_splatf(-INFINITY), zero = lk_splatf(0.0f);
    lk_vf8 floor = lk_splatf(LK_EXPF_FLOOR), certain_S = lk_splatf(0.6875f * (float)S);
    lk_vf8 y_sum = zero;                    /* NaN in any lane if some y is NaN (maxps drops it) */
    for (ptrdiff_t i = 0; i < n;) {
        ptrdiff_t end = n - i < LK_REDO_VECS * LK_WF ? n : i + LK_REDO_VECS * LK_WF;
        unsigned any = 0;
        int v = 0;
        weak.start = i;
        for (; i < end; i += LK_WF, v++) {
            ptrdiff_t w = end - i < LK_WF ? end - i : LK_WF;
            lk_vf8 gv = LK_LOADF(g + i, w, 0.0f), yv = LK_LOADF(y + i, w, -INFINITY);
            top = LK_MAXF(top, yv);
            y_sum += yv;
            lk_vf8 e = LK_FN(expf_dd)(LK_MAXF(floor, LK_MINF(zero, yv)), zero);
            lk_vf8 o = LK_FMAF_EXACT(-e, Sf, gv);
            lk_storef(out + i, o, w);
            weak.lanes[v] = LK_LESSF_BITS(lk_absf(o), lk_absf(e * certain_S));
            any |= weak.lanes[v];
        }
        weak.vecs = v;
        if (any) LK_FN(redo_weak)(g, y, out, n, &weak);
    }
    float y_total = lk_lanes_sumf(y_sum);
    return lk_lanes_maxf(top) <= 0.0f && y_total == y_total;
}

/*
 * Many short rows (n <= LK_SHORT_N) as vector lanes, LK_WF rows to a vector and groups of them
 * side by side, as short_rows does for the forward functions: one row alone is a chain of
 * dependent steps (its sum, then its outputs) that leaves the vector units idle. The numerics
 * are the exact paths' (softmax_bwd_vec, log_softmax_bwd_vec): compensated double sums
 * (float products are exact in double), g - s by TwoSum, one rounding to float.
 */

/* A block of up to LK_SHORT_ROWS rows of g and y, transposed: gb, yb[k * lanes + j] */
typedef struct {
    float g[LK_SHORT_N * LK_SHORT_ROWS], y[LK_SHORT_N * LK_SHORT_ROWS];
    ptrdiff_t groups, lanes;
} LK_FN(lanes_block);

LK_INLINE LK_TARGET void LK_FN(load_block)(LK_FN(lanes_block) *b, const float *g,
                                            const float *y, ptrdiff_t rows, ptrdiff_t n)
{
    b->groups = (rows + LK_WF - 1) / LK_WF;
    b->lanes = b->groups * LK_WF;
    for (ptrdiff_t q = 0; q < b->groups; q++) {
        LK_ROWS_TO_LANESF(g + q * LK_WF * n, n, rows - q * LK_WF, n, b->g + q * LK_WF, b->lanes);
        LK_ROWS_TO_LANESF(y + q * LK_WF * n, n, rows - q * LK_WF, n, b->y + q * LK_WF, b->lanes);
    }
}

/* s[q][h] + c[q][h] = per lane, sum over k of g_k * y_k (with_y == 0: of g_k), compensated */
LK_INLINE LK_TARGET void LK_FN(lanes_dot)(const LK_FN(lanes_block) *b, ptrdiff_t n, int with_y,
                                           lk_vd (*s)[2], lk_vd (*c)[2])
{
    for (ptrdiff_t q = 0; q < b->groups; q++)
        s[q][0] = s[q][1] = c[q][0] = c[q][1] = lk_splat(0.0);
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t q = 0; q < b->groups; q++) {
            ptrdiff_t at = k * b->lanes + q * LK_WF;
            lk_vd p[2], y[2], e;
            LK_WIDEN_F8(LK_LOADF(b->g + at, LK_WF, 0.0f), p[0], p[1]);
            if (with_y) {
                LK_WIDEN_F8(LK_LOADF(b->y + at, LK_WF, 0.0f), y[0], y[1]);
                p[0] *= y[0];
                p[1] *= y[1];
            }
            for (int h = 0; h < 2; h++) {
                s[q][h] = lk_two_sum(s[q][h], p[h], &e);
                c[q][h] += e;
            }
        }
    }
    /* a sum that met an infinity: its error term holds NaN (inf - inf); the sum alone stands */
    for (ptrdiff_t q = 0; q < b->groups; q++)
        for (int h = 0; h < 2; h++)
            c[q][h] = lk_select(LK_MASK(s[q][h] - s[q][h] == 0.0), c[q][h], lk_splat(0.0));
}

/* out = y * (g - s) (log_softmax: g - exp(y) * s) for a block, into b->g, then back to rows */
LK_INLINE LK_TARGET void LK_FN(lanes_bwd)(LK_FN(lanes_block) *b, ptrdiff_t rows, ptrdiff_t n,
                                           int log_softmax, lk_vd (*s)[2], lk_vd (*c)[2],
                                           float *out)
{
    for (ptrdiff_t k = 0; k < n; k++) {
        for (ptrdiff_t q = 0; q < b->groups; q++) {
            ptrdiff_t at = k * b->lanes + q * LK_WF;
            lk_vd g0, g1, y0, y1;
            LK_WIDEN_F8(LK_LOADF(b->g + at, LK_WF, 0.0f), g0, g1);
            lk_vf8 yf = LK_LOADF(b->y + at, LK_WF, 0.0f);
            if (log_softmax)        /* clamped to exp_lp's domain, as the exact path does */
                yf = LK_MINF(lk_splatf(88.0f), LK_MAXF(lk_splatf((float)LK_EXP_FLOOR_LP), yf));
            LK_WIDEN_F8(yf, y0, y1);
            lk_vd o0 = log_softmax ? LK_FN(log_softmax_bwd_vec)(g0, y0, s[q][0], c[q][0])
                                   : LK_FN(softmax_bwd_vec)(g0, y0, s[q][0], c[q][0]);
            lk_vd o1 = log_softmax ? LK_FN(log_softmax_bwd_vec)(g1, y1, s[q][1], c[q][1])
                                   : LK_FN(softmax_bwd_vec)(g1, y1, s[q][1], c[q][1]);
            lk_storef(b->g + at, LK_NARROW_D(o0, o1), LK_WF);
        }
    }
    for (ptrdiff_t q = 0; q < b->groups; q++)
        LK_LANES_TO_ROWSF(b->g + q * LK_WF, b->lanes, rows - q * LK_WF, n, out + q * LK_WF * n, n);
}

/* softmax_backward (log_softmax_backward) of rows of n <= LK_SHORT_N, in blocks */
LK_INLINE LK_TARGET void LK_FN(bwd_short_rows)(const float *g, const float *y, float *out,
                                                ptrdiff_t rows, ptrdiff_t n, int log_softmax)
{
    LK_FN(lanes_block) b;
    lk_vd s[LK_SHORT_ROWS / LK_WF][2], c[LK_SHORT_ROWS / LK_WF][2];
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += LK_SHORT_ROWS) {
        ptrdiff_t count = rows - r0 < LK_SHORT_ROWS ? rows - r0 : LK_SHORT_ROWS;
        LK_FN(load_block)(&b, g + r0 * n, y + r0 * n, count, n);
        LK_FN(lanes_dot)(&b, n, !log_softmax, s, c);
        LK_FN(lanes_bwd)(&b, count, n, log_softmax, s, c, out + r0 * n);
    }
}
#endif /* !LK_IS_F64 */


/* softmax_backward of `rows` contiguous rows of n: out = y * (g - sum(g * y)) */
LK_TARGET void LK_FN(softmax_bwd_rows)(const LK_T *g, const LK_T *y, LK_T *out, ptrdiff_t rows,
                                        ptrdiff_t n)
{
#if !LK_IS_F64
    /* up to 12: beyond, the float fast path (one row at a time) measured faster */
    if (n <= 12 && rows >= 2) {
        LK_FN(bwd_short_rows)(g, y, out, rows, n, 0);
        return;
    }
#endif
    for (ptrdiff_t r = 0; r < rows; r++, g += n, y += n, out += n) {
#if !LK_IS_F64
        if (LK_FN(softmax_bwd_fast)(g, y, out, n)) continue;
#endif
        double lo, hi = LK_FN(dot)(g, y, n, &lo);
        LK_FN(softmax_bwd_exact)(g, y, out, n, hi, lo);
    }
}

/* log_softmax_backward of `rows` contiguous rows of n: out = g - exp(y) * sum(g) */
LK_TARGET void LK_FN(log_softmax_bwd_rows)(const LK_T *g, const LK_T *y, LK_T *out,
                                            ptrdiff_t rows, ptrdiff_t n)
{
#if !LK_IS_F64
    if (n <= LK_SHORT_N && rows >= 2) {
        LK_FN(bwd_short_rows)(g, y, out, rows, n, 1);
        return;
    }
#endif
    for (ptrdiff_t r = 0; r < rows; r++, g += n, y += n, out += n) {
        double lo, hi;
#if !LK_IS_F64
        /* below 32, the latency of the float exps (one ~60-cycle chain a row) measured slower
         * than the double path's shorter polynomial */
        if (n >= 32 && LK_FN(log_softmax_bwd_fast)(g, y, out, n)) continue;
#endif
        hi = LK_FN(total)(g, n, &lo);
        LK_FN(log_softmax_bwd_exact)(g, y, out, n, hi, lo);
    }
}

/* out = g * y * (1 - y); float32 in 8 float lanes (three roundings: <= 2 ulp), float64 in
 * double */
LK_TARGET void LK_FN(sigmoid_bwd)(const LK_T *g, const LK_T *y, LK_T *out, ptrdiff_t n)
{
#if !LK_IS_F64 && LK_HAVE_F32X8
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        lk_f32x8 gv, yv, ov;
        memcpy(&gv, g + i, sizeof gv);
        memcpy(&yv, y + i, sizeof yv);
        ov = (gv * yv) * (1.0f - yv);
        memcpy(out + i, &ov, sizeof ov);
    }
    for (; i < n; i++) out[i] = (g[i] * y[i]) * (1.0f - y[i]);
#else
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = lk_width(n, i);
        lk_vd gv = LK_FN(load)(g + i, w, 0.0), yv = LK_FN(load)(y + i, w, 0.0);
        LK_FN(store)(out + i, (gv * yv) * (1.0 - yv), w);
    }
#endif
}
