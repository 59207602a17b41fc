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
from logitkit._interop import foreign, refuse_dim, translate
from logitkit._results import finish, kernel_can_write
from logitkit._validate import (as_array, as_flag, check_mask, check_out, normalize_axes,
                                result_dtype, same_memory, scaled_result_dtype, to_compute,
                                working_dtype)

_SOFTMAX, _LOG_SOFTMAX, _LOGSUMEXP = 0, 1, 2
_F64 = np.dtype(np.float64)


# ---------------------------------------------------------------- softmax and log_softmax

def softmax(x: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
            dtype: Any = None, dim: None = None) -> Any:
    """Softmax over `axis`: exp(x - max) / sum(exp(x - max)), the class probabilities.

    Parameters
    ----------
    x : array_like
        The logits: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    axis : int, tuple of ints or None, optional
        The axis, or axes together, that each slice runs over; None for the whole array.
        Negative values count from the end. Default: the last axis.
    where : array_like of bool, optional
        Entries where it is False take no part: they are treated as -inf logits, so their
        probability is exactly 0. It broadcasts to `x`'s shape.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write the result into;
        it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The probabilities, with `x`'s shape; a NumPy scalar for a 0-d input (``softmax(5.0)``
        is 1.0). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`), an axis that is not an integer
        or a `where` that is not boolean.
    ValueError
        For an input NumPy cannot turn into an array, an `out` of the wrong shape or
        read-only, or a `where` that does not broadcast.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    log_softmax : The log of the probabilities, accurate where they are tiny.
    logsumexp : The log of the normalising sum.
    softmax_backward : The vector-Jacobian product of softmax.
    logitkit.reference.softmax : The pure-Python twin.

    Notes
    -----
    ``x - max`` is exact and no term overflows, so finite logits of any size work:
    ``softmax([1e308, 1e308])`` is [0.5, 0.5]. Each slice sums to 1 within the rounding of its
    entries. A slice containing NaN or +inf, or only -inf, is NaN everywhere; -inf beside
    finite values gives 0; a slice with nothing left by `where` is 0 everywhere; an empty axis
    gives an empty result. No warning is ever emitted. Accurate to 4 ULP of the result dtype
    (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.softmax([2.0, 1.0, 0.1]).round(3)
    array([0.659, 0.242, 0.099])

    Large logits, where the textbook formula overflows:

    >>> x = np.array([1000.0, 1000.0])
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     np.exp(x) / np.exp(x).sum()
    array([nan, nan])
    >>> lk.softmax(x)
    array([0.5, 0.5])

    Over the first axis, and with a mask:

    >>> lk.softmax([[1.0, 2.0], [3.0, 3.0]], axis=0).round(4)
    array([[0.1192, 0.2689],
           [0.8808, 0.7311]])
    >>> lk.softmax([1.0, 2.0, 3.0], where=[True, False, True]).round(4)
    array([0.1192, 0.    , 0.8808])
    """
    if where is None and dtype is None and dim is None:
        fast = _ext.rows_fast(x, axis, _SOFTMAX, out)
        if fast is not None:
            return fast
    if dim is not None:
        refuse_dim("softmax")
    if foreign(x, where, out):
        return translate(softmax, x, axis, where=where, out=out, dtype=dtype)
    return _normalize(x, axis, where, out, dtype, _SOFTMAX, "softmax")


