"""`logitkit verify`: every function checked against logitkit.reference (the losses too), the
slices counted along --axis, the bars of the registry, and its bad input."""

import numpy as np
import pytest

from logitkit._registry import BY_NAME, FUNCTIONS
from logitkit.cli import verify

from _cli import LOGITS, cli, npy, run, write

pytest.importorskip("logitkit.testing")


def test_verify(tmp_path):
    src = npy(tmp_path, np.random.default_rng(0).standard_normal((20, 7)) * 10)
    res = run("verify", src)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout.decode()
    for name in (f.name for f in verify.CHECKED):
        assert name in out
    assert "all within the accuracy bars" in out


def test_verify_covers_every_function_but_the_backward_ones():
    assert {f.name for f in verify.CHECKED} == {f.name for f in FUNCTIONS
                                                if f.kind != "backward"}
    assert {"cross_entropy", "binary_cross_entropy_with_logits"} <= {f.name for f in
                                                                     verify.CHECKED}


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy_with_logits"])
def test_verify_the_losses(capsys, tmp_path, name):
    src = npy(tmp_path, np.random.default_rng(4).standard_normal((30, 5)) * 20)
    rc, out, err = cli(capsys, "verify", src, "--function", name)
    assert rc == 0, err
    assert name in out and "ok" in out and "all within the accuracy bars" in out


def test_verify_losses_compare_per_row_with_the_gradient(capsys, tmp_path, monkeypatch):
    testing = pytest.importorskip("logitkit.testing")
    seen = {}

    def spy(name, x, **kwargs):
        seen[name] = (x.shape, kwargs)
        return 0.0
    monkeypatch.setattr(testing, "max_ulp_difference", spy)
    rc, _, _ = cli(capsys, "verify", npy(tmp_path, np.zeros((6, 4))))
    assert rc == 0
    shape, kw = seen["cross_entropy"]
    assert shape == (6, 4) and kw["reduction"] == "none" and kw["return_grad"]
    assert kw["target"].shape == (6,) and ((0 <= kw["target"]) & (kw["target"] < 4)).all()
    shape, kw = seen["binary_cross_entropy_with_logits"]
    assert kw["target"].shape == (6, 4) and kw["reduction"] == "none"


@pytest.mark.parametrize("axis, slices, n", [(1, 8, 3), (0, 12, 2), (2, 6, 4), (-1, 6, 4)])
def test_verify_counts_the_slices_along_axis(capsys, tmp_path, axis, slices, n):
    x = np.random.default_rng(5).standard_normal((2, 3, 4))
    rc, out, err = cli(capsys, "verify", npy(tmp_path, x), "--axis", axis,
                       "--function", "softmax")
    assert rc == 0, err
    assert f"checking {slices} of {slices} slices of {n}" in out


def test_verify_checks_the_slices_along_a_middle_axis(tmp_path):
    x = np.random.default_rng(6).standard_normal((2, 3, 4))
    rows, total = verify.slices(np.load(npy(tmp_path, x), mmap_mode="r"), 1, 0)
    assert total == 8
    np.testing.assert_array_equal(rows, np.moveaxis(x, 1, -1).reshape(8, 3))


def test_verify_samples_whole_leading_slices(capsys, tmp_path):
    src = npy(tmp_path, np.random.default_rng(1).standard_normal((50, 10)))
    rc, out, _ = cli(capsys, "verify", src, "--function", "softmax", "--max-elements", "100")
    assert rc == 0 and "checking 10 of 50 slices of 10" in out and "log_softmax" not in out
    x = np.random.default_rng(7).standard_normal((5, 3, 4))
    rows, total = verify.slices(np.load(npy(tmp_path, x), mmap_mode="r"), 1, 30)
    assert total == 20 and rows.shape == (10, 3)
    np.testing.assert_array_equal(rows, np.moveaxis(x, 1, -1).reshape(20, 3)[:10])


def test_verify_zero_and_one_dimensional(capsys, tmp_path):
    rc, out, _ = cli(capsys, "verify", npy(tmp_path, np.array(3.0)))
    assert rc == 0 and "checking 1 of 1 slice of 1" in out
    rc, out, _ = cli(capsys, "verify", npy(tmp_path, np.array([1.0, 2.0])))
    assert rc == 0 and "checking 1 of 1 slice of 2" in out


def test_verify_losses_skip_an_empty_class_axis(capsys, tmp_path):
    rc, out, _ = cli(capsys, "verify", npy(tmp_path, np.zeros((3, 0))))
    assert rc == 0 and "cross_entropy" in out and "skipped: no classes" in out


@pytest.mark.parametrize("worst, status", [(0.0, 0), (None, 0), (99.0, 1)])
def test_verify_bar_is_the_registry_bar_against_the_reference(capsys, tmp_path, monkeypatch,
                                                              worst, status):
    testing = pytest.importorskip("logitkit.testing")
    bar = BY_NAME["sigmoid"].max_ulp_vs_reference      # the bar plus the reference's rounding
    monkeypatch.setattr(testing, "max_ulp_difference",
                        lambda name, x, **kw: bar if worst is None else worst)
    rc, out, _ = cli(capsys, "verify", npy(tmp_path, LOGITS), "--function", "sigmoid")
    assert rc == status
    assert f"bar {bar:g}" in out and ("FAIL" in out) == (status == 1)


def test_verify_bad_input(capsys, tmp_path):
    rc, out, err = cli(capsys, "verify", write(tmp_path, "x.csv", "1,2\n3,1e999\n"))
    assert rc == 2 and out == ""
    assert err == ("logitkit: error: x.csv: row 2, column 2: '1e999' is too large for a float64 "
                   "(the largest is 1.7976931348623157e+308); write inf for an infinite value\n"
                   ).replace("x.csv", str(tmp_path / "x.csv"))
    rc, _, err = cli(capsys, "verify", npy(tmp_path, LOGITS), "--function", "tanh")
    assert rc == 2 and "argument --function: invalid choice: 'tanh'" in err
