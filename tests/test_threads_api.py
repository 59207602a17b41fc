"""set_num_threads / get_num_threads, LOGITKIT_NUM_THREADS, and threaded results equal serial."""

import os
import subprocess
import sys

import numpy as np
import pytest

import logitkit
from logitkit.testing import assert_matches_reference


@pytest.fixture
def threads():
    before = logitkit.get_num_threads()
    yield
    logitkit.set_num_threads(before)


def test_set_and_get(threads):
    logitkit.set_num_threads(3)
    assert logitkit.get_num_threads() == 3
    with pytest.raises(ValueError, match="from 1 to 256, got 0"):
        logitkit.set_num_threads(0)
    with pytest.raises(TypeError, match="int"):
        logitkit.set_num_threads(2.0)


def test_numpy_integers_are_thread_counts(threads):
    """Regression: np.int64(2), what arithmetic on NumPy arrays hands back, raised TypeError."""
    logitkit.set_num_threads(np.int64(2))
    assert logitkit.get_num_threads() == 2
    assert type(logitkit.get_num_threads()) is int
    with pytest.raises(TypeError, match="int"):
        logitkit.set_num_threads(np.float64(2.0))
    with pytest.raises(TypeError, match="int"):
        logitkit.set_num_threads(np.True_)


def test_too_many_threads_is_an_error_naming_the_limit(threads):
    """Regression: set_num_threads(1000) was capped at 256 without a word."""
    logitkit.set_num_threads(256)
    assert logitkit.get_num_threads() == 256
    with pytest.raises(ValueError, match="from 1 to 256"):
        logitkit.set_num_threads(1000)
    assert logitkit.get_num_threads() == 256


