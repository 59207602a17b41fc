"""logitkit on Dask arrays: the same functions, over chunked arrays that need not fit in memory.

    import dask.array as da
    import logitkit.dask as lkd
    x = da.random.default_rng(0).normal(size=(100_000, 32_000), chunks=(1_000, 8_000))
    lse = lkd.logsumexp(x, axis=-1)          # lazy: a Dask array; lse.compute() runs it

Every function takes a Dask array (anything else is wrapped with `dask.array.asarray`) and
returns a lazy Dask array with the signature and the semantics of its in-memory twin in
`logitkit` (SPEC.md): the same dtype rules, `axis` as an int, a tuple or None, the same values at
the edges (NaN / +inf / all -inf slices, `where` masks, empty arrays), no warnings.

How the work is split:
- Elementwise functions (sigmoid, sigmoid_derivative, log_sigmoid, softplus,
  binary_cross_entropy_with_logits) run logitkit's kernels on every block.
- Softmax-family functions run logitkit's kernels on every block when each reduced axis sits in
  one chunk. When a reduced axis is split across chunks they never rechunk it: a first pass
  reduces every block to a per-slice state (max m, count k of entries equal to m, and the sum
  r of exp(x - m) over the other entries, in float64 for every input dtype), states are combined
  in a tree (r is rescaled by exp(m_chunk - m_global), with m_chunk - m_global exact by TwoSum,
  and accumulated as a double-double), and a second pass normalises every block against the
  combined state, with x - max exact and the log of the total as a double-double as in the
  in-memory kernels. Results agree with the in-memory functions to a few ULP (the tests check
  4 ULP for softmax, 3 for log_softmax and logsumexp).
- cross_entropy computes a per-sample loss per block (with `logitkit.cross_entropy` when the
  class axis sits in one chunk and the installed logitkit has it; otherwise from log_softmax,
  split class axes by the two-pass scheme above) and sums the per-chunk partial results.

Not supported (NotImplementedError, with the reason): `out=` (Dask arrays are immutable:
`dask.array.store` writes a result into an array), logsumexp's `b=` when a reduced axis is split
across chunks (rechunk the reduced axes into one chunk, or drop `b`), and `return_grad=True` for
the losses. Errors that depend on the data (an out-of-range class index) are raised when the
result is computed, as in every Dask computation.

Importing `logitkit` does not import Dask; importing `logitkit.dask` does (install the `dask`
extra: `pip install logitkit[dask]`).
"""

from __future__ import annotations

import operator
from typing import Any

import dask.array as da
import numpy as np
from numpy.exceptions import AxisError

import logitkit
from logitkit._validate import compute_dtype, normalize_axes, result_dtype

__all__ = [
    "softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
    "softplus", "cross_entropy", "binary_cross_entropy_with_logits",
]

_F64 = np.dtype(np.float64)
# the per-slice state of the split reduction: max, count of the max, rest of the sum (hi + lo)
_STATE = np.dtype([("m", "f8"), ("k", "f8"), ("hi", "f8"), ("lo", "f8")])
_SOFTMAX, _LOG_SOFTMAX = "softmax", "log_softmax"
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


# ---------------------------------------------------------------- helpers

def _as_dask(x: Any, name: str) -> da.Array:
    if isinstance(x, da.Array):
        return x
    try:
        return da.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: could not convert the input to an array ({exc}); expected a "
                         f"Dask array, a NumPy array or a (rectangular) sequence of numbers") from None


def _dtypes(x: da.Array, dtype: Any, name: str, what: str = "input") -> tuple[np.dtype, np.dtype]:
    res = result_dtype(np.empty(0, x.dtype), dtype, name, what=what)
    return res, compute_dtype(res)


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise NotImplementedError(
            f"{name}: out= is not supported on Dask arrays (they are immutable); compute the "
            f"result, or write it into an existing array with dask.array.store")


def _meta(ndim: int, dtype: Any) -> np.ndarray:
    return np.empty((0,) * ndim, dtype)


