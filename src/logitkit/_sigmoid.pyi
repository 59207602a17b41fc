"""Types of the sigmoid family (the implementation, _sigmoid.py, is typed loosely on purpose:
its arguments go through numpy.asarray). The rules are those of _softmax.pyi: a Python or NumPy
scalar in gives a NumPy scalar out, `out=` gives back `out` itself, an ndarray or a nested
sequence of numbers an array of floats (a 0-d array in gives a NumPy scalar at run time, which
the types cannot see), and anything else Any, in the last overload.
"""

from collections.abc import Sequence
from typing import Any, TypeAlias, TypeVar, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_ArrayT = TypeVar("_ArrayT", bound=NDArray[np.floating[Any]])
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Nested: TypeAlias = (Sequence[_Scalar] | Sequence[Sequence[_Scalar]]
                      | Sequence[Sequence[Sequence[_Scalar]]])
_Array: TypeAlias = NDArray[Any] | _Nested
_OutArray: TypeAlias = NDArray[np.floating[Any]] | None

@overload
def sigmoid(x: _Scalar, *, out: None = None,
            dtype: DTypeLike | None = None) -> _Float: ...
@overload
def sigmoid(x: _Array, *, out: _ArrayT, dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def sigmoid(x: _Array, *, out: None = None,
            dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def sigmoid(x: Any, *, out: _OutArray = None, dtype: DTypeLike | None = None) -> Any: ...

@overload
def sigmoid_derivative(x: _Scalar, *, out: None = None,
                       dtype: DTypeLike | None = None) -> _Float: ...
@overload
def sigmoid_derivative(x: _Array, *, out: _ArrayT,
                       dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def sigmoid_derivative(x: _Array, *, out: None = None,
                       dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def sigmoid_derivative(x: Any, *, out: _OutArray = None,
                       dtype: DTypeLike | None = None) -> Any: ...

@overload
def log_sigmoid(x: _Scalar, *, out: None = None,
                dtype: DTypeLike | None = None) -> _Float: ...
@overload
def log_sigmoid(x: _Array, *, out: _ArrayT, dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def log_sigmoid(x: _Array, *, out: None = None,
                dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def log_sigmoid(x: Any, *, out: _OutArray = None, dtype: DTypeLike | None = None) -> Any: ...

@overload
def softplus(x: _Scalar, *, beta: float = 1.0, out: None = None,
             dtype: DTypeLike | None = None) -> _Float: ...
@overload
def softplus(x: _Array, *, beta: float = 1.0, out: _ArrayT,
             dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def softplus(x: _Array, *, beta: float = 1.0, out: None = None,
             dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def softplus(x: Any, *, beta: float = 1.0, out: _OutArray = None,
             dtype: DTypeLike | None = None) -> Any: ...
