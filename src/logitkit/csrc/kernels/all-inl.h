/*
 * Every kernel, for one instruction set: included once by each target unit (targets/<isa>.c),
 * after the unit's isa_<name>.h and with LK_ISA(name) giving its prefix. Compiles the kernels
 * for double and then float, and defines the unit's two dispatch tables from the one list in
 * kernels.h: LK_ISA(kernels_f64) and LK_ISA(kernels_f32).
 *
 * The order matters only as C's does (a helper before its callers): lane primitives, then the
 * row and column passes, the sigmoid family, short rows, the whole softmax algorithms built on
 * them, and the losses.
 */
#include <limits.h>

#include "kernels.h"
#include "double_double.h"
#include "softmax.h"
#include "cross_entropy.h"

#define LK_ENTRY(ret, name, params) LK_FN(name),

#define LK_T double
#define LK_IS_F64 1
#define LK_FN(name) LK_ISA(f64_##name)
#include "kernels/all_types-inl.h"
const lk_kernels_f64 LK_ISA(kernels_f64) = {LK_KERNELS(LK_ENTRY, double)};
#undef LK_T
#undef LK_IS_F64
#undef LK_FN

#define LK_T float
#define LK_IS_F64 0
#define LK_FN(name) LK_ISA(f32_##name)
#include "kernels/all_types-inl.h"
const lk_kernels_f32 LK_ISA(kernels_f32) = {LK_KERNELS(LK_ENTRY, float)};
#undef LK_T
#undef LK_IS_F64
#undef LK_FN

#undef LK_ENTRY
