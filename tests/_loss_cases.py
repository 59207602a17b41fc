"""Shared by the loss and backward tests: the distance to an exact (mpmath) value in ULPs,
and rows that stress the kernels (confident, tied, huge, with -inf)."""

import math

import mpmath
import numpy as np

mp = mpmath.mp
mp.dps = 60


def ulp_error(got, exact, dtype):
    """|got - exact| in ULPs of `exact` (an mpf) in dtype; subnormal ULPs below the range."""
    info = np.finfo(dtype)
    exact = mp.mpf(exact)
    got = float(got)
    if exact == 0:
        return 0.0 if got == 0 else math.inf
    if abs(exact) >= mp.ldexp(1, info.maxexp) - mp.ldexp(1, info.maxexp - info.nmant - 2):
        return 0.0 if got == mp.sign(exact) * math.inf else math.inf     # rounds to +-inf
    if not math.isfinite(got):
        return math.inf
    _, e = mp.frexp(exact)
    unit = mp.ldexp(1, max(int(e) - info.nmant - 1, int(info.minexp) - info.nmant))
    return float(abs(mp.mpf(got) - exact) / unit)


def adversarial_rows(dtype, n, rng):
    big = float(np.finfo(dtype).max)
    rows = [
        np.r_[0.0, np.full(n - 1, -40.0)],                     # confident: loss ~1e-18 (f64)
        np.r_[0.0, np.full(n - 1, -17.0)],                     # confident in float32
        np.r_[30.0, rng.standard_normal(n - 1)],
        rng.standard_normal(n) * 1e-3,                         # nearly uniform
        rng.standard_normal(n) * 30 + 1e4,                     # large common offset
        rng.standard_normal(n) * 300,
        np.r_[big, big * 0.5, -big, rng.standard_normal(n - 3)] if n > 3 else np.r_[big, -big, 0.0][:n],
        np.r_[-np.inf, 1.0, rng.standard_normal(n - 2)] if n > 2 else np.r_[1.0, 0.0][:n],
        np.r_[5.0, 5.0, rng.standard_normal(n - 2)] if n > 2 else np.r_[5.0, 5.0][:n],   # tied max
    ]
    return np.array(rows).astype(dtype)


def logits(rng, shape, dtype, spread=3.0):
    return (rng.standard_normal(shape) * spread).astype(dtype)
