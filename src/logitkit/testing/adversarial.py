"""Adversarial inputs for logitkit's accuracy bars: the cases the oracle
(`logitkit.testing.oracle`) measures every function on.

``reduction_suite`` gives batches of rows (2-D, one slice per row along the last axis) for
softmax, log_softmax and logsumexp: row lengths 2 to 10^6 around the SIMD widths, logit spreads
1e-3 to 300, large common offsets, confident rows, -inf, the dtype's extreme values, results
near overflow and below the normal range, the borders between the kernels' exp forms, ties, the
edge values (NaN, +inf) and logsumexp near its ill-conditioned zero. ``elementwise_suite`` gives
1-D batches for the sigmoid family: special points and their neighbours, uniform ranges and
magnitudes spread over the whole exponent range. Three levels: "quick" (the test suite's
default), "default" (``bench/accuracy.py``) and "full" (10^6-element rows, denser grids).

Pure NumPy: importing this module does not import mpmath.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from logitkit import _registry

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
LEVELS = ("quick", "default", "full")
#: Rows longer than this have only SAMPLE_SIZE output elements checked (their max and min
#: among them); the oracle still sums the whole row.
SAMPLE_ABOVE = 20_000
SAMPLE_SIZE = 200


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
    # NaN / +inf slices (the contract's edge values, docs/semantics.md).
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


def suite(func, dtype, level="default", seed=0):
    """The batches for ``func``: ``reduction_suite`` for a function that works along an axis
    (kind "normalize" or "reduce" in the registry), ``elementwise_suite`` otherwise."""
    if _registry.function(func).kind in ("normalize", "reduce"):
        return reduction_suite(dtype, level, seed)
    return elementwise_suite(dtype, level, seed)
