"""The fast path equals logitkit.reference on generated arrays, on every SIMD path.

Shapes up to 4-d (with empty and 0-d arrays), every axis form, every input dtype, C / Fortran /
transposed / strided / negative-stride / read-only / big-endian layouts, NaN and infinities
sprinkled in, `where` masks and logsumexp's `b`. The functions and their bars come from the
registry (logitkit._registry): each function's accuracy bar against the exact result (the
contract, docs/semantics.md) plus one ULP (REFERENCE_SLACK_ULP), because the reference is itself
rounded once (and float16 results are rounded twice by the fast path: computed in float32, then
to float16).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import logitkit
from logitkit._registry import FUNCTIONS
from logitkit.testing import max_ulp_difference

REDUCTIONS = tuple(f.name for f in FUNCTIONS if f.kind in ("normalize", "reduce"))
# kl_divergence takes two arrays: its equivalence with the reference is tests/test_information.py's
REDUCTIONS = tuple(name for name in REDUCTIONS if name != "kl_divergence")
ELEMENTWISE = tuple(f.name for f in FUNCTIONS if f.kind == "elementwise")
#: The largest distance from logitkit.reference allowed: the bar plus REFERENCE_SLACK_ULP.
BAR = {f.name: f.max_ulp_vs_reference for f in FUNCTIONS}
DTYPES = ("float64", "float32", "float16", "int32", "uint8", "bool", ">f8", ">f4")
EDGE_VALUES = (np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1.7e308, -1.7e308, 3.4e38, -3.4e38)


@st.composite
def arrays(draw, max_dims=4):
    """An array of any of DTYPES, shape up to max_dims-d, in a random layout."""
    ndim = draw(st.integers(0, max_dims))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    if ndim and draw(st.booleans()):                       # sometimes one long axis
        axis = draw(st.integers(0, ndim - 1))
        shape = shape[:axis] + (draw(st.integers(7, 300)),) + shape[axis + 1:]
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    spread = draw(st.sampled_from([1e-3, 1.0, 30.0, 300.0]))
    offset = draw(st.sampled_from([0.0, 0.0, 1e4, -700.0]))
    values = rng.standard_normal(shape) * spread + offset
    if dtype.kind == "f" and values.size and draw(st.booleans()):
        count = draw(st.integers(1, 3))
        flat = values.reshape(-1)
        flat[rng.integers(0, flat.size, count)] = rng.choice(EDGE_VALUES, count)
    with np.errstate(all="ignore"):
        if dtype.kind == "b":
            x = values > 0
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            x = np.clip(values, info.min, info.max).astype(dtype)
        else:
            x = values.astype(dtype)
    return draw(layouts(np.asarray(x)))


@st.composite
def layouts(draw, x):
    """x itself or the same values in another memory layout."""
    kind = draw(st.sampled_from(["C", "F", "transposed", "reversed", "strided", "readonly"]))
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "transposed" and x.ndim >= 2:
        return np.ascontiguousarray(x.T).T
    if kind == "reversed" and x.ndim >= 1:
        return np.ascontiguousarray(x[::-1])[::-1]
    if kind == "strided" and x.ndim >= 1:
        wide = np.repeat(x, 2, axis=-1)
        return wide[..., ::2]
    if kind == "readonly":
        y = x.copy()
        y.flags.writeable = False
        return y
    return x


@st.composite
def axes(draw, ndim):
    """An int (maybe negative), a tuple of distinct axes, or None."""
    if ndim == 0:
        return draw(st.sampled_from([0, -1, None]))
    choice = draw(st.sampled_from(["int", "tuple", "none"]))
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    if choice == "none":
        return None
    picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


def check_all_paths(name, x, **kwargs):
    for path in logitkit.simd_paths():
        logitkit._set_simd_path(path)
        try:
            worst = max_ulp_difference(name, x, **kwargs)
            if worst > BAR[name] and name == "logsumexp":
                assert cancels_within_input_rounding(x, **kwargs), (path, name, kwargs, x)
                continue
        finally:
            logitkit._set_simd_path(logitkit.simd_paths()[-1])
        assert worst <= BAR[name], (path, name, kwargs, x)


def cancels_within_input_rounding(x, axis, keepdims=False, b=None, return_sign=False,
                                  where=True):
    """Where max + log(sum) nearly cancels (a result much smaller than the largest logit),
    logsumexp is ill-conditioned: rounding the inputs alone moves it by ~ulp(max). There,
    the fast path and the reference (both max + log1p(...), the log rounded once) agree to
    2 ULP of the largest logit of the slice, not of the result. Known and documented."""
    got = np.asarray(logitkit.logsumexp(x, axis=axis, b=b, keepdims=True, where=where)).astype(
        np.float64)
    ref = np.asarray(logitkit.reference.logsumexp(x, axis=axis, b=b, keepdims=True,
                                                  where=where)).astype(np.float64)
    dtype = got.dtype if x.dtype.kind != "f" else np.dtype(x.dtype.char)
    dtype = np.float32 if dtype == np.float16 else dtype
    with np.errstate(divide="ignore"):
        log_b = np.zeros(x.shape) if b is None else np.abs(np.log(np.abs(b)))
    finite = np.where(np.isfinite(x) & np.isfinite(log_b), np.abs(x) + log_b, 0).astype(np.float64)
    counted = np.broadcast_to(where, x.shape)          # the largest logit the mask keeps
    scale = (np.max(finite, axis=axis, keepdims=True, initial=0.0, where=counted) if x.ndim
             else finite)
    with np.errstate(invalid="ignore"):
        close = np.abs(got - ref) <= 2 * np.spacing(np.maximum(scale, np.abs(ref)).astype(dtype))
    return bool(np.all(close | (got == ref) | (np.isnan(got) & np.isnan(ref))))


SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", REDUCTIONS)
@SETTINGS
@given(data=st.data())
def test_reductions_equal_reference(name, data):
    x = data.draw(arrays())
    axis = data.draw(axes(x.ndim))
    kwargs = {"axis": axis}
    if name == "logsumexp":
        kwargs["keepdims"] = data.draw(st.booleans())
    check_all_paths(name, x, **kwargs)


@pytest.mark.parametrize("name", REDUCTIONS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_masked_reductions_equal_reference(name, data):
    x = data.draw(arrays(max_dims=3))
    axis = data.draw(axes(x.ndim))
    seed = data.draw(st.integers(0, 2**32 - 1))
    # a mask over the trailing axes only, so that it also exercises broadcasting
    trailing = data.draw(st.integers(0, x.ndim))
    mask_shape = x.shape[x.ndim - trailing:]
    where = np.random.default_rng(seed).random(mask_shape) < 0.7
    check_all_paths(name, x, axis=axis, where=where)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_logsumexp_with_b_equals_reference(data):
    x = data.draw(arrays(max_dims=3))
    axis = data.draw(axes(x.ndim))
    seed = data.draw(st.integers(0, 2**32 - 1))
    b = np.random.default_rng(seed).choice([0.0, 1.0, 0.5, 2.0, 3.0], size=x.shape)
    check_all_paths("logsumexp", x, axis=axis, b=b, return_sign=True)


@pytest.mark.parametrize("name", ELEMENTWISE)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_elementwise_equal_reference(name, data):
    check_all_paths(name, data.draw(arrays()))


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_dense_sweep(name, dtype):
    """Every binade from the smallest subnormal up to the largest finite, both signs."""
    info = np.finfo(dtype)
    magnitudes = np.append(
        np.geomspace(float(info.smallest_subnormal), float(info.max) / 4, 3000), float(info.max))
    x = np.concatenate([-magnitudes[::-1], [0.0, -0.0], magnitudes]).astype(dtype)
    check_all_paths(name, x)


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 1000])
def test_every_tail_length(name, dtype, n):
    """Row lengths around the vector widths (4 doubles, 8 floats) and their multiples."""
    x = np.random.default_rng(n).standard_normal((3, n)).astype(dtype) * 10
    check_all_paths(name, x, axis=-1)
    check_all_paths(name, np.ascontiguousarray(x.T), axis=0)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 9, 15, 17, 31])
def test_elementwise_every_tail_length(name, dtype, n):
    """Lengths around the vector widths: the tails are masked loads on AVX2."""
    x = np.random.default_rng(n).standard_normal(n).astype(dtype) * 30
    check_all_paths(name, x)
    check_all_paths(name, x[::-1])
