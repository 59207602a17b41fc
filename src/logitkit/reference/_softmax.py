"""The reference softmax, log_softmax and logsumexp, and the helpers they share.

How the arithmetic stays accurate (plain Python floats and ints, no NumPy in the arithmetic):

* ``x - max`` is split exactly into ``hi + lo`` (TwoSum), and ``exp(hi + lo)`` is taken as
  ``exp(hi) * (1 + lo)``.
* Sums of exponentials are *exact*: every float term is turned into an exact dyadic number
  ``n * 2**e`` (`logitkit.reference._exact`), so the only roundings are those of ``math.exp``,
  ``math.log1p`` and the final conversion back to a float, which is correctly rounded.
  ``math.fsum`` adds the last few pieces of a logarithm.
* Logarithms of a sum are ``log1p`` of its exact distance from the nearest power of two (SciPy's
  trick for ``[0, -40]`` rows, made exact), plus a correction for the rounding of that distance.
* A logsumexp whose max and log-sum cancel, or whose terms (with b) cancel each other, is
  summed again from 60-digit decimal exponentials, exactly.

NumPy only moves axes around and cuts the input into slices of Python floats.
"""

from __future__ import annotations

import decimal
import math
from fractions import Fraction
import numbers
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

from logitkit.reference._common import _INF, _NAN, _check_numeric, _finish, _fsum, _prepare
from logitkit.reference._exact import _dy, _dy_div, _dy_float, _dy_mul, _dy_sum, _neg

__all__ = ["softmax", "log_softmax", "logsumexp"]

# ln 2 = _LN2_HI + _LN2_LO; _LN2_HI has 21 trailing zero bits, so k * _LN2_HI is exact for any
# exponent k a float can have (fdlibm's constants).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


def _two_sum(a: float, b: float) -> tuple[float, float]:
    """(s, t) with s = fl(a + b) and s + t = a + b exactly (Knuth's TwoSum).

    If a + b overflows, t is meaningless and set to 0 (callers only look at s then)."""
    s = a + b
    bb = s - a
    t = (a - (s - bb)) + (b - bb)
    return s, (t if math.isfinite(t) else 0.0)


def _exp_dy(hi: float, lo: float) -> tuple[int, int]:
    """exp(hi + lo) for hi <= 0 and |lo| <= ulp(hi), as an exact dyadic.

    exp(hi + lo) = exp(hi) * (1 + lo + O(lo**2)); the error is that of math.exp (< 1 ulp).
    Below -700 the argument is halved (exactly) and the result squared, so exp(-1400) keeps
    full precision instead of underflowing; below -2200 the term is negligible next to any
    other (|b| < 2**1024) and is returned as 0.
    """
    if not hi >= -2200.0:  # also catches -inf
        return 0, 0
    squarings = 0
    while hi < -700.0:
        hi, lo, squarings = hi * 0.5, lo * 0.5, squarings + 1
    e = math.exp(hi)
    v = _dy_sum([_dy(e), _dy(e * lo)])
    for _ in range(squarings):
        v = _dy_mul(v, v)
    return v


def _log_dy(s: tuple[int, int]) -> list[float]:
    """Floats whose exact sum is log(s) for a dyadic s > 0 (to a fraction of an ulp).

    Write s = 2**k * (1 + u) with 1 + u in [0.75, 1.5) (u exact); then
    log(s) = k*ln2 + log1p(u).  u is rounded to a float once; its rounding error r adds
    r / (1 + u) to the logarithm.  No cancellation: for s near 1, k = 0 and this is log1p.
    """
    n, e = s
    k = n.bit_length() - 1 + e  # 2**k <= s < 2**(k+1)
    if _dy_div(s, (1, k)) >= 1.5:
        k += 1
    u_exact = _dy_sum([(n, e - k), (-1, 0)])
    u = _dy_float(u_exact)
    r = _dy_float(_dy_sum([u_exact, _neg(_dy(u))]))
    return [math.log1p(u), r / (1.0 + u), k * _LN2_HI, k * _LN2_LO]


