/*
 * Selection for top_k and sample: the order of the classes, and the partial selection and
 * sorting of candidate classes. Scalar code shared by every instruction set (the vector part,
 * the threshold filter over a row, is in kernels/top_k-inl.h).
 *
 * The order is torch.topk's: larger values first, NaN above everything (several NaNs by
 * index), -0.0 equal to 0.0, ties broken by the lower index. A value becomes an int64 key
 * with the same order (lk_key_f32, lk_key_f64), so that an item (key, index) compares with two
 * integer tests and no NaN or signed-zero cases.
 */
#ifndef LOGITKIT_SELECTION_H
#define LOGITKIT_SELECTION_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "decoding.h"

/* x as a key of the same order: NaN the largest, -0.0 as 0.0, negatives below positives */
static inline int64_t lk_key_f64(double x)
{
    if (x != x) return INT64_MAX;
    if (x == 0.0) return 0;
    int64_t b;
    memcpy(&b, &x, sizeof b);
    return b >= 0 ? b : b ^ INT64_MAX;          /* negatives: larger magnitude, smaller key */
}

static inline int64_t lk_key_f32(float x)
{
    if (x != x) return INT64_MAX;
    if (x == 0.0f) return 0;
    int32_t b;
    memcpy(&b, &x, sizeof b);
    return b >= 0 ? (int64_t)b : (int64_t)(b ^ INT32_MAX);
}

/* a comes first: a larger key, or the same key at a lower index (arguments read twice) */
#define LK_RANKS_FIRST(a, b) ((a).key > (b).key || ((a).key == (b).key && (a).idx < (b).idx))
/* a comes first in index order */
#define LK_INDEX_FIRST(a, b) ((a).idx < (b).idx)

/* An introsort over lk_items by BEFORE: quicksort with a median-of-three pivot, insertion sort
 * for short ranges and heapsort past a depth bound, so that no input takes quadratic time. */
#define LK_DEFINE_ITEM_SORT(NAME, BEFORE)                                                      \
    static void NAME##_insertion(lk_item *a, ptrdiff_t m)                                      \
    {                                                                                          \
        for (ptrdiff_t i = 1; i < m; i++) {                                                    \
            lk_item v = a[i];                                                                  \
            ptrdiff_t j = i;                                                                   \
            for (; j > 0 && BEFORE(v, a[j - 1]); j--) a[j] = a[j - 1];                         \
            a[j] = v;                                                                          \
        }                                                                                      \
    }                                                                                          \
    static void NAME##_sift(lk_item *a, ptrdiff_t root, ptrdiff_t m)                           \
    {                                                                                          \
        lk_item v = a[root];                                                                   \
        for (ptrdiff_t child; (child = 2 * root + 1) < m; root = child) {                      \
            if (child + 1 < m && BEFORE(a[child], a[child + 1])) child++;                      \
            if (!BEFORE(v, a[child])) break;                                                   \
            a[root] = a[child];                                                                \
        }                                                                                      \
        a[root] = v;                                                                           \
    }                                                                                          \
    static void NAME##_heapsort(lk_item *a, ptrdiff_t m)                                       \
    {                                                                                          \
        for (ptrdiff_t i = m / 2 - 1; i >= 0; i--) NAME##_sift(a, i, m);                      \
        for (ptrdiff_t end = m - 1; end > 0; end--) {                                          \
            lk_item t = a[0];                                                                  \
            a[0] = a[end];                                                                     \
            a[end] = t;                                                                        \
            NAME##_sift(a, 0, end);                                                            \
        }                                                                                      \
    }                                                                                          \
    /* a[lo..hi] partitioned around a median-of-three pivot; returns the pivot's place */      \
    static ptrdiff_t NAME##_partition(lk_item *a, ptrdiff_t lo, ptrdiff_t hi)                  \
    {                                                                                          \
        ptrdiff_t mid = lo + (hi - lo) / 2;                                                    \
        lk_item t;                                                                             \
        if (BEFORE(a[mid], a[lo])) { t = a[mid]; a[mid] = a[lo]; a[lo] = t; }                  \
        if (BEFORE(a[hi], a[lo])) { t = a[hi]; a[hi] = a[lo]; a[lo] = t; }                     \
        if (BEFORE(a[hi], a[mid])) { t = a[hi]; a[hi] = a[mid]; a[mid] = t; }                  \
        t = a[mid]; a[mid] = a[hi - 1]; a[hi - 1] = t;                                         \
        lk_item pivot = a[hi - 1];                                                             \
        ptrdiff_t i = lo, j = hi - 1;                                                          \
        for (;;) {                                                                             \
            do i++; while (BEFORE(a[i], pivot));                                               \
            do j--; while (BEFORE(pivot, a[j]));                                               \
            if (i >= j) break;                                                                 \
            t = a[i]; a[i] = a[j]; a[j] = t;                                                   \
        }                                                                                      \
        t = a[i]; a[i] = a[hi - 1]; a[hi - 1] = t;                                             \
        return i;                                                                              \
    }                                                                                          \
    static void NAME(lk_item *a, ptrdiff_t m)                                                  \
    {                                                                                          \
        ptrdiff_t lo = 0, hi = m - 1, depth = 0, limit = 2, stack[3 * 64];                    \
        int top = 0;                                                                           \
        for (ptrdiff_t s = m; s > 1; s >>= 1) limit += 2;                                      \
        for (;;) {                                                                             \
            if (hi - lo < 16) {                                                                \
                if (hi > lo) NAME##_insertion(a + lo, hi - lo + 1);                            \
            } else if (depth > limit) {                                                        \
                NAME##_heapsort(a + lo, hi - lo + 1);                                          \
            } else {                                                                           \
                ptrdiff_t p = NAME##_partition(a, lo, hi);                                     \
                depth++;                                                                       \
                /* the larger side waits on the stack, the smaller goes on: log m entries */   \
                if (p - lo > hi - p) {                                                         \
                    stack[top++] = lo; stack[top++] = p - 1; stack[top++] = depth;             \
                    lo = p + 1;                                                                \
                } else {                                                                       \
                    stack[top++] = p + 1; stack[top++] = hi; stack[top++] = depth;             \
                    hi = p - 1;                                                                \
                }                                                                              \
                continue;                                                                      \
            }                                                                                  \
            if (top == 0) return;                                                              \
            depth = stack[--top];                                                              \
            hi = stack[--top];                                                                 \
            lo = stack[--top];                                                                 \
        }                                                                                      \
    }

LK_DEFINE_ITEM_SORT(lk_sort_ranked, LK_RANKS_FIRST)
LK_DEFINE_ITEM_SORT(lk_sort_by_index, LK_INDEX_FIRST)

/* Reorders a[0..m) so that a[0..k) are its first k in rank order (in no particular order
 * among themselves) and, for k < m, a[k - 1] is the k-th: quickselect on the partition above,
 * finishing with a sort of what is left once the range is short or past the depth bound. */
static void lk_select_ranked(lk_item *a, ptrdiff_t m, ptrdiff_t k)
{
    ptrdiff_t lo = 0, hi = m - 1;
    int depth = 0, limit = 2;
    if (k <= 0 || k >= m) return;
    for (ptrdiff_t s = m; s > 1; s >>= 1) limit += 2;
    while (hi - lo >= 16 && depth++ <= limit) {
        ptrdiff_t p = lk_sort_ranked_partition(a, lo, hi);
        if (p == k - 1) return;
        if (p < k - 1) lo = p + 1;
        else hi = p - 1;
    }
    lk_sort_ranked(a + lo, hi - lo + 1);
}

#endif
