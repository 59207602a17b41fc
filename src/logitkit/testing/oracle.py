"""The exact oracle behind logitkit's accuracy bars, and the ULP measure against it.

Used by ``tests/test_accuracy.py`` (the pass/fail gate) and ``bench/accuracy.py`` (the side-by-side
report with PyTorch and SciPy), so both measure the same thing the same way, on the inputs of
`logitkit.testing.adversarial` (re-exported here: ``oracle.suite(func, dtype, level)``)::

    from logitkit.testing import oracle
    batches = oracle.suite("softmax", "float32", "quick")
    worst = oracle.run_library(lambda x, axis: logitkit.softmax(x, axis=axis), "softmax",
                               "float32", batches)

Needs mpmath (the ``test`` and ``bench`` extras); ``import logitkit`` and
``import logitkit.testing`` do not import it, only this module does.

Design:
- The oracle is mpmath at 200 bits (about 60 digits) in a private context (the global
  ``mpmath.mp`` is left alone). Inputs are float32/float64, so they convert to mpmath exactly.
- For every output element the oracle stores the exact value rounded to the output dtype
  (``hi``), the spacing of the dtype at the exact value (``ulp``, with the subnormal spacing
  below the normal range) and the rounding residue ``frac = (exact - hi) / ulp``. The error of a
  result ``r`` is then ``|(r - hi) / ulp - frac|`` ULP, computed with NumPy for any number of
  libraries without touching mpmath again.
- Non-finite values: both NaN, or equal infinities, count 0 ULP; any other mismatch counts inf.
  The exact value of a slice with NaN or +inf, or of an all -inf slice, follows the contract's
  edge values (docs/semantics.md): softmax/log_softmax NaN; logsumexp NaN, +inf or -inf.
- logsumexp is ill-conditioned where its result is near 0 (max < 0 and log(sum) ~ -max): no
  working-precision algorithm meets a relative bar there. Where |exact| < 1 the bar metric is
  the absolute error in ULP of max(|max|, log(sum)) (``abs_ulp``); the plain relative ULP error
  is still reported by accuracy.py.
- Rows longer than ``SAMPLE_ABOVE`` are summed in full by the oracle (one mpmath exp per
  element), but only ``SAMPLE_SIZE`` output elements are checked (always including the row's
  max and min).
- The bars (``BARS``) are the registry's (`logitkit._registry`, the one table of public
  functions): the worst distance from the exact result each function promises, in ULPs of its
  result dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

try:
    import mpmath
except ImportError as exc:     # pragma: no cover - mpmath is in the test and bench extras
    raise ImportError("logitkit.testing.oracle needs mpmath: pip install mpmath (or the "
                      "'test' or 'bench' extra of logitkit)") from exc

from logitkit import _registry
from logitkit.testing.adversarial import (DTYPES, LEVELS, SAMPLE_ABOVE, SAMPLE_SIZE, Batch,
                                          elementwise_suite, reduction_suite, suite)

__all__ = [
    "PREC_BITS", "REDUCTIONS", "ELEMENTWISE", "FUNCTIONS", "BARS", "DTYPES", "LEVELS",
    "LSE_NEAR_ZERO", "SAMPLE_ABOVE", "SAMPLE_SIZE", "Ref", "round_exact", "ulp_error",
    "lse_bar_error", "Batch", "reduction_suite", "elementwise_suite", "suite", "refs_for",
    "Worst", "run_library",
    "INFORMATION", "PairBatch", "kl_pairs", "information_refs", "run_information",
]

PREC_BITS = 200
_mp = mpmath.MPContext()
_mp.prec = PREC_BITS

#: The functions this oracle computes exactly: the reductions along an axis (one pass per row
#: gives all three) and the sigmoid family.
REDUCTIONS = ("softmax", "log_softmax", "logsumexp", "sparsemax")
ELEMENTWISE = ("sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus", "logit")
#: The information of softmax distributions (entropy; kl_divergence of pairs of rows), measured
#: by `run_information`.
INFORMATION = ("entropy", "kl_divergence")
FUNCTIONS = REDUCTIONS + ELEMENTWISE + INFORMATION
#: Their accuracy bars, worst-case ULP from the exact result (float32 and float64 alike), from
#: the registry.
BARS = {name: _registry.function(name).max_ulp for name in FUNCTIONS}
#: logsumexp results with |exact| below this are held to an absolute bar (see module doc).
LSE_NEAR_ZERO = 1.0

# (precision incl. hidden bit, min normal exponent, max exponent)
_FMT = {np.dtype(np.float32): (24, -126, 127), np.dtype(np.float64): (53, -1022, 1023)}
_MPF_INF = _mp.inf
_MPF_NAN = _mp.nan


# --------------------------------------------------------------------------------------------
# Exact values -> rounded reference arrays, and the ULP error of a result
# --------------------------------------------------------------------------------------------
@dataclass
class Ref:
    """Exact results of one batch, rounded to the output dtype (all float64 arrays)."""
    hi: np.ndarray          # exact value rounded to nearest in the output dtype (inf if it overflows)
    ulp: np.ndarray         # dtype spacing at the exact value (subnormal spacing when tiny)
    frac: np.ndarray        # (exact - hi) / ulp, in [-0.5, 0.5]
    abs_ulp: np.ndarray | None = None   # logsumexp only: ulp of max(|max|, log(sum)) where |exact| < 1


def round_exact(values, dtype) -> Ref:
    """Round a sequence of mpmath numbers to ``dtype``; see :class:`Ref`."""
    p, emin, emax = _FMT[np.dtype(dtype)]
    n = len(values)
    hi = np.empty(n)
    ulp = np.empty(n)
    frac = np.zeros(n)
    sub_q = emin - p + 1
    for i, v in enumerate(values):
        v = _mp.mpf(v)
        if _mp.isnan(v):
            hi[i], ulp[i] = math.nan, math.nan
            continue
        if _mp.isinf(v):
            hi[i], ulp[i] = (math.inf if v > 0 else -math.inf), math.nan
            continue
        sign, man, exp, bc = v._mpf_
        if man == 0:
            hi[i], ulp[i] = 0.0, math.ldexp(1.0, sub_q)
            continue
        top = exp + bc - 1                          # |v| in [2**top, 2**(top+1))
        if top < sub_q - 2:                         # far below the smallest subnormal
            hi[i], ulp[i] = (-0.0 if sign else 0.0), math.ldexp(1.0, sub_q)
            frac[i] = float(_mp.ldexp(v, -sub_q))
            continue
        if top > emax + 1:                          # far above the largest finite
            hi[i], ulp[i] = (-math.inf if sign else math.inf), math.nan
            continue
        q = max(top, emin) - (p - 1)                # exponent of the ulp
        k = q - exp                                 # |v| / 2**q = man / 2**k
        if k <= 0:
            big_n, rem_num, rem_den = man << -k, 0, 1
        else:
            big_n = (man + (1 << (k - 1))) >> k     # round half up; ties never matter here
            rem_num, rem_den = man - (big_n << k), 1 << k
        s = -1.0 if sign else 1.0
        try:
            h = math.ldexp(float(big_n), q)
        except OverflowError:
            h = math.inf
        if big_n.bit_length() - 1 + q > emax:     # rounds past the largest finite
            h = math.inf
        hi[i] = s * h
        ulp[i] = math.ldexp(1.0, q)
        frac[i] = s * (rem_num / rem_den)
    return Ref(hi, ulp, frac)


def ulp_error(result, ref: Ref) -> np.ndarray:
    """Error of ``result`` (already in the output dtype) in ULPs of the exact values."""
    r = np.asarray(result, dtype=np.float64).ravel()
    with np.errstate(all="ignore"):
        err = np.abs((r - ref.hi) / ref.ulp - ref.frac)
    rnan, hnan = np.isnan(r), np.isnan(ref.hi)
    nonfinite = np.isinf(r) | np.isinf(ref.hi)
    err = np.where(nonfinite, np.where(r == ref.hi, 0.0, np.inf), err)
    err = np.where(rnan | hnan, np.where(rnan & hnan, 0.0, np.inf), err)
    return err


def lse_bar_error(result, ref: Ref) -> np.ndarray:
    """logsumexp bar metric: relative ULP where |exact| >= 1, else absolute in ulp(max(|m|, log s))."""
    err = ulp_error(result, ref)
    if ref.abs_ulp is None:
        return err
    r = np.asarray(result, dtype=np.float64).ravel()
    near = ~np.isnan(ref.abs_ulp)
    with np.errstate(all="ignore"):
        abs_err = np.abs((r - ref.hi) - ref.frac * ref.ulp) / ref.abs_ulp
    return np.where(near & np.isfinite(r), abs_err, err)


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------
_DROP_BELOW = -2000   # exp(d) < e**-2000: invisible in a sum >= 1 at 200 bits


def _row_exact(row, idx):
    """Exact softmax/log_softmax at columns ``idx`` and logsumexp (+ its abs scale) of a row."""
    vals = [float(v) for v in row]
    k = len(idx)
    if any(math.isnan(v) for v in vals):
        return [_MPF_NAN] * k, [_MPF_NAN] * k, _MPF_NAN, None
    if math.inf in vals:
        return [_MPF_NAN] * k, [_MPF_NAN] * k, _MPF_INF, None
    finite = [v for v in vals if v != -math.inf]
    if not finite:
        return [_MPF_NAN] * k, [_MPF_NAN] * k, -_MPF_INF, None
    top = max(finite)
    mx = _mp.mpf(top)
    want = set(int(j) for j in idx)
    n_top, rest, d, t = 0, [], {}, {}
    for j, v in enumerate(vals):
        if v == top:
            n_top += 1
            d[j], t[j] = _mp.zero, _mp.one
            continue
        if v == -math.inf:
            continue
        keep = v - top > _DROP_BELOW
        if not keep and j not in want:
            continue
        dj = _mp.mpf(v) - mx
        tj = _mp.exp(dj)
        if keep:
            rest.append(tj)
        if j in want:
            d[j], t[j] = dj, tj
    # sum = n_top + rest: log1p keeps the tiny non-max terms that 1 + rest would round away.
    s_rest = _mp.fsum(rest)
    s = n_top + s_rest
    log_s = _mp.log(n_top) + _mp.log1p(s_rest / n_top)
    sm, lsm = [], []
    for j in idx:
        j = int(j)
        if vals[j] == -math.inf:
            sm.append(_mp.zero)
            lsm.append(-_MPF_INF)
        else:
            sm.append(t[j] / s)
            lsm.append(d[j] - log_s)
    lse = mx + log_s
    scale = max(abs(mx), log_s) if abs(lse) < LSE_NEAR_ZERO else None
    return sm, lsm, lse, scale


def _log1pexp(v):
    """log(1 + exp(v)) for an mpf v (finite), without cancellation."""
    if v > 0:
        return v + _mp.log1p(_mp.exp(-v))
    return _mp.log1p(_mp.exp(v))


def _logit_exact(t):
    """log(t / (1 - t)): -inf at 0, +inf at 1, NaN outside [0, 1]."""
    if not 0 <= t <= 1:
        return _MPF_NAN
    if t == 0 or t == 1:
        return _MPF_INF if t == 1 else -_MPF_INF
    return _mp.log(t / (1 - t))


def _sparsemax_exact(row, idx):
    """Exact sparsemax at columns ``idx`` of a row: tau from the entries above max - 1 (the
    only ones that can be in the support), sorted, in rationals."""
    from fractions import Fraction
    vals = [float(v) for v in row]
    if any(math.isnan(v) or v == math.inf for v in vals) or all(v == -math.inf for v in vals):
        return [_MPF_NAN] * len(idx)
    floor = Fraction(max(vals)) - 1
    cand = sorted((z for z in map(Fraction, (v for v in vals if v != -math.inf)) if z > floor),
                  reverse=True)
    total, tau = Fraction(0), Fraction(0)
    for k, z in enumerate(cand, start=1):
        if 1 + k * z <= total + z:
            break
        total += z
        tau = (total - 1) / k
    out = []
    for j in idx:
        v = vals[int(j)]
        p = Fraction(v) - tau if v != -math.inf else Fraction(0)
        out.append(_mp.mpf(p.numerator) / p.denominator if p > 0 else _mp.zero)
    return out


def _elementwise_exact(func, x):
    out = []
    for v in x:
        v = float(v)
        if math.isnan(v):
            out.append(_MPF_NAN)
            continue
        if math.isinf(v):
            pos = v > 0
            out.append({"sigmoid": _mp.one if pos else _mp.zero,
                        "sigmoid_derivative": _mp.zero,
                        "log_sigmoid": _mp.zero if pos else -_MPF_INF,
                        "softplus": _MPF_INF if pos else _mp.zero,
                        "logit": _MPF_NAN}[func])
            continue
        t = _mp.mpf(v)
        if func == "logit":
            out.append(_logit_exact(t))
            continue
        if func == "sigmoid":
            e = _mp.exp(-abs(t))
            out.append(1 / (1 + e) if t >= 0 else e / (1 + e))
        elif func == "sigmoid_derivative":
            e = _mp.exp(-abs(t))
            out.append(e / (1 + e) ** 2)
        elif func == "log_sigmoid":
            out.append(-_log1pexp(-t))
        elif func == "softplus":
            out.append(_log1pexp(t))
        else:
            raise ValueError(func)
    return out



# --------------------------------------------------------------------------------------------
# Running a library over the suite
# --------------------------------------------------------------------------------------------
def refs_for(batch: Batch, func: str, dtype) -> Ref:
    """The oracle for ``func`` on ``batch`` (computed once, cached on the batch)."""
    dtype = np.dtype(dtype)
    key = (func, dtype.str)
    if key in batch.refs:
        return batch.refs[key]
    if func in INFORMATION:
        refs = [information_refs(b, func, dtype) for b in _pairs_of(batch)] if (
            func == "kl_divergence") else [information_refs(batch, func, dtype)]
        return refs[-1]
    if func == "sparsemax":
        values = []
        for row in batch.x:
            values += _sparsemax_exact(row, batch.cols)
        batch.refs[key] = round_exact(values, dtype)
    elif func in REDUCTIONS:
        sm, lsm, lse, scale = [], [], [], []
        for row in batch.x:
            a, b, c, d = _row_exact(row, batch.cols)
            sm += a
            lsm += b
            lse.append(c)
            scale.append(d)
        batch.refs[("softmax", dtype.str)] = round_exact(sm, dtype)
        batch.refs[("log_softmax", dtype.str)] = round_exact(lsm, dtype)
        ref = round_exact(lse, dtype)
        sc = np.full(len(scale), np.nan)
        for i, d in enumerate(scale):
            if d is not None:
                sc[i] = round_exact([d], dtype).ulp[0]
        ref.abs_ulp = sc
        batch.refs[("logsumexp", dtype.str)] = ref
    else:
        batch.refs[key] = round_exact(_elementwise_exact(func, batch.x), dtype)
    return batch.refs[key]



@dataclass
class Worst:
    """The worst error seen so far, with the case that produced it."""
    ulp: float = 0.0
    case: str = ""
    n_checked: int = 0
    failures: list = field(default_factory=list)   # (ulp, case) over a threshold

    def update(self, err, batch, got, ref, layout, threshold=None, per_row=False):
        if err.size == 0:
            return
        self.n_checked += err.size
        i = int(np.argmax(np.where(np.isnan(err), np.inf, err)))
        if threshold is not None:
            for j in np.flatnonzero(~(err <= threshold))[:3]:
                self.failures.append((float(err[j]), _where(batch, j, layout, got, ref, per_row)))
        if err[i] > self.ulp or not self.case:
            self.ulp = float(err[i])
            self.case = _where(batch, i, layout, got, ref, per_row)


def _where(batch, i, layout, got, ref, per_row):
    desc = batch.describe(i, per_row)
    exact = ref.hi[i] + ref.frac[i] * ref.ulp[i] if np.isfinite(ref.hi[i]) else ref.hi[i]
    return f"{desc}{layout} -> got {float(got[i]):.17g}, exact ~{exact:.17g}"


def run_library(fn, func, dtype, batches, *, axis0=True, threshold=None):
    """Worst errors of ``fn`` over ``batches``.

    ``fn(x)`` for the sigmoid family, ``fn(x, axis)`` for reductions. Returns a dict
    ``{"ulp": Worst}`` and, for logsumexp, also ``"bar"`` (the bar metric, see module doc).
    ``axis0`` also runs each reduction batch transposed (C-contiguous, axis=0).
    """
    if func in INFORMATION:
        return run_information(fn, func, dtype, batches, axis0=axis0, threshold=threshold)
    dtype = np.dtype(dtype)
    worst = {"ulp": Worst()}
    if func == "logsumexp":
        worst["bar"] = Worst()
    for b in batches:
        ref = refs_for(b, func, dtype)
        if func in ELEMENTWISE:
            layouts = [("", lambda: fn(b.x))]
        else:
            layouts = [("", lambda: fn(b.x, -1))]
            if axis0:
                xt = np.ascontiguousarray(b.x.T)
                layouts.append((" [axis 0]", lambda: np.asarray(fn(xt, 0)).T))
        for tag, call in layouts:
            res = call()
            if res is None:
                continue
            res = np.asarray(res)
            if func in REDUCTIONS and func != "logsumexp":
                res = res[:, b.cols]
            got = res.astype(dtype, copy=False).astype(np.float64).ravel()
            err = ulp_error(got, ref)
            if func == "logsumexp":
                worst["ulp"].update(err, b, got, ref, tag, per_row=True)
                worst["bar"].update(lse_bar_error(got, ref), b, got, ref, tag, threshold, True)
            else:
                worst["ulp"].update(err, b, got, ref, tag, threshold)
    return worst


# --------------------------------------------------------------------------------------------
# entropy and kl_divergence
# --------------------------------------------------------------------------------------------
# entropy is held to its bar in plain ULPs. kl_divergence is a small difference of large terms
# where p ~ q: its bar metric is the lesser of the relative ULP error and the absolute error in
# ULPs of the terms that cancel, sum p (|log p| + |log q|) (``Ref.abs_ulp``), as logsumexp's is
# near 0; run_information also reports the error over the terms in units of 2^-53 ("terms").

@dataclass
class PairBatch(Batch):
    """Rows of p logits (``x``) and of q logits (``q``, the same shape) for kl_divergence."""
    q: np.ndarray | None = None

    def describe(self, i: int, per_row: bool = False) -> str:
        row = self.q[i]
        body = ("[" + ", ".join(f"{float(v):.17g}" for v in row) + "]" if row.size <= 6
                else f"n={row.size}")
        return f"{Batch.describe(self, i, True)} | q={body}"


def kl_pairs(batches, seed=0):
    """kl_divergence's pairs from the reduction suite's rows p: q = p itself (KL exactly 0),
    q = p nudged by ~1e-3 (p ~ q: the terms cancel to ~1e-7 of themselves), q = p nudged by
    ~1e-9 (to ~1e-19) and q = p with its classes rolled by one (distinct distributions, and
    -inf moved under finite p: +inf)."""
    rng = np.random.default_rng(seed + 7)
    out = []
    for b in batches:
        x = b.x
        with np.errstate(all="ignore"):
            wide = x.astype(np.float64)
            near = (wide + rng.standard_normal(x.shape) * 1e-3).astype(x.dtype)
            nearer = (wide * (1 + rng.standard_normal(x.shape) * 1e-9)
                      + rng.standard_normal(x.shape) * 1e-9).astype(x.dtype)
        for tag, q in (("q=p", x), ("q=p+1e-3", near), ("q=p(1+1e-9)", nearer),
                       ("q=roll(p)", np.roll(x, 1, axis=1))):
            out.append(PairBatch(f"{b.label} {tag}", x, np.arange(1), q=np.ascontiguousarray(q)))
    return out


def _slice_parts(row):
    """(max, log of the sum of exp(x - max), [(x - max, exp(x - max))] of the finite entries),
    or None for a slice without a finite max."""
    vals = [float(v) for v in row]
    finite = [v for v in vals if v != -math.inf]
    if not finite:
        return None
    top = max(finite)
    mx = _mp.mpf(top)
    n_top, rest, parts = 0, [], []
    for v in finite:
        d = _mp.mpf(v) - mx
        if v == top:
            n_top += 1
            parts.append((d, _mp.one))
        elif d > _DROP_BELOW:
            t = _mp.exp(d)
            rest.append(t)
            parts.append((d, t))
    s = n_top + _mp.fsum(rest)
    log_s = _mp.log(n_top) + _mp.log1p(_mp.fsum(rest) / n_top)
    return mx, log_s, s, parts


def _entropy_exact(row):
    vals = [float(v) for v in row]
    if any(math.isnan(v) or v == math.inf for v in vals):
        return _MPF_NAN
    got = _slice_parts(row)
    if got is None:
        return _mp.zero if not vals else _MPF_NAN
    _, log_s, s, parts = got
    return log_s - _mp.fsum(t * d for d, t in parts) / s


def _kl_exact(p, q):
    """(KL, the terms sum p (|log p| + |log q|)) of one pair of slices."""
    a, b = [float(v) for v in p], [float(v) for v in q]
    if any(math.isnan(v) or v == math.inf for v in a + b):
        return _MPF_NAN, None
    pa, pb = _slice_parts(a), _slice_parts(b)
    if pa is None or pb is None:
        return _MPF_NAN, None
    if any(x != -math.inf and y == -math.inf for x, y in zip(a, b)):
        return _MPF_INF, None
    ma, log_sa, sa, _ = pa
    mb, log_sb, _, _ = pb
    total, terms = [], []
    for x, y in zip(a, b):
        if x == -math.inf:
            continue
        dx = _mp.mpf(x) - ma
        if dx <= _DROP_BELOW:
            continue
        w = _mp.exp(dx) / sa
        lp, lq = dx - log_sa, (_mp.mpf(y) - mb) - log_sb
        total.append(w * (lp - lq))
        terms.append(w * (abs(lp) + abs(lq)))
    return _mp.fsum(total), _mp.fsum(terms)


def information_refs(batch: Batch, func: str, dtype) -> Ref:
    """The oracle for entropy or kl_divergence on ``batch`` (one result per row), cached; for
    kl_divergence ``abs_ulp`` holds the ULP of the terms (NaN where there are none)."""
    dtype = np.dtype(dtype)
    key = (func, dtype.str)
    if key in batch.refs:
        return batch.refs[key]
    if func == "entropy":
        ref = round_exact([_entropy_exact(row) for row in batch.x], dtype)
    else:
        pairs = [_kl_exact(p, q) for p, q in zip(batch.x, batch.q)]
        ref = round_exact([v for v, _ in pairs], dtype)
        ref.abs_ulp = np.array([round_exact([t], dtype).ulp[0] if t is not None and t > 0
                                else math.nan for _, t in pairs])
        ref.terms = np.array([float(t) if t is not None else math.nan for _, t in pairs])
    batch.refs[key] = ref
    return ref


def _pairs_of(b):
    """kl_divergence's pairs made from batch b (once: cached on it)."""
    if isinstance(b, PairBatch):
        return [b]
    if ("kl_pairs",) not in b.refs:
        b.refs[("kl_pairs",)] = kl_pairs([b])
    return b.refs[("kl_pairs",)]


