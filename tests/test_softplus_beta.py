"""softplus(x, beta=...): PyTorch's beta, exact for every positive finite beta."""

import math
import warnings

import mpmath
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import logitkit as lk
from logitkit.testing.oracle import round_exact, ulp_error

BAR = 2.0
BETAS = [5e-324, 1e-300, 1e-30, 1e-3, 0.5, 1 - 2**-53, 1 + 2**-52, 2.0, 3.7, 1e3, 1e30, 1e300,
         1.7e308]


def _exact(x, beta):
    """softplus(beta x) / beta in 250-bit arithmetic."""
    x, b = mpmath.mpf(float(x)), mpmath.mpf(beta)
    if mpmath.isinf(x):
        return mpmath.inf if x > 0 else mpmath.mpf(0)
    y = b * x
    if y > 0:
        return x + mpmath.log1p(mpmath.exp(-y)) / b
    return mpmath.log1p(mpmath.exp(y)) / b


def _inputs(beta, dtype, seed):
    """x whose beta x covers the whole curve: the tails, the bend, tiny products, and the
    extremes of the dtype."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.uniform(-50, 50, 400), rng.uniform(-1600, 1600, 300),
                        np.sign(rng.standard_normal(200)) * 10.0 ** rng.uniform(-30, 3, 200)])
    with np.errstate(all="ignore"):
        x = (y / beta).astype(dtype)
    info = np.finfo(dtype)
    x = np.concatenate([x, np.array([0.0, -0.0, 1.0, -1.0, info.max, -info.max, info.tiny,
                                     -info.tiny, info.smallest_subnormal], dtype)])
    return x[np.isfinite(x)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accuracy_against_mpmath(each_simd_path, dtype):
    worst = (0.0, None)
    for i, beta in enumerate(BETAS):
        x = _inputs(beta, dtype, i)
        with mpmath.workprec(250):
            ref = round_exact([_exact(v, beta) for v in x], dtype)
        got = lk.softplus(x, beta=beta)
        assert got.dtype == dtype
        err = ulp_error(got, ref)
        j = int(np.argmax(err))
        if err[j] > worst[0]:
            worst = (float(err[j]), (beta, x[j], got[j], ref.hi[j]))
    assert worst[0] <= BAR, f"{each_simd_path}: {worst[0]:.3f} ULP at (beta, x, got, exact) " \
                            f"= {worst[1]}"


def test_reference_against_mpmath():
    for i, beta in enumerate([1e-300, 0.5, 3.7, 1e300]):
        x = _inputs(beta, np.float64, 100 + i)[::5]
        with mpmath.workprec(250):
            ref = round_exact([_exact(v, beta) for v in x], np.float64)
        err = ulp_error(np.array(lk.reference.softplus(x, beta=beta)), ref)
        assert err.max() <= 0.5 + 1e-9, (beta, float(err.max()))


@pytest.mark.parametrize("beta", [0.25, 3.0, 1e-200, 1e200])
def test_fast_path_equals_reference(beta):
    x = _inputs(beta, np.float64, 7)
    got = lk.softplus(x, beta=beta)
    want = lk.reference.softplus(x, beta=beta)
    assert_allclose(got, want, rtol=3 * 2**-52, atol=0)


def test_where_the_product_leaves_the_range():
    # beta x overflows: softplus is x itself
    assert lk.softplus(1e300, beta=1e300) == 1e300
    assert lk.softplus(-1e300, beta=1e300) == 0.0
    # beta x underflows: log(2) / beta + x / 2
    assert lk.softplus(1e-20, beta=1e-300) == pytest.approx(math.log(2) / 1e-300, rel=1e-15)
    # exp(beta x) underflows, exp(beta x) / beta does not
    got = lk.softplus(-1e303, beta=1e-300)
    assert 0 < got < np.inf
    assert got == pytest.approx(float(mpmath.exp(mpmath.mpf(-1e3)) / mpmath.mpf(1e-300)),
                                rel=4e-16)
    # log(2) / beta overflows: so does the result
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lk.softplus(0.0, beta=5e-324) == np.inf


@pytest.mark.parametrize("beta", [0.5, 2.0, 1e-300])
def test_edges(beta):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            got = lk.softplus(x, beta=beta)
    assert got[0] == np.inf and got[1] == 0.0 and np.isnan(got[2])
    assert got[3] == got[4] == math.log(2) / beta


def test_beta_one_is_the_plain_softplus_bit_for_bit():
    x = np.random.default_rng(8).standard_normal(1001) * 30
    plain = lk.softplus(x)
    for beta in (1, 1.0, np.float64(1.0), np.float32(1.0), np.int64(1)):
        assert_array_equal(lk.softplus(x, beta=beta), plain)
        assert_array_equal(lk.softplus(x.astype(np.float32), beta=beta),
                           lk.softplus(x.astype(np.float32)))


@pytest.mark.parametrize("beta,error", [
    (0.0, ValueError), (-1.0, ValueError), (-0.0, ValueError), (math.nan, ValueError),
    (math.inf, ValueError), (-math.inf, ValueError), ("2", TypeError), (True, TypeError),
    (None, TypeError), ([2.0], TypeError), (np.array([2.0]), TypeError), (1j, TypeError),
])
def test_bad_beta(beta, error):
    for fn in (lk.softplus, lk.reference.softplus):
        with pytest.raises(error, match=r"softplus: beta must be a positive finite real"):
            fn(np.array([1.0]), beta=beta)


def test_arguments_with_beta():
    x = np.random.default_rng(9).standard_normal((3, 4))
    want = lk.softplus(x, beta=2.5)
    out = np.empty_like(x)
    assert lk.softplus(x, beta=2.5, out=out) is out
    assert_array_equal(out, want)
    assert_array_equal(lk.softplus(np.asfortranarray(x), beta=2.5), want)
    assert_array_equal(lk.softplus(x[:, ::2], beta=2.5), want[:, ::2])
    assert lk.softplus(x, beta=2.5, dtype=np.float32).dtype == np.float32
    assert isinstance(lk.softplus(0.5, beta=2.5), np.float64)
    assert lk.softplus(x.astype(np.float16), beta=2.5).dtype == np.float16


def test_dask_twin_takes_beta():
    da = pytest.importorskip("dask.array")
    import logitkit.dask as lkd
    x = np.random.default_rng(10).standard_normal((6, 5)) * 10
    got = lkd.softplus(da.from_array(x, chunks=(2, 5)), beta=0.3).compute()
    assert_array_equal(got, lk.softplus(x, beta=0.3))
    with pytest.raises(ValueError, match="beta"):
        lkd.softplus(da.from_array(x), beta=-1.0)


def test_torch_agrees_where_its_threshold_is_out_of_the_way():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    x = np.random.default_rng(11).uniform(-10, 10, 2000)
    for beta in (0.5, 2.0, 7.0):
        want = F.softplus(torch.from_numpy(x), beta=beta, threshold=1e9).numpy()
        assert_allclose(lk.softplus(x, beta=beta), want, rtol=1e-13, atol=1e-300)
    tensor = torch.from_numpy(x)
    got = lk.softplus(tensor, beta=2.0)
    assert isinstance(got, torch.Tensor)
    assert_allclose(got.numpy(), lk.softplus(x, beta=2.0), rtol=0, atol=0)
