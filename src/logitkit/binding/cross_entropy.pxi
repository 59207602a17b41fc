# The entry points of cross_entropy: against class indices and against class probabilities.
# The rows' algorithm is C (csrc/kernels/cross_entropy_rows-inl.h, csrc/cross_entropy.c).

cdef enum:
    MEAN = 0
    SUM = 1
    NONE = 2


def cross_entropy_index(const floating[:, :] x, const Py_ssize_t[::1] target,
                        const double[::1] weight, floating[::1] loss, floating[:, ::1] grad,
                        Py_ssize_t ignore_index, double eps, int reduction,
                        double[::1] result):
    """Cross-entropy of each row of x against a class index. loss[r] gets the per-row loss
    (0 where ignored); result[0] the sum of the losses, result[1] the mean's denominator.
    With grad (shape (rows, n); (0, 0) for none) the gradient of the reduced loss (of the sum
    of the losses for reduction 'none'). Returns -1, or the first row whose index is bad."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], j
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if target.shape[0] != rows or loss.shape[0] != rows or result.shape[0] < 2:
        raise ValueError("internal error: shapes differ")
    if n > 1 and rows > 0 and x.strides[1] != item:
        raise ValueError("internal error: rows must be contiguous")
    if weight.shape[0] != 0 and weight.shape[0] != n:
        raise ValueError("internal error: weight has the wrong length")
    cdef bint want_grad = grad.shape[0] != 0
    if want_grad and (grad.shape[0] != rows or grad.shape[1] != n):
        raise ValueError("internal error: grad has the wrong shape")
    cdef lk_ce_job job
    job.w = &weight[0] if weight.shape[0] != 0 else NULL
    job.index = &target[0] if rows > 0 else NULL
    job.loss = <char *>&loss[0] if rows > 0 else NULL
    job.x = <const char *>&x[0, 0] if rows > 0 and n > 0 else NULL
    job.xs = x.strides[0]
    job.grad = <char *>&grad[0, 0] if want_grad and rows > 0 and n > 0 else NULL
    job.n, job.rows, job.ignore_index, job.eps = n, rows, ignore_index, eps
    job.prob, job.ts = NULL, 0
    job.is_f32 = floating is float
    job.in_lanes = eps == 0.0 and n <= LK_SHORT_N and x.strides[0] == n * item
    job.total_hi = job.total_lo = 0.0
    cdef double denom = 0.0
    cdef Py_ssize_t bad
    with nogil:
        bad = lk_ce_check_targets(job.index, rows, n, ignore_index, job.w, &denom)
        if bad < 0:
            job.s = 1.0 / denom if reduction == MEAN else 1.0
            job.W = 0.0
            if eps != 0.0:
                for j in range(n):
                    job.W += job.w[j] if job.w != NULL else 1.0
            lk_run_cross_entropy(&job)
    if bad >= 0:
        return bad
    result[0] = lk_kahan_total(job.total_hi, job.total_lo)
    result[1] = denom
    return -1


def cross_entropy_prob(const floating[:, :] x, const floating[:, :] target,
                       const double[::1] weight, floating[::1] loss, floating[:, ::1] grad,
                       double eps, double s, double[::1] result):
    """Cross-entropy of each row of x against class probabilities (same shape): loss[r] =
    sum_c q_c (logsumexp - x_c) with q = weight * ((1 - eps) target + eps / n). With grad,
    s * (T softmax - q) per row, T = sum q. result[0] gets the sum of the losses."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    cdef Py_ssize_t item = <Py_ssize_t>sizeof(floating)
    if target.shape[0] != rows or target.shape[1] != n or loss.shape[0] != rows:
        raise ValueError("internal error: shapes differ")
    if n > 1 and rows > 0 and (x.strides[1] != item or target.strides[1] != item):
        raise ValueError("internal error: rows must be contiguous")
    cdef bint want_grad = grad.shape[0] != 0
    if want_grad and (grad.shape[0] != rows or grad.shape[1] != n):
        raise ValueError("internal error: grad has the wrong shape")
    if rows == 0:
        result[0] = 0.0
        return
    if n == 0:
        for r in range(rows):
            loss[r] = 0.0
        result[0] = 0.0
        return
    cdef lk_ce_job job
    job.x, job.xs = <const char *>&x[0, 0], x.strides[0]
    job.prob, job.ts = <const char *>&target[0, 0], target.strides[0]
    job.n, job.rows, job.index, job.ignore_index = n, rows, NULL, 0
    job.w = &weight[0] if weight.shape[0] != 0 else NULL
    job.W, job.eps, job.s = 0.0, eps, s
    job.loss = <char *>&loss[0]
    job.grad = <char *>&grad[0, 0] if want_grad else NULL
    job.is_f32 = floating is float
    job.in_lanes = False
    with nogil:
        lk_run_cross_entropy(&job)
    result[0] = lk_kahan_total(job.total_hi, job.total_lo)
