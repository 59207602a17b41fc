"""sigmoid, sigmoid_derivative, log_sigmoid and softplus: values, edges, arguments."""

import math

import numpy as np
import pytest

from logitkit import log_sigmoid, sigmoid, sigmoid_derivative, softplus
from logitkit.testing import assert_matches_reference

FAMILY = [sigmoid, sigmoid_derivative, log_sigmoid, softplus]


def test_seed_linear_layer_example():
    np.random.seed(42)
    np.random.randn(5)                                  # the seed's logits come first
    weights, inputs, bias = np.random.randn(5, 5), np.random.randn(5), np.ones(5)
    x1 = weights @ inputs + bias
    np.testing.assert_allclose(x1, [4.99851316, 1.01778965, -0.74321057, 0.75818997,
                                    -0.80840313], rtol=1e-7)
    weights, inputs = np.random.randn(5, 5), np.random.randn(5)
    np.testing.assert_allclose(sigmoid(weights @ inputs + bias),
                               [0.99577714, 0.47530024, 0.17042292, 0.85459768, 0.80969836],
                               rtol=1e-7)


def test_derivative_equals_s_times_one_minus_s_where_that_is_accurate():
    x = np.linspace(-5, 5, 101)
    s = sigmoid(x)
    np.testing.assert_allclose(sigmoid_derivative(x), s * (1 - s), rtol=1e-12)


def test_derivative_does_not_vanish_in_the_tails():
    for x in (37.0, 40.0, -40.0, 700.0):
        assert sigmoid_derivative(x) == pytest.approx(math.exp(-abs(x)), rel=1e-14)
    assert sigmoid_derivative(np.float32(50.0)) == np.float32(math.exp(-50.0))


def test_edges():
    assert sigmoid(np.inf) == 1.0 and sigmoid(-np.inf) == 0.0 and math.isnan(sigmoid(np.nan))
    assert sigmoid_derivative(np.inf) == 0.0 and sigmoid_derivative(-np.inf) == 0.0
    assert log_sigmoid(-np.inf) == -np.inf and log_sigmoid(np.inf) == 0.0
    assert softplus(np.inf) == np.inf and softplus(-np.inf) == 0.0
    assert sigmoid(-0.0) == 0.5 and sigmoid_derivative(0.0) == 0.25
    assert log_sigmoid(0.0) == -math.log(2.0) and softplus(-0.0) == math.log(2.0)
    tiny = 5e-324
    assert sigmoid(tiny) == 0.5 and sigmoid_derivative(tiny) == 0.25
    assert softplus(-740.0) == math.exp(-740.0) > 0        # subnormal result, exact
    assert sigmoid(-740.0) == math.exp(-740.0)
    assert log_sigmoid(-1e308) == -1e308
    for fn in FAMILY:
        assert math.isnan(fn(np.nan))


def test_subnormal_float32_results():
    x = np.float32(-100.0)
    assert sigmoid(x) == np.float32(math.exp(-100.0)) > 0
    assert softplus(x) == np.float32(math.exp(-100.0))


@pytest.mark.parametrize("fn", FAMILY)
def test_matches_reference_and_softplus_identity(fn):
    x = np.random.default_rng(0).standard_normal(1000) * 20
    assert_matches_reference(fn.__name__, x, max_ulp=2)
    assert_matches_reference(fn.__name__, x.astype(np.float32), max_ulp=2)
    np.testing.assert_array_equal(softplus(x), -log_sigmoid(-x))


@pytest.mark.parametrize("fn", FAMILY)
@pytest.mark.parametrize("dtype, expected", [
    (np.float16, np.float16), (np.float32, np.float32), (np.float64, np.float64),
    (np.int16, np.float64), (np.uint32, np.float64), (np.bool_, np.float64)])
def test_dtypes(fn, dtype, expected):
    assert fn(np.ones(3, dtype)).dtype == expected
    assert fn(np.ones(3), dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("fn", FAMILY)
@pytest.mark.parametrize("bad", [np.complex64, object, "S2", "M8[D]"])
def test_unsupported_dtypes(fn, bad):
    with pytest.raises(TypeError):
        fn(np.zeros(2, bad))


@pytest.mark.parametrize("fn", FAMILY)
def test_scalars_lists_and_layouts(fn):
    r = fn(1.5)
    assert isinstance(r, np.float64) and r == fn(np.array([1.5]))[0]
    assert fn([[1.0, 2.0]]).shape == (1, 2)
    x = np.random.default_rng(1).standard_normal((5, 6))
    for view in (x.T, x[::-1, ::2], np.asfortranarray(x)):
        np.testing.assert_array_equal(fn(view), fn(view.copy()))
    assert fn(np.empty((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("fn", FAMILY)
def test_out_and_in_place(fn):
    x = np.random.default_rng(2).standard_normal((4, 5)).astype(np.float32)
    expected = fn(x)
    out = np.empty_like(x, order="F")
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert fn(x, out=x) is x
    np.testing.assert_array_equal(x, expected)
    base = np.random.default_rng(3).standard_normal(10)
    expected = fn(base[:8].copy())
    fn(base[:8], out=base[2:])
    np.testing.assert_array_equal(base[2:], expected)
    with pytest.raises(ValueError, match="shape"):
        fn(x, out=np.empty(3, np.float32))
    with pytest.raises(TypeError, match="dtype"):
        fn(x, out=np.empty_like(x, dtype=np.float64))


def test_no_warnings(recwarn):
    x = np.array([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 0.0])
    for fn in FAMILY:
        fn(x)
        fn(x, dtype=np.float32)
        fn(x.astype(np.float16) if False else np.array([np.inf, -np.inf], np.float16))
    assert not recwarn.list


# regression: log_sigmoid(800.0) was +0.0, while its true value -exp(-800) rounds to -0.0 (as
# SciPy's log_expit gives); results that round to zero keep the sign of the true value
@pytest.mark.parametrize("dtype, big", [(np.float64, 800.0), (np.float32, 120.0)])
def test_signs_of_zero(dtype, big, each_simd_path):
    def bits(v):
        return np.signbit(np.asarray(v)).tolist()
    for n in (1, 3, 17, 64):              # the tails and the vector loops
        x = np.full(n, big, dtype)
        assert bits(log_sigmoid(x)) == [True] * n
        assert bits(log_sigmoid(np.full(n, np.inf, dtype))) == [True] * n
        assert bits(softplus(-x)) == [False] * n
        assert bits(softplus(np.full(n, -np.inf, dtype))) == [False] * n
        assert bits(sigmoid(-x)) == bits(sigmoid_derivative(x)) == [False] * n
        assert bits(log_sigmoid(np.zeros(n, dtype) + 1)) == [True] * n
    from logitkit import reference
    assert math.copysign(1.0, reference.log_sigmoid(big)) == -1.0
    assert math.copysign(1.0, reference.log_sigmoid(math.inf)) == -1.0
    assert math.copysign(1.0, reference.softplus(-big)) == 1.0
