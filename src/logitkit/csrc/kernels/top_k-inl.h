/*
 * top_k of each row: its k first classes in torch.topk's order (selection.h), found without
 * sorting the row.
 *
 * k up to 32: one pass with a heap of k whose root ranks last; the row is compared with the
 * root's value a few vectors at a time, and an element that passes replaces the root. Small k
 * (4k < n): one pass with a threshold filter. The first items fill a buffer of 2k + 64;
 * a quickselect keeps the k first and the k-th's value becomes the threshold. The rest of the
 * row is compared with the threshold a few vectors at a time, and only an element that may
 * rank before the k-th (greater, or NaN) is added, so on most rows the pass is a vector compare
 * per element; when the buffer fills, it is cut back to k and the threshold rises. A later
 * element equal to the threshold never enters: the k-th has the same value and a lower index.
 * Large k: the whole row is one buffer and one quickselect (introselect: a sort takes over past
 * a depth bound). Then the k are sorted when asked.
 */
#include <stdlib.h>

#include "selection.h"

#if LK_IS_F64
#define LK_KEY lk_key_f64
#else
#define LK_KEY lk_key_f32
#endif

/* How many items the selection of k of n holds at once (see above): small, so that the
 * threshold rises soon after each k + 64 elements have passed it */
static inline ptrdiff_t LK_FN(top_k_capacity)(ptrdiff_t n, ptrdiff_t k)
{
    return k >= n / 4 || 2 * k + 64 >= n ? n : 2 * k + 64;
}

/* The k first of x[0..n) (1 <= k <= n) into a[0..k), in no particular order, a[k - 1] the
 * k-th; a holds cap = top_k_capacity(n, k) items. */
static LK_TARGET void LK_FN(top_k_select)(const LK_T *x, ptrdiff_t n, ptrdiff_t k, lk_item *a,
                                          ptrdiff_t cap)
{
    ptrdiff_t fill = n < cap ? n : cap;
    for (ptrdiff_t i = 0; i < fill; i++) {
        a[i].key = LK_KEY(x[i]);
        a[i].idx = i;
    }
    lk_select_ranked(a, fill, k);
    if (fill == n) return;
    fill = k;
    double t = (double)x[a[k - 1].idx];
    lk_vd tv = lk_splat(t);
    ptrdiff_t i = cap;
    while (i < n) {
        if (t != t) return;                 /* k NaNs: nothing later ranks before them */
        ptrdiff_t end = i + 4 * LK_W;
        if (end <= n) {
            lk_vm below = LK_MASK(LK_FN(load)(x + i, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + LK_W, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + 2 * LK_W, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + 3 * LK_W, LK_W, 0.0) <= tv);
            if (!LK_ANY(~below)) {
                i = end;
                continue;
            }
        } else {
            end = n;
        }
        for (; i < end; i++) {
            LK_T v = x[i];
            if ((double)v <= t) continue;     /* NaN goes on */
            a[fill].key = LK_KEY(v);
            a[fill].idx = i;
            if (++fill == cap) {
                lk_select_ranked(a, fill, k);
                fill = k;
                t = (double)x[a[k - 1].idx];
                tv = lk_splat(t);
                if (t != t) return;
            }
        }
    }
    lk_select_ranked(a, fill, k);
}

/* The k first of x[0..n) (1 <= k <= LK_HEAP_K, k < n) into a[0..k) by a heap of k whose root
 * ranks last: the threshold is the root's value, fresh after every element that passes. */
#define LK_HEAP_K 32
static LK_TARGET void LK_FN(top_k_heap)(const LK_T *x, ptrdiff_t n, ptrdiff_t k, lk_item *a)
{
    for (ptrdiff_t i = 0; i < k; i++) {
        a[i].key = LK_KEY(x[i]);
        a[i].idx = i;
    }
    for (ptrdiff_t i = k / 2 - 1; i >= 0; i--) lk_sort_ranked_sift(a, i, k);
    double t = (double)x[a[0].idx];
    lk_vd tv = lk_splat(t);
    ptrdiff_t i = k;
    while (i < n) {
        if (t != t) return;                 /* k NaNs: nothing later ranks before them */
        ptrdiff_t end = i + 4 * LK_W;
        if (end <= n) {
            lk_vm below = LK_MASK(LK_FN(load)(x + i, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + LK_W, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + 2 * LK_W, LK_W, 0.0) <= tv)
                          & LK_MASK(LK_FN(load)(x + i + 3 * LK_W, LK_W, 0.0) <= tv);
            if (!LK_ANY(~below)) {
                i = end;
                continue;
            }
        } else {
            end = n;
        }
        for (; i < end; i++) {
            LK_T v = x[i];
            if ((double)v <= t) continue;     /* NaN goes on */
            a[0].key = LK_KEY(v);
            a[0].idx = i;
            lk_sort_ranked_sift(a, 0, k);
            t = (double)x[a[0].idx];
            if (t != t) return;
        }
        tv = lk_splat(t);
    }
}

/* Rows [first, stop) of a top_k job */
LK_TARGET void LK_FN(top_k_rows)(const lk_select_job *job, ptrdiff_t first, ptrdiff_t stop)
{
    ptrdiff_t n = job->n, k = job->k, cap = LK_FN(top_k_capacity)(n, k);
    if (first >= stop || k == 0) return;
    lk_item *a = malloc((size_t)cap * sizeof *a);
    if (a == NULL) {
        for (ptrdiff_t r = first; r < stop; r++) job->status[r] = LK_ROW_NO_MEMORY;
        return;
    }
    for (ptrdiff_t r = first; r < stop; r++) {
        const LK_T *x = (const LK_T *)(job->x + r * job->xs);
        if (k <= LK_HEAP_K && k < n)
            LK_FN(top_k_heap)(x, n, k, a);
        else
            LK_FN(top_k_select)(x, n, k, a, cap);
        if (job->sorted) lk_sort_ranked(a, k);
        LK_T *values = (LK_T *)job->values + r * k;
        int64_t *indices = job->indices + r * k;
        for (ptrdiff_t j = 0; j < k; j++) {
            indices[j] = a[j].idx;
            values[j] = x[a[j].idx];
        }
    }
    free(a);
}

#undef LK_HEAP_K
