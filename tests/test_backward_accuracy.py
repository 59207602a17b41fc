"""The vector-Jacobian products against an mpmath oracle in ULPs: softmax_backward and
log_softmax_backward where their terms cancel, overflow or leave the fast paths' domain, on every
SIMD path. (The losses' own accuracy tests are in test_losses.py.)"""

import math

import mpmath
import numpy as np
import pytest

import logitkit as lk
from _loss_cases import adversarial_rows, ulp_error

mp = mpmath.mp
mp.dps = 60
F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]


def check_softmax_backward_vs_mpmath(go, s, got, dtype):
    """Each element within 2 ulp of y (g - sum(g y)) computed from the given floats (the dot
    product is a double-double: past 2^-100 of the dot, g - dot may cancel further)."""
    for r in range(len(s)):
        dot = mp.fsum(mp.mpf(float(a)) * mp.mpf(float(b)) for a, b in zip(go[r], s[r]))
        for j in range(s.shape[1]):
            exact = mp.mpf(float(s[r, j])) * (mp.mpf(float(go[r, j])) - dot)
            err = abs(mp.mpf(float(got[r, j])) - exact)
            assert (ulp_error(got[r, j], exact, dtype) <= 2
                    or err <= mp.ldexp(abs(dot) * abs(mp.mpf(float(s[r, j]))), -100)), \
                (r, j, got[r, j], exact)


def check_log_softmax_backward_vs_mpmath(go, ls, got, dtype):
    """Each element within 2 eps of max(|exp(y) sum(g)|, |exact|): exp's own rounding (<= 1 ulp
    of the term) is the error allowed, plus the final rounding. Where |y| < ln2/2 (e^y near 1:
    the top class of a confident row) the result is (g - S) - expm1(y) S, and the terms are
    those two, so the tiny gradient of a confident NLL row keeps its digits."""
    eps, tiny = mp.mpf(float(np.finfo(dtype).eps)), mp.mpf(float(np.finfo(dtype).tiny))
    for r in range(len(ls)):
        tot = mp.fsum(mp.mpf(float(a)) for a in go[r])
        for j in range(ls.shape[1]):
            y = mp.mpf(float(ls[r, j]))
            term = mp.exp(y) * tot
            exact = mp.mpf(float(go[r, j])) - term
            if abs(y) < mp.log(2) / 2:
                term = max(abs(mp.expm1(y) * tot), abs(mp.mpf(float(go[r, j])) - tot))
            err = abs(mp.mpf(float(got[r, j])) - exact)
            assert err <= 2 * eps * max(abs(term), abs(exact)) + tiny, (r, j, got[r, j], exact)


def test_log_softmax_backward_float64_overflow_is_inf(each_simd_path):
    """g - e^y sum(g) past the double range is -inf, not NaN (the compensated difference's
    error term met inf - inf where p = e^y S was finite and g - p was not)."""
    for top in (-0.001, 2.0):
        g = np.array([-1e308, 0.9e308, 0.9e308, 0.0, 0.0, 0.0])
        y = np.array([top, -5.0, -5.0, -5.0, -5.0, -5.0])
        got = lk.log_softmax_backward(g, y)
        assert got[0] == -np.inf, (top, got[0])
        assert np.isfinite(got[1:]).all(), got


def test_log_softmax_backward_float64_output_above_zero(each_simd_path):
    """An output that is no log-probability (y > 0) still follows the formula g - e^y sum(g):
    exp_dd's scaling is for y <= 0, and y above ~354 gave 0 (5.2e173 here); e^y past the
    double range gives inf, as the formula does."""
    for top, want in ((3.0, math.exp(3.0)), (400.0, math.exp(400.0)), (709.0, math.exp(709.0)),
                      (710.0, math.inf), (np.inf, math.inf)):
        y = np.array([-1.0, -2.0, -3.0, top, -4.0, -5.0, -6.0, -7.0, -8.0, -0.5])
        g = np.zeros_like(y)
        g[2] = -1.0
        got = lk.log_softmax_backward(g, y)
        assert got[3] == pytest.approx(want, rel=4e-16), (top, got[3])
        for j in (0, 1, 2, 4, 9):
            exact = float(g[j]) + math.exp(float(y[j]))
            assert got[j] == pytest.approx(exact, rel=4e-16, abs=0), (top, j, got[j])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [17, 24, 33, 100, 1000])
