"""Threads: many Python threads calling every function at once get the serial answers and never
deadlock, with the idle spin on or off; the kernels release the GIL (two threads on large inputs
take well under twice one thread's time)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import logitkit
from _strategies import CORE

STRESS_SECONDS = 3.0
N_THREADS = 8


def _workload():
    """(function, args, kwargs) over mixed shapes, dtypes and layouts, with their serial answers."""
    rng = np.random.default_rng(12)
    arrays = [
        rng.standard_normal((64, 100)) * 10,
        rng.standard_normal((3, 1000)).astype(np.float32),
        np.asfortranarray(rng.standard_normal((50, 40))),
        rng.standard_normal((7, 9, 11))[:, ::-1, ::2],
        rng.standard_normal(20000).astype(np.float32),
        np.array([[0.0, -40.0, np.inf, np.nan], [-np.inf, 1.0, 2.0, 3.0]]),
        rng.standard_normal((5, 6)).astype(np.float16),
        np.arange(24, dtype=np.int32).reshape(4, 6),
    ]
    calls = []
    for f in CORE:
        for a in arrays:
            if f.kind == "elementwise":
                calls.append((f.fast, (a,), {}))
            else:
                calls.append((f.fast, (a,), {}))
                calls.append((f.fast, (a,), {"axis": 0}))
                if a.ndim >= 2:
                    calls.append((f.fast, (a,), {"axis": None}))
                    calls.append((f.fast, (a,), {"where": a > 0}))
        if f.name == "logsumexp":
            calls.append((f.fast, (arrays[0],), {"b": -arrays[0], "return_sign": True}))
    return [(fn, args, kw, fn(*args, **kw)) for fn, args, kw in calls]


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True) and \
        np.asarray(a).dtype == np.asarray(b).dtype


def test_threads_stress_every_function():
    work = _workload()
    errors: list[str] = []
    counts = [0] * N_THREADS
    stop = time.monotonic() + STRESS_SECONDS
    barrier = threading.Barrier(N_THREADS)

    def run(k):
        order = np.random.default_rng(k).permutation(len(work))
        barrier.wait()
        i = 0
        try:
            while time.monotonic() < stop:
                fn, args, kw, want = work[order[i % len(work)]]
                got = fn(*args, **kw)
                if not _same(got, want):
                    errors.append(f"{fn.__name__}{kw}: thread result differs from serial")
                i += 1
        except Exception as exc:  # noqa: BLE001
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")
        counts[k] = i

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=STRESS_SECONDS + 60)
    assert not any(t.is_alive() for t in threads), "deadlock: a thread did not finish"
    assert not errors, errors[:5]
    assert min(counts) > 0, counts


def test_threads_out_and_in_place():
    """Each thread writes its own out= and its own in-place array, concurrently."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 300))
    wants = {f.name: f.fast(x) for f in CORE if f.kind != "reduce"}
    errors: list[str] = []

    def run(k):
        try:
            for _ in range(30):
                for name, want in wants.items():
                    fn = getattr(logitkit, name)
                    out = np.empty_like(x)
                    fn(x, out=out)
                    y = x.copy()
                    fn(y, out=y)
                    if not (np.array_equal(out, want, equal_nan=True)
                            and np.array_equal(y, want, equal_nan=True)):
                        errors.append(f"{name} thread {k}")
        except Exception as exc:  # noqa: BLE001
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors[:5]


def _large_workload():
    """Calls big enough for the pool (>= 2^18 elements: helpers, and a team barrier for the
    long rows), with their answers on one thread."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((300, 1000)) * 8
    long_row = (rng.standard_normal(600_001) * 8).astype(np.float32)
    t = rng.integers(0, 1000, 300)
    g = rng.standard_normal(x.shape)
    calls = [(logitkit.softmax, (x,), {}), (logitkit.log_softmax, (x,), {"axis": 0}),
             (logitkit.sigmoid, (x,), {}), (logitkit.cross_entropy, (x, t), {"return_grad": True}),
             (logitkit.softmax_backward, (g, logitkit.softmax(x)), {}),
             (logitkit.softmax, (long_row,), {}), (logitkit.logsumexp, (long_row,), {})]
    with logitkit.threads(1):
        return [(fn, args, kw, fn(*args, **kw)) for fn, args, kw in calls]


def _close(got, want):
    """Bit for bit, except a long row split across a team: its double-double partial sums are
    grouped by the thread count a call happened to get (within 4 eps)."""
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        a, b = np.asarray(a), np.asarray(b)
        if a.size > 500_000 or a.ndim == 0:
            eps = np.finfo(b.dtype).eps
            if not np.allclose(a, b, rtol=4 * eps, atol=0):
                return False
        elif not np.array_equal(a, b):
            return False
    return True


@pytest.mark.parametrize("spin_us", [0, 200])
def test_concurrent_large_calls_with_spin_on_and_off(spin_us):
    """With the spin off every wait of the pool sleeps at once (helpers between calls, callers
    waiting for helpers, teams at a barrier): the answers stay the serial ones and nothing
    hangs while several Python threads share the helpers."""
    work = _large_workload()
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def run(k):
        try:
            barrier.wait()
            for i in range(6):
                fn, args, kw, want = work[(k + i) % len(work)]
                if not _close(fn(*args, **kw), want):
                    errors.append(f"{fn.__name__}{kw}: differs with spin {spin_us}")
        except Exception as exc:  # noqa: BLE001
            errors.append(f"thread {k}: {type(exc).__name__}: {exc}")

    with logitkit.threads(3, spin_us=spin_us):
        assert logitkit.get_spin_us() == spin_us
        users = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(4)]
        for t in users:
            t.start()
        for t in users:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in users), "deadlock: a thread did not finish"
        for fn, args, kw, want in work:                  # and alone, after the crowd
            assert _close(fn(*args, **kw), want), fn.__name__
    assert not errors, errors[:5]


def _single_threaded_kernels():
    """Pin logitkit's own threads (once they exist) to 1 so only our two threads run."""
    if hasattr(logitkit, "set_num_threads"):
        before = logitkit.get_num_threads()
        logitkit.set_num_threads(1)
        return lambda: logitkit.set_num_threads(before)
    return lambda: None


