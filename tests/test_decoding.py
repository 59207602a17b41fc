"""top_k and sample: against torch.topk and the pure-Python twins, the draws against the exact
restricted distribution (chi-square over 20,000 draws, fixed seeds, p-value bar 1e-4), the
edge cases and bad input."""

import math

import numpy as np
import pytest
from numpy.exceptions import AxisError

import logitkit as lk
from logitkit import reference

RNG = np.random.default_rng(25)
DRAWS = 20_000
P_BAR = 1e-4


# ---------------------------------------------------------------- top_k

def _torch_order(x, k):
    """NaN first (by index), then larger values, ties by index: a stable NumPy sort."""
    nan = np.isnan(x)
    return np.lexsort((-np.where(nan, 0, x), ~nan), axis=-1)[..., :k]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n, k", [(1, 1), (7, 3), (1000, 5), (1000, 400), (20000, 50),
                                  (3000, 3000), (500, 0)])
def test_top_k_matches_the_stable_order(dtype, n, k):
    x = (RNG.standard_normal((6, n)) * 3).astype(dtype)
    x[0] = np.sort(x[0])                       # ascending: every element passes the filter
    x[1, ::5] = np.nan
    x[2] = np.round(x[2])                      # many ties
    x[3] = np.where(RNG.random(n) < 0.5, -0.0, 0.0)
    x[4, ::3] = np.inf
    x[5, :] = -np.inf
    values, indices = lk.top_k(x, k)
    order = _torch_order(x.astype(np.float64), k)
    np.testing.assert_array_equal(indices, order)
    np.testing.assert_array_equal(values, np.take_along_axis(x, order, -1))
    assert values.dtype == dtype and indices.dtype == np.int64
    v2, i2 = lk.top_k(x, k, sorted=False)
    np.testing.assert_array_equal(np.sort(i2, -1), np.sort(order, -1))
    np.testing.assert_array_equal(v2, np.take_along_axis(x, i2, -1))


@pytest.mark.parametrize("simd", lk.simd_paths())
def test_top_k_equals_torch_topk_on_every_path(simd):
    torch = pytest.importorskip("torch")
    before = lk.simd_path()
    try:
        lk._select_simd(simd) if hasattr(lk, "_select_simd") else lk._ext.select_simd_path(simd)
        x = RNG.standard_normal((8, 5000)).astype(np.float32)
        values, indices = lk.top_k(x, 50)
        tv, ti = torch.topk(torch.from_numpy(x), 50)
        np.testing.assert_array_equal(values, tv.numpy())
        np.testing.assert_array_equal(indices, ti.numpy())
    finally:
        lk._ext.select_simd_path(before)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble, np.int8,
                                   np.int64, np.uint64, np.bool_, ">f4"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_top_k_equals_the_reference(dtype, axis):
    x = (RNG.standard_normal((4, 9, 6)) * 5).astype(dtype)
    for k in (0, 1, 3, x.shape[axis]):
        got, want = lk.top_k(x, k, axis), reference.top_k(x, k, axis)
        assert got[0].dtype == want[0].dtype == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_top_k_64_bit_integers_beyond_double():
    x = np.array([2 ** 60 + 1, 2 ** 60, 2 ** 60 + 3, -2 ** 62, 2 ** 60 + 3], np.int64)
    values, indices = lk.top_k(x, 3)
    np.testing.assert_array_equal(indices, [2, 4, 0])
    np.testing.assert_array_equal(values, [2 ** 60 + 3, 2 ** 60 + 3, 2 ** 60 + 1])


def test_top_k_threads_change_nothing():
    x = RNG.standard_normal((300, 2000)).astype(np.float32)
    with lk.threads(1):
        one = lk.top_k(x, 20)
    with lk.threads(4):
        four = lk.top_k(x, 20)
    np.testing.assert_array_equal(one[1], four[1])


