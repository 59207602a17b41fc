# pyright: strict
"""A user's code, checked with `mypy --strict` and pyright (strict) by tests/test_typing.py: the
public API's types (logitkit/_softmax.pyi, _sigmoid.pyi, _losses.pyi, _backward.pyi) must let it
through with no annotation dodges, and the inferred types must be the precise ones
(assert_type fails the check otherwise). Calls that must be rejected are in errors.py."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import logitkit
from logitkit import (binary_cross_entropy_with_logits, cross_entropy, log_sigmoid,
                      log_softmax, log_softmax_backward, logsumexp, sigmoid, sigmoid_backward,
                      sigmoid_derivative, softmax, softmax_backward, softplus)
from logitkit.testing import assert_matches_reference, max_ulp_difference, ulp_distance

Float = np.floating[Any]
FloatArray = NDArray[np.floating[Any]]

logits: NDArray[np.float64] = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
logits32: NDArray[np.float32] = logits.astype(np.float32)
buffer: NDArray[np.float64] = np.empty_like(logits)
mask = logits > 0
labels: NDArray[np.intp] = np.array([0, 2])
probs: NDArray[np.float64] = np.full((2, 3), 1 / 3)

# softmax / log_softmax: arrays in, arrays out; scalars in, NumPy scalars out; out= is returned.
assert_type(softmax(logits), FloatArray)
assert_type(softmax([[2.0, 1.0, 0.1]], axis=-1, dtype=np.float32), FloatArray)
assert_type(softmax([1, 2, 3]), FloatArray)
assert_type(softmax(logits, axis=(0, 1), where=mask), FloatArray)
assert_type(softmax(logits, axis=None), FloatArray)
assert_type(softmax(5.0), Float)
assert_type(softmax(np.int64(5)), Float)
assert_type(softmax(logits, out=buffer), NDArray[np.float64])
assert_type(log_softmax(logits32, axis=0), FloatArray)
assert_type(log_softmax(np.float32(1.0)), Float)
assert_type(log_softmax(logits, out=buffer), NDArray[np.float64])
assert_type(log_softmax(logits, where=mask, dtype="float32"), FloatArray)

# logsumexp: the reduction. axis=None or a scalar -> a scalar; keepdims=True or an axis only a
# 2-d or larger array has -> an array; return_sign=True -> a pair; otherwise either.
assert_type(logsumexp(logits, axis=None), Float)
assert_type(logsumexp(3.0), Float)
assert_type(logsumexp(3.0, return_sign=True), tuple[Float, Float])
assert_type(logsumexp(logits, keepdims=True), FloatArray)
assert_type(logsumexp(logits, axis=1), FloatArray)
assert_type(logsumexp(logits, axis=-2), FloatArray)
assert_type(logsumexp(logits, axis=1, b=logits, where=mask), FloatArray)
assert_type(logsumexp(logits, axis=1, return_sign=True), tuple[FloatArray, FloatArray])
assert_type(logsumexp(logits), FloatArray | Float)
assert_type(logsumexp(logits, axis=0), FloatArray | Float)
assert_type(logsumexp(logits, axis=(0, 1)), FloatArray | Float)
value, sign = logsumexp(logits, b=[1.0, -1.0, 0.5], return_sign=True)
assert_type(value, FloatArray | Float)
assert_type(sign, FloatArray | Float)
assert_type(logsumexp(logits, axis=None, return_sign=True), tuple[Float, Float])
assert_type(logsumexp(logits, keepdims=True, return_sign=True), tuple[FloatArray, FloatArray])
row_out: NDArray[np.float64] = np.empty(2)
assert_type(logsumexp(logits, out=row_out), NDArray[np.float64])
assert_type(logsumexp(logits, return_sign=True, out=row_out),
            tuple[NDArray[np.float64], FloatArray])
flag: bool = bool(len(logits) % 2)
assert_type(logsumexp(logits, return_sign=flag),
            FloatArray | Float | tuple[FloatArray | Float, FloatArray | Float])

# the sigmoid family
for fn in (sigmoid, sigmoid_derivative, log_sigmoid, softplus):
    assert_type(fn(logits), FloatArray)
    assert_type(fn(0.0), Float)
    assert_type(fn(logits, out=buffer), NDArray[np.float64])
    assert_type(fn([1, 2, 3], dtype="float32"), FloatArray)

# cross_entropy: "mean" and "sum" give a NumPy scalar, "none" the per-sample losses (an array
# for an array of class indices, a scalar for one index, either for class probabilities);
# return_grad=True gives (loss, grad).
assert_type(cross_entropy(logits, labels), Float)
assert_type(cross_entropy(logits32, [0, 2], reduction="sum"), Float)
assert_type(cross_entropy(logits, labels, weight=[1.0, 2.0, 0.5], ignore_index=2,
                          label_smoothing=0.1, reduction="mean"), Float)
assert_type(cross_entropy(logits, labels, reduction="none"), FloatArray)
assert_type(cross_entropy(logits, [0, 2], 1, reduction="none"), FloatArray)
assert_type(cross_entropy([2.0, 1.0, 0.1], 0, reduction="none"), Float)
assert_type(cross_entropy(logits, probs, reduction="none"), FloatArray | Float)
assert_type(cross_entropy(logits, labels, return_grad=True), tuple[Float, FloatArray])
assert_type(cross_entropy(logits, probs, reduction="sum", return_grad=True),
            tuple[Float, FloatArray])
assert_type(cross_entropy(logits, labels, reduction="none", return_grad=True),
            tuple[FloatArray, FloatArray])
assert_type(cross_entropy([2.0, 1.0, 0.1], np.intp(0), reduction="none", return_grad=True),
            tuple[Float, FloatArray])
assert_type(cross_entropy(logits, probs, reduction="none", return_grad=True),
            tuple[FloatArray | Float, FloatArray])
loss, grad = cross_entropy(logits, labels, return_grad=True)
assert_type(grad, FloatArray)
reduction: Literal["mean", "sum", "none"] = "mean"
assert_type(cross_entropy(logits, labels, reduction=reduction, return_grad=flag),
            FloatArray | Float | tuple[FloatArray | Float, FloatArray | Float])

# binary_cross_entropy_with_logits: the same, elementwise.
targets01 = (logits > 0).astype(np.float64)
assert_type(binary_cross_entropy_with_logits(logits, targets01), Float)
assert_type(binary_cross_entropy_with_logits(logits, targets01, weight=2.0,
                                             pos_weight=[1.0, 2.0, 3.0], reduction="sum"),
            Float)
assert_type(binary_cross_entropy_with_logits(logits, targets01, reduction="none"), FloatArray)
assert_type(binary_cross_entropy_with_logits(1.5, 1.0, reduction="none"), Float)
assert_type(binary_cross_entropy_with_logits(logits, targets01, return_grad=True),
            tuple[Float, FloatArray])
assert_type(binary_cross_entropy_with_logits(logits, targets01, reduction="none",
                                             return_grad=True), tuple[FloatArray, FloatArray])
assert_type(binary_cross_entropy_with_logits(1.5, 1.0, reduction="none", return_grad=True),
            tuple[Float, Float])
assert_type(binary_cross_entropy_with_logits(1.5, 1.0, return_grad=True), tuple[Float, Float])
assert_type(binary_cross_entropy_with_logits(logits, targets01, reduction=reduction,
                                             return_grad=flag),
            FloatArray | Float | tuple[FloatArray | Float, FloatArray | Float])

# the backward functions: the shape of their inputs.
p = softmax(logits)
assert_type(softmax_backward(logits, p), FloatArray)
assert_type(softmax_backward(logits, p, axis=(0, 1)), FloatArray)
assert_type(softmax_backward(logits, logits, out=buffer), NDArray[np.float64])
assert_type(softmax_backward(1.0, 1.0), Float)
assert_type(log_softmax_backward(logits, log_softmax(logits), axis=0), FloatArray)
assert_type(log_softmax_backward(logits, logits, out=buffer), NDArray[np.float64])
assert_type(log_softmax_backward(np.float32(1.0), np.float32(0.0)), Float)
assert_type(sigmoid_backward([1.0, 1.0], sigmoid([0.0, 1.0])), FloatArray)
assert_type(sigmoid_backward(logits, logits, out=buffer), NDArray[np.float64])
assert_type(sigmoid_backward(1.0, 0.5), Float)

# inputs that are neither ndarrays nor sequences of numbers (a tensor, a DataFrame, ...) may
# come back as their own type: Any.
class Tensor:
    """Stands for a tensor type the stubs cannot name."""

    def __array__(self) -> NDArray[np.float64]:
        return np.zeros(3)


tensor = Tensor()
assert_type(softmax(tensor), Any)
assert_type(logsumexp(tensor), Any)
assert_type(logsumexp(tensor, return_sign=True), tuple[Any, Any])
assert_type(sigmoid(tensor), Any)
assert_type(cross_entropy(tensor, tensor), Any)
assert_type(cross_entropy(tensor, tensor, return_grad=True), tuple[Any, Any])
assert_type(binary_cross_entropy_with_logits(tensor, tensor), Any)
assert_type(binary_cross_entropy_with_logits(tensor, tensor, return_grad=True), tuple[Any, Any])
assert_type(softmax_backward(tensor, tensor), Any)
assert_type(sigmoid_backward(tensor, tensor), Any)

# the rest of the top level, and logitkit.testing
assert_type(logitkit.simd_path(), str)
assert_type(logitkit.simd_paths(), list[str])
assert_type(logitkit.__version__, str)
assert_type(max_ulp_difference("softmax", logits, axis=0), float)
assert_type(assert_matches_reference("logsumexp", logits, max_ulp=2), None)
assert_type(ulp_distance(logits, logits), NDArray[Any])


def probabilities(batch: NDArray[np.float32]) -> FloatArray:
    """A typical user function: typed in, typed out, no casts."""
    return softmax(batch, axis=-1)


def into(batch: NDArray[np.float64], scratch: NDArray[np.float64]) -> NDArray[np.float64]:
    """out= keeps the caller's precise array type."""
    return log_softmax(batch, out=scratch)


