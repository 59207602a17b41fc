# softmax, log_softmax and logsumexp over one axis of a 3-d view (outer, n, inner): the per-row
# and per-column-block algorithms around the C passes, and the split of a call over the pool
# (whole rows or column blocks per thread, or a few long rows shared by the team).

# ---------------------------------------------------------------- per-row numerics

cdef inline void add_to(lk_sum *acc, double v) noexcept nogil:
    """acc.hi + acc.lo += v, compensated."""
    cdef double err
    two_sum(acc.hi, v, &acc.hi, &err)
    acc.lo += err


cdef inline void fill(floating *out, Py_ssize_t n, Py_ssize_t stride, double value) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i * stride] = <floating>value


cdef inline bint special_slice(double m, bint has_nan, int op, bint masked,
                               double *value) noexcept nogil:
    """Whether a slice with max m is not finite, and then the value every output entry takes
    (docs/semantics.md, the values at the edges); for logsumexp it is the result itself."""
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

cdef inline void row_range(const floating *x, Py_ssize_t n, double *m, double *mn,
                           int *has_nan) noexcept nogil:
    """The row's max (with has_nan: whether any entry is NaN) and its min, which picks the exp
    pass's form."""
    if floating is float:
        lk_f32.row_range(x, n, m, mn, has_nan)
    else:
        lk_f64.row_range(x, n, m, mn, has_nan)


cdef inline void softmax_exps(const floating *x, floating *out, Py_ssize_t n, double m, double mn,
                              lk_sum *acc) noexcept nogil:
    """exp(x - m) into out, all of it summed into acc (the row's min mn picks the kernel)."""
    if floating is float:
        lk_f32.softmax_exps(x, out, n, m, mn, acc)
    else:
        lk_f64.softmax_exps(x, out, n, m, mn, acc)


cdef inline void exp_sum(const floating *x, Py_ssize_t n, double m, double mn,
                         lk_sum *acc) noexcept nogil:
    """The sum of exp(x - m): the terms equal to 1 counted in acc.top, the others in hi + lo."""
    if floating is float:
        lk_f32.exp_sum(x, n, m, mn, acc)
    else:
        lk_f64.exp_sum(x, n, m, mn, acc)


cdef inline void scale(floating *out, Py_ssize_t n, double inv_hi, double inv_lo) noexcept nogil:
    if floating is float:
        lk_f32.scale(out, n, inv_hi, inv_lo)
    else:
        lk_f64.scale(out, n, inv_hi, inv_lo)


cdef inline void shift_log(const floating *x, floating *out, Py_ssize_t n, double m, double mn,
                           double L) noexcept nogil:
    """out = (x - m) - L, exact but for L's error and one rounding (mn: the row's min)."""
    if floating is float:
        lk_f32.shift_log(x, out, n, m, mn, L)
    else:
        lk_f64.shift_log(x, out, n, m, mn, L)


cdef inline void col_max(const char *x, Py_ssize_t x_step, Py_ssize_t n, Py_ssize_t w,
                         floating *m, double *least) noexcept nogil:
    """m = max(m, x) per column over n rows x_step bytes apart (a NaN, once seen, stays);
    least = min(least, x)."""
    if floating is float:
        lk_f32.col_max(<const float *>x, x_step, n, w, m, least)
    else:
        lk_f64.col_max(<const double *>x, x_step, n, w, m, least)


cdef inline void col_exp(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                         Py_ssize_t n, Py_ssize_t w, const floating *m, double spread,
                         double *hi, double *lo, double *top) noexcept nogil:
    """exp(x - m) into out, all summed (softmax), or only summed, the terms equal to the max
    counted in top (out NULL). spread: the block's least x minus its largest max."""
    if floating is float:
        if out == NULL:
            lk_f32.col_exp_sum(<const float *>x, x_step, n, w, m, spread, hi, lo, top)
        else:
            lk_f32.col_exp_store(<const float *>x, x_step, <float *>out, out_step, n, w, m,
                                 spread, hi, lo, top)
    else:
        if out == NULL:
            lk_f64.col_exp_sum(<const double *>x, x_step, n, w, m, spread, hi, lo, top)
        else:
            lk_f64.col_exp_store(<const double *>x, x_step, <double *>out, out_step, n, w, m,
                                 spread, hi, lo, top)


cdef inline void col_scale(char *out, Py_ssize_t out_step, Py_ssize_t n, Py_ssize_t w,
                           const double *a, const double *b, floating *kind) noexcept nogil:
    if floating is float:
        lk_f32.col_scale(<float *>out, out_step, n, w, a, b)
    else:
        lk_f64.col_scale(<double *>out, out_step, n, w, a, b)


