"""Figures for the README (matplotlib: `pip install logitkit[plots]`).

    python bench/plots.py               # both figures into docs/images/
    python bench/plots.py --quick       # one short pass (--repeats, --passes: more if busy)

docs/images/throughput.png: softmax throughput (elements per second) against row length, float32,
one thread, the total number of elements held constant (2**20), for logitkit, PyTorch, SciPy and
JAX (jit; each peer only if it imports), and a memcpy line: np.copyto of the input into a buffer
allocated once, the floor for any kernel that reads and writes the data. Every peer is set to one
thread, and on Linux the process is held to one CPU, so that none can use a second core. Each
point is the best wall time of --repeats calls in each of --passes passes, the peers taking
turns in a random order (see _best_interleaved), so the copy's data is no warmer in cache than
the peers' (back to back, as in bench/run.py's memcpy column, a 4 MiB copy can run faster; and
it is the line that neighbours' memory traffic moves most). The title names the CPU and the
date.
docs/images/sigmoid.png: the sigmoid and its derivative over [-8, 8], computed with logitkit
(the seeds' figure).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from typing import Any, Callable

import numpy as np

import _peers as bench_peers  # bench/_peers.py (the script's own directory is on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "docs", "images")
TOTAL = 2**20
ROW_LENGTHS = [3, 10, 32, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
# JAX on one thread: XLA's CPU client reads these when it starts, so before `import jax`
JAX_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def _best_interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Best wall time of each call, the peers taking turns in a new random order each round, so
    that each follows every other one (what the one before leaves in the caches counts, most
    of all for the copy). A busy neighbour only adds time, so the best of several calls is the
    least disturbed one. The clock is the wall clock, not the thread's CPU clock, because JAX
    computes on a thread of XLA's, not on the calling one."""
    best = {name: float("inf") for name in fns}
    order = list(fns)
    shuffle = random.Random(0).shuffle
    for fn in fns.values():
        fn()                                            # warm-up (and JAX's compilation)
    for _ in range(repeats):
        shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _jax_softmax() -> tuple[str, Callable[[np.ndarray], Callable[[], Any]]] | None:
    """JAX's jitted softmax on the CPU, one thread, or None when JAX does not import."""
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + JAX_ONE_THREAD).strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    try:
        import jax
    except ImportError:
        print("JAX not installed: left out", file=sys.stderr)
        return None
    cpu = jax.devices("cpu")[0]
    softmax = jax.jit(lambda v: jax.nn.softmax(v, axis=-1))

    def make(a):
        d = jax.device_put(a, cpu)
        return lambda: softmax(d).block_until_ready()    # JAX dispatches asynchronously
    return f"JAX {jax.__version__} (jit)", make


def _peers() -> dict[str, Callable[[np.ndarray], Callable[[], Any]]]:
    """Label -> a maker of the timed call on an array. One thread for every peer."""
    import logitkit
    logitkit.set_num_threads(1)
    peers: dict[str, Callable[[np.ndarray], Callable[[], Any]]] = {
        f"logitkit {logitkit.__version__} ({logitkit.simd_path()})":
            lambda a: (lambda: logitkit.softmax(a, axis=-1))}
    try:
        import torch
        torch.set_num_threads(1)
        peers[f"PyTorch {torch.__version__}"] = (
            lambda a: (lambda t=torch.from_numpy(a): torch.softmax(t, dim=-1)))
    except ImportError:
        print("PyTorch not installed: left out", file=sys.stderr)
    try:
        import scipy
        import scipy.special
        peers[f"SciPy {scipy.__version__}"] = (
            lambda a: (lambda: scipy.special.softmax(a, axis=-1)))
    except ImportError:
        print("SciPy not installed: left out", file=sys.stderr)
    jax_peer = _jax_softmax()
    if jax_peer is not None:
        peers[jax_peer[0]] = jax_peer[1]

    def memcpy(a):
        dst = np.empty_like(a)
        return lambda: np.copyto(dst, a)
    peers["memcpy (np.copyto into a kept buffer)"] = memcpy
    return peers


def _one_cpu() -> None:
    """Hold this thread, and so every thread started after it (XLA's, PyTorch's, logitkit's
    pools), to one CPU: then no peer can use a second core, whatever its thread settings."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def throughput(path: str, repeats: int, passes: int) -> None:
    import matplotlib.pyplot as plt
    rng = np.random.default_rng(0)
    peers = _peers()
    inputs = [(rng.standard_normal((max(1, TOTAL // n), n)) * 4).astype(np.float32)
              for n in ROW_LENGTHS]
    calls = [{name: make(a) for name, make in peers.items()} for a in inputs]
    best = {name: [float("inf")] * len(ROW_LENGTHS) for name in peers}
    # several passes over the row lengths, the best of all counting: a neighbour's busy spell
    # (seconds long) then disturbs one pass, not every call of a point
    for _ in range(passes):
        for i, fns in enumerate(calls):
            for name, t in _best_interleaved(fns, repeats).items():
                best[name][i] = min(best[name][i], t)
    rates = {name: [a.size / t / 1e9 for a, t in zip(inputs, ts)] for name, ts in best.items()}
    for i, n in enumerate(ROW_LENGTHS):
        print(f"row length {n:>9}: " + "  ".join(f"{k.split()[0]} {v[i]:.3f}"
                                                  for k, v in rates.items())
              + " Gelem/s", file=sys.stderr)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    styles = {"logitkit": ("C0", "o", "-"), "PyTorch": ("C3", "s", "-"),
              "SciPy": ("C2", "^", "-"), "JAX": ("C1", "D", "-"), "memcpy": ("0.45", "", "--")}
    for name, values in rates.items():
        color, marker, line = styles.get(name.split()[0], ("C7", "x", "-"))
        ax.plot(ROW_LENGTHS, values, marker=marker, linestyle=line, color=color, label=name,
                linewidth=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_yticks([t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
                   if low <= t <= high])
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("row length (classes); rows x length = 2^20 elements")
    ax.set_ylabel("throughput (10^9 elements / s, log scale)")
    today = datetime.date.today().isoformat()
    ax.set_title(f"softmax, float32, one thread\n{bench_peers.cpu_model()}, {os.cpu_count()} cpus, {today}",
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8.5, loc="lower right")
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
    parser.add_argument("--quick", action="store_true", help="1 pass of 3 repeats")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per peer, row length and pass (best one counts)")
    parser.add_argument("--passes", type=int, default=None,
                        help="passes over the row lengths, spread in time (default 8)")
    parser.add_argument("--only", choices=("throughput", "sigmoid"), default=None)
    args = parser.parse_args(argv)
    try:
        import matplotlib
    except ImportError:
        print("bench/plots.py needs matplotlib: pip install 'logitkit[plots]'", file=sys.stderr)
        return 2
    matplotlib.use("Agg")
    os.makedirs(args.out_dir, exist_ok=True)
    if args.only in (None, "throughput"):
        _one_cpu()                       # before the peers are imported and start threads
    if args.only in (None, "sigmoid"):
        sigmoid_figure(os.path.join(args.out_dir, "sigmoid.png"))
    if args.only in (None, "throughput"):
        throughput(os.path.join(args.out_dir, "throughput.png"),
                   args.repeats or (3 if args.quick else 15),
                   args.passes or (1 if args.quick else 8))
    print(f"wrote {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
