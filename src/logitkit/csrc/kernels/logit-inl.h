
/* ---- logit, the inverse of the sigmoid: log(p / (1 - p)), elementwise ----
 *
 * The ratio v = p / (1 - p) is carried as vh + vl: 1 - p is split exactly (Fast2Sum, 1 >= p),
 * and the quotient's residual is exact (FMA). Then log(vh + vl) = log(vh) + vl / vh to 2^-106,
 * so the only errors left are those of one log (fdlibm's, < 1 ulp) and its last rounding. Near
 * p = 1/2 the log's argument is near 1 and the log keeps its relative accuracy there (f = m - 1
 * is exact), which is what a form through log(p) - log1p(-p) would lose to cancellation. Both
 * storage types run in double lanes: a float32 p gives a double result within an ulp of double,
 * rounded to float once. */

/* log(xh + xl) for finite xh > 0 (subnormal too) and |xl| <= ulp(xh): after fdlibm's e_log.c,
 * branch-free. xh = 2^k m with m in [sqrt(1/2), sqrt(2)), f = m - 1 exact, log(1 + f) =
 * f - hfsq + s (hfsq + R(s^2)) with s = f / (2 + f); xl / xh joins the small terms. */
LK_INLINE LK_TARGET lk_vd LK_FN(log_dd)(lk_vd xh, lk_vd xl)
{
    lk_vd c = xl / xh;
    lk_vm sub = LK_MASK(xh < 0x1p-1022);               /* subnormal: scaled into the normals */
    xh = xh * lk_select(sub, lk_splat(0x1p54), lk_splat(1.0));
    lk_vm b = lk_bits(xh);
    lk_vm eb = (b >> 52) & 0x7ff;
    lk_vd m = lk_from_bits((b & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);   /* [1, 2) */
    lk_vm big = LK_MASK(m > 0x1.6a09e667f3bcdp0);
    m = lk_select(big, 0.5 * m, m);
    eb = eb + (big & 1);
    lk_vd k = ((lk_from_bits(eb | 0x4330000000000000LL) - 0x1p52) - 1023.0)
              - lk_select(sub, lk_splat(54.0), lk_splat(0.0));
    lk_vd f = m - 1.0;                                  /* exact (Sterbenz) */
    lk_vd hfsq = 0.5 * f * f;
    lk_vd s = f / (2.0 + f);
    lk_vd s2 = s * s, s4 = s2 * s2;
    /* fdlibm's Lg1..Lg7 in two chains (even and odd powers of s^2) */
    lk_vd ev = LK_FMA(s4, LK_FMA(s4, lk_splat(1.531383769920937332e-01),
                                 lk_splat(2.222219843214978396e-01)),
                      lk_splat(3.999999999940941908e-01));
    lk_vd od = LK_FMA(s4, LK_FMA(s4, LK_FMA(s4, lk_splat(1.479819860511658591e-01),
                                            lk_splat(1.818357216161805012e-01)),
                                 lk_splat(2.857142874366239149e-01)),
                      lk_splat(6.666666666666735130e-01));
    lk_vd R = s2 * LK_FMA(s2, ev, od);
    /* k ln2_hi is exact (20 trailing zero bits); the small terms are summed first */
    return k * LK_LN2_HI_FD - ((hfsq - (s * (hfsq + R) + (k * LK_LN2_LO_FD + c))) - f);
}

LK_INLINE LK_TARGET void LK_FN(logit_step)(const LK_T *x, LK_T *out, ptrdiff_t w)
{
    lk_vd p = LK_FN(load)(x, w, 0.5);
    lk_vd q = 1.0 - p;
    lk_vd ql = -p - (q - 1.0);                        /* 1 - p == q + ql exactly */
    lk_vd vh = p / q;
    lk_vd vl = (LK_FMA_EXACT(-vh, q, p) - vh * ql) / q;
    lk_vd y = LK_FN(log_dd)(vh, vl);
    y = lk_select(LK_MASK(p == 0.0), lk_splat(-INFINITY), y);
    y = lk_select(LK_MASK(p == 1.0), lk_splat(INFINITY), y);
    /* outside [0, 1], and NaN: NaN */
    y = lk_select(LK_MASK(p >= 0.0) & LK_MASK(p <= 1.0), y, lk_splat(NAN));
    LK_FN(store)(out, y, w);
}

LK_TARGET void LK_FN(logit)(const LK_T *x, LK_T *out, ptrdiff_t n)
{
    LK_ELEMENTWISE(LK_FN(logit_step), x, out, n, LK_W);
}
