"""Speed of logitkit next to PyTorch and SciPy, on the cases of the contract's speed bars.

    python bench/run.py                  # everything (~2 min)
    python bench/run.py --quick          # smoke test (< 20 s)
    python bench/run.py --cases softmax  # only cases whose label contains 'softmax'
    python bench/run.py --json out.json

Times are the median over repeated batches, in microseconds per call (single thread unless the
case says otherwise). Ratios are peer time / logitkit time ("x faster"); "bar" checks the
contract's speed bar of the case. Peers are optional: a library that does not import shows "-".
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
import timeit
import warnings
from dataclasses import dataclass, field

import numpy as np

import _peers  # bench/_peers.py (the script's own directory is on sys.path)

PEERS = ("torch", "scipy")


@dataclass
class Case:
    """One benchmark: ``func`` of a ``shape``/``dtype`` array along ``axis``.

    ``peers`` maps a peer name to its :class:`_peers.Impl` (default: the registry's entry for
    ``func``; pass a dict to override or to drop a peer). ``bar`` is the contract's requirement:
    ``{"torch": 2.5, "scipy": 6}`` (minimum x-faster ratios), ``{"us": 1.5}`` (maximum
    logitkit time) or ``{"threads": 1.8}`` (minimum speedup of ``threads`` over 1 thread).
    """
    func: str
    shape: tuple
    dtype: str
    axis: int | None = -1
    bar: dict = field(default_factory=dict)
    threads: int = 1
    peers: dict | None = None
    quick: bool = False          # part of the --quick subset

    @property
    def label(self):
        shape = "x".join(str(s) for s in self.shape)
        ax = "" if self.axis in (None, -1) else f" axis={self.axis}"
        th = f" {self.threads} threads" if self.threads > 1 else ""
        return f"{self.func} {np.dtype(self.dtype).name} {shape}{ax}{th}"

    def make_input(self):
        return np.random.default_rng(0).standard_normal(self.shape).astype(self.dtype) * 3


RED, ELEM = _peers.REDUCTIONS, _peers.ELEMENTWISE
ROWS_BAR = {"float32": {"torch": 2.5, "scipy": 6}, "float64": {"torch": 2, "scipy": 5}}
ELEM_BAR = {"torch": 3, "scipy": 5}
N = 1_000_000

# The one table. Adding a benchmark is adding an entry.
CASES = [
    # softmax / log_softmax / logsumexp along rows of 1,000 to 1,000,000.
    *[Case(f, shape, dt, -1, ROWS_BAR[dt], quick=shape == (1024, 1000))
      for f in RED for dt in ("float32", "float64")
      for shape in ((1024, 1000), (64, 32000), (1, N))],
    # rows of 10 classes
    *[Case(f, (4096, 10), dt, -1, {"torch": 3}, quick=f == "softmax")
      for f in RED for dt in ("float32", "float64")],
    # reduction over axis 0 of a C-ordered array (no transposed copy allowed)
    *[Case("softmax", (1000, 1024), dt, 0, {"torch": 2.5}, quick=dt == "float32")
      for dt in ("float32", "float64")],
    # the sigmoid family on 10^6 elements
    *[Case(f, (N,), dt, None, ELEM_BAR, quick=f == "sigmoid")
      for f in ELEM for dt in ("float32", "float64")],
    # Python overhead: a 3-element call
    Case("softmax", (3,), "float64", -1, {"us": 1.5}, quick=True),
    Case("sigmoid", (3,), "float64", None, {"us": 0.6}, quick=True),
    # 2 threads on >= 10^6 elements, one long row included
    Case("softmax", (1024, 1000), "float32", -1, {"threads": 1.8}, threads=2, quick=True),
    Case("softmax", (1, N), "float32", -1, {"threads": 1.8}, threads=2),
    Case("logsumexp", (1, N), "float64", -1, {"threads": 1.8}, threads=2),
    Case("log_softmax", (1024, 1000), "float64", -1, {"threads": 1.8}, threads=2),
    Case("sigmoid", (N,), "float32", None, {"threads": 1.8}, threads=2),
]


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------
def measure(fn, budget=0.25, repeats=11, clock=time.perf_counter):
    """Median time of ``fn()`` in microseconds: ``repeats`` batches, about ``budget`` s total,
    on ``clock`` (bench/losses.py --cpu-time passes the thread's CPU clock)."""
    fn()                                        # warm-up (allocations, thread pools)
    timer = timeit.Timer(fn, timer=clock)
    number = 1
    while True:                                 # calibrate like timeit.autorange, but short
        dt = timer.timeit(number)
        if dt >= 0.002 or number >= 1 << 24:
            break
        number *= 10
    per_call = dt / number
    repeats = max(3, min(repeats, int(budget / max(per_call, 1e-9))))
    number = max(1, int(budget / repeats / per_call))
    times = timer.repeat(repeats, number)
    return statistics.median(times) / number * 1e6


class Threads:
    """Set logitkit's and torch's thread counts (if they can be set)."""

    def __init__(self, lk, torch):
        self.lk_set = getattr(lk, "set_num_threads", None) if lk is not None else None
        self.torch = torch

    def set(self, n):
        if self.lk_set is not None:
            self.lk_set(n)
        if self.torch is not None:
            self.torch.set_num_threads(n)


def numpy_reference(func, x, axis):
    """A float64 NumPy evaluation, to catch a wrong logitkit result (benign randn*3 inputs)."""
    x = np.asarray(x, dtype=np.float64)
    if func == "sparsemax":             # the paper's algorithm: sort, cumulative sum, threshold
        from _accuracy_elementary import numpy_sparsemax
        return np.moveaxis(numpy_sparsemax(np.moveaxis(x, axis, -1)), -1, axis)
    if func == "logit":                 # NaN outside [0, 1], as logitkit's
        with np.errstate(all="ignore"):
            return np.log(x / (1 - x))
    if func in RED:
        m = np.max(x, axis=axis, keepdims=True)
        s = np.sum(np.exp(x - m), axis=axis, keepdims=True)
        return {"softmax": lambda: np.exp(x - m) / s,
                "log_softmax": lambda: x - m - np.log(s),
                "logsumexp": lambda: np.squeeze(m + np.log(s), axis=axis)}[func]()
    e = np.exp(-np.abs(x))
    return {"sigmoid": lambda: np.where(x >= 0, 1 / (1 + e), e / (1 + e)),
            "sigmoid_derivative": lambda: e / (1 + e) ** 2,
            "log_sigmoid": lambda: np.minimum(x, 0) - np.log1p(e),
            "softplus": lambda: np.maximum(x, 0) + np.log1p(e)}[func]()


def _close(a, b, dtype):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    return bool(np.allclose(a, b, rtol=tol, atol=tol * 1e-3, equal_nan=True))


def run_case(case, impls, lk_threads, budget, repeats):
    x = case.make_input()
    axis = case.axis if case.axis is not None else -1
    peers = case.peers if case.peers is not None else {
        p: impls[p][case.func] for p in PEERS if p in impls and case.func in impls[p]}
    lk = impls.get("logitkit", {}).get(case.func)
    res = {"label": case.label, "func": case.func, "shape": list(case.shape),
           "dtype": case.dtype, "axis": case.axis, "threads": case.threads, "bar": case.bar,
           "us": {}, "ratio": {}, "note": ""}

    def timed(impl):
        return measure(impl.bind(impl.prepare(x), axis), budget, repeats)

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")     # SciPy's overflow warnings etc. must not slow loops
        if lk is not None and case.threads > 1:
            if lk_threads.lk_set is None:
                res["note"] = "no logitkit.set_num_threads"
            else:
                lk_threads.set(1)
                res["us"]["logitkit 1t"] = timed(lk)
        lk_threads.set(case.threads)
        try:
            if lk is not None:
                if case.threads == 1 or lk_threads.lk_set is not None:
                    res["us"]["logitkit"] = timed(lk)
                if not _close(lk(x, axis), numpy_reference(case.func, x, axis), case.dtype):
                    res["note"] = "logitkit result differs from a float64 NumPy evaluation!"
            for name, impl in peers.items():
                res["us"][name] = timed(impl)
        finally:
            lk_threads.set(1)
        dst = np.empty_like(x)
        res["us"]["memcpy"] = measure(lambda: np.copyto(dst, x), budget, repeats)
    t_lk = res["us"].get("logitkit")
    if t_lk:
        for name in peers:
            res["ratio"][name] = res["us"][name] / t_lk
        if "logitkit 1t" in res["us"]:
            res["ratio"]["threads"] = res["us"]["logitkit 1t"] / t_lk
    res["bar_ok"] = check_bar(case.bar, res)
    return res


def check_bar(bar, res):
    """'ok', 'MISS ...' or '-' (nothing to compare) for the contract's bar of one case."""
    misses, checked = [], False
    for key, want in bar.items():
        if key == "us":
            got = res["us"].get("logitkit")
            if got is not None:
                checked = True
                if got > want:
                    misses.append(f"{got:.2f}us > {want}us")
        else:
            got = res["ratio"].get(key)
            if got is not None:
                checked = True
                if got < want:
                    misses.append(f"{key} {got:.2f}x < {want}x")
    if not checked:
        return "-"
    return "ok" if not misses else "MISS " + "; ".join(misses)


def bar_text(bar):
    parts = []
    for key, want in bar.items():
        parts.append(f"<= {want} us" if key == "us" else
                     f">= {want}x 1 thread" if key == "threads" else f">= {want}x {key}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _us(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:,.0f}"


def _x(v):
    return "-" if v is None else f"{v:.2f}x"


def table(results):
    one = [r for r in results if r["threads"] == 1]
    multi = [r for r in results if r["threads"] > 1]
    out = []
    if one:
        head = ["case", "logitkit us", "torch us", "scipy us", "memcpy us", "torch/lk",
                "scipy/lk", "bar", "status"]
        rows = [[r["label"], _us(r["us"].get("logitkit")), _us(r["us"].get("torch")),
                 _us(r["us"].get("scipy")), _us(r["us"].get("memcpy")),
                 _x(r["ratio"].get("torch")), _x(r["ratio"].get("scipy")),
                 bar_text(r["bar"]), r["bar_ok"] + (f" ({r['note']})" if r["note"] else "")]
                for r in one]
        out.append(_render(head, rows))
    if multi:
        head = ["case (2+ threads)", "lk 1 thread us", "lk us", "speedup", "torch us",
                "torch/lk", "memcpy us", "bar", "status"]
        rows = [[r["label"], _us(r["us"].get("logitkit 1t")), _us(r["us"].get("logitkit")),
                 _x(r["ratio"].get("threads")), _us(r["us"].get("torch")),
                 _x(r["ratio"].get("torch")), _us(r["us"].get("memcpy")), bar_text(r["bar"]),
                 r["bar_ok"] + (f" ({r['note']})" if r["note"] else "")] for r in multi]
        out.append(_render(head, rows))
    return "\n\n".join(out)


def _render(head, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    right = {i for i, h in enumerate(head)
             if h.split()[-1] == "us" or "/" in h or h == "speedup"}

    def line(cells):
        return "| " + " | ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 1) + (":" if i in right else "-")
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def header():
    simd, threads = _peers.logitkit_info()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"# logitkit bench - {now} - CPU: {_peers.cpu_model()} ({os.cpu_count()} cpus)\n"
            f"# numpy {np.__version__}, torch {_peers.version('torch')}, scipy "
            f"{_peers.version('scipy')}, logitkit {_peers.version('logitkit')} "
            f"(SIMD path {simd}, default threads {threads}); times: median us per call, "
            f"1 thread unless stated; ratios: peer time / logitkit time")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few cases, short timings (< 20 s)")
    ap.add_argument("--cases", metavar="SUBSTR",
                    help="only cases whose label contains SUBSTR (case-insensitive; "
                         "comma-separated alternatives)")
    ap.add_argument("--json", metavar="FILE", help="save the results as JSON")
    ap.add_argument("--budget", type=float, default=None,
                    help="seconds per measurement (default 0.25, --quick 0.03)")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)

    cases = [c for c in CASES if c.quick] if args.quick else list(CASES)
    if args.cases:
        subs = [s.lower() for s in args.cases.split(",") if s]
        cases = [c for c in cases if any(s in c.label.lower() for s in subs)]
    if args.list:
        print("\n".join(c.label for c in cases))
        return 0
    budget = args.budget or (0.03 if args.quick else 0.25)
    repeats = 3 if args.quick else 11

    impls = _peers.implementations()
    lk_mod = _peers.load("logitkit")
    torch = _peers.load("torch")
    if lk_mod is None:
        print("note: logitkit is not importable; its column shows '-'", file=sys.stderr)
    threads = Threads(lk_mod, torch)
    hdr = header()
    t0 = time.perf_counter()
    results = []
    threads.set(1)
    for i, case in enumerate(cases):
        print(f"  [{i + 1}/{len(cases)}] {case.label}", file=sys.stderr, flush=True)
        results.append(run_case(case, impls, threads, budget, repeats))
    report(hdr, table(results), results, t0, args.json)
    return 0


def report(hdr, table_text, results, t0, json_path=None):
    """Prints the header, the table and the count of missed bars; saves JSON if asked."""
    print(hdr)
    print(table_text)
    misses = [r for r in results if r["bar_ok"].startswith("MISS")]
    unjudged = [r for r in results if r["bar"] and r["bar_ok"] == "-"]
    summary = f"{len(results)} cases, {len(misses)} miss a bar"
    if unjudged:
        summary += f", {len(unjudged)} with a bar not judged (logitkit or the peer not measured)"
    print(f"\n{summary} ({time.perf_counter() - t0:.0f} s)")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"header": hdr, "results": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
