/* The kernels for NEON with FMA (aarch64 with GCC or Clang): every aarch64 CPU runs them, and
 * dispatch.c prefers them there; the baseline stays selectable. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "kernels.h"
#include "simd/vector.h"

#if LK_HAVE_NEON_TARGET
#define LK_BODY_AVX2 0
#define LK_BODY_AVX512 0
#include "simd/isa_neon.h"
#define LK_ISA(name) lk_neon_##name
#include "kernels/all-inl.h"
#include "simd/isa_end.h"
#endif
