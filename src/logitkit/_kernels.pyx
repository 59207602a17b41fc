# Design:
# - The Python layer (_api.py) validates arguments and hands every call to one function here, as
#   a 3-d view (outer, n, inner) of the input: the reduction runs over n. Either inner == 1 and
#   each row is contiguous ("rows"), or inner > 1 and the inner axis is contiguous ("columns",
#   a reduction over a non-last axis, vectorised across columns: no transposed copy). The outer
#   and n strides are arbitrary, so a whole call is one trip into the extension whatever the axis.
# - Loops over contiguous memory live in C (_simd_body.h), compiled per instruction set and
#   reached through a function table (_simd.c); the per-row numerics (special values, the
#   double-double reciprocal, log1p of the non-max terms) are here, once per row or column.
# - One generic kernel per operation over Cython's `floating` fused type; float32 data is
#   computed in double and rounded once.
# - All helpers are `noexcept nogil`: the GIL is released for the whole computation.
# Directives (boundscheck, wraparound, cdivision) are set once in setup.py.

cimport cython
from cython cimport floating
from libc.math cimport INFINITY, NAN, exp, fma, frexp, ldexp, log, log1p
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from logitkit._simd cimport (LK_ISA_COUNT, lk_active_isa, lk_f32, lk_f64, lk_isa_name,
                             lk_isa_supported, lk_select_isa, lk_sum)

cdef enum Reduction:
    SOFTMAX = 0
    LOG_SOFTMAX = 1
    LOGSUMEXP = 2

cdef enum Elementwise:
    SIGMOID = 0
    SIGMOID_DERIVATIVE = 1
    LOG_SIGMOID = 2
    SOFTPLUS = 3

cdef enum:
    # columns handled per block by the non-last-axis kernels (state arrays of this many doubles)
    COLUMN_BLOCK = 512
    # elements of exp(-|x|) buffered before the scalar log1p pass of softplus / log_sigmoid
    LOG1P_BLOCK = 256

# ln 2 = LN2_HI + LN2_LO; LN2_HI has 20 trailing zero bits, so k * LN2_HI is exact (fdlibm's)
cdef double LN2_HI = 6.93147180369123816490e-01
cdef double LN2_LO = 1.90821492927058770002e-10


# ---------------------------------------------------------------- instruction-set dispatch

def simd_paths():
    """Names of the code paths this build can run on this CPU, slowest first."""
    return [lk_isa_name(i).decode() for i in range(LK_ISA_COUNT) if lk_isa_supported(i)]


def simd_path():
    """Name of the active code path."""
    return lk_isa_name(lk_active_isa()).decode()


def select_simd_path(str name):
    """Switch every kernel to the named path. Not thread-safe: for start-up and tests."""
    for i in range(LK_ISA_COUNT):
        if lk_isa_name(i).decode() == name:
            if lk_select_isa(i) != 0:
                raise ValueError(f"SIMD path {name!r} is not supported on this CPU; "
                                 f"available: {simd_paths()}")
            return
    raise ValueError(f"unknown SIMD path {name!r}; expected one of {simd_paths()}")


# ---------------------------------------------------------------- per-row numerics

cdef inline void two_sum(double a, double b, double *s, double *err) noexcept nogil:
    s[0] = a + b
    cdef double bv = s[0] - a
    err[0] = (a - (s[0] - bv)) + (b - bv)


cdef inline void sum_total(double top, double hi, double lo, double *s_hi, double *s_lo) noexcept nogil:
    """top + hi + lo as a normalised double-double."""
    cdef double s, e
    two_sum(top, hi, &s, &e)
    two_sum(s, e + lo, s_hi, s_lo)


cdef inline void reciprocal(double top, double hi, double lo, double *inv_hi, double *inv_lo) noexcept nogil:
    """1 / (top + hi + lo) as inv_hi + inv_lo, good to ~2^-100."""
    cdef double s_hi, s_lo
    sum_total(top, hi, lo, &s_hi, &s_lo)
    inv_hi[0] = 1.0 / s_hi
    inv_lo[0] = (-fma(inv_hi[0], s_hi, -1.0) - inv_hi[0] * s_lo) * inv_hi[0]


