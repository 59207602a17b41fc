"""logitkit against its accuracy bars (the registry's, documented in docs/semantics.md),
measured with the mpmath oracle of logitkit.testing.oracle.

The default run checks the quick adversarial suite (``python bench/accuracy.py --quick`` prints
the same measurement side by side with PyTorch and SciPy); ``--run-slow`` adds the full suite
(10^6-element rows, dense grids). logsumexp results with |exact| < 1 are held to 2 ULP of
max(|max|, log(sum)) instead (see logitkit.testing.oracle).
"""

import numpy as np
import pytest

pytest.importorskip("mpmath")
logitkit = pytest.importorskip("logitkit")

from logitkit import _registry  # noqa: E402
from logitkit.testing import oracle  # noqa: E402

_SUITES = {}


def _batches(func, dtype, level):
    kind = "reduction" if func in oracle.REDUCTIONS else "elementwise"
    if func in oracle.INFORMATION:
        kind = "reduction"
    key = (kind, np.dtype(dtype).name, level)
    if key not in _SUITES:                 # shared by the three reductions: one oracle pass
        _SUITES[key] = oracle.suite(func, dtype, level)
    return _SUITES[key]


def _logitkit_fn(func):
    f = getattr(logitkit, func)
    if func in oracle.INFORMATION:
        def call_information(*arrays, axis=-1):
            res = f(*arrays, axis=axis)
            assert res.dtype == arrays[0].dtype, f"{func}({arrays[0].dtype}) returned {res.dtype}"
            return res
        return call_information

    def call(x, axis=-1):
        res = f(x, axis=axis) if func in oracle.REDUCTIONS else f(x)
        assert res.dtype == x.dtype, f"{func}({x.dtype}) returned {res.dtype}"
        return res
    return call


def _check(func, dtype, level):
    bar = oracle.BARS[func]
    worst = oracle.run_library(_logitkit_fn(func), func, dtype, _batches(func, dtype, level),
                              threshold=bar)
    w = worst["bar"] if func == "logsumexp" or func in oracle.INFORMATION else worst["ulp"]
    if not w.ulp <= bar:
        shown = "\n  ".join(f"{u:.3g} ULP  {case}" for u, case in
                            sorted(w.failures, key=lambda t: -t[0])[:12])
        pytest.fail(f"{func} {np.dtype(dtype).name}: worst {w.ulp:.4g} ULP > bar {bar} "
                    f"over {w.n_checked} results\n  worst: {w.case}\n  {shown}",
                    pytrace=False)


FUNCS = pytest.mark.parametrize("func", oracle.FUNCTIONS)
DTYPES = pytest.mark.parametrize("dtype", ["float32", "float64"])


@DTYPES
@FUNCS
def test_accuracy_bar(func, dtype):
    _check(func, dtype, "quick")


@pytest.mark.slow
@DTYPES
@FUNCS
def test_accuracy_bar_full(func, dtype):
    _check(func, dtype, "full")


def test_every_registered_reduction_and_elementwise_function_has_an_oracle():
    """The sigmoid family and the reductions along an axis are all measured here (the losses
    and the backward functions have their own mpmath checks in test_losses.py)."""
    core = {f.name for f in _registry.FUNCTIONS
            if f.kind in ("normalize", "reduce", "elementwise")}
    assert core == set(oracle.FUNCTIONS), (
        f"registered without an oracle: {sorted(core - set(oracle.FUNCTIONS))}; "
        f"an oracle for an unregistered function: {sorted(set(oracle.FUNCTIONS) - core)}")
    assert oracle.BARS == {name: _registry.function(name).max_ulp for name in oracle.FUNCTIONS}


def test_ulp_measure_itself():
    """The measure: exact values score 0, one step off scores 1, subnormals use their spacing."""
    mp = oracle._mp
    vals = [mp.mpf(1) / 3, -mp.mpf(2) / 3, mp.mpf("1e-320"), mp.mpf(0), mp.inf, mp.nan]
    ref = oracle.round_exact(vals, np.float64)
    third = float(mp.mpf(1) / 3)
    exact = np.array([third, -2 / 3, 1e-320, 0.0, np.inf, np.nan])
    assert np.all(oracle.ulp_error(exact, ref) <= 0.5)
    off = np.array([np.nextafter(third, 1), np.nextafter(-2 / 3, 0), 1e-320 + 5e-324,
                    5e-324, 1e308, 0.0])
    err = oracle.ulp_error(off, ref)
    assert np.all((err[:4] > 0.5) & (err[:4] < 1.5)) and np.all(np.isinf(err[4:]))
    f32 = oracle.round_exact([mp.mpf(1) / 3, mp.mpf("1e-45")], np.float32)
    assert f32.hi[0] == float(np.float32(1 / 3)) and f32.ulp[1] == 2.0 ** -149
