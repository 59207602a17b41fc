# Declarations of the C vector loops (_simd.h / _simd.c): one function table per storage type.

cdef extern from "_simd.h" nogil:
    ctypedef struct lk_sum:
        double hi
        double lo
        double top

    ctypedef struct lk_table_f32:
        void (*row_max)(const float *x, Py_ssize_t n, double *max_out, int *has_nan) noexcept nogil
        void (*row_range)(const float *x, Py_ssize_t n, double *max_out, double *min_out,
                          int *has_nan) noexcept nogil
        void (*exp_store)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                          lk_sum *acc) noexcept nogil
        void (*softmax_exps)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                             lk_sum *acc) noexcept nogil
        void (*exp_sum)(const float *x, Py_ssize_t n, double m, double mn, lk_sum *acc) noexcept nogil
        void (*scale)(float *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil
        void (*shift_log)(const float *x, float *out, Py_ssize_t n, double m, double mn,
                          double L) noexcept nogil
        void (*col_max)(const float *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                        float *m, double *least) noexcept nogil
        void (*col_exp_store)(const float *x, Py_ssize_t x_step, float *out, Py_ssize_t out_step,
                              Py_ssize_t n, Py_ssize_t inner, const float *m, double spread,
                              double *hi, double *lo, double *top) noexcept nogil
        void (*col_exp_sum)(const float *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                            const float *m, double spread, double *hi, double *lo,
                            double *top) noexcept nogil
        void (*col_scale)(float *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                          const double *inv_hi, const double *inv_lo) noexcept nogil
        void (*col_shift_log)(const float *x, Py_ssize_t x_step, float *out, Py_ssize_t out_step,
                              Py_ssize_t n, Py_ssize_t inner, const float *m,
                              const double *L) noexcept nogil
        void (*sigmoid)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*sigmoid_derivative)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*exp_neg_abs_array)(const float *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softplus)(const float *x, float *out, Py_ssize_t n) noexcept nogil
        void (*log_sigmoid)(const float *x, float *out, Py_ssize_t n) noexcept nogil

    ctypedef struct lk_table_f64:
        void (*row_max)(const double *x, Py_ssize_t n, double *max_out, int *has_nan) noexcept nogil
        void (*row_range)(const double *x, Py_ssize_t n, double *max_out, double *min_out,
                          int *has_nan) noexcept nogil
        void (*exp_store)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                          lk_sum *acc) noexcept nogil
        void (*softmax_exps)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                             lk_sum *acc) noexcept nogil
        void (*exp_sum)(const double *x, Py_ssize_t n, double m, double mn, lk_sum *acc) noexcept nogil
        void (*scale)(double *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil
        void (*shift_log)(const double *x, double *out, Py_ssize_t n, double m, double mn,
                          double L) noexcept nogil
        void (*col_max)(const double *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                        double *m, double *least) noexcept nogil
        void (*col_exp_store)(const double *x, Py_ssize_t x_step, double *out, Py_ssize_t out_step,
                              Py_ssize_t n, Py_ssize_t inner, const double *m, double spread,
                              double *hi, double *lo, double *top) noexcept nogil
        void (*col_exp_sum)(const double *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t inner,
                            const double *m, double spread, double *hi, double *lo,
                            double *top) noexcept nogil
        void (*col_scale)(double *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t inner,
                          const double *inv_hi, const double *inv_lo) noexcept nogil
        void (*col_shift_log)(const double *x, Py_ssize_t x_step, double *out, Py_ssize_t out_step,
                              Py_ssize_t n, Py_ssize_t inner, const double *m,
                              const double *L) noexcept nogil
        void (*sigmoid)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*sigmoid_derivative)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*exp_neg_abs_array)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*softplus)(const double *x, double *out, Py_ssize_t n) noexcept nogil
        void (*log_sigmoid)(const double *x, double *out, Py_ssize_t n) noexcept nogil

    lk_table_f32 lk_f32
    lk_table_f64 lk_f64

    enum:
        LK_SHORT_N
        LK_SHORT_ROWS
    void lk_short_rows_f32(const float *x, Py_ssize_t x_stride, float *out,
                           Py_ssize_t out_stride, Py_ssize_t rows, Py_ssize_t n, int op,
                           double *m_out, double *lse_out) noexcept nogil
    void lk_short_rows_f64(const double *x, Py_ssize_t x_stride, double *out,
                           Py_ssize_t out_stride, Py_ssize_t rows, Py_ssize_t n, int op,
                           double *m_out, double *lse_out) noexcept nogil

    int LK_ISA_COUNT
    int lk_isa_supported(int isa)
    int lk_select_isa(int isa)
    int lk_active_isa()
    const char *lk_isa_name(int isa)


cdef inline int isa_index(str name) except -1:
    """The instruction-set number of a path name, for every module compiled with _simd.c; a
    name this CPU cannot run raises ValueError listing the ones it can."""
    cdef int i
    for i in range(LK_ISA_COUNT):
        if lk_isa_supported(i) and lk_isa_name(i).decode() == name:
            return i
    available = [lk_isa_name(i).decode() for i in range(LK_ISA_COUNT) if lk_isa_supported(i)]
    raise ValueError(f"unknown or unsupported SIMD path {name!r}; expected one of {available}")
