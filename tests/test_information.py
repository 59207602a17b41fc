"""entropy and kl_divergence: the fast path against the pure-Python reference and against
mpmath on the adversarial suite, on every SIMD path; the edges (masked, -inf, NaN, +inf, empty,
0-d), never a negative divergence, the arguments, the naive formulas that fail where logitkit
does not, the Dask twins over a split class axis, the command line and bad input."""

import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit as lk
from logitkit import reference as ref
from logitkit.testing import adversarial

from _cli import cli, npy, read_text, write

mpmath = pytest.importorskip("mpmath")
from logitkit.testing import oracle  # noqa: E402

DTYPES = [np.float32, np.float64]


def ulps(got, want):
    """|got - want| in ULPs of want's dtype (subnormal spacing below the normal range); equal
    infinities and NaN against NaN are 0."""
    got, want = np.asarray(got, np.float64), np.asarray(want)
    spacing = np.spacing(np.abs(want).astype(want.dtype)).astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(got - want.astype(np.float64)) / spacing
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, err)


# ---------------------------------------------------------------- against the oracle and twin

@pytest.mark.parametrize("dtype", DTYPES)
def test_entropy_matches_mpmath_and_the_reference(each_simd_path, dtype):
    worst_fast = worst_ref = 0.0
    for batch in adversarial.reduction_suite(dtype, "quick"):
        exact = oracle.information_refs(batch, "entropy", dtype)
        fast = lk.entropy(batch.x)
        err = oracle.ulp_error(fast, exact)
        worst_fast = max(worst_fast, float(err.max()))
        assert err.max() <= 4, (batch.label, fast, exact.hi)
        if batch.x.size <= 20_000:
            twin = ref.entropy(batch.x)
            worst_ref = max(worst_ref, float(oracle.ulp_error(twin, exact).max()))
            assert ulps(fast, twin).max() <= 5, batch.label
    assert worst_ref <= 4
    assert worst_fast > 0          # the measure measures something


@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_matches_mpmath_and_the_reference(each_simd_path, dtype):
    pairs = oracle.kl_pairs([b for b in adversarial.reduction_suite(dtype, "quick")
                             if b.x.size <= 20_000])
    worst = oracle.run_information(lambda p, q, axis: lk.kl_divergence(p, q, axis=axis),
                                   "kl_divergence", dtype, pairs)
    assert worst["bar"].ulp <= 4, worst["bar"].case
    # the terms rule itself, where the ULP of the result is out of reach of double arithmetic
    assert worst["terms"].ulp <= 2, worst["terms"].case
    twin = oracle.run_information(lambda p, q, axis: ref.kl_divergence(p, q, axis=axis),
                                  "kl_divergence", dtype, pairs, axis0=False)
    assert twin["bar"].ulp <= 4, twin["bar"].case


@pytest.mark.parametrize("dtype", DTYPES)
def test_confident_rows_keep_their_digits(each_simd_path, dtype):
    """H([0, -g]) = log1p(e) + g e / (1 + e), e = exp(-g): tiny, and subnormal for float64 at
    g = 740, where p log p underflows term by term."""
    gaps = [40.0, 80.0, 100.0, 700.0, 740.0] if dtype == np.float64 else [16.0, 40.0, 90.0]
    with mpmath.workprec(300):
        for gap in gaps:
            e = mpmath.exp(-mpmath.mpf(gap))
            exact = float(mpmath.log1p(e) + gap * e / (1 + e))
            got = lk.entropy(np.array([0.0, -gap], dtype))
            assert ulps(got, np.array(exact, dtype)) <= 4, (gap, got, exact)


# ---------------------------------------------------------------- edges

