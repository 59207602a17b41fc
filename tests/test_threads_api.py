"""The thread settings (set_num_threads, threads(), the idle spin, their environment variables,
threadpoolctl's view of them), threaded results equal serial, and the pool of helper threads."""

import ctypes
import doctest
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import logitkit
from logitkit.testing import assert_matches_reference


@pytest.fixture
def threads():
    before = logitkit.get_num_threads(), logitkit.get_spin_us()
    yield
    logitkit.set_num_threads(before[0])
    logitkit.set_spin_us(before[1])


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


def test_threads_block_sets_and_restores(threads):
    logitkit.set_num_threads(4)
    logitkit.set_spin_us(150)
    with logitkit.threads(2) as entered:
        assert entered is None
        assert logitkit.get_num_threads() == 2 and logitkit.get_spin_us() == 150
        with logitkit.threads(np.int32(1), spin_us=0):
            assert logitkit.get_num_threads() == 1 and logitkit.get_spin_us() == 0
        assert logitkit.get_num_threads() == 2 and logitkit.get_spin_us() == 150
    assert logitkit.get_num_threads() == 4


def test_threads_block_restores_after_an_exception(threads):
    logitkit.set_num_threads(3)
    with pytest.raises(KeyError):
        with logitkit.threads(1, spin_us=7):
            raise KeyError("inside")
    assert logitkit.get_num_threads() == 3 and logitkit.get_spin_us() != 7


def test_threads_block_restores_only_what_it_set(threads):
    """A spin-only block keeps the cap a set_num_threads inside it chose, and the other way
    round."""
    logitkit.set_num_threads(3)
    logitkit.set_spin_us(100)
    with logitkit.threads(spin_us=0):
        logitkit.set_num_threads(5)
    assert (logitkit.get_num_threads(), logitkit.get_spin_us()) == (5, 100)
    with logitkit.threads(2):
        logitkit.set_spin_us(9)
    assert (logitkit.get_num_threads(), logitkit.get_spin_us()) == (5, 9)
    with logitkit.threads():                               # nothing to set: changes nothing
        pass
    assert (logitkit.get_num_threads(), logitkit.get_spin_us()) == (5, 9)


def test_one_threads_object_nests_with_itself(threads):
    logitkit.set_num_threads(6)
    block = logitkit.threads(2)
    with block:
        logitkit.set_num_threads(3)
        with block:
            assert logitkit.get_num_threads() == 2
        assert logitkit.get_num_threads() == 3
    assert logitkit.get_num_threads() == 6


def test_threads_bad_arguments_are_refused_before_any_change(threads):
    logitkit.set_num_threads(3)
    with pytest.raises(ValueError, match=r"threads: expected an int from 1 to 256, got 0"):
        logitkit.threads(0)
    with pytest.raises(ValueError, match=r"threads: expected an int from 1 to 256, got 257"):
        logitkit.threads(257, spin_us=0)
    with pytest.raises(TypeError, match=r"threads: expected an int from 1 to 256, got 2\.0"):
        logitkit.threads(2.0)
    with pytest.raises(TypeError, match="threads: expected an int"):
        logitkit.threads(True)
    with pytest.raises(ValueError, match=r"threads: expected an int from 0 to 10000, got -1"):
        logitkit.threads(2, spin_us=-1)
    with pytest.raises(TypeError, match="threads: expected an int from 0 to 10000"):
        logitkit.threads(spin_us="0")
    assert logitkit.get_num_threads() == 3


def test_spin_setting(threads):
    logitkit.set_spin_us(0)
    assert logitkit.get_spin_us() == 0
    logitkit.set_spin_us(np.uint16(10_000))
    assert logitkit.get_spin_us() == 10_000 and type(logitkit.get_spin_us()) is int
    with pytest.raises(ValueError, match=r"set_spin_us: expected an int from 0 to 10000, got "
                                         r"10001"):
        logitkit.set_spin_us(10_001)
    with pytest.raises(ValueError, match="set_spin_us: .* got -5"):
        logitkit.set_spin_us(-5)
    with pytest.raises(TypeError, match="set_spin_us: expected an int"):
        logitkit.set_spin_us(0.5)
    with pytest.raises(TypeError, match="set_spin_us: expected an int"):
        logitkit.set_spin_us(False)
    assert logitkit.get_spin_us() == 10_000


def _import_and_print(expression, **env):
    return subprocess.run([sys.executable, "-c", f"import logitkit; print({expression})"],
                          capture_output=True, text=True, env={**os.environ, **env},
                          timeout=120)


