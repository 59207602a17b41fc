"""The reference entropy and kl_divergence, in exact dyadic arithmetic.

How the arithmetic stays accurate (plain Python floats and ints, no NumPy in the arithmetic):

* ``x - max`` is split exactly into ``hi + lo`` and its exponential taken as an exact dyadic
  (`logitkit.reference._softmax._exp_dy`, whose only rounding is that of ``math.exp``);
* the sums ``s = sum e_i`` and ``t = sum e_i (x_i - max)`` are exact, as are KL's differences
  ``(a_i - max a) - (b_i - max b)`` and their weighted sum;
* the logarithms are ``_log_dy``'s (``log1p`` of the sum's exact distance from a power of two),
  and the last few pieces are added by ``math.fsum``, so each result is rounded about once.

entropy = log s - t / s; kl_divergence = sum e_i u_i / s_a + log s_b - log s_a with
u_i = (a_i - max a) - (b_i - max b). NumPy only moves axes and cuts the input into slices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit.reference._common import _INF, _NAN, _finish, _prepare
from logitkit.reference._exact import _dy, _dy_div, _dy_mul, _dy_sum, _neg
from logitkit.reference._softmax import _axes, _exp_dy, _fsum, _log_dy, _slices, _two_sum, _where

__all__ = ["entropy", "kl_divergence"]


def _quotient(a: tuple[int, int], b: tuple[int, int]) -> list[float]:
    """Two floats whose sum is a / b to ~2^-106 (the first rounded, then its remainder); an
    infinity where the quotient overflows (b > 0)."""
    try:
        q = _dy_div(a, b)
    except OverflowError:
        return [_INF if a[0] > 0 else -_INF]
    rest = _dy_sum([a, _neg(_dy_mul(_dy(q), b))])
    return [q, _dy_div(rest, b)]


def _weights(xs: list[float], m: float) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """exp(x_i - m) for each entry as exact dyadics (0 for -inf), and their exact sum."""
    terms = []
    for x in xs:
        hi, lo = _two_sum(x, -m)
        terms.append(_exp_dy(hi, lo) if hi > -_INF else (0, 0))
    return terms, _dy_sum(terms)


def _entropy_slice(xs: list[float], keep: list[bool], masked: bool) -> float:
    """-sum p log p of p = softmax of the kept entries, as log s - t / s (see module doc).

    A kept NaN or +inf gives NaN; nothing finite kept gives NaN, or 0 for a slice that where=
    emptied (masked) or an empty slice."""
    kept = [x for x, k in zip(xs, keep) if k]
    if any(x != x or x == _INF for x in kept):
        return _NAN
    m = max(kept, default=-_INF)
    if m == -_INF:
        return 0.0 if masked or not xs else _NAN
    finite = [x for x in kept if x > -_INF]
    terms, s = _weights(finite, m)
    t = _dy_sum([_dy_mul(e, _dy_sum([_dy(x), _neg(_dy(m))])) for e, x in zip(terms, finite)])
    value = _fsum(_log_dy(s) + [-q for q in _quotient(t, s)])
    return max(value, 0.0)


def _kl_slice(xs: list[float], ys: list[float], keep: list[bool], masked: bool) -> float:
    """KL(softmax(xs) || softmax(ys)) over the kept entries (see module doc). NaN or +inf in
    either slice gives NaN; p_i > 0 where q_i = 0 gives +inf; p_i = 0 contributes 0."""
    pairs = [(x, y) for x, y, k in zip(xs, ys, keep) if k]
    if any(v != v or v == _INF for pair in pairs for v in pair):
        return _NAN
    ma = max((x for x, _ in pairs), default=-_INF)
    mb = max((y for _, y in pairs), default=-_INF)
    if ma == -_INF:
        return 0.0 if (masked and mb == -_INF) or not xs else _NAN
    if mb == -_INF:
        return _NAN
    if any(x > -_INF and y == -_INF for x, y in pairs):
        return _INF
    live = [(x, y) for x, y in pairs if x > -_INF]
    terms, sa = _weights([x for x, _ in live], ma)
    _, sb = _weights([y for _, y in pairs if y > -_INF], mb)
    shift = _dy_sum([_neg(_dy(ma)), _dy(mb)])
    u = _dy_sum([_dy_mul(e, _dy_sum([_dy(x), _neg(_dy(y)), shift]))
                 for e, (x, y) in zip(terms, live)])
    value = _fsum(_quotient(u, sa) + _log_dy(sb) + [-v for v in _log_dy(sa)])
    return max(value, 0.0)


def entropy(logits: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
            dtype: Any = None) -> Any:
    """Shannon entropy (nats) of softmax(logits) over `axis`: log s - sum e (x - m) / s, exact
    sums. Masked and -inf entries contribute 0; an empty or fully masked slice gives 0."""
    a, rt, kind = _prepare(logits, dtype, out)
    axes = _axes(axis, a.ndim)
    w = _where(where, a.shape)
    rows, keeps, _, reduced = _slices(a, axes, w)
    values = [_entropy_slice(r, k, where is not None) for r, k in zip(rows, keeps)]
    return _finish(reduced(values, False), rt, kind, out)


def kl_divergence(p_logits: Any, q_logits: Any, axis: Any = -1, *, where: Any = None,
                  out: Any = None, dtype: Any = None) -> Any:
    """KL(softmax(p_logits) || softmax(q_logits)) over `axis` (same shapes), in nats."""
    a, rt, kind = _prepare(p_logits, dtype, out)
    b, rt_b, _ = _prepare(q_logits, dtype, None)
    if a.shape != b.shape:
        raise ValueError(f"logitkit: p_logits has shape {a.shape} and q_logits {b.shape}; "
                         f"expected the same shape")
    if dtype is None:
        rt = np.promote_types(rt, rt_b)
    axes = _axes(axis, a.ndim)
    w = _where(where, a.shape)
    rows, qs, keeps, _, reduced = _slices(a, axes, b, w)
    values = [_kl_slice(r, q, k, where is not None) for r, q, k in zip(rows, qs, keeps)]
    return _finish(reduced(values, False), rt, kind, out)
