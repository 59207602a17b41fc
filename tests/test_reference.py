"""Tests of logitkit.reference, the pure-Python twin that the fast path is checked against.

Accuracy is measured in ULPs against an mpmath oracle; every edge rule of the contract
(docs/semantics.md: "Arguments", "Values at the edges") is spelled out as its own test.
"""

import math
import re

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.exceptions import AxisError

from logitkit import reference as R
from logitkit.reference._softmax import _LN2_HI, _LN2_LO

mp = mpmath.mp
mp.dps = 60

INF, NAN = math.inf, math.nan
DBL_MAX = float(np.finfo(np.float64).max)
FLT_MAX = float(np.finfo(np.float32).max)
REDUCTIONS = [R.softmax, R.log_softmax, R.logsumexp]
ELEMENTWISE = [R.sigmoid, R.sigmoid_derivative, R.log_sigmoid, R.softplus]
ALL = REDUCTIONS + ELEMENTWISE


# ---------------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------------

def ulp_error(got, exact, dtype=np.float64):
    """|got - exact| in units in the last place of `exact` (an mpf) in `dtype`."""
    info = np.finfo(dtype)
    exact = mp.mpf(exact)
    if exact == 0:
        return 0.0 if got == 0 else INF
    # Past max + ulp(max)/2 the correctly rounded result is +-inf.
    if abs(exact) >= mp.ldexp(1, info.maxexp) - mp.ldexp(1, info.maxexp - info.nmant - 2):
        return 0.0 if got == mp.sign(exact) * INF else INF
    if not math.isfinite(got):
        return INF
    _, e = mp.frexp(exact)  # |exact| = f * 2**e with f in [0.5, 1)
    unit = mp.ldexp(1, max(int(e) - info.nmant - 1, int(info.minexp) - info.nmant))
    return float(abs(mp.mpf(float(got)) - exact) / unit)


def oracle_parts(row):
    """(m, log S') for a row, so that logsumexp = m + log S' exactly; S' = 1 + sum of the rest.

    Written with log1p so that 60 digits are plenty even for [0, -40] rows."""
    xs = [mp.mpf(v) for v in row if v != -INF]
    top = max(range(len(xs)), key=lambda i: xs[i])
    m = xs[top]
    return m, mp.log1p(mp.fsum(mp.exp(v - m) for i, v in enumerate(xs) if i != top))


def oracle_log_softmax(row):
    m, log_s = oracle_parts(row)
    return [None if v == -INF else (mp.mpf(v) - m) - log_s for v in row]


def oracle_sigmoid_family(x):
    x = mp.mpf(x)
    z = mp.exp(-abs(x))
    return {
        R.sigmoid: 1 / (1 + z) if x >= 0 else z / (1 + z),
        R.sigmoid_derivative: z / (1 + z) ** 2,
        R.log_sigmoid: min(x, 0) - mp.log1p(z),
        R.softplus: max(x, 0) + mp.log1p(z),
    }


def worst_reduction_ulps(row, dtype=np.float64):
    """Worst ULP errors of softmax, log_softmax and logsumexp of one row against the oracle."""
    x = np.array(row, dtype=dtype)
    p, lp, lse = R.softmax(x), R.log_softmax(x), R.logsumexp(x)
    m, log_s = oracle_parts(x.tolist())
    worst = {"softmax": 0.0, "log_softmax": 0.0, "logsumexp": ulp_error(lse, m + log_s, dtype)}
    for i, exact in enumerate(oracle_log_softmax(x.tolist())):
        if exact is None:
            assert p[i] == 0.0 and lp[i] == -INF
            continue
        worst["softmax"] = max(worst["softmax"], ulp_error(p[i], mp.exp(exact), dtype))
        worst["log_softmax"] = max(worst["log_softmax"], ulp_error(lp[i], exact, dtype))
    return worst


def assert_rows_within(rows, bound, dtype=np.float64):
    for row in rows:
        worst = worst_reduction_ulps(row, dtype)
        assert max(worst.values()) <= bound, (row, worst)


# ---------------------------------------------------------------------------------------------
# Accuracy (float64 unless said otherwise)
# ---------------------------------------------------------------------------------------------

def test_seed_example():
    assert [round(p, 3) for p in R.softmax([2.0, 1.0, 0.1])] == [0.659, 0.242, 0.099]
    assert math.fsum(R.softmax([2.0, 1.0, 0.1])) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("spread", [1e-3, 1e-1, 1.0, 10.0, 30.0, 100.0, 300.0])