# ---------------------------------------------------------------------------------------------
# One slice of a reduction, in Python floats.
# ---------------------------------------------------------------------------------------------

def _softmax_slice(xs: list[float], keep: list[bool], masked: bool, log: bool) -> list[float]:
    """softmax (log=False) or log_softmax (log=True) of the entries of xs with keep[i].

    With m = max x and S = sum_j exp(x_j - m) (exact, S >= 1):
        softmax_i     = exp(x_i - m) / S                 (left-out entries: 0)
        log_softmax_i = (x_i - m) - log(S)               (left-out entries: -inf)
    A kept NaN or +inf makes the whole slice NaN.  If nothing finite is kept, the slice is
    NaN, or -- when a mask was given (masked=True) -- "fully masked": 0 / -inf everywhere.
    """
    kept = [x for x, k in zip(xs, keep) if k]
    if any(x != x or x == _INF for x in kept):
        return [_NAN] * len(xs)
    m = max(kept, default=-_INF)
    if m == -_INF:
        fill = (-_INF if log else 0.0) if masked else _NAN
        return [fill] * len(xs)
    diffs = [_two_sum(x, -m) if k else (-_INF, 0.0) for x, k in zip(xs, keep)]
    terms = [_exp_dy(hi, lo) for hi, lo in diffs]
    total = _dy_sum(terms)
    if not log:
        return [_dy_div(t, total) for t in terms]
    neg_log_total = [-p for p in _log_dy(total)]
    # the max's value -log(S) is negative whenever S > 1: where it rounds to zero, -0.0
    top = -0.0 if _dy_sum([total, (-1, 0)])[0] > 0 else 0.0
    return [(_fsum([hi, lo] + neg_log_total) or (top if hi == 0.0 else 0.0)) if hi > -_INF
            else -_INF for hi, lo in diffs]


def _logsumexp_slice(xs: list[float], keep: list[bool], bs: list[float]) -> tuple[float, float]:
    """(log|S|, sign(S)) for S = sum_i b_i * exp(x_i) over the entries with keep[i].

    Entries with b_i == 0 are left out entirely (even if x_i is NaN or +inf), as in SciPy.
    Then: a NaN x_i or b_i, or inf * 0 (b_i = +-inf at x_i = -inf), gives (NaN, NaN); infinite
    terms (x_i = +inf or b_i = +-inf) give (+inf, their sign), or (NaN, NaN) if their signs
    differ; otherwise, with m = max x_i over the finite x_i,
        S = exp(m) * sum_i b_i * exp(x_i - m)
    where the sum is exact, and log|S| = m + log|sum|.  A zero sum (nothing left, all -inf, or
    exact cancellation) gives (-inf, 0.0).
    """
    terms = [(x, b) for x, k, b in zip(xs, keep, bs) if k and b != 0.0]
    if any(x != x or b != b or (x == -_INF and abs(b) == _INF) for x, b in terms):
        return _NAN, _NAN
    inf_signs = {math.copysign(1.0, b) for x, b in terms if x == _INF or abs(b) == _INF}
    if inf_signs:
        return (_INF, inf_signs.pop()) if len(inf_signs) == 1 else (_NAN, _NAN)
    terms = [(x, b) for x, b in terms if x != -_INF]
    if not terms:
        return -_INF, 0.0
    m = max(x for x, _ in terms)
    scaled = [_dy_mul(_dy(b), _exp_dy(*_two_sum(x, -m))) for x, b in terms]
    total = _dy_sum(scaled)
    largest = max(abs(n).bit_length() + e for n, e in scaled)    # binary orders of magnitude
    if total[0] == 0 or abs(total[0]).bit_length() + total[1] < largest - 1:
        # the terms cancel each other: each exp, rounded once by math.exp, would show in the
        # result (or cancel exactly where the true terms do not)
        return _logsumexp_decimal(terms, m)
    sign = 1.0 if total[0] > 0 else -1.0
    log_sum = _log_dy((abs(total[0]), total[1]))
    value = _fsum([m] + log_sum)
    if abs(value) < 0.5 * abs(sum(log_sum)):
        # m and log|sum| cancel: each term's exp, rounded once by math.exp, would show in the
        # result's last bits (up to ~25 ULP), so the slice is summed again in decimal
        value = _logsumexp_decimal(terms, m)[0]
    return value, sign


