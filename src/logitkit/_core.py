"""The public functions: validate, pick the layout, make one call into the kernels.

Every function converts its input once to the compute dtype (float32 or float64; float16 is
computed in float32; a dtype= narrower than the input computes in the input's precision), runs one kernel call over the whole array with the GIL released, and
rounds to the result dtype once. Semantics at the edges are SPEC.md's; the pure-Python twin of
each function is in logitkit.reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _ext, _layout
from logitkit._validate import (as_array, as_flag, check_mask, check_out, normalize_axes,
                                overlaps, result_dtype, same_memory, to_compute, working_dtype)

_SOFTMAX, _LOG_SOFTMAX, _LOGSUMEXP = 0, 1, 2
_SIGMOID, _SIGMOID_DERIVATIVE, _LOG_SIGMOID, _SOFTPLUS = 0, 1, 2, 3
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


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
        return _finish(_normalize(arr.reshape(1), 0, where, None, dtype, op, name).reshape(()),
                       out)
    data = to_compute(arr, calc)
    masked = where is not None
    if masked:
        data = np.where(check_mask(where, arr.shape, name), data, data.dtype.type(-np.inf))
    if data.size == 0:
        return _finish(np.empty(arr.shape, res_dtype), out)

    p = _layout.plan(data, axes)
    x3 = p.view3(data)
    if x3 is None:                                   # no copy-free view: one C-ordered copy
        p = _layout.fallback_plan(arr.shape, axes)
        data = np.ascontiguousarray(np.transpose(data, p.groups[0] + p.groups[1]))
        x3 = data.reshape(p.sizes)
        result, r3 = _layout.empty_like_plan(p, calc)
        _ext.softmax_3d(x3, r3, op, masked)
        return _finish(result, out, res_dtype)

    target = out if _kernel_can_write(out, calc) else None
    t3 = p.view3(target) if target is not None else None
    if t3 is not None and (same_memory(target, data) or not np.may_share_memory(target, data)):
        _ext.softmax_3d(x3, t3, op, masked)
        return out
    result, r3 = _layout.empty_like_plan(p, calc)
    _ext.softmax_3d(x3, r3, op, masked)
    return _finish(result, out, res_dtype)


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

    if b is not None:
        value, sign = _logsumexp_scaled(data, b, where, axes, reduced_keep, name)
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
        return _finish(value.reshape(final_shape), out, res_dtype)
    assert sign is not None
    sign = sign.reshape(final_shape)
    if sign.dtype != res_dtype:
        sign = sign.astype(res_dtype)
    return _finish(value.reshape(final_shape), out, res_dtype), _finish(sign, None)


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
    scale = as_array(b, name)
    result_dtype(scale, None, name, what="b")
    try:
        scale = np.broadcast_to(scale, data.shape)
    except ValueError:
        raise ValueError(f"{name}: b has shape {scale.shape}, which does not broadcast to the "
                         f"input's shape {data.shape}") from None
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


# ---------------------------------------------------------------- the sigmoid family

def sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """1 / (1 + exp(-x)), as 1/(1+z) or z/(1+z) with z = exp(-|x|): 2 ULP everywhere,
    subnormal results included."""
    return _elementwise(x, out, dtype, _SIGMOID, "sigmoid")


def sigmoid_derivative(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """sigmoid(x) * (1 - sigmoid(x)) at the pre-activation x, as z / (1 + z)^2 with
    z = exp(-|x|): exact where s * (1 - s) rounds to 0 (|x| > 37 in float64)."""
    return _elementwise(x, out, dtype, _SIGMOID_DERIVATIVE, "sigmoid_derivative")


def log_sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """-log(1 + exp(-x)) = min(x, 0) - log1p(exp(-|x|))."""
    return _elementwise(x, out, dtype, _LOG_SIGMOID, "log_sigmoid")


def softplus(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) = -log_sigmoid(-x)."""
    return _elementwise(x, out, dtype, _SOFTPLUS, "softplus")


def _elementwise(x: Any, out: np.ndarray | None, dtype: Any, func: int, name: str) -> Any:
    if dtype is None:
        fast = _ext.elementwise_fast(x, func, out)
        if fast is not None:
            return fast
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name)
    calc = working_dtype(arr, res_dtype)
    if out is not None:
        check_out(out, arr.shape, res_dtype, name)
    data = to_compute(arr, calc)
    flat_in, order = _flat(data)
    if flat_in is None:
        data = np.ascontiguousarray(data)
        flat_in, order = data.reshape(-1), "C"
    if _kernel_can_write(out, calc):
        flat_out, out_order = _flat(out)
        if flat_out is not None and out_order == order and not overlaps(out, data):
            _ext.elementwise(flat_in, flat_out, func)
            return out
    result = np.empty(data.shape, calc, order=order)
    _ext.elementwise(flat_in, _flat(result)[0], func)
    return _finish(result, out, res_dtype)


def _kernel_can_write(out: np.ndarray | None, calc: np.dtype) -> bool:
    """Whether the kernels may write into `out` directly: the compute dtype in native byte
    order, aligned (the C loops assume both); otherwise they write a temporary that is copied."""
    return (out is not None and out.dtype == calc and out.dtype.isnative
            and bool(out.flags.aligned))


def _flat(arr: np.ndarray) -> tuple[np.ndarray | None, str]:
    """A 1-d view of a C- or F-contiguous array, and which order it follows."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), "C"
    if arr.flags.f_contiguous:
        return arr.T.reshape(-1), "F"
    return None, "C"


# ---------------------------------------------------------------- shared endings

def _finish(result: np.ndarray, out: np.ndarray | None, res_dtype: np.dtype | None = None) -> Any:
    """Copy into `out` (rounding to its dtype) or cast to the result dtype; a 0-d result is
    returned as a NumPy scalar, as NumPy's ufuncs do."""
    if out is not None:
        with np.errstate(all="ignore"):
            np.copyto(out, result, casting="unsafe")
        return out
    if res_dtype is not None and result.dtype != res_dtype:
        with np.errstate(all="ignore"):
            result = result.astype(res_dtype)
    return result if result.ndim else result[()]