def _mask(where: Any, x: da.Array, name: str) -> da.Array | None:
    """`where` as a boolean Dask array of x's shape and chunks."""
    if where is None:
        return None
    mask = where if isinstance(where, da.Array) else da.asarray(np.asarray(where))
    if mask.dtype != np.bool_:
        raise TypeError(f"{name}: where must be a boolean array, got dtype {mask.dtype}")
    try:
        np.broadcast_shapes(mask.shape, x.shape)
        if np.broadcast_shapes(mask.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: where has shape {mask.shape}, which does not broadcast to "
                         f"the input's shape {x.shape}") from None
    return _broadcast(mask, x)


def _broadcast(arr: da.Array, x: da.Array) -> da.Array:
    """arr (whose shape broadcasts to x's) broadcast to x's shape and chunks."""
    lead = x.ndim - arr.ndim
    chunks = tuple(x.chunks[lead + i] if n != 1 else (1,) for i, n in enumerate(arr.shape))
    return da.broadcast_to(arr.rechunk(chunks), x.shape, chunks=x.chunks)


def _whole(x: da.Array, axes: tuple[int, ...]) -> bool:
    """Whether every reduced axis sits in one chunk."""
    return all(len(x.chunks[a]) <= 1 for a in axes)


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a + b as s + err exactly (TwoSum), with err = 0 where the sum is not finite."""
    s = a + b
    bv = s - a
    err = (a - (s - bv)) + (b - bv)
    return s, np.where(np.isfinite(err), err, 0.0)


def _diff(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x - m as hi + lo (exact)."""
    return _two_sum(x, -m)


