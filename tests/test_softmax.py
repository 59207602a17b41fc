"""softmax and log_softmax: the seeds' examples, the contract's edge values and argument rules
(docs/semantics.md)."""

import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit
from logitkit import log_softmax, softmax

BOTH = [softmax, log_softmax]
FLOATS = [np.float16, np.float32, np.float64]


# ---------------------------------------------------------------- the seeds' worked examples

def test_seed_text_classifier_example():
    logits = np.array([2.0, 1.0, 0.1])
    p = softmax(logits)
    np.testing.assert_allclose(p, [0.659001139, 0.242432971, 0.098565890], rtol=1e-8)
    assert p.round(2).tolist() == [0.66, 0.24, 0.10]
    assert int(np.argmax(p)) == int(np.argmax(logits)) == 0
    np.testing.assert_allclose(log_softmax(logits), np.log(p), rtol=1e-15)


def test_seed_five_class_example():
    np.random.seed(42)
    logits = np.random.randn(5)
    np.testing.assert_allclose(logits, [0.49671415, -0.1382643, 0.64768854, 1.52302986,
                                        -0.23415337], rtol=1e-7)
    p = softmax(logits)
    assert math.isclose(float(p.sum()), 1.0, rel_tol=1e-15)
    assert int(np.argmax(p)) == 3


# ---------------------------------------------------------------- regressions

def test_minus_inf_entries_give_minus_inf_log_probability():
    """Regression: the float64 kernels returned NaN for log_softmax at a -inf entry."""
    for dtype in (np.float32, np.float64):
        x = np.array([-np.inf, 0.0, -np.inf, 1.0], dtype)
        assert log_softmax(x)[0] == -np.inf and log_softmax(x)[2] == -np.inf
        assert log_softmax(np.ascontiguousarray(np.stack([x] * 3).T), axis=0)[0].tolist() == \
            [-np.inf] * 3


def test_confident_long_row_keeps_its_tiny_log_probability():
    """Regression: lane sums seeded with 1 lost the low bits of 999 tiny terms (51 ULP)."""
    x = np.full(1000, -40.0)
    x[0] = 0.0
    exact = -math.log1p(999 * math.exp(-40.0))
    for got in (log_softmax(x)[0], log_softmax(x.reshape(-1, 1), axis=0)[0, 0]):
        assert abs(got - exact) <= 2 * math.ulp(exact)


# ---------------------------------------------------------------- edge values (the contract)

@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_slice_is_nan_and_others_untouched(fn, dtype):
    x = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]], dtype)
    r = fn(x)
    assert np.isnan(r[0]).all()
    assert np.isfinite(r[1]).all()


@pytest.mark.parametrize("fn", BOTH)
def test_plus_inf_slice_is_nan(fn):
    assert np.isnan(fn(np.array([1.0, np.inf, 2.0]))).all()
    assert np.isnan(fn(np.array([np.inf, np.inf]))).all()


@pytest.mark.parametrize("fn", BOTH)
def test_all_minus_inf_slice_is_nan(fn):
    assert np.isnan(fn(np.full(4, -np.inf))).all()


