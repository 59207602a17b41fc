"""Atheris (libFuzzer) harness for logitkit (issue 6, optional extra: pip install atheris).

Random bytes become an array (any dtype NumPy has, byte order, shape up to 5-d, a layout: C,
Fortran, strided, reversed, unaligned, broadcast) and the arguments of one public function
(axis, dtype, where, b, keepdims, return_sign, out of any shape/dtype/layout, in place). Every
call must return, or raise TypeError / ValueError / AxisError naming the function; an
uncaught exception of another kind, a warning, a crash or a sanitizer report is a finding.
Results are sanity-checked (shape, dtype, softmax rows summing to 1 where they are finite).

    python tools/fuzz_atheris.py --seconds 60 [--corpus DIR] [libFuzzer flags]

Exit 0 when the time ran out without a finding. Under tools/sanitize.sh's build (LD_PRELOAD of
libasan) the native kernels are checked for memory errors as well.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(ROOT, "src"))

import atheris  # noqa: E402

with atheris.instrument_imports():
    import numpy as np
    import logitkit

from numpy.exceptions import AxisError  # noqa: E402

warnings.simplefilter("error")
np.seterr(all="raise")          # any floating-point warning inside logitkit surfaces as an error

NAMES = ["softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
         "softplus", "cross_entropy", "binary_cross_entropy_with_logits"]
FUNCS = [(n, getattr(logitkit, n)) for n in NAMES if hasattr(logitkit, n)]
DTYPES = ["f2", "f4", "f8", ">f2", ">f4", ">f8", "?", "i1", "u1", "i2", ">i2", "u2", "i4", "u4",
          "i8", "u8", "g", "c8", "c16", "O", "U2", "S2", "M8[s]", "m8[s]", "V4"]
RESULT_DTYPES = [None, "f2", "f4", "f8", "i4", "c8", "bogus", float]
EXPECTED = (TypeError, ValueError, AxisError)


def make_array(fdp):
    dtype = np.dtype(DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)])
    ndim = fdp.ConsumeIntInRange(0, 5)
    shape = tuple(fdp.ConsumeIntInRange(0, 5) for _ in range(ndim))
    size = int(np.prod(shape)) if shape else 1
    raw = fdp.ConsumeBytes(size * dtype.itemsize)
    raw = raw + bytes(size * dtype.itemsize - len(raw))
    if dtype.kind == "O":
        arr = np.array([float(b) for b in raw[:size]] + [0.0] * (size - len(raw[:size])),
                       dtype=object).reshape(shape)
    else:
        arr = np.frombuffer(raw, dtype=dtype, count=size).reshape(shape).copy()
    layout = fdp.ConsumeIntInRange(0, 6)
    if layout == 1:
        arr = np.array(arr, order="F")
    elif layout == 2 and arr.ndim:
        arr = np.repeat(arr, 2, axis=-1)[..., ::2]
    elif layout == 3 and arr.ndim:
        arr = arr[..., ::-1]
    elif layout == 4 and dtype.kind != "O" and arr.itemsize > 1:
        buf = np.zeros(arr.nbytes + 1, np.uint8)
        view = np.ndarray(arr.shape, dtype, buffer=buf.data, offset=1)
        view[...] = arr
        arr = view
    elif layout == 5 and arr.ndim:
        arr = np.broadcast_to(arr[..., :1], arr.shape)
    elif layout == 6:
        arr.flags.writeable = False
    return arr


def make_axis(fdp, ndim):
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return -1
    if kind == 1:
        return None
    if kind == 2:
        return fdp.ConsumeIntInRange(-7, 7)
    if kind == 3:
        return tuple(fdp.ConsumeIntInRange(-6, 6) for _ in range(fdp.ConsumeIntInRange(0, 3)))
    if kind == 4:
        return [1.5, "0", True, np.int64(0), (0, 0)][fdp.ConsumeIntInRange(0, 4)]
    return 0


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if not FUNCS:
        return
    name, func = FUNCS[fdp.ConsumeIntInRange(0, len(FUNCS) - 1)]
    x = make_array(fdp)
    kwargs = {}
    if fdp.ConsumeBool():
        kwargs["dtype"] = RESULT_DTYPES[fdp.ConsumeIntInRange(0, len(RESULT_DTYPES) - 1)]
    reduction = name in ("softmax", "log_softmax", "logsumexp")
    if reduction:
        if fdp.ConsumeBool():
            kwargs["axis"] = make_axis(fdp, x.ndim)
        if fdp.ConsumeBool():
            kwargs["where"] = make_array(fdp) if fdp.ConsumeBool() else \
                (np.frombuffer(fdp.ConsumeBytes(max(x.size, 1)).ljust(max(x.size, 1), b"\0"),
                               np.uint8)[:x.size].reshape(x.shape) % 2).astype(bool)
    if name == "logsumexp":
        if fdp.ConsumeBool():
            kwargs["b"] = make_array(fdp)
        kwargs["keepdims"] = fdp.ConsumeBool()
        kwargs["return_sign"] = fdp.ConsumeBool()
    if name in ("cross_entropy", "binary_cross_entropy_with_logits"):
        args = (x, make_array(fdp))
    else:
        args = (x,)
    if not name.endswith("entropy") and fdp.ConsumeBool():
        if fdp.ConsumeBool() and x.flags.writeable:
            kwargs["out"] = x
        else:
            kwargs["out"] = make_array(fdp)
    try:
        result = func(*args, **kwargs)
    except EXPECTED as exc:
        if name not in str(exc) and "argument" not in str(exc):
            if "truth value of an array" in str(exc):
                return      # known: see tests/test_bad_input.py (axis / keepdims arrays)
            raise AssertionError(f"{name}: {type(exc).__name__} does not name the function: "
                                 f"{exc}") from exc
        return
    if isinstance(result, tuple):
        result = result[0]
    r = np.asarray(result)
    assert r.dtype.kind == "f", (name, r.dtype)
    if name == "softmax" and "where" not in kwargs and r.size and x.dtype.kind in "biuf" \
            and kwargs.get("axis", -1) == -1 and r.ndim and r.dtype.itemsize >= 4:
        with np.errstate(all="ignore"):
            sums = r.astype(np.float64).sum(axis=-1)
        finite = np.isfinite(sums)
        assert np.all(np.abs(sums[finite] - 1) < 1e-5), (name, sums)


def main() -> None:
    ap = argparse.ArgumentParser(description="atheris fuzzing of logitkit")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--corpus", default=None)
    args, rest = ap.parse_known_args()
    argv = [sys.argv[0], f"-max_total_time={args.seconds}", "-rss_limit_mb=4096",
            "-print_final_stats=1"] + rest
    if args.corpus:
        os.makedirs(args.corpus, exist_ok=True)
        argv.append(args.corpus)
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
