"""entropy and kl_divergence: the information of softmax distributions, straight from logits.

Each function checks its arguments, finds a view of the slices as contiguous rows (the reduced
axes last: a copy only where the layout has none), makes one call into the kernels for the
whole array and rounds to the result dtype once. No probability array is formed. Semantics at
the edges are the contract's (docs/semantics.md).

Its pure-Python twin is logitkit.reference._information; the binding is binding/entropy.pxi
and the kernels are csrc/kernels/entropy-inl.h (each row's whole algorithm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _ext, _layout
from logitkit._interop import foreign, translate
from logitkit._results import finish
from logitkit._validate import (as_array, check_mask, check_out, normalize_axes, result_dtype,
                                to_compute, working_dtype)

_NO_PAIR32 = np.empty((0, 0), np.float32)
_NO_PAIR64 = np.empty((0, 0), np.float64)


def entropy(logits: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
            dtype: Any = None) -> Any:
    """Shannon entropy of softmax(logits) over `axis`, in nats, in one pass over the logits.

    Parameters
    ----------
    logits : array_like
        Anything `numpy.asarray` accepts, of a real floating, integer or bool dtype (float16
        is computed in float32; integers and bool in float64).
    axis : int, tuple of ints or None, optional
        The axis, or axes together, of each distribution; None for the whole array. Default:
        the last axis.
    where : array_like of bool, optional
        Entries where it is False take no part (probability 0: they contribute 0). It
        broadcasts to the logits' shape.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write into. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end.

    Returns
    -------
    numpy.ndarray or numpy.floating
        ``-sum p log p`` with ``p = softmax(logits)``, the reduced axes removed; a NumPy scalar
        when none are left. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `logits`, `out` or `dtype`), an axis that is not an
        integer or a `where` that is not boolean.
    ValueError
        For an input NumPy cannot turn into an array, an `out` of the wrong shape or read-only,
        or a `where` that does not broadcast.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    kl_divergence : The divergence of two softmax distributions.
    softmax : The probabilities themselves.
    logitkit.reference.entropy : The pure-Python twin.

    Notes
    -----
    Computed as ``log s - sum e (x - m) / s`` with ``m`` the max, ``e = exp(x - m)`` (``x - m``
    exact) and ``s = sum e``: both parts are >= 0, ``log s`` is ``log1p`` of the terms below a
    unique max, and the max's own terms add exactly 0, so a confident slice keeps its tiny
    entropy ``~ e (1 - log e)``. Masked and -inf entries contribute 0; a slice with one finite
    class is exactly 0, an empty or fully masked slice 0; a slice with NaN or +inf, or of only
    -inf, is NaN. No warning is ever emitted. Accurate to 4 ULP of the result dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.entropy([0.0, 0.0, 0.0, 0.0]).round(6)          # log 4
    np.float64(1.386294)

    A confident row, where the textbook formula on the probabilities fails: ``p log p`` is
    ``0 * -inf = nan`` at p = 0, and where p rounds to 1 the entropy is lost:

    >>> x = np.array([0.0, -40.0, -np.inf])
    >>> p = lk.softmax(x)
    >>> with np.errstate(divide="ignore", invalid="ignore"):
    ...     -(p * np.log(p)).sum()
    np.float64(nan)
    >>> -(p[:2] * np.log(p[:2])).sum()                      # loses the top class's share
    np.float64(1.6993417021166355e-16)
    >>> lk.entropy(x)
    np.float64(1.7418252446695514e-16)
    """
    if where is None and dtype is None and out is None and type(logits) is np.ndarray:
        fast = _fast(logits, None, axis)
        if fast is not None:
            return fast
    if foreign(logits, where, out):
        return translate(entropy, logits, axis, where=where, out=out, dtype=dtype)
    return _reduce("entropy", logits, None, axis, where, out, dtype)


def kl_divergence(p_logits: Any, q_logits: Any, axis: Any = -1, *, where: Any = None,
                  out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """Kullback-Leibler divergence KL(softmax(p_logits) || softmax(q_logits)) over `axis`, in
    nats, fused from the two arrays of logits.

    Parameters
    ----------
    p_logits, q_logits : array_like
        The logits of p and of q, of the same shape (they do not broadcast), of real floating,
        integer or bool dtypes (float16 is computed in float32; integers and bool in float64).
        The result dtype is the wider of the two.
    axis : int, tuple of ints or None, optional
        The axis, or axes together, of each distribution; None for the whole array. Default:
        the last axis.
    where : array_like of bool, optional
        Entries where it is False take no part in either distribution. It broadcasts to the
        logits' shape.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write into. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the inputs is computed in their precision and
        rounded once at the end.

    Returns
    -------
    numpy.ndarray or numpy.floating
        ``sum p (log p - log q)`` per slice, the reduced axes removed; a NumPy scalar when none
        are left. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of either input, `out` or `dtype`), an axis that is not an
        integer or a `where` that is not boolean.
    ValueError
        For inputs of different shapes, an input NumPy cannot turn into an array, an `out` of
        the wrong shape or read-only, or a `where` that does not broadcast.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    entropy : The entropy of one softmax distribution.
    cross_entropy : The cross-entropy loss against probability targets, with its gradient.
    logitkit.reference.kl_divergence : The pure-Python twin.

    Notes
    -----
    Computed as ``(m_b - b_top) + log s_b - log s_a + sum e_i u_i / s_a``, where ``m_a``,
    ``m_b`` are the maxima, ``b_top`` is q's logit at p's top class, ``e_i = exp(a_i - m_a)``,
    ``s_a``, ``s_b`` the sums of the exponentials and ``u_i = (a_i - m_a) - (b_i - b_top)``
    from exact differences, the parts added in double-double. Where p ~ q the result is a small
    difference of large terms: it is the true value within a few ULP, or within a few 2^-53 of
    the terms ``sum p (|log p| + |log q|)`` where they cancel further; it is never negative.
    Entries with ``p_i = 0`` (-inf or masked) contribute 0, even where ``q_i = 0``; ``p_i > 0``
    where ``q_i = 0`` gives +inf. A slice with NaN or +inf in either input, or of only -inf, is
    NaN; an empty or fully masked slice is 0. No warning is ever emitted.

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.kl_divergence([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    np.float64(0.0)
    >>> lk.kl_divergence([0.0, 0.0], [0.0, np.log(3.0)]).round(6)    # KL([1/2,1/2]||[1/4,3/4])
    np.float64(0.143841)

    Nearby distributions, where the textbook formula on the probabilities is off by a factor
    of two million (the exact divergence is 2.1242e-30: the two rounded logs of the top class
    cancel to 2e-14 of themselves):

    >>> p_logits = np.array([0.0, -40.0])
    >>> q_logits = np.array([0.0, -40.000001])
    >>> p, q = lk.softmax(p_logits), lk.softmax(q_logits)
    >>> print(f"{(p * (np.log(p) - np.log(q))).sum():.4e}")
    4.2484e-24
    >>> print(f"{lk.kl_divergence(p_logits, q_logits):.3e}")
    2.124e-30
    """
    if (where is None and dtype is None and out is None and type(p_logits) is np.ndarray
            and type(q_logits) is np.ndarray):
        fast = _fast(p_logits, q_logits, axis)
        if fast is not None:
            return fast
    if foreign(p_logits, q_logits, where, out):
        return translate(kl_divergence, p_logits, q_logits, axis, where=where, out=out,
                         dtype=dtype)
    return _reduce("kl_divergence", p_logits, q_logits, axis, where, out, dtype)


def _plain(x: np.ndarray) -> bool:
    return (x.dtype in (np.float32, np.float64) and x.dtype.isnative and x.ndim > 0
            and x.flags.c_contiguous and x.flags.aligned and x.shape[-1] > 0)


def _fast(x: np.ndarray, b: np.ndarray | None, axis: Any) -> Any:
    """The common call: C-ordered float32/float64 logits over their last axis; None otherwise."""
    if type(axis) is not int or not _plain(x) or (axis != -1 and axis != x.ndim - 1):
        return None
    if b is not None and (b.dtype != x.dtype or b.shape != x.shape or not _plain(b)):
        return None
    n = x.shape[-1]
    rows = x.size // n
    result = np.empty(x.shape[:-1], x.dtype)
    pair = b.reshape(rows, n) if b is not None else (
        _NO_PAIR32 if x.dtype == np.float32 else _NO_PAIR64)
    _ext.information_rows(x.reshape(rows, n), pair, result.reshape(rows), False)
    return result if result.ndim else result[()]


def _reduce(name: str, x: Any, b: Any, axis: Any, where: Any, out: np.ndarray | None,
            dtype: Any) -> Any:
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name, what="p_logits" if b is not None else "input")
    calc = working_dtype(arr, res_dtype)
    other = None
    if b is not None:
        other = as_array(b, name)
        other_dtype = result_dtype(other, dtype, name, what="q_logits")
        if other.shape != arr.shape:
            raise ValueError(f"{name}: p_logits has shape {arr.shape} and q_logits "
                             f"{other.shape}; expected the same shape (they do not broadcast)")
        if dtype is None:
            res_dtype = np.promote_types(res_dtype, other_dtype)
        calc = np.promote_types(calc, working_dtype(other, res_dtype))
    axes = normalize_axes(axis, arr.ndim, name)
    if arr.ndim == 0:
        arr, axes = arr.reshape(1), (0,)
        other = other.reshape(1) if other is not None else None
        final_shape: tuple[int, ...] = ()
    else:
        final_shape = tuple(s for a, s in enumerate(arr.shape) if a not in axes)
    if out is not None:
        check_out(out, final_shape, res_dtype, name)
    data = to_compute(arr, calc)
    pair = to_compute(other, calc) if other is not None else None
    masked = where is not None
    if masked:
        keep = check_mask(where, arr.shape, name)
        data = np.where(keep, data, data.dtype.type(-np.inf))
        if pair is not None:
            pair = np.where(keep, pair, pair.dtype.type(-np.inf))
    p = _layout.fallback_plan(arr.shape, axes)
    outer, n, _ = p.sizes
    result = np.empty(outer, calc)
    if outer:
        x2 = _rows(data, p)
        b2 = _rows(pair, p) if pair is not None else np.empty((0, 0), calc)
        _ext.information_rows(x2, b2, result, masked)
    return finish(result.reshape(final_shape), out, res_dtype)


def _rows(data: np.ndarray, p: _layout.Plan) -> np.ndarray:
    """The slices of data as (outer, n) rows, each contiguous: a view where the reduced axes
    are already last and contiguous, else one C-ordered copy."""
    outer, n, _ = p.sizes
    moved = np.transpose(data, p.groups[0] + p.groups[1])
    if n == 0:
        return np.empty((outer, 0), data.dtype)
    try:
        rows = moved.reshape(outer, n, copy=False)
    except (ValueError, TypeError):
        rows = np.ascontiguousarray(moved).reshape(outer, n)
    if n > 1 and rows.strides[1] != rows.itemsize:
        rows = np.ascontiguousarray(rows)
    return rows
