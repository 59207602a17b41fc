"""The sigmoid family over Dask arrays: logitkit's kernels on every block."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

import logitkit
from logitkit.dask._common import _as_dask, _dtypes, _meta, _no_out

__all__ = ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus", "logit"]


def sigmoid(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.sigmoid` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "sigmoid")


def sigmoid_derivative(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.sigmoid_derivative` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "sigmoid_derivative")


def log_sigmoid(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.log_sigmoid` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "log_sigmoid")


def softplus(x: Any, *, beta: float = 1.0, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.softplus` on every block of a Dask array."""
    if type(beta) is not float or beta != 1.0:
        from logitkit._sigmoid import _positive_finite_beta
        beta = _positive_finite_beta(beta)
    return _elementwise(x, out, dtype, "softplus", beta=beta)


def logit(p: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.logit` on every block of a Dask array."""
    return _elementwise(p, out, dtype, "logit")


def _elementwise(x: Any, out: Any, dtype: Any, name: str, **params: float) -> da.Array:
    x = _as_dask(x, name)
    _no_out(out, name)
    res, _ = _dtypes(x, dtype, name)
    func = getattr(logitkit, name)

    def block(xb: np.ndarray) -> np.ndarray:
        return np.asarray(func(xb, dtype=res, **params))

    return x.map_blocks(block, dtype=res, meta=_meta(x.ndim, res), token=f"logitkit-{name}")
