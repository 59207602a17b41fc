"""logitkit: numerically exact, fast softmax, log-softmax, logsumexp and the sigmoid family.

    >>> import logitkit
    >>> logitkit.softmax([2.0, 1.0, 0.1]).round(3)
    array([0.659, 0.242, 0.099])

Every function has a pure-Python twin in `logitkit.reference`; `logitkit.testing` compares
the two on your own data. What each function computes, accepts, returns at the edges and
raises is the contract, docs/semantics.md in the repository.

The functions live in modules that mirror the reference's file for file: `_softmax` (softmax,
log_softmax, logsumexp), `_sigmoid` (the sigmoid family), `_losses` (cross_entropy,
binary_cross_entropy_with_logits) and `_backward` (the vector-Jacobian products), with the
argument checks in `_validate`, the array views in `_layout` and the delivery of results in
`_results`; all of them call the one compiled module, `_ext`.
"""

from __future__ import annotations

import operator as _operator
import os as _os
from typing import SupportsIndex as _SupportsIndex

import numpy as _np

from logitkit import _ext, reference, testing
from logitkit._backward import log_softmax_backward, sigmoid_backward, softmax_backward
from logitkit._losses import binary_cross_entropy_with_logits, cross_entropy
from logitkit._sigmoid import log_sigmoid, sigmoid, sigmoid_derivative, softplus
from logitkit._softmax import log_softmax, logsumexp, softmax

from logitkit._version import __version__

__all__ = [
    "softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
    "softplus", "cross_entropy", "binary_cross_entropy_with_logits", "softmax_backward",
    "log_softmax_backward", "sigmoid_backward", "simd_path", "simd_paths", "set_num_threads",
    "get_num_threads", "reference", "testing", "__version__",
]


def simd_path() -> str:
    """The code path the kernels run: "avx512" (AVX-512 F/DQ/VL/BW), "avx2" (AVX2 + FMA) or
    "baseline" (SSE2 / plain C)."""
    return str(_ext.simd_path())


def simd_paths() -> list[str]:
    """Every code path this build can run on this CPU, slowest first."""
    return list(_ext.simd_paths())


def set_num_threads(n: _SupportsIndex) -> None:
    """Upper bound on the threads logitkit uses: per call, and for all concurrent calls
    together (calls from several user threads share it, so they never oversubscribe the
    cores). Work below 2^18 elements always runs on the calling thread. Helper threads are
    started by the first call that needs them and kept for later calls: an idle one spins for
    up to 200 us, then sleeps until it is given work."""
    if isinstance(n, (bool, _np.bool_)):
        raise TypeError(f"set_num_threads: expected an int >= 1, got {n!r}")
    try:
        count = _operator.index(n)          # int and NumPy integers, not floats
    except TypeError:
        raise TypeError(f"set_num_threads: expected an int >= 1, got {n!r}") from None
    if not 1 <= count <= _ext.MAX_THREADS:
        raise ValueError(f"set_num_threads: expected an int from 1 to {_ext.MAX_THREADS}, "
                         f"got {count}")
    _ext.set_num_threads(count)


def get_num_threads() -> int:
    """The current upper bound (default: the CPUs this process may run on, or the
    LOGITKIT_NUM_THREADS environment variable)."""
    return int(_ext.get_num_threads())


def _default_num_threads() -> int:
    wanted = _os.environ.get("LOGITKIT_NUM_THREADS", "").strip()
    if wanted:
        try:
            value = int(wanted)
        except ValueError:
            value = 0
        if not 1 <= value <= _ext.MAX_THREADS:
            raise ImportError(f"LOGITKIT_NUM_THREADS={wanted!r}: expected an int from 1 to "
                              f"{_ext.MAX_THREADS}")
        return value
    try:
        cpus = len(_os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = _os.cpu_count() or 1
    return min(cpus, _ext.MAX_THREADS)      # a machine with more CPUs: the most one call uses


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
set_num_threads(_default_num_threads())