def test_environment_variable():
    code = "import logitkit; print(logitkit.get_num_threads())"
    env = {**os.environ, "LOGITKIT_NUM_THREADS": "5"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.stdout.strip() == "5"
    env["LOGITKIT_NUM_THREADS"] = "many"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode != 0 and "LOGITKIT_NUM_THREADS" in done.stderr
    env["LOGITKIT_NUM_THREADS"] = "1000"        # more than one call can use: said, not capped
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode != 0 and "from 1 to 256" in done.stderr


CASES = [((1, 1_000_003), -1), ((3, 400_001), -1), ((64, 40_000), -1), ((400_000, 10), -1),
         ((2000, 1030), 0), ((1000, 2, 700), 1)]


@pytest.mark.parametrize("shape, axis", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_reductions_equal_serial(threads, shape, axis, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype) * 20
    x.reshape(-1)[::99_991] = -np.inf
    logitkit.set_num_threads(1)
    serial = [f(x, axis=axis) for f in (logitkit.softmax, logitkit.log_softmax,
                                          logitkit.logsumexp)]
    for n in (2, 3, 8):
        logitkit.set_num_threads(n)
        threaded = [f(x, axis=axis) for f in (logitkit.softmax, logitkit.log_softmax,
                                                logitkit.logsumexp)]
        for s, t in zip(serial, threaded):
            np.testing.assert_allclose(t, s, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_split_long_row_keeps_special_slices(threads):
    logitkit.set_num_threads(4)
    x = np.random.default_rng(2).standard_normal(300_000) * 10
    assert_matches_reference("softmax", x, max_ulp=4)
    assert_matches_reference("log_softmax", x, max_ulp=2)
    x[277_777] = np.nan
    assert np.isnan(logitkit.softmax(x)).all()
    x[277_777] = np.inf
    assert logitkit.logsumexp(x) == np.inf
    x[:] = -np.inf
    assert logitkit.logsumexp(x) == -np.inf
    assert (logitkit.softmax(x, where=np.zeros_like(x, bool)) == 0).all()


@pytest.mark.parametrize("shape", [(301, 1000), (30_001, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_cross_entropy_equals_serial(threads, dtype, shape):
    """cross_entropy shares its rows among threads (short rows in whole blocks of the lanes
    kernel); every row's loss has its own slot and the total is added up in order afterwards,
    so any number of threads gives the very same bits."""
    rng = np.random.default_rng(3)
    rows, n = shape
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    x[7, 3] = -np.inf
    x[9, 5] = np.nan
    t = rng.integers(0, n, rows)
    t[11] = -100                                            # ignored
    p = rng.random(shape).astype(dtype)
    p /= p.sum(axis=1, keepdims=True)
    w = rng.random(n) + 0.5
    calls = [((x, t), {}), ((x, t), {"return_grad": True}),
             ((x, t), {"label_smoothing": 0.1, "weight": w, "return_grad": True}),
             ((x, t), {"reduction": "none"}), ((x, p), {"return_grad": True}),
             ((x, p), {"reduction": "sum", "label_smoothing": 0.2})]
    logitkit.set_num_threads(1)
    serial = [logitkit.cross_entropy(*args, **kw) for args, kw in calls]
    for n in (2, 3, 8):
        logitkit.set_num_threads(n)
        for (args, kw), want in zip(calls, serial):
            got = logitkit.cross_entropy(*args, **kw)
            for g, s in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(g, s, err_msg=f"{n} threads, {kw}")


@pytest.mark.parametrize("shape", [(3001, 100), (20_003, 10), (1, 400_001)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_backward_and_bce_equal_serial(threads, shape, dtype):
    """The backward functions share out rows (cut at whole short-row blocks), binary
    cross-entropy blocks of a fixed size whose totals are added in order: the very same bits
    for any number of threads."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 6).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    t = (rng.random(shape) < 0.3).astype(dtype)
    logitkit.set_num_threads(1)
    s, ls, sg = logitkit.softmax(x), logitkit.log_softmax(x), logitkit.sigmoid(x)
    calls = [lambda: logitkit.softmax_backward(g, s),
             lambda: logitkit.log_softmax_backward(g, ls),
             lambda: logitkit.sigmoid_backward(g, sg),
             lambda: logitkit.binary_cross_entropy_with_logits(x, t, return_grad=True),
             lambda: logitkit.binary_cross_entropy_with_logits(x, t, reduction="sum")]
    serial = [call() for call in calls]
    for n in (2, 3, 8):
        logitkit.set_num_threads(n)
        for call, want in zip(calls, serial):
            got = call()
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(a, b, err_msg=f"{n} threads")


@pytest.mark.parametrize("name", ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"])
def test_threaded_elementwise_equals_serial(threads, name):
    x = np.random.default_rng(1).standard_normal(1_000_001) * 30
    fn = getattr(logitkit, name)
    logitkit.set_num_threads(1)
    serial = fn(x)
    logitkit.set_num_threads(4)
    np.testing.assert_array_equal(fn(x), serial)


# ---------------------------------------------------------------- the pool of helper threads
# Each check runs in a fresh interpreter, so the threads it finds are its own: the ones that
# exist after import (NumPy's BLAS may start some) are subtracted from the ones after a call.

needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/task"),
                                reason="reads the process's threads from /proc (Linux)")

POOL_PRELUDE = """
import os, threading, numpy as np, logitkit
def threads(): return set(os.listdir("/proc/self/task"))
def parallel_call(): logitkit.softmax(np.zeros(1_000_000, np.float32))   # one long row: split
def blocks_sigint(tid):
    with open(f"/proc/self/task/{tid}/status") as status:
        line = next(line for line in status if line.startswith("SigBlk"))
    return bool(int(line.split()[1], 16) & (1 << (2 - 1)))
at_import = threads()
"""


def _run_pool_script(body):
    done = subprocess.run([sys.executable, "-c", POOL_PRELUDE + body], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


@needs_proc
def test_helpers_are_started_once_and_kept():
    """The first parallel call starts num_threads - 1 helpers; later calls (cross_entropy's
    too) reuse exactly them."""
    first, later, sigint_blocked = _run_pool_script("""
logitkit.set_num_threads(4)
parallel_call()
helpers = threads() - at_import
for _ in range(30):
    parallel_call()
    logitkit.cross_entropy(np.zeros((64, 10_000), np.float32), np.zeros(64, int))  # same pool
print(len(helpers), threads() - at_import == helpers, all(map(blocks_sigint, helpers)))
""")
    assert first == "3", "expected one helper per thread beyond the caller's"
    assert later == "True", "later calls started or lost helpers"
    assert sigint_blocked == "True", "a helper can receive SIGINT (KeyboardInterrupt)"


@needs_proc
def test_no_helpers_below_the_grain_or_with_one_thread():
    small, single = _run_pool_script("""
logitkit.softmax(np.zeros((100, 100)))
print(len(threads() - at_import))
logitkit.set_num_threads(1)
parallel_call()
print(len(threads() - at_import))
""")
    assert small == "0" and single == "0"


@needs_proc
def test_concurrent_callers_share_one_budget():
    """Four user threads calling at once with num_threads 2 share one helper between them."""
    (extra,) = _run_pool_script("""
logitkit.set_num_threads(2)
go = threading.Barrier(4)
seen, users_ids = [], set()
def user():
    users_ids.add(str(threading.get_native_id()))
    go.wait()
    for _ in range(10):
        parallel_call()
        seen.append(threads() - at_import)
users = [threading.Thread(target=user) for _ in range(4)]
for t in users: t.start()
for t in users: t.join()
print(len(set().union(*seen) - users_ids))
""")
    assert extra == "1"
