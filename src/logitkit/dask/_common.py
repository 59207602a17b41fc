"""What every Dask twin shares: converting and checking arguments, and small graph helpers."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from logitkit._validate import compute_dtype, result_dtype

_F64 = np.dtype(np.float64)


def _as_dask(x: Any, name: str) -> da.Array:
    if isinstance(x, da.Array):
        return x
    try:
        return da.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: could not convert the input to an array ({exc}); expected a "
                         f"Dask array, a NumPy array or a (rectangular) sequence of numbers") from None


def _dtypes(x: da.Array, dtype: Any, name: str, what: str = "input") -> tuple[np.dtype, np.dtype]:
    res = result_dtype(np.empty(0, x.dtype), dtype, name, what=what)
    return res, compute_dtype(res)


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise NotImplementedError(
            f"{name}: out= is not supported on Dask arrays (they are immutable); compute the "
            f"result, or write it into an existing array with dask.array.store")


def _meta(ndim: int, dtype: Any) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _mask(where: Any, x: da.Array, name: str) -> da.Array | None:
    """`where` as a boolean Dask array of x's shape and chunks."""
    if where is None:
        return None
    mask = where if isinstance(where, da.Array) else da.asarray(np.asarray(where))
    if mask.dtype != np.bool_:
        raise TypeError(f"{name}: where must be a boolean array, got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, x.shape)
        if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: where has shape {mask.shape}, which does not broadcast to "
                         f"the input's shape {x.shape}") from None
    return _broadcast(mask, x)


def _broadcastable(value: Any, x: da.Array, name: str, label: str, whose: str) -> da.Array:
    """`value` as a Dask array of a float-convertible dtype whose shape broadcasts to x's; the
    errors name `label` and `whose` shape it should reach ("the input's", "the logits'")."""
    arr = value if isinstance(value, da.Array) else da.asarray(np.asarray(value))
    _dtypes(arr, None, name, what=label)
    try:
        if np.broadcast_shapes(arr.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: {label} has shape {arr.shape}, which does not broadcast "
                         f"to {whose} shape {x.shape}") from None
    return arr


def _broadcast(arr: da.Array, x: da.Array) -> da.Array:
    """arr (whose shape broadcasts to x's) broadcast to x's shape and chunks."""
    lead = x.ndim - arr.ndim
    chunks = tuple(x.chunks[lead + i] if n != 1 else (1,) for i, n in enumerate(arr.shape))
    return da.broadcast_to(arr.rechunk(chunks), x.shape, chunks=x.chunks)


def _whole(x: da.Array, axes: tuple[int, ...]) -> bool:
    """Whether every reduced axis sits in one chunk."""
    return all(len(x.chunks[a]) <= 1 for a in axes)
