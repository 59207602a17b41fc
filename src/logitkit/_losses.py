"""The losses from logits: cross_entropy and binary_cross_entropy_with_logits, validation and
dispatch.

Semantics are PyTorch's (`torch.nn.functional.cross_entropy`,
`binary_cross_entropy_with_logits`, autograd) where the contract (docs/semantics.md) is silent,
and the contract's for dtypes, warnings and errors. Each loss, and with `return_grad=True` its
gradient, is one kernel call.

Its pure-Python twin is logitkit.reference._losses. The bindings are binding/cross_entropy.pxi
(`cross_entropy_index`, `cross_entropy_prob`) and binding/bce.pxi (`bce_with_logits`); the
kernels are csrc/kernels/cross_entropy_rows-inl.h (each row's whole algorithm, with the sums of
cross_entropy-inl.h) and bce-inl.h.
"""

from __future__ import annotations

import math
import operator
from math import prod
from typing import Any

import numpy as np

from logitkit import _ext
from logitkit._interop import foreign, refuse_dim, translate
from logitkit._results import finish
from logitkit._validate import as_array, compute_dtype, normalize_axes, result_dtype, to_compute

_REDUCTIONS = {"mean": 0, "sum": 1, "none": 2}
_NO_WEIGHT = np.empty(0, np.float64)
_INTP = np.dtype(np.intp)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_CE_INDEX_F32 = _ext.cross_entropy_index["float"]
_CE_INDEX_F64 = _ext.cross_entropy_index["double"]
_FINITE_MAX = {np.dtype(np.float16): 65504.0, _F32: 3.4028234663852886e38}


# ---------------------------------------------------------------- shared by both losses

def _kernel_array(a: np.ndarray, dtype: Any) -> np.ndarray:
    """`a` as a C-ordered, aligned array of `dtype`, as the kernels' typed memoryviews assume
    (np.ascontiguousarray keeps an unaligned view, e.g. one at byte offset 1)."""
    return np.require(a, dtype, ["C_CONTIGUOUS", "ALIGNED"])


def _reduction(reduction: Any, name: str) -> int:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return _REDUCTIONS[reduction]


def _real_array(x: Any, name: str, what: str) -> np.ndarray:
    arr = as_array(x, name)
    result_dtype(arr, None, name, what=what)           # TypeError for complex, object, ...
    return arr


def _weights(weight: Any, shape: tuple[int, ...], name: str, what: str) -> np.ndarray:
    """`weight` as a C-contiguous float64 array broadcast to `shape`."""
    w = _real_array(weight, name, what)
    try:
        w = np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{name}: {what} has shape {w.shape}, which does not broadcast to "
                         f"{shape}") from None
    with np.errstate(all="ignore"):
        return _kernel_array(w, np.float64)


def _rows(data: np.ndarray, axis: int) -> np.ndarray:
    """data with `axis` moved last, as a (rows, n) array whose rows are contiguous (a view when
    the layout allows, else one copy)."""
    moved = data if axis == data.ndim - 1 else np.moveaxis(data, axis, -1)
    rows2 = moved.reshape(prod(moved.shape[:-1]), moved.shape[-1])
    n = rows2.shape[1]
    if n > 1 and rows2.strides[1] != rows2.itemsize:
        rows2 = np.ascontiguousarray(rows2)
    return rows2


def _grad_result(buf: np.ndarray, moved_shape: tuple[int, ...], axis: int,
                 res_dtype: np.dtype) -> np.ndarray:
    grad = np.moveaxis(buf.reshape(moved_shape), -1, axis)
    if grad.dtype != res_dtype:
        with np.errstate(all="ignore"):
            grad = grad.astype(res_dtype)
    return grad


