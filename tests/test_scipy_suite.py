"""SciPy's own tests of logsumexp, softmax, log_softmax, expit and log_expit, run against
logitkit through a shim with SciPy's signatures and defaults.

The test modules of the installed SciPy (scipy/special/tests/test_logsumexp.py and
test_logit.py) are loaded under private names, their module-level names for the SciPy
functions are pointed at the shim, and their test classes are collected here as subclasses.
Skipped, each with its reason: complex input (logitkit is real-valued) and SciPy-internal
helpers. A test class the installed SciPy does not have (older SciPy: no TestLogSoftmax, ...)
is not collected.
"""

import importlib.util
import pathlib
import warnings

import numpy as np
import pytest

import logitkit

scipy = pytest.importorskip("scipy")
pytest.importorskip("scipy.special")
_TESTS = pathlib.Path(scipy.__file__).parent / "special" / "tests"


def _load(name):
    path = _TESTS / f"{name}.py"
    if not path.exists():
        pytest.skip(f"this SciPy has no {path}", allow_module_level=True)
    spec = importlib.util.spec_from_file_location(f"_logitkit_scipy_{name}", path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():          # SciPy's own marks, registered in its conftest
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        spec.loader.exec_module(module)
    for cls in vars(module).values():        # parametrize over an iterator is deprecated
        for fn in vars(cls).values() if isinstance(cls, type) else ():
            marks = getattr(fn, "pytestmark", None)
            if marks:
                fn.pytestmark = [
                    pytest.mark.parametrize(m.args[0], list(m.args[1]), **m.kwargs).mark
                    if m.name == "parametrize" and not isinstance(m.args[1], (list, tuple))
                    else m for m in marks]
    return module


# ---------------------------------------------------------------- the shim: SciPy's signatures

def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    return logitkit.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def softmax(x, axis=None):
    return logitkit.softmax(x, axis=axis)


def log_softmax(x, axis=None):
    return logitkit.log_softmax(x, axis=axis)


def expit(x):
    return logitkit.sigmoid(x)


def log_expit(x):
    return logitkit.log_sigmoid(x)


_lse = _load("test_logsumexp")
_logit = _load("test_logit")
for _module in (_lse, _logit):
    for _name, _shim in [("logsumexp", logsumexp), ("softmax", softmax),
                         ("log_softmax", log_softmax), ("expit", expit),
                         ("log_expit", log_expit)]:
        if hasattr(_module, _name):
            setattr(_module, _name, _shim)


COMPLEX = "complex input: logitkit is real-valued"
INTERNAL = "SciPy-internal helper"


@pytest.fixture
def xp():
    return np


@pytest.fixture
def devices():
    return [None]


def _is_complex(value):
    if isinstance(value, str):
        return value.startswith("complex")
    return isinstance(value, complex) and not (value.imag == 0 and
                                               isinstance(value, float))


@pytest.fixture(autouse=True)
def _skip_complex(request):
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and any(_is_complex(v) for v in callspec.params.values()):
        pytest.skip(COMPLEX)


# ---------------------------------------------------------------- the test classes

def _scipy_class(module, name):
    """SciPy's test class `name`, or a placeholder that collects nothing on a SciPy without it."""
    return getattr(module, name, object)


class TestLogSumExp(_scipy_class(_lse, "TestLogSumExp")):
    def test_logsumexp_complex_sign(self, xp):
        pytest.skip(COMPLEX)

    def test_gh21709_small_imaginary(self, xp):
        pytest.skip(COMPLEX)


class TestWrapRadians:
    def test_wrap_radians(self):
        pytest.skip(f"{INTERNAL}: scipy.special._logsumexp._wrap_radians")


class TestSoftmax(_scipy_class(_lse, "TestSoftmax")):
    pass


class TestLogSoftmax(_scipy_class(_lse, "TestLogSoftmax")):
    pass


class TestExpit(_scipy_class(_logit, "TestExpit")):
    pass


class TestLogExpit(_scipy_class(_logit, "TestLogExpit")):
    pass
