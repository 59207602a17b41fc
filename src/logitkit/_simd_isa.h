/*
 * The per-instruction-set macros that _simd_body.h (and _losses_simd_body.h) are written in.
 * Include with LK_BODY_AVX2 defined as 0 (portable baseline: plain C on GCC vector extensions)
 * or 1 (AVX2 + FMA through target attributes, chosen at run time, never -march), or with
 * LK_BODY_AVX512 defined as 1 in a unit whose vectors are 64 bytes (_simd_avx512.c); include
 * _simd_isa_end.h after the bodies to undefine them again.
 */
#ifndef LK_BODY_AVX2
#define LK_BODY_AVX2 0
#endif
#ifndef LK_BODY_AVX512
#define LK_BODY_AVX512 0
#endif
#if LK_BODY_AVX512
/* AVX-512 F/DQ/VL/BW (Skylake-X, Zen 4 and later): 16 float or 8 double lanes */
#define LK_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")))
#define LK_FMA(a, b, c) ((lk_vd)_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
#define LK_FMA_EXACT(a, b, c) LK_FMA(a, b, c)
#define LK_FMAF(a, b, c) ((lk_vf8)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(c)))
#define LK_FMAF_EXACT(a, b, c) LK_FMAF(a, b, c)
#define LK_WIDEN_F8(v, lo, hi)                                                                 \
    do {                                                                                       \
        __m512 w16_ = (__m512)(v);                                                             \
        (lo) = (lk_vd)_mm512_cvtps_pd(_mm512_castps512_ps256(w16_));                           \
        (hi) = (lk_vd)_mm512_cvtps_pd(_mm512_extractf32x8_ps(w16_, 1));                        \
    } while (0)
/* LK_WF floats at p widened, each half converted from memory (no shuffle for the top half) */
#define LK_LOAD_WIDEN_F8(p, lo, hi)                                                            \
    do {                                                                                       \
        (lo) = (lk_vd)_mm512_cvtps_pd(_mm256_loadu_ps(p));                                     \
        (hi) = (lk_vd)_mm512_cvtps_pd(_mm256_loadu_ps((p) + 8));                               \
    } while (0)
#define LK_F4_TO_D(f) ((lk_vd)_mm512_cvtps_pd((__m256)(f)))
#define LK_D_TO_F4(v) ((lk_vf)_mm512_cvtpd_ps((__m512d)(v)))
#define LK_MAXF(lo, a) ((lk_vf8)_mm512_max_ps((__m512)(lo), (__m512)(a)))
#define LK_MAXD(lo, a) ((lk_vd)_mm512_max_pd((__m512d)(lo), (__m512d)(a)))
#define LK_MINF(hi, a) ((lk_vf8)_mm512_min_ps((__m512)(hi), (__m512)(a)))
#define LK_MIND(hi, a) ((lk_vd)_mm512_min_pd((__m512d)(hi), (__m512d)(a)))
/* min(lo, |a|) and max(hi, |a|) for lo, hi >= 0 and a not NaN, one vrangeps each (abs taken
 * inside) */
#define LK_MIN_ABSF(lo, a) ((lk_vf8)_mm512_range_ps((__m512)(lo), (__m512)(a), 0x0A))
#define LK_MAX_ABSF(hi, a) ((lk_vf8)_mm512_range_ps((__m512)(hi), (__m512)(a), 0x0B))
/* partial vectors: masked loads (lanes past w never read) */
#define LK_LOADF(p, w, pad)                                                                    \
    ((lk_vf8)_mm512_mask_loadu_ps(_mm512_set1_ps(pad), (__mmask16)((1u << (w)) - 1u), (p)))
#define LK_STOREF(p, v, w) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (w)) - 1u), (__m512)(v))
/* floats before p's next 64-byte boundary: a 64-byte vector across two cache lines costs
 * about twice (numpy's data starts 16 bytes past one; rows of 1000 floats alternate) */
#define LK_TO_ALIGNF(p) ((ptrdiff_t)((0u - (unsigned)(uintptr_t)(p)) % 64u) / 4)
/* a vector's lanes added (a tree: depth 4 for floats, 3 for doubles) or their least or greatest
 * (not NaN), in registers where the portable trees go through memory */
