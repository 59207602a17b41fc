/* The kernels for AVX-512 F/DQ/VL/BW (x86-64 with GCC or Clang): vectors of 64 bytes, so a unit
 * of their own; dispatch.c runs them only where the CPU has these features. */
#define LK_VECTOR_BYTES 64
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"
#if LK_HAVE_X86_TARGETS
/* isa_avx512.h's LK_TARGET */
#define LK_UNIT_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#endif
#include "simd/vector.h"

#if LK_HAVE_X86_TARGETS
#include <immintrin.h>
#define LK_BODY_AVX2 0
#define LK_BODY_AVX512 1
#include "simd/isa_avx512.h"
#define LK_ISA(name) lk_avx512_##name
#include "kernels/all-inl.h"
#include "simd/isa_end.h"
#endif