@pytest.mark.parametrize("dtype", DTYPES)
def test_edges(dtype):
    inf, nan = np.inf, np.nan
    rows = np.array([[0.0, -inf, 1.0], [5.0, -inf, -inf], [nan, 0.0, 0.0], [inf, 0.0, 0.0],
                     [-inf, -inf, -inf], [3.0, 3.0, 3.0]], dtype)
    h = lk.entropy(rows)
    assert h[0] == lk.entropy(np.array([0.0, 1.0], dtype))        # -inf contributes 0
    assert h[1] == 0.0 and not np.signbit(h[1])                    # one finite class: exactly 0
    assert np.isnan(h[2]) and np.isnan(h[3]) and np.isnan(h[4])
    assert ulps(h[5], np.array(math.log(3), dtype)) <= 1
    one = lk.entropy(rows[:, :1])
    assert one[[0, 1, 5]].tolist() == [0.0, 0.0, 0.0] and np.isnan(one[2:5]).all()
    kl = lk.kl_divergence(rows, rows)
    assert kl[0] == 0.0 and kl[1] == 0.0 and kl[5] == 0.0
    assert np.isnan(kl[2:5]).all()
    # p = 0 where q = 0 contributes 0; p > 0 where q = 0 is +inf
    assert lk.kl_divergence(np.array([0.0, -inf], dtype), np.array([0.0, -inf], dtype)) == 0.0
    assert lk.kl_divergence(np.array([0.0, 1.0], dtype), np.array([0.0, -inf], dtype)) == inf
    assert lk.kl_divergence(np.array([0.0, -80.0], dtype), np.array([0.0, -inf], dtype)) == inf
    assert np.isnan(lk.kl_divergence(np.array([0.0, 1.0], dtype), np.array([-inf, -inf], dtype)))
    # where: masked entries take no part; a slice with nothing left is 0, never NaN
    x = np.array([[1.0, 2.0, nan], [inf, 0.0, 1.0]], dtype)
    keep = np.array([[True, True, False], [False, True, True]])
    assert np.all(lk.entropy(x, where=keep) == lk.entropy(np.array([[1, 2], [0, 1]], dtype)))
    assert lk.entropy(x, where=np.zeros_like(keep)).tolist() == [0.0, 0.0]
    assert lk.kl_divergence(x, x, where=np.zeros_like(keep)).tolist() == [0.0, 0.0]
    assert lk.kl_divergence(x, x, where=keep).tolist() == [0.0, 0.0]
    # empty axis: no information and no divergence
    assert lk.entropy(np.empty((3, 0), dtype)).tolist() == [0.0, 0.0, 0.0]
    assert lk.kl_divergence(np.empty((3, 0), dtype), np.empty((3, 0), dtype)).tolist() == [0] * 3
    assert lk.entropy(np.empty((0, 4), dtype)).shape == (0,)
    # 0-d: a one-class distribution
    assert lk.entropy(dtype(5.0)) == 0.0 and type(lk.entropy(dtype(5.0))) is dtype
    assert lk.kl_divergence(dtype(5.0), dtype(-1.0)) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_logits_do_not_overflow(dtype):
    big = float(np.finfo(dtype).max)
    x = np.array([[big, big], [big, -big], [-big, -big], [big, 0.0]], dtype)
    assert ulps(lk.entropy(x), np.array([math.log(2), 0, math.log(2), 0], dtype)).max() <= 1
    assert lk.kl_divergence(x, x).tolist() == [0.0] * 4
    p = np.array([big, big, -big], dtype)
    q = np.roll(p, 1)                    # KL = 0.5 * (2 big + log 2 - log 2) + ...: ~ big
    got = lk.kl_divergence(p, q)
    assert np.isfinite(got) and got == ref.kl_divergence(p, q)


def test_kl_is_never_negative(each_simd_path):
    rng = np.random.default_rng(3)
    for dtype in DTYPES:
        p = (rng.standard_normal((500, 37)) * 3).astype(dtype)
        for scale in (0.0, 1e-12, 1e-8, 1e-4):
            with np.errstate(all="ignore"):
                q = (p.astype(np.float64) * (1 + scale * rng.standard_normal(p.shape))).astype(dtype)
            got = lk.kl_divergence(p, q)
            assert np.all(got >= 0) and not np.any(np.signbit(got)), scale
            assert np.all(lk.kl_divergence(p, p) == 0.0)
            assert np.all(lk.kl_divergence(p, p + dtype(7.5)) <= 8 * np.finfo(dtype).eps)


# ---------------------------------------------------------------- arguments

