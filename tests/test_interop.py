"""The arrays users hold: torch tensors, array-API arrays, DLPack producers, Dask arrays, masked
arrays, pandas objects and longdouble go in, and the result comes back in the same kind."""

import subprocess
import sys

import numpy as np
import pytest

import logitkit as lk

X = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
ELEMENTWISE = ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"]
NORMALIZE = ["softmax", "log_softmax"]


class DLPackOnly:
    """An array that offers nothing but the DLPack protocol (as a minimal library would)."""

    def __init__(self, a, device=1):
        self._a = a
        self._device = device

    def __dlpack__(self, **kwargs):
        return self._a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return (self._device, 0)


# ---------------------------------------------------------------- dim=

@pytest.mark.parametrize("name", NORMALIZE + ["logsumexp"])
def test_dim_is_refused_with_a_hint_naming_axis(name):
    for x in (X, X.tolist(), X.astype(np.float32)):
        with pytest.raises(TypeError, match="axis="):
            getattr(lk, name)(x, dim=0)
    with pytest.raises(TypeError, match="axis="):
        lk.cross_entropy(X, [2, 1], dim=1)
    for backward in (lk.softmax_backward, lk.log_softmax_backward):
        with pytest.raises(TypeError, match="axis="):
            backward(X, X, dim=0)


def test_unknown_keyword_is_still_a_type_error():
    with pytest.raises(TypeError, match="unexpected keyword"):
        lk.softmax(X, axes=0)


# ---------------------------------------------------------------- longdouble

@pytest.mark.parametrize("name", NORMALIZE + ["logsumexp"] + ELEMENTWISE)
def test_longdouble_computed_in_float64_returned_as_longdouble(name):
    f = getattr(lk, name)
    got = f(X.astype(np.longdouble))
    assert got.dtype == np.longdouble
    np.testing.assert_array_equal(got.astype(np.float64), f(X))


def test_longdouble_losses_backward_out_and_dtype():
    xl = X.astype(np.longdouble)
    loss, grad = lk.cross_entropy(xl, [2, 1], return_grad=True)
    assert isinstance(loss, np.longdouble) and grad.dtype == np.longdouble
    assert float(loss) == lk.cross_entropy(X, [2, 1])
    bce = lk.binary_cross_entropy_with_logits(xl, np.ones_like(xl))
    assert isinstance(bce, np.longdouble)
    assert lk.softmax_backward(xl, xl).dtype == np.longdouble
    out = np.empty(X.shape, np.longdouble)
    assert lk.softmax(xl, out=out) is out
    assert lk.softmax(X, dtype=np.longdouble).dtype == np.longdouble
    value, sign = lk.logsumexp(xl, b=-np.ones(3), return_sign=True)
    assert value.dtype == np.longdouble and (sign == -1).all()