def _exp_dd(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    e = np.exp(hi)
    return e + e * lo


# ---------------------------------------------------------------- the split reduction

def _block_state(x: np.ndarray, mask: np.ndarray | None, axes: tuple[int, ...]) -> np.ndarray:
    """Each slice of a block reduced over `axes` (keepdims) to (m, k, hi, lo): NaN m for a slice
    with NaN, +inf for one with +inf, -inf for an empty or all -inf slice."""
    with np.errstate(all="ignore"):
        data = np.asarray(x).astype(_F64)
        if mask is not None:
            data = np.where(mask, data, -np.inf)
        shape = tuple(1 if a in axes else n for a, n in enumerate(data.shape))
        state = np.zeros(shape, _STATE)
        if any(data.shape[a] == 0 for a in axes):
            state["m"] = -np.inf
            return state
        m = np.max(data, axis=axes, keepdims=True)
        finite = np.isfinite(m)
        top = data == m
        hi, lo = _diff(data, np.where(finite, m, 0.0))
        e = np.where(top | (data == -np.inf), 0.0, _exp_dd(hi, lo))
        state["m"] = m
        state["k"] = np.where(finite, np.sum(top, axis=axes, keepdims=True), 0.0)
        state["hi"] = np.where(finite, np.sum(e, axis=axes, keepdims=True), 0.0)
    return state


def _combine(states: np.ndarray, axis: tuple[int, ...], keepdims: bool = True,
             **_: Any) -> np.ndarray:
    """Merge the states along `axis` into one per slice: sums are rescaled to the common max
    (exp(m_chunk - m), exact difference) and added as a double-double."""
    axes = tuple(sorted(a % states.ndim for a in axis)) if isinstance(axis, tuple) else (
        axis % states.ndim,)
    kept = tuple(a for a in range(states.ndim) if a not in axes)
    moved = np.transpose(states, kept + axes)
    lead = moved.shape[:len(kept)]
    flat = moved.reshape(lead + (int(np.prod(moved.shape[len(kept):])),))
    with np.errstate(all="ignore"):
        m = flat["m"]
        top = np.max(m, axis=-1, keepdims=True)             # NaN and +inf propagate
        finite = np.isfinite(top)
        same = m == top
        hi, lo = _diff(m, np.where(finite, top, 0.0))
        scale = np.where(m == -np.inf, 0.0, _exp_dd(hi, lo))
        k = np.sum(np.where(same, flat["k"], 0.0), axis=-1)
        # chunks below the max: (k + rest) * exp(m_chunk - m), one rounding relative to a
        # total >= 1; chunks at the max: their rest as it stands
        terms_hi = np.where(same, flat["hi"], ((flat["k"] + flat["hi"]) + flat["lo"]) * scale)
        terms_lo = np.where(same, flat["lo"], 0.0)
        s_hi = np.zeros(lead)
        s_lo = np.sum(terms_lo, axis=-1)
        for j in range(flat.shape[-1]):
            s_hi, err = _two_sum(s_hi, terms_hi[..., j])
            s_lo = s_lo + err
        s_hi, s_lo = _two_sum(s_hi, s_lo)
        top = top[..., 0]
        fin = finite[..., 0]
    out = np.empty(lead, _STATE)
    out["m"] = top
    out["k"] = np.where(fin, k, 0.0)
    out["hi"] = np.where(fin, s_hi, 0.0)
    out["lo"] = np.where(fin, s_lo, 0.0)
    shape = tuple(1 if a in axes else n for a, n in enumerate(states.shape))
    return out.reshape(shape)


def _identity(block: np.ndarray, axis: Any = None, keepdims: bool = True, **_: Any) -> np.ndarray:
    return block


def _global_state(x: da.Array, mask: da.Array | None, axes: tuple[int, ...],
                  split_every: Any = None) -> da.Array:
    """The combined state of every slice, keepdims-shaped (size 1 along `axes`)."""
    chunks = tuple(((1,) * len(c)) if a in axes else c for a, c in enumerate(x.chunks))
    args = (x,) if mask is None else (x, mask)

    def block(xb: np.ndarray, mb: np.ndarray | None = None) -> np.ndarray:
        return _block_state(xb, mb, axes)

    states = da.map_blocks(block, *args, chunks=chunks, dtype=_STATE,
                           meta=_meta(x.ndim, _STATE), token="logitkit-state")
    return da.reduction(states, _identity, _combine, combine=_combine, axis=axes, keepdims=True,
                        dtype=_STATE, meta=_meta(x.ndim, _STATE), concatenate=True,
                        split_every=split_every, name="logitkit-combine")


def _log_total(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(k + hi + lo) as L_hi + L_lo, as the in-memory kernels take it: log1p of the rest
    for a unique max with a small rest; otherwise k ln2 + log1p(u) with 1 + u in [0.75, 1.5)."""
    k, hi, lo = state["k"], state["hi"], state["lo"]
    with np.errstate(all="ignore"):
        r_hi, r_lo = _two_sum(hi, lo)
        small = (k == 1.0) & (r_hi < 0.5)
        a_hi = np.log1p(r_hi)
        a_lo = r_lo / (1.0 + r_hi)
        s, e = _two_sum(k, hi)
        s_hi, s_lo = _two_sum(s, e + lo)
        u, ex = np.frexp(s_hi)
        low = u < 0.75
        u = np.where(low, 2.0 * u, u) - 1.0
        ex = np.where(low, ex - 1, ex)
        u_lo = np.ldexp(s_lo, -ex)
        b_hi, b_e = _two_sum(ex * _LN2_HI, np.log1p(u))
        b_lo = b_e + (ex * _LN2_LO + u_lo / (1.0 + u))
    return np.where(small, a_hi, b_hi), np.where(small, a_lo, b_lo)


def _lse_from_state(state: np.ndarray) -> np.ndarray:
    m = state["m"]
    with np.errstate(all="ignore"):
        L_hi, L_lo = _log_total(state)
        s, e = _two_sum(np.where(np.isfinite(m), m, 0.0), L_hi)
        value = s + (e + L_lo)
    return np.where(np.isfinite(m), value, m)      # NaN, +inf and -inf (empty) stand


def _normalize_block(x: np.ndarray, mask: np.ndarray | None, state: np.ndarray, op: str,
                     masked: bool, res: np.dtype) -> np.ndarray:
    """softmax or log_softmax of a block, given the combined state of its slices."""
    with np.errstate(all="ignore"):
        data = np.asarray(x).astype(_F64)
        if mask is not None:
            data = np.where(mask, data, -np.inf)
        m = state["m"]
        finite = np.isfinite(m)
        hi, lo = _diff(data, np.where(finite, m, 0.0))
        L_hi, L_lo = _log_total(state)
        if op == _LOG_SOFTMAX:
            s, e = _two_sum(hi, -L_hi)
            out = s + ((e + lo) - L_lo)
            out = np.where(data == -np.inf, -np.inf, out)
            special = -np.inf if masked else np.nan
        else:
            s_hi, s_lo = _two_sum(state["k"], state["hi"])
            s_hi, s_lo = _two_sum(s_hi, s_lo + state["lo"])
            inv = 1.0 / s_hi
            inv_lo = (-(inv * s_hi - 1.0) - inv * s_lo) * inv      # ~ the reciprocal's rounding
            ex = _exp_dd(hi, lo)
            out = ex * inv + ex * inv_lo
            out = np.where(data == -np.inf, 0.0, out)
            special = 0.0 if masked else np.nan
        out = np.where(finite, out, np.where(m == -np.inf, special, np.nan))
        return out.astype(res)


# ---------------------------------------------------------------- softmax family

def softmax(x: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
            dtype: Any = None) -> da.Array:
    """`logitkit.softmax` over a Dask array: exp(x - max) / sum over `axis`, lazily."""
    return _normalize(x, axis, where, out, dtype, _SOFTMAX)


def log_softmax(x: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
                dtype: Any = None) -> da.Array:
    """`logitkit.log_softmax` over a Dask array: x - logsumexp(x) over `axis`, lazily."""
    return _normalize(x, axis, where, out, dtype, _LOG_SOFTMAX)


def _normalize(x: Any, axis: Any, where: Any, out: Any, dtype: Any, op: str) -> da.Array:
    x = _as_dask(x, op)
    _no_out(out, op)
    res, _ = _dtypes(x, dtype, op)
    axes = normalize_axes(axis, x.ndim, op)
    mask = _mask(where, x, op)
    func = getattr(logitkit, op)
    if x.ndim == 0 or _whole(x, axes):
        arg = axis if x.ndim == 0 else axes

        def block(xb: np.ndarray, mb: np.ndarray | None = None) -> np.ndarray:
            return np.asarray(func(xb, arg, where=mb, dtype=res))

        args = (x,) if mask is None else (x, mask)
        return da.map_blocks(block, *args, dtype=res, meta=_meta(x.ndim, res),
                             token=f"logitkit-{op}")
    state = _global_state(x, mask, axes)
    masked = mask is not None

    def norm(xb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        mb = rest[0] if masked else None
        return _normalize_block(xb, mb, rest[-1], op, masked, res)

    args = (x, state) if mask is None else (x, mask, state)
    return da.map_blocks(norm, *args, dtype=res, meta=_meta(x.ndim, res),
                         token=f"logitkit-{op}-split")


def logsumexp(x: Any, axis: Any = -1, *, b: Any = None, where: Any = None,
              keepdims: bool = False, return_sign: bool = False, out: Any = None,
              dtype: Any = None) -> Any:
    """`logitkit.logsumexp` over a Dask array: log(sum(b * exp(x))) over `axis`, lazily.

    `b` is supported when every reduced axis sits in one chunk (else NotImplementedError);
    `where`, `keepdims` and `return_sign` always are. With `return_sign=True` it returns the
    pair (log|sum|, sign) of Dask arrays."""
    name = "logsumexp"
    x = _as_dask(x, name)
    _no_out(out, name)
    res, _ = _dtypes(x, dtype, name)
    axes = normalize_axes(axis, x.ndim, name)
    mask = _mask(where, x, name)
    scale = None
    if b is not None:
        scale = b if isinstance(b, da.Array) else da.asarray(np.asarray(b))
        _dtypes(scale, None, name, what="b")
        try:
            if np.broadcast_shapes(scale.shape, x.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{name}: b has shape {scale.shape}, which does not broadcast to "
                             f"the input's shape {x.shape}") from None
        if x.ndim and not _whole(x, axes):
            raise NotImplementedError(
                f"{name}: b= needs every reduced axis in one chunk on Dask arrays (axis "
                f"{[a for a in axes if len(x.chunks[a]) > 1]} is split into "
                f"{[len(x.chunks[a]) for a in axes if len(x.chunks[a]) > 1]} chunks); rechunk "
                f"those axes into one chunk, or fold b into x as x + log(b) for b > 0")
        scale = _broadcast(scale, x)

    if x.ndim == 0 or _whole(x, axes):
        pair = np.dtype([("v", res), ("s", res)])
        arg = axis if x.ndim == 0 else axes
        keep = x.ndim != 0

        def block(xb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
            it = iter(rest)
            bb = next(it) if scale is not None else None
            mb = next(it) if mask is not None else None
            v, s = logitkit.logsumexp(xb, arg, b=bb, where=mb, keepdims=keep,
                                      return_sign=True, dtype=res)
            result = np.empty(np.shape(v), pair)
            result["v"], result["s"] = v, s
            if not return_sign:
                result["v"] = np.where(np.asarray(s) < 0, res.type(np.nan), result["v"])
            return result

        args = [x] + [a for a in (scale, mask) if a is not None]
        chunks = tuple(((1,) if a in axes else c) for a, c in enumerate(x.chunks))
        both = da.map_blocks(block, *args, chunks=chunks, dtype=pair, meta=_meta(x.ndim, pair),
                             token="logitkit-logsumexp")
    else:
        pair = np.dtype([("v", res), ("s", res)])

        def finish(state: np.ndarray) -> np.ndarray:
            v = _lse_from_state(state)
            result = np.empty(state.shape, pair)
            with np.errstate(all="ignore"):
                result["v"] = v
                result["s"] = np.where(np.isnan(v), np.nan, np.where(v == -np.inf, 0.0, 1.0))
            return result

        both = _global_state(x, mask, axes).map_blocks(finish, dtype=pair,
                                                        meta=_meta(x.ndim, pair))
    if not keepdims and x.ndim:
        both = both[tuple(0 if a in axes else slice(None) for a in range(x.ndim))]
    value = both.map_blocks(_field, "v", dtype=res, meta=_meta(both.ndim, res))
    if not return_sign:
        return value
    return value, both.map_blocks(_field, "s", dtype=res, meta=_meta(both.ndim, res))


def _field(block: np.ndarray, name: str) -> np.ndarray:
    return np.array(block[name])


# ---------------------------------------------------------------- the sigmoid family

def sigmoid(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.sigmoid` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "sigmoid")


def sigmoid_derivative(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.sigmoid_derivative` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "sigmoid_derivative")


def log_sigmoid(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.log_sigmoid` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "log_sigmoid")


def softplus(x: Any, *, out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.softplus` on every block of a Dask array."""
    return _elementwise(x, out, dtype, "softplus")


def _elementwise(x: Any, out: Any, dtype: Any, name: str) -> da.Array:
    x = _as_dask(x, name)
    _no_out(out, name)
    res, _ = _dtypes(x, dtype, name)
    func = getattr(logitkit, name)

    def block(xb: np.ndarray) -> np.ndarray:
        return np.asarray(func(xb, dtype=res))

    return x.map_blocks(block, dtype=res, meta=_meta(x.ndim, res), token=f"logitkit-{name}")


# ---------------------------------------------------------------- losses

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any, return_grad: Any, name: str) -> None:
    if return_grad:
        raise NotImplementedError(
            f"{name}: return_grad=True is not supported on Dask arrays; use the in-memory "
            f"logitkit.{name} on chunks that fit in memory, or an autodiff framework")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction={reduction!r}; expected one of "
                         f"'mean', 'sum' or 'none'")


