"""softmax, log_softmax and logsumexp: validate, pick the layout, make one call into the kernels.

Every function converts its input once to the compute dtype (float32 or float64; float16 is
computed in float32; a dtype= narrower than the input computes in the input's precision), runs
one kernel call over the whole array with the GIL released, and rounds to the result dtype once.
Semantics at the edges are the contract's (docs/semantics.md).

Its pure-Python twin is logitkit.reference._softmax. The bindings are in binding/softmax.pxi
(`rows_fast`, the thin call path of a plain array over its last axis; `softmax_3d` and
`logsumexp_3d` over the (outer, n, inner) views of _layout) and binding/logsumexp_scaled.pxi
(logsumexp with b=); the kernels are csrc/kernels/softmax-inl.h (each row's, column block's and
short-row block's whole algorithm) and logsumexp_scaled-inl.h.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _ext, _layout
from logitkit._results import finish, kernel_can_write
from logitkit._validate import (as_array, as_flag, check_mask, check_out, normalize_axes,
                                result_dtype, same_memory, to_compute, working_dtype)

_SOFTMAX, _LOG_SOFTMAX, _LOGSUMEXP = 0, 1, 2
_F64 = np.dtype(np.float64)


# ---------------------------------------------------------------- softmax and log_softmax

def softmax(x: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
            dtype: Any = None) -> Any:
    """exp(x - max) / sum(exp(x - max)) over `axis` (an int, a tuple of ints, or None for all).

    Entries where `where` is False are left out (probability exactly 0); a slice with nothing
    left is all 0. Without `where`, a slice containing NaN or +inf, or of all -inf, is NaN.
    Accurate to 4 ULP against an exact oracle, for any logits up to the dtype's max.
    """
    if where is None and dtype is None:
        fast = _ext.rows_fast(x, axis, _SOFTMAX, out)
        if fast is not None:
            return fast
    return _normalize(x, axis, where, out, dtype, _SOFTMAX, "softmax")


def log_softmax(x: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
                dtype: Any = None) -> Any:
    """x - logsumexp(x) over `axis`, computed as (x - max) - log(count_max + sum_rest) with
    x - max exact and log1p for the non-max terms: 2 ULP, even for the top class of a confident
    row (log_softmax([0, -40])[0] is -4.2e-18, not 0). Masked entries give -inf."""
    if where is None and dtype is None:
        fast = _ext.rows_fast(x, axis, _LOG_SOFTMAX, out)
        if fast is not None:
            return fast
    return _normalize(x, axis, where, out, dtype, _LOG_SOFTMAX, "log_softmax")


def _normalize(x: Any, axis: Any, where: Any, out: np.ndarray | None, dtype: Any, op: int,
               name: str) -> Any:
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name)
    calc = working_dtype(arr, res_dtype)
    axes = normalize_axes(axis, arr.ndim, name)
    if out is not None:
        check_out(out, arr.shape, res_dtype, name)
    if arr.ndim == 0:
        return finish(_normalize(arr.reshape(1), 0, where, None, dtype, op, name).reshape(()),
                      out)
    data = to_compute(arr, calc)
    masked = where is not None
    if masked:
        data = np.where(check_mask(where, arr.shape, name), data, data.dtype.type(-np.inf))
    if data.size == 0:
        return finish(np.empty(arr.shape, res_dtype), out)

    p = _layout.plan(data, axes)
    x3 = p.view3(data)
    if x3 is None:                                   # no copy-free view: one C-ordered copy
        p = _layout.fallback_plan(arr.shape, axes)
        data = np.ascontiguousarray(np.transpose(data, p.groups[0] + p.groups[1]))
        x3 = data.reshape(p.sizes)
        result, r3 = _layout.empty_like_plan(p, calc)
        _ext.softmax_3d(x3, r3, op, masked)
        return finish(result, out, res_dtype)

    target = out if kernel_can_write(out, calc) else None
    t3 = p.view3(target) if target is not None else None
    if t3 is not None and (same_memory(target, data) or not np.may_share_memory(target, data)):
        _ext.softmax_3d(x3, t3, op, masked)
        return out
    result, r3 = _layout.empty_like_plan(p, calc)
    _ext.softmax_3d(x3, r3, op, masked)
    return finish(result, out, res_dtype)


# ---------------------------------------------------------------- logsumexp

def logsumexp(x: Any, axis: Any = -1, *, b: Any = None, where: Any = None,
              keepdims: bool = False, return_sign: bool = False,
              out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """log(sum(b * exp(x))) over `axis`, as max + log1p(sum of the non-max terms) (+ log of the
    count of maxima): 2 ULP away from cancellation, no overflow for logits up to the dtype's
    max. `b` scales the terms (entries with b == 0 take no part, even where x is inf); a
    negative total is NaN unless `return_sign=True`, which returns (log|total|, sign)."""
    if (b is None and where is None and keepdims is False and return_sign is False
            and dtype is None):
        fast = _ext.rows_fast(x, axis, _LOGSUMEXP, out)
        if fast is not None:
            return fast
    name = "logsumexp"
    keepdims = as_flag(keepdims, "keepdims", name)
    return_sign = as_flag(return_sign, "return_sign", name)
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name)
    scale = None
    if b is not None:
        # as in SciPy: x and b broadcast together, and the result dtype is NumPy's promotion
        # of theirs (a Python scalar b is weak), float64 where that is not a float dtype
        scale = as_array(b, name)
        result_dtype(scale, None, name, what="b")
        try:
            shape = np.broadcast_shapes(arr.shape, scale.shape)
        except ValueError:
            raise ValueError(f"{name}: b has shape {scale.shape}, which does not broadcast "
                             f"with the input's shape {arr.shape}") from None
        arr = np.broadcast_to(arr, shape)
        if dtype is None:
            weak = b if type(b) in (bool, int, float) else scale.dtype.newbyteorder("=")
            promoted = np.result_type(arr.dtype.newbyteorder("="), weak)
            res_dtype = promoted if promoted.kind == "f" else _F64
    calc = working_dtype(arr, res_dtype)
    axes = normalize_axes(axis, arr.ndim, name)
    if arr.ndim == 0:
        arr, axes = arr.reshape(1), (0,)
        reduced_keep: tuple[int, ...] = (1,)
        final_shape: tuple[int, ...] = ()
    else:
        reduced_keep = tuple(1 if a in axes else s for a, s in enumerate(arr.shape))
        final_shape = reduced_keep if keepdims else tuple(
            s for a, s in enumerate(arr.shape) if a not in axes)
    if out is not None:
        check_out(out, final_shape, res_dtype, name)
    data = to_compute(arr, calc)

    if scale is not None:
        value, sign = _logsumexp_scaled(data, scale, where, axes, reduced_keep, name)
    else:
        if where is not None:
            data = np.where(check_mask(where, arr.shape, name), data, data.dtype.type(-np.inf))
        value = _logsumexp_plain(data, axes, calc)
        sign = None
        if return_sign:
            with np.errstate(all="ignore"):
                sign = np.where(np.isnan(value), np.nan, np.where(value == -np.inf, 0.0, 1.0))
            sign = sign.astype(calc)
    if not return_sign:
        if sign is not None:
            value = np.where(sign < 0, value.dtype.type(np.nan), value)
        return finish(value.reshape(final_shape), out, res_dtype)
    assert sign is not None
    sign = sign.reshape(final_shape)
    if sign.dtype != res_dtype:
        sign = sign.astype(res_dtype)
    return finish(value.reshape(final_shape), out, res_dtype), finish(sign, None)


def _logsumexp_plain(data: np.ndarray, axes: tuple[int, ...], calc: np.dtype) -> np.ndarray:
    """logsumexp over `axes`, in keepdims shape."""
    if data.size == 0:
        keep = tuple(1 if a in axes else s for a, s in enumerate(data.shape))
        return np.full(keep, -np.inf, calc)     # an empty sum is 0: its log is -inf
    p = _layout.plan(data, axes)
    x3 = p.view3(data)
    if x3 is None:
        p = _layout.fallback_plan(data.shape, axes)
        x3 = _layout.contiguous_copy(data, p)
    result, r2 = _layout.empty_reduced(p, calc)
    _ext.logsumexp_3d(x3, r2)
    return result


def _logsumexp_scaled(data: np.ndarray, b: Any, where: Any, axes: tuple[int, ...],
                      keep_shape: tuple[int, ...], name: str) -> tuple[np.ndarray, np.ndarray]:
    """log|sum(b * exp(x))| and its sign over `axes`, in keepdims shape and float64 (scalar
    loops: the scaled form is rare and never on a hot path). float32 x is computed in float64
    too, so that b keeps its range: b=1e300 would be inf in float32, while its log is not."""
    scale = np.broadcast_to(b, data.shape)          # b broadcasts to x's (broadcast) shape
    if where is not None:
        scale = np.where(check_mask(where, data.shape, name), scale, 0)
    p = _layout.fallback_plan(data.shape, axes)
    outer, n, _ = p.sizes
    x2 = _layout.contiguous_copy(data, p, dtype=_F64).reshape(outer, n)
    b2 = _layout.contiguous_copy(scale, p, dtype=_F64).reshape(outer, n)
    value = np.empty(outer, _F64)
    sign = np.empty(outer, _F64)
    _ext.logsumexp_scaled(x2, b2, value, sign)
    return value.reshape(keep_shape), sign.reshape(keep_shape)
