/*
 * softmax, log_softmax and logsumexp over one axis: the job a binding hands to C, and what the
 * per-target algorithm (kernels/softmax-inl.h) and the thread split (softmax.c) share.
 *
 * The input is viewed as (outer, n, inner) and reduced over n. Either inner == 1 and each row
 * is contiguous ("rows"), or inner > 1 and the inner axis is contiguous ("columns": a reduction
 * over a non-last axis, vectorised across columns, no transposed copy). The outer and n strides
 * are arbitrary, so a whole call is one trip into C whatever the axis.
 */
#ifndef LOGITKIT_SOFTMAX_H
#define LOGITKIT_SOFTMAX_H

#include <math.h>
#include <stddef.h>

#include "kernels.h"
#include "parallel.h"

enum {
    /* rows up to this size run two at a time (reduce_row_pair): both rows' input and output
     * stay in L1/L2 while the passes alternate between them */
    LK_PAIRED_ROW_BYTES = 1 << 12,
    /* columns handled per block by the non-last-axis kernels (state arrays of this many
     * doubles) */
    LK_COLUMN_BLOCK = 512,
    /* threads one call may use (its arrays of partial results are this long) */
    LK_MAX_THREADS = 256,
};

struct lk_reduce_job {
    /* x viewed as (outer, n, inner); strides in bytes, the result's (logsumexp) in elements */
    const char *x;
    ptrdiff_t xs0, xs1;
    char *out;                          /* softmax / log_softmax, else NULL */
    ptrdiff_t os0, os1;
    char *result;                       /* logsumexp: result[outer, inner], else NULL */
    ptrdiff_t rs0, rs1;
    ptrdiff_t outer, n, inner, blocks;
    int op;                             /* LK_OP_SOFTMAX, LK_OP_LOG_SOFTMAX, LK_OP_LOGSUMEXP */
    int masked;                         /* -inf entries are left out (where=) */
    int is_f32;
    /* a few long rows, each split across the threads: their per-thread partial results */
    double part_max[LK_MAX_THREADS];
    double part_min[LK_MAX_THREADS];
    int part_nan[LK_MAX_THREADS];
    lk_sum part_sum[LK_MAX_THREADS];
};

/* Runs the job on as many threads as its size deserves (the caller's included). */
void lk_run_reduction(lk_reduce_job *job);

/* Whether a slice with max m is not finite, and then the value every output entry takes (for
 * logsumexp: the result itself). A slice of all -inf is fully masked under where=. */
static inline int lk_special_slice(double m, int has_nan, int op, int masked, double *value)
{
    if (has_nan)
        *value = NAN;
    else if (m == INFINITY)
        *value = op == LK_OP_LOGSUMEXP ? INFINITY : NAN;
    else if (m == -INFINITY) {
        if (op == LK_OP_LOGSUMEXP)
            *value = -INFINITY;
        else if (masked)
            *value = op == LK_OP_SOFTMAX ? 0.0 : -INFINITY;
        else
            *value = NAN;
    } else
        return 0;
    return 1;
}

#endif
