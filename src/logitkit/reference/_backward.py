"""The reference vector-Jacobian products: softmax_backward, log_softmax_backward and
sigmoid_backward.

Each product is formed in exact rationals (``fractions.Fraction``) and rounded to a float once
(log_softmax_backward takes ``math.exp`` of the output first); a row holding a NaN or an
infinity, which a Fraction cannot represent, is computed in plain floats instead. NumPy only
converts inputs and results; every result is rounded to the result dtype once.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from logitkit.reference._common import _INF, _dtype, _fsum

__all__ = ["softmax_backward", "log_softmax_backward", "sigmoid_backward"]


def _rows_of(grad_output, output, axis):
    """Rows over `axis` (an int, a tuple of ints or None), the axes moved last."""
    g, y = np.asarray(grad_output), np.asarray(output)
    rt = _dtype(g, y)
    if g.ndim == 0:
        return [[float(g)]], [[float(y)]], None, rt
    axes = tuple(range(g.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(sorted(a % g.ndim for a in axes))
    order = tuple(a for a in range(g.ndim) if a not in axes) + axes
    n = math.prod(g.shape[a] for a in axes)
    rows = math.prod(g.shape) // n if n else math.prod(g.shape[a] for a in order[:-len(axes)])
    gm, ym = np.transpose(g, order), np.transpose(y, order)
    return (gm.reshape(rows, n).astype(np.float64).tolist(),
            ym.reshape(rows, n).astype(np.float64).tolist(), (gm.shape, order, g.shape), rt)


def _finish_rows(rows, layout, axis, rt):
    if layout is None:
        return np.float64(rows[0][0]).astype(rt)[()]
    moved_shape, order, shape = layout
    out = np.array(rows, dtype=np.float64).reshape(moved_shape)
    return np.transpose(out, np.argsort(order)).astype(rt)


def _to_out(res, out):
    """The result, or copied into `out` (rounded to its dtype) and `out` returned."""
    if out is None:
        return res
    np.copyto(out, res, casting="unsafe")
    return out


def _to_float(q: Fraction) -> float:
    """q rounded once to a float; past the float range +-inf (float() would raise)."""
    try:
        return float(q)
    except OverflowError:
        return _INF if q > 0 else -_INF


def _exp(v: float) -> float:
    """math.exp, +inf past the float range (math.exp would raise)."""
    return math.exp(v) if v < 710.0 or v != v else _INF


def softmax_backward(grad_output, output, axis=-1, *, out=None):
    """output * (grad_output - sum(grad_output * output)), exactly (Fractions), rounded once."""
    gs, ys, shape, rt = _rows_of(grad_output, output, axis)
    res = []
    for g, y in zip(gs, ys):
        if not all(math.isfinite(v) for v in g + y):
            s = _fsum(a * b for a, b in zip(g, y))
            res.append([b * (a - s) for a, b in zip(g, y)])
            continue
        s = sum(Fraction(a) * Fraction(b) for a, b in zip(g, y))
        res.append([_to_float(Fraction(b) * (Fraction(a) - s)) for a, b in zip(g, y)])
    return _to_out(_finish_rows(res, shape, axis, rt), out)


def log_softmax_backward(grad_output, output, axis=-1, *, out=None):
    """grad_output - exp(output) * sum(grad_output), rounded once after math.exp."""
    gs, ys, shape, rt = _rows_of(grad_output, output, axis)
    res = []
    for g, y in zip(gs, ys):
        if not all(math.isfinite(v) for v in g) or any(v != v or v == _INF for v in y):
            s = _fsum(g)
            res.append([a - _exp(b) * s for a, b in zip(g, y)])
            continue
        s = sum(Fraction(a) for a in g)
        res.append([_to_float(Fraction(a) - Fraction(_exp(b)) * s) for a, b in zip(g, y)])
    return _to_out(_finish_rows(res, shape, axis, rt), out)


def sigmoid_backward(grad_output, output, *, out=None):
    """grad_output * output * (1 - output), exactly, rounded once."""
    g, y = np.asarray(grad_output), np.asarray(output)
    rt = _dtype(g, y)
    vals = []
    for a, b in zip(g.astype(np.float64).reshape(-1).tolist(),
                    y.astype(np.float64).reshape(-1).tolist()):
        if math.isfinite(a) and math.isfinite(b):
            vals.append(_to_float(Fraction(a) * Fraction(b) * (1 - Fraction(b))))
        else:
            vals.append(a * b * (1.0 - b))
    res = np.array(vals, dtype=np.float64).reshape(g.shape).astype(rt)
    return _to_out(res if res.ndim else res[()], out)
