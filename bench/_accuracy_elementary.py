"""Accuracy rows for logit, softplus with beta and sparsemax, with the peers' formulas side by
side (used by bench/accuracy.py):

    logit             logitkit.logit, torch.logit, scipy.special.logit, and the textbook
                      np.log(p / (1 - p))
    softplus(beta=b)  logitkit.softplus(x, beta=b), torch.nn.functional.softplus(x, b) (its
                      default threshold 20), and the textbook np.log1p(np.exp(b x)) / b
    sparsemax         logitkit.sparsemax, and the paper's algorithm composed in NumPy (sort,
                      cumulative sum, threshold) and in PyTorch

Errors in ULP of the exact result (mpmath at 200 bits; sparsemax's tau in exact rationals),
in the rows' format of bench/accuracy.py.
"""

from __future__ import annotations

import time
import warnings
from fractions import Fraction

import mpmath
import numpy as np

from logitkit.testing.oracle import round_exact, ulp_error

LIBRARIES = ("logitkit", "torch", "scipy", "numpy")
BETAS = (1e-300, 1e-3, 0.5, 2.0, 1e3, 1e300)
_mp = mpmath.MPContext()
_mp.prec = 200


def _load(name):
    try:
        return __import__(name)
    except ImportError:
        return None


# ---- inputs

