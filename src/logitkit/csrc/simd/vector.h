/*
 * Vector primitives for the kernels in kernels/.
 *
 * lk_vd is a vector of LK_W doubles: GCC/Clang vector extensions (4 lanes: one AVX2 register,
 * or two SSE2 registers on the baseline x86-64 and NEON on aarch64), or a plain double (1 lane)
 * for other compilers, so that one body of code serves every target. Everything here is
 * branch-free: lanes are selected with masks, never with `if`. A translation unit may define
 * LK_VECTOR_BYTES as 64 before including this header (8 doubles, 16 floats: targets/avx512.c);
 * the vector types are then that wide in the whole unit.
 *
 * The exp functions themselves are in kernels/exp_log-inl.h: they use LK_FMA, which differs per ISA.
 */
#ifndef LOGITKIT_SIMD_MATH_H
#define LOGITKIT_SIMD_MATH_H

#include <float.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "compiler.h"

/* Forced inlining: a helper left out of line would be compiled for the baseline ISA only, and
 * the AVX2 variants would call it. The helpers carry their unit's instruction set
 * (LK_UNIT_TARGET, defined by targets/<isa>.c before this header): Clang rejects a vector
 * passed or returned between functions compiled for different ones, even where it inlines. */
#ifndef LK_UNIT_TARGET
#define LK_UNIT_TARGET
#endif
#if defined(__GNUC__) || defined(__clang__)
#define LK_INLINE static inline __attribute__((always_inline)) LK_UNIT_TARGET
#elif defined(_MSC_VER)
#define LK_INLINE static __forceinline
#else
#define LK_INLINE static inline
#endif

#ifndef LK_VECTOR_BYTES
#define LK_VECTOR_BYTES 32
#endif
#if LK_VECTOR_EXT
#define LK_W (LK_VECTOR_BYTES / 8)
typedef double lk_vd __attribute__((vector_size(LK_VECTOR_BYTES)));
typedef float lk_vf __attribute__((vector_size(LK_VECTOR_BYTES / 2)));
typedef __typeof__((lk_vd){0} < (lk_vd){0}) lk_vm; /* lane masks: all ones or all zeros */
#define LK_MASK(cmp) (cmp)
#define LK_F2D(v) __builtin_convertvector((v), lk_vd)
#define LK_D2F(v) __builtin_convertvector((v), lk_vf)
/* lk_vf8: LK_WF floats, the lanes float32 data is computed in (one AVX2 register; 16 lanes,
 * one AVX-512 register, where LK_VECTOR_BYTES is 64: the name stayed when the width grew). */
#define LK_WF (LK_VECTOR_BYTES / 4)
typedef float lk_vf8 __attribute__((vector_size(LK_VECTOR_BYTES)));
typedef __typeof__((lk_vf8){0} < (lk_vf8){0}) lk_vmf; /* int32 lane masks */
#define LK_MASKF(cmp) (cmp)
#else
#define LK_W 1
typedef double lk_vd;
typedef float lk_vf;
typedef int64_t lk_vm;
#define LK_MASK(cmp) (-(int64_t)(cmp))
#define LK_F2D(v) ((double)(v))
#define LK_D2F(v) ((float)(v))
#define LK_WF 1
typedef float lk_vf8;
typedef int32_t lk_vmf;
#define LK_MASKF(cmp) (-(int32_t)(cmp))
#endif

#include "../constants.h"

LK_INLINE lk_vd lk_splat(double c) { lk_vd v = {0}; for (int j = 0; j < LK_W; j++) ((double *)&v)[j] = c; return v; }
LK_INLINE lk_vm lk_bits(lk_vd x) { lk_vm u; memcpy(&u, &x, sizeof u); return u; }
LK_INLINE lk_vd lk_from_bits(lk_vm u) { lk_vd x; memcpy(&x, &u, sizeof x); return x; }
LK_INLINE lk_vd lk_select(lk_vm mask, lk_vd a, lk_vd b)
{
    return lk_from_bits((lk_bits(a) & mask) | (lk_bits(b) & ~mask));
}
/* max(x, lo) that keeps NaN (a comparison with NaN is false) */
LK_INLINE lk_vd lk_clamp_below(lk_vd x, double lo)
{
    return lk_select(LK_MASK(x < lo), lk_splat(lo), x);
}