@pytest.mark.parametrize("call, exc, words", [
    (lambda: lk.top_k([1.0, 2.0], 3), ValueError, ["top_k", "k=3", "n=2"]),
    (lambda: lk.top_k([1.0, 2.0], -1), ValueError, ["top_k", "k=-1"]),
    (lambda: lk.top_k([1.0, 2.0], 1.0), TypeError, ["top_k", "k"]),
    (lambda: lk.top_k([1.0, 2.0], True), TypeError, ["top_k", "k"]),
    (lambda: lk.top_k(3.0, 1), ValueError, ["top_k", "0-d"]),
    (lambda: lk.top_k([[1.0]], 1, axis=2), AxisError, ["top_k"]),
    (lambda: lk.top_k([[1.0]], 1, axis=None), TypeError, ["top_k", "axis"]),
    (lambda: lk.top_k([1j], 1), TypeError, ["top_k", "complex"]),
    (lambda: lk.top_k([[1.0], [2.0, 3.0]], 1), ValueError, ["top_k"]),
    (lambda: lk.top_k([1.0], 1, dim=0), TypeError, ["top_k", "axis="]),
])
def test_top_k_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word.lower() in str(info.value).lower(), str(info.value)


# ---------------------------------------------------------------- sample: distributions

def _restricted(x, temperature=1.0, top_k=None, top_p=None, min_p=None):
    """The exact probabilities of the restricted distribution (mpmath-free: fsum of exps)."""
    x = np.asarray(x, np.float64)
    m = x.max()
    e = np.array([math.exp((v - m) / temperature) for v in x])
    order = sorted(range(len(x)), key=lambda i: (-x[i], i))
    kept = order[:top_k] if top_k is not None else order
    if top_p is not None:
        total, before, cut = math.fsum(e[kept]), 0.0, 0
        while cut < len(kept) and before < top_p * total:
            before = math.fsum(e[kept[:cut + 1]])
            cut += 1
        kept = kept[:cut]
    if min_p is not None:
        kept = [i for i in kept if e[i] >= min_p * e[kept[0]]]
    p = np.zeros(len(x))
    p[kept] = e[kept] / math.fsum(e[kept])
    return p


def _chi_square_p(counts, p):
    from scipy import stats
    support = p > 0
    assert counts[~support].sum() == 0, f"drew classes outside the kept set: {counts}"
    expected = p[support] * counts.sum()
    if support.sum() == 1:
        return 1.0
    return stats.chisquare(counts[support], expected).pvalue


