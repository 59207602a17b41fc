"""The reference losses: cross_entropy, binary_cross_entropy_with_logits and nll_loss.

Plain Python floats, ``math`` and ``math.fsum``, written to be read, not to be fast. The tricks
that keep them accurate:

* ``x - m`` is split exactly into ``hi + lo`` (TwoSum) and ``exp(x - m)`` is taken as
  ``exp(hi) * (1 + lo)``.
* ``logsumexp - x[y] = (m - x[y]) + log1p(count_of_max - 1 + sum of the other terms)``, added
  with ``fsum``: a confident row ([0, -40] against class 0) gives 4.25e-18, not 0.
* The gradient at the target of a hard label is ``-(sum of the other terms) / total``, never
  ``p - 1``.

NumPy only converts inputs and results; every result is computed in float64 and rounded to the
result dtype once (float32 for float32 logits, float16 for float16, float64 otherwise).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from logitkit.reference._common import _INF, _NAN, _dtype, _fsum

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "nll_loss"]


def _two_sum(a: float, b: float) -> tuple[float, float]:
    s = a + b
    bv = s - a
    return s, (a - (s - bv)) + (b - bv)


def _exp_of_difference(v: float, m: float) -> float:
    """exp(v - m) for v < m, v - m split exactly as hi + lo; 0 where v - m overflows (its
    error term would be inf - inf)."""
    hi, lo = _two_sum(v, -m)
    return 0.0 if hi == -_INF else math.exp(hi) * (1.0 + lo)


def _row_terms(xs: list[float]) -> tuple[float, list[float], float] | None:
    """(m, terms exp(x_j - m) for x_j != m, count of x_j == m), or None for a row that has NaN
    or +inf or is all -inf (its loss is NaN)."""
    if any(v != v for v in xs) or _INF in xs or all(v == -_INF for v in xs):
        return None
    m = max(xs)
    terms = []
    for v in xs:
        if v != m:
            terms.append(_exp_of_difference(v, m))
    return m, terms, float(xs.count(m))


def _lse_minus(m: float, L: float, v: float) -> float:
    """logsumexp - v = (m - v) + L, rounded once (+inf past the float range)."""
    if v == -_INF:
        return _INF
    return _fsum([m, -v, L])


def _ce_row(xs, y, ts, w, eps, want_grad):
    """(loss, grad list scaled by 1) of one row: y a class index or ts probabilities."""
    n = len(xs)
    w = w if w is not None else [1.0] * n
    row = _row_terms(xs)
    if row is None:
        return _NAN, [_NAN] * n
    m, terms, top = row
    L = math.log1p(_fsum([top - 1.0] + terms))           # log(total), total = top + rest
    if ts is None:
        q = [(eps / n) * w[j] for j in range(n)]
        q[y] += (1.0 - eps) * w[y]
    else:
        q = [w[j] * ((1.0 - eps) * ts[j] + eps / n) for j in range(n)]
    loss = _fsum(q[j] * _lse_minus(m, L, xs[j]) for j in range(n) if q[j] != 0.0)
    if not want_grad:
        return loss, None
    total = _fsum([top] + terms)
    e = [1.0 if v == m else _exp_of_difference(v, m) if v != -_INF else 0.0 for v in xs]
    T = _fsum(q)
    grad = [T * e[j] / total - q[j] for j in range(n)]
    if ts is None and eps == 0.0:                             # hard label: no p_y - 1
        others = _fsum(e[j] for j in range(n) if j != y)
        grad[y] = -w[y] * others / total
    return loss, grad


def _reduce(losses: list[float], denom: float, reduction: str, shape, rt) -> Any:
    with np.errstate(over="ignore"):         # a loss beyond the dtype's range is inf, quietly
        if reduction == "none":
            return np.array(losses, dtype=np.float64).reshape(shape).astype(rt)
        total = _fsum(losses)
        if reduction == "sum":
            return rt.type(total)
        if denom == 0.0:
            return rt.type(_NAN)
        return rt.type(total / denom)


def cross_entropy(logits, target, axis=-1, *, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", return_grad=False):
    """Cross-entropy of softmax(logits) over `axis` against class indices or probabilities,
    with PyTorch's weight, ignore_index, label_smoothing and reductions."""
    x = np.asarray(logits)
    rt = _dtype(x)
    t = np.asarray(target)
    probs = t.dtype.kind == "f"
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    rows = xm.reshape(-1, n).astype(np.float64).tolist()
    w = None if weight is None else [float(v) for v in np.asarray(weight).tolist()]
    eps = float(label_smoothing)
    if probs:
        tr = np.moveaxis(t, axis, -1).reshape(-1, n).astype(np.float64).tolist()
    else:
        tr = [int(v) for v in t.reshape(-1).tolist()]
    losses, grads, denom = [], [], 0.0
    for r, xs in enumerate(rows):
        if not probs:
            y = tr[r]
            if y == ignore_index:
                losses.append(0.0)
                grads.append(None)                  # exactly 0, whatever the scale
                continue
            if not 0 <= y < n:
                raise ValueError(f"target {y} is out of range for {n} classes")
            denom += w[y] if w is not None else 1.0
            loss, grad = _ce_row(xs, y, None, w, eps, return_grad)
        else:
            denom += 1.0
            loss, grad = _ce_row(xs, None, tr[r], w, eps, return_grad)
        losses.append(loss)
        grads.append(grad)
    value = _reduce(losses, denom, reduction, xm.shape[:-1], rt)
    if not return_grad:
        return value
    scale = 1.0 / denom if reduction == "mean" and denom != 0.0 else 1.0
    if reduction == "mean" and denom == 0.0:
        scale = _NAN
    g = np.array([[0.0] * n if row is None else [v * scale if v == v else v for v in row]
                  for row in grads] or np.zeros((0, n)), dtype=np.float64)
    g = np.moveaxis(g.reshape(xm.shape), -1, axis)
    return value, g.astype(rt)