def log_softmax(x: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
                dtype: Any = None, dim: None = None) -> Any:
    """Log-softmax over `axis`: x - logsumexp(x), the log-probabilities of the classes.

    Parameters
    ----------
    x : array_like
        The logits: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    axis : int, tuple of ints or None, optional
        The axis, or axes together, that each slice runs over; None for the whole array.
        Negative values count from the end. Default: the last axis.
    where : array_like of bool, optional
        Entries where it is False take no part: they are treated as -inf logits, so their
        log-probability is -inf. It broadcasts to `x`'s shape.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write the result into;
        it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The log-probabilities, with `x`'s shape; a NumPy scalar for a 0-d input
        (``log_softmax(5.0)`` is 0.0). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`), an axis that is not an integer
        or a `where` that is not boolean.
    ValueError
        For an input NumPy cannot turn into an array, an `out` of the wrong shape or
        read-only, or a `where` that does not broadcast.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    softmax : The probabilities themselves.
    logsumexp : The log of the normalising sum.
    log_softmax_backward : The vector-Jacobian product of log_softmax.
    cross_entropy : The loss built on it, with its gradient.
    logitkit.reference.log_softmax : The pure-Python twin.

    Notes
    -----
    Computed as ``(x - max) - log(count_of_max + sum_rest)``, with ``x - max`` exact and
    ``log1p`` for the terms other than the maxima, so the top class of a confident row keeps
    its value where ``log(softmax(x))`` gives 0. A slice containing NaN or +inf, or only -inf,
    is NaN everywhere; -inf beside finite values gives -inf; a slice with nothing left by
    `where` is -inf everywhere. No warning is ever emitted. Accurate to 2 ULP of the result
    dtype (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.log_softmax([2.0, 1.0, 0.1]).round(4)
    array([-0.417, -1.417, -2.317])

    A confident row, where the log of the softmax loses the top class's value:

    >>> np.log(lk.softmax([0.0, -40.0]))
    array([  0., -40.])
    >>> lk.log_softmax([0.0, -40.0])
    array([-4.24835426e-18, -4.00000000e+01])

    Masked entries get -inf:

    >>> lk.log_softmax([1.0, 2.0, 3.0], where=[True, False, True]).round(4)
    array([-2.1269,    -inf, -0.1269])
    """
    if where is None and dtype is None and dim is None:
        fast = _ext.rows_fast(x, axis, _LOG_SOFTMAX, out)
        if fast is not None:
            return fast
    if dim is not None:
        refuse_dim("log_softmax")
    if foreign(x, where, out):
        return translate(log_softmax, x, axis, where=where, out=out, dtype=dtype)
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
              out: np.ndarray | None = None, dtype: Any = None, dim: None = None) -> Any:
    """log(sum(b * exp(x))) over `axis`, without overflow for logits of any size.

    Parameters
    ----------
    x : array_like
        The logits: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    axis : int, tuple of ints or None, optional
        The axis, or axes together, to reduce; None for the whole array. Negative values
        count from the end. Default: the last axis.
    b : array_like, optional
        Scales the terms, as in `scipy.special.logsumexp`: any real array; `x` and `b`
        broadcast together and `axis` counts in their common shape. The result dtype is
        NumPy's promotion of theirs (a Python scalar `b` does not widen `x`; float64 where
        the promotion is not a float). An entry with ``b == 0`` takes no part, even where
        `x` is infinite. The scaled form is computed in float64 for float32 input too, so
        `b` keeps its range.
    where : array_like of bool, optional
        Entries where it is False take no part (their `b` counts as 0). It broadcasts to
        `x`'s shape.
    keepdims : bool, optional
        Keep the reduced axes, with size 1. Default: False.
    return_sign : bool, optional
        Return ``(log|sum|, sign)`` instead of the log of the sum, for a `b` with negative
        entries. Default: False (a negative total is then NaN).
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape (with or without the kept axes) and
        dtype to write the value into. It is returned (as the value, with `return_sign`).
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    value : numpy.ndarray or numpy.floating
        The log of the sum, with the reduced axes removed (or of size 1 with `keepdims`); a
        NumPy scalar when no axis is left (``axis=None`` or a 1-d input, without
        `keepdims`).
        With `return_sign`, ``log|sum(b * exp(x))|``. `out` when it is given.
    sign : numpy.ndarray or numpy.floating
        Only with `return_sign`: 1.0, -1.0, 0.0 (a zero total; `value` is -inf) or NaN (a NaN
        `value`), of the result dtype and shape.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `b`, `out` or `dtype`), an axis that is not an
        integer or a `where` that is not boolean.
    ValueError
        For an input NumPy cannot turn into an array, a `b` or `where` that does not
        broadcast, or an `out` of the wrong shape or read-only.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    log_softmax : x - logsumexp(x), in one pass.
    softmax : The probabilities.
    logitkit.reference.logsumexp : The pure-Python twin.
    scipy.special.logsumexp : The same function, whose `b` and `return_sign` it follows.

    Notes
    -----
    Computed as ``max + log(count_of_max + sum_rest)``, with ``log1p`` of the rest for a
    confident slice: no term overflows, for logits up to the dtype's max
    (``logsumexp([1e308, 1e308])`` is 1e308). A slice containing NaN is NaN, one with +inf
    is +inf, one of only -inf, an empty one or one with nothing left by `where` is -inf. No
    warning is ever emitted. Accurate to 2 ULP of the result dtype; where ``max`` and
    ``log(sum)`` cancel (a result below 1 in size) the error is measured against the larger
    of the two (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> x = np.array([1000.0, 1000.0])
    >>> with np.errstate(over="ignore"):
    ...     np.log(np.sum(np.exp(x)))           # the textbook formula overflows
    np.float64(inf)
    >>> lk.logsumexp(x).round(6)
    np.float64(1000.693147)

    Over an axis, keeping it:

    >>> lk.logsumexp([[1.0, 2.0], [3.0, 4.0]], axis=0).round(4)
    array([3.1269, 4.1269])
    >>> lk.logsumexp([[1.0, 2.0], [3.0, 4.0]], keepdims=True).round(4)
    array([[2.3133],
           [4.3133]])

    A negative total, with its sign:

    >>> lk.logsumexp([1.0, 2.0], b=[1.0, -1.0])
    np.float64(nan)
    >>> value, sign = lk.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)
    >>> value.round(6), sign
    (np.float64(1.541325), np.float64(-1.0))
    """
    if (b is None and where is None and keepdims is False and return_sign is False
            and dtype is None and dim is None):
        fast = _ext.rows_fast(x, axis, _LOGSUMEXP, out)
        if fast is not None:
            return fast
    name = "logsumexp"
    if dim is not None:
        refuse_dim(name)
    if foreign(x, b, where, out):
        return translate(logsumexp, x, axis, b=b, where=where, keepdims=keepdims,
                         return_sign=return_sign, out=out, dtype=dtype)
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
            res_dtype = scaled_result_dtype(arr.dtype, b, scale.dtype)
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
