"""Reading logits: .npy, .npz, .csv, .tsv and .txt files, and standard input.

Inputs: .npy, .npz (--key chooses the array), .csv, .tsv, .txt (whitespace), or `-` for
standard input (text, or .npy/.npz bytes). A .npy input is memory-mapped (read-only), so the
commands can take it in chunks of rows and files larger than memory work. Writing the results
is `logitkit.cli.sinks`.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from logitkit.cli._common import UserError, short

TEXT_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".txt": None}
# the spellings of infinity that float() accepts: written in a file they are meant, not overflow
_INFINITY = {"inf", "infinity"}


@dataclass(frozen=True)
class Input:
    """An input's array and what the messages and the text output need to know about it.

    delimiter
        The text's delimiter ("," or a tab), or " " for whitespace-separated text and binary
        inputs: text written to standard output uses the same, so a CSV stays a CSV.
    lines
        For a text input, the file's line number of each data row, so that a message names
        the row a user sees in an editor; None for binary inputs (rows count from 1).
    """

    array: np.ndarray
    source: str
    delimiter: str = " "
    lines: tuple[int, ...] | None = None

    def row(self, index: int) -> int:
        """The 1-based row number of data row `index`, as the messages name it."""
        return self.lines[index] if self.lines is not None else index + 1


def read_logits(path: str, key: str | None, header: bool) -> Input:
    """The input in `path` (a .npy stays memory-mapped), which must hold real numbers."""
    x = read_input(path, key, header)
    if x.array.dtype.kind not in "biuf":
        raise UserError(f"{path}: holds {x.array.dtype} values; logits must be real numbers")
    return x


def read_input(path: str, key: str | None, header: bool) -> Input:
    """The input in `path` (a .npy is memory-mapped, read-only)."""
    if path == "-":
        return _read_stdin(key, header)
    ext = os.path.splitext(path)[1].lower()
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, not a file of logits")
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file")
    if key is not None and ext != ".npz":
        raise UserError(f"--key only applies to .npz inputs, not to {path}")
    if ext == ".npy":
        try:
            mapped: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
            return Input(mapped, path)
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{path}: not a readable .npy file ({short(e)})") from None
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return Input(_pick_key(npz, key, path), path)
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{path}: not a readable .npz file ({short(e)})") from None
    if ext in TEXT_EXTENSIONS:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: cannot read it as text ({short(e)})") from None
        return _parse_text(text, TEXT_EXTENSIONS[ext], path, header)
    raise UserError(f"{path}: unknown input format {ext or '(no extension)'!r}; "
                    "use .npy, .npz, .csv, .tsv or .txt")


def _read_stdin(key: str | None, header: bool) -> Input:
    data = sys.stdin.buffer.read()
    if data.startswith(b"\x93NUMPY"):
        try:
            loaded: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
            return Input(loaded, "<stdin>")
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"<stdin>: not a readable .npy stream ({short(e)})") from None
    if data.startswith(b"PK\x03\x04"):
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return Input(_pick_key(npz, key, "<stdin>"), "<stdin>")
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"<stdin>: not a readable .npz stream ({short(e)})") from None
    if key is not None:
        raise UserError("--key only applies to .npz inputs, and standard input is text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("<stdin>: neither text nor .npy/.npz data") from None
    first = next((ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")),
                 "")
    delimiter = "," if "," in first else "\t" if "\t" in first else None
    return _parse_text(text, delimiter, "<stdin>", header)


def _pick_key(npz: Any, key: str | None, source: str) -> np.ndarray:
    names = list(npz.files)
    if key is None:
        if len(names) == 1:
            return np.asarray(npz[names[0]])
        if not names:
            raise UserError(f"{source}: the .npz file holds no arrays")
        raise UserError(f"{source}: holds several arrays ({', '.join(names)}); choose one "
                        "with --key NAME")
    if key not in names:
        raise UserError(f"{source}: no array named {key!r} (it holds: {', '.join(names)})")
    return np.asarray(npz[key])


def _parse_text(text: str, delimiter: str | None, source: str, header: bool) -> Input:
    """A 2-d float64 array from delimited text (blank lines and # comments skipped); a bad cell
    is reported with its row (the 1-based line of the file) and column."""
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines)
                if ln.strip() and not ln.lstrip().startswith("#")]
    if header and numbered:
        numbered = numbered[1:]
    if not numbered:
        raise UserError(f"{source}: no numbers in it")
    arr = _parse_rows(numbered, delimiter, source)
    if np.isinf(arr).any():
        _check_overflow(arr, numbered, delimiter, source)
    return Input(arr, source, delimiter or " ", tuple(lineno for lineno, _ in numbered))


def _cells(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter is not None else line.split()


def _parse_rows(numbered: list[tuple[int, str]], delimiter: str | None,
                source: str) -> np.ndarray:
    try:   # NumPy's C parser; on any complaint, the slow loop below finds the culprit
        arr = np.loadtxt([ln for _, ln in numbered], delimiter=delimiter, dtype=np.float64,
                         ndmin=2, comments=None)
        if arr.shape[0] == len(numbered):
            return arr
    except ValueError:
        pass
    rows: list[list[float]] = []
    width = None
    for lineno, line in numbered:
        cells = _cells(line, delimiter)
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise UserError(f"{source}: row {lineno} has {len(cells)} columns, the first "
                            f"row has {width}")
        row = []
        for col, cell in enumerate(cells, 1):
            try:
                row.append(float(cell))
            except ValueError:
                raise UserError(f"{source}: row {lineno}, column {col}: {cell.strip()!r} is "
                                "not a number" + (" (a header line? use --header)"
                                                  if lineno == numbered[0][0] else "")) from None
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(rows), width or 0)


def _check_overflow(arr: np.ndarray, numbered: list[tuple[int, str]], delimiter: str | None,
                    source: str) -> None:
    """A UserError for the first finite number too large for a float64: the parsers turn it
    into an infinity without a word, and the results would silently be NaN."""
    for r, c in np.argwhere(np.isinf(arr)):
        lineno, line = numbered[r]
        cell = _cells(line, delimiter)[c].strip()
        if cell.lstrip("+-").lower() not in _INFINITY:
            largest = float(np.finfo(np.float64).max)
            raise UserError(f"{source}: row {lineno}, column {c + 1}: {cell!r} is too large "
                            f"for a float64 (the largest is {largest!r}); write inf for an "
                            "infinite value")