def _div(a: float, b: float) -> float:
    """a / b in IEEE arithmetic (0 / 0 is NaN, as PyTorch's mean over nothing), no exception."""
    a, b = float(a), float(b)
    if b != 0.0:
        return a / b
    if a == 0.0 or a != a:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _loss_value(loss: np.ndarray, red: int, total: float, denom: float,
                res_dtype: np.dtype) -> Any:
    """The loss as asked for: per sample (reduction "none", an array of res_dtype, a scalar
    when 0-d), the sum, or the sum / denom ("mean")."""
    if red == 2:
        return finish(loss, None, res_dtype)
    if red == 1:
        return _scalar(total, res_dtype)
    if denom == 0.0:            # a mean over no weight: NaN, as PyTorch's 0/0 of its NLL part
        return _scalar(math.nan, res_dtype)
    return _scalar(_div(total, denom), res_dtype)


def _scalar(value: float, dtype: np.dtype) -> Any:
    """value as a NumPy scalar of dtype (rounded once; no overflow warning)."""
    value = float(value)
    if dtype.itemsize >= 8 or not abs(value) > _FINITE_MAX[dtype]:
        return dtype.type(value)
    with np.errstate(all="ignore"):
        return dtype.type(value)


# ---------------------------------------------------------------- cross_entropy