def test_log_softmax_backward_near_uniform_rows(dtype, n, each_simd_path):
    """g = ones on a near-uniform row: g_j - e^y_j n cancels to ~1e-3 of the terms in every
    element (the gradient of sum(log p)). Within 4 ulp of mpmath, or (float64, whose exact
    results can lie below double arithmetic on the terms) within 2^-50 of the terms.
    Regression: the float32 fast path's float arithmetic left up to 1.4e6 ulp (n = 1000), the
    double path's exp_lp 8 ulp (n = 24)."""
    for x in (np.linspace(-1e-3, 1e-3, n), np.linspace(-0.3, 0.2, n) ** 2):
        y = lk.log_softmax(x.astype(dtype))
        g = np.ones((2, n), dtype)
        g[1, ::3] = 0.5
        got = lk.log_softmax_backward(g, np.stack([y, y]))
        for r in range(2):
            tot = mp.fsum(mp.mpf(float(v)) for v in g[r])
            for j in range(n):
                term = mp.exp(mp.mpf(float(y[j]))) * tot
                exact = mp.mpf(float(g[r, j])) - term
                err = abs(mp.mpf(float(got[r, j])) - exact)
                ulps = ulp_error(got[r, j], exact, dtype)
                assert ulps <= 4 or (dtype == F64 and err <= mp.ldexp(abs(term), -50)), \
                    (r, j, got[r, j], float(exact), ulps)


def cancel_against_exp_sum(g, y, rng, keep, share):
    """g with a share of its elements set to e^y_j S rounded to float32, S = sum(g) held at ~1
    by one free element (so those elements of g - e^y S cancel to ~2^-25 of their terms); the
    indices in keep are left alone."""
    picked = rng.random(len(g)) < share
    free = 5
    picked[keep] = picked[free] = False
    g[picked] = np.exp(y[picked].astype(float)).astype(F32)
    g[free] = 0
    g[free] = np.float32(1.0 - math.fsum(g.astype(float)))


def test_log_softmax_backward_long_rows_with_many_cancelling_elements(each_simd_path):
    """float32 rows of 12,411 whose g and e^y sum(g) cancel in 5% (rows 0, 1) or 35% of the
    elements (rows 2-4): the fast path lists those lanes a stretch (256 vectors) at a time and
    redoes them in double, one by one or (more than 1 in 8) the whole stretch. Row 1's plain
    sum of g (a +-1000 pair around thousands of elements of ~1e-8, which lose their low bits to
    it in one lane) is accepted by its bound but too loose for the deepest cancellations: its
    first stretch sums g exactly and is redone. Rows 3 and 4 leave the fast path after the pass
    (a y above 0, a NaN near the end), their stretches already redone. Every element within 4
    ulp of mpmath."""
    rng = np.random.default_rng(11)
    n, m = 3 * 4096 + 123, 32 * 300
    ls = lk.log_softmax(rng.standard_normal((5, n)).astype(F32) * 3)
    g = rng.standard_normal((5, n)).astype(F32) * np.float32(0.01)  # sum(g)'s bound: 2^-36
    g[1] *= np.float32(1e-6)
    g[1, 0], g[1, m] = 1000.0, -1000.0
    for r in range(5):
        cancel_against_exp_sum(g[r], ls[r], rng, keep=[0, m], share=0.05 if r < 2 else 0.35)
    ls[3, n - 5] = 0.5
    ls[4, n - 7] = np.nan
    got = lk.log_softmax_backward(g, ls)
    assert np.isnan(got[4, n - 7]) and np.isnan(got).sum() == 1
    for r in range(5):
        tot = mp.fsum(mp.mpf(float(a)) for a in g[r])
        for j in range(n):
            if r == 4 and j == n - 7:
                continue
            exact = mp.mpf(float(g[r, j])) - mp.exp(mp.mpf(float(ls[r, j]))) * tot
            assert ulp_error(got[r, j], exact, F32) <= 4, (r, j, got[r, j], float(exact))


def deepest_cancellations(count, rng):
    """Float32 pairs (y, g0) whose g0 - e^y (g0 + 1) cancels below 2^-38 of g0: g0 is the
    float nearest g* = e^y / (1 - e^y), picked where g* lies that close to a float (about one y
    in 2^13; found in double, which is 2^-50 close)."""
    y = np.sort(rng.uniform(-30, -0.001, 200_000).astype(F32))
    e = np.exp(y.astype(float))
    g_star = e / (1 - e)
    g0 = g_star.astype(F32)
    deep = np.nonzero(np.abs(g0 - g_star) < 2.0 ** -38 * g_star)[0]
    assert len(deep) >= count
    return y[deep[:count]], g0[deep[:count]]


