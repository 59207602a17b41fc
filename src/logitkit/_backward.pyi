"""Types of the vector-Jacobian products (the implementation, _backward.py, is typed loosely
on purpose: its arguments go through numpy.asarray). The rules are those of _softmax.pyi, read
off the pair (grad_output, output), which has one shape: two scalars give a NumPy scalar,
`out=` gives back `out` itself, ndarrays or nested sequences of numbers an array of floats,
and anything else Any, in the last overload.
"""

from collections.abc import Sequence
from typing import Any, SupportsIndex, TypeAlias, TypeVar, overload

import numpy as np
from numpy.typing import NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_ArrayT = TypeVar("_ArrayT", bound=NDArray[np.floating[Any]])
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Nested: TypeAlias = (Sequence[_Scalar] | Sequence[Sequence[_Scalar]]
                      | Sequence[Sequence[Sequence[_Scalar]]])
_Array: TypeAlias = NDArray[Any] | _Nested
_Axis: TypeAlias = SupportsIndex | tuple[SupportsIndex, ...] | None
_OutArray: TypeAlias = NDArray[np.floating[Any]] | None

@overload
def softmax_backward(grad_output: _Scalar, output: _Scalar, axis: _Axis = -1, *,
                     out: None = None, dim: None = None) -> _Float: ...
@overload
def softmax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                     out: _ArrayT, dim: None = None) -> _ArrayT: ...
@overload
def softmax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                     out: None = None, dim: None = None) -> _FloatArray: ...
@overload
def softmax_backward(grad_output: Any, output: Any, axis: _Axis = -1, *,
                     out: _OutArray = None, dim: None = None) -> Any: ...

@overload
def log_softmax_backward(grad_output: _Scalar, output: _Scalar, axis: _Axis = -1, *,
                         out: None = None, dim: None = None) -> _Float: ...
@overload
def log_softmax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                         out: _ArrayT, dim: None = None) -> _ArrayT: ...
@overload
def log_softmax_backward(grad_output: _Array, output: _Array, axis: _Axis = -1, *,
                         out: None = None, dim: None = None) -> _FloatArray: ...
@overload
def log_softmax_backward(grad_output: Any, output: Any, axis: _Axis = -1, *,
                         out: _OutArray = None, dim: None = None) -> Any: ...

@overload
def sigmoid_backward(grad_output: _Scalar, output: _Scalar, *, out: None = None) -> _Float: ...
@overload
def sigmoid_backward(grad_output: _Array, output: _Array, *, out: _ArrayT) -> _ArrayT: ...
@overload
def sigmoid_backward(grad_output: _Array, output: _Array, *,
                     out: None = None) -> _FloatArray: ...
@overload
def sigmoid_backward(grad_output: Any, output: Any, *, out: _OutArray = None) -> Any: ...
