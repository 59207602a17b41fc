"""logitkit.dask against the in-memory functions: chunkings that split every axis (uneven and
size-1 chunks), NaN / inf / all -inf slices, masks, empty and 0-d arrays, the losses against
PyTorch's formulas, on the threaded scheduler and on a LocalCluster with worker processes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
lkd = pytest.importorskip("logitkit.dask")

# The agreement with the in-memory functions, in ULPs of the result dtype (measured worst:
# see test_accuracy_bound_is_tight).
MAX_ULP = {"softmax": 4, "log_softmax": 3, "logsumexp": 3}
FLOATS = [np.float64, np.float32]


@pytest.fixture(autouse=True)
def threaded():
    with dask.config.set(scheduler="threads"):
        yield


def ulp(a, b):
    """|a - b| in ULPs of b's dtype, elementwise; equal specials (NaN, +-inf) give 0, unequal
    ones inf."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(all="ignore"):
        d = np.abs(a64 - b64) / np.spacing(np.abs(b).astype(b.dtype)).astype(np.float64)
    same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
    d = np.where(same, 0.0, d)
    return np.where(np.isnan(d) | (np.isinf(a64) != np.isinf(b64)), np.inf, d)


def assert_close(got, want, max_ulp):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    worst = ulp(got, want)
    if worst.size:
        i = np.unravel_index(np.argmax(worst), worst.shape)
        assert worst[i] <= max_ulp, f"{worst[i]} ULP at {i}: got {got[i]!r}, want {want[i]!r}"


def adversarial(dtype, shape=(13, 17), seed=0):
    """Rows of every kind along the last axis; a permutation spreads them over chunks."""
    rng = np.random.default_rng(seed)
    big = np.finfo(dtype).max
    x = rng.normal(size=shape) * rng.choice([1e-3, 1.0, 30.0, 300.0], size=shape[:-1] + (1,))
    x += rng.choice([0.0, -1e4, 1e3, 5.0], size=shape[:-1] + (1,))
    x = x.astype(dtype)
    n = shape[-1]
    x[0] = -40.0
    x[0, n - 1] = 0.0                          # a confident row, its max in the last chunk
    x[1, 3] = np.nan
    x[2, 5] = np.inf
    x[3] = -np.inf                              # all -inf
    x[4, ::2] = -np.inf                         # -inf beside finite values
    x[5] = big * (1 - np.linspace(0, 1e-3, n)).astype(dtype)      # near the dtype's max
    x[6, 0] = np.nan
    x[6, 1] = np.inf
    x[7] = -big
    x[8] = 0.0                                  # ties: n maxima
    x[9, :] = np.arange(n, dtype=dtype) * -50   # a steep row: subnormal probabilities
    return x


CHUNKINGS_2D = [((5, 5, 3), (1, 7, 9)), ((13,), (4, 4, 4, 4, 1)), ((1,) * 13, (17,)),
                ((6, 7), (1,) * 17), ((13,), (17,))]


# ---------------------------------------------------------------- the softmax family

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("chunks", CHUNKINGS_2D)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [-1, 0, None, (0, 1)])
def test_2d_matches_in_memory(name, dtype, chunks, axis):
    x = adversarial(dtype)
    for data in (x, x.T.copy()) if axis == -1 else (x,):
        dx = da.from_array(data, chunks=chunks if data is x else chunks[::-1])
        got = getattr(lkd, name)(dx, axis=axis)
        assert isinstance(got, da.Array)
        assert_close(got.compute(), getattr(logitkit, name)(data, axis=axis), MAX_ULP[name])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, (0, 2), (1, 2), (0, 1, 2), None])
