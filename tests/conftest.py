import os
import sys

import pytest

# tests/test_accuracy.py reuses the oracle and input suite of bench/accuracy_suite.py.
BENCH_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "bench"))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (the full adversarial accuracy suite)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def simd_paths():
    """SIMD code paths this build of logitkit can run here (['default'] if it can't say)."""
    logitkit = pytest.importorskip("logitkit")
    paths = getattr(logitkit, "_simd_paths", None)
    return list(paths()) if callable(paths) else ["default"]
