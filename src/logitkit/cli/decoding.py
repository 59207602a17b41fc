"""The selection commands: top-k (the K largest values of each row and their indices) and
sample (class indices drawn per row), from a file of logits. The whole input is taken at once
(a .npy still memory-mapped)."""

from __future__ import annotations

import argparse

import numpy as np

import logitkit
from logitkit.cli._common import EXIT_OK, UserError, check_axis, short
from logitkit.cli.io import read_logits
from logitkit.cli.sinks import open_sink

# the subcommands of this module, with the public function each one runs
FUNCTION_OF = {"top-k": "top_k", "sample": "sample"}


def run(args: argparse.Namespace) -> int:
    source = read_logits(args.input, args.key, args.header)
    x = np.asarray(source.array)
    if x.ndim == 0:
        raise UserError(f"{source.source}: holds a single number; {args.command} needs a class "
                        "axis")
    axis = check_axis(args.axis, x.ndim, x.shape)
    try:
        if args.command == "top-k":
            values, indices = logitkit.top_k(x, args.k, axis)
            results = {"values": np.moveaxis(values, axis, -1),
                       "indices": np.moveaxis(indices, axis, -1)}
        else:
            draws = logitkit.sample(x, axis=axis, temperature=args.temperature,
                                    top_k=args.top_k, top_p=args.top_p, min_p=args.min_p,
                                    size=args.size, rng=args.seed)
            results = {"sample": np.asarray(draws)}
    except (TypeError, ValueError) as e:
        raise UserError(short(e)) from None
    reduced = args.command == "sample" and args.size is None
    sink = open_sink(args.output, None, reduced, source.delimiter)
    try:
        sink.write(results)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return EXIT_OK
