"""logitkit on Dask arrays: the same functions, over chunked arrays that need not fit in memory.

    import dask.array as da
    import logitkit.dask as lkd
    x = da.random.default_rng(0).normal(size=(100_000, 32_000), chunks=(1_000, 8_000))
    lse = lkd.logsumexp(x, axis=-1)          # lazy: a Dask array; lse.compute() runs it

Every function takes a Dask array (anything else is wrapped with `dask.array.asarray`) and
returns a lazy Dask array with the signature and the semantics of its in-memory twin in
`logitkit` (the contract, docs/semantics.md): the same dtype rules, `axis` as an int, a tuple or
None, the same values at the edges (NaN / +inf / all -inf slices, `where` masks, empty arrays),
no warnings.

How the work is split:
- Elementwise functions (sigmoid, sigmoid_derivative, log_sigmoid, softplus,
  binary_cross_entropy_with_logits) run logitkit's kernels on every block.
- Softmax-family functions run logitkit's kernels on every block when each reduced axis sits in
  one chunk. When a reduced axis is split across chunks they never rechunk it: a first pass
  reduces every block to a per-slice state (max m, count k of entries equal to m, and the sum
  r of exp(x - m) over the other entries, in float64 for every input dtype), states are combined
  in a tree (r is rescaled by exp(m_chunk - m_global), with m_chunk - m_global exact by TwoSum,
  and accumulated as a double-double), and a second pass normalises every block against the
  combined state, with x - max exact and the log of the total as a double-double as in the
  in-memory kernels. Results agree with the in-memory functions to a few ULP (the tests check
  4 ULP for softmax, 3 for log_softmax and logsumexp).
- cross_entropy computes a per-sample loss per block (with `logitkit.cross_entropy` when the
  class axis sits in one chunk; a split class axis takes the two-pass scheme above for its
  log_softmax) and sums the per-chunk partial results.

Not supported (NotImplementedError, with the reason): `out=` (Dask arrays are immutable:
`dask.array.store` writes a result into an array), logsumexp's `b=` when a reduced axis is split
across chunks (rechunk the reduced axes into one chunk, or drop `b`), and `return_grad=True` for
the losses. Errors that depend on the data (a class index out of range: ValueError naming its
position in the whole target array, as the in-memory function does) are raised when the result
is computed, as in every Dask computation.

Importing `logitkit` does not import Dask; importing `logitkit.dask` does (install the `dask`
extra: `pip install logitkit[dask]`).

The parts: `_reductions` (softmax, log_softmax, logsumexp), `_state` (the two-pass scheme),
`_elementwise` (the sigmoid family), `_losses` and `_common` (argument checks and helpers).
"""

from logitkit.dask._elementwise import log_sigmoid, sigmoid, sigmoid_derivative, softplus
from logitkit.dask._information import entropy, kl_divergence
from logitkit.dask._losses import binary_cross_entropy_with_logits, cross_entropy
from logitkit.dask._reductions import log_softmax, logsumexp, softmax
from logitkit.dask._elementwise import logit
from logitkit.dask._losses import nll_loss

__all__ = [
    "softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
    "softplus", "cross_entropy", "binary_cross_entropy_with_logits",
    "logit",
    "nll_loss",
    "entropy", "kl_divergence",
]


def __dir__() -> list[str]:
    """The public API and the module's dunder names, not the private submodules."""
    return sorted([*__all__, *(n for n in globals() if n.startswith("__") and n.endswith("__"))])