# ---------------------------------------------------------------- torch

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("name", NORMALIZE + ["logsumexp"] + ELEMENTWISE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_tensor_in_torch_tensor_out(torch, name, dtype):
    t = torch.tensor(X, dtype=getattr(torch, dtype))
    got = getattr(lk, name)(t)
    assert isinstance(got, torch.Tensor) and got.dtype == t.dtype
    np.testing.assert_array_equal(got.numpy(), getattr(lk, name)(X.astype(dtype)))


def test_torch_losses_backward_and_tuples(torch):
    t = torch.tensor(X)
    loss, grad = lk.cross_entropy(t, torch.tensor([2, 1]), return_grad=True)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0
    assert isinstance(grad, torch.Tensor)
    np.testing.assert_allclose(loss.item(), torch.nn.functional.cross_entropy(t, torch.tensor([2, 1])).item(),
                               rtol=1e-15)
    value, sign = lk.logsumexp(t, b=torch.tensor([1.0, -1.0, 1.0]), return_sign=True)
    assert isinstance(value, torch.Tensor) and isinstance(sign, torch.Tensor)
    g = lk.softmax_backward(t, lk.softmax(t))
    assert isinstance(g, torch.Tensor)
    bce = lk.binary_cross_entropy_with_logits(t, torch.ones_like(t))
    assert isinstance(bce, torch.Tensor)


def test_torch_input_is_read_without_a_copy(torch):
    from logitkit._interop import _from_foreign
    t = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    view = _from_foreign(t, "softmax", "x")
    assert view.ctypes.data == t.data_ptr()
    out = torch.empty(2, 3, dtype=torch.float64)
    assert lk.softmax(t, out=out) is out            # written in place, through a shared view
    np.testing.assert_array_equal(out.numpy(), lk.softmax(t.numpy()))
    got = lk.sigmoid(t)
    assert got.data_ptr() != t.data_ptr()


def test_torch_errors_say_what_to_do(torch):
    with pytest.raises(TypeError, match="detach"):
        lk.softmax(torch.ones(3, requires_grad=True))
    with pytest.raises(TypeError, match="bfloat16|DLPack|dtype"):
        lk.softmax(torch.ones(3, dtype=torch.bfloat16))


# ---------------------------------------------------------------- DLPack and the array API

def test_device_arrays_are_refused():
    with pytest.raises(TypeError, match="CUDA device.*CPU"):
        lk.softmax(DLPackOnly(X, device=2))


def test_dlpack_only_object_is_read():
    got = lk.softmax(DLPackOnly(X))
    assert type(got) is np.ndarray
    np.testing.assert_array_equal(got, lk.softmax(X))


def test_array_api_strict_round_trip():
    xp = pytest.importorskip("array_api_strict")
    a = xp.asarray(X)
    for name in NORMALIZE + ["logsumexp"] + ELEMENTWISE:
        got = getattr(lk, name)(a)
        assert type(got) is type(a), name
        np.testing.assert_array_equal(np.asarray(got), getattr(lk, name)(X))
    a32 = xp.asarray(X, dtype=xp.float32)
    assert lk.softmax(a32).dtype == xp.float32


def test_array_api_input_is_read_without_a_copy():
    xp = pytest.importorskip("array_api_strict")
    from logitkit._interop import _from_foreign
    a = xp.asarray(X)
    try:
        shared = np.from_dlpack(a)
    except BufferError:
        pytest.skip("this NumPy cannot import a read-only array through DLPack (NumPy < 2.1)")
    assert np.shares_memory(_from_foreign(a, "softmax", "x"), shared)
    assert type(lk.log_softmax(a)) is type(a)


# ---------------------------------------------------------------- Dask

def test_dask_array_in_lazy_dask_array_out():
    da = pytest.importorskip("dask.array")
    d = da.from_array(X, chunks=(1, 3))
    for name in NORMALIZE + ["logsumexp"] + ELEMENTWISE:
        got = getattr(lk, name)(d)
        assert isinstance(got, da.Array), name
        np.testing.assert_allclose(got.compute(), getattr(lk, name)(X), rtol=1e-15)
    loss = lk.cross_entropy(d, da.from_array(np.array([2, 1]), chunks=1))
    assert isinstance(loss, da.Array)
    assert float(loss.compute()) == pytest.approx(lk.cross_entropy(X, [2, 1]), rel=1e-15)


def test_dask_without_twin_says_so():
    da = pytest.importorskip("dask.array")
    d = da.from_array(X, chunks=(1, 3))
    with pytest.raises(TypeError, match="map_blocks"):
        lk.softmax_backward(d, d)


# ---------------------------------------------------------------- masked arrays

MASK = np.array([[False, True, False], [False, False, False]])


@pytest.mark.parametrize("name", NORMALIZE)
def test_masked_entries_are_left_out_and_the_mask_kept(name):
    m = np.ma.masked_array(X, mask=MASK)
    got = getattr(lk, name)(m)
    assert isinstance(got, np.ma.MaskedArray)
    np.testing.assert_array_equal(got.mask, MASK)
    want = getattr(lk, name)(X, where=~MASK)
    np.testing.assert_array_equal(got.data, want)


def test_masked_combines_with_where_and_b():
    m = np.ma.masked_array(X, mask=MASK)
    where = np.array([True, True, False])
    got = lk.softmax(m, where=where)
    np.testing.assert_array_equal(got.data, lk.softmax(X, where=~MASK & where))
    b = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, False, True])
    np.testing.assert_array_equal(lk.logsumexp(X, b=b),
                                  lk.logsumexp(X, b=[1.0, 2.0, 0.0]))