@pytest.mark.parametrize("offset", [0.0, -50.0, 1e6, -1e6])
def test_random_rows_within_2_ulp(spread, offset):
    rng = np.random.default_rng([int(spread * 1000), int(offset) % 9973])
    rows = [rng.standard_normal(n) * spread + offset for n in (2, 3, 10, 40)]
    assert_rows_within([r.tolist() for r in rows], 2.0)


def test_long_row_within_2_ulp():
    rng = np.random.default_rng(7)
    assert_rows_within([(rng.standard_normal(2000) * 30).tolist()], 2.0)


@pytest.mark.parametrize("row", [
    [0.0, -40.0],
    [0.0, -40.0, -40.0],
    [40.0, 0.0, 0.0, 0.0],
    [0.0, -1e-20],
    [0.0, -700.0],
    [0.0, -740.0],          # a subnormal probability
    [0.0, -745.0],
    [1e6, 1e6 - 40.0],
    [5.0, 5.0, 5.0],
    [0.0, 0.0, -1e-15],
    [1e-300, -1e-300, 5e-324],
    [DBL_MAX, DBL_MAX * (1 - 2**-52)],
    [DBL_MAX, -DBL_MAX],
    [-DBL_MAX, -DBL_MAX, -DBL_MAX * 0.5],
])
def test_adversarial_rows_within_2_ulp(row):
    assert_rows_within([row], 2.0)


def lse_cancellation_bound(row, exact):
    """Error scale for logsumexp: 2 ulp of the result, or -- where max < 0 and the result is
    near 0, so that m + log(S) cancels -- the inputs' own rounding, 2**-53 * max|x|.  (The exp
    of each term is rounded, so no float64 method does better there.)"""
    return max(2 * math.ulp(float(exact)), 2.0**-53 * max(abs(v) for v in row if v != -INF))


@pytest.mark.parametrize("row", [
    [-0.6931471805599453, -0.6931471805599453],
    [-1.0986122886681098, -1.0986122886681098, -1.0986122886681098],
    [-1.0, -1.0, -1.0],
    [-5.0, -5.5, -4.2, -6.0, -3.9],
])
def test_logsumexp_cancellation_within_input_rounding(row):
    m, log_s = oracle_parts(row)
    assert abs(mp.mpf(R.logsumexp(row)) - (m + log_s)) <= lse_cancellation_bound(row, m + log_s)
    worst = worst_reduction_ulps(row)
    assert worst["softmax"] <= 2.0 and worst["log_softmax"] <= 2.0  # these never cancel


@pytest.mark.parametrize("row", [
    [-INF, 0.0],
    [-INF, 1.0, 2.0, -INF],
    [-INF, -40.0, 0.0],
    [3.0, -INF, -INF, -INF],
])
def test_rows_with_minus_inf(row):
    assert_rows_within([row], 2.0)
    probs = R.softmax(row)
    assert all(p == 0.0 for p, v in zip(probs, row) if v == -INF)


def test_confident_row_is_exact_where_naive_fails():
    # log_softmax of the top class of [0, -40] is -log1p(exp(-40)) = -4.248354255291589e-18;
    # x - max - log(sum) would give 0 (100% wrong).
    lp = R.log_softmax([0.0, -40.0])
    assert ulp_error(lp[0], -mp.log1p(mp.exp(-40))) <= 0.5
    assert lp[1] == -40.0
    assert ulp_error(R.logsumexp([0.0, -40.0]), mp.log1p(mp.exp(-40))) <= 0.5


@pytest.mark.parametrize("spread", [1e-2, 1.0, 30.0])
def test_float32_rows_round_once(spread):
    rng = np.random.default_rng(int(spread * 100))
    rows = [(rng.standard_normal(n) * spread).astype(np.float32).tolist() for n in (2, 17, 64)]
    rows.append([0.0, -40.0])
    rows.append([FLT_MAX, FLT_MAX, -FLT_MAX])
    # Computed in float64, rounded once: within half an ulp plus a hair of double rounding.
    assert_rows_within(rows, 0.51, dtype=np.float32)


SIGMOID_POINTS = [0.0, -0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 2.0, 20.0, 36.0, 37.0, 40.0,
                  100.0, 700.0, 708.5, 709.8, 745.0, 745.1]
SIGMOID_POINTS = SIGMOID_POINTS + [-x for x in SIGMOID_POINTS]


