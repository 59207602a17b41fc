"""The reference sigmoid family: sigmoid, sigmoid_derivative, log_sigmoid and softplus, and
its inverse, logit.

Each works on one Python float at a time through ``z = exp(-|x|)``, which lies in ``[0, 1]``, so
nothing overflows, ever; ``1 + z`` and ``(1 + z)**2`` are formed exactly (dyadic arithmetic) and
rounded once by the division, the rest is ``math.exp`` and ``math.log1p``. logit and softplus
with a beta other than 1 are computed in 60-digit decimal arithmetic (the ``decimal`` module's
``ln`` and ``exp`` are correctly rounded), from the exact decimal values of the floats, and
rounded to a float once.
"""

from __future__ import annotations

import decimal
import math
from typing import Callable

import numpy as np

from logitkit.reference._common import _INF, _NAN, _finish, _prepare
from logitkit.reference._exact import _dy, _dy_div, _dy_mul, _dy_sum

__all__ = ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus", "logit"]

#: 60 digits, and exponents wide enough that no intermediate value overflows or underflows
_DEC = decimal.Context(prec=60, Emin=-999999, Emax=999999)


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


def _log1p_dec(z: decimal.Decimal) -> decimal.Decimal:
    """log(1 + z) for 0 <= z <= 1, to 60 digits relative (below 1e-30, z - z**2/2 is)."""
    if z < decimal.Decimal("1e-30"):
        return _DEC.subtract(z, _DEC.divide(_DEC.multiply(z, z), 2))
    return _DEC.ln(_DEC.add(1, z))


def _softplus_beta1(beta: float):
    """softplus(beta x) / beta for one x, beta > 0: x + log1p(exp(-beta x)) / beta for x >= 0,
    log1p(exp(beta x)) / beta for x < 0, in decimal."""
    b = decimal.Decimal(beta)

    def one(x: float) -> float:
        if x != x:
            return _NAN
        if math.isinf(x):
            return x if x > 0 else 0.0
        d = decimal.Decimal(x)
        y = _DEC.multiply(b, d)
        if x >= 0:
            return float(_DEC.add(d, _DEC.divide(_log1p_dec(_DEC.exp(_DEC.minus(y))), b)))
        return float(_DEC.divide(_log1p_dec(_DEC.exp(y)), b))

    return one


def _check_beta(beta) -> float:
    if isinstance(beta, (bool, np.bool_)) or not isinstance(beta, (int, float, np.integer,
                                                                   np.floating)):
        raise TypeError(f"logitkit: softplus: beta must be a positive finite real number, "
                        f"got {type(beta).__name__}")
    b = float(beta)
    if not (b > 0 and math.isfinite(b)):
        raise ValueError(f"logitkit: softplus: beta must be a positive finite real number, "
                         f"got {beta!r}")
    return b


def softplus(x, *, beta=1.0, out=None, dtype=None):
    """softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) = -log_sigmoid(-x).
    softplus(+inf) = +inf, softplus(-inf) = 0. With beta (> 0, finite): softplus(beta x) / beta
    = x + log1p(exp(-beta x)) / beta for x >= 0 and log1p(exp(beta x)) / beta for x < 0, in
    exact decimal arithmetic, so that the product beta x never rounds, overflows or
    underflows."""
    b = _check_beta(beta)
    if b == 1.0:
        return _elementwise(_softplus1, x, out, dtype)
    return _elementwise(_softplus_beta1(b), x, out, dtype)


def _logit1(p: float) -> float:
    """log(p / (1 - p)), from the exact decimal p; -inf at 0, +inf at 1, NaN outside."""
    if not 0.0 <= p <= 1.0:                # NaN too
        return _NAN
    if p == 0.0:
        return -_INF
    if p == 1.0:
        return _INF
    d = decimal.Decimal(p)
    return float(_DEC.ln(_DEC.divide(d, _DEC.subtract(1, d))))


def logit(p, *, out=None, dtype=None):
    """logit(p) = log(p / (1 - p)), the inverse of the sigmoid; logit(0) = -inf,
    logit(1) = +inf, NaN outside [0, 1] and for NaN."""
    return _elementwise(_logit1, p, out, dtype)