cdef inline void col_shift_log(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                               Py_ssize_t n, Py_ssize_t w, const floating *m,
                               const double *L) noexcept nogil:
    if floating is float:
        lk_f32.col_shift_log(<const float *>x, x_step, <float *>out, out_step, n, w, m, L)
    else:
        lk_f64.col_shift_log(<const double *>x, x_step, <double *>out, out_step, n, w, m, L)


# ---------------------------------------------------------------- reductions, one row

cdef double reduce_row(const floating *x, floating *out, Py_ssize_t n, int op,
                       bint masked) noexcept nogil:
    """softmax / log_softmax of one contiguous row into out, or its logsumexp (returned)."""
    cdef double m, mn, value, inv_hi, inv_lo, L, L_lo
    cdef int has_nan
    cdef lk_sum acc
    if n == 0:
        return -INFINITY
    row_range(x, n, &m, &mn, &has_nan)
    if special_slice(m, has_nan, op, masked, &value):
        if op != LOGSUMEXP:
            fill(out, n, 1, value)
        return value
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if op == SOFTMAX:
        softmax_exps(x, out, n, m, mn, &acc)
        reciprocal(acc.top, acc.hi, acc.lo, &inv_hi, &inv_lo)
        scale(out, n, inv_hi, inv_lo)
        return 0.0
    exp_sum(x, n, m, mn, &acc)
    log_of_sum(acc.top, acc.hi, acc.lo, &L, &L_lo)
    if op == LOG_SOFTMAX:
        shift_log(x, out, n, m, mn, L + L_lo)
        return 0.0
    return logsumexp_value(x, n, 1, m, add_log(m, L, L_lo))


cdef void reduce_row_pair(const floating *xa, floating *oa, const floating *xb, floating *ob,
                          Py_ssize_t n, int op, bint masked, double *values) noexcept nogil:
    """Two rows of n (> 0) elements, as reduce_row each (logsumexps into values[0], values[1]),
    every pass run for both before the next: each row's waits (its max before its exps, its
    sum before its scale) then overlap the other row's work in the CPU's reorder window."""
    cdef double ma, mna, mb, mnb, inv_a_hi, inv_a_lo, inv_b_hi, inv_b_lo, La, La_lo, Lb, Lb_lo
    cdef double value
    cdef int nan_a, nan_b
    cdef lk_sum acc_a, acc_b
    values[0] = values[1] = 0.0
    row_range(xa, n, &ma, &mna, &nan_a)
    row_range(xb, n, &mb, &mnb, &nan_b)
    if special_slice(ma, nan_a, op, masked, &value) or special_slice(mb, nan_b, op, masked,
                                                                     &value):
        values[0] = reduce_row(xa, oa, n, op, masked)           # rare: one row at a time
        values[1] = reduce_row(xb, ob, n, op, masked)
        return
    acc_a.hi = acc_a.lo = acc_a.top = 0.0
    acc_b.hi = acc_b.lo = acc_b.top = 0.0
    if op == SOFTMAX:
        softmax_exps(xa, oa, n, ma, mna, &acc_a)
        softmax_exps(xb, ob, n, mb, mnb, &acc_b)
        reciprocal(acc_a.top, acc_a.hi, acc_a.lo, &inv_a_hi, &inv_a_lo)
        reciprocal(acc_b.top, acc_b.hi, acc_b.lo, &inv_b_hi, &inv_b_lo)
        scale(oa, n, inv_a_hi, inv_a_lo)
        scale(ob, n, inv_b_hi, inv_b_lo)
        return
    exp_sum(xa, n, ma, mna, &acc_a)
    exp_sum(xb, n, mb, mnb, &acc_b)
    log_of_sum(acc_a.top, acc_a.hi, acc_a.lo, &La, &La_lo)
    log_of_sum(acc_b.top, acc_b.hi, acc_b.lo, &Lb, &Lb_lo)
    if op == LOG_SOFTMAX:
        shift_log(xa, oa, n, ma, mna, La + La_lo)
        shift_log(xb, ob, n, mb, mnb, Lb + Lb_lo)
        return
    values[0] = logsumexp_value(xa, n, 1, ma, add_log(ma, La, La_lo))
    values[1] = logsumexp_value(xb, n, 1, mb, add_log(mb, Lb, Lb_lo))


# ---------------------------------------------------------------- reductions, a block of columns