def cross_entropy(logits: Any, target: Any, axis: int = -1, *, weight: Any = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", return_grad: bool = False, dim: None = None) -> Any:
    """Cross-entropy between the softmax of `logits` over `axis` and `target`.

    PyTorch's semantics (`torch.nn.functional.cross_entropy`), except that the class axis is
    chosen by `axis` and defaults to the last one.

    Parameters
    ----------
    logits : array_like
        The logits, at least 1-d, of a real floating, integer or bool dtype; they set the
        result dtype (float16 logits are computed in float32 and give float16 results).
    target : array_like
        Either integer class indices, of the logits' shape without `axis` (a scalar for 1-d
        logits), or floating class probabilities, of the logits' shape.
    axis : int, optional
        The class axis (a single int). Default: the last axis.
    weight : array_like, optional
        One weight per class, of shape ``(C,)`` for C classes. Default: all 1.
    ignore_index : int, optional
        A class index whose samples take no part (loss 0, left out of the mean and the
        gradient). Applies to class indices. Default: -100.
    label_smoothing : float, optional
        eps in [0, 1]: the target becomes ``(1 - eps) * target + eps / C``. Default: 0.0.
    reduction : {"mean", "sum", "none"}, optional
        "mean": for class indices the weighted mean ``sum(loss) / sum(weight[target])`` over
        the targets not ignored, for probabilities the mean over samples; "sum"; "none": the
        per-sample losses. Default: "mean".
    return_grad : bool, optional
        Also return the gradient with respect to `logits`, computed in the same pass.
        Default: False.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    loss : numpy.floating or numpy.ndarray
        A NumPy scalar for "mean" and "sum"; for "none", the per-sample losses, shaped like
        the class indices (a NumPy scalar for a single sample).
    grad : numpy.ndarray
        Only with `return_grad`: ``d loss / d logits``, of the logits' shape and result dtype
        (for "none", the gradient of the sum of the per-sample losses).

    Raises
    ------
    TypeError
        For an unsupported dtype (of `logits`, `target` or `weight`), a floating target of
        the indices' shape (convert it with ``astype(int)``), a bool target, or an `axis` or
        `ignore_index` that is not an int.
    ValueError
        For 0-d logits, a target or weight of the wrong shape, an unknown `reduction`,
        `label_smoothing` outside [0, 1], or a class index outside ``[0, C)`` that is not
        `ignore_index` (the message names its position; raised before any logit is read).
    numpy.exceptions.AxisError
        For an axis out of range.

    See Also
    --------
    log_softmax : The log-probabilities the loss is read from.
    binary_cross_entropy_with_logits : The loss for independent binary labels.
    logitkit.reference.cross_entropy : The pure-Python twin.

    Notes
    -----
    Per sample, ``loss = -weight[y] * log_softmax(logits)[y]`` for an index y, or
    ``-sum_c weight[c] * p[c] * log_softmax(logits)[c]`` for probabilities p; computed as
    ``(max - x[y]) + log(count_of_max + sum of the other exp(x - max))``, with ``log1p`` when
    the target is the unique maximum, so confident rows keep their loss. Rows containing NaN
    or +inf, or of only -inf, give NaN; a target class at -inf gives an infinite loss; classes
    with zero weight or zero probability at -inf logits contribute 0 (PyTorch gives NaN
    there). A mean over nothing (every target ignored) is NaN. Without `return_grad` no
    temporary the size of the logits is allocated. No warning is ever emitted. Accurate to
    4 ULP of the result dtype, loss and gradient (docs/semantics.md, the contract, lists every
    rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    >>> lk.cross_entropy(logits, [0, 1]).round(4)
    np.float64(0.2851)
    >>> lk.cross_entropy(logits, [0, 1], reduction="none").round(4)
    array([0.417 , 0.1532])
    >>> lk.cross_entropy(logits, [0, -100], reduction="none").round(4)    # ignored: 0
    array([0.417, 0.   ])

    Class probabilities as the target, and the gradient, softmax minus the target over the
    batch size:

    >>> lk.cross_entropy(logits, [[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]], reduction="sum").round(4)
    np.float64(0.9602)
    >>> loss, grad = lk.cross_entropy([[2.0, 1.0, 0.1]], [0], return_grad=True)
    >>> grad.round(3)
    array([[-0.341,  0.242,  0.099]])

    A confident row, where the log of the softmax rounds the loss to 0:

    >>> -np.log(lk.softmax([[0.0, -40.0]]))[:, 0]
    array([-0.])
    >>> lk.cross_entropy([[0.0, -40.0]], [0], reduction="none")
    array([4.24835426e-18])
    """
    name = "cross_entropy"
    if dim is not None:
        refuse_dim(name)
    if (type(logits) is np.ndarray and type(target) is np.ndarray and weight is None
            and label_smoothing == 0.0 and logits.ndim == 2 and (axis == -1 or axis == 1)
            and type(axis) is int and type(ignore_index) is int
            and (logits.dtype == _F32 or logits.dtype == _F64) and logits.flags.c_contiguous
            and logits.flags.aligned and target.dtype == _INTP
            and target.shape == logits.shape[:1] and target.flags.c_contiguous
            and target.flags.aligned and type(reduction) is str
            and reduction in _REDUCTIONS and logits.size):
        return _cross_entropy_fast(logits, target, ignore_index, _REDUCTIONS[reduction],
                                   bool(return_grad))
    if foreign(logits, target, weight):
        return translate(cross_entropy, logits, target, axis, weight=weight,
                         ignore_index=ignore_index, label_smoothing=label_smoothing,
                         reduction=reduction, return_grad=return_grad)
    red = _reduction(reduction, name)
    arr = as_array(logits, name)
    res_dtype = result_dtype(arr, None, name, what="logits")
    calc = compute_dtype(res_dtype)
    if arr.ndim == 0:
        raise ValueError(f"{name}: logits must have at least one dimension (the class axis), "
                         f"got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    ax = normalize_axes(axis, arr.ndim, name)[0]
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: label_smoothing must be a number in [0, 1], "
                        f"got {label_smoothing!r}") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}") from None

    n = arr.shape[ax]
    index_shape = arr.shape[:ax] + arr.shape[ax + 1:]
    tgt = as_array(target, name)
    kind = tgt.dtype.kind
    if kind == "f":
        if tgt.shape != arr.shape:
            if tgt.shape == index_shape:
                raise TypeError(
                    f"{name}: target has floating dtype {tgt.dtype} and shape {tgt.shape}, the "
                    f"shape of class indices; expected an integer array of class indices "
                    f"(e.g. target.astype(int)) or class probabilities of the logits' shape "
                    f"{arr.shape}")
            raise ValueError(f"{name}: target (class probabilities) has shape {tgt.shape}; "
                             f"expected the logits' shape {arr.shape}")
        probs = True
    elif kind in "iu":
        if tgt.shape != index_shape:
            raise ValueError(f"{name}: target (class indices) has shape {tgt.shape}; expected "
                             f"{index_shape}, the logits' shape {arr.shape} without axis {ax}")
        probs = False
    else:
        raise TypeError(f"{name}: unsupported target dtype {tgt.dtype}; expected integer "
                        f"class indices or floating class probabilities")

    w = _NO_WEIGHT
    if weight is not None:
        w = _real_array(weight, name, "weight")
        if w.shape != (n,):
            raise ValueError(f"{name}: weight has shape {w.shape}; expected ({n},), one weight "
                             f"per class along axis {ax}")
        with np.errstate(all="ignore"):
            w = _kernel_array(w, np.float64)

    x2 = _rows(to_compute(arr, calc), ax)
    rows = x2.shape[0]
    moved_shape = index_shape + (n,)
    loss = np.empty(rows, calc)
    grad = np.empty((rows, n), calc) if return_grad else np.empty((0, 0), calc)
    result = np.zeros(2)
    if probs:
        t2 = _rows(to_compute(tgt, calc), ax)
        scale = _div(1.0, rows) if red == 0 else 1.0
        _ext.cross_entropy_prob(x2, t2, w, loss, grad, eps, scale, result)
        denom = float(rows)
    else:
        t1 = _kernel_array(tgt, _INTP).reshape(-1)
        if tgt.dtype.kind == "u" and tgt.dtype.itemsize >= _INTP.itemsize and t1.size:
            t1 = np.where(tgt.reshape(-1) > np.iinfo(_INTP).max, -1 if ignore != -1 else -2, t1)
        bad = _ext.cross_entropy_index(x2, t1, w, loss, grad, ignore, eps, red, result)
        if bad >= 0:
            where = np.unravel_index(bad, index_shape) if index_shape else ()
            raise ValueError(f"{name}: target[{', '.join(map(str, where))}] = "
                             f"{tgt.reshape(-1)[bad]} is not a class index; expected 0 <= "
                             f"index < {n} (the size of axis {ax}) or ignore_index="
                             f"{ignore}")
        denom = float(result[1])

    value = _loss_value(loss.reshape(index_shape), red, result[0], denom, res_dtype)
    if not return_grad:
        return value
    return value, _grad_result(grad, moved_shape, ax, res_dtype)