def test_spin_environment_variable():
    done = _import_and_print("logitkit.get_spin_us()", LOGITKIT_SPIN_US="")
    assert done.returncode == 0 and done.stdout.strip() == "200", done.stderr
    done = _import_and_print("logitkit.get_spin_us()", LOGITKIT_SPIN_US=" 0 ")
    assert done.returncode == 0 and done.stdout.strip() == "0", done.stderr
    for bad in ("off", "-1", "10001", "1.5"):
        done = _import_and_print("logitkit.get_spin_us()", LOGITKIT_SPIN_US=bad)
        assert done.returncode != 0
        assert f"ImportError: LOGITKIT_SPIN_US={bad!r}: expected an int from 0 to 10000" \
            in done.stderr


# (the thread of a process whose helpers spin keeps a core busy between calls: the helpers'
# CPU time, the process's minus the calling thread's, grows with the spin across idle gaps)
SPIN_CPU_SCRIPT = """
import time, numpy as np, logitkit
logitkit.set_num_threads(2)
logitkit.set_spin_us({spin})
x = np.zeros(1 << 19, np.float32)
logitkit.sigmoid(x)                               # starts the helper
start_process, start_thread = time.process_time(), time.thread_time()
for _ in range(40):
    logitkit.sigmoid(x)
    time.sleep(0.005)                             # idle: shorter than the largest spin
print((time.process_time() - start_process) - (time.thread_time() - start_thread))
"""


def test_spin_off_leaves_the_core_between_calls():
    def helper_cpu(spin):
        done = subprocess.run([sys.executable, "-c", SPIN_CPU_SCRIPT.format(spin=spin)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return float(done.stdout)
    spinning, sleeping = helper_cpu(10_000), helper_cpu(0)
    if spinning < 0.05:
        pytest.skip(f"machine busy: a spinning helper got {spinning:.3f} s of CPU in 0.2 s")
    assert sleeping < 0.5 * spinning, (sleeping, spinning)


def test_the_c_functions_threadpoolctl_calls():
    """The extension exports the cap as plain C functions; a C caller's count is clamped."""
    lib = ctypes.CDLL(logitkit._ext.__file__)
    before = logitkit.get_num_threads()
    try:
        lib.logitkit_set_num_threads(3)
        assert logitkit.get_num_threads() == lib.logitkit_get_num_threads() == 3
        lib.logitkit_set_num_threads(100_000)
        assert logitkit.get_num_threads() == 256
        lib.logitkit_set_num_threads(0)
        assert logitkit.get_num_threads() == 1
    finally:
        logitkit.set_num_threads(before)


THREADPOOLCTL_SCRIPT = """
import json, os, sys
first, second = sys.argv[1:]
__import__(first)
__import__(second)
import logitkit, threadpoolctl
logitkit.set_num_threads(3)
info = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "logitkit"]
seen = []
with threadpoolctl.threadpool_limits(1):
    seen.append(logitkit.get_num_threads())
seen.append(logitkit.get_num_threads())
with threadpoolctl.threadpool_limits(limits=2, user_api="logitkit"):
    seen.append(logitkit.get_num_threads())
    with logitkit.threads(1):
        seen.append(next(i["num_threads"] for i in threadpoolctl.threadpool_info()
                         if i["internal_api"] == "logitkit"))
with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
    seen.append(logitkit.get_num_threads())
seen.append(logitkit.get_num_threads())
print(json.dumps({"info": info, "seen": seen, "meta_path": [type(f).__name__ for f in
                  sys.meta_path], "loader": type(threadpoolctl.__loader__).__name__,
                  "ext": os.path.realpath(logitkit._ext.__file__)}))
"""


@pytest.mark.parametrize("first, second", [("logitkit", "threadpoolctl"),
                                           ("threadpoolctl", "logitkit")])
def test_threadpoolctl_sees_and_limits_logitkit(first, second):
    pytest.importorskip("threadpoolctl")
    done = subprocess.run([sys.executable, "-c", THREADPOOLCTL_SCRIPT, first, second],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not done.stderr, done.stderr                   # no warning either
    report = json.loads(done.stdout)
    (info,) = report["info"]
    assert info["user_api"] == "logitkit" and info["num_threads"] == 3
    assert info["version"] == logitkit.__version__
    assert os.path.realpath(info["filepath"]) == report["ext"]
    assert report["seen"] == [1, 3, 2, 1, 3, 3]
    # the import hook is gone once it has served, and threadpoolctl keeps its own loader
    assert "_RegisterOnImport" not in report["meta_path"]
    assert report["loader"] == "SourceFileLoader"


def test_importing_logitkit_imports_no_threadpoolctl():
    done = subprocess.run([sys.executable, "-c", "import sys, logitkit; "
                           "print('threadpoolctl' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_threadpoolctl_limits_in_this_process(threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    logitkit.set_num_threads(4)
    with threadpoolctl.threadpool_limits(1, user_api="logitkit"):
        assert logitkit.get_num_threads() == 1
    assert logitkit.get_num_threads() == 4


def test_docstring_examples():
    from logitkit import _threads
    failed, tried = doctest.testmod(_threads, optionflags=doctest.ELLIPSIS)
    assert tried >= 5 and failed == 0


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
