"""Oracle, ULP measure and adversarial inputs for logitkit's accuracy bar (SPEC.md).

Shared by ``bench/accuracy.py`` (the side-by-side report) and ``tests/test_accuracy.py`` (the
pass/fail gate), so both measure the same thing the same way.

Design:
- The oracle is mpmath at 200 bits (about 60 digits) in a private context (the global
  ``mpmath.mp`` is left alone). Inputs are float32/float64, so they convert to mpmath exactly.
- For every output element the oracle stores the exact value rounded to the output dtype
  (``hi``), the spacing of the dtype at the exact value (``ulp``, with the subnormal spacing
  below the normal range) and the rounding residue ``frac = (exact - hi) / ulp``. The error of a
  result ``r`` is then ``|(r - hi) / ulp - frac|`` ULP, computed with NumPy for any number of
  libraries without touching mpmath again.
- Non-finite values: both NaN, or equal infinities, count 0 ULP; any other mismatch counts inf.
  The exact value of a slice with NaN or +inf, or of an all -inf slice, follows SPEC.md's
  "Values at the edges" (softmax/log_softmax NaN; logsumexp NaN, +inf or -inf).
- logsumexp is ill-conditioned where its result is near 0 (max < 0 and log(sum) ~ -max): no
  working-precision algorithm meets a relative bar there. Where |exact| < 1 the bar metric is
  the absolute error in ULP of max(|max|, log(sum)) (``abs_ulp``); the plain relative ULP error
  is still reported by accuracy.py.
- Rows longer than ``SAMPLE_ABOVE`` are summed in full by the oracle (one mpmath exp per
  element), but only ``SAMPLE_SIZE`` output elements are checked (always including the row's
  max and min).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import mpmath
import numpy as np

PREC_BITS = 200
_mp = mpmath.MPContext()
_mp.prec = PREC_BITS

REDUCTIONS = ("softmax", "log_softmax", "logsumexp")
ELEMENTWISE = ("sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus")
FUNCTIONS = REDUCTIONS + ELEMENTWISE
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: SPEC.md accuracy table, worst-case ULP (same for float32 and float64).
BARS = {"softmax": 4, "log_softmax": 2, "logsumexp": 2, "sigmoid": 2,
        "sigmoid_derivative": 2, "log_sigmoid": 2, "softplus": 2}
#: logsumexp results with |exact| below this are held to an absolute bar (see module doc).
LSE_NEAR_ZERO = 1.0
SAMPLE_ABOVE = 20_000
SAMPLE_SIZE = 200
LEVELS = ("quick", "default", "full")

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
                        "softplus": _MPF_INF if pos else _mp.zero}[func])
            continue
        t = _mp.mpf(v)
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
# The adversarial suite
# --------------------------------------------------------------------------------------------
@dataclass
class Batch:
    """Inputs of one kind. Reductions: 2-D, one row per slice (axis -1). Elementwise: 1-D."""
    label: str
    x: np.ndarray
    cols: np.ndarray | None = None      # reductions: the output columns the oracle checks
    refs: dict = field(default_factory=dict)

    def describe(self, i: int, per_row: bool = False) -> str:
        """The input behind checked output ``i`` (``per_row``: one output per row)."""
        if self.x.ndim == 1:
            return f"{self.label}: x={_fmt(self.x[i])}"
        r, c = (i, None) if per_row else divmod(i, len(self.cols))
        row = self.x[r]
        if row.size <= 6:
            body = "[" + ", ".join(_fmt(v) for v in row) + "]"
        else:
            with np.errstate(all="ignore"):
                body = (f"row {r} of {self.x.shape[0]}, n={row.size}, "
                        f"max={_fmt(np.max(row))}, min={_fmt(np.min(row))}")
        if c is not None:
            body += f", at x[{int(self.cols[c])}]={_fmt(row[self.cols[c]])}"
        return f"{self.label}: {body}"


def _fmt(v) -> str:
    v = float(v)
    if v != 0 and math.isfinite(v) and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.17g}"
    return repr(v) if not math.isfinite(v) else f"{v:.10g}"


def _finfo(dtype):
    fi = np.finfo(dtype)
    return float(fi.max), float(fi.smallest_normal), float(fi.smallest_subnormal), float(fi.eps)


def _rows(label, rows, dtype):
    return Batch(label, np.array(rows, dtype=np.float64).astype(dtype))


def reduction_suite(dtype, level="default", seed=0):
    """Batches for softmax/log_softmax/logsumexp (rows along the last axis)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    f64 = dtype == np.float64
    big, tiny_n, tiny_s, eps = _finfo(dtype)
    inf, nan = math.inf, math.nan
    quick, full = level == "quick", level == "full"
    out = []

    def randn(label, shape, spread, offset=0.0):
        x = (rng.standard_normal(shape) * spread + offset).astype(dtype)
        out.append(Batch(label, x))

    # Row lengths 2 .. 10^6 at a typical logit spread, including SIMD-tail lengths.
    lengths = [2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 1000]
    if not quick:
        lengths += [4, 6, 10, 63, 65, 127, 129, 255, 257, 1023, 1025, 4096, 10_000]
    for n in lengths:
        randn(f"randn*3 n={n}", (max(1, min(16, 4000 // n)), n), 3.0)
    long_rows = [100_000] if not quick else []
    if full:
        long_rows += [1_000_000]
    for n in long_rows:
        randn(f"randn*3 n={n} (sampled)", (1, n), 3.0)
    # Logit spreads 1e-3 .. 300.
    spreads = [1e-3, 1.0, 30.0, 300.0] if quick else [1e-3, 1e-2, 0.1, 1.0, 3.0, 10.0, 30.0,
                                                       100.0, 300.0]
    for s in spreads:
        randn(f"randn*{s:g} n=10", (16, 10), s)
        randn(f"randn*{s:g} n=1000", (2 if quick else 4, 1000), s)
    if not quick:
        for s in (1e-3, 30.0, 300.0):
            randn(f"randn*{s:g} n=10000", (1, 10_000), s)
    # Large common offsets.
    offsets = [1e2, 1e4, -1e4] + ([1e6, -1e6, 1e12] if f64 else [])
    for off in offsets:
        for s in ([1.0, 30.0] if quick else [1e-3, 1.0, 10.0, 30.0]):
            randn(f"offset {off:g} + randn*{s:g} n=100", (4, 100), s, off)
    # Confident rows.
    out.append(_rows("confident", [[0, -40], [0, -100], [-40, 0], [0, -20], [0, -36.75],
                                   [0, -16], [5, -35], [1e4, 1e4 - 40], [0, -80], [0, -87]],
                     dtype))
    out.append(_rows("confident n=3", [[0, -40, -40], [0, -40, -100], [-100, 0, -40],
                                       [0, -1e-3, -40]], dtype))
    n = 1000
    conf = np.full((3, n), -40.0)
    conf[0, 0] = 0.0
    conf[1, 500] = 0.0
    conf[1, :400] = -100.0
    conf[2] = rng.standard_normal(n) - 40.0
    conf[2, 999] = 0.0
    out.append(Batch("confident n=1000", conf.astype(dtype)))
    # Rows with -inf.
    out.append(_rows("-inf", [[0, -inf], [-inf, 0], [-inf, 3.5], [1e4, -inf], [-inf, -inf]],
                     dtype))
    mask = rng.random((4, 100)) < 0.3
    x = (rng.standard_normal((4, 100)) * 3).astype(dtype)
    x[mask] = -inf
    x[3, :99] = -inf
    out.append(Batch("30% -inf n=100", x))
    # The dtype's extreme values and near-overflow rows.
    near_max = float(np.nextafter(np.array(big, dtype), np.array(0, dtype)))
    out.append(_rows("extreme", [[big, big], [big, 0], [big, -big], [-big, -big], [-big, 0],
                                 [big, near_max], [tiny_s, 0], [tiny_s, -tiny_s],
                                 [tiny_n, -tiny_n], [-big, tiny_s]], dtype))
    out.append(_rows("extreme n=3", [[big, big, big], [big, big, -big], [big, big / 2, 0],
                                     [-big, -big, -big / 2]], dtype))
    ov = [709.0, 710.0, 708.0, 700.0] if f64 else [88.0, 89.0, 87.0, 80.0]
    out.append(_rows("near overflow", [ov, [v * 1.5 for v in ov], [v + 0.5 for v in ov],
                                       [-v for v in ov]], dtype))
    # Subnormal results (softmax entries below the normal range).
    sub = [-720.0, -740.0, -744.0, -745.1, -708.5] if f64 else [-90.0, -100.0, -103.0,
                                                                  -103.9, -87.5]
    out.append(_rows("subnormal result", [[0, v] for v in sub], dtype))
    lo = -750.0 if f64 else -106.0
    x = rng.uniform(lo, 0.0, (4, 100))
    x[:, 0] = 0.0
    out.append(Batch(f"uniform[{lo:g}, 0] n=100", x.astype(dtype)))
    # The exp pass's forms (lk_shift_form): rows whose extremes sit at the borders between
    # them (every exp normal: a spread up to 87 in float32, 708 in float64), with lengths that
    # exercise the pipelined loop and its tail.
    span = 708.0 if f64 else 87.0
    edges = ((50.0, 50.0 - span), (50.0, 49.99 - span), (0.0, -span), (-5.0, -5.0 - span),
             (10.0, 10.0 - span), (10.0, 9.99 - span), (20.0, -20.0), (span, 0.0))
    for n_, (top_, low_) in itertools.product((40, 203), edges):
        x = rng.uniform(low_, top_, (2, n_))
        x[:, 0], x[:, -1] = top_, low_
        out.append(Batch(f"exp forms max {top_:g} min {low_:g} n={n_}", x.astype(dtype)))
    # Ties at the max.
    out.append(_rows("ties n=4", [[0, 0, 0, 0], [5, 5, -40, 5], [0, 0, -40, -40],
                                  [-3, -3, -3, -3]], dtype))
    out.append(Batch("constant n=1000", np.full((2, 1000), 7.25, dtype=dtype)))
    # NaN / +inf slices (SPEC edge semantics).
    out.append(_rows("nan/+inf", [[nan, 0], [inf, 0], [inf, inf], [-inf, inf], [nan, -inf],
                                  [inf, nan]], dtype))
    # logsumexp near its ill-conditioned zero: results near 0 and just below -1.
    for n_, target in ((2, 0.0), (1000, 0.0), (1000, -1.5), (100, 1.2)):
        x = rng.standard_normal((4, n_)) * 1e-2 - math.log(n_) + target
        out.append(Batch(f"lse~{target:g} n={n_}", x.astype(dtype)))
    for b in out:
        n = b.x.shape[1]
        if n > SAMPLE_ABOVE:
            row = b.x[0]
            fin = np.where(np.isfinite(row), row, 0)
            pick = rng.choice(n, SAMPLE_SIZE - 2, replace=False)
            b.cols = np.unique(np.concatenate([pick, [np.argmax(fin), np.argmin(fin)]]))
        else:
            b.cols = np.arange(n)
    return out


def elementwise_suite(dtype, level="default", seed=0):
    """Batches for the sigmoid family (1-D)."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed + 1)
    f64 = dtype == np.float64
    big, tiny_n, tiny_s, eps = _finfo(dtype)
    specials = [0.0, tiny_s, 2 * tiny_s, tiny_n, 1e-300 if f64 else 1e-40, 1e-30, 1e-20, 1e-10,
                1e-8, 1e-5, 1e-3, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 16.6, 18.0, 20.0, 25.0,
                30.0, 33.3, 36.0, 36.04, 37.0, 38.0, 40.0, 44.0, 50.0, 88.0, 88.7, 89.0, 90.0,
                100.0, 103.0, 104.0, 110.0, 500.0, 700.0, 708.0, 709.0, 709.78, 710.0, 740.0,
                745.0, 745.2, 746.0, 750.0, 1000.0, 1e5, 1e10, 1e30, big]
    pts = np.array(specials + [-v for v in specials], dtype=np.float64).astype(dtype)
    pts = pts[np.isfinite(pts)]
    with np.errstate(all="ignore"):
        up = np.nextafter(pts, np.array(np.inf, dtype))
        down = np.nextafter(pts, np.array(-np.inf, dtype))
        special = np.concatenate([pts, up, down, np.array([np.inf, -np.inf, np.nan, -0.0],
                                                          dtype)]).astype(dtype)
    out = [Batch("special", special)]
    n = {"quick": 400, "default": 4000, "full": 40000}[level]
    for s in (1.0, 5.0, 20.0, 50.0, 120.0, 800.0):
        out.append(Batch(f"uniform(-{s:g}, {s:g})", rng.uniform(-s, s, n).astype(dtype)))
    lo = -320 if f64 else -45
    mag = 10.0 ** rng.uniform(lo, 3, n) * rng.choice([-1.0, 1.0], n)
    out.append(Batch(f"+-10^U({lo}, 3)", mag.astype(dtype)))
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
    if func in REDUCTIONS:
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


def suite(func, dtype, level="default", seed=0):
    if func in REDUCTIONS:
        return reduction_suite(dtype, level, seed)
    return elementwise_suite(dtype, level, seed)


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
