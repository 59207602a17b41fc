"""top_k and sample, stated plainly: Python's sorted() for the order, math.exp for the terms and
exact sums (Python integers in units of 2^-1074, the spacing of every double) for the masses.

The order of the classes is torch.topk's: NaN first (several by index), then larger values,
-0.0 equal to 0.0, ties by the lower index. sample draws with the same uniforms as
logitkit.sample (one per row per draw from the generator, C order), so for the same seed both
draw the same indices.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

_SCALE = 2 ** 1074                      # every double is an integer multiple of 2^-1074


def _exact(v: float) -> int:
    """v (a double >= 0) as an integer number of 2^-1074 (exact)."""
    num, den = v.as_integer_ratio()
    return num * (_SCALE // den)


def _rows(logits: Any, axis: Any, name: str) -> tuple[np.ndarray, list[list[Any]], int]:
    """(the logits with axis last, its rows as Python values, the class axis)."""
    a = np.asarray(logits)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: unsupported input dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{name}: the logits are 0-d; expected at least one axis")
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    ax = operator.index(axis)
    if not -a.ndim <= ax < a.ndim:
        raise np.exceptions.AxisError(ax, a.ndim, msg_prefix=name)
    ax %= a.ndim
    moved = np.moveaxis(a, ax, -1)
    flat = moved.reshape(math.prod(moved.shape[:-1]), moved.shape[-1])
    if a.dtype == np.longdouble and a.dtype.itemsize > 8:
        rows = [[v for v in row] for row in flat]          # NumPy scalars: exact comparisons
    else:
        rows = flat.tolist()                               # Python floats or exact ints
    return moved, rows, ax


def _is_nan(v: Any) -> bool:
    return v != v


def _ranked(row: list[Any]) -> list[int]:
    """The indices of row, first first: NaN (by index), then larger values, ties by index."""
    return sorted(range(len(row)), key=lambda i: (0, 0, i) if _is_nan(row[i]) else
                  (1, -row[i], i))


def top_k(logits: Any, k: Any, axis: Any = -1, *, sorted: bool = True) -> tuple[Any, Any]:
    """(values, indices) of the k first of each slice along axis (see logitkit.top_k). The
    order is the same with sorted=False (the fast function may then give another order)."""
    moved, rows, ax = _rows(logits, axis, "top_k")
    if isinstance(k, (bool, np.bool_)):
        raise TypeError("top_k: k must be an int")
    k = operator.index(k)
    n = moved.shape[-1]
    if not 0 <= k <= n:
        raise ValueError(f"top_k: k={k} is out of range for an axis of length n={n}")
    chosen = [_ranked(row)[:k] for row in rows]
    flat = moved.reshape(math.prod(moved.shape[:-1]), n)
    values = np.array([[flat[r, i] for i in idx] for r, idx in enumerate(chosen)],
                      dtype=moved.dtype.newbyteorder("=")).reshape(moved.shape[:-1] + (k,))
    indices = np.array(chosen, dtype=np.int64).reshape(moved.shape[:-1] + (k,))
    return np.moveaxis(values, -1, ax), np.moveaxis(indices, -1, ax)


def sample(logits: Any, *, axis: Any = -1, temperature: Any = 1.0, top_k: Any = None,
           top_p: Any = None, min_p: Any = None, size: Any = None, rng: Any = None) -> Any:
    """Draws from softmax(logits / temperature) restricted by top_k, then top_p, then min_p
    (see logitkit.sample), by the inverse CDF over the kept classes in index order."""
    moved, rows, _ = _rows(logits, axis, "sample")
    t = float(temperature)
    if not (t >= 0.0 and math.isfinite(t)):
        raise ValueError("sample: temperature must be a finite number >= 0")
    if top_k is not None and (isinstance(top_k, bool) or operator.index(top_k) < 1):
        raise ValueError("sample: top_k must be an int >= 1")
    if top_p is not None and not 0.0 < float(top_p) <= 1.0:
        raise ValueError("sample: top_p must be in (0, 1]")
    if min_p is not None and not 0.0 <= float(min_p) <= 1.0:
        raise ValueError("sample: min_p must be in [0, 1]")
    if size is not None and operator.index(size) < 0:
        raise ValueError("sample: size must be >= 0")
    n = moved.shape[-1]
    if n == 0:
        raise ValueError("sample: no classes")
    if isinstance(rng, np.random.Generator):
        generator = rng
    else:
        generator = np.random.default_rng(None if rng is None else operator.index(rng))
    per_row = 1 if size is None else operator.index(size)
    uniforms = generator.random((len(rows), per_row)).tolist()
    draws = [_draws([float(v) for v in row], t, top_k, top_p, min_p, u)
             for row, u in zip(rows, uniforms)]
    batch = moved.shape[:-1]
    result = np.array(draws, dtype=np.int64).reshape(batch + ((per_row,) if size is not None
                                                             else ()))
    return result if result.ndim else result[()]


def _draws(x: list[float], t: float, top_k: Any, top_p: Any, min_p: Any,
           uniforms: list[float]) -> list[int]:
    if any(math.isnan(v) for v in x) or math.inf in x or all(v == -math.inf for v in x):
        raise ValueError("sample: a row contains NaN or +inf, or only -inf")
    m = max(x)
    if t == 0.0:
        return [x.index(m)] * len(uniforms)
    e = [math.exp((v - m) / t) for v in x]
    kept = sorted(range(len(x)), key=lambda i: (-x[i], i))
    if top_k is not None:
        kept = kept[:operator.index(top_k)]
    if top_p is not None and float(top_p) < 1.0:
        goal = float(top_p) * math.fsum(e[i] for i in kept)
        mass, cut = 0, 0                    # exact mass before each class
        while cut < len(kept) and mass < _exact(goal):
            mass += _exact(e[kept[cut]])
            cut += 1
        kept = kept[:cut]
    if min_p is not None:
        kept = kept[:1] + [i for i in kept[1:] if e[i] >= float(min_p)]
    kept.sort()
    prefix, total = [], 0
    for i in kept:
        total += _exact(e[i])
        prefix.append(total / _SCALE)       # correctly rounded prefix sums
    last = max(j for j, i in enumerate(kept) if e[i] > 0.0)
    out = []
    for u in uniforms:
        target = u * prefix[-1]
        j = next((j for j, c in enumerate(prefix) if c > target), last)
        out.append(kept[j])
    return out
