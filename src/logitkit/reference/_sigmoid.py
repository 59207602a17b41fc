"""The reference sigmoid family: sigmoid, sigmoid_derivative, log_sigmoid and softplus.

Each works on one Python float at a time through ``z = exp(-|x|)``, which lies in ``[0, 1]``, so
nothing overflows, ever; ``1 + z`` and ``(1 + z)**2`` are formed exactly (dyadic arithmetic) and
rounded once by the division, the rest is ``math.exp`` and ``math.log1p``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from logitkit.reference._common import _NAN, _finish, _prepare
from logitkit.reference._exact import _dy, _dy_div, _dy_mul, _dy_sum

__all__ = ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"]


def _sigmoid1(x: float) -> float:
    """1 / (1 + exp(-x)) = 1 / (1 + z) for x >= 0, z / (1 + z) for x < 0."""
    if x != x:
        return _NAN
    z = math.exp(-abs(x))
    return _dy_div(_dy(1.0 if x >= 0 else z), _dy_sum([(1, 0), _dy(z)]))


def _sigmoid_derivative1(x: float) -> float:
    """sigmoid(x) * sigmoid(-x) = z / (1 + z)**2 (not s*(1-s), which is 0 for |x| > 37)."""
    if x != x:
        return _NAN
    z = math.exp(-abs(x))
    w = _dy_sum([(1, 0), _dy(z)])
    return _dy_div(_dy(z), _dy_mul(w, w))


def _log_sigmoid1(x: float) -> float:
    """-log(1 + exp(-x)) = min(x, 0) - log1p(z), as -(log1p(z) - min(x, 0)): for x >= 0 a
    result that rounds to zero is -0.0, the sign of its true value (log_sigmoid(800))."""
    if x != x:
        return _NAN
    return -(math.log1p(math.exp(-abs(x))) - min(x, 0.0))


def _softplus1(x: float) -> float:
    """log(1 + exp(x)) = max(x, 0) + log1p(z)."""
    if x != x:
        return _NAN
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _elementwise(fn: Callable[[float], float], x, out, dtype):
    a, rt, kind = _prepare(x, dtype, out)
    values = [fn(v) for v in a.ravel().tolist()]
    return _finish(np.array(values, dtype=np.float64).reshape(a.shape), rt, kind, out)


def sigmoid(x, *, out=None, dtype=None):
    """sigmoid(x) = 1 / (1 + exp(-x)): 1 / (1 + z) for x >= 0 and z / (1 + z) for x < 0,
    with z = exp(-|x|).  sigmoid(+inf) = 1, sigmoid(-inf) = 0, sigmoid(NaN) = NaN."""
    return _elementwise(_sigmoid1, x, out, dtype)


def sigmoid_derivative(x, *, out=None, dtype=None):
    """sigmoid'(x) = sigmoid(x) * sigmoid(-x) = z / (1 + z)**2 with z = exp(-|x|)
    (nonzero out to |x| ~ 745, where s * (1 - s) is already 0 past 37); 0 at +-inf."""
    return _elementwise(_sigmoid_derivative1, x, out, dtype)


def log_sigmoid(x, *, out=None, dtype=None):
    """log_sigmoid(x) = -log(1 + exp(-x)) = min(x, 0) - log1p(exp(-|x|)).
    log_sigmoid(-inf) = -inf, log_sigmoid(+inf) = -0.0."""
    return _elementwise(_log_sigmoid1, x, out, dtype)


def softplus(x, *, out=None, dtype=None):
    """softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) = -log_sigmoid(-x).
    softplus(+inf) = +inf, softplus(-inf) = 0."""
    return _elementwise(_softplus1, x, out, dtype)
