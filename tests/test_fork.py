"""Fork safety: use logitkit (and its own threads, once logitkit.set_num_threads
exists), fork with multiprocessing's 'fork' start method, compute in the child. A child that
hangs fails the test after a timeout instead of hanging CI."""

from __future__ import annotations

import multiprocessing as mp
import sys
import threading

import numpy as np
import pytest

import logitkit
from _strategies import CORE

pytestmark = pytest.mark.skipif(sys.platform == "win32" or "fork" not in mp.get_all_start_methods(),
                                reason="needs the fork start method")

TIMEOUT = 60


def _compute_all(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((300, 4000))      # big enough for logitkit's threads to kick in
    long_row = rng.standard_normal(2_000_000).astype(np.float32)
    results = {}
    for f in CORE:
        results[f.name] = f.fast(x)
        results[f.name + "_long"] = f.fast(long_row)
        if f.kind != "elementwise":
            results[f.name + "_axis0"] = f.fast(x, axis=0)
    return results


def _child(conn, expected_checksums):
    try:
        got = {k: float(np.nansum(np.asarray(v, dtype=np.float64))) for k, v in _compute_all().items()}
        conn.send(("ok", got == expected_checksums, {k: v for k, v in got.items()
                                                     if expected_checksums.get(k) != v}))
    except BaseException as exc:  # noqa: BLE001
        conn.send(("error", False, repr(exc)))
    finally:
        conn.close()


def _run_in_forked_child():
    want = {k: float(np.nansum(np.asarray(v, dtype=np.float64))) for k, v in _compute_all().items()}
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, want))
    proc.start()
    child.close()
    try:
        if not parent.poll(TIMEOUT):
            pytest.fail(f"forked child did not finish within {TIMEOUT} s (deadlock after fork?)")
        status, same, detail = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert status == "ok", detail
    assert same, f"child results differ from the parent's: {detail}"
    assert proc.exitcode == 0


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_fork_after_use(threads):
    set_n = getattr(logitkit, "set_num_threads", None)
    before = logitkit.get_num_threads() if set_n else None
    if set_n:
        set_n(threads)
    elif threads != 1:
        pytest.skip("logitkit.set_num_threads not implemented yet")
    try:
        _compute_all()           # the parent's pool (if any) is now running
        _run_in_forked_child()
    finally:
        if set_n:
            set_n(before)


def test_fork_while_other_threads_compute():
    """Fork while Python threads are inside the kernels (without the GIL)."""
    stop = threading.Event()
    x = np.random.default_rng(1).standard_normal((200, 5000))

    def busy():
        while not stop.is_set():
            logitkit.softmax(x)
            logitkit.logsumexp(x, axis=0)

    workers = [threading.Thread(target=busy, daemon=True) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        _run_in_forked_child()
    finally:
        stop.set()
        for w in workers:
            w.join(30)
