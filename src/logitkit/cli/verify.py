"""`logitkit verify FILE`: the worst ULP error of every function against logitkit.reference on
the logits of FILE, each against its accuracy bar from the registry (logitkit._registry).

The logits are taken as slices along --axis: an array of shape (outer, n, inner) has
outer x inner slices of n classes. The losses are checked against targets drawn from a fixed
seed (a class index per slice for cross_entropy, a probability per logit for
binary_cross_entropy_with_logits), per slice (reduction "none") and with their gradients.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from logitkit import testing
from logitkit._registry import FUNCTIONS, Function, function
from logitkit.cli._common import EXIT_FAIL, EXIT_OK, UserError, check_axis, short
from logitkit.cli.io import read_logits

# the functions of the logits (the losses with made-up targets); the backward functions need
# a gradient and a forward result, which a file of logits does not give
CHECKED = tuple(f for f in FUNCTIONS if f.kind != "backward")


def slices(x: np.ndarray, axis: int, limit: int) -> tuple[np.ndarray, int]:
    """The leading slices of `x` along `axis` as the rows of a 2-d array (at most `limit`
    elements' worth, at least one slice; `limit` 0 for all), and how many slices there are.
    Only the slices taken are read from a memory-mapped file."""
    if x.ndim == 0:
        return np.asarray(x).reshape(1, 1), 1
    moved = np.moveaxis(x, axis, -1)                   # (..., n): a view
    n = moved.shape[-1]
    total = math.prod(moved.shape[:-1])
    keep = total if limit <= 0 else min(total, max(1, limit // max(1, n)))
    if moved.ndim > 1 and keep < total:
        # enough of the first leading axis to hold `keep` slices, before anything is copied
        per_first = math.prod(moved.shape[1:-1])
        moved = moved[:-(-keep // max(1, per_first))]
    rows = np.asarray(moved).reshape(math.prod(moved.shape[:-1]), n)[:keep]
    return rows, total


def run(args: argparse.Namespace) -> int:
    x = read_logits(args.input, args.key, args.header).array
    axis = check_axis(args.axis, x.ndim, x.shape)
    rows, total = slices(x, axis, args.max_elements)
    n = rows.shape[1]
    plural = "slice" if total == 1 else "slices"
    print(f"{args.input}: {x.dtype}, shape {x.shape}, classes along axis {axis}; checking "
          f"{len(rows)} of {total} {plural} of {n} against logitkit.reference")
    names = args.function or [f.name for f in CHECKED]
    failed = []
    for name in names:
        entry = function(name)
        kwargs = _arguments(entry, rows)
        if isinstance(kwargs, str):
            print(f"  {name:<32} {kwargs}")
            continue
        try:
            worst = float(testing.max_ulp_difference(name, rows, **kwargs))
        except (TypeError, ValueError) as e:
            raise UserError(f"verify {name}: {short(e)}") from None
        # the reference is itself rounded once: its bar is the function's plus that rounding
        bar = entry.max_ulp_vs_reference
        ok = worst <= bar
        if not ok:
            failed.append(name)
        print(f"  {name:<32} worst {worst:>8.3g} ULP   bar {bar:g}   {'ok' if ok else 'FAIL'}")
    print("all within the accuracy bars" if not failed else f"over the bar: {', '.join(failed)}")
    return EXIT_OK if not failed else EXIT_FAIL


def _arguments(entry: Function, rows: np.ndarray) -> dict[str, object] | str:
    """The arguments besides the logits for checking `entry` on `rows`, or why it cannot be
    checked there."""
    if entry.name == "kl_divergence":          # q: each slice's classes in reverse order
        return {"q_logits": np.ascontiguousarray(rows[:, ::-1]), "axis": -1}
    if entry.kind in ("normalize", "reduce"):
        return {"axis": -1}
    if entry.kind == "elementwise":
        return {}
    if entry.kind == "select":
        if rows.shape[1] == 0:
            return "skipped: no classes to choose from"
        if entry.name == "top_k":
            return {"k": min(5, rows.shape[1]), "axis": -1}
        return {"axis": -1, "top_p": 0.9, "size": 4, "rng": 0}
    if rows.shape[1] == 0:
        return "skipped: no classes to take a loss over"
    rng = np.random.default_rng(0)
    common = {"reduction": "none", "return_grad": True}
    if entry.name == "cross_entropy":
        return {"target": rng.integers(0, rows.shape[1], len(rows)), "axis": -1, **common}
    if entry.name == "binary_cross_entropy_with_logits":
        return {"target": rng.random(rows.shape), **common}
    return "skipped: no targets for it"