def test_masked_logsumexp_masks_fully_masked_slices():
    m = np.ma.masked_array(X, mask=[[True, True, True], [False, True, False]])
    got = lk.logsumexp(m)
    assert isinstance(got, np.ma.MaskedArray)
    np.testing.assert_array_equal(got.mask, [True, False])
    assert got[1] == lk.logsumexp(X[1], where=[True, False, True])
    assert lk.logsumexp(np.ma.masked_array([1.0, 2.0], mask=[True, True])) is np.ma.masked
    assert lk.logsumexp(np.ma.masked_array([1.0, 2.0], mask=[True, False])) == 2.0


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_masked_elementwise_carries_the_mask(name):
    m = np.ma.masked_array([1.0, np.nan, -3.0], mask=[False, True, False])
    got = getattr(lk, name)(m)
    np.testing.assert_array_equal(got.mask, m.mask)
    np.testing.assert_array_equal(got.compressed(), getattr(lk, name)(np.array([1.0, -3.0])))


def test_masked_backward_matches_the_where_gradient():
    m = np.ma.masked_array(X, mask=MASK)
    y = lk.softmax(m)
    g = np.ma.masked_array(np.full(X.shape, 7.0), mask=MASK)
    got = lk.softmax_backward(g, y)
    want = lk.softmax_backward(np.where(MASK, 0.0, 7.0), lk.softmax(X, where=~MASK))
    np.testing.assert_array_equal(got.data, want)
    np.testing.assert_array_equal(got.mask, MASK)
    got_log = lk.log_softmax_backward(g, lk.log_softmax(m))
    want_log = lk.log_softmax_backward(np.where(MASK, 0.0, 7.0), lk.log_softmax(X, where=~MASK))
    np.testing.assert_array_equal(got_log.data, want_log)


def test_masked_class_index_is_ignored():
    target = np.ma.masked_array([2, 1], mask=[False, True])
    assert lk.cross_entropy(X, target) == lk.cross_entropy(X[:1], [2])
    with pytest.raises(TypeError, match="masked"):
        lk.cross_entropy(np.ma.masked_array(X, mask=MASK), [2, 1])
    with pytest.raises(TypeError, match="masked"):
        lk.binary_cross_entropy_with_logits(np.ma.masked_array(X, mask=MASK), np.ones(X.shape))
    with pytest.raises(TypeError, match="out="):
        lk.sigmoid(np.ma.masked_array(X), out=np.empty(X.shape))


# ---------------------------------------------------------------- pandas

def test_pandas_series_keeps_its_index_and_name():
    pd = pytest.importorskip("pandas")
    s = pd.Series([1.0, 2.0], index=list("ab"), name="logit")
    for name in ELEMENTWISE + NORMALIZE:
        got = getattr(lk, name)(s)
        assert isinstance(got, pd.Series) and list(got.index) == ["a", "b"], name
        assert got.name == "logit"
        np.testing.assert_array_equal(got.to_numpy(), getattr(lk, name)(s.to_numpy()))
    assert lk.logsumexp(s) == lk.logsumexp(s.to_numpy())


def test_pandas_dataframe_keeps_index_and_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, index=["r1", "r2"], columns=list("xyz"))
    p = lk.softmax(df)
    assert isinstance(p, pd.DataFrame)
    assert list(p.index) == ["r1", "r2"] and list(p.columns) == list("xyz")
    rows = lk.logsumexp(df)
    assert isinstance(rows, pd.Series) and list(rows.index) == ["r1", "r2"]
    cols = lk.logsumexp(df, axis=0)
    assert isinstance(cols, pd.Series) and list(cols.index) == list("xyz")
    per_row = lk.cross_entropy(df, pd.Series([2, 1], index=df.index), reduction="none")
    assert isinstance(per_row, pd.Series) and list(per_row.index) == ["r1", "r2"]


# ---------------------------------------------------------------- optional stays optional

def test_importing_logitkit_imports_no_optional_library():
    code = ("import sys, numpy as np, logitkit as lk; lk.softmax(np.ones(3)); "
            "lk.softmax([1.0, 2.0]); lk.softmax(np.ma.masked_array([1.0, 2.0])); "
            "print(sorted(m for m in ('torch', 'pandas', 'dask', 'jax', 'array_api_strict', "
            "'threadpoolctl', 'scipy') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"
