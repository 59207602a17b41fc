"""The loss commands: cross-entropy, bce and nll (the registry's losses, by their CLI names) and
perplexity, each from a file of logits (log-probabilities for nll) and a file of targets
(--targets).

    cross-entropy  class indices, one per row (the logits' shape without --axis)
    nll            the same, against log-probabilities
    bce            0/1 labels or probabilities in [0, 1], the logits' shape
    perplexity     exp of the mean cross-entropy, against class indices

The whole input is taken at once (a mean needs every row), a .npy still memory-mapped.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

import logitkit
from logitkit.cli._common import EXIT_OK, UserError, check_axis, short
from logitkit.cli.io import Input, read_input, read_logits
from logitkit.cli.sinks import open_sink

REDUCTIONS = ("mean", "sum", "none")
# the subcommands of this module, with the public function each one runs
FUNCTION_OF = {"cross-entropy": "cross_entropy", "bce": "binary_cross_entropy_with_logits",
               "perplexity": "cross_entropy", "nll": "nll_loss"}


def run(args: argparse.Namespace) -> int:
    """cross-entropy, bce or perplexity of the logits in args.input against args.targets."""
    source = read_logits(args.input, args.key, args.header)
    x = np.asarray(source.array)
    targets = read_input(args.targets, args.targets_key, args.header)
    if args.command == "bce":
        t = _probabilities(targets, x.shape)
        results = _call("binary_cross_entropy_with_logits", x, t, reduction=args.reduction)
        reduced = False                                   # "none" has the logits' shape
    else:
        if x.ndim == 0:
            raise UserError(f"{source.source}: holds a single number; {args.command} needs "
                            "at least one class axis")
        axis = check_axis(args.axis, x.ndim, x.shape)
        n = x.shape[axis]
        t = _class_indices(targets, x.shape[:axis] + x.shape[axis + 1:], n, axis,
                           args.ignore_index)
        ignore = -100 if args.ignore_index is None else args.ignore_index
        reduction = "mean" if args.command == "perplexity" else args.reduction
        results = _call(FUNCTION_OF[args.command], x, t, axis=axis, reduction=reduction,
                        ignore_index=ignore)
        if args.command == "perplexity":
            results = {"perplexity": _perplexity(results["cross_entropy"])}
        reduced = True                                    # one loss per row: a text column
    sink = open_sink(args.output, None, reduced, source.delimiter)
    try:
        sink.write(results)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return EXIT_OK


def _call(name: str, x: np.ndarray, t: np.ndarray, **kwargs: object) -> dict[str, np.ndarray]:
    try:
        return {name: np.asarray(getattr(logitkit, name)(x, t, **kwargs))}
    except (TypeError, ValueError) as e:     # dtypes logitkit refuses
        raise UserError(short(e)) from None


def _perplexity(loss: np.ndarray) -> np.ndarray:
    """exp(mean loss) in float64 whatever the logits' dtype: exp of a float32 loss past 88.7
    would overflow float32 although the perplexity is a finite number."""
    with np.errstate(over="ignore"):          # a mean loss past 709.8: the perplexity is inf
        return np.asarray(np.exp(np.float64(loss)))


def _fit(t: Input, shape: tuple[int, ...], what: str) -> np.ndarray:
    """The targets reshaped to `shape`: as they are, or a column or row of the same size where
    `shape` is a vector too (a text file of one index per line is a column)."""
    a = np.asarray(t.array)
    if a.shape == shape:
        return a
    if a.size == math.prod(shape) and _vector(a.shape) and _vector(shape):
        return a.reshape(shape)
    raise UserError(f"--targets {t.source}: holds shape {a.shape}; expected {what}, shape "
                    f"{shape}")


def _vector(shape: tuple[int, ...]) -> bool:
    return sum(d > 1 for d in shape) <= 1


def _where(t: Input, flat: int) -> str:
    """Where element `flat` (C order) of the targets file is, as a user finds it: the row (the
    file's line for text) and, when there are several, the column."""
    shape = t.array.shape
    if len(shape) == 0:
        return "its one value"
    index = np.unravel_index(flat, shape)
    if len(shape) == 1:
        return f"row {t.row(int(index[0]))}"
    if len(shape) == 2:
        column = f", column {int(index[1]) + 1}" if shape[1] > 1 else ""
        return f"row {t.row(int(index[0]))}{column}"
    return f"index {tuple(int(i) for i in index)}"


def _class_indices(t: Input, shape: tuple[int, ...], n: int, axis: int,
                   ignore: int | None) -> np.ndarray:
    """The targets as class indices (intp), each in [0, n) or equal to `ignore`."""
    a = _fit(t, shape, f"one class index per row of logits (axis {axis} removed)")
    kind = a.dtype.kind
    expected = (f"expected an integer from 0 to {n - 1} (the {n} classes along axis {axis})"
                + (f" or {ignore} (--ignore-index)" if ignore is not None else ""))
    if kind not in "biuf":
        raise UserError(f"--targets {t.source}: holds {a.dtype} values; {expected}")
    flat = a.reshape(-1)
    with np.errstate(invalid="ignore"):
        valid = (flat >= 0) & (flat < n)
        if ignore is not None:
            valid |= flat == ignore
        if kind == "f":
            valid &= np.isfinite(flat) & (flat == np.floor(flat))
    if kind == "b" or not valid.all():
        bad = int(np.argmin(valid)) if kind != "b" else 0
        raise UserError(f"--targets {t.source}: {_where(t, bad)}: {_text(flat[bad])} is not a "
                        f"class index; {expected}")
    return np.array(a, dtype=np.intp, order="C")   # not ascontiguousarray: it makes 0-d 1-d


def _probabilities(t: Input, shape: tuple[int, ...]) -> np.ndarray:
    """The targets as float64 labels or probabilities, each in [0, 1]."""
    a = _fit(t, shape, "0/1 labels or probabilities of the logits' shape")
    if a.dtype.kind not in "biuf":
        raise UserError(f"--targets {t.source}: holds {a.dtype} values; expected 0/1 labels "
                        "or probabilities in [0, 1]")
    flat = a.reshape(-1)
    with np.errstate(invalid="ignore"):
        valid = (flat >= 0) & (flat <= 1)
    if not valid.all():
        bad = int(np.argmin(valid))
        raise UserError(f"--targets {t.source}: {_where(t, bad)}: {_text(flat[bad])} is not "
                        "a label or a probability; expected 0, 1 or a probability in [0, 1]")
    return np.asarray(a, dtype=np.float64) if a.dtype.kind != "f" else a


def _text(v: np.generic) -> str:
    """A value as the file would show it: 3 rather than 3.0 for a whole number."""
    value = v.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)
