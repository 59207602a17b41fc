"""Types of softmax, log_softmax and logsumexp (the implementation, _softmax.py, is typed
loosely on purpose: its arguments go through numpy.asarray). They follow the contract
(docs/semantics.md); the sigmoid family's, the losses' and the backward functions' stubs
(_sigmoid.pyi, _losses.pyi, _backward.pyi) use the same rules.

Return types:
- a Python or NumPy scalar in gives a NumPy scalar out (np.floating), as NumPy's ufuncs do;
- `out=` gives back `out` itself, with its type;
- an ndarray or a nested sequence of numbers gives an array of floats (float64, float32 or
  float16 by the contract's dtype rules);
- anything else (a tensor or a DataFrame, which may come back as its own type) gives Any. It
  is the last overload, and the others name ndarray and sequences rather than ArrayLike: a
  tensor has __array__, so ArrayLike would claim an ndarray result for it.
A 0-d *array* in also gives a NumPy scalar at run time; the types cannot see the number of
dimensions, so they say NDArray for it. logsumexp is a reduction: with axis=None (or a scalar
in) the result is a scalar, with keepdims=True an array, and with an int axis that only an
array of two or more dimensions has (1, 2, ..., -2, -3, ...) an array; otherwise it depends on
the number of dimensions, and the type says so (NDArray | np.floating).
"""

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
# An int axis that names the second dimension or a later one: the input has two or more
# dimensions (a smaller one raises AxisError), so the reduction leaves an array.
_InnerAxis: TypeAlias = Literal[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16,
    -17, -18, -19, -20, -21, -22, -23, -24, -25, -26, -27, -28, -29, -30, -31, -32]

# ---------------------------------------------------------------- softmax, log_softmax

@overload
def softmax(x: _Scalar, axis: _Axis = -1, *, where: _Mask = None,
            out: None = None, dtype: DTypeLike | None = None, dim: None = None) -> _Float: ...
@overload
def softmax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
            dtype: DTypeLike | None = None, dim: None = None) -> _ArrayT: ...
@overload
def softmax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray: ...
@overload
def softmax(x: Any, axis: _Axis = -1, *, where: Any = None, out: _OutArray = None,
            dtype: DTypeLike | None = None, dim: None = None) -> Any: ...

@overload
def log_softmax(x: _Scalar, axis: _Axis = -1, *,
                where: _Mask = None, out: None = None,
                dtype: DTypeLike | None = None, dim: None = None) -> _Float: ...
@overload
def log_softmax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
                dtype: DTypeLike | None = None, dim: None = None) -> _ArrayT: ...
@overload
def log_softmax(x: _Array, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
                dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray: ...
@overload
def log_softmax(x: Any, axis: _Axis = -1, *, where: Any = None, out: _OutArray = None,
                dtype: DTypeLike | None = None, dim: None = None) -> Any: ...

# ---------------------------------------------------------------- logsumexp
# return_sign=True gives (log|sum|, sign), both of the result's type.

@overload
def logsumexp(x: _Scalar, axis: _Axis = -1, *,
              b: ArrayLike | None = None, where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> _Float: ...
@overload
def logsumexp(x: _Scalar, axis: _Axis = -1, *,
              b: ArrayLike | None = None, where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[True], out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> tuple[_Float, _Float]: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: _ArrayT,
              dtype: DTypeLike | None = None, dim: None = None) -> _ArrayT: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: Literal[True],
              out: _ArrayT, dtype: DTypeLike | None = None, dim: None = None) -> tuple[_ArrayT, _FloatArray]: ...
@overload
def logsumexp(x: _Array, axis: None, *,
              b: ArrayLike | None = None, where: _Mask = None,
              keepdims: Literal[False] = False, return_sign: Literal[False] = False,
              out: None = None, dtype: DTypeLike | None = None, dim: None = None) -> _Float: ...
@overload
def logsumexp(x: _Array, axis: None, *,
              b: ArrayLike | None = None, where: _Mask = None,
              keepdims: Literal[False] = False, return_sign: Literal[True],
              out: None = None, dtype: DTypeLike | None = None, dim: None = None) -> tuple[_Float, _Float]: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: Literal[True],
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: Literal[True], return_sign: Literal[True],
              out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> tuple[_FloatArray, _FloatArray]: ...
@overload
def logsumexp(x: _Array, axis: _InnerAxis, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray: ...
@overload
def logsumexp(x: _Array, axis: _InnerAxis, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: Literal[True],
              out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> tuple[_FloatArray, _FloatArray]: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None, dim: None = None) -> _FloatArray | _Float: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: Literal[True],
              out: None = None,
              dtype: DTypeLike | None = None, dim: None = None
              ) -> tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
@overload
def logsumexp(x: _Array, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: bool = False,
              out: _OutArray = None, dtype: DTypeLike | None = None, dim: None = None
              ) -> _FloatArray | _Float | tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
@overload
def logsumexp(x: Any, axis: _Axis = -1, *, b: Any = None, where: Any = None,
              keepdims: bool = False, return_sign: Literal[True], out: _OutArray = None,
              dtype: DTypeLike | None = None, dim: None = None) -> tuple[Any, Any]: ...
@overload
def logsumexp(x: Any, axis: _Axis = -1, *, b: Any = None, where: Any = None,
              keepdims: bool = False, return_sign: bool = False, out: _OutArray = None,
              dtype: DTypeLike | None = None, dim: None = None) -> Any: ...