cdef inline void log_of_sum(double top, double hi, double lo, double *L_hi,
                            double *L_lo) noexcept nogil:
    """log(top + hi + lo) as L_hi + L_lo, where top >= 1 counts the terms equal to 1 and
    hi + lo sums the rest.

    A unique max with a small rest takes log1p of the rest, so a confident row keeps its tiny
    log. Otherwise the total is written 2^k * (1 + u) with 1 + u in [0.75, 1.5) and the log is
    k ln2 + log1p(u): the only rounding left is log1p's, on a value below 0.41, ~16x smaller
    than log(total)'s would be; logsumexp needs it where m + L cancels."""
    cdef double s_hi, s_lo, u, u_lo, e
    cdef int k
    if top == 1.0:
        two_sum(hi, lo, &s_hi, &s_lo)
        if s_hi < 0.5:
            L_hi[0] = log1p(s_hi)
            L_lo[0] = s_lo / (1.0 + s_hi)
            return
    sum_total(top, hi, lo, &s_hi, &s_lo)
    u = frexp(s_hi, &k)                     # s_hi = u * 2^k, u in [0.5, 1)
    if u < 0.75:
        u = 2.0 * u
        k -= 1
    u -= 1.0                                # exact (Sterbenz)
    u_lo = ldexp(s_lo, -k)
    two_sum(k * LN2_HI, log1p(u), L_hi, &e)
    L_lo[0] = e + (k * LN2_LO + u_lo / (1.0 + u))


cdef inline double add_log(double m, double L_hi, double L_lo) noexcept nogil:
    """m + L_hi + L_lo, rounded once where m and L cancel."""
    cdef double s, e
    two_sum(m, L_hi, &s, &e)
    return s + (e + L_lo)


cdef inline void fill(floating *out, Py_ssize_t n, Py_ssize_t stride, double value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i * stride] = <floating>value


cdef inline bint special_slice(double m, bint has_nan, int op, bint masked,
                               double *value) noexcept nogil:
    """Whether a slice with max m is not finite, and then the value every output entry takes
    (SPEC.md "Values at the edges"); for logsumexp it is the result itself."""
    if has_nan:
        value[0] = NAN
    elif m == INFINITY:
        value[0] = INFINITY if op == LOGSUMEXP else NAN
    elif m == -INFINITY:
        if op == LOGSUMEXP:
            value[0] = -INFINITY
        elif masked:
            value[0] = 0.0 if op == SOFTMAX else -INFINITY
        else:
            value[0] = NAN
    else:
        return False
    return True


# ---------------------------------------------------------------- typed access to the C tables

cdef inline void row_max(const floating *x, Py_ssize_t n, double *m, int *has_nan) noexcept nogil:
    if floating is float:
        lk_f32.row_max(x, n, m, has_nan)
    else:
        lk_f64.row_max(x, n, m, has_nan)


cdef inline void exp_store(const floating *x, floating *out, Py_ssize_t n, double m,
                           lk_sum *acc) noexcept nogil:
    if floating is float:
        lk_f32.exp_store(x, out, n, m, acc)
    else:
        lk_f64.exp_store(x, out, n, m, acc)


cdef inline void exp_sum(const floating *x, Py_ssize_t n, double m, lk_sum *acc) noexcept nogil:
    if floating is float:
        lk_f32.exp_sum(x, n, m, acc)
    else:
        lk_f64.exp_sum(x, n, m, acc)


