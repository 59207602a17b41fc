/*
 * NEON on aarch64 (every ARMv8-A CPU, so no target attribute): the baseline's vectors (4
 * double or 8 float lanes, each vector a pair of 128-bit registers) with the fused
 * multiply-add every ARMv8 CPU has, so exact products are FMA residuals, not Dekker splits.
 * Conversions and lane reductions are NEON instructions on the register halves. Lane sums keep
 * the portable trees' order, so a path differs from the baseline only through fused roundings.
 * Undone by isa_end.h.
 */
#ifndef LOGITKIT_ISA_NEON_FUNCTIONS
#define LOGITKIT_ISA_NEON_FUNCTIONS
#include <arm_neon.h>

/* the unions below split the baseline's 32-byte vectors into two registers */
_Static_assert(LK_VECTOR_BYTES == 32 && LK_W == 4 && LK_WF == 8, "NEON pairs 128-bit vectors");

/* a vector of the unit's width as its 128-bit registers */
typedef union { lk_vd v; float64x2_t q[2]; } lk_neon_d;
typedef union { lk_vf8 v; float32x4_t q[2]; } lk_neon_f;
typedef union { lk_vf v; float32x4_t q; } lk_neon_f4;
typedef union { lk_vm v; uint64x2_t q[2]; } lk_neon_m;
typedef union { lk_vmf v; uint32x4_t q[2]; } lk_neon_mf;

/* c + a * b rounded once (vfmaq is an fmla: GCC and Clang never split it) */
LK_INLINE lk_vd lk_fma_neon(lk_vd a, lk_vd b, lk_vd c)
{
    lk_neon_d x = {a}, y = {b}, z = {c}, r;
    r.q[0] = vfmaq_f64(z.q[0], x.q[0], y.q[0]);
    r.q[1] = vfmaq_f64(z.q[1], x.q[1], y.q[1]);
    return r.v;
}
LK_INLINE lk_vf8 lk_fmaf_neon(lk_vf8 a, lk_vf8 b, lk_vf8 c)
{
    lk_neon_f x = {a}, y = {b}, z = {c}, r;
    r.q[0] = vfmaq_f32(z.q[0], x.q[0], y.q[0]);
    r.q[1] = vfmaq_f32(z.q[1], x.q[1], y.q[1]);
    return r.v;
}

/* 8 floats as two vectors of 4 doubles, exact (fcvtl, fcvtl2) */
LK_INLINE void lk_widen_f8_neon(lk_vf8 v, lk_vd *lo, lk_vd *hi)
{
    lk_neon_f f = {v};
    lk_neon_d a, b;
    a.q[0] = vcvt_f64_f32(vget_low_f32(f.q[0]));
    a.q[1] = vcvt_high_f64_f32(f.q[0]);
    b.q[0] = vcvt_f64_f32(vget_low_f32(f.q[1]));
    b.q[1] = vcvt_high_f64_f32(f.q[1]);
    *lo = a.v;
    *hi = b.v;
}
LK_INLINE lk_vd lk_f4_to_d_neon(lk_vf v)
{
    lk_neon_f4 f = {v};
    lk_neon_d d;
    d.q[0] = vcvt_f64_f32(vget_low_f32(f.q));
    d.q[1] = vcvt_high_f64_f32(f.q);
    return d.v;
}
/* 4 doubles rounded once each to 4 floats (fcvtn, fcvtn2) */
LK_INLINE float32x4_t lk_d_to_q_neon(lk_vd v)
{
    lk_neon_d d = {v};
    return vcvt_high_f32_f64(vcvt_f32_f64(d.q[0]), d.q[1]);
}
LK_INLINE lk_vf lk_d_to_f4_neon(lk_vd v)
{
    lk_neon_f4 f;
    f.q = lk_d_to_q_neon(v);
    return f.v;
}
LK_INLINE lk_vf8 lk_narrow_d_neon(lk_vd lo, lk_vd hi)
{
    lk_neon_f f;
    f.q[0] = lk_d_to_q_neon(lo);
    f.q[1] = lk_d_to_q_neon(hi);
    return f.v;
}

/* some lane of a mask set: the largest 32-bit piece of the two registers or-ed (umaxv) */
LK_INLINE int lk_any_neon(lk_vm m)
{
    lk_neon_m u = {m};
    return vmaxvq_u32(vreinterpretq_u32_u64(vorrq_u64(u.q[0], u.q[1]))) != 0;
}
LK_INLINE int lk_anyf_neon(lk_vmf m)
{
    lk_neon_mf u = {m};
    return vmaxvq_u32(vorrq_u32(u.q[0], u.q[1])) != 0;
}
/* lane j of a float mask as bit j: each set lane keeps its weight 2^j, the weights added */
LK_INLINE unsigned lk_bitsf_neon(lk_vmf m)
{
    static const uint32_t weight[4] = {1, 2, 4, 8};
    lk_neon_mf u = {m};
    uint32x4_t w = vld1q_u32(weight);
    return vaddvq_u32(vandq_u32(vtstq_u32(u.q[0], u.q[0]), w)) |
           vaddvq_u32(vandq_u32(vtstq_u32(u.q[1], u.q[1]), w)) << 4;
}