def test_axis_where_out_dtype():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5))
    y = rng.standard_normal((3, 4, 5))
    for axis in (0, 1, -1, (0, 2), (1, 2), None):
        want = ref.entropy(x, axis=axis)
        assert ulps(lk.entropy(x, axis=axis), want).max() <= 5, axis
        assert ulps(lk.kl_divergence(x, y, axis=axis), ref.kl_divergence(x, y, axis=axis)).max() <= 5
    assert type(lk.entropy(x, axis=None)) is np.float64
    f = np.asfortranarray(x)
    assert np.array_equal(lk.entropy(f, axis=1), lk.entropy(x, axis=1))
    out = np.empty((3, 4))
    assert lk.entropy(x, out=out) is out and np.array_equal(out, lk.entropy(x))
    out32 = np.empty((3, 4), np.float32)
    assert lk.kl_divergence(x, y, out=out32, dtype=np.float32) is out32
    assert lk.entropy(x, dtype=np.float32).dtype == np.float32
    assert lk.entropy(x.astype(np.float16)).dtype == np.float16
    assert lk.entropy(x.astype(np.longdouble)).dtype == np.longdouble
    assert lk.entropy(np.array([[1, 2, 3]])).dtype == np.float64
    assert lk.kl_divergence(x.astype(np.float32), y).dtype == np.float64
    assert lk.entropy([[1.0, 2.0]], where=[[True, False]]).tolist() == [0.0]
    assert lk.entropy(x[:, ::-1, ::2], axis=1).shape == (3, 3)
    masked = np.ma.masked_array([1.0, 2.0, 9.0], mask=[0, 0, 1])
    assert lk.entropy(masked) == lk.entropy([1.0, 2.0])
    assert lk.kl_divergence(masked, np.ma.masked_array([0.0, 2.0, 1.0])) == \
        lk.kl_divergence([1.0, 2.0], [0.0, 2.0])


