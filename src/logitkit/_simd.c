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
#include <immintrin.h>
#else
#define LK_HAVE_AVX2 0
#endif

#define LK_BODY_AVX2 0
#include "_simd_isa.h"
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
#include "_simd_isa_end.h"
#if LK_HAVE_AVX2
#undef LK_BODY_AVX2
#define LK_BODY_AVX2 1
#include "_simd_isa.h"
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
#include "_simd_isa_end.h"
#endif

static const lk_table_f32 base_f32 = LK_TABLE(lk_base_f32_);
static const lk_table_f64 base_f64 = LK_TABLE(lk_base_f64_);
#if LK_HAVE_AVX2
static const lk_table_f32 avx2_f32 = LK_TABLE(lk_avx2_f32_);
static const lk_table_f64 avx2_f64 = LK_TABLE(lk_avx2_f64_);
#endif

lk_table_f32 lk_f32 = LK_TABLE(lk_base_f32_);
lk_table_f64 lk_f64 = LK_TABLE(lk_base_f64_);
lk_short_rows_f32_fn lk_short_rows_f32 = lk_base_f32_short_rows;
lk_short_rows_f64_fn lk_short_rows_f64 = lk_base_f64_short_rows;
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
#if LK_HAVE_AVX512
    case LK_ISA_AVX512:                 /* (libgcc also checks that the OS saves the state) */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

int lk_select_isa(int isa)
{
    if (!lk_isa_supported(isa)) return -1;
    switch (isa) {
#if LK_HAVE_AVX512
    case LK_ISA_AVX512:
        lk_f32 = lk_avx512_table_f32;
        lk_f64 = lk_avx512_table_f64;
        lk_short_rows_f32 = lk_avx512_f32_short_rows;
        lk_short_rows_f64 = lk_avx512_f64_short_rows;
        break;
#endif
#if LK_HAVE_AVX2
    case LK_ISA_AVX2:
        lk_f32 = avx2_f32;
        lk_f64 = avx2_f64;
        lk_short_rows_f32 = lk_avx2_f32_short_rows;
        lk_short_rows_f64 = lk_avx2_f64_short_rows;
        break;
#endif
    default:
        lk_f32 = base_f32;
        lk_f64 = base_f64;
        lk_short_rows_f32 = lk_base_f32_short_rows;
        lk_short_rows_f64 = lk_base_f64_short_rows;
    }
    active_isa = isa;
    return 0;
}

int lk_active_isa(void) { return active_isa; }

const char *lk_isa_name(int isa)
{
    static const char *const names[LK_ISA_COUNT] = {"baseline", "avx2", "avx512"};
    return (isa >= 0 && isa < LK_ISA_COUNT) ? names[isa] : "unknown";
}