/* exp_dd's constants, one vector each (see lk_expf_consts for why they live in memory) */
typedef struct {
    lk_vd log2e, shifter, shifter_normal, neg_ln2_hi, neg_ln2_lo, even[5], odd[5], floor, zero,
        lane;
} lk_exp_consts;
#if LK_W == 8
#define LK_SPLAT_INIT(c) {c, c, c, c, c, c, c, c}
#define LK_LANE_INDEX_INIT_D {0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}
#elif LK_W == 4
#define LK_SPLAT_INIT(c) {c, c, c, c}
#define LK_LANE_INDEX_INIT_D {0.0, 1.0, 2.0, 3.0}
#else
#define LK_SPLAT_INIT(c) c
#define LK_LANE_INDEX_INIT_D 0.0
#endif
/* q(r) = (exp(r) - 1 - r) / r^2 of degree 9 (Chebyshev fit, 2^-55.8 relative in exp), as
 * even(r^2) + r * odd(r^2), highest coefficient first */
static const lk_exp_consts lk_exp_k = {
    LK_SPLAT_INIT(LK_LOG2E),
    LK_SPLAT_INIT(LK_SHIFTER),
    LK_SPLAT_INIT(LK_SHIFTER + 1023.0),         /* leaves k + 1023, the exponent field of 2^k */
    LK_SPLAT_INIT(-LK_LN2_HI),
    LK_SPLAT_INIT(-LK_LN2_LO),
    {LK_SPLAT_INIT(0x1.28917c89a43a7p-22), LK_SPLAT_INIT(0x1.a019b9149a41cp-16),
     LK_SPLAT_INIT(0x1.6c16c17889ef1p-10), LK_SPLAT_INIT(0x1.5555555553d68p-5),
     LK_SPLAT_INIT(0x1.0000000000001p-1)},
    {LK_SPLAT_INIT(0x1.af389ecfc4b9cp-26), LK_SPLAT_INIT(0x1.71de0db2f6b19p-19),
     LK_SPLAT_INIT(0x1.a01a01a7c2efep-13), LK_SPLAT_INIT(0x1.11111111109b5p-7),
     LK_SPLAT_INIT(0x1.5555555555556p-3)},
    LK_SPLAT_INIT(LK_EXP_FLOOR),
    LK_SPLAT_INIT(0.0),
    LK_LANE_INDEX_INIT_D,
};

/* 2^j for integral j in [-1022, 1023], built from the bit pattern */
LK_INLINE lk_vd lk_pow2i(lk_vd j)
{
    return lk_from_bits((lk_bits(j + LK_SHIFTER) + 1023) << 52);
}

/* a * b + c where c nearly cancels a * b (a Newton residual), without an FMA instruction:
 * the product is split exactly (Dekker), and its high part cancels c exactly (Sterbenz). */
LK_INLINE lk_vd lk_fma_cancelling(lk_vd a, lk_vd b, lk_vd c)
{
    lk_vd p = a * b;
    lk_vd ca = 134217729.0 * a, cb = 134217729.0 * b;       /* Veltkamp: 26-bit halves */
    lk_vd ah = ca - (ca - a), al = a - ah, bh = cb - (cb - b), bl = b - bh;
    lk_vd err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;  /* a * b == p + err */
    return (p + c) + err;
}

/* TwoSum: s + err == a + b exactly, whatever their magnitudes */
LK_INLINE lk_vd lk_two_sum(lk_vd a, lk_vd b, lk_vd *err)
{
    lk_vd s = a + b;
    lk_vd bv = s - a;
    *err = (a - (s - bv)) + (b - bv);
    return s;
}

LK_INLINE double lk_lane(lk_vd v, int j) { return ((const double *)&v)[j]; }
/* some lane of m is set (the portable LK_ANY) */
LK_INLINE int lk_any(lk_vm m)
{
    int64_t lanes[LK_W], all = 0;
    memcpy(lanes, &m, sizeof lanes);
    for (int j = 0; j < LK_W; j++) all |= lanes[j];
    return all != 0;
}
/* lane j + 1, or 0 past the last lane (pairwise loops that must also work with one lane) */
LK_INLINE double lk_next_lane(lk_vd v, int j) { return j + 1 < LK_W ? lk_lane(v, j + 1) : 0.0; }
/* the lanes added in pairs, the pairs in order: a tree where a chain would cost a short row
 * its latency */
LK_INLINE double lk_lanes_sum(lk_vd v)
{
    double t = 0.0;
    for (int j = 0; j < LK_W; j += 2) t += lk_lane(v, j) + lk_next_lane(v, j);
    return t;
}

