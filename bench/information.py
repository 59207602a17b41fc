"""Speed of logitkit's entropy and kl_divergence next to PyTorch's composed formulas.

    python bench/information.py              # every case (~30 s)
    python bench/information.py --quick      # the 1024x1000 float32 cases only
    python bench/information.py --cpu-time   # time with the thread's CPU clock (shared machines)
    python bench/information.py --json out.json

Same table and timing rules as bench/losses.py (whose machinery this reuses): median over
repeated batches, microseconds per call, 1 thread, ratio = torch time / logitkit time ("x
faster"), a memcpy of the input for scale. PyTorch's formulas are the usual ones:
``torch.distributions.Categorical(logits=x).entropy()`` and
``F.kl_div(F.log_softmax(q), F.log_softmax(p), log_target=True, reduction="none").sum(-1)``.
PyTorch is optional (its columns show "-").
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import _peers  # bench/_peers.py (the script's own directory is on sys.path)
import losses  # bench/losses.py: peak memory, agreement, its table
import run  # bench/run.py: timing, table rendering, bar checks, header


@dataclass
class Case:
    """``op`` on float ``shape`` inputs of ``dtype``; ``bar`` = minimum torch/logitkit ratio."""
    op: str
    shape: tuple
    dtype: str = "float32"
    bar: dict = field(default_factory=dict)
    quick: bool = False
    threads: int = 1

    @property
    def label(self):
        return f"{self.op} {self.dtype} {'x'.join(map(str, self.shape))}"


CASES = [
    Case("entropy", (1024, 1000), bar={"torch": 2}, quick=True),
    Case("kl_divergence", (1024, 1000), bar={"torch": 2}, quick=True),
    Case("entropy", (1024, 1000), "float64"),
    Case("kl_divergence", (1024, 1000), "float64"),
    Case("entropy", (4096, 10)),
    Case("kl_divergence", (4096, 10)),
    Case("entropy", (64, 32000)),
    Case("kl_divergence", (64, 32000)),
]


def make_inputs(case):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(case.shape) * 3).astype(case.dtype)
    y = (rng.standard_normal(case.shape) * 3).astype(case.dtype)
    return x, y


def logitkit_call(lk, case, x, y):
    if case.op == "entropy":
        return lambda: lk.entropy(x)
    return lambda: lk.kl_divergence(x, y)


def torch_call(torch, case, x, y):
    F = torch.nn.functional
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    if case.op == "entropy":
        return lambda: torch.distributions.Categorical(logits=tx, validate_args=False).entropy()
    return lambda: F.kl_div(F.log_softmax(ty, -1), F.log_softmax(tx, -1), log_target=True,
                            reduction="none").sum(-1)


def run_case(case, lk, torch, budget, repeats, timer):
    x, y = make_inputs(case)
    res = {"label": case.label, "threads": case.threads, "bar": case.bar, "us": {}, "ratio": {},
           "note": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_lk = logitkit_call(lk, case, x, y)
        res["us"]["logitkit"] = run.measure(f_lk, budget, repeats, timer)
        res["peak_mb"] = losses.peak_mb(f_lk)
        if torch is not None:
            f_t = torch_call(torch, case, x, y)
            res["us"]["torch"] = run.measure(f_t, budget, repeats, timer)
            res["ratio"]["torch"] = res["us"]["torch"] / res["us"]["logitkit"]
            if not losses.agree(f_lk(), f_t(), case.dtype):
                res["note"] = "results differ > 1e-4"
        dst = np.empty_like(x)
        res["us"]["memcpy"] = run.measure(lambda: np.copyto(dst, x), budget, repeats, timer)
    res["bar_ok"] = run.check_bar(case.bar, res)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--budget", type=float, default=None)
    ap.add_argument("--cpu-time", action="store_true",
                    help="measure with time.thread_time (CPU time of this thread)")
    args = ap.parse_args(argv)
    cases = [c for c in CASES if c.quick] if args.quick else list(CASES)
    budget = args.budget or (0.05 if args.quick else 0.3)
    repeats = 5 if args.quick else 11
    timer = time.thread_time if args.cpu_time else time.perf_counter
    lk = _peers.load("logitkit")
    if lk is None or not hasattr(lk, "entropy"):
        print("logitkit (with entropy) is not importable", file=sys.stderr)
        return 1
    torch = _peers.load("torch")
    if torch is not None:
        torch.set_num_threads(1)
    lk.set_num_threads(1)
    t0 = time.perf_counter()
    results = []
    for i, case in enumerate(cases):
        print(f"  [{i + 1}/{len(cases)}] {case.label}", file=sys.stderr, flush=True)
        results.append(run_case(case, lk, torch, budget, repeats, timer))
    hdr = run.header() + ("; clock: thread CPU time" if args.cpu_time else "; clock: wall")
    run.report(hdr, losses.table(results), results, t0, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