def test_3d_every_axis_split(name, axis):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 6, 7)) * 20
    x[1, 2, 3] = np.nan
    x[3, :, :] = -np.inf
    x[4, 1, :] = np.inf
    dx = da.from_array(x, chunks=((2, 1, 2), (4, 1, 1), (3, 3, 1)))
    got = getattr(lkd, name)(dx, axis=axis).compute()
    assert_close(got, getattr(logitkit, name)(x, axis=axis), MAX_ULP[name])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_confident_row_split_keeps_tiny_values(name):
    x = np.array([[0.0, -40.0, -40.0, -45.0]])
    dx = da.from_array(x, chunks=(1, 1))
    got = getattr(lkd, name)(dx).compute()
    want = getattr(logitkit, name)(x)
    assert_close(got, want, 1)
    if name == "log_softmax":
        assert got[0, 0] < 0 and abs(got[0, 0] + 8.53e-18) < 1e-19


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_dtype_rules(name, dtype):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(6, 9)) * 4).astype(dtype)
    for chunks in ((6, 9), (4, 2)):
        got = getattr(lkd, name)(da.from_array(x, chunks=chunks)).compute()
        want = getattr(logitkit, name)(x)
        assert_close(got, want, 1 if dtype == np.float16 else MAX_ULP[name])
    got = getattr(lkd, name)(da.from_array(x, chunks=(4, 2)), dtype=np.float32)
    assert got.dtype == np.float32
    assert_close(got.compute(), getattr(logitkit, name)(x, dtype=np.float32), MAX_ULP[name])


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("chunks", [(3, 4), (7, 11)])
def test_where(name, chunks):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 11)) * 3
    x[1, 0] = np.nan                       # masked out: takes no part
    mask = rng.random((7, 11)) > 0.3
    mask[1, 0] = False
    mask[2] = False                        # fully masked: 0 / -inf / -inf, no NaN
    x[4] = -np.inf                         # all -inf counts as fully masked
    got = getattr(lkd, name)(da.from_array(x, chunks=chunks), where=mask).compute()
    assert_close(got, getattr(logitkit, name)(x, where=mask), MAX_ULP[name])
    row = np.array([True] * 6 + [False] * 5)           # broadcast from (11,)
    got = getattr(lkd, name)(da.from_array(x, chunks=chunks), where=row).compute()
    assert_close(got, getattr(logitkit, name)(x, where=row), MAX_ULP[name])
    got = getattr(lkd, name)(da.from_array(x, chunks=chunks), where=da.from_array(mask, 5))
    assert_close(got.compute(), getattr(logitkit, name)(x, where=mask), MAX_ULP[name])


@pytest.mark.parametrize("chunks", [(3, 4), (7, 11)])
def test_logsumexp_keepdims_and_sign(chunks):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 11))
    x[2] = -np.inf
    x[3, 1] = np.nan
    dx = da.from_array(x, chunks=chunks)
    for axis in (0, 1, None, (0, 1)):
        got = lkd.logsumexp(dx, axis=axis, keepdims=True)
        want = logitkit.logsumexp(x, axis=axis, keepdims=True)
        assert got.shape == want.shape
        assert_close(got.compute(), want, 3)
        value, sign = lkd.logsumexp(dx, axis=axis, return_sign=True)
        want_v, want_s = logitkit.logsumexp(x, axis=axis, return_sign=True)
        assert_close(value.compute(), want_v, 3)
        assert_close(sign.compute(), want_s, 0)


def test_logsumexp_b():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 8))
    b = rng.normal(size=(6, 8))
    b[0] = 0.0
    dx = da.from_array(x, chunks=(4, 8))
    assert_close(lkd.logsumexp(dx, b=b).compute(), logitkit.logsumexp(x, b=b), 0)
    v, s = lkd.logsumexp(dx, b=b[0:1] + 1.0, return_sign=True, keepdims=True)
    want_v, want_s = logitkit.logsumexp(x, b=b[0:1] + 1.0, return_sign=True, keepdims=True)
    assert_close(v.compute(), want_v, 0)
    assert_close(s.compute(), want_s, 0)
    with pytest.raises(NotImplementedError, match="rechunk"):
        lkd.logsumexp(da.from_array(x, chunks=(6, 3)), b=b)
    with pytest.raises(ValueError, match="broadcast"):
        lkd.logsumexp(dx, b=np.ones(3))