@pytest.mark.parametrize("n", [7, 24, 40, 300])
def test_log_softmax_backward_float32_below_double_precision(n, each_simd_path):
    """float32 elements whose g - e^y sum(g) cancels below 2^-38 of its terms, deeper than
    double arithmetic on them reaches (2^-53 of the terms: ~2^9 ulp of these results): short
    rows in blocks (n <= 32), the fast path's redo and the exact path; should be within 4 ulp
    of mpmath. Found: 10.9 ulp (row 1, element 226 of the test above) and 903 ulp here."""
    y_deep, g_deep = deepest_cancellations(12, np.random.default_rng(7))
    rows = len(y_deep)
    y = np.full((rows, n), -5.0, F32)
    g = np.zeros((rows, n), F32)
    for r in range(rows):
        at = (3 * r) % n
        y[r, at], g[r, at] = y_deep[r], g_deep[r]
        g[r, (at + 1) % n] = 1.0                            # sum(g) = g0 + 1
    for exact_path in (False, True):
        if exact_path:
            y[:, n - 1] = np.where(np.arange(rows) % 3 == 2, 0.25, y[:, n - 1])
        got = lk.log_softmax_backward(g, y)
        for r in range(rows):
            tot = mp.fsum(mp.mpf(float(a)) for a in g[r])
            for j in range(n):
                exact = mp.mpf(float(g[r, j])) - mp.exp(mp.mpf(float(y[r, j]))) * tot
                assert ulp_error(got[r, j], exact, F32) <= 4, (r, j, got[r, j], float(exact))


@pytest.mark.parametrize("n", [7, 40, 300])
def test_log_softmax_backward_float32_cancelling_to_2_66(n, each_simd_path):
    """g_0 - e^y_0 sum(g) cancelling to ~2^-66 of its terms: the rest of g is a few floats
    whose sum is g_0 (e^-y_0 - 1) - 2^-66 g_0 e^-y_0 to ~2^-88, so that sum(g) is g_0 e^-y_0
    to 2^-66. Past the vector double-double's reach (~2^-62); within 4 ulp of mpmath by the
    scalar double-double (lk_dd_log_softmax_bwd, ~2^-102)."""
    y0s = [-3.7, -12.1, -0.9, -50.3, -0.4, 20.5, -0.2, 0.3, -1e-5]   # k = 0 in the last 3
    rows = len(y0s)
    y = np.full((rows, n), -5.0, F32)
    g = np.zeros((rows, n), F32)
    for r, y0 in enumerate(y0s):
        y[r, 0], g[r, 0] = y0, 0.3
        target = mp.mpf(float(g[r, 0])) * mp.exp(-mp.mpf(float(y[r, 0])))
        rest, j = target - mp.mpf(float(g[r, 0])), 1
        while abs(rest) > mp.ldexp(target, -64):
            g[r, j] = np.float32(float(rest))
            rest -= mp.mpf(float(g[r, j]))
            j += 1
        g[r, j] = np.float32(float(rest - mp.ldexp(target, -66)))
    got = lk.log_softmax_backward(g, y)
    for r in range(rows):
        tot = mp.fsum(mp.mpf(float(a)) for a in g[r])
        term = mp.exp(mp.mpf(float(y[r, 0]))) * tot
        exact = mp.mpf(float(g[r, 0])) - term
        assert mp.ldexp(abs(term), -70) < abs(exact) < mp.ldexp(abs(term), -62), \
            (r, float(exact / term))
        assert ulp_error(got[r, 0], exact, F32) <= 4, (r, got[r, 0], float(exact))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 10, 32, 40])
