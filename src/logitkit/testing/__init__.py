"""Compare logitkit's fast functions with their pure-Python twins, on your own data.

    >>> import numpy as np, logitkit.testing as lt
    >>> x = np.random.default_rng(0).standard_normal((100, 50))
    >>> lt.max_ulp_difference("log_softmax", x) <= 2
    True
    >>> lt.assert_matches_reference("softmax", x.astype(np.float32), max_ulp=4)

Distances are in units in the last place (ULP) of the reference result's dtype: |fast - ref|
divided by the spacing of floats at ref (so a subnormal or zero result is measured on the
subnormal grid). Equal infinities and NaN-against-NaN count as 0; any other disagreement about
NaN or infinity is an infinite distance.

Which functions exist, and each one's accuracy bar, come from the one table of public functions
(`logitkit._registry`). The test suite and `bench/accuracy.py` measure the bars against the exact
results of `logitkit.testing.oracle` (mpmath: the test and bench extras; `import logitkit.testing`
does not import it) on the inputs of `logitkit.testing.adversarial`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from logitkit import _registry

__all__ = ["max_ulp_difference", "assert_matches_reference", "ulp_distance"]


def ulp_distance(got: Any, expected: Any) -> np.ndarray:
    """Elementwise distance between two arrays of one float dtype, in ULPs of `expected`.

    Parameters
    ----------
    got : array_like
        The values to judge.
    expected : array_like of float
        The values they should be, of the same shape; the ULP is the spacing of floats of
        `expected`'s dtype at each of its elements.

    Returns
    -------
    numpy.ndarray of float64
        ``|got - expected| / spacing(expected)`` elementwise, with `expected`'s shape. Equal
        infinities and NaN against NaN give 0; any other disagreement about NaN or infinity
        gives ``inf``.

    Raises
    ------
    ValueError
        If the shapes differ.
    TypeError
        If `expected` is not an array of floats.

    See Also
    --------
    max_ulp_difference : The worst of these distances between logitkit and its reference.
    numpy.spacing : The ULP of a float.

    Notes
    -----
    The ULP is taken at `expected`, so the distance is not symmetric in its arguments.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.testing import ulp_distance
    >>> ulp_distance(np.nextafter(1.0, 2.0), 1.0)
    array(1.)
    >>> ulp_distance(np.array([0.0, np.inf, np.nan]), np.array([5e-324 * 3, np.inf, np.nan]))
    array([3., 0., 0.])
    """
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
    entry = _registry.function(name)        # ValueError naming the known functions
    if "out" in kwargs:
        raise TypeError("max_ulp_difference: out= makes no sense here; pass the inputs only")
    data = np.asarray(x)
    fast = entry.fast(data, **kwargs)
    ref = entry.reference(data, **kwargs)
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
    """The worst elementwise difference between logitkit.<name> and its reference, in ULPs.

    Runs ``logitkit.<name>(x, **kwargs)`` and ``logitkit.reference.<name>(x, **kwargs)`` and
    compares every result (both parts of ``logsumexp(..., return_sign=True)``).

    Parameters
    ----------
    name : str
        A public logitkit function, e.g. ``"softmax"``.
    x : array_like
        Its input.
    **kwargs
        Its other arguments (``axis``, ``where``, ``b``, ...), passed to both; not ``out``.

    Returns
    -------
    float
        The largest distance in ULPs of the reference result's dtype (see `ulp_distance`);
        0.0 for identical results, ``inf`` if the results disagree about NaN, infinity, dtype
        or shape.

    Raises
    ------
    ValueError
        If `name` is not a logitkit function (the message lists the known ones).
    TypeError
        If ``out=`` is passed.

    See Also
    --------
    assert_matches_reference : The same comparison as an assertion.
    ulp_distance : The elementwise distance.

    Notes
    -----
    The reference is rounded once from an exact or float64 result, so the distance to it
    can exceed a function's accuracy bar (its distance to the exact result, in
    docs/semantics.md) by one ULP. Which distance a given input gives may depend on the SIMD
    path (`logitkit.simd_path`), within the bar.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.testing import max_ulp_difference
    >>> max_ulp_difference("softmax", np.array([2.0, 1.0, 0.1])) <= 4
    True
    >>> max_ulp_difference("sigmoid", np.array([0.0, np.inf, -np.inf]))   # 0.5, 1, 0 exactly
    0.0
    >>> max_ulp_difference("logsumexp", np.array([[1.0, 2.0]]), b=[[1.0, -1.0]],
    ...                    return_sign=True) <= 2
    True
    >>> max_ulp_difference("tanh", np.array([1.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: 'tanh' is not a logitkit function; expected one of: softmax, log_softmax, ...
    """
    return _worst(name, x, kwargs)[0]


def assert_matches_reference(name: str, x: Any, max_ulp: float | None = None,
                             **kwargs: Any) -> None:
    """Check that logitkit.<name> is within `max_ulp` ULPs of its reference everywhere.

    Parameters
    ----------
    name : str
        A public logitkit function, e.g. ``"softmax"``.
    x : array_like
        Its input.
    max_ulp : float, optional
        The largest distance allowed, in ULPs of the reference result's dtype. Default: the
        function's accuracy bar (its worst distance from the exact result, documented in
        docs/semantics.md) plus one ULP, since the reference is itself rounded once.
    **kwargs
        The function's other arguments, passed to both; not ``out``.

    Returns
    -------
    None

    Raises
    ------
    AssertionError
        If some element is further away than `max_ulp`; the message names the worst one, its
        index and both values.
    ValueError
        If `name` is not a logitkit function.
    TypeError
        If ``out=`` is passed.

    See Also
    --------
    max_ulp_difference : The distance itself.

    Notes
    -----
    Results that disagree about NaN, infinity, dtype or shape are an infinite distance
    apart, so they fail for any finite `max_ulp`.

    Examples
    --------
    >>> import numpy as np
    >>> from logitkit.testing import assert_matches_reference
    >>> assert_matches_reference("log_softmax", np.array([[0.0, -40.0]]), max_ulp=2)
    >>> assert_matches_reference("logsumexp", np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    """
    if max_ulp is None:
        max_ulp = _registry.function(name).max_ulp_vs_reference
    worst, where = _worst(name, x, kwargs)
    if not worst <= max_ulp:
        raise AssertionError(f"logitkit.{name} differs from logitkit.reference.{name} by "
                             f"{worst:.3g} ULP (> {max_ulp}) {where}")