cdef inline void scale(floating *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil:
    if floating is float:
        lk_f32.scale(out, n, inv_hi, inv_lo)
    else:
        lk_f64.scale(out, n, inv_hi, inv_lo)


cdef inline void shift_log(const floating *x, floating *out, Py_ssize_t n, double m,
                           double L) noexcept nogil:
    if floating is float:
        lk_f32.shift_log(x, out, n, m, L)
    else:
        lk_f64.shift_log(x, out, n, m, L)


cdef inline void col_max(const floating *row, Py_ssize_t w, double *m) noexcept nogil:
    """m = max(m, row) per column; a NaN, once seen, stays."""
    if floating is float:
        lk_f32.col_max(row, w, m)
    else:
        lk_f64.col_max(row, w, m)


cdef inline void col_exp(const floating *row, floating *out, Py_ssize_t w, const double *m,
                         double *hi, double *lo, double *top) noexcept nogil:
    """exp(row - m) into out (or only summed, when out is NULL)."""
    if floating is float:
        if out == NULL:
            lk_f32.col_exp_sum(row, w, m, hi, lo, top)
        else:
            lk_f32.col_exp_store(row, out, w, m, hi, lo, top)
    else:
        if out == NULL:
            lk_f64.col_exp_sum(row, w, m, hi, lo, top)
        else:
            lk_f64.col_exp_store(row, out, w, m, hi, lo, top)


cdef inline void col_scale(floating *out, Py_ssize_t w, const double *a, const double *b) noexcept nogil:
    if floating is float:
        lk_f32.col_scale(out, w, a, b)
    else:
        lk_f64.col_scale(out, w, a, b)


cdef inline void col_shift_log(const floating *row, floating *out, Py_ssize_t w, const double *m,
                               const double *L) noexcept nogil:
    if floating is float:
        lk_f32.col_shift_log(row, out, w, m, L)
    else:
        lk_f64.col_shift_log(row, out, w, m, L)


# ---------------------------------------------------------------- reductions, one row

cdef double reduce_row(const floating *x, floating *out, Py_ssize_t n, int op,
                       bint masked) noexcept nogil:
    """softmax / log_softmax of one contiguous row into out, or its logsumexp (returned)."""
    cdef double m, value, inv_hi, inv_lo, L, L_lo
    cdef int has_nan
    cdef lk_sum acc
    if n == 0:
        return -INFINITY
    row_max(x, n, &m, &has_nan)
    if special_slice(m, has_nan, op, masked, &value):
        if op != LOGSUMEXP:
            fill(out, n, 1, value)
        return value
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if op == SOFTMAX:
        exp_store(x, out, n, m, &acc)
        reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo)
        scale(out, n, inv_hi, inv_lo)
        return 0.0
    exp_sum(x, n, m, &acc)
    log_of_sum(acc.top, acc.hi, acc.lo, &L, &L_lo)
    if op == LOG_SOFTMAX:
        shift_log(x, out, n, m, L + L_lo)
    return add_log(m, L, L_lo)


# ---------------------------------------------------------------- reductions, a block of columns

cdef void reduce_columns(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                         floating *result, Py_ssize_t result_stride,
                         Py_ssize_t n, Py_ssize_t w, int op, bint masked,
                         double *state) noexcept nogil:
    """Reduce over n rows (x_step bytes apart) of w contiguous columns. state: 6 * w doubles."""
    cdef double *m = state
    cdef double *hi = state + w
    cdef double *lo = state + 2 * w
    cdef double *top = state + 3 * w
    cdef double *a = state + 4 * w
    cdef double *b = state + 5 * w
    cdef Py_ssize_t j, k
    cdef double value
    for j in range(w):
        m[j] = -INFINITY
        hi[j] = 0.0
        lo[j] = 0.0
        top[j] = 0.0
    for k in range(n):
        col_max(<const floating *>(x + k * x_step), w, m)
    for k in range(n):
        col_exp(<const floating *>(x + k * x_step),
                <floating *>(out + k * out_step) if op == SOFTMAX else NULL,
                w, m, hi, lo, top)
    cdef double others_hi, others_lo
    for j in range(w):
        two_sum(hi[j], lo[j], &others_hi, &others_lo)
        if op == SOFTMAX:
            reciprocal(top[j], others_hi, others_lo, &a[j], &b[j])
        else:
            if top[j] >= 1.0:
                log_of_sum(top[j], others_hi, others_lo, &a[j], &b[j])
            else:           # a special slice, dealt with below
                a[j] = 0.0
                b[j] = 0.0
    if op == SOFTMAX:
        for k in range(n):
            col_scale(<floating *>(out + k * out_step), w, a, b)
    elif op == LOG_SOFTMAX:
        for j in range(w):
            a[j] += b[j]
        for k in range(n):
            col_shift_log(<const floating *>(x + k * x_step), <floating *>(out + k * out_step),
                          w, m, a)
    for j in range(w):
        if special_slice(m[j], m[j] != m[j], op, masked, &value):
            if op == LOGSUMEXP:
                result[j * result_stride] = <floating>value
            else:
                fill(<floating *>out + j, n, out_step // <Py_ssize_t>sizeof(floating), value)
        elif op == LOGSUMEXP:
            result[j * result_stride] = <floating>add_log(m[j], a[j], b[j])


# ---------------------------------------------------------------- entry points

cdef int check_layout(const floating[:, :, :] x, const floating[:, :, :] out) except -1:
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1] or x.shape[2] != out.shape[2]:
        raise ValueError("internal error: input and output views differ in shape")
    if x.shape[2] == 1:
        if x.shape[1] > 1 and (x.strides[1] != item or out.strides[1] != item):
            raise ValueError("internal error: rows must be contiguous")
    elif x.strides[2] != item or out.strides[2] != item:
        raise ValueError("internal error: columns must be contiguous")
    return 0


