/*
 * The NEON target's primitives (simd/isa_neon.h) against the portable ones they replace
 * (simd/vector.h) and against C's fma(), lane by lane and bit for bit, over random bit
 * patterns and the special values (+-0, +-inf, NaN, subnormals, the extremes). Run by
 * tools/aarch64_instructions.sh, cross-compiled and under qemu:
 *
 *   aarch64-linux-gnu-gcc -O2 -ffp-contract=off -static -Isrc/logitkit/csrc \
 *       tools/neon_primitives.c -lm -o /tmp/neon_primitives && /tmp/neon_primitives
 *
 * Prints the number of checks and exits 1 on the first mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "simd/vector.h"
#include "simd/isa_neon.h"

static unsigned long long state = 0x9e3779b97f4a7c15ull;
static unsigned long long next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, -NAN, 0x1p-1074,
                                  -0x1p-1074, 0x1p-1022, DBL_MAX, -DBL_MAX, 1.0, -1.0,
                                  0x1p-149, 0x1p-126, FLT_MAX, 0x1.fffffffp127, 3.0e-39};
/* a double: a special value, a random bit pattern, or a random value of modest range */
static double draw(void)
{
    unsigned long long r = next();
    switch (r % 4) {
    case 0: return specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
    case 1: { double d; unsigned long long b = next(); memcpy(&d, &b, sizeof d); return d; }
    default: return ((double)(int64_t)next() / 0x1p63) * ldexp(1.0, (int)((r >> 8) % 80) - 40);
    }
}

static long checks;
static int same64(double a, double b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 8); }
static int same32(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, 4); }
#define CHECK(ok, ...)                                                                         \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(ok)) {                                                                           \
            printf("MISMATCH: " __VA_ARGS__);                                                  \
            printf("\n");                                                                      \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

int main(void)
{
    for (int trial = 0; trial < 200000; trial++) {
        lk_vd a, b, c;
        lk_vf8 fa, fb, fc;
        for (int j = 0; j < LK_W; j++) {
            ((double *)&a)[j] = draw();
            ((double *)&b)[j] = draw();
            ((double *)&c)[j] = draw();
        }
        for (int j = 0; j < LK_WF; j++) {
            ((float *)&fa)[j] = (float)draw();
            ((float *)&fb)[j] = (float)draw();
            ((float *)&fc)[j] = (float)draw();
        }
        /* fused multiply-adds: one rounding, as C's fma */
        lk_vd r = LK_FMA(a, b, c);
        for (int j = 0; j < LK_W; j++)
            CHECK(same64(lk_lane(r, j), fma(lk_lane(a, j), lk_lane(b, j), lk_lane(c, j))),
                  "LK_FMA lane %d", j);
        lk_vf8 fr = LK_FMAF(fa, fb, fc);
        for (int j = 0; j < LK_WF; j++)
            CHECK(same32(lk_lanef(fr, j), fmaf(lk_lanef(fa, j), lk_lanef(fb, j),
                                               lk_lanef(fc, j))), "LK_FMAF lane %d", j);
        /* conversions */
        lk_vd lo, hi, plo, phi;
        LK_WIDEN_F8(fa, lo, hi);
        lk_f8_to_d(fa, &plo, &phi);
        for (int j = 0; j < LK_W; j++)
            CHECK(same64(lk_lane(lo, j), lk_lane(plo, j)) &&
                  same64(lk_lane(hi, j), lk_lane(phi, j)), "LK_WIDEN_F8 lane %d", j);
        lk_vf8 n = LK_NARROW_D(a, b), pn = lk_d_to_f8(a, b);
        for (int j = 0; j < LK_WF; j++)
            CHECK(same32(lk_lanef(n, j), lk_lanef(pn, j)), "LK_NARROW_D lane %d", j);
        lk_vf f4 = LK_D_TO_F4(c), pf4 = LK_D2F(c);
        lk_vd d4 = LK_F4_TO_D(f4), pd4 = LK_F2D(pf4);
        for (int j = 0; j < LK_W; j++)
            CHECK(same32(((float *)&f4)[j], ((float *)&pf4)[j]) &&
                  same64(lk_lane(d4, j), lk_lane(pd4, j)), "LK_D_TO_F4 / LK_F4_TO_D lane %d", j);
        /* lane sums in the portable trees' order, bit for bit (signed zeros included) */
        CHECK(same32(LK_LANES_SUMF(fa), lk_lanes_sumf(fa)), "LK_LANES_SUMF");
        CHECK(same64(LK_LANES_SUMD(a), lk_lanes_sum(a)), "LK_LANES_SUMD");
        /* least and greatest: equal values where no lane is NaN (zeros compared as values) */
        int has_nan = 0;
        for (int j = 0; j < LK_WF; j++) has_nan |= isnan(lk_lanef(fa, j));
        if (!has_nan) {
            CHECK(LK_LANES_MINF(fa) == lk_lanes_minf(fa), "LK_LANES_MINF");
            CHECK(LK_LANES_MAXF(fa) == lk_lanes_maxf(fa), "LK_LANES_MAXF");
        } else {
            CHECK(isnan(LK_LANES_MINF(fa)) && isnan(LK_LANES_MAXF(fa)), "NaN lane in min/max");
        }
        /* masks: any lane set, and the lanes as bits */
        lk_vmf mf = LK_MASKF(fa < fb);
        lk_vm m = LK_MASK(a < b);
        CHECK(LK_ANYF(mf) == lk_anyf(mf), "LK_ANYF");
        CHECK(LK_ANY(m) == lk_any(m), "LK_ANY");
        CHECK(LK_BITSF(mf) == lk_bitsf_of(mf), "LK_BITSF");
        lk_vmf none = LK_MASKF(fa != fa) & LK_MASKF(fa == fa);
        CHECK(!LK_ANYF(none) && LK_BITSF(none) == 0, "empty float mask");
    }
    printf("neon_primitives: %ld checks passed\n", checks);
    return 0;
}
