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
    with pytest.raises(ValueError, match=">= 1"):
        logitkit.set_num_threads(0)
    with pytest.raises(TypeError, match="int"):
        logitkit.set_num_threads(2.0)


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


@pytest.mark.parametrize("name", ["sigmoid", "sigmoid_derivative", "log_sigmoid", "softplus"])
def test_threaded_elementwise_equals_serial(threads, name):
    x = np.random.default_rng(1).standard_normal(1_000_001) * 30
    fn = getattr(logitkit, name)
    logitkit.set_num_threads(1)
    serial = fn(x)
    logitkit.set_num_threads(4)
    np.testing.assert_array_equal(fn(x), serial)
