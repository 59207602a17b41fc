"""A user's code, checked with `mypy --strict` by tests/test_typing.py: the public API's types
(logitkit/_softmax.pyi, logitkit/_sigmoid.pyi) must let it through with no annotation dodges,
and the revealed types must be the precise ones (assert_type fails the check otherwise)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import logitkit
from logitkit import log_sigmoid, log_softmax, logsumexp, sigmoid, sigmoid_derivative, softmax
from logitkit import softplus

FloatArray = NDArray[np.floating[Any]]

logits: NDArray[np.float64] = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
logits32: NDArray[np.float32] = logits.astype(np.float32)
buffer: NDArray[np.float64] = np.empty_like(logits)
mask = logits > 0

# softmax / log_softmax: arrays in, arrays out; scalars in, NumPy scalars out; out= is returned.
assert_type(softmax(logits), FloatArray)
assert_type(softmax([[2.0, 1.0, 0.1]], axis=-1, dtype=np.float32), FloatArray)
assert_type(softmax(logits, axis=(0, 1), where=mask), FloatArray)
assert_type(softmax(logits, axis=None), FloatArray)
assert_type(softmax(5.0), np.floating[Any])
assert_type(softmax(logits, out=buffer), NDArray[np.float64])
assert_type(log_softmax(logits32, axis=0), FloatArray)
assert_type(log_softmax(np.float32(1.0)), np.floating[Any])
assert_type(log_softmax(logits, out=buffer), NDArray[np.float64])

# logsumexp: the reduction. axis=None -> scalar; keepdims=True -> array; return_sign -> a pair.
assert_type(logsumexp(logits, axis=None), np.floating[Any])
assert_type(logsumexp(logits, keepdims=True), FloatArray)
assert_type(logsumexp(logits), FloatArray | np.floating[Any])
assert_type(logsumexp(3.0), np.floating[Any])
value, sign = logsumexp(logits, b=[1.0, -1.0, 0.5], return_sign=True)
assert_type(value, FloatArray | np.floating[Any])
assert_type(logsumexp(logits, axis=None, return_sign=True),
            tuple[np.floating[Any], np.floating[Any]])
assert_type(logsumexp(logits, keepdims=True, return_sign=True), tuple[FloatArray, FloatArray])
row_out: NDArray[np.float64] = np.empty(2)
assert_type(logsumexp(logits, out=row_out), NDArray[np.float64])
flag: bool = bool(len(logits) % 2)
assert_type(logsumexp(logits, return_sign=flag),
            FloatArray | np.floating[Any] | tuple[FloatArray | np.floating[Any],
                                                  FloatArray | np.floating[Any]])

# the sigmoid family
for fn in (sigmoid, sigmoid_derivative, log_sigmoid, softplus):
    assert_type(fn(logits), FloatArray)
    assert_type(fn(0.0), np.floating[Any])
    assert_type(fn(logits, out=buffer), NDArray[np.float64])
    assert_type(fn([1, 2, 3], dtype="float32"), FloatArray)

# the rest of the top level
assert_type(logitkit.simd_path(), str)
assert_type(logitkit.simd_paths(), list[str])
assert_type(logitkit.__version__, str)


def probabilities(batch: NDArray[np.float32]) -> FloatArray:
    """A typical user function: typed in, typed out, no casts."""
    return softmax(batch, axis=-1)


def into(batch: NDArray[np.float64], scratch: NDArray[np.float64]) -> NDArray[np.float64]:
    """out= keeps the caller's precise array type."""
    return log_softmax(batch, out=scratch)


total: float = float(logsumexp(logits, axis=None))
