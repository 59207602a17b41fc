/*
 * Cross-entropy against class indices or class probabilities: the job a binding hands to C,
 * shared by the per-target row algorithms (kernels/cross_entropy_rows-inl.h) and the split of
 * the rows over the pool (cross_entropy.c).
 */
#ifndef LOGITKIT_CROSS_ENTROPY_H
#define LOGITKIT_CROSS_ENTROPY_H

#include <stddef.h>

#include "kernels.h"

struct lk_ce_job {
    const char *x;                      /* rows of n logits, xs bytes apart, each contiguous */
    ptrdiff_t xs, n, rows;
    const ptrdiff_t *index;             /* class indices; NULL for probability targets */
    ptrdiff_t ignore_index;
    const char *prob;                   /* probability rows, ts bytes apart (index NULL) */
    ptrdiff_t ts;
    const double *w;                    /* class weights, or NULL */
    double W, eps, s;                   /* sum of the weights, label smoothing, gradient scale */
    char *loss;                         /* rows per-row losses */
    char *grad;                         /* rows x n gradient, or NULL */
    int is_f32;
    int in_lanes;                       /* class indices, no smoothing, short contiguous rows */
    /* out: the sum of the per-row losses, hi + lo (added in row order: the same for any
     * number of threads) */
    double total_hi, total_lo;
};

/* The first row whose index is bad (outside [0, n) and not ignore_index), or -1; *denom is the
 * sum of the weights of the targets not ignored (their count without weights). */
ptrdiff_t lk_ce_check_targets(const ptrdiff_t *t, ptrdiff_t rows, ptrdiff_t n,
                              ptrdiff_t ignore_index, const double *w, double *denom);

/* Every row's loss (and gradient) on the pool, then their sum into total_hi + total_lo. */
void lk_run_cross_entropy(lk_ce_job *job);

#endif
