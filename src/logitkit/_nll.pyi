"""Types of nll_loss (the rules of _losses.pyi: "mean" and "sum" give a NumPy scalar; "none"
the per-sample losses, an array shaped like the class indices, a NumPy scalar for one scalar
index; log-probabilities that are neither an ndarray nor a nested sequence of numbers give
Any)."""

from collections.abc import Sequence
from typing import Any, Literal, SupportsIndex, TypeAlias, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Nested: TypeAlias = (Sequence[_Scalar] | Sequence[Sequence[_Scalar]]
                      | Sequence[Sequence[Sequence[_Scalar]]])
_Array: TypeAlias = NDArray[Any] | _Nested
_Index: TypeAlias = int | np.integer[Any]
_IndexArray: TypeAlias = (NDArray[np.integer[Any]] | Sequence[_Index]
                          | Sequence[Sequence[_Index]] | Sequence[Sequence[Sequence[_Index]]])
_Weight: TypeAlias = ArrayLike | None

@overload
def nll_loss(log_probs: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
             weight: _Weight = None, ignore_index: SupportsIndex = -100,
             reduction: Literal["mean", "sum"] = "mean") -> _Float: ...
@overload
def nll_loss(log_probs: _Array, target: _Index, axis: SupportsIndex = -1, *,
             weight: _Weight = None, ignore_index: SupportsIndex = -100,
             reduction: Literal["none"]) -> _Float: ...
@overload
def nll_loss(log_probs: _Array, target: _IndexArray, axis: SupportsIndex = -1, *,
             weight: _Weight = None, ignore_index: SupportsIndex = -100,
             reduction: Literal["none"]) -> _FloatArray: ...
@overload
def nll_loss(log_probs: Any, target: Any, axis: SupportsIndex = -1, *, weight: Any = None,
             ignore_index: SupportsIndex = -100,
             reduction: Literal["mean", "sum", "none"] = "mean") -> Any: ...