/* The portable trees' sums: floats as ((v0 + v4) + (v2 + v6)) + ((v1 + v5) + (v3 + v7)); doubles
 * as (0 + (v0 + v1)) + (v2 + v3), the leading 0 turning an all -0 sum into +0 as there */
LK_INLINE float lk_lanes_sumf_neon(lk_vf8 v)
{
    lk_neon_f f = {v};
    float32x4_t s = vaddq_f32(f.q[0], f.q[1]);
    return vaddv_f32(vadd_f32(vget_low_f32(s), vget_high_f32(s)));
}
LK_INLINE double lk_lanes_sum_neon(lk_vd v)
{
    lk_neon_d d = {v};
    return (0.0 + vaddvq_f64(d.q[0])) + vaddvq_f64(d.q[1]);
}
/* least and greatest lane (fminv, fmaxv; a NaN lane gives NaN, which the portable trees leave
 * unspecified, and a tie of -0 and +0 gives either zero) */
LK_INLINE float lk_lanes_minf_neon(lk_vf8 v)
{
    lk_neon_f f = {v};
    return vminvq_f32(vminq_f32(f.q[0], f.q[1]));
}
LK_INLINE float lk_lanes_maxf_neon(lk_vf8 v)
{
    lk_neon_f f = {v};
    return vmaxvq_f32(vmaxq_f32(f.q[0], f.q[1]));
}
#endif

#define LK_FUSED 1                      /* LK_FMA is a true fused multiply-add */
#define LK_TARGET
#define LK_FMA(a, b, c) lk_fma_neon((a), (b), (c))
#define LK_FMA_EXACT(a, b, c) LK_FMA(a, b, c)
#define LK_FMAF(a, b, c) lk_fmaf_neon((a), (b), (c))
#define LK_FMAF_EXACT(a, b, c) LK_FMAF(a, b, c)
#define LK_WIDEN_F8(v, lo, hi) lk_widen_f8_neon((v), &(lo), &(hi))
#define LK_LOAD_WIDEN_F8(p, lo, hi) lk_widen_f8_neon(lk_loadf((p), LK_WF, 0.0f), &(lo), &(hi))
#define LK_NARROW_D(lo, hi) lk_narrow_d_neon((lo), (hi))
#define LK_F4_TO_D(f) lk_f4_to_d_neon(f)
#define LK_D_TO_F4(v) lk_d_to_f4_neon(v)
/* max(lo, a) and min(hi, a) as the baseline's selects, not fmax / fmin: NaN in a is kept, NaN
 * in lo or hi is not, and of -0 and +0 a is kept */
#define LK_MAXF(lo, a) lk_selectf(LK_MASKF((a) < (lo)), (lo), (a))
#define LK_MAXD(lo, a) lk_select(LK_MASK((a) < (lo)), (lo), (a))
#define LK_MINF(hi, a) lk_selectf(LK_MASKF((hi) < (a)), (hi), (a))
#define LK_MIND(hi, a) lk_select(LK_MASK((hi) < (a)), (hi), (a))
#define LK_MIN_ABSF(lo, a) LK_MINF((lo), lk_absf(a))
#define LK_MAX_ABSF(hi, a) LK_MAXF((hi), lk_absf(a))
#define LK_ANY(m) lk_any_neon((m))
#define LK_ANYF(m) lk_anyf_neon((m))
#define LK_BITSF(m) lk_bitsf_neon((m))
#define LK_LESSF_BITS(a, b) LK_BITSF(LK_MASKF((a) < (b)))
#define LK_LOADF(p, w, pad) lk_loadf((p), (w), (pad))
#define LK_STOREF(p, v, w) lk_storef((p), (v), (w))
#define LK_TO_ALIGNF(p) ((ptrdiff_t)0)
#define LK_LANES_SUMF(v) lk_lanes_sumf_neon(v)
#define LK_LANES_SUMD(v) lk_lanes_sum_neon(v)
#define LK_LANES_MINF(v) lk_lanes_minf_neon(v)
#define LK_LANES_MAXF(v) lk_lanes_maxf_neon(v)
#define LK_ROWS_TO_LANESF lk_rows_to_lanesf
#define LK_LANES_TO_ROWSF lk_lanes_to_rowsf
#define LK_ROWS_TO_LANESD lk_rows_to_lanesd
#define LK_LANES_TO_ROWSD lk_lanes_to_rowsd
