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
from logitkit._interop import any_array
from logitkit._results import finish, kernel_can_write
from logitkit._validate import (as_array, check_out, overlaps, result_dtype, to_compute,
                                working_dtype)

_SIGMOID, _SIGMOID_DERIVATIVE, _LOG_SIGMOID, _SOFTPLUS = 0, 1, 2, 3


@any_array
def sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """1 / (1 + exp(-x)), as 1/(1+z) or z/(1+z) with z = exp(-|x|): 2 ULP everywhere,
    subnormal results included."""
    return _elementwise(x, out, dtype, _SIGMOID, "sigmoid")


@any_array
def sigmoid_derivative(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """sigmoid(x) * (1 - sigmoid(x)) at the pre-activation x, as z / (1 + z)^2 with
    z = exp(-|x|): exact where s * (1 - s) rounds to 0 (|x| > 37 in float64)."""
    return _elementwise(x, out, dtype, _SIGMOID_DERIVATIVE, "sigmoid_derivative")


@any_array
def log_sigmoid(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """-log(1 + exp(-x)) = min(x, 0) - log1p(exp(-|x|))."""
    return _elementwise(x, out, dtype, _LOG_SIGMOID, "log_sigmoid")


@any_array
def softplus(x: Any, *, out: np.ndarray | None = None, dtype: Any = None) -> Any:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) = -log_sigmoid(-x)."""
    return _elementwise(x, out, dtype, _SOFTPLUS, "softplus")


def _elementwise(x: Any, out: np.ndarray | None, dtype: Any, func: int, name: str) -> Any:
    if dtype is None:
        fast = _ext.elementwise_fast(x, func, out)
        if fast is not None:
            return fast
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