def softmax_3d(const floating[:, :, :] x, floating[:, :, :] out, int op, bint masked):
    """softmax (op 0) or log_softmax (op 1) over axis 1 of x, into out (same shape)."""
    check_layout(x, out)
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    if outer == 0 or n == 0 or inner == 0:
        return
    cdef const char *xp = <const char *>&x[0, 0, 0]
    cdef char *op_ = <char *>&out[0, 0, 0]
    with nogil:
        reduce_3d(xp, x.strides[0], x.strides[1], op_, out.strides[0], out.strides[1],
                  <floating *>NULL, 0, 0, outer, n, inner, op, masked)


def logsumexp_3d(const floating[:, :, :] x, floating[:, :] result):
    """logsumexp over axis 1 of x into result[outer, inner]."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    if result.shape[0] != outer or result.shape[1] != inner:
        raise ValueError("internal error: result has the wrong shape")
    if inner > 1 and n > 0 and x.strides[2] != <Py_ssize_t>sizeof(floating):
        raise ValueError("internal error: columns must be contiguous")
    if inner == 1 and n > 1 and x.strides[1] != <Py_ssize_t>sizeof(floating):
        raise ValueError("internal error: rows must be contiguous")
    if outer == 0 or inner == 0:
        return
    cdef Py_ssize_t o, j
    if n == 0:
        for o in range(outer):
            for j in range(inner):
                result[o, j] = -INFINITY
        return
    cdef const char *xp = <const char *>&x[0, 0, 0]
    cdef floating *rp = &result[0, 0]
    with nogil:
        reduce_3d(xp, x.strides[0], x.strides[1], NULL, 0, 0,
                  rp, result.strides[0] // <Py_ssize_t>sizeof(floating),
                  result.strides[1] // <Py_ssize_t>sizeof(floating),
                  outer, n, inner, LOGSUMEXP, False)


cdef void reduce_3d(const char *x, Py_ssize_t xs0, Py_ssize_t xs1,
                    char *out, Py_ssize_t os0, Py_ssize_t os1,
                    floating *result, Py_ssize_t rs0, Py_ssize_t rs1,
                    Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                    int op, bint masked) noexcept nogil:
    cdef Py_ssize_t o, c, w
    cdef double value
    cdef double state[6 * COLUMN_BLOCK]
    for o in range(outer):
        if inner == 1:
            value = reduce_row(<const floating *>(x + o * xs0),
                               <floating *>(out + o * os0) if out != NULL else NULL,
                               n, op, masked)
            if op == LOGSUMEXP:
                result[o * rs0] = <floating>value
            continue
        c = 0
        while c < inner:
            w = min(COLUMN_BLOCK, inner - c)
            reduce_columns(
                x + o * xs0 + c * sizeof(floating), xs1,
                out + o * os0 + c * sizeof(floating) if out != NULL else NULL, os1,
                result + o * rs0 + c * rs1 if result != NULL else NULL, rs1,
                n, w, op, masked, state)
            c += w


def elementwise(const floating[::1] x, floating[::1] out, int func):
    """The sigmoid family over a contiguous 1-d array (x and out may be the same memory)."""
    cdef Py_ssize_t n = x.shape[0]
    if out.shape[0] != n:
        raise ValueError("internal error: output has the wrong length")
    if n == 0:
        return
    cdef const floating *xp = &x[0]
    cdef floating *op_ = &out[0]
    with nogil:
        if func == SIGMOID:
            if floating is float:
                lk_f32.sigmoid(xp, op_, n)
            else:
                lk_f64.sigmoid(xp, op_, n)
        elif func == SIGMOID_DERIVATIVE:
            if floating is float:
                lk_f32.sigmoid_derivative(xp, op_, n)
            else:
                lk_f64.sigmoid_derivative(xp, op_, n)
        else:
            softplus_family(xp, op_, n, func == LOG_SIGMOID)


cdef void softplus_family(const floating *x, floating *out, Py_ssize_t n,
                          bint negate) noexcept nogil:
    """softplus(x) = max(x, 0) + log1p(exp(-|x|)); log_sigmoid(x) = min(x, 0) - log1p(...)."""
    cdef double z[LOG1P_BLOCK]
    cdef Py_ssize_t start, i, w
    cdef double v
    start = 0
    while start < n:
        w = min(LOG1P_BLOCK, n - start)
        if floating is float:
            lk_f32.exp_neg_abs_array(x + start, z, w)
        else:
            lk_f64.exp_neg_abs_array(x + start, z, w)
        for i in range(w):
            v = x[start + i]
            if negate:
                out[start + i] = <floating>((v if v < 0 else 0.0) - log1p(z[i]))
            else:
                out[start + i] = <floating>((v if v > 0 else 0.0) + log1p(z[i]))
        start += w


# ---------------------------------------------------------------- logsumexp with scale factors

def logsumexp_scaled(const floating[:, ::1] x, const floating[:, ::1] b,
                     floating[::1] result, floating[::1] sign):
    """log|sum(b * exp(x))| and its sign, per row of C-contiguous (rows, n) arrays.
    Entries with b == 0 take no part (even where x is inf or NaN)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    if b.shape[0] != rows or b.shape[1] != n or result.shape[0] != rows or sign.shape[0] != rows:
        raise ValueError("internal error: shapes differ")
    cdef double value, s
    with nogil:
        for r in range(rows):
            scaled_row(&x[r, 0] if n > 0 else NULL, &b[r, 0] if n > 0 else NULL, n,
                       &value, &s)
            result[r] = <floating>value
            sign[r] = <floating>s


