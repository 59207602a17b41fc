"""Exact dyadic arithmetic for the reference twins, in Python ints.

A pair ``(n, e)`` with int ``n`` stands for the number ``n * 2**e``. Every finite float is such a
number (``float.as_integer_ratio``), sums and products of them are exact, and the one rounding
back to a float is correct (Python's ``int / int`` is correctly rounded). The softmax family sums
its exponentials this way and the sigmoid family forms ``1 + z`` and ``(1 + z)**2`` this way.
"""

from __future__ import annotations


def _dy(v: float) -> tuple[int, int]:
    """The finite float v, exactly, as a dyadic (n, e)."""
    n, d = v.as_integer_ratio()  # d is a power of two
    return n, 1 - d.bit_length()


def _dy_sum(items: list[tuple[int, int]]) -> tuple[int, int]:
    """Exact sum of dyadics."""
    if not items:
        return 0, 0
    e = min(k for _, k in items)
    return sum(n << (k - e) for n, k in items), e


def _dy_mul(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """Exact product of two dyadics."""
    return a[0] * b[0], a[1] + b[1]


def _neg(a: tuple[int, int]) -> tuple[int, int]:
    """-a."""
    return -a[0], a[1]


def _dy_div(a: tuple[int, int], b: tuple[int, int]) -> float:
    """a / b correctly rounded to a float (b != 0; the quotient must not overflow)."""
    shift = a[1] - b[1]
    if shift >= 0:
        return (a[0] << shift) / b[0]
    return a[0] / (b[0] << -shift)


def _dy_float(a: tuple[int, int]) -> float:
    """The dyadic a correctly rounded to a float."""
    return _dy_div(a, (1, 0))
