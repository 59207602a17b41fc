"""Shared pieces of the robustness suite (issue 6): the public functions as the tests see them,
comparison against logitkit.reference in ULPs, a no-warnings call wrapper, and hypothesis
strategies for arrays of any dtype, layout and shape.

FUNCTIONS is the registry's table (logitkit._registry, the one table of public functions) with
what only the tests need added, keyed by name (EXAMPLES: a valid call of each loss and backward
function). A new public function is covered by the bad-input matrix, the thread, fork, fuzz and
leak tests once it has a row in the registry (and, for a loss or backward function, an entry in
EXAMPLES; tests/test_registry.py checks that).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

import logitkit
from logitkit import _registry, reference

# ---------------------------------------------------------------------------------------------
# The public functions: the registry's rows, with the tests' extras
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Func:
    """One registered public function (`entry`, a row of logitkit._registry) and the tests'
    extras. kind: "normalize" (softmax-like: axis, where, out, dtype; result of x's shape),
    "reduce" (logsumexp-like: the axis is reduced away), "elementwise" (out, dtype), "loss" /
    "backward" (argument builders in `example`)."""
    entry: _registry.Function
    # for losses: a function (x) -> (args, kwargs) giving a valid call on float logits x
    example: Callable[[np.ndarray], tuple[tuple, dict]] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def max_ulp(self) -> float:
        """The bar against the exact result (the registry's); run_case holds the fast path to
        it against the reference too."""
        return self.entry.max_ulp

    @property
    def available(self) -> bool:
        return hasattr(logitkit, self.name)

    @property
    def fast(self) -> Callable:
        return getattr(logitkit, self.name)

    @property
    def ref(self) -> Callable | None:
        return getattr(reference, self.name, None)


def _ce_example(x):
    x = np.atleast_1d(x)
    target = np.zeros(x.shape[:-1], dtype=np.int64)
    return (x, target), {"reduction": "none"}


def _bce_example(x):
    return (x, np.full(np.shape(x), 0.25)), {"reduction": "none"}


def _backward_example(x):
    x = np.atleast_1d(x)
    return (np.ones_like(x, dtype=np.float64), np.full(x.shape, 1.0 / x.shape[-1])), {}


def _sigmoid_backward_example(x):
    return (np.ones(np.shape(x)), np.full(np.shape(x), 0.5)), {}


#: A valid call of each loss and backward function on float logits x, by registered name.
EXAMPLES: dict[str, Callable[[np.ndarray], tuple[tuple, dict]]] = {
    "cross_entropy": _ce_example,
    "nll_loss": _ce_example,           # the same call: log-probabilities, class indices
    "binary_cross_entropy_with_logits": _bce_example,
    "softmax_backward": _backward_example,
    "log_softmax_backward": _backward_example,
    "sigmoid_backward": _sigmoid_backward_example,
    "sparsemax_backward": _backward_example,   # a uniform output: every class in the support
}

FUNCTIONS: list[Func] = [Func(f, example=EXAMPLES.get(f.name)) for f in _registry.FUNCTIONS]


def _partner(x: Any) -> Any:
    """kl_divergence's q made from p: p's entries in reverse order (the same shape and dtype, a
    different distribution); anything that is not a real array is passed on as it is."""
    try:
        a = np.asarray(x)
    except (ValueError, TypeError):
        return x
    if a.dtype.kind not in "biuf" or a.ndim == 0:
        return x
    return np.flip(a)


@dataclass(frozen=True)
class PairedFunc(Func):
    """kl_divergence, a function of two arrays of the same shape, seen by the registry-driven
    tests as a reduction of one (q made from p by _partner); its own tests are
    tests/test_information.py."""

    @property
    def fast(self) -> Callable:
        f = getattr(logitkit, self.name)
        return lambda x, *args, **kwargs: f(x, _partner(x), *args, **kwargs)

    @property
    def ref(self) -> Callable | None:
        f = getattr(reference, self.name)
        return lambda x, *args, **kwargs: f(x, _partner(x), *args, **kwargs)


FUNCTIONS = [PairedFunc(f.entry) if f.name == "kl_divergence" else f for f in FUNCTIONS]

BY_NAME = {f.name: f for f in FUNCTIONS}
CORE = [f for f in FUNCTIONS if f.kind in ("normalize", "reduce", "elementwise")]
REDUCTIONS = [f for f in CORE if f.kind in ("normalize", "reduce")]
ELEMENTWISE = [f for f in CORE if f.kind == "elementwise"]
LOSSES = [f for f in FUNCTIONS if f.kind in ("loss", "backward")]

FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def expected_dtype(x_dtype: np.dtype, dtype: Any = None) -> np.dtype:
    """The result dtype the contract (docs/semantics.md) promises."""
    if dtype is not None:
        return np.dtype(dtype)
    x_dtype = np.dtype(x_dtype)
    if x_dtype.kind == "f":
        return x_dtype.newbyteorder("=")
    return np.dtype(np.float64)


# ---------------------------------------------------------------------------------------------
# Calls that must not warn, comparison in ULPs
# ---------------------------------------------------------------------------------------------

def quiet(fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs), failing if it emits any warning (RuntimeWarning included)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="warn"):
            result = fn(*args, **kwargs)
    assert not caught, f"{getattr(fn, '__name__', fn)} warned: " + "; ".join(
        f"{w.category.__name__}: {w.message}" for w in caught)
    return result


_INT_OF = {2: np.int16, 4: np.int32, 8: np.int64}


def _ordered(a: np.ndarray) -> list[int]:
    """Floats as integers whose difference counts the representable values between them."""
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    ints = a.view(_INT_OF[a.dtype.itemsize]).ravel().tolist()
    top = 1 << (8 * a.dtype.itemsize - 1)
    return [i if i >= 0 else -top - i for i in ints]      # -0.0 and +0.0 both map to 0


def ulp_errors(got: np.ndarray, want: np.ndarray) -> list[float]:
    """Per-element distance in ULPs between two float arrays of one dtype (flattened); NaN must
    match NaN and infinities must match exactly (else the element's distance is inf)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.itemsize > 8:                  # longdouble: computed in float64, so its ULPs
        got, want = got.astype(np.float64), want.astype(np.float64)
    g, w = got.ravel(), want.ravel()
    gi, wi = _ordered(g), _ordered(w)
    errors = []
    for a, b, x, y in zip(g.tolist(), w.tolist(), gi, wi):
        if math.isnan(a) or math.isnan(b):
            errors.append(0.0 if math.isnan(a) and math.isnan(b) else math.inf)
        elif math.isinf(a) or math.isinf(b):
            errors.append(0.0 if a == b else math.inf)
        else:
            errors.append(float(abs(x - y)))
    return errors


def ulp_distance(got: np.ndarray, want: np.ndarray) -> float:
    """Largest distance in ULPs between two float arrays of one dtype (see ulp_errors)."""
    return max(ulp_errors(got, want), default=0.0)


def as_result_array(value: Any, dtype: np.dtype) -> np.ndarray:
    """A reference result (list, Python float, NumPy scalar or array) as an array of `dtype`
    (rounded once from float64 where the reference returned float64)."""
    arr = np.asarray(value)
    if arr.dtype != dtype:
        with np.errstate(all="ignore"):
            arr = arr.astype(np.float64).astype(dtype)
    return arr


def assert_matches(got: Any, ref: Any, dtype: np.dtype, max_ulp: float, what: str = "",
                   abs_tol: float = 0.0) -> None:
    """got (a fast-path result) has dtype `dtype`, the reference's shape, and is within max_ulp
    of the reference (NaN where it is NaN, the same infinities); elements within abs_tol of the
    reference pass too (for results that are small because of cancellation)."""
    garr = np.asarray(got)
    assert garr.dtype == dtype, f"{what}: result dtype {garr.dtype}, expected {dtype}"
    rarr = as_result_array(ref, dtype)
    assert garr.shape == rarr.shape, f"{what}: shape {garr.shape}, reference {rarr.shape}"
    errors = ulp_errors(garr, rarr)
    g64, r64 = garr.astype(np.float64).ravel(), rarr.astype(np.float64).ravel()
    bad = [i for i, e in enumerate(errors)
           if e > max_ulp and not (math.isfinite(e) and abs(g64[i] - r64[i]) <= abs_tol)]
    if bad:
        i = max(bad, key=lambda k: errors[k])
        raise AssertionError(
            f"{what}: {errors[i]} ULP from the reference (max {max_ulp}) at flat index {i}: "
            f"got {g64[i]!r}, reference {r64[i]!r} ({len(bad)} of {garr.size} elements bad)")


# ---------------------------------------------------------------------------------------------
# One case of the matrix: the fast function against its reference
# ---------------------------------------------------------------------------------------------

def run_case(func, x, **kwargs):
    """Call the fast function and its reference on x; both raise the same exception type
    (the fast one naming the function), or the results match."""
    x_before = np.array(x, copy=True) if isinstance(x, np.ndarray) else None
    ref_exc = None
    # `out` is the fast path's business (the reference is stricter: no big-endian out)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    try:
        ref = func.ref(_fresh(x), **ref_kwargs)
    except Exception as exc:  # noqa: BLE001 - compared below
        ref_exc = exc
    if ref_exc is not None:
        import pytest
        with pytest.raises(type(ref_exc)) as info:
            quiet(func.fast, x, **kwargs)
        assert func.name in str(info.value), f"message does not name {func.name}: {info.value}"
        return None
    got = quiet(func.fast, x, **kwargs)
    in_dtype = np.asarray(x).dtype if not isinstance(x, list) or x else np.dtype(np.float64)
    if kwargs.get("out") is not None:
        want_dtype = kwargs["out"].dtype
    elif kwargs.get("b") is not None and kwargs.get("dtype") is None:
        # logsumexp's b= promotes with x, as in SciPy (checked against SciPy in test_logsumexp)
        want_dtype = np.asarray(ref[0] if kwargs.get("return_sign") else ref).dtype
    else:
        want_dtype = expected_dtype(in_dtype, kwargs.get("dtype"))
    # logsumexp's result can be small through cancellation (m + log(sum) ~ 0), where its
    # error is a few ULP of m, not of the result: test_logsumexp_near_cancellation tracks that
    tol = 4 * float(np.finfo(want_dtype).eps) if func.kind == "reduce" else 0.0
    if kwargs.get("return_sign"):
        assert isinstance(got, tuple) and len(got) == 2
        assert_matches(got[0], ref[0], want_dtype, func.max_ulp, f"{func.name} value", tol)
        assert_matches(got[1], ref[1], want_dtype, 0,
                       f"{func.name} sign")
        value = got[0]
    else:
        assert_matches(got, ref, want_dtype, func.max_ulp, func.name, tol)
        value = got
    if kwargs.get("out") is None:
        # a 0-d result is a NumPy scalar; anything else a new array, never a view of x
        if np.ndim(value) == 0:
            assert isinstance(value, np.generic), f"{func.name}: 0-d result is {type(value)}"
        else:
            assert isinstance(value, np.ndarray)
            if isinstance(x, np.ndarray):
                assert not np.shares_memory(value, x), f"{func.name} returned a view of x"
    else:
        assert value is kwargs["out"]
    if x_before is not None and kwargs.get("out") is not x:
        np.testing.assert_array_equal(x, x_before, err_msg=f"{func.name} modified its input")
    return got


def _fresh(x):
    """The reference must not see the very array the fast path may write into."""
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


# ---------------------------------------------------------------------------------------------
# Hypothesis strategies
# ---------------------------------------------------------------------------------------------

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    st = hnp = None

# what goes into an input: every dtype the API accepts, in both byte orders where it has one
ACCEPTED_DTYPES = [np.dtype(t) for t in (
    "f2", "f4", "f8", ">f2", ">f4", ">f8", "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8",
    ">i4", ">u8")]
REJECTED_DTYPES = [np.dtype(t) for t in (
    "c8", "c16", "O", "U3", "S3", "M8[s]", "m8[ms]", "V8", [("a", "f8"), ("b", "i4")])]


def _special_floats(dtype: np.dtype) -> list[float]:
    info = np.finfo(dtype)
    values = [0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, float(info.max),
              float(-info.max), float(info.tiny), float(info.smallest_subnormal),
              -float(info.smallest_subnormal), 30.0, -40.0, 88.7, -103.0, 709.0, -745.0]
    # rounded to the dtype: hypothesis rejects an element the dtype cannot hold exactly
    with np.errstate(over="ignore"):
        return [float(np.dtype(dtype).type(v)) for v in values]


if st is not None:

    @st.composite
    def shapes(draw, min_dims: int = 0, max_dims: int = 5, max_side: int = 6,
               max_size: int = 200) -> tuple[int, ...]:
        """Shapes with zeros and ones anywhere, bounded in total size."""
        shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                                      max_side=max_side))
        while math.prod(shape) > max_size:
            shape = tuple(max(1, s // 2) for s in shape)
        return shape

    @st.composite
    def element_arrays(draw, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        """A native array of `dtype` and `shape` with special values mixed in."""
        native = dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype
        if native.kind == "f":
            width = 8 * native.itemsize
            pool = _special_floats(native)
            elements = st.one_of(
                st.floats(width=width, allow_nan=True, allow_infinity=True),
                st.floats(-50, 50, width=width),
                st.sampled_from(pool))
        elif native.kind == "b":
            elements = st.booleans()
        else:
            info = np.iinfo(native)
            elements = st.one_of(st.integers(int(info.min), int(info.max)),
                                 st.integers(max(int(info.min), -50), min(int(info.max), 50)))
        arr = draw(hnp.arrays(native, shape, elements=elements))
        return arr.astype(dtype) if dtype != native else arr

    @st.composite
    def any_layout(draw, arr: np.ndarray) -> np.ndarray:
        """The same values in another memory layout: Fortran, transposed copy viewed back,
        negative strides, a strided slice of a bigger buffer, unaligned, read-only."""
        kinds = ["c", "f", "reversed", "strided", "unaligned", "readonly", "transposed"]
        kind = draw(st.sampled_from(kinds))
        if kind == "f":
            out = np.array(arr, order="F")     # (np.asfortranarray makes 0-d 1-d)
        elif kind == "reversed" and arr.ndim:
            axes = draw(st.lists(st.integers(0, arr.ndim - 1), max_size=arr.ndim, unique=True))
            src = arr.copy()
            index = tuple(slice(None, None, -1) if a in axes else slice(None)
                          for a in range(arr.ndim))
            flipped = np.ascontiguousarray(src[index])
            out = flipped[index]
        elif kind == "strided" and arr.ndim:
            big = np.zeros(tuple(2 * s for s in arr.shape), arr.dtype)
            big[tuple(slice(None, None, 2) for _ in arr.shape)] = arr
            out = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        elif kind == "unaligned" and arr.itemsize > 1:
            raw = np.zeros(arr.nbytes + 1, np.uint8)
            out = np.ndarray(arr.shape, arr.dtype, buffer=raw.data, offset=1)
            out[...] = arr
        elif kind == "readonly":
            out = arr.copy()
            out.flags.writeable = False
        elif kind == "transposed" and arr.ndim >= 2:
            out = np.ascontiguousarray(arr.T).T
        else:
            out = arr.copy()
        assert np.array_equal(out, arr, equal_nan=arr.dtype.kind == "f")
        return out

    @st.composite
    def arrays_any(draw, dtypes=None, min_dims: int = 0, max_dims: int = 5,
                   max_size: int = 200) -> np.ndarray:
        """Arrays of any accepted dtype (both byte orders), layout and shape (0s and 1s
        anywhere, 0-d included)."""
        dtype = draw(st.sampled_from(dtypes or ACCEPTED_DTYPES))
        shape = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_size=max_size))
        arr = draw(element_arrays(dtype, shape))
        return draw(any_layout(arr))

    @st.composite
    def axes_for(draw, ndim: int):
        """A valid axis argument for an array of `ndim` dims: int, negative int, tuple or None."""
        if ndim == 0:
            return draw(st.sampled_from([0, -1, None]))
        choice = draw(st.sampled_from(["int", "tuple", "none"]))
        if choice == "none":
            return None
        if choice == "int":
            return draw(st.integers(-ndim, ndim - 1))
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        return tuple(a - ndim if draw(st.booleans()) else a for a in picked)

    result_dtypes = st.sampled_from([None, np.float16, np.float32, np.float64, "float32"])
