"""The libraries compared in bench/run.py and bench/accuracy.py: logitkit, PyTorch, SciPy.

One registry, ``IMPLS[library][function]``, gives an :class:`Impl` per public logitkit function:
``prepare`` turns the NumPy input into the library's own input type once (outside any timing),
``call(prepared, axis)`` is the timed call (``axis`` is ignored by the sigmoid family), and
``to_numpy`` turns its result back. A missing library (or function) is simply absent.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

REDUCTIONS = ("softmax", "log_softmax", "logsumexp")
ELEMENTWISE = ("sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus")
LIBRARIES = ("logitkit", "torch", "scipy")


@dataclass(frozen=True)
class Impl:
    call: Callable[[Any, Any], Any]
    prepare: Callable[[np.ndarray], Any] = lambda x: x
    to_numpy: Callable[[Any], np.ndarray] = np.asarray

    def __call__(self, x, axis=-1):
        """Prepare, call and convert back: the result as a NumPy array."""
        return self.to_numpy(self.call(self.prepare(x), axis))


def _try_import(name):
    try:
        return importlib.import_module(name)
    except Exception:       # not installed, or broken: the column shows "-"
        return None


def load(name):
    """The imported module of one library, or None."""
    if name == "scipy":
        return _try_import("scipy.special")
    mod = _try_import(name)
    if name == "logitkit" and mod is not None and not hasattr(mod, "softmax"):
        return None
    return mod


def version(name):
    mod = _try_import(name)
    return getattr(mod, "__version__", "?") if mod is not None else "-"


def _logitkit(lk):
    impls = {}
    for f in REDUCTIONS:
        fn = getattr(lk, f, None)
        if fn is not None:
            impls[f] = Impl(lambda x, axis, fn=fn: fn(x, axis=axis))
    for f in ELEMENTWISE:
        fn = getattr(lk, f, None)
        if fn is not None:
            impls[f] = Impl(lambda x, axis, fn=fn: fn(x))
    return impls


def _torch(torch):
    F = torch.nn.functional
    prep = torch.from_numpy
    out = lambda t: t.numpy()  # noqa: E731

    def dsig(t, axis):
        s = torch.sigmoid(t)
        return s * (1 - s)

    calls = {
        "softmax": lambda t, axis: torch.softmax(t, dim=axis),
        "log_softmax": lambda t, axis: torch.log_softmax(t, dim=axis),
        "logsumexp": lambda t, axis: torch.logsumexp(t, dim=axis),
        "sigmoid": lambda t, axis: torch.sigmoid(t),
        "sigmoid_derivative": dsig,
        "log_sigmoid": lambda t, axis: F.logsigmoid(t),
        "softplus": lambda t, axis: F.softplus(t),
    }
    return {f: Impl(c, prep, out) for f, c in calls.items()}


def _scipy(sp):
    def dsig(x, axis):
        s = sp.expit(x)
        return s * (1 - s)

    softplus = getattr(sp, "softplus", None)
    calls = {
        "softmax": lambda x, axis: sp.softmax(x, axis=axis),
        "log_softmax": lambda x, axis: sp.log_softmax(x, axis=axis),
        "logsumexp": lambda x, axis: sp.logsumexp(x, axis=axis),
        "sigmoid": lambda x, axis: sp.expit(x),
        "sigmoid_derivative": dsig,
        "log_sigmoid": lambda x, axis: sp.log_expit(x),
        "softplus": (lambda x, axis: softplus(x)) if softplus is not None
        else (lambda x, axis: -sp.log_expit(-x)),
    }
    return {f: Impl(c) for f, c in calls.items()}


def implementations(libraries=LIBRARIES):
    """``{library: {function: Impl}}`` for the libraries that import."""
    makers = {"logitkit": _logitkit, "torch": _torch, "scipy": _scipy}
    impls = {}
    for name in libraries:
        mod = load(name)
        if mod is not None:
            impls[name] = makers[name](mod)
    return impls


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def logitkit_info():
    """(SIMD path, thread count) as strings, '-' when logitkit or the function is missing."""
    lk = load("logitkit")
    if lk is None:
        return "-", "-"
    simd = getattr(lk, "simd_path", None)
    nthreads = getattr(lk, "get_num_threads", None)
    try:
        simd = str(simd()) if callable(simd) else str(simd or "?")
    except Exception as e:  # report, don't fail the bench
        simd = f"? ({type(e).__name__})"
    try:
        nthreads = str(nthreads()) if callable(nthreads) else "?"
    except Exception:
        nthreads = "?"
    return simd, nthreads
