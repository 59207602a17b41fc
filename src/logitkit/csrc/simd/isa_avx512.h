/*
 * AVX-512 F/DQ/VL/BW (Skylake-X, Zen 4 and later): 16 float or 8 double lanes, in a unit whose
 * vectors are 64 bytes (LK_VECTOR_BYTES 64). Functions carry target attributes, never -march;
 * dispatch.c runs them only where the CPU has these features. Undone by isa_end.h.
 */
#define LK_FUSED 1                      /* LK_FMA is a true fused multiply-add */
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
