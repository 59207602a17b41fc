"""The reference sparsemax and sparsemax_backward, in exact rational arithmetic.

sparsemax per slice: sort the kept entries descending, take the largest k with
``1 + k z_(k) > z_(1) + ... + z_(k)`` (exactly, in Fractions), ``tau = (z_(1) + ... + z_(k) - 1)
/ k`` and ``p_i = z_i - tau`` where that is positive, else 0, each rounded once. The backward:
``s * (g - mean of g over the support)``, ``s = (output > 0)``, exactly, rounded once.

The argument handling is the softmax family's (`_softmax`) and the backward functions'
(`_backward`); the edges are softmax's: a kept NaN or +inf, or nothing finite, gives NaN (0
when a mask left the slice empty); -inf entries get 0.
"""

from __future__ import annotations

import math
from fractions import Fraction

from logitkit.reference._backward import _finish_rows, _rows_of, _to_out
from logitkit.reference._common import _INF, _NAN, _finish, _prepare
from logitkit.reference._softmax import _axes, _slices, _where

__all__ = ["sparsemax", "sparsemax_backward"]


def _sparsemax_slice(xs: list[float], keep: list[bool], masked: bool) -> list[float]:
    kept = [x for x, k in zip(xs, keep) if k]
    if any(x != x or x == _INF for x in kept):
        return [_NAN] * len(xs)
    finite = sorted((Fraction(x) for x in kept if x != -_INF), reverse=True)
    if not finite:
        return [0.0 if masked else _NAN] * len(xs)
    total, tau = Fraction(0), None
    for k, z in enumerate(finite, start=1):
        if 1 + k * z <= total + z:          # the test fails here, and for every later k
            break
        total += z
        tau = (total - 1) / k
    out = []
    for x, k in zip(xs, keep):
        if not k or x == -_INF:
            out.append(0.0)
            continue
        p = Fraction(x) - tau
        out.append(float(p) if p > 0 else 0.0)
    return out


def sparsemax(x, axis=-1, *, where=None, out=None, dtype=None):
    """sparsemax(x) = max(x - tau, 0) over `axis`, tau such that the result sums to 1: the
    Euclidean projection onto the probability simplex, exactly (Fractions), rounded once."""
    a, rt, kind = _prepare(x, dtype, out)
    axes = _axes(axis, a.ndim)
    w = _where(where, a.shape)
    rows, keeps, full, _ = _slices(a, axes, w)
    res = [_sparsemax_slice(r, k, where is not None) for r, k in zip(rows, keeps)]
    return _finish(full(res), rt, kind, out)


def sparsemax_backward(grad_output, output, axis=-1, *, out=None):
    """s * (grad_output - mean of grad_output over the support), s = (output > 0), exactly
    (Fractions) where everything is finite, rounded once; NaN for a slice of output with
    NaN."""
    gs, ys, shape, rt = _rows_of(grad_output, output, axis)
    res = []
    for g, y in zip(gs, ys):
        if any(v != v for v in y):
            res.append([_NAN] * len(y))
            continue
        support = [a for a, b in zip(g, y) if b > 0]
        if not all(math.isfinite(v) for v in support):
            mean = sum(support) / len(support)        # inf or NaN: IEEE, as the kernel
            res.append([a - mean if b > 0 else 0.0 for a, b in zip(g, y)])
            continue
        mean = sum(Fraction(a) for a in support) / len(support) if support else Fraction(0)
        res.append([float(Fraction(a) - mean) if b > 0 else 0.0 for a, b in zip(g, y)])
    return _to_out(_finish_rows(res, shape, axis, rt), out)
