"""The command line's arguments: one argparse parser with a subcommand per task."""

from __future__ import annotations

import argparse
from typing import NoReturn

from logitkit import __version__
from logitkit._registry import FUNCTIONS
from logitkit.cli._common import UserError
from logitkit.cli.verify import CHECKED

CHUNK_BYTES = 64 * 2**20          # input bytes per chunk of a memory-mapped .npy
DTYPES = ("float16", "float32", "float64")
# the help line of each subcommand that runs one function (the registry's `cli` names)
FUNCTION_HELP = {
    "softmax": "probabilities: exp(x - max) / sum over --axis",
    "log-softmax": "log-probabilities: x - logsumexp(x) over --axis",
    "logsumexp": "log(sum(exp(x))) over --axis (one value per row)",
    "sigmoid": "1 / (1 + exp(-x)), elementwise",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (via UserError), not usage + error."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _io_args(p: argparse.ArgumentParser, axis: bool = True) -> None:
    """The arguments of every subcommand that reads logits and writes a result."""
    p.add_argument("input", metavar="INPUT",
                   help="a .npy, .npz, .csv, .tsv or .txt file, or - for standard input")
    if axis:
        p.add_argument("--axis", type=int, default=-1,
                       help="the axis of the classes (default: -1, the last)")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="result dtype (default: float32 stays float32, the rest float64)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="write here; the format comes from the extension "
                        "(.npy .npz .csv .tsv .txt); default: text on stdout")
    p.add_argument("--key", metavar="NAME", default=None,
                   help="the array to read from a .npz input (needed if it holds several)")
    p.add_argument("--header", action="store_true",
                   help="the first line of a text input is a header: skip it")
    p.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES, help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="logitkit",
        description="Exact, fast softmax, log-softmax, logsumexp and sigmoid for files of "
                    "logits. Without a command: the worked example.",
        epilog="Inputs: .npy, .npz (--key NAME), .csv, .tsv, .txt, or - for stdin. "
               "Outputs: -o FILE.{npy,npz,csv,tsv,txt}, else text on stdout.")
    parser.add_argument("--version", action="version", version=f"logitkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    for f in FUNCTIONS:
        if f.cli is not None:
            p = sub.add_parser(f.cli, help=FUNCTION_HELP.get(f.cli, f"logitkit.{f.name}"))
            _io_args(p, axis=f.kind != "elementwise")
    p = sub.add_parser(
        "predict", help="argmax class per row, optionally with its probability and the top k",
        description="The predicted class (argmax over --axis) of every row. With --top-k K: "
                    "the K best classes, best first (ties: the lower index first). With "
                    "--prob: their softmax probabilities too, as extra columns after the "
                    "classes (text), a second array 'probs' (.npz).")
    _io_args(p)
    p.add_argument("--prob", action="store_true", help="also give the softmax probability")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="the K best classes")

    sub.add_parser("info", help="versions, SIMD code path and threads")
    sub.add_parser("demo", help="the worked example (the same as no command)")

    p = sub.add_parser("verify", help="worst ULP error of every function against "
                                      "logitkit.reference on the logits of FILE")
    p.add_argument("input", metavar="FILE", help="logits file (as for softmax), or -")
    p.add_argument("--axis", type=int, default=-1, help="axis of the classes (default: -1)")
    p.add_argument("--key", metavar="NAME", default=None, help="array of a .npz input")
    p.add_argument("--header", action="store_true", help="skip the first line of a text input")
    p.add_argument("--function", action="append", choices=sorted(f.name for f in CHECKED),
                   default=None, help="check only this function (repeatable; default: all)")
    p.add_argument("--max-elements", type=int, default=20_000, metavar="N",
                   help="check the leading rows up to N elements, 0 for all (the reference is "
                        "pure Python: about 10 us an element; default: 20000)")

    p = sub.add_parser("bench", help="a quick benchmark (a few seconds, on one thread)")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget (default: 3)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    return parser
