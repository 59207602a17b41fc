"""The losses' gradients and the vector-Jacobian products against finite differences, and the
losses' values and gradients against PyTorch's functions and autograd (when torch is
installed)."""

import numpy as np
import pytest

import logitkit as lk
from _loss_cases import logits

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]


# ---------------------------------------------------------------------------------------------
# finite differences (float64, 4th-order central)
# ---------------------------------------------------------------------------------------------

def fd_grad(f, x, h=1e-4):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        def at(d):
            z = x.copy()
            z[idx] += d
            return float(f(z))
        g[idx] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h)
    return g


@pytest.mark.parametrize("case", ["index", "weighted", "smooth", "probs", "bce", "bce_pw"])
def test_gradients_match_finite_differences(case):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 5))
    y = np.array([0, 4, 2, -100])
    w = rng.random(5) + 0.5
    p = rng.random((4, 5))
    p /= p.sum(1, keepdims=True)
    t = rng.random((4, 5))
    fns = {
        "index": lambda z, **k: lk.cross_entropy(z, y, **k),
        "weighted": lambda z, **k: lk.cross_entropy(z, y, weight=w, **k),
        "smooth": lambda z, **k: lk.cross_entropy(z, y, weight=w, label_smoothing=0.2, **k),
        "probs": lambda z, **k: lk.cross_entropy(z, p, weight=w, label_smoothing=0.1, **k),
        "bce": lambda z, **k: lk.binary_cross_entropy_with_logits(z, t, **k),
        "bce_pw": lambda z, **k: lk.binary_cross_entropy_with_logits(z, t, weight=w, pos_weight=2 * w, **k),
    }
    f = fns[case]
    for red in ("mean", "sum"):
        _, g = f(x, reduction=red, return_grad=True)
        np.testing.assert_allclose(g, fd_grad(lambda z: f(z, reduction=red), x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("axis", [-1, 0])
def test_backward_functions_match_finite_differences(axis):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    go = rng.standard_normal((3, 4))
    for fwd, bwd in [(lk.softmax, lk.softmax_backward), (lk.log_softmax, lk.log_softmax_backward)]:
        got = bwd(go, fwd(x, axis), axis)
        np.testing.assert_allclose(got, fd_grad(lambda z: np.sum(go * fwd(z, axis)), x), rtol=1e-8, atol=1e-10)
    got = lk.sigmoid_backward(go, lk.sigmoid(x))
    np.testing.assert_allclose(got, fd_grad(lambda z: np.sum(go * lk.sigmoid(z)), x), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# against PyTorch (values and autograd)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.15},
                                  {"weight": True, "label_smoothing": 0.3, "ignore_index": 2},
                                  {"probs": True}, {"probs": True, "weight": True, "label_smoothing": 0.1}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("layout", ["rows", "nd"])
def test_cross_entropy_matches_torch(dtype, opts, reduction, layout):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    C = 7
    shape = (6, C) if layout == "rows" else (3, C, 4)      # PyTorch's (N, C, d1) with axis=1
    axis = -1 if layout == "rows" else 1
    x = logits(rng, shape, dtype)
    tshape = shape[:1] + shape[2:]
    y = rng.integers(0, C, tshape)
    y.reshape(-1)[1] = opts.get("ignore_index", -100)
    w = rng.random(C) + 0.2
    kw, tkw = {}, {}
    if opts.get("weight"):
        kw["weight"], tkw["weight"] = w, torch.from_numpy(w.astype(dtype))
    for key in ("label_smoothing", "ignore_index"):
        if key in opts:
            kw[key] = tkw[key] = opts[key]
    if opts.get("probs"):
        tgt = rng.random(shape).astype(dtype)
        tgt /= tgt.sum(axis=axis, keepdims=True)
        ttgt = torch.from_numpy(tgt)
    else:
        tgt, ttgt = y, torch.from_numpy(y)
    tx = torch.from_numpy(x).requires_grad_()
    tl = F.cross_entropy(tx, ttgt, reduction=reduction, **tkw)
    tl.sum().backward()
    loss, grad = lk.cross_entropy(x, tgt, axis, reduction=reduction, return_grad=True, **kw)
    tol = 2e-6 if dtype == F32 else 1e-13
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol * 0.1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"pos_weight": True}])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_matches_torch(dtype, opts, reduction):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    x = logits(rng, (5, 6), dtype, spread=6)
    t = rng.random((5, 6)).astype(dtype)
    t[0] = [0, 1, 0, 1, 0, 1]
    kw, tkw = {}, {}
    if opts.get("weight"):
        w = (rng.random((5, 1)) + 0.5).astype(dtype)
        kw["weight"], tkw["weight"] = w, torch.from_numpy(w)
    if opts.get("pos_weight"):
        pw = (rng.random(6) * 3).astype(dtype)
        kw["pos_weight"], tkw["pos_weight"] = pw, torch.from_numpy(pw)
    tx = torch.from_numpy(x).requires_grad_()
    tl = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(t), reduction=reduction, **tkw)
    tl.sum().backward()
    loss, grad = lk.binary_cross_entropy_with_logits(x, t, reduction=reduction, return_grad=True, **kw)
    tol = 2e-6 if dtype == F32 else 1e-13
    np.testing.assert_allclose(loss, tl.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=tol, atol=tol * 0.1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_functions_match_torch_autograd(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = logits(rng, (4, 9, 3), dtype)
    go = rng.standard_normal(x.shape).astype(dtype)
    tol = 2e-6 if dtype == F32 else 1e-13
    for axis in (1, -1):
        for fwd, t_fwd, bwd in [(lk.softmax, torch.softmax, lk.softmax_backward),
                                (lk.log_softmax, torch.log_softmax, lk.log_softmax_backward)]:
            tx = torch.from_numpy(x).requires_grad_()
            out = t_fwd(tx, axis)
            out.backward(torch.from_numpy(go))
            got = bwd(go, out.detach().numpy(), axis)
            np.testing.assert_allclose(got, tx.grad.numpy(), rtol=tol, atol=tol)
    tx = torch.from_numpy(x).requires_grad_()
    out = torch.sigmoid(tx)
    out.backward(torch.from_numpy(go))
    np.testing.assert_allclose(lk.sigmoid_backward(go, out.detach().numpy()), tx.grad.numpy(), rtol=tol, atol=tol)
