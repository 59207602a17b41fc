/*
 * logsumexp with scale factors b: log|sum(b exp(x))| and its sign, row by row. Each term
 * b exp(x - m) (m = max x) is taken as a mantissa times 2^e, with e an int of its own, and the
 * terms are added exactly, in an integer accumulator that spans every exponent a term can have:
 * nothing overflows (b = [DBL_MAX, DBL_MAX]) and no term is lost to underflow before the others
 * cancel (b = [1, -1, 1] at x = [0, 0, -800] is exp(-800)). Where m + log|sum| cancels, the
 * terms are redone in double-double and the log taken in double-double, as the plain
 * logsumexp's redo tier does. Scalar double arithmetic with libm's exp: the same on every
 * target.
 */

#ifndef LK_SCALED_ONCE
#define LK_SCALED_ONCE
#include <stdint.h>
#include <string.h>

/* Terms whose exp(x - m) is below exp(-2200) are left out, as the reference does: at most
 * 2^1024 e^-2200 < 2^-2150, and the sum of the others is exactly 0 or at least 2^-4300 */
#define LK_SCALED_NEGLIGIBLE (-2200.0)
#define LK_INV_LN2 1.44269504088896338700e+00
#define LK_LN2_C3_FD 0x1.cc01f97b57a08p-87  /* ln 2 - LN2_HI_FD - LN2_LO_FD, to 2^-140 */

/* The exact accumulator: bin j holds a signed count of 2^(LK_ACC_LOW + 32 j). A term is at
 * least 2^-1074 e^-2200 > 2^-4249 (its low part 2^-106 below that) and below 2^1025, a sum of
 * fewer than 2^62 of them below 2^1087; bits below 2^LK_ACC_LOW (2^-160 of the least term)
 * are dropped. Each term adds less than 2^32 to a bin four times at most, so the bins are
 * carried every 2^28 terms, far from int64's 2^63. */
#define LK_ACC_LOW (-4416)
#define LK_ACC_BINS 176
#define LK_ACC_CARRY_EVERY (1 << 28)

typedef struct { int64_t bin[LK_ACC_BINS]; ptrdiff_t terms; } lk_exact_acc;

/* bins into [0, 2^32), the last one signed: the total's sign is that of the last bin */
static inline void lk_acc_carry(lk_exact_acc *acc)
{
    for (int j = 0; j < LK_ACC_BINS - 1; j++) {
        int64_t low = (int64_t)((uint64_t)acc->bin[j] & 0xffffffffu);
        acc->bin[j + 1] += (acc->bin[j] - low) / 4294967296;      /* exact */
        acc->bin[j] = low;
    }
    acc->terms = 0;
}

/* acc += f 2^e, exactly (f a finite double, e an int) */
static inline void lk_acc_add(lk_exact_acc *acc, double f, int e)
{
    int q;
    if (f == 0.0) return;
    uint64_t M = (uint64_t)ldexp(frexp(fabs(f), &q), 53);      /* |f| = M 2^(q - 53) */
    int pos = q + e - 53 - LK_ACC_LOW;
    if (pos < 0) {
        if (pos <= -53) return;
        M >>= -pos;
        pos = 0;
    }
    int j = pos >> 5, s = pos & 31;
    uint64_t a = (M & 0xffffffffu) << s, c = (M >> 32) << s;   /* < 2^63, < 2^53 */
    int64_t sign = f < 0 ? -1 : 1;
    acc->bin[j] += sign * (int64_t)(a & 0xffffffffu);
    acc->bin[j + 1] += sign * (int64_t)((a >> 32) + (c & 0xffffffffu));
    acc->bin[j + 2] += sign * (int64_t)(c >> 32);
}

static inline void lk_acc_add_term(lk_exact_acc *acc, double hi, double lo, int e)
{
    lk_acc_add(acc, hi, e);
    lk_acc_add(acc, lo, e);
    if (++acc->terms == LK_ACC_CARRY_EVERY) lk_acc_carry(acc);
}

/* The total as (s.hi + s.lo) 2^*e with s.hi in [1, 2^33) (to ~2^-104), and its sign: 0 for
 * an exact 0. The bins are added from the least, so that a tiny rest beside a large term
 * (1 + 2^-144) keeps its digits in s.lo. */
