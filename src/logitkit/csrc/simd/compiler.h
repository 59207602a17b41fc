/*
 * What the compiler offers the kernels, decided in one place.
 *
 * LK_VECTOR_EXT: GCC's vector extensions and target attributes. GCC and Clang have them,
 * including Clang in MSVC mode (clang-cl), which defines __clang__ and _MSC_VER but not
 * __GNUC__. Without them (MSVC) every vector is one lane of plain C. Defining LK_ONE_LANE takes
 * that branch with any compiler, so that the build MSVC gets can be tested where there is none
 * (LOGITKIT_ONE_LANE=1 in setup.py).
 */
#ifndef LOGITKIT_SIMD_COMPILER_H
#define LOGITKIT_SIMD_COMPILER_H

#if (defined(__GNUC__) || defined(__clang__)) && !defined(LK_ONE_LANE)
#define LK_VECTOR_EXT 1
#else
#define LK_VECTOR_EXT 0
#endif

#endif
