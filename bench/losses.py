"""Speed of logitkit's losses and vector-Jacobian products next to PyTorch (issue 4's bars).

    python bench/losses.py                 # everything (~2 min; 4096x32000 needs ~2.5 GB)
    python bench/losses.py --quick         # small cases only (< 20 s)
    python bench/losses.py --cases 32000   # only cases whose label contains '32000'
    python bench/losses.py --cpu-time      # time with the thread's CPU clock (shared machines)
    python bench/losses.py --json out.json

Same table and timing rules as bench/run.py (whose machinery this reuses): median over repeated
batches, microseconds per call, 1 thread, ratio = torch time / logitkit time ("x faster").
Each case runs the two libraries side by side on the same input; PyTorch is optional (its
columns show "-"). "lk peak MB" is the extra memory logitkit allocates during one call
(tracemalloc sees NumPy's allocations): O(rows) for cross_entropy without a gradient.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np

import _peers  # bench/_peers.py (the script's own directory is on sys.path)
import run  # bench/run.py: table rendering, bar checks, header


@dataclass
class Case:
    """``op`` on a float ``shape`` input of ``dtype``; ``bar`` = minimum torch/logitkit ratio."""
    op: str
    shape: tuple
    dtype: str = "float32"
    bar: dict = field(default_factory=dict)
    quick: bool = False
    threads: int = 1            # for logitkit and torch alike

    @property
    def label(self):
        label = f"{self.op} {self.dtype} {'x'.join(map(str, self.shape))}"
        return label + (f" {self.threads} threads" if self.threads > 1 else "")


CASES = [
    Case("cross_entropy", (4096, 32000), bar={"torch": 3}),
    Case("cross_entropy+grad", (4096, 32000), bar={"torch": 2}),
    Case("cross_entropy", (1024, 32000)),
    Case("cross_entropy+grad", (1024, 32000)),
    Case("cross_entropy", (4096, 10), bar={"torch": 3}, quick=True),
    Case("cross_entropy+grad", (4096, 10), bar={"torch": 2}, quick=True),
    Case("cross_entropy", (1024, 1000), quick=True),
    Case("cross_entropy+grad", (1024, 1000), quick=True),
    Case("cross_entropy", (4096, 10), "float64"),
    Case("cross_entropy", (1024, 1000), "float64"),
    Case("cross_entropy smooth=0.1", (1024, 1000)),
    Case("cross_entropy+grad smooth=0.1", (1024, 1000)),
    Case("cross_entropy+grad soft", (1024, 1000)),
    Case("cross_entropy+grad soft=self", (1024, 1000)),
    Case("bce_with_logits", (1024, 1000), quick=True),
    Case("bce_with_logits+grad", (1024, 1000)),
    Case("bce_with_logits+grad soft=self", (1024, 1000)),
    Case("softmax_backward", (1024, 1000), bar={"torch": 2.5}, quick=True),
    Case("log_softmax_backward", (1024, 1000), bar={"torch": 2.5}, quick=True),
    Case("sigmoid_backward", (1024, 1000), bar={"torch": 2.5}, quick=True),
    Case("softmax_backward", (4096, 10), bar={"torch": 2.5}),
    Case("log_softmax_backward", (4096, 10), bar={"torch": 2.5}),
    Case("sigmoid_backward", (4096, 10), bar={"torch": 2.5}),
    Case("softmax_backward", (1024, 1000), "float64", bar={"torch": 2.5}),
    Case("log_softmax_backward", (1024, 1000), "float64", bar={"torch": 2.5}),
    Case("sigmoid_backward", (1024, 1000), "float64", bar={"torch": 2.5}),
    Case("cross_entropy", (4096, 32000), threads=2),
    Case("cross_entropy+grad", (4096, 32000), threads=2),
]


def self_targets(op, x):
    """The model's own probabilities, rounded to x's dtype (self-distillation): the gradient
    T p - q then cancels to that rounding, which float32 redoes in double-double lanes."""
    v = x.astype(np.float64)
    if op.startswith("bce"):
        return (0.5 * (1.0 + np.tanh(0.5 * v))).astype(x.dtype)
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)


def make_inputs(case):
    """Logits and the case's targets: class indices, or with "soft" in the op rows of random
    class probabilities ("soft=self": the model's own, see self_targets)."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(case.shape) * 3).astype(case.dtype)
    rows, n = case.shape
    if "soft=self" in case.op:
        return x, self_targets(case.op, x)
    if case.op.startswith("cross_entropy") and " soft" in case.op:
        p = rng.random(case.shape)
        return x, (p / p.sum(axis=1, keepdims=True)).astype(case.dtype)
    if case.op.startswith("cross_entropy"):
        return x, rng.integers(0, n, rows)
    if case.op.startswith("bce"):
        return x, (rng.random(case.shape) < 0.3).astype(case.dtype)
    return x, rng.standard_normal(case.shape).astype(case.dtype)


def forward_output(lk, op, x):
    """The forward result a backward case starts from, shared by both libraries (computed
    once with logitkit, so that both get bit-identical inputs)."""
    return {"softmax_backward": lk.softmax, "log_softmax_backward": lk.log_softmax,
            "sigmoid_backward": lk.sigmoid}[op](x)


def logitkit_call(lk, case, x, other):
    op = case.op
    if op.startswith("cross_entropy"):
        kw = {"label_smoothing": 0.1} if "smooth" in op else {}
        grad = "+grad" in op
        return lambda: lk.cross_entropy(x, other, return_grad=grad, **kw)
    if op.startswith("bce"):
        grad = "+grad" in op
        return lambda: lk.binary_cross_entropy_with_logits(x, other, return_grad=grad)
    y = forward_output(lk, op, x)
    fn = getattr(lk, op)
    return lambda: fn(other, y)


def torch_call(torch, lk, case, x, other):
    F = torch.nn.functional
    op = case.op
    tx = torch.from_numpy(x)
    to = torch.from_numpy(other)
    if op.startswith("cross_entropy"):
        kw = {"label_smoothing": 0.1} if "smooth" in op else {}
        if "+grad" not in op:
            return lambda: F.cross_entropy(tx, to, **kw)
        tg = tx.clone().requires_grad_()

        def fwd_bwd():
            tg.grad = None
            loss = F.cross_entropy(tg, to, **kw)
            loss.backward()
            return loss, tg.grad
        return fwd_bwd
    if op.startswith("bce"):
        if "+grad" not in op:
            return lambda: F.binary_cross_entropy_with_logits(tx, to)
        tg = tx.clone().requires_grad_()

        def fwd_bwd_bce():
            tg.grad = None
            loss = F.binary_cross_entropy_with_logits(tg, to)
            loss.backward()
            return loss, tg.grad
        return fwd_bwd_bce
    aten = torch.ops.aten
    dt = tx.dtype
    y = torch.from_numpy(forward_output(lk, op, x))
    if op == "softmax_backward":
        return lambda: aten._softmax_backward_data(to, y, -1, dt)
    if op == "log_softmax_backward":
        return lambda: aten._log_softmax_backward_data(to, y, -1, dt)
    return lambda: aten.sigmoid_backward(to, y)


def peak_mb(fn):
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / 2 ** 20


def agree(a, b, dtype):
    """logitkit's and torch's results agree (a loss, or (loss, grad), or an array)."""
    if isinstance(a, tuple):
        return all(agree(u, v, dtype) for u, v in zip(a, b))
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    tol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-10
    return bool(np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol,
                            atol=tol * 1e-3))


