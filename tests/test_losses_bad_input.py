"""The losses' and the vector-Jacobian products' bad arguments: each raises the exception the
contract names, with a message naming the argument, before anything is read or written."""

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit as lk

F32 = np.float32


# ---------------------------------------------------------------------------------------------
# the bad-argument matrix
# ---------------------------------------------------------------------------------------------

X = np.zeros((3, 4))
Y = np.array([0, 1, 3])

BAD_CE = [
    ({"target": [0, 1, 4]}, ValueError, r"target\[2\] = 4 is not a class index; expected 0 <= index < 4"),
    ({"target": [0, -1, 2]}, ValueError, r"target\[1\] = -1"),
    ({"target": [0, 1, 2 ** 40]}, ValueError, "not a class index"),
    ({"target": np.array([0, 1, 2 ** 63 + 5], np.uint64)}, ValueError, "not a class index"),
    ({"target": [0, 1]}, ValueError, r"shape \(2,\); expected \(3,\)"),
    ({"target": [[0], [1], [2]]}, ValueError, "expected"),
    ({"target": [0.0, 1.0, 2.0]}, TypeError, "floating dtype .* the shape of class indices; expected an integer"),
    ({"target": np.zeros((3, 5))}, ValueError, r"expected the logits' shape \(3, 4\)"),
    ({"target": [True, False, True]}, TypeError, "unsupported target dtype bool"),
    ({"target": ["a", "b", "c"]}, TypeError, "unsupported target dtype"),
    ({"reduction": "avg"}, ValueError, "reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    ({"reduction": None}, ValueError, "reduction must be"),
    ({"weight": [1.0, 2.0]}, ValueError, r"weight has shape \(2,\); expected \(4,\)"),
    ({"weight": np.ones((4, 1))}, ValueError, "weight has shape"),
    ({"weight": [1j, 1, 1, 1]}, TypeError, "unsupported weight dtype complex128"),
    ({"label_smoothing": -0.1}, ValueError, r"label_smoothing must be in \[0, 1\], got -0.1"),
    ({"label_smoothing": 1.5}, ValueError, "label_smoothing must be in"),
    ({"label_smoothing": float("nan")}, ValueError, "label_smoothing must be in"),
    ({"label_smoothing": "0.1x"}, TypeError, "label_smoothing must be a number"),
    ({"ignore_index": 1.5}, TypeError, "ignore_index must be an int"),
    ({"axis": 2}, AxisError, "out of bounds"),
    ({"axis": 1.0}, TypeError, "axis must be an int"),
    ({"logits": 3.0}, ValueError, "at least one dimension"),
    ({"logits": np.zeros((3, 4), complex)}, TypeError, "unsupported logits dtype complex128"),
    ({"logits": [[1, 2], [3]]}, ValueError, "could not convert"),
]


@pytest.mark.parametrize("args,exc,match", BAD_CE)
def test_cross_entropy_bad_arguments(args, exc, match):
    kw = dict(args)
    x = kw.pop("logits", X)
    y = kw.pop("target", Y)
    with pytest.raises(exc, match=match):
        lk.cross_entropy(x, y, **kw)
    if isinstance(y, list):
        y = np.array(y)
    with pytest.raises(exc, match=match):        # the fast path of C-ordered rows as well
        lk.cross_entropy(x, y, return_grad=True, **kw)


def test_out_of_range_index_is_checked_before_any_read():
    x = np.zeros((2, 3), F32)
    for bad in (3, -2, 10 ** 12, -10 ** 12):
        with pytest.raises(ValueError, match="not a class index"):
            lk.cross_entropy(x, np.array([0, bad], np.intp))
    assert lk.cross_entropy(x, np.array([0, -7]), ignore_index=-7, reduction="sum") > 0


BAD_BCE = [
    ({"target": np.zeros(3)}, ValueError, r"target has shape \(3,\); expected the logits' shape \(3, 4\)"),
    ({"target": np.zeros((3, 4), complex)}, TypeError, "unsupported target dtype"),
    ({"weight": np.ones(3)}, ValueError, r"weight has shape \(3,\), which does not broadcast to \(3, 4\)"),
    ({"pos_weight": np.ones(5)}, ValueError, "pos_weight has shape"),
    ({"reduction": "mean "}, ValueError, "reduction must be"),
    ({"logits": np.zeros((3, 4), object)}, TypeError, "unsupported logits dtype object"),
]


@pytest.mark.parametrize("args,exc,match", BAD_BCE)
def test_bce_bad_arguments(args, exc, match):
    kw = dict(args)
    x = kw.pop("logits", X)
    t = kw.pop("target", np.zeros((3, 4)))
    with pytest.raises(exc, match=match):
        lk.binary_cross_entropy_with_logits(x, t, **kw)


@pytest.mark.parametrize("fn", [lk.softmax_backward, lk.log_softmax_backward])
def test_backward_bad_arguments(fn):
    with pytest.raises(ValueError, match=r"grad_output has shape \(3, 4\) and output \(3, 5\)"):
        fn(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(TypeError, match="unsupported grad_output dtype complex128"):
        fn(np.zeros((3, 4), complex), np.zeros((3, 4)))
    with pytest.raises(AxisError):
        fn(np.zeros((3, 4)), np.zeros((3, 4)), 2)
    with pytest.raises(ValueError, match=r"out has shape \(4, 3\); expected \(3, 4\)"):
        fn(np.zeros((3, 4)), np.zeros((3, 4)), out=np.zeros((4, 3)))
    with pytest.raises(TypeError, match="out has dtype float32; expected float64"):
        fn(np.zeros((3, 4)), np.zeros((3, 4)), out=np.zeros((3, 4), F32))
    with pytest.raises(ValueError, match="shape"):
        lk.sigmoid_backward(np.zeros(3), np.zeros(4))
    with pytest.raises(TypeError, match="out must be a numpy.ndarray"):
        lk.sigmoid_backward(np.zeros(3), np.zeros(3), out=[0, 0, 0])