def test_bad_input():
    with pytest.raises(TypeError, match="entropy: unsupported input dtype complex128"):
        lk.entropy(np.array([1j]))
    with pytest.raises(TypeError, match="kl_divergence: unsupported q_logits dtype"):
        lk.kl_divergence([1.0], np.array(["a"]))
    with pytest.raises(ValueError, match=r"kl_divergence: p_logits has shape \(2,\) and q_logits"
                                         r" \(3,\); expected the same shape"):
        lk.kl_divergence([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(AxisError, match="entropy"):
        lk.entropy([1.0, 2.0], axis=1)
    with pytest.raises(AxisError):
        lk.kl_divergence([[1.0]], [[1.0]], axis=(0, 0))
    with pytest.raises(TypeError, match="entropy: axis must be an int"):
        lk.entropy([1.0], axis=1.5)
    with pytest.raises(TypeError, match="where must be a boolean"):
        lk.entropy([1.0, 2.0], where=[1, 0])
    with pytest.raises(ValueError, match="entropy: out has shape"):
        lk.entropy([[1.0, 2.0]], out=np.empty(2))
    with pytest.raises(TypeError, match="entropy: out has dtype float32"):
        lk.entropy([[1.0, 2.0]], out=np.empty(1, np.float32))
    with pytest.raises(TypeError, match="unsupported dtype=int64"):
        lk.kl_divergence([1.0], [1.0], dtype=np.int64)
    with pytest.raises(ValueError, match="entropy: could not convert"):
        lk.entropy([[1.0], [1.0, 2.0]])


# ---------------------------------------------------------------- the naive formulas

def test_naive_formulas_fail_where_logitkit_does_not():
    x = np.array([0.0, -40.0, -np.inf])
    p = lk.softmax(x)
    with np.errstate(all="ignore"):
        assert np.isnan(-(p * np.log(p)).sum())                    # 0 * log 0
    a, b = np.array([0.0, -40.0]), np.array([0.0, -40.000001])
    with mpmath.workprec(300):
        e = mpmath.exp(-40)
        exact = float(mpmath.log1p(e) + 40 * e / (1 + e))
        terms = [(mpmath.mpf(float(v)), mpmath.mpf(float(w))) for v, w in zip(a, b)]
        la = mpmath.log(mpmath.fsum(mpmath.exp(v) for v, _ in terms))
        lb = mpmath.log(mpmath.fsum(mpmath.exp(w) for _, w in terms))
        exact_kl = float(mpmath.fsum(mpmath.exp(v - la) * ((v - la) - (w - lb))
                                     for v, w in terms))
        kl_terms = float(mpmath.fsum(mpmath.exp(v - la) * (abs(v - la) + abs(w - lb))
                                     for v, w in terms))
    naive = -(p[:2] * np.log(p[:2])).sum()                          # log(p_top) rounds to 0
    assert abs(naive - exact) > 0.02 * exact
    assert ulps(lk.entropy(x), np.array(exact)) <= 1
    pa, pb = lk.softmax(a), lk.softmax(b)
    naive_kl = float((pa * (np.log(pa) - np.log(pb))).sum())
    # the result is 2e-14 of the terms that cancel: the naive formula is off by 2e6 times the
    # result, logitkit within its bar (here 0.003 x 2^-53 of the terms, 6e-5 of the result)
    assert abs(naive_kl - exact_kl) > 1e6 * exact_kl
    assert abs(lk.kl_divergence(a, b) - exact_kl) <= 2 * 2.0 ** -53 * kl_terms
    assert abs(lk.kl_divergence(a, b) - exact_kl) < 1e-3 * exact_kl


# ---------------------------------------------------------------- Dask

def test_dask_twins_over_a_split_class_axis():
    da = pytest.importorskip("dask.array")
    import logitkit.dask as lkd
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 50)) * 4
    x[0, 3:] = -60.0                     # confident
    x[1, 7] = -np.inf
    x[2, :] = -np.inf
    x[3, 10] = np.nan
    y = x + rng.standard_normal(x.shape) * 1e-3
    y[4] = rng.standard_normal(50)
    for chunks in ((6, 50), (3, 7), (2, 25)):
        dx, dy = da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks)
        for axis in (-1, 0, (0, 1)):
            got = lkd.entropy(dx, axis=axis).compute()
            want = lk.entropy(x, axis=axis)
            assert ulps(got, want).max() <= 4, (chunks, axis)
            got = lkd.kl_divergence(dx, dy, axis=axis).compute()
            want = lk.kl_divergence(x, y, axis=axis)
            scale = lk.entropy(x, axis=axis) + 1
            with np.errstate(invalid="ignore"):
                close = (np.abs(got - want) <= 1e-14 * scale) | (got == want) | (
                    np.isnan(got) & np.isnan(want))
            assert close.all(), (chunks, axis, got, want)
    keep = rng.random(x.shape) < 0.7
    dx = da.from_array(x, chunks=(3, 7))
    got = lkd.entropy(dx, where=da.from_array(keep, chunks=(3, 7))).compute()
    assert ulps(got, lk.entropy(x, where=keep)).max() <= 4
    assert lk.entropy(dx).compute().shape == (6,)          # a Dask array goes to its twin
    with pytest.raises(NotImplementedError, match="out="):
        lkd.entropy(dx, out=np.empty(6))


# ---------------------------------------------------------------- the command line

def test_cli_entropy(tmp_path, capsys):
    x = np.array([[0.0, 0.0], [1.0, -40.0], [3.0, 3.0]])
    rc, out, err = cli(capsys, "entropy", npy(tmp_path, x))
    assert rc == 0 and not err
    got = read_text(out).ravel()
    assert got.shape == (3,) and np.allclose(got, lk.entropy(x), rtol=1e-15, atol=0)
    rc, out, _ = cli(capsys, "entropy", write(tmp_path, "in.csv", "0,0\n1,-40\n"))
    assert rc == 0 and np.allclose(read_text(out).ravel(), lk.entropy(x[:2]))
    rc, out, _ = cli(capsys, "entropy", "--axis", "0", npy(tmp_path, x, "t.npy"))
    assert rc == 0 and np.allclose(read_text(out).ravel(), lk.entropy(x, axis=0))
    rc, _, err = cli(capsys, "entropy", write(tmp_path, "bad.csv", "1,2\n3\n"))
    assert rc == 2 and "error" in err
    rc, _, err = cli(capsys, "entropy", tmp_path / "missing.npy")
    assert rc == 2 and "missing.npy" in err
    rc, _, err = cli(capsys, "entropy", "--axis", "5", npy(tmp_path, x, "u.npy"))
    assert rc == 2 and "axis" in err
