"""Types of entropy and kl_divergence (the implementation, _information.py, is typed loosely on
purpose: its arguments go through numpy.asarray). The rules are _softmax.pyi's for logsumexp
without keepdims: a scalar in or axis=None gives a NumPy scalar; an int axis that only an array
of two or more dimensions has gives an array; `out=` gives back `out`; otherwise the type says
NDArray | np.floating; anything that is not an ndarray or a nested sequence gives Any."""

from collections.abc import Sequence
from typing import Any, Literal, SupportsIndex, TypeAlias, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_ArrayT = TypeVar("_ArrayT", bound=NDArray[np.floating[Any]])
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Nested: TypeAlias = (Sequence[_Scalar] | Sequence[Sequence[_Scalar]]
                      | Sequence[Sequence[Sequence[_Scalar]]])
_Array: TypeAlias = NDArray[Any] | _Nested
_Axis: TypeAlias = SupportsIndex | tuple[SupportsIndex, ...] | None
_Mask: TypeAlias = ArrayLike | None
_OutArray: TypeAlias = NDArray[np.floating[Any]] | None
_InnerAxis: TypeAlias = Literal[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16,
    -17, -18, -19, -20, -21, -22, -23, -24, -25, -26, -27, -28, -29, -30, -31, -32]

@overload
def entropy(logits: _Scalar, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None) -> _Float: ...
@overload
def entropy(logits: _Array, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
            dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def entropy(logits: _Array, axis: None, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None) -> _Float: ...
@overload
def entropy(logits: _Array, axis: _InnerAxis, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def entropy(logits: _Array, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None) -> _FloatArray | _Float: ...
@overload
def entropy(logits: Any, axis: _Axis = -1, *, where: Any = None, out: _OutArray = None,
            dtype: DTypeLike | None = None) -> Any: ...

@overload
def kl_divergence(p_logits: _Scalar, q_logits: _Scalar, axis: _Axis = -1, *,
                  where: _Mask = None, out: None = None,
                  dtype: DTypeLike | None = None) -> _Float: ...
@overload
def kl_divergence(p_logits: _Array, q_logits: _Array, axis: _Axis = -1, *, where: _Mask = None,
                  out: _ArrayT, dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def kl_divergence(p_logits: _Array, q_logits: _Array, axis: None, *, where: _Mask = None,
                  out: None = None, dtype: DTypeLike | None = None) -> _Float: ...
@overload
def kl_divergence(p_logits: _Array, q_logits: _Array, axis: _InnerAxis, *,
                  where: _Mask = None, out: None = None,
                  dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def kl_divergence(p_logits: _Array, q_logits: _Array, axis: _Axis = -1, *, where: _Mask = None,
                  out: None = None, dtype: DTypeLike | None = None) -> _FloatArray | _Float: ...
@overload
def kl_divergence(p_logits: Any, q_logits: Any, axis: _Axis = -1, *, where: Any = None,
                  out: _OutArray = None, dtype: DTypeLike | None = None) -> Any: ...
