"""Pure-Python reference implementations of every public logitkit function.

Written for clarity and accuracy, not speed: the test suite checks the fast path against these,
and `logitkit.testing` compares the two on your own data. The arithmetic is plain Python: floats,
the ``math`` module and ``math.fsum``, exact integers and rationals where a sum or a product must
not round; no NumPy in the arithmetic. NumPy is used only to accept and return arrays, read
dtypes and move axes around. Every result is computed in float64 (Python floats) whatever the
dtype, and rounded to the output dtype once, at the end. The semantics at the edges follow the
contract (docs/semantics.md), as the fast functions do.

The twins mirror the fast modules:

* `logitkit.reference._softmax`: softmax, log_softmax, logsumexp (exact sums of exponentials);
* `logitkit.reference._sigmoid`: sigmoid, sigmoid_derivative, log_sigmoid, softplus;
  logit;
* `logitkit.reference._losses`: cross_entropy, binary_cross_entropy_with_logits, nll_loss;
* `logitkit.reference._backward`: softmax_backward, log_softmax_backward, sigmoid_backward;
* `logitkit.reference._decoding`: top_k, sample;

* `logitkit.reference._sparsemax`: sparsemax, sparsemax_backward (exact rationals);

with the argument handling they share in `_common` and exact dyadic arithmetic in `_exact`.

Conventions of the softmax and sigmoid families: a NumPy input (or any call with ``out=`` or
``dtype=``) gives a NumPy result of the result dtype (a NumPy scalar for a 0-d result); a list
or tuple gives nested lists of Python floats; a Python scalar gives a Python float.
"""

from logitkit.reference._backward import log_softmax_backward, sigmoid_backward, softmax_backward
from logitkit.reference._decoding import sample, top_k
from logitkit.reference._information import entropy, kl_divergence
from logitkit.reference._losses import binary_cross_entropy_with_logits, cross_entropy
from logitkit.reference._sigmoid import log_sigmoid, sigmoid, sigmoid_derivative, softplus
from logitkit.reference._softmax import log_softmax, logsumexp, softmax
from logitkit.reference._sigmoid import logit
from logitkit.reference._losses import nll_loss
from logitkit.reference._sparsemax import sparsemax, sparsemax_backward

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "sigmoid",
    "sigmoid_derivative",
    "log_sigmoid",
    "softplus",
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "softmax_backward",
    "log_softmax_backward",
    "sigmoid_backward",
    "top_k",
    "sample",
    "logit",
    "nll_loss",
    "sparsemax",
    "sparsemax_backward",
    "entropy",
    "kl_divergence",
]