def _reduce(per_sample: da.Array, denominator: da.Array | int, reduction: str,
            res: np.dtype) -> da.Array:
    """Sum (in float64) and, for "mean", divide; a 0-d Dask array of the result dtype."""
    if reduction == "none":
        return per_sample.astype(res)
    total = per_sample.astype(_F64).sum()
    if reduction == "mean":
        if isinstance(denominator, da.Array):
            total = da.map_blocks(_divide, total, denominator, dtype=_F64, meta=_meta(0, _F64))
        else:
            total = total.map_blocks(_divide, denominator, dtype=_F64, meta=_meta(0, _F64))
    return total.map_blocks(_cast, res, dtype=res, meta=_meta(0, res))


def _divide(a: np.ndarray, b: Any) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(np.float64(a) / np.float64(b))


def _cast(a: np.ndarray, res: np.dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(a, dtype=res)


def _class_axis(axis: Any, ndim: int, name: str) -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int (the class axis), got {axis!r}")
    index = operator.index(axis)
    if ndim == 0 or not -ndim <= index < ndim:
        raise AxisError(index, ndim, msg_prefix=name)
    return index % ndim


def cross_entropy(logits: Any, target: Any, axis: int = -1, *, weight: Any = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0,
                  reduction: str = "mean", return_grad: bool = False) -> da.Array:
    """`logitkit.cross_entropy` over Dask arrays (PyTorch's `cross_entropy` semantics).

    `target` holds class indices (logits' shape without `axis`, an integer array) or class
    probabilities (logits' shape, a float array). `weight` (per class) is a small in-memory
    array. The per-sample losses are computed per block and summed in float64; "mean" divides
    by the summed weights of the targets not ignored (class indices) or by the number of
    samples (probabilities), as PyTorch does. A class axis split across chunks takes two passes
    (log-softmax from the combined per-chunk max and sum, then per-chunk partial losses).
    `return_grad=True` is not supported (NotImplementedError)."""
    name = "cross_entropy"
    _check_reduction(reduction, return_grad, name)
    x = _as_dask(logits, name)
    t = _as_dask(target, name)
    res, _ = _dtypes(x, None, name)
    ax = _class_axis(axis, x.ndim, name)
    n_classes = x.shape[ax]
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{name}: label_smoothing={label_smoothing!r}; expected a number "
                         f"in [0, 1]")
    smoothing = float(label_smoothing)
    w = w_user = None
    if weight is not None:
        w = w_user = np.asarray(weight.compute() if isinstance(weight, da.Array) else weight)
        if w.ndim != 1 or w.shape[0] != n_classes:
            raise ValueError(f"{name}: weight has shape {w.shape}; expected ({n_classes},), "
                             f"one weight per class")
        _dtypes(da.asarray(w), None, name, what="weight")
        w = w.astype(_F64)
    sample_shape = x.shape[:ax] + x.shape[ax + 1:]
    if t.dtype.kind in "iu":
        probs = False
        if t.shape != sample_shape:
            raise ValueError(f"{name}: target has shape {t.shape}; class indices need the "
                             f"logits' shape without axis {axis}, {sample_shape}")
    elif t.dtype.kind == "f":
        probs = True
        if t.shape != x.shape:
            raise ValueError(f"{name}: target has shape {t.shape}; class probabilities need "
                             f"the logits' shape {x.shape}")
    else:
        raise TypeError(f"{name}: target has dtype {t.dtype}; expected integer class indices "
                        f"or floating class probabilities")

    x = da.moveaxis(x, ax, -1)                     # lazy: a view per block
    last = x.ndim - 1
    if probs:
        t = da.moveaxis(t, ax, -1).rechunk(x.chunks)
    else:
        t = t.rechunk(x.chunks[:-1])
    whole = len(x.chunks[-1]) <= 1
    tt = t if probs else t[..., None]              # aligned with the logits' axes
    params = dict(w=w, ignore_index=ignore_index, smoothing=smoothing, n_classes=n_classes,
                  probs=probs)

    if whole:
        inner = getattr(logitkit, "cross_entropy", None)
        if inner is not None:
            def block(xb: np.ndarray, tb: np.ndarray) -> np.ndarray:
                tb = tb if probs else tb[..., 0]
                loss = inner(xb, tb, -1, weight=w_user, ignore_index=ignore_index,
                             label_smoothing=smoothing, reduction="none")
                return np.asarray(loss, dtype=_F64)[..., None]
        else:
            def block(xb: np.ndarray, tb: np.ndarray) -> np.ndarray:
                return _ce_partial(xb, tb, None, 0, **params)

        # keepdims blocks, then a cheap index: drop_axis= would make Dask copy every block
        # of logits through np.concatenate
        per_sample = da.map_blocks(block, x, tt, chunks=x.chunks[:-1] + ((1,),), dtype=_F64,
                                   meta=_meta(x.ndim, _F64),
                                   token="logitkit-cross-entropy")[..., 0]
    else:
        state = _global_state(x, None, (last,))

        def partial(xb: np.ndarray, tb: np.ndarray, sb: np.ndarray,
                    block_info: Any = None) -> np.ndarray:
            offset = block_info[0]["array-location"][-1][0]
            return _ce_partial(xb, tb, sb, offset, **params)

        chunks = x.chunks[:-1] + ((1,) * len(x.chunks[-1]),)
        parts = da.map_blocks(partial, x, tt, state, chunks=chunks, dtype=_F64,
                              meta=_meta(x.ndim, _F64), token="logitkit-cross-entropy-part")
        per_sample = parts.sum(axis=-1)

    if reduction == "none":
        return per_sample.astype(res)
    if probs:
        denominator: da.Array | int = int(np.prod(sample_shape, dtype=np.int64))
    else:
        def weights(tb: np.ndarray) -> np.ndarray:
            kept = tb != ignore_index
            if w is None:
                return kept.astype(_F64)
            return np.where(kept, w[np.where(kept & (tb >= 0) & (tb < n_classes), tb, 0)], 0.0)

        denominator = t.map_blocks(weights, dtype=_F64, meta=_meta(t.ndim, _F64)).sum()
    return _reduce(per_sample, denominator, reduction, res)