cdef void scaled_row(const floating *x, const floating *b, Py_ssize_t n,
                     double *value, double *sign) noexcept nogil:
    cdef double m = -INFINITY, v, w, t, c, e, dh, dl, bv, total_hi, total_lo
    cdef Py_ssize_t i
    cdef bint pos_inf = False, neg_inf = False
    for i in range(n):
        w = b[i]
        if w == 0.0:
            continue
        v = x[i]
        if v != v or w != w:
            value[0] = NAN
            sign[0] = NAN
            return
        if v == INFINITY or (w == INFINITY or w == -INFINITY):
            if v == -INFINITY:
                continue        # b = +-inf at x = -inf: inf * 0, undefined
            if w > 0:
                pos_inf = True
            else:
                neg_inf = True
        if v > m:
            m = v
    if pos_inf or neg_inf:
        if pos_inf and neg_inf:
            value[0] = NAN
            sign[0] = NAN
        else:
            value[0] = INFINITY
            sign[0] = 1.0 if pos_inf else -1.0
        return
    if m == -INFINITY:
        value[0] = -INFINITY
        sign[0] = 0.0
        return
    # Neumaier-compensated sum of b * exp(x - m); x - m exact (TwoSum)
    t = 0.0
    c = 0.0
    for i in range(n):
        w = b[i]
        if w == 0.0 or x[i] == -INFINITY:
            continue
        dh = x[i] - m
        bv = dh - x[i]
        dl = (x[i] - (dh - bv)) + (-m - bv)
        e = w * _exp_dd(dh, dl)
        v = t + e
        if (t if t >= 0 else -t) >= (e if e >= 0 else -e):
            c += (t - v) + e
        else:
            c += (e - v) + t
        t = v
    two_sum(t, c, &total_hi, &total_lo)
    if total_hi == 0.0:
        value[0] = -INFINITY
        sign[0] = 0.0
        return
    sign[0] = 1.0 if total_hi > 0 else -1.0
    if total_hi < 0:
        total_hi = -total_hi
        total_lo = -total_lo
    value[0] = m + (log(total_hi) + total_lo / total_hi)


cdef inline double _exp_dd(double dh, double dl) noexcept nogil:
    return exp(dh) * (1.0 + dl)
