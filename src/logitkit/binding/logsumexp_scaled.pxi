# The entry point of logsumexp with scale factors b= (csrc/kernels/logsumexp_scaled-inl.h).

def logsumexp_scaled(const floating[:, ::1] x, const floating[:, ::1] b,
                     floating[::1] result, floating[::1] sign):
    """log|sum(b * exp(x))| and its sign, per row of C-contiguous (rows, n) arrays.
    Entries with b == 0 take no part (even where x is inf or NaN)."""
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1]
    if b.shape[0] != rows or b.shape[1] != n or result.shape[0] != rows or sign.shape[0] != rows:
        raise ValueError("internal error: shapes differ")
    if rows == 0:
        return
    cdef const floating *xp = &x[0, 0] if n > 0 else NULL
    cdef const floating *bp = &b[0, 0] if n > 0 else NULL
    with nogil:
        if floating is float:
            lk_f32.logsumexp_scaled_rows(xp, bp, rows, n, &result[0], &sign[0])
        else:
            lk_f64.logsumexp_scaled_rows(xp, bp, rows, n, &result[0], &sign[0])
