/*
 * Compiles the loops of _simd_body.h once per (storage type, instruction set) and picks the
 * instruction set at run time (PyTorch's "one kernel file per CPU capability" technique), so a
 * wheel built for generic x86-64 still runs AVX2+FMA code where the CPU has it.
 */
#include <math.h>
#include <stddef.h>
#include "_simd.h"
#include "_simd_math.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LK_HAVE_AVX2 1
#define LK_AVX2_TARGET __attribute__((target("avx2,fma")))
#include <immintrin.h>
#else
#define LK_HAVE_AVX2 0
#endif

#define LK_TARGET
#define LK_FMA(a, b, c) ((a) * (b) + (c))
#define LK_FMA_EXACT(a, b, c) lk_fma_cancelling((a), (b), (c))
#define LK_FMAF(a, b, c) ((a) * (b) + (c))
#define LK_FMAF_EXACT(a, b, c) lk_fmaf_via_double((a), (b), (c))
#define LK_WIDEN_F8(v, lo, hi) lk_f8_to_d((v), &(lo), &(hi))
#define LK_NARROW_D(lo, hi) lk_d_to_f8((lo), (hi))
#define LK_MAXF(lo, a) lk_selectf(LK_MASKF((a) < (lo)), (lo), (a))
#define LK_MAXD(lo, a) lk_select(LK_MASK((a) < (lo)), (lo), (a))
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lk_base_f64_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN

#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lk_base_f32_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LK_TARGET
#undef LK_FMA
#undef LK_FMA_EXACT
#undef LK_FMAF
#undef LK_FMAF_EXACT
#undef LK_WIDEN_F8
#undef LK_NARROW_D
#undef LK_MAXF
#undef LK_MAXD

#if LK_HAVE_AVX2
#define LK_TARGET LK_AVX2_TARGET
#define LK_FMA(a, b, c) ((lk_vd)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#define LK_FMA_EXACT(a, b, c) LK_FMA(a, b, c)
#define LK_FMAF(a, b, c) ((lk_vf8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define LK_FMAF_EXACT(a, b, c) LK_FMAF(a, b, c)
/* GCC 12 splits the generic conversions into 2-lane pieces through memory: spell them out */
#define LK_WIDEN_F8(v, lo, hi)                                                                 \
    do {                                                                                       \
        __m256 w8_ = (__m256)(v);                                                              \
        (lo) = (lk_vd)_mm256_cvtps_pd(_mm256_castps256_ps128(w8_));                            \
        (hi) = (lk_vd)_mm256_cvtps_pd(_mm256_extractf128_ps(w8_, 1));                          \
    } while (0)
/* max(lo, a), NaN in a kept (maxps returns its second operand when either is NaN) */
#define LK_MAXF(lo, a) ((lk_vf8)_mm256_max_ps((__m256)(lo), (__m256)(a)))
#define LK_MAXD(lo, a) ((lk_vd)_mm256_max_pd((__m256d)(lo), (__m256d)(a)))
#define LK_NARROW_D(lo, hi)                                                                    \
    ((lk_vf8)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)(lo))),      \
                                  _mm256_cvtpd_ps((__m256d)(hi)), 1))
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lk_avx2_f64_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN

#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lk_avx2_f32_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LK_TARGET
#undef LK_FMA
#undef LK_FMA_EXACT
#undef LK_FMAF
#undef LK_FMAF_EXACT
#undef LK_WIDEN_F8
#undef LK_NARROW_D
#undef LK_MAXF
#undef LK_MAXD
#endif

#define LK_TABLE(PREFIX)                                                                       \
    { PREFIX##row_max, PREFIX##exp_store, PREFIX##exp_sum, PREFIX##scale, PREFIX##shift_log,   \
      PREFIX##col_max, PREFIX##col_exp_store, PREFIX##col_exp_sum, PREFIX##col_scale, PREFIX##col_shift_log, PREFIX##sigmoid,             \
      PREFIX##sigmoid_derivative, PREFIX##exp_neg_abs_array, PREFIX##softplus,                 \
      PREFIX##log_sigmoid }

static const lk_table_f32 base_f32 = LK_TABLE(lk_base_f32_);
static const lk_table_f64 base_f64 = LK_TABLE(lk_base_f64_);
#if LK_HAVE_AVX2
static const lk_table_f32 avx2_f32 = LK_TABLE(lk_avx2_f32_);
static const lk_table_f64 avx2_f64 = LK_TABLE(lk_avx2_f64_);
#endif

lk_table_f32 lk_f32 = LK_TABLE(lk_base_f32_);
lk_table_f64 lk_f64 = LK_TABLE(lk_base_f64_);
static int active_isa = LK_ISA_BASELINE;

int lk_isa_supported(int isa)
{
    switch (isa) {
    case LK_ISA_BASELINE:
        return 1;
#if LK_HAVE_AVX2
    case LK_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

int lk_select_isa(int isa)
{
    if (!lk_isa_supported(isa)) return -1;
    switch (isa) {
#if LK_HAVE_AVX2
    case LK_ISA_AVX2:
        lk_f32 = avx2_f32;
        lk_f64 = avx2_f64;
        break;
#endif
    default:
        lk_f32 = base_f32;
        lk_f64 = base_f64;
    }
    active_isa = isa;
    return 0;
}

int lk_active_isa(void) { return active_isa; }

const char *lk_isa_name(int isa)
{
    static const char *const names[LK_ISA_COUNT] = {"baseline", "avx2"};
    return (isa >= 0 && isa < LK_ISA_COUNT) ? names[isa] : "unknown";
}
