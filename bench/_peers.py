"""The libraries compared in bench/run.py and bench/accuracy.py: logitkit, PyTorch, SciPy.

One registry, ``IMPLS[library][function]``, gives an :class:`Impl` per public logitkit function:
``prepare`` turns the NumPy input into the library's own input type once (outside any timing),
``bind(prepared, axis)`` gives the timed zero-argument call (a ``functools.partial``, so every
library pays the same small call overhead), and ``to_numpy`` turns a result back. The axis is
passed positionally (``softmax(x, axis)``, ``torch.softmax(t, dim)``, ...). A missing library
(or function) is simply absent.

Which functions there are, and which of them work along an axis, comes from logitkit's one table
of public functions (logitkit._registry); the peers' columns map those names to their own
functions.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import numpy as np

from logitkit._registry import FUNCTIONS as _REGISTERED

#: The registered functions these benches compare: the reductions along an axis (called
#: ``fn(x, axis)``) and the sigmoid family (``fn(x)``).
REDUCTIONS = tuple(f.name for f in _REGISTERED if f.kind in ("normalize", "reduce"))
ELEMENTWISE = tuple(f.name for f in _REGISTERED if f.kind == "elementwise")
LIBRARIES = ("logitkit", "torch", "scipy")
#: entropy and kl_divergence: measured by bench/information.py and, with their own peers'
#: formulas (information_impls), by bench/accuracy.py; kl_divergence takes two arrays
INFORMATION = ("entropy", "kl_divergence")
REDUCTIONS = tuple(f for f in REDUCTIONS if f not in INFORMATION)


@dataclass(frozen=True)
class Impl:
    """One library's version of one function: ``fn(x, axis)`` or, without ``takes_axis``,
    ``fn(x)``, on inputs made by ``prepare``; results back to NumPy with ``to_numpy``."""
    fn: Callable[..., Any]
    takes_axis: bool
    prepare: Callable[[np.ndarray], Any] = lambda x: x
    to_numpy: Callable[[Any], np.ndarray] = np.asarray

    def call(self, arg, axis=-1):
        return self.fn(arg, axis) if self.takes_axis else self.fn(arg)

    def bind(self, arg, axis=-1):
        """A zero-argument callable for timing, with as little call overhead as possible."""
        return partial(self.fn, arg, axis) if self.takes_axis else partial(self.fn, arg)

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
    return {f: Impl(getattr(lk, f), f in REDUCTIONS) for f in REDUCTIONS + ELEMENTWISE
            if hasattr(lk, f)}


def _torch(torch):
    F = torch.nn.functional

    def sigmoid_derivative(t):
        s = torch.sigmoid(t)
        return s * (1 - s)

    fns = {"softmax": torch.softmax, "log_softmax": torch.log_softmax,
           "logsumexp": torch.logsumexp, "sigmoid": torch.sigmoid,
           "sigmoid_derivative": sigmoid_derivative, "log_sigmoid": F.logsigmoid,
           "softplus": F.softplus}
    fns["logit"] = torch.logit
    return {f: Impl(fn, f in REDUCTIONS, torch.from_numpy, lambda t: t.numpy())
            for f, fn in fns.items()}


def _scipy(sp):
    def sigmoid_derivative(x):
        s = sp.expit(x)
        return s * (1 - s)

    def softplus(x):            # scipy.special.softplus is new in SciPy 1.15
        return -sp.log_expit(-x)

    fns = {"softmax": sp.softmax, "log_softmax": sp.log_softmax, "logsumexp": sp.logsumexp,
           "sigmoid": sp.expit, "sigmoid_derivative": sigmoid_derivative,
           "log_sigmoid": sp.log_expit, "softplus": getattr(sp, "softplus", softplus)}
    fns["logit"] = sp.logit
    return {f: Impl(fn, f in REDUCTIONS) for f, fn in fns.items()}


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


def information_impls(libraries=LIBRARIES):
    """``{library: {"entropy": fn, "kl_divergence": fn}}`` for the libraries that import, each
    ``fn(*arrays, axis=...)`` returning a NumPy array: logitkit's functions, and the peers'
    usual formulas on their softmax output. PyTorch: ``Categorical(logits=x).entropy()`` and
    ``F.kl_div(F.log_softmax(q), F.log_softmax(p), log_target=True, reduction="none").sum()``;
    SciPy: ``entr(softmax(x)).sum()`` (what ``scipy.stats.entropy`` computes) and
    ``rel_entr(softmax(p), softmax(q)).sum()``."""
    impls = {}
    for name in libraries:
        mod = load(name)
        if mod is None:
            continue
        if name == "logitkit":
            impls[name] = {"entropy": lambda x, axis=-1, _m=mod: _m.entropy(x, axis=axis),
                           "kl_divergence": lambda p, q, axis=-1, _m=mod:
                           _m.kl_divergence(p, q, axis=axis)}
        elif name == "torch":
            impls[name] = _torch_information(mod)
        elif name == "scipy":
            impls[name] = {
                "entropy": lambda x, axis=-1, _s=mod: _s.entr(_s.softmax(x, axis)).sum(axis),
                "kl_divergence": lambda p, q, axis=-1, _s=mod:
                _s.rel_entr(_s.softmax(p, axis), _s.softmax(q, axis)).sum(axis)}
    return impls


def _torch_information(torch):
    F = torch.nn.functional

    def entropy(x, axis=-1):
        t = torch.from_numpy(np.ascontiguousarray(x)).movedim(axis, -1)
        return torch.distributions.Categorical(logits=t, validate_args=False).entropy().numpy()

    def kl_divergence(p, q, axis=-1):
        tp, tq = (torch.from_numpy(np.ascontiguousarray(a)) for a in (p, q))
        return F.kl_div(F.log_softmax(tq, axis), F.log_softmax(tp, axis), log_target=True,
                        reduction="none").sum(axis).numpy()

    return {"entropy": entropy, "kl_divergence": kl_divergence}