def _ce_partial(xb: np.ndarray, tb: np.ndarray, state: np.ndarray | None, offset: int, *,
                w: np.ndarray | None, ignore_index: int, smoothing: float, n_classes: int,
                probs: bool) -> np.ndarray:
    """A block's part of each sample's loss (classes along the last axis), in float64,
    keepdims-shaped: log-softmax from the in-memory kernel (a whole class axis) or from the
    combined state (a split one)."""
    if state is None:          # the calc dtype: no float64 copy of the block
        logp = np.asarray(logitkit.log_softmax(xb, -1))
    else:
        logp = _normalize_block(xb, None, state, _LOG_SOFTMAX, False, _F64)
    width = xb.shape[-1]
    wb = None if w is None else w[offset:offset + width]
    with np.errstate(all="ignore"):
        if probs:
            tp = np.asarray(tb, dtype=_F64)
            if smoothing:
                tp = tp * (1.0 - smoothing) + smoothing / n_classes
            if wb is not None:
                tp = tp * wb
            # 0 * -inf (a class with probability 0 and log-probability -inf) contributes 0
            terms = np.where(tp == 0, 0.0, tp * logp)
            return -np.sum(terms, axis=-1, keepdims=True)
        tb = np.asarray(tb)[..., 0] if np.ndim(tb) == xb.ndim else np.asarray(tb)
        kept = tb != ignore_index
        bad = kept & ((tb < 0) | (tb >= n_classes))
        if np.any(bad):
            raise IndexError(f"cross_entropy: target {tb[bad].flat[0]} is out of range for "
                             f"{n_classes} classes (and is not ignore_index={ignore_index})")
        local = tb - offset
        here = kept & (local >= 0) & (local < width)
        index = np.where(here, local, 0)[..., None].astype(np.intp)
        picked = np.take_along_axis(logp, index, axis=-1)[..., 0].astype(_F64)
        if w is not None:
            picked = picked * w[np.where(here, tb, 0)]
        loss = np.where(here, -picked, 0.0)
        if smoothing:
            if wb is None:
                smooth = -np.sum(logp, axis=-1, dtype=_F64)
            else:
                smooth = -np.sum(np.where(wb == 0, 0.0, logp * wb), axis=-1)
            loss = (1.0 - smoothing) * loss + np.where(kept, smooth, 0.0) * (smoothing / n_classes)
        return loss[..., None]


