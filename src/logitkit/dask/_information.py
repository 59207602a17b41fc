"""entropy and kl_divergence over Dask arrays.

Each runs logitkit's kernels on every block when every reduced axis sits in one chunk. When a
reduced axis is split across chunks it is never rechunked: every block is reduced to a
per-slice state, the states are combined in a tree and the result is formed from the combined
state (`da.reduction`). entropy's state is (max m, count k of the max, rest r = the sum of the
other exp(x - m), t = sum exp(x - m) (x - m)); kl_divergence's holds p's (m, k, r) and q's, and
U = sum exp(a - m_a) ((a - m_a) - (b - m_b)), with a flag for p > 0 where q = 0. Combining two
states rescales the lesser one's sums by exp(m_chunk - m) (the difference exact by TwoSum) and
shifts its t or U by the difference of the maxima; everything is float64 for every input dtype.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

import logitkit
from logitkit._validate import normalize_axes
from logitkit.dask._common import _F64, _as_dask, _dtypes, _mask, _meta, _no_out, _whole
from logitkit.dask._state import _diff, _exp_dd, _log_total, _two_sum

__all__ = ["entropy", "kl_divergence"]

_SIDE = [("m", "f8"), ("k", "f8"), ("hi", "f8"), ("lo", "f8")]
_ENTROPY_STATE = np.dtype(_SIDE + [("t", "f8")])
_KL_STATE = np.dtype([("a", np.dtype(_SIDE)), ("b", np.dtype(_SIDE)), ("u", "f8"),
                      ("inf", "f8")])


def entropy(logits: Any, axis: Any = -1, *, where: Any = None, out: Any = None,
            dtype: Any = None) -> da.Array:
    """`logitkit.entropy` over a Dask array: the entropy of softmax(logits) over `axis`, lazily."""
    return _information("entropy", logits, None, axis, where, out, dtype)


def kl_divergence(p_logits: Any, q_logits: Any, axis: Any = -1, *, where: Any = None,
                  out: Any = None, dtype: Any = None) -> da.Array:
    """`logitkit.kl_divergence` over Dask arrays of the same shape: KL(softmax(p) ||
    softmax(q)) over `axis`, lazily."""
    return _information("kl_divergence", p_logits, q_logits, axis, where, out, dtype)


def _information(name: str, x: Any, y: Any, axis: Any, where: Any, out: Any,
                 dtype: Any) -> da.Array:
    x = _as_dask(x, name)
    _no_out(out, name)
    res, _ = _dtypes(x, dtype, name, what="p_logits" if y is not None else "input")
    if y is not None:
        y = _as_dask(y, name)
        res_y, _ = _dtypes(y, dtype, name, what="q_logits")
        if y.shape != x.shape:
            raise ValueError(f"{name}: p_logits has shape {x.shape} and q_logits {y.shape}; "
                             f"expected the same shape (they do not broadcast)")
        if dtype is None:
            res = np.promote_types(res, res_y)
        y = y.rechunk(x.chunks)
    axes = normalize_axes(axis, x.ndim, name)
    mask = _mask(where, x, name)
    func = getattr(logitkit, name)
    arrays = [a for a in (x, y, mask) if a is not None]
    if x.ndim == 0 or _whole(x, axes):
        arg = axis if x.ndim == 0 else axes
        chunks = tuple(c for a, c in enumerate(x.chunks) if a not in axes)

        def block(*blocks: np.ndarray) -> np.ndarray:
            it = iter(blocks)
            xb = next(it)
            yb = next(it) if y is not None else None
            mb = next(it) if mask is not None else None
            args = (xb,) if yb is None else (xb, yb)
            return np.asarray(func(*args, arg, where=mb, dtype=res))

        return da.map_blocks(block, *arrays, chunks=chunks, drop_axis=axes if x.ndim else None,
                             dtype=res, meta=_meta(len(chunks), res), token=f"logitkit-{name}")
    if any(x.shape[a] == 0 for a in axes):
        kept = tuple(n for a, n in enumerate(x.shape) if a not in axes)
        return da.zeros(kept, dtype=res)
    state_dtype = _ENTROPY_STATE if y is None else _KL_STATE
    masked = mask is not None
    chunks = tuple(((1,) * len(c)) if a in axes else c for a, c in enumerate(x.chunks))

    def block_state(*blocks: np.ndarray) -> np.ndarray:
        it = iter(blocks)
        xb = next(it)
        yb = next(it) if y is not None else None
        mb = next(it) if masked else None
        return _kl_block(xb, yb, mb, axes) if y is not None else _entropy_block(xb, mb, axes)

    states = da.map_blocks(block_state, *arrays, chunks=chunks, dtype=state_dtype,
                           meta=_meta(x.ndim, state_dtype), token=f"logitkit-{name}-state")
    combine = _kl_combine if y is not None else _entropy_combine
    combined = da.reduction(states, _identity, combine, combine=combine, axis=axes,
                            keepdims=True, dtype=state_dtype, meta=_meta(x.ndim, state_dtype),
                            concatenate=True, name=f"logitkit-{name}-combine")
    value_of = _kl_value if y is not None else _entropy_value

    def finish(state: np.ndarray) -> np.ndarray:
        return value_of(state, masked).astype(res)

    value = combined.map_blocks(finish, dtype=res, meta=_meta(x.ndim, res))
    return value[tuple(0 if a in axes else slice(None) for a in range(x.ndim))]


def _identity(block: np.ndarray, axis: Any = None, keepdims: bool = True, **_: Any) -> np.ndarray:
    return block


def _side(data: np.ndarray, axes: tuple[int, ...]) -> tuple[dict, np.ndarray, np.ndarray,
                                                             np.ndarray]:
    """One block's (m, k, hi, lo) per slice, and x - m (hi + lo) and exp(x - m) per entry (0 at
    -inf and at the max, whose terms k counts)."""
    m = np.max(data, axis=axes, keepdims=True)
    finite = np.isfinite(m)
    top = data == m
    hi, lo = _diff(data, np.where(finite, m, 0.0))
    e = np.where(top | (data == -np.inf), 0.0, _exp_dd(hi, lo))
    side = {"m": m, "k": np.where(finite, np.sum(top, axis=axes, keepdims=True), 0.0),
            "hi": np.where(finite, np.sum(e, axis=axes, keepdims=True), 0.0), "lo": 0.0}
    return side, hi, lo, np.where(top & finite, 1.0, e)


def _entropy_block(x: np.ndarray, mask: np.ndarray | None, axes: tuple[int, ...]) -> np.ndarray:
    with np.errstate(all="ignore"):
        data = np.asarray(x).astype(_F64)
        if mask is not None:
            data = np.where(mask, data, -np.inf)
        side, hi, lo, e = _side(data, axes)
        state = np.zeros(side["m"].shape, _ENTROPY_STATE)
        for f, v in side.items():
            state[f] = v
        live = (e > 0) & np.isfinite(hi)
        state["t"] = np.where(np.isfinite(side["m"]),
                              np.sum(np.where(live, e * hi + e * lo, 0.0), axis=axes,
                                     keepdims=True), 0.0)
    return state


def _kl_block(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None,
              axes: tuple[int, ...]) -> np.ndarray:
    with np.errstate(all="ignore"):
        a = np.asarray(x).astype(_F64)
        b = np.asarray(y).astype(_F64)
        if mask is not None:
            a = np.where(mask, a, -np.inf)
            b = np.where(mask, b, -np.inf)
        side_a, ah, al, e = _side(a, axes)
        side_b, bh, bl, _ = _side(b, axes)
        state = np.zeros(side_a["m"].shape, _KL_STATE)
        for f in ("m", "k", "hi", "lo"):
            state["a"][f] = side_a[f]
            state["b"][f] = side_b[f]
        uh, ul = _two_sum(ah, -bh)
        live = e > 0
        state["u"] = np.where(np.isfinite(side_a["m"]) & np.isfinite(side_b["m"]),
                              np.sum(np.where(live, e * uh + e * (ul + (al - bl)), 0.0),
                                     axis=axes, keepdims=True), 0.0)
        state["inf"] = np.any((a > -np.inf) & (b == -np.inf), axis=axes, keepdims=True)
    return state


def _flatten(states: np.ndarray, axis: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    axes = tuple(sorted(a % states.ndim for a in axis)) if isinstance(axis, tuple) else (
        axis % states.ndim,)
    kept = tuple(a for a in range(states.ndim) if a not in axes)
    moved = np.transpose(states, kept + axes)
    lead = moved.shape[:len(kept)]
    return moved.reshape(lead + (int(np.prod(moved.shape[len(kept):])),)), axes


def _rescale(side: np.ndarray) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sides along the last axis brought to their common max: the combined (m, k, hi, lo), each
    chunk's scale exp(m_chunk - m), its m_chunk - m (hi + lo) and whether it sits at the max."""
    m = side["m"]
    top = np.max(m, axis=-1, keepdims=True)
    finite = np.isfinite(top)
    same = m == top
    dh, dl = _diff(m, np.where(finite, top, 0.0))
    dh = np.where(np.isfinite(dh), dh, 0.0)
    scale = np.where(m == -np.inf, 0.0, _exp_dd(dh, dl))
    terms = np.where(same, side["hi"], (side["k"] + side["hi"] + side["lo"]) * scale)
    s_hi = np.zeros(m.shape[:-1])
    s_lo = np.sum(np.where(same, side["lo"], 0.0), axis=-1)
    for j in range(m.shape[-1]):
        s_hi, err = _two_sum(s_hi, terms[..., j])
        s_lo = s_lo + err
    fin = finite[..., 0]
    out = {"m": top[..., 0], "k": np.where(fin, np.sum(np.where(same, side["k"], 0.0), axis=-1),
                                            0.0),
           "hi": np.where(fin, s_hi, 0.0), "lo": np.where(fin, s_lo, 0.0)}
    return out, scale, dh, dl, same