/* The largest of n (a power of two, <= 16) lane values, halving pairwise (a chain of n compares
 * sat on every row's critical path), and whether any is NaN; where one is, *max_out is
 * unspecified (callers test has_nan first). */
#define LK_LANES_MAX(NAME, T)                                                                  \
    LK_INLINE void NAME(T *v, int n, double *max_out, int *has_nan)                           \
    {                                                                                          \
        int nan = 0;                                                                           \
        for (int j = 0; j < n; j++) nan |= (v[j] != v[j]);                                     \
        for (int width = n / 2; width >= 1; width /= 2)                                        \
            for (int j = 0; j < width; j++) v[j] = v[j + width] > v[j] ? v[j + width] : v[j]; \
        *max_out = (double)v[0];                                                               \
        *has_nan = nan;                                                                        \
    }
LK_LANES_MAX(lk_lanes_max, float)
LK_LANES_MAX(lk_lanes_max_d, double)

/* w <= LK_W doubles (per-column state arrays); missing lanes read as pad, are not written */
LK_INLINE lk_vd lk_load_d(const double *p, ptrdiff_t w, double pad)
{
    lk_vd v = lk_splat(pad);
    if (w == LK_W) memcpy(&v, p, sizeof v);
    else for (ptrdiff_t j = 0; j < w; j++) ((double *)&v)[j] = p[j];
    return v;
}

LK_INLINE void lk_store_d(double *p, lk_vd v, ptrdiff_t w)
{
    if (w == LK_W) memcpy(p, &v, sizeof v);
    else for (ptrdiff_t j = 0; j < w; j++) p[j] = lk_lane(v, j);
}

LK_INLINE ptrdiff_t lk_width(ptrdiff_t n, ptrdiff_t i) { return n - i < LK_W ? n - i : LK_W; }

/* An elementwise loop: STEP(x, out, w) on whole vectors of WIDTH, then once on the tail (w <
 * WIDTH, padded), so that the main loop has no per-element width tests. */
#define LK_ELEMENTWISE(STEP, x, out, n, WIDTH)                                                \
    do {                                                                                      \
        ptrdiff_t i_ = 0;                                                                     \
        for (; i_ + (WIDTH) <= (n); i_ += (WIDTH)) STEP((x) + i_, (out) + i_, (WIDTH));       \
        if (i_ < (n)) STEP((x) + i_, (out) + i_, (n) - i_);                                   \
    } while (0)

/* ---- float lanes (lk_vf8) ---- */

#define LK_SHIFTERF 0x1.8p23f          /* adding it rounds a float to an integer in its low bits */
#define LK_LOG2EF 0x1.715476p0f
#define LK_LN2_HIF 0x1.62e4p-1f        /* 15 significant bits: k * LN2_HIF is exact for |k| < 2^9 */
#define LK_LN2_LOF 0x1.7f7d1cp-20f
#define LK_EXPF_FLOOR (-104.0f)        /* exp of anything below rounds to 0 in float */

/* softmax's float32 scale pass: a float multiply by the float reciprocal (1), or in double (0) */
#ifndef LK_SCALE_IN_FLOAT
#define LK_SCALE_IN_FLOAT 1
#endif

LK_INLINE lk_vf8 lk_splatf(float c) { lk_vf8 v; for (int j = 0; j < LK_WF; j++) ((float *)&v)[j] = c; return v; }
LK_INLINE lk_vmf lk_bitsf(lk_vf8 x) { lk_vmf u; memcpy(&u, &x, sizeof u); return u; }
LK_INLINE lk_vf8 lk_from_bitsf(lk_vmf u) { lk_vf8 x; memcpy(&x, &u, sizeof x); return x; }
LK_INLINE lk_vf8 lk_selectf(lk_vmf mask, lk_vf8 a, lk_vf8 b)
{
    return lk_from_bitsf((lk_bitsf(a) & mask) | (lk_bitsf(b) & ~mask));
}
LK_INLINE float lk_lanef(lk_vf8 v, int j) { return ((const float *)&v)[j]; }
LK_INLINE lk_vf8 lk_absf(lk_vf8 x) { return lk_from_bitsf(lk_bitsf(x) & 0x7fffffff); }
/* some lane of a float mask is set (the portable LK_ANYF) */
LK_INLINE int lk_anyf(lk_vmf m)
{
    int32_t lanes[LK_WF], all = 0;
    memcpy(lanes, &m, sizeof lanes);
    for (int j = 0; j < LK_WF; j++) all |= lanes[j];
    return all != 0;
}
/* a float mask's lanes as the low bits of an unsigned (the portable LK_BITSF) */
LK_INLINE unsigned lk_bitsf_of(lk_vmf m)
{
    int32_t lanes[LK_WF];
    unsigned bits = 0;
    memcpy(lanes, &m, sizeof lanes);
    for (int j = 0; j < LK_WF; j++) bits |= (unsigned)(lanes[j] != 0) << j;
    return bits;
}
/* The lanes of a float vector added, or their least or greatest (NaN lanes: unspecified), as
 * trees: a chain over the lanes costs a short row its latency, lane after lane. */