def run_case(case, lk, torch, budget, repeats, timer):
    x, other = make_inputs(case)
    res = {"label": case.label, "threads": case.threads, "bar": case.bar, "us": {}, "ratio": {},
           "note": ""}
    for peer in (lk, torch):
        if peer is not None and hasattr(peer, "set_num_threads"):
            peer.set_num_threads(case.threads)
    try:
        return _run_case(case, lk, torch, budget, repeats, timer, x, other, res)
    finally:
        for peer in (lk, torch):
            if peer is not None and hasattr(peer, "set_num_threads"):
                peer.set_num_threads(1)


def _run_case(case, lk, torch, budget, repeats, timer, x, other, res):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_lk = logitkit_call(lk, case, x, other)
        res["us"]["logitkit"] = run.measure(f_lk, budget, repeats, timer)
        res["peak_mb"] = peak_mb(f_lk)
        if torch is not None:
            f_t = torch_call(torch, lk, case, x, other)
            res["us"]["torch"] = run.measure(f_t, budget, repeats, timer)
            res["ratio"]["torch"] = res["us"]["torch"] / res["us"]["logitkit"]
            if not agree(f_lk(), f_t(), case.dtype):
                res["note"] = "results differ > 1e-4: see --accuracy"
        dst = np.empty_like(x)
        res["us"]["memcpy"] = run.measure(lambda: np.copyto(dst, x), budget, repeats, timer)
    res["bar_ok"] = run.check_bar(case.bar, res)
    return res


