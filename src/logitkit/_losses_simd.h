/*
 * The vector loops of logitkit._losses (issue 4): the short-row cross-entropy block, the
 * vector-Jacobian products of softmax, log_softmax and sigmoid, and binary cross-entropy. (The
 * cross-entropy rows run on the shared tables of _simd.h: row_range, exp_sum, exp_store.)
 * One table of function pointers per storage type, filled for the instruction set chosen at
 * run time (lkl_select_isa follows the numbering of _simd.h). The loops are in
 * _losses_simd_body.h, compiled once per (type, ISA) by _losses_simd.c.
 */
#ifndef LOGITKIT_LOSSES_SIMD_H
#define LOGITKIT_LOSSES_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include "_simd.h"


#define LKL_DECLARE_TABLE(T, NAME)                                                             \
    typedef struct {                                                                           \
        void (*softmax_bwd_rows)(const T *g, const T *y, T *out, ptrdiff_t rows, ptrdiff_t n);  \
        void (*log_softmax_bwd_rows)(const T *g, const T *y, T *out, ptrdiff_t rows,           \
                                     ptrdiff_t n);                                             \
        void (*sigmoid_bwd)(const T *g, const T *y, T *out, ptrdiff_t n);                      \
        double (*bce)(const T *x, const T *t, const double *w, const double *pw, T *loss,      \
                      T *grad, ptrdiff_t n, double s);                                         \
        void (*smoothing_sums)(const T *x, const T *t, const double *w, ptrdiff_t n, double m, \
                               double eps, double sums[4]);                                    \
        void (*smoothing_grad)(const T *x, const T *t, const double *w, const double *e,      \
                               ptrdiff_t n, ptrdiff_t y, double m, double eps, double c_hi,    \
                               double c_lo, double s, T *g);                                   \
        double (*exp_total)(const T *x, ptrdiff_t n, double m, double *lo, double *store);     \
    } NAME;

LKL_DECLARE_TABLE(float, lkl_table_f32)
LKL_DECLARE_TABLE(double, lkl_table_f64)

/* cross-entropy (and its gradient) of up to LK_SHORT_ROWS rows of up to LK_SHORT_N classes as
 * vector lanes (ce_short in _losses_simd_body.h, one per type) */
typedef void (*lkl_ce_short_f32_fn)(const float *x, const int32_t *t, const double *c,
                                    float *grad, ptrdiff_t rows, ptrdiff_t n, double *m_out,
                                    double *nll);
typedef void (*lkl_ce_short_f64_fn)(const double *x, const int32_t *t, const double *c,
                                    double *grad, ptrdiff_t rows, ptrdiff_t n, double *m_out,
                                    double *nll);
extern lkl_ce_short_f32_fn lkl_ce_short_f32;
extern lkl_ce_short_f64_fn lkl_ce_short_f64;

extern lkl_table_f32 lkl_f32;
extern lkl_table_f64 lkl_f64;

/* A table of the functions compiled under one prefix (lkl_<isa>_<type>_) */
#define LKL_TABLE(P)                                                                           \
    { P##softmax_bwd_rows, P##log_softmax_bwd_rows, P##sigmoid_bwd, P##bce, P##smoothing_sums,      \
      P##smoothing_grad, P##exp_total }

#if LK_HAVE_AVX512
/* the AVX-512 unit's tables (_losses_simd_avx512.c) */
extern const lkl_table_f32 lkl_avx512_table_f32;
extern const lkl_table_f64 lkl_avx512_table_f64;
void lkl_avx512_f32_ce_short(const float *x, const int32_t *t, const double *c, float *grad,
                             ptrdiff_t rows, ptrdiff_t n, double *m_out, double *nll);
void lkl_avx512_f64_ce_short(const double *x, const int32_t *t, const double *c, double *grad,
                             ptrdiff_t rows, ptrdiff_t n, double *m_out, double *nll);
#endif

int lkl_select_isa(int isa);            /* 0 on success, -1 if not supported */

#endif
