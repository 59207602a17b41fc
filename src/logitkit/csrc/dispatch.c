/*
 * The run-time choice of instruction set: one pair of tables (lk_f32, lk_f64) that every
 * binding calls through, filled with the best target this CPU runs (or the one LOGITKIT_SIMD
 * names, through lk_select_isa). A wheel built for generic x86-64 thereby runs AVX2+FMA or
 * AVX-512 code where the CPU has it; never -march. On aarch64 it runs NEON with FMA.
 */
#include "kernels.h"

#define LK_DECLARE_TARGET(isa)                                                                 \
    extern const lk_kernels_f32 lk_##isa##_kernels_f32;                                        \
    extern const lk_kernels_f64 lk_##isa##_kernels_f64;
LK_DECLARE_TARGET(baseline)
#if LK_HAVE_X86_TARGETS
LK_DECLARE_TARGET(avx2)
LK_DECLARE_TARGET(avx512)
#endif
#if LK_HAVE_NEON_TARGET
LK_DECLARE_TARGET(neon)
#endif

lk_kernels_f32 lk_f32;
lk_kernels_f64 lk_f64;
static int active_isa = -1;

int lk_isa_supported(int isa)
{
    switch (isa) {
    case LK_ISA_BASELINE:
        return 1;
#if LK_HAVE_X86_TARGETS
    case LK_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case LK_ISA_AVX512:                 /* (libgcc also checks that the OS saves the state) */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if LK_HAVE_NEON_TARGET
    case LK_ISA_NEON:                   /* part of ARMv8-A: no CPU check */
        return 1;
#endif
    default:
        return 0;
    }
}

int lk_select_isa(int isa)
{
    if (!lk_isa_supported(isa)) return -1;
    switch (isa) {
#if LK_HAVE_X86_TARGETS
    case LK_ISA_AVX512:
        lk_f32 = lk_avx512_kernels_f32;
        lk_f64 = lk_avx512_kernels_f64;
        /* Memory-bound float64 loops whose 64-byte accesses each straddle two cache lines at
         * NumPy's usual 16- or 32-byte alignment: AVX2's run faster there */
        lk_f64.sigmoid_bwd = lk_avx2_kernels_f64.sigmoid_bwd;
        lk_f64.softmax_bwd_rows = lk_avx2_kernels_f64.softmax_bwd_rows;
        break;
    case LK_ISA_AVX2:
        lk_f32 = lk_avx2_kernels_f32;
        lk_f64 = lk_avx2_kernels_f64;
        break;
#endif
#if LK_HAVE_NEON_TARGET
    case LK_ISA_NEON:
        lk_f32 = lk_neon_kernels_f32;
        lk_f64 = lk_neon_kernels_f64;
        break;
#endif
    default:
        lk_f32 = lk_baseline_kernels_f32;
        lk_f64 = lk_baseline_kernels_f64;
    }
    active_isa = isa;
    return 0;
}

int lk_active_isa(void) { return active_isa; }

const char *lk_isa_name(int isa)
{
    static const char *const names[LK_ISA_COUNT] = {"baseline", "avx2", "avx512", "neon"};
    return (isa >= 0 && isa < LK_ISA_COUNT) ? names[isa] : "unknown";
}
