/*
 * Cross-entropy of a whole call: the targets checked before any logit is read (an index out of
 * range raises, it is never used as an offset), the rows shared out among the pool's threads,
 * and the per-row losses added up in row order afterwards, so that the total does not depend
 * on the number of threads.
 */
#include "cross_entropy.h"
#include "double_double.h"
#include "parallel.h"

ptrdiff_t lk_ce_check_targets(const ptrdiff_t *t, ptrdiff_t rows, ptrdiff_t n,
                              ptrdiff_t ignore_index, const double *w, double *denom)
{
    ptrdiff_t count = 0;
    double hi = 0.0, lo = 0.0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        ptrdiff_t y = t[r];
        if (y == ignore_index) continue;
        if (y < 0 || y >= n) return r;
        if (w != NULL)
            lk_kahan_add(&hi, &lo, w[y]);
        else
            count += 1;
    }
    *denom = w != NULL ? hi + lo : (double)count;
    return -1;
}

/* Thread tid's contiguous share of the rows (whole blocks of the lanes kernel for short rows) */
static void cross_entropy_task(void *ctx, int tid, int nthreads, lk_team *team)
{
    const lk_ce_job *job = ctx;
    ptrdiff_t lo, hi;
    (void)team;
    lk_split(job->rows, tid, nthreads, job->in_lanes ? LK_SHORT_ROWS : 1, &lo, &hi);
    if (lo >= hi) return;
    if (job->is_f32)
        lk_f32.cross_entropy_rows(job, lo, hi);
    else
        lk_f64.cross_entropy_rows(job, lo, hi);
}

void lk_run_cross_entropy(lk_ce_job *job)
{
    double hi = 0.0, lo = 0.0;
    lk_parallel_run(lk_threads_for(job->rows * job->n, job->rows), cross_entropy_task, job);
    if (job->is_f32 && job->index != NULL) {    /* float losses: a double sum is exact enough */
        const float *loss = (const float *)job->loss;
        for (ptrdiff_t r = 0; r < job->rows; r++) hi += loss[r];
    } else if (job->is_f32) {
        const float *loss = (const float *)job->loss;
        for (ptrdiff_t r = 0; r < job->rows; r++) lk_kahan_add(&hi, &lo, loss[r]);
    } else {
        const double *loss = (const double *)job->loss;
        for (ptrdiff_t r = 0; r < job->rows; r++) lk_kahan_add(&hi, &lo, loss[r]);
    }
    job->total_hi = hi;
    job->total_lo = lo;
}
