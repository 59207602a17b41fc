/*
 * AVX2 + FMA (Haswell, Zen 1 and later) through target attributes, never -march: 8 float or 4
 * double lanes. Undone by isa_end.h.
 */
#define LK_FUSED 1                      /* LK_FMA is a true fused multiply-add */
#define LK_TARGET __attribute__((target("avx2,fma")))
#define LK_FMA(a, b, c) ((lk_vd)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#define LK_FMA_EXACT(a, b, c) LK_FMA(a, b, c)
#define LK_FMAF(a, b, c) ((lk_vf8)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(c)))
#define LK_FMAF_EXACT(a, b, c) LK_FMAF(a, b, c)
/* GCC 12 splits the generic conversions into 2-lane pieces through memory: spell them out */
#define LK_WIDEN_F8(v, lo, hi)                                                                 \
    do {                                                                                       \
        __m256 w8_ = (__m256)(v);                                                              \
        (lo) = (lk_vd)_mm256_cvtps_pd(_mm256_castps256_ps128(w8_));                            \
        (hi) = (lk_vd)_mm256_cvtps_pd(_mm256_extractf128_ps(w8_, 1));                          \
    } while (0)
#define LK_LOAD_WIDEN_F8(p, lo, hi)                                                            \
    do {                                                                                       \
        (lo) = (lk_vd)_mm256_cvtps_pd(_mm_loadu_ps(p));                                        \
        (hi) = (lk_vd)_mm256_cvtps_pd(_mm_loadu_ps((p) + 4));                                  \
    } while (0)
/* max(lo, a), NaN in a kept (maxps returns its second operand when either is NaN) */
/* 4 floats <-> 4 doubles (the double-lane passes over float data) */
#define LK_F4_TO_D(f) ((lk_vd)_mm256_cvtps_pd((__m128)(f)))
#define LK_D_TO_F4(v) ((lk_vf)_mm256_cvtpd_ps((__m256d)(v)))
#define LK_MAXF(lo, a) ((lk_vf8)_mm256_max_ps((__m256)(lo), (__m256)(a)))
#define LK_MAXD(lo, a) ((lk_vd)_mm256_max_pd((__m256d)(lo), (__m256d)(a)))
/* min(hi, a), NaN in a kept (minps, likewise) */
#define LK_MINF(hi, a) ((lk_vf8)_mm256_min_ps((__m256)(hi), (__m256)(a)))
#define LK_MIND(hi, a) ((lk_vd)_mm256_min_pd((__m256d)(hi), (__m256d)(a)))
#define LK_MIN_ABSF(lo, a) LK_MINF((lo), lk_absf(a))
#define LK_MAX_ABSF(hi, a) LK_MAXF((hi), lk_absf(a))
/* w <= LK_WF floats, lanes past w read as pad */
#define LK_ANY(m) (!_mm256_testz_si256((__m256i)(m), (__m256i)(m)))
#define LK_ANYF(m) LK_ANY(m)
#define LK_BITSF(m) ((unsigned)_mm256_movemask_ps((__m256)(m)))
#define LK_LESSF_BITS(a, b) LK_BITSF(LK_MASKF((a) < (b)))
#define LK_LOADF(p, w, pad) lk_loadf_avx2((p), (w), (pad))
#define LK_STOREF(p, v, w) lk_storef((p), (v), (w))
#define LK_TO_ALIGNF(p) ((ptrdiff_t)0)          /* no aligning step (measured on AVX-512 only) */
#define LK_LANES_SUMF(v) lk_lanes_sumf(v)
#define LK_LANES_SUMD(v) lk_lanes_sum(v)
#define LK_LANES_MINF(v) lk_lanes_minf(v)
#define LK_LANES_MAXF(v) lk_lanes_maxf(v)
#define LK_ROWS_TO_LANESF lk_rows_to_lanes_avx2
#define LK_LANES_TO_ROWSF lk_lanes_to_rows_avx2
#define LK_ROWS_TO_LANESD lk_rows_to_lanesd_avx2
#define LK_LANES_TO_ROWSD lk_lanes_to_rowsd_avx2
#define LK_NARROW_D(lo, hi)                                                                    \
    ((lk_vf8)_mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps((__m256d)(lo))),      \
                                  _mm256_cvtpd_ps((__m256d)(hi)), 1))
