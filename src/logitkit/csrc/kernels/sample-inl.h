/*
 * sample: draws of class indices from softmax(x / temperature) restricted by top-k, top-p and
 * min-p, in that order (as Hugging Face's logits warpers and vLLM apply them), by the inverse
 * CDF of uniforms drawn in Python (job->uniforms), so that the draws depend on the generator
 * alone, never on the thread count.
 *
 * Per row, e = exp((x - max) / temperature) in double (x - max exact for float32 data; the
 * normaliser a compensated double sum), then:
 *   top-k: top_k's selection (top_k-inl.h) keeps k classes; work from there on is over k.
 *   top-p: the kept set is the classes, in rank order, while the mass before them is below
 *     top_p * total: the smallest set of most likely classes whose mass reaches top_p (ties
 *     at the cut: the lower index first, as in rank order). Without top-k, a histogram of
 *     the terms finds the bucket where the cut falls, and only its classes are sorted.
 *   min-p: classes with e >= min_p (p >= min_p * p_max, the largest e being exactly 1).
 * The CDF runs over the kept classes in index order (the same draw for top_p=1 as without), a
 * prefix sum searched once per draw.
 */

/* exp(d) for d <= 0 (or -inf), one lane of the vector exp so that it agrees with the row pass */
static LK_TARGET double LK_FN(exp_nonpositive)(double d)
{
    lk_vd v = LK_FN(exp_dd)(lk_clamp_below(lk_splat(d), -1000.0), lk_splat(0.0));
    return lk_lane(v, 0);
}

/* e[i] = exp((x[i] - m) / t) for the whole row; returns their (compensated) sum */
static LK_TARGET double LK_FN(sample_exps)(const LK_T *x, ptrdiff_t n, double m, double t,
                                           double *e)
{
    lk_vd hi = lk_splat(0.0), lo = lk_splat(0.0), mv = lk_splat(m), tv = lk_splat(t);
    for (ptrdiff_t i = 0; i < n; i += LK_W) {
        ptrdiff_t w = n - i < LK_W ? n - i : LK_W;
        lk_vd d = LK_FN(load)(x + i, w, -INFINITY) - mv;
        if (t != 1.0) d = d / tv;
        lk_vd v = LK_FN(exp_dd)(lk_clamp_below(d, -1000.0), lk_splat(0.0)), err;
        lk_store_d(e + i, v, w);
        hi = lk_two_sum(hi, v, &err);
        lo += err;
    }
    double s_hi = 0.0, s_lo = 0.0;
    for (int j = 0; j < LK_W; j++) {
        lk_kahan_add(&s_hi, &s_lo, lk_lane(hi, j));
        lk_kahan_add(&s_hi, &s_lo, lk_lane(lo, j));
    }
    return s_hi + s_lo;
}

/* Which bucket of top_p's histogram a term e in [0, 1] falls in: its binary exponent and two
 * leading mantissa bits, so that a bucket spans a factor of 2^(1/4) */
#define LK_TOP_P_BUCKETS 4096
static inline int LK_FN(top_p_bucket)(double e)
{
    uint64_t bits;
    memcpy(&bits, &e, sizeof bits);
    return (int)(bits >> 50);
}

/* top-p over a full row's terms e (sum s): zeroes the terms of the classes outside the kept
 * set. A histogram of the terms' mass finds the bucket where the mass reaches top_p * s:
 * every class above it is kept, and only that bucket's classes are sorted to find the cut
 * (the next bucket down too, should rounding leave the mass short). a holds n items. */
static LK_TARGET void LK_FN(top_p_of_row)(const LK_T *x, ptrdiff_t n, double *e, double s,
                                           double top_p, lk_item *a)
{
    double mass[LK_TOP_P_BUCKETS] = {0.0};
    for (ptrdiff_t i = 0; i < n; i++) mass[LK_FN(top_p_bucket)(e[i])] += e[i];
    double goal = top_p * s, held = 0.0;
    int b = LK_TOP_P_BUCKETS - 1;
    for (; b > 0; b--) {
        held += mass[b];
        if (held >= goal) break;
    }
    /* the mass above bucket b, compensated, and b's classes in rank order */
    double d_hi = 0.0, d_lo = 0.0;
    ptrdiff_t c = 0, j = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        int bucket = LK_FN(top_p_bucket)(e[i]);
        if (bucket > b) lk_kahan_add(&d_hi, &d_lo, e[i]);
        else if (bucket == b) a[c++] = (lk_item){LK_KEY(x[i]), i, e[i]};
    }
    for (;;) {
        lk_sort_ranked(a, c);
        for (j = 0; j < c && d_hi + d_lo < goal; j++) lk_kahan_add(&d_hi, &d_lo, a[j].e);
        if (j < c || d_hi + d_lo >= goal || b == 0) break;
        b--;                                /* short by rounding: the next bucket down */
        c = 0;
        for (ptrdiff_t i = 0; i < n; i++)
            if (LK_FN(top_p_bucket)(e[i]) == b) a[c++] = (lk_item){LK_KEY(x[i]), i, e[i]};
    }
    /* kept: the buckets above b, and b's classes up to the last kept one, a[j - 1] */
    for (ptrdiff_t i = 0; i < n; i++) {
        int bucket = LK_FN(top_p_bucket)(e[i]);
        if (bucket > b) continue;
        lk_item it = {LK_KEY(x[i]), i, e[i]};
        if (bucket < b || j == 0 || LK_RANKS_FIRST(a[j - 1], it)) e[i] = 0.0;
    }
}

