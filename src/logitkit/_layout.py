"""Views of an N-d array as the (outer, n, inner) blocks the reduction kernels take.

The kernels reduce over the middle axis of a 3-d strided view. The fast layouts are
"rows" (inner == 1, each row contiguous) and "columns" (inner > 1 and contiguous: a reduction
over a non-last axis, vectorised across columns). A plan groups the array's axes, in memory
order, into outer / reduced / inner; it exists without a copy when each group can be merged
into one strided axis and the innermost run is contiguous, which covers C- and F-ordered arrays,
any single axis, adjacent tuple axes and row-strided views. Anything else is copied once into
a C-ordered buffer with the reduced axes last.
"""

from __future__ import annotations

from math import prod

import numpy as np

from logitkit._ext import strided_view


class Plan:
    """How to see arrays of one shape as (outer, n, inner): `groups` are the (outer, reduced,
    inner) axis tuples, each outer-most first; `sizes` the three extents. (A plain class, not
    a dataclass: a plan is made on every call, and the small-call path counts microseconds.)"""
    __slots__ = ("shape", "groups", "sizes")

    def __init__(self, shape: tuple[int, ...],
                 groups: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]) -> None:
        self.shape = shape
        self.groups = groups
        self.sizes: tuple[int, int, int] = (prod([shape[a] for a in groups[0]]),
                                            prod([shape[a] for a in groups[1]]),
                                            prod([shape[a] for a in groups[2]]))

    def __repr__(self) -> str:
        return f"Plan(shape={self.shape}, groups={self.groups})"

    def view3(self, arr: np.ndarray) -> np.ndarray | None:
        """arr as an (outer, n, inner) strided view in a layout the kernels take, or None."""
        strides = []
        for group in self.groups:
            stride = _merged_stride(arr, group)
            if stride is None:
                return None
            strides.append(stride)
        outer, n, inner = self.sizes
        item = arr.itemsize
        if inner > 1 and strides[2] != item:
            return None
        if inner == 1 and n > 1 and strides[1] != item:
            return None
        return strided_view(arr, (outer, n, inner), tuple(strides))

    def view2(self, arr: np.ndarray) -> np.ndarray | None:
        """A reduced-shape array (keepdims form) as an (outer, inner) view, or None."""
        strides = []
        for group in (self.groups[0], self.groups[2]):
            stride = _merged_stride(arr, group)
            if stride is None:
                return None
            strides.append(stride)
        outer, _, inner = self.sizes
        return strided_view(arr, (outer, inner), tuple(strides))


def plan(arr: np.ndarray, axes: tuple[int, ...]) -> Plan:
    """Group arr's axes in its memory order (largest stride first); size-1 axes go anywhere."""
    shape, strides = arr.shape, arr.strides        # each attribute read builds a new tuple
    order = sorted((a for a in range(len(shape)) if shape[a] != 1),
                   key=lambda a: -abs(strides[a]))
    positions = [i for i, a in enumerate(order) if a in axes]
    if positions and positions[-1] - positions[0] + 1 != len(positions):
        # the reduced axes are not adjacent in memory: the caller copies (see fallback_plan)
        return fallback_plan(shape, axes)
    first = positions[0] if positions else len(order)
    last = positions[-1] + 1 if positions else len(order)
    return Plan(shape, (tuple(order[:first]), tuple(order[first:last]), tuple(order[last:])))


def fallback_plan(shape: tuple[int, ...], axes: tuple[int, ...]) -> Plan:
    """The plan of a C-ordered copy with the reduced axes moved last."""
    kept = tuple(a for a in range(len(shape)) if a not in axes)
    return Plan(shape, (kept, tuple(axes), ()))


def contiguous_copy(arr: np.ndarray, p: Plan, dtype: np.dtype | None = None) -> np.ndarray:
    """A C-ordered (outer, n, 1) copy of arr laid out as the fallback plan p describes. A cast
    never warns: widening a signalling NaN raises the invalid flag, and NaN is the answer."""
    moved = np.transpose(arr, p.groups[0] + p.groups[1] + p.groups[2])
    outer, n, inner = p.sizes
    with np.errstate(all="ignore"):
        return np.ascontiguousarray(moved, dtype=dtype).reshape(outer, n, inner)


def empty_like_plan(p: Plan, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """A new array of p's shape, laid out in p's order, and its (outer, n, inner) view."""
    order = p.groups[0] + p.groups[1] + p.groups[2]
    order += tuple(a for a in range(len(p.shape)) if a not in order)     # the size-1 axes
    buf = np.empty(tuple(p.shape[a] for a in order), dtype)
    return _unpermuted(buf, order), buf.reshape(p.sizes)


def empty_reduced(p: Plan, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """A new keepdims-shaped result of the reduction p describes, and its (outer, inner) view."""
    reduced = set(p.groups[1])
    kept = p.groups[0] + p.groups[2]
    rest = tuple(a for a in range(len(p.shape)) if a not in kept)
    order = kept + rest
    buf = np.empty(tuple(1 if a in reduced else p.shape[a] for a in order), dtype)
    outer, _, inner = p.sizes
    return _unpermuted(buf, order), buf.reshape(outer, inner)


def _unpermuted(buf: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """buf, whose axis i is axis order[i] of the result, seen with the result's axis order."""
    if order == tuple(range(len(order))):
        return buf
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return buf.transpose(inverse)


def _merged_stride(arr: np.ndarray, group: tuple[int, ...]) -> int | None:
    """The stride of a group of axes seen as one, or None if they cannot be merged."""
    if not group:
        return 0
    for a, b in zip(group, group[1:]):
        if arr.strides[a] != arr.strides[b] * arr.shape[b]:
            return None
    return arr.strides[group[-1]]
