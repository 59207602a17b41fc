"""`logitkit verify FILE`: the worst ULP error of every function against logitkit.reference on
the logits of FILE, each against its accuracy bar from the registry (logitkit._registry)."""

from __future__ import annotations

import argparse

import numpy as np

from logitkit import testing
from logitkit._registry import FUNCTIONS, function
from logitkit.cli._common import EXIT_FAIL, EXIT_OK, UserError, check_axis, short
from logitkit.cli.io import read_logits

# the functions of the logits alone (the losses and the backward functions need more inputs)
CHECKED = tuple(f for f in FUNCTIONS if f.kind in ("normalize", "reduce", "elementwise"))


def run(args: argparse.Namespace) -> int:
    x = read_logits(args.input, args.key, args.header)     # a .npy stays memory-mapped
    axis = check_axis(args.axis, x.ndim, x.shape)
    rows = np.moveaxis(x, axis, -1) if x.ndim else x.reshape(1)
    total = rows.shape[0] if rows.ndim > 1 else 1
    if args.max_elements > 0 and rows.ndim > 1 and rows.size > args.max_elements:
        keep = max(1, args.max_elements // max(1, int(np.prod(rows.shape[1:]))))
        rows = rows[:keep]
    shown = rows.shape[0] if rows.ndim > 1 else 1
    print(f"{args.input}: {x.dtype}, shape {x.shape}, classes along axis {axis}; "
          f"checking {shown} of {total} rows against logitkit.reference")
    names = args.function or [f.name for f in CHECKED]
    failed = []
    for name in names:
        entry = function(name)
        kwargs = {"axis": -1} if entry.kind in ("normalize", "reduce") else {}
        try:
            worst = float(testing.max_ulp_difference(name, np.asarray(rows), **kwargs))
        except (TypeError, ValueError) as e:
            raise UserError(f"verify {name}: {short(e)}") from None
        bar = entry.max_ulp
        ok = worst <= bar
        if not ok:
            failed.append(name)
        print(f"  {name:<19} worst {worst:>8.3g} ULP   bar {bar:g}   {'ok' if ok else 'FAIL'}")
    print("all within the accuracy bars" if not failed else f"over the bar: {', '.join(failed)}")
    return EXIT_OK if not failed else EXIT_FAIL
