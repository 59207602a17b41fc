

# ---------------------------------------------------------------- cross-entropy, class indices

cdef Py_ssize_t check_targets(const Py_ssize_t *t, Py_ssize_t rows, Py_ssize_t n,
                              Py_ssize_t ignore_index, const double *w, double *denom) noexcept nogil:
    """First bad row (an index outside [0, n) that is not ignore_index), or -1; denom is the
    sum of the weights of the targets that are not ignored (their count without weights)."""
    cdef Py_ssize_t r, y, count = 0
    cdef double hi = 0.0, lo = 0.0
    for r in range(rows):
        y = t[r]
        if y == ignore_index:
            continue
        if y < 0 or y >= n:
            return r
        if w != NULL:
            kahan_add(&hi, &lo, w[y])
        else:
            count += 1
    denom[0] = hi + lo if w != NULL else <double>count
    return -1


cdef struct CrossEntropyRows:
    # the rows of one cross-entropy call, shared out among threads (cross_entropy_task)
    const char *x
    Py_ssize_t xs, n, rows
    const Py_ssize_t *index         # class indices; NULL for probability targets
    Py_ssize_t ignore_index
    const char *prob                # probability rows, ts bytes apart (index NULL)
    Py_ssize_t ts
    const double *w
    double W, eps, s
    char *loss
    char *grad
    bint is_f32
    bint in_lanes                   # class indices, no smoothing, short contiguous rows


cdef void cross_entropy_part(const floating *kind, const CrossEntropyRows *job, Py_ssize_t lo,
                             Py_ssize_t hi) noexcept nogil:
    cdef floating *loss = <floating *>job.loss
    cdef floating *g
    cdef const floating *x
    cdef Py_ssize_t r, y
    # float32 soft gradients: a row's double exps, kept from its sum for its gradient (NULL,
    # if malloc fails, has them computed twice)
    cdef double *kept = NULL
    if floating is float and job.grad != NULL and (job.index == NULL or job.eps != 0.0):
        kept = <double *>malloc(max(job.n, 1) * sizeof(double))
    for r in range(lo, hi):
        x = <const floating *>(job.x + r * job.xs)
        g = <floating *>job.grad + r * job.n if job.grad != NULL else NULL
        if job.index != NULL:
            y = job.index[r]
            loss[r] = <floating>index_row(x, job.n, y, y == job.ignore_index, job.w, job.W,
                                          job.eps, job.s, g, kept)
        else:
            loss[r] = <floating>prob_row(x, <const floating *>(job.prob + r * job.ts), job.n,
                                         job.w, job.eps, job.s, g, kept)
    free(kept)


cdef void cross_entropy_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    """Thread tid's contiguous share of the rows. Each row's loss lands in its own slot and
    the caller adds them up in order afterwards, so the result does not depend on threads."""
    cdef const CrossEntropyRows *job = <const CrossEntropyRows *>ctx
    cdef Py_ssize_t lo, hi
    # short rows: whole blocks of the lanes kernel to each thread
    lk_split(job.rows, tid, nthreads, LK_SHORT_ROWS if job.in_lanes else 1, &lo, &hi)
    if lo >= hi:
        return
    if job.in_lanes and job.is_f32:
        rows_in_lanes(<const float *>NULL, job, lo, hi)
    elif job.in_lanes:
        rows_in_lanes(<const double *>NULL, job, lo, hi)
    elif job.is_f32:
        cross_entropy_part(<const float *>NULL, job, lo, hi)
    else:
        cross_entropy_part(<const double *>NULL, job, lo, hi)


