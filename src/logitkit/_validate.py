"""Argument checking shared by every public function: dtypes, axes, `out`, `where`.

Each helper raises the exception the contract (docs/semantics.md) documents, with a message
that names the function, what was wrong and what was expected.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

from logitkit._ext import same_elements

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
#: computed in float64 and returned as longdouble: the kernels have no wider type
LONGDOUBLE = np.dtype(np.longdouble)


def as_array(x: Any, name: str) -> np.ndarray:
    """`x` as a plain ndarray (no copy if it is one), rejecting what NumPy cannot make an array
    of. A subclass (np.matrix, ...) is seen as its base ndarray: np.matrix keeps reshape(-1)
    2-d, which the 1-d kernels cannot take. Results are plain ndarrays, as the reductions and
    the reference return (unlike SciPy's expit, which returns a matrix for a matrix)."""
    if type(x) is np.ndarray:
        return x
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: could not convert the input to an array ({exc}); "
                         f"expected a real number, a (rectangular) sequence of them, or an array") from None


def result_dtype(arr: np.ndarray, dtype: Any, name: str, what: str = "input") -> np.dtype:
    """The dtype of the result: float16/32/64 and longdouble stay themselves, bool and integers
    give float64; `dtype=` overrides. Anything else (complex, object, strings, datetimes) is a
    TypeError naming the dtype."""
    kind = arr.dtype.kind
    if not (kind in "biu" or kind == "f"):
        raise TypeError(f"{name}: unsupported {what} dtype {arr.dtype}; expected a real "
                        f"floating (float16, float32, float64, longdouble), integer or bool "
                        f"array")
    if dtype is None:
        return arr.dtype.newbyteorder("=") if kind == "f" else np.dtype(np.float64)
    try:
        wanted = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: dtype={dtype!r} is not a NumPy dtype; "
                        f"expected float16, float32, float64 or longdouble") from None
    if wanted not in FLOAT_DTYPES and wanted != LONGDOUBLE:
        raise TypeError(f"{name}: unsupported dtype={wanted}; expected float16, float32, "
                        f"float64 or longdouble")
    return wanted


def scaled_result_dtype(x_dtype: np.dtype, b: Any, b_dtype: np.dtype) -> np.dtype:
    """logsumexp's result dtype with `b=`, as SciPy's: NumPy's promotion of x's and b's dtypes
    (a Python scalar b is weak: it does not widen x), float64 where that is not a float."""
    weak = b if type(b) in (bool, int, float) else b_dtype.newbyteorder("=")
    promoted = np.result_type(x_dtype.newbyteorder("="), weak)
    return promoted if promoted.kind == "f" else np.dtype(np.float64)


def compute_dtype(result: np.dtype) -> np.dtype:
    """float16 results are computed in float32, longdouble ones in float64, and rounded (or
    widened) once at the end."""
    if result in FLOAT_DTYPES[1:]:
        return result
    return FLOAT_DTYPES[1] if result == FLOAT_DTYPES[0] else FLOAT_DTYPES[2]


def working_dtype(arr: np.ndarray, result: np.dtype) -> np.dtype:
    """The dtype the kernels compute in: that of the result, or the input's own (float64 for
    bool and integers) where dtype= asks for a narrower result. The input then keeps its range
    and precision and the result is rounded once, at the end: softmax([1e300, 0.0],
    dtype=np.float32) is [1, 0], not NaN. (That rarely used path computes into a temporary of
    the wider dtype and casts it into the result or `out` once.)"""
    own = compute_dtype(arr.dtype.newbyteorder("=")) if arr.dtype.kind == "f" else FLOAT_DTYPES[2]
    calc = compute_dtype(result)
    return own if own.itemsize > calc.itemsize else calc


def to_compute(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`arr` as a native-endian, aligned array of `dtype` (a copy only if needed). Casting
    never warns: out-of-range values become +-inf, as the result dtype would hold them."""
    if arr.dtype == dtype and arr.flags.aligned:
        return arr
    with np.errstate(all="ignore"):
        return arr.astype(dtype)


def normalize_axes(axis: Any, ndim: int, name: str) -> tuple[int, ...]:
    """`axis` (int, tuple of ints or None) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = []
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got {axis!r}")
        try:
            index = operator.index(item)
        except TypeError:
            raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, "
                            f"got {axis!r}") from None
        # a 0-d input is a one-element slice: axis 0 and -1 name it, as in NumPy's reductions
        size = max(ndim, 1)
        if not -size <= index < size:
            raise AxisError(index, ndim, msg_prefix=name)
        axes.append(index % size)
    if len(set(axes)) != len(axes):
        raise AxisError(f"{name}: repeated axis in axis={axis!r}")
    return tuple(sorted(axes))


def as_flag(value: Any, arg: str, name: str) -> bool:
    """A yes/no argument (keepdims=, return_sign=) as a bool: anything with a truth value, as
    in NumPy's reductions; an array of several values has none."""
    try:
        return bool(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: {arg} must be True or False, got {type(value).__name__} "
                        f"{value!r}") from None


def check_out(out: Any, shape: tuple[int, ...], dtype: np.dtype, name: str) -> np.ndarray:
    """`out` must be a writable ndarray of exactly the result's shape and dtype (any layout and
    byte order)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name}: out has shape {out.shape}; expected {shape}")
    if out.dtype.newbyteorder("=") != dtype:
        raise TypeError(f"{name}: out has dtype {out.dtype}; expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: out is read-only; expected a writable array")
    return out


def check_mask(where: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """`where` as a boolean array broadcast to `shape`."""
    mask = np.asarray(where)
    if mask.size == 0:
        # nothing to misread: where=[] is float64 to NumPy, but means an empty boolean mask
        mask = mask.astype(np.bool_)
    if mask.dtype != np.bool_:
        raise TypeError(f"{name}: where must be a boolean array, got dtype {mask.dtype}")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"{name}: where has shape {mask.shape}, which does not broadcast "
                         f"to the input's shape {shape}") from None


def same_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a and b are the very same elements (safe for the kernels to run in place)."""
    return same_elements(a, b)


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether writing b could change a without being exactly a (needs a temporary)."""
    return np.may_share_memory(a, b) and not same_memory(a, b)