@pytest.mark.parametrize("fn", ELEMENTWISE)
def test_sigmoid_family_within_2_ulp(fn):
    rng = np.random.default_rng(3)
    points = SIGMOID_POINTS + (rng.standard_normal(300) * 30).tolist()
    got = fn(points)
    for x, g in zip(points, got):
        assert ulp_error(g, oracle_sigmoid_family(x)[fn]) <= 2.0, (x, g)


@pytest.mark.parametrize("fn", ELEMENTWISE)
def test_sigmoid_family_float32_rounds_once(fn):
    rng = np.random.default_rng(4)
    points = (rng.standard_normal(200) * 30).astype(np.float32)
    points = np.concatenate([points, np.array([0, 1e-30, -1e-30, 20, -20, 88, -88, 104, -104],
                                              dtype=np.float32)])
    got = fn(points)
    assert got.dtype == np.float32
    for x, g in zip(points.tolist(), got.tolist()):
        assert ulp_error(g, oracle_sigmoid_family(x)[fn], np.float32) <= 0.51, (x, g)


def test_sigmoid_derivative_does_not_vanish_past_37():
    # s * (1 - s) is exactly 0 for x > 37; the true value is exp(-x) / (1 + exp(-x))**2.
    for x in (38.0, 100.0, 700.0):
        assert ulp_error(R.sigmoid_derivative(x), oracle_sigmoid_family(x)[R.sigmoid_derivative]) <= 1
    assert R.sigmoid_derivative(-40.0) == R.sigmoid_derivative(40.0) > 0


def test_softplus_is_minus_log_sigmoid_of_minus_x():
    xs = [-745.0, -40.0, -1.0, -1e-300, 0.0, 1e-300, 1.0, 40.0, 745.0]
    assert R.softplus(xs) == [-v for v in R.log_sigmoid([-x for x in xs])]


@pytest.mark.parametrize("signs", ["positive", "mixed"])
def test_logsumexp_with_b_within_2_ulp(signs):
    rng = np.random.default_rng(11)
    for n in (2, 5, 30):
        x = rng.standard_normal(n) * 10
        b = rng.uniform(0.1, 3.0, n)
        if signs == "mixed":
            # A few negative weights on small terms: no cancellation to speak of.
            b[x < np.median(x) - 5] *= -1
        terms = [mp.mpf(bi) * mp.exp(mp.mpf(xi)) for xi, bi in zip(x.tolist(), b.tolist())]
        exact = mp.log(mp.fsum(terms))
        got = R.logsumexp(x, b=b)
        assert ulp_error(got, exact) <= 2.0, (x, b, got)


@pytest.mark.parametrize("x, b", [
    ([1e300, 0.0], [1e-300, 1e300]),          # b is folded in without overflow ...
    ([-1400.0, 0.0], [1e300, 1e-320]),         # ... and without underflow
    ([0.0, 0.0], [DBL_MAX, DBL_MAX]),
    ([709.0, 0.0], [DBL_MAX, 1.0]),
    ([0.0, -1.0], [5e-324, 1.0]),
])
def test_logsumexp_with_extreme_b(x, b):
    exact = mp.log(mp.fsum(mp.mpf(bi) * mp.exp(mp.mpf(xi)) for xi, bi in zip(x, b)))
    assert ulp_error(R.logsumexp(x, b=b), exact) <= 2.0


def test_log2_split_constants():
    assert mp.mpf(_LN2_HI) + mp.mpf(_LN2_LO) == pytest.approx(mp.log(2), abs=1e-25)
    # k * _LN2_HI is exact for every exponent a float can have.
    for k in (1, 3, 1023, 1074, 2200, -2200):
        assert mp.mpf(k * _LN2_HI) == k * mp.mpf(_LN2_HI)


finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(finite_floats, min_size=1, max_size=8))
def test_hypothesis_rows_against_oracle(row):
    worst = worst_reduction_ulps(row)
    assert worst["softmax"] <= 2.0 and worst["log_softmax"] <= 2.0, worst
    m, log_s = oracle_parts(row)  # logsumexp can cancel: see lse_cancellation_bound
    assert abs(mp.mpf(R.logsumexp(row)) - (m + log_s)) <= lse_cancellation_bound(row, m + log_s)