def _exp_decimal(d: decimal.Decimal) -> Fraction:
    """e^d to the context's precision, as an exact Fraction; near d = 0 as 1 + the series of
    e^d - 1, so that a tiny d keeps its digits (e^(2e-308) is 1 + 2e-308, not 1)."""
    if abs(d) >= decimal.Decimal("0.5"):
        return Fraction(d.exp())
    total, term, k = decimal.Decimal(0), decimal.Decimal(1), 0
    while True:
        k += 1
        term = term * d / k
        if total + term == total:
            return 1 + Fraction(total)
        total += term


def _logsumexp_decimal(terms: list[tuple[float, float]], m: float) -> tuple[float, float]:
    """(m + log|sum_i b_i exp(x_i - m)|, sign) with every exp in 60-digit decimal arithmetic
    (floats convert to Decimal exactly), the sum exact (Fractions, so that 1 + 5e-324 - 1
    keeps its last term) and the log rounded once to a float."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        dm = decimal.Decimal(m)
        total = sum(Fraction(b) * _exp_decimal(decimal.Decimal(x) - dm) for x, b in terms)
        if total == 0:
            return -_INF, 0.0
        size = abs(total)
        q = decimal.Decimal(size.numerator) / decimal.Decimal(size.denominator)
        return float(dm + q.ln()), (1.0 if total > 0 else -1.0)


# ---------------------------------------------------------------------------------------------
# Axis bookkeeping (NumPy, but no arithmetic).
# ---------------------------------------------------------------------------------------------

def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Normalise axis (int, tuple of ints or None) to a tuple of non-negative axes.

    A 0-d array is a one-element slice: axis 0 and -1 are accepted and reduce over nothing."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    span = max(ndim, 1)
    norm = []
    for ax in items:
        if isinstance(ax, bool) or not isinstance(ax, numbers.Integral):
            raise TypeError(f"logitkit: axis must be an int, a tuple of ints or None, got {axis!r}")
        if not -span <= int(ax) < span:
            raise AxisError(int(ax), span)
        norm.append(int(ax) % span)
    if len(set(norm)) != len(norm):
        raise AxisError(f"logitkit: repeated axis in {axis!r}")
    return tuple(norm) if ndim else ()


def _slices(a: np.ndarray, axes: tuple[int, ...], *companions: Any):
    """Bookkeeping shared by the reductions.

    Moves `axes` of `a` (and of each companion array, broadcast to a.shape) to the end and cuts
    it into slices: lists of Python scalars, one per output position.
    Returns (slices, companion slices..., full, reduced) where full(rows) puts per-slice lists
    back into an array of a.shape and reduced(values, keepdims) puts one value per slice into
    the reduced shape.
    """
    ndim = a.ndim
    rest = [i for i in range(ndim) if i not in axes]
    kept_shape = tuple(a.shape[i] for i in rest)
    n = math.prod(a.shape[i] for i in axes)
    rows = math.prod(kept_shape)
    dest = tuple(range(len(rest), ndim))

    def cut(arr):
        moved = np.moveaxis(np.broadcast_to(arr, a.shape), axes, dest)
        return moved.reshape(rows, n).tolist()

    def full(values):
        moved_shape = kept_shape + tuple(a.shape[i] for i in axes)
        return np.moveaxis(np.array(values, dtype=np.float64).reshape(moved_shape), dest, axes)

    def reduced(values, keepdims):
        shape = tuple(1 if i in axes else a.shape[i] for i in range(ndim)) if keepdims else kept_shape
        return np.array(values, dtype=np.float64).reshape(shape)

    return (cut(a), *(cut(c) for c in companions), full, reduced)


def _where(where: Any, shape: tuple[int, ...]) -> np.ndarray:
    """`where` as a boolean array of the given shape (all True if None)."""
    w = np.asarray(True if where is None else where)
    if w.dtype != np.bool_ and w.size:  # (an empty list has dtype float64)
        raise TypeError(f"logitkit: where must be a boolean array, got dtype {w.dtype}")
    return np.broadcast_to(w.astype(np.bool_), shape)


# ---------------------------------------------------------------------------------------------
# Public functions.
# ---------------------------------------------------------------------------------------------

def _softmax_family(x, axis, where, out, dtype, log):
    a, rt, kind = _prepare(x, dtype, out)
    axes = _axes(axis, a.ndim)
    w = _where(where, a.shape)
    rows, keeps, full, _ = _slices(a, axes, w)
    res = [_softmax_slice(r, k, where is not None, log) for r, k in zip(rows, keeps)]
    return _finish(full(res), rt, kind, out)


def softmax(x, axis=-1, *, where=None, out=None, dtype=None):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) over `axis`, computed as exp(x_i - m) / S with
    m = max_j x_j and S = sum_j exp(x_j - m) summed exactly.

    `where=False` entries are left out (probability 0); a slice with nothing finite left is 0
    everywhere when `where` is given, NaN otherwise; a kept NaN or +inf makes the slice NaN.
    """
    return _softmax_family(x, axis, where, out, dtype, log=False)


