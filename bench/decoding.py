"""Speed of logitkit's top_k and sample next to PyTorch.

    python bench/decoding.py               # everything (~1 min)
    python bench/decoding.py --quick       # the small cases only
    python bench/decoding.py --cpu-time    # time with the thread's CPU clock (shared machines)

Same table and timing rules as bench/run.py and bench/losses.py (whose machinery this reuses):
median over repeated batches, microseconds per call, 1 thread, ratio = torch time / logitkit
time ("x faster"), a memcpy of the logits for scale. The PyTorch column of sample is the usual
recipe of decoding loops: sort the row, softmax, cumsum, mask the tail past top_p,
torch.multinomial, gather the index (for top_k: torch.topk, softmax, multinomial). The logits
are standard normal times 3 (scale 1 gives flatter rows, where top-p keeps far more classes).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

import _peers  # bench/_peers.py (the script's own directory is on sys.path)
import run  # bench/run.py: table rendering, bar checks, header


@dataclass
class Case:
    """``op`` on a float32 ``shape`` input; ``bar`` = minimum torch/logitkit ratio."""
    op: str
    shape: tuple
    scale: float = 3.0
    kwargs: dict = field(default_factory=dict)
    bar: dict = field(default_factory=dict)
    quick: bool = False

    @property
    def label(self):
        extra = " ".join(f"{k}={v}" for k, v in self.kwargs.items())
        scale = f" scale={self.scale:g}" if self.scale != 3.0 else ""
        return f"{self.op} {extra} {'x'.join(map(str, self.shape))}{scale}".replace("  ", " ")


VOCAB = (64, 128256)
CASES = [
    Case("top_k", VOCAB, kwargs={"k": 50}, bar={"torch": 2}),
    Case("top_k", VOCAB, kwargs={"k": 50, "sorted": False}),
    Case("top_k", VOCAB, kwargs={"k": 4096}),
    Case("top_k", (1024, 1000), kwargs={"k": 10}, quick=True),
    Case("sample", VOCAB, kwargs={"top_p": 0.9}, bar={"torch": 3}),
    Case("sample", VOCAB, scale=1.0, kwargs={"top_p": 0.9}),
    Case("sample", VOCAB, kwargs={"top_k": 50}),
    Case("sample", VOCAB, kwargs={"top_k": 50, "top_p": 0.9, "min_p": 0.05}),
    Case("sample", VOCAB),
    Case("sample", (1024, 1000), kwargs={"top_p": 0.9}, quick=True),
]


def logitkit_call(lk, case, x):
    if case.op == "top_k":
        kw = dict(case.kwargs)
        k = kw.pop("k")
        return lambda: lk.top_k(x, k, **kw)
    gen = np.random.default_rng(0)
    return lambda: lk.sample(x, rng=gen, **case.kwargs)


def torch_call(torch, case, x):
    tx = torch.from_numpy(x)
    kw = case.kwargs
    if case.op == "top_k":
        return lambda: torch.topk(tx, kw["k"], sorted=kw.get("sorted", True))
    gen = torch.Generator().manual_seed(0)
    top_k, top_p, min_p = kw.get("top_k"), kw.get("top_p"), kw.get("min_p")

    def recipe():
        logits, index = tx, None
        if top_k is not None:
            logits, index = torch.topk(logits, top_k)
        if top_p is not None:
            logits, order = torch.sort(logits, descending=True)
            index = order if index is None else index.gather(-1, order)
        probs = torch.softmax(logits, -1)
        if top_p is not None:
            cum = probs.cumsum(-1)
            probs = probs.masked_fill(cum - probs >= top_p, 0.0)
        if min_p is not None:
            probs = probs.masked_fill(probs < min_p * probs[..., :1], 0.0)
        pick = torch.multinomial(probs, 1, generator=gen)
        return pick if index is None else index.gather(-1, pick)
    return recipe


def run_case(case, lk, torch, budget, repeats, timer):
    x = (np.random.default_rng(0).standard_normal(case.shape) * case.scale).astype(np.float32)
    res = {"label": case.label, "bar": case.bar, "us": {}, "ratio": {}, "note": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res["us"]["logitkit"] = run.measure(logitkit_call(lk, case, x), budget, repeats, timer)
        if torch is not None:
            res["us"]["torch"] = run.measure(torch_call(torch, case, x), budget, repeats, timer)
            res["ratio"]["torch"] = res["us"]["torch"] / res["us"]["logitkit"]
            if case.op == "top_k" and case.kwargs.get("sorted", True):
                got = lk.top_k(x, case.kwargs["k"])
                want = torch.topk(torch.from_numpy(x), case.kwargs["k"])
                if not np.array_equal(got[0], want[0].numpy()):
                    res["note"] = "values differ from torch.topk"
                elif not np.array_equal(got[1], want[1].numpy()):
                    res["note"] = "same values; torch orders tied values' indices otherwise"
        dst = np.empty_like(x)
        res["us"]["memcpy"] = run.measure(lambda: np.copyto(dst, x), budget, repeats, timer)
    res["bar_ok"] = run.check_bar(case.bar, res)
    return res


def table(results):
    head = ["case", "logitkit us", "torch us", "memcpy us", "torch/lk", "bar", "status"]
    rows = [[r["label"], run._us(r["us"].get("logitkit")), run._us(r["us"].get("torch")),
             run._us(r["us"].get("memcpy")), run._x(r["ratio"].get("torch")),
             run.bar_text(r["bar"]), r["bar_ok"] + (f" ({r['note']})" if r["note"] else "")]
            for r in results]
    return run._render(head, rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the small cases only")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the thread's CPU clock instead of the wall clock")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per measurement")
    args = ap.parse_args(argv)
    lk = _peers.load("logitkit")
    torch = _peers.load("torch")
    for peer in (lk, torch):
        if peer is not None and hasattr(peer, "set_num_threads"):
            peer.set_num_threads(1)
    timer = time.thread_time if args.cpu_time else time.perf_counter
    cases = [c for c in CASES if c.quick or not args.quick]
    print(run.header())
    results = [run_case(c, lk, torch, args.budget, 7, timer) for c in cases]
    print(table(results))
    return 0 if all(not r["bar_ok"].startswith("MISS") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
