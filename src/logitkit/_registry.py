"""The one table of logitkit's public functions.

Every consumer that needs "all the functions" reads it: `logitkit.testing`, the CLI's `verify`,
the test suite (equivalence, bad input, threads, Dask), the benches and the docs check. Adding
a public function is one row here plus its kernel, its reference twin, its tests and its docs
entry; `tests/test_registry.py` checks that each registered function has all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

Kind = Literal["normalize", "reduce", "elementwise", "loss", "backward", "select"]

#: `logitkit.reference` is itself rounded once (to within half an ULP of the exact result), and
#: float16 results of the fast path are rounded twice (computed in float32, then to float16): a
#: comparison with the reference rather than with the exact result allows this much more than
#: a function's bar.
REFERENCE_SLACK_ULP = 1


@dataclass(frozen=True)
class Function:
    """One public function of logitkit.

    kind
        "normalize": softmax-like, a result of the input's shape computed over `axis`;
        "reduce": logsumexp-like, `axis` reduced away; "elementwise": the sigmoid family;
        "loss": a loss against targets; "backward": a vector-Jacobian product; "select":
        classes chosen from logits (top_k, sample), whose results are input values and
        indices.
    max_ulp
        The accuracy bar: the worst distance from the exact result, in ULPs of the result
        dtype, on the adversarial suite (float32 and float64 alike); 0 for "select", whose
        results are exact (the chosen values themselves, indices).
    cli
        The CLI subcommand that runs it, or None.
    dask
        Whether `logitkit.dask` has a twin of the same name.
    kernel, binding
        Where its C algorithm (src/logitkit/csrc/kernels/) and its Cython binding
        (src/logitkit/binding/) live, for readers and for the registry's test.
    """

    name: str
    kind: Kind
    max_ulp: float
    cli: str | None = None
    dask: bool = False
    kernel: str = ""
    binding: str = ""

    @property
    def max_ulp_vs_reference(self) -> float:
        """The bar for a comparison with `logitkit.reference` instead of the exact result:
        `max_ulp` plus `REFERENCE_SLACK_ULP`."""
        return self.max_ulp + REFERENCE_SLACK_ULP

    @property
    def fast(self) -> Callable[..., object]:
        import logitkit

        return getattr(logitkit, self.name)  # type: ignore[no-any-return]

    @property
    def reference(self) -> Callable[..., object]:
        from logitkit import reference

        return getattr(reference, self.name)  # type: ignore[no-any-return]


_SOFTMAX = {"kernel": "softmax-inl.h", "binding": "softmax.pxi"}
_SIGMOID = {"kernel": "sigmoid-inl.h", "binding": "sigmoid.pxi"}
_BACKWARD = {"kernel": "backward-inl.h", "binding": "backward.pxi"}
_INFORMATION = {"kernel": "entropy-inl.h", "binding": "entropy.pxi"}

FUNCTIONS: tuple[Function, ...] = (
    Function("softmax", "normalize", 4, cli="softmax", dask=True, **_SOFTMAX),
    Function("log_softmax", "normalize", 2, cli="log-softmax", dask=True, **_SOFTMAX),
    Function("logsumexp", "reduce", 2, cli="logsumexp", dask=True, **_SOFTMAX),
    Function("sigmoid", "elementwise", 2, cli="sigmoid", dask=True, **_SIGMOID),
    Function("sigmoid_derivative", "elementwise", 2, cli="sigmoid-derivative", dask=True,
             **_SIGMOID),
    Function("log_sigmoid", "elementwise", 2, cli="log-sigmoid", dask=True, **_SIGMOID),
    Function("softplus", "elementwise", 2, cli="softplus", dask=True, **_SIGMOID),
    Function("cross_entropy", "loss", 4, cli="cross-entropy", dask=True,
             kernel="cross_entropy_rows-inl.h", binding="cross_entropy.pxi"),
    Function("binary_cross_entropy_with_logits", "loss", 4, cli="bce", dask=True,
             kernel="bce-inl.h", binding="bce.pxi"),
    Function("softmax_backward", "backward", 4, **_BACKWARD),
    Function("log_softmax_backward", "backward", 4, **_BACKWARD),
    Function("sigmoid_backward", "backward", 4, **_BACKWARD),
    Function("top_k", "select", 0, cli="top-k", kernel="top_k-inl.h", binding="top_k.pxi"),
    Function("sample", "select", 0, cli="sample", kernel="sample-inl.h", binding="sample.pxi"),
    Function("logit", "elementwise", 2, cli="logit", dask=True, kernel="logit-inl.h",
             binding="logit.pxi"),
    Function("nll_loss", "loss", 2, cli="nll", dask=True, kernel="nll-inl.h",
             binding="nll.pxi"),
    Function("sparsemax", "normalize", 4, kernel="sparsemax-inl.h", binding="sparsemax.pxi"),
    Function("sparsemax_backward", "backward", 4, kernel="sparsemax-inl.h",
             binding="sparsemax.pxi"),
    Function("entropy", "reduce", 4, cli="entropy", dask=True, **_INFORMATION),
    Function("kl_divergence", "reduce", 4, dask=True, **_INFORMATION),
)

BY_NAME: dict[str, Function] = {f.name: f for f in FUNCTIONS}


def function(name: str) -> Function:
    """The registry entry of `name`; ValueError naming the known functions otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(f.name for f in FUNCTIONS)
        raise ValueError(f"{name!r} is not a logitkit function; expected one of: {known}") from None