def test_logsumexp_b_broadcasts_with_x_and_promotes_as_in_memory():
    """x and b broadcast together and the result dtype is NumPy's promotion of theirs, as in
    the in-memory function (and SciPy)."""
    x = np.zeros((4, 1, 2, 1))
    b = np.ones((3, 1, 5))
    got = lkd.logsumexp(da.from_array(x, chunks=-1), axis=None, b=b).compute()
    assert got == logitkit.logsumexp(x, axis=None, b=b) and abs(got - np.log(120)) < 1e-15
    rows = lkd.logsumexp(da.from_array(np.zeros((3, 1)), chunks=1), b=np.ones((1, 4)))
    assert_close(rows.compute(), logitkit.logsumexp(np.zeros((3, 1)), b=np.ones((1, 4))), 0)
    x32 = da.from_array(np.array([[1.0, 2.0, 3.0]], np.float32))
    for b, want in [(np.array([1.0, 2.0, 3.0]), np.float64), (2.0, np.float32),
                    (np.array([1, 2, 3], np.int8), np.float32)]:
        got = lkd.logsumexp(x32, b=b)
        assert got.dtype == want and got.compute().dtype == want
        assert got.dtype == np.asarray(logitkit.logsumexp(x32.compute(), b=b)).dtype


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_empty_and_0d(name):
    f, g = getattr(lkd, name), getattr(logitkit, name)
    for shape, chunks, axis in [((0, 5), (0, 2), -1), ((0, 5), (0, 2), None), ((4, 0), (2, 0), -1),
                                ((4, 0), (2, 0), 0), ((3, 4), (1, 2), None), ((0,), 1, 0)]:
        x = np.zeros(shape)
        got = f(da.from_array(x, chunks=chunks), axis=axis).compute()
        want = g(x, axis=axis)
        assert_close(got, want, 0)
    for axis in (0, -1, None):
        got = f(da.from_array(np.array(5.0)), axis=axis).compute()
        assert got.shape == () and got == g(5.0, axis=axis)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_errors(name):
    f = getattr(lkd, name)
    dx = da.ones((3, 4), chunks=2)
    with pytest.raises(AxisError):
        f(dx, axis=2)
    with pytest.raises(AxisError):
        f(dx, axis=(0, 0))
    with pytest.raises(TypeError, match="complex"):
        f(da.ones(3, dtype=complex))
    with pytest.raises(TypeError, match="dtype"):
        f(dx, dtype=np.int32)
    with pytest.raises(NotImplementedError, match="store"):
        f(dx, out=np.empty((3, 4)))
    with pytest.raises(TypeError, match="boolean"):
        f(dx, where=np.ones((3, 4)))
    with pytest.raises(ValueError, match="broadcast"):
        f(dx, where=np.ones((2, 4), bool))


def test_numpy_input_is_wrapped():
    x = [[1.0, 2.0, 3.0]]
    got = lkd.softmax(x)
    assert isinstance(got, da.Array)
    assert_close(got.compute(), logitkit.softmax(x), 0)


def test_distinct_inputs_do_not_share_keys():
    rng = np.random.default_rng(13)
    a, b = rng.normal(size=(4, 9)), rng.normal(size=(4, 9)) * 10
    da_, db_ = da.from_array(a, chunks=(2, 4)), da.from_array(b, chunks=(2, 4))
    for name in ("softmax", "log_softmax", "logsumexp", "sigmoid"):
        f = getattr(lkd, name)
        got_a, got_b = dask.compute(f(da_), f(db_))
        assert_close(got_a, getattr(logitkit, name)(a), MAX_ULP.get(name, 0))
        assert_close(got_b, getattr(logitkit, name)(b), MAX_ULP.get(name, 0))


def test_never_rechunks_the_reduced_axis():
    dx = da.random.default_rng(0).normal(size=(8, 4000), chunks=(4, 500))
    for name in ("softmax", "log_softmax", "logsumexp"):
        graph = dict(getattr(lkd, name)(dx).__dask_graph__())
        assert not any("rechunk" in str(key) for key in graph), name
        assert not any("concatenate" in str(key) for key in graph), name
    assert lkd.softmax(dx).chunks == dx.chunks


