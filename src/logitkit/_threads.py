"""The settings of logitkit's thread pool: the thread cap and the idle spin.

Both are process-wide, like the limits threadpoolctl sets: a C pool (csrc/parallel.c) shared by
every Python thread reads them. Importing this module applies LOGITKIT_NUM_THREADS and
LOGITKIT_SPIN_US and makes threadpoolctl see logitkit, without importing threadpoolctl: the
controller is registered at once if threadpoolctl is already imported, and otherwise right
after its import, through a finder on sys.meta_path that waits for it.
"""

from __future__ import annotations

import operator
import os
import sys
import threading
from contextlib import AbstractContextManager
from types import ModuleType, TracebackType
from typing import Any, SupportsIndex

import numpy as np

from logitkit import _ext

__all__ = ["set_num_threads", "get_num_threads", "set_spin_us", "get_spin_us", "threads"]

MAX_THREADS: int = _ext.MAX_THREADS
MAX_SPIN_US: int = _ext.MAX_SPIN_US
DEFAULT_SPIN_US: int = _ext.DEFAULT_SPIN_US


def _checked(func: str, value: SupportsIndex, low: int, high: int) -> int:
    """`value` as an int from low to high, or the error that names `func`."""
    expected = f"an int from {low} to {high}"
    if isinstance(value, (bool, np.bool_)):         # operator.index takes them, a count does not
        raise TypeError(f"{func}: expected {expected}, got {value!r}")
    try:
        number = operator.index(value)              # int and NumPy integers, not floats
    except TypeError:
        raise TypeError(f"{func}: expected {expected}, got {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{func}: expected {expected}, got {number}")
    return number


def set_num_threads(n: SupportsIndex) -> None:
    """Set the most threads logitkit uses, per call and for all concurrent calls together.

    Calls from several Python threads share this one budget, so N threads calling at once never
    run N x n threads. Work below 2^18 elements always runs on the calling thread. Helper
    threads are started by the first call that needs them and kept for later calls.

    Parameters
    ----------
    n : int
        The cap, from 1 to 256 (a Python or NumPy integer).

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If `n` is not an integer (a float, a bool, a string).
    ValueError
        If `n` is outside 1 to 256.

    See Also
    --------
    threads : the same cap for a ``with`` block only.

    Examples
    --------
    >>> import logitkit
    >>> before = logitkit.get_num_threads()
    >>> logitkit.set_num_threads(2)
    >>> logitkit.get_num_threads()
    2
    >>> logitkit.set_num_threads(before)
    """
    _ext.set_num_threads(_checked("set_num_threads", n, 1, MAX_THREADS))


def get_num_threads() -> int:
    """Return the most threads logitkit uses.

    Returns
    -------
    int
        The cap: the last `set_num_threads` (or `threads` block, or threadpoolctl limit), else
        the `LOGITKIT_NUM_THREADS` environment variable, else the CPUs this process may run on
        (at most 256).

    Examples
    --------
    >>> import logitkit
    >>> with logitkit.threads(3):
    ...     logitkit.get_num_threads()
    3
    """
    return int(_ext.get_num_threads())


def set_spin_us(us: SupportsIndex) -> None:
    """Set how long an idle thread of logitkit spins before it sleeps, in microseconds.

    A helper that has finished its part of a call, a caller waiting for its helpers and a team
    of threads at a barrier spin for up to `us` microseconds, then sleep until they are woken.
    Spinning lets the next call of a loop find its helpers awake; turning it off (0) lets a
    waiting thread give its core away at once, which is what many processes running side by
    side (Dask workers, joblib) want. Results are the same for every value.

    Parameters
    ----------
    us : int
        The spin bound, from 0 (sleep at once) to 10000; the default is 200, or the
        `LOGITKIT_SPIN_US` environment variable.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If `us` is not an integer.
    ValueError
        If `us` is outside 0 to 10000.

    Examples
    --------
    >>> import logitkit
    >>> before = logitkit.get_spin_us()
    >>> logitkit.set_spin_us(0)
    >>> logitkit.get_spin_us()
    0
    >>> logitkit.set_spin_us(before)
    """
    _ext.set_spin_us(_checked("set_spin_us", us, 0, MAX_SPIN_US))


def get_spin_us() -> int:
    """Return how long an idle thread of logitkit spins before it sleeps, in microseconds.

    Returns
    -------
    int
        The spin bound; 0 means a waiting thread sleeps at once.

    Examples
    --------
    >>> import logitkit
    >>> with logitkit.threads(spin_us=0):
    ...     logitkit.get_spin_us()
    0
    """
    return int(_ext.get_spin_us())


# Makes a block's read-then-set one step, so that two blocks entered at once in different
# threads each save a value that was really in force.
_settings_lock = threading.Lock()


class _ThreadSettings:
    """The context manager `threads` returns (an AbstractContextManager by its methods)."""

    __slots__ = ("_num_threads", "_spin_us", "_saved")

    def __init__(self, num_threads: int | None, spin_us: int | None) -> None:
        self._num_threads = num_threads
        self._spin_us = spin_us
        self._saved: list[tuple[int, int]] = []         # a stack: one object may be nested

    def __enter__(self) -> None:
        with _settings_lock:
            self._saved.append((get_num_threads(), get_spin_us()))
            if self._num_threads is not None:
                _ext.set_num_threads(self._num_threads)
            if self._spin_us is not None:
                _ext.set_spin_us(self._spin_us)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        num_threads, spin_us = self._saved.pop()
        with _settings_lock:
            # only what this block set: a setting changed inside it for another reason stays
            if self._num_threads is not None:
                _ext.set_num_threads(num_threads)
            if self._spin_us is not None:
                _ext.set_spin_us(spin_us)


