"""softmax, log_softmax and logsumexp over Dask arrays.

Each runs logitkit's kernels on every block when each reduced axis sits in one chunk. When a
reduced axis is split across chunks it is never rechunked: the two-pass scheme of
`logitkit.dask._state` reduces every block to a per-slice state, combines the states in a tree
and normalises every block against the combined state.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

import logitkit
from logitkit._validate import normalize_axes, scaled_result_dtype
from logitkit.dask._common import (_as_dask, _broadcast, _dtypes, _mask, _meta,
                                   _no_out, _whole)
from logitkit.dask._state import (_LOG_SOFTMAX, _SOFTMAX, _global_state, _lse_from_state,
                                  _normalize_block)

__all__ = ["softmax", "log_softmax", "logsumexp"]


def softmax(x: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
            dtype: Any = None) -> da.Array:
    """`logitkit.softmax` over a Dask array: exp(x - max) / sum over `axis`, lazily."""
    return _normalize(x, axis, where, out, dtype, _SOFTMAX)


def log_softmax(x: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
                dtype: Any = None) -> da.Array:
    """`logitkit.log_softmax` over a Dask array: x - logsumexp(x) over `axis`, lazily."""
    return _normalize(x, axis, where, out, dtype, _LOG_SOFTMAX)


def _normalize(x: Any, axis: Any, where: Any, out: Any, dtype: Any, op: str) -> da.Array:
    x = _as_dask(x, op)
    _no_out(out, op)
    res, _ = _dtypes(x, dtype, op)
    axes = normalize_axes(axis, x.ndim, op)
    mask = _mask(where, x, op)
    func = getattr(logitkit, op)
    if x.ndim == 0 or _whole(x, axes):
        arg = axis if x.ndim == 0 else axes

        def block(xb: np.ndarray, mb: np.ndarray | None = None) -> np.ndarray:
            return np.asarray(func(xb, arg, where=mb, dtype=res))

        args = (x,) if mask is None else (x, mask)
        return da.map_blocks(block, *args, dtype=res, meta=_meta(x.ndim, res),
                             token=f"logitkit-{op}")
    state = _global_state(x, mask, axes)
    masked = mask is not None

    def norm(xb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        mb = rest[0] if masked else None
        return _normalize_block(xb, mb, rest[-1], op, masked, res)

    args = (x, state) if mask is None else (x, mask, state)
    return da.map_blocks(norm, *args, dtype=res, meta=_meta(x.ndim, res),
                         token=f"logitkit-{op}-split")


def logsumexp(x: Any, axis: Any = -1, *, b: Any = None, where: Any = None,
              keepdims: bool = False, return_sign: bool = False, out: Any = None,
              dtype: Any = None) -> Any:
    """`logitkit.logsumexp` over a Dask array: log(sum(b * exp(x))) over `axis`, lazily.

    `b` is supported when every reduced axis sits in one chunk (else NotImplementedError);
    `where`, `keepdims` and `return_sign` always are. With `return_sign=True` it returns the
    pair (log|sum|, sign) of Dask arrays."""
    name = "logsumexp"
    x = _as_dask(x, name)
    _no_out(out, name)
    res, _ = _dtypes(x, dtype, name)
    scale = None
    if b is not None:
        # as the in-memory function: x and b broadcast together, SciPy's result dtype
        scale = b if isinstance(b, da.Array) else da.asarray(np.asarray(b))
        _dtypes(scale, None, name, what="b")
        try:
            shape = np.broadcast_shapes(x.shape, scale.shape)
        except ValueError:
            raise ValueError(f"{name}: b has shape {scale.shape}, which does not broadcast "
                             f"with the input's shape {x.shape}") from None
        if shape != x.shape:
            x = da.broadcast_to(x, shape, chunks=_grown_chunks(x, shape))
        if dtype is None:
            res = scaled_result_dtype(x.dtype, b, scale.dtype)
    axes = normalize_axes(axis, x.ndim, name)
    mask = _mask(where, x, name)
    if scale is not None:
        if x.ndim and not _whole(x, axes):
            raise NotImplementedError(
                f"{name}: b= needs every reduced axis in one chunk on Dask arrays (axis "
                f"{[a for a in axes if len(x.chunks[a]) > 1]} is split into "
                f"{[len(x.chunks[a]) for a in axes if len(x.chunks[a]) > 1]} chunks); rechunk "
                f"those axes into one chunk, or fold b into x as x + log(b) for b > 0")
        scale = _broadcast(scale, x)

    if x.ndim == 0 or _whole(x, axes):
        pair = np.dtype([("v", res), ("s", res)])
        arg = axis if x.ndim == 0 else axes
        keep = x.ndim != 0

        def block(xb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
            it = iter(rest)
            bb = next(it) if scale is not None else None
            mb = next(it) if mask is not None else None
            v, s = logitkit.logsumexp(xb, arg, b=bb, where=mb, keepdims=keep,
                                      return_sign=True, dtype=res)
            result = np.empty(np.shape(v), pair)
            result["v"], result["s"] = v, s
            if not return_sign:
                result["v"] = np.where(np.asarray(s) < 0, res.type(np.nan), result["v"])
            return result

        args = [x] + [a for a in (scale, mask) if a is not None]
        chunks = tuple(((1,) if a in axes else c) for a, c in enumerate(x.chunks))
        both = da.map_blocks(block, *args, chunks=chunks, dtype=pair, meta=_meta(x.ndim, pair),
                             token="logitkit-logsumexp")
    else:
        pair = np.dtype([("v", res), ("s", res)])

        def finish(state: np.ndarray) -> np.ndarray:
            v = _lse_from_state(state)
            result = np.empty(state.shape, pair)
            with np.errstate(all="ignore"):
                result["v"] = v
                result["s"] = np.where(np.isnan(v), np.nan, np.where(v == -np.inf, 0.0, 1.0))
            return result

        both = _global_state(x, mask, axes).map_blocks(finish, dtype=pair,
                                                        meta=_meta(x.ndim, pair))
    if not keepdims and x.ndim:
        both = both[tuple(0 if a in axes else slice(None) for a in range(x.ndim))]
    value = both.map_blocks(_field, "v", dtype=res, meta=_meta(both.ndim, res))
    if not return_sign:
        return value
    return value, both.map_blocks(_field, "s", dtype=res, meta=_meta(both.ndim, res))


def _grown_chunks(x: da.Array, shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """x's chunks for a broadcast to `shape`: new and stretched axes in one chunk each."""
    lead = len(shape) - x.ndim
    return tuple((n,) if i < lead or x.shape[i - lead] != n else x.chunks[i - lead]
                 for i, n in enumerate(shape))


def _field(block: np.ndarray, name: str) -> np.ndarray:
    return np.array(block[name])
