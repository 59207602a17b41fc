"""sparsemax and sparsemax_backward (Martins & Astudillo 2016, "From Softmax to Sparsemax").

sparsemax is the Euclidean projection of each slice onto the probability simplex:
``p = max(x - tau, 0)`` with ``tau`` such that ``sum(p) == 1``; most entries of a confident
slice are exactly 0. The arguments follow softmax's (axis, where, out, dtype); the slices are
laid out as C-ordered rows (one copy) for one kernel call, csrc/kernels/sparsemax-inl.h through
binding/sparsemax.pxi, and the result is rounded to the result dtype once.

Its pure-Python twin is logitkit.reference._sparsemax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _ext, _layout
from logitkit._backward import _vjp_rows
from logitkit._interop import foreign, refuse_dim, translate
from logitkit._results import finish
from logitkit._validate import (as_array, check_mask, check_out, normalize_axes, result_dtype,
                                to_compute, working_dtype)


def sparsemax(x: Any, axis: Any = -1, *, where: Any = None, out: np.ndarray | None = None,
              dtype: Any = None, dim: None = None) -> Any:
    """Sparsemax: the Euclidean projection of `x` onto the probability simplex over `axis`.

    Parameters
    ----------
    x : array_like
        The logits: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    axis : int, tuple of ints or None, optional
        The axis, or axes together, to normalize over; None for the whole array. Default:
        the last axis.
    where : array_like of bool, optional
        Entries to include; the others take no part (as ``-inf`` logits) and get 0.
    out : numpy.ndarray, optional
        A writable array of exactly `x`'s shape and the result dtype to write the result
        into. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype, as for `softmax`.
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    numpy.ndarray or numpy.floating
        ``max(x - tau, 0)`` per slice, summing to 1, of `x`'s shape (a NumPy scalar for a
        0-d input). `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `where`, `out` or `dtype`) or an axis that is not
        an integer.
    ValueError
        For an input NumPy cannot turn into an array, a `where` that does not broadcast, or
        an `out` of the wrong shape or read-only.
    numpy.exceptions.AxisError
        For an axis out of range or repeated.

    See Also
    --------
    sparsemax_backward : Its vector-Jacobian product.
    softmax : The dense normalization sparsemax replaces.
    logitkit.reference.sparsemax : The pure-Python twin.

    Notes
    -----
    ``tau = (sum of the k largest - 1) / k`` for the largest k with ``1 + k x_(k)`` above the
    sum of the k largest (sorted descending). Only entries above ``max - 1`` can be in the
    support, so only they are sorted; the sums and the test are carried to twice the working
    precision, so an entry exactly at ``tau`` (a tie) is decided exactly and gets 0. Slices
    with NaN or ``+inf``, or of only ``-inf``, give NaN (0 everywhere for a slice `where`
    leaves empty); ``-inf`` entries get 0. No warning is ever emitted. Accurate to 4 ULP of
    the result dtype (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.sparsemax([[2.0, 1.0, 0.1], [0.5, 0.4, 0.3]])
    array([[1.        , 0.        , 0.        ],
           [0.43333333, 0.33333333, 0.23333333]])
    >>> lk.sparsemax([1.0, 0.0])          # 0.0 is exactly at tau: outside the support
    array([1., 0.])
    """
    name = "sparsemax"
    if dim is not None:
        refuse_dim(name)
    if foreign(x, where, out):
        return translate(sparsemax, x, axis, where=where, out=out, dtype=dtype)
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name)
    calc = working_dtype(arr, res_dtype)
    axes = normalize_axes(axis, arr.ndim, name)
    if out is not None:
        check_out(out, arr.shape, res_dtype, name)
    if arr.ndim == 0:
        return finish(sparsemax(arr.reshape(1), 0, where=where, dtype=dtype).reshape(()), out)
    data = to_compute(arr, calc)
    masked = where is not None
    if masked:
        data = np.where(check_mask(where, arr.shape, name), data, data.dtype.type(-np.inf))
    if data.size == 0:
        return finish(np.empty(arr.shape, res_dtype), out)
    p = _layout.fallback_plan(arr.shape, axes)
    outer, n, _ = p.sizes
    rows = _layout.contiguous_copy(data, p).reshape(outer, n)
    result, r3 = _layout.empty_like_plan(p, calc)
    _ext.sparsemax_rows(rows, r3.reshape(outer, n), masked)
    return finish(result, out, res_dtype)


def sparsemax_backward(grad_output: Any, output: Any, axis: Any = -1, *,
                       out: np.ndarray | None = None, dim: None = None) -> Any:
    """The vector-Jacobian product of sparsemax: dL/dx from dL/d output and the output.

    Parameters
    ----------
    grad_output : array_like
        The upstream gradient, dL/d output, of a real floating, integer or bool dtype.
    output : array_like
        The forward function's output, ``sparsemax(x, axis)``, of the same shape as
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
    sparsemax : The forward function.
    softmax_backward : The same for softmax.
    logitkit.reference.sparsemax_backward : The pure-Python twin.

    Notes
    -----
    ``dL/dx = s * (grad_output - mean of grad_output over the support)``, ``s`` the support
    indicator ``output > 0``; the mean is carried to twice the working precision, so each
    entry is rounded about once. A slice of `output` with NaN gives NaN. No warning is ever
    emitted. Accurate to 4 ULP of the result dtype (docs/semantics.md, the contract, lists
    every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> y = lk.sparsemax([[0.5, 0.4, 0.3, -1.0]])
    >>> lk.sparsemax_backward([[1.0, 0.0, 0.0, 5.0]], y).round(4)
    array([[ 0.6667, -0.3333, -0.3333,  0.    ]])
    """
    return _vjp_rows(sparsemax_backward, grad_output, output, axis, out, dim,
                     _ext.sparsemax_bwd_rows, None)