CASES = {
    "plain": {},
    "temperature": {"temperature": 0.6},
    "hot": {"temperature": 3.0},
    "top_k": {"top_k": 4},
    "top_p": {"top_p": 0.8},
    "min_p": {"min_p": 0.2},
    "all_three": {"temperature": 1.3, "top_k": 6, "top_p": 0.9, "min_p": 0.05},
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_sample_follows_the_restricted_distribution(case, dtype):
    kwargs = CASES[case]
    x = np.array([1.0, 2.5, 0.3, -1.0, 2.0, 1.7, -np.inf, 0.9, 2.4, -0.5], dtype)
    draws = lk.sample(x, size=DRAWS, rng=7, **kwargs)
    assert draws.shape == (DRAWS,) and draws.dtype == np.int64
    counts = np.bincount(draws, minlength=len(x))
    p = _restricted(x, **kwargs)
    assert _chi_square_p(counts, p) > P_BAR, (counts, p)


def test_sample_long_row_top_p_without_top_k():
    """The histogram path (a full row, top-p): the kept set is exactly the reference's."""
    x = RNG.standard_normal(3000) * 2
    draws = lk.sample(np.tile(x, (4, 1)), top_p=0.6, size=5000, rng=3)
    p = _restricted(x, top_p=0.6)
    counts = np.bincount(draws.ravel(), minlength=len(x))
    assert _chi_square_p(counts, p) > P_BAR
    assert set(np.flatnonzero(counts)) <= set(np.flatnonzero(p))


def test_sample_draws_the_references_indices():
    for seed, kwargs in enumerate([{}, {"top_k": 5}, {"top_p": 0.7}, {"min_p": 0.1},
                                   {"top_k": 10, "top_p": 0.5, "min_p": 0.05},
                                   {"temperature": 0.5, "top_p": 0.95}, {"temperature": 0}]):
        x = RNG.standard_normal((3, 4, 60)) * 2
        got = lk.sample(x, axis=1, size=30, rng=seed, **kwargs)
        want = reference.sample(x, axis=1, size=30, rng=seed, **kwargs)
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------- sample: edges

def test_top_p_one_and_top_k_n_draw_what_no_restriction_draws():
    x = RNG.standard_normal((5, 300))
    plain = lk.sample(x, size=200, rng=11)
    np.testing.assert_array_equal(lk.sample(x, size=200, rng=11, top_p=1.0), plain)
    np.testing.assert_array_equal(lk.sample(x, size=200, rng=11, top_k=300), plain)
    np.testing.assert_array_equal(lk.sample(x, size=200, rng=11, top_k=1000), plain)


def test_ties_at_the_top_p_cut_keep_the_lower_index_first():
    x = np.zeros(4)                            # p = 1/4 each, exactly
    assert set(lk.sample(x, top_p=0.5, size=2000, rng=1)) == {0, 1}
    assert set(lk.sample(x, top_p=0.51, size=2000, rng=1)) == {0, 1, 2}
    x = np.array([0.0, 1.0, 1.0, 1.0, 0.0])
    assert set(lk.sample(x, top_k=2, size=2000, rng=2)) == {1, 2}
    big = np.zeros(5000)
    assert set(lk.sample(big, top_p=0.001, size=2000, rng=3)) <= set(range(5))


def test_a_single_class_and_masked_classes():
    assert lk.sample([3.0], rng=0) == 0
    x = np.full(50, -np.inf)
    x[17] = -3.0
    assert set(lk.sample(x, size=100, rng=0)) == {17}
    x = np.array([0.0, -np.inf, 0.0, -np.inf])
    assert set(lk.sample(x, size=1000, rng=0)) == {0, 2}


def test_temperature_zero_is_the_first_maximum():
    x = np.array([[1.0, 3.0, 3.0], [-np.inf, -5.0, -np.inf]])
    np.testing.assert_array_equal(lk.sample(x, temperature=0), [1, 1])
    np.testing.assert_array_equal(lk.sample(x, temperature=0, size=3), [[1] * 3, [1] * 3])


def test_size_shapes_and_axis():
    x = RNG.standard_normal((2, 7, 3))
    assert lk.sample(x, axis=1, rng=0).shape == (2, 3)
    assert lk.sample(x, axis=1, size=4, rng=0).shape == (2, 3, 4)
    assert lk.sample(x, axis=1, size=0, rng=0).shape == (2, 3, 0)
    assert isinstance(lk.sample([1.0, 2.0], rng=0), np.int64)
    draws = lk.sample(x, axis=1, size=500, rng=0)
    assert draws.min() >= 0 and draws.max() < 7


def test_seeds_and_generators():
    x = RNG.standard_normal((3, 40))
    a = lk.sample(x, size=5, rng=123)
    np.testing.assert_array_equal(a, lk.sample(x, size=5, rng=np.random.default_rng(123)))
    used, fresh = np.random.default_rng(5), np.random.default_rng(5)
    lk.sample(x, size=2, rng=used)            # one uniform per row per draw: 6
    fresh.random(6)
    assert used.random() == fresh.random()
    assert lk.sample(x, rng=None).shape == (3,)


def test_sample_threads_change_nothing():
    x = RNG.standard_normal((400, 1000)).astype(np.float32)
    with lk.threads(1):
        one = lk.sample(x, top_p=0.9, size=3, rng=9)
    with lk.threads(4):
        four = lk.sample(x, top_p=0.9, size=3, rng=9)
    np.testing.assert_array_equal(one, four)


@pytest.mark.parametrize("row, word", [([1.0, np.nan], "nan"), ([np.inf, 0.0], "+inf"),
                                       ([-np.inf, -np.inf], "-inf")])
@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_rows_with_nothing_to_draw(row, word, temperature):
    x = np.array([[0.0, 1.0], row])
    with pytest.raises(ValueError) as info:
        lk.sample(x, temperature=temperature, rng=0)
    message = str(info.value).lower()
    assert "sample" in message and "(1,)" in message and word in message
    with pytest.raises(ValueError):
        reference.sample(x, temperature=temperature, rng=0)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"temperature": -1.0}, ValueError, ["temperature"]),
    ({"temperature": np.inf}, ValueError, ["temperature"]),
    ({"temperature": "hot"}, TypeError, ["temperature"]),
    ({"top_k": 0}, ValueError, ["top_k"]),
    ({"top_k": 2.5}, TypeError, ["top_k"]),
    ({"top_p": 0.0}, ValueError, ["top_p"]),
    ({"top_p": 1.5}, ValueError, ["top_p"]),
    ({"top_p": np.nan}, ValueError, ["top_p"]),
    ({"min_p": -0.1}, ValueError, ["min_p"]),
    ({"min_p": 2}, ValueError, ["min_p"]),
    ({"size": -1}, ValueError, ["size"]),
    ({"size": (2, 3)}, TypeError, ["size"]),
    ({"rng": "seed"}, TypeError, ["rng"]),
    ({"rng": -3}, ValueError, ["rng"]),
    ({"axis": 3}, AxisError, []),
    ({"axis": 1.0}, TypeError, ["axis"]),
    ({"dim": 0}, TypeError, ["axis="]),
])
def test_sample_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc) as info:
        lk.sample([[1.0, 2.0]], **kwargs)
    for word in ["sample"] + words:
        assert word.lower() in str(info.value).lower(), str(info.value)