/* One row's draws, or why it has none (LK_ROW_*). e holds n doubles, a n items. */
static LK_TARGET int LK_FN(sample_row)(const lk_select_job *job, const LK_T *x,
                                       const double *u, int64_t *draws, double *e, lk_item *a)
{
    ptrdiff_t n = job->n, size = job->size, K = job->top_k, c = -1;
    double m, t = job->temperature;
    int nan;
    LK_FN(row_max)(x, n, &m, &nan);
    if (nan) return LK_ROW_NAN;
    if (m == INFINITY) return LK_ROW_POS_INF;
    if (m == -INFINITY) return LK_ROW_ALL_NEG_INF;
    if (t == 0.0) {
        ptrdiff_t first = 0;
        while ((double)x[first] != m) first++;
        for (ptrdiff_t d = 0; d < size; d++) draws[d] = first;
        return LK_ROW_OK;
    }
    if (K > 0 && K < n) {
        LK_FN(top_k_select)(x, n, K, a, LK_FN(top_k_capacity)(n, K));
        lk_sort_ranked(a, K);
        double s_hi = 0.0, s_lo = 0.0;
        for (ptrdiff_t j = 0; j < K; j++) {
            a[j].e = LK_FN(exp_nonpositive)(((double)x[a[j].idx] - m) / t);
            lk_kahan_add(&s_hi, &s_lo, a[j].e);
        }
        c = K;
        if (job->top_p < 1.0) {
            double goal = job->top_p * (s_hi + s_lo), d_hi = 0.0, d_lo = 0.0;
            ptrdiff_t j = 0;
            for (; j < c && d_hi + d_lo < goal; j++) lk_kahan_add(&d_hi, &d_lo, a[j].e);
            c = j;
        }
    } else {
        double s = LK_FN(sample_exps)(x, n, m, t, e);
        if (job->top_p < 1.0) LK_FN(top_p_of_row)(x, n, e, s, job->top_p, a);
    }
    if (job->min_p > 0.0) {
        if (c >= 0) {
            ptrdiff_t kept = 1;             /* the first class (e = 1) always stays */
            for (ptrdiff_t j = 1; j < c; j++)
                if (a[j].e >= job->min_p) a[kept++] = a[j];
            c = kept;
        } else {
            for (ptrdiff_t i = 0; i < n; i++)
                if (e[i] < job->min_p) e[i] = 0.0;
        }
    }
    /* the CDF over the kept classes in index order, in e[0..len) */
    ptrdiff_t len = n, last = -1;
    if (c >= 0) {
        lk_sort_by_index(a, c);
        for (ptrdiff_t j = 0; j < c; j++) e[j] = a[j].e;
        len = c;
    }
    double hi = 0.0, lo = 0.0;
    for (ptrdiff_t j = 0; j < len; j++) {
        if (e[j] > 0.0) last = j;
        lk_kahan_add(&hi, &lo, e[j]);
        e[j] = hi + lo;
    }
    double total = e[len - 1];
    for (ptrdiff_t d = 0; d < size; d++) {
        double target = u[d] * total;
        ptrdiff_t left = 0, right = len;    /* the first place whose prefix exceeds target */
        while (left < right) {
            ptrdiff_t mid = left + (right - left) / 2;
            if (e[mid] > target) right = mid;
            else left = mid + 1;
        }
        ptrdiff_t pos = left < len ? left : last;
        draws[d] = c >= 0 ? a[pos].idx : pos;
    }
    return LK_ROW_OK;
}

/* Rows [first, stop) of a sample job */
LK_TARGET void LK_FN(sample_rows)(const lk_select_job *job, ptrdiff_t first, ptrdiff_t stop)
{
    ptrdiff_t n = job->n;
    if (first >= stop) return;
    double *e = malloc((size_t)n * sizeof *e);
    lk_item *a = malloc((size_t)n * sizeof *a);
    for (ptrdiff_t r = first; r < stop; r++) {
        if (e == NULL || a == NULL) {
            job->status[r] = LK_ROW_NO_MEMORY;
            continue;
        }
        job->status[r] = (int8_t)LK_FN(sample_row)(job, (const LK_T *)(job->x + r * job->xs),
                                                   job->uniforms + r * job->size,
                                                   job->draws + r * job->size, e, a);
    }
    free(e);
    free(a);
}

#undef LK_KEY
#undef LK_TOP_P_BUCKETS
