
# ---------------------------------------------------------------- nll_loss
#
# The per-sample losses -w lp of the gathered log-probabilities, and the sums of the losses
# and of the weights as double-doubles (csrc/kernels/nll-inl.h). One thread: the sums' order
# is fixed, and the work is one pass over two vectors.

def nll_terms(const floating[::1] lp, const double[::1] w, floating[::1] loss,
              double[::1] sums):
    """loss = -w * lp (rounded once); sums = (loss hi, loss lo, weight hi, weight lo)."""
    cdef Py_ssize_t n = lp.shape[0]
    if w.shape[0] != n or loss.shape[0] != n or sums.shape[0] != 4:
        raise ValueError("internal error: nll_terms got arrays of the wrong lengths")
    if n == 0:
        sums[0] = sums[1] = sums[2] = sums[3] = 0.0
        return
    if n <= SMALL_CALL:
        if floating is float:
            lk_f32.nll_terms(&lp[0], &w[0], &loss[0], n, &sums[0])
        else:
            lk_f64.nll_terms(&lp[0], &w[0], &loss[0], n, &sums[0])
        return
    with nogil:
        if floating is float:
            lk_f32.nll_terms(&lp[0], &w[0], &loss[0], n, &sums[0])
        else:
            lk_f64.nll_terms(&lp[0], &w[0], &loss[0], n, &sums[0])
