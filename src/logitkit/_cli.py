"""The `logitkit` command line (also `python -m logitkit`).

    logitkit                                  the seeds' worked example (logitkit._demo)
    logitkit softmax logits.npy -o probs.npy  softmax / log-softmax / logsumexp / sigmoid of a file
    logitkit predict logits.csv --prob --top-k 3
    logitkit info | verify FILE | bench

Inputs: .npy, .npz (--key chooses the array), .csv, .tsv, .txt (whitespace), or `-` for
standard input (text, or .npy/.npz bytes). Outputs: -o FILE with the format taken from its
extension (.npy, .npz, .csv, .tsv, .txt), else text on standard output. Text is written with the
shortest digits that read back to the same value, so a text round trip is exact.

A .npy input is memory-mapped and processed in chunks of rows along its first axis whenever the
reduction axis is another one (always for the elementwise sigmoid), so files larger than memory
work; the result streams to the output (.npy outputs are memory-mapped too).

User mistakes (a missing file, a bad axis, a non-numeric CSV cell, an unknown .npz key, ...)
print one line `logitkit: error: ...` on standard error and exit with status 2; `verify` exits
with status 1 when a function misses its accuracy bar.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, NoReturn

import numpy as np

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
CHUNK_BYTES = 64 * 2**20          # input bytes per chunk of a memory-mapped .npy
TEXT_EXTENSIONS = {".csv": ",", ".tsv": "\t", ".txt": None}
BINARY_EXTENSIONS = (".npy", ".npz")
DTYPES = ("float16", "float32", "float64")
# The accuracy bars of SPEC.md, in ULP, for `verify`.
ULP_BARS = {"softmax": 4.0, "log_softmax": 2.0, "logsumexp": 2.0, "sigmoid": 2.0,
            "sigmoid_derivative": 2.0, "log_sigmoid": 2.0, "softplus": 2.0}
REDUCTIONS = ("softmax", "log_softmax", "logsumexp")


class UserError(Exception):
    """A mistake in the command line or the input: reported in one line, exit status 2."""


# ---------------------------------------------------------------- argument parsing

class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (via UserError), not usage + error."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _build_parser() -> _Parser:
    parser = _Parser(
        prog="logitkit",
        description="Exact, fast softmax, log-softmax, logsumexp and sigmoid for files of "
                    "logits. Without a command: the worked example.",
        epilog="Inputs: .npy, .npz (--key NAME), .csv, .tsv, .txt, or - for stdin. "
               "Outputs: -o FILE.{npy,npz,csv,tsv,txt}, else text on stdout.")
    from logitkit import __version__
    parser.add_argument("--version", action="version", version=f"logitkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def io_args(p: argparse.ArgumentParser, axis: bool = True) -> None:
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

    p = sub.add_parser("softmax", help="probabilities: exp(x - max) / sum over --axis")
    io_args(p)
    p = sub.add_parser("log-softmax", help="log-probabilities: x - logsumexp(x) over --axis")
    io_args(p)
    p = sub.add_parser("logsumexp", help="log(sum(exp(x))) over --axis (one value per row)")
    io_args(p)
    p = sub.add_parser("sigmoid", help="1 / (1 + exp(-x)), elementwise")
    io_args(p, axis=False)
    p = sub.add_parser(
        "predict", help="argmax class per row, optionally with its probability and the top k",
        description="The predicted class (argmax over --axis) of every row. With --top-k K: "
                    "the K best classes, best first (ties: the lower index first). With "
                    "--prob: their softmax probabilities too, as extra columns after the "
                    "classes (text), a second array 'probs' (.npz).")
    io_args(p)
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
    p.add_argument("--function", action="append", choices=sorted(ULP_BARS), default=None,
                   help="check only this function (repeatable; default: all)")
    p.add_argument("--max-elements", type=int, default=20_000, metavar="N",
                   help="check the leading rows up to N elements, 0 for all (the reference is "
                        "pure Python: about 10 us an element; default: 20000)")

    p = sub.add_parser("bench", help="a quick benchmark (a few seconds)")
    p.add_argument("--seconds", type=float, default=3.0, help="time budget (default: 3)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    return parser


# ---------------------------------------------------------------- reading

def _read_input(path: str, key: str | None, header: bool) -> np.ndarray:
    """The array in `path` (a .npy is memory-mapped, read-only)."""
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
            return mapped
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{path}: not a readable .npy file ({_short(e)})") from None
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return _pick_key(npz, key, path)
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"{path}: not a readable .npz file ({_short(e)})") from None
    if ext in TEXT_EXTENSIONS:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{path}: cannot read it as text ({_short(e)})") from None
        return _parse_text(text, TEXT_EXTENSIONS[ext], path, header)
    raise UserError(f"{path}: unknown input format {ext or '(no extension)'!r}; "
                    "use .npy, .npz, .csv, .tsv or .txt")


def _read_stdin(key: str | None, header: bool) -> np.ndarray:
    data = sys.stdin.buffer.read()
    if data.startswith(b"\x93NUMPY"):
        try:
            loaded: np.ndarray = np.load(io.BytesIO(data), allow_pickle=False)
            return loaded
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"<stdin>: not a readable .npy stream ({_short(e)})") from None
    if data.startswith(b"PK\x03\x04"):
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return _pick_key(npz, key, "<stdin>")
        except (ValueError, OSError, EOFError) as e:
            raise UserError(f"<stdin>: not a readable .npz stream ({_short(e)})") from None
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


def _parse_text(text: str, delimiter: str | None, source: str, header: bool) -> np.ndarray:
    """A 2-d float64 array from delimited text (blank lines and # comments skipped); a bad cell
    is reported with its row (the 1-based line of the file) and column."""
    lines = text.splitlines()
    numbered = [(i + 1, ln) for i, ln in enumerate(lines)
                if ln.strip() and not ln.lstrip().startswith("#")]
    if header and numbered:
        numbered = numbered[1:]
    if not numbered:
        raise UserError(f"{source}: no numbers in it")
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
        cells = line.split(delimiter) if delimiter is not None else line.split()
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


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


# ---------------------------------------------------------------- computing

def _check_axis(axis: int, ndim: int, shape: tuple[int, ...]) -> int:
    """`axis` made non-negative, or a UserError."""
    n = max(ndim, 1)                          # a 0-d input has the one axis of its slice
    if not -n <= axis < n:
        raise UserError(f"--axis {axis} is out of range for an input of shape {shape} "
                        f"(valid: {-n} to {n - 1})")
    return axis % n


def _compute(command: str, x: np.ndarray, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """The named results of `command` on `x` (a chunk of rows or the whole input)."""
    import logitkit
    dtype = getattr(args, "dtype", None)
    try:
        if command == "sigmoid":
            return {"sigmoid": np.asarray(logitkit.sigmoid(x, dtype=dtype))}
        axis = args.axis
        if command == "softmax":
            return {"softmax": np.asarray(logitkit.softmax(x, axis=axis, dtype=dtype))}
        if command == "log-softmax":
            return {"log_softmax": np.asarray(logitkit.log_softmax(x, axis=axis, dtype=dtype))}
        if command == "logsumexp":
            return {"logsumexp": np.asarray(logitkit.logsumexp(x, axis=axis, dtype=dtype))}
        assert command == "predict"
        return _predict(x, axis, args.top_k, args.prob, dtype)
    except (TypeError, ValueError) as e:     # dtypes logitkit refuses, axis errors
        raise UserError(_short(e)) from None


def _predict(x: np.ndarray, axis: int, k: int | None, prob: bool,
             dtype: str | None) -> dict[str, np.ndarray]:
    import logitkit
    rows = np.moveaxis(np.asarray(x), axis, -1) if x.ndim else np.asarray(x).reshape(1)
    n = rows.shape[-1]
    if k is None:
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
    # best first, ties broken by the lower index (a stable sort of -x; NaN sorts last)
    with np.errstate(invalid="ignore"):
        order = np.argsort(-rows, axis=-1, kind="stable")[..., :k]
    result_k: dict[str, np.ndarray] = {"classes": order.astype(np.int64)}
    if prob:
        p = np.asarray(logitkit.softmax(rows, axis=-1, dtype=dtype))
        result_k["probs"] = np.take_along_axis(p, order, -1)
    return result_k


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


# ---------------------------------------------------------------- writing

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
                raise UserError(f"{path}: cannot write there ({_short(e)})") from None

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
                raise UserError(f"{self.path}: cannot write it ({_short(e)})") from None
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
            import shutil
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def _open_sink(output: str | None, total_rows: int | None, reduced: bool) -> _Sink:
    if output is None or output == "-":
        return _TextSink(None, None, reduced)
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


# ---------------------------------------------------------------- commands

def _transform(args: argparse.Namespace) -> int:
    command = args.command
    x = _read_input(args.input, args.key, args.header)
    if x.dtype.kind not in "biuf":
        raise UserError(f"{args.input}: holds {x.dtype} values; logits must be real numbers")
    axis = None if command == "sigmoid" else _check_axis(args.axis, x.ndim, x.shape)
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
    reduced = command in ("logsumexp", "predict")
    sink = _open_sink(args.output, x.shape[0] if chunks is not None else None, reduced)
    try:
        for chunk in chunks if chunks is not None else [np.asarray(x)]:
            sink.write(_compute(command, chunk, args))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    import importlib

    import logitkit
    _ext = importlib.import_module("logitkit._ext")
    lines = [
        ("logitkit", f"{logitkit.__version__} ({os.path.dirname(logitkit.__file__)})"),
        ("numpy", np.__version__),
        ("python", f"{platform.python_version()} ({platform.python_implementation()}"
                   f"{', free-threaded' if _free_threaded() else ''})"),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("simd path", f"{logitkit.simd_path()} (available: {', '.join(logitkit.simd_paths())};"
                      " LOGITKIT_SIMD chooses)"),
        ("kernels", os.path.basename(getattr(_ext, "__file__", "?") or "?")),
    ]
    get_threads = getattr(logitkit, "get_num_threads", None)
    threads = f"{get_threads()}" if callable(get_threads) else "1 (no thread control here)"
    lines.append(("threads", f"{threads} of {os.cpu_count()} CPUs"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    return EXIT_OK


def _free_threaded() -> bool:
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return callable(is_gil_enabled) and not is_gil_enabled()


def _verify(args: argparse.Namespace) -> int:
    try:
        from logitkit.testing import max_ulp_difference
    except ImportError as e:
        raise UserError(f"verify needs logitkit.testing, which this build lacks ({e})") from None
    x = _read_input(args.input, args.key, args.header)     # a .npy stays memory-mapped
    if x.dtype.kind not in "biuf":
        raise UserError(f"{args.input}: holds {x.dtype} values; logits must be real numbers")
    axis = _check_axis(args.axis, x.ndim, x.shape)
    rows = np.moveaxis(x, axis, -1) if x.ndim else x.reshape(1)
    total = rows.shape[0] if rows.ndim > 1 else 1
    if args.max_elements > 0 and rows.ndim > 1 and rows.size > args.max_elements:
        keep = max(1, args.max_elements // max(1, int(np.prod(rows.shape[1:]))))
        rows = rows[:keep]
    shown = rows.shape[0] if rows.ndim > 1 else 1
    print(f"{args.input}: {x.dtype}, shape {x.shape}, classes along axis {axis}; "
          f"checking {shown} of {total} rows against logitkit.reference")
    names = args.function or list(ULP_BARS)
    failed = []
    for name in names:
        kwargs = {"axis": -1} if name in REDUCTIONS else {}
        try:
            worst = float(max_ulp_difference(name, np.asarray(rows), **kwargs))
        except (TypeError, ValueError) as e:
            raise UserError(f"verify {name}: {_short(e)}") from None
        bar = ULP_BARS[name]
        ok = worst <= bar
        if not ok:
            failed.append(name)
        print(f"  {name:<19} worst {worst:>8.3g} ULP   bar {bar:g}   {'ok' if ok else 'FAIL'}")
    print("all within the accuracy bars" if not failed else f"over the bar: {', '.join(failed)}")
    return EXIT_OK if not failed else EXIT_FAIL


def _bench(args: argparse.Namespace) -> int:
    import logitkit
    if args.seconds <= 0:
        raise UserError("--seconds must be positive")
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    shapes = [(4096, 10), (1024, 1000), (4, 250_000)]

    def naive_softmax(a: np.ndarray) -> Any:
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def naive_sigmoid(a: np.ndarray) -> Any:
        return 1 / (1 + np.exp(-a))

    cases: list[tuple[str, tuple[int, int], Callable[[np.ndarray], Any],
                      Callable[[np.ndarray], Any]]] = []
    for shape in shapes:
        cases.append(("softmax", shape, logitkit.softmax, naive_softmax))
        cases.append(("log_softmax", shape, logitkit.log_softmax,
                      lambda a: np.log(naive_softmax(a))))
        cases.append(("logsumexp", shape, logitkit.logsumexp,
                      lambda a: np.log(np.exp(a - a.max(-1, keepdims=True)).sum(-1))
                      + a.max(-1)))
    cases.append(("sigmoid", (1, 1_000_000), logitkit.sigmoid, naive_sigmoid))
    budget = args.seconds / (2 * len(cases))
    results = []
    progress = sys.stderr
    with np.errstate(all="ignore"):
        for i, (name, shape, fast, naive) in enumerate(cases, 1):
            label = f"{name} {shape[0]}x{shape[1]}"
            progress.write(f"\r[{i}/{len(cases)}] {label:<28}" + ("\n" if not
                                                                   progress.isatty() else ""))
            progress.flush()
            a = (rng.standard_normal(shape) * 4).astype(dtype)
            t_fast, t_naive = _time(fast, a, budget), _time(naive, a, budget)
            results.append((label, t_fast, t_naive))
    progress.write("\r" + " " * 40 + "\r" if progress.isatty() else "")
    print(f"logitkit {logitkit.__version__}, {dtype}, simd path {logitkit.simd_path()}, "
          "one thread; best time per call")
    print(f"  {'case':<28} {'logitkit':>10} {'numpy naive':>12} {'speed-up':>9} "
          f"{'Melem/s':>9}")
    for label, t_fast, t_naive in results:
        n = int(np.prod([int(v) for v in label.split()[1].split("x")]))
        print(f"  {label:<28} {_fmt_time(t_fast):>10} {_fmt_time(t_naive):>12} "
              f"{t_naive / t_fast:>8.1f}x {n / t_fast / 1e6:>9.0f}")
    return EXIT_OK


def _time(fn: Callable[[np.ndarray], Any], a: np.ndarray, budget: float) -> float:
    """Best time of one call, repeating within `budget` seconds (at least 3 calls)."""
    best = float("inf")
    start = time.perf_counter()
    calls = 0
    while calls < 3 or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        fn(a)
        best = min(best, time.perf_counter() - t0)
        calls += 1
        if calls >= 1000:
            break
    return best


def _fmt_time(t: float) -> str:
    return f"{t * 1e6:.1f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def _demo(args: argparse.Namespace | None = None) -> int:
    from logitkit import _demo as demo
    return int(demo.main())


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "softmax": _transform, "log-softmax": _transform, "logsumexp": _transform,
    "sigmoid": _transform, "predict": _transform, "info": _info, "verify": _verify,
    "bench": _bench, "demo": _demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = _build_parser().parse_args(args_list)
        except SystemExit as e:                # --help, --version
            return e.code if isinstance(e.code, int) else EXIT_OK
        if args.command is None:
            return _demo()
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"logitkit: error: {e}", file=sys.stderr)
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
        print("logitkit: error: out of memory; for a large .npy input, reduce along an axis "
              "other than the first so it is processed in chunks", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":
    raise SystemExit(main())
