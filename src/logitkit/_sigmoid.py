"""The sigmoid family: sigmoid, sigmoid_derivative, log_sigmoid and softplus, elementwise.

Every function converts its input once to the compute dtype (as the softmax family does, see
_softmax), runs one kernel call over the flat array (a C- or F-ordered view, or one copy) with
the GIL released, and rounds to the result dtype once. Semantics at the edges are the
contract's (docs/semantics.md).

Its pure-Python twin is logitkit.reference._sigmoid. The bindings are binding/sigmoid.pxi
(`elementwise`) and the thin call path `elementwise_fast` of a plain array (beside the softmax
family's in binding/softmax.pxi); the kernels are csrc/kernels/sigmoid-inl.h, every form through
z = exp(-|x|).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _ext
from logitkit._interop import foreign, translate
from logitkit._results import finish, kernel_can_write
from logitkit._validate import (as_array, check_out, overlaps, result_dtype, to_compute,
                                working_dtype)

_SIGMOID, _SIGMOID_DERIVATIVE, _LOG_SIGMOID, _SOFTPLUS = 0, 1, 2, 3


def sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """The logistic sigmoid, 1 / (1 + exp(-x)), elementwise.

    Parameters
    ----------
    x : array_like
        The input: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    out : numpy.ndarray, optional
        A writable array of exactly `x`'s shape and the result dtype to write the result
        into; it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The sigmoid of `x`, elementwise: `x`'s shape, a NumPy scalar for a scalar or
        0-d input. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`).
    ValueError
        For an input NumPy cannot turn into an array, or an `out` of the wrong shape or
        read-only.

    See Also
    --------
    sigmoid_derivative : Its derivative at `x`.
    log_sigmoid : Its log, accurate where the sigmoid is tiny.
    sigmoid_backward : The vector-Jacobian product, from the sigmoid's output.
    logitkit.reference.sigmoid : The pure-Python twin.

    Notes
    -----
    Computed as ``1/(1+z)`` or ``z/(1+z)`` with ``z = exp(-|x|)``, so nothing overflows.
    ``sigmoid(+inf)`` is 1, ``sigmoid(-inf)`` is 0, ``sigmoid(+-0.0)`` is 0.5 and NaN gives
    NaN. Subnormal results are not flushed to zero: ``sigmoid(-740.0)`` is ``exp(-740)``. No
    warning is ever emitted. Accurate to 2 ULP of the result dtype (docs/semantics.md, the
    contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.sigmoid([-1.0, 0.0, 1.0]).round(4)
    array([0.2689, 0.5   , 0.7311])

    Far in the tail the textbook formula overflows to 0; the sigmoid is exp(x) there:

    >>> with np.errstate(over="ignore"):
    ...     1 / (1 + np.exp(740.0))
    np.float64(0.0)
    >>> lk.sigmoid(-740.0) == np.exp(-740.0)
    np.True_
    """
    return _elementwise(x, out, dtype, _SIGMOID, "sigmoid")


def sigmoid_derivative(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """The derivative of the sigmoid at the pre-activation `x`: sigmoid(x) * (1 - sigmoid(x)).

    Parameters
    ----------
    x : array_like
        The input: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    out : numpy.ndarray, optional
        A writable array of exactly `x`'s shape and the result dtype to write the result
        into; it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The derivative at `x`, elementwise: `x`'s shape, a NumPy scalar for a scalar or
        0-d input. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`).
    ValueError
        For an input NumPy cannot turn into an array, or an `out` of the wrong shape or
        read-only.

    See Also
    --------
    sigmoid : The sigmoid itself.
    sigmoid_backward : The same product given the sigmoid's output and an upstream gradient.
    logitkit.reference.sigmoid_derivative : The pure-Python twin.

    Notes
    -----
    `x` is the sigmoid's input, not its output. Computed as ``z / (1 + z)**2`` with
    ``z = exp(-|x|)``, so it keeps its value where ``s * (1 - s)`` rounds to 0.
    ``sigmoid_derivative(+-inf)`` is 0, ``sigmoid_derivative(0.0)`` is 0.25. No warning is
    ever emitted. Accurate to 2 ULP of the result dtype (docs/semantics.md, the contract,
    lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> lk.sigmoid_derivative([-2.0, 0.0, 2.0]).round(4)
    array([0.105, 0.25 , 0.105])

    Where ``1 - sigmoid(x)`` rounds to 0, the product from the sigmoid's value is lost:

    >>> s = lk.sigmoid(40.0)
    >>> s * (1 - s)
    np.float64(0.0)
    >>> print(f"{lk.sigmoid_derivative(40.0):.6e}")
    4.248354e-18
    """
    return _elementwise(x, out, dtype, _SIGMOID_DERIVATIVE, "sigmoid_derivative")


def log_sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """The log of the sigmoid, -log(1 + exp(-x)), elementwise.

    Parameters
    ----------
    x : array_like
        The input: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    out : numpy.ndarray, optional
        A writable array of exactly `x`'s shape and the result dtype to write the result
        into; it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The log of the sigmoid of `x`, elementwise: `x`'s shape, a NumPy scalar for a scalar or
        0-d input. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`).
    ValueError
        For an input NumPy cannot turn into an array, or an `out` of the wrong shape or
        read-only.

    See Also
    --------
    sigmoid : The sigmoid itself.
    softplus : ``softplus(x)`` is ``-log_sigmoid(-x)``.
    binary_cross_entropy_with_logits : The loss built on it, with its gradient.
    logitkit.reference.log_sigmoid : The pure-Python twin.

    Notes
    -----
    Computed as ``min(x, 0) - log1p(exp(-|x|))``: no overflow and no cancellation.
    ``log_sigmoid(-inf)`` is -inf, ``log_sigmoid(+inf)`` is 0 and ``log_sigmoid(-1e308)`` is
    -1e308. No warning is ever emitted. Accurate to 2 ULP of the result dtype
    (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> with np.errstate(over="ignore", divide="ignore"):
    ...     np.log(1 / (1 + np.exp(1000.0)))     # the textbook formula at x = -1000
    np.float64(-inf)
    >>> lk.log_sigmoid([-1000.0, 0.0, 40.0])
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    return _elementwise(x, out, dtype, _LOG_SIGMOID, "log_sigmoid")


def softplus(x: Any, *, beta: float = 1.0, out: np.ndarray | None = None,
             dtype: Any = None) -> Any:
    """Softplus, log(1 + exp(x)), elementwise; with `beta`, log(1 + exp(beta x)) / beta.

    Parameters
    ----------
    x : array_like
        The input: anything `numpy.asarray` accepts, of a real floating, integer or bool
        dtype (float16 is computed in float32; integers and bool in float64).
    beta : float, optional
        PyTorch's `beta` (``torch.nn.functional.softplus(x, beta)``, without its threshold):
        a positive finite real number. Default 1.
    out : numpy.ndarray, optional
        A writable array of exactly `x`'s shape and the result dtype to write the result
        into; it may be `x` itself. It is returned.
    dtype : float16, float32, float64 or longdouble, optional
        The result dtype. One narrower than the input is computed in the input's precision
        and rounded once at the end. Default: float64 for float64, integer and bool input,
        float32 for float32, float16 for float16.

    Returns
    -------
    numpy.ndarray or numpy.floating
        The softplus of `x`, elementwise: `x`'s shape, a NumPy scalar for a scalar or
        0-d input. `out` when it is given.

    Raises
    ------
    TypeError
        For an unsupported dtype (of `x`, `out` or `dtype`).
    ValueError
        For an input NumPy cannot turn into an array, an `out` of the wrong shape or
        read-only, or a `beta` that is not positive and finite.

    See Also
    --------
    log_sigmoid : ``log_sigmoid(x)`` is ``-softplus(-x)``.
    sigmoid : The derivative of softplus.
    logitkit.reference.softplus : The pure-Python twin.

    Notes
    -----
    Computed as ``max(x, 0) + log1p(exp(-|x|))``; ``softplus(x)`` equals ``-log_sigmoid(-x)``
    bit for bit. ``softplus(+inf)`` is +inf, ``softplus(-inf)`` is 0, and
    ``softplus(-740.0)`` is the subnormal ``exp(-740)``. With `beta` the product ``beta x``
    is never rounded: it is kept exact (or, where it would overflow or underflow, not formed),
    so ``softplus(x, beta=1e-300)`` is ``x/2 + log(2)/beta`` near 0 and
    ``exp(beta x) / beta`` far below it, even where ``exp(beta x)`` underflows. ``beta=1``
    is the plain softplus, bit for bit. No warning is ever emitted. Accurate to 2 ULP of the
    result dtype, for every beta (docs/semantics.md, the contract, lists every rule).

    Examples
    --------
    >>> import numpy as np
    >>> import logitkit as lk
    >>> with np.errstate(over="ignore"):
    ...     np.log1p(np.exp(1000.0))               # the textbook formula overflows
    np.float64(inf)
    >>> lk.softplus([-1000.0, 0.0, 1000.0])
    array([0.00000000e+00, 6.93147181e-01, 1.00000000e+03])
    >>> lk.softplus([-1000.0, 0.0, 1000.0], beta=2.0)
    array([0.0000000e+00, 3.4657359e-01, 1.0000000e+03])

    A tiny beta: ``exp(beta x)`` underflows to 0, the result does not:

    >>> print(f"{lk.softplus(-1e303, beta=1e-300):.6e}")
    5.075959e-135
    """
    if type(beta) is not float or beta != 1.0:        # the default costs one comparison
        from logitkit._logit import elementwise_call
        b = _positive_finite_beta(beta)
        if b != 1.0:
            if dtype is None:
                fast = _ext.softplus_beta_fast(x, b, out)
                if fast is not None:
                    return fast
            if foreign(x, out):
                return translate(softplus, x, beta=b, out=out, dtype=dtype)
            return elementwise_call(x, out, dtype, "softplus", _ext.softplus_beta, b)
    return _elementwise(x, out, dtype, _SOFTPLUS, "softplus")


def _positive_finite_beta(beta: Any) -> float:
    """beta as a float; TypeError or ValueError naming softplus and beta otherwise."""
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, (int, float, np.integer,
                                                                   np.floating)):
        raise TypeError(f"softplus: beta must be a positive finite real number, "
                        f"got {type(beta).__name__}")
    b = float(beta)
    if not (b > 0.0 and np.isfinite(b)):
        raise ValueError(f"softplus: beta must be a positive finite real number, "
                         f"got {beta!r}")
    return b


def _elementwise(x: Any, out: np.ndarray | None, dtype: Any, func: int, name: str) -> Any:
    if dtype is None:
        fast = _ext.elementwise_fast(x, func, out)
        if fast is not None:
            return fast
    if foreign(x, out):
        return translate(globals()[name], x, out=out, dtype=dtype)
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
            _ext.elementwise(flat_in, flat_out, func)
            return out
    result = np.empty(data.shape, calc, order=order)
    _ext.elementwise(flat_in, _flat(result)[0], func)
    return finish(result, out, res_dtype)


def _flat(arr: np.ndarray) -> tuple[np.ndarray | None, str]:
    """A 1-d view of a C- or F-contiguous array, and which order it follows."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), "C"
    if arr.flags.f_contiguous:
        return arr.T.reshape(-1), "F"
    return None, "C"
