"""logit: SciPy's cases, accuracy against mpmath, the edges, the round trip with the sigmoid."""

import math
import warnings

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_equal

import logitkit as lk
from logitkit.testing.oracle import round_exact, ulp_error

BAR = 2.0


def _exact_logit(p):
    p = mpmath.mpf(float(p))
    return mpmath.log(p / (1 - p))


def _worst_ulp(p, got, dtype):
    with mpmath.workprec(200):
        ref = round_exact([_exact_logit(v) for v in p], dtype)
    err = ulp_error(got, ref)
    i = int(np.argmax(err))
    return float(err[i]), p[i]


# ---- scipy/special/tests/test_logit.py's TestLogit, run against logitkit.logit through a shim

class TestLogitScipyCases:
    """SciPy's logit cases (scipy.special.tests.test_logit.TestLogit, BSD-licensed), with
    `logit` bound to logitkit's."""

    logit = staticmethod(lk.logit)

    def check_logit_out(self, a, expected):
        actual = self.logit(a)
        assert_equal(actual.dtype, a.dtype)
        rtol = 16 * np.finfo(a.dtype).eps
        assert_allclose(actual, expected, rtol=rtol)

    def test_float32(self):
        a = np.concatenate((np.linspace(0, 1, 10, dtype=np.float32),
                            [np.float32(0.0001), np.float32(0.49999),
                             np.float32(0.50001)]))
        expected = np.array([-np.inf, -2.0794415, -1.2527629, -6.9314712e-01,
                             -2.2314353e-01, 2.2314365e-01, 6.9314724e-01,
                             1.2527630, 2.0794415, np.inf,
                             -9.2102404, -4.0054321e-05, 4.0054321e-05],
                            dtype=np.float32)
        self.check_logit_out(a, expected)

    def test_float64(self):
        a = np.concatenate((np.linspace(0, 1, 10, dtype=np.float64),
                            [1e-8, 0.4999999999999, 0.50000000001]))
        expected = np.array([-np.inf, -2.079441541679836, -1.252762968495368,
                             -0.6931471805599454, -0.22314355131420985, 0.22314355131420985,
                             0.6931471805599452, 1.2527629684953674, 2.0794415416798353,
                             np.inf, -18.420680733952366, -3.999023334699814e-13,
                             4.000000330961484e-11])
        self.check_logit_out(a, expected)

    def test_nan(self):
        expected = np.array([np.nan] * 4)
        actual = self.logit(np.array([-3., -2., 2., 3.]))      # and no warning
        assert_equal(expected, actual)


# ---- accuracy

def _probabilities(dtype, seed=0):
    rng = np.random.default_rng(seed)
    tiny = -320 if dtype == np.float64 else -45
    eps = np.finfo(dtype).eps
    p = np.concatenate([
        rng.random(4000),
        0.5 + rng.uniform(-1e-6, 1e-6, 1000),
        0.25 + rng.uniform(-1e-3, 1e-3, 500),
        10.0 ** rng.uniform(tiny, -1, 2000),                   # near 0, subnormals too
        1 - 10.0 ** rng.uniform(math.log10(eps), -1, 2000),     # near 1
    ]).astype(dtype)
    p = np.concatenate([p, np.nextafter(dtype(0.5), np.array([0, 1], dtype)),
                        [np.nextafter(dtype(1), dtype(0)), np.finfo(dtype).smallest_subnormal]])
    return p[(p > 0) & (p < 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accuracy_against_mpmath(each_simd_path, dtype):
    p = _probabilities(dtype)
    worst, where = _worst_ulp(p, lk.logit(p), dtype)
    assert worst <= BAR, f"{each_simd_path} {dtype.__name__}: {worst:.3f} ULP at p={where!r}"


def test_reference_against_mpmath():
    p = _probabilities(np.float64, seed=1)[::7]
    worst, where = _worst_ulp(p, np.array(lk.reference.logit(p)), np.float64)
    assert worst <= 0.5 + 1e-9, f"reference: {worst:.3f} ULP at p={where!r}"


# ---- edges

@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_edges(dtype):
    p = np.array([0.0, -0.0, 1.0, 0.5, -1e-3, 1 + 1e-2, -np.inf, np.inf, np.nan], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            got = lk.logit(p)
    assert got.dtype == dtype
    assert got[0] == -np.inf and got[1] == -np.inf and got[2] == np.inf
    assert got[3] == 0.0 and not np.signbit(got[3])
    assert np.isnan(got[4:]).all()


def test_symmetry_where_one_minus_p_is_exact():
    """logit(1 - p) = -logit(p) where 1 - p is exact (p in [1/2, 1]), to the bar."""
    p = np.random.default_rng(3).uniform(0.5, 1.0, 5000)
    q = 1 - p
    assert (1 - q == p).all()
    d = np.abs(lk.logit(q) + lk.logit(p)) / np.spacing(np.abs(lk.logit(p)))
    assert d.max() <= 2 * BAR


def test_round_trip_with_the_sigmoid(each_simd_path):
    """logit(sigmoid(x)) == x to a few ULP where sigmoid(x) is below 0.27 and a normal number
    (there its relative rounding passes to the logit scaled by at most 1 / ((1 - s) |x|),
    below 1.4); above that, sigmoid's absolute rounding near 1/2 and near 1 costs any inverse
    digits, as the second part checks."""
    rng = np.random.default_rng(4)
    x = -np.concatenate([rng.uniform(1, 40, 3000), rng.uniform(40, 708, 3000), [1.0, 708.0]])
    err = np.abs(lk.logit(lk.sigmoid(x)) - x) / np.spacing(np.abs(x))
    assert err.max() <= 4, f"worst {err.max():.2f} ULP"
    x32 = x[x > -80].astype(np.float32)
    err32 = np.abs(lk.logit(lk.sigmoid(x32)) - x32) / np.spacing(np.abs(x32))
    assert err32.max() <= 4, f"float32: worst {err32.max():.2f} ULP"
    # elsewhere: within what the sigmoid's own rounding allows (its ulp over s (1 - s))
    x = rng.uniform(-1, 30, 3000)
    s = lk.sigmoid(x)
    allowed = 4 * np.spacing(np.abs(x)) + 2 * np.spacing(s) / (s * (1 - s))
    assert (np.abs(lk.logit(s) - x) <= allowed).all()


def test_arguments_and_layouts():
    p = np.random.default_rng(5).random((4, 6))
    expected = lk.logit(p)
    assert_equal(lk.logit(np.asfortranarray(p)), expected)
    assert_equal(lk.logit(p[:, ::2]), expected[:, ::2])
    out = np.empty_like(p)
    assert lk.logit(p, out=out) is out
    assert_equal(out, expected)
    assert lk.logit(p.astype(np.float32), dtype=np.float64).dtype == np.float64
    assert isinstance(lk.logit(0.3), np.float64)
    assert lk.logit([1, 0]).tolist() == [np.inf, -np.inf]
    q = p.copy()
    lk.logit(q, out=q)
    assert_equal(q, expected)


def test_peers_agree_where_they_are_accurate():
    scipy_special = pytest.importorskip("scipy.special")
    p = np.random.default_rng(6).uniform(0.01, 0.99, 1000)
    assert_allclose(lk.logit(p), scipy_special.logit(p), rtol=1e-13, atol=1e-15)
