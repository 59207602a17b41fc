"""logsumexp: values, edge cases, b / where / keepdims / return_sign / out / dtype."""

import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit
from logitkit import logsumexp, reference

scipy_special = pytest.importorskip("scipy.special")


def test_seed_example():
    assert logsumexp([2.0, 1.0, 0.1]) == pytest.approx(math.log(math.exp(2) + math.e +
                                                                math.exp(0.1)), rel=1e-15)


def test_matches_scipy_on_ordinary_data():
    x = np.random.default_rng(0).standard_normal((5, 6, 7)) * 5
    for axis in (0, 1, 2, None, (0, 2)):
        for keepdims in (False, True):
            np.testing.assert_allclose(logsumexp(x, axis=axis, keepdims=keepdims),
                                       scipy_special.logsumexp(x, axis=axis, keepdims=keepdims),
                                       rtol=1e-13)


def test_cancellation_near_zero_is_accurate():
    """Regression: m + log(S) lost ~2 ULP where the two nearly cancel."""
    x = np.random.default_rng(7).uniform(-8.44, -8.37, 1000)
    assert abs(logsumexp(x) - reference.logsumexp(x)) <= 2 * math.ulp(reference.logsumexp(x))


def test_edges():
    assert logsumexp([1.0, np.nan]) != logsumexp([1.0, np.nan])          # NaN
    assert logsumexp([1.0, np.inf]) == np.inf
    assert logsumexp([np.nan, np.inf]) != logsumexp([np.nan, np.inf])
    assert logsumexp([-np.inf, -np.inf]) == -np.inf
    assert logsumexp(np.empty(0)) == -np.inf
    assert logsumexp(np.empty((3, 0))).tolist() == [-np.inf] * 3
    assert logsumexp(np.empty((0, 3))).shape == (0,)
    big = np.finfo(np.float64).max
    assert logsumexp([big, big]) == big            # max + log 2 rounds to max: no overflow
    assert logsumexp([big, -big]) == big
    assert logsumexp(np.array([3e38, 3e38], np.float32)) == np.float32(3e38) + np.float32(
        math.log(2.0))


def test_zero_d():
    for axis in (0, -1, None):
        r = logsumexp(3.0, axis=axis)
        assert isinstance(r, np.float64) and r == 3.0
    with pytest.raises(AxisError):
        logsumexp(3.0, axis=1)


def test_b_scales_and_signs():
    x = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(logsumexp(x, b=b, return_sign=True),
                               scipy_special.logsumexp(x, b=b, return_sign=True), rtol=1e-14)
    assert math.isnan(logsumexp([0.0, 1.0], b=[1.0, -1.0]))              # negative total
    value, sign = logsumexp([0.0, 0.0], b=[1.0, -1.0], return_sign=True)
    assert value == -np.inf and sign == 0.0
    assert logsumexp([np.inf, 1.0], b=[0.0, 1.0]) == 1.0                  # b == 0 drops inf
    assert logsumexp(x, b=2.0) == pytest.approx(math.log(2) + logsumexp(x), rel=1e-15)


def test_b_must_broadcast():
    with pytest.raises(ValueError, match="b"):
        logsumexp(np.ones(3), b=np.ones(4))
    with pytest.raises(TypeError, match="complex"):
        logsumexp(np.ones(3), b=np.ones(3, complex))


def test_where():
    x = np.array([[1.0, 5.0], [2.0, 3.0]])
    where = np.array([[True, False], [False, False]])
    assert logsumexp(x, where=where).tolist() == [1.0, -np.inf]


def test_return_sign_without_b():
    value, sign = logsumexp(np.array([[1.0, 2.0], [np.nan, 1.0], [-np.inf, -np.inf]]),
                            return_sign=True)
    assert sign[0] == 1.0 and math.isnan(sign[1]) and sign[2] == 0.0


@pytest.mark.parametrize("dtype, expected", [(np.float16, np.float16), (np.float32, np.float32),
                                             (np.int64, np.float64), (np.bool_, np.float64)])
