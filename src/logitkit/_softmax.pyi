"""Types of softmax, log_softmax and logsumexp (the implementation, _softmax.py, is typed
loosely on purpose: its arguments go through numpy.asarray). They follow the contract
(docs/semantics.md); the sigmoid family's are in _sigmoid.pyi, by the same rules.

Return types:
- a Python or NumPy scalar in gives a NumPy scalar out (np.floating), as NumPy's ufuncs do;
- `out=` gives back `out` itself, with its type;
- otherwise an array of floats (float64, float32 or float16 by the contract's dtype rules).
A 0-d *array* in also gives a NumPy scalar at run time; the types cannot see the number of
dimensions, so they say NDArray for it. logsumexp is a reduction: with axis=None (or a scalar
in) the result is a scalar, with keepdims=True an array; otherwise it depends on the number of
dimensions, and the type says so (NDArray | np.floating).
"""

from typing import Any, Literal, SupportsIndex, TypeAlias, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

_Float: TypeAlias = np.floating[Any]
_FloatArray: TypeAlias = NDArray[np.floating[Any]]
_ArrayT = TypeVar("_ArrayT", bound=NDArray[np.floating[Any]])
_Scalar: TypeAlias = float | np.floating[Any] | np.integer[Any] | np.bool_
_Axis: TypeAlias = SupportsIndex | tuple[SupportsIndex, ...] | None
_Mask: TypeAlias = ArrayLike | None

# ---------------------------------------------------------------- softmax, log_softmax

@overload
def softmax(x: _Scalar, axis: _Axis = -1, *, where: _Mask = None,
            out: None = None, dtype: DTypeLike | None = None) -> _Float: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
            dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def softmax(x: ArrayLike, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
            dtype: DTypeLike | None = None) -> _FloatArray: ...

@overload
def log_softmax(x: _Scalar, axis: _Axis = -1, *,
                where: _Mask = None, out: None = None,
                dtype: DTypeLike | None = None) -> _Float: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, where: _Mask = None, out: _ArrayT,
                dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def log_softmax(x: ArrayLike, axis: _Axis = -1, *, where: _Mask = None, out: None = None,
                dtype: DTypeLike | None = None) -> _FloatArray: ...

# ---------------------------------------------------------------- logsumexp
# return_sign=True gives (log|sum|, sign), both of the result's type.

@overload
def logsumexp(x: _Scalar, axis: _Axis = -1, *,
              b: ArrayLike | None = None, where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None) -> _Float: ...
@overload
def logsumexp(x: _Scalar, axis: _Axis = -1, *,
              b: ArrayLike | None = None, where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[True], out: None = None,
              dtype: DTypeLike | None = None) -> tuple[_Float, _Float]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: _ArrayT,
              dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: Literal[True],
              out: _ArrayT, dtype: DTypeLike | None = None) -> tuple[_ArrayT, _FloatArray]: ...
@overload
def logsumexp(x: ArrayLike, axis: None, *,
              b: ArrayLike | None = None, where: _Mask = None,
              keepdims: Literal[False] = False, return_sign: Literal[False] = False,
              out: None = None, dtype: DTypeLike | None = None) -> _Float: ...
@overload
def logsumexp(x: ArrayLike, axis: None, *,
              b: ArrayLike | None = None, where: _Mask = None,
              keepdims: Literal[False] = False, return_sign: Literal[True],
              out: None = None, dtype: DTypeLike | None = None) -> tuple[_Float, _Float]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: Literal[True],
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: Literal[True], return_sign: Literal[True],
              out: None = None,
              dtype: DTypeLike | None = None) -> tuple[_FloatArray, _FloatArray]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False,
              return_sign: Literal[False] = False, out: None = None,
              dtype: DTypeLike | None = None) -> _FloatArray | _Float: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: Literal[True],
              out: None = None,
              dtype: DTypeLike | None = None
              ) -> tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
@overload
def logsumexp(x: ArrayLike, axis: _Axis = -1, *, b: ArrayLike | None = None,
              where: _Mask = None, keepdims: bool = False, return_sign: bool = False,
              out: NDArray[np.floating[Any]] | None = None, dtype: DTypeLike | None = None
              ) -> _FloatArray | _Float | tuple[_FloatArray | _Float, _FloatArray | _Float]: ...
