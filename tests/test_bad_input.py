"""The bad-input matrix of issue 6, over every registered public function
(tests/_strategies.FUNCTIONS: the registry's rows).

Every case either matches logitkit.reference (a few ULP; the reference computes in float64 and
rounds once to the result dtype) or raises the exception the contract (docs/semantics.md)
documents, with a message that names the function and the problem. No case may warn.

Known bugs are kept as tests marked `known_bug` (a strict xfail, so a fix shows up as XPASS and
the mark must go); set LOGITKIT_SHOW_BUGS=1 to run them as plain failing tests.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from numpy.exceptions import AxisError
from numpy.lib.stride_tricks import as_strided

import logitkit
from _strategies import (CORE, ELEMENTWISE, FUNCTIONS, LOSSES, REDUCTIONS, _fresh,
                         assert_matches, quiet, run_case)

RNG = np.random.default_rng(6)
NUMPY_MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


def known_bug(reason: str):
    if os.environ.get("LOGITKIT_SHOW_BUGS") == "1":
        return pytest.mark.skipif(False, reason="known bug, shown: " + reason)  # a no-op mark
    # -ra prints every xfail's reason: keep it to the reproducer; the full text is in the source
    return pytest.mark.xfail(strict=True, reason="known bug: " + reason.split(";")[0][:110])


def fids(funcs):
    return [f.name for f in funcs]


# ---------------------------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------------------------

def expect_error(exc_type, words, fn, *args, **kwargs):
    """fn raises exc_type (no warning first) with a message containing each of `words`."""
    with pytest.raises(exc_type) as info:
        quiet(fn, *args, **kwargs)
    message = str(info.value).lower()
    for word in words:
        assert word.lower() in message, f"message {str(info.value)!r} lacks {word!r}"
    return info.value


# ---------------------------------------------------------------------------------------------
# The inputs
# ---------------------------------------------------------------------------------------------

def _values(shape, dtype=np.float64, scale=4.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def _unaligned(values):
    values = np.asarray(values)
    raw = np.zeros(values.nbytes + 1, np.uint8)
    out = np.ndarray(values.shape, values.dtype, buffer=raw.data, offset=1)
    out[...] = values
    assert values.itemsize == 1 or not out.flags.aligned
    return out


def _readonly(values):
    values = np.array(values)
    values.flags.writeable = False
    return values


def _matrix(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(values)


def _int_extremes(dtype):
    info = np.iinfo(dtype)
    return np.array([[info.min, info.max, 0], [1, info.max, info.max - 1]], dtype)


def _special(dtype):
    info = np.finfo(dtype)
    inf, nan = np.inf, np.nan
    rows = [
        [1.0, 2.0, 3.0, 4.0],
        [nan, 1.0, 2.0, 3.0],                   # NaN: slice NaN
        [inf, 1.0, 2.0, -inf],                  # +inf: softmax NaN, logsumexp +inf
        [-inf, -inf, -inf, -inf],               # all -inf
        [-inf, 0.0, -inf, -40.0],               # -inf beside finite
        [info.max, info.max, -info.max, 0.0],   # no overflow
        [info.tiny, info.smallest_subnormal, -0.0, 0.0],
        [-info.max, -info.max, -info.max, -info.max],
        [nan, nan, nan, nan],
        [inf, inf, inf, inf],
        [inf, -inf, nan, 0.0],
    ]
    return np.array(rows, dtype)


X_CASES = {
    # Python objects
    "list": lambda: [2.0, 1.0, 0.1],
    "nested_list": lambda: [[1, 2, 3], [4, 5, 6.5]],
    "list_of_ints": lambda: [1, 2, 300],
    "list_of_bools": lambda: [True, False, True],
    "tuple": lambda: (0.5, -0.5),
    "empty_list": lambda: [],
    "py_float": lambda: 3.5,
    "py_int": lambda: 7,
    "py_bool": lambda: True,
    "py_big_int": lambda: 2 ** 62,
    "np_float32_scalar": lambda: np.float32(-2.5),
    "np_float16_scalar": lambda: np.float16(1.5),
    "np_int8_scalar": lambda: np.int8(-128),
    # 0-d arrays
    "0d_f64": lambda: np.array(2.0),
    "0d_f32": lambda: np.array(-3.0, np.float32),
    "0d_f16": lambda: np.array(0.25, np.float16),
    "0d_nan": lambda: np.array(np.nan),
    "0d_inf": lambda: np.array(np.inf),
    "0d_neginf": lambda: np.array(-np.inf, np.float32),
    "0d_u8": lambda: np.array(255, np.uint8),
    # empty arrays of every rank, zeros and ones anywhere
    **{f"empty_{s}": (lambda s=s: np.zeros(s)) for s in [
        (0,), (0, 3), (3, 0), (0, 0), (2, 0, 3), (1, 0, 1, 2), (0,) * 5, (1, 1, 0), (4, 0, 0, 1)]},
    "empty_f32_(0,2)": lambda: np.zeros((0, 2), np.float32),
    "empty_f16_(2,0)": lambda: np.zeros((2, 0), np.float16),
    "empty_int_(3,0)": lambda: np.zeros((3, 0), np.int32),
    **{f"ones_{s}": (lambda s=s: _values(s)) for s in [
        (1,), (1, 1), (1, 3), (3, 1), (1, 3, 1), (2, 1, 3), (1, 1, 1, 5)]},
    "32d": lambda: _values((1,) * 29 + (2, 1, 3)),
    "32d_twos": lambda: _values((2,) * 10 + (1,) * 22),
    # NumPy 2 raised the limit on dimensions from 32 to 64
    **({"64d": lambda: _values((1,) * 61 + (2, 1, 3))} if NUMPY_MAX_DIMS >= 64 else {}),
    # layouts
    "c_3x4": lambda: _values((3, 4)),
    "fortran": lambda: np.asfortranarray(_values((3, 4))),
    "negstride_last": lambda: _values((3, 4))[:, ::-1],
    "negstride_both": lambda: _values((3, 4))[::-1, ::-1],
    "noncontig_cols": lambda: _values((3, 8))[:, ::2],
    "noncontig_rows": lambda: _values((6, 4))[::2],
    "noncontig_3d": lambda: _values((4, 5, 6))[::2, 1:4, ::3],
    "transposed_3d": lambda: _values((2, 3, 4)).transpose(1, 2, 0),
    "readonly": lambda: _readonly(_values((3, 4))),
    "readonly_f32": lambda: _readonly(_values((3, 4), np.float32)),
    "big_endian_f8": lambda: _values((3, 4)).astype(">f8"),
    "big_endian_f4": lambda: _values((3, 4)).astype(">f4"),
    "big_endian_f2": lambda: _values((3, 4)).astype(">f2"),
    "big_endian_i4": lambda: np.arange(12).reshape(3, 4).astype(">i4"),
    "little_endian_explicit": lambda: _values((3, 4)).astype("<f8"),
    "unaligned_f8": lambda: _unaligned(_values((3, 4))),
    "unaligned_f4": lambda: _unaligned(_values((3, 4), np.float32)),
    "unaligned_f2": lambda: _unaligned(_values((3, 4), np.float16)),
    "unaligned_big_endian_f8": lambda: _unaligned(_values((3, 4)).astype(">f8")),
    "broadcast_stride0": lambda: np.broadcast_to(_values(4), (3, 4)),
    "broadcast_stride0_cols": lambda: np.broadcast_to(_values((3, 1)), (3, 4)),
    "overlapping_rows": lambda: as_strided(_values(8), (5, 4), (8, 8), writeable=False),
    "np_matrix": lambda: _matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]),
    "np_matrix_f32": lambda: _matrix(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)),
    # (masked arrays leave their masked entries out: tests/test_interop.py)
    "masked_array_without_mask": lambda: np.ma.masked_array([[1.0, 2.0, 3.0]]),
    "memmap_like_readonly_buffer": lambda: np.frombuffer(_values(6).tobytes()).reshape(2, 3),
    "f16_view_of_big_endian_bytes": lambda: np.frombuffer(
        _values(6).astype(">f2").tobytes(), dtype=">f2").reshape(2, 3),
    # every accepted dtype, at its extremes
    "bool": lambda: np.array([[True, False, True], [False, False, False]]),
    **{f"{np.dtype(t).name}_extremes": (lambda t=t: _int_extremes(t)) for t in [
        np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]},
    **{f"{np.dtype(t).name}_special": (lambda t=t: _special(t)) for t in [
        np.float16, np.float32, np.float64]},
    "f32_special_fortran": lambda: np.asfortranarray(_special(np.float32)),
    "f64_special_transposed": lambda: _special(np.float64).T,
    # what NumPy cannot make a rectangular real array of
    "ragged_list": lambda: [[1.0, 2.0], [3.0]],
    "list_of_strings": lambda: ["a", "b"],
    "list_with_none": lambda: [1.0, None],
    "none": lambda: None,
    "string": lambda: "1.0",
    "dict": lambda: {"a": 1.0},
    "longdouble": lambda: np.arange(3, dtype=np.longdouble),
    # every rejected dtype
    "complex64": lambda: np.arange(3, dtype=np.complex64),
    "complex128": lambda: np.array([1 + 2j, 3.0]),
    "object_floats": lambda: np.array([1.0, 2.0], dtype=object),
    "str": lambda: np.array(["1", "2"]),
    "bytes": lambda: np.array([b"1", b"2"]),
    "datetime64": lambda: np.array(["2020-01-01", "2021-01-01"], dtype="M8[D]"),
    "timedelta64": lambda: np.array([1, 2], dtype="m8[s]"),
    "void": lambda: np.zeros(3, dtype="V8"),
    "structured": lambda: np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
}

REJECTED = {"complex64": "complex64", "complex128": "complex128",
            "object_floats": "object", "str": "<U1", "bytes": "S1", "datetime64": "datetime64",
            "timedelta64": "timedelta64", "void": "V8", "structured": "dtype",
            "list_of_strings": "dtype", "list_with_none": "dtype", "none": "dtype",
            "string": "dtype", "dict": "dtype"}


def _axes_for(x, func):
    if func.kind == "elementwise":
        return [{}]
    ndim = np.ndim(x) if not isinstance(x, (list, tuple)) or x else 1
    variants = [{}]
    if ndim >= 1:
        variants.append({"axis": 0})
    variants.append({"axis": None})
    if ndim >= 2:
        variants.append({"axis": (0, -1)})
    return variants


# (regression: the sigmoid family on an np.matrix used to raise Cython's bare 'No matching
# signature found', as np.matrix.reshape(-1) stays 2-d; subclasses are now seen as ndarrays)
MATRIX = [
    pytest.param(func, name, kwargs, id=f"{func.name}-{name}-{kwargs.get('axis', 'default')}")
    for func in CORE for name, make in X_CASES.items()
    for kwargs in (_axes_for(make(), func) if name not in REJECTED and name != "ragged_list"
                   else [{}])
]


@pytest.mark.parametrize("func, case, kwargs", MATRIX)
def test_input_matrix(func, case, kwargs):
    x = X_CASES[case]()
    if case in REJECTED:
        expect_error(TypeError, [func.name, REJECTED[case]], func.fast, x, **kwargs)
        with pytest.raises(TypeError):
            func.ref(x, **kwargs)
    elif case == "ragged_list":
        expect_error(ValueError, [func.name, "array"], func.fast, x, **kwargs)
    else:
        run_case(func, x, **kwargs)


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_result_dtype_of_every_input_dtype(func, dtype):
    """Accepted dtypes x dtype= give the contract's result dtype, matching the reference."""
    for source in ["?", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", ">f8"]:
        x = np.array([[0, 1, 1], [1, 0, 1]]).astype(source)
        got = run_case(func, x, dtype=dtype)
        assert np.asarray(got).dtype == np.dtype(dtype)


@pytest.mark.parametrize("axis", [-1, 0])
def test_logsumexp_near_cancellation(axis):
    """Regression (a known bug until 2026-12-03): float64 logsumexp lost accuracy where
    m + log(sum) cancels: 13 ULP from the exact -0.000969890766585714 here, each exp(x - m)
    being rounded once. Such slices are now redone in double-double."""
    mpmath = pytest.importorskip("mpmath")
    values = [-1.8020079978548287, -0.18144600660877136]
    with mpmath.workdps(60):
        exact = float(mpmath.log(sum(mpmath.exp(mpmath.mpf(v)) for v in values)))
    x = np.array(values)
    x = x if axis == -1 else x[:, None].repeat(3, axis=1)
    got = np.atleast_1d(logitkit.logsumexp(x, axis=axis))
    ulps = np.abs(got - exact) / np.spacing(abs(exact))
    assert np.all(ulps <= 2), ulps


# ---------------------------------------------------------------------------------------------
# Huge sizes: 64-bit offsets without the memory, and 2**31 elements for --run-slow
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
def test_rows_two_gigabytes_apart(func):
    """Byte offsets past 2**31 (a 32-bit index would wrap): two rows 2 GiB apart in a lazily
    allocated zero buffer (untouched pages cost no memory)."""
    base = np.zeros(2 ** 29 + 8, np.float32)
    base[:3] = [1.0, 2.0, 3.0]
    base[2 ** 29: 2 ** 29 + 3] = [-1.0, 5.0, 0.5]
    view = as_strided(base, (2, 3), (2 ** 31, 4), writeable=False)
    compact = np.array(view)
    got = quiet(func.fast, view)
    assert_matches(got, func.ref(compact), np.dtype(np.float32), func.max_ulp, func.name)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_of_2_to_the_31_elements(dtype):
    """A real row of 2**31 + 3 elements (zero pages: no memory is touched); ~10 s each."""
    z = np.zeros(2 ** 31 + 3, dtype)
    got = logitkit.logsumexp(z)
    want = np.log(np.float64(2 ** 31 + 3)).astype(dtype)
    assert_matches(got, want, np.dtype(dtype), 2, "logsumexp")
    got = logitkit.logsumexp(z[:-1].reshape(2, -1))
    assert_matches(got, np.full(2, np.log(2.0 ** 30 + 1)).astype(dtype), np.dtype(dtype), 2,
                   "logsumexp rows")


@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
def test_empty_axis_of_2_to_the_31(func):
    # (2**31, 0) would be 2**31 results of -inf for logsumexp: 16 GiB, rightly
    for shape in ([(2 ** 31, 0), (0, 2 ** 31)] if func.kind != "reduce" else [(0, 2 ** 31)]):
        x = as_strided(np.zeros(1), shape, (0, 0), writeable=False)
        got = quiet(func.fast, x)
        if func.kind == "reduce":
            assert got.shape == shape[:-1]
            assert got.size == 0 or np.all(got == -np.inf)
        else:
            assert got.shape == shape


# ---------------------------------------------------------------------------------------------
# where=
# ---------------------------------------------------------------------------------------------

WHERE_CASES = {
    "row_mask": lambda: np.array([True, False, True, True]),
    "column_mask": lambda: np.array([[True], [False], [True]]),
    "full_mask": lambda: RNG.random((3, 4)) < 0.5,
    "all_false": lambda: np.zeros((3, 4), bool),
    "scalar_false": lambda: False,
    "scalar_true": lambda: np.bool_(True),
    "list_mask": lambda: [True, True, False, False],
    "fortran_mask": lambda: np.asfortranarray(RNG.random((3, 4)) < 0.5),
    "strided_mask": lambda: (RNG.random((3, 8)) < 0.5)[:, ::2],
}


@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
@pytest.mark.parametrize("where", list(WHERE_CASES))
@pytest.mark.parametrize("xcase", ["c_3x4", "float64_special", "float32_special", "fortran",
                                   "int8_extremes"])
@pytest.mark.parametrize("axis", [-1, 0, None])
def test_where(func, where, xcase, axis):
    x = X_CASES[xcase]()
    if xcase.endswith("special"):
        x = x[:3]
    if xcase == "int8_extremes":
        x = np.concatenate([x, x[:1]])
    if x.shape[1] != 4:
        x = np.resize(x, (3, 4))
    run_case(func, x, axis=axis, where=WHERE_CASES[where]())


@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
def test_where_errors(func):
    x = _values((3, 4))
    expect_error(TypeError, [func.name, "where", "int64"], func.fast, x, where=np.ones(4, int))
    expect_error(TypeError, [func.name, "where"], func.fast, x, where="abc")
    expect_error(TypeError, [func.name, "where"], func.fast, x, where=np.ones(4))
    expect_error(ValueError, [func.name, "where", "(5,)", "(3, 4)"], func.fast, x,
                 where=np.ones(5, bool))
    expect_error(ValueError, [func.name, "where"], func.fast, x, where=np.ones((2, 3, 4), bool))


# regression: an empty list as where= (NumPy makes it float64) was rejected on an empty input
@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
def test_where_empty_list_on_empty_input(func):
    run_case(func, np.zeros(0), where=[])


@pytest.mark.parametrize("func", ELEMENTWISE, ids=fids(ELEMENTWISE))
def test_elementwise_takes_no_axis_or_where(func):
    with pytest.raises(TypeError):
        func.fast([1.0], axis=0)
    with pytest.raises(TypeError):
        func.fast([1.0], where=[True])


# ---------------------------------------------------------------------------------------------
# axis= and dtype=
# ---------------------------------------------------------------------------------------------

BAD_AXES = [
    (2, AxisError, ["axis 2", "dimension 2"]),
    (-3, AxisError, ["axis -3"]),
    (10 ** 20, (AxisError, TypeError, OverflowError), ["axis"]),
    ((0, 0), AxisError, ["repeated"]),
    ((1, -1), AxisError, ["repeated"]),
    ((0, 5), AxisError, ["axis 5"]),
    (1.0, TypeError, ["axis", "1.0"]),
    (np.float64(0.0), TypeError, ["axis"]),
    (True, TypeError, ["axis", "True"]),
    (np.bool_(False), TypeError, ["axis"]),
    ("0", TypeError, ["axis", "'0'"]),
    ([0], TypeError, ["axis", "[0]"]),
    (np.array([-1]), TypeError, ["axis"]),
    ((0, "1"), TypeError, ["axis"]),
    ((0, None), TypeError, ["axis"]),
    (slice(0, 1), TypeError, ["axis"]),
]


@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
@pytest.mark.parametrize("axis, exc, words", BAD_AXES, ids=[repr(a[0]) for a in BAD_AXES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_bad_axis(func, axis, exc, words, dtype):
    x = _values((2, 3)).astype(dtype)
    expect_error(exc, [func.name] + words, func.fast, x, axis=axis)


# (regression: axis=np.array([0, 1]) used to fail inside the fast-path check with NumPy's
# 'truth value of an array is ambiguous' instead of the axis TypeError)


@pytest.mark.parametrize("func, dtype", [
    pytest.param(f, d, id=f"{f.name}-{np.dtype(d).name}",
                 )
    for f in REDUCTIONS for d in (np.float64, np.float32, np.int32)])
def test_bad_axis_array_of_two(func, dtype):
    x = _values((2, 3)).astype(dtype)
    expect_error(TypeError, [func.name, "axis"], func.fast, x, axis=np.array([0, 1]))


@pytest.mark.parametrize("func", REDUCTIONS, ids=fids(REDUCTIONS))
def test_bad_axis_on_0d(func):
    expect_error(AxisError, [func.name, "axis 1"], func.fast, 3.0, axis=1)
    expect_error(AxisError, [func.name], func.fast, np.float32(3.0), axis=(0, -1))
    for axis in (0, -1, None):
        run_case(func, np.array(3.0), axis=axis)


BAD_DTYPES = [int, "int32", np.uint8, bool, complex, np.complex64, object, str,
              "foo", "M8[s]", [("a", "f8")], ">f8", 3]


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=[repr(d) for d in BAD_DTYPES])
def test_bad_dtype_argument(func, dtype):
    expect_error(TypeError, [func.name, "dtype"], func.fast, [1.0, 2.0], dtype=dtype)


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [float, "f4", "float16", np.dtype("f8"), np.float32, None,
                                   np.longdouble])
def test_good_dtype_spellings(func, dtype):
    run_case(func, [[1, 2], [3, 40]], dtype=dtype)


DOWNCASTS = [np.array([1e300, 0.0, -1e300]), np.array([7e4, 0.0, 1.0]),
             np.array([3e38, 3.3e38, 0.0], np.float32), np.array([1e-320, -1e-46, 5e-8]),
             np.array([-8.41688393, -15.3, 9.17])]


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("case", range(len(DOWNCASTS)))
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dtype_narrower_than_input(func, case, dtype):
    """dtype= narrower than the input: the reference computes in float64 and rounds once."""
    # (regressions: the input used to be cast to the result dtype before computing, so logits
    # beyond its range became inf (softmax(np.array([1e300, 0.0]), dtype=np.float32) was
    # [nan, nan]) and rounding x cost |x| * 2**-24 relative error in exp-like results
    # (softplus(np.array(-8.41688393), dtype=np.float32) was 7 ULP off))
    x = DOWNCASTS[case]
    run_case(func, x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------------------------

def _result_shape(func, shape, **kwargs):
    if func.kind != "reduce":
        return shape
    axis = kwargs.get("axis", -1)
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
    return tuple(1 if i in axes else s for i, s in enumerate(shape)) if kwargs.get("keepdims") \
        else tuple(s for i, s in enumerate(shape) if i not in axes)


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
def test_out_errors(func):
    x = _values((2, 3))
    shape = _result_shape(func, x.shape)
    expect_error(ValueError, [func.name, "out", "shape", str(shape)], func.fast, x,
                 out=np.empty((7,)))
    expect_error(ValueError, [func.name, "out", "shape"], func.fast, x,
                 out=np.empty(shape + (1,)))
    expect_error(TypeError, [func.name, "out", "float32", "float64"], func.fast, x,
                 out=np.empty(shape, np.float32))
    expect_error(TypeError, [func.name, "out", "int64"], func.fast, x, out=np.empty(shape, int))
    expect_error(TypeError, [func.name, "out", "complex"], func.fast, x,
                 out=np.empty(shape, complex))
    expect_error(TypeError, [func.name, "out", "list"], func.fast, x, out=[0.0] * 6)
    expect_error(TypeError, [func.name, "out"], func.fast, x, out=1.0)
    ro = np.empty(shape)
    ro.flags.writeable = False
    expect_error(ValueError, [func.name, "out", "read-only"], func.fast, x, out=ro)
    # the float16 result needs a float16 out, float32 computing notwithstanding
    expect_error(TypeError, [func.name, "out", "float16"], func.fast, x.astype(np.float16),
                 out=np.empty(shape, np.float32))
    expect_error(TypeError, [func.name, "out"], func.fast, x, dtype=np.float32,
                 out=np.empty(shape))


def _out_layouts(shape, dtype):
    yield "c", np.zeros(shape, dtype)
    yield "f", np.zeros(shape, dtype, order="F")
    yield "big_endian", np.zeros(shape, np.dtype(dtype).newbyteorder(">"))
    if shape:
        yield "strided", np.zeros(shape[:-1] + (2 * shape[-1],), dtype)[..., ::2]
        yield "reversed", np.zeros(shape, dtype)[..., ::-1]
        yield "unaligned", _unaligned(np.zeros(shape, dtype))


@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_out_any_layout(func, dtype, axis):
    x = _values((3, 5), dtype)
    kwargs = {} if func.kind == "elementwise" else {"axis": axis}
    for _, out in _out_layouts(_result_shape(func, x.shape, **kwargs), dtype):
        run_case(func, x, out=out, **kwargs)


@pytest.mark.parametrize("func", [f for f in CORE if f.kind != "reduce"],
                         ids=fids([f for f in CORE if f.kind != "reduce"]))
@pytest.mark.parametrize("layout", ["c", "f", "reversed", "strided", "transposed", "unaligned",
                                    "big_endian"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0, None])
def test_out_is_x(func, layout, dtype, axis):
    """out=x (in place) gives the same answer as out-of-place, for any layout."""
    base = _special(dtype)[[0, 4, 5, 6]] if dtype != np.float16 else _values((4, 4), dtype)
    x = {"c": lambda: base.copy(), "f": lambda: np.asfortranarray(base),
         "reversed": lambda: base.copy()[::-1, ::-1],
         "strided": lambda: np.repeat(base, 2, axis=1)[:, ::2],
         "transposed": lambda: base.T.copy().T,
         "unaligned": lambda: _unaligned(base),
         "big_endian": lambda: base.astype(np.dtype(dtype).newbyteorder(">"))}[layout]()
    kwargs = {} if func.kind == "elementwise" else {"axis": axis}
    # out-of-place on this very array: a C-ordered copy of an F-ordered x can take another
    # kernel (rows against columns), whose last bits may differ within the bar
    want = quiet(func.fast, x, **kwargs)
    ref = func.ref(np.array(x), **kwargs)
    got = quiet(func.fast, x, out=x, **kwargs)
    assert got is x
    assert_matches(np.asarray(x).astype(dtype), ref, np.dtype(dtype), func.max_ulp, func.name)
    np.testing.assert_array_equal(np.asarray(x).astype(dtype), want,
                                  err_msg=f"{func.name}: in place differs from out-of-place")


OVERLAPS = [  # (buffer length, x slice, out slice) of one 1-d buffer, reshaped to (2, n/2)
    (14, slice(0, 12), slice(2, 14)),
    (14, slice(2, 14), slice(0, 12)),
    (13, slice(0, 12), slice(1, 13)),     # out starts mid-row
    (24, slice(0, 24, 2), slice(1, 24, 2)),  # interleaved: shares memory but no element
    (24, slice(0, 12), slice(12, 0, -1)),  # reversed over the same elements
]


@pytest.mark.parametrize("func", [f for f in CORE if f.kind != "reduce"],
                         ids=fids([f for f in CORE if f.kind != "reduce"]))
@pytest.mark.parametrize("case", range(len(OVERLAPS)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [-1, 0])
def test_out_partially_overlapping_x(func, case, dtype, axis):
    n, xs, os_ = OVERLAPS[case]
    buf = _values(n, dtype)
    x = buf[xs].reshape(2, 6) if buf[xs].flags.c_contiguous else buf[xs]
    out = buf[os_]
    if x.ndim == 1:
        x = x[:12]
    out = out[:x.size].reshape(x.shape) if out.flags.c_contiguous else out[:x.size]
    if out.shape != x.shape:
        pytest.skip("layout not expressible")
    kwargs = {} if func.kind == "elementwise" else {"axis": axis}
    ref = func.ref(np.array(x), **kwargs)
    got = quiet(func.fast, x, out=out, **kwargs)
    assert got is out
    assert_matches(out, ref, np.dtype(dtype), func.max_ulp, f"{func.name} overlapping out")


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [-1, 0, None, (0, 1)])
def test_logsumexp_out_and_keepdims(keepdims, axis):
    func = next(f for f in CORE if f.name == "logsumexp")
    x = _values((3, 4, 2))
    shape = _result_shape(func, x.shape, axis=axis, keepdims=keepdims)
    for _, out in _out_layouts(shape, np.float64):
        run_case(func, x, axis=axis, keepdims=keepdims, out=out)
    got = quiet(func.fast, x, axis=axis, keepdims=keepdims, out=np.empty(shape),
                return_sign=True)
    assert isinstance(got, tuple) and got[0].shape == shape
    wrong = _result_shape(func, x.shape, axis=axis, keepdims=not keepdims)
    if wrong != shape:
        expect_error(ValueError, ["logsumexp", "out", "shape"], func.fast, x, axis=axis,
                     keepdims=keepdims, out=np.empty(wrong))


def test_logsumexp_out_overlapping_x():
    func = next(f for f in CORE if f.name == "logsumexp")
    buf = _values(14)
    x = buf[:12].reshape(3, 4)
    ref = func.ref(x.copy())
    out = buf[1:4]
    got = quiet(func.fast, x, out=out)
    assert got is out
    assert_matches(out, ref, np.dtype(np.float64), 2, "logsumexp overlapping out")


# ---------------------------------------------------------------------------------------------
# logsumexp's b=, return_sign=, keepdims=
# ---------------------------------------------------------------------------------------------

M64 = float(np.finfo(np.float64).max)
B_CASES = {
    "row": (lambda: _values((3, 4)), lambda: np.array([1.0, 2.0, 0.5, 3.0])),
    "column": (lambda: _values((3, 4)), lambda: np.array([[1.0], [2.0], [0.5]])),
    "scalar": (lambda: _values((3, 4)), lambda: 2.0),
    "negative": (lambda: _values((3, 4)), lambda: np.array([1.0, -2.0, 0.5, -3.0])),
    "cancelling": (lambda: np.zeros((2, 2)), lambda: np.array([1.0, -1.0])),
    "zeros_at_inf": (lambda: np.array([[np.inf, 1.0], [np.nan, 2.0]]), lambda: np.array([0.0, 1.0])),
    "all_zero": (lambda: _values((2, 3)), lambda: 0.0),
    "int_b": (lambda: _values((2, 3)), lambda: np.array([1, 2, 3])),
    "bool_b": (lambda: _values((2, 3)), lambda: np.array([True, False, True])),
    "nan_b": (lambda: _values((2, 3)), lambda: np.array([np.nan, 1.0, 1.0])),
    "inf_b_at_finite": (lambda: _values((2, 3)), lambda: np.array([np.inf, 1.0, 1.0])),
    "plus_minus_inf_b": (lambda: _values((2, 3)), lambda: np.array([np.inf, -np.inf, 1.0])),
    "f32_x": (lambda: _values((3, 4), np.float32), lambda: np.array([1.0, -2.0, 0.5, 3.0])),
    "f16_x": (lambda: _values((3, 4), np.float16), lambda: np.array([1.0, 2.0, 0.5, 3.0])),
    "f16_b": (lambda: _values((3, 4)), lambda: np.array([1.0, 2.0, 0.5, 3.0], np.float16)),
    "big_endian_b": (lambda: _values((3, 4)), lambda: np.array([1.0, 2.0, 0.5, 3.0], ">f8")),
    "tiny_b": (lambda: np.zeros((1, 2)), lambda: np.array([5e-324, 5e-324])),
    "big_b_one": (lambda: np.zeros((1, 2)), lambda: np.array([M64, 1.0])),
    "big_b_mixed_sign": (lambda: np.zeros((1, 2)), lambda: np.array([M64, -M64 / 2])),
    "empty": (lambda: np.zeros((2, 0)), lambda: np.zeros((2, 0))),
    "list_b": (lambda: [[1.0, 2.0], [3.0, 4.0]], lambda: [[1, -1], [2, 2]]),
    "special_x": (lambda: _special(np.float64), lambda: np.array([1.0, 2.0, 0.0, -1.0])),
    # regressions (were known bugs of the kernels' scaled_row and _softmax._logsumexp_scaled):
    # b = +-inf at x = -inf (inf * 0) is NaN, as in the reference and SciPy (it was skipped)
    "inf_b_at_minus_inf": (lambda: np.array([[-np.inf, 1.0]]), lambda: np.array([np.inf, 1.0])),
    # b * exp(x - m) summing past DBL_MAX (was NaN with sign -1; exact 710.4759)
    "huge_b_overflow": (lambda: np.zeros((1, 2)), lambda: np.array([M64, M64])),
    # x - m overflowing to -inf in the TwoSum (was NaN; exact DBL_MAX)
    "x_spread_overflow": (lambda: np.array([[M64, -M64]]), lambda: np.array([1.0, 2.0])),
    # float64 b beyond float32's range with float32 x (b was cast to inf; exact 690.7755)
    "f32_x_f64_b_out_of_range": (lambda: np.zeros((1, 2), np.float32),
                                 lambda: np.array([1e300, 1.0])),
    # large b where exp underflows, beside a tiny b at the max (the terms are scaled per term)
    "huge_b_under_tiny_exp": (lambda: np.array([[0.0, -800.0, -1400.0]]),
                              lambda: np.array([1e-300, 1e300, -M64])),
}


@pytest.mark.parametrize("make_x, make_b", list(B_CASES.values()), ids=list(B_CASES))
@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_b(make_x, make_b, return_sign, keepdims):
    func = next(f for f in CORE if f.name == "logsumexp")
    run_case(func, make_x(), b=make_b(), return_sign=return_sign, keepdims=keepdims)


@pytest.mark.parametrize("return_sign", [False, True])
def test_logsumexp_b_with_where(return_sign):
    func = next(f for f in CORE if f.name == "logsumexp")
    x = _special(np.float64)
    b = np.array([1.0, -1.0, 2.0, 0.0])
    for where in (x > 0, np.array([True, False, True, True]), False):
        for axis in (-1, 0, None):
            run_case(func, x, b=b, where=where, axis=axis, return_sign=return_sign)


@pytest.mark.parametrize("x", [np.array([np.nan, 1.0]), np.zeros((2, 0)), [[-np.inf, -np.inf]],
                               np.array([np.inf, 0.0], np.float32), 3.0, np.float16(2)])
def test_logsumexp_return_sign_without_b(x):
    run_case(next(f for f in CORE if f.name == "logsumexp"), x, return_sign=True)


# regression: keepdims=/return_sign= given an array used to raise NumPy's bare 'truth value of
# an array ... is ambiguous', which names neither logsumexp nor the argument
@pytest.mark.parametrize("flag", ["keepdims", "return_sign"])
def test_flag_arguments_that_are_arrays(flag):
    expect_error((TypeError, ValueError), ["logsumexp", flag], logitkit.logsumexp, [1.0, 2.0],
                 **{flag: np.zeros(2)})


def test_logsumexp_b_errors():
    f = logitkit.logsumexp
    x = _values((2, 3))
    expect_error(ValueError, ["logsumexp", "b", "(2,)", "(2, 3)"], f, x, b=[1.0, 2.0])
    expect_error(ValueError, ["logsumexp", "b"], f, x, b=np.ones((4, 3, 3)))
    expect_error(TypeError, ["logsumexp", "b", "complex"], f, x, b=[1j, 2, 3])
    expect_error(TypeError, ["logsumexp", "b", "<U1"], f, x, b="a")
    expect_error(TypeError, ["logsumexp", "b", "object"], f, x, b=[None, 1, 2])
    expect_error(TypeError, ["logsumexp", "b", "datetime64"], f, x,
                 b=np.array(["2020-01-01"] * 3, dtype="M8[D]"))
    expect_error(ValueError, ["logsumexp"], f, x, b=[[1.0], [1.0, 2.0]])


# ---------------------------------------------------------------------------------------------
# Losses (issue 4): active once the functions exist
# ---------------------------------------------------------------------------------------------

def _need(func):
    if not func.available:
        pytest.skip(f"logitkit.{func.name} not implemented yet")


@pytest.mark.parametrize("func", LOSSES, ids=fids(LOSSES))
@pytest.mark.parametrize("xcase", ["c_3x4", "fortran", "negstride_both", "float32_special",
                                   "float64_special", "big_endian_f8", "unaligned_f4",
                                   "readonly", "int32_extremes", "ones_(1, 3)"])
def test_loss_inputs_match_reference(func, xcase):
    _need(func)
    if func.ref is None:
        pytest.skip(f"logitkit.reference.{func.name} missing")
    x = X_CASES[xcase]()
    args, kwargs = func.example(x)
    try:
        ref = func.ref(*[_fresh(a) for a in args], **kwargs)
    except (TypeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            quiet(func.fast, *args, **kwargs)
        return
    got = quiet(func.fast, *args, **kwargs)
    if isinstance(ref, tuple):
        for g, r in zip(got, ref):
            assert_matches(g, r, np.asarray(g).dtype, func.max_ulp, func.name)
    else:
        assert_matches(got, ref, np.asarray(got).dtype, func.max_ulp, func.name)


@pytest.mark.parametrize("func", LOSSES, ids=fids(LOSSES))
def test_loss_rejected_dtypes(func):
    _need(func)
    for case, word in REJECTED.items():
        if case in ("list_of_strings", "list_with_none", "none", "string", "dict"):
            continue
        x = X_CASES[case]()
        args, kwargs = func.example(np.zeros(np.shape(x)))
        args = (x,) + tuple(args[1:])
        with pytest.raises((TypeError, ValueError)) as info:
            quiet(func.fast, *args, **kwargs)
        assert func.name in str(info.value) or word.lower() in str(info.value).lower(), \
            str(info.value)


LOSS_ERRORS = {
    "cross_entropy": [
        ("reduction", lambda f, x: f(x, np.zeros(3, int), reduction="avg")),
        ("reduction", lambda f, x: f(x, np.zeros(3, int), reduction=None)),
        ("target", lambda f, x: f(x, np.array([0, 4, 1]))),            # index out of range
        ("target", lambda f, x: f(x, np.array([0, -2, 1]))),           # negative, not ignored
        ("target", lambda f, x: f(x, np.array([0, 2 ** 40, 1]))),
        ("target", lambda f, x: f(x, np.zeros(4, int))),               # wrong shape
        ("target", lambda f, x: f(x, np.zeros((3, 3)))),               # probabilities, shape
        ("target", lambda f, x: f(x, np.array([0.5, 1.0, 2.0]))),      # float indices
        ("target", lambda f, x: f(x, np.array(["a", "b", "c"]))),
        ("target", lambda f, x: f(x, None)),
        ("ignore_index", lambda f, x: f(x, np.zeros(3, int), ignore_index="a")),
        ("ignore_index", lambda f, x: f(x, np.zeros(3, int), ignore_index=1.5)),
        ("weight", lambda f, x: f(x, np.zeros(3, int), weight=np.ones(5))),
        ("weight", lambda f, x: f(x, np.zeros(3, int), weight=np.ones(4, complex))),
        ("label_smoothing", lambda f, x: f(x, np.zeros(3, int), label_smoothing=1.5)),
        ("label_smoothing", lambda f, x: f(x, np.zeros(3, int), label_smoothing=-0.1)),
        ("axis", lambda f, x: f(x, np.zeros(3, int), axis=2)),
    ],
    "binary_cross_entropy_with_logits": [
        ("reduction", lambda f, x: f(x, np.zeros_like(x), reduction="avg")),
        ("target", lambda f, x: f(x, np.zeros((4, 4)))),
        ("target", lambda f, x: f(x, np.full(x.shape, "a"))),
        ("weight", lambda f, x: f(x, np.zeros_like(x), weight=np.ones(5))),
        ("pos_weight", lambda f, x: f(x, np.zeros_like(x), pos_weight=np.ones(5))),
    ],
    "softmax_backward": [
        ("shape", lambda f, x: f(np.ones((3, 4)), np.ones((4, 3)))),
        ("axis", lambda f, x: f(np.ones((3, 4)), np.ones((3, 4)), axis=3)),
        ("dtype", lambda f, x: f(np.ones((3, 4), complex), np.ones((3, 4)))),
    ],
    "log_softmax_backward": [
        ("shape", lambda f, x: f(np.ones((3, 4)), np.ones((4, 3)))),
        ("axis", lambda f, x: f(np.ones((3, 4)), np.ones((3, 4)), axis=(0, 0))),
    ],
    "sigmoid_backward": [
        ("shape", lambda f, x: f(np.ones((3, 4)), np.ones(5))),
        ("out", lambda f, x: f(np.ones((3, 4)), np.ones((3, 4)), out=np.ones(3))),
    ],
}


@pytest.mark.parametrize("func, word, call", [
    pytest.param(f, word, call, id=f"{f.name}-{word}-{i}")
    for f in LOSSES for i, (word, call) in enumerate(LOSS_ERRORS.get(f.name, []))])
def test_loss_bad_arguments(func, word, call):
    """Out-of-range class indices, mismatched shapes, non-integer index arrays and bad options
    raise a clear error naming the argument, never read out of bounds."""
    _need(func)
    x = _values((3, 4))
    with pytest.raises((ValueError, TypeError, IndexError, AxisError)) as info:
        quiet(call, func.fast, x)
    message = str(info.value).lower()
    assert word.lower() in message or (word == "shape" and "broadcast" in message), \
        f"{func.name}: message {str(info.value)!r} does not name {word!r}"


def test_table_covers_the_public_api():
    """Every public function is registered (so in FUNCTIONS), so it is in this matrix."""
    public = {n for n in getattr(logitkit, "__all__", []) if callable(getattr(logitkit, n, None))}
    helpers = {"simd_path", "simd_paths", "set_num_threads", "get_num_threads", "threads",
               "set_spin_us", "get_spin_us"}
    missing = public - helpers - {f.name for f in FUNCTIONS}
    assert not missing, f"add these to src/logitkit/_registry.py: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------
# What reaches the kernels: aligned, native memory only (UBSan found misaligned loads)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def kernels_check_alignment(monkeypatch):
    """Wrap every kernel entry point so that an unaligned or byte-swapped array argument fails
    the test (works in any build, no sanitizer needed)."""
    from logitkit import _ext
    seen = []
    # (rows_fast / elementwise_fast are not wrapped: they check alignment and byte order
    # themselves and hand anything else back to the general path)
    for name in ("softmax_3d", "logsumexp_3d", "elementwise", "logsumexp_scaled",
                 "logit", "softplus_beta", "sparsemax_rows", "sparsemax_bwd_rows",
                 "information_rows"):
        original = getattr(_ext, name, None)
        if original is None:
            continue

        def wrapper(*args, _original=original, _name=name):
            for a in args:
                if isinstance(a, np.ndarray):
                    seen.append((_name, a.flags.aligned, a.dtype.isnative))
            return _original(*args)
        monkeypatch.setattr(_ext, name, wrapper)
    return seen


# regression: unaligned x used to reach the kernels through the fast paths
@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_only_see_aligned_memory(func, dtype, kernels_check_alignment):
    for x in (_unaligned(_values((3, 5), dtype)), _unaligned(_values((3, 5), dtype)[0]),
              _unaligned(_values((3, 5), dtype).astype(np.dtype(dtype).newbyteorder(">")))):
        got = func.fast(x)
        assert_matches(got, func.ref(np.array(x)), np.dtype(dtype), func.max_ulp, func.name)
    assert kernels_check_alignment, "no kernel was called"
    bad = [s for s in kernels_check_alignment if not (s[1] and s[2])]
    assert not bad, f"{func.name}: kernels got unaligned/byte-swapped arrays: {bad[:3]}"


# regression: an unaligned out used to be written by the kernels directly
@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_only_write_aligned_out(func, dtype, kernels_check_alignment):
    x = _values((3, 5), dtype)
    shape = _result_shape(func, x.shape)
    for out in (_unaligned(np.zeros(shape, dtype)), _unaligned(np.zeros(shape, dtype)).T.T):
        got = func.fast(x, out=out)
        assert got is out
        assert_matches(out, func.ref(x), np.dtype(dtype), func.max_ulp, func.name)
    y = _unaligned(x)
    if func.kind != "reduce":
        func.fast(y, out=y)
        assert_matches(y, func.ref(x), np.dtype(dtype), func.max_ulp, func.name)
    bad = [s for s in kernels_check_alignment if not (s[1] and s[2])]
    assert not bad, f"{func.name}: kernels got unaligned/byte-swapped arrays: {bad[:3]}"


# regression: unaligned float32 logits reached the cross-entropy kernel through its fast path
# (UBSan: misaligned load in ce_small); every loss and backward entry point is checked here
@pytest.fixture
def loss_kernels_check_alignment(monkeypatch):
    from logitkit import _ext, _losses
    seen = []

    def wrap(original, name):
        def wrapper(*args):
            for a in args:
                if isinstance(a, np.ndarray):
                    seen.append((name, a.flags.aligned, a.dtype.isnative))
            return original(*args)
        return wrapper

    for name in ("cross_entropy_index", "cross_entropy_prob", "softmax_backward_rows",
                 "log_softmax_backward_rows", "sigmoid_backward_flat", "bce_with_logits"):
        if hasattr(_ext, name):
            monkeypatch.setattr(_ext, name, wrap(getattr(_ext, name), name))
    for name in ("_CE_INDEX_F32", "_CE_INDEX_F64"):
        monkeypatch.setattr(_losses, name, wrap(getattr(_losses, name), name))
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_kernels_only_see_aligned_memory(dtype, loss_kernels_check_alignment):
    x = _unaligned(_values((4, 5), dtype))
    target = np.array([0, 4, 2, 1])
    unaligned_target = _unaligned(target)
    y = _unaligned(logitkit.softmax(np.array(x)))
    g = _unaligned(_values((4, 5), dtype))
    for got, want in [
            (logitkit.cross_entropy(x, target), logitkit.cross_entropy(np.array(x), target)),
            (logitkit.cross_entropy(np.array(x), unaligned_target),
             logitkit.cross_entropy(np.array(x), target)),
            (logitkit.cross_entropy(x, y), logitkit.cross_entropy(np.array(x), np.array(y))),
            (logitkit.binary_cross_entropy_with_logits(x, y),
             logitkit.binary_cross_entropy_with_logits(np.array(x), np.array(y))),
            (logitkit.softmax_backward(g, y), logitkit.softmax_backward(np.array(g), np.array(y))),
            (logitkit.log_softmax_backward(g, y),
             logitkit.log_softmax_backward(np.array(g), np.array(y))),
            (logitkit.sigmoid_backward(g, y), logitkit.sigmoid_backward(np.array(g), np.array(y))),
            (logitkit.cross_entropy(np.array(x), target, weight=_unaligned(np.arange(1.0, 6.0))),
             logitkit.cross_entropy(np.array(x), target, weight=np.arange(1.0, 6.0))),
            (logitkit.binary_cross_entropy_with_logits(x, y, weight=_unaligned(np.ones(5))),
             logitkit.binary_cross_entropy_with_logits(np.array(x), np.array(y),
                                                      weight=np.ones(5)))]:
        np.testing.assert_array_equal(got, want)
    assert loss_kernels_check_alignment, "no kernel was called"
    bad = [s for s in loss_kernels_check_alignment if not (s[1] and s[2])]
    assert not bad, f"loss kernels got unaligned/byte-swapped arrays: {bad[:3]}"


# regression (found by tools/fuzz_atheris.py): a signalling NaN raised NumPy's "invalid value
# encountered in cast" RuntimeWarning when logsumexp with b= widened float32 logits to float64
@pytest.mark.parametrize("func", CORE, ids=fids(CORE))
@pytest.mark.parametrize("dtype", [None, np.float64, np.float16])
def test_signalling_nan_warns_nothing(func, dtype):
    x = np.array([0x7F800001, 0x3F800000, 0xFF800002], np.uint32).view(np.float32)
    calls = [lambda: func.fast(x, dtype=dtype)]
    if func.name == "logsumexp":
        calls.append(lambda: func.fast(x, b=[1.0, 2.0, 0.5], dtype=dtype))
    for call in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = np.asarray(call())
        assert np.isnan(got).any()


# regression (review): with b=, the outer scaling 2^k and the log's own exponent cancelled in
# ln 2's low part after the tiny log1p term had been added to it: logsumexp([0, -40], b=[1, 1])
# was 6.6 million ULP off (the plain logsumexp was right)
@pytest.mark.parametrize("x, b", [([0.0, -40.0], [1.0, 1.0]), ([0.0, -40.0], [1.0, 3.0]),
                                  ([0.0, -800.0], [1.0, 1e300]), ([0.0, -40.0], [2.0, 1.0]),
                                  ([-3.0, -45.0, -3.5], [0.5, 7.0, 1e-300])])
@pytest.mark.parametrize("return_sign", [False, True])
def test_logsumexp_b_tiny_log_of_sum(x, b, return_sign):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(80):
        exact = float(mpmath.log(sum(mpmath.mpf(bi) * mpmath.exp(mpmath.mpf(xi))
                                     for xi, bi in zip(x, b))))
    got = logitkit.logsumexp(np.array(x), b=np.array(b), return_sign=return_sign)
    value = float(got[0] if return_sign else got)
    assert abs(value - exact) <= 2 * np.spacing(abs(exact)), (value, exact)


# ---------------------------------------------------------------------------------------------
# Selections (kind "select": top_k, sample): every input case against the reference, exactly
# ---------------------------------------------------------------------------------------------

SELECT = [f for f in FUNCTIONS if f.kind == "select"]
SELECT_CALLS = {"top_k": lambda shape: {"k": min(2, shape[-1])},
                "sample": lambda shape: {"size": 3, "rng": 5, "top_p": 0.9}}


@pytest.mark.parametrize("func", SELECT, ids=fids(SELECT))
@pytest.mark.parametrize("case", list(X_CASES))
def test_select_input_matrix(func, case):
    """Each input case: the reference's exact result (the same values and indices, the same
    draws for the same seed), or the same exception type, named by the function."""
    x = X_CASES[case]()
    shape = np.shape(x) if case not in ("ragged_list", "dict", "none") else (1,)
    kwargs = SELECT_CALLS[func.name](shape or (1,))
    if case.startswith("masked"):
        expect_error(TypeError, [func.name, "masked", "-inf"], func.fast, x, **kwargs)
        return
    try:
        want = func.ref(_fresh(x) if isinstance(x, np.ndarray) else x, **kwargs)
    except (TypeError, ValueError, IndexError) as exc:
        with pytest.raises(type(exc)) as info:
            quiet(func.fast, x, **kwargs)
        assert func.name in str(info.value), str(info.value)
        return
    got = quiet(func.fast, x, **kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("func", SELECT, ids=fids(SELECT))
@pytest.mark.parametrize("axis, exc, words", BAD_AXES, ids=[repr(a[0]) for a in BAD_AXES])
def test_select_bad_axis(func, axis, exc, words):
    x = _values((2, 3))
    kwargs = {"k": 1} if func.name == "top_k" else {"rng": 0}
    if isinstance(axis, tuple):             # a selection takes one axis: a tuple is no int
        exc, words = TypeError, ["axis"]
    with pytest.raises(exc) as info:
        quiet(func.fast, x, axis=axis, **kwargs)
    assert func.name in str(info.value), str(info.value)
