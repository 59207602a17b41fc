/* The kernels for the portable baseline (every CPU this build targets). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "simd/vector.h"

#define LK_BODY_AVX2 0
#define LK_BODY_AVX512 0
#include "simd/isa_baseline.h"
#define LK_ISA(name) lk_baseline_##name
#include "kernels/all-inl.h"
#include "simd/isa_end.h"

/* what this unit's vectors hold (lk_vector_lanes) */
const int lk_baseline_lanes = LK_W;