static inline int lk_acc_total(lk_exact_acc *acc, lk_dd *s, int *e)
{
    int sign = 1, top = LK_ACC_BINS - 1, low = 0;
    lk_acc_carry(acc);
    if (acc->bin[top] < 0) {
        sign = -1;
        for (int j = 0; j < LK_ACC_BINS; j++) acc->bin[j] = -acc->bin[j];
        lk_acc_carry(acc);
    }
    while (top >= 0 && acc->bin[top] == 0) top--;
    if (top < 0) return 0;
    while (acc->bin[low] == 0) low++;
    *s = (lk_dd){0.0, 0.0};
    for (int j = low; j <= top; j++)
        *s = lk_dd_add(*s, (lk_dd){ldexp((double)acc->bin[j], 32 * (j - top)), 0.0});
    *e = LK_ACC_LOW + 32 * top;
    return sign;
}

/* The c of exp(dh) = E 2^c in lk_scaled_exp (dh in [LK_SCALED_NEGLIGIBLE, 0]) */
static inline int lk_exp_exponent(double dh)
{
    return (int)floor(dh * LK_INV_LN2 + 0.5);
}

/* exp(dh + dl) as E 2^c with E in [0.7, 1.42] and full precision down to dh = -2200 (exp
 * itself underflows below -708): dh - c ln2 is formed in double-double, with fdlibm's split of
 * ln 2 (LN2_HI has 20 trailing zero bits, so c LN2_HI is exact for |c| < 2^20). */
static inline double lk_scaled_exp(double dh, double dl, int *c)
{
    double r, r_err, r_hi, r_lo;
    *c = lk_exp_exponent(dh);
    lk_two_sum_d(dh, -*c * LK_LN2_HI_FD, &r, &r_err);
    lk_two_sum_d(r, r_err + (dl - *c * LK_LN2_LO_FD), &r_hi, &r_lo);
    return exp(r_hi) * (1.0 + r_lo);
}

/* exp(dh + dl) as E 2^c with E a double-double to ~2^-100: r = dh + dl - c ln2 with ln 2 in
 * three parts (dh - c LN2_HI exact by Sterbenz's lemma, c LN2_LO's rounding kept by fma),
 * then e^r by the series */
static inline lk_dd lk_scaled_exp_dd(double dh, double dl, int *c)
{
    *c = lk_exp_exponent(dh);
    double t = dh - *c * LK_LN2_HI_FD, kb = *c * LK_LN2_LO_FD;
    lk_dd r = lk_dd_two_sum(t, -kb);
    r = lk_dd_add(r, (lk_dd){dl, -(fma(*c, LK_LN2_LO_FD, -kb) + *c * LK_LN2_C3_FD)});
    return lk_dd_one_plus(lk_dd_expm1_series(r));
}

/* m + log((s.hi + s.lo) 2^e) for s.hi in [1, 2^32], rounded once: the log of s in
 * double-double (log1p of s - 1 below 1.5, else lk_dd_log), e ln 2 in three parts */
static inline double lk_scaled_add_log_dd(double m, lk_dd s, int e)
{
    int q;
    double f = frexp(s.hi, &q);                 /* s in [1, 2): scaled by 2^(1 - q), exact */
    s = (lk_dd){2.0 * f, ldexp(s.lo, 1 - q)};
    e += q - 1;
    lk_dd L = s.hi < 1.5 ? lk_dd_log1p(lk_dd_two_sum(s.hi - 1.0, s.lo)) : lk_dd_log(s);
    double eb = e * LK_LN2_LO_FD;
    lk_dd a = lk_dd_two_sum(m, e * LK_LN2_HI_FD);   /* e LN2_HI exact */
    lk_dd b = lk_dd_two_sum(a.hi, L.hi);
    lk_dd d = lk_dd_two_sum(b.hi, eb);
    return d.hi + (d.lo + b.lo + a.lo + L.lo + (fma(e, LK_LN2_LO_FD, -eb) + e * LK_LN2_C3_FD));
}
#endif

/* One row: log|sum(b exp(x))| into *value and its sign into *sign. Entries with b == 0 take no
 * part (even where x is inf or NaN). */
