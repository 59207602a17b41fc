"""Tests of the losses and vector-Jacobian products: cross_entropy,
binary_cross_entropy_with_logits, softmax_backward, log_softmax_backward, sigmoid_backward.

Checked against the pure-Python twins (logitkit.reference), PyTorch's values and autograd
gradients (when torch is installed), finite differences, and an mpmath oracle in ULPs; plus the
bad-argument matrix and the contract's edge rules (no warnings: pytest turns them into errors).
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import logitkit as lk
from logitkit import reference as R
from _loss_cases import adversarial_rows, logits, ulp_error

mp = mpmath.mp
mp.dps = 60
F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def exact_ce(row, y):
    """logsumexp(row) - row[y] = (m - row[y]) + log1p(sum of the terms but one max), to 60
    digits even when the log1p is 1e-119."""
    xs = [mp.mpf(float(v)) for v in row if v != -np.inf]
    top = max(range(len(xs)), key=lambda i: xs[i])
    m = xs[top]
    L = mp.log1p(mp.fsum(mp.exp(v - m) for i, v in enumerate(xs) if i != top))
    return (m - mp.mpf(float(row[y]))) + L


def exact_softmax(row):
    xs = [mp.mpf(float(v)) for v in row]
    m = max(xs)
    es = [mp.exp(v - m) for v in xs]
    s = mp.fsum(es)
    return [e / s for e in es]


def exact_ce_grad(row, y):
    """softmax(row) - onehot(y); at y as -(sum of the other terms) / total (no 1 - p)."""
    xs = [mp.mpf(float(v)) for v in row]
    m = max(xs)
    es = [mp.exp(v - m) for v in xs]
    s = mp.fsum(es)
    g = [e / s for e in es]
    g[y] = -mp.fsum(e for k, e in enumerate(es) if k != y) / s
    return g


def close_ulps(a, b, dtype, max_ulp):
    """a and b agree to max_ulp ULPs of the larger (NaNs and infs must match)."""
    a = np.atleast_1d(np.asarray(a, np.float64))
    b = np.atleast_1d(np.asarray(b, np.float64))
    assert a.shape == b.shape
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.finfo(dtype).tiny)
    with np.errstate(invalid="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b) / np.spacing(scale.astype(dtype)).astype(np.float64))
    worst = np.nanmax(np.where(np.isnan(diff), np.inf, diff)) if diff.size else 0.0
    assert worst <= max_ulp, f"worst difference {worst} ULP at {np.unravel_index(np.argmax(diff), diff.shape)}"




# ---------------------------------------------------------------------------------------------
# the seeds' worked example
# ---------------------------------------------------------------------------------------------

def test_seeds_example():
    # logits [2.0, 1.0, 0.1] against class 0: softmax[0] = 0.659..., loss = -log(0.659) = 0.417
    loss = lk.cross_entropy([2.0, 1.0, 0.1], 0)
    assert isinstance(loss, np.float64)
    p0 = lk.softmax([2.0, 1.0, 0.1])[0]
    assert abs(p0 - 0.6590011388859679) < 1e-15
    assert abs(loss - (-math.log(p0))) < 1e-15
    assert round(float(loss), 3) == 0.417
    exact = mp.log(mp.exp(2) + mp.exp(1) + mp.exp(mp.mpf(0.1))) - 2
    assert ulp_error(loss, exact, F64) <= 0.5                    # correctly rounded here
    assert ulp_error(R.cross_entropy([2.0, 1.0, 0.1], 0), exact, F64) <= 2
    loss, grad = lk.cross_entropy([[2.0, 1.0, 0.1]], [0], return_grad=True)
    np.testing.assert_allclose(grad, [lk.softmax([2.0, 1.0, 0.1]) - [1, 0, 0]], rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# against the reference twins
# ---------------------------------------------------------------------------------------------

CE_OPTIONS = [{}, {"weight": True}, {"label_smoothing": 0.1}, {"weight": True, "label_smoothing": 0.3},
              {"ignore_index": 1}]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3, 10, 33, 100])
@pytest.mark.parametrize("opts", CE_OPTIONS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_index_matches_reference(dtype, n, opts, reduction):
    rng = np.random.default_rng(n)
    x = logits(rng, (17, n), dtype)
    x[0] = -40
    x[0, 0] = 0                                         # a confident row
    y = rng.integers(0, n, 17)
    y[0] = 0
    y[3] = opts.get("ignore_index", -100)
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.random(n) + 0.1
    loss, grad = lk.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    rloss, rgrad = R.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
    assert loss.dtype == dtype and grad.dtype == dtype and grad.shape == x.shape
    close_ulps(loss, rloss, dtype, 8 if reduction != "none" else 4)
    assert np.array_equal(lk.cross_entropy(x, y, reduction=reduction, **kw), loss, equal_nan=True) \
        or close_ulps(lk.cross_entropy(x, y, reduction=reduction, **kw), loss, dtype, 4) is None
    if opts.get("label_smoothing"):
        # T p - q cancels: agreement to the rounding of the larger term
        scale = max(np.abs(rgrad).max(), 1.0 / len(x))
        np.testing.assert_allclose(grad, rgrad, rtol=0, atol=8 * np.finfo(dtype).eps * scale)
    else:
        close_ulps(grad, rgrad, dtype, 8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [4, 40])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_zero_class_weight_contributes_nothing_even_at_minus_inf(dtype, n, eps):
    """Regression: weight 0 on a target whose logit is -inf gave NaN (0 * inf; the short-row
    kernel gave inf); the reference leaves a zero-weight term out: loss 0."""
    x = np.zeros((3, n), dtype)
    x[1, 1] = -np.inf
    w = np.ones(n)
    w[1] = 0.0
    y = np.array([0, 1, 2])
    loss, grad = lk.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none",
                                  return_grad=True)
    rloss, rgrad = R.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none",
                                   return_grad=True)
    if eps == 0.0:
        assert loss[1] == 0.0
    close_ulps(loss, rloss, dtype, 4)
    # against the exact gradient (row 1 balances to exactly 0 under smoothing, where the
    # reference's double arithmetic leaves ~1e-18)
    for r in range(len(x)):
        exact, terms = exact_soft_grad(x[r], exact_soft_q(None, n, eps, w, y=y[r]))
        for j in range(n):
            assert soft_grad_within_bound(grad[r, j], exact[j], terms[j], dtype), (r, j)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 9, 32])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_many_short_rows(n, weighted, dtype, each_simd_path):
    """Rows of up to 32 classes run across vector lanes (ce_short), 64 rows a block: every
    group and block boundary, with ignored rows, NaN / +inf / all -inf rows, a -inf target
    logit, a confident row, a large common offset, m - x_t past the dtype's max and a zero
    class weight among them."""
    rng = np.random.default_rng(n)
    big = float(np.finfo(dtype).max)
    x = logits(rng, (130, n), dtype, spread=4)
    y = rng.integers(0, n, 130)
    x[3, 1] = np.nan
    x[8, 0] = np.inf
    x[13] = -np.inf
    x[21, y[21]] = -np.inf
    x[34] = -40
    x[34, y[34]] = 0
    x[45] += 1e4
    x[50], x[50, 0], y[50] = -big, big, 1
    y[[5, 64, 129]] = -100                              # ignored
    kw = {"weight": rng.random(n) + 0.1} if weighted else {}
    if weighted:
        kw["weight"][y[40]] = 0.0
    for reduction in ("none", "sum"):
        loss, grad = lk.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
        rloss, rgrad = R.cross_entropy(x, y, reduction=reduction, return_grad=True, **kw)
        close_ulps(loss, rloss, dtype, 4)
        close_ulps(grad, rgrad, dtype, 4)
        close_ulps(lk.cross_entropy(x, y, reduction=reduction, **kw), rloss, dtype, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 4, 40])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.2}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities_match_reference(dtype, n, opts, reduction):
    rng = np.random.default_rng(7 + n)
    x = logits(rng, (9, n), dtype)
    p = rng.random((9, n)).astype(dtype)
    p /= p.sum(axis=1, keepdims=True)
    p[1, 0] = 0                                        # a class with no mass
    kw = dict(opts)
    if kw.pop("weight", False):
        kw["weight"] = rng.random(n) + 0.1
    loss, grad = lk.cross_entropy(x, p, reduction=reduction, return_grad=True, **kw)
    rloss, rgrad = R.cross_entropy(x, p, reduction=reduction, return_grad=True, **kw)
    close_ulps(loss, rloss, dtype, 8)
    np.testing.assert_allclose(grad, rgrad, rtol=0, atol=8 * np.finfo(dtype).eps * max(np.abs(rgrad).max(), 1.0 / len(x)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"pos_weight": True}, {"weight": True, "pos_weight": True}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_matches_reference(dtype, opts, reduction):
    rng = np.random.default_rng(3)
    x = logits(rng, (13, 6), dtype, spread=10)
    x[0, :3] = [np.finfo(dtype).max, -np.finfo(dtype).max, 0]
    t = (rng.random((13, 6)) < 0.4).astype(dtype)
    t[1] = rng.random(6)                                # soft labels
    kw = {}
    if opts.get("weight"):
        kw["weight"] = rng.random((13, 1)) + 0.5
    if opts.get("pos_weight"):
        kw["pos_weight"] = rng.random(6) * 3
    loss, grad = lk.binary_cross_entropy_with_logits(x, t, reduction=reduction, return_grad=True, **kw)
    rloss, rgrad = R.binary_cross_entropy_with_logits(x, t, reduction=reduction, return_grad=True, **kw)
    close_ulps(loss, rloss, dtype, 8)
    np.testing.assert_allclose(grad, rgrad, rtol=0, atol=8 * np.finfo(dtype).eps * np.abs(rgrad).max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((7, 1), -1), ((5, 12), -1), ((4, 37), 1), ((6, 5, 3), 1),
                                        ((3, 4, 5), (0, 2)), ((9,), 0)])
def test_backward_functions_match_reference(dtype, shape, axis, each_simd_path):
    rng = np.random.default_rng(11)
    x = logits(rng, shape, dtype, spread=5)
    x.reshape(-1)[0] = 40
    go = rng.standard_normal(shape).astype(dtype)
    s, ls, sg = lk.softmax(x, axis), lk.log_softmax(x, axis), lk.sigmoid(x)
    close_ulps(lk.softmax_backward(go, s, axis), R.softmax_backward(go, s, axis), dtype, 2)
    ref = R.log_softmax_backward(go, ls, axis)
    got = lk.log_softmax_backward(go, ls, axis)
    np.testing.assert_allclose(got, ref, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps * np.abs(ref).max())
    close_ulps(lk.sigmoid_backward(go, sg), R.sigmoid_backward(go, sg), dtype, 2)


@pytest.mark.parametrize("n", [1, 10, 16, 17, 32])
def test_short_float32_rows_every_lane_count(n, each_simd_path):
    """bwd_short_rows and ce_short move float32 rows into vector lanes and back (on AVX2 and
    AVX-512 as 8 x 8 and 16 x 16 blocks transposed in registers, masked at a row's end): every
    number of rows in a block's last group of 8 or 16, each value back in its own place."""
    rng = np.random.default_rng(n)
    for rows in range(2, 35):
        x = logits(rng, (rows, n), np.float32, spread=4)
        go = rng.standard_normal((rows, n)).astype(np.float32)
        y = rng.integers(0, n, rows)
        s, ls = lk.softmax(x), lk.log_softmax(x)
        close_ulps(lk.softmax_backward(go, s), R.softmax_backward(go, s), np.float32, 2)
        ref = R.log_softmax_backward(go, ls)
        np.testing.assert_allclose(lk.log_softmax_backward(go, ls), ref, rtol=4 * 2.0**-23,
                                   atol=4 * 2.0**-23 * np.abs(ref).max())
        loss, grad = lk.cross_entropy(x, y, reduction="none", return_grad=True)
        rloss, rgrad = R.cross_entropy(x, y, reduction="none", return_grad=True)
        close_ulps(loss, rloss, np.float32, 4)
        close_ulps(grad, rgrad, np.float32, 4)


# ---------------------------------------------------------------------------------------------
# accuracy against mpmath (SIMD paths: each one this CPU has)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 10, 41, 300])
def test_cross_entropy_ulp_vs_mpmath(dtype, n, each_simd_path):
    rng = np.random.default_rng(n)
    x = adversarial_rows(dtype, n, rng)
    worst_loss = worst_grad = 0.0
    for y_pick in ("max", "min", "mid"):
        if y_pick == "max":
            y = np.argmax(x, axis=1)
        elif y_pick == "min":
            y = np.argmin(np.where(np.isinf(x), 0, x), axis=1)
        else:
            y = np.full(len(x), n // 2)
        loss, grad = lk.cross_entropy(x, y, reduction="none", return_grad=True)
        loss_only = lk.cross_entropy(x, y, reduction="none")
        for r in range(len(x)):
            exact = exact_ce(x[r], y[r])
            worst_loss = max(worst_loss, ulp_error(loss[r], exact, dtype),
                             ulp_error(loss_only[r], exact, dtype))
            g = exact_ce_grad(x[r], y[r])
            for j in range(n):
                worst_grad = max(worst_grad, ulp_error(grad[r, j], g[j], dtype))
    assert worst_loss <= 4, worst_loss
    assert worst_grad <= 4, worst_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_confident_row_keeps_its_tiny_loss(dtype):
    x = np.array([[0.0, -40.0], [0.0, -17.0], [-40.0, 0.0]], dtype)
    loss = lk.cross_entropy(x, [0, 0, 0], reduction="none")
    assert ulp_error(loss[0], mp.log1p(mp.exp(-40)), dtype) <= 1      # naive log(softmax): 0
    assert loss[0] > 0 and loss[1] > 0
    assert ulp_error(loss[2], 40 + mp.log1p(mp.exp(-40)), dtype) <= 1   # huge-margin wrong


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_ulp_vs_mpmath(dtype, each_simd_path):
    big = float(np.finfo(dtype).max)
    x = np.array([0.0, 1e-30, -1e-30, 0.5, -3.0, 17.0, -17.0, 40.0, -40.0, 100.0, -100.0,
                  700.0, -700.0, big, -big], dtype)
    for tv in (0.0, 1.0):
        t = np.full(x.shape, tv, dtype)
        loss, grad = lk.binary_cross_entropy_with_logits(x, t, reduction="none", return_grad=True)
        for i, v in enumerate(x.tolist()):
            v = mp.mpf(v)
            exact = mp.log1p(mp.exp(-v)) if tv == 1 else mp.log1p(mp.exp(v))
            assert ulp_error(loss[i], exact, dtype) <= 2, (v, tv, loss[i])
            exact_grad = 1 / (1 + mp.exp(-v)) if tv == 0 else -1 / (1 + mp.exp(v))
            assert ulp_error(grad[i], exact_grad, dtype) <= 2, (v, tv, grad[i])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_soft_target_gradient_keeps_its_digits(dtype, each_simd_path):
    """Targets equal to the model's own sigmoid: the gradient (1 - t) sigma(x) - pw t
    sigma(-x) cancels to the targets' rounding. Within 4 ulp of the exact value (float64:
    or within 2^-48 of the two cancelling terms). Regressions: float32 took exp(-|x|) to
    1e-10 only (exp_lp), ~7e5 ulp off here; then double's ~2^-52 of the terms, 28 ulp."""
    rng = np.random.default_rng(11)
    x = logits(rng, 1500, dtype, spread=4)
    t = lk.sigmoid(x)
    for pw in (1.0, 2.0):
        _, grad = lk.binary_cross_entropy_with_logits(
            x, t, pos_weight=np.full(x.shape, pw), reduction="sum", return_grad=True)
        for i, v in enumerate(x.tolist()):
            v, tv = mp.mpf(v), mp.mpf(float(t[i]))
            a, b = (1 - tv) / (1 + mp.exp(-v)), pw * tv / (1 + mp.exp(v))
            err = abs(mp.mpf(float(grad[i])) - (a - b))
            ulps = ulp_error(grad[i], a - b, dtype)
            # float32: 4 ulp wherever it cancels (the double-double tier); float64: double's
            # own bound against the terms
            assert ulps <= 4 or (dtype == np.float64 and err <= mp.ldexp(a + b, -48)), (
                pw, i, ulps, err / (a + b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_balanced_target_at_tiny_logits(dtype, each_simd_path):
    """t = 1/2 and |x| tiny: the gradient sigma(x)/2 - sigma(-x)/2 = tanh(x/2)/2 ~ x/4, where
    both terms round to 1/4 in double. float32 keeps it to 4 ulp (the double-double tier;
    it returned 0 before); float64 is within double's bound against the terms (2^-48 of 1/2)."""
    x = np.array([1e-17, -3e-20, 1e-30, -2e-8, 6e-5], dtype)
    t = np.full(x.shape, 0.5, dtype)
    _, grad = lk.binary_cross_entropy_with_logits(x, t, reduction="sum", return_grad=True)
    for got, v in zip(grad.tolist(), x.tolist()):
        exact = mp.tanh(mp.mpf(v) / 2) / 2
        err = abs(mp.mpf(got) - exact)
        assert ulp_error(got, exact, dtype) <= 4 or (
            dtype == np.float64 and err <= mp.ldexp(1, -49)), (v, got)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 17, 33])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_smoothing_and_soft_targets_every_path(n, weighted, dtype, each_simd_path):
    """Label smoothing and probability targets run vector loops (smoothing_sums,
    smoothing_grad): every row length around the vector widths, with and without class
    weights, a -inf logit beside finite ones, on each SIMD path, against the reference."""
    rng = np.random.default_rng(n)
    x = logits(rng, (5, n), dtype, spread=5)
    if n > 1:
        x[2, n - 1] = -np.inf
    p = rng.random((5, n))
    p /= p.sum(axis=1, keepdims=True)
    p = p.astype(dtype)
    t = np.array([0, n - 1, 0, n // 2, n - 1])
    kw = {"weight": rng.random(n) + 0.1} if weighted else {}
    for target, extra in ((t, {"label_smoothing": 0.2}), (p, {}), (p, {"label_smoothing": 0.1})):
        loss, grad = lk.cross_entropy(x, target, reduction="none", return_grad=True, **extra, **kw)
        rloss, rgrad = R.cross_entropy(x, target, reduction="none", return_grad=True, **extra,
                                       **kw)
        close_ulps(loss, rloss, dtype, 8)
        np.testing.assert_allclose(grad, rgrad, rtol=0,
                                   atol=8 * np.finfo(dtype).eps * np.abs(rgrad).max())


def soft_grad_within_bound(got, exact, terms, dtype):
    """A gradient T p_j - q_j within 4 ulp of its exact value, or within the arithmetic's bound
    against the two terms that cancel: float64 rounds them in double (2^-48 of them), float32
    redoes deep cancellations in double-double (2^-96: below it the exact value is < 2^-70 of
    the terms, an exact balance such as smoothing's eps / n against a uniform T p_j)."""
    floor = -48 if dtype == np.float64 else -96
    err = abs(mp.mpf(float(got)) - exact)
    return ulp_error(got, exact, dtype) <= 4 or err <= mp.ldexp(terms, floor)


def exact_soft_grad(row, q):
    """T softmax(row) - q, T = sum(q), each term to 60 digits; with the terms' magnitudes."""
    xs = [mp.mpf(float(v)) for v in row]
    m = max(xs)
    es = [mp.exp(v - m) for v in xs]
    total = mp.fsum(es)
    T = mp.fsum(q)
    tp = [T * e / total for e in es]
    return [a - b for a, b in zip(tp, q)], [abs(a) + abs(b) for a, b in zip(tp, q)]


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_target_gradient_keeps_its_digits(dtype, eps, each_simd_path):
    """Self-distillation: targets equal to the model's own softmax, so T p_j - q_j cancels to
    the targets' rounding (~2^-25 of p_j in float32). The gradient must come from p_j in
    double: within 4 ulp of the exact value, or within the bound of soft_grad_within_bound
    against the terms T p_j and q_j that cancel. Regression: float32 took the row's sum from
    float exps (2^-25 relative), ~10^8 ulp off here."""
    rng = np.random.default_rng(7)
    for n, spread in ((5, 0.1), (27, 1.0), (40, 5.0), (300, 3.0)):
        x = logits(rng, (3, n), dtype, spread)
        t = lk.softmax(x)
        _, grad = lk.cross_entropy(x, t, label_smoothing=eps, reduction="sum", return_grad=True)
        for r in range(len(x)):
            exact, terms = exact_soft_grad(x[r], exact_soft_q(t[r], n, eps, None))
            for j in range(n):
                assert soft_grad_within_bound(grad[r, j], exact[j], terms[j], dtype), (
                    n, r, j, ulp_error(grad[r, j], exact[j], dtype))


def exact_soft_q(t, n, eps, w, y=None):
    """q_j = ((1 - eps) t_j + eps / n) w_j (class index y: t is its one-hot), exactly."""
    keep, share = 1 - mp.mpf(eps), mp.mpf(eps) / n
    row = [mp.mpf(1) if j == y else mp.mpf(0) for j in range(n)] if y is not None else t
    return [(keep * mp.mpf(float(v)) + share) * (mp.mpf(float(w[j])) if w is not None else 1)
            for j, v in enumerate(row)]


@pytest.mark.parametrize("n", [3, 10, 67, 700])
def test_float32_soft_gradients_within_4_ulp_where_they_cancel(n, each_simd_path):
    """float32 gradients T p_j - q_j that cancel below double's reach (targets that are the
    model's own softmax, rounded; label smoothing or class indices whose p matches q) are
    redone in double-double lanes: 4 ulp of the exact value, not of the terms. Rows with a
    large common offset, a -inf logit, class weights, smoothing, and class-index targets whose
    q is made to match p. Regression: 300 ulp (self-distillation, 3000 classes) and 31 ulp in
    the bench before the double-double tier."""
    rng = np.random.default_rng(n)
    x = logits(rng, (4, n), np.float32, spread=3.0)
    x[1] += np.float32(3000.0)
    if n > 3:
        x[2, 1] = -np.inf
    t = lk.softmax(x)
    w = (rng.random(n) + 0.5) if n > 3 else None
    cases = [(t, 0.0, None), (t, 0.0, w), (t, 0.1, None)]
    for target, eps, weight in cases:
        _, grad = lk.cross_entropy(x, target, label_smoothing=eps, weight=weight,
                                   reduction="sum", return_grad=True)
        for r in range(len(x)):
            exact, _ = exact_soft_grad(x[r], exact_soft_q(target[r], n, eps, weight))
            for j in range(n):
                assert ulp_error(grad[r, j], exact[j], np.float32) <= 4, (eps, r, j)
    # a class index under smoothing, with class weights chosen so that q_j = eps / n w_j
    # matches T p_j to double's rounding of w_j, for every j but the target
    eps, y = 0.25, n // 2
    for r in range(len(x)):
        xs = [mp.mpf(float(v)) for v in x[r]]
        es = [mp.exp(v - max(xs)) for v in xs]
        p = [e / mp.fsum(es) for e in es]
        rest = mp.fsum(pj for j, pj in enumerate(p) if j != y)
        T = ((1 - mp.mpf(eps)) + mp.mpf(eps) / n) / (1 - rest)
        w_match = np.array([1.0 if j == y else float(n * T / eps * p[j]) for j in range(n)])
        _, grad = lk.cross_entropy(x[r:r + 1], np.array([y]), label_smoothing=eps,
                                   weight=w_match, reduction="sum", return_grad=True)
        exact, _ = exact_soft_grad(x[r], exact_soft_q(None, n, eps, w_match, y=y))
        for j in range(n):
            assert ulp_error(grad[0, j], exact[j], np.float32) <= 4, ("index", r, j)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_losses_reduce_to_inf(dtype, reduction, each_simd_path):
    """A +inf per-sample loss, or finite ones whose sum overflows, reduce to +inf as PyTorch's
    do. Regression: the compensated totals met inf - inf in their error terms and gave NaN."""
    big = float(np.finfo(dtype).max)
    x = np.array([[0.0, -np.inf], [0.0, 1.0]], dtype)
    cases = [(x, np.array([1, 0]), {}),
             (x, np.array([[0.5, 0.5], [1.0, 0.0]], dtype), {}),
             (x, np.array([0, 1]), {"label_smoothing": 0.1}),
             ]
    if reduction == "sum":              # the mean of two losses of ~max is finite
        cases.append((np.array([[0.0, -big], [0.0, -big]], dtype), np.array([1, 1]), {}))
    for logits_, target, kw in cases:
        for grad in (False, True):
            got = lk.cross_entropy(logits_, target, reduction=reduction, return_grad=grad, **kw)
            loss = got[0] if grad else got
            assert loss == np.inf, (logits_, target, kw, loss)
    xb = np.array([-big, -big, 1.0], dtype)
    for kw in ({}, {"weight": np.array([3.0, 1.0, 1.0])}) if reduction == "sum" else ():
        loss = lk.binary_cross_entropy_with_logits(xb, np.ones(3, dtype), reduction=reduction, **kw)
        assert loss == np.inf, (kw, loss)


def test_bce_float32_loss_is_the_same_with_or_without_grad(each_simd_path):
    """The per-element loss must not depend on return_grad (both take one exp(-|x|))."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(200_000) * 3).astype(F32)
    t = rng.random(200_000).astype(F32)
    alone = lk.binary_cross_entropy_with_logits(x, t, reduction="none")
    with_grad, _ = lk.binary_cross_entropy_with_logits(x, t, reduction="none", return_grad=True)
    np.testing.assert_array_equal(alone, with_grad)


@pytest.mark.parametrize("n", [3, 10, 33, 1000])
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_loss_is_the_same_with_or_without_grad(n, dtype, each_simd_path):
    """The per-row loss must not depend on return_grad: with it the exps are also stored (in
    the gradient, or for float32's soft targets a row of doubles), and the sums they give must
    be the very same, for class indices, smoothing, weights and probability targets."""
    rng = np.random.default_rng(n)
    x = logits(rng, (64, n), dtype, spread=4)
    p = rng.random((64, n))
    p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    y = rng.integers(0, n, 64)
    w = rng.random(n) + 0.1
    for target, kw in ((y, {}), (y, {"label_smoothing": 0.1}), (p, {}),
                       (p, {"label_smoothing": 0.2}), (y, {"weight": w, "label_smoothing": 0.1}),
                       (p, {"weight": w})):
        alone = lk.cross_entropy(x, target, reduction="none", **kw)
        with_grad, _ = lk.cross_entropy(x, target, reduction="none", return_grad=True, **kw)
        np.testing.assert_array_equal(alone, with_grad, err_msg=str(kw))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_bce_float64_total_is_compensated(reduction, each_simd_path):
    """The float64 total is a compensated sum of the per-sample losses: one loss of 1e8 among
    100,002 of ~1e-8 (each below half an ulp of 1e8) must not swallow them (a plain 8-lane
    sum loses ~1e-4, thousands of ulp). Odd length: the vector tail takes part."""
    x = np.full(100_003, 18.42, np.float64)                 # loss log1p(exp(-18.42)) ~ 1e-8
    x[50_001] = -1e8                                          # loss ~ 1e8
    t = np.ones_like(x)
    each = lk.binary_cross_entropy_with_logits(x, t, reduction="none")
    total = lk.binary_cross_entropy_with_logits(x, t, reduction=reduction)
    want = math.fsum(each.tolist()) / (len(x) if reduction == "mean" else 1)
    assert ulp_error(total, mp.mpf(want), np.float64) <= 1, (total, want)


# ---------------------------------------------------------------------------------------------
# edges: layouts, dtypes, special values
# ---------------------------------------------------------------------------------------------

def test_layouts_and_dtypes_agree():
    rng = np.random.default_rng(12)
    x = logits(rng, (6, 5), F64)
    y = rng.integers(0, 5, 6)
    base = lk.cross_entropy(x, y, reduction="none")
    # transposed (F-ordered), strided, negative strides, big-endian, lists, int32 targets
    assert np.array_equal(lk.cross_entropy(np.asfortranarray(x), y, reduction="none"), base)
    xs = np.zeros((6, 10))
    xs[:, ::2] = x
    assert np.array_equal(lk.cross_entropy(xs[:, ::2], y, reduction="none"), base)
    assert np.array_equal(lk.cross_entropy(x[::-1], y[::-1], reduction="none"), base[::-1])
    assert np.array_equal(lk.cross_entropy(x.astype(">f8"), y.astype(np.int32), reduction="none"), base)
    assert np.array_equal(lk.cross_entropy(x.tolist(), y.tolist(), reduction="none"), base)
    assert np.array_equal(lk.cross_entropy(x.T, y, axis=0, reduction="none"), base)
    ro = x.copy()
    ro.flags.writeable = False
    assert np.array_equal(lk.cross_entropy(ro, y, reduction="none"), base)
    # float16 in float32, returned as float16; ints as float64
    h = lk.cross_entropy(x.astype(np.float16), y, reduction="none")
    assert h.dtype == np.float16
    assert lk.cross_entropy(np.array([[2, 1, 0]]), [0]).dtype == np.float64
    l16, g16 = lk.cross_entropy(x.astype(np.float16), y, return_grad=True)
    assert l16.dtype == np.float16 and g16.dtype == np.float16


def test_inputs_not_modified():
    rng = np.random.default_rng(13)
    x = logits(rng, (4, 6), F32)
    y = np.array([0, 1, 2, 3])
    x0, y0 = x.copy(), y.copy()
    lk.cross_entropy(x, y, return_grad=True)
    lk.cross_entropy(x, lk.softmax(x), return_grad=True, label_smoothing=0.1)
    lk.binary_cross_entropy_with_logits(x, lk.sigmoid(x), return_grad=True)
    assert np.array_equal(x, x0) and np.array_equal(y, y0)


def test_one_row_and_scalar_target():
    loss, grad = lk.cross_entropy([1.0, 2.0, 3.0], 2, reduction="none", return_grad=True)
    assert np.ndim(loss) == 0 and grad.shape == (3,)
    np.testing.assert_allclose(loss, math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype):
    x = np.array([[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf] * 3, [0.0, -np.inf, 1.0],
                  [0.0, 1.0, 2.0]], dtype)
    y = np.array([0, 1, 2, 1, 2])
    only = lk.cross_entropy(x, y, reduction="none")           # float32: the short-row kernel
    loss, grad = lk.cross_entropy(x, y, reduction="none", return_grad=True)
    assert np.array_equal(only, loss, equal_nan=True)
    assert np.isnan(loss[:3]).all() and np.isnan(grad[:3]).all()
    assert loss[3] == np.inf                                  # target logit -inf
    assert grad[3, 1] == -1.0 and grad[3, 0] > 0
    assert np.isfinite(loss[4])
    rl = R.cross_entropy(x, y, reduction="none")
    assert np.array_equal(loss, rl, equal_nan=True)
    # BCE at the extremes: finite, exact
    big = np.finfo(dtype).max
    lb = lk.binary_cross_entropy_with_logits(np.array([big, -big, np.inf, -np.inf, np.nan], dtype),
                                             np.array([1.0, 0.0, 1.0, 0.0, 1.0], dtype),
                                             reduction="none")
    assert np.array_equal(lb, [0.0, 0.0, 0.0, 0.0, np.nan], equal_nan=True)
    lb = lk.binary_cross_entropy_with_logits(np.array([big, -big], dtype), np.array([0.0, 1.0], dtype),
                                             reduction="none")
    assert np.array_equal(lb, [big, big])


def test_ignored_and_empty():
    x = np.zeros((3, 4))
    assert np.isnan(lk.cross_entropy(x, [-100, -100, -100]))        # mean over nothing
    assert lk.cross_entropy(x, [-100, -100, -100], reduction="sum") == 0.0
    loss, grad = lk.cross_entropy(x, [-100, 1, -100], return_grad=True)
    assert np.array_equal(grad[[0, 2]], np.zeros((2, 4)))
    np.testing.assert_allclose(grad[1], [0.25, -0.75, 0.25, 0.25])
    e = np.zeros((0, 4))
    assert np.isnan(lk.cross_entropy(e, np.zeros(0, int)))
    assert lk.cross_entropy(e, np.zeros(0, int), reduction="sum") == 0.0
    assert lk.cross_entropy(e, np.zeros(0, int), reduction="none").shape == (0,)
    loss, grad = lk.cross_entropy(e, np.zeros(0, int), return_grad=True)
    assert grad.shape == (0, 4)
    assert lk.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0), reduction="none").shape == (0,)
    assert np.isnan(lk.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))
    assert lk.softmax_backward(np.zeros((2, 0)), np.zeros((2, 0))).shape == (2, 0)
    assert lk.sigmoid_backward(np.zeros(0), np.zeros(0)).shape == (0,)


def test_backward_out_and_in_place():
    rng = np.random.default_rng(14)
    x = logits(rng, (5, 6), F32)
    go = rng.standard_normal((5, 6)).astype(F32)
    s = lk.softmax(x)
    want = lk.softmax_backward(go, s)
    out = np.empty_like(go)
    assert lk.softmax_backward(go, s, out=out) is out and np.array_equal(out, want)
    g2 = go.copy()
    lk.softmax_backward(g2, s, out=g2)                       # in place over grad_output
    assert np.array_equal(g2, want)
    ls = lk.log_softmax(x)
    want = lk.log_softmax_backward(go, ls)
    o = np.empty((6, 5), F32).T                              # any layout
    lk.log_softmax_backward(go, ls, out=o)
    assert np.array_equal(o, want)
    sg = lk.sigmoid(x)
    y2 = sg.copy()
    assert np.array_equal(lk.sigmoid_backward(go, y2, out=y2), lk.sigmoid_backward(go, sg))
    assert np.ndim(lk.sigmoid_backward(1.0, 0.5)) == 0 and lk.sigmoid_backward(1.0, 0.5) == 0.25


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward", "sigmoid_backward"])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_backward_out_overlapping_an_input(name, dtype):
    """A C-ordered out= that shares memory with an input without being it (here one element
    along a shared buffer) must not be written while the inputs are still read: the thin call
    path leaves it to the general path's temporary."""
    rng = np.random.default_rng(15)
    fn = getattr(lk, name)
    x = logits(rng, (4, 6), dtype)
    y = lk.sigmoid(x) if name == "sigmoid_backward" else (
        lk.softmax(x) if name == "softmax_backward" else lk.log_softmax(x))
    go = rng.standard_normal((4, 6)).astype(dtype)
    want = fn(go, y)
    for which in ("grad_output", "output"):
        buf = np.zeros(25, dtype)
        shared = buf[:24].reshape(4, 6)
        shared[...] = go if which == "grad_output" else y
        out = buf[1:].reshape(4, 6)
        args = (shared, y) if which == "grad_output" else (go, shared)
        assert fn(*args, out=out) is out
        np.testing.assert_array_equal(out, want, err_msg=f"{name}: out overlapping {which}")


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 5), n=st.integers(1, 40), spread=st.sampled_from([1e-3, 1.0, 30.0, 300.0]),
       seed=st.integers(0, 2 ** 32 - 1), dtype=st.sampled_from(DTYPES), smooth=st.sampled_from([0.0, 0.25]))
def test_property_matches_reference(rows, n, spread, seed, dtype, smooth):
    rng = np.random.default_rng(seed)
    x = logits(rng, (rows, n), dtype, spread)
    y = rng.integers(0, n, rows)
    got = lk.cross_entropy(x, y, label_smoothing=smooth, reduction="none")
    ref = R.cross_entropy(x, y, label_smoothing=smooth, reduction="none")
    close_ulps(got, ref, dtype, 4)
    assert (got >= 0).all()


# regression: a mean whose denominator (the targets' total weight) is 0 was +inf with label
# smoothing; PyTorch and the reference give NaN, and NaN gradients (rows that are ignored keep
# their exact 0 gradient)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_mean_over_zero_total_weight_is_nan(dtype):
    x = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]], dtype)
    for ls in (0.0, 0.1, 1.0):
        for y in ([0, -100], [0, 0]):
            kw = dict(weight=np.array([0.0, 1.0, 1.0], dtype), label_smoothing=ls)
            loss = lk.cross_entropy(x, y, **kw)
            assert np.isnan(loss) and loss.dtype == dtype
            loss, grad = lk.cross_entropy(x, y, return_grad=True, **kw)
            ref_loss, ref_grad = R.cross_entropy(x, np.array(y), return_grad=True, **kw)
            assert np.isnan(loss) and np.isnan(ref_loss)
            np.testing.assert_array_equal(grad, ref_grad)
            assert np.isnan(grad[0]).all()
            if y[1] == -100:
                assert (grad[1] == 0).all()
    assert np.isnan(lk.cross_entropy(x[:1], [0], weight=[0.0, 1.0, 1.0], label_smoothing=0.1))


# regression: the gradient of binary cross-entropy at a confident right answer (x = 800,
# t = 1) was +0.0 in float64; its true value -exp(-800) rounds to -0.0 (float32 was right)
@pytest.mark.parametrize("dtype, big", [(np.float64, 800.0), (np.float32, 120.0)])
def test_gradients_that_round_to_zero_keep_their_sign(dtype, big, each_simd_path):
    x = np.array([big, -big, big, -big] * 5, dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0] * 5, dtype)
    loss, grad = lk.binary_cross_entropy_with_logits(x, t, reduction="none", return_grad=True)
    assert np.signbit(grad[:2]).tolist() == [True, False]
    assert np.signbit(loss[:2]).tolist() == [False, False]
    _, ref = R.binary_cross_entropy_with_logits(x, t, reduction="none", return_grad=True)
    assert np.signbit(ref[:2]).tolist() == [True, False]
    loss, grad = lk.cross_entropy(np.array([[big, 0.0]] * 3, dtype), [0, 0, 0],
                                  reduction="none", return_grad=True)
    assert np.signbit(grad[:, 0]).all() and not np.signbit(grad[:, 1]).any()
    assert not np.signbit(loss).any()
