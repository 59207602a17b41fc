"""Types of cross_entropy and binary_cross_entropy_with_logits (the implementation,
_losses.py, is typed loosely on purpose: its arguments go through numpy.asarray). The input
rules are those of _softmax.pyi; what comes back depends on `reduction` and `return_grad`:

- "mean" and "sum" give a NumPy scalar of the logits' result dtype;
- "none" gives the per-sample losses: for cross_entropy an array shaped like the class
  indices (a NumPy scalar for one scalar index), or, for class probabilities, an array or a
  scalar by the number of dimensions (the union says so); for the binary loss the elementwise
  losses, a NumPy scalar for a scalar logit;
- `return_grad=True` gives (loss, grad), grad an array of the logits' shape (a NumPy scalar
  for a scalar logit);
- a `reduction` outside the Literal is a type error (ValueError at run time).

Logits that are neither an ndarray nor a nested sequence of numbers give Any.
"""

from collections.abc import Sequence
from typing import Any, Literal, SupportsIndex, TypeAlias, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Nested: TypeAlias = (Sequence[_Scalar] | Sequence[Sequence[_Scalar]]
                      | Sequence[Sequence[Sequence[_Scalar]]])
_Array: TypeAlias = NDArray[Any] | _Nested      # cross_entropy's logits: at least 1-d
_Input: TypeAlias = _Scalar | _Array
_Index: TypeAlias = int | np.integer[Any]
_IndexArray: TypeAlias = (NDArray[np.integer[Any]] | Sequence[_Index]
                          | Sequence[Sequence[_Index]] | Sequence[Sequence[Sequence[_Index]]])
_Weight: TypeAlias = ArrayLike | None
_Smoothing: TypeAlias = float | np.floating[Any]
_Reduced: TypeAlias = Literal["mean", "sum"]
_Reduction: TypeAlias = Literal["mean", "sum", "none"]

# ---------------------------------------------------------------- cross_entropy

@overload
def cross_entropy(logits: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: _Reduced = "mean",
                  return_grad: Literal[False] = False, dim: None = None) -> _Float: ...
@overload
def cross_entropy(logits: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: _Reduced = "mean",
                  return_grad: Literal[True], dim: None = None) -> tuple[_Float, _FloatArray]: ...
@overload
def cross_entropy(logits: _Array, target: _Index, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[False] = False, dim: None = None) -> _Float: ...
@overload
def cross_entropy(logits: _Array, target: _Index, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[True], dim: None = None) -> tuple[_Float, _FloatArray]: ...
@overload
def cross_entropy(logits: _Array, target: _IndexArray, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[False] = False, dim: None = None) -> _FloatArray: ...
@overload
def cross_entropy(logits: _Array, target: _IndexArray, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[True], dim: None = None) -> tuple[_FloatArray, _FloatArray]: ...
@overload
def cross_entropy(logits: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[False] = False, dim: None = None) -> _FloatArray | _Float: ...
@overload
def cross_entropy(logits: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: Literal["none"],
                  return_grad: Literal[True], dim: None = None) -> tuple[_FloatArray | _Float, _FloatArray]: ...
@overload
def cross_entropy(logits: _Array, target: ArrayLike, axis: SupportsIndex = -1, *,
                  weight: _Weight = None, ignore_index: SupportsIndex = -100,
                  label_smoothing: _Smoothing = 0.0, reduction: _Reduction = "mean",
                  return_grad: bool = False, dim: None = None
                  ) -> _FloatArray | _Float | tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
@overload
def cross_entropy(logits: Any, target: Any, axis: SupportsIndex = -1, *, weight: Any = None,
                  ignore_index: SupportsIndex = -100, label_smoothing: _Smoothing = 0.0,
                  reduction: _Reduction = "mean",
                  return_grad: Literal[True], dim: None = None) -> tuple[Any, Any]: ...
@overload
def cross_entropy(logits: Any, target: Any, axis: SupportsIndex = -1, *, weight: Any = None,
                  ignore_index: SupportsIndex = -100, label_smoothing: _Smoothing = 0.0,
                  reduction: _Reduction = "mean", return_grad: bool = False, dim: None = None) -> Any: ...

# ---------------------------------------------------------------- binary cross-entropy

@overload
def binary_cross_entropy_with_logits(
        logits: _Input, target: ArrayLike, *, weight: _Weight = None, pos_weight: _Weight = None,
        reduction: _Reduced = "mean", return_grad: Literal[False] = False) -> _Float: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Scalar, target: ArrayLike, *, weight: _Weight = None,
        pos_weight: _Weight = None, reduction: _Reduction = "mean",
        return_grad: Literal[True]) -> tuple[_Float, _Float]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Array, target: ArrayLike, *, weight: _Weight = None, pos_weight: _Weight = None,
        reduction: _Reduced = "mean",
        return_grad: Literal[True]) -> tuple[_Float, _FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Scalar, target: ArrayLike, *, weight: _Weight = None,
        pos_weight: _Weight = None, reduction: Literal["none"],
        return_grad: Literal[False] = False) -> _Float: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Array, target: ArrayLike, *, weight: _Weight = None, pos_weight: _Weight = None,
        reduction: Literal["none"], return_grad: Literal[False] = False) -> _FloatArray: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Array, target: ArrayLike, *, weight: _Weight = None, pos_weight: _Weight = None,
        reduction: Literal["none"],
        return_grad: Literal[True]) -> tuple[_FloatArray, _FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: _Input, target: ArrayLike, *, weight: _Weight = None, pos_weight: _Weight = None,
        reduction: _Reduction = "mean", return_grad: bool = False
        ) -> _FloatArray | _Float | tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
        reduction: _Reduction = "mean", return_grad: Literal[True]) -> tuple[Any, Any]: ...
@overload
def binary_cross_entropy_with_logits(
        logits: Any, target: Any, *, weight: Any = None, pos_weight: Any = None,
        reduction: _Reduction = "mean", return_grad: bool = False) -> Any: ...