#define LK_LANES_TREEF(NAME, COMBINE)                                                          \
    LK_INLINE float NAME(lk_vf8 v)                                                             \
    {                                                                                          \
        float t[LK_WF];                                                                        \
        memcpy(t, &v, sizeof t);                                                               \
        for (int width = LK_WF / 2; width >= 1; width /= 2)                                    \
            for (int j = 0; j < width; j++) t[j] = COMBINE(t[j], t[j + width]);                \
        return t[0];                                                                           \
    }
#define LK_ADD_(a, b) ((a) + (b))
#define LK_MIN_(a, b) ((b) < (a) ? (b) : (a))
#define LK_MAX_(a, b) ((b) > (a) ? (b) : (a))
LK_LANES_TREEF(lk_lanes_sumf, LK_ADD_)
LK_LANES_TREEF(lk_lanes_minf, LK_MIN_)
LK_LANES_TREEF(lk_lanes_maxf, LK_MAX_)

/* 2^j for integral j in [-126, 127], built from the bit pattern */
LK_INLINE lk_vf8 lk_pow2if(lk_vf8 j)
{
    return lk_from_bitsf((lk_bitsf(j + LK_SHIFTERF) + 127) << 23);
}

/* The float exp's constants, one vector each. Pipelined loops read them from memory through a
 * pointer the compiler cannot see through (LK_OPAQUE): held in registers, they crowd out the
 * pipeline's state and GCC spills it, costing more than the loads that fold into the FMAs. */
typedef struct {
    lk_vf8 log2e, shifter, shifter_normal, neg_ln2_hi, neg_ln2_lo, c[5], two_m64, floor, zero,
        lane;
} lk_expf_consts;
#if LK_WF == 16
#define LK_SPLATF_INIT(c) {c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c}
#define LK_LANE_INDEX_INIT                                                                     \
    {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f,    \
     14.0f, 15.0f}
#elif LK_WF == 8
#define LK_SPLATF_INIT(c) {c, c, c, c, c, c, c, c}
#define LK_LANE_INDEX_INIT {0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f}
#else
#define LK_SPLATF_INIT(c) c
#define LK_LANE_INDEX_INIT 0.0f
#endif
static const lk_expf_consts lk_expf_k = {
    LK_SPLATF_INIT(LK_LOG2EF),
    LK_SPLATF_INIT(LK_SHIFTERF),
    LK_SPLATF_INIT(LK_SHIFTERF + 127.0f),       /* leaves k + 127, the exponent field of 2^k */
    LK_SPLATF_INIT(-LK_LN2_HIF),
    LK_SPLATF_INIT(-LK_LN2_LOF),
    {LK_SPLATF_INIT(0x1.fffff8p-2f), LK_SPLATF_INIT(0x1.55548ep-3f),
     LK_SPLATF_INIT(0x1.555b56p-5f), LK_SPLATF_INIT(0x1.123b8ep-7f),
     LK_SPLATF_INIT(0x1.687d90p-10f)},
    LK_SPLATF_INIT(0x1p-64f),
    LK_SPLATF_INIT(LK_EXPF_FLOOR),
    LK_SPLATF_INIT(0.0f),
    LK_LANE_INDEX_INIT,
};
#if LK_VECTOR_EXT
#define LK_OPAQUE(p) __asm__("" : "+r"(p))
#else
#define LK_OPAQUE(p) ((void)0)
#endif

/* What the float sigmoid pass computes from x and exp(-|x|) */
enum { LK_OF_SIGMOID, LK_OF_SIGMOID_DERIVATIVE };

