"""logit, the inverse of the sigmoid: log(p / (1 - p)), elementwise.

Like the sigmoid family (_sigmoid), it converts its input once to the compute dtype, runs one
kernel call over the flat array (a C- or F-ordered view, or one copy) with the GIL released,
and rounds to the result dtype once. `elementwise_call` is that general path, for a kernel of
binding/logit.pxi given as a callable; softplus with a beta other than 1 takes it too.

Its pure-Python twin is logitkit.reference._sigmoid.logit; the binding is binding/logit.pxi,
the kernel csrc/kernels/logit-inl.h.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from logitkit import _ext
from logitkit._interop import foreign, translate
from logitkit._results import finish, kernel_can_write
from logitkit._validate import (as_array, check_out, overlaps, result_dtype, to_compute,
                                working_dtype)


def logit(p: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """The logit, log(p / (1 - p)), the inverse of the sigmoid, elementwise.

    Parameters
    ----------
    p : array_like
        Probabilities: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    out : numpy.ndarray, optional
        A writable array of exactly `p`'s shape and the result dtype to write the result
        into; it may be `p` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The logit of `p`, elementwise: `p`'s shape, a NumPy scalar for a scalar or 0-d input.
        `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `p`, `out` or `dtype`).
    ValueError
        For an input NumPy cannot turn into an array, or an `out` of the wrong shape or
        read-only.

    See Also
    --------
    sigmoid : Its inverse: ``logit(sigmoid(x))`` is `x` wherever the sigmoid is not rounded
        to 0 or 1.
    logitkit.reference.logit : The pure-Python twin.

    Notes
    -----
    Computed as ``log(v)`` with ``v = p / (1 - p)`` carried to twice the working precision
    (``1 - p`` and the quotient's residual are exact), so neither ``p`` near 0 nor ``p`` near
    1 nor ``p`` near 1/2 loses digits. ``logit(0)`` is -inf, ``logit(1)`` is +inf, and ``p``
    outside [0, 1] or NaN gives NaN. No warning is ever emitted. Accurate to 2 ULP of the
    result dtype (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.logit([0.0, 0.25, 0.5, 1.0])
    array([       -inf, -1.09861229,  0.        ,         inf])

    Just below 1/2 the textbook formula rounds ``1 - p`` and keeps half the answer:

    >>> p = 0.5 - 2.0**-54
    >>> float(np.log(p / (1 - p))), float(lk.logit(p))
    (-1.1102230246251565e-16, -2.220446049250313e-16)
    >>> float(lk.logit(lk.sigmoid(-30.0)))
    -30.0
    """
    if dtype is None:
        fast = _ext.logit_fast(p, out)
        if fast is not None:
            return fast
    if foreign(p, out):
        return translate(logit, p, out=out, dtype=dtype)
    return elementwise_call(p, out, dtype, "logit", _ext.logit)


def elementwise_call(x: Any, out: np.ndarray | None, dtype: Any, name: str,
                     kernel: Callable[..., None], *params: float) -> Any:
    """`kernel(flat_in, flat_out, *params)` over `x` as an array, with the dtype, `out=` and
    layout handling of the sigmoid family."""
    arr = as_array(x, name)
    res_dtype = result_dtype(arr, dtype, name)
    calc = working_dtype(arr, res_dtype)
    if out is not None:
        check_out(out, arr.shape, res_dtype, name)
    data = to_compute(arr, calc)
    flat_in, order = _flat(data)
    if flat_in is None:
        data = np.ascontiguousarray(data)
        flat_in, order = data.reshape(-1), "C"
    if kernel_can_write(out, calc):
        flat_out, out_order = _flat(out)
        if flat_out is not None and out_order == order and not overlaps(out, data):
            kernel(flat_in, flat_out, *params)
            return out
    result = np.empty(data.shape, calc, order=order)
    kernel(flat_in, _flat(result)[0], *params)
    return finish(result, out, res_dtype)


def _flat(arr: np.ndarray) -> tuple[np.ndarray | None, str]:
    """A 1-d view of a C- or F-contiguous array, and which order it follows."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), "C"
    if arr.flags.f_contiguous:
        return arr.T.reshape(-1), "F"
    return None, "C"
