"""The vector-Jacobian products: softmax_backward, log_softmax_backward and sigmoid_backward.

Each takes the forward function's output and grad_output (same shape; the result dtype is the
wider of theirs), makes one kernel call over rows (the reduced axes moved last) or over the
flat array, and rounds to the result dtype once. Semantics at the edges are the contract's
(docs/semantics.md).

Its pure-Python twin is logitkit.reference._backward. The bindings are binding/backward.pxi
(`vjp_fast`, the thin call path of plain arrays, and `softmax_backward_rows`,
`log_softmax_backward_rows`, `sigmoid_backward_flat`); the kernels are
csrc/kernels/backward-inl.h.
"""

from __future__ import annotations

from math import prod
from typing import Any

import numpy as np

from logitkit import _ext
from logitkit._interop import any_array
from logitkit._results import finish
from logitkit._validate import (as_array, check_out, compute_dtype, normalize_axes,
                                result_dtype, to_compute)


def _pair(grad_output: Any, output: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:
    g = as_array(grad_output, name)
    y = as_array(output, name)
    dt_g = result_dtype(g, None, name, what="grad_output")
    dt_y = result_dtype(y, None, name, what="output")
    if g.shape != y.shape:
        raise ValueError(f"{name}: grad_output has shape {g.shape} and output {y.shape}; "
                         f"expected the same shape")
    return g, y, np.result_type(dt_g, dt_y)


def _general_pair(grad_output: Any, output: Any, out: Any,
                  name: str) -> tuple[np.ndarray, np.ndarray, np.dtype, np.dtype]:
    """The pair for the general path: both arrays, the result dtype, the compute dtype; out=
    checked against them."""
    g, y, res_dtype = _pair(grad_output, output, name)
    calc = compute_dtype(res_dtype)
    if out is not None:
        check_out(out, g.shape, res_dtype, name)
    return g, y, res_dtype, calc


def _vjp_rows(grad_output: Any, output: Any, axis: Any, out: Any, name: str, kernel,
              fast_op: int) -> Any:
    result = _ext.vjp_fast(grad_output, output, axis, fast_op, out)
    if result is not None:
        return result
    g, y, res_dtype, calc = _general_pair(grad_output, output, out, name)
    if g.ndim == 0:
        g, y = g.reshape(1), y.reshape(1)
        axes: tuple[int, ...] = (0,)
        final_shape: tuple[int, ...] = ()
    else:
        axes = normalize_axes(axis, g.ndim, name)
        final_shape = g.shape
    kept = tuple(a for a in range(g.ndim) if a not in axes)
    order = kept + axes
    n = prod(g.shape[a] for a in axes)
    moved_shape = tuple(g.shape[a] for a in order)
    rows = prod(g.shape[a] for a in kept)
    g2 = np.ascontiguousarray(np.transpose(to_compute(g, calc), order)).reshape(rows, n)
    y2 = np.ascontiguousarray(np.transpose(to_compute(y, calc), order)).reshape(rows, n)
    buf = np.empty(g2.shape, calc)
    kernel(g2, y2, buf)
    result = np.transpose(buf.reshape(moved_shape), np.argsort(order)).reshape(final_shape)
    return finish(result, out, res_dtype)


@any_array
def softmax_backward(grad_output: Any, output: Any, axis: Any = -1, *,
                     out: np.ndarray | None = None) -> Any:
    """The vector-Jacobian product of softmax: given output = softmax(x, axis) and
    grad_output = dL/d output, returns dL/dx = output * (grad_output - sum(grad_output *
    output, axis)), with the sum as a double-double (float32: in double)."""
    return _vjp_rows(grad_output, output, axis, out, "softmax_backward",
                     _ext.softmax_backward_rows, _ext.VJP_SOFTMAX)


@any_array
def log_softmax_backward(grad_output: Any, output: Any, axis: Any = -1, *,
                         out: np.ndarray | None = None) -> Any:
    """The vector-Jacobian product of log_softmax: given output = log_softmax(x, axis) and
    grad_output, returns grad_output - exp(output) * sum(grad_output, axis)."""
    return _vjp_rows(grad_output, output, axis, out, "log_softmax_backward",
                     _ext.log_softmax_backward_rows, _ext.VJP_LOG_SOFTMAX)


@any_array
def sigmoid_backward(grad_output: Any, output: Any, *, out: np.ndarray | None = None) -> Any:
    """The vector-Jacobian product of sigmoid: given output = sigmoid(x) and grad_output,
    returns grad_output * output * (1 - output) (elementwise, same shapes)."""
    name = "sigmoid_backward"
    result = _ext.vjp_fast(grad_output, output, None, _ext.VJP_SIGMOID, out)
    if result is not None:
        return result
    g, y, res_dtype, calc = _general_pair(grad_output, output, out, name)
    g1 = np.ascontiguousarray(to_compute(g, calc)).reshape(-1)
    y1 = np.ascontiguousarray(to_compute(y, calc)).reshape(-1)
    buf = np.empty(g1.shape, calc)
    _ext.sigmoid_backward_flat(g1, y1, buf)
    return finish(buf.reshape(g.shape), out, res_dtype)
