"""cross_entropy and binary_cross_entropy_with_logits over Dask arrays.

A per-sample loss is computed per block (with the in-memory `logitkit` loss when the class axis
sits in one chunk; from the two-pass log-softmax of `logitkit.dask._state` when it is split) and
the per-chunk partial results are summed in float64.
"""

from __future__ import annotations

import operator
from typing import Any

import dask.array as da
import numpy as np
from numpy.exceptions import AxisError

import logitkit
from logitkit.dask._common import _F64, _as_dask, _broadcast, _broadcastable, _dtypes, _meta
from logitkit.dask._state import _LOG_SOFTMAX, _global_state, _normalize_block

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any, return_grad: Any, name: str) -> None:
    if return_grad:
        raise NotImplementedError(
            f"{name}: return_grad=True is not supported on Dask arrays; use the in-memory "
            f"logitkit.{name} on chunks that fit in memory, or an autodiff framework")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction={reduction!r}; expected one of "
                         f"'mean', 'sum' or 'none'")


def _reduce(per_sample: da.Array, denominator: da.Array | int, reduction: str,
            res: np.dtype) -> da.Array:
    """Sum (in float64) and, for "mean", divide; a 0-d Dask array of the result dtype."""
    if reduction == "none":
        return per_sample.astype(res)
    total = per_sample.astype(_F64).sum()
    if reduction == "mean":
        if isinstance(denominator, da.Array):
            total = da.map_blocks(_divide, total, denominator, dtype=_F64, meta=_meta(0, _F64))
        else:
            total = total.map_blocks(_divide, denominator, dtype=_F64, meta=_meta(0, _F64))
    return total.map_blocks(_cast, res, dtype=res, meta=_meta(0, res))


def _divide(a: np.ndarray, b: Any) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(np.float64(a) / np.float64(b))


