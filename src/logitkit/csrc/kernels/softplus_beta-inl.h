
/* ---- softplus with a scale: softplus(beta x) / beta, elementwise, for beta > 0, != 1 ----
 *
 * Nothing may be lost to the product y = beta x, which can round, overflow or underflow where
 * the result itself is an ordinary number (beta = 1e-300 or 1e300). So beta = mb 2^eb and
 * x = mx 2^ex are split into their significands and exponents (exactly), mb mx = th + tl is
 * an exact product in [1, 4), and y = (th + tl) 2^(eb + ex) is formed only where that is in
 * range: |y| < 2^-200 counts as 0 (softplus(y) = log 2 + y/2 there, y/2 far below an ulp of
 * log 2) and |y| > 2^20 as infinite (exp(-|y|) / beta is 0 there for every double beta).
 * With z = exp(-|y|) = E 2^k (E = e^r in [0.7, 1.42], kept as Eh + El), and log1p(z) and the
 * divisions by mb carried as double-doubles so that one rounding is the last:
 *   x >= 0:            x + log1p(z) / beta           (softplus(y) = y + log1p(exp(-y)), and
 *                                                     y / beta is x exactly)
 *   x < 0, y >= -40:   log1p(z) / beta
 *   x < 0, y < -40:    (E / mb) 2^(k - eb)           (log1p(z) = z to 2^-58; exp(y) / beta
 *                                                     stays representable where z underflows)
 * Both storage types run in double lanes and round once to the storage type. */

/* v 2^d for integral d in [-2040, 2040], in two exact steps: a subnormal result is rounded once
 * by the second */
LK_INLINE LK_TARGET lk_vd LK_FN(scale_pow2)(lk_vd v, lk_vd d)
{
    lk_vd d1 = (0.5 * d + LK_SHIFTER) - LK_SHIFTER;
    return (v * lk_pow2i(d1)) * lk_pow2i(d - d1);
}

LK_INLINE LK_TARGET lk_vd LK_FN(clamp_to)(lk_vd v, double lo, double hi)
{
    v = lk_select(LK_MASK(v < lo), lk_splat(lo), v);
    return lk_select(LK_MASK(v > hi), lk_splat(hi), v);
}

/* log1p(zh + zl) as hi + *lo for z in [0, 1] (|zl| <= ulp(zh)): fdlibm's log on 1 + z = u + c
 * (u in [1, 2], k in {0, 1}), with k ln2_hi + f exact and the small terms added to it by
 * Fast2Sum, so that the result carries the log's few small roundings and not its last one. */
LK_INLINE LK_TARGET lk_vd LK_FN(log1p_dd)(lk_vd zh, lk_vd zl, lk_vd *lo)
{
    lk_vd u = 1.0 + zh;
    lk_vd c = (zh - (u - 1.0)) + zl;
    lk_vm big = LK_MASK(u > 0x1.6a09e667f3bcdp0);
    lk_vd k = lk_select(big, lk_splat(1.0), lk_splat(0.0));
    lk_vd f = lk_select(big, 0.5 * u, u) - 1.0;                  /* exact (Sterbenz) */
    lk_vd hfsq = 0.5 * f * f;
    lk_vd s = f / (2.0 + f);
    lk_vd s2 = s * s, s4 = s2 * s2;
    lk_vd ev = LK_FMA(s4, LK_FMA(s4, lk_splat(1.531383769920937332e-01),
                                 lk_splat(2.222219843214978396e-01)),
                      lk_splat(3.999999999940941908e-01));
    lk_vd od = LK_FMA(s4, LK_FMA(s4, LK_FMA(s4, lk_splat(1.479819860511658591e-01),
                                            lk_splat(1.818357216161805012e-01)),
                                 lk_splat(2.857142874366239149e-01)),
                      lk_splat(6.666666666666735130e-01));
    lk_vd R = s2 * LK_FMA(s2, ev, od);
    lk_vd head = k * LK_LN2_HI_FD + f;                           /* exact */
    lk_vd small = (s * (hfsq + R) + (k * LK_LN2_LO_FD + c / u)) - hfsq;
    lk_vd hi = head + small;                                     /* |head| >= |small| */
    *lo = small - (hi - head);
    return hi;
}

/* (hi + lo) / mb to about 2^-104 relative: the quotient's residual is exact */
LK_INLINE LK_TARGET lk_vd LK_FN(div_dd)(lk_vd hi, lk_vd lo, double mb, lk_vd *q_lo)
{
    lk_vd q = hi / mb;
    *q_lo = (LK_FMA_EXACT(-q, lk_splat(mb), hi) + lo) / mb;
    return q;
}

