"""Types of logit (the rules of _sigmoid.pyi: a Python or NumPy scalar in gives a NumPy scalar
out, `out=` gives back `out` itself, an ndarray or a nested sequence of numbers an array of
floats, anything else Any)."""

from collections.abc import Sequence
from typing import Any, Callable, TypeAlias, TypeVar, overload

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
def logit(p: _Scalar, *, out: None = None, dtype: DTypeLike | None = None) -> _Float: ...
@overload
def logit(p: _Array, *, out: _ArrayT, dtype: DTypeLike | None = None) -> _ArrayT: ...
@overload
def logit(p: _Array, *, out: None = None, dtype: DTypeLike | None = None) -> _FloatArray: ...
@overload
def logit(p: Any, *, out: _OutArray = None, dtype: DTypeLike | None = None) -> Any: ...

def elementwise_call(x: Any, out: NDArray[Any] | None, dtype: Any, name: str,
                     kernel: Callable[..., None], *params: float) -> Any: ...
