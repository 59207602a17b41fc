/*
 * The kernels' C interface: one list of every vector kernel (LK_KERNELS), from which the
 * dispatch table of each storage type is generated, and the run-time choice of instruction set.
 *
 * Each target unit (targets/baseline.c, avx2.c, avx512.c, neon.c) compiles every kernel of
 * kernels/ for float and double under its own prefix and exports one table per type built from
 * this list
 * (kernels/all-inl.h); dispatch.c copies the best table the CPU can run into lk_f32 / lk_f64.
 * Adding a kernel: one X(...) line here, its body in a kernels/<concern>-inl.h, and its field in the
 * Cython declaration (_ext/kernels.pxd), which mirrors this list in order.
 */
#ifndef LOGITKIT_KERNELS_H
#define LOGITKIT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "double_double.h"          /* lk_sum */
#include "parallel.h"               /* lk_team */
#include "simd/compiler.h"         /* LK_VECTOR_EXT */

/* softmax / log_softmax / logsumexp (op) of up to LK_SHORT_ROWS rows of up to LK_SHORT_N
 * elements, rows across vector lanes (short_rows, ce_short) */
#define LK_SHORT_N 32
#define LK_SHORT_ROWS 64
enum { LK_OP_SOFTMAX = 0, LK_OP_LOG_SOFTMAX = 1, LK_OP_LOGSUMEXP = 2 };

typedef struct lk_reduce_job lk_reduce_job;    /* softmax.h */
typedef struct lk_ce_job lk_ce_job;            /* cross_entropy.h */
typedef struct lk_select_job lk_select_job;    /* decoding.h */

/* X(return type, name, parameters) for every kernel, T the storage type */
#define LK_KERNELS(X, T)                                                                       \
    /* rows: the max pass, the exp passes, the scale and the log-shift passes */               \
    X(void, row_max, (const T *x, ptrdiff_t n, double *max_out, int *has_nan))                \
    X(void, row_range, (const T *x, ptrdiff_t n, double *max_out, double *min_out,            \
                        int *has_nan))                                                         \
    X(void, exp_store, (const T *x, T *out, ptrdiff_t n, double m, double mn, lk_sum *acc))   \
    X(void, softmax_exps, (const T *x, T *out, ptrdiff_t n, double m, double mn,              \
                           lk_sum *acc))                                                       \
    X(void, exp_sum, (const T *x, ptrdiff_t n, double m, double mn, lk_sum *acc))             \
    X(void, scale, (T *out, ptrdiff_t n, double inv_hi, double inv_lo))                       \
    X(void, shift_log, (const T *x, T *out, ptrdiff_t n, double m, double mn, double L))      \
    /* columns: a reduction over a non-last axis, vectorised across the contiguous columns */  \
    X(void, col_max, (const T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner, T *m,       \
                      double *least))                                                          \
    X(void, col_exp_store, (const T *x, ptrdiff_t x_step, T *out, ptrdiff_t out_step,         \
                            ptrdiff_t n, ptrdiff_t inner, const T *m, double spread,           \
                            double *hi, double *lo, double *top))                              \
    X(void, col_exp_sum, (const T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner,         \
                          const T *m, double spread, double *hi, double *lo, double *top))     \
    X(void, col_scale, (T *out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,             \
                        const double *inv_hi, const double *inv_lo))                           \
    X(void, col_shift_log, (const T *x, ptrdiff_t x_step, T *out, ptrdiff_t out_step,         \
                            ptrdiff_t n, ptrdiff_t inner, const T *m, const double *L))        \
    /* softmax, log_softmax and logsumexp, whole: rows or column blocks [first, stop) of a    \
     * job, or a part of long row o shared by a team of threads */                             \
    X(void, reduce_units, (const lk_reduce_job *job, ptrdiff_t first, ptrdiff_t stop))        \
    X(void, reduce_row_part, (lk_reduce_job *job, ptrdiff_t o, int tid, int nthreads,         \
                              lk_team *team))                                                  \
    /* logsumexp with scale factors b, C-contiguous rows */                                    \
    X(void, logsumexp_scaled_rows, (const T *x, const T *b, ptrdiff_t rows, ptrdiff_t n,      \
                                    T *result, T *sign))                                       \
    /* short rows in lanes */                                                                  \
    X(void, short_rows, (const T *x, ptrdiff_t x_stride, T *out, ptrdiff_t out_stride,        \
                         ptrdiff_t rows, ptrdiff_t n, int op, double *m_out, double *lse_out)) \
    /* the sigmoid family */                                                                   \
    X(void, sigmoid, (const T *x, T *out, ptrdiff_t n))                                       \
    X(void, sigmoid_derivative, (const T *x, T *out, ptrdiff_t n))                            \
    X(void, exp_neg_abs_array, (const T *x, double *out, ptrdiff_t n))                        \
    X(void, softplus, (const T *x, T *out, ptrdiff_t n))                                      \
    X(void, log_sigmoid, (const T *x, T *out, ptrdiff_t n))                                   \
    /* backward functions */                                                                   \
    X(void, softmax_bwd_rows, (const T *g, const T *y, T *out, ptrdiff_t rows, ptrdiff_t n))  \
    X(void, log_softmax_bwd_rows, (const T *g, const T *y, T *out, ptrdiff_t rows,            \
                                   ptrdiff_t n))                                               \
    X(void, sigmoid_bwd, (const T *g, const T *y, T *out, ptrdiff_t n))                       \
    /* losses */                                                                               \
    X(double, bce, (const T *x, const T *t, const double *w, const double *pw, T *loss,       \
                    T *grad, ptrdiff_t n, double s))                                           \
    X(void, smoothing_sums, (const T *x, const T *t, const double *w, ptrdiff_t n, double m,  \
                             double eps, double sums[4]))                                      \
    X(void, smoothing_grad, (const T *x, const T *t, const double *w, const double *e,        \
                             ptrdiff_t n, ptrdiff_t y, double m, double eps, double c_hi,      \
                             double c_lo, double s, T *g))                                     \
    X(double, exp_total, (const T *x, ptrdiff_t n, double m, double *lo, double *store))      \
    X(void, ce_short, (const T *x, const int32_t *t, const double *c, T *grad, ptrdiff_t rows,\
                       ptrdiff_t n, double *m_out, double *nll))                               \
    X(void, cross_entropy_rows, (const lk_ce_job *job, ptrdiff_t lo, ptrdiff_t hi))          \
    /* top_k and sample, rows [first, stop) of a job */                                        \
    X(void, top_k_rows, (const lk_select_job *job, ptrdiff_t first, ptrdiff_t stop))          \
    X(void, sample_rows, (const lk_select_job *job, ptrdiff_t first, ptrdiff_t stop))         \
    /* logit, elementwise */                                                                   \
    X(void, logit, (const T *x, T *out, ptrdiff_t n))                                         \
    /* softplus(beta x) / beta, beta != 1 */                                                   \
    X(void, softplus_beta, (const T *x, T *out, ptrdiff_t n, double beta))                    \
    /* nll_loss: the per-sample losses from gathered log-probabilities, their exact sums */    \
    X(void, nll_terms, (const T *lp, const double *w, T *loss, ptrdiff_t n, double *sums))    \
    /* sparsemax of C-ordered rows (a scratch row of n doubles), and its backward */          \
    X(void, sparsemax_rows, (const T *x, T *out, ptrdiff_t rows, ptrdiff_t n, int masked,    \
                             double *scratch))                                                 \
    X(void, sparsemax_bwd_rows, (const T *g, const T *y, T *out, ptrdiff_t rows, ptrdiff_t n)) \
    /* entropy (b NULL) and kl_divergence of contiguous rows */                                \
    X(void, information_rows, (const T *x, ptrdiff_t xs, const T *b, ptrdiff_t bs,            \
                               ptrdiff_t n, ptrdiff_t first, ptrdiff_t stop, int masked,       \
                               T *result, ptrdiff_t rs))