def _cross_entropy_fast(x: np.ndarray, t: np.ndarray, ignore: int, red: int,
                        return_grad: bool) -> Any:
    """The common call (C-ordered float32/float64 (rows, classes), intp indices, no weight,
    no smoothing) without the general bookkeeping: most of a small call's cost."""
    rows, n = x.shape
    loss = np.empty(rows, x.dtype)
    grad = np.empty((rows, n) if return_grad else (0, 0), x.dtype)
    result = np.zeros(2)
    kernel = _CE_INDEX_F32 if x.dtype == _F32 else _CE_INDEX_F64
    bad = kernel(x, t, _NO_WEIGHT, loss, grad, ignore, 0.0, red, result)
    if bad >= 0:
        raise ValueError(f"cross_entropy: target[{bad}] = {t[bad]} is not a class index; "
                         f"expected 0 <= index < {n} (the size of axis 1) or "
                         f"ignore_index={ignore}")
    value = _loss_value(loss, red, result[0], result[1], x.dtype)
    return (value, grad) if return_grad else value


# ---------------------------------------------------------------- binary cross-entropy

def binary_cross_entropy_with_logits(logits: Any, target: Any, *, weight: Any = None,
                                     pos_weight: Any = None, reduction: str = "mean",
                                     return_grad: bool = False) -> Any:
    """Binary cross-entropy between sigmoid(`logits`) and `target`, elementwise.

    PyTorch's semantics (`torch.nn.functional.binary_cross_entropy_with_logits`):
    ``loss = weight * (pos_weight * t * softplus(-x) + (1 - t) * softplus(x))``.

    Parameters
    ----------
    logits : array_like
        The logits x, of a real floating, integer or bool dtype; they set the result dtype
        (float16 logits are computed in float32 and give float16 results).
    target : array_like
        The targets t, of the logits' shape: 0/1 labels or probabilities in [0, 1], of any
        real dtype.
    weight : array_like, optional
        A weight that broadcasts to the logits' shape. Default: 1.
    pos_weight : array_like, optional
        The weight of the positive term, broadcast to the logits' shape (usually one entry
        per class, along the last axis). Default: 1.
    reduction : {"mean", "sum", "none"}, optional
        "mean" (over all elements), "sum", or "none" (the elementwise losses).
        Default: "mean".
    return_grad : bool, optional
        Also return the gradient with respect to `logits`, computed in the same pass.
        Default: False.

    Returns
    -------
    loss : numpy.floating or numpy.ndarray
        A NumPy scalar for "mean" and "sum"; for "none", the elementwise losses, of the
        logits' shape (a NumPy scalar for a scalar logit).
    grad : numpy.ndarray
        Only with `return_grad`: ``weight * ((1 - t) * sigmoid(x) - pos_weight * t *
        sigmoid(-x))``, divided by the element count for "mean"; of the logits' shape and
        result dtype.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `logits`, `target`, `weight` or `pos_weight`).
    ValueError
        For a target of another shape than the logits, a `weight` or `pos_weight` that does
        not broadcast, or an unknown `reduction`.

    See Also
    --------
    log_sigmoid, softplus : The terms of the loss.
    cross_entropy : The loss for one class out of many.
    logitkit.reference.binary_cross_entropy_with_logits : The pure-Python twin.

    Notes
    -----
    ``softplus(v)`` is taken as ``max(v, 0) + log1p(exp(-|v|))``: no overflow and no
    cancellation for logits up to the dtype's max. No warning is ever emitted. Accurate to
    4 ULP of the result dtype, loss and gradient (docs/semantics.md, the contract, lists every
    rule; docs/accuracy.md the known gap for a large `pos_weight` in float64).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0], reduction="none").round(4)
    array([0.1269, 0.3133])
    >>> lk.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0], pos_weight=3.0,
    ...                                     reduction="none").round(4)
    array([0.3808, 0.3133])
    >>> loss, grad = lk.binary_cross_entropy_with_logits([2.0, -1.0], [1.0, 0.0],
    ...                                                  return_grad=True)
    >>> loss.round(4), grad.round(4)
    (np.float64(0.2201), array([-0.0596,  0.1345]))

    A large logit on the wrong side, where -log(sigmoid(x)) overflows:

    >>> with np.errstate(over="ignore", divide="ignore"):
    ...     -np.log(1 / (1 + np.exp(1000.0)))
    np.float64(inf)
    >>> lk.binary_cross_entropy_with_logits(-1000.0, 1.0)
    np.float64(1000.0)
    """
    name = "binary_cross_entropy_with_logits"
    if foreign(logits, target, weight, pos_weight):
        return translate(binary_cross_entropy_with_logits, logits, target, weight=weight,
                         pos_weight=pos_weight, reduction=reduction, return_grad=return_grad)
    red = _reduction(reduction, name)
    arr = as_array(logits, name)
    res_dtype = result_dtype(arr, None, name, what="logits")
    calc = compute_dtype(res_dtype)
    tgt = _real_array(target, name, "target")
    if tgt.shape != arr.shape:
        raise ValueError(f"{name}: target has shape {tgt.shape}; expected the logits' shape "
                         f"{arr.shape}")
    w = _NO_WEIGHT if weight is None else _weights(weight, arr.shape, name, "weight").reshape(-1)
    pw = (_NO_WEIGHT if pos_weight is None else
          _weights(pos_weight, arr.shape, name, "pos_weight").reshape(-1))
    x1 = np.ascontiguousarray(to_compute(arr, calc)).reshape(-1)
    t1 = np.ascontiguousarray(to_compute(tgt, calc)).reshape(-1)
    count = x1.shape[0]
    loss = np.empty(count, calc)
    grad = np.empty(count if return_grad else 0, calc)
    result = np.zeros(1)
    scale = _div(1.0, count) if red == 0 else 1.0
    _ext.bce_with_logits(x1, t1, w, pw, loss, grad, scale, result)
    value = _loss_value(loss.reshape(arr.shape), red, result[0], count, res_dtype)
    if not return_grad:
        return value
    g = grad.reshape(arr.shape)
    if g.dtype != res_dtype:
        with np.errstate(all="ignore"):
            g = g.astype(res_dtype)
    return value, (g if g.ndim else g[()])         # a scalar logit's gradient is a scalar