def table(results):
    head = ["case", "logitkit us", "torch us", "memcpy us", "torch/lk", "lk peak MB", "bar",
            "status"]
    rows = [[r["label"], run._us(r["us"].get("logitkit")), run._us(r["us"].get("torch")),
             run._us(r["us"].get("memcpy")), run._x(r["ratio"].get("torch")),
             f"{r['peak_mb']:.2f}", run.bar_text(r["bar"]),
             r["bar_ok"] + (f" ({r['note']})" if r["note"] else "")] for r in results]
    return run._render(head, rows)


# --------------------------------------------------------------------------------------------
# accuracy: worst ULPs against mpmath, logitkit and torch side by side (--accuracy)
# --------------------------------------------------------------------------------------------
def _adversarial(dtype, n, rng):
    big = float(np.finfo(dtype).max)
    rows = [np.r_[0.0, np.full(n - 1, -40.0)], np.r_[0.0, np.full(n - 1, -17.0)],
            np.r_[30.0, rng.standard_normal(n - 1)], rng.standard_normal(n) * 1e-3,
            rng.standard_normal(n) * 30 + 1e4, rng.standard_normal(n) * 300,
            np.r_[big, big * 0.5, -big, rng.standard_normal(n - 3)],
            np.r_[-np.inf, 1.0, rng.standard_normal(n - 2)], np.r_[5.0, 5.0, rng.standard_normal(n - 2)]]
    return np.array(rows).astype(dtype)