def test_accuracy_bound_is_tight():
    """The worst disagreement over many random chunkings stays within MAX_ULP (and the split
    path is really exercised: the bound is not 0)."""
    rng = np.random.default_rng(6)
    worst = dict.fromkeys(MAX_ULP, 0.0)
    for dtype in FLOATS:
        for seed in range(6):
            x = adversarial(dtype, shape=(11, 40), seed=seed)
            cuts = np.sort(rng.choice(np.arange(1, 40), size=4, replace=False))
            chunks = ((4, 7), tuple(np.diff(np.r_[0, cuts, 40]).tolist()))
            dx = da.from_array(x, chunks=chunks)
            for name in MAX_ULP:
                w = ulp(getattr(lkd, name)(dx).compute(), getattr(logitkit, name)(x)).max()
                worst[name] = max(worst[name], w)
    assert all(worst[name] <= MAX_ULP[name] for name in MAX_ULP), worst


# ---------------------------------------------------------------- the sigmoid family

@pytest.mark.parametrize("name", ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64])
def test_elementwise(name, dtype):
    rng = np.random.default_rng(7)
    x = (rng.normal(size=(9, 10)) * 30).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    got = getattr(lkd, name)(da.from_array(x, chunks=(4, 3)))
    want = getattr(logitkit, name)(x)
    assert got.dtype == want.dtype
    assert_close(got.compute(), want, 0)
    got = getattr(lkd, name)(da.from_array(x, chunks=(4, 3)), dtype=np.float32).compute()
    assert_close(got, getattr(logitkit, name)(x, dtype=np.float32), 0)
    assert getattr(lkd, name)(da.zeros((0, 3), chunks=2)).compute().shape == (0, 3)
    with pytest.raises(NotImplementedError):
        getattr(lkd, name)(da.zeros(3), out=np.empty(3))
    with pytest.raises(TypeError):
        getattr(lkd, name)(da.zeros(3, dtype="M8[s]"))


def test_dir_shows_only_the_public_api():
    names = [n for n in dir(lkd) if not (n.startswith("__") and n.endswith("__"))]
    assert sorted(names) == sorted(lkd.__all__)
    assert all(callable(getattr(lkd, n)) for n in lkd.__all__)


def test_import_logitkit_does_not_import_dask():
    code = ("import sys, logitkit; assert 'dask' not in sys.modules, 'dask imported'; "
            "import logitkit.dask; assert 'dask.array' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- losses

def ce_formula(x, target, axis=-1, weight=None, ignore_index=-100, label_smoothing=0.0,
               reduction="mean"):
    """PyTorch's cross_entropy, written out in float64 NumPy on logitkit's log_softmax."""
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    logp = logitkit.log_softmax(x, -1)
    C = x.shape[-1]
    w = np.ones(C) if weight is None else np.asarray(weight, np.float64)
    eps = label_smoothing
    target = np.asarray(target)
    if target.dtype.kind == "f":
        t = np.moveaxis(target, axis, -1) * (1 - eps) + eps / C
        loss = -np.sum(np.where(t == 0, 0.0, t * w * logp), axis=-1)
        denom = loss.size
    else:
        kept = target != ignore_index
        safe = np.where(kept, target, 0)
        picked = np.take_along_axis(logp, safe[..., None], -1)[..., 0]
        nll = np.where(kept, -w[safe] * picked, 0.0)
        smooth = np.where(kept, -np.sum(w * logp, axis=-1), 0.0)
        loss = (1 - eps) * nll + eps / C * smooth
        denom = np.sum(np.where(kept, w[safe], 0.0))
    if reduction == "none":
        return loss
    if reduction == "sum":
        return np.sum(loss)
    with np.errstate(all="ignore"):
        return np.sum(loss) / denom


def ce_torch(x, target, axis=-1, **kw):
    torch = pytest.importorskip("torch")
    x = np.moveaxis(np.asarray(x, np.float64), axis, 1) if np.ndim(x) > 1 else x
    t = np.asarray(target)
    if t.dtype.kind == "f" and t.ndim > 1:
        t = np.moveaxis(t, axis, 1)
    if "weight" in kw and kw["weight"] is not None:
        kw["weight"] = torch.tensor(np.asarray(kw["weight"], np.float64))
    out = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t), **kw).numpy()
    if t.dtype.kind == "f" and t.ndim > 1 and kw.get("reduction") == "none":
        return out
    return out


