/* The kernels for AVX2 + FMA (x86-64 with GCC or Clang); dispatch.c runs them only where the
 * CPU has both. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"
#if LK_HAVE_X86_TARGETS
#define LK_UNIT_TARGET __attribute__((target("avx2,fma")))      /* isa_avx2.h's LK_TARGET */
#endif
#include "simd/vector.h"

#if LK_HAVE_X86_TARGETS
#include <immintrin.h>
#define LK_BODY_AVX2 1
#define LK_BODY_AVX512 0
#include "simd/isa_avx2.h"
#define LK_ISA(name) lk_avx2_##name
#include "kernels/all-inl.h"
#include "simd/isa_end.h"
#endif
