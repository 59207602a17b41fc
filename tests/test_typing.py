"""The public API's types: `mypy --strict` on tests/typing/usage.py (its assert_type lines pin
the precise types of logitkit/_softmax.pyi and _sigmoid.pyi), stubtest of the stubs against
the runtime, and the run-time facts the stubs' return types claim."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import logitkit

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(logitkit.__file__)))
INSTALLED = os.path.basename(PKG_PARENT) in ("site-packages", "dist-packages")


def mypy(*args):
    pytest.importorskip("mypy")
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if not INSTALLED:                     # the source tree (mypy refuses site-packages here)
        env["MYPYPATH"] = PKG_PARENT
        env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    cache = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"logitkit-mypy-{os.getpid()}")
    env["MYPY_CACHE_DIR"] = cache                       # never a .mypy_cache in the tree
    try:
        return subprocess.run(
            [sys.executable, "-m", *args], capture_output=True,
            text=True, env=env, cwd=HERE, timeout=600)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def test_mypy_strict_usage():
    # --follow-imports=silent: only the user's file is judged (an installed package is silent
    # anyway; from the source tree the package's own modules are not what this test checks).
    res = mypy("mypy", "--strict", "--follow-imports=silent",
               "--python-executable", sys.executable, os.path.join("typing", "usage.py"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Success" in res.stdout


def test_stub_matches_runtime():
    res = mypy("mypy.stubtest", "logitkit._softmax", "logitkit._sigmoid")
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_return_types_the_stub_claims():
    x = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
    assert isinstance(logitkit.softmax(5.0), np.floating)
    assert isinstance(logitkit.softmax(x), np.ndarray)
    assert isinstance(logitkit.logsumexp(x, axis=None), np.floating)
    assert isinstance(logitkit.logsumexp(3.0), np.floating)
    assert isinstance(logitkit.logsumexp(x, keepdims=True), np.ndarray)
    value, sign = logitkit.logsumexp(x, axis=None, return_sign=True)
    assert isinstance(value, np.floating) and isinstance(sign, np.floating)
    out = np.empty_like(x)
    assert logitkit.log_softmax(x, out=out) is out
    for fn in (logitkit.sigmoid, logitkit.sigmoid_derivative, logitkit.log_sigmoid,
               logitkit.softplus):
        assert isinstance(fn(0.0), np.floating)
        assert fn(x, out=out) is out
