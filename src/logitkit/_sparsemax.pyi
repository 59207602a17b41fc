"""Types of sparsemax and sparsemax_backward (the rules of _softmax.pyi and _backward.pyi: a
Python or NumPy scalar in gives a NumPy scalar out, `out=` gives back `out` itself, an ndarray
or a nested sequence of numbers an array of floats, anything else Any)."""

from collections.abc import Sequence
from typing import Any, SupportsIndex, TypeAlias, TypeVar, overload

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

@overload
def sparsemax(x: _Scalar, axis: _Axis = -1, *, where: _Mask = None,
              out: None = None, dtype: DTypeLike | None = None, dim: None = None) -> _Float: ...
@overload
def sparsemax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
              dtype: DTypeLike | None = None, dim: None = None) -> _ArrayT: ...
@overload
def sparsemax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray: ...
@overload
def sparsemax(x: Any, axis: _Axis = -1, *, where: Any = None, out: _OutArray = None,
              dtype: DTypeLike | None = None, dim: None = None) -> Any: ...

@overload
def sparsemax_backward(grad_output: _Scalar, output: _Scalar, axis: _Axis = -1, *,
                       out: None = None, dim: None = None) -> _Float: ...
@overload
def sparsemax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                       out: _ArrayT, dim: None = None) -> _ArrayT: ...
@overload
def sparsemax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                       out: None = None, dim: None = None) -> _FloatArray: ...
@overload
def sparsemax_backward(grad_output: Any, output: Any, axis: _Axis = -1, *,
                       out: _OutArray = None, dim: None = None) -> Any: ...
