"""The public API's types: `mypy --strict` and pyright (strict) on tests/typing/usage.py (its
assert_type lines pin the precise types of the stubs) and on tests/typing/errors.py (each line
marked `# E` must be an error, and no other line), stubtest of the stubs against the runtime,
and the run-time facts the stubs' return types claim."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import logitkit

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(logitkit.__file__)))
INSTALLED = os.path.basename(PKG_PARENT) in ("site-packages", "dist-packages")
USAGE = os.path.join(HERE, "typing", "usage.py")
ERRORS = os.path.join(HERE, "typing", "errors.py")
STUBBED = ["logitkit._softmax", "logitkit._sigmoid", "logitkit._losses", "logitkit._backward",
           "logitkit._decoding"]


def _env():
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if not INSTALLED:                     # the source tree (mypy refuses site-packages here)
        env["MYPYPATH"] = PKG_PARENT
        env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def mypy(*args):
    pytest.importorskip("mypy")
    env = _env()
    cache = tempfile.mkdtemp(prefix="logitkit-mypy-")
    env["MYPY_CACHE_DIR"] = cache                       # never a .mypy_cache in the tree
    try:
        return subprocess.run(
            [sys.executable, "-m", *args], capture_output=True,
            text=True, env=env, cwd=HERE, timeout=600)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def mypy_strict(path):
    # --follow-imports=silent: only the user's file is judged (an installed package is silent
    # anyway; from the source tree the package's own modules are not what this test checks).
    return mypy("mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
                "--python-executable", sys.executable, path)


def pyright(path):
    """basedpyright (or pyright) in strict mode on `path`: its error diagnostics."""
    here = os.path.dirname(sys.executable)          # this interpreter's scripts, on PATH or not
    exe = next((found for name in ("basedpyright", "pyright")
                for found in [shutil.which(name, path=here) or shutil.which(name)] if found), None)
    if exe is None:
        pytest.skip("neither basedpyright nor pyright is installed")
    with tempfile.TemporaryDirectory(prefix="logitkit-pyright-") as tmp:
        config = {"typeCheckingMode": "strict", "include": [path],
                  "extraPaths": [] if INSTALLED else [PKG_PARENT]}
        with open(os.path.join(tmp, "pyrightconfig.json"), "w") as f:
            json.dump(config, f)
        res = subprocess.run(
            [exe, "--outputjson", "--pythonpath", sys.executable, "--project", tmp],
            capture_output=True, text=True, env=_env(), cwd=tmp, timeout=600)
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"pyright gave no report:\n{res.stdout}\n{res.stderr}")
    assert report["summary"]["filesAnalyzed"] == 1, res.stdout
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def marked_lines(path):
    with open(path) as f:
        return {n for n, line in enumerate(f, 1) if re.search(r"\S\s+# E:", line)}


# The expected types are written against NumPy's own stubs as of 2.4 (older stubs spell
# ndarray's parameters and slicing results differently); the project's stubs are the same.
NUMPY_STUBS = pytest.mark.skipif(tuple(int(p) for p in np.__version__.split(".")[:2]) < (2, 4),
                                 reason="the expected types follow NumPy >= 2.4's stubs")


@NUMPY_STUBS
def test_mypy_strict_usage():
    res = mypy_strict(os.path.join("typing", "usage.py"))
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_rejects_the_marked_lines():
    res = mypy_strict(os.path.join("typing", "errors.py"))
    found = {int(m) for m in re.findall(r"^typing[/\\]errors\.py:(\d+): error:", res.stdout,
                                        re.MULTILINE)}
    assert found == marked_lines(ERRORS), res.stdout + res.stderr


@NUMPY_STUBS
def test_pyright_strict_usage():
    errors = pyright(USAGE)
    assert not errors, "\n".join(f"{d['range']['start']['line'] + 1}: {d['message']}"
                                 for d in errors)


def test_pyright_rejects_the_marked_lines():
    found = {d["range"]["start"]["line"] + 1 for d in pyright(ERRORS)}
    assert found == marked_lines(ERRORS)


def test_stub_matches_runtime():
    res = mypy("mypy.stubtest", *STUBBED)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_return_types_the_stub_claims():
    x = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
    labels = np.array([0, 2])
    assert isinstance(logitkit.softmax(5.0), np.floating)
    assert isinstance(logitkit.softmax(x), np.ndarray)
    assert isinstance(logitkit.logsumexp(x, axis=None), np.floating)
    assert isinstance(logitkit.logsumexp(3.0), np.floating)
    assert isinstance(logitkit.logsumexp(x, keepdims=True), np.ndarray)
    assert isinstance(logitkit.logsumexp(x, axis=1), np.ndarray)
    assert isinstance(logitkit.logsumexp(x[:, :, None], axis=-2), np.ndarray)
    value, sign = logitkit.logsumexp(x, axis=None, return_sign=True)
    assert isinstance(value, np.floating) and isinstance(sign, np.floating)
    out = np.empty_like(x)
    assert logitkit.log_softmax(x, out=out) is out
    for fn in (logitkit.sigmoid, logitkit.sigmoid_derivative, logitkit.log_sigmoid,
               logitkit.softplus):
        assert isinstance(fn(0.0), np.floating)
        assert fn(x, out=out) is out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_loss_types_the_stub_claims(dtype):
    x = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]], dtype)
    labels, probs = np.array([0, 2]), np.full((2, 3), 1 / 3)
    ce, bce = logitkit.cross_entropy, logitkit.binary_cross_entropy_with_logits
    for reduction in ("mean", "sum"):
        assert isinstance(ce(x, labels, reduction=reduction), np.floating)
        assert isinstance(bce(x, probs, reduction=reduction), np.floating)
        loss, grad = ce(x, labels, reduction=reduction, return_grad=True)
        assert isinstance(loss, np.floating) and isinstance(grad, np.ndarray)
        loss, grad = bce(x, probs, reduction=reduction, return_grad=True)
        assert isinstance(loss, np.floating) and isinstance(grad, np.ndarray)
    assert isinstance(ce(x, labels, reduction="none"), np.ndarray)
    assert isinstance(ce(x[0], 0, reduction="none"), np.floating)
    assert isinstance(ce(x[0], probs[0], reduction="none"), np.floating)   # hence the union
    assert isinstance(ce(x, probs, reduction="none"), np.ndarray)
    assert isinstance(bce(x, probs, reduction="none"), np.ndarray)
    assert isinstance(bce(1.5, 1.0, reduction="none"), np.floating)
    loss, grad = ce(x[0], 0, reduction="none", return_grad=True)
    assert isinstance(loss, np.floating) and isinstance(grad, np.ndarray)
    for reduction in ("mean", "sum", "none"):
        loss, grad = bce(1.5, 1.0, reduction=reduction, return_grad=True)
        assert isinstance(loss, np.floating) and isinstance(grad, np.floating)


def test_the_backward_types_the_stub_claims():
    x = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25]])
    out = np.empty_like(x)
    for fn in (logitkit.softmax_backward, logitkit.log_softmax_backward,
               logitkit.sigmoid_backward):
        assert isinstance(fn(x, x), np.ndarray)
        assert isinstance(fn(1.0, 0.5), np.floating)
        assert fn(x, x, out=out) is out