def test_minus_inf_beside_finite():
    x = np.array([-np.inf, 0.0, 1.0])
    assert softmax(x)[0] == 0.0
    assert log_softmax(x)[0] == -np.inf
    np.testing.assert_allclose(softmax(x)[1:], softmax(x[1:]), rtol=1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_huge_finite_values_do_not_overflow(dtype):
    big = float(np.finfo(dtype).max)
    x = np.array([big, big, -big], dtype)
    np.testing.assert_array_equal(softmax(x), np.array([0.5, 0.5, 0.0], dtype))
    assert log_softmax(x)[0] == dtype(-math.log(2.0))
    assert log_softmax(x)[2] == -np.inf


def test_confident_row_top_class():
    assert log_softmax(np.array([0.0, -40.0]))[0] == -math.log1p(math.exp(-40.0))
    assert log_softmax(np.array([0.0, -40.0], np.float32))[0] == np.float32(
        -math.log1p(math.exp(-40.0)))


def test_subnormal_probabilities():
    p = softmax(np.array([0.0, -740.0]))
    assert p[1] == np.float64(math.exp(-740.0)) and p[1] > 0


@pytest.mark.parametrize("fn", BOTH)
def test_empty_axis_and_empty_arrays(fn):
    assert fn(np.empty((3, 0))).shape == (3, 0)
    assert fn(np.empty((0, 4))).shape == (0, 4)
    assert fn(np.empty((0, 4)), axis=None).shape == (0, 4)
    assert fn([]).shape == (0,)


@pytest.mark.parametrize("fn", BOTH)
def test_zero_d_input_is_a_one_element_slice(fn):
    for axis in (0, -1, None):
        r = fn(5.0, axis=axis)
        assert isinstance(r, np.float64) and r == (1.0 if fn is softmax else 0.0)
    with pytest.raises(AxisError):
        fn(5.0, axis=1)


def test_where_masks_entries_out():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    where = np.array([True, False, True])
    p = softmax(x, where=where)
    assert (p[:, 1] == 0).all()
    np.testing.assert_allclose(p[:, [0, 2]], softmax(x[:, [0, 2]]), rtol=1e-15)
    assert (log_softmax(x, where=where)[:, 1] == -np.inf).all()


def test_fully_masked_slice_is_zero_probability_not_nan():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    where = np.array([[False, False], [True, True]])
    assert softmax(x, where=where)[0].tolist() == [0.0, 0.0]
    assert log_softmax(x, where=where)[0].tolist() == [-np.inf, -np.inf]
    # remaining entries all -inf count as fully masked too
    y = np.array([-np.inf, 1.0])
    assert softmax(y, where=np.array([True, False])).tolist() == [0.0, 0.0]


def test_where_hides_nan_and_inf():
    x = np.array([np.nan, np.inf, 1.0, 2.0])
    where = np.array([False, False, True, True])
    np.testing.assert_allclose(softmax(x, where=where)[2:], softmax(x[2:]), rtol=1e-15)


# ---------------------------------------------------------------- axes, dtypes, out

@pytest.mark.parametrize("fn", BOTH)
def test_every_axis_form_matches_moving_the_axis(fn):
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    for axis in (0, 1, 2, -1, -3):
        expected = np.moveaxis(fn(np.moveaxis(x, axis, -1)), -1, axis)
        np.testing.assert_allclose(fn(x, axis=axis), expected, rtol=1e-14)
    flat = fn(x.reshape(-1)).reshape(x.shape)
    np.testing.assert_allclose(fn(x, axis=None), flat, rtol=1e-14)
    np.testing.assert_allclose(fn(x, axis=(0, 1, 2)), flat, rtol=1e-14)
    pair = fn(x.transpose(1, 0, 2).reshape(4, 15), axis=1).reshape(4, 3, 5).transpose(1, 0, 2)
    np.testing.assert_allclose(fn(x, axis=(0, 2)), pair, rtol=1e-14)
    np.testing.assert_allclose(fn(x, axis=(2, 0)), pair, rtol=1e-14)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("axis", [3, -4, (0, 0), (0, -3), (1, 5)])
def test_bad_axis_raises_axis_error(fn, axis):
    with pytest.raises(AxisError):
        fn(np.ones((2, 3, 4)), axis=axis)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("axis", [1.0, "0", True, [0]])
def test_axis_of_wrong_type_raises_type_error(fn, axis):
    with pytest.raises(TypeError, match="axis"):
        fn(np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("dtype, expected", [
    (np.float16, np.float16), (np.float32, np.float32), (np.float64, np.float64),
    (np.int8, np.float64), (np.uint64, np.float64), (np.bool_, np.float64)])
def test_result_dtype(fn, dtype, expected):
    assert fn(np.ones(3, dtype)).dtype == expected


def test_integer_inputs_convert_before_subtracting():
    x = np.array([0, 255], np.uint8)
    np.testing.assert_allclose(softmax(x), softmax(x.astype(float)), rtol=0)
    assert softmax(np.array([2**62, 0], np.int64)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("bad", [np.complex128, object, "U3", "M8[s]", "m8[s]"])
def test_unsupported_dtypes_raise_type_error(fn, bad):
    x = np.zeros(3, dtype=bad)
    with pytest.raises(TypeError, match=str(np.dtype(bad)).replace("[", r"\[")):
        fn(x)


@pytest.mark.parametrize("fn", BOTH)
def test_dtype_argument(fn):
    x = np.array([1.0, 2.0, 3.0])
    assert fn(x, dtype=np.float32).dtype == np.float32
    np.testing.assert_allclose(fn(x, dtype=np.float32), fn(x.astype(np.float32)), rtol=0)
    assert fn(x.astype(np.float16), dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        fn(x, dtype=np.int32)


@pytest.mark.parametrize("fn", BOTH)
@pytest.mark.parametrize("dtype", FLOATS)
def test_out_and_in_place(fn, dtype):
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(dtype)
    expected = fn(x, axis=0)
    out = np.empty_like(x)
    assert fn(x, axis=0, out=out) is out
    np.testing.assert_array_equal(out, expected)
    y = x.copy()
    assert fn(y, axis=0, out=y) is y
    np.testing.assert_array_equal(y, expected)
    fortran = np.empty_like(x, order="F")
    np.testing.assert_array_equal(fn(x, axis=0, out=fortran), expected)


@pytest.mark.parametrize("fn", BOTH)
def test_out_that_partly_overlaps_the_input(fn):
    base = np.random.default_rng(2).standard_normal(12)
    expected = fn(base[:10].copy())
    out = base[2:12]
    fn(base[:10], out=out)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("fn", BOTH)
def test_bad_out_raises(fn):
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="shape"):
        fn(x, out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="dtype"):
        fn(x, out=np.empty((2, 3), np.float32))
    ro = np.empty((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only|writ"):
        fn(x, out=ro)
    with pytest.raises(TypeError, match="out"):
        fn(x, out=[[0.0] * 3] * 2)


@pytest.mark.parametrize("fn", BOTH)
def test_result_is_new_and_input_untouched(fn):
    x = np.random.default_rng(3).standard_normal((3, 4))
    before = x.copy()
    r = fn(x)
    assert not np.shares_memory(r, x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("fn", BOTH)
def test_where_must_be_boolean_and_broadcastable(fn):
    with pytest.raises(TypeError, match="where"):
        fn(np.ones(3), where=np.ones(3))
    with pytest.raises(ValueError, match="where"):
        fn(np.ones(3), where=np.ones(4, bool))


def test_lists_and_non_contiguous_inputs():
    rows = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    np.testing.assert_allclose(softmax(rows), softmax(np.array(rows)), rtol=0)
    x = np.random.default_rng(4).standard_normal((6, 8))
    np.testing.assert_allclose(softmax(x[::-2, 1::3]), softmax(x[::-2, 1::3].copy()), rtol=0)
    big_endian = x.astype(">f8")
    np.testing.assert_array_equal(softmax(big_endian), softmax(x))


def test_float32_sum_is_accumulated_in_double():
    """A long float32 row: the sum of a million terms must not drift."""
    x = np.zeros(1_000_000, np.float32)
    p = softmax(x)
    assert (p == np.float32(1e-6)).all()


def test_no_warnings_on_nasty_input(recwarn):
    nasty = np.array([[np.nan, 1.0], [np.inf, -np.inf], [-np.inf, -np.inf], [1e308, -1e308]])
    nasty32 = np.array([[np.nan, 1.0], [np.inf, -np.inf], [-np.inf, -np.inf], [3e38, -3e38]],
                       np.float32)
    for fn in BOTH:
        for axis in (0, 1, None):
            fn(nasty, axis=axis)
            fn(nasty32, axis=axis)
            fn(nasty, axis=axis, dtype=np.float32)      # rounding 1e308 to float32 overflows
    assert not recwarn.list


def test_every_simd_path_gives_the_same_answer_to_the_bar(each_simd_path):
    x = np.random.default_rng(5).standard_normal((7, 1001)) * 30
    for dtype in (np.float32, np.float64):
        for fn in BOTH:
            logitkit.testing.assert_matches_reference(fn.__name__, x.astype(dtype), max_ulp=5)


@pytest.mark.parametrize("fn", BOTH)
def test_float16_keeps_its_dtype_when_the_layout_needs_a_copy(fn):
    """Regression: the copying path returned float32 for float16 input."""
    x = np.asfortranarray(np.random.default_rng(6).standard_normal((2, 7, 1, 2))).astype(
        np.float16)
    assert fn(x, axis=(3, 0)).dtype == np.float16
    logitkit.testing.assert_matches_reference(fn.__name__, x, max_ulp=5, axis=(3, 0))


# ---------------------------------------------------------------- many short rows

def _short_rows(rows, n, seed, dtype=np.float32):
    """rows x n logits with the edge rows the contract names, at row numbers that land in
    different lanes and groups of the short-row kernel"""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, n)) * rng.choice([0.01, 3.0, 30.0], (rows, 1)))
    edge = {3: np.nan, 5: np.inf, 8: -np.inf}
    for r, v in edge.items():
        if r < rows:
            x[r, r % n] = v
    if rows > 8:
        x[8] = -np.inf                                   # a slice of all -inf
    if rows > 13:
        x[13, 0] = -np.inf                               # -inf beside finite values
    if rows > 21:
        big = float(np.finfo(dtype).max)
        x[21] = rng.choice([big, -big], n)               # the dtype's extremes
    if rows > 34:
        x[34] = -200.0 if dtype == np.float32 else -1400.0   # subnormal and zero probabilities
        x[34, 0] = 0.0
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 31, 32, 33])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
def test_many_short_rows_match_the_reference(fn, n, dtype, each_simd_path):
    """Rows of up to 32 values run across vector lanes in the short-row kernel (8 float32 or 4
    float64 rows to a vector; 33: the row kernel): every lane, group and block boundary, with
    the edge rows among them."""
    for rows in (2, 5, 9, 130):
        x = _short_rows(rows, n, seed=rows * 100 + n, dtype=dtype)
        if fn == "logsumexp" and dtype == np.float64:
            # rows where m + log(sum) cancels: the reference's own terms are rounded (its
            # math.exp), and float64's are redone only between 2^-40 and 1/16 of the log
            # (test_logsumexp.py checks those against mpmath)
            ref = np.asarray(logitkit.reference.logsumexp(x, axis=-1))
            with np.errstate(invalid="ignore"):
                x = x[~(np.abs(ref) < 0.5 * (ref - x.max(axis=-1)))]
        logitkit.testing.assert_matches_reference(fn, x, max_ulp=4 if fn == "softmax" else 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 31, 32])
