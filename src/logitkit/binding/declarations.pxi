# The C side as Cython sees it: the kernel tables (csrc/kernels.h's LK_KERNELS list, of which
# these are the kernels the bindings call themselves), the jobs of the whole algorithms
# (softmax.h, cross_entropy.h), the scalar double-double helpers (double_double.h) and the
# thread pool (parallel.h).

cdef extern from "decoding.h" nogil:
    enum:
        LK_ROW_OK
        LK_ROW_NAN
        LK_ROW_POS_INF
        LK_ROW_ALL_NEG_INF
        LK_ROW_NO_MEMORY
    ctypedef struct lk_select_job:
        const char *x
        Py_ssize_t xs, rows, n
        Py_ssize_t k
        int sorted
        char *values
        int64_t *indices
        double temperature
        Py_ssize_t top_k
        double top_p
        double min_p
        const double *uniforms
        Py_ssize_t size
        int64_t *draws
        int8_t *status
        int is_f32

cdef extern from "kernels.h" nogil:
    ctypedef struct lk_sum:
        double hi
        double lo
        double top

    ctypedef struct lk_kernels_f32:
        void (*row_max)(const float *x, Py_ssize_t n, double *max_out,
                        int *has_nan) noexcept nogil
        void (*row_range)(const float *x, Py_ssize_t n, double *max_out, double *min_out,
                          int *has_nan) noexcept nogil
        void (*exp_store)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                          lk_sum *acc) noexcept nogil
        void (*softmax_exps)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                             lk_sum *acc) noexcept nogil
        void (*exp_sum)(const float *x, Py_ssize_t n, double m, double mn,
                        lk_sum *acc) noexcept nogil
        void (*scale)(float *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil
        void (*shift_log)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                          double L) noexcept nogil
        void (*col_max)(const float *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                        float *m, double *least) noexcept nogil
        void (*col_exp_store)(const float *x, Py_ssize_t x_step, float *out,
                              Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                              const float *m, double spread, double *hi, double *lo,
                              double *top) noexcept nogil
        void (*col_exp_sum)(const float *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                            const float *m, double spread, double *hi, double *lo,
                            double *top) noexcept nogil
        void (*col_scale)(float *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                          const double *inv_hi, const double *inv_lo) noexcept nogil
        void (*col_shift_log)(const float *x, Py_ssize_t x_step, float *out,
                              Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                              const float *m, const double *L) noexcept nogil
        void (*logsumexp_scaled_rows)(const float *x, const float *b, Py_ssize_t rows,
                                      Py_ssize_t n, float *result, float *sign) noexcept nogil
        void (*short_rows)(const float *x, Py_ssize_t x_stride, float *out,
                           Py_ssize_t out_stride, Py_ssize_t rows, Py_ssize_t n, int op,
                           double *m_out, double *lse_out) noexcept nogil
        void (*sigmoid)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*sigmoid_derivative)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*exp_neg_abs_array)(const float *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softplus)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*log_sigmoid)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*softmax_bwd_rows)(const float *g, const float *y, float *out, Py_ssize_t rows,
                                 Py_ssize_t n) noexcept nogil
        void (*log_softmax_bwd_rows)(const float *g, const float *y, float *out,
                                     Py_ssize_t rows, Py_ssize_t n) noexcept nogil
        void (*sigmoid_bwd)(const float *g, const float *y, float *out,
                            Py_ssize_t n) noexcept nogil
        double (*bce)(const float *x, const float *t, const double *w, const double *pw,
                      float *loss, float *grad, Py_ssize_t n, double s) noexcept nogil
        void (*smoothing_sums)(const float *x, const float *t, const double *w, Py_ssize_t n,
                               double m, double eps, double *sums) noexcept nogil
        void (*smoothing_grad)(const float *x, const float *t, const double *w,
                               const double *e, Py_ssize_t n, Py_ssize_t y, double m,
                               double eps, double c_hi, double c_lo, double s,
                               float *g) noexcept nogil
        double (*exp_total)(const float *x, Py_ssize_t n, double m, double *lo,
                            double *store) noexcept nogil
        void (*ce_short)(const float *x, const int32_t *t, const double *c, float *grad,
                         Py_ssize_t rows, Py_ssize_t n, double *m_out,
                         double *nll) noexcept nogil
        void (*top_k_rows)(const lk_select_job *job, Py_ssize_t first,
                           Py_ssize_t stop) noexcept nogil
        void (*sample_rows)(const lk_select_job *job, Py_ssize_t first,
                            Py_ssize_t stop) noexcept nogil
        void (*logit)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*softplus_beta)(const float *x, float *out, Py_ssize_t n,
                              double beta) noexcept nogil
        void (*nll_terms)(const float *lp, const double *w, float *loss, Py_ssize_t n,
                          double *sums) noexcept nogil
        void (*sparsemax_rows)(const float *x, float *out, Py_ssize_t rows, Py_ssize_t n,
                               int masked, double *scratch) noexcept nogil
        void (*sparsemax_bwd_rows)(const float *g, const float *y, float *out, Py_ssize_t rows,
                                   Py_ssize_t n) noexcept nogil
        void (*information_rows)(const float *x, Py_ssize_t xs, const float *b, Py_ssize_t bs,
                                 Py_ssize_t n, Py_ssize_t first, Py_ssize_t stop, int masked,
                                 float *result, Py_ssize_t rs) noexcept nogil

    ctypedef struct lk_kernels_f64:
        void (*row_max)(const double *x, Py_ssize_t n, double *max_out,
                        int *has_nan) noexcept nogil
        void (*row_range)(const double *x, Py_ssize_t n, double *max_out, double *min_out,
                          int *has_nan) noexcept nogil
        void (*exp_store)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                          lk_sum *acc) noexcept nogil
        void (*softmax_exps)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                             lk_sum *acc) noexcept nogil
        void (*exp_sum)(const double *x, Py_ssize_t n, double m, double mn,
                        lk_sum *acc) noexcept nogil
        void (*scale)(double *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil
        void (*shift_log)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                          double L) noexcept nogil
        void (*col_max)(const double *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                        double *m, double *least) noexcept nogil
        void (*col_exp_store)(const double *x, Py_ssize_t x_step, double *out,
                              Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                              const double *m, double spread, double *hi, double *lo,
                              double *top) noexcept nogil
        void (*col_exp_sum)(const double *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                            const double *m, double spread, double *hi, double *lo,
                            double *top) noexcept nogil
        void (*col_scale)(double *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                          const double *inv_hi, const double *inv_lo) noexcept nogil
        void (*col_shift_log)(const double *x, Py_ssize_t x_step, double *out,
                              Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                              const double *m, const double *L) noexcept nogil
        void (*logsumexp_scaled_rows)(const double *x, const double *b, Py_ssize_t rows,
                                      Py_ssize_t n, double *result, double *sign) noexcept nogil
        void (*short_rows)(const double *x, Py_ssize_t x_stride, double *out,
                           Py_ssize_t out_stride, Py_ssize_t rows, Py_ssize_t n, int op,
                           double *m_out, double *lse_out) noexcept nogil
        void (*sigmoid)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*sigmoid_derivative)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*exp_neg_abs_array)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softplus)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*log_sigmoid)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softmax_bwd_rows)(const double *g, const double *y, double *out,
                                 Py_ssize_t rows, Py_ssize_t n) noexcept nogil
        void (*log_softmax_bwd_rows)(const double *g, const double *y, double *out,
                                     Py_ssize_t rows, Py_ssize_t n) noexcept nogil
        void (*sigmoid_bwd)(const double *g, const double *y, double *out,
                            Py_ssize_t n) noexcept nogil
        double (*bce)(const double *x, const double *t, const double *w, const double *pw,
                      double *loss, double *grad, Py_ssize_t n, double s) noexcept nogil
        void (*smoothing_sums)(const double *x, const double *t, const double *w, Py_ssize_t n,
                               double m, double eps, double *sums) noexcept nogil
        void (*smoothing_grad)(const double *x, const double *t, const double *w,
                               const double *e, Py_ssize_t n, Py_ssize_t y, double m,
                               double eps, double c_hi, double c_lo, double s,
                               double *g) noexcept nogil
        double (*exp_total)(const double *x, Py_ssize_t n, double m, double *lo,
                            double *store) noexcept nogil
        void (*ce_short)(const double *x, const int32_t *t, const double *c, double *grad,
                         Py_ssize_t rows, Py_ssize_t n, double *m_out,
                         double *nll) noexcept nogil
        void (*top_k_rows)(const lk_select_job *job, Py_ssize_t first,
                           Py_ssize_t stop) noexcept nogil
        void (*sample_rows)(const lk_select_job *job, Py_ssize_t first,
                            Py_ssize_t stop) noexcept nogil
        void (*logit)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softplus_beta)(const double *x, double *out, Py_ssize_t n,
                              double beta) noexcept nogil
        void (*nll_terms)(const double *lp, const double *w, double *loss, Py_ssize_t n,
                          double *sums) noexcept nogil
        void (*sparsemax_rows)(const double *x, double *out, Py_ssize_t rows, Py_ssize_t n,
                               int masked, double *scratch) noexcept nogil
        void (*sparsemax_bwd_rows)(const double *g, const double *y, double *out, Py_ssize_t rows,
                                   Py_ssize_t n) noexcept nogil
        void (*information_rows)(const double *x, Py_ssize_t xs, const double *b, Py_ssize_t bs,
                                 Py_ssize_t n, Py_ssize_t first, Py_ssize_t stop, int masked,
                                 double *result, Py_ssize_t rs) noexcept nogil

    lk_kernels_f32 lk_f32
    lk_kernels_f64 lk_f64

    enum:
        LK_SHORT_N
        LK_SHORT_ROWS
        LK_ISA_COUNT
    int lk_isa_supported(int isa)
    int lk_select_isa(int isa)
    int lk_active_isa()
    const char *lk_isa_name(int isa)
    int lk_vector_lanes()

