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
extern const int lk_baseline_lanes;
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

#if LK_HAVE_X86_TARGETS && (defined(_MSC_VER) || defined(LK_X86_CPUID))
/* CPUID and XGETBV read directly: with clang-cl, __builtin_cpu_supports needs compiler-rt's
 * __cpu_model, which link.exe does not bring in. (LK_X86_CPUID takes this path with GCC too:
 * tools/compile_check.py compares its answers with __builtin_cpu_supports.) */
#if defined(_MSC_VER)
#include <intrin.h>
static void cpuid(int leaf, unsigned r[4])
{
    int v[4];
    __cpuidex(v, leaf, 0);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
#else
#include <cpuid.h>
static void cpuid(int leaf, unsigned r[4]) { __cpuid_count(leaf, 0, r[0], r[1], r[2], r[3]); }
#endif
static unsigned long long xcr0(void)
{
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (unsigned long long)hi << 32 | lo;
}
static int x86_supports(int isa)
{
    const unsigned fma_osxsave_avx = 1u << 12 | 1u << 27 | 1u << 28;      /* CPUID 1, ECX */
    const unsigned avx512_f_dq_bw_vl = 1u << 16 | 1u << 17 | 1u << 30 | 1u << 31; /* 7, EBX */
    unsigned r[4];
    cpuid(0, r);
    if (r[0] < 7) return 0;
    cpuid(1, r);
    if ((r[2] & fma_osxsave_avx) != fma_osxsave_avx) return 0;
    unsigned long long xcr = xcr0();
    if ((xcr & 0x6) != 0x6) return 0;   /* the OS saves the XMM and YMM state */
    cpuid(7, r);
    if (!(r[1] & 1u << 5)) return 0;    /* AVX2 */
    if (isa == LK_ISA_AVX2) return 1;
    if ((xcr & 0xe6) != 0xe6) return 0; /* ... and the opmask and ZMM state */
    return (r[1] & avx512_f_dq_bw_vl) == avx512_f_dq_bw_vl;
}
#define LK_X86_SUPPORTS(isa) x86_supports(isa)
#endif

int lk_isa_supported(int isa)
{
    switch (isa) {
    case LK_ISA_BASELINE:
        return 1;
#if LK_HAVE_X86_TARGETS && defined(LK_X86_SUPPORTS)
    case LK_ISA_AVX2:
    case LK_ISA_AVX512:
        return LK_X86_SUPPORTS(isa);
#elif LK_HAVE_X86_TARGETS
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

int lk_vector_lanes(void) { return lk_baseline_lanes; }