static LK_TARGET void LK_FN(scaled_row)(const LK_T *x, const LK_T *b, ptrdiff_t n, double *value,
                                        double *sign)
{
    double m = -INFINITY, v, w, dh, dl, bv, f, L_hi, L_lo;
    int p, q, e, top = INT_MIN, pos_inf = 0, neg_inf = 0;
    lk_exact_acc acc;
    lk_dd s;
    for (ptrdiff_t i = 0; i < n; i++) {
        w = b[i];
        if (w == 0.0) continue;
        v = x[i];
        if (v != v || w != w) {
            *value = NAN;
            *sign = NAN;
            return;
        }
        if (w == INFINITY || w == -INFINITY) {
            if (v == -INFINITY) {       /* inf exp(-inf) = inf 0: undefined, as in SciPy */
                *value = NAN;
                *sign = NAN;
                return;
            }
            pos_inf = pos_inf || w > 0;
            neg_inf = neg_inf || w < 0;
        } else if (v == INFINITY) {
            pos_inf = pos_inf || w > 0;
            neg_inf = neg_inf || w < 0;
        } else if (v > m) {
            m = v;
        }
    }
    if (pos_inf || neg_inf) {
        if (pos_inf && neg_inf) {
            *value = NAN;
            *sign = NAN;
        } else {
            *value = INFINITY;
            *sign = pos_inf ? 1.0 : -1.0;
        }
        return;
    }
    *value = -INFINITY;
    *sign = 0.0;
    if (m == -INFINITY) return;
    /* the exact sum of the terms b exp(x - m), each rounded once; x - m exact (TwoSum; -inf
     * where it overflows: skipped) */
    memset(&acc, 0, sizeof acc);
    for (ptrdiff_t i = 0; i < n; i++) {
        dh = x[i] - m;
        if (b[i] == 0.0 || !(dh >= LK_SCALED_NEGLIGIBLE)) continue;
        bv = dh - x[i];
        dl = (x[i] - (dh - bv)) + (-m - bv);
        f = frexp(b[i], &p) * lk_scaled_exp(dh, dl, &q);
        if (p + q > top) top = p + q;
        lk_acc_add_term(&acc, f, 0.0, p + q);
    }
    int total_sign = lk_acc_total(&acc, &s, &e);
    if (total_sign != 0) {
        *sign = total_sign;
        lk_log_of_scaled_sum(0.0, s.hi, s.lo, e, &L_hi, &L_lo);
        *value = lk_add_log(m, L_hi, L_lo);
        /* kept unless m and log|sum| cancel, or the terms cancel each other (the sum below
         * half the largest term, 2^(top - 1) and more): either way each term's exp, rounded
         * once, would show in the result's last bits */
        if (!(fabs(*value) < 0.5 * fabs(L_hi)) && ldexp(s.hi, e - top) >= 0.5) return;
    }
    /* redone with double-double terms and log (a sum that was 0 too: rounded terms that
     * cancelled exactly, as e^(1e-16) - 1 would) */
    memset(&acc, 0, sizeof acc);
    for (ptrdiff_t i = 0; i < n; i++) {
        dh = x[i] - m;
        if (b[i] == 0.0 || !(dh >= LK_SCALED_NEGLIGIBLE)) continue;
        bv = dh - x[i];
        dl = (x[i] - (dh - bv)) + (-m - bv);
        f = frexp(b[i], &p);
        lk_dd t = lk_dd_mul((lk_dd){f, 0.0}, lk_scaled_exp_dd(dh, dl, &q));
        lk_acc_add_term(&acc, t.hi, t.lo, p + q);
    }
    total_sign = lk_acc_total(&acc, &s, &e);
    *sign = total_sign;
    *value = total_sign != 0 ? lk_scaled_add_log_dd(m, s, e) : -INFINITY;
}

/* rows C-contiguous rows of n */
LK_TARGET void LK_FN(logsumexp_scaled_rows)(const LK_T *x, const LK_T *b, ptrdiff_t rows,
                                            ptrdiff_t n, LK_T *result, LK_T *sign)
{
    double value, s;
    for (ptrdiff_t r = 0; r < rows; r++) {
        LK_FN(scaled_row)(n > 0 ? x + r * n : NULL, n > 0 ? b + r * n : NULL, n, &value, &s);
        result[r] = (LK_T)value;
        sign[r] = (LK_T)s;
    }
}
