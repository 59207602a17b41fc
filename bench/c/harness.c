/*
 * Micro-benchmark of the vector loops, calling the function tables directly (no Python), to
 * iterate on _simd_body.h quickly. Build and run from the repository root:
 *   gcc -O3 -fno-trapping-math -ffp-contract=off -fno-math-errno -std=c11 -Wno-psabi \
 *       -Isrc/logitkit bench/c/harness.c -lm -o /tmp/lk_harness && /tmp/lk_harness
 * Prints ns per element for each pass, per instruction set, on 1024 rows of 1000 and 10^6
 * elementwise (the shapes of the contract's speed bars).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "../../src/logitkit/_simd.c"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define ROWS 1024
#define COLS 1000
#define N (ROWS * COLS)

/* best of several runs of `body` over N elements, in ns per element */
#define TIME(label, body)                                                                     \
    do {                                                                                      \
        double best = 1e30;                                                                   \
        for (int rep = 0; rep < 15; rep++) {                                                  \
            double t0 = now();                                                                \
            body;                                                                             \
            double t = now() - t0;                                                            \
            best = t < best ? t : best;                                                       \
        }                                                                                     \
        printf("  %-28s %6.3f ns/el  %7.0f us\n", label, best * 1e9 / N, best * 1e6);         \
    } while (0)

#define RUN_TYPE(T, TABLE)                                                                    \
    do {                                                                                      \
        T *x = malloc(N * sizeof(T)), *out = malloc(N * sizeof(T));                           \
        double *buf = malloc(N * sizeof(double));                                             \
        srand(1);                                                                             \
        for (int i = 0; i < N; i++) x[i] = (T)(3.0 * ((rand() / (double)RAND_MAX) * 2 - 1) * 1.7); \
        double ms[ROWS];                                                                      \
        int nan;                                                                              \
        lk_sum acc;                                                                           \
        printf(" %s\n", #T);                                                                  \
        TIME("row_max", for (int r = 0; r < ROWS; r++) TABLE.row_max(x + r * COLS, COLS, &ms[r], &nan)); \
        TIME("exp_store", for (int r = 0; r < ROWS; r++) TABLE.exp_store(x + r * COLS, out + r * COLS, COLS, ms[r], &acc)); \
        TIME("exp_sum", for (int r = 0; r < ROWS; r++) TABLE.exp_sum(x + r * COLS, COLS, ms[r], &acc)); \
        TIME("scale", for (int r = 0; r < ROWS; r++) TABLE.scale(out + r * COLS, COLS, 0.01, 1e-19)); \
        TIME("shift_log", for (int r = 0; r < ROWS; r++) TABLE.shift_log(x + r * COLS, out + r * COLS, COLS, ms[r], 6.0)); \
        TIME("softmax (3 passes)", for (int r = 0; r < ROWS; r++) {                          \
            acc.hi = acc.lo = acc.top = 0;                                                    \
            TABLE.row_max(x + r * COLS, COLS, &ms[r], &nan);                                  \
            TABLE.exp_store(x + r * COLS, out + r * COLS, COLS, ms[r], &acc);                 \
            TABLE.scale(out + r * COLS, COLS, 1.0 / (acc.hi + acc.top), 0.0); });            \
        TIME("sigmoid 1e6", TABLE.sigmoid(x, out, N));                                        \
        TIME("sigmoid_derivative 1e6", TABLE.sigmoid_derivative(x, out, N));                  \
        TIME("exp_neg_abs_array 1e6", TABLE.exp_neg_abs_array(x, buf, N));                    \
        TIME("softplus 1e6", TABLE.softplus(x, out, N));                                      \
        TIME("log_sigmoid 1e6", TABLE.log_sigmoid(x, out, N));                                \
        free(x); free(out); free(buf);                                                        \
    } while (0)


int main(void)
{
    for (int isa = 0; isa < LK_ISA_COUNT; isa++) {
        if (lk_select_isa(isa) != 0) continue;
        printf("%s\n", lk_isa_name(isa));
        RUN_TYPE(float, lk_f32);
        RUN_TYPE(double, lk_f64);
    }
    return 0;
}
