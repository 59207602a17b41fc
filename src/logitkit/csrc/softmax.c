/*
 * softmax, log_softmax and logsumexp of a whole call: the split over the thread pool. Whole
 * rows or column blocks go to each thread when there are enough of them; otherwise every
 * thread takes a part of every (long) row, and the team combines the parts (reduce_row_part in
 * kernels/softmax-inl.h). Small calls stay on the calling thread (lk_threads_for).
 */
#include "softmax.h"

static void reduce_task(void *ctx, int tid, int nthreads, lk_team *team)
{
    lk_reduce_job *job = ctx;
    ptrdiff_t units = job->outer * job->blocks, first, stop;
    if (nthreads == 1 || units >= nthreads || job->inner > 1) {
        lk_split(units, tid, nthreads, 1, &first, &stop);
        if (job->is_f32)
            lk_f32.reduce_units(job, first, stop);
        else
            lk_f64.reduce_units(job, first, stop);
        return;
    }
    for (ptrdiff_t o = 0; o < job->outer; o++) {
        if (job->is_f32)
            lk_f32.reduce_row_part(job, o, tid, nthreads, team);
        else
            lk_f64.reduce_row_part(job, o, tid, nthreads, team);
    }
}

void lk_run_reduction(lk_reduce_job *job)
{
    job->blocks = job->inner == 1 ? 1 : (job->inner + LK_COLUMN_BLOCK - 1) / LK_COLUMN_BLOCK;
    ptrdiff_t units = job->outer * job->blocks;
    if (job->inner == 1 && job->outer < LK_MAX_THREADS) units = LK_MAX_THREADS;  /* long rows split */
    int nthreads = lk_threads_for(job->outer * job->n * job->inner, units);
    lk_parallel_run(nthreads, reduce_task, job);
}