def threads(n: SupportsIndex | None = None, *,
            spin_us: SupportsIndex | None = None) -> AbstractContextManager[None]:
    """Set the thread cap (and optionally the idle spin) for a ``with`` block.

    On leaving the block, also through an exception, each setting the block changed gets back
    the value it had on entering. Blocks nest. The settings are process-wide, as
    threadpoolctl's limits are: a block in one Python thread changes them for calls in every
    thread, and blocks in several threads that overlap without nesting restore in the order
    they are left, so the values after them may not be the ones before. Enter blocks from one
    thread, or around whole multithreaded sections.

    Parameters
    ----------
    n : int, optional
        The cap inside the block, from 1 to 256, as for `set_num_threads`. None (the default)
        keeps the current cap.
    spin_us : int, optional
        The idle spin inside the block, from 0 to 10000 microseconds, as for `set_spin_us`.
        None (the default) keeps the current spin.

    Returns
    -------
    contextlib.AbstractContextManager
        A context manager whose ``with`` block runs with these settings; it can be entered
        more than once, also nested.

    Raises
    ------
    TypeError
        If `n` or `spin_us` is not an integer (or None).
    ValueError
        If `n` or `spin_us` is out of its range. Both are checked when `threads` is called,
        before any setting changes.

    Examples
    --------
    >>> import logitkit
    >>> before = logitkit.get_num_threads()
    >>> with logitkit.threads(1):
    ...     with logitkit.threads(2, spin_us=0):
    ...         (logitkit.get_num_threads(), logitkit.get_spin_us())
    ...     logitkit.get_num_threads()
    (2, 0)
    1
    >>> logitkit.get_num_threads() == before
    True
    """
    return _ThreadSettings(
        None if n is None else _checked("threads", n, 1, MAX_THREADS),
        None if spin_us is None else _checked("threads", spin_us, 0, MAX_SPIN_US))


# ---------------------------------------------------------------- the settings at import

def _from_environment(name: str, low: int, high: int) -> int | None:
    """The int in environment variable `name`, None if it is unset or blank; ImportError for
    anything else than an int from low to high, so that a typo never goes unnoticed."""
    wanted = os.environ.get(name, "").strip()
    if not wanted:
        return None
    try:
        value = int(wanted)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ImportError(f"{name}={wanted!r}: expected an int from {low} to {high}")
    return value


def _default_num_threads() -> int:
    """LOGITKIT_NUM_THREADS, else the CPUs this process may run on (at most 256)."""
    wanted = _from_environment("LOGITKIT_NUM_THREADS", 1, MAX_THREADS)
    if wanted is not None:
        return wanted
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_THREADS)       # a machine with more CPUs: the most one call uses


def _default_spin_us() -> int:
    """LOGITKIT_SPIN_US, else the pool's default."""
    wanted = _from_environment("LOGITKIT_SPIN_US", 0, MAX_SPIN_US)
    return DEFAULT_SPIN_US if wanted is None else wanted


# ---------------------------------------------------------------- threadpoolctl

def _controller_class(base: Any) -> Any:
    """threadpoolctl's controller for logitkit, a subclass of its LibController `base`.

    threadpoolctl finds the loaded shared libraries whose names start with a prefix and keeps
    those that export the check symbols: logitkit's `_ext` module exports the cap as two plain
    C functions (csrc/parallel.h), which `dynlib` (a ctypes.CDLL of that file) calls."""

    class LogitkitController(base):  # type: ignore[misc]
        user_api = "logitkit"
        internal_api = "logitkit"
        filename_prefixes = ("_ext",)
        check_symbols = ("logitkit_get_num_threads", "logitkit_set_num_threads")

        def get_num_threads(self) -> int:
            return int(self.dynlib.logitkit_get_num_threads())

        def set_num_threads(self, num_threads: int) -> None:
            self.dynlib.logitkit_set_num_threads(int(num_threads))

        def get_version(self) -> str | None:
            # threadpoolctl asks before it checks the symbols: another package's `_ext` gets
            # None here and is then passed over
            if not hasattr(self.dynlib, "logitkit_get_num_threads"):
                return None
            return getattr(sys.modules.get("logitkit"), "__version__", None)

    return LogitkitController


_registered = False


def _register_with(threadpoolctl: ModuleType) -> None:
    """Register logitkit's controller with this threadpoolctl (once; nothing for a version
    without `register`)."""
    global _registered
    base = getattr(threadpoolctl, "LibController", None)
    register = getattr(threadpoolctl, "register", None)
    if _registered or base is None or register is None:
        return
    register(_controller_class(base))
    _registered = True


class _RegisterOnImport:
    """A finder on sys.meta_path that registers logitkit with threadpoolctl just after
    threadpoolctl is imported, and then leaves sys.meta_path.

    It finds threadpoolctl's spec with the finders after it and wraps the spec's loader (as
    importlib.util.LazyLoader wraps one), so the import itself is unchanged; the module gets
    back its own loader once it has run."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "threadpoolctl":
            return None
        finders = sys.meta_path
        after = finders[finders.index(self) + 1:] if self in finders else finders
        for finder in after:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(fullname, path, target) if find_spec is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


class _RegisteringLoader:
    """Runs the module with its own loader, then registers logitkit's controller."""

    def __init__(self, loader: Any, finder: _RegisterOnImport) -> None:
        self._loader = loader
        self._finder = finder

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        _register_with(module)

    def __getattr__(self, name: str) -> Any:          # the rest of the loader's protocol
        return getattr(self._loader, name)


def _watch_for_threadpoolctl() -> None:
    threadpoolctl = sys.modules.get("threadpoolctl")
    if threadpoolctl is not None:
        _register_with(threadpoolctl)
    elif not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())


set_num_threads(_default_num_threads())
set_spin_us(_default_spin_us())
_watch_for_threadpoolctl()