CE_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=np.linspace(0.5, 2.0, 10)),
    dict(ignore_index=3),
    dict(label_smoothing=0.1),
    dict(label_smoothing=0.2, weight=np.linspace(0.5, 2.0, 10), reduction="none"),
    dict(label_smoothing=0.2, weight=np.linspace(0.5, 2.0, 10), ignore_index=3),
]


def ce_data(dtype=np.float64, seed=8):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(12, 10)) * 5).astype(dtype)
    x[0] = -40.0
    x[0, 7] = 0.0                                       # confident and correct
    x[1] = 0.0
    x[1, 2] = 500.0                                     # confident and wrong
    t = rng.integers(0, 10, size=12)
    t[0], t[1], t[2] = 7, 9, 3
    return x, t


@pytest.mark.parametrize("chunks", [(5, 10), (5, 3), (12, (1, 6, 3))])
@pytest.mark.parametrize("case", range(len(CE_CASES)))
def test_cross_entropy_indices(chunks, case):
    kw = CE_CASES[case]
    x, t = ce_data()
    got = lkd.cross_entropy(da.from_array(x, chunks=chunks), t, **kw)
    assert isinstance(got, da.Array)
    got = got.compute()
    assert_close(got, ce_formula(x, t, **kw), 4)
    # PyTorch rounds the confident-correct loss (3.8e-17 here) to 0: an absolute tolerance
    np.testing.assert_allclose(got, ce_torch(x, t, **kw), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("chunks", [(5, 10), (1, 1)])
def test_cross_entropy_confident_rows(chunks):
    x, t = ce_data()
    none = lkd.cross_entropy(da.from_array(x, chunks=chunks), t, reduction="none").compute()
    assert_close(none, ce_formula(x, t, reduction="none"), 4)
    assert 0 < none[0] < 1e-16 and abs(none[1] - 500.0) < 1e-12     # tiny loss kept, huge exact


@pytest.mark.parametrize("chunks", [(5, 10), (3, 4)])
@pytest.mark.parametrize("kw", [dict(), dict(label_smoothing=0.1, weight=np.arange(1.0, 11.0)),
                                dict(reduction="none")])
def test_cross_entropy_probabilities(chunks, kw):
    x, _ = ce_data()
    rng = np.random.default_rng(9)
    p = rng.dirichlet(np.ones(10), size=12)
    p[0] = 0.0
    p[0, 7] = 1.0
    got = lkd.cross_entropy(da.from_array(x, chunks=chunks), da.from_array(p, chunks=(4, 5)), **kw)
    assert_close(got.compute(), ce_formula(x, p, **kw), 4)
    np.testing.assert_allclose(got.compute(), ce_torch(x, p, **kw), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("chunks", [(2, 5, 3), (3, 2, 1)])
def test_cross_entropy_class_axis_1(chunks):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(4, 5, 6)) * 3
    t = rng.integers(0, 5, size=(4, 6))
    for reduction in ("mean", "none"):
        got = lkd.cross_entropy(da.from_array(x, chunks=chunks), t, axis=1, reduction=reduction)
        want = ce_formula(x, t, axis=1, reduction=reduction)
        assert_close(got.compute(), want, 4)
        np.testing.assert_allclose(got.compute(), ce_torch(x, t, axis=1, reduction=reduction),
                                   rtol=1e-12)


@pytest.mark.parametrize("chunks", [(4, 10), (4, 3)])
def test_cross_entropy_float32(chunks):
    x, t = ce_data(np.float32)
    got = lkd.cross_entropy(da.from_array(x, chunks=chunks), t, reduction="none")
    assert got.dtype == np.float32
    assert_close(got.compute(), ce_formula(x, t, reduction="none").astype(np.float32), 2)
    got = lkd.cross_entropy(da.from_array(x, chunks=chunks), t)
    assert got.dtype == np.float32 and got.shape == ()
    assert_close(got.compute(), np.float32(ce_formula(x, t)), 1)


def test_cross_entropy_edges_and_errors():
    x, t = ce_data()
    dx = da.from_array(x, chunks=(5, 3))
    all_ignored = np.full(12, -100)
    assert np.isnan(lkd.cross_entropy(dx, all_ignored).compute())
    assert lkd.cross_entropy(dx, all_ignored, reduction="sum").compute() == 0.0
    bad = t.copy()
    bad[4] = 10
    with pytest.raises(ValueError, match=r"target\[4\] = 10 is not a class index"):
        lkd.cross_entropy(dx, bad).compute()
    with pytest.raises(ValueError, match="shape"):
        lkd.cross_entropy(dx, t[:5])
    with pytest.raises(TypeError, match="target"):
        lkd.cross_entropy(dx, t.astype(complex))
    with pytest.raises(ValueError, match="reduction"):
        lkd.cross_entropy(dx, t, reduction="avg")
    with pytest.raises(ValueError, match="weight"):
        lkd.cross_entropy(dx, t, weight=np.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        lkd.cross_entropy(dx, t, label_smoothing=1.5)
    with pytest.raises(NotImplementedError, match="return_grad"):
        lkd.cross_entropy(dx, t, return_grad=True)
    with pytest.raises(AxisError):
        lkd.cross_entropy(dx, t, axis=2)
    # a NaN logit makes its sample's loss NaN; an empty batch gives an empty "none"
    x2 = x.copy()
    x2[5, 1] = np.nan
    none = lkd.cross_entropy(da.from_array(x2, chunks=(5, 3)), t, reduction="none").compute()
    assert np.isnan(none[5]) and np.isfinite(np.delete(none, 5)).all()
    empty = lkd.cross_entropy(da.zeros((0, 4), chunks=(2, 2)), np.zeros(0, int), reduction="none")
    assert empty.compute().shape == (0,)


@pytest.mark.skipif(not hasattr(logitkit, "cross_entropy"), reason="logitkit.cross_entropy "
                    "is not in this build yet")
@pytest.mark.parametrize("chunks", [(5, 10), (5, 3)])
@pytest.mark.parametrize("case", range(len(CE_CASES)))
def test_cross_entropy_matches_in_memory(chunks, case):
    kw = CE_CASES[case]
    for dtype in FLOATS:
        x, t = ce_data(dtype)
        got = lkd.cross_entropy(da.from_array(x, chunks=chunks), t, **kw).compute()
        assert_close(got, np.asarray(logitkit.cross_entropy(x, t, **kw)), 4)


@pytest.mark.parametrize("chunks", [(100, 4), (100, 3), (999, 4), (1000, (1, 3))])
def test_cross_entropy_bad_target_named_by_its_global_index(chunks):
    """The 601st target sits at index 0 of the seventh chunk of rows: the message names
    target[600], as the in-memory function does, whichever path (whole or split class axis)
    and chunk it is found in."""
    x = np.zeros((1000, 4))
    t = np.zeros(1000, dtype=np.int64)
    t[600] = 7
    with pytest.raises(ValueError, match=r"target\[600\] = 7 is not a class index; expected "
                       r"0 <= index < 4 \(the size of axis 1\)"):
        lkd.cross_entropy(da.from_array(x, chunks=chunks), t).compute()
    with pytest.raises(ValueError, match=r"target\[600\] = 7"):
        logitkit.cross_entropy(x, t)            # the in-memory twin names the same element


@pytest.mark.parametrize("chunks", [(2, 5, 3), (2, 2, 3), (1, 5, 1)])
def test_cross_entropy_bad_target_index_on_a_middle_class_axis(chunks):
    """Class axis 1 of (4, 5, 6) logits: the target is (4, 6), its chunks follow the logits'
    other axes, and the message names the user's axis and the target's own position."""
    x = np.zeros((4, 5, 6))
    for t_dtype, value in ((np.int32, -3), (np.uint64, 2**63 + 5)):
        t = np.zeros((4, 6), dtype=t_dtype)
        t[3, 4] = value
        t[0, 0] = 100                           # ignored: not an error
        with pytest.raises(ValueError, match=rf"target\[3, 4\] = {value} is not a class "
                           rf"index; expected 0 <= index < 5 \(the size of axis 1\) or "
                           rf"ignore_index=100"):
            lkd.cross_entropy(da.from_array(x, chunks=chunks), t, axis=1,
                              ignore_index=100).compute()


@pytest.mark.parametrize("chunks", [3, 1])
def test_cross_entropy_bad_scalar_target(chunks):
    with pytest.raises(ValueError, match=r"target = 5 is not a class index"):
        lkd.cross_entropy(da.from_array(np.zeros(3), chunks=chunks), np.array(5)).compute()


@pytest.mark.parametrize("chunks", [(5, 10), (5, 3)])
def test_cross_entropy_argument_types_checked_before_compute(chunks):
    """A bad ignore_index or label_smoothing raises when the graph is built, not from inside
    a chunk at compute time."""
    x, t = ce_data()
    dx = da.from_array(x, chunks=chunks)
    for bad in (1.5, True, "3", None):
        with pytest.raises(TypeError, match="ignore_index must be an int"):
            lkd.cross_entropy(dx, t, ignore_index=bad)
    with pytest.raises(TypeError, match="label_smoothing must be a number"):
        lkd.cross_entropy(dx, t, label_smoothing="a lot")
    assert np.isfinite(lkd.cross_entropy(dx, t, ignore_index=np.int8(3)).compute())


def test_cross_entropy_uses_the_in_memory_function(monkeypatch):
    """With logitkit.cross_entropy present, a whole class axis runs it on every block."""
    calls = []

    def fake(x, t, axis=-1, **kw):
        calls.append(kw)
        return ce_formula(x, t, axis=axis, **kw)

    monkeypatch.setattr(logitkit, "cross_entropy", fake, raising=False)
    x, t = ce_data()
    kw = dict(weight=np.linspace(0.5, 2.0, 10), ignore_index=3, label_smoothing=0.2)
    got = lkd.cross_entropy(da.from_array(x, chunks=(5, 10)), t, **kw).compute()
    assert calls and all(c["reduction"] == "none" for c in calls)
    assert_close(got, ce_formula(x, t, **kw), 4)
    calls.clear()
    got = lkd.cross_entropy(da.from_array(x, chunks=(5, 3)), t, **kw).compute()
    assert not calls                        # a split class axis: the two-pass path
    assert_close(got, ce_formula(x, t, **kw), 4)


def test_cross_entropy_unbatched():
    x = np.array([2.0, 1.0, 0.1])
    for chunks in (3, 1):
        got = lkd.cross_entropy(da.from_array(x, chunks=chunks), np.array(0))
        assert got.shape == ()
        assert_close(got.compute(), ce_formula(x, np.array(0)), 1)   # 0.41703001627783
        got = lkd.cross_entropy(da.from_array(x, chunks=chunks), np.array(0), reduction="none")
        assert got.shape == () and abs(float(got.compute()) - 0.4170300162778335) < 1e-15


def bce_formula(x, t, weight=None, pos_weight=None, reduction="mean"):
    x = np.asarray(x, np.float64)
    pw = 1.0 if pos_weight is None else np.asarray(pos_weight, np.float64)
    w = 1.0 if weight is None else np.asarray(weight, np.float64)
    loss = -w * (pw * t * logitkit.log_sigmoid(x) + (1 - t) * logitkit.log_sigmoid(-x))
    return {"none": loss, "sum": np.sum(loss), "mean": np.mean(loss)}[reduction]


BCE_CASES = [dict(), dict(reduction="sum"), dict(reduction="none"),
             dict(weight=np.linspace(0.1, 1, 7)[:, None] * np.ones(9)),
             dict(pos_weight=np.linspace(1, 3, 9)),
             dict(weight=np.linspace(0.1, 1, 9), pos_weight=np.linspace(1, 3, 9),
                  reduction="none")]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("case", range(len(BCE_CASES)))
def test_binary_cross_entropy_with_logits(dtype, case):
    torch = pytest.importorskip("torch")
    kw = BCE_CASES[case]
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(7, 9)) * 20).astype(dtype)
    x[0, :3] = [800.0 if dtype == np.float64 else 80.0, -1e30, 0.0]
    t = rng.random((7, 9)).astype(dtype)
    t[1] = 1.0
    t[2] = 0.0
    got = lkd.binary_cross_entropy_with_logits(da.from_array(x, chunks=(3, 4)), t, **kw)
    assert got.dtype == dtype
    want = bce_formula(x, t.astype(np.float64), **kw)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(got.compute(), np.asarray(want, dtype), rtol=rtol)
    tkw = {k: torch.tensor(np.asarray(v, np.float64)) for k, v in kw.items() if k != "reduction"}
    tkw["reduction"] = kw.get("reduction", "mean")
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x.astype(np.float64)), torch.tensor(t.astype(np.float64)), **tkw).numpy()
    # PyTorch's (1 - t) x + log1p(exp(-x))... form cancels for large |x|: absolute tolerance
    atol = rtol * np.max(np.abs(want))
    np.testing.assert_allclose(got.compute(), ref.astype(dtype), rtol=rtol, atol=atol)
    if hasattr(logitkit, "binary_cross_entropy_with_logits"):
        assert_close(got.compute(),
                     np.asarray(logitkit.binary_cross_entropy_with_logits(x, t, **kw)), 4)