def _cast(a: np.ndarray, res: np.dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(a, dtype=res)


def _class_axis(axis: Any, ndim: int, name: str) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int (the class axis), got {axis!r}")
    index = operator.index(axis)
    if ndim == 0 or not -ndim <= index < ndim:
        raise AxisError(index, ndim, msg_prefix=name)
    return index % ndim


def cross_entropy(logits: Any, target: Any, axis: int = -1, *, weight: Any = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", return_grad: bool = False) -> da.Array:
    """`logitkit.cross_entropy` over Dask arrays (PyTorch's `cross_entropy` semantics).

    `target` holds class indices (logits' shape without `axis`, an integer array) or class
    probabilities (logits' shape, a float array). `weight` (per class) is a small in-memory
    array. The per-sample losses are computed per block and summed in float64; "mean" divides
    by the summed weights of the targets not ignored (class indices) or by the number of
    samples (probabilities), as PyTorch does. A class axis split across chunks takes two passes
    (log-softmax from the combined per-chunk max and sum, then per-chunk partial losses).
    `return_grad=True` is not supported (NotImplementedError)."""
    name = "cross_entropy"
    _check_reduction(reduction, return_grad, name)
    x = _as_dask(logits, name)
    t = _as_dask(target, name)
    res, _ = _dtypes(x, None, name)
    ax = _class_axis(axis, x.ndim, name)
    n_classes = x.shape[ax]
    try:
        smoothing = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: label_smoothing must be a number in [0, 1], "
                        f"got {label_smoothing!r}") from None
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing={label_smoothing!r}; expected a number "
                         f"in [0, 1]")
    # checked here: inside a block it would only surface at compute time, once per chunk
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    try:
        ignore_index = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}") from None
    w = w_user = None
    if weight is not None:
        w = w_user = np.asarray(weight.compute() if isinstance(weight, da.Array) else weight)
        if w.ndim != 1 or w.shape[0] != n_classes:
            raise ValueError(f"{name}: weight has shape {w.shape}; expected ({n_classes},), "
                             f"one weight per class")
        _dtypes(da.asarray(w), None, name, what="weight")
        w = w.astype(_F64)
    sample_shape = x.shape[:ax] + x.shape[ax + 1:]
    if t.dtype.kind in "iu":
        probs = False
        if t.shape != sample_shape:
            raise ValueError(f"{name}: target has shape {t.shape}; class indices need the "
                             f"logits' shape without axis {axis}, {sample_shape}")
    elif t.dtype.kind == "f":
        probs = True
        if t.shape != x.shape:
            raise ValueError(f"{name}: target has shape {t.shape}; class probabilities need "
                             f"the logits' shape {x.shape}")
    else:
        raise TypeError(f"{name}: target has dtype {t.dtype}; expected integer class indices "
                        f"or floating class probabilities")

    x = da.moveaxis(x, ax, -1)                     # lazy: a view per block
    last = x.ndim - 1
    if probs:
        t = da.moveaxis(t, ax, -1).rechunk(x.chunks)
    else:
        t = t.rechunk(x.chunks[:-1])
    whole = len(x.chunks[-1]) <= 1
    tt = t if probs else t[..., None]              # aligned with the logits' axes

    if whole:
        inner = logitkit.cross_entropy

        def block(xb: np.ndarray, tb: np.ndarray, block_info: Any = None) -> np.ndarray:
            if not probs:
                tb = tb[..., 0]
                # before the in-memory loss, which would name the index inside this block
                _check_indices(tb, _origin(block_info, 1), n_classes, ignore_index, ax)
            loss = inner(xb, tb, -1, weight=w_user, ignore_index=ignore_index,
                         label_smoothing=smoothing, reduction="none")
            return np.asarray(loss, dtype=_F64)[..., None]

        # keepdims blocks, then a cheap index: drop_axis= would make Dask copy every block
        # of logits through np.concatenate
        per_sample = da.map_blocks(block, x, tt, chunks=x.chunks[:-1] + ((1,),), dtype=_F64,
                                   meta=_meta(x.ndim, _F64),
                                   token="logitkit-cross-entropy")[..., 0]
    else:
        state = _global_state(x, None, (last,))
        params = dict(w=w, ignore_index=ignore_index, smoothing=smoothing, n_classes=n_classes,
                      probs=probs)

        def partial(xb: np.ndarray, tb: np.ndarray, sb: np.ndarray,
                    block_info: Any = None) -> np.ndarray:
            offset = block_info[0]["array-location"][-1][0]
            if not probs:
                _check_indices(np.asarray(tb)[..., 0], _origin(block_info, 1), n_classes,
                               ignore_index, ax)
            return _ce_partial(xb, tb, sb, offset, **params)

        chunks = x.chunks[:-1] + ((1,) * len(x.chunks[-1]),)
        parts = da.map_blocks(partial, x, tt, state, chunks=chunks, dtype=_F64,
                              meta=_meta(x.ndim, _F64), token="logitkit-cross-entropy-part")
        per_sample = parts.sum(axis=-1)

    if reduction == "none":
        return per_sample.astype(res)
    if probs:
        denominator: da.Array | int = int(np.prod(sample_shape, dtype=np.int64))
    else:
        def weights(tb: np.ndarray) -> np.ndarray:
            kept = tb != ignore_index
            if w is None:
                return kept.astype(_F64)
            return np.where(kept, w[np.where(kept & (tb >= 0) & (tb < n_classes), tb, 0)], 0.0)

        denominator = t.map_blocks(weights, dtype=_F64, meta=_meta(t.ndim, _F64)).sum()
    return _reduce(per_sample, denominator, reduction, res)


def _origin(block_info: Any, arg: int) -> tuple[int, ...]:
    """Where the block of argument `arg` (a target aligned with the logits, a trailing axis
    of size 1) starts in the whole array: the index of its first element, that axis left out."""
    return tuple(start for start, _ in block_info[arg]["array-location"][:-1])


def _check_indices(tb: np.ndarray, origin: tuple[int, ...], n_classes: int, ignore_index: int,
                   axis: int) -> None:
    """Raise ValueError for the first entry of this block of class indices that is neither in
    [0, n_classes) nor ignore_index, named by its position in the whole target array (`origin`
    is the block's start there): a user looks it up in the array they passed, not in a chunk."""
    with np.errstate(all="ignore"):
        bad = (tb != ignore_index) & ((tb < 0) | (tb >= n_classes))
    if not np.any(bad):
        return
    local = np.unravel_index(int(np.argmax(bad)), tb.shape)
    where = ", ".join(str(int(o) + int(i)) for o, i in zip(origin, local))
    raise ValueError(f"cross_entropy: target{f'[{where}]' if where else ''} = {tb[local]} is "
                     f"not a class index; expected 0 <= index < {n_classes} (the size of axis "
                     f"{axis}) or ignore_index={ignore_index}")