def accuracy(torch):
    import mpmath
    mp = mpmath.mp
    mp.dps = 60

    def ulp(got, exact, dtype):
        info = np.finfo(dtype)
        exact = mp.mpf(exact)
        got = float(got)
        if exact == 0:
            return 0.0 if got == 0 else float("inf")
        if abs(exact) >= mp.ldexp(1, info.maxexp) - mp.ldexp(1, info.maxexp - info.nmant - 2):
            return 0.0 if got == mp.sign(exact) * float("inf") else float("inf")
        if not np.isfinite(got):
            return float("inf")
        _, e = mp.frexp(exact)
        unit = mp.ldexp(1, max(int(e) - info.nmant - 1, int(info.minexp) - info.nmant))
        return float(abs(mp.mpf(got) - exact) / unit)

    lk = _peers.load("logitkit")
    F = torch.nn.functional if torch is not None else None
    rows = []
    for dtype in (np.float32, np.float64):
        worst = {}
        rng = np.random.default_rng(1)

        def note(lib, quantity, got, exact, terms=None):
            """The worst ULP of `quantity`; with terms (the magnitudes that cancel in exact),
            also the lesser of the ULPs and the error over the terms in units of 2^-53."""
            u = ulp(got, exact, dtype)
            worst[(lib, quantity)] = max(worst.get((lib, quantity), 0.0), u)
            if terms is not None:
                k = (lib, quantity + ", min(ULP, error / terms in 2^-53)")
                rel = float(abs(mp.mpf(float(got)) - exact) / terms * mp.ldexp(1, 53))
                worst[k] = max(worst.get(k, 0.0), min(u, rel))

        def log_softmax_backward_results(go, ls):
            res = {"logitkit": lk.log_softmax_backward(go, ls)}
            if torch is not None:
                tl = torch.from_numpy(ls)
                res["torch"] = torch.ops.aten._log_softmax_backward_data(
                    torch.from_numpy(go), tl, -1, tl.dtype).numpy()
            return res
        for n in (3, 10, 300, 4000):
            x = _adversarial(dtype, n, rng)
            for y in (np.argmax(x, 1), np.full(len(x), n // 2)):
                res = {"logitkit": lk.cross_entropy(x, y, reduction="none", return_grad=True)}
                if F is not None:
                    tx = torch.from_numpy(x).requires_grad_()
                    tl = F.cross_entropy(tx, torch.from_numpy(y), reduction="none")
                    tl.sum().backward()
                    res["torch"] = (tl.detach().numpy(), tx.grad.numpy())
                for r in range(len(x)):
                    xs = [mp.mpf(float(v)) for v in x[r] if v != -np.inf]
                    top = max(range(len(xs)), key=lambda i: xs[i])
                    m = xs[top]
                    es = [mp.exp(v - m) for v in (mp.mpf(float(u)) for u in x[r])]
                    L = mp.log1p(mp.fsum(e for i, e in enumerate(es) if i != int(np.argmax(x[r]))))
                    exact_loss = (m - mp.mpf(float(x[r, y[r]]))) + L
                    S = mp.fsum(es)
                    for lib, (loss, grad) in res.items():
                        k = (lib, "cross_entropy loss")
                        worst[k] = max(worst.get(k, 0.0), ulp(loss[r], exact_loss, dtype))
                        k = (lib, "cross_entropy grad")
                        for j in range(n) if n <= 300 else (0, 1, y[r], n - 1):
                            g = es[j] / S if j != y[r] else -mp.fsum(e for i, e in enumerate(es) if i != y[r]) / S
                            worst[k] = max(worst.get(k, 0.0), ulp(grad[r, j], g, dtype))
        # soft targets: the model's own softmax (self-distillation, T p_j - q_j cancels to the
        # targets' rounding) and random ones, with and without smoothing. The second quantity
        # is the lesser of the ULPs and the error over |T p_j| + |q_j| in units of 2^-53: where
        # the two terms cancel, double arithmetic's bound is a few units of the latter
        for n in (10, 300):
            x = (rng.standard_normal((4, n)) * 3).astype(dtype)
            for t in (lk.softmax(x), rng.dirichlet(np.ones(n), 4).astype(dtype)):
                for eps in (0.0, 0.1):
                    res = {"logitkit": lk.cross_entropy(x, t, label_smoothing=eps, reduction="sum",
                                                        return_grad=True)[1]}
                    if F is not None:
                        tx = torch.from_numpy(x).requires_grad_()
                        F.cross_entropy(tx, torch.from_numpy(t), label_smoothing=eps,
                                        reduction="sum").backward()
                        res["torch"] = tx.grad.numpy()
                    for r in range(len(x)):
                        xs = [mp.mpf(float(v)) for v in x[r]]
                        m = max(xs)
                        es = [mp.exp(v - m) for v in xs]
                        S = mp.fsum(es)
                        q = [(1 - mp.mpf(eps)) * mp.mpf(float(v)) + mp.mpf(eps) / n for v in t[r]]
                        T = mp.fsum(q)
                        for j in range(n):
                            tp = T * es[j] / S
                            for lib, grad in res.items():
                                note(lib, "cross_entropy soft-target grad", grad[r, j],
                                     tp - q[j], abs(tp) + abs(q[j]))
        big = float(np.finfo(dtype).max)
        xb = np.array([0.0, 1e-30, 0.5, -3.0, 17.0, -17.0, 40.0, -40.0, 100.0, -100.0, 700.0,
                       -700.0, big, -big], dtype)
        for tv in (0.0, 1.0):
            t = np.full(xb.shape, tv, dtype)
            res = {"logitkit": lk.binary_cross_entropy_with_logits(xb, t, reduction="none", return_grad=True)}
            if F is not None:
                tx = torch.from_numpy(xb).requires_grad_()
                tl = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(t), reduction="none")
                tl.sum().backward()
                res["torch"] = (tl.detach().numpy(), tx.grad.numpy())
            for i, v in enumerate(xb.tolist()):
                v = mp.mpf(v)
                el = mp.log1p(mp.exp(-v)) if tv == 1 else mp.log1p(mp.exp(v))
                eg = 1 / (1 + mp.exp(-v)) if tv == 0 else -1 / (1 + mp.exp(v))
                for lib, (loss, grad) in res.items():
                    k = (lib, "bce_with_logits loss")
                    worst[k] = max(worst.get(k, 0.0), ulp(loss[i], el, dtype))
                    k = (lib, "bce_with_logits grad")
                    worst[k] = max(worst.get(k, 0.0), ulp(grad[i], eg, dtype))
        x = _adversarial(dtype, 12, rng)[:7]
        go = rng.standard_normal(x.shape).astype(dtype)
        for name, fwd in (("softmax_backward", lk.softmax), ("sigmoid_backward", lk.sigmoid)):
            yv = fwd(x)
            res = {"logitkit": getattr(lk, name)(go, yv)}
            if torch is not None:
                tg, ty = torch.from_numpy(go), torch.from_numpy(yv)
                res["torch"] = (torch.ops.aten._softmax_backward_data(tg, ty, -1, ty.dtype)
                                if name == "softmax_backward" else
                                torch.ops.aten.sigmoid_backward(tg, ty)).numpy()
            for r in range(len(x)):
                dot = mp.fsum(mp.mpf(float(a)) * mp.mpf(float(b)) for a, b in zip(go[r], yv[r]))
                for j in range(x.shape[1]):
                    b = mp.mpf(float(yv[r, j]))
                    exact = (b * (mp.mpf(float(go[r, j])) - dot) if name == "softmax_backward"
                             else mp.mpf(float(go[r, j])) * b * (1 - b))
                    for lib, got in res.items():
                        worst[(lib, name)] = max(worst.get((lib, name), 0.0), ulp(got[r, j], exact, dtype))
        # bce against the model's own sigmoid (soft targets: the gradient cancels to the
        # targets' rounding), as for cross_entropy above
        xs_ = (rng.standard_normal(400) * 4).astype(dtype)
        ts_ = lk.sigmoid(xs_)
        res = {"logitkit": lk.binary_cross_entropy_with_logits(xs_, ts_, reduction="sum",
                                                               return_grad=True)[1]}
        if F is not None:
            tx = torch.from_numpy(xs_).requires_grad_()
            F.binary_cross_entropy_with_logits(tx, torch.from_numpy(ts_), reduction="sum").backward()
            res["torch"] = tx.grad.numpy()
        for i in range(len(xs_)):
            v, tv = mp.mpf(float(xs_[i])), mp.mpf(float(ts_[i]))
            a, b = (1 - tv) / (1 + mp.exp(-v)), tv / (1 + mp.exp(v))
            for lib, grad in res.items():
                note(lib, "bce_with_logits soft-target grad", grad[i], a - b, a + b)
        # log_softmax_backward as NLL's backward: g = -onehot(argmax) / rows, so that the top
        # class of a confident row gets (1 - e^y) / rows with y ~ -1e-18
        ls = lk.log_softmax(x)
        go = np.zeros_like(ls)
        go[np.arange(len(ls)), np.argmax(ls, axis=1)] = -1.0 / len(ls)
        res = log_softmax_backward_results(go, ls)
        for r in range(len(ls)):
            tot = mp.fsum(mp.mpf(float(v)) for v in go[r])
            for j in range(ls.shape[1]):
                exact = mp.mpf(float(go[r, j])) - mp.exp(mp.mpf(float(ls[r, j]))) * tot
                for lib, got in res.items():
                    note(lib, "log_softmax_backward (NLL)", got[r, j], exact)
        # log_softmax_backward with g = ones on near-uniform rows (the gradient of sum(log p)):
        # g_j - e^y_j n cancels to ~1e-3 of the terms in every element
        ls = lk.log_softmax(np.stack([np.linspace(-1e-3, 1e-3, 1000),
                                      np.linspace(-0.3, 0.2, 1000) ** 2]).astype(dtype))
        go = np.ones_like(ls)
        res = log_softmax_backward_results(go, ls)
        for r in range(len(ls)):
            for j in range(0, ls.shape[1], 7):
                term = mp.exp(mp.mpf(float(ls[r, j]))) * ls.shape[1]
                for lib, got in res.items():
                    note(lib, "log_softmax_backward (g = ones, near-uniform rows)", got[r, j],
                         1 - term, term + 1)
        # log_softmax_backward of KL(q || p) with q = the model's own softmax, rounded to the
        # dtype (self-distillation): g = -q / rows, so that g_j - e^y_j sum(g) cancels to the
        # rounding of q in every element, and below double precision on its terms in some
        x = (rng.standard_normal((8, 500)) * 3).astype(dtype)
        ls = lk.log_softmax(x)
        go = (-lk.softmax(x) / dtype(8)).astype(dtype)
        res = log_softmax_backward_results(go, ls)
        for r in range(len(ls)):
            tot = mp.fsum(mp.mpf(float(v)) for v in go[r])
            for j in range(ls.shape[1]):
                term = mp.exp(mp.mpf(float(ls[r, j]))) * tot
                exact = mp.mpf(float(go[r, j])) - term
                for lib, got in res.items():
                    note(lib, "log_softmax_backward (g = -own softmax / N)", got[r, j], exact,
                         abs(term))
        for (lib, fn), v in sorted(worst.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            rows.append([fn, np.dtype(dtype).name, lib, f"{v:.3g}"])
    print(run._render(["quantity", "dtype", "library", "worst ULP vs mpmath"], rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cases", metavar="SUBSTR", help="comma-separated label substrings")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--budget", type=float, default=None)
    ap.add_argument("--cpu-time", action="store_true",
                    help="measure with time.thread_time (CPU time of this thread)")
    ap.add_argument("--accuracy", action="store_true",
                    help="print worst ULPs against mpmath (logitkit and torch) and exit")
    args = ap.parse_args(argv)
    if args.accuracy:
        accuracy(_peers.load("torch"))
        return 0
    cases = [c for c in CASES if c.quick] if args.quick else list(CASES)
    if args.cases:
        subs = [s.lower() for s in args.cases.split(",") if s]
        cases = [c for c in cases if any(s in c.label.lower() for s in subs)]
    budget = args.budget or (0.05 if args.quick else 0.3)
    repeats = 5 if args.quick else 11
    timer = time.thread_time if args.cpu_time else time.perf_counter
    lk = _peers.load("logitkit")
    if lk is None or not hasattr(lk, "cross_entropy"):
        print("logitkit (with cross_entropy) is not importable", file=sys.stderr)
        return 1
    torch = _peers.load("torch")
    if torch is not None:
        torch.set_num_threads(1)
    if hasattr(lk, "set_num_threads"):
        lk.set_num_threads(1)
    t0 = time.perf_counter()
    results = []
    for i, case in enumerate(cases):
        print(f"  [{i + 1}/{len(cases)}] {case.label}", file=sys.stderr, flush=True)
        results.append(run_case(case, lk, torch, budget, repeats, timer))
    hdr = run.header() + ("; clock: thread CPU time" if args.cpu_time else "; clock: wall")
    run.report(hdr, table(results), results, t0, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
