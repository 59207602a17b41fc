"""The `logitkit` command line (also `python -m logitkit`); the user's guide is docs/cli.md.

    logitkit                                  the seeds' worked example (logitkit._demo)
    logitkit softmax logits.npy -o probs.npy  a function of the logits (every registered one
                                              with a CLI name: softmax, log-softmax, logsumexp,
                                              sigmoid, sigmoid-derivative, log-sigmoid, softplus)
    logitkit cross-entropy logits.csv --targets labels.txt [--reduction none]
    logitkit bce logits.csv --targets labels.csv | perplexity logits.csv --targets labels.txt
    logitkit predict logits.csv --prob --top-k 3
    logitkit info | verify FILE | bench

Inputs: .npy, .npz (--key chooses the array), .csv, .tsv, .txt (whitespace), or `-` for
standard input (text, or .npy/.npz bytes). Outputs: -o FILE with the format taken from its
extension (.npy, .npz, .csv, .tsv, .txt), else text on standard output separated as the input
was. Text is written with the shortest digits that read back to the same value, so a text round
trip is exact.

A .npy input is memory-mapped and processed in chunks of rows along its first axis whenever the
reduction axis is another one (always for the elementwise functions), so files larger than
memory work; the result streams to the output (.npy outputs are memory-mapped too).

User mistakes (a missing file, a bad axis, a non-numeric CSV cell, a number too large for a
float64, an unknown .npz key, a target out of range, ...) print one line `logitkit: error: ...`
on standard error and exit with status 2; `verify` exits with status 1 when a function misses
its accuracy bar.

The parts: `parser` (the arguments), `io` (reading inputs), `sinks` (writing outputs),
`commands` (the functions of the logits alone and predict), `losses` (the commands with
targets), `verify`, `bench` and `info`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from logitkit.cli import bench, decoding, info, losses, verify
from logitkit.cli._common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, UserError, report_error
from logitkit.cli.commands import BY_COMMAND, demo, transform
from logitkit.cli.parser import build_parser

__all__ = ["main"]

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    **{command: transform for command in BY_COMMAND}, "predict": transform,
    **{command: losses.run for command in losses.FUNCTION_OF},
    "info": info.run, "verify": verify.run, "bench": bench.run, "demo": demo,
    **{command: decoding.run for command in decoding.FUNCTION_OF},
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = build_parser().parse_args(args_list)
        except SystemExit as e:                # --help, --version
            return e.code if isinstance(e.code, int) else EXIT_OK
        if args.command is None:
            return demo()
        return COMMANDS[args.command](args)
    except UserError as e:
        report_error(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("logitkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:                    # `logitkit softmax big.npy | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:
        report_error("out of memory; for a large .npy input, reduce along an axis other than "
                     "the first so it is processed in chunks")
        return EXIT_FAIL
