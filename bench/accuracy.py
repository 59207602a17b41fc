"""Worst error in ULP per function and dtype: logitkit, PyTorch and SciPy side by side.

    python bench/accuracy.py            # default suite (~30 s)
    python bench/accuracy.py --quick    # small suite (the one tests/test_accuracy.py gates on)
    python bench/accuracy.py --full     # adds 10^6-element rows and denser grids (minutes)
    python bench/accuracy.py --json out.json

Errors are measured against the mpmath oracle of logitkit.testing.oracle, on its adversarial
inputs (logitkit.testing.adversarial), in ULPs of the exact result in the output dtype; the bars
are the registry's (logitkit._registry, documented in docs/semantics.md). For logsumexp two rows
are shown: the bar metric (relative ULP where |result| >= 1, absolute error in ULP of
max(|max|, log(sum)) where |result| < 1, since the relative error there is ill-conditioned for
any working-precision algorithm) and the plain relative ULP error over all results.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import time
import warnings
from contextlib import nullcontext

import numpy as np

import _accuracy_elementary  # logit, softplus(beta), sparsemax beside their peers' formulas
import _peers  # bench/_peers.py (the script's own directory is on sys.path)
from logitkit.testing import oracle


def run(level="default", libraries=_peers.LIBRARIES, functions=oracle.FUNCTIONS,
        dtypes=oracle.DTYPES, axis0=True, progress=None):
    """Measure every library; returns a list of result rows (dicts)."""
    impls = _peers.implementations(libraries)
    for lib, fns in _peers.information_impls(libraries).items():
        impls.setdefault(lib, {}).update(fns)
    rows = []
    for dtype in dtypes:
        batches = {"reduction": None, "elementwise": None}
        for func in functions:
            kind = "reduction" if func in oracle.REDUCTIONS else "elementwise"
            if func in oracle.INFORMATION:
                kind = "reduction"
            if batches[kind] is None:
                batches[kind] = oracle.suite(func, dtype, level)
            bs = batches[kind]
            t0 = time.perf_counter()
            for b in bs:                       # oracle first, so timings below are the libs'
                oracle.refs_for(b, func, dtype)
            t_oracle = time.perf_counter() - t0
            metrics = ["bar", "ulp"] if func == "logsumexp" else ["ulp"]
            if func == "kl_divergence":
                metrics = ["bar", "ulp", "terms"]
            per_lib = {}
            for lib in libraries:
                impl = impls.get(lib, {}).get(func)
                if impl is None:
                    per_lib[lib] = None
                    continue
                quiet = np.errstate(all="ignore") if lib != "logitkit" else nullcontext()
                with warnings.catch_warnings(record=True) as caught, quiet:
                    warnings.simplefilter("always")
                    try:
                        res = oracle.run_library(impl, func, dtype, bs, axis0=axis0)
                    except Exception as e:      # a peer that can't do a case: say so
                        per_lib[lib] = {"error": f"{type(e).__name__}: {e}"}
                        continue
                per_lib[lib] = {m: res[m] for m in metrics}
                per_lib[lib]["warnings"] = sorted({f"{w.category.__name__}: {w.message}"
                                                   for w in caught})
            for m in metrics:
                name = func if m == "ulp" and func != "logsumexp" else \
                    ("logsumexp" if m == "bar" else "logsumexp [rel. ULP, all]")
                if func == "kl_divergence":
                    name = {"bar": "kl_divergence", "ulp": "kl_divergence [rel. ULP, all]",
                            "terms": "kl_divergence [lesser of ULP, error / terms in 2^-53]"}[m]
                row = {"function": name, "dtype": np.dtype(dtype).name,
                       "bar": oracle.BARS[func] if m == "bar" or func != "logsumexp" else None,
                       "oracle_s": round(t_oracle, 2), "libs": {}}
                if func == "kl_divergence" and m != "bar":
                    row["bar"] = None
                for lib in libraries:
                    r = per_lib.get(lib)
                    if r is None:
                        row["libs"][lib] = None
                    elif "error" in r:
                        row["libs"][lib] = {"ulp": None, "case": r["error"], "warnings": []}
                    else:
                        w = r[m]
                        row["libs"][lib] = {"ulp": w.ulp, "case": w.case,
                                            "checked": w.n_checked, "warnings": r["warnings"]}
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def _num(u):
    if u is None:
        return "err"
    if math.isinf(u):
        return "inf"
    if u >= 1e5:
        return f"{u:.2e}"
    return f"{u:.2f}"


def format_table(rows, libraries=_peers.LIBRARIES):
    head = ["function", "dtype", "bar"] + list(libraries) + ["checked"]
    body = []
    for r in rows:
        cells = [r["function"], r["dtype"], "-" if r["bar"] is None else f"<= {r['bar']}"]
        checked = "-"
        for lib in libraries:
            v = r["libs"].get(lib)
            if v is None:
                cells.append("-")
                continue
            c = _num(v["ulp"])
            if lib == "logitkit" and r["bar"] is not None and v["ulp"] is not None \
                    and not v["ulp"] <= r["bar"]:
                c += " MISS"
            if v["warnings"]:
                c += " (warns)"
            cells.append(c)
            checked = str(v.get("checked", checked))
        cells.append(checked)
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cs: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cs, widths)) + " |"  # noqa
    out = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(b) for b in body]
    return "\n".join(out)


def format_cases(rows, libraries=_peers.LIBRARIES):
    out = ["Worst cases (input -> result vs exact):"]
    for r in rows:
        out.append(f"  {r['function']} {r['dtype']}:")
        for lib in libraries:
            v = r["libs"].get(lib)
            if v is not None:
                out.append(f"    {lib:9s} {_num(v['ulp']):>9s} ULP  {v['case']}")
                for w in v["warnings"][:3]:
                    out.append(f"    {'':9s} warning: {w}")
    return "\n".join(out)


def header(level):
    simd, threads = _peers.logitkit_info()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    import mpmath
    return (f"# logitkit accuracy ({level} suite) - {now} - CPU: {_peers.cpu_model()}\n"
            f"# oracle: mpmath {mpmath.__version__} at {oracle.PREC_BITS} bits; numpy "
            f"{np.__version__}, torch {_peers.version('torch')}, scipy "
            f"{_peers.version('scipy')}; logitkit {_peers.version('logitkit')} "
            f"(SIMD path {simd}, threads {threads})\n"
            f"# worst error in ULP of the exact result in the output dtype; reductions also "
            f"checked along axis 0 of the transposed array")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small suite (< 30 s)")
    g.add_argument("--full", action="store_true", help="10^6-element rows, dense grids (slow)")
    ap.add_argument("--json", metavar="FILE", help="save the results as JSON")
    ap.add_argument("--functions", metavar="NAMES",
                    help="comma-separated subset, e.g. softmax,sigmoid")
    ap.add_argument("--no-axis0", action="store_true",
                    help="skip the axis-0 (transposed) layout for reductions")
    args = ap.parse_args(argv)
    level = "quick" if args.quick else "full" if args.full else "default"
    functions = oracle.FUNCTIONS
    if args.functions:
        functions = tuple(f.strip() for f in args.functions.split(",") if f.strip())
        bad = set(functions) - set(oracle.FUNCTIONS)
        if bad:
            ap.error(f"unknown function(s) {sorted(bad)}; choose from {oracle.FUNCTIONS}")
    libraries = _peers.LIBRARIES
    if _peers.load("logitkit") is None:
        print("note: logitkit is not importable; its column shows '-'", file=sys.stderr)
    t0 = time.perf_counter()
    progress = lambda r: print(f"  measured {r['function']} {r['dtype']}",  # noqa: E731
                               file=sys.stderr, flush=True)
    rows = run(level, libraries, functions, axis0=not args.no_axis0, progress=progress)
    print(header(level))
    print(format_table(rows, libraries))
    print()
    print(format_cases(rows, libraries))
    if not args.functions:
        extra = _accuracy_elementary.run(level, progress=progress)
        print()
        print(format_table(extra, _accuracy_elementary.LIBRARIES))
        print()
        print(format_cases(extra, _accuracy_elementary.LIBRARIES))
        rows = rows + extra
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header(level), "level": level, "rows": rows}, f, indent=1,
                      default=str)
    return 1 if any(_missed(r) for r in rows) else 0


def _missed(row):
    lk = row["libs"].get("logitkit")
    if lk is None or row["bar"] is None:
        return False
    return lk["ulp"] is None or not lk["ulp"] <= row["bar"]


if __name__ == "__main__":
    sys.exit(main())
