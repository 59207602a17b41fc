"""Writing results: .npy, .npz, .csv, .tsv and .txt files, or text on standard output.

`open_sink` chooses the format from the extension of -o FILE; without -o the results are text
on standard output, separated as the input was (commas, tabs or spaces). Text is written with
the shortest digits that read back to the same value, so a text round trip is exact. A sink
takes the results chunk by chunk (the rows of a memory-mapped input, in order): .npy outputs
are memory-mapped too, and .npz outputs gather their arrays in temporary memory-mapped .npy
files. A file is written under a temporary name beside it and renamed into place by `close`, so
a failure leaves no half-written file, and -o may name the input itself.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import IO, Any

import numpy as np

from logitkit.cli._common import UserError, short
from logitkit.cli.io import TEXT_EXTENSIONS


class _Sink:
    """Where the results go; `write` takes the results of one chunk of rows (in order).
    A file is written under a temporary name beside it and renamed into place by `close`, so a
    failure leaves no half-written file, and `-o` may name the input itself."""

    def __init__(self, path: str | None = None):
        self.path = path
        self.tmp: str | None = None
        if path is not None:
            name, ext = os.path.basename(path), os.path.splitext(path)[1]
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=ext,
                                                dir=os.path.dirname(os.path.abspath(path)))
                os.close(fd)
            except OSError as e:
                raise UserError(f"{path}: cannot write there ({short(e)})") from None

    def write(self, results: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Flush and close what `write` opened."""

    def close(self) -> None:
        self._finish()
        if self.path is not None and self.tmp is not None:
            try:
                os.replace(self.tmp, self.path)
            except OSError as e:
                raise UserError(f"{self.path}: cannot write it ({short(e)})") from None
            self.tmp = None

    def abort(self) -> None:
        try:
            self._finish()
        finally:
            if self.tmp is not None:
                try:
                    os.remove(self.tmp)
                except OSError:
                    pass
                self.tmp = None


class _TextSink(_Sink):
    """Rows of text: a 1-d result is a column when it comes from a reduction, else one row;
    several results (classes, probs) go side by side."""

    def __init__(self, path: str | None, delimiter: str | None, reduced: bool):
        super().__init__(path)
        self.sep, self.reduced = delimiter or " ", reduced
        self.stream: IO[str] = (sys.stdout if self.tmp is None else
                                open(self.tmp, "w", encoding="utf-8", newline="\n"))

    def write(self, results: dict[str, np.ndarray]) -> None:
        columns = [self._as_text_2d(r) for r in results.values()]
        lines = [self.sep.join(cell for part in parts for cell in part)
                 for parts in zip(*columns)]
        if lines:
            self.stream.write("\n".join(lines) + "\n")

    def _as_text_2d(self, arr: np.ndarray) -> list[list[str]]:
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr.reshape(-1, 1) if self.reduced else arr.reshape(1, -1)
        elif arr.ndim > 2:
            raise UserError(f"a {arr.ndim}-d result cannot be written as text; write it to a "
                            ".npy or .npz file with -o")
        return [_format_row(row) for row in arr]

    def _finish(self) -> None:
        if self.stream is sys.stdout:
            self.stream.flush()
        else:
            self.stream.close()


def _format_row(row: np.ndarray) -> list[str]:
    """Shortest text that reads back to the same value (repr of a float64, NumPy's str of a
    float32/float16 scalar)."""
    if row.dtype == np.float64 or row.dtype.kind in "iub":
        return [repr(v) for v in row.tolist()]
    return [str(v) for v in row]


class _NpySink(_Sink):
    """A .npy file; with `total_rows` known the chunks land in a memory-mapped file."""

    def __init__(self, path: str, total_rows: int | None, temporary: bool = True):
        super().__init__(path if temporary else None)
        self.target = self.tmp if temporary else path
        self.total_rows = total_rows
        self.mm: Any = None
        self.row = 0

    def write(self, results: dict[str, np.ndarray]) -> None:
        if len(results) != 1:
            raise UserError(f"{self.path}: a .npy file holds one array but there are "
                            f"{len(results)} ({', '.join(results)}); use .npz, .csv or .tsv")
        (arr,) = results.values()
        assert self.target is not None
        if self.total_rows is None:
            np.save(self.target, arr)
            return
        if self.mm is None:
            shape = (self.total_rows,) + arr.shape[1:]
            self.mm = np.lib.format.open_memmap(self.target, mode="w+", dtype=arr.dtype,
                                                shape=shape)
        self.mm[self.row:self.row + len(arr)] = arr
        self.row += len(arr)

    def _finish(self) -> None:
        if self.mm is not None:
            self.mm.flush()
            self.mm = None


class _NpzSink(_Sink):
    """A .npz file, one array a result; chunks are gathered in temporary .npy memory maps."""

    def __init__(self, path: str, total_rows: int | None):
        super().__init__(path)
        self.total_rows = total_rows
        self.parts: dict[str, _NpySink] = {}
        self.whole: dict[str, np.ndarray] = {}
        self.tmpdir: str | None = None

    def write(self, results: dict[str, np.ndarray]) -> None:
        if self.total_rows is None:
            self.whole.update(results)
            return
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix=".logitkit-", dir=os.path.dirname(
                os.path.abspath(self.tmp or ".")))
        for name, arr in results.items():
            if name not in self.parts:
                self.parts[name] = _NpySink(os.path.join(self.tmpdir, name + ".npy"),
                                            self.total_rows, temporary=False)
            self.parts[name].write({name: arr})

    def close(self) -> None:
        try:
            arrays = dict(self.whole)
            for name, part in self.parts.items():
                part.close()
                arrays[name] = np.load(str(part.target), mmap_mode="r")
            savez: Any = np.savez                # (its stubs mistake **arrays for allow_pickle)
            savez(str(self.tmp), **arrays)       # streams the memory maps into the archive
            arrays.clear()
            super().close()
        finally:
            self._remove_parts()

    def abort(self) -> None:
        try:
            super().abort()
        finally:
            self._remove_parts()

    def _remove_parts(self) -> None:
        for part in self.parts.values():
            part.abort()
        self.parts.clear()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def open_sink(output: str | None, total_rows: int | None, reduced: bool,
              delimiter: str = " ") -> _Sink:
    """Where the results go: -o FILE in the format of its extension, or text on standard
    output separated by `delimiter` (the input's, so that a CSV in gives a CSV out)."""
    if output is None or output == "-":
        return _TextSink(None, delimiter, reduced)
    ext = os.path.splitext(output)[1].lower()
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        raise UserError(f"{output}: the directory {parent} does not exist")
    if os.path.isdir(output):
        raise UserError(f"{output}: is a directory")
    if ext == ".npy":
        return _NpySink(output, total_rows)
    if ext == ".npz":
        return _NpzSink(output, total_rows)
    if ext in TEXT_EXTENSIONS:
        return _TextSink(output, TEXT_EXTENSIONS[ext], reduced)
    raise UserError(f"{output}: unknown output format {ext or '(no extension)'!r}; use "
                    ".npy, .npz, .csv, .tsv or .txt, or no -o for text on stdout")
