"""`logitkit bench`: a quick benchmark against the naive NumPy formulas, on one thread."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import logitkit
from logitkit.cli._common import EXIT_OK, UserError

SHAPES = [(4096, 10), (1024, 1000), (4, 250_000)]


def _naive_softmax(a: np.ndarray) -> Any:
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _naive_log_softmax(a: np.ndarray) -> Any:
    return np.log(_naive_softmax(a))


def _naive_logsumexp(a: np.ndarray) -> Any:
    return np.log(np.exp(a - a.max(-1, keepdims=True)).sum(-1)) + a.max(-1)


def _naive_sigmoid(a: np.ndarray) -> Any:
    return 1 / (1 + np.exp(-a))


def run(args: argparse.Namespace) -> int:
    """Best time per call of logitkit and of the naive formula, on one thread: the kernels' own
    speed, not the machine's core count (the previous thread count is restored after)."""
    if args.seconds <= 0:
        raise UserError("--seconds must be positive")
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    cases: list[tuple[str, tuple[int, int], Callable[[np.ndarray], Any],
                      Callable[[np.ndarray], Any]]] = []
    for shape in SHAPES:
        cases.append(("softmax", shape, logitkit.softmax, _naive_softmax))
        cases.append(("log_softmax", shape, logitkit.log_softmax, _naive_log_softmax))
        cases.append(("logsumexp", shape, logitkit.logsumexp, _naive_logsumexp))
    cases.append(("sigmoid", (1, 1_000_000), logitkit.sigmoid, _naive_sigmoid))
    budget = args.seconds / (2 * len(cases))
    results = []
    progress = sys.stderr
    threads = logitkit.get_num_threads()
    logitkit.set_num_threads(1)
    try:
        with np.errstate(all="ignore"):
            for i, (name, shape, fast, naive) in enumerate(cases, 1):
                label = f"{name} {shape[0]}x{shape[1]}"
                progress.write(f"\r[{i}/{len(cases)}] {label:<28}" + ("\n" if not
                                                                       progress.isatty() else ""))
                progress.flush()
                a = (rng.standard_normal(shape) * 4).astype(dtype)
                t_fast, t_naive = _time(fast, a, budget), _time(naive, a, budget)
                results.append((label, t_fast, t_naive))
    finally:
        logitkit.set_num_threads(threads)
    progress.write("\r" + " " * 40 + "\r" if progress.isatty() else "")
    print(f"logitkit {logitkit.__version__}, {dtype}, simd path {logitkit.simd_path()}, "
          "one thread; best time per call")
    print(f"  {'case':<28} {'logitkit':>10} {'numpy naive':>12} {'speed-up':>9} "
          f"{'Melem/s':>9}")
    for label, t_fast, t_naive in results:
        n = int(np.prod([int(v) for v in label.split()[1].split("x")]))
        print(f"  {label:<28} {_fmt_time(t_fast):>10} {_fmt_time(t_naive):>12} "
              f"{t_naive / t_fast:>8.1f}x {n / t_fast / 1e6:>9.0f}")
    return EXIT_OK


def _time(fn: Callable[[np.ndarray], Any], a: np.ndarray, budget: float) -> float:
    """Best time of one call, repeating within `budget` seconds (at least 3 calls)."""
    best = float("inf")
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn(a)
        best = min(best, time.perf_counter() - t0)
        calls += 1
        if calls >= 1000:
            break
    return best


def _fmt_time(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"
