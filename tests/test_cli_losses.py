"""The loss subcommands: cross-entropy and bce (the registry's losses) and perplexity, each
against a --targets file; good files and bad ones."""

import math

import numpy as np
import pytest

import logitkit

from _cli import LOGITS, cli, npy, read_text, run, write

INDICES = np.array([0, 2, 1, 0])
PROBS = np.array([[1.0, 0.0, 0.25], [0.0, 1.0, 1.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def logits_csv(tmp_path):
    return write(tmp_path, "l.csv", "\n".join(",".join(repr(v) for v in row)
                                              for row in LOGITS.tolist()) + "\n")


@pytest.fixture
def indices_txt(tmp_path):
    return write(tmp_path, "t.txt", "".join(f"{i}\n" for i in INDICES))


@pytest.fixture
def probs_csv(tmp_path):
    return write(tmp_path, "p.csv", "\n".join(",".join(repr(v) for v in row)
                                              for row in PROBS.tolist()) + "\n")


# ---------------------------------------------------------------- cross-entropy

def test_cross_entropy_mean(capsys, logits_csv, indices_txt):
    rc, out, err = cli(capsys, "cross-entropy", logits_csv, "--targets", indices_txt)
    assert (rc, err) == (0, "")
    assert float(out) == logitkit.cross_entropy(LOGITS, INDICES)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_cross_entropy_reductions(capsys, logits_csv, indices_txt, reduction):
    rc, out, _ = cli(capsys, "cross-entropy", logits_csv, "--targets", indices_txt,
                     "--reduction", reduction)
    assert rc == 0
    expected = np.asarray(logitkit.cross_entropy(LOGITS, INDICES, reduction=reduction))
    np.testing.assert_array_equal(read_text(out).reshape(expected.shape), expected)
    if reduction == "none":
        assert len(out.splitlines()) == 4                       # one loss per row


def test_cross_entropy_binary_files_and_axis(capsys, tmp_path):
    x = np.random.default_rng(8).standard_normal((2, 5, 3)).astype(np.float32)
    t = np.random.default_rng(9).integers(0, 5, (2, 3))
    out = tmp_path / "loss.npy"
    rc, _, err = cli(capsys, "cross-entropy", npy(tmp_path, x, "x.npy"), "--targets",
                     npy(tmp_path, t, "t.npy"), "--axis", "1", "--reduction", "none", "-o", out)
    assert rc == 0, err
    got = np.load(out)
    assert got.dtype == np.float32                              # the logits' dtype
    np.testing.assert_array_equal(got, logitkit.cross_entropy(x, t, axis=1, reduction="none"))


def test_cross_entropy_one_row_and_npz_targets(capsys, tmp_path):
    t = tmp_path / "t.npz"
    np.savez(t, a=np.array([1]), b=np.array([2]))
    rc, out, _ = cli(capsys, "cross-entropy", npy(tmp_path, LOGITS[0]), "--targets", t,
                     "--targets-key", "b")
    assert rc == 0 and float(out) == logitkit.cross_entropy(LOGITS[0], 2)


def test_cross_entropy_ignore_index(capsys, tmp_path, logits_csv):
    t = write(tmp_path, "t.txt", "0\n-1\n1\n-1\n")
    rc, out, _ = cli(capsys, "cross-entropy", logits_csv, "--targets", t, "--ignore-index", "-1")
    assert rc == 0
    assert float(out) == logitkit.cross_entropy(LOGITS, [0, -1, 1, -1], ignore_index=-1)


CE_MISTAKES = {
    "index out of range": ("# labels\n0\n3\n1\n0\n",
                           "t.txt: row 3: 3 is not a class index; expected an integer from 0 "
                           "to 2 (the 3 classes along axis 1)"),
    "not an integer": ("0\n1.5\n1\n0\n", "row 2: 1.5 is not a class index"),
    "nan": ("0\n1\nnan\n0\n", "row 3: nan is not a class index"),
    "negative": ("0\n1\n2\n-1\n", "row 4: -1 is not a class index"),
    "too few": ("0\n1\n2\n", "holds shape (3, 1); expected one class index per row of logits "
                             "(axis 1 removed), shape (4,)"),
    "probabilities": ("1 0 0\n0 1 0\n0 0 1\n1 0 0\n", "holds shape (4, 3); expected one class "
                                                      "index per row"),
    "overflow": ("0\n1\n1e999\n0\n", "row 3, column 1: '1e999' is too large for a float64"),
    "not a number": ("0\n1\ntwo\n0\n", "row 3, column 1: 'two' is not a number"),
}


@pytest.mark.parametrize("command", ["cross-entropy", "perplexity"])
@pytest.mark.parametrize("case", sorted(CE_MISTAKES))
def test_class_index_targets_mistakes(capsys, tmp_path, logits_csv, command, case):
    text, message = CE_MISTAKES[case]
    rc, out, err = cli(capsys, command, logits_csv, "--targets", write(tmp_path, "t.txt", text))
    assert (rc, out) == (2, "")
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1, err
    assert message in err


def test_cross_entropy_other_mistakes(capsys, tmp_path, logits_csv, indices_txt):
    rc, _, err = cli(capsys, "cross-entropy", logits_csv)
    assert rc == 2 and err == ("logitkit: error: cross-entropy: the following arguments are "
                               "required: --targets (see `logitkit cross-entropy --help`)\n")
    rc, _, err = cli(capsys, "cross-entropy", npy(tmp_path, np.array(1.0)), "--targets",
                     indices_txt)
    assert rc == 2 and "holds a single number; cross-entropy needs at least one class axis" in err
    rc, _, err = cli(capsys, "cross-entropy", logits_csv, "--targets", indices_txt,
                     "--reduction", "max")
    assert rc == 2 and "argument --reduction: invalid choice: 'max'" in err
    rc, _, err = cli(capsys, "cross-entropy", logits_csv, "--targets", tmp_path / "no.txt")
    assert rc == 2 and "no.txt: no such file" in err
    rc, _, err = cli(capsys, "cross-entropy", logits_csv, "--targets",
                     npy(tmp_path, np.array([True, False, True, True])))
    assert rc == 2 and "True is not a class index" in err


# ---------------------------------------------------------------- bce

def test_bce_mean(capsys, logits_csv, probs_csv):
    rc, out, err = cli(capsys, "bce", logits_csv, "--targets", probs_csv)
    assert (rc, err) == (0, "")
    assert float(out) == logitkit.binary_cross_entropy_with_logits(LOGITS, PROBS)


def test_bce_none_keeps_the_shape_and_the_delimiter(capsys, logits_csv, probs_csv):
    rc, out, _ = cli(capsys, "bce", logits_csv, "--targets", probs_csv, "--reduction", "none")
    assert rc == 0
    np.testing.assert_array_equal(
        read_text(out, ","), logitkit.binary_cross_entropy_with_logits(LOGITS, PROBS,
                                                                       reduction="none"))


def test_bce_integer_labels_and_sum(capsys, tmp_path):
    x = np.random.default_rng(10).standard_normal((6, 2)) * 30
    y = np.random.default_rng(11).integers(0, 2, (6, 2)).astype(np.uint8)
    out = tmp_path / "o.npy"
    rc, _, err = cli(capsys, "bce", npy(tmp_path, x, "x.npy"), "--targets",
                     npy(tmp_path, y, "y.npy"), "--reduction", "sum", "-o", out)
    assert rc == 0, err
    assert np.load(out) == logitkit.binary_cross_entropy_with_logits(x, y.astype(float),
                                                                     reduction="sum")


BCE_MISTAKES = {
    "not a probability": ("1,0,0.25\n0,1,1\n0.5,1.5,0\n0,0,1\n",
                          "p.csv: row 3, column 2: 1.5 is not a label or a probability; "
                          "expected 0, 1 or a probability in [0, 1]"),
    "negative": ("1,0,0.25\n0,1,1\n0.5,0.5,0\n0,-1,1\n", "row 4, column 2: -1 is not a label"),
    "nan": ("1,0,0.25\n0,nan,1\n0.5,0.5,0\n0,0,1\n", "row 2, column 2: nan is not a label"),
    "class indices": ("0\n2\n1\n0\n", "holds shape (4, 1); expected 0/1 labels or "
                                      "probabilities of the logits' shape, shape (4, 3)"),
    "overflow": ("1,0,0\n0,1,1\n0,0,-1e400\n0,0,1\n", "row 3, column 3: '-1e400' is too large"),
}


@pytest.mark.parametrize("case", sorted(BCE_MISTAKES))
def test_bce_mistakes(capsys, tmp_path, logits_csv, case):
    text, message = BCE_MISTAKES[case]
    rc, out, err = cli(capsys, "bce", logits_csv, "--targets", write(tmp_path, "p.csv", text))
    assert (rc, out) == (2, "")
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1, err
    assert message in err


# ---------------------------------------------------------------- perplexity

def test_perplexity(capsys, logits_csv, indices_txt):
    rc, out, err = cli(capsys, "perplexity", logits_csv, "--targets", indices_txt)
    assert (rc, err) == (0, "")
    assert float(out) == math.exp(logitkit.cross_entropy(LOGITS, INDICES))


def test_perplexity_is_float64_past_float32_range(capsys, tmp_path):
    x = np.array([[0.0, 200.0], [0.0, 100.0]], dtype=np.float32)    # mean loss 150
    rc, out, err = cli(capsys, "perplexity", npy(tmp_path, x), "--targets",
                       write(tmp_path, "t.txt", "0\n0\n"))
    assert (rc, err) == (0, "")
    assert float(out) == math.exp(float(logitkit.cross_entropy(x, [0, 0])))     # 1.4e65
    x = np.array([[0.0, 1000.0]])
    rc, out, err = cli(capsys, "perplexity", npy(tmp_path, x), "--targets",
                       write(tmp_path, "t.txt", "0\n"))
    assert (rc, out, err) == (0, "inf\n", "")                  # no overflow warning either


def test_losses_subprocess(tmp_path, logits_csv, indices_txt):
    res = run("cross-entropy", logits_csv, "--targets", indices_txt, "--reduction", "none")
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(read_text(res.stdout.decode()).ravel(),
                                  logitkit.cross_entropy(LOGITS, INDICES, reduction="none"))
    res = run("bce", logits_csv, "--targets", indices_txt)
    assert res.returncode == 2 and res.stderr.decode().count("\n") == 1
