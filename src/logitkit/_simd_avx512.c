/*
 * The loops of _simd_body.h for AVX-512 (F, DQ, VL, BW): 16 float or 8 double lanes. A unit of
 * its own because its vector types are twice as wide as _simd.c's (LK_VECTOR_BYTES 64); its
 * functions carry target attributes (never -march) and run only where lk_select_isa chose
 * LK_ISA_AVX512 after checking the CPU.
 */
#define LK_VECTOR_BYTES 64
#include <math.h>
#include <stddef.h>
#include "_simd.h"
#include "_simd_math.h"

#if LK_HAVE_AVX512
#include <immintrin.h>
#define LK_BODY_AVX512 1
#include "_simd_isa.h"
#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) lk_avx512_f64_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN

#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) lk_avx512_f32_##name
#include "_simd_body.h"
#undef LK_T
#undef LK_IS_F64
#undef LK_FN
#include "_simd_isa_end.h"

const lk_table_f32 lk_avx512_table_f32 = LK_TABLE(lk_avx512_f32_);
const lk_table_f64 lk_avx512_table_f64 = LK_TABLE(lk_avx512_f64_);
#endif