def _entropy_combine(states: np.ndarray, axis: Any, keepdims: bool = True,
                     **_: Any) -> np.ndarray:
    flat, axes = _flatten(states, axis)
    with np.errstate(all="ignore"):
        side, scale, dh, dl, same = _rescale(flat)
        total = flat["k"] + flat["hi"] + flat["lo"]
        t = np.where(same, flat["t"], scale * (flat["t"] + total * dh + total * dl))
        t = np.sum(np.where(scale > 0, t, 0.0), axis=-1)
    out = np.empty(side["m"].shape, _ENTROPY_STATE)
    for f, v in side.items():
        out[f] = v
    out["t"] = np.where(np.isfinite(side["m"]), t, 0.0)
    return out.reshape(tuple(1 if a in axes else n for a, n in enumerate(states.shape)))


def _kl_combine(states: np.ndarray, axis: Any, keepdims: bool = True, **_: Any) -> np.ndarray:
    flat, axes = _flatten(states, axis)
    with np.errstate(all="ignore"):
        side_a, scale, ah, al, _ = _rescale(flat["a"])
        side_b, _, bh, bl, _ = _rescale(flat["b"])
        total = flat["a"]["k"] + flat["a"]["hi"] + flat["a"]["lo"]
        uh, ul = _two_sum(ah, -bh)
        u = scale * (flat["u"] + total * uh + total * (ul + (al - bl)))
        u = np.sum(np.where(scale > 0, u, 0.0), axis=-1)
    out = np.empty(side_a["m"].shape, _KL_STATE)
    for f in ("m", "k", "hi", "lo"):
        out["a"][f] = side_a[f]
        out["b"][f] = side_b[f]
    out["u"] = np.where(np.isfinite(side_a["m"]) & np.isfinite(side_b["m"]), u, 0.0)
    out["inf"] = np.any(flat["inf"] > 0, axis=-1)
    return out.reshape(tuple(1 if a in axes else n for a, n in enumerate(states.shape)))


