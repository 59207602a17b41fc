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
from logitkit._interop import foreign, refuse_dim, translate
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


def _vjp_rows(public: Any, grad_output: Any, output: Any, axis: Any, out: Any, dim: None,
              kernel: Any, fast_op: int | None) -> Any:
    """A vector-Jacobian product over `axis`: the thin path of plain arrays (`fast_op`, when
    the function has one), then other libraries' arrays, then any layout, as rows for
    `kernel`. `public` is the public function (its name for errors, its twin for translate)."""
    name = public.__name__
    if dim is not None:
        refuse_dim(name)
    if fast_op is not None:
        result = _ext.vjp_fast(grad_output, output, axis, fast_op, out)
        if result is not None:
            return result
    if foreign(grad_output, output, out):
        return translate(public, grad_output, output, axis, out=out)
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


def softmax_backward(grad_output: Any, output: Any, axis: Any = -1, *,
                     out: np.ndarray | None = None, dim: None = None) -> Any:
    """The vector-Jacobian product of softmax: dL/dx from dL/d output and the output.

    Parameters
    ----------
    grad_output : array_like
        The upstream gradient, dL/d output, of a real floating, integer or bool dtype.
    output : array_like
        The forward function's output, ``softmax(x, axis)``, of the same shape as
        `grad_output`.
    axis : int, tuple of ints or None, optional
        The axis, or axes together, the forward function ran over; None for the whole array.
        Default: the last axis.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write the result into.
        It is returned.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    numpy.ndarray or numpy.floating
        dL/dx, of the inputs' shape (a NumPy scalar for 0-d inputs) and of the dtype NumPy
        promotes `grad_output` and `output` to (float16 computed in float32, integers and
        bool in float64). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `grad_output`, `output` or `out`) or an axis that is
        not an integer.
    ValueError
        For inputs of different shapes, or an `out` of the wrong shape or read-only.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    softmax : The forward function.
    log_softmax_backward, sigmoid_backward : The other vector-Jacobian products.
    logitkit.reference.softmax_backward : The pure-Python twin.

    Notes
    -----
    ``dL/dx = output * (grad_output - sum(grad_output * output, axis))``, with the sum
    accumulated as a double-double. No warning is ever emitted. Accurate to 4 ULP of the
    result dtype (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> y = lk.softmax([[2.0, 1.0, 0.1]])
    >>> lk.softmax_backward([[1.0, 0.0, 0.0]], y).round(4)      # d y[0] / dx
    array([[ 0.2247, -0.1598, -0.065 ]])
    """
    return _vjp_rows(softmax_backward, grad_output, output, axis, out, dim,
                     _ext.softmax_backward_rows, _ext.VJP_SOFTMAX)


def log_softmax_backward(grad_output: Any, output: Any, axis: Any = -1, *,
                         out: np.ndarray | None = None, dim: None = None) -> Any:
    """The vector-Jacobian product of log_softmax: dL/dx from dL/d output and the output.

    Parameters
    ----------
    grad_output : array_like
        The upstream gradient, dL/d output, of a real floating, integer or bool dtype.
    output : array_like
        The forward function's output, ``log_softmax(x, axis)``, of the same shape as
        `grad_output`.
    axis : int, tuple of ints or None, optional
        The axis, or axes together, the forward function ran over; None for the whole array.
        Default: the last axis.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write the result into.
        It is returned.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    numpy.ndarray or numpy.floating
        dL/dx, of the inputs' shape (a NumPy scalar for 0-d inputs) and of the dtype NumPy
        promotes `grad_output` and `output` to (float16 computed in float32, integers and
        bool in float64). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `grad_output`, `output` or `out`) or an axis that is
        not an integer.
    ValueError
        For inputs of different shapes, or an `out` of the wrong shape or read-only.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    log_softmax : The forward function.
    cross_entropy : The loss and its gradient in one pass.
    softmax_backward, sigmoid_backward : The other vector-Jacobian products.
    logitkit.reference.log_softmax_backward : The pure-Python twin.

    Notes
    -----
    ``dL/dx = grad_output - exp(output) * sum(grad_output, axis)``, exact where the two terms
    cancel (the top class of a confident row under an NLL gradient, a distillation
    gradient). No warning is ever emitted. Accurate to 4 ULP of the result dtype
    (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> out = lk.log_softmax([[2.0, 1.0, 0.1]])
    >>> lk.log_softmax_backward([[-1.0, 0.0, 0.0]], out).round(3)    # NLL of class 0
    array([[-0.341,  0.242,  0.099]])

    A confident row, where the textbook formula cancels the top class's gradient to 0:

    >>> out = lk.log_softmax([[0.0, -40.0]])
    >>> g = np.array([[-1.0, 0.0]])
    >>> g - np.exp(out) * g.sum(axis=-1, keepdims=True)
    array([[0.00000000e+00, 4.24835426e-18]])
    >>> lk.log_softmax_backward(g, out)
    array([[-4.24835426e-18,  4.24835426e-18]])
    """
    return _vjp_rows(log_softmax_backward, grad_output, output, axis, out, dim,
                     _ext.log_softmax_backward_rows, _ext.VJP_LOG_SOFTMAX)


def sigmoid_backward(grad_output: Any, output: Any, *, out: np.ndarray | None = None) -> Any:
    """The vector-Jacobian product of sigmoid: dL/dx from dL/d output and the output.

    Parameters
    ----------
    grad_output : array_like
        The upstream gradient, dL/d output, of a real floating, integer or bool dtype.
    output : array_like
        The forward function's output, ``sigmoid(x)``, of the same shape as
        `grad_output`.
    out : numpy.ndarray, optional
        A writable array of exactly the result's shape and dtype to write the result into.
        It is returned.

    Returns
    -------
    numpy.ndarray or numpy.floating
        dL/dx, of the inputs' shape (a NumPy scalar for 0-d inputs) and of the dtype NumPy
        promotes `grad_output` and `output` to (float16 computed in float32, integers and
        bool in float64). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `grad_output`, `output` or `out`).
    ValueError
        For inputs of different shapes, or an `out` of the wrong shape or read-only.

    See Also
    --------
    sigmoid : The forward function.
    sigmoid_derivative : The derivative at the pre-activation instead.
    softmax_backward, log_softmax_backward : The other vector-Jacobian products.
    logitkit.reference.sigmoid_backward : The pure-Python twin.

    Notes
    -----
    ``dL/dx = grad_output * output * (1 - output)``, elementwise. No warning is ever emitted.
    Accurate to 4 ULP of the result dtype (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.sigmoid_backward([1.0, 1.0], lk.sigmoid([0.0, 1.0])).round(4)
    array([0.25  , 0.1966])
    """
    name = "sigmoid_backward"
    result = _ext.vjp_fast(grad_output, output, None, _ext.VJP_SIGMOID, out)
    if result is not None:
        return result
    if foreign(grad_output, output, out):
        return translate(sigmoid_backward, grad_output, output, out=out)
    g, y, res_dtype, calc = _general_pair(grad_output, output, out, name)
    g1 = np.ascontiguousarray(to_compute(g, calc)).reshape(-1)
    y1 = np.ascontiguousarray(to_compute(y, calc)).reshape(-1)
    buf = np.empty(g1.shape, calc)
    _ext.sigmoid_backward_flat(g1, y1, buf)
    return finish(buf.reshape(g.shape), out, res_dtype)
