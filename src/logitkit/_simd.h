/*
 * The C interface of the vector loops: one table of function pointers per storage type, filled
 * at import with the variant for the best instruction set this CPU has (or the one forced by
 * LOGITKIT_SIMD). The loops themselves are in _simd_body.h, compiled once per instruction set.
 */
#ifndef LOGITKIT_SIMD_H
#define LOGITKIT_SIMD_H

#include <stddef.h>

/* A sum kept as an unevaluated hi + lo pair, plus how many terms were exactly 1 (x == max). */
typedef struct { double hi, lo, top; } lk_sum;

/* TwoSum: s + *err == a + b exactly, s = fl(a + b) (Knuth) */
static inline double lk_two_sum_1(double a, double b, double *err)
{
    double s = a + b, bv = s - a;
    *err = (a - (s - bv)) + (b - bv);
    return s;
}

static inline void lk_sum_add(lk_sum *a, double x)
{
    double err;
    a->hi = lk_two_sum_1(a->hi, x, &err);
    a->lo += err;
}

#define LK_DECLARE_TABLE(T, NAME)                                                              \
    typedef struct {                                                                           \
        void (*row_max)(const T *x, ptrdiff_t n, double *max_out, int *has_nan);              \
        void (*row_range)(const T *x, ptrdiff_t n, double *max_out, double *min_out,          \
                          int *has_nan);                                                       \
        void (*exp_store)(const T *x, T *out, ptrdiff_t n, double m, double mn,                \
                          lk_sum *acc);                                                        \
        void (*softmax_exps)(const T *x, T *out, ptrdiff_t n, double m, double mn,             \
                             lk_sum *acc);                                                     \
        void (*exp_sum)(const T *x, ptrdiff_t n, double m, double mn, lk_sum *acc);            \
        void (*scale)(T *out, ptrdiff_t n, double inv_hi, double inv_lo);                      \
        void (*shift_log)(const T *x, T *out, ptrdiff_t n, double m, double mn, double L);     \
        void (*col_max)(const T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner, T *m,      \
                        double *least);                                                        \
        void (*col_exp_store)(const T *x, ptrdiff_t x_step, T *out, ptrdiff_t out_step,        \
                              ptrdiff_t n, ptrdiff_t inner, const T *m, double spread,         \
                              double *hi, double *lo, double *top);                            \
        void (*col_exp_sum)(const T *x, ptrdiff_t x_step, ptrdiff_t n, ptrdiff_t inner,        \
                            const T *m, double spread, double *hi, double *lo, double *top);   \
        void (*col_scale)(T *out, ptrdiff_t out_step, ptrdiff_t n, ptrdiff_t inner,            \
                          const double *inv_hi, const double *inv_lo);                         \
        void (*col_shift_log)(const T *x, ptrdiff_t x_step, T *out, ptrdiff_t out_step,        \
                              ptrdiff_t n, ptrdiff_t inner, const T *m, const double *L);      \
        void (*sigmoid)(const T *x, T *out, ptrdiff_t n);                                      \
        void (*sigmoid_derivative)(const T *x, T *out, ptrdiff_t n);                           \
        void (*exp_neg_abs_array)(const T *x, double *out, ptrdiff_t n);                       \
        void (*softplus)(const T *x, T *out, ptrdiff_t n);                                     \
        void (*log_sigmoid)(const T *x, T *out, ptrdiff_t n);                                  \
    } NAME;

LK_DECLARE_TABLE(float, lk_table_f32)
LK_DECLARE_TABLE(double, lk_table_f64)

extern lk_table_f32 lk_f32;
extern lk_table_f64 lk_f64;

/* A table of the functions compiled under one prefix (lk_<isa>_<type>_) */
#define LK_TABLE(PREFIX)                                                                       \
    { PREFIX##row_max, PREFIX##row_range, PREFIX##exp_store, PREFIX##softmax_exps,             \
      PREFIX##exp_sum, PREFIX##scale, PREFIX##shift_log, PREFIX##col_max,                      \
      PREFIX##col_exp_store, PREFIX##col_exp_sum, PREFIX##col_scale, PREFIX##col_shift_log,    \
      PREFIX##sigmoid, PREFIX##sigmoid_derivative, PREFIX##exp_neg_abs_array,                  \
      PREFIX##softplus, PREFIX##log_sigmoid }

/* The AVX-512 unit's tables (_simd_avx512.c: its vectors are twice as wide, so it is compiled
 * apart) */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define LK_HAVE_AVX512 1
extern const lk_table_f32 lk_avx512_table_f32;
extern const lk_table_f64 lk_avx512_table_f64;
void lk_avx512_f32_short_rows(const float *x, ptrdiff_t x_stride, float *out,
                              ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                              double *m_out, double *lse_out);
void lk_avx512_f64_short_rows(const double *x, ptrdiff_t x_stride, double *out,
                              ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                              double *m_out, double *lse_out);
#else
#define LK_HAVE_AVX512 0
#endif

/* softmax / log_softmax / logsumexp (op) of up to LK_SHORT_ROWS rows of up to LK_SHORT_N, as
 * vector lanes (short_rows in _simd_body.h, one per type) */
#define LK_SHORT_N 32
#define LK_SHORT_ROWS 64
enum { LK_OP_SOFTMAX = 0, LK_OP_LOG_SOFTMAX = 1, LK_OP_LOGSUMEXP = 2 };
typedef void (*lk_short_rows_f32_fn)(const float *x, ptrdiff_t x_stride, float *out,
                                 ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                 double *m_out, double *lse_out);
extern lk_short_rows_f32_fn lk_short_rows_f32;
typedef void (*lk_short_rows_f64_fn)(const double *x, ptrdiff_t x_stride, double *out,
                                     ptrdiff_t out_stride, ptrdiff_t rows, ptrdiff_t n, int op,
                                     double *m_out, double *lse_out);
extern lk_short_rows_f64_fn lk_short_rows_f64;

/* Instruction-set levels, in order of preference. */
enum { LK_ISA_BASELINE = 0, LK_ISA_AVX2 = 1, LK_ISA_AVX512 = 2, LK_ISA_COUNT = 3 };

int lk_isa_supported(int isa);          /* compiled in and available on this CPU */
int lk_select_isa(int isa);             /* 0 on success, -1 if not supported */
int lk_active_isa(void);
const char *lk_isa_name(int isa);

#endif