def test_sample_bad_logits():
    with pytest.raises(TypeError, match="sample.*complex"):
        lk.sample([1j, 2])
    with pytest.raises(ValueError, match="sample.*0-d"):
        lk.sample(2.0)
    with pytest.raises(ValueError, match="sample.*no classes"):
        lk.sample(np.zeros((3, 0)))


# ---------------------------------------------------------------- the command line

def test_cli_top_k_and_sample(capsys, tmp_path):
    from _cli import cli, read_text, write
    src = write(tmp_path, "l.csv", "2,1,0.1,5\n0.5,-3,7.25,1\n")
    rc, out, err = cli(capsys, "top-k", src, "2")
    assert (rc, err) == (0, "")
    x = np.array([[2, 1, 0.1, 5], [0.5, -3, 7.25, 1]])
    values, indices = lk.top_k(x, 2)
    np.testing.assert_array_equal(read_text(out, ","), np.hstack([values, indices]))
    rc, out, err = cli(capsys, "sample", src, "--seed", "3", "--top-p", "0.9", "--size", "4")
    assert (rc, err) == (0, "")
    np.testing.assert_array_equal(read_text(out, ",").astype(np.int64),
                                  lk.sample(x, top_p=0.9, size=4, rng=3))
    rc, out, err = cli(capsys, "sample", src, "--min-p", "2")
    assert rc == 2 and "min_p" in err
    rc, out, err = cli(capsys, "top-k", src, "9")
    assert rc == 2 and "k=9" in err


# ---------------------------------------------------------------- other libraries' arrays

def test_torch_tensors_and_pandas():
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(RNG.standard_normal((3, 6)))
    values, indices = lk.top_k(t, 2)
    assert isinstance(values, torch.Tensor) and isinstance(indices, torch.Tensor)
    np.testing.assert_array_equal(indices.numpy(), lk.top_k(t.numpy(), 2)[1])
    draws = lk.sample(t, rng=4)
    assert isinstance(draws, torch.Tensor)
    np.testing.assert_array_equal(draws.numpy(), lk.sample(t.numpy(), rng=4))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(t.numpy(), index=list("abc"))
    drawn = lk.sample(frame, rng=4)
    assert list(drawn.index) == ["a", "b", "c"]
    np.testing.assert_array_equal(drawn.to_numpy(), lk.sample(t.numpy(), rng=4))
    with pytest.raises(TypeError, match="sample.*masked"):
        lk.sample(np.ma.masked_array([1.0, 2.0], mask=[True, False]))