def _probabilities(dtype, level, rng):
    n = {"quick": 1000, "default": 5000, "full": 50000}[level]
    tiny = -320 if dtype == np.float64 else -45
    eps = np.finfo(dtype).eps
    p = np.concatenate([rng.random(n), 0.5 + rng.uniform(-1e-6, 1e-6, n // 4),
                        10.0 ** rng.uniform(tiny, -1, n // 2),
                        1 - 10.0 ** rng.uniform(np.log10(eps), -1, n // 2)]).astype(dtype)
    return p[(p > 0) & (p < 1)]


def _softplus_inputs(beta, dtype, level, rng):
    n = {"quick": 500, "default": 2000, "full": 20000}[level]
    y = np.concatenate([rng.uniform(-50, 50, n), rng.uniform(-1600, 1600, n // 2),
                        np.sign(rng.standard_normal(n // 2)) * 10.0 ** rng.uniform(-30, 3, n // 2)])
    with np.errstate(all="ignore"):
        x = (y / beta).astype(dtype)
    return x[np.isfinite(x)]


def _sparsemax_rows(dtype, level, rng):
    count = {"quick": 3, "default": 10, "full": 40}[level]
    rows = []
    for n in (3, 10, 100, 1000):
        for scale in (0.1, 1.0, 30.0):
            rows += [rng.standard_normal(n) * scale for _ in range(count)]
    rows += [rng.standard_normal(50) * 0.3 + 1e6 for _ in range(count)]
    rows += [rng.uniform(0, 1e-8, 64) for _ in range(count)]
    return [r.astype(dtype) for r in rows]


# ---- exact values

def _logit_exact(p):
    return [_mp.log(_mp.mpf(float(v)) / (1 - _mp.mpf(float(v)))) for v in p]


def _softplus_exact(x, beta):
    b = _mp.mpf(beta)
    out = []
    for v in x:
        t = _mp.mpf(float(v))
        y = b * t
        out.append(t + _mp.log1p(_mp.exp(-y)) / b if y > 0 else _mp.log1p(_mp.exp(y)) / b)
    return out


def _sparsemax_exact(row):
    z = [Fraction(float(v)) for v in row]
    total, tau = Fraction(0), Fraction(0)
    for k, v in enumerate(sorted(z, reverse=True), start=1):
        if 1 + k * v <= total + v:
            break
        total += v
        tau = (total - 1) / k
    return [_mp.mpf(p.numerator) / p.denominator if p > 0 else _mp.zero
            for p in (v - tau for v in z)]


# ---- the peers

def numpy_sparsemax(z):
    """The paper's algorithm in NumPy, over the last axis."""
    z = np.asarray(z, dtype=np.float64)
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cs = np.cumsum(zs, axis=-1)
    kz = (1 + k * zs > cs).sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cs, kz - 1, axis=-1) - 1) / kz
    return np.maximum(z - tau, 0.0)


def _impls(func, beta=None):
    import logitkit as lk
    torch, special = _load("torch"), _load("scipy.special")
    if special is not None:
        import scipy.special as special
    out = {}
    if func == "logit":
        out["logitkit"] = lk.logit
        if torch is not None:
            out["torch"] = lambda p: torch.logit(torch.from_numpy(p)).numpy()
        if special is not None:
            out["scipy"] = special.logit
        out["numpy"] = lambda p: np.log(p / (1 - p))
    elif func == "softplus":
        out["logitkit"] = lambda x: lk.softplus(x, beta=beta)
        if torch is not None:
            import torch.nn.functional as F
            out["torch"] = lambda x: F.softplus(torch.from_numpy(x), beta=beta).numpy()
        out["numpy"] = lambda x: (np.log1p(np.exp(beta * x)) / beta).astype(x.dtype)
    else:
        out["logitkit"] = lk.sparsemax
        if torch is not None:
            def torch_sparsemax(z):
                t = torch.from_numpy(np.asarray(z))
                zs, _ = torch.sort(t, dim=-1, descending=True)
                k = torch.arange(1, t.shape[-1] + 1, dtype=t.dtype)
                cs = zs.cumsum(-1)
                kz = (1 + k * zs > cs).sum(-1, keepdim=True)
                tau = (cs.gather(-1, kz - 1) - 1) / kz
                return torch.clamp(t - tau, min=0).numpy()
            out["torch"] = torch_sparsemax
        out["numpy"] = lambda z: numpy_sparsemax(z).astype(np.asarray(z).dtype)
    return out


def _row(name, dtype, bar, impls, inputs, refs, describe, t_oracle):
    row = {"function": name, "dtype": np.dtype(dtype).name, "bar": bar,
           "oracle_s": round(t_oracle, 2), "libs": {}}
    for lib in LIBRARIES:
        fn = impls.get(lib)
        if fn is None:
            row["libs"][lib] = None
            continue
        worst, case, checked = 0.0, "", 0
        with warnings.catch_warnings(record=True) as caught, \
                np.errstate(all="ignore" if lib != "logitkit" else "warn"):
            warnings.simplefilter("always")
            for x, ref in zip(inputs, refs):
                try:
                    got = np.asarray(fn(x))
                except Exception as e:          # a peer that can't do a case: say so
                    worst, case = None, f"{type(e).__name__}: {e}"
                    break
                err = ulp_error(got, ref)
                checked += err.size
                i = int(np.argmax(np.where(np.isnan(err), np.inf, err))) if err.size else 0
                if err.size and (err[i] > worst or not case):
                    worst = float(err[i])
                    case = describe(x, i, got, ref)
        row["libs"][lib] = {"ulp": worst, "case": case, "checked": checked,
                            "warnings": sorted({f"{w.category.__name__}: {w.message}"
                                                for w in caught})}
    return row


def _case_elementwise(label):
    def describe(x, i, got, ref):
        with np.errstate(all="ignore"):         # the harness's own arithmetic: not measured
            exact = ref.hi[i] + ref.frac[i] * ref.ulp[i] if np.isfinite(ref.hi[i]) else ref.hi[i]
        return f"{label}x={x[i]!r} -> got {float(got[i]):.17g}, exact ~{exact:.17g}"
    return describe


def _case_sparsemax(x, i, got, ref):
    with np.errstate(all="ignore"):
        exact = ref.hi[i] + ref.frac[i] * ref.ulp[i]
    return (f"row of {x.size} (max {float(np.max(x)):.6g}), entry {i} = {x[i]!r} -> got "
            f"{float(got[i]):.17g}, exact ~{exact:.17g}")


def run(level="default", dtypes=("float32", "float64"), progress=None):
    """The rows for logit, softplus(beta) and sparsemax."""
    from logitkit._registry import BY_NAME
    rows = []
    for dtype in map(np.dtype, dtypes):
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        p = _probabilities(dtype.type, level, rng)
        ref = round_exact(_logit_exact(p), dtype)
        rows.append(_row("logit", dtype, BY_NAME["logit"].max_ulp, _impls("logit"), [p], [ref],
                         _case_elementwise(""), time.perf_counter() - t0))
        if progress:
            progress(rows[-1])
        for beta in BETAS:
            t0 = time.perf_counter()
            x = _softplus_inputs(beta, dtype.type, level, rng)
            if x.size == 0:                    # e.g. float32 with beta 1e-300: no x is finite
                continue
            ref = round_exact(_softplus_exact(x, beta), dtype)
            rows.append(_row(f"softplus(beta={beta:g})", dtype, BY_NAME["softplus"].max_ulp,
                             _impls("softplus", beta), [x], [ref], _case_elementwise(""),
                             time.perf_counter() - t0))
            if progress:
                progress(rows[-1])
        t0 = time.perf_counter()
        xs = _sparsemax_rows(dtype.type, level, rng)
        refs = [round_exact(_sparsemax_exact(x), dtype) for x in xs]
        rows.append(_row("sparsemax", dtype, BY_NAME["sparsemax"].max_ulp, _impls("sparsemax"),
                         xs, refs, _case_sparsemax, time.perf_counter() - t0))
        if progress:
            progress(rows[-1])
    return rows
