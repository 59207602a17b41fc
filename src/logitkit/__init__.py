"""logitkit: exact, fast softmax, log-softmax, logsumexp, the sigmoid family, losses,
information measures, top-k, sampling and sparsemax, from a model's logits.

    >>> import logitkit
    >>> logitkit.softmax([2.0, 1.0, 0.1]).round(3)
    array([0.659, 0.242, 0.099])

Every function has a pure-Python twin in `logitkit.reference`; `logitkit.testing` compares
the two on your own data. What each function computes, accepts, returns at the edges and
raises is the contract, docs/semantics.md in the repository.

The functions live in modules that mirror the reference's file for file: `_softmax` (softmax,
log_softmax, logsumexp), `_sigmoid` (the sigmoid family), `_logit`, `_information` (entropy,
kl_divergence), `_losses` (cross_entropy, binary_cross_entropy_with_logits), `_nll`,
`_decoding` (top_k, sample), `_sparsemax` and `_backward` (the vector-Jacobian products), with
the argument checks in `_validate`, the array views in `_layout`, the delivery of results in
`_results`, other libraries' arrays in `_interop` and the thread budget in `_threads`; all of
them call the one compiled module, `_ext`.
"""

from __future__ import annotations

import os as _os

from logitkit import _ext, reference, testing
from logitkit._backward import log_softmax_backward, sigmoid_backward, softmax_backward
from logitkit._decoding import sample, top_k
from logitkit._logit import logit
from logitkit._information import entropy, kl_divergence
from logitkit._losses import binary_cross_entropy_with_logits, cross_entropy
from logitkit._nll import nll_loss
from logitkit._sparsemax import sparsemax, sparsemax_backward
from logitkit._sigmoid import log_sigmoid, sigmoid, sigmoid_derivative, softplus
from logitkit._softmax import log_softmax, logsumexp, softmax
from logitkit._threads import get_num_threads, get_spin_us, set_num_threads, set_spin_us, threads

from logitkit._version import __version__

__all__ = [
    "softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
    "softplus", "logit", "entropy", "kl_divergence", "cross_entropy",
    "binary_cross_entropy_with_logits", "nll_loss", "top_k", "sample", "sparsemax",
    "softmax_backward", "log_softmax_backward", "sigmoid_backward", "sparsemax_backward",
    "simd_path", "simd_paths", "set_num_threads", "get_num_threads", "threads", "set_spin_us",
    "get_spin_us", "reference", "testing", "__version__",
]


def simd_path() -> str:
    """The SIMD code path the kernels run on.

    Returns
    -------
    str
        "avx512" (AVX-512 F/DQ/VL/BW), "avx2" (AVX2 and FMA) or "baseline" (SSE2 on x86-64,
        the portable vector code elsewhere, NEON on aarch64).

    See Also
    --------
    simd_paths : Every path this build can run on this CPU.

    Notes
    -----
    At import the fastest path the CPU supports is chosen, unless the ``LOGITKIT_SIMD``
    environment variable names one (``baseline``, ``avx2``, ``avx512`` or ``auto``); a path
    the CPU cannot run makes the import fail with `ImportError`. Every path meets the
    accuracy bars; results may differ between paths in the last bits.

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.simd_path() in lk.simd_paths()
    True
    """
    return str(_ext.simd_path())


def simd_paths() -> list[str]:
    """Every SIMD code path this build can run on this CPU, slowest first.

    Returns
    -------
    list of str
        Names from "baseline", "avx2" and "avx512"; "baseline" always comes first.

    See Also
    --------
    simd_path : The path in use (the last of these, unless ``LOGITKIT_SIMD`` chose another).

    Examples
    --------
    >>> import logitkit as lk
    >>> lk.simd_paths()[0]
    'baseline'
    """
    return list(_ext.simd_paths())


def _set_simd_path(name: str) -> None:
    """Run every kernel on the code path `name` (one of simd_paths()); for tests and benches."""
    _ext.select_simd_path(name)


def _select_simd_at_import() -> None:
    """The fastest path this CPU supports, unless LOGITKIT_SIMD names one."""
    wanted = _os.environ.get("LOGITKIT_SIMD", "").strip().lower()
    available = _ext.simd_paths()
    if wanted in ("", "auto"):
        _set_simd_path(available[-1])
    elif wanted in available:
        _set_simd_path(wanted)
    else:
        raise ImportError(f"LOGITKIT_SIMD={wanted!r} is not a code path this CPU can run; "
                          f"expected one of {available} or 'auto'")


_select_simd_at_import()