def log_softmax(x, axis=-1, *, where=None, out=None, dtype=None):
    """log_softmax(x)_i = x_i - logsumexp(x) = (x_i - m) - log(S), with x_i - m exact,
    S = sum_j exp(x_j - m) exact and log(S) = log1p(S - 1) near 1 (so the top class of a
    confident row is accurate to the last bit).

    `where=False` entries give -inf; edge cases as for `softmax` (fully masked: -inf).
    """
    return _softmax_family(x, axis, where, out, dtype, log=True)


def logsumexp(x, axis=-1, *, b=None, where=None, keepdims=False, return_sign=False, out=None,
              dtype=None):
    """log(sum_i b_i * exp(x_i)) over `axis` = m + log|sum_i b_i * exp(x_i - m)| (exact sum).

    Entries with b == 0 or where == False are left out entirely.  A NaN gives NaN; +inf gives
    +inf; an empty, fully masked or all -inf slice gives -inf.  A negative total gives NaN,
    unless return_sign=True, which returns (log|total|, sign) with sign in {-1, 0, 1} (0 for a
    zero total, 1 without b, NaN for a NaN result).  `out` receives the log part.
    """
    a, rt, kind = _prepare(x, dtype, out)
    bb = np.asarray(1.0 if b is None else b)
    _check_numeric(bb, "b")
    if b is not None:
        # x and b broadcast together; the result dtype is NumPy's promotion of theirs (a
        # Python scalar b is weak), float64 where that is not a float dtype, as in SciPy
        a = np.broadcast_to(a, np.broadcast_shapes(a.shape, bb.shape))
        if dtype is None:
            x_dtype = np.asarray(x).dtype.newbyteorder("=")
            weak = b if type(b) in (bool, int, float) else bb.dtype.newbyteorder("=")
            promoted = np.result_type(x_dtype, weak)
            rt = promoted if promoted.kind == "f" else np.dtype(np.float64)
            kind = "array" if kind == "list" and a.ndim == 0 else kind
    axes = _axes(axis, a.ndim)
    w = _where(where, a.shape)
    rows, keeps, bs, _, reduced = _slices(a, axes, w, bb.astype(np.float64))
    logs, signs = [], []
    for r, k, bi in zip(rows, keeps, bs):
        value, sign = _logsumexp_slice(r, k, bi)
        if sign < 0 and not return_sign:
            value = _NAN
        logs.append(value)
        signs.append(sign)
    result = _finish(reduced(logs, keepdims), rt, kind, out)
    if return_sign:
        return result, _finish(reduced(signs, keepdims), rt, kind, None)
    return result
