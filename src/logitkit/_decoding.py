"""top_k and sample: decoding from logits. Validate, move the class axis last, make one call
into the kernels.

The kernels take C-contiguous rows of float32 or float64 (float16 is selected in float32 and
integers in float64, where the order is exact; longdouble, and 64-bit integers beyond 2^53, by
an exact NumPy sort instead). sample's uniforms are drawn here, one per row per draw in C
order, so that the draws depend on the generator alone, never on the thread count.

Its pure-Python twin is logitkit.reference._decoding; the bindings are binding/top_k.pxi and
binding/sample.pxi, the kernels csrc/kernels/top_k-inl.h and sample-inl.h.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.exceptions import AxisError

from logitkit import _ext
from logitkit._interop import foreign, refuse_dim, translate
from logitkit._validate import as_array

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_EXACT_IN_F64 = 2 ** 53
_ROW_PROBLEMS = {1: "contains NaN", 2: "contains +inf", 3: "is all -inf: no class can be drawn"}


def _logits(x: Any, axis: Any, name: str) -> tuple[np.ndarray, int]:
    """The logits as an array of a real dtype with at least one axis, and the class axis."""
    arr = as_array(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: unsupported input dtype {arr.dtype}; expected a real floating "
                        f"(float16, float32, float64, longdouble), integer or bool array")
    if arr.ndim == 0:
        raise ValueError(f"{name}: the logits are 0-d; expected at least one axis (the classes)")
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    try:
        index = operator.index(axis)
    except TypeError:
        raise TypeError(f"{name}: axis must be an int, got {axis!r}") from None
    if not -arr.ndim <= index < arr.ndim:
        raise AxisError(index, arr.ndim, msg_prefix=name)
    return arr, index % arr.ndim


def _rows(arr: np.ndarray, axis: int) -> tuple[np.ndarray, np.dtype | None]:
    """The logits as C-contiguous (rows, n) of the kernels' dtype, or None for the dtype where
    the kernels' order would not be exact (then the rows are the input's own)."""
    moved = np.moveaxis(arr, axis, -1)
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind == "f":
        calc = _F32 if size <= 4 else _F64 if size == 8 else None
    elif kind in "iu" and size == 8 and moved.size and (
            int(moved.max()) > _EXACT_IN_F64 or int(moved.min()) < -_EXACT_IN_F64):
        calc = None
    else:
        calc = _F64
    n = moved.shape[-1]
    rows = int(np.prod(moved.shape[:-1]))
    with np.errstate(all="ignore"):
        data = np.ascontiguousarray(moved, dtype=calc if calc is not None else
                                    arr.dtype.newbyteorder("="))
    return data.reshape(rows, n), calc


def _check_int(value: Any, what: str, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: {what} must be an int, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int, got {type(value).__name__} "
                        f"{value!r}") from None


def _ranked_exactly(rows: np.ndarray, k: int) -> np.ndarray:
    """The k first of each row by value (NaN first, then larger, ties by lower index), by a
    stable NumPy sort: for dtypes the kernels cannot hold exactly."""
    nan = np.isnan(rows) if rows.dtype.kind == "f" else np.zeros(rows.shape, bool)
    values = np.where(nan, 0, rows)
    descending = -values if rows.dtype.kind == "f" else ~values    # ~v: no overflow
    order = np.lexsort((descending, ~nan), axis=-1)
    return np.ascontiguousarray(order[:, :k])


# ---------------------------------------------------------------- top_k

def top_k(logits: Any, k: Any, axis: Any = -1, *, sorted: bool = True,
          dim: None = None) -> tuple[Any, Any]:
    """The `k` largest values along `axis` and their indices, as `torch.topk` gives them.

    Parameters
    ----------
    logits : array_like
        Anything `numpy.asarray` accepts with at least one axis, of a real floating, integer
        or bool dtype.
    k : int
        How many to take, from 0 to the length of `axis`.
    axis : int, optional
        The axis to select along. Default: the last.
    sorted : bool, optional
        True (default): the largest first. False: the same k in an unspecified order (that of
        the selection, the same for the same input on every call).
    dim : None, optional
        PyTorch's name for the axis, refused: any value other than None raises a TypeError
        that names `axis=`.

    Returns
    -------
    values : numpy.ndarray
        The selected values, of the input's dtype (native byte order), with `axis` of length
        `k`.
    indices : numpy.ndarray
        Their indices along `axis` (int64), of the same shape.

    Raises
    ------
    TypeError
        For an unsupported dtype, a `k` or `axis` that is not an integer.
    ValueError
        For a 0-d input or a `k` outside [0, n].
    numpy.exceptions.AxisError
        For an axis out of range.

    See Also
    --------
    sample : Draws from the softmax restricted to the top k (and top p).
    logitkit.reference.top_k : The pure-Python twin.

    Notes
    -----
    The order is torch.topk's: larger values first, NaN above everything (several NaNs by
    index), -0.0 equal to 0.0, ties broken by the lower index. Each row is selected in one
    pass with a heap of k or a threshold filter (small k), or a quickselect (large k), never a
    full sort.
    float16 is selected in float32 and integers in float64, where the order is exact;
    longdouble and 64-bit integers beyond 2^53 by an exact stable sort.

    Examples
    --------
    >>> import logitkit as lk
    >>> values, indices = lk.top_k([0.5, 2.0, -1.0, 2.0], 3)
    >>> values, indices
    (array([2. , 2. , 0.5]), array([1, 3, 0]))
    >>> lk.top_k([[1.0, float("nan"), 3.0]], 2)[1]
    array([[1, 2]])
    """
    name = "top_k"
    if dim is not None:
        refuse_dim(name)
    if foreign(logits):
        return translate(top_k, logits, k, axis, sorted=sorted)
    arr, ax = _logits(logits, axis, name)
    k = _check_int(k, "k", name)
    n = arr.shape[ax]
    if not 0 <= k <= n:
        raise ValueError(f"{name}: k={k} is out of range for an axis of length n={n}; "
                         f"expected 0 <= k <= n")
    rows, calc = _rows(arr, ax)
    out_shape = np.moveaxis(arr, ax, -1).shape[:-1] + (k,)
    if calc is None:
        idx = _ranked_exactly(rows, k)
        vals = np.take_along_axis(rows, idx, -1)
    else:
        vals = np.empty((rows.shape[0], k), calc)
        idx = np.empty((rows.shape[0], k), np.int64)
        status = np.zeros(rows.shape[0], np.int8)
        _ext.top_k_rows(rows, k, bool(sorted), vals, idx, status)
        if status.any():
            raise MemoryError(f"{name}: no memory for the selection of a row of {n}")
    values = vals.astype(arr.dtype.newbyteorder("="), copy=False).reshape(out_shape)
    indices = idx.astype(np.int64, copy=False).reshape(out_shape)
    return np.moveaxis(values, -1, ax), np.moveaxis(indices, -1, ax)


# ---------------------------------------------------------------- sample

def _generator(rng: Any, name: str) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"{name}: rng must be a numpy.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name}: rng={rng} is a negative seed; expected a seed >= 0")
    return np.random.default_rng(int(rng))


def _sampling_options(temperature: Any, top_k: Any, top_p: Any, min_p: Any, size: Any,
                      name: str) -> tuple[float, int, float, float, int | None]:
    def real(value: Any, what: str) -> float:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name}: {what} must be a real number, got {value!r}")
        try:
            return float(operator.index(value)) if isinstance(value, (int, np.integer)) \
                else float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: {what} must be a real number, got "
                            f"{type(value).__name__} {value!r}") from None

    t = real(temperature, "temperature")
    if not (t >= 0.0 and np.isfinite(t)):
        raise ValueError(f"{name}: temperature={temperature!r}; expected a finite number >= 0")
    k = 0
    if top_k is not None:
        k = _check_int(top_k, "top_k", name)
        if k < 1:
            raise ValueError(f"{name}: top_k={k}; expected an int >= 1 (or None)")
    p = 1.0
    if top_p is not None:
        p = real(top_p, "top_p")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"{name}: top_p={top_p!r}; expected 0 < top_p <= 1 (or None)")
    mp = 0.0
    if min_p is not None:
        mp = real(min_p, "min_p")
        if not 0.0 <= mp <= 1.0:
            raise ValueError(f"{name}: min_p={min_p!r}; expected 0 <= min_p <= 1 (or None)")
    draws = None
    if size is not None:
        draws = _check_int(size, "size", name)
        if draws < 0:
            raise ValueError(f"{name}: size={draws}; expected an int >= 0 (or None)")
    return t, k, p, mp, draws


def sample(logits: Any, *, axis: Any = -1, temperature: Any = 1.0, top_k: Any = None,
           top_p: Any = None, min_p: Any = None, size: Any = None, rng: Any = None,
           dim: None = None) -> Any:
    """Class indices drawn from softmax(logits / temperature), restricted by top-k, top-p and
    min-p, along `axis`.

    Parameters
    ----------
    logits : array_like
        Anything `numpy.asarray` accepts with at least one axis, of a real floating, integer
        or bool dtype.
    axis : int, optional
        The axis of the classes. Default: the last.
    temperature : float, optional
        Divides the logits; a finite number >= 0. 0 takes the first maximum (argmax).
        Default: 1.
    top_k : int, optional
        Keep only the `top_k` most likely classes (ties: the lower index first).
    top_p : float, optional
        In (0, 1]: keep the smallest set of most likely classes whose probability reaches
        `top_p` (at least one; ties at the cut: the lower index first).
    min_p : float, optional
        In [0, 1]: keep the classes whose probability is at least ``min_p`` times the largest.
    size : int, optional
        Draws per row (>= 0). Default: one draw per row, without an axis for it.
    rng : numpy.random.Generator, int or None, optional
        The generator, a seed for `numpy.random.default_rng`, or None for fresh entropy. It
        gives one uniform per row per draw, in C order (the batch's, then the draws').
    dim : None, optional
        PyTorch's name for the axis, refused.

    Returns
    -------
    numpy.ndarray or numpy.int64
        The drawn indices (int64), of the logits' shape without `axis`, plus a last axis of
        length `size` when it is given; a NumPy scalar for 1-d logits without `size`.

    Raises
    ------
    TypeError
        For an unsupported dtype, a non-integer `axis`, `top_k` or `size`, a non-real
        `temperature`, `top_p` or `min_p`, or an `rng` of another type.
    ValueError
        For a 0-d input or an empty class axis, an argument out of its range, or a row that
        contains NaN or +inf, or only -inf (the message names the row).
    numpy.exceptions.AxisError
        For an axis out of range.

    See Also
    --------
    top_k : The selection top-k sampling starts from.
    softmax : The probabilities themselves.
    logitkit.reference.sample : The pure-Python twin, which draws the same indices.

    Notes
    -----
    The restrictions apply in the order of Hugging Face's logits warpers and vLLM's sampler:
    temperature, top-k, top-p, min-p. The probabilities are those of softmax (``x - max``
    exact, sums in double); the draw is the inverse CDF of the uniform over the kept classes
    in index order, so a draw depends on the generator alone, never on the thread count, and
    ``top_p=1`` or ``top_k=n`` draw what no restriction draws. -inf logits are never drawn.

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.sample([[0.0, 1.0, 2.0], [5.0, 0.0, 0.0]], temperature=0)
    array([2, 0])
    >>> lk.sample([1.0, 2.0, 3.0, 4.0], top_k=2, size=8, rng=0)
    array([3, 3, 2, 2, 3, 3, 3, 3])
    """
    name = "sample"
    if dim is not None:
        refuse_dim(name)
    if foreign(logits):
        return translate(sample, logits, axis=axis, temperature=temperature, top_k=top_k,
                         top_p=top_p, min_p=min_p, size=size, rng=rng)
    arr, ax = _logits(logits, axis, name)
    t, k, p, mp, draws = _sampling_options(temperature, top_k, top_p, min_p, size, name)
    generator = _generator(rng, name)
    n = arr.shape[ax]
    if n == 0:
        raise ValueError(f"{name}: axis {ax} has no classes; expected at least one")
    batch = np.moveaxis(arr, ax, -1).shape[:-1]
    per_row = 1 if draws is None else draws
    rows, calc = _rows(arr, ax)
    if calc is None:                        # the kernels compute in double at most
        rows, calc = rows.astype(_F64), _F64
    uniforms = generator.random((rows.shape[0], per_row))
    result = np.empty((rows.shape[0], per_row), np.int64)
    status = np.zeros(rows.shape[0], np.int8)
    _ext.sample_rows(rows, t, k, p, mp, uniforms, result, status)
    if status.any():
        bad = int(np.flatnonzero(status)[0])
        if status[bad] == 4:
            raise MemoryError(f"{name}: no memory for the work of a row of {n}")
        where = tuple(int(i) for i in np.unravel_index(bad, batch)) if batch else ()
        raise ValueError(f"{name}: the row of logits at {where} (axis {ax} removed) "
                         f"{_ROW_PROBLEMS[int(status[bad])]}; expected finite logits or -inf, "
                         f"at least one finite")
    shaped = result.reshape(batch + ((per_row,) if draws is not None else ()))
    return shaped if shaped.ndim else shaped[()]