def run_information(fn, func, dtype, batches, *, axis0=True, threshold=None):
    """Worst errors of ``fn`` (``fn(x, axis=...)`` for entropy, ``fn(p, q, axis=...)`` for
    kl_divergence) over ``batches`` (the reduction suite; kl_divergence's pairs are made from
    it by `kl_pairs`). Returns ``{"ulp": Worst, "bar": Worst}`` (the bar metric: plain ULPs
    for entropy, see above for kl_divergence) and for kl_divergence ``"terms"``."""
    dtype = np.dtype(dtype)
    worst = {"ulp": Worst(), "bar": Worst()}
    if func == "kl_divergence":
        worst["terms"] = Worst()
        batches = [q for b in batches for q in _pairs_of(b)]
    for b in batches:
        ref = information_refs(b, func, dtype)
        arrays = (b.x,) if func == "entropy" else (b.x, b.q)
        layouts = [("", lambda: fn(*arrays, axis=-1))]
        if axis0:
            moved = tuple(np.ascontiguousarray(a.T) for a in arrays)
            layouts.append((" [axis 0]", lambda: fn(*moved, axis=0)))
        for tag, call in layouts:
            got = np.asarray(call()).astype(dtype, copy=False).astype(np.float64).ravel()
            err = ulp_error(got, ref)
            worst["ulp"].update(err, b, got, ref, tag, per_row=True)
            if func == "entropy":
                worst["bar"].update(err, b, got, ref, tag, threshold, True)
                continue
            with np.errstate(all="ignore"):
                abs_err = np.abs((got - ref.hi) - ref.frac * ref.ulp)
                bar = np.where(np.isnan(ref.abs_ulp) | ~np.isfinite(got), err,
                               np.minimum(err, abs_err / ref.abs_ulp))
                unit = ref.terms * 2.0 ** -_FMT[dtype][0]       # 2^-53 (2^-24) of the terms
                terms = np.where(np.isnan(ref.abs_ulp) | ~np.isfinite(got), err,
                                 np.minimum(err, abs_err / unit))
            worst["bar"].update(bar, b, got, ref, tag, threshold, True)
            worst["terms"].update(terms, b, got, ref, tag, per_row=True)
    return worst
