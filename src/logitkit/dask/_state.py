"""The two-pass scheme for a reduced axis split across chunks.

A first pass reduces every block to a per-slice state (max m, count k of entries equal to m, and
the sum r of exp(x - m) over the other entries, in float64 for every input dtype); the states
are combined in a tree (r is rescaled by exp(m_chunk - m_global), with m_chunk - m_global exact
by TwoSum, and accumulated as a double-double); a second pass normalises every block against the
combined state, with x - max exact and the log of the total as a double-double, as in the
in-memory kernels. softmax, log_softmax, logsumexp and cross_entropy use it.
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

from logitkit.dask._common import _F64, _meta

# the per-slice state of the split reduction: max, count of the max, rest of the sum (hi + lo)
_STATE = np.dtype([("m", "f8"), ("k", "f8"), ("hi", "f8"), ("lo", "f8")])
_SOFTMAX, _LOG_SOFTMAX = "softmax", "log_softmax"
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10


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