def test_dtypes(dtype, expected):
    assert logsumexp(np.ones((2, 3), dtype)).dtype == expected
    assert logsumexp(np.ones((2, 3)), dtype=dtype if expected is dtype else None).dtype in (
        expected, np.float64)


def test_out_with_keepdims():
    x = np.random.default_rng(1).standard_normal((3, 4))
    out = np.empty((3, 1))
    assert logsumexp(x, axis=1, keepdims=True, out=out) is out
    np.testing.assert_array_equal(out[:, 0], logsumexp(x, axis=1))
    with pytest.raises(ValueError, match="shape"):
        logsumexp(x, axis=1, out=np.empty((3, 1)))
    with pytest.raises(TypeError, match="dtype"):
        logsumexp(x, axis=1, out=np.empty(3, np.float32))


def test_float32_accuracy_on_a_long_row():
    x = np.random.default_rng(2).standard_normal(100_000).astype(np.float32)
    exact = reference.logsumexp(x)
    assert abs(float(logsumexp(x)) - float(exact)) <= 2 * np.spacing(np.float32(exact))


def _float32_lse_ulps(x, axis):
    """logitkit's float32 logsumexp against a float64 one (exact to ~1e-12 relative even where
    m + log(sum) cancels to 1e-4), in ULPs of the float32 result."""
    got = logitkit.logsumexp(x, axis=axis).astype(np.float64)
    x64 = np.moveaxis(x.astype(np.float64), axis, -1)
    m = x64.max(axis=-1)
    exact = m + np.log(np.array([math.fsum(row) for row in np.exp(x64 - m[..., None]).reshape(
        -1, x64.shape[-1])]).reshape(m.shape))
    return np.abs(got - exact) / np.spacing(np.abs(exact).astype(np.float32))


def test_float32_cancelling_logsumexp_keeps_its_last_bits():
    """Regression (found by a review helper): where m + log(sum) cancels, the float exps'
    2^-24 errors showed in a float32 result near 0 (146 ULP over a non-last axis; ~100 on a
    long row). Such slices are redone with double exps, as the short rows already were."""
    x = np.array([[-1.1584316492080688, 0.4609428346157074],
                  [-2.099508047103882, -0.42414915561676025],
                  [-0.5751233696937561, 1.4577120542526245]], np.float32)
    assert _float32_lse_ulps(x, 0).max() <= 2
    rng = np.random.default_rng(3)
    rows = rng.uniform(-7.0, -6.86, (4, 1000)).astype(np.float32)      # lse ~ 0
    assert _float32_lse_ulps(rows, -1).max() <= 2
    assert _float32_lse_ulps(np.ascontiguousarray(rows.T), 0).max() <= 2
    cols = rng.standard_normal((3, 700)).astype(np.float32)
    assert _float32_lse_ulps(cols, 0).max() <= 2


def _mp_logsumexp(row):
    import mpmath
    with mpmath.workdps(80):
        return mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in row))


def _check_cancelling(row, got):
    """within 2 ULP of mpmath where the result is at least max(n 2^-52, 2^-50) of log(sum)
    (and, for slices of more than 32, below 1/16 of it or not cancelling); below (rows of
    log-probabilities) within 2^-50 of log(sum)"""
    import mpmath
    exact = _mp_logsumexp(row)
    err = abs(mpmath.mpf(float(got)) - exact)
    log_sum = float(exact) - max(row)
    in_gap = 0.0625 * log_sum <= abs(float(exact)) < 0.5 * log_sum    # not redone past 32
    redone_or_plain = len(row) <= 32 or not in_gap
    if abs(float(exact)) >= max(len(row) * 2.0**-52, 2.0**-50) * log_sum and redone_or_plain:
        assert err <= 2 * np.spacing(abs(float(exact))), (float(got), float(exact))
    else:
        assert err <= 2.0**-50 * log_sum, (float(got), float(exact))