/* How the exp pass makes x - m exact, per row, from its max m and min mn (finite m):
 * Fast2Sum needs the operand of larger magnitude first. When every x is within normal_floor of
 * m (-87 for float, -708 for double), every exp is a normal number and no clamp is needed;
 * then -m leads if no x is below -m, x leads if m <= 0, and otherwise the two are ordered
 * lane by lane. The wide form takes anything. */
enum { LK_SHIFT_FROM_MAX, LK_SHIFT_FROM_X, LK_SHIFT_BY_MAGNITUDE, LK_SHIFT_WIDE };
LK_INLINE int lk_shift_form(double m, double mn, double normal_floor)
{
    if (!(mn - m >= normal_floor)) return LK_SHIFT_WIDE;  /* also mn = -inf */
    if (mn >= -m) return LK_SHIFT_FROM_MAX;
    if (m <= 0.0) return LK_SHIFT_FROM_X;
    return LK_SHIFT_BY_MAGNITUDE;
}

LK_INLINE lk_vf8 lk_two_sumf(lk_vf8 a, lk_vf8 b, lk_vf8 *err)
{
    lk_vf8 s = a + b;
    lk_vf8 bv = s - a;
    *err = (a - (s - bv)) + (b - bv);
    return s;
}

/* The two halves of a float vector as double vectors (exact); the upper half is 0 for 1 lane. */
LK_INLINE void lk_f8_to_d(lk_vf8 v, lk_vd *lo, lk_vd *hi)
{
#if LK_WF == 2 * LK_W
    lk_vf h[2];
    memcpy(h, &v, sizeof h);
    *lo = LK_F2D(h[0]);
    *hi = LK_F2D(h[1]);
#else
    *lo = (lk_vd)v;
    *hi = (lk_vd)0.0;
#endif
}

/* Two double vectors rounded (once) to one float vector. */
LK_INLINE lk_vf8 lk_d_to_f8(lk_vd lo, lk_vd hi)
{
#if LK_WF == 2 * LK_W
    lk_vf h[2] = {LK_D2F(lo), LK_D2F(hi)};
    lk_vf8 v;
    memcpy(&v, h, sizeof v);
    return v;
#else
    (void)hi;
    return (lk_vf8)lo;
#endif
}

/* a * b + c rounded once, without an FMA instruction: a float product is exact in double; used
 * where an exact residual matters (the baseline path). */
LK_INLINE lk_vf8 lk_fmaf_via_double(lk_vf8 a, lk_vf8 b, lk_vf8 c)
{
    lk_vd a0, a1, b0, b1, c0, c1;
    lk_f8_to_d(a, &a0, &a1);
    lk_f8_to_d(b, &b0, &b1);
    lk_f8_to_d(c, &c0, &c1);
    return lk_d_to_f8(a0 * b0 + c0, a1 * b1 + c1);
}

/* w <= LK_WF floats; missing lanes read as pad */
LK_INLINE lk_vf8 lk_loadf(const float *p, ptrdiff_t w, float pad)
{
    lk_vf8 v = lk_splatf(pad);
    if (w == LK_WF) memcpy(&v, p, sizeof v);
    else for (ptrdiff_t j = 0; j < w; j++) ((float *)&v)[j] = p[j];
    return v;
}

LK_INLINE void lk_storef(float *p, lk_vf8 v, ptrdiff_t w)
{
    if (w == LK_WF) memcpy(p, &v, sizeof v);
    else for (ptrdiff_t j = 0; j < w; j++) p[j] = lk_lanef(v, j);
}


/* Many short rows as vector lanes: LANES rows of n values (stride apart; w of them real, the
 * rest repeat row 0) into buf[k * buf_stride + j], element k of row j, so that a row's
 * reduction is vertical; and back, for the first w lanes. (Float rows LK_WF to a vector, double
 * rows LK_W.) */
#define LK_DEFINE_LANES(SUFFIX, T, LANES)                                                      \
    LK_INLINE void lk_rows_to_lanes##SUFFIX(const T *x, ptrdiff_t stride, ptrdiff_t w,         \
                                            ptrdiff_t n, T *buf, ptrdiff_t buf_stride)         \
    {                                                                                          \
        for (ptrdiff_t j = 0; j < (LANES); j++) {                                              \
            const T *row = x + (j < w ? j : 0) * stride;                                       \
            for (ptrdiff_t k = 0; k < n; k++) buf[k * buf_stride + j] = row[k];                \
        }                                                                                      \
    }                                                                                          \
    LK_INLINE void lk_lanes_to_rows##SUFFIX(const T *buf, ptrdiff_t buf_stride, ptrdiff_t w,   \
                                            ptrdiff_t n, T *out, ptrdiff_t stride)             \
    {                                                                                          \
        for (ptrdiff_t j = 0; j < w && j < (LANES); j++)                                       \
            for (ptrdiff_t k = 0; k < n; k++) out[j * stride + k] = buf[k * buf_stride + j];   \
    }
