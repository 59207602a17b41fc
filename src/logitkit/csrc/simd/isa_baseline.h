/*
 * The portable baseline: plain C on GCC/Clang vector extensions (SSE2 on x86-64, NEON on
 * aarch64), one lane where the compiler has none. FMA is written as a multiply and an add
 * (x86-64's baseline has no FMA), and the exact steps pay for Dekker splitting instead.
 * Undone by isa_end.h.
 */
#define LK_FUSED 0                      /* LK_FMA rounds twice: exact products need Dekker */
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