#define LK_FIELD(ret, name, params) ret (*name) params;
typedef struct { LK_KERNELS(LK_FIELD, float) } lk_kernels_f32;
typedef struct { LK_KERNELS(LK_FIELD, double) } lk_kernels_f64;
#undef LK_FIELD

/* The tables in use: the best instruction set this CPU has (or the one LOGITKIT_SIMD names) */
extern lk_kernels_f32 lk_f32;
extern lk_kernels_f64 lk_f64;

/* Whether this compiler builds the x86-64 targets (target attributes, immintrin.h) */
#if LK_VECTOR_EXT && (defined(__x86_64__) || defined(__i386__))
#define LK_HAVE_X86_TARGETS 1
#else
#define LK_HAVE_X86_TARGETS 0
#endif
/* Whether this compiler builds the NEON target (aarch64: NEON and FMA on every CPU) */
#if LK_VECTOR_EXT && defined(__GNUC__) && defined(__aarch64__)
#define LK_HAVE_NEON_TARGET 1
#else
#define LK_HAVE_NEON_TARGET 0
#endif

/* Instruction-set levels, in order of preference (a CPU has the x86-64 ones or NEON) */
enum {
    LK_ISA_BASELINE = 0, LK_ISA_AVX2 = 1, LK_ISA_AVX512 = 2, LK_ISA_NEON = 3, LK_ISA_COUNT = 4
};

int lk_isa_supported(int isa);          /* compiled in and available on this CPU */
int lk_select_isa(int isa);             /* 0 on success, -1 if not supported */
int lk_active_isa(void);
const char *lk_isa_name(int isa);
int lk_vector_lanes(void);              /* doubles in a baseline vector: 1 without LK_VECTOR_EXT */

#endif