def test_binary_cross_entropy_errors():
    dx = da.zeros((3, 4), chunks=2)
    with pytest.raises(ValueError, match="shape"):
        lkd.binary_cross_entropy_with_logits(dx, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="broadcast"):
        lkd.binary_cross_entropy_with_logits(dx, np.zeros((3, 4)), pos_weight=np.ones(3))
    with pytest.raises(NotImplementedError, match="return_grad"):
        lkd.binary_cross_entropy_with_logits(dx, np.zeros((3, 4)), return_grad=True)
    with pytest.raises(ValueError, match="reduction"):
        lkd.binary_cross_entropy_with_logits(dx, np.zeros((3, 4)), reduction=None)


# ---------------------------------------------------------------- a real cluster

@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=":0",
                                  worker_dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client


# Each cluster compute costs ~0.3 s of scheduling here: the graphs go in one call per test.

def test_local_cluster(cluster_client):
    x = adversarial(np.float64, shape=(16, 40))
    x32 = adversarial(np.float32, shape=(16, 40), seed=1)
    dx, dx32 = da.from_array(x, chunks=(5, 7)), da.from_array(x32, chunks=(16, (13, 1, 26)))
    cases = []
    for name in ("softmax", "log_softmax", "logsumexp"):
        for data, ddata in ((x, dx), (x32, dx32)):
            for axis in (-1, None):
                cases.append((getattr(lkd, name)(ddata, axis=axis),
                              getattr(logitkit, name)(data, axis=axis), MAX_ULP[name]))
    cases.append((lkd.sigmoid(dx), logitkit.sigmoid(x), 0))
    cases.append((lkd.log_softmax(dx.rechunk((5, 40))), logitkit.log_softmax(x), 0))
    results = cluster_client.gather(cluster_client.compute([c[0] for c in cases]))
    for got, (_, want, max_ulp) in zip(results, cases):
        assert_close(got, want, max_ulp)


def test_local_cluster_losses(cluster_client):
    x, t = ce_data()
    p = np.random.default_rng(12).random(x.shape)
    cases = []
    for chunks in ((5, 10), (5, 3)):
        dx = da.from_array(x, chunks=chunks)
        cases.append((lkd.cross_entropy(dx, t, label_smoothing=0.1),
                      ce_formula(x, t, label_smoothing=0.1)))
        cases.append((lkd.cross_entropy(dx, t, reduction="none"),
                      ce_formula(x, t, reduction="none")))
    cases.append((lkd.binary_cross_entropy_with_logits(da.from_array(x, chunks=(5, 3)), p,
                                                        reduction="sum"),
                  bce_formula(x, p, reduction="sum")))
    results = cluster_client.gather(cluster_client.compute([c[0] for c in cases]))
    for got, (_, want) in zip(results, cases):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    bad = t.copy()
    bad[0] = -5
    with pytest.raises(ValueError, match=r"target\[0\] = -5 is not a class index"):
        cluster_client.compute(lkd.cross_entropy(da.from_array(x, chunks=(5, 3)), bad)).result()
