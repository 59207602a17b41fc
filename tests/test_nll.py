"""nll_loss: PyTorch's F.nll_loss side by side, exact sums, edges and bad input."""

import math
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import logitkit as lk

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _ulps(got, want):
    got, want = np.float64(got), np.float64(want)
    if np.isnan(want):
        return 0.0 if np.isnan(got) else math.inf
    if np.isinf(want) or want == 0:
        return 0.0 if got == want else math.inf
    return float(abs(got - want) / np.spacing(abs(want)))


def _case(seed, shape, axis, dtype=np.float64, weighted=False, ignored=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    lp = lk.log_softmax(x, axis=axis).astype(dtype)
    n = shape[axis]
    t_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    t = rng.integers(0, n, t_shape)
    t = np.where(rng.random(t_shape) < ignored, -100, t)
    w = rng.uniform(0.1, 3.0, n) if weighted else None
    return lp, t, w


def _torch(lp, t, axis, w, reduction, ignore_index=-100):
    """F.nll_loss on the same data in float64, classes moved to dimension 1."""
    x = torch.from_numpy(np.moveaxis(lp.astype(np.float64), axis, 1 if lp.ndim > 1 else 0))
    weight = None if w is None else torch.from_numpy(w)
    return F.nll_loss(x, torch.from_numpy(t.astype(np.int64)), weight=weight,
                      ignore_index=ignore_index, reduction=reduction).numpy()


LAYOUTS = [((8, 5), -1), ((8, 5), 1), ((4, 6, 3), 1), ((3, 4, 2, 5), 1), ((5, 7, 2), -1),
           ((7,), 0)]


@pytest.mark.parametrize("shape,axis", LAYOUTS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignored", [0.0, 0.3])
def test_equals_torch(shape, axis, reduction, weighted, ignored):
    lp, t, w = _case(hash((shape, axis)) % 1000, shape, axis, weighted=weighted,
                     ignored=ignored if len(shape) > 1 else 0.0)
    got = lk.nll_loss(lp, t, axis=axis, weight=w, reduction=reduction)
    want = _torch(lp, t, axis, w, reduction)
    if reduction == "none":
        assert got.shape == want.shape
        assert_array_equal(got, want)        # one product: both round it once
    else:
        assert _ulps(got, want) <= 4, (got, want)   # torch's sums round as they go
    ref = lk.reference.nll_loss(lp, t, axis=axis, weight=w, reduction=reduction)
    if reduction == "none":
        assert_array_equal(got, ref)
    else:
        assert _ulps(got, ref) <= 0.5 or got == ref


def test_torch_layout_with_other_ignore_index():
    lp, t, w = _case(3, (6, 4, 5), 1, weighted=True)
    t[0, 0] = 2
    got = lk.nll_loss(lp, t, axis=1, weight=w, ignore_index=2)
    want = _torch(lp, t, 1, w, "mean", ignore_index=2)
    assert _ulps(got, want) <= 4


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtypes(dtype):
    lp, t, w = _case(4, (50, 6), -1, dtype=dtype, weighted=True)
    for reduction in ("mean", "sum", "none"):
        got = lk.nll_loss(lp, t, weight=w, reduction=reduction)
        assert np.asarray(got).dtype == dtype
        ref = lk.reference.nll_loss(lp, t, weight=w, reduction=reduction)
        assert_array_equal(np.asarray(got), np.asarray(ref))


def test_sums_are_exact_under_cancellation():
    """Terms of both signs that cancel to 1e-12 of their magnitude: the sum and the mean are
    the exact rational results, rounded once (the double-double sums carry about 2^-104 of
    the largest partial sum, far below an ulp of the result here)."""
    rng = np.random.default_rng(5)
    lp = np.empty((2001, 2))
    big = rng.uniform(1, 2, 1000) * 1e3
    lp[:, 0] = rng.permutation(np.concatenate([-big, big, [-1.0 / 3]]))
    lp[:, 1] = 0.0
    w = np.array([1.0 + 2**-30, 1.0])
    t = np.zeros(2001, int)
    exact = -sum(Fraction(w[0]) * Fraction(v) for v in lp[:, 0])
    assert lk.nll_loss(lp, t, weight=w, reduction="sum") == float(exact)
    assert lk.nll_loss(lp, t, weight=w) == float(exact / (2001 * Fraction(w[0])))
    assert lk.reference.nll_loss(lp, t, weight=w, reduction="sum") == float(exact)


def test_mean_over_nothing_is_nan_and_sum_is_zero():
    lp = np.log(np.full((3, 4), 0.25))
    t = np.full(3, -100)
    assert np.isnan(lk.nll_loss(lp, t))
    assert lk.nll_loss(lp, t, reduction="sum") == 0.0
    assert_array_equal(lk.nll_loss(lp, t, reduction="none"), np.zeros(3))
    assert not np.signbit(lk.nll_loss(lp, t, reduction="none")).any()
    assert np.isnan(lk.nll_loss(lp, [0, 1, 2], weight=np.zeros(4)))
    assert np.isnan(lk.nll_loss(np.zeros((0, 4)), np.zeros(0, int)))
    assert np.isnan(_torch(lp, t, -1, None, "mean"))


def test_non_finite_values_follow_ieee_as_torch():
    lp = np.array([[-np.inf, 0.0], [np.nan, 0.0], [-1.0, -np.inf]])
    t = np.array([0, 1, 0])
    assert_array_equal(lk.nll_loss(lp, t, reduction="none"), [np.inf, -0.0, 1.0])
    assert lk.nll_loss(lp, t) == np.inf
    assert np.isnan(lk.nll_loss(lp, [0, 0, 0]))
    w = np.array([0.0, 1.0])
    got = lk.nll_loss(lp, t, weight=w, reduction="none")
    want = _torch(lp, t, -1, w, "none")
    assert_array_equal(got, want)            # 0 * inf is NaN in both
    assert np.isnan(got[0])


def test_one_sample():
    lp = np.log([0.2, 0.3, 0.5])
    assert lk.nll_loss(lp, 2, reduction="none") == -np.log(0.5)
    assert isinstance(lk.nll_loss(lp, 2, reduction="none"), np.float64)
    assert lk.nll_loss(lp, np.int64(1)) == -np.log(0.3)


@pytest.mark.parametrize("call,error,match", [
    (lambda lp, t: lk.nll_loss(lp, t.astype(float)), TypeError, "integer class indices"),
    (lambda lp, t: lk.nll_loss(lp, t.astype(bool)), TypeError, "integer class indices"),
    (lambda lp, t: lk.nll_loss(lp, t[:-1]), ValueError, "target has shape"),
    (lambda lp, t: lk.nll_loss(lp, np.where(t == t[3], 9, t)), ValueError,
     r"target\[3\] = 9 is not a class index"),
    (lambda lp, t: lk.nll_loss(lp, t, weight=np.ones(3)), ValueError, "weight has shape"),
    (lambda lp, t: lk.nll_loss(lp, t, weight=np.ones(4, complex)), TypeError, "weight"),
    (lambda lp, t: lk.nll_loss(lp, t, reduction="avg"), ValueError, "reduction"),
    (lambda lp, t: lk.nll_loss(lp, t, axis=2), np.exceptions.AxisError, "axis"),
    (lambda lp, t: lk.nll_loss(lp, t, axis=1.0), TypeError, "axis must be an int"),
    (lambda lp, t: lk.nll_loss(lp, t, ignore_index=1.5), TypeError, "ignore_index"),
    (lambda lp, t: lk.nll_loss(lp[0, 0], 0), ValueError, "at least one dimension"),
    (lambda lp, t: lk.nll_loss(lp.astype(complex), t), TypeError, "log_probs"),
])
def test_bad_input(call, error, match):
    lp = np.log(np.full((6, 4), 0.25))
    t = np.arange(6) % 4
    with pytest.raises(error, match=match) as info:
        call(lp, t)
    assert "nll_loss" in str(info.value)


def test_foreign_arrays():
    lp, t, w = _case(6, (10, 4), -1, weighted=True)
    got = lk.nll_loss(torch.from_numpy(lp), torch.from_numpy(t), weight=w, reduction="none")
    assert isinstance(got, torch.Tensor)
    assert_array_equal(got.numpy(), lk.nll_loss(lp, t, weight=w, reduction="none"))


def test_dask_twin():
    da = pytest.importorskip("dask.array")
    import logitkit.dask as lkd
    lp, t, w = _case(7, (12, 9, 3), 1, weighted=True, ignored=0.2)
    x = da.from_array(lp, chunks=(5, 4, 3))          # the class axis split across chunks
    y = da.from_array(t, chunks=(5, 3))
    for reduction in ("mean", "sum", "none"):
        got = np.asarray(lkd.nll_loss(x, y, axis=1, weight=w, reduction=reduction).compute())
        want = np.asarray(lk.nll_loss(lp, t, axis=1, weight=w, reduction=reduction))
        if reduction == "none":
            assert_array_equal(got, want)
        else:
            assert _ulps(got, want) <= 4
    bad = t.copy()
    bad[7, 2] = 50
    with pytest.raises(ValueError, match=r"nll_loss: target\[7, 2\] = 50"):
        lkd.nll_loss(x, da.from_array(bad, chunks=(5, 3)), axis=1).compute()


def test_cli(capsys, tmp_path):
    from _cli import cli
    lp, t, _ = _case(12, (2, 5, 3), 1, dtype=np.float32, ignored=0.2)
    np.save(tmp_path / "lp.npy", lp)
    np.save(tmp_path / "t.npy", t)
    out = tmp_path / "loss.npy"
    rc, _, err = cli(capsys, "nll", str(tmp_path / "lp.npy"), "--targets", str(tmp_path / "t.npy"),
                     "--axis", "1", "--ignore-index", "-100", "--reduction", "none", "-o",
                     str(out))
    assert rc == 0, err
    assert_array_equal(np.load(out), lk.nll_loss(lp, t, axis=1, reduction="none"))
    rc, text, err = cli(capsys, "nll", str(tmp_path / "lp.npy"), "--targets",
                        str(tmp_path / "t.npy"), "--axis", "1", "--ignore-index", "-100")
    assert (rc, err) == (0, "")
    assert np.float32(float(text)) == lk.nll_loss(lp, t, axis=1)
    bad = np.where(t < 0, 0, t)
    bad[1, 2] = 7
    np.save(tmp_path / "bad.npy", bad)
    rc, _, err = cli(capsys, "nll", str(tmp_path / "lp.npy"), "--targets",
                     str(tmp_path / "bad.npy"), "--axis", "1")
    assert rc == 2 and "7 is not a class index" in err