cdef void reduce_columns(const char *x, Py_ssize_t x_step, char *out, Py_ssize_t out_step,
                         floating *result, Py_ssize_t result_stride,
                         Py_ssize_t n, Py_ssize_t w, int op, bint masked,
                         double *state) noexcept nogil:
    """Reduce over n rows (x_step bytes apart) of w contiguous columns. state: 6 * w doubles."""
    cdef floating *m = <floating *>state        # the columns' maxima, in their own type
    cdef double *hi = state + w
    cdef double *lo = state + 2 * w
    cdef double *top = state + 3 * w
    cdef double *a = state + 4 * w
    cdef double *b = state + 5 * w
    cdef Py_ssize_t j, k
    cdef double value, least = INFINITY, most = -INFINITY
    # float64's softmax sums start at 1, above every term, so that Fast2Sum adds them exactly
    cdef double bias = 1.0 if floating is double and op == SOFTMAX else 0.0
    for j in range(w):
        m[j] = -INFINITY
        hi[j] = bias
        lo[j] = 0.0
        top[j] = 0.0
    col_max(x, x_step, n, w, m, &least)
    for j in range(w):
        if m[j] > most:             # NaN columns aside: their results are overwritten
            most = m[j]
    col_exp(x, x_step, out if op == SOFTMAX else NULL, out_step, n, w, m, least - most,
            hi, lo, top)
    for j in range(w):
        hi[j] -= bias               # exact: 1 is a multiple of ulp(hi) for hi < 2^53
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
        col_scale(out, out_step, n, w, a, b, m)
    elif op == LOG_SOFTMAX:
        for j in range(w):
            a[j] += b[j]
        col_shift_log(x, x_step, out, out_step, n, w, m, a)
    for j in range(w):
        if special_slice(m[j], m[j] != m[j], op, masked, &value):
            if op == LOGSUMEXP:
                result[j * result_stride] = <floating>value
            else:
                fill(<floating *>out + j, n, out_step // <Py_ssize_t>sizeof(floating), value)
        elif op == LOGSUMEXP:
            result[j * result_stride] = <floating>logsumexp_value(
                <const floating *>x + j, n, x_step // <Py_ssize_t>sizeof(floating), m[j],
                add_log(m[j], a[j], b[j]))


# ---------------------------------------------------------------- reductions, a whole call

cdef struct ReduceJob:
    # x viewed as (outer, n, inner) with contiguous rows (inner == 1) or columns (inner > 1);
    # strides in bytes, result strides in elements
    const char *x
    Py_ssize_t xs0, xs1
    char *out
    Py_ssize_t os0, os1
    char *result
    Py_ssize_t rs0, rs1
    Py_ssize_t outer, n, inner, blocks
    int op
    bint masked
    bint is_f32
    # a few long rows, each split across the threads: their per-thread partial results
    double part_max[MAX_THREADS]
    double part_min[MAX_THREADS]
    int part_nan[MAX_THREADS]
    lk_sum part_sum[MAX_THREADS]


cdef void reduce_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef ReduceJob *job = <ReduceJob *>ctx
    if job.is_f32:
        reduce_share(job, <float *>NULL, tid, nthreads, team)
    else:
        reduce_share(job, <double *>NULL, tid, nthreads, team)


cdef void reduce_share(ReduceJob *job, floating *kind, int tid, int nthreads,
                       lk_team *team) noexcept nogil:
    """Thread tid's share: whole rows or column blocks when there are enough of them,
    otherwise a part of every (long) row."""
    cdef Py_ssize_t units = job.outer * job.blocks, first, stop, o
    if nthreads == 1 or units >= nthreads or job.inner > 1:
        lk_split(units, tid, nthreads, 1, &first, &stop)
        reduce_units(job, kind, first, stop)
        return
    for o in range(job.outer):
        reduce_row_part(job, kind, o, tid, nthreads, team)


cdef void reduce_units(const ReduceJob *job, floating *kind, Py_ssize_t first,
                       Py_ssize_t stop) noexcept nogil:
    """Rows (inner == 1) or column blocks of COLUMN_BLOCK columns, numbered in memory order."""
    cdef double state[6 * COLUMN_BLOCK]
    cdef Py_ssize_t u, o, c, w
    cdef double value
    cdef double pair_values[2]
    cdef floating *result = <floating *>job.result
    u = first
    while u < stop:
        o = u // job.blocks
        # rows of up to LK_SHORT_N, LK_SHORT_ROWS at a time, vectorised across rows
        if job.inner == 1 and job.n <= LK_SHORT_N and stop - u >= 2:
            w = min(<Py_ssize_t>LK_SHORT_ROWS, stop - u)
            short_rows_in_lanes(job, kind, u, w, state)
            u += w
            continue
        # rows that stay in the first caches, two at a time (reduce_row_pair)
        if (job.inner == 1 and stop - u >= 2 and job.n > 0
                and job.n * <Py_ssize_t>sizeof(floating) <= PAIRED_ROW_BYTES):
            reduce_row_pair(<const floating *>(job.x + o * job.xs0),
                            <floating *>(job.out + o * job.os0) if job.out != NULL else NULL,
                            <const floating *>(job.x + (o + 1) * job.xs0),
                            <floating *>(job.out + (o + 1) * job.os0) if job.out != NULL else NULL,
                            job.n, job.op, job.masked, pair_values)
            if job.op == LOGSUMEXP:
                result[o * job.rs0] = <floating>pair_values[0]
                result[(o + 1) * job.rs0] = <floating>pair_values[1]
            u += 2
            continue
        if job.inner == 1:
            value = reduce_row(<const floating *>(job.x + o * job.xs0),
                               <floating *>(job.out + o * job.os0) if job.out != NULL else NULL,
                               job.n, job.op, job.masked)
            if job.op == LOGSUMEXP:
                result[o * job.rs0] = <floating>value
        else:
            c = (u % job.blocks) * COLUMN_BLOCK
            w = min(COLUMN_BLOCK, job.inner - c)
            reduce_columns(
                job.x + o * job.xs0 + c * sizeof(floating), job.xs1,
                job.out + o * job.os0 + c * sizeof(floating) if job.out != NULL else NULL,
                job.os1,
                result + o * job.rs0 + c * job.rs1 if result != NULL else NULL, job.rs1,
                job.n, w, job.op, job.masked, state)
        u += 1


cdef void short_rows_in_lanes(const ReduceJob *job, floating *kind, Py_ssize_t first,
                              Py_ssize_t count, double *state) noexcept nogil:
    """count (<= LK_SHORT_ROWS) rows of n <= LK_SHORT_N values in one C call, rows across
    vector lanes (short_rows, csrc/kernels/short_rows-inl.h); then the edge values of the rows whose max is
    not finite, and float32 logsumexp where m + log(sum) cancels."""
    cdef double *m = state
    cdef double *lse = state + LK_SHORT_ROWS
    cdef Py_ssize_t r, n = job.n
    # strides in elements (whole: check_aligned); item signed, so a negative one divides exactly
    cdef Py_ssize_t item = sizeof(floating)
    cdef double value
    cdef floating *result = <floating *>job.result
    cdef const floating *x0 = <const floating *>(job.x + first * job.xs0)
    cdef floating *out0 = <floating *>(job.out + first * job.os0) if job.out != NULL else NULL
    if floating is float:
        lk_f32.short_rows(x0, job.xs0 // item, out0, job.os0 // item, count, n, job.op, m, lse)
    else:
        lk_f64.short_rows(x0, job.xs0 // item, out0, job.os0 // item, count, n, job.op, m, lse)
    for r in range(count):
        if special_slice(m[r], m[r] != m[r], job.op, job.masked, &value):
            if job.op == LOGSUMEXP:
                result[(first + r) * job.rs0] = <floating>value
            else:
                fill(<floating *>(job.out + (first + r) * job.os0), n, 1, value)
        elif job.op == LOGSUMEXP:
            result[(first + r) * job.rs0] = <floating>logsumexp_value(
                <const floating *>(job.x + (first + r) * job.xs0), n, 1, m[r], lse[r])


cdef double logsumexp_cancelling(const float *x, Py_ssize_t n, Py_ssize_t step,
                                 double m) noexcept nogil:
    """logsumexp of a float32 slice (n elements, step apart) where m + log(sum) cancels (to
    less than half of log(sum)): the float exps' 2^-24 errors would show in the last bits, so
    the sum is redone with libm's double exp, compensated, and the double-double log of the
    row kernels."""
    cdef double top = 0.0, v
    cdef lk_sum acc
    cdef double L, L_lo
    cdef Py_ssize_t k
    acc.hi = 0.0
    acc.lo = 0.0
    for k in range(n):
        v = x[k * step]
        if v == m:
            top += 1.0
        else:
            add_to(&acc, exp(v - m))
    log_of_sum(top, acc.hi, acc.lo, &L, &L_lo)
    return add_log(m, L, L_lo)


cdef inline double logsumexp_value(const floating *x, Py_ssize_t n, Py_ssize_t step, double m,
                                   double value) noexcept nogil:
    """The logsumexp of a slice (n elements, step apart, max m) computed as value; where
    m + log(sum) cancels, redone with more precise terms than the kernels'. float32 (below
    half of the log of the sum, value - m): in double (logsumexp_cancelling). float64: in
    double-double (lk_dd_logsumexp, ~2^-100 of the log, ~0.2 us an element), for results
    from max(n 2^-52, 2^-50) of the log up to 1/2 of it for slices of up to 32 elements and
    up to 1/16 for longer ones. The kernels' terms (each exp rounded once) cost such a result
    up to ~9 ULP (a confident pair at 1/16, measured); in a long slice their roundings
    average out, and redoing every result below 1/2 of the log cost common data (1000
    classes, logsumexp ~1) 70x. Below n 2^-52 of the log sit rows of log-probabilities (their
    logsumexp, ~sqrt(n) 2^-53, is the rounding of n values): redone, 1024 such rows of 1000
    took ~300x the kernels' time, so the kernels' value stands there, within ~2^-52 of the
    log."""
    cdef double log_sum = value - m
    cdef double upper = 0.5 if n <= 32 else 0.0625
    if floating is float:
        if fabs(value) < 0.5 * log_sum:
            return logsumexp_cancelling(x, n, step, m)
    elif fmax(ldexp(<double>n, -52), ldexp(1.0, -50)) * log_sum <= fabs(value) < upper * log_sum:
        return lk_dd_logsumexp(x, n, step, m)
    return value


cdef void reduce_row_part(ReduceJob *job, floating *kind, Py_ssize_t o, int tid, int nthreads,
                          lk_team *team) noexcept nogil:
    """Row o, split across the team: partial maxima, then partial sums, are combined by every
    thread in the same order, so all agree on the max and the total (and the result does not
    depend on timing)."""
    cdef Py_ssize_t lo, hi, length
    cdef double m = -INFINITY, mn = INFINITY, part_m, part_mn, value, inv_hi, inv_lo, L, L_lo
    cdef int has_nan = 0, part_nan = 0, t
    cdef lk_sum acc, total
    lk_split(job.n, tid, nthreads, 64, &lo, &hi)
    length = hi - lo
    cdef const floating *x = <const floating *>(job.x + o * job.xs0) + lo
    cdef floating *out = <floating *>(job.out + o * job.os0) + lo if job.out != NULL else NULL
    cdef floating *result = <floating *>job.result
    part_m = -INFINITY
    part_mn = INFINITY
    if length > 0:
        row_range(x, length, &part_m, &part_mn, &part_nan)
    job.part_max[tid] = part_m
    job.part_min[tid] = part_mn
    job.part_nan[tid] = part_nan
    lk_team_barrier(team)
    for t in range(nthreads):
        has_nan |= job.part_nan[t]
        if job.part_max[t] > m:
            m = job.part_max[t]
        if job.part_min[t] < mn:
            mn = job.part_min[t]
    if special_slice(m, has_nan, job.op, job.masked, &value):
        if job.op != LOGSUMEXP:
            fill(out, length, 1, value)
        elif tid == 0:
            result[o * job.rs0] = <floating>value
        lk_team_barrier(team)               # the parts are reused by the next row
        return
    acc.hi = 0.0
    acc.lo = 0.0
    acc.top = 0.0
    if job.op == SOFTMAX:
        softmax_exps(x, out, length, m, mn, &acc)
    else:
        exp_sum(x, length, m, mn, &acc)
    job.part_sum[tid] = acc
    lk_team_barrier(team)
    total.hi = 0.0
    total.lo = 0.0
    total.top = 0.0
    for t in range(nthreads):
        add_to(&total, job.part_sum[t].hi)
        add_to(&total, job.part_sum[t].lo)
        total.top += job.part_sum[t].top
    if job.op == SOFTMAX:
        reciprocal(total.top, total.hi, total.lo, &inv_hi, &inv_lo)
        scale(out, length, inv_hi, inv_lo)
    else:
        log_of_sum(total.top, total.hi, total.lo, &L, &L_lo)
        if job.op == LOG_SOFTMAX:
            shift_log(x, out, length, m, mn, L + L_lo)
        elif tid == 0:
            result[o * job.rs0] = <floating>logsumexp_value(
                <const floating *>(job.x + o * job.xs0), job.n, 1, m, add_log(m, L, L_lo))
    lk_team_barrier(team)


cdef void run_reduction(ReduceJob *job) noexcept nogil:
    job.blocks = 1 if job.inner == 1 else (job.inner + COLUMN_BLOCK - 1) // COLUMN_BLOCK
    cdef Py_ssize_t units = job.outer * job.blocks
    if job.inner == 1 and job.outer < MAX_THREADS:
        units = MAX_THREADS                 # long rows can be split
    cdef int nthreads = lk_threads_for(job.outer * job.n * job.inner, units)
    lk_parallel_run(nthreads, reduce_task, job)
