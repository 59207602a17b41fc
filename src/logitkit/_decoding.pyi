"""Types of top_k and sample (the implementation, _decoding.py, is typed loosely on purpose:
its arguments go through numpy.asarray).

- top_k gives (values, indices): values of the input's dtype (an ndarray of that scalar type
  for an ndarray input), indices int64;
- sample gives int64 indices: an array, or a NumPy scalar for 1-d logits without `size`
  (the overloads say so for 1-d sequences; an ndarray of unknown rank gives the union).
"""

from collections.abc import Sequence
from typing import Any, SupportsIndex, TypeAlias, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

_S = TypeVar("_S", bound=np.generic)
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Row: TypeAlias = Sequence[_Scalar]
_Rows: TypeAlias = Sequence[Sequence[_Scalar]] | Sequence[Sequence[Sequence[_Scalar]]]
_Real: TypeAlias = float | np.floating[Any] | np.integer[Any]
_Rng: TypeAlias = np.random.Generator | int | np.integer[Any] | None

@overload
def top_k(logits: NDArray[_S], k: SupportsIndex, axis: SupportsIndex = ..., *,
          sorted: bool = ..., dim: None = ...) -> tuple[NDArray[_S], NDArray[np.int64]]: ...
@overload
def top_k(logits: ArrayLike, k: SupportsIndex, axis: SupportsIndex = ..., *,
          sorted: bool = ..., dim: None = ...) -> tuple[NDArray[Any], NDArray[np.int64]]: ...

@overload
def sample(logits: _Row, *, axis: SupportsIndex = ..., temperature: _Real = ...,
           top_k: SupportsIndex | None = ..., top_p: _Real | None = ...,
           min_p: _Real | None = ..., size: None = ..., rng: _Rng = ...,
           dim: None = ...) -> np.int64: ...
@overload
def sample(logits: _Rows, *, axis: SupportsIndex = ..., temperature: _Real = ...,
           top_k: SupportsIndex | None = ..., top_p: _Real | None = ...,
           min_p: _Real | None = ..., size: None = ..., rng: _Rng = ...,
           dim: None = ...) -> NDArray[np.int64]: ...
@overload
def sample(logits: ArrayLike, *, axis: SupportsIndex = ..., temperature: _Real = ...,
           top_k: SupportsIndex | None = ..., top_p: _Real | None = ...,
           min_p: _Real | None = ..., size: SupportsIndex, rng: _Rng = ...,
           dim: None = ...) -> NDArray[np.int64]: ...
@overload
def sample(logits: ArrayLike, *, axis: SupportsIndex = ..., temperature: _Real = ...,
           top_k: SupportsIndex | None = ..., top_p: _Real | None = ...,
           min_p: _Real | None = ..., size: SupportsIndex | None = ..., rng: _Rng = ...,
           dim: None = ...) -> NDArray[np.int64] | np.int64: ...
