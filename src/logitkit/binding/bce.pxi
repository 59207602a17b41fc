

# ---------------------------------------------------------------- binary cross-entropy

cdef enum:
    # binary cross-entropy sums its losses per block of this many elements, and the blocks in
    # order: the total is the same for any number of threads
    BCE_BLOCK = 1 << 15


cdef struct BceJob:
    # one binary cross-entropy call, shared out among threads by blocks (bce_task)
    const char *x
    const char *t
    const double *w
    const double *pw
    char *loss
    char *grad
    Py_ssize_t n, blocks
    double s
    double *totals          # one per block
    bint is_f32


cdef void bce_blocks(const floating *kind, const BceJob *job, Py_ssize_t first,
                     Py_ssize_t last) noexcept nogil:
    cdef const floating *x = <const floating *>job.x
    cdef const floating *t = <const floating *>job.t
    cdef floating *loss = <floating *>job.loss
    cdef floating *grad = <floating *>job.grad
    cdef Py_ssize_t b, at, k
    for b in range(first, last):
        at = b * BCE_BLOCK
        k = min(<Py_ssize_t>BCE_BLOCK, job.n - at)
        if floating is float:
            job.totals[b] = lk_f32.bce(x + at, t + at, job.w + at if job.w != NULL else NULL,
                                        job.pw + at if job.pw != NULL else NULL, loss + at,
                                        grad + at if grad != NULL else NULL, k, job.s)
        else:
            job.totals[b] = lk_f64.bce(x + at, t + at, job.w + at if job.w != NULL else NULL,
                                        job.pw + at if job.pw != NULL else NULL, loss + at,
                                        grad + at if grad != NULL else NULL, k, job.s)


cdef void bce_task(void *ctx, int tid, int nthreads, lk_team *team) noexcept nogil:
    cdef const BceJob *job = <const BceJob *>ctx
    cdef Py_ssize_t first, last
    lk_split(job.blocks, tid, nthreads, 1, &first, &last)
    if job.is_f32:
        bce_blocks(<const float *>NULL, job, first, last)
    else:
        bce_blocks(<const double *>NULL, job, first, last)


def bce_with_logits(const floating[::1] x, const floating[::1] t, const double[::1] w,
                    const double[::1] pw, floating[::1] loss, floating[::1] grad, double s,
                    double[::1] result):
    """loss_i = w_i (pw_i t_i softplus(-x_i) + (1 - t_i) softplus(x_i)), both terms >= 0 for
    t in [0, 1]: no cancellation, exact for |x| up to the dtype's max. grad_i = s w_i
    ((1 - t_i) sigmoid(x_i) - pw_i t_i sigmoid(-x_i)). w / pw: length 0 (none) or len(x).
    result[0] gets the sum of the losses."""
    cdef Py_ssize_t n = x.shape[0]
    cdef bint want_grad = grad.shape[0] != 0
    if t.shape[0] != n or loss.shape[0] != n or (want_grad and grad.shape[0] != n):
        raise ValueError("internal error: shapes differ")
    if (w.shape[0] != 0 and w.shape[0] != n) or (pw.shape[0] != 0 and pw.shape[0] != n):
        raise ValueError("internal error: weights have the wrong length")
    if n == 0:
        result[0] = 0.0
        return
    cdef BceJob job
    job.x = <const char *>&x[0]
    job.t = <const char *>&t[0]
    job.w = &w[0] if w.shape[0] != 0 else NULL
    job.pw = &pw[0] if pw.shape[0] != 0 else NULL
    job.loss = <char *>&loss[0]
    job.grad = <char *>&grad[0] if want_grad else NULL
    job.n = n
    job.s = s
    job.is_f32 = floating is float
    job.blocks = (n + BCE_BLOCK - 1) // BCE_BLOCK
    cdef double stack_totals[64]
    job.totals = &stack_totals[0]
    if job.blocks > 64:
        job.totals = <double *>malloc(job.blocks * sizeof(double))
    if job.totals == NULL:
        raise MemoryError("binary_cross_entropy_with_logits: no memory for the block totals")
    cdef double hi = 0.0, lo = 0.0
    cdef Py_ssize_t b
    with nogil:
        lk_parallel_run(lk_threads_for(n, job.blocks), bce_task, &job)
        for b in range(job.blocks):
            lk_kahan_add(&hi, &lo, job.totals[b])
    if job.totals != &stack_totals[0]:
        free(job.totals)
    result[0] = lk_kahan_total(hi, lo)
