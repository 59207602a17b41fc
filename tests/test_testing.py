"""logitkit.testing: ULP distances and the comparison with the reference, its doctests, and the
oracle subpackage staying out of `import logitkit`."""

import doctest
import subprocess
import sys

import numpy as np
import pytest

import logitkit
import logitkit.testing
from logitkit import _registry
from logitkit.testing import assert_matches_reference, max_ulp_difference, ulp_distance


def test_ulp_distance_counts_floats_between():
    one = np.array([1.0])
    assert ulp_distance(np.nextafter(one, 2), one)[0] == 1.0
    assert ulp_distance(one, one)[0] == 0.0
    assert ulp_distance(np.array([5e-324 * 3]), np.array([0.0]))[0] == 3.0   # subnormal grid
    f32 = np.array([1.0], np.float32)
    assert ulp_distance(np.nextafter(f32, np.float32(0)), f32)[0] == 0.5     # spacing above 1


def test_ulp_distance_nan_and_inf():
    got = np.array([np.nan, np.inf, np.inf, 1.0, np.nan])
    ref = np.array([np.nan, np.inf, -np.inf, np.nan, 1.0])
    assert ulp_distance(got, ref).tolist() == [0.0, 0.0, np.inf, np.inf, np.inf]


def test_max_ulp_difference_on_user_data():
    x = np.random.default_rng(0).standard_normal((10, 100)) * 30
    for name in ("softmax", "log_softmax", "logsumexp", "sigmoid", "softplus"):
        assert max_ulp_difference(name, x) <= 4
    assert max_ulp_difference("logsumexp", x, axis=0, keepdims=True) <= 2
    assert max_ulp_difference("logsumexp", x, b=np.ones_like(x), return_sign=True) <= 2


def test_assert_matches_reference_names_the_worst_element(monkeypatch):
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.25, 4.0]])
    assert_matches_reference("softmax", x, max_ulp=4)

    def broken(data, axis=-1, **kwargs):                   # a deliberately wrong kernel
        result = logitkit.reference.softmax(data, axis=axis, **kwargs)
        result[1, 2] *= 1 + 1e-12
        return result

    monkeypatch.setattr(logitkit, "softmax", broken)
    with pytest.raises(AssertionError, match=r"index \(1, 2\)"):
        assert_matches_reference("softmax", x, max_ulp=4)


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match="not a logitkit function"):
        max_ulp_difference("tanh", [1.0])
    with pytest.raises(TypeError, match="out"):
        max_ulp_difference("softmax", [1.0], out=np.empty(1))


def test_default_bar_is_the_registrys_plus_the_references_rounding(monkeypatch):
    """Without max_ulp, the bar is the function's (from the registry) plus one ULP."""
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.25, 4.0]])
    assert_matches_reference("log_softmax", x)
    bar = _registry.function("log_softmax").max_ulp_vs_reference
    assert bar == _registry.function("log_softmax").max_ulp + 1

    def off_by(ulps):
        def shifted(data, axis=-1, **kwargs):
            result = logitkit.reference.log_softmax(data, axis=axis, **kwargs)
            result[0, 0] += ulps * np.spacing(result[0, 0])
            return result
        return shifted

    monkeypatch.setattr(logitkit, "log_softmax", off_by(bar))
    assert_matches_reference("log_softmax", x)
    monkeypatch.setattr(logitkit, "log_softmax", off_by(bar + 1))
    with pytest.raises(AssertionError, match=rf"> {bar}\)"):
        assert_matches_reference("log_softmax", x)
    with pytest.raises(ValueError, match="not a logitkit function"):
        assert_matches_reference("tanh", [1.0])


def test_doctests_of_logitkit_testing():
    """The examples in logitkit.testing's docstrings run and show what they claim."""
    result = doctest.testmod(logitkit.testing, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 10, result
    assert result.failed == 0, result


def test_import_logitkit_does_not_import_mpmath():
    """mpmath is a test and bench extra: only logitkit.testing.oracle imports it."""
    code = ("import sys, logitkit, logitkit.testing, logitkit.testing.adversarial; "
            "print('mpmath' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
