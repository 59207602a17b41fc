"""sparsemax and sparsemax_backward: mpmath and the exact reference, the simplex, ties, edges,
the gradient against finite differences."""

import warnings

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_array_equal

import logitkit as lk
from logitkit.testing.oracle import round_exact, ulp_error

BAR = 4.0


def _exact_row(row):
    """sparsemax of one row in 200-bit arithmetic (the paper's algorithm, sorted)."""
    with mpmath.workprec(200):
        z = [mpmath.mpf(float(v)) for v in row]
        s, tau = mpmath.mpf(0), None
        for k, v in enumerate(sorted(z, reverse=True), start=1):
            if 1 + k * v <= s + v:
                break
            s += v
            tau = (s - 1) / k
        return [max(v - tau, mpmath.mpf(0)) for v in z]


def _rows(dtype, seed=0):
    rng = np.random.default_rng(seed)
    rows = [rng.standard_normal(n) * scale for n in (2, 3, 5, 8, 17, 64, 300)
            for scale in (0.1, 1.0, 10.0)]
    rows += [rng.standard_normal(20) * 0.3 + 1e6, rng.standard_normal(20) * 1e-3 - 50.0,
             rng.uniform(0, 1e-8, 40), np.linspace(0, 1, 33) ** 3,
             np.concatenate([np.full(10, 0.1), rng.standard_normal(5)])]
    return [r.astype(dtype) for r in rows]


def numpy_sparsemax(z, axis=-1):
    """The paper's algorithm composed in NumPy: sort, cumulative sum, threshold."""
    z = np.moveaxis(np.asarray(z, dtype=np.float64), axis, -1)
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cs = np.cumsum(zs, axis=-1)
    support = 1 + k * zs > cs
    kz = support.sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cs, kz - 1, axis=-1) - 1) / kz
    return np.moveaxis(np.maximum(z - tau, 0.0), -1, axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accuracy_against_mpmath(each_simd_path, dtype):
    worst = 0.0
    for i, row in enumerate(_rows(dtype)):
        got = lk.sparsemax(row)
        assert got.dtype == dtype
        err = ulp_error(got, round_exact(_exact_row(row), dtype)).max()
        assert err <= BAR, f"{each_simd_path}: row {i} (n={row.size}): {err:.2f} ULP"
        worst = max(worst, err)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_the_exact_reference(dtype):
    for row in _rows(dtype, seed=1):
        got = lk.sparsemax(row)
        want = lk.reference.sparsemax(row)
        assert (np.abs(got.astype(np.float64) - want) <= 2 * np.spacing(want.astype(dtype))
                ).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_to_one_and_lies_on_the_simplex(dtype):
    x = np.random.default_rng(2).standard_normal((200, 37)).astype(dtype) * 3
    y = lk.sparsemax(x, axis=-1)
    assert (y >= 0).all() and (y <= 1).all()
    total = y.astype(np.float64).sum(axis=-1)
    assert np.abs(total - 1).max() <= 4 * np.finfo(dtype).eps
    assert (y == 0).any(axis=-1).mean() > 0.9           # sparse, unlike softmax


def test_support_at_exact_ties():
    # tau = 0.25 exactly equals the third entry: outside the support
    for dtype in (np.float32, np.float64):
        assert_array_equal(lk.sparsemax(np.array([1.0, 0.5, 0.25], dtype)), [0.75, 0.25, 0.0])
        assert_array_equal(lk.reference.sparsemax(np.array([1.0, 0.5, 0.25], dtype)),
                           [0.75, 0.25, 0.0])
    assert_array_equal(lk.sparsemax([1.0, 0.0]), [1.0, 0.0])
    assert_array_equal(lk.sparsemax([3.0, 3.0, 1.0]), [0.5, 0.5, 0.0])
    assert_array_equal(lk.sparsemax([0.2, 0.2, 0.2, 0.2]), [0.25] * 4)
    # one ulp above the tie: inside, with the smallest positive share the arithmetic allows
    up = np.nextafter(0.25, 1.0)
    y = lk.sparsemax([1.0, 0.5, up])
    assert y[2] > 0 and abs(y.sum() - 1) <= 2e-16
    assert ulp_error(y, round_exact(_exact_row([1.0, 0.5, up]), np.float64)).max() <= BAR


def test_edges():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            assert_array_equal(lk.sparsemax([-np.inf, 0.0, -np.inf]), [0.0, 1.0, 0.0])
            assert np.isnan(lk.sparsemax([-np.inf, -np.inf])).all()
            assert np.isnan(lk.sparsemax([np.inf, 0.0])).all()
            assert np.isnan(lk.sparsemax([np.nan, 0.0, 1.0])).all()
            assert_array_equal(lk.sparsemax([1.0, 2.0], where=[False, False]), [0.0, 0.0])
            assert_array_equal(lk.sparsemax([1.0, 2.0, 5.0], where=[True, True, False]),
                               [0.0, 1.0, 0.0])
            assert_array_equal(lk.sparsemax([1e308, 1e308]), [0.5, 0.5])
            assert lk.sparsemax(7.0) == 1.0
            assert lk.sparsemax(np.zeros((3, 0))).shape == (3, 0)


def test_axes_and_layouts():
    x = np.random.default_rng(3).standard_normal((4, 5, 6))
    for axis in (0, 1, -1, (0, 2), None):
        got = lk.sparsemax(x, axis=axis)
        assert_array_equal(got, lk.sparsemax(np.asfortranarray(x), axis=axis))
        ref = lk.reference.sparsemax(x, axis=axis)
        assert (np.abs(got - ref) <= 2 * np.spacing(np.abs(ref))).all()
    out = np.empty_like(x)
    assert lk.sparsemax(x, axis=1, out=out) is out
    assert_array_equal(out, lk.sparsemax(x, axis=1))


def test_composed_numpy_sparsemax_agrees_on_benign_rows():
    x = np.random.default_rng(4).standard_normal((50, 12))
    assert np.allclose(lk.sparsemax(x), numpy_sparsemax(x), rtol=1e-12, atol=1e-15)


# ---- backward

def _jvp_fd(x, g, h=1e-7):
    """g . J(x) by central differences, row by row (sparsemax is piecewise linear: exact up
    to rounding away from the kinks)."""
    grad = np.zeros_like(x)
    for i in range(x.shape[-1]):
        e = np.zeros_like(x)
        e[..., i] = h
        grad[..., i] = ((lk.sparsemax(x + e) - lk.sparsemax(x - e)) * g).sum(-1) / (2 * h)
    return grad


def test_backward_against_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((30, 7)) * 2
    y = lk.sparsemax(x)
    # no entry within 1e-5 of its row's tau: the finite differences cross no kink
    tau = np.array([(r - s)[s > 0][0] for r, s in zip(x, y)])
    assert np.abs(x - tau[:, None]).min() > 1e-5
    g = rng.standard_normal(x.shape)
    got = lk.sparsemax_backward(g, y)
    np.testing.assert_allclose(got, _jvp_fd(x, g), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_equals_the_exact_reference(each_simd_path, dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((40, 9)) * 3).astype(dtype)
    y = lk.sparsemax(x)
    g = (rng.standard_normal(x.shape) * 10).astype(dtype)
    got = lk.sparsemax_backward(g, y)
    want = lk.reference.sparsemax_backward(g, y)
    assert got.dtype == dtype
    err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want).astype(dtype))
    assert np.nanmax(np.where(want == 0, 0, err)) <= 2
    assert (got[y == 0] == 0).all()