def binary_cross_entropy_with_logits(logits: Any, target: Any, *, weight: Any = None,
                                     pos_weight: Any = None, reduction: str = "mean",
                                     return_grad: bool = False) -> da.Array:
    """`logitkit.binary_cross_entropy_with_logits` over Dask arrays, block by block:
    -weight * (pos_weight * t * log_sigmoid(x) + (1 - t) * log_sigmoid(-x)), exact for any
    logits; "mean" is over all elements, as in PyTorch. `weight` and `pos_weight` broadcast
    to the logits' shape. `return_grad=True` is not supported (NotImplementedError)."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, return_grad, name)
    x = _as_dask(logits, name)
    t = _as_dask(target, name)
    res, _ = _dtypes(x, None, name)
    _dtypes(t, None, name, what="target")
    if t.shape != x.shape:
        raise ValueError(f"{name}: target has shape {t.shape}; expected the logits' shape "
                         f"{x.shape}")
    t = t.rechunk(x.chunks)
    extras = {}
    for label, value in (("weight", weight), ("pos_weight", pos_weight)):
        if value is None:
            continue
        arr = value if isinstance(value, da.Array) else da.asarray(np.asarray(value))
        _dtypes(arr, None, name, what=label)
        try:
            if np.broadcast_shapes(arr.shape, x.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{name}: {label} has shape {arr.shape}, which does not broadcast "
                             f"to the logits' shape {x.shape}") from None
        extras[label] = _broadcast(arr, x)
    inner = getattr(logitkit, name, None)
    labels = tuple(extras)

    def block(xb: np.ndarray, tb: np.ndarray, *rest: np.ndarray) -> np.ndarray:
        kw = dict(zip(labels, rest))
        if inner is not None:
            return np.asarray(inner(xb, tb, reduction="none", **kw), dtype=_F64)
        return _bce(xb, tb, kw.get("weight"), kw.get("pos_weight"))

    per_elem = da.map_blocks(block, x, t, *extras.values(), dtype=_F64,
                             meta=_meta(x.ndim, _F64), token="logitkit-bce")
    return _reduce(per_elem, int(np.prod(x.shape, dtype=np.int64)), reduction, res)


def _bce(xb: np.ndarray, tb: np.ndarray, wb: np.ndarray | None,
         pw: np.ndarray | None) -> np.ndarray:
    x64 = np.asarray(xb).astype(_F64)
    t64 = np.asarray(tb).astype(_F64)
    with np.errstate(all="ignore"):
        pos = np.asarray(logitkit.log_sigmoid(x64))
        neg = np.asarray(logitkit.log_sigmoid(-x64))
        a = t64 if pw is None else np.asarray(pw, _F64) * t64
        loss = -(np.where(a == 0, 0.0, a * pos) + np.where(t64 == 1, 0.0, (1.0 - t64) * neg))
        if wb is not None:
            loss = loss * np.asarray(wb, _F64)
    return loss