@pytest.mark.parametrize("layout", ["row", "short rows", "axis 0", "long row"])
def test_float64_cancelling_logsumexp_keeps_its_last_bits(layout, each_simd_path):
    """float64 slices where m + log(sum) cancels to between max(n 2^-52, 2^-50) and 1/16 of
    the log (1/2 for up to 32 elements: rows of log-probabilities moved by small offsets, the
    two-element case of the former known bug) are redone with double-double terms and log:
    within 2 ULP of mpmath on the row, short-row, column and long-row kernels. Rows of
    log-probabilities themselves (results ~sqrt(n) 2^-53, below n 2^-52 of the log) keep the
    kernels' value: within 2^-50 of the log."""
    pytest.importorskip("mpmath")
    rng = np.random.default_rng(3)
    n = {"row": 300, "short rows": 10, "axis 0": 40, "long row": 5000}[layout]
    rows = 4 if layout == "long row" else 12
    x = logitkit.log_softmax(rng.standard_normal((rows, n)) * rng.choice([0.1, 3.0, 30.0],
                                                                          (rows, 1)))
    x[1:] += rng.choice([0.01, -3e-9, 2e-7, -0.2, 0.0], (rows - 1, 1))
    x[0] = [-1.8020079978548287, -0.18144600660877136] * (n // 2) + [-1.0] * (n % 2)
    data = np.ascontiguousarray(x.T) if layout == "axis 0" else x
    got = logitkit.logsumexp(data, axis=0 if layout == "axis 0" else -1)
    for r in range(rows):
        _check_cancelling(x[r].tolist(), got[r])


@pytest.mark.parametrize("d", [-5.0, -15.0, -25.0])
@pytest.mark.parametrize("depth", [1, 2, 4, 35, 39, 48])
def test_float64_cancelling_logsumexp_of_confident_pairs(d, depth):
    """Regression: [m, m + d] with the result 2^-depth of log(sum), a
    confident pair's tiny log: the redo took log(1 + rest) with an absolute error of ~2^-104,
    2.4e6 ULP at d = -25, depth 39; it now takes log1p of the rest, as the kernels do. And
    [-0.1269..., -2.1269...] (result 2^-48 of the log) was left to the kernels: 4.9% off."""
    pytest.importorskip("mpmath")
    L = math.log1p(math.exp(d))
    m = -L + L * 2.0**-depth
    row = [m, m + d]
    _check_cancelling(row, logitkit.logsumexp(np.array(row)))
    row = [-0.12692801104297205, -2.1269280110429722]
    _check_cancelling(row, logitkit.logsumexp(np.array(row)))


# ---------------------------------------------------------------------------------------------
# b=: terms below a cancellation, the exact tier, broadcasting and the result dtype
# ---------------------------------------------------------------------------------------------

def _exact_lse(x, b):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workprec(8000):          # wide enough for 1 + 2^-1074 - 1
        total = sum(mpmath.mpf(float(bi)) * mpmath.exp(mpmath.mpf(float(xi)))
                    for xi, bi in zip(x, b))
        if total == 0:
            return -math.inf, 0.0
        return float(mpmath.log(abs(total))), float(mpmath.sign(total))


# regression: the terms were scaled by the largest term's exponent and summed in doubles, so a
# term more than 2^1074 below it underflowed to 0 before the larger ones cancelled
@pytest.mark.parametrize("x, b", [([0.0, 0.0, -800.0], [1.0, -1.0, 1.0]),
                                  ([0.0, 0.0, -745.0], [1.0, -1.0, 1.0]),
                                  ([0.0, 0.0, 0.0], [5e-324, 1.0, -1.0]),
                                  ([0.0, -900.0, 0.0, -1500.0], [1.0, -1e300, -1.0, 1e-300]),
                                  ([700.0, 700.0, -700.0], [-1.0, 1.0, -5e-324]),
                                  ([0.0, 1e-16, 0.0, -2000.0], [1.0, 1.0, -2.0, 1.0])])
def test_b_keeps_terms_below_a_cancellation(x, b, each_simd_path):
    want = _exact_lse(x, b)
    for got in (logsumexp(np.array(x), b=np.array(b), return_sign=True),
                reference.logsumexp(np.array(x), b=np.array(b), return_sign=True)):
        value, sign = float(got[0]), float(got[1])
        assert sign == want[1], (got, want)
        assert abs(value - want[0]) <= 2 * np.spacing(abs(want[0])), (got, want)


# regression: with b= the terms' exps were rounded once each, so where m + log|sum| cancels
# the result was ~204,000 ULP off (the plain path redoes such slices in double-double)
def test_b_cancelling_result_uses_the_exact_tier(each_simd_path):
    x = np.array([-2.4185257682003938, -0.3781182358807107, -2.106478888877097,
                  -2.2621125620213505])
    for b in (np.ones(4), np.array([1.0, 1.0, 1.0, 2.0 ** -40])):
        want = _exact_lse(x, b)[0]
        got = float(logsumexp(x, b=b))
        assert abs(got - want) <= 2 * np.spacing(abs(want)), (b, got, want)
    assert float(logsumexp(x, b=np.ones(4))) == float(logsumexp(x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_b_accuracy_on_the_adversarial_suite(dtype):
    """b = 1 everywhere must meet logsumexp's bar too (the oracle's exact values hold)."""
    oracle = pytest.importorskip("logitkit.testing.oracle")
    batches = oracle.suite("logsumexp", dtype, "quick")

    def call(x, axis=-1):
        return logsumexp(x, axis=axis, b=np.ones(x.shape, x.dtype))
    worst = oracle.run_library(call, "logsumexp", dtype, batches, threshold=2)
    assert worst["bar"].ulp <= 2, (worst["bar"].ulp, worst["bar"].case)


# regression: b had to broadcast to x's shape; SciPy broadcasts the two together
def test_b_broadcasts_together_with_x():
    x, b = np.zeros((4, 1, 2, 1)), np.ones((3, 1, 5))
    want = scipy_special.logsumexp(x, axis=None, b=b)
    assert logsumexp(x, axis=None, b=b) == pytest.approx(math.log(120), rel=1e-15)
    assert logsumexp(x, axis=None, b=b) == pytest.approx(want, rel=1e-15)
    for axis in (-1, 0, (1, 3), None):
        for keepdims in (False, True):
            got = logsumexp(x, axis=axis, b=b, keepdims=keepdims)
            ref = reference.logsumexp(x, axis=axis, b=b, keepdims=keepdims)
            sp = scipy_special.logsumexp(x, axis=axis, b=b, keepdims=keepdims)
            assert np.shape(got) == np.shape(sp) == np.shape(ref)
            np.testing.assert_allclose(got, sp, rtol=1e-14)
            np.testing.assert_array_equal(got, ref)
    value, sign = logsumexp(np.zeros(3), b=-np.ones((2, 3)), return_sign=True)
    assert value.shape == sign.shape == (2,) and np.all(sign == -1)
    out = np.empty((4, 3, 2))
    assert logsumexp(x, b=b, out=out) is out


# the result dtype with b= is SciPy's: NumPy's promotion of x's and b's dtypes (a Python scalar
# b is weak), float64 where that is not a float dtype
@pytest.mark.parametrize("x_dtype", ["float16", "float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("b_dtype", ["float16", "float32", "float64", "int8", "int32", "int64",
                                     "uint8", "bool", "python_float", "python_int"])
def test_b_result_dtype_follows_scipy(x_dtype, b_dtype):
    x = np.array([0.5, 1.0, 2.0], x_dtype)
    b = {"python_float": 2.0, "python_int": 2}.get(b_dtype)
    if b is None:
        b = np.array([1, 2, 3], b_dtype) if b_dtype != "bool" else np.array([True, False, True])
    want = scipy_special.logsumexp(x, b=b, axis=-1)
    got = logsumexp(x, b=b)
    want_dtype = np.asarray(want).dtype
    assert got.dtype == want_dtype
    assert reference.logsumexp(x, b=b).dtype == want_dtype
    value, sign = logsumexp(x, b=b, return_sign=True)
    assert value.dtype == sign.dtype == want_dtype
    np.testing.assert_allclose(got, want, rtol=2e-3 if want_dtype == np.float16 else 1e-6)
    assert logsumexp(x, b=b, dtype=np.float32).dtype == np.float32