def test_backward_edges_and_axes():
    y = np.array([[0.5, 0.5, 0.0], [np.nan, 0.0, 1.0]])
    g = np.array([[1.0, 3.0, 9.0], [1.0, 1.0, 1.0]])
    got = lk.sparsemax_backward(g, y)
    assert_array_equal(got[0], [-1.0, 1.0, 0.0])
    assert np.isnan(got[1]).all()
    x = np.random.default_rng(7).standard_normal((3, 4, 5))
    y = lk.sparsemax(x, axis=1)
    g = np.ones_like(x)
    assert_array_equal(lk.sparsemax_backward(g, y, axis=1), np.zeros_like(x))
    with pytest.raises(ValueError, match="sparsemax_backward.*same shape"):
        lk.sparsemax_backward(g[0], y)


def test_torch_layout_round_trip_against_a_torch_autograd_sparsemax():
    torch = pytest.importorskip("torch")
    x = torch.randn(6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    x.requires_grad_(True)
    zs, _ = torch.sort(x, dim=-1, descending=True)
    k = torch.arange(1, 11, dtype=x.dtype)
    cs = zs.cumsum(-1)
    kz = (1 + k * zs > cs).sum(-1, keepdim=True)
    tau = (cs.gather(-1, kz - 1) - 1) / kz
    y = torch.clamp(x - tau, min=0)
    g = torch.randn(6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    (y * g).sum().backward()
    y_np = lk.sparsemax(x.detach().numpy())
    np.testing.assert_allclose(y_np, y.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(lk.sparsemax_backward(g.numpy(), y_np), x.grad.numpy(),
                               rtol=1e-12, atol=1e-14)