#define LK_LANES_SUMF(v) _mm512_reduce_add_ps((__m512)(v))
#define LK_LANES_SUMD(v) _mm512_reduce_add_pd((__m512d)(v))
#define LK_LANES_MINF(v) _mm512_reduce_min_ps((__m512)(v))
#define LK_LANES_MAXF(v) _mm512_reduce_max_ps((__m512)(v))
/* some lane of a double-lane mask is set (one test, no trip through memory) */
#define LK_ANY(m) (_mm512_test_epi64_mask((__m512i)(m), (__m512i)(m)) != 0)
#define LK_ANYF(m) (_mm512_test_epi32_mask((__m512i)(m), (__m512i)(m)) != 0)
/* a float mask's lanes as the low bits of an unsigned */
#define LK_BITSF(m) ((unsigned)_mm512_movepi32_mask((__m512i)(m)))
/* the lanes where a < b, as LK_BITSF's bits (straight from the compare's mask register) */
#define LK_LESSF_BITS(a, b) ((unsigned)_mm512_cmp_ps_mask((__m512)(a), (__m512)(b), _CMP_LT_OQ))
#define LK_ROWS_TO_LANESF lk_rows_to_lanes_avx512
#define LK_LANES_TO_ROWSF lk_lanes_to_rows_avx512
#define LK_ROWS_TO_LANESD lk_rows_to_lanesd_avx512
#define LK_LANES_TO_ROWSD lk_lanes_to_rowsd_avx512
#define LK_NARROW_D(lo, hi)                                                                    \
    ((lk_vf8)_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps((__m512d)(lo))),        \
                                _mm512_cvtpd_ps((__m512d)(hi)), 1))
#elif LK_BODY_AVX2
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
#else
#define LK_TARGET
#define LK_FMA(a, b, c) ((a) * (b) + (c))
#define LK_FMA_EXACT(a, b, c) lk_fma_cancelling((a), (b), (c))
#define LK_FMAF(a, b, c) ((a) * (b) + (c))
#define LK_FMAF_EXACT(a, b, c) lk_fmaf_via_double((a), (b), (c))
#define LK_WIDEN_F8(v, lo, hi) lk_f8_to_d((v), &(lo), &(hi))
#define LK_LOAD_WIDEN_F8(p, lo, hi) lk_f8_to_d(lk_loadf((p), LK_WF, 0.0f), &(lo), &(hi))
#define LK_NARROW_D(lo, hi) lk_d_to_f8((lo), (hi))
#define LK_F4_TO_D(f) LK_F2D(f)
#define LK_D_TO_F4(v) LK_D2F(v)
#define LK_MAXF(lo, a) lk_selectf(LK_MASKF((a) < (lo)), (lo), (a))
#define LK_MAXD(lo, a) lk_select(LK_MASK((a) < (lo)), (lo), (a))
#define LK_MINF(hi, a) lk_selectf(LK_MASKF((hi) < (a)), (hi), (a))
#define LK_MIND(hi, a) lk_select(LK_MASK((hi) < (a)), (hi), (a))
#define LK_MIN_ABSF(lo, a) LK_MINF((lo), lk_absf(a))
#define LK_MAX_ABSF(hi, a) LK_MAXF((hi), lk_absf(a))
#define LK_ANY(m) lk_any((m))
#define LK_ANYF(m) lk_anyf((m))
#define LK_BITSF(m) lk_bitsf_of((m))
#define LK_LESSF_BITS(a, b) LK_BITSF(LK_MASKF((a) < (b)))
#define LK_LOADF(p, w, pad) lk_loadf((p), (w), (pad))
#define LK_STOREF(p, v, w) lk_storef((p), (v), (w))
#define LK_TO_ALIGNF(p) ((ptrdiff_t)0)
#define LK_LANES_SUMF(v) lk_lanes_sumf(v)
#define LK_LANES_SUMD(v) lk_lanes_sum(v)
#define LK_LANES_MINF(v) lk_lanes_minf(v)
#define LK_LANES_MAXF(v) lk_lanes_maxf(v)
#define LK_ROWS_TO_LANESF lk_rows_to_lanesf
#define LK_LANES_TO_ROWSF lk_lanes_to_rowsf
#define LK_ROWS_TO_LANESD lk_rows_to_lanesd
#define LK_LANES_TO_ROWSD lk_lanes_to_rowsd
#endif