def test_short_rows_every_lane_count(n, dtype, each_simd_path):
    """The short-row kernels move rows into vector lanes and back (on AVX2 and AVX-512 as 8 x 8
    and 16 x 16 blocks transposed in registers, masked at a row's end): every number of rows
    in a block's last group of 8 or 16, rows across one and two blocks of columns, each value
    back in its own place."""
    rng = np.random.default_rng(n)
    for rows in range(2, 35):
        x = (rng.standard_normal((rows, n)) * 4).astype(dtype)
        for fn in BOTH:
            logitkit.testing.assert_matches_reference(fn.__name__, x, max_ulp=4)


@pytest.mark.parametrize("n", [2, 5, 10, 32])
def test_float64_short_rows_log_of_the_sum(n, each_simd_path):
    """float64 log_softmax and logsumexp of short rows take the log of each row's sum in vector
    lanes: log1p of the rest where the max is unique and the rest below 1/2 (confident rows),
    else k ln2 + log1p(u) for a sum 2^k (1 + u), 1 + u in [0.75, 1.5) (ties, flat rows, sums
    on both sides of 1.5 2^k, up to 32); each row within 2 ULP of the exact reference."""
    rng = np.random.default_rng(n)
    rows = [np.zeros(n), np.full(n, -3.0), np.r_[0.0, np.full(n - 1, -40.0)],
            np.r_[0.0, np.full(n - 1, -700.0)], np.r_[1.0, 1.0, np.full(n - 2, -1.0)],
            np.r_[0.0, np.full(n - 1, np.log(0.5 / (n - 1)))],
            np.r_[0.0, np.full(n - 1, np.log(0.5 / (n - 1)) * (1 + 1e-15))]]
    rows += list(rng.standard_normal((40, n)) * rng.choice([1e-3, 0.3, 3.0, 30.0], (40, 1)))
    x = np.array(rows) + rng.choice([0.0, 50.0, -1e4], (len(rows), 1))
    logitkit.testing.assert_matches_reference("log_softmax", x, max_ulp=2)
    logitkit.testing.assert_matches_reference("logsumexp", x, max_ulp=2, axis=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", BOTH)
def test_short_rows_with_strides_and_offsets(fn, dtype, each_simd_path):
    """Row-strided input (negative too) and a row-strided out, through the short-row kernel."""
    base = _short_rows(70, 16, seed=7, dtype=dtype)
    x = base[::-1, 3:13]                                 # rows 16 apart, backwards
    out = np.full((70, 14), 7.0, dtype)[:, 2:12]
    got = fn(x, out=out)
    assert got is out
    np.testing.assert_array_equal(out, fn(np.ascontiguousarray(x)))
    logitkit.testing.assert_matches_reference(fn.__name__, x, max_ulp=4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_rows_fully_masked_rows(dtype):
    x = _short_rows(20, 10, seed=8, dtype=dtype)
    where = np.ones_like(x, bool)
    where[4] = False
    where[6, :9] = False
    x[6, 9] = -np.inf                                    # nothing finite left: fully masked
    p, lp = softmax(x, where=where), log_softmax(x, where=where)
    lse = logitkit.logsumexp(x, where=where, axis=-1)
    for r in (4, 6):
        assert (p[r] == 0).all() and (lp[r] == -np.inf).all() and lse[r] == -np.inf
    keep = [r for r in range(20) if r not in (3, 4, 5, 6, 8)]     # rows without NaN / inf
    np.testing.assert_allclose(p[keep].sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_refuse_views_that_are_not_whole_aligned_elements(dtype):
    """The C loops read whole, aligned elements; the Python layer copies anything else. A
    hand-made view whose row stride is not whole elements (rows at odd addresses) is refused
    with a clear error instead of being read misaligned (undefined behaviour, caught by UBSan
    in the short-row kernels' former fallback)."""
    from logitkit import _ext
    item = np.dtype(dtype).itemsize
    raw = np.zeros(70 * (3 * item + 1) + 64, np.uint8)
    x = np.ndarray((70, 3, 1), dtype, raw, 0, (3 * item + 1, item, item))
    with pytest.raises(ValueError, match="whole elements"):
        _ext.softmax_3d(x, np.empty(x.shape, dtype), 0, False)
    with pytest.raises(ValueError, match="whole elements"):
        _ext.logsumexp_3d(x, np.empty((70, 1), dtype))
    odd = np.ndarray((2, 3, 1), dtype, raw, 1, (3 * item, item, item))
    with pytest.raises(ValueError, match="aligned"):
        _ext.softmax_3d(odd, np.empty(odd.shape, dtype), 0, False)
    # what users pass: the same data through the public API is copied first
    np.testing.assert_array_equal(softmax(x[:, :, 0]), softmax(np.ascontiguousarray(x[:, :, 0])))


# (max, min) of rows at the borders of the exp pass's forms (lk_shift_form): -m the larger
# operand (|x| <= max), x the larger (max <= 0), ordered lane by lane, and the wide form (a
# spread past span: 87 for float32, 708 for float64; or -inf), on both sides of each border.
def _form_edges(span):
    return [(50.0, 50.0 - span), (50.0, 49.99 - span), (0.0, -span), (-5.0, -5.0 - span),
            (-5.0, -5.01 - span), (10.0, 10.0 - span), (10.0, 9.99 - span), (20.0, -20.0),
            (span, 0.0), (3e4, 3e4 - span + 7), (-3e4, -3e4 - span - 3), (1e-30, -1e-30),
            (0.0, -0.0)]


_FORM_EDGES = _form_edges(87.0)


@pytest.mark.parametrize("dtype, span", [(np.float32, 87.0), (np.float64, 708.0)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("n", [8, 16, 17, 40, 203])
def test_exp_pass_forms_match_the_reference(fn, n, dtype, span, each_simd_path):
    """Each form of the exp pass, with the pipelined loop (two vectors and more) and its tail,
    to the bar."""
    rng = np.random.default_rng(n)
    rows = []
    for top, low in _form_edges(span):
        row = rng.uniform(low, top, n)
        row[0], row[n // 2] = top, low
        rows.append(row)
    x = np.array(rows, dtype)
    x[-1, 3] = -np.inf                               # a -inf entry: the wide form
    logitkit.testing.assert_matches_reference(fn, x, max_ulp=4 if fn == "softmax" else 2)


@pytest.mark.parametrize("top, low", _FORM_EDGES[:4])
def test_exp_pass_forms_split_across_threads(top, low):
    """A long row split across threads: every part runs the form of the whole row's extremes."""
    x = np.random.default_rng(1).uniform(low, top, 300_000).astype(np.float32)
    x[-1] = low
    previous = logitkit.get_num_threads()
    try:
        logitkit.set_num_threads(1)
        one = softmax(x)
        logitkit.set_num_threads(2)
        two = softmax(x)
    finally:
        logitkit.set_num_threads(previous)
    x64 = x.astype(np.float64)
    exact = np.exp(x64 - x64.max())
    exact /= math.fsum(exact)                    # float64: ~1e-16, far below float32's ulp
    for got in (one, two):
        ulps = np.abs(got - exact) / np.spacing(exact.astype(np.float32))
        assert ulps.max() <= 4


def test_confident_row_rest_of_two_terms_stays_within_the_bar():
    """Regression: the float32 top-mode sums added two exp vectors in float before widening,
    and a rest made of two terms in one pair (lanes 1 and 9) took that rounding in full:
    log_softmax of the top class was 2.26 ULP off (bar 2). The exact value comes from float64,
    ~1e-16 relative, far below float32's ulp."""
    x = np.full(16, -60.0, np.float32)
    x[0], x[1], x[9] = 0.0, -19.9611, -5.5447865
    x64 = x.astype(np.float64)
    exact_lse = math.log(math.fsum(np.exp(x64)))
    exact = x64 - exact_lse
    got = log_softmax(x)
    ulps = np.abs(got - exact) / np.spacing(np.abs(exact).astype(np.float32))
    assert ulps.max() <= 2
    lse = logitkit.logsumexp(x)
    assert abs(lse - exact_lse) / np.spacing(np.float32(abs(exact_lse))) <= 2


# Column blocks (a reduction over a non-last axis): the exp pass's form is chosen per block of
# columns, from the block's least x and its largest column max, so columns that are narrow on
# their own can still need the wide form together; rows run in groups of four (tails of 1-3).
def _column_block(span, n, inner, rng):
    """(n, inner) with each column's spread below span, but columns centred apart: the
    block's spread crosses the float type's normal border (span) in some of the cases."""
    centres = np.linspace(-0.6 * span, 0.6 * span, inner)
    x = centres + rng.uniform(-0.3 * span, 0.0, (n, inner))
    x[0] = centres                                # each column's max on row 0
    return x


@pytest.mark.parametrize("dtype, span", [(np.float32, 87.0), (np.float64, 708.0)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("n, inner", [(1, 9), (3, 17), (4, 8), (5, 7), (9, 33), (70, 515)])
def test_column_kernels_match_the_reference(fn, n, inner, dtype, span, each_simd_path):
    rng = np.random.default_rng(n * 1000 + inner)
    bar = 4 if fn == "softmax" else 2
    wide = _column_block(span, n, inner, rng).astype(dtype)    # least x - largest max < -span
    narrow = (rng.standard_normal((n, inner)) * 5 + 100).astype(dtype)
    for x in (wide, narrow, -narrow):
        logitkit.testing.assert_matches_reference(fn, x, axis=0, max_ulp=bar)
    # a row of -inf and a column of its own (all -inf, a NaN, a +inf) beside finite columns
    special = narrow.copy()
    special[n // 2] = -np.inf
    special[:, inner // 2] = -np.inf
    special[n - 1, inner - 1] = np.nan
    special[0, 0] = np.inf
    logitkit.testing.assert_matches_reference(fn, special, axis=0, max_ulp=bar)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_kernels_in_blocks_and_threads(dtype):
    """More columns than one block (512) and enough work for two threads: the same values as
    one thread, and as the rows of the transposed array, to the bar."""
    x = (np.random.default_rng(7).standard_normal((300, 1100)) * 20).astype(dtype)
    previous = logitkit.get_num_threads()
    try:
        logitkit.set_num_threads(1)
        one = softmax(x, axis=0)
        logitkit.set_num_threads(2)
        two = softmax(x, axis=0)
    finally:
        logitkit.set_num_threads(previous)
    np.testing.assert_array_equal(one, two)
    rows = softmax(np.ascontiguousarray(x.T), axis=-1).T
    ulps = np.abs(one.astype(np.float64) - rows) / np.spacing(rows)
    assert ulps.max() <= 4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
def test_column_block_keeps_minus_inf_behind_a_nan(fn, dtype, each_simd_path):
    """Regression: the block's least x was a vector min that a NaN (in column 8, the same lane
    as column 0) replaced, and the next value replaced the NaN: the -inf of column 0 was lost,
    the block ran the form without a clamp, and column 0 came out NaN."""
    x = np.zeros((2, 12), dtype)
    x[0, 0] = -np.inf
    x[0, 8] = np.nan
    logitkit.testing.assert_matches_reference(fn, x, axis=0, max_ulp=4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("n", [33, 250, 1000, 1024, 1025])
def test_rows_run_in_pairs_as_they_run_alone(fn, n, dtype, each_simd_path):
    """Rows that fit the first caches run two at a time, each pass over both before the next
    (reduce_row_pair); every row must come out bit for bit as it does alone, special rows
    (NaN, +inf, all -inf) beside ordinary ones included, and an odd row at the end."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((9, n)) * 20).astype(dtype)
    x[1, 3] = np.nan                      # paired with row 0
    x[2, -1] = np.inf
    x[5] = -np.inf
    x[6, ::2] = -np.inf
    f = getattr(logitkit, fn)
    together = f(x)
    for i, row in enumerate(x):
        np.testing.assert_array_equal(together[i], f(row.copy()))
    bar = 4 if fn == "softmax" else 2
    logitkit.testing.assert_matches_reference(fn, x, max_ulp=bar)
    logitkit.testing.assert_matches_reference(fn, x, max_ulp=bar, where=rng.random((9, n)) < 0.7)


# regression: log_softmax([800., 0.])[0] was +0.0 while log_softmax([0., -800.])[0] was -0.0;
# both true values are -exp(-800), which rounds to -0.0. An exact 0 (nothing else in the
# slice, or only -inf) stays +0.0.
@pytest.mark.parametrize("dtype, big", [(np.float64, 800.0), (np.float32, 120.0)])
def test_log_softmax_signs_of_zero(dtype, big, each_simd_path):
    from logitkit import reference
    rows = {(big, 0.0): True, (0.0, -big): True, (0.0, -big, -np.inf): True,
            (-np.inf, 0.0, -np.inf, -2 * big): True, (5.0,): False, (0.0, -np.inf): False,
            (3.0, -np.inf, -np.inf): False}
    for row, negative in rows.items():
        a = np.array(row, dtype)
        top = int(np.argmax(a))
        for n_rows in (1, 2, 3, 40):      # a row, a pair, short rows in lanes
            got = log_softmax(np.tile(a, (n_rows, 1)))
            assert got[:, top].tolist() == [0.0] * n_rows
            assert np.signbit(got[:, top]).tolist() == [negative] * n_rows, (row, n_rows)
        col = log_softmax(np.tile(a[:, None], (1, 5)), axis=0)   # columns
        assert np.signbit(col[top]).tolist() == [negative] * 5, row
        long_row = np.full(5000, -np.inf, dtype)                 # a long row
        long_row[:len(a)] = a
        assert np.signbit(log_softmax(long_row)[top]) == negative, row
        assert np.signbit(reference.log_softmax(a)[top]) == negative, row
        if len(row) > 1:
            masked = log_softmax(np.append(a, dtype(1e4)), where=np.arange(len(a) + 1) < len(a))
            assert np.signbit(masked[top]) == negative, row
