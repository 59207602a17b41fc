# pyright: strict
"""Calls the public API's types must reject: tests/test_typing.py runs mypy --strict and
pyright (strict) over this file and checks that each line marked `# E:` has an error and that
no other line has one. Each is a mistake that would raise at run time, or a result used as
something it is not."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitkit import (binary_cross_entropy_with_logits, cross_entropy, log_softmax, logsumexp,
                      sigmoid, sigmoid_backward, softmax)

logits: NDArray[np.float64] = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
labels: NDArray[np.intp] = np.array([0, 2])
targets: NDArray[np.float64] = np.ones((2, 3))
ints: NDArray[np.int64] = np.zeros((2, 3), np.int64)

cross_entropy(logits, labels, reduction="avg")  # E: not a reduction
binary_cross_entropy_with_logits(logits, targets, reduction="avg")  # E: not a reduction
cross_entropy(logits, labels, label_smoothing="0.1")  # E: not a number
cross_entropy(logits, labels, axis=(0, 1))  # E: the class axis is a single int
softmax(logits, axis=1.5)  # E: not an integer axis
log_softmax(logits, out=ints)  # E: out= must be a float array
logsumexp(logits, return_sign="yes")  # E: not a bool
sigmoid(logits, axis=0)  # E: elementwise: no axis
sigmoid_backward(logits, logits, axis=0)  # E: elementwise: no axis
loss, grad = cross_entropy(logits, labels)  # E: without return_grad, not a pair
per_sample: NDArray[np.float64] = cross_entropy(logits, labels)  # E: "mean" is a scalar
rows: NDArray[Any] = logsumexp(logits)  # E: over the last axis: an array or a scalar
probability: float = softmax(logits)  # E: an array
softmax(logits, dim=0)  # E: PyTorch's dim= is axis= here


def mean_loss(reduction_name: str) -> None:
    cross_entropy(logits, labels, reduction=reduction_name)  # E: a str, not a Literal