def _ce_partial(xb: np.ndarray, tb: np.ndarray, state: np.ndarray, offset: int, *,
                w: np.ndarray | None, ignore_index: int, smoothing: float, n_classes: int,
                probs: bool) -> np.ndarray:
    """A block's part of each sample's loss (classes along the last axis, split across
    chunks; this block's start at `offset`), in float64, keepdims-shaped: log-softmax from the
    combined state of the whole class axis."""
    logp = _normalize_block(xb, None, state, _LOG_SOFTMAX, False, _F64)
    width = xb.shape[-1]
    wb = None if w is None else w[offset:offset + width]
    with np.errstate(all="ignore"):
        if probs:
            tp = np.asarray(tb, dtype=_F64)
            if smoothing:
                tp = tp * (1.0 - smoothing) + smoothing / n_classes
            if wb is not None:
                tp = tp * wb
            # 0 * -inf (a class with probability 0 and log-probability -inf) contributes 0
            terms = np.where(tp == 0, 0.0, tp * logp)
            return -np.sum(terms, axis=-1, keepdims=True)
        # the indices were checked by the caller (_check_indices)
        tb = np.asarray(tb)[..., 0] if np.ndim(tb) == xb.ndim else np.asarray(tb)
        kept = tb != ignore_index
        local = tb - offset
        here = kept & (local >= 0) & (local < width)
        index = np.where(here, local, 0)[..., None].astype(np.intp)
        picked = np.take_along_axis(logp, index, axis=-1)[..., 0].astype(_F64)
        if w is not None:
            picked = picked * w[np.where(here, tb, 0)]
        loss = np.where(here, -picked, 0.0)
        if smoothing:
            if wb is None:
                smooth = -np.sum(logp, axis=-1, dtype=_F64)
            else:
                smooth = -np.sum(np.where(wb == 0, 0.0, logp * wb), axis=-1)
            loss = (1.0 - smoothing) * loss + np.where(kept, smooth, 0.0) * (smoothing / n_classes)
        return loss[..., None]


