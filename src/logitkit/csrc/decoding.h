/*
 * top_k and sample: the job a binding hands to C, shared by the per-target row algorithms
 * (kernels/top_k-inl.h, kernels/sample-inl.h) and the selection helpers (selection.h).
 *
 * The logits are C-contiguous rows of n classes (the Python layer moves the class axis last).
 * Each row is computed by one thread, start to end, so results never depend on the number of
 * threads.
 */
#ifndef LOGITKIT_DECODING_H
#define LOGITKIT_DECODING_H

#include <stddef.h>
#include <stdint.h>

/* a class as the selection sees it: its key (the order of its value, selection.h), its index
 * and, for sample, exp((x - max) / temperature) */
typedef struct {
    int64_t key;
    int64_t idx;
    double e;
} lk_item;

/* what a row of sample can hold that leaves nothing to draw (status[row]) */
enum { LK_ROW_OK = 0, LK_ROW_NAN = 1, LK_ROW_POS_INF = 2, LK_ROW_ALL_NEG_INF = 3,
       LK_ROW_NO_MEMORY = 4 };

typedef struct lk_select_job lk_select_job;
struct lk_select_job {
    const char *x;                      /* rows of n logits, xs bytes apart */
    ptrdiff_t xs, rows, n;
    /* top_k: the k first of each row into values / indices (rows x k); sorted or not */
    ptrdiff_t k;
    int sorted;
    char *values;
    int64_t *indices;
    /* sample: size draws per row from uniforms (rows x size, in [0, 1)) into draws */
    double temperature;                 /* 0: the first maximum */
    ptrdiff_t top_k;                    /* 0: no top-k */
    double top_p;                       /* 1: no top-p */
    double min_p;                       /* 0: no min-p */
    const double *uniforms;
    ptrdiff_t size;
    int64_t *draws;
    int8_t *status;                     /* per row: LK_ROW_* */
    int is_f32;
};

#endif
