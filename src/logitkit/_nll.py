"""nll_loss: the negative log-likelihood of class indices, from log-probabilities.

PyTorch's semantics (`torch.nn.functional.nll_loss`) with the class axis chosen by `axis`.
Each sample's log-probability of its target class is gathered with NumPy (exact: a copy); the
kernel (csrc/kernels/nll-inl.h, binding/nll.pxi) forms each loss -w[y] * log_probs[y] with one
rounding and sums the losses and the weights as double-doubles; the mean divides those sums
exactly and rounds once.

Its pure-Python twin is logitkit.reference._losses.nll_loss.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

import numpy as np

from logitkit import _ext
from logitkit._interop import foreign, translate
from logitkit._results import finish
from logitkit._validate import as_array, compute_dtype, normalize_axes, result_dtype, to_compute

_REDUCTIONS = ("mean", "sum", "none")
_INTP = np.dtype(np.intp)
_FINITE_MAX = {np.dtype(np.float16): 65504.0, np.dtype(np.float32): 3.4028234663852886e38}


def nll_loss(log_probs: Any, target: Any, axis: int = -1, *, weight: Any = None,
             ignore_index: int = -100, reduction: str = "mean") -> Any:
    """The negative log-likelihood loss of class indices, from log-probabilities.

    PyTorch's semantics (`torch.nn.functional.nll_loss`), except that the class axis is
    chosen by `axis` and defaults to the last one (PyTorch's is dimension 1: pass ``axis=1``
    for its ``(N, C)`` and ``(N, C, d1, ...)`` layouts).

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities (e.g. `log_softmax` output), at least 1-d, of a real floating,
        integer or bool dtype; they set the result dtype (float16 is computed in float32
        and gives float16 results).
    target : array_like
        Integer class indices, of the shape of `log_probs` without `axis` (a scalar for 1-d
        `log_probs`).
    axis : int, optional
        The class axis (a single int). Default: the last axis.
    weight : array_like, optional
        One weight per class, of shape ``(C,)`` for C classes. Default: all 1.
    ignore_index : int, optional
        A class index whose samples take no part (loss 0, left out of the mean).
        Default: -100.
    reduction : {"mean", "sum", "none"}, optional
        "mean": ``sum(loss) / sum(weight[target])`` over the targets not ignored (NaN when
        that sum is 0); "sum"; "none": the per-sample losses. Default: "mean".

    Returns
    -------
    numpy.floating or numpy.ndarray
        A NumPy scalar for "mean" and "sum"; for "none", the per-sample losses, shaped like
        `target` (a NumPy scalar for a single sample).

    Raises
    ------
    TypeError
        For an unsupported dtype (of `log_probs` or `weight`), a target that is not of an
        integer dtype, or an `axis` or `ignore_index` that is not an int.
    ValueError
        For 0-d `log_probs`, a target or weight of the wrong shape, an unknown `reduction`, or
        a class index outside ``[0, C)`` that is not `ignore_index` (the message names its
        position).
    numpy.exceptions.AxisError
        For an axis out of range.

    See Also
    --------
    cross_entropy : The same loss from logits: ``nll_loss(log_softmax(x), y)``, in one pass.
    log_softmax : The log-probabilities this loss reads.
    logitkit.reference.nll_loss : The pure-Python twin.

    Notes
    -----
    Per sample, ``loss = -weight[y] * log_probs[y]``: one product, rounded once. The sums of
    the losses and of the weights are carried to twice the working precision and the mean is
    their quotient, rounded once. Values are taken as they are: a log-probability of -inf
    gives an infinite loss, NaN gives NaN, and ``0 * -inf`` (weight 0 at a -inf entry) is NaN,
    as in PyTorch. No warning is ever emitted. Accurate to 2 ULP of the result dtype
    (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> log_probs = lk.log_softmax(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]]))
    >>> lk.nll_loss(log_probs, [0, 1]).round(4)
    np.float64(0.2851)
    >>> lk.nll_loss(log_probs, [0, -100], reduction="none").round(4)
    array([0.417, 0.   ])
    >>> lk.nll_loss(log_probs, [0, 1], weight=[1.0, 3.0, 1.0]).round(4)
    np.float64(0.2191)

    PyTorch's (N, C, d) layout, with the class axis 1:

    >>> lk.nll_loss(np.log(np.full((2, 4, 3), 0.25)), np.zeros((2, 3), int), axis=1).round(4)
    np.float64(1.3863)
    """
    name = "nll_loss"
    if foreign(log_probs, target, weight):
        return translate(nll_loss, log_probs, target, axis, weight=weight,
                         ignore_index=ignore_index, reduction=reduction)
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    arr = as_array(log_probs, name)
    res_dtype = result_dtype(arr, None, name, what="log_probs")
    calc = compute_dtype(res_dtype)
    if arr.ndim == 0:
        raise ValueError(f"{name}: log_probs must have at least one dimension (the class "
                         f"axis), got a 0-d array")
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    ax = normalize_axes(axis, arr.ndim, name)[0]
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}") from None

    n = arr.shape[ax]
    index_shape = arr.shape[:ax] + arr.shape[ax + 1:]
    tgt = as_array(target, name)
    if tgt.dtype.kind not in "iu":
        raise TypeError(f"{name}: target has dtype {tgt.dtype}; expected integer class "
                        f"indices")
    if tgt.shape != index_shape:
        raise ValueError(f"{name}: target has shape {tgt.shape}; expected {index_shape}, the "
                         f"log_probs' shape {arr.shape} without axis {ax}")
    w = None
    if weight is not None:
        w = as_array(weight, name)
        result_dtype(w, None, name, what="weight")
        if w.shape != (n,):
            raise ValueError(f"{name}: weight has shape {w.shape}; expected ({n},), one weight "
                             f"per class along axis {ax}")
        with np.errstate(all="ignore"):
            w = w.astype(np.float64)

    t = tgt.reshape(-1)
    with np.errstate(all="ignore"):
        ignored = t == ignore
        valid = ignored | ((t >= 0) & (t < n))
    if not valid.all():
        bad = int(np.argmin(valid))
        where = np.unravel_index(bad, index_shape) if index_shape else ()
        raise ValueError(f"{name}: target[{', '.join(map(str, where))}] = {t[bad]} is not a "
                         f"class index; expected 0 <= index < {n} (the size of axis {ax}) or "
                         f"ignore_index={ignore}")
    y = np.where(ignored, 0, t).astype(_INTP)
    moved = np.moveaxis(arr, ax, -1).reshape(-1, n) if n else np.zeros((t.size, 1), arr.dtype)
    picked = to_compute(moved[np.arange(t.size), y] if t.size else moved[:0, 0], calc)
    lp = np.where(ignored, calc.type(0), picked).astype(calc)
    wy = np.where(ignored, 0.0, w[y] if w is not None else 1.0).astype(np.float64)
    loss = np.empty(t.size, calc)
    sums = np.zeros(4)
    _ext.nll_terms(lp, wy, loss, sums)
    if reduction == "none":
        loss[ignored] = 0.0
        return finish(loss.reshape(index_shape), None, res_dtype)
    if reduction == "sum":
        return _scalar(sums[0] + sums[1], res_dtype)
    return _scalar(_quotient(sums), res_dtype)


def _quotient(sums: np.ndarray) -> float:
    """(loss hi + lo) / (weight hi + lo), rounded once; IEEE values where a sum is not finite
    or the weights sum to 0 (0 / 0 is NaN, as PyTorch's mean over nothing)."""
    total, weights = float(sums[0] + sums[1]), float(sums[2] + sums[3])
    if not (math.isfinite(total) and math.isfinite(weights)) or weights == 0.0:
        with np.errstate(all="ignore"):
            return float(np.float64(total) / np.float64(weights))
    exact = (Fraction(float(sums[0])) + Fraction(float(sums[1]))) / \
            (Fraction(float(sums[2])) + Fraction(float(sums[3])))
    try:
        return float(exact)
    except OverflowError:
        return math.copysign(math.inf, exact)


def _scalar(value: float, dtype: np.dtype) -> Any:
    """value as a NumPy scalar of dtype (rounded once; no overflow warning)."""
    if dtype.itemsize >= 8 or not abs(value) > _FINITE_MAX[dtype]:
        return dtype.type(value)
    with np.errstate(all="ignore"):
        return dtype.type(value)