LK_INLINE LK_TARGET void LK_FN(softplus_beta_step)(const LK_T *x, LK_T *out, ptrdiff_t w,
                                                   double mb, double eb)
{
    lk_vd v = LK_FN(load)(x, w, 0.0);
    /* x = mx 2^ex, mx in +-[1, 2), exactly (subnormals scaled first) */
    lk_vd a = lk_select(LK_MASK(v < 0.0), -v, v);
    lk_vm sub = LK_MASK(a < 0x1p-1022);
    lk_vm bits = lk_bits(v * lk_select(sub, lk_splat(0x1p54), lk_splat(1.0)));
    lk_vd mx = lk_from_bits((bits & (int64_t)0x800fffffffffffffULL) | 0x3ff0000000000000LL);
    lk_vd ex = ((lk_from_bits(((bits >> 52) & 0x7ff) | 0x4330000000000000LL) - 0x1p52) - 1023.0)
               - lk_select(sub, lk_splat(54.0), lk_splat(0.0));
    /* y = (th + tl) 2^e, th + tl = mb mx exactly */
    lk_vd th = mb * mx;
    lk_vd tl = LK_FMA_EXACT(lk_splat(mb), mx, -th);
    lk_vd e = ex + eb;
    lk_vm tiny = LK_MASK(e < -200.0) | LK_MASK(v == 0.0);
    lk_vd p2 = lk_pow2i(LK_FN(clamp_to)(e, -200.0, 20.0));
    lk_vd yh = lk_select(tiny, lk_splat(0.0), th * p2);
    lk_vd yl = lk_select(tiny, lk_splat(0.0), tl * p2);
    /* z = exp(-|y|) = (Eh + El) 2^k */
    lk_vm neg = LK_MASK(v < 0.0);
    lk_vd dh = lk_select(neg, yh, -yh), dl = lk_select(neg, yl, -yl);
    LK_FN(reduced_d) red = LK_FN(exp_reduce)(dh, dl, lk_exp_k.shifter, &lk_exp_k);
    lk_vd k = red.t - lk_exp_k.shifter;
    lk_vd P = LK_FN(exp_poly)(red.r, &lk_exp_k);
    lk_vd Eh = 1.0 + P;
    lk_vd El = P - (Eh - 1.0);                                   /* |P| < 1: Fast2Sum */
    lk_vd kc = LK_FN(clamp_to)(k, -2040.0, 0.0);
    lk_vd zh = LK_FN(scale_pow2)(Eh, kc), zl = LK_FN(scale_pow2)(El, kc);
    /* log1p(z) / beta = (q + q_lo) 2^-eb */
    lk_vd L_lo, q_lo;
    lk_vd L = LK_FN(log1p_dd)(zh, zl, &L_lo);
    lk_vd q = LK_FN(div_dd)(L, L_lo, mb, &q_lo);
    lk_vd Q = LK_FN(scale_pow2)(q, lk_splat(-eb)), Q_lo = LK_FN(scale_pow2)(q_lo, lk_splat(-eb));
    /* x >= 0: x + Q + Q_lo, with the first sum exact (TwoSum); an overflow stays infinite */
    lk_vd s_err, s = lk_two_sum(v, Q, &s_err);
    lk_vd pos = lk_select(LK_MASK(s == INFINITY), s, s + (s_err + Q_lo));
    /* x < 0, y < -40: exp(y) / beta = (E / mb) 2^(k - eb) */
    lk_vd t_lo, t = LK_FN(div_dd)(Eh, El, mb, &t_lo);
    lk_vd tail = LK_FN(scale_pow2)(t + t_lo, LK_FN(clamp_to)(k - eb, -2040.0, 2040.0));
    lk_vd y = lk_select(neg, lk_select(LK_MASK(dh < -40.0), tail, Q + Q_lo), pos);
    y = lk_select(LK_MASK(v == INFINITY), v, y);
    y = lk_select(LK_MASK(v == -INFINITY), lk_splat(0.0), y);
    y = lk_select(LK_MASK(v != v), v, y);
    LK_FN(store)(out, y, w);
}

LK_TARGET void LK_FN(softplus_beta)(const LK_T *x, LK_T *out, ptrdiff_t n, double beta)
{
    int e2;
    double mb = 2.0 * frexp(beta, &e2);           /* beta = mb 2^eb, mb in [1, 2) */
    double eb = (double)(e2 - 1);
    ptrdiff_t i = 0;
    for (; i + LK_W <= n; i += LK_W)
        LK_FN(softplus_beta_step)(x + i, out + i, LK_W, mb, eb);
    if (i < n) LK_FN(softplus_beta_step)(x + i, out + i, n - i, mb, eb);
}
