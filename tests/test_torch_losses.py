"""A seeded differential test of the losses against PyTorch in float64: cross_entropy against
torch.nn.functional.cross_entropy and binary_cross_entropy_with_logits against its namesake,
over random shapes and every option (weights, ignore_index, label_smoothing, probability
targets, reductions, pos_weight), loss and gradient. The fixed cases are in test_losses.py."""

import numpy as np
import pytest

import logitkit as lk

torch = pytest.importorskip("torch")
F = torch.nn.functional
CASES = 1050                    # per loss, in batches of one seed each
RTOL, ATOL = 1e-12, 1e-14


def _logits(rng, shape):
    kind = rng.integers(4)
    if kind == 0:
        return rng.standard_normal(shape)
    if kind == 1:
        return rng.standard_normal(shape) * 30          # confident rows
    if kind == 2:
        return rng.uniform(-1e3, 1e3, shape)
    return np.round(rng.standard_normal(shape) * 2)      # ties


def _ce_case(rng):
    n, c = int(rng.integers(1, 9)), int(rng.integers(1, 8))
    extra = () if rng.random() < 0.6 else (int(rng.integers(1, 4)),)
    shape = (n, c) + extra                               # PyTorch's (N, C, d1): axis 1
    x = _logits(rng, shape)
    kw, tkw = {}, {}
    reduction = ["mean", "sum", "none"][rng.integers(3)]
    if rng.random() < 0.5:
        w = rng.uniform(0.0, 2.0, c)
        if rng.random() < 0.2:
            w[rng.integers(c)] = 0.0
        kw["weight"], tkw["weight"] = w, torch.from_numpy(w)
    if rng.random() < 0.5:
        kw["label_smoothing"] = tkw["label_smoothing"] = float(rng.choice([0.0, 0.05, 0.3, 1.0]))
    if rng.random() < 0.3:
        t = rng.random(shape)
        t /= t.sum(axis=1, keepdims=True)
        tt = torch.from_numpy(t)
    else:
        t = rng.integers(0, c, (n,) + extra)
        ignore = int(rng.choice([-100, 0, c - 1]))
        if rng.random() < 0.5:
            kw["ignore_index"] = tkw["ignore_index"] = ignore
        if rng.random() < 0.3:
            t.reshape(-1)[0] = kw.get("ignore_index", -100)
        tt = torch.from_numpy(t)
    tx = torch.from_numpy(x).requires_grad_()
    want = F.cross_entropy(tx, tt, reduction=reduction, **tkw)
    want.sum().backward()
    loss, grad = lk.cross_entropy(x, t, 1, reduction=reduction, return_grad=True, **kw)
    return (loss, want.detach().numpy()), (grad, tx.grad.numpy())


def _bce_case(rng):
    shape = tuple(int(v) for v in rng.integers(1, 7, int(rng.integers(1, 4))))
    x = _logits(rng, shape)
    t = rng.random(shape) if rng.random() < 0.5 else rng.integers(0, 2, shape).astype(float)
    kw, tkw = {}, {}
    reduction = ["mean", "sum", "none"][rng.integers(3)]
    if rng.random() < 0.5:
        w = rng.uniform(0.0, 2.0, shape[-1:] if rng.random() < 0.5 else shape)
        kw["weight"], tkw["weight"] = w, torch.from_numpy(w)
    if rng.random() < 0.5:
        pw = rng.uniform(0.0, 5.0, shape[-1:])
        kw["pos_weight"], tkw["pos_weight"] = pw, torch.from_numpy(pw)
    tx = torch.from_numpy(x).requires_grad_()
    want = F.binary_cross_entropy_with_logits(tx, torch.from_numpy(t), reduction=reduction,
                                              **tkw)
    want.sum().backward()
    loss, grad = lk.binary_cross_entropy_with_logits(x, t, reduction=reduction,
                                                     return_grad=True, **kw)
    return (loss, want.detach().numpy()), (grad, tx.grad.numpy())


def _check(pairs, what):
    for (got, want), part in zip(pairs, ("loss", "grad")):
        got, want = np.asarray(got), np.asarray(want)
        assert got.shape == want.shape, (what, part, got.shape, want.shape)
        # PyTorch gives NaN where logitkit's contract gives 0 (classes with zero weight or
        # probability at -inf logits); there are none here, so NaN must agree exactly
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{what} {part}")
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=RTOL, atol=ATOL,
                                   err_msg=f"{what} {part}")


@pytest.mark.parametrize("seed", range(15))
def test_cross_entropy_against_torch(seed):
    rng = np.random.default_rng([7, seed])
    for i in range(CASES // 15):
        _check(_ce_case(rng), f"cross_entropy seed {seed} case {i}")


@pytest.mark.parametrize("seed", range(15))
def test_bce_with_logits_against_torch(seed):
    rng = np.random.default_rng([8, seed])
    for i in range(CASES // 15):
        _check(_bce_case(rng), f"bce seed {seed} case {i}")