def test_backward_infinite_grad_output_gives_the_formula(dtype, n, each_simd_path):
    """g holding +-inf makes sum(g) (sum(g y)) infinite: each element is then what the formula
    gives, -inf or +inf where g is finite and NaN where g is the infinity itself (inf - inf),
    the same in the short rows' blocks as one row at a time. Regression: the float32 blocks'
    (n <= 32) compensated sums carried a NaN error term (inf - inf) that made every element
    NaN, and softmax_backward's TwoSum of g - s did so on every path."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, n)).astype(dtype)
    ls, sm = lk.log_softmax(x), lk.softmax(x)
    g = rng.standard_normal((6, n)).astype(dtype)
    g[0, 1] = np.inf
    g[2, 0] = -np.inf
    g[4, n - 1] = np.inf
    with np.errstate(all="ignore"):
        g64, ls64, sm64 = g.astype(float), ls.astype(float), sm.astype(float)
        want_log = g64 - np.exp(ls64) * g64.sum(axis=1, keepdims=True)
        want_soft = sm64 * (g64 - (g64 * sm64).sum(axis=1, keepdims=True))
    for got, want in ((lk.log_softmax_backward(g, ls), want_log),
                      (lk.softmax_backward(g, sm), want_soft)):
        for r in (0, 2, 4):
            assert np.array_equal(np.isnan(got[r]), np.isnan(want[r])), (r, got[r], want[r])
            inf = np.isinf(want[r])
            assert np.array_equal(got[r][inf], want[r][inf].astype(dtype)), (r, got[r])
        assert np.isfinite(got[[1, 3, 5]]).all()


@pytest.mark.parametrize("n", [5, 40])
def test_log_softmax_backward_nan_in_output_does_not_hide_a_row(n, each_simd_path):
    """A NaN in y must not reset the float32 fast path's running max of y (maxps drops a NaN
    in its first operand): an element near e^y = 1, or a y above 0, later in the same lane must
    still be seen. Regression: 0.0 for 19.09 at y = 3, 87 ulp at y = -1e-3."""
    for near in (-1e-3, 3.0):
        y = np.full(n, -5.0, F32)
        g = np.zeros(n, F32)
        y[1], g[1] = near, -1.0
        with_nan = y.copy()
        with_nan[n - 7] = np.nan
        got = lk.log_softmax_backward(g[None], with_nan[None])[0]
        tot = mp.mpf(-1)
        exact = mp.mpf(-1) - mp.exp(mp.mpf(float(near))) * tot
        assert ulp_error(got[1], exact, F32) <= 2, (near, got[1], float(exact))
        assert np.isnan(got[n - 7])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 10, 40, 300])
def test_log_softmax_backward_confident_rows(dtype, n, each_simd_path):
    """NLL through log_softmax: g = -onehot(target) / N on confident rows. At the top class the
    gradient is (1 - e^y) / N with y ~ -1e-18: g - e^y sum(g) rounds e^y to 1 and gives 0 (as
    PyTorch does); within 4 ulp of mpmath here. Short rows, the float32 fast path (n >= 32)
    and the exact paths."""
    rows = []
    for top in (0.0, 5.0, -3.0):
        for gap in (40.0, 17.0, 9.0, 0.5):
            row = np.full(n, top - gap)
            row[(len(rows) * 7) % n] = top
            rows.append(row)
    x = np.array(rows, dtype)
    y = lk.log_softmax(x)
    for weight in (1.0, 0.25):
        g = np.zeros_like(x)
        g[np.arange(len(x)), np.argmax(x, axis=1)] = -weight / len(x)
        g[1, 0] -= 0.125                 # a row whose g has two terms
        got = lk.log_softmax_backward(g, y)
        for r in range(len(x)):
            tot = mp.fsum(mp.mpf(float(a)) for a in g[r])
            for j in range(n):
                exact = mp.mpf(float(g[r, j])) - mp.exp(mp.mpf(float(y[r, j]))) * tot
                assert ulp_error(got[r, j], exact, dtype) <= 4, (r, j, got[r, j], float(exact))


def adversarial_grads(dtype, s, rng):
    """Upstream gradients for the rows of s (softmax outputs) that make the backward sums cancel:
    g - sum(g y) ~ 0 (g constant: the float32 fast path's certificate fails and the row goes the
    exact way), sum(g) ~ 0 (g = p - onehot, the cross-entropy gradient), one g_j = the dot to
    float precision, huge and tiny magnitudes, and plain noise."""
    rows, n = s.shape
    out = []
    for r in range(rows):
        p = s[r].astype(np.float64)
        onehot = np.zeros(n)
        onehot[r % n] = 1.0
        noise = rng.standard_normal(n)
        g_at_dot = noise.copy()
        g_at_dot[1] = float(np.dot(noise, p))          # g_1 ~ sum(g y): cancels to ~1 ulp
        out += [np.ones(n), p - onehot, g_at_dot, noise * 1e30, noise * 1e-30, noise]
    return np.array(out).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 9, 12, 32, 37, 300])
def test_backward_ulp_vs_mpmath(dtype, n, each_simd_path):
    """Short float32 rows 8 or 16 to a vector (bwd_short_rows: n <= 12 for softmax_backward,
    <= 32 for log_softmax_backward), in groups and blocks of 64 rows; longer rows one at a
    time, the fast paths and their certificates."""
    rng = np.random.default_rng(5 + n)
    x = adversarial_rows(dtype, n, rng)[:7]
    s, ls, sg = lk.softmax(x), lk.log_softmax(x), lk.sigmoid(x)
    go = adversarial_grads(dtype, s, rng)
    reps = len(go) // len(x)                             # each row of x with each kind of g
    s, ls, sg, x = (np.repeat(a, reps, axis=0) for a in (s, ls, sg, x))
    check_softmax_backward_vs_mpmath(go, s, lk.softmax_backward(go, s), dtype)
    check_log_softmax_backward_vs_mpmath(go, ls, lk.log_softmax_backward(go, ls), dtype)
    got_sig = lk.sigmoid_backward(go, sg)
    for r in range(len(x)):
        for j in range(n):
            b = mp.mpf(float(sg[r, j]))
            exact = mp.mpf(float(go[r, j])) * b * (1 - b)
            assert ulp_error(got_sig[r, j], exact, dtype) <= 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_backward_outside_the_fast_paths_domain(dtype, each_simd_path):
    """Rows the float32 fast path hands to the exact path: an output above 0 (not a
    log-probability), a sum of g beyond 2^126 (its float would overflow), and a sum that
    cancels below its plain-sum error bound; each still within the bound, next to rows that
    stay on the fast path."""
    rng = np.random.default_rng(3)
    n = 40
    ls = lk.log_softmax(rng.standard_normal((4, n)).astype(dtype))
    ls[0, 5] = 3.0
    go = rng.standard_normal((4, n)).astype(dtype)
    huge = float(np.finfo(np.float32).max) / 2         # float64: 1.7e38 is just large
    go[1] *= huge / 2
    go[1, :8] = huge                                    # the sum of g: ~2^130, > 2^126
    go[2, 0] = 1e20
    go[2, 1] = -1e20                                    # the plain sum's bound: >> |sum(g)|
    check_log_softmax_backward_vs_mpmath(go, ls, lk.log_softmax_backward(go, ls), dtype)


def test_softmax_backward_float64_factors_beyond_2_996(each_simd_path):
    """Regression: without FMA (the baseline path) the exact product error came from Veltkamp's
    split, (2^27 + 1) * g, which overflows for |g| > 2^996: softmax_backward([max], [1]) was
    NaN instead of 0."""
    big = float(np.finfo(np.float64).max)
    g = np.array([[big], [big / 2], [-big / 4]])
    y = np.array([[1.0], [1.0], [1.0]])
    assert np.array_equal(lk.softmax_backward(g, y), np.zeros((3, 1)))
    g = np.array([[big / 2, 3.0, -1e300], [2.0 ** 1000, -2.0 ** 1000, 1.0]])
    y = np.array([[0.25, 0.5, 0.25], [0.5, 0.25, 0.25]])
    check_softmax_backward_vs_mpmath(g, y, lk.softmax_backward(g, y), np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_outside_the_fast_paths_domain(dtype, each_simd_path):
    """softmax_backward rows that fail the float32 fast path's certificate: sum(g y) beyond
    2^126, g - s_f overflowing float, every g equal (the answer ~0), g with huge cancelling
    products, and short rows of every tail length; all within 2 ulp of mpmath."""
    rng = np.random.default_rng(4)
    big = float(np.finfo(np.float32).max)               # float64's own would overflow the dot
    for n in list(range(1, 20)) + [33, 64]:
        y = lk.softmax(rng.standard_normal((5, n)).astype(dtype) * 3)
        g = rng.standard_normal((5, n)).astype(dtype)
        g[0] = 1.0
        g[1, 0] = big
        y[1, 0] = 4.0 if n > 1 else y[1, 0]
        g[2, 0], g[2, -1] = big / 2, -big / 2
        g[3] *= 1e20
        if n > 1:
            g[3, 1] = float(np.dot(g[3].astype(np.float64), y[3].astype(np.float64)))
        check_softmax_backward_vs_mpmath(g, y, lk.softmax_backward(g, y), dtype)