def binary_cross_entropy_with_logits(logits: Any, target: Any, *, weight: Any = None,
                                     pos_weight: Any = None, reduction: str = "mean",
                                     return_grad: bool = False) -> da.Array:
    """`logitkit.binary_cross_entropy_with_logits` over Dask arrays, block by block:
    -weight * (pos_weight * t * log_sigmoid(x) + (1 - t) * log_sigmoid(-x)), exact for any
    logits; "mean" is over all elements, as in PyTorch. `weight` and `pos_weight` broadcast
    to the logits' shape. `return_grad=True` is not supported (NotImplementedError)."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, return_grad, name)
    x = _as_dask(logits, name)
    t = _as_dask(target, name)
    res, _ = _dtypes(x, None, name)
    _dtypes(t, None, name, what="target")
    if t.shape != x.shape:
        raise ValueError(f"{name}: target has shape {t.shape}; expected the logits' shape "
                         f"{x.shape}")
    t = t.rechunk(x.chunks)
    extras = {}
    for label, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is None:
            continue
        arr = _broadcastable(value, x, name, label, "the logits'")
        extras[label] = _broadcast(arr, x)
    inner = logitkit.binary_cross_entropy_with_logits
    labels = tuple(extras)

    def block(xb: np.ndarray, tb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        kw = dict(zip(labels, rest))
        return np.asarray(inner(xb, tb, reduction="none", **kw), dtype=_F64)

    per_elem = da.map_blocks(block, x, t, *extras.values(), dtype=_F64,
                             meta=_meta(x.ndim, _F64), token="logitkit-bce")
    return _reduce(per_elem, int(np.prod(x.shape, dtype=np.int64)), reduction, res)


def nll_loss(log_probs: Any, target: Any, axis: int = -1, *, weight: Any = None,
             ignore_index: int = -100, reduction: str = "mean") -> da.Array:
    """`logitkit.nll_loss` over Dask arrays (PyTorch's `nll_loss` semantics, the class axis
    `axis`): each block of classes contributes -weight[y] * log_probs[y] for the samples whose
    target falls in it, the per-sample losses are summed over the class chunks (one term is
    not 0) and reduced in float64; "mean" divides by the summed weights of the targets not
    ignored."""
    name = "nll_loss"
    _check_reduction(reduction, False, name)
    x = _as_dask(log_probs, name)
    t = _as_dask(target, name)
    res, _ = _dtypes(x, None, name)
    ax = _class_axis(axis, x.ndim, name)
    n_classes = x.shape[ax]
    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{name}: ignore_index must be an int, got {ignore_index!r}") from None
    w = None
    if weight is not None:
        w = np.asarray(weight.compute() if isinstance(weight, da.Array) else weight)
        if w.ndim != 1 or w.shape[0] != n_classes:
            raise ValueError(f"{name}: weight has shape {w.shape}; expected ({n_classes},), "
                             f"one weight per class")
        _dtypes(da.asarray(w), None, name, what="weight")
        w = w.astype(_F64)
    sample_shape = x.shape[:ax] + x.shape[ax + 1:]
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target has dtype {t.dtype}; expected integer class indices")
    if t.shape != sample_shape:
        raise ValueError(f"{name}: target has shape {t.shape}; expected {sample_shape}, the "
                         f"log_probs' shape without axis {axis}")
    x = da.moveaxis(x, ax, -1)
    t = t.rechunk(x.chunks[:-1])

    def partial(xb: np.ndarray, tb: np.ndarray, block_info: Any = None) -> np.ndarray:
        tb = np.asarray(tb)[..., 0]
        _check_nll_indices(tb, _origin(block_info, 1), n_classes, ignore, ax)
        offset = block_info[0]["array-location"][-1][0]
        local = tb - offset
        here = (tb != ignore) & (local >= 0) & (local < xb.shape[-1])
        index = np.where(here, local, 0)[..., None].astype(np.intp)
        picked = np.take_along_axis(xb, index, axis=-1)[..., 0].astype(_F64)
        with np.errstate(all="ignore"):
            if w is not None:
                picked = picked * w[np.where(here, tb, 0)]
            return np.where(here, -picked, 0.0)[..., None]

    chunks = x.chunks[:-1] + ((1,) * len(x.chunks[-1]),)
    parts = da.map_blocks(partial, x, t[..., None], chunks=chunks, dtype=_F64,
                          meta=_meta(x.ndim, _F64), token="logitkit-nll-part")
    per_sample = parts.sum(axis=-1)
    if reduction == "none":
        return per_sample.astype(res)

    def weights(tb: np.ndarray) -> np.ndarray:
        kept = tb != ignore
        if w is None:
            return kept.astype(_F64)
        return np.where(kept, w[np.where(kept & (tb >= 0) & (tb < n_classes), tb, 0)], 0.0)

    denominator = t.map_blocks(weights, dtype=_F64, meta=_meta(t.ndim, _F64)).sum()
    return _reduce(per_sample, denominator, reduction, res)


def _check_nll_indices(tb: np.ndarray, origin: tuple[int, ...], n_classes: int, ignore: int,
                       axis: int) -> None:
    """As _check_indices, for nll_loss: the first bad index, named by its position in the
    whole target array."""
    with np.errstate(all="ignore"):
        bad = (tb != ignore) & ((tb < 0) | (tb >= n_classes))
    if not np.any(bad):
        return
    local = np.unravel_index(int(np.argmax(bad)), tb.shape)
    where = ", ".join(str(int(o) + int(i)) for o, i in zip(origin, local))
    raise ValueError(f"nll_loss: target{f'[{where}]' if where else ''} = {tb[local]} is not a "
                     f"class index; expected 0 <= index < {n_classes} (the size of axis "
                     f"{axis}) or ignore_index={ignore}")
