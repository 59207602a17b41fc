"""The command line's arguments: one argparse parser with a subcommand per task."""

from __future__ import annotations

import argparse
from typing import NoReturn

from logitkit import __version__
from logitkit._registry import FUNCTIONS
from logitkit.cli._common import PROG, UserError
from logitkit.cli.losses import REDUCTIONS
from logitkit.cli.verify import CHECKED

CHUNK_BYTES = 64 * 2**20          # input bytes per chunk of a memory-mapped .npy
DTYPES = ("float16", "float32", "float64")
# the one-line help of each subcommand that runs a registered function (its `cli` name);
# short enough to stay on the subcommand's line of `logitkit --help`
FUNCTION_HELP = {
    "softmax": "probabilities over --axis",
    "log-softmax": "log-probabilities over --axis",
    "logsumexp": "log(sum(exp(x))) over --axis, one value per row",
    "sigmoid": "1 / (1 + exp(-x)), elementwise",
    "sigmoid-derivative": "sigmoid(x) * (1 - sigmoid(x)), elementwise",
    "log-sigmoid": "log(sigmoid(x)), elementwise",
    "softplus": "log(1 + exp(x)), elementwise",
    "logit": "log(p / (1 - p)), the inverse of the sigmoid, elementwise",
    "entropy": "entropy of softmax over --axis (nats), one value per row",
    "cross-entropy": "cross-entropy against class indices (--targets)",
    "bce": "binary cross-entropy against 0/1 or probabilities",
    "top-k": "the K largest values and their indices per row",
    "sample": "class indices drawn per row (--seed, --top-p, ...)",
    "nll": "negative log-likelihood of log-probabilities (--targets)",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (via UserError), not usage + error;
    main() adds the one `logitkit: error:` prefix, so only a subcommand's name is added here."""

    def error(self, message: str) -> NoReturn:
        command = self.prog[len(PROG):].strip()
        raise UserError(f"{command + ': ' if command else ''}{message} "
                        f"(see `{self.prog} --help`)")


def _formatter(prog: str) -> argparse.HelpFormatter:
    # wide enough that every subcommand's name and its help share a line
    return argparse.HelpFormatter(prog, max_help_position=26)


def _input_args(p: argparse.ArgumentParser, axis: bool = True,
                header: str = "the first line of a text input is a header: skip it") -> None:
    """The arguments of every subcommand that reads logits."""
    p.add_argument("input", metavar="INPUT",
                   help="a .npy, .npz, .csv, .tsv or .txt file, or - for standard input")
    if axis:
        p.add_argument("--axis", type=int, default=-1,
                       help="the axis of the classes (default: -1, the last)")
    p.add_argument("--key", metavar="NAME", default=None,
                   help="the array to read from a .npz input (needed if it holds several)")
    p.add_argument("--header", action="store_true", help=header)


def _output_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="write here; the format comes from the extension "
                        "(.npy .npz .csv .tsv .txt); default: text on stdout, separated as "
                        "the input was")


def _io_args(p: argparse.ArgumentParser, axis: bool = True) -> None:
    """The arguments of every subcommand that reads logits and writes a result of them."""
    _input_args(p, axis)
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="result dtype (default: float32 stays float32, the rest float64)")
    _output_arg(p)
    p.add_argument("--chunk-bytes", type=int, default=CHUNK_BYTES, help=argparse.SUPPRESS)


