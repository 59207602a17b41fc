"""The commands that compute from the logits alone: one per function of the registry whose
`cli` name is set and whose kind is not "loss" (softmax, log-softmax, logsumexp, the sigmoid
family), predict, and the worked example. The losses, which read targets as well, are
`logitkit.cli.losses`.

A .npy input is memory-mapped and processed in chunks of rows along its first axis whenever the
reduction axis is another one (always for the elementwise functions), so files larger than
memory work; the results stream to the output.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

import logitkit
from logitkit._registry import FUNCTIONS, Function
from logitkit.cli._common import EXIT_OK, UserError, check_axis, note, short
from logitkit.cli.io import Input, read_logits
from logitkit.cli.sinks import open_sink

# the subcommands that run one public function of the logits alone, by their CLI name
BY_COMMAND: dict[str, Function] = {f.cli: f for f in FUNCTIONS
                                   if f.cli is not None and f.kind != "loss"}
# (the selections, top-k and sample, have their own module: logitkit.cli.decoding)
BY_COMMAND = {command: f for command, f in BY_COMMAND.items() if f.kind != "select"}


def transform(args: argparse.Namespace) -> int:
    """A function of BY_COMMAND, or predict, from the input file to the output."""
    command = args.command
    function = BY_COMMAND.get(command)                   # None for predict
    source = read_logits(args.input, args.key, args.header)
    x = source.array
    elementwise = function is not None and function.kind == "elementwise"
    axis = None if elementwise else check_axis(args.axis, x.ndim, x.shape)
    if axis is not None:
        args.axis = axis
    if command == "predict" and args.prob and args.output and args.output.endswith(".npy"):
        raise UserError(f"{args.output}: --prob gives two arrays (classes, probs); use .npz, "
                        ".csv or .tsv")
    if command == "predict" and args.top_k is not None and args.top_k < 1:
        raise UserError(f"--top-k {args.top_k}: K must be at least 1")
    if args.chunk_bytes < 1:
        raise UserError("--chunk-bytes must be positive")
    chunks = _chunks(x, axis, args.chunk_bytes)
    reduced = function is None or function.kind == "reduce"   # a 1-d result is a text column
    nan_rows = _NanRows(source, axis) if command == "predict" else None
    sink = open_sink(args.output, x.shape[0] if chunks is not None else None, reduced,
                     source.delimiter)
    try:
        start = 0
        for chunk in chunks if chunks is not None else [np.asarray(x)]:
            sink.write(_compute(command, chunk, args))
            if nan_rows is not None:
                nan_rows.add(chunk, start)
            start += len(chunk) if chunk.ndim else 1
        sink.close()
    except BaseException:
        sink.abort()
        raise
    if nan_rows is not None:
        nan_rows.report()
    return EXIT_OK


def _compute(command: str, x: np.ndarray, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The named results of `command` on `x` (a chunk of rows or the whole input)."""
    dtype = getattr(args, "dtype", None)
    try:
        if command == "predict":
            return _predict(x, args.axis, args.top_k, args.prob, dtype)
        function = BY_COMMAND[command]
        kwargs = {} if function.kind == "elementwise" else {"axis": args.axis}
        return {function.name: np.asarray(function.fast(x, dtype=dtype, **kwargs))}
    except (TypeError, ValueError) as e:     # dtypes logitkit refuses, axis errors
        raise UserError(short(e)) from None


def _predict(x: np.ndarray, axis: int, k: int | None, prob: bool,
             dtype: str | None) -> dict[str, np.ndarray]:
    rows = np.moveaxis(np.asarray(x), axis, -1) if x.ndim else np.asarray(x).reshape(1)
    n = rows.shape[-1]
    if k is None:
        # np.argmax: the first NaN of a row containing one, else the first maximum
        classes = np.argmax(rows, axis=-1) if n else np.zeros(rows.shape[:-1], np.intp)
        result: dict[str, np.ndarray] = {"classes": np.asarray(classes, dtype=np.int64)}
        if prob:
            p = logitkit.softmax(rows, axis=-1, dtype=dtype)
            result["probs"] = np.take_along_axis(np.asarray(p), classes[..., None], -1)[..., 0]
        return result
    if n == 0:
        raise UserError("predict: the class axis is empty")
    if not 1 <= k <= n:
        raise UserError(f"--top-k {k} is out of range: there are {n} classes")
    order = _best_first(rows)[..., :k]
    result_k: dict[str, np.ndarray] = {"classes": order.astype(np.int64)}
    if prob:
        p = np.asarray(logitkit.softmax(rows, axis=-1, dtype=dtype))
        result_k["probs"] = np.take_along_axis(p, order, -1)
    return result_k


def _best_first(rows: np.ndarray) -> np.ndarray:
    """The classes of each row best first, so that the first is np.argmax's answer: NaNs first
    (np.argmax picks a row's first NaN), then the values from the largest, ties broken by the
    lower index (np.lexsort is stable)."""
    nan = np.isnan(rows)
    values = np.where(nan, 0.0, rows)
    return np.lexsort((-values, ~nan), axis=-1)


class _NanRows:
    """Counts the rows of a predict input that contain NaN, to say so once at the end: their
    class is the NaN's index (as np.argmax answers) and their probabilities are NaN."""

    def __init__(self, source: Input, axis: int | None):
        self.source, self.axis = source, axis
        self.count = 0
        self.first: tuple[int, ...] | None = None

    def add(self, chunk: np.ndarray, start: int) -> None:
        if chunk.dtype.kind != "f" or chunk.ndim == 0:
            return
        found = np.isnan(chunk).any(axis=self.axis)
        if not found.any():
            return
        self.count += int(found.sum())
        if self.first is None:
            first = tuple(int(i) for i in np.unravel_index(int(np.argmax(found)), found.shape))
            self.first = (start + first[0],) + first[1:] if first else ()

    def report(self) -> None:
        if not self.count or self.first is None:
            return
        x = self.source.array
        if x.ndim == 2 and self.axis == 1:
            where = f"row {self.source.row(self.first[0])}"
        elif x.ndim == 2:
            where = f"column {self.first[0] + 1}"
        elif x.ndim == 1:
            where = "the one row"
        else:
            where = f"the slice at index {self.first} (axis {self.axis} removed)"
        many = f"{self.count} rows contain NaN, the first is" if self.count > 1 else "NaN in"
        note(f"{many} {where}: its class is the index of its first NaN (as numpy.argmax "
             "answers) and its probabilities are NaN")


def _chunks(x: np.ndarray, axis: int | None, chunk_bytes: int) -> Iterator[np.ndarray] | None:
    """Chunks of rows along axis 0 of a memory-mapped array, or None when the whole array must
    be taken at once (the reduction runs along axis 0, or it is not memory-mapped)."""
    if not isinstance(x, np.memmap) or x.ndim == 0 or (axis is not None and
                                                       (x.ndim == 1 or axis == 0)):
        return None
    row_bytes = max(1, x.itemsize * (x.size // x.shape[0] if x.shape[0] else 1))
    step = max(1, chunk_bytes // row_bytes)

    def gen() -> Iterator[np.ndarray]:
        if x.shape[0] == 0:
            yield np.asarray(x)
        for start in range(0, x.shape[0], step):
            yield np.asarray(x[start:start + step])
    return gen()


def demo(args: argparse.Namespace | None = None) -> int:
    """The worked example (`logitkit` without a command)."""
    from logitkit import _demo
    return int(_demo.main())