LK_DEFINE_LANES(f, float, LK_WF)
LK_DEFINE_LANES(d, double, LK_W)

/* (clang-cl declares the AVX2 intrinsics only in the unit compiled for AVX2: setup.py) */
#if LK_VECTOR_EXT && (defined(__x86_64__) || defined(__i386__)) && LK_VECTOR_BYTES == 32 &&    \
    (!defined(_MSC_VER) || defined(__AVX2__))
#include <immintrin.h>
/* Partial vectors (the tail of every row) on AVX2: masked loads. The lane loop of lk_loadf
 * makes the vector read that follows it wait for its lane stores (store forwarding fails):
 * ~15 cycles a tail, the bulk of a short row's time. Masked lanes are never read. (Masked
 * stores measured slower than lk_storef's lane loop on Zen 3: stores are left to it.) */
static const int32_t lk_part_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define LK_AVX2_INLINE LK_INLINE __attribute__((target("avx2")))
/* lanes 0 .. w-1 set, 0 <= w <= 8 (4 for the 128-bit form) */
LK_AVX2_INLINE __m256i lk_part_mask8(ptrdiff_t w)
{
    return _mm256_loadu_si256((const __m256i *)(lk_part_mask + 8 - w));
}
LK_AVX2_INLINE __m128i lk_part_mask4(ptrdiff_t w)
{
    return _mm_loadu_si128((const __m128i *)(lk_part_mask + 8 - w));
}

LK_AVX2_INLINE lk_vf8 lk_loadf_avx2(const float *p, ptrdiff_t w, float pad)
{
    lk_vf8 v;
    if (w == LK_WF) {
        memcpy(&v, p, sizeof v);
        return v;
    }
    __m256i m = lk_part_mask8(w);
    return (lk_vf8)_mm256_blendv_ps(_mm256_set1_ps(pad), _mm256_maskload_ps(p, m),
                                    _mm256_castsi256_ps(m));
}

/* w < 4 floats as 4 doubles, pad beyond */
LK_AVX2_INLINE lk_vd lk_load_part_f4_avx2(const float *p, ptrdiff_t w, double pad)
{
    __m128i m = lk_part_mask4(w);
    __m128 v = _mm_blendv_ps(_mm_set1_ps((float)pad), _mm_maskload_ps(p, m), _mm_castsi128_ps(m));
    return (lk_vd)_mm256_cvtps_pd(v);
}

LK_AVX2_INLINE lk_vd lk_load_part_d4_avx2(const double *p, ptrdiff_t w, double pad)
{
    __m256i m = _mm256_cvtepi32_epi64(lk_part_mask4(w));
    return (lk_vd)_mm256_blendv_pd(_mm256_set1_pd(pad), _mm256_maskload_pd(p, m),
                                   _mm256_castsi256_pd(m));
}

