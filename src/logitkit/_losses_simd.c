/*
 * Compiles the loops of _losses_simd_body.h once per (storage type, instruction set), exactly
 * as _simd.c does for _simd_body.h (whose inline helpers, exp_dd / exp_lp / load / store, the
 * loops here reuse: _simd_body.h is included by _losses_simd_body.h under this file's names).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "_losses_simd.h"
#include "_simd_math.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LKL_HAVE_AVX2 1
#include <immintrin.h>
#else
#define LKL_HAVE_AVX2 0
#endif

#define LK_TARGET
#define LK_FMA(a, b, c) ((a) * (b) + (c))
#define LKL_FMAF(a, b, c) ((a) * (b) + (c))
#define LKL_FUSED 0
/* the macros _simd_body.h needs beyond LK_FMA; the same as _simd.c's (TODO: one shared header) */
#define LK_FMAF(a, b, c) ((a) * (b) + (c))
#define LK_FMAF_EXACT(a, b, c) lk_fmaf_via_double((a), (b), (c))
#define LK_WIDEN_F8(v, lo, hi) lk_f8_to_d((v), &(lo), &(hi))
#define LK_NARROW_D(lo, hi) lk_d_to_f8((lo), (hi))
#define LK_MAXF(lo, a) lk_selectf(LK_MASKF((a) < (lo)), (lo), (a))
#define LK_MAXD(lo, a) lk_select(LK_MASK((a) < (lo)), (lo), (a))
/* 8 floats to two vectors of 4 doubles */
#define LKL_SPLIT_F2D(e, lo, hi)                                                               \
    do {                                                                                       \
        lk_vf lo_f_, hi_f_;                                                                    \
        memcpy(&lo_f_, &(e), sizeof lo_f_);                                                    \
        memcpy(&hi_f_, (const char *)&(e) + sizeof lo_f_, sizeof hi_f_);                       \
        (lo) = LK_F2D(lo_f_);                                                                  \
        (hi) = LK_F2D(hi_f_);                                                                  \
    } while (0)
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lkl_sb_base_f64_##name
#define LKL_FN(name) lkl_base_f64_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lkl_sb_base_f32_##name
#define LKL_FN(name) lkl_base_f32_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#undef LK_TARGET
#undef LK_FMA
#undef LKL_FMAF
#undef LKL_FUSED
#undef LK_FMAF
#undef LK_FMAF_EXACT
#undef LK_WIDEN_F8
#undef LK_NARROW_D
#undef LK_MAXF
#undef LK_MAXD
#undef LKL_SPLIT_F2D

#if LKL_HAVE_AVX2
#define LK_TARGET __attribute__((target("avx2,fma")))
#define LK_FMA(a, b, c) ((lk_vd)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#define LKL_FMAF(a, b, c) ((lkl_vf8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define LKL_FUSED 1
#define LK_FMAF(a, b, c) ((lk_vf8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define LK_FMAF_EXACT(a, b, c) LK_FMAF(a, b, c)
#define LK_WIDEN_F8(v, lo, hi)                                                                 \
    do {                                                                                       \
        __m256 w8_ = (__m256)(v);                                                              \
        (lo) = (lk_vd)_mm256_cvtps_pd(_mm256_castps256_ps128(w8_));                            \
        (hi) = (lk_vd)_mm256_cvtps_pd(_mm256_extractf128_ps(w8_, 1));                          \
    } while (0)
#define LK_MAXF(lo, a) ((lk_vf8)_mm256_max_ps((__m256)(lo), (__m256)(a)))
#define LK_MAXD(lo, a) ((lk_vd)_mm256_max_pd((__m256d)(lo), (__m256d)(a)))
#define LK_NARROW_D(lo, hi)                                                                    \
    ((lk_vf8)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)(lo))),      \
                                  _mm256_cvtpd_ps((__m256d)(hi)), 1))
#define LKL_SPLIT_F2D(e, lo, hi)                                                               \
    do {                                                                                       \
        (lo) = (lk_vd)_mm256_cvtps_pd(_mm256_castps256_ps128((__m256)(e)));                    \
        (hi) = (lk_vd)_mm256_cvtps_pd(_mm256_extractf128_ps((__m256)(e), 1));                  \
    } while (0)
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lkl_sb_avx2_f64_##name
#define LKL_FN(name) lkl_avx2_f64_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lkl_sb_avx2_f32_##name
#define LKL_FN(name) lkl_avx2_f32_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#undef LK_TARGET
#undef LK_FMA
#undef LKL_FMAF
#undef LKL_FUSED
#undef LK_FMAF
#undef LK_FMAF_EXACT
#undef LK_WIDEN_F8
#undef LK_NARROW_D
#undef LK_MAXF
#undef LK_MAXD
#undef LKL_SPLIT_F2D
#endif

#define LKL_TABLE(P)                                                                           \
    { P##ce_sums, P##dot, P##total, P##softmax_bwd, P##log_softmax_bwd, P##sigmoid_bwd,        \
      P##ce_small, P##bce }

static const lkl_table_f32 base_f32 = LKL_TABLE(lkl_base_f32_);
static const lkl_table_f64 base_f64 = LKL_TABLE(lkl_base_f64_);
#if LKL_HAVE_AVX2
static const lkl_table_f32 avx2_f32 = LKL_TABLE(lkl_avx2_f32_);
static const lkl_table_f64 avx2_f64 = LKL_TABLE(lkl_avx2_f64_);
#endif

lkl_table_f32 lkl_f32 = LKL_TABLE(lkl_base_f32_);
lkl_table_f64 lkl_f64 = LKL_TABLE(lkl_base_f64_);

int lkl_select_isa(int isa)
{
    if (!lk_isa_supported(isa)) return -1;
    switch (isa) {
#if LKL_HAVE_AVX2
    case LK_ISA_AVX2:
        lkl_f32 = avx2_f32;
        lkl_f64 = avx2_f64;
        break;
#endif
    default:
        lkl_f32 = base_f32;
        lkl_f64 = base_f64;
    }
    return 0;
}