def row_totals(batch: NDArray[np.float64]) -> FloatArray:
    """A reduction over the second axis is an array: no cast."""
    return logsumexp(batch, axis=1)


def training_step(batch: NDArray[np.float32], y: NDArray[np.int64]) -> tuple[float, FloatArray]:
    """The loss as a Python float and its gradient, no casts."""
    value, gradient = cross_entropy(batch, y, return_grad=True)
    return float(value), gradient


total: float = float(logsumexp(logits, axis=None))

# top_k: the input's scalar type and int64 indices; sample: int64 indices, a scalar for a row.
from logitkit import sample, top_k  # noqa: E402

assert_type(top_k(logits, 2), tuple[NDArray[np.float64], NDArray[np.int64]])
assert_type(top_k(logits32, 1, axis=0, sorted=False),
            tuple[NDArray[np.float32], NDArray[np.int64]])
assert_type(top_k([[1.0, 2.0]], 1), tuple[NDArray[Any], NDArray[np.int64]])
assert_type(sample([1.0, 2.0, 3.0], rng=0), np.int64)
assert_type(sample([[1.0, 2.0], [3.0, 4.0]], top_p=0.9, rng=np.random.default_rng(1)),
            NDArray[np.int64])
assert_type(sample(logits, size=4, top_k=2, min_p=0.1, temperature=0.7), NDArray[np.int64])
assert_type(sample(logits), NDArray[np.int64] | np.int64)
# logit; softplus with beta
assert_type(logitkit.logit(probs), FloatArray)
assert_type(logitkit.logit(0.25), Float)
assert_type(logitkit.logit(probs, out=buffer), NDArray[np.float64])
assert_type(softplus(logits, beta=2.0), FloatArray)
assert_type(softplus(1.0, beta=0.5), Float)
assert_type(softplus(logits, beta=0.5, out=buffer), NDArray[np.float64])

# nll_loss; sparsemax and its backward
assert_type(logitkit.nll_loss(log_softmax(logits), labels), Float)
assert_type(logitkit.nll_loss(log_softmax(logits), labels, reduction="none"), FloatArray)
assert_type(logitkit.sparsemax(logits), FloatArray)
assert_type(logitkit.sparsemax(logits, axis=0, out=buffer), NDArray[np.float64])
assert_type(logitkit.sparsemax_backward(logits, logitkit.sparsemax(logits)), FloatArray)
# entropy and kl_divergence: reductions without keepdims, as logsumexp's types say
assert_type(logitkit.entropy(logits, axis=None), Float)
assert_type(logitkit.entropy(3.0), Float)
assert_type(logitkit.entropy(logits, axis=1, where=mask), FloatArray)
assert_type(logitkit.entropy(logits, out=buffer[:, 0]), NDArray[np.float64])
assert_type(logitkit.entropy(logits), FloatArray | Float)
assert_type(logitkit.kl_divergence(logits, probs, axis=None), Float)
assert_type(logitkit.kl_divergence(logits32, logits32, axis=-2), FloatArray)
assert_type(logitkit.kl_divergence([0.0, 1.0], [1.0, 0.0]), FloatArray | Float)
