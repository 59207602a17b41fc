"""Fingerprints of every public function's output, to prove a refactoring bit-identical.

Runs every public function over a fixed set of inputs (each dtype, each shape family: short
rows, long rows, columns, masked, strided, edge rows, the losses' options, one and two threads)
on every SIMD path this CPU has, and hashes the output bytes. Record on the old build, compare
on the new one:

    python tools/golden.py record golden.json        # before the change
    python tools/golden.py compare golden.json       # after: lists every case that differs

Each SIMD path runs in its own process (LOGITKIT_SIMD), so the recording covers exactly what a
user on that path gets.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any, Callable, Iterator

import numpy as np

Case = tuple[str, Callable[[], Any]]


def _hash(result: Any) -> str:
    parts = result if isinstance(result, tuple) else (result,)
    h = hashlib.sha256()
    for part in parts:
        a = np.asarray(part)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _edge_rows(n: int, dtype: np.dtype) -> np.ndarray:
    """Rows of n that hit the special paths: NaN, +-inf, all -inf, huge offsets, confident
    rows, the dtype's extremes, subnormals, ties."""
    big = float(np.finfo(dtype).max)
    tiny = float(np.finfo(dtype).smallest_subnormal)
    rng = np.random.default_rng(n)
    rows = []
    base = rng.standard_normal(n) * 3
    for fill in (np.nan, np.inf, -np.inf):
        r = base.copy()
        r[n // 2] = fill
        rows.append(r)
    rows.append(np.full(n, -np.inf))
    rows.append(base + 1e4)
    rows.append(base - 1e30)
    r = np.full(n, -40.0)
    r[0] = 0.0
    rows.append(r)
    r = base.copy()
    r[0], r[-1] = big, -big
    rows.append(r)
    rows.append(np.full(n, tiny))
    rows.append(np.zeros(n))
    rows.append(base * 1e-3)
    rows.append(base * 300)
    r = base.copy()
    r[::3] = -np.inf
    rows.append(r)
    with np.errstate(all="ignore"):
        return np.array(rows).astype(dtype)


def _inputs(dtype: np.dtype) -> Iterator[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(12345)

    def normal(*shape: int, scale: float = 4.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(dtype)

    for n in (1, 2, 3, 5, 8, 10, 16, 17, 31, 32, 33, 64, 100, 300, 1000, 1030):
        yield f"rows{n}", normal(131, n)
        yield f"edge{n}", _edge_rows(n, dtype)
    yield "long", normal(3, 70001)
    yield "one_long_row", normal(300001, scale=20.0)
    yield "spread", normal(64, 500, scale=300.0)
    yield "offset", normal(64, 500) + dtype.type(5e3)
    yield "nd", normal(4, 6, 50)


def _reduction_cases(dtype: np.dtype) -> Iterator[Case]:
    import logitkit as lk

    for label, x in _inputs(dtype):
        for name in ("softmax", "log_softmax", "logsumexp"):
            fn = getattr(lk, name)
            yield f"{name}/{label}", lambda fn=fn, x=x: fn(x)
            if x.ndim >= 2 and x.shape[0] > 1:
                yield f"{name}/{label}/axis0", lambda fn=fn, x=x: fn(x, axis=0)
                yield f"{name}/{label}/strided", lambda fn=fn, x=x: fn(x[::-2, ::2])
                yield f"{name}/{label}/fortran", lambda fn=fn, x=x: fn(np.asfortranarray(x))
                mask = np.random.default_rng(7).random(x.shape) > 0.3
                mask[0] = False
                yield f"{name}/{label}/where", lambda fn=fn, x=x, m=mask: fn(x, where=m)
            if x.ndim == 3:
                yield f"{name}/{label}/axis1", lambda fn=fn, x=x: fn(x, axis=1)
                yield f"{name}/{label}/axes", lambda fn=fn, x=x: fn(x, axis=(0, 2))
                yield f"{name}/{label}/none", lambda fn=fn, x=x: fn(x, axis=None)
        if x.ndim == 2 and x.shape[1] > 1:
            b = np.random.default_rng(3).standard_normal(x.shape).astype(dtype)
            yield f"logsumexp_b/{label}", lambda x=x, b=b: lk.logsumexp(x, b=b, return_sign=True)
            yield f"logsumexp_b_pos/{label}", lambda x=x, b=b: lk.logsumexp(x, b=np.abs(b))
    cols = np.random.default_rng(5).standard_normal((1000, 1024)).astype(dtype) * 5
    for name in ("softmax", "log_softmax", "logsumexp"):
        fn = getattr(lk, name)
        yield f"{name}/columns1000x1024", lambda fn=fn: fn(cols, axis=0)
        yield f"{name}/columns_edge", lambda fn=fn: fn(_edge_rows(700, dtype).T.copy(), axis=0)


def _elementwise_cases(dtype: np.dtype) -> Iterator[Case]:
    import logitkit as lk

    info = np.finfo(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, float(info.max), -float(info.max),
                        float(info.tiny), float(info.smallest_subnormal), 1e-30, -1e-30, 15.0,
                        -15.0, 37.0, -37.0, 88.0, -88.0, 104.0, -104.0, 710.0, -745.0, 800.0,
                        -800.0], dtype=np.float64)
    with np.errstate(all="ignore"):
        special = special.astype(dtype)
    rng = np.random.default_rng(9)
    arrays = {
        "special": special,
        "wide": (rng.standard_normal(100003) * 30).astype(dtype),
        "huge": np.linspace(-800, 800, 200001).astype(dtype),
        "strided": (rng.standard_normal((300, 40)) * 10).astype(dtype)[:, ::-3],
    }
    for name in ("sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"):
        fn = getattr(lk, name)
        for label, x in arrays.items():
            yield f"{name}/{label}", lambda fn=fn, x=x: fn(x)


def _loss_cases(dtype: np.dtype) -> Iterator[Case]:
    import logitkit as lk

    rng = np.random.default_rng(11)
    for rows, n in ((4096, 10), (257, 33), (64, 1000), (3, 40000), (300, 3)):
        x = (rng.standard_normal((rows, n)) * 5).astype(dtype)
        if rows > 2:
            x[1, n // 2] = -np.inf
            x[2] += dtype.type(1e3)
        t = rng.integers(0, n, rows)
        t[0] = -100
        w = rng.random(n).astype(dtype)
        p = rng.random((rows, n)).astype(dtype)
        p /= p.sum(axis=1, keepdims=True)
        own = lk.softmax(x)
        tag = f"{rows}x{n}"
        for red in ("mean", "sum", "none"):
            yield f"ce/{tag}/{red}", lambda x=x, t=t, r=red: lk.cross_entropy(
                x, t, reduction=r, return_grad=True)
        yield f"ce/{tag}/nograd", lambda x=x, t=t: lk.cross_entropy(x, t, reduction="none")
        yield f"ce/{tag}/weight", lambda x=x, t=t, w=w: lk.cross_entropy(
            x, t, weight=w, return_grad=True)
        yield f"ce/{tag}/smooth", lambda x=x, t=t: lk.cross_entropy(
            x, t, label_smoothing=0.1, return_grad=True)
        yield f"ce/{tag}/smooth_w", lambda x=x, t=t, w=w: lk.cross_entropy(
            x, t, weight=w, label_smoothing=0.2, reduction="none", return_grad=True)
        yield f"ce/{tag}/probs", lambda x=x, p=p: lk.cross_entropy(x, p, return_grad=True)
        yield f"ce/{tag}/probs_nograd", lambda x=x, p=p: lk.cross_entropy(x, p, reduction="none")
        yield f"ce/{tag}/self", lambda x=x, q=own: lk.cross_entropy(x, q, return_grad=True)
        yield f"ce/{tag}/axis0", lambda x=x: lk.cross_entropy(
            x.T.copy(), np.arange(rows) % n, axis=0, return_grad=True)
        tb = rng.random((rows, n)).astype(dtype)
        yield f"bce/{tag}", lambda x=x, tb=tb: lk.binary_cross_entropy_with_logits(
            x, tb, return_grad=True)
        yield f"bce/{tag}/none", lambda x=x, tb=tb: lk.binary_cross_entropy_with_logits(
            x, tb, reduction="none")
        yield f"bce/{tag}/pos_w", lambda x=x, tb=tb, w=w: lk.binary_cross_entropy_with_logits(
            x, tb, pos_weight=w, weight=w[::-1].copy(), return_grad=True)
        yield f"bce/{tag}/self", lambda x=x: lk.binary_cross_entropy_with_logits(
            x, lk.sigmoid(x), reduction="sum", return_grad=True)
        g = rng.standard_normal((rows, n)).astype(dtype)
        logp = lk.log_softmax(x)
        yield f"softmax_backward/{tag}", lambda g=g, s=own: lk.softmax_backward(g, s)
        yield f"softmax_backward/{tag}/axis0", lambda g=g, s=own: lk.softmax_backward(
            g.T.copy(), s.T.copy(), axis=0)
        yield f"log_softmax_backward/{tag}", lambda g=g, y=logp: lk.log_softmax_backward(g, y)
        yield f"log_softmax_backward/{tag}/self", lambda s=own, y=logp: lk.log_softmax_backward(
            -s / s.shape[-1], y)
        yield f"sigmoid_backward/{tag}", lambda g=g, x=x: lk.sigmoid_backward(g, lk.sigmoid(x))


def cases() -> Iterator[Case]:
    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        for make in (_reduction_cases, _elementwise_cases, _loss_cases):
            for name, call in make(dtype):
                yield f"{dtype.name}/{name}", call
    import logitkit as lk

    yield "float16/softmax", lambda: lk.softmax(np.linspace(-8, 8, 999, dtype=np.float16))
    yield "float16/sigmoid", lambda: lk.sigmoid(np.linspace(-20, 20, 999, dtype=np.float16))
    yield "int/logsumexp", lambda: lk.logsumexp(np.arange(-50, 50).reshape(10, 10))


def fingerprints() -> dict[str, str]:
    """Every case's hash on the active SIMD path, with one thread and then two."""
    import logitkit as lk

    result = {}
    for threads in (1, 2):
        lk.set_num_threads(threads)
        for name, call in cases():
            try:
                value = _hash(call())
            except Exception as exc:                # the same error must come back
                value = f"raises {type(exc).__name__}: {exc}"
            result[f"t{threads}/{name}"] = value
    return result


def _child() -> None:
    json.dump(fingerprints(), sys.stdout)


def _paths() -> list[str]:
    out = subprocess.run([sys.executable, "-c", "import logitkit; print(*logitkit.simd_paths())"],
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def _all_paths() -> dict[str, dict[str, str]]:
    result = {}
    for path in _paths():
        env = dict(os.environ, LOGITKIT_SIMD=path)
        out = subprocess.run([sys.executable, __file__, "child"], env=env, check=True,
                             capture_output=True, text=True).stdout
        result[path] = json.loads(out)
        print(f"{path}: {len(result[path])} cases", file=sys.stderr)
    return result


def main(argv: list[str]) -> int:
    if argv[:1] == ["child"]:
        _child()
        return 0
    if len(argv) != 2 or argv[0] not in ("record", "compare"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, path = argv
    if mode == "record":
        with open(path, "w") as f:
            json.dump(_all_paths(), f, indent=0, sort_keys=True)
        return 0
    with open(path) as f:
        want = json.load(f)
    got = _all_paths()
    bad = 0
    for isa, cases_ in want.items():
        if isa not in got:
            print(f"{isa}: not available here, not compared")
            continue
        for name, digest in cases_.items():
            if got[isa].get(name) != digest:
                bad += 1
                if bad <= 40:
                    print(f"DIFFERS {isa} {name}: {digest} -> {got[isa].get(name)}")
        print(f"{isa}: {len(cases_)} cases compared")
    print(f"{bad} cases differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
