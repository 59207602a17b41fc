/*
 * The loops of _losses_simd_body.h for AVX-512 (F, DQ, VL, BW): 16 float or 8 double lanes,
 * compiled apart from _losses_simd.c for the same reason _simd_avx512.c is (vectors of 64
 * bytes: LK_VECTOR_BYTES). Target attributes only; lkl_select_isa installs these tables only
 * where lk_select_isa's CPU check passed.
 */
#define LK_VECTOR_BYTES 64
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "_losses_simd.h"
#include "_simd_math.h"

#if LK_HAVE_AVX512
#include <immintrin.h>
#define LK_BODY_AVX512 1
#include "_simd_isa.h"
#define LKL_FUSED 1
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lkl_sb_avx512_f64_##name
#define LKL_FN(name) lkl_avx512_f64_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lkl_sb_avx512_f32_##name
#define LKL_FN(name) lkl_avx512_f32_##name
#include "_losses_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#undef LKL_FN
#include "_simd_isa_end.h"
#undef LKL_FUSED

const lkl_table_f32 lkl_avx512_table_f32 = LKL_TABLE(lkl_avx512_f32_);
const lkl_table_f64 lkl_avx512_table_f64 = LKL_TABLE(lkl_avx512_f64_);
#endif