cdef void rows_in_lanes(const floating *kind, const CrossEntropyRows *job, Py_ssize_t lo,
                        Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t n = job.n
    cdef floating *grad = <floating *>job.grad
    index_rows_small(<const floating *>job.x + lo * n, job.index + lo, job.w, job.s,
                     <floating *>job.loss + lo, grad + lo * n if grad != NULL else NULL,
                     hi - lo, n, job.ignore_index)


def cross_entropy_index(const floating[:, :] x, const Py_ssize_t[::1] target,
                        const double[::1] weight, floating[::1] loss, floating[:, ::1] grad,
                        Py_ssize_t ignore_index, double eps, int reduction,
                        double[::1] result):
    """Cross-entropy of each row of x against a class index. loss[r] gets the per-row loss
    (0 where ignored); result[0] the sum of the losses, result[1] the mean's denominator.
    With grad (shape (rows, n); (0, 0) for none) the gradient of the reduced loss (of the sum
    of the losses for reduction 'none'). Returns -1, or the first row whose index is bad."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r, j, y
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
    cdef const double *w = &weight[0] if weight.shape[0] != 0 else NULL
    cdef const Py_ssize_t *t = &target[0] if rows > 0 else NULL
    cdef floating *lp = &loss[0] if rows > 0 else NULL
    cdef const char *xp = <const char *>&x[0, 0] if rows > 0 and n > 0 else NULL
    cdef Py_ssize_t xs = x.strides[0]
    cdef floating *gp = &grad[0, 0] if want_grad and rows > 0 and n > 0 else NULL
    cdef double denom = 0.0, s, W = 0.0, tot_hi = 0.0, tot_lo = 0.0
    cdef Py_ssize_t bad
    cdef CrossEntropyRows job
    with nogil:
        bad = check_targets(t, rows, n, ignore_index, w, &denom)
        if bad < 0:
            s = 1.0 / denom if reduction == MEAN else 1.0
            if eps != 0.0:
                for j in range(n):
                    W += w[j] if w != NULL else 1.0
            job = CrossEntropyRows(
                x=xp, xs=xs, n=n, rows=rows, index=t, ignore_index=ignore_index, prob=NULL,
                ts=0, w=w, W=W, eps=eps, s=s, loss=<char *>lp, grad=<char *>gp,
                is_f32=floating is float,
                in_lanes=eps == 0.0 and n <= LK_SHORT_N and x.strides[0] == n * item)
            lk_parallel_run(lk_threads_for(rows * n, rows), cross_entropy_task, &job)
            if floating is float:           # float losses: a double sum is exact enough
                for r in range(rows):
                    tot_hi += lp[r]
            else:
                for r in range(rows):
                    kahan_add(&tot_hi, &tot_lo, lp[r])
    if bad >= 0:
        return bad
    result[0] = kahan_total(tot_hi, tot_lo)
    result[1] = denom
    return -1


cdef double index_row(const floating *x, Py_ssize_t n, Py_ssize_t y, bint ignored,
                      const double *w, double W, double eps, double s,
                      floating *g, double *kept) noexcept nogil:
    """The loss of one row against class y (and its gradient into g, scaled by s; kept:
    room for n doubles, see soft_reciprocal, or NULL)."""
    cdef double m, xt, dh, dl, a, e, nll, weighted, wy, L_hi, L_lo, rest_hi, rest_lo, inv_hi
    cdef double inv_lo
    cdef double c, c_hi, c_lo, T, loss
    cdef double sums[4]
    cdef int has_nan
    cdef lk_sum acc
    if ignored:
        if g != NULL:
            fill_row(g, n, 0.0)
        return 0.0
    # float64 keeps its exps in g for smoothing_grad (row_exps); float32 only without
    # smoothing, as its smoothed gradient wants double exps (soft_reciprocal)
    row_sums(x, n, g if eps == 0.0 or floating is double else NULL, &m, &has_nan, &acc)
    if has_nan or m - m != 0.0:         # NaN, +inf, or all -inf: undefined
        if g != NULL:
            fill_row(g, n, NAN)
        return NAN
    wy = w[y] if w != NULL else 1.0
    log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo)
    xt = x[y]
    if xt == -INFINITY:
        nll = INFINITY
    else:
        two_sum(m, -xt, &dh, &dl)       # m - x_t exactly
        if dh == INFINITY:              # overflow (m and -x_t near the dtype's max)
            nll = INFINITY
        else:
            two_sum(dh, L_hi, &a, &e)
            nll = a + (e + (dl + L_lo))
    # a zero class weight contributes nothing, even where nll is inf (as in the reference)
    weighted = wy * nll if wy != 0.0 else 0.0
    if eps == 0.0:
        loss = weighted
    else:
        smoothing_sums(x, NULL, w, n, m, eps, sums)     # sum of w_j (m - x_j) in sums[2:]
        loss = (1.0 - eps) * weighted + (eps / n) * ((sums[2] + sums[3]) + W * L_hi + W * L_lo)
    if g == NULL:
        return loss
    # gradient: s * (T p_j - q_j), q = (1 - eps) w_y e_y + (eps / n) w
    if eps != 0.0:
        soft_reciprocal(x, n, m, &acc, kept, &inv_hi, &inv_lo)
    else:
        reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo)
    T = (1.0 - eps) * wy + (eps / n) * W if eps != 0.0 else wy
    c = s * T
    dd_mul(c, inv_hi, inv_lo, &c_hi, &c_lo)
    if eps != 0.0:
        smoothing_grad(x, NULL, w, row_exps(g, kept), n, y, m, eps, c_hi, c_lo, s, g)
        return loss
    scale_row(g, n, c_hi, c_lo)
    if xt == m and acc.top == 1.0:
        # the unique max: p_y - 1 = -rest / total, without the cancellation of p_y - 1
        two_sum(acc.hi, acc.lo, &rest_hi, &rest_lo)
        g[y] = <floating>(-c * (rest_hi * inv_hi + (rest_lo * inv_hi + rest_hi * inv_lo)))
    else:
        g[y] = <floating>(<double>g[y] - c)         # p_y <= 1/2 here: no cancellation
    return loss


cdef void index_rows_small(const floating *x, const Py_ssize_t *t, const double *w, double s,
                           floating *loss, floating *grad, Py_ssize_t rows, Py_ssize_t n,
                           Py_ssize_t ignore_index) noexcept nogil:
    """Short rows (n <= LK_SHORT_N, C-contiguous), LK_SHORT_ROWS at a time in the lanes kernel
    (ce_short in csrc/kernels/cross_entropy-inl.h), gradient included when grad is not NULL; then the rows
    it leaves to us: ignored ones (loss and gradient 0) and those whose max is not finite
    (NaN)."""
    cdef int32_t target[LK_SHORT_ROWS]
    cdef double c[LK_SHORT_ROWS]
    cdef double m[LK_SHORT_ROWS]
    cdef double nll[LK_SHORT_ROWS]
    cdef Py_ssize_t r0 = 0, b, y, nb, r
    while r0 < rows:
        nb = min(<Py_ssize_t>LK_SHORT_ROWS, rows - r0)
        for b in range(nb):
            y = t[r0 + b]
            target[b] = -1 if y == ignore_index else <int32_t>y
            c[b] = 0.0 if y == ignore_index else s * (w[y] if w != NULL else 1.0)
        if floating is float:
            lk_f32.ce_short(x + r0 * n, target, c, grad + r0 * n if grad != NULL else NULL, nb,
                             n, m, nll)
        else:
            lk_f64.ce_short(x + r0 * n, target, c, grad + r0 * n if grad != NULL else NULL, nb,
                             n, m, nll)
        for b in range(nb):
            r = r0 + b
            if target[b] < 0:
                loss[r] = 0.0
                if grad != NULL:
                    fill_row(grad + r * n, n, 0.0)
            elif m[b] - m[b] != 0.0:        # NaN, +inf, all -inf: undefined
                loss[r] = NAN
                if grad != NULL:
                    fill_row(grad + r * n, n, NAN)
            elif w != NULL:                 # a zero weight contributes nothing, even to inf
                loss[r] = <floating>(nll[b] * w[target[b]]) if w[target[b]] != 0.0 else 0.0
            else:
                loss[r] = <floating>nll[b]
        r0 += nb


# ---------------------------------------------------------------- cross-entropy, probabilities

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
    cdef const double *w = &weight[0] if weight.shape[0] != 0 else NULL
    cdef double tot_hi = 0.0, tot_lo = 0.0
    if rows == 0:
        result[0] = 0.0
        return
    if n == 0:
        for r in range(rows):
            loss[r] = 0.0
        result[0] = 0.0
        return
    cdef const char *xp = <const char *>&x[0, 0]
    cdef const char *tp = <const char *>&target[0, 0]
    cdef Py_ssize_t xs = x.strides[0], ts = target.strides[0]
    cdef floating *gp = &grad[0, 0] if want_grad else NULL
    cdef CrossEntropyRows job
    job = CrossEntropyRows(x=xp, xs=xs, n=n, rows=rows, index=NULL, ignore_index=0, prob=tp,
                           ts=ts, w=w, W=0.0, eps=eps, s=s, loss=<char *>&loss[0],
                           grad=<char *>gp, is_f32=floating is float, in_lanes=False)
    with nogil:
        lk_parallel_run(lk_threads_for(rows * n, rows), cross_entropy_task, &job)
        for r in range(rows):
            kahan_add(&tot_hi, &tot_lo, loss[r])
    result[0] = kahan_total(tot_hi, tot_lo)


cdef double prob_row(const floating *x, const floating *t, Py_ssize_t n, const double *w,
                     double eps, double s, floating *g, double *kept) noexcept nogil:
    cdef double m, L_hi, L_lo, inv_hi, inv_lo, c_hi, c_lo
    cdef double A_hi, A_lo, T
    cdef double sums[4]
    cdef int has_nan
    cdef lk_sum acc
    row_sums(x, n, g if floating is double else NULL, &m, &has_nan, &acc)
    if has_nan or m - m != 0.0:
        if g != NULL:
            fill_row(g, n, NAN)
        return NAN
    log_of_sum(acc.top, acc.hi, acc.lo, &L_hi, &L_lo)
    # T = sum of q_j; A = sum of q_j (m - x_j), where 0 * log(0) = 0: a class with no mass
    # takes no part
    smoothing_sums(x, t, w, n, m, eps, sums)
    T = sums[0] + sums[1]
    A_hi, A_lo = sums[2], sums[3]
    if g != NULL:
        soft_reciprocal(x, n, m, &acc, kept, &inv_hi, &inv_lo)
        dd_mul(s * T, inv_hi, inv_lo, &c_hi, &c_lo)
        smoothing_grad(x, t, w, row_exps(g, kept), n, -1, m, eps, c_hi, c_lo, s, g)
    return (A_hi + A_lo) + (T * L_hi + T * L_lo)
