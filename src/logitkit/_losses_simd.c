/*
 * Compiles the loops of _losses_simd_body.h once per (storage type, instruction set), exactly
 * as _simd.c does for _simd_body.h (whose inline helpers, exp_dd / exp_lp / load / store, the
 * loops here reuse: _simd_body.h is included by _losses_simd_body.h under this file's names).
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "_losses_simd.h"
#include "_simd_math.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LKL_HAVE_AVX2 1
#include <immintrin.h>
#else
#define LKL_HAVE_AVX2 0
#endif

#define LK_BODY_AVX2 0
#include "_simd_isa.h"
#define LKL_FUSED 0
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
#include "_simd_isa_end.h"
#undef LKL_FUSED

#if LKL_HAVE_AVX2
#undef LK_BODY_AVX2
#define LK_BODY_AVX2 1
#include "_simd_isa.h"
#define LKL_FUSED 1
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
#include "_simd_isa_end.h"
#undef LKL_FUSED
#endif

static const lkl_table_f32 base_f32 = LKL_TABLE(lkl_base_f32_);
static const lkl_table_f64 base_f64 = LKL_TABLE(lkl_base_f64_);
#if LKL_HAVE_AVX2
static const lkl_table_f32 avx2_f32 = LKL_TABLE(lkl_avx2_f32_);
static const lkl_table_f64 avx2_f64 = LKL_TABLE(lkl_avx2_f64_);
#endif

lkl_table_f32 lkl_f32 = LKL_TABLE(lkl_base_f32_);
lkl_table_f64 lkl_f64 = LKL_TABLE(lkl_base_f64_);
lkl_ce_short_f32_fn lkl_ce_short_f32 = lkl_base_f32_ce_short;
lkl_ce_short_f64_fn lkl_ce_short_f64 = lkl_base_f64_ce_short;

int lkl_select_isa(int isa)
{
    if (!lk_isa_supported(isa)) return -1;
    switch (isa) {
#if LK_HAVE_AVX512
    case LK_ISA_AVX512:
        lkl_f32 = lkl_avx512_table_f32;
        lkl_f64 = lkl_avx512_table_f64;
        /* Memory-bound float64 loops whose 64-byte accesses each straddle two cache lines at
         * NumPy's usual 16- or 32-byte alignment: AVX2's were 1.2-1.4x faster there (and
         * 1.2x slower only on 64-byte aligned arrays) */
        lkl_f64.sigmoid_bwd = lkl_avx2_f64_sigmoid_bwd;
        lkl_f64.softmax_bwd_rows = lkl_avx2_f64_softmax_bwd_rows;
        lkl_ce_short_f32 = lkl_avx512_f32_ce_short;
        lkl_ce_short_f64 = lkl_avx512_f64_ce_short;
        break;
#endif
#if LKL_HAVE_AVX2
    case LK_ISA_AVX2:
        lkl_f32 = avx2_f32;
        lkl_f64 = avx2_f64;
        lkl_ce_short_f32 = lkl_avx2_f32_ce_short;
        lkl_ce_short_f64 = lkl_avx2_f64_ce_short;
        break;
#endif
    default:
        lkl_f32 = base_f32;
        lkl_f64 = base_f64;
        lkl_ce_short_f32 = lkl_base_f32_ce_short;
        lkl_ce_short_f64 = lkl_base_f64_ce_short;
    }
    return 0;
}