def _softplus(v: float) -> float:
    return (v if v > 0 else 0.0) + math.log1p(math.exp(-abs(v)))


def _sigmoid(v: float) -> float:
    z = math.exp(-abs(v))
    return 1.0 / (1.0 + z) if v >= 0 else z / (1.0 + z)


def _bce_grad(v: float, a: float, b: float) -> float:
    """b sigmoid(v) - a sigmoid(-v); where that rounds to 0 with a sigmoid underflowed
    (|v| > 745), the sign of the true value: b sigmoid(v) < a sigmoid(-v) iff
    log(b) + v < log(a)."""
    g = b * _sigmoid(v) - a * _sigmoid(-v)
    if g == 0.0 and a > 0.0 and b >= 0.0 and (b == 0.0 or math.log(b) + v < math.log(a)):
        return -0.0
    return g


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False):
    """weight * (pos_weight * t * softplus(-x) + (1 - t) * softplus(x)), elementwise."""
    x = np.asarray(logits)
    rt = _dtype(x)
    shape = x.shape
    xs = x.astype(np.float64).reshape(-1).tolist()
    ts = np.asarray(target).astype(np.float64).reshape(-1).tolist()
    ws = np.broadcast_to(1.0 if weight is None else np.asarray(weight, np.float64),
                         shape).reshape(-1).tolist()
    ps = np.broadcast_to(1.0 if pos_weight is None else np.asarray(pos_weight, np.float64),
                         shape).reshape(-1).tolist()
    losses, grads = [], []
    for v, t, w, p in zip(xs, ts, ws, ps):
        if v != v:
            losses.append(_NAN)
            grads.append(_NAN)
            continue
        a, b = p * t, 1.0 - t
        losses.append(w * ((a * _softplus(-v) if a else 0.0) + (b * _softplus(v) if b else 0.0)))
        grads.append(w * _bce_grad(v, a, b))
    value = _reduce(losses, float(len(xs)), reduction, shape, rt)
    if not return_grad:
        return value
    scale = (1.0 / len(xs) if xs else _NAN) if reduction == "mean" else 1.0
    return value, (np.array(grads, dtype=np.float64) * scale).reshape(shape).astype(rt)


def nll_loss(log_probs, target, axis=-1, *, weight=None, ignore_index=-100, reduction="mean"):
    """The negative log-likelihood of class indices: loss = -weight[y] * log_probs[y] per
    sample (one product, rounded once; 0 for an ignored sample), summed exactly (rationals)
    and, for "mean", divided exactly by the sum of weight[y] over the samples not ignored
    (NaN when that is 0), rounded once. Non-finite values follow IEEE arithmetic."""
    from fractions import Fraction

    x = np.asarray(log_probs)
    if x.ndim == 0:
        raise ValueError("nll_loss: log_probs must have at least one dimension")
    rt = _dtype(x)
    t = [int(v) for v in np.asarray(target).reshape(-1).tolist()]
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    rows = xm.reshape(len(t), n).astype(np.float64).tolist()
    w = None if weight is None else [float(v) for v in np.asarray(weight).tolist()]
    losses, exact, denom = [], Fraction(0), Fraction(0)
    finite = True
    for r, y in enumerate(t):
        if y == ignore_index:
            losses.append(0.0)
            continue
        if not 0 <= y < n:
            raise ValueError(f"nll_loss: target {y} is out of range for {n} classes")
        wy, v = (w[y] if w is not None else 1.0), rows[r][y]
        losses.append(-(wy * v))
        denom += Fraction(wy)
        if math.isfinite(wy) and math.isfinite(v):
            exact -= Fraction(wy) * Fraction(v)
        else:
            finite = False
    with np.errstate(over="ignore", invalid="ignore"):
        if reduction == "none":
            return np.array(losses, dtype=np.float64).reshape(xm.shape[:-1]).astype(rt)
        total = _fraction_float(exact) if finite else sum(losses)
        if reduction == "sum":
            return rt.type(total)
        if not finite:
            return rt.type(np.float64(total) / np.float64(float(denom)))
        if denom == 0:
            return rt.type(_NAN)
        return rt.type(_fraction_float(exact / denom))


def _fraction_float(q) -> float:
    """A rational rounded to a float once (+-inf past the float range)."""
    try:
        return float(q)
    except OverflowError:
        return math.copysign(_INF, q)