@settings(max_examples=150, deadline=None, database=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_hypothesis_sigmoid_family_against_oracle(x):
    exact = oracle_sigmoid_family(x)
    for fn in ELEMENTWISE:
        assert ulp_error(fn(x), exact[fn]) <= 2.0, (fn.__name__, x)


# ---------------------------------------------------------------------------------------------
# Values at the edges
# ---------------------------------------------------------------------------------------------

def nan_list(n):
    return [NAN] * n


def is_nan_list(values):
    return all(math.isnan(v) for v in values)


@pytest.mark.parametrize("row", [[1.0, NAN], [NAN, INF], [NAN, -INF], [NAN]])
def test_nan_slice(row):
    assert is_nan_list(R.softmax(row))
    assert is_nan_list(R.log_softmax(row))
    assert math.isnan(R.logsumexp(row))


@pytest.mark.parametrize("row", [[1.0, INF], [INF, INF], [INF, -INF], [INF]])
def test_plus_inf_slice(row):
    assert is_nan_list(R.softmax(row))
    assert is_nan_list(R.log_softmax(row))
    assert R.logsumexp(row) == INF


@pytest.mark.parametrize("row", [[-INF], [-INF, -INF, -INF]])
def test_all_minus_inf_slice(row):
    assert is_nan_list(R.softmax(row))
    assert is_nan_list(R.log_softmax(row))
    assert R.logsumexp(row) == -INF


def test_minus_inf_beside_finite():
    assert R.softmax([-INF, 0.0, -INF]) == [0.0, 1.0, 0.0]
    assert R.log_softmax([-INF, 0.0, -INF]) == [-INF, 0.0, -INF]
    assert R.logsumexp([-INF, 0.0, -INF]) == 0.0


def test_slices_are_independent():
    x = [[1.0, NAN], [INF, 0.0], [-INF, -INF], [0.0, 0.0], [-INF, 3.0]]
    p = R.softmax(x)
    assert is_nan_list(p[0] + p[1] + p[2])
    assert p[3] == [0.5, 0.5] and p[4] == [0.0, 1.0]
    assert [math.isnan(v) for v in R.logsumexp(x)] == [True, False, False, False, False]
    assert R.logsumexp(x)[1:] == [INF, -INF, math.log(2.0), 3.0]


def test_huge_values_do_not_overflow():
    assert R.softmax([DBL_MAX, DBL_MAX]) == [0.5, 0.5]
    assert R.log_softmax([DBL_MAX, DBL_MAX]) == [-math.log(2.0)] * 2
    # The exact value DBL_MAX + log 2 is far below DBL_MAX + ulp(DBL_MAX) / 2 (ulp = 2**971), so
    # it correctly rounds to DBL_MAX, not to inf; the oracle agrees.
    assert R.logsumexp([DBL_MAX, DBL_MAX]) == DBL_MAX
    assert ulp_error(DBL_MAX, mp.mpf(DBL_MAX) + mp.log(2)) < 0.5
    assert R.logsumexp([DBL_MAX, -DBL_MAX]) == DBL_MAX
    assert R.softmax([DBL_MAX, -DBL_MAX]) == [1.0, 0.0]
    assert R.log_softmax([DBL_MAX, -DBL_MAX]) == [0.0, -INF]  # -2 * DBL_MAX rounds to -inf
    assert R.softmax(np.array([FLT_MAX, FLT_MAX], dtype=np.float32)).tolist() == [0.5, 0.5]


def test_result_that_rounds_past_dbl_max_is_minus_inf_without_error():
    a = DBL_MAX / 2
    # (a - (-(a + ulp(a)))) is DBL_MAX + ulp(DBL_MAX)/2 exactly: halfway, rounds to infinity.
    assert R.log_softmax([a, -(a + math.ulp(a))]) == [0.0, -INF]


def test_empty_inputs():
    assert R.softmax([]) == [] and R.log_softmax([]) == []
    assert R.logsumexp([]) == -INF
    assert R.softmax(np.zeros((3, 0))).shape == (3, 0)
    assert R.log_softmax(np.zeros((0, 3)), axis=0).shape == (0, 3)
    np.testing.assert_array_equal(R.logsumexp(np.zeros((3, 0))), [-INF] * 3)
    assert R.logsumexp(np.zeros((0, 3))).shape == (0,)
    assert R.logsumexp(np.zeros((0, 3)), axis=0).tolist() == [-INF] * 3
    for fn in ELEMENTWISE:
        assert fn(np.zeros((2, 0), dtype=np.float32)).shape == (2, 0)
        assert fn([]) == []


def test_zero_d_input_is_a_one_element_slice():
    assert R.softmax(5.0) == 1.0
    assert R.log_softmax(5.0) == 0.0
    assert R.logsumexp(5.0) == 5.0
    for axis in (0, -1, None, (0,), ()):
        assert R.softmax(np.array(5.0), axis=axis) == 1.0
        assert R.logsumexp(np.array(-3.0), axis=axis) == -3.0
    with pytest.raises(AxisError):
        R.softmax(5.0, axis=1)
    with pytest.raises(AxisError):
        R.softmax(5.0, axis=(0, -1))
    assert R.logsumexp(np.array(2.0), keepdims=True).shape == ()
    assert math.isnan(R.softmax(NAN)) and math.isnan(R.softmax(INF)) and math.isnan(R.softmax(-INF))


def test_where_leaves_entries_out():
    x = [[1.0, 2.0, NAN], [INF, 0.0, 0.0]]
    where = [[True, True, False], [False, True, True]]
    p = R.softmax(x, where=where)
    assert p[0][2] == 0.0 and p[1] == [0.0, 0.5, 0.5]
    assert p[0][:2] == R.softmax([1.0, 2.0])
    lp = R.log_softmax(x, where=where)
    assert lp[0][2] == -INF and lp[1] == [-INF] + [-math.log(2.0)] * 2
    assert R.logsumexp(x, where=where) == [R.logsumexp([1.0, 2.0]), math.log(2.0)]


def test_where_broadcasts():
    x = np.arange(6.0).reshape(2, 3)
    p = R.softmax(x, where=np.array([True, False, True]))
    assert p[:, 1].tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(p[:, [0, 2]], R.softmax(x[:, [0, 2]]))
    np.testing.assert_array_equal(R.softmax(x, where=True), R.softmax(x))


@pytest.mark.parametrize("row, where", [
    ([1.0, 2.0], [False, False]),
    ([-INF, -INF], [True, True]),
    ([-INF, NAN, INF], [True, False, False]),
    ([], []),
])
def test_fully_masked_slice(row, where):
    assert R.softmax(row, where=where) == [0.0] * len(row)
    assert R.log_softmax(row, where=where) == [-INF] * len(row)
    assert R.logsumexp(row, where=where) == -INF


def test_nan_or_inf_among_kept_entries_with_where():
    # The whole slice is NaN, masked positions included ("as if -inf" + "NaN for the slice").
    assert is_nan_list(R.softmax([NAN, 1.0, 2.0], where=[True, True, False]))
    assert is_nan_list(R.log_softmax([INF, 1.0, 2.0], where=[True, False, True]))
    assert math.isnan(R.logsumexp([NAN, 1.0], where=[True, True]))
    assert R.logsumexp([INF, 1.0], where=[True, False]) == INF


def test_where_must_be_boolean_and_broadcastable():
    with pytest.raises(TypeError, match="bool"):
        R.softmax([1.0, 2.0], where=[1, 0])
    with pytest.raises(ValueError):
        R.softmax([1.0, 2.0], where=[True, False, True])


def test_logsumexp_b():
    assert R.logsumexp([1.0, 2.0], b=[1.0, 1.0]) == R.logsumexp([1.0, 2.0])
    assert R.logsumexp([0.0, 0.0], b=[2.0, 0.5]) == pytest.approx(math.log(2.5), rel=1e-16)
    assert R.logsumexp([0.0], b=3) == pytest.approx(math.log(3), rel=1e-16)  # b broadcasts
    # b == 0 removes the entry entirely, even where x is +inf or NaN (as SciPy).
    assert R.logsumexp([INF, 1.0], b=[0.0, 1.0]) == 1.0
    assert R.logsumexp([NAN, 1.0], b=[0.0, 1.0]) == 1.0
    assert R.logsumexp([1.0, 2.0], b=[0.0, 0.0]) == -INF
    assert R.logsumexp([1.0, 2.0], b=[0.0, 0.0], return_sign=True) == (-INF, 0.0)


def test_logsumexp_b_validation():
    with pytest.raises(ValueError):
        R.logsumexp([1.0, 2.0], b=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="complex128"):
        R.logsumexp([1.0, 2.0], b=[1j, 1.0])
    assert R.logsumexp(np.zeros((2, 2)), b=[[1.0], [3.0]]).tolist() == \
        [math.log(2.0), pytest.approx(math.log(6.0), rel=1e-16)]


def test_logsumexp_negative_total_and_return_sign():
    assert math.isnan(R.logsumexp([1.0, 0.0], b=[-1.0, 1.0]))
    value, sign = R.logsumexp([1.0, 0.0], b=[-1.0, 1.0], return_sign=True)
    assert sign == -1.0
    assert ulp_error(value, mp.log(mp.e - 1)) <= 1
    assert R.logsumexp([1.0, 1.0], b=[-1.0, 1.0], return_sign=True) == (-INF, 0.0)  # exact zero
    assert R.logsumexp([1.0, 2.0], return_sign=True) == (R.logsumexp([1.0, 2.0]), 1.0)
    assert R.logsumexp([-INF], return_sign=True) == (-INF, 0.0)
    assert R.logsumexp([], return_sign=True) == (-INF, 0.0)
    assert R.logsumexp([INF, 1.0], return_sign=True) == (INF, 1.0)
    assert R.logsumexp([INF, 1.0], b=[-1.0, 1.0], return_sign=True) == (INF, -1.0)
    assert math.isnan(R.logsumexp([INF, 1.0], b=[-1.0, 1.0]))
    for x, b in [([NAN, 1.0], None), ([INF, INF], [1.0, -1.0]), ([-INF, 0.0], [INF, 1.0]),
                 ([0.0, 0.0], [NAN, 1.0])]:
        value, sign = R.logsumexp(x, b=b, return_sign=True)
        assert math.isnan(value) and math.isnan(sign), (x, b)
    value, sign = R.logsumexp(np.ones((2, 3), dtype=np.float32), axis=1, return_sign=True)
    assert value.dtype == sign.dtype == np.float32 and sign.tolist() == [1.0, 1.0]


def test_logsumexp_keepdims_and_axes():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert R.logsumexp(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert R.logsumexp(x, axis=None, keepdims=True).shape == (1, 1, 1)
    assert np.ndim(R.logsumexp(x, axis=None)) == 0
    np.testing.assert_array_equal(R.logsumexp(x, axis=(2, 0)),
                                  R.logsumexp(np.moveaxis(x, 0, -1).reshape(3, 8)))
    np.testing.assert_array_equal(R.logsumexp(x, axis=None), R.logsumexp(x.ravel()))
    np.testing.assert_array_equal(R.logsumexp(x, axis=()), x)


def test_softmax_over_several_axes():
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    p = R.softmax(x, axis=(0, 2))
    np.testing.assert_allclose(p.sum(axis=(0, 2)), 1.0, rtol=1e-15)
    flat = R.softmax(np.moveaxis(x, 1, 0).reshape(3, 8))
    np.testing.assert_array_equal(np.moveaxis(p, 1, 0).reshape(3, 8), flat)
    np.testing.assert_array_equal(R.log_softmax(x, axis=0), R.log_softmax(x.T, axis=-1).T)
    np.testing.assert_array_equal(R.softmax(x, axis=None).reshape(-1), R.softmax(x.reshape(-1)))
    np.testing.assert_array_equal(R.softmax(x, axis=()), np.ones_like(x))


def test_sigmoid_family_edges():
    assert R.sigmoid([INF, -INF]) == [1.0, 0.0]
    assert R.sigmoid_derivative([INF, -INF]) == [0.0, 0.0]
    assert R.log_sigmoid([INF, -INF]) == [0.0, -INF]
    assert R.softplus([INF, -INF]) == [INF, 0.0]
    for fn in ELEMENTWISE:
        assert math.isnan(fn(NAN))
    assert R.sigmoid(0.0) == 0.5 and R.sigmoid_derivative(0.0) == 0.25
    assert R.sigmoid(-745.0) == 5e-324 and R.sigmoid(-746.0) == 0.0
    assert R.sigmoid_derivative(745.0) == 5e-324 and R.sigmoid_derivative(-746.0) == 0.0
    assert R.softplus(-745.0) == 5e-324 and R.log_sigmoid(745.0) == -5e-324
    assert R.log_sigmoid(-1e308) == -1e308 and R.softplus(DBL_MAX) == DBL_MAX
    assert R.sigmoid(-0.0) == 0.5 and R.sigmoid(5e-324) == 0.5


@pytest.mark.parametrize("fn", ALL)
def test_no_warnings_on_nasty_input(fn, recwarn):
    x = np.array([[NAN, INF, -INF, 0.0, DBL_MAX, -DBL_MAX, 5e-324, -0.0]])
    with np.errstate(over="ignore"):
        x32, x16 = x.astype(np.float32), x.astype(np.float16)
    x32[0, 4:6], x16[0, 4:6] = [FLT_MAX, -FLT_MAX], [65504, -65504]
    fn(x)
    fn(x32)
    fn(x16)
    fn(np.array([0, 255], dtype=np.uint8))
    fn(np.array([np.iinfo(np.uint64).max, 0], dtype=np.uint64))
    assert len(recwarn) == 0


# ---------------------------------------------------------------------------------------------
# Input and output conventions
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", ALL)
def test_lists_in_lists_out(fn):
    out = fn([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(out, list) and len(out) == 2
    flat = out if fn is R.logsumexp else [v for row in out for v in row]
    assert len(flat) == (2 if fn is R.logsumexp else 4)
    assert all(type(v) is float for v in flat)
    assert fn((1.0, 2.0)) == fn([1.0, 2.0]) == fn(np.array([1.0, 2.0])).tolist()


@pytest.mark.parametrize("fn", ALL)
def test_python_scalar_in_python_float_out(fn):
    for x in (2, 2.0, True):
        assert type(fn(x)) is float
    assert type(R.logsumexp([1.0, 2.0])) is float


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("dtype, expected", [
    (np.float64, np.float64), (np.float32, np.float32), (np.float16, np.float16),
    (np.int8, np.float64), (np.int64, np.float64), (np.uint64, np.float64), (np.bool_, np.float64),
])
def test_numpy_in_numpy_out_dtype(fn, dtype, expected):
    x = np.array([[0, 1, 1], [1, 0, 0]], dtype=dtype)
    res = fn(x)
    assert isinstance(res, np.ndarray) and res.dtype == expected
    assert res.shape == ((2,) if fn is R.logsumexp else (2, 3))
    zero_d = fn(np.array(1, dtype=dtype))
    assert isinstance(zero_d, np.generic) and zero_d.dtype == expected
    assert fn(np.array([1, 0, 1], dtype=dtype), dtype=np.float32).dtype == np.float32


def test_float16_and_float32_are_rounded_once_from_float64():
    x16 = np.array([0.0, 1.0, 2.0], dtype=np.float16)
    np.testing.assert_array_equal(R.softmax(x16), R.softmax(x16.astype(np.float64)).astype(np.float16))
    x32 = np.random.default_rng(5).standard_normal(50).astype(np.float32)
    for fn in ALL:
        np.testing.assert_array_equal(fn(x32), np.asarray(fn(x32.astype(np.float64))).astype(np.float32))


def test_integer_inputs_are_converted_before_arithmetic():
    x = np.array([0, np.iinfo(np.uint64).max], dtype=np.uint64)  # no wrap-around in x - max
    assert R.softmax(x).tolist() == [0.0, 1.0]
    assert R.softmax(np.array([-128, 127], dtype=np.int8)).tolist() == R.softmax([-128.0, 127.0])


@pytest.mark.parametrize("fn", ALL)
@pytest.mark.parametrize("bad", [
    np.array([1 + 2j]), np.array([1.0], dtype=object), np.array(["a"]),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
])
def test_unsupported_dtypes_raise_type_error_naming_the_dtype(fn, bad):
    with pytest.raises(TypeError, match=re.escape(str(bad.dtype))):
        fn(bad)


@pytest.mark.parametrize("fn", ALL)
def test_bad_result_dtype(fn):
    with pytest.raises(TypeError, match="int32"):
        fn([1.0, 2.0], dtype=np.int32)


@pytest.mark.parametrize("fn", REDUCTIONS)
def test_axis_validation(fn):
    x = np.zeros((2, 3))
    for axis in (2, -3, (0, 2)):
        with pytest.raises(AxisError):
            fn(x, axis=axis)
    for axis in ((0, 0), (1, -1)):
        with pytest.raises(AxisError):
            fn(x, axis=axis)
    for axis in (1.0, "0", [0], True):
        with pytest.raises(TypeError):
            fn(x, axis=axis)
    assert np.shape(fn(x, axis=np.int64(0))) == np.shape(fn(x, axis=0))


@pytest.mark.parametrize("fn", ALL)
def test_out(fn):
    x = np.random.default_rng(2).standard_normal((3, 4))
    shape = (3,) if fn is R.logsumexp else (3, 4)
    out = np.empty(shape)
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, fn(x))
    out32 = np.empty(shape, dtype=np.float32)
    assert fn(x, out=out32, dtype=np.float32) is out32
    np.testing.assert_array_equal(out32, fn(x).astype(np.float32))
    strided = np.empty((2 * shape[0],) + shape[1:])[::-2]
    assert fn(x, out=strided) is strided
    np.testing.assert_array_equal(strided, fn(x))
    with pytest.raises(ValueError, match="shape"):
        fn(x, out=np.empty((5,)))
    with pytest.raises(TypeError, match="float64"):
        fn(x, out=np.empty(shape, dtype=np.float32))
    with pytest.raises(TypeError):
        fn(x, out=[0.0] * 12)
    readonly = np.empty(shape)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fn(x, out=readonly)
    # out may be x itself: same answer as out of place.
    if fn is not R.logsumexp:
        y = x.copy()
        assert fn(y, out=y) is y
        np.testing.assert_array_equal(y, fn(x))


def test_logsumexp_out_with_keepdims_and_return_sign():
    x = np.ones((2, 3))
    out = np.empty((2, 1))
    value, sign = R.logsumexp(x, axis=1, keepdims=True, out=out, return_sign=True)
    assert value is out and sign.shape == (2, 1)
    np.testing.assert_array_equal(out, R.logsumexp(x, axis=1, keepdims=True))


@pytest.mark.parametrize("fn", ALL)
def test_any_layout_and_input_not_mutated(fn):
    base = np.random.default_rng(6).standard_normal((4, 6))
    expected = fn(base)
    views = [base[:, ::-1][:, ::-1], np.asfortranarray(base), base.astype(">f8")]
    readonly = base.copy()
    readonly.flags.writeable = False
    views.append(readonly)
    for v in views:
        before = v.copy()
        np.testing.assert_array_equal(fn(v), expected)
        np.testing.assert_array_equal(v, before)
    strided = np.empty((8, 12))
    strided[::2, ::2] = base
    np.testing.assert_array_equal(fn(strided[::2, ::2]), expected)


def test_result_is_never_a_view_of_the_input():
    x = np.array([1.0, 2.0])
    for fn in ALL:
        res = fn(x)
        assert not np.shares_memory(res, x)


@pytest.mark.parametrize("row", [
    [-38.91630824610742, -47.149308468251164, -47.06483510540277, -0.1574364803846506,
     -3.911414239977204, -2.0776730001135997],
    [-1.8020079978548287, -0.18144600660877136],
    [-0.12692801104297205, -2.1269280110429722],
])
def test_logsumexp_where_max_and_log_cancel(row):
    """Regression: where m + log(sum) cancels, each term's math.exp
    rounding showed in the result (up to ~25 ULP on the first row); such slices are summed
    again in decimal, to within half an ULP of mpmath."""
    exact = mp.log(mp.fsum(mp.exp(mp.mpf(v)) for v in row))
    assert ulp_error(float(R.logsumexp(np.array(row))), exact) <= 0.5
    got, sign = R.logsumexp(np.array(row + row), b=np.full(2 * len(row), 0.5),
                            return_sign=True)               # the same sum, through b=
    assert sign == 1.0 and ulp_error(float(got), exact) <= 0.5


# regression: reference.softmax_backward([inf, -inf], [.5, .5]) raised ValueError from
# math.fsum (inf - inf), where the fast function gives NaN: the twins never raise on values
@pytest.mark.parametrize("g, y", [([math.inf, -math.inf], [0.5, 0.5]),
                                  ([1e308, 1e308, 1e308], [1.0, 1.0, 1.0]),
                                  ([math.nan, math.inf], [0.5, 0.5]),
                                  ([1.0, 2.0], [math.inf, -math.inf])])
def test_backward_twins_give_nan_where_sums_meet_inf_minus_inf(g, y):
    import logitkit
    from logitkit import reference
    g, y = np.array(g), np.array(y)
    for name in ("softmax_backward", "log_softmax_backward"):
        with np.errstate(all="ignore"):
            fast = getattr(logitkit, name)(g, y)
        ref = getattr(reference, name)(g, y)
        assert np.isnan(ref).tolist() == np.isnan(fast).tolist() or np.isnan(ref).any(), name


def test_loss_twins_never_raise_on_infinite_values():
    from logitkit import reference
    x = np.array([[0.0, -math.inf, 1.0], [2.0, 1.0, -math.inf]])
    w = np.array([1.0, -1.0, math.inf])
    reference.cross_entropy(x, np.array([0, 2]), weight=w, label_smoothing=0.5)
    reference.cross_entropy(x, np.array([0, 2]), weight=np.array([-1.0, 1.0, 1.0]),
                            label_smoothing=0.5, return_grad=True)
    reference.cross_entropy(x, np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0]]),
                            weight=np.array([math.inf, -math.inf, 1.0]), return_grad=True)
    reference.binary_cross_entropy_with_logits(np.array([1e308, -1e308, 3.0]),
                                               np.array([0.0, 1.0, 0.5]),
                                               weight=np.array([math.inf, -math.inf, 1.0]))
    reference.logsumexp(np.array([0.0, 0.0]), b=np.array([math.inf, -math.inf]))