/* r[i] = lane i of every r[j]: the 8 x 8 transpose (unpack pairs, shuffle quads, swap halves) */
LK_AVX2_INLINE void lk_transpose8_avx2(__m256 r[8])
{
    __m256 t[8], q[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        for (int h = 0; h < 2; h++) {
            q[4 * i + 2 * h] = _mm256_shuffle_ps(t[4 * i + h], t[4 * i + h + 2], 0x44);
            q[4 * i + 2 * h + 1] = _mm256_shuffle_ps(t[4 * i + h], t[4 * i + h + 2], 0xee);
        }
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(q[i], q[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(q[i], q[i + 4], 0x31);
    }
}

/* lk_rows_to_lanesf / lk_lanes_to_rowsf for 8 lanes, 8 x 8 blocks transposed in registers:
 * written lane by lane, the vector reads that follow wait for the scalar stores to commit
 * (~2 cycles an element). Partial blocks: lk_loadf_avx2's masked loads, and lk_storef's lane
 * loop (masked stores measured ~20 cycles each on Zen 3); never past a row's end. */
LK_AVX2_INLINE void lk_rows_to_lanes_avx2(const float *x, ptrdiff_t stride, ptrdiff_t w,
                                          ptrdiff_t n, float *buf, ptrdiff_t buf_stride)
{
    for (ptrdiff_t k0 = 0; k0 < n; k0 += 8) {
        ptrdiff_t c = n - k0 < 8 ? n - k0 : 8;
        __m256 r[8];
        for (int j = 0; j < 8; j++)
            r[j] = (__m256)lk_loadf_avx2(x + (j < w ? j : 0) * stride + k0, c, 0.0f);
        lk_transpose8_avx2(r);
        for (int i = 0; i < 8; i++)
            if (i < c) _mm256_storeu_ps(buf + (k0 + i) * buf_stride, r[i]);
    }
}

LK_AVX2_INLINE void lk_lanes_to_rows_avx2(const float *buf, ptrdiff_t buf_stride, ptrdiff_t w,
                                          ptrdiff_t n, float *out, ptrdiff_t stride)
{
    for (ptrdiff_t k0 = 0; k0 < n; k0 += 8) {
        ptrdiff_t c = n - k0 < 8 ? n - k0 : 8;
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = i < c ? _mm256_loadu_ps(buf + (k0 + i) * buf_stride) : _mm256_setzero_ps();
        lk_transpose8_avx2(r);
        for (int j = 0; j < 8 && j < w; j++) lk_storef(out + j * stride + k0, (lk_vf8)r[j], c);
    }
}

/* The same for 4 double lanes: 4 x 4 blocks (unpack pairs, swap halves) */
LK_AVX2_INLINE void lk_transpose4d_avx2(__m256d r[4])
{
    __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

LK_AVX2_INLINE void lk_rows_to_lanesd_avx2(const double *x, ptrdiff_t stride, ptrdiff_t w,
                                           ptrdiff_t n, double *buf, ptrdiff_t buf_stride)
{
    for (ptrdiff_t k0 = 0; k0 < n; k0 += 4) {
        ptrdiff_t c = n - k0 < 4 ? n - k0 : 4;
        __m256d r[4];
        for (int j = 0; j < 4; j++) {
            const double *p = x + (j < w ? j : 0) * stride + k0;
            r[j] = c == 4 ? _mm256_loadu_pd(p) : (__m256d)lk_load_part_d4_avx2(p, c, 0.0);
        }
        lk_transpose4d_avx2(r);
        for (int i = 0; i < 4; i++)
            if (i < c) _mm256_storeu_pd(buf + (k0 + i) * buf_stride, r[i]);
    }
}

LK_AVX2_INLINE void lk_lanes_to_rowsd_avx2(const double *buf, ptrdiff_t buf_stride,
                                           ptrdiff_t w, ptrdiff_t n, double *out,
                                           ptrdiff_t stride)
{
    for (ptrdiff_t k0 = 0; k0 < n; k0 += 4) {
        ptrdiff_t c = n - k0 < 4 ? n - k0 : 4;
        __m256d r[4];
        for (int i = 0; i < 4; i++)
            r[i] = i < c ? _mm256_loadu_pd(buf + (k0 + i) * buf_stride) : _mm256_setzero_pd();
        lk_transpose4d_avx2(r);
        for (int j = 0; j < 4 && j < w; j++) lk_store_d(out + j * stride + k0, (lk_vd)r[j], c);
    }
}

#endif

#if LK_VECTOR_EXT && (defined(__x86_64__) || defined(__i386__)) && LK_VECTOR_BYTES == 64 &&    \
    (!defined(_MSC_VER) || defined(__AVX512F__))
#include <immintrin.h>
/* The same on AVX-512 (16 float or 8 double lanes): square blocks transposed in registers,
 * partial rows by masked loads and stores, which never touch the lanes they leave out. Element
 * by element, the short-row kernels spent about a third of their time here (4096 x 10
 * softmax_backward: 57 us against 45 on the AVX2 path). */
#define LK_AVX512_INLINE                                                                       \
    LK_INLINE __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))

/* 4 x 4 blocks within each 128-bit lane (unpack pairs, shuffle quads), then the 128-bit
 * lanes of four rows gathered in two steps */
LK_AVX512_INLINE void lk_transpose16_avx512(__m512 r[16])
{
    __m512 t[16], q[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        for (int h = 0; h < 2; h++) {
            q[4 * i + 2 * h] = _mm512_shuffle_ps(t[4 * i + h], t[4 * i + h + 2], 0x44);
            q[4 * i + 2 * h + 1] = _mm512_shuffle_ps(t[4 * i + h], t[4 * i + h + 2], 0xee);
        }
    }
    /* q[4 i + c], 128-bit lane L: element 4 L + c of rows 4 i .. 4 i + 3 */
    for (int c = 0; c < 4; c++) {
        __m512 low01 = _mm512_shuffle_f32x4(q[c], q[4 + c], 0x44);
        __m512 high01 = _mm512_shuffle_f32x4(q[c], q[4 + c], 0xee);
        __m512 low23 = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0x44);
        __m512 high23 = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0xee);
        r[c] = _mm512_shuffle_f32x4(low01, low23, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(low01, low23, 0xdd);
        r[8 + c] = _mm512_shuffle_f32x4(high01, high23, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(high01, high23, 0xdd);
    }
}

/* pairs within each 128-bit lane, then the lanes of four pairs of rows in two steps */
LK_AVX512_INLINE void lk_transpose8d_avx512(__m512d r[8])
{
    __m512d t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* t[2 i + c], 128-bit lane L: element 2 L + c of rows 2 i, 2 i + 1 */
    for (int c = 0; c < 2; c++) {
        __m512d low01 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0x44);
        __m512d high01 = _mm512_shuffle_f64x2(t[c], t[2 + c], 0xee);
        __m512d low23 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0x44);
        __m512d high23 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], 0xee);
        r[c] = _mm512_shuffle_f64x2(low01, low23, 0x88);
        r[2 + c] = _mm512_shuffle_f64x2(low01, low23, 0xdd);
        r[4 + c] = _mm512_shuffle_f64x2(high01, high23, 0x88);
        r[6 + c] = _mm512_shuffle_f64x2(high01, high23, 0xdd);
    }
}

