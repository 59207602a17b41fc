"""Tests of the pure-Python twins of the losses (logitkit.reference): against an mpmath oracle
in ULPs, PyTorch's definitions on small hand-checked cases, and the edge rules."""

import math

import mpmath
import numpy as np
import pytest

from logitkit import reference as R

mp = mpmath.mp
mp.dps = 80


def ulps(got, exact):
    exact = mp.mpf(exact)
    if exact == 0:
        return 0.0 if got == 0 else math.inf
    _, e = mp.frexp(exact)
    return float(abs(mp.mpf(float(got)) - exact) / mp.ldexp(1, max(int(e) - 53, -1074)))


def oracle_ce(row, y):
    xs = [mp.mpf(v) for v in row]
    return mp.log(mp.fsum(mp.exp(v) for v in xs)) - xs[y]


def test_seeds_example():
    loss = R.cross_entropy([2.0, 1.0, 0.1], 0)
    assert round(float(loss), 3) == 0.417
    assert ulps(loss, oracle_ce([2.0, 1.0, 0.1], 0)) <= 1


@pytest.mark.parametrize("row,y", [
    ([0.0, -40.0], 0), ([0.0, -40.0], 1), ([0.0, -800.0], 0), ([1e4, 1e4 - 3, 1e4 + 1e-9], 2),
    ([5.0, 5.0, 5.0], 1), ([-3.0, 2.0, 7.5, 0.25, 1e-3], 3), ([300.0, -300.0, 0.0], 1),
])
def test_cross_entropy_ulps(row, y):
    got = R.cross_entropy(np.array([row]), [y], reduction="none")[0]
    assert ulps(got, oracle_ce(row, y)) <= 2
    _, g = R.cross_entropy(np.array([row]), [y], reduction="sum", return_grad=True)
    xs = [mp.mpf(v) for v in row]
    s = mp.fsum(mp.exp(v) for v in xs)
    for j in range(len(row)):
        exact = (mp.exp(xs[j]) / s) if j != y else -mp.fsum(mp.exp(v) for k, v in enumerate(xs) if k != y) / s
        assert ulps(g[0, j], exact) <= 4


def test_cross_entropy_definitions():
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    lsm = x - np.log(np.exp(x).sum(1, keepdims=True))
    w = np.array([0.2, 1.0, 3.0])
    y = [2, 0]
    np.testing.assert_allclose(R.cross_entropy(x, y, reduction="none"), -lsm[[0, 1], y], rtol=1e-15)
    want = -(w[y] * lsm[[0, 1], y]).sum() / w[y].sum()
    np.testing.assert_allclose(R.cross_entropy(x, y, weight=w), want, rtol=1e-15)
    eps = 0.3
    per = (1 - eps) * -w[y] * lsm[[0, 1], y] + eps / 3 * -(w * lsm).sum(1)
    np.testing.assert_allclose(R.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none"), per, rtol=1e-14)
    np.testing.assert_allclose(R.cross_entropy(x, y, weight=w, label_smoothing=eps), per.sum() / w[y].sum(), rtol=1e-14)
    p = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(R.cross_entropy(x, p, reduction="none"), -(p * lsm).sum(1), rtol=1e-15)
    np.testing.assert_allclose(R.cross_entropy(x, p), -(p * lsm).sum(1).mean(), rtol=1e-15)
    assert R.cross_entropy(x, [-100, 1], reduction="none")[0] == 0.0
    assert math.isnan(R.cross_entropy(x, [-100, -100]))


def test_bce_definitions_and_extremes():
    x = np.array([-3.0, 0.0, 2.5, 40.0, -40.0, 800.0, -800.0])
    t = np.array([0.0, 1.0, 0.3, 1.0, 0.0, 0.0, 1.0])
    got = R.binary_cross_entropy_with_logits(x, t, reduction="none")
    for v, tv, g in zip(x.tolist(), t.tolist(), got.tolist()):
        v = mp.mpf(v)
        exact = tv * mp.log1p(mp.exp(-v)) + (1 - tv) * mp.log1p(mp.exp(v))
        assert ulps(g, exact) <= 2
    loss, grad = R.binary_cross_entropy_with_logits([1.0], [1.0], pos_weight=[3.0], reduction="sum",
                                                    return_grad=True)
    assert ulps(loss, 3 * mp.log1p(mp.exp(-1))) <= 2
    assert ulps(grad[0], -3 / (1 + mp.e)) <= 2


def test_backward_twins():
    g = np.array([[0.5, -1.0, 2.0]])
    y = np.array([[0.2, 0.3, 0.5]])
    s = 0.5 * 0.2 - 0.3 + 1.0
    np.testing.assert_allclose(R.softmax_backward(g, y), y * (g - s), rtol=1e-15)
    ly = np.log(y)
    np.testing.assert_allclose(R.log_softmax_backward(g, ly), g - y * g.sum(), rtol=1e-15)
    np.testing.assert_allclose(R.sigmoid_backward(g, y), g * y * (1 - y), rtol=1e-15)
    assert R.softmax_backward(g.T, y.T, 0).shape == (3, 1)
    assert R.softmax_backward(g, y, None).shape == (1, 3)
    out = np.empty((1, 3))
    assert R.sigmoid_backward(g, y, out=out) is out
    np.testing.assert_allclose(out, g * y * (1 - y), rtol=1e-15)


def test_special_rows():
    x = np.array([[np.nan, 0.0], [np.inf, 0.0], [-np.inf, -np.inf], [0.0, -np.inf]])
    got = R.cross_entropy(x, [0, 0, 0, 1], reduction="none")
    assert np.isnan(got[:3]).all() and got[3] == np.inf
    big = np.finfo(np.float64).max
    assert R.cross_entropy(np.array([[big, -big]]), [1], reduction="none")[0] == np.inf
    assert R.cross_entropy(np.array([[2.0, 1.0]], np.float32), [0]).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_a_dtype_range_apart(dtype):
    """Regression: with logits +-max in one row, the gradient's exp(x - m) met x - m = -inf,
    whose TwoSum error term is inf - inf, and gave NaN (float64) where softmax is exactly
    [1, 0, ...]; and a loss beyond float32's range leaked an overflow RuntimeWarning."""
    big = float(np.finfo(dtype).max)
    x = np.array([[big, -big, -big, 0.5], [0.0, 1.0, 2.0, 3.0]], dtype)
    y = np.array([1, 0])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = R.cross_entropy(x, y, reduction="none", return_grad=True)
        total = R.cross_entropy(x, y, reduction="sum")
    assert loss[0] == np.inf and total == np.inf
    assert grad[0].tolist() == [1.0, -1.0, 0.0, 0.0]


def test_every_target_ignored_gives_zero_gradient():
    """Regression: with every target ignored, reduction 'mean' is 0 / 0
    (NaN, as in PyTorch), and the ignored rows' gradient stays exactly 0 (PyTorch's and the
    kernels'); the reference scaled it by NaN. A row with a zero class weight is still NaN."""
    x = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, 0.0]])
    loss, grad = R.cross_entropy(x, np.array([-100, -100]), return_grad=True)
    assert np.isnan(loss) and grad.tolist() == [[0.0] * 3, [0.0] * 3]
    loss, grad = R.cross_entropy(x, np.array([1, -100]), weight=[1.0, 0.0, 1.0],
                                 return_grad=True)
    assert np.isnan(loss) and np.isnan(grad[0]).all() and grad[1].tolist() == [0.0] * 3
