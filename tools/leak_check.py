"""Leak check (issue 6): 10**5 calls of each public function (plus out=, where=, b=, error
paths) while tracemalloc and the process RSS are watched. Prints the numbers; exits 1 if either
keeps growing.

    python tools/leak_check.py [--calls 100000] [--only softmax,logsumexp]

After a warm-up of every function (10% of the calls each), each function's calls are run in two
halves; a leak keeps growing, so the second half alone must stay under 512 KiB of traced Python
memory and 4 MiB of RSS (a leak of one 16-byte object per call is 800 KB over 5 * 10**4 calls).
Caches and allocator pools filled once show up in the first half only.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(ROOT, "src"))

import logitkit  # noqa: E402
from numpy.exceptions import AxisError  # noqa: E402

TRACED_LIMIT = 1 << 20
RSS_LIMIT = 8 << 20


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cases():
    """name -> a callable making one call (several argument shapes in turn)."""
    rng = np.random.default_rng(0)
    small = rng.standard_normal((4, 10))
    f32 = small.astype(np.float32)
    fortran = np.asfortranarray(small)
    lst = [0.5, 1.5, -2.0]
    mask = small > 0
    out = np.empty_like(small)
    out_r = np.empty(4)
    c = {}

    def rotate(*calls):
        state = {"i": 0}

        def one():
            i = state["i"]
            state["i"] = i + 1
            return calls[i % len(calls)]()
        return one

    for name in ("softmax", "log_softmax"):
        f = getattr(logitkit, name)
        c[name] = rotate(lambda f=f: f(small), lambda f=f: f(f32, axis=0), lambda f=f: f(fortran),
                         lambda f=f: f(lst), lambda f=f: f(small, where=mask),
                         lambda f=f: f(small, out=out), lambda f=f: f(3.0),
                         lambda f=f: f(small.astype(np.float16), axis=None))
    lse = logitkit.logsumexp
    c["logsumexp"] = rotate(lambda: lse(small), lambda: lse(f32, axis=0), lambda: lse(lst),
                            lambda: lse(small, b=-small, return_sign=True),
                            lambda: lse(small, where=mask, keepdims=True),
                            lambda: lse(small, out=out_r), lambda: lse(fortran, axis=None))
    for name in ("sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"):
        f = getattr(logitkit, name)
        c[name] = rotate(lambda f=f: f(small), lambda f=f: f(f32), lambda f=f: f(lst),
                         lambda f=f: f(fortran[:, ::2]), lambda f=f: f(small, out=out),
                         lambda f=f: f(2.0), lambda f=f: f(small, dtype=np.float16))

    def errors():
        for call in (lambda: logitkit.softmax(small, axis=3),
                     lambda: logitkit.softmax(np.zeros(3, complex)),
                     lambda: logitkit.logsumexp(small, b=[1, 2]),
                     lambda: logitkit.sigmoid(small, out=np.empty(3)),
                     lambda: logitkit.log_softmax([[1.0], [1.0, 2.0]])):
            try:
                call()
            except (TypeError, ValueError, AxisError):
                pass
    c["error paths"] = errors
    if hasattr(logitkit, "cross_entropy"):
        target = rng.integers(0, 10, 4)
        ce = logitkit.cross_entropy
        own = logitkit.softmax(f32)     # float32 self-distillation: soft_grad_dd's buffer
        c["cross_entropy"] = rotate(lambda: ce(small, target),
                                    lambda: ce(small, target, return_grad=True),
                                    lambda: ce(f32, target, label_smoothing=0.1,
                                               return_grad=True),
                                    lambda: ce(f32, own, return_grad=True))
    if hasattr(logitkit, "binary_cross_entropy_with_logits"):
        t = rng.random(small.shape)
        bce = logitkit.binary_cross_entropy_with_logits
        own_p = logitkit.sigmoid(f32)   # float32 self-distillation: bce_fix's double-double lanes
        c["binary_cross_entropy_with_logits"] = rotate(
            lambda: bce(small, t), lambda: bce(small, t, return_grad=True),
            lambda: bce(f32, own_p, return_grad=True))
    if hasattr(logitkit, "softmax_backward"):
        y, ly, sy = logitkit.softmax(small), logitkit.log_softmax(small), logitkit.sigmoid(small)
        y32 = y.astype(np.float32)
        for name, yv in (("softmax_backward", y), ("log_softmax_backward", ly)):
            f = getattr(logitkit, name)
            # the thin path (plain arrays, with and without out=) and the general one
            c[name] = rotate(lambda f=f, yv=yv: f(small, yv),
                             lambda f=f, yv=yv: f(small, yv, out=out),
                             lambda f=f, yv=yv: f(fortran, yv, axis=0),
                             lambda f=f: f(f32, y32))
        c["sigmoid_backward"] = rotate(lambda: logitkit.sigmoid_backward(small, sy),
                                       lambda: logitkit.sigmoid_backward(small, sy, out=out),
                                       lambda: logitkit.sigmoid_backward(lst, lst))
    return c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    todo = cases()
    if args.only:
        todo = {k: v for k, v in todo.items() if k in args.only.split(",")}
    warm = max(1, args.calls // 10)
    tracemalloc.start()
    # one warm-up of everything first: NumPy and CPython grow some caches once (seen: ~1 MB
    # over the first ~20k calls of the first function measured, then flat)
    for call in todo.values():
        for _ in range(warm):
            call()
    failed = []
    half = args.calls // 2
    print(f"{'function':34s} {'calls':>7s} {'s':>6s} {'traced 1st half':>16s} "
          f"{'traced 2nd half':>16s} {'RSS 1st half':>13s} {'RSS 2nd half':>13s}")
    for name, call in todo.items():
        marks = []
        t0 = time.perf_counter()
        for part in range(3):
            gc.collect()
            marks.append((tracemalloc.get_traced_memory()[0], rss()))
            if part < 2:
                for _ in range(half):
                    call()
        elapsed = time.perf_counter() - t0
        traced = [marks[1][0] - marks[0][0], marks[2][0] - marks[1][0]]
        grown = [marks[1][1] - marks[0][1], marks[2][1] - marks[1][1]]
        # a leak keeps growing: the second half alone must stay under half the limits
        bad = traced[1] > TRACED_LIMIT // 2 or grown[1] > RSS_LIMIT // 2
        if bad:
            failed.append(name)
        print(f"{name:34s} {2 * half:7d} {elapsed:6.1f} {traced[0]:14d} B {traced[1]:14d} B "
              f"{grown[0] / 1024:9.0f} KiB {grown[1] / 1024:9.0f} KiB" + ("   LEAK?" if bad else ""))
    print("leak_check: " + (f"growth in {', '.join(failed)}" if failed else "no growth"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