def _two_thread_ratio(work):
    """(time of two threads each running work) / (time of one run of work)."""
    t0 = time.perf_counter()
    work()
    one = time.perf_counter() - t0
    threads = [threading.Thread(target=work) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) / one


def _reps_for(fn, seconds):
    t0 = time.perf_counter()
    for _ in range(3):
        fn()
    return max(3, int(seconds / ((time.perf_counter() - t0) / 3)))


GIL_FUNCS = ["softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative",
             "log_sigmoid", "softplus"]


@pytest.mark.parametrize("name", ["softmax", "logsumexp", "sigmoid", "log_sigmoid"])
def test_gil_is_released_two_threads_scale(name):
    """Two threads each doing one thread's work finish in well under twice the time (< 1.8x,
    best of a few tries; a held GIL gives 2x or more, and 1.6x flaked once on a shared VM). The same measurement of NumPy's own GIL-free np.exp(x) (allocating
    its result like logitkit: page faults of fresh allocations serialise in the OS) is the
    control, measured right after each try. On a busy machine (load average above the core
    count, or the control not scaling in any try) the test is skipped rather than flaking;
    test_gil_is_released_progress still decides."""
    import os
    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("needs 2 cores")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > cores + 0.5:
        pytest.skip(f"machine busy (load average {load:.1f} on {cores} cores): wall-clock "
                    "scaling cannot be measured; test_gil_is_released_progress still decides")
    BOUND = 1.8
    fn = getattr(logitkit, name)
    x = np.random.default_rng(0).standard_normal((100, 1000)).astype(np.float32)
    restore = _single_threaded_kernels()
    try:
        n_fn = _reps_for(lambda: fn(x), 0.04)
        n_np = _reps_for(lambda: np.exp(x), 0.04)
        pairs = []                  # (logitkit, control) measured back to back: same load
        for _ in range(4):
            pairs.append((_two_thread_ratio(lambda: [fn(x) for _ in range(n_fn)]),
                          _two_thread_ratio(lambda: [np.exp(x) for _ in range(n_np)])))
            if pairs[-1][0] < 1.35:
                break
    finally:
        restore()
    ratio = min(r for r, _ in pairs)
    clear = [(r, c) for r, c in pairs if c < 1.3]    # tries where the machine had 2 free cores
    if ratio >= BOUND and not clear:
        pytest.skip("machine busy: NumPy's GIL-free np.exp did not scale either: "
                    + ", ".join(f"{r:.2f}x vs {c:.2f}x" for r, c in pairs))
    if clear:
        ratio = min(ratio, min(r for r, _ in clear))
    assert ratio < BOUND, f"{name}: 2 threads took {ratio:.2f}x one thread's time"


@pytest.mark.parametrize("name", GIL_FUNCS)
def test_gil_is_released_progress(name):
    """While one thread is inside a long kernel call (>= 0.12 s), the main thread's Python
    loop keeps running: its longest pause is a small part of the call. A kernel holding the GIL
    would stop it for the whole call."""
    fn = getattr(logitkit, name)
    row = np.random.default_rng(1).standard_normal(20000).astype(np.float32)
    restore = _single_threaded_kernels()
    try:
        rows = 50
        while True:                      # a single call of >= 0.12 s (at most 32M elements)
            x = np.broadcast_to(row, (rows, row.size)).copy()
            t0 = time.perf_counter()
            fn(x)
            call = time.perf_counter() - t0
            if call >= 0.12 or rows >= 1600:
                break
            rows = min(1600, int(rows * 0.15 / max(call, 1e-4)) + 1)
        best_gap = np.inf
        for _ in range(3):
            done = threading.Event()

            def worker():
                fn(x)
                done.set()

            t = threading.Thread(target=worker)
            last = time.perf_counter()
            gap = 0.0
            t.start()
            while not done.is_set():
                now = time.perf_counter()
                gap = max(gap, now - last)
                last = now
            t.join()
            best_gap = min(best_gap, gap)
            if best_gap < 0.2 * call:
                break
    finally:
        restore()
    assert best_gap < 0.5 * call, (f"{name}: the main thread stalled {best_gap * 1e3:.0f} ms "
                                   f"during a {call * 1e3:.0f} ms call: the GIL is held")