cdef extern from "softmax.h" nogil:
    enum:
        LK_MAX_THREADS
    ctypedef struct lk_reduce_job:
        const char *x
        Py_ssize_t xs0, xs1
        char *out
        Py_ssize_t os0, os1
        char *result
        Py_ssize_t rs0, rs1
        Py_ssize_t outer, n, inner
        int op
        int masked
        int is_f32
    void lk_run_reduction(lk_reduce_job *job)

cdef extern from "cross_entropy.h" nogil:
    ctypedef struct lk_ce_job:
        const char *x
        Py_ssize_t xs, n, rows
        const Py_ssize_t *index
        Py_ssize_t ignore_index
        const char *prob
        Py_ssize_t ts
        const double *w
        double W, eps, s
        char *loss
        char *grad
        int is_f32
        int in_lanes
        double total_hi, total_lo
    Py_ssize_t lk_ce_check_targets(const Py_ssize_t *t, Py_ssize_t rows, Py_ssize_t n,
                                   Py_ssize_t ignore_index, const double *w, double *denom)
    void lk_run_cross_entropy(lk_ce_job *job)

cdef extern from "double_double.h" nogil:
    void two_sum "lk_two_sum_d"(double a, double b, double *s, double *err)
    void reciprocal "lk_reciprocal"(double top, double hi, double lo, double *inv_hi,
                                    double *inv_lo)
    void log_of_sum "lk_log_of_sum"(double top, double hi, double lo, double *L_hi,
                                    double *L_lo)
    void log_of_scaled_sum "lk_log_of_scaled_sum"(double top, double hi, double lo, int scale_k,
                                                  double *L_hi, double *L_lo)
    double add_log "lk_add_log"(double m, double L_hi, double L_lo)
    void lk_kahan_add(double *hi, double *lo, double v)
    double lk_kahan_total(double hi, double lo)
    # the double-double logsumexp, for float64 slices where m + log(sum) cancels
    double lk_dd_logsumexp(const double *x, Py_ssize_t n, Py_ssize_t step, double m)

cdef extern from "parallel.h" nogil:
    ctypedef struct lk_team:
        pass
    ctypedef void (*lk_task)(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil
    enum:
        LK_DEFAULT_SPIN_US
        LK_MAX_SPIN_US
    void lk_set_num_threads(int n)
    int lk_get_num_threads()
    void lk_set_spin_us(int us)
    int lk_get_spin_us()
    int lk_parallel_run(int wanted, lk_task task, void *ctx)
    void lk_team_barrier(lk_team *team)
    int lk_threads_for(Py_ssize_t elements, Py_ssize_t units)
    void lk_split(Py_ssize_t total, int tid, int nthreads, Py_ssize_t align,
                  Py_ssize_t *start, Py_ssize_t *stop)

cdef extern from "numpy/arrayobject.h":
    # steals a reference to descr
    object PyArray_NewFromDescr(type subtype, cnp.dtype descr, int nd, cnp.npy_intp *dims,
                                cnp.npy_intp *strides, void *data, int flags, object obj)
