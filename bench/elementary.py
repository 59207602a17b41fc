"""Speed of logit, softplus with beta, nll_loss and sparsemax next to PyTorch (and SciPy's
logit), single thread, with a memcpy column: what copying the input once costs.

    python bench/elementary.py            # ~1 min
    python bench/elementary.py --quick

Times are medians over repeated batches, in microseconds per call; ratios are peer time /
logitkit time ("x faster"). PyTorch has no sparsemax: its column is the paper's algorithm
composed from torch.sort and torch.cumsum (what a user would write), NumPy's the same in NumPy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit

import numpy as np

import _peers  # bench/_peers.py (the script's own directory is on sys.path)
from _accuracy_elementary import numpy_sparsemax


def _median_us(fn, budget=0.2):
    fn()
    number = max(1, int(budget / 10 / max(timeit.timeit(fn, number=1), 1e-7)))
    times = timeit.repeat(fn, number=number, repeat=7)
    return statistics.median(times) / number * 1e6


def cases(quick):
    import logitkit as lk
    torch = _peers.load("torch")
    sp = _peers.load("scipy")
    if sp is not None:
        import scipy.special as sp
    F = torch.nn.functional if torch is not None else None
    rng = np.random.default_rng(0)
    sizes = (1000, 1_000_000) if not quick else (1000, 100_000)
    out = []
    for n in sizes:
        for dtype in (np.float32, np.float64):
            p = rng.random(n).astype(dtype)
            tp = torch.from_numpy(p) if torch is not None else None
            out.append((f"logit {dtype.__name__} n={n}", p, lambda p=p: lk.logit(p),
                        {"torch": (lambda t=tp: torch.logit(t)) if torch is not None else None,
                         "scipy": (lambda p=p: sp.logit(p)) if sp is not None else None}))
            x = (rng.standard_normal(n) * 10).astype(dtype)
            tx = torch.from_numpy(x) if torch is not None else None
            out.append((f"softplus(beta=2) {dtype.__name__} n={n}", x,
                        lambda x=x: lk.softplus(x, beta=2.0),
                        {"torch": (lambda t=tx: F.softplus(t, beta=2.0))
                         if torch is not None else None}))
    for rows, c in ((4096, 10), (256, 1000)):
        lp = np.log(rng.dirichlet(np.ones(c), rows))
        t = rng.integers(0, c, rows)
        tl, tt = (torch.from_numpy(lp), torch.from_numpy(t)) if torch is not None else (None,) * 2
        out.append((f"nll_loss mean ({rows}, {c}) float64", lp, lambda lp=lp, t=t: lk.nll_loss(lp, t),
                    {"torch": (lambda a=tl, b=tt: F.nll_loss(a, b)) if torch is not None else None}))
        z = rng.standard_normal((rows, c))
        tz = torch.from_numpy(z) if torch is not None else None

        def torch_sparsemax(t=tz, c=c):
            zs, _ = torch.sort(t, dim=-1, descending=True)
            k = torch.arange(1, c + 1, dtype=t.dtype)
            cs = zs.cumsum(-1)
            kz = (1 + k * zs > cs).sum(-1, keepdim=True)
            return torch.clamp(t - (cs.gather(-1, kz - 1) - 1) / kz, min=0)

        out.append((f"sparsemax ({rows}, {c}) float64", z, lambda z=z: lk.sparsemax(z),
                    {"torch": torch_sparsemax if torch is not None else None,
                     "numpy": lambda z=z: numpy_sparsemax(z)}))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    import logitkit as lk
    torch = _peers.load("torch")
    lk.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"# CPU: {_peers.cpu_model()}; logitkit SIMD path {lk.simd_path()}, 1 thread; "
          f"torch {_peers.version('torch')}, numpy {np.__version__}")
    print("| case | logitkit us | memcpy us | torch us (x) | scipy/numpy us (x) |")
    print("|---|---|---|---|---|")
    for label, data, fn, peers in cases(args.quick):
        t_lk = _median_us(fn)
        t_copy = _median_us(lambda d=data: d.copy())
        cells = []
        for peer in (peers.get("torch"), peers.get("scipy") or peers.get("numpy")):
            if peer is None:
                cells.append("-")
                continue
            t = _median_us(peer)
            cells.append(f"{t:.1f} ({t / t_lk:.2f}x)")
        print(f"| {label} | {t_lk:.1f} | {t_copy:.1f} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