/* rows_to_lanes / lanes_to_rows for LANES-lane vectors V of T (intrinsic suffix PS, lane
 * masks M): LANES x LANES blocks through TRANSPOSE, a row's end by masked loads and stores */
#define LK_DEFINE_LANES_AVX512(SUFFIX, T, V, LANES, PS, M, TRANSPOSE)                          \
    LK_AVX512_INLINE void lk_rows_to_lanes##SUFFIX(const T *x, ptrdiff_t stride, ptrdiff_t w,  \
                                                   ptrdiff_t n, T *buf, ptrdiff_t buf_stride)  \
    {                                                                                          \
        for (ptrdiff_t k0 = 0; k0 < n; k0 += (LANES)) {                                        \
            ptrdiff_t c = n - k0 < (LANES) ? n - k0 : (LANES);                                 \
            M part = (M)((1u << c) - 1u);                                                      \
            V r[LANES];                                                                        \
            for (int j = 0; j < (LANES); j++)                                                  \
                r[j] = _mm512_maskz_loadu_##PS(part, x + (j < w ? j : 0) * stride + k0);       \
            TRANSPOSE(r);                                                                      \
            for (int i = 0; i < c; i++) _mm512_storeu_##PS(buf + (k0 + i) * buf_stride, r[i]); \
        }                                                                                      \
    }                                                                                          \
    LK_AVX512_INLINE void lk_lanes_to_rows##SUFFIX(const T *buf, ptrdiff_t buf_stride,         \
                                                   ptrdiff_t w, ptrdiff_t n, T *out,           \
                                                   ptrdiff_t stride)                           \
    {                                                                                          \
        for (ptrdiff_t k0 = 0; k0 < n; k0 += (LANES)) {                                        \
            ptrdiff_t c = n - k0 < (LANES) ? n - k0 : (LANES);                                 \
            M part = (M)((1u << c) - 1u);                                                      \
            V r[LANES];                                                                        \
            for (int i = 0; i < (LANES); i++)                                                  \
                r[i] = i < c ? _mm512_loadu_##PS(buf + (k0 + i) * buf_stride)                  \
                             : _mm512_setzero_##PS();                                          \
            TRANSPOSE(r);                                                                      \
            for (int j = 0; j < (LANES) && j < w; j++)                                         \
                _mm512_mask_storeu_##PS(out + j * stride + k0, part, r[j]);                    \
        }                                                                                      \
    }
LK_DEFINE_LANES_AVX512(_avx512, float, __m512, 16, ps, __mmask16, lk_transpose16_avx512)
LK_DEFINE_LANES_AVX512(d_avx512, double, __m512d, 8, pd, __mmask8, lk_transpose8d_avx512)
#endif

#endif
