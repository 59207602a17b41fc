"""Compare logitkit's fast functions with their pure-Python twins, on your own data.

    >>> import numpy as np, logitkit.testing as lt
    >>> lt.max_ulp_difference("softmax", np.array([2.0, 1.0, 0.1]))
    0.0
    >>> lt.assert_matches_reference("log_softmax", np.array([[0.0, -40.0]]), max_ulp=2)

Distances are in units in the last place (ULP) of the reference result's dtype: |fast - ref|
divided by the spacing of floats at ref (so a subnormal or zero result is measured on the
subnormal grid). Equal infinities and NaN-against-NaN count as 0; any other disagreement about
NaN or infinity is an infinite distance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["max_ulp_difference", "assert_matches_reference", "ulp_distance"]


def ulp_distance(got: Any, expected: Any) -> np.ndarray:
    """Elementwise distance between two arrays of one float dtype, in ULPs of `expected`."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    if got.shape != expected.shape:
        raise ValueError(f"ulp_distance: shapes differ: {got.shape} vs {expected.shape}")
    dtype = np.result_type(expected.dtype, np.float16)
    if dtype.kind != "f":
        raise TypeError(f"ulp_distance: expected float arrays, got {expected.dtype}")
    shape = expected.shape
    got, expected = got.reshape(-1), expected.reshape(-1)
    wide = np.longdouble if np.finfo(np.longdouble).nmant > 52 else np.float64
    with np.errstate(all="ignore"):
        spacing = np.spacing(np.abs(expected.astype(dtype))).astype(wide)
        distance = np.abs(got.astype(wide) - expected.astype(wide)) / spacing
    both_nan = np.isnan(got) & np.isnan(expected)
    same_inf = np.isinf(expected) & (got == expected)
    distance[both_nan | same_inf] = 0.0
    distance[np.isnan(distance)] = np.inf
    return distance.astype(np.float64).reshape(shape)


def _results(name: str, x: Any, kwargs: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The fast and the reference results of `name`, each as a list of arrays (functions with
    several results, such as logsumexp(..., return_sign=True), give several)."""
    import logitkit
    from logitkit import reference

    fast_fn = getattr(logitkit, name, None)
    ref_fn = getattr(reference, name, None)
    if not callable(fast_fn) or not callable(ref_fn):
        raise ValueError(f"{name!r} is not a logitkit function with a reference twin")
    if "out" in kwargs:
        raise TypeError("max_ulp_difference: out= makes no sense here; pass the inputs only")
    data = np.asarray(x)
    fast = fast_fn(data, **kwargs)
    ref = ref_fn(data, **kwargs)
    fast_parts = list(fast) if isinstance(fast, tuple) else [fast]
    ref_parts = list(ref) if isinstance(ref, tuple) else [ref]
    return ([np.asarray(p) for p in fast_parts], [np.asarray(p) for p in ref_parts])


def _worst(name: str, x: Any, kwargs: dict[str, Any]) -> tuple[float, str]:
    """The largest ULP distance and a description of where it happens."""
    fast_parts, ref_parts = _results(name, x, kwargs)
    worst, where = 0.0, "everywhere equal"
    for part, (got, expected) in enumerate(zip(fast_parts, ref_parts)):
        if got.dtype != expected.dtype or got.shape != expected.shape:
            label = f"result {part} " if len(fast_parts) > 1 else ""
            return np.inf, (f"{label}has dtype {got.dtype} and shape {got.shape}, the "
                            f"reference {expected.dtype} and {expected.shape}")
        if got.size == 0:
            continue
        distance = ulp_distance(got, expected)
        index = np.unravel_index(int(np.argmax(distance)), distance.shape)
        if distance[index] > worst or (worst == 0.0 and part == 0):
            worst = float(distance[index])
            label = f"result {part} " if len(fast_parts) > 1 else ""
            where = (f"{label}at index {tuple(int(i) for i in index)}: "
                     f"got {got[index]!r}, reference {expected[index]!r}")
    return worst, where


def max_ulp_difference(name: str, x: Any, **kwargs: Any) -> float:
    """Runs logitkit.<name>(x, **kwargs) and logitkit.reference.<name>(x, **kwargs) and returns
    the worst elementwise difference in ULPs (0.0 for identical results)."""
    return _worst(name, x, kwargs)[0]


def assert_matches_reference(name: str, x: Any, max_ulp: float = 4, **kwargs: Any) -> None:
    """Raises AssertionError, naming the worst element, if logitkit.<name> differs from its
    reference by more than `max_ulp` ULPs anywhere."""
    worst, where = _worst(name, x, kwargs)
    if not worst <= max_ulp:
        raise AssertionError(f"logitkit.{name} differs from logitkit.reference.{name} by "
                             f"{worst:.3g} ULP (> {max_ulp}) {where}")
