"""Figures for the README (matplotlib: `pip install logitkit[plots]`).

    python bench/plots.py               # both figures into docs/images/
    python bench/plots.py --quick       # fewer repeats (--repeats N: more, on a busy machine)

docs/images/throughput.png: softmax throughput (elements per second) against row length, float32,
one thread, the total number of elements held constant (2**20), for logitkit, PyTorch and SciPy
(each peer only if installed), timed by the thread's CPU clock (see _best_interleaved). docs/images/sigmoid.png: the sigmoid and its derivative over
[-8, 8], computed with logitkit (the seeds' figure).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "docs", "images")
TOTAL = 2**20
ROW_LENGTHS = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def _best_interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Best time of each call, the peers taking turns. The clock is the calling thread's CPU
    time: every peer runs on one thread, the calling one, so on a quiet machine it equals the
    wall time, and on a busy one it leaves out the time the thread waited for a core."""
    best = {name: float("inf") for name in fns}
    for fn in fns.values():
        fn()                                            # warm-up
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.thread_time()
            fn()
            best[name] = min(best[name], time.thread_time() - t0)
    return best


def _peers() -> dict[str, Callable[[np.ndarray], Callable[[], Any]]]:
    import logitkit
    logitkit.set_num_threads(1)          # the figure is one thread each (it said so before it was)
    peers: dict[str, Callable[[np.ndarray], Callable[[], Any]]] = {
        "logitkit": lambda a: (lambda: logitkit.softmax(a, axis=-1))}
    try:
        import torch
        torch.set_num_threads(1)
        peers["PyTorch"] = lambda a: (lambda t=torch.from_numpy(a): torch.softmax(t, dim=-1))
    except ImportError:
        print("PyTorch not installed: left out", file=sys.stderr)
    try:
        import scipy.special
        peers["SciPy"] = lambda a: (lambda: scipy.special.softmax(a, axis=-1))
    except ImportError:
        print("SciPy not installed: left out", file=sys.stderr)
    return peers


def throughput(path: str, repeats: int) -> None:
    import matplotlib.pyplot as plt
    import logitkit
    rng = np.random.default_rng(0)
    peers = _peers()
    rates: dict[str, list[float]] = {name: [] for name in peers}
    for n in ROW_LENGTHS:
        rows = max(1, TOTAL // n)
        a = (rng.standard_normal((rows, n)) * 4).astype(np.float32)
        times = _best_interleaved({name: make(a) for name, make in peers.items()}, repeats)
        for name, t in times.items():
            rates[name].append(a.size / t / 1e9)
        print(f"row length {n:>9}: " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in rates.items())
              + " Gelem/s", file=sys.stderr)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    styles = {"logitkit": ("C0", "o"), "PyTorch": ("C3", "s"), "SciPy": ("C2", "^")}
    for name, values in rates.items():
        color, marker = styles.get(name, ("C7", "x"))
        ax.plot(ROW_LENGTHS, values, marker=marker, color=color, label=name, linewidth=2)
    ax.set_xscale("log")
    ax.set_xlabel("row length (classes); rows x length = 2^20 elements")
    ax.set_ylabel("throughput (10^9 elements / s)")
    ax.set_title(f"softmax, float32, 1 thread (logitkit {logitkit.__version__}, "
                 f"{logitkit.simd_path()})")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sigmoid_figure(path: str) -> None:
    import matplotlib.pyplot as plt
    import logitkit
    x = np.linspace(-8, 8, 801)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=110)
    left.plot(x, logitkit.sigmoid(x), color="C0", linewidth=2)
    left.set_title(r"sigmoid $\sigma(x) = 1 / (1 + e^{-x})$")
    left.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    right.plot(x, logitkit.sigmoid_derivative(x), color="C1", linewidth=2)
    right.set_title(r"derivative $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$")
    for ax in (left, right):
        ax.set_xlabel("x (logit)")
        ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=OUT_DIR)
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 15")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per peer and row length (best one counts)")
    parser.add_argument("--only", choices=("throughput", "sigmoid"), default=None)
    args = parser.parse_args(argv)
    try:
        import matplotlib
    except ImportError:
        print("bench/plots.py needs matplotlib: pip install 'logitkit[plots]'", file=sys.stderr)
        return 2
    matplotlib.use("Agg")
    os.makedirs(args.out_dir, exist_ok=True)
    if args.only in (None, "sigmoid"):
        sigmoid_figure(os.path.join(args.out_dir, "sigmoid.png"))
    if args.only in (None, "throughput"):
        throughput(os.path.join(args.out_dir, "throughput.png"),
                   args.repeats or (3 if args.quick else 15))
    print(f"wrote {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