def _loss_args(p: argparse.ArgumentParser, indices: bool, reduction: bool) -> None:
    _input_args(p, axis=indices, header="the first line of each text input (logits and "
                                        "targets) is a header: skip it")
    p.add_argument("--targets", metavar="FILE", required=True,
                   help="class indices, one per row of logits" if indices else
                        "0/1 labels or probabilities in [0, 1], the logits' shape")
    p.add_argument("--targets-key", metavar="NAME", default=None,
                   help="the array to read from a .npz targets file")
    if indices:
        p.add_argument("--ignore-index", type=int, default=None, metavar="N",
                       help="rows whose target is N take no part (default: none)")
    if reduction:
        p.add_argument("--reduction", choices=REDUCTIONS, default="mean",
                       help="mean (default) or sum of the losses, or none: one loss per " +
                            ("row" if indices else "logit"))
    _output_arg(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, formatter_class=_formatter,
        description="Exact, fast softmax, log-softmax, logsumexp, the sigmoid family and the "
                    "losses for files of logits. Without a command: the worked example.",
        epilog="Inputs: .npy, .npz (--key NAME), .csv, .tsv, .txt, or - for stdin. "
               "Outputs: -o FILE.{npy,npz,csv,tsv,txt}, else text on stdout. Exit status: 0 "
               "done, 1 verify found a function over its bar, 2 a mistake in the command "
               "line or the input.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description,
                                                    formatter_class=_formatter)
        return p

    for f in FUNCTIONS:
        if f.cli is None or f.kind == "loss":
            continue
        if f.kind == "select":             # their own arguments: below
            continue
        p = add(f.cli, FUNCTION_HELP.get(f.cli, f"logitkit.{f.name}"),
                description=f"logitkit.{f.name} of every row of INPUT.")
        _io_args(p, axis=f.kind != "elementwise")

    p = add("cross-entropy", FUNCTION_HELP["cross-entropy"],
            description="logitkit.cross_entropy of the logits in INPUT (classes along --axis) "
                        "against the class indices in --targets, one per row: their mean, "
                        "their sum, or one loss per row (--reduction none).")
    _loss_args(p, indices=True, reduction=True)
    p = add("bce", FUNCTION_HELP["bce"],
            description="logitkit.binary_cross_entropy_with_logits of the logits in INPUT "
                        "against --targets of the same shape (0/1 labels or probabilities): "
                        "their mean, sum, or one loss per logit (--reduction none).")
    _loss_args(p, indices=False, reduction=True)
    p = add("perplexity", "exp of the mean cross-entropy (--targets)",
            description="exp(mean cross-entropy) of the logits in INPUT against the class "
                        "indices in --targets, one per row; written in float64.")
    _loss_args(p, indices=True, reduction=False)
    p = add("nll", FUNCTION_HELP["nll"],
            description="logitkit.nll_loss of the log-probabilities in INPUT (classes along "
                        "--axis) against the class indices in --targets, one per row: their "
                        "mean, their sum, or one loss per row (--reduction none).")
    _loss_args(p, indices=True, reduction=True)

    p = add("top-k", FUNCTION_HELP["top-k"],
            description="logitkit.top_k of every row of INPUT: the K largest values along "
                        "--axis, largest first (ties: the lower index first), and their "
                        "indices; text gives the K values, then the K indices, per row.")
    _input_args(p)
    p.add_argument("k", metavar="K", type=int, help="how many to take per row")
    _output_arg(p)
    p = add("sample", FUNCTION_HELP["sample"],
            description="logitkit.sample of every row of INPUT: class indices drawn from "
                        "softmax(logits / --temperature) restricted by --top-k, --top-p and "
                        "--min-p; --seed makes the draws reproducible.")
    _input_args(p)
    p.add_argument("--seed", type=int, default=None, help="the generator's seed (>= 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="default: 1; 0 is argmax")
    p.add_argument("--top-k", type=int, default=None, metavar="K")
    p.add_argument("--top-p", type=float, default=None, metavar="P")
    p.add_argument("--min-p", type=float, default=None, metavar="P")
    p.add_argument("--size", type=int, default=None, metavar="N", help="draws per row")
    _output_arg(p)

    p = add("predict", "argmax class per row, with --prob and --top-k",
            description="The predicted class (argmax over --axis) of every row. With --top-k "
                        "K: the K best classes, best first (ties: the lower index first). With "
                        "--prob: their softmax probabilities too, as extra columns after the "
                        "classes (text), a second array 'probs' (.npz). A row containing NaN "
                        "gets the index of its first NaN, as numpy.argmax answers (NaNs first "
                        "with --top-k), and a note on stderr says so.")
    _io_args(p)
    p.add_argument("--prob", action="store_true", help="also give the softmax probability")
    p.add_argument("--top-k", type=int, default=None, metavar="K", help="the K best classes")

    add("info", "versions, SIMD code path and threads")
    add("demo", "the worked example (the same as no command)")

    p = add("verify", "worst ULP error of each function against the reference",
            description="The worst ULP error of every function (the losses with targets from "
                        "a fixed seed) against logitkit.reference on the slices of FILE along "
                        "--axis, each against its accuracy bar. Exit status 1 if one is over.")
    p.add_argument("input", metavar="FILE", help="logits file (as for softmax), or -")
    p.add_argument("--axis", type=int, default=-1, help="axis of the classes (default: -1)")
    p.add_argument("--key", metavar="NAME", default=None, help="array of a .npz input")
    p.add_argument("--header", action="store_true", help="skip the first line of a text input")
    p.add_argument("--function", action="append", choices=[f.name for f in CHECKED],
                   default=None, help="check only this function (repeatable; default: all)")
    p.add_argument("--max-elements", type=int, default=20_000, metavar="N",
                   help="check the leading slices up to N elements, 0 for all (the reference "
                        "is pure Python: about 10 us an element; default: 20000)")

    p = add("bench", "a quick benchmark (a few seconds, on one thread)")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget (default: 3)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    return parser
