"""Argument handling shared by the reference twins (NumPy, but no arithmetic).

The softmax and sigmoid families take ``x`` through `_prepare` and give their float64 result
back through `_finish`, which rounds it to the result dtype once and returns it in the caller's
form; the losses and the backward functions take their result dtype from `_dtype`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

_INF = math.inf
_NAN = math.nan
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64),
                 np.dtype(np.longdouble))       # longdouble: computed in float64 as well


def _check_numeric(a: np.ndarray, what: str) -> None:
    if a.dtype.kind not in "biuf":
        raise TypeError(f"logitkit: unsupported dtype {a.dtype} for {what}; "
                        "expected a float (16/32/64 or longdouble), integer or bool array")


def _prepare(x: Any, dtype: Any, out: Any) -> tuple[np.ndarray, np.dtype, str]:
    """(x as a float64 array, result dtype, kind of result: 'array', 'list' or 'scalar')."""
    if isinstance(x, (np.ndarray, np.generic)) or dtype is not None or out is not None:
        kind = "array"
    elif isinstance(x, (list, tuple)):
        kind = "list"
    elif isinstance(x, numbers.Number):
        kind = "scalar"
    else:
        kind = "array"
    a = np.asarray(x)
    _check_numeric(a, "x")
    if dtype is not None:
        rt = np.dtype(dtype)
        if rt not in _FLOAT_DTYPES:
            raise TypeError(f"logitkit: unsupported result dtype {rt}; "
                            "expected float16, float32, float64 or longdouble")
    else:
        native = a.dtype.newbyteorder("=")      # a big-endian float32 gives float32
        rt = native if native in _FLOAT_DTYPES else np.dtype(np.float64)
    return a.astype(np.float64), rt, kind


def _check_out(out: Any, shape: tuple[int, ...], rt: np.dtype) -> None:
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"logitkit: out must be a NumPy array of shape {shape} and dtype {rt}, "
                        f"got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"logitkit: out has shape {out.shape}, expected {shape}")
    if out.dtype != rt:
        raise TypeError(f"logitkit: out has dtype {out.dtype}, expected {rt}")
    if not out.flags.writeable:
        raise ValueError("logitkit: out is read-only; expected a writable array")


def _finish(res: np.ndarray, rt: np.dtype, kind: str, out: Any) -> Any:
    """Round the float64 result to the result dtype (once) and return it in the caller's form."""
    _check_out(out, res.shape, rt)
    with np.errstate(all="ignore"):
        res = res.astype(rt)
    if out is not None:
        out[...] = res
        return out
    if kind == "scalar":
        return float(res)
    if kind == "list":
        return res.tolist()
    return res[()] if res.ndim == 0 else res


def _dtype(*arrays: np.ndarray) -> np.dtype:
    """The result dtype of a loss or a backward function: the floats' common dtype, with
    integer and bool inputs counting as float64."""
    kinds = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in arrays]
    return np.result_type(*kinds)


def _fsum(values) -> float:
    """math.fsum that never raises: inf - inf (or a NaN) gives NaN, and a finite sum past the
    float range rounds to +-inf, as the fast functions' sums do."""
    parts = list(values)
    try:
        return math.fsum(parts)
    except ValueError:                      # -inf + inf
        return _NAN
    except OverflowError:
        # halving is exact at these magnitudes and commutes with rounding; the final doubling
        # overflows to inf exactly when the correctly rounded sum does
        return 2.0 * math.fsum([p * 0.5 for p in parts])

