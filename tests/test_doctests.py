"""The examples in the docstrings run and print what they show, and every public function has
some. The modules are imported by name, so this checks the installed package as well as the
source tree."""

import doctest
import importlib
import importlib.util
import inspect
import pkgutil
import re

import numpy as np
import pytest

import logitkit
import logitkit.testing

FLAGS = doctest.NORMALIZE_WHITESPACE
# NumPy's own defaults, whatever a test or a user's configuration set before.
PRINT_OPTIONS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
                     nanstr="nan", infstr="inf", sign="-", floatmode="maxprec", legacy=False)
NUMPY_2 = int(np.__version__.split(".")[0]) >= 2


def _package(name):
    """The package and its modules, found without importing them (logitkit.dask imports
    Dask)."""
    paths = importlib.util.find_spec(name).submodule_search_locations
    return [name, *(f"{name}.{m.name}" for m in pkgutil.iter_modules(paths))]


MODULES = ["logitkit", "logitkit._softmax", "logitkit._sigmoid", "logitkit._losses",
           "logitkit._backward", "logitkit._threads", *_package("logitkit.testing"), *_package("logitkit.reference"),
           *_package("logitkit.dask")]

PUBLIC = sorted(
    {f"logitkit.{n}" for n in logitkit.__all__ if inspect.isroutine(getattr(logitkit, n))}
    | {f"logitkit.testing.{n}" for n in logitkit.testing.__all__})


def _numpy1_form(text):
    """NumPy 1.x prints a NumPy scalar as its value (`1.5`, `True`), NumPy 2 as
    `np.float64(1.5)`, `np.True_`; the examples show NumPy 2's form."""
    text = re.sub(r"np\.(?:float|int|uint)\d*\(([^()]*)\)", r"\1", text)
    return re.sub(r"np\.(True|False)_", r"\1", text)


class _Checker(doctest.OutputChecker):
    def check_output(self, want, got, optionflags):
        if not NUMPY_2:
            want = _numpy1_form(want)
        return super().check_output(want, got, optionflags)


def _run(tests):
    """Run doctests; the report of every failure, or '' when all pass."""
    runner = doctest.DocTestRunner(checker=_Checker(), optionflags=FLAGS)
    report = []
    with np.printoptions(**PRINT_OPTIONS):
        for test in tests:
            runner.run(test, out=report.append)
    return "".join(report)


def _import(name):
    if name.startswith("logitkit.dask"):
        pytest.importorskip("dask.array")
    if name == "logitkit.testing.oracle":
        pytest.importorskip("mpmath")
    return importlib.import_module(name)


def _function(qualified):
    module, _, name = qualified.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name):
    module = _import(name)
    tests = doctest.DocTestFinder().find(module)
    failures = _run(tests)
    assert not failures, failures


@pytest.mark.parametrize("qualified", PUBLIC)
def test_public_function_has_examples(qualified):
    # Found from the function itself, not its module: a wrapper defined elsewhere (a
    # decorator) would hide it from the module's search.
    fn = _function(qualified)
    doc = inspect.getdoc(fn) or ""
    section = re.search(r"^Examples\n-{8}-*\n(.*)", doc, re.MULTILINE | re.DOTALL)
    assert section, f"{qualified} has no Examples section"
    tests = doctest.DocTestFinder(recurse=False).find(fn, qualified, globs={})
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 1, f"{qualified} has no example"
    failures = _run(tests)
    assert not failures, failures


def test_numpy_2_scalars_read_as_numpy_1_prints_them():
    assert _numpy1_form("(np.float64(1.541325), np.float32(-1.0))") == "(1.541325, -1.0)"
    assert _numpy1_form("np.True_ np.False_ np.int64(3)") == "True False 3"
    assert _numpy1_form("array([0.5, 0.5])") == "array([0.5, 0.5])"