def _plain(side: np.ndarray) -> np.ndarray:
    state = np.empty(side.shape, np.dtype(_SIDE))
    for f in ("m", "k", "hi", "lo"):
        state[f] = side[f]
    return state


def _entropy_value(state: np.ndarray, masked: bool) -> np.ndarray:
    """log s - t / s, with the contract's values where the max is not finite."""
    m = state["m"]
    with np.errstate(all="ignore"):
        L_hi, L_lo = _log_total(_plain(state))
        s = state["k"] + state["hi"] + state["lo"]
        value = np.maximum(L_hi + (L_lo - state["t"] / s), 0.0)
    special = np.where(m == -np.inf, 0.0 if masked else np.nan, np.nan)
    return np.where(np.isfinite(m), value, special)


def _kl_value(state: np.ndarray, masked: bool) -> np.ndarray:
    """U / s_a + log s_b - log s_a, with the contract's values at the edges."""
    ma, mb = state["a"]["m"], state["b"]["m"]
    with np.errstate(all="ignore"):
        La_hi, La_lo = _log_total(_plain(state["a"]))
        Lb_hi, Lb_lo = _log_total(_plain(state["b"]))
        s = state["a"]["k"] + state["a"]["hi"] + state["a"]["lo"]
        d_hi, d_lo = _two_sum(Lb_hi, -La_hi)
        value = np.maximum(d_hi + ((d_lo + (Lb_lo - La_lo)) + state["u"] / s), 0.0)
    value = np.where(state["inf"] > 0, np.inf, value)
    finite = np.isfinite(ma) & np.isfinite(mb)
    special = np.where((ma == -np.inf) & (mb == -np.inf) & masked, 0.0, np.nan)
    special = np.where(np.isnan(ma) | np.isnan(mb) | (ma == np.inf) | (mb == np.inf), np.nan,
                       special)
    return np.where(finite, value, special)
