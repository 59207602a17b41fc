"""The main job of `python -m logitkit`: the seeds' worked examples, from logits to answers.

1. A 3-class text classifier's logits [2.0, 1.0, 0.1]: probabilities 0.66 / 0.24 / 0.10, the
   log-probabilities, the predicted class (the argmax, no softmax needed) and the loss.
2. A 5-class layer: logits from np.random.seed(42); randn(5), then the sigmoid of W @ x + b and
   the sigmoid's derivative, which backpropagation multiplies by.
3. Why the careful formulas matter: a confident row, where the naive formulas return 0.
"""

from __future__ import annotations

import math
from typing import TextIO

import numpy as np

import logitkit

CLASSES = ("News", "Entertainment", "Technology")
SENTENCE = "The new smartphone has amazing features."


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.8g}" for v in np.asarray(values).tolist()) + "]"


def text_classifier(stream: TextIO) -> None:
    logits = np.array([2.0, 1.0, 0.1])
    probabilities = logitkit.softmax(logits)
    log_probabilities = logitkit.log_softmax(logits)
    predicted = int(np.argmax(logits))
    print(f"1. Classifying {SENTENCE!r} into {', '.join(CLASSES)}", file=stream)
    print(f"   logits                {_row(logits)}", file=stream)
    print(f"   softmax               {_row(probabilities)}"
          f"  (sum {float(probabilities.sum()):.17g})", file=stream)
    print(f"   log_softmax           {_row(log_probabilities)}", file=stream)
    print(f"   logsumexp             {float(logitkit.logsumexp(logits)):.17g}", file=stream)
    print(f"   sigmoid               {_row(logitkit.sigmoid(logits))}", file=stream)
    print(f"   sigmoid_derivative    {_row(logitkit.sigmoid_derivative(logits))}", file=stream)
    print(f"   predicted class       {predicted} ({CLASSES[predicted]}), probability "
          f"{float(probabilities[predicted]):.2f}", file=stream)
    print(f"   cross-entropy vs {predicted}    {-float(log_probabilities[predicted]):.17g}",
          file=stream)


def linear_layer(stream: TextIO) -> None:
    rng_state = np.random.get_state()
    try:
        np.random.seed(42)
        logits = np.random.randn(5)
        weights = np.random.randn(5, 5)
        inputs = np.random.randn(5)
    finally:
        np.random.set_state(rng_state)
    bias = np.ones(5)
    pre_activation = weights @ inputs + bias
    print("2. A 5-class layer (np.random.seed(42))", file=stream)
    print(f"   logits = randn(5)     {_row(logits)}", file=stream)
    print(f"   softmax               {_row(logitkit.softmax(logits))}", file=stream)
    print(f"   predicted class       {int(np.argmax(logits))}", file=stream)
    print(f"   W @ x + b             {_row(pre_activation)}", file=stream)
    print(f"   sigmoid(W @ x + b)    {_row(logitkit.sigmoid(pre_activation))}", file=stream)
    print(f"   sigmoid_derivative    {_row(logitkit.sigmoid_derivative(pre_activation))}",
          file=stream)


def confident_row(stream: TextIO) -> None:
    logits = np.array([0.0, -40.0])
    naive = float(logits[0] - np.log(np.sum(np.exp(logits))))
    print("3. A confident row [0, -40]: the top class's log-probability", file=stream)
    print(f"   log(sum(exp)) form    {naive!r}", file=stream)
    print(f"   logitkit.log_softmax  {float(logitkit.log_softmax(logits)[0])!r}"
          f"  (exact: -log1p(e^-40) = {-math.log1p(math.exp(-40.0))!r})", file=stream)
    s = 1.0 / (1.0 + math.exp(-40.0))
    print(f"   sigmoid'(40) as s(1-s) {s * (1.0 - s)!r}; logitkit "
          f"{float(logitkit.sigmoid_derivative(40.0))!r}", file=stream)


def main(stream: TextIO | None = None) -> int:
    import sys

    out = sys.stdout if stream is None else stream
    print(f"logitkit {logitkit.__version__} (numpy {np.__version__}); kernels: "
          f"{logitkit.simd_path()} SIMD path (this CPU supports "
          f"{', '.join(logitkit.simd_paths())})", file=out)
    print(file=out)
    text_classifier(out)
    print(file=out)
    linear_layer(out)
    print(file=out)
    confident_row(out)
    return 0
