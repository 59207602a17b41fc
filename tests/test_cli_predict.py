"""`logitkit predict`: the argmax class, --prob and --top-k, rows containing NaN, and its bad
input."""

import numpy as np
import pytest

import logitkit

from _cli import LOGITS, cli, npy, read_text, write


@pytest.fixture
def logits_npy(tmp_path):
    return npy(tmp_path, LOGITS, "logits.npy")


def test_predict_argmax(capsys, logits_npy):
    rc, out, _ = cli(capsys, "predict", logits_npy)
    assert rc == 0
    assert [int(v) for v in out.split()] == [0, 2, 0, 2]


def test_predict_prob(capsys, logits_npy):
    rc, out, _ = cli(capsys, "predict", logits_npy, "--prob")
    assert rc == 0
    got = read_text(out)
    p = logitkit.softmax(LOGITS)
    np.testing.assert_array_equal(got[:, 0], [0, 2, 0, 2])
    np.testing.assert_array_equal(got[:, 1], p[np.arange(4), [0, 2, 0, 2]])


def test_predict_top_k_with_prob_to_npz(capsys, tmp_path, logits_npy):
    out = tmp_path / "pred.npz"
    rc, _, _ = cli(capsys, "predict", logits_npy, "--top-k", "2", "--prob", "-o", out)
    assert rc == 0
    with np.load(out) as z:
        classes, probs = z["classes"], z["probs"]
    np.testing.assert_array_equal(classes, [[0, 1], [2, 0], [0, 1], [2, 0]])   # ties: lower first
    np.testing.assert_array_equal(probs, np.take_along_axis(logitkit.softmax(LOGITS), classes, 1))


def test_predict_top_k_text_columns(capsys, logits_npy):
    rc, out, _ = cli(capsys, "predict", logits_npy, "--top-k", "3", "--prob")
    got = read_text(out)
    assert rc == 0 and got.shape == (4, 6)                  # 3 classes, then 3 probabilities
    np.testing.assert_array_equal(got[1, :3], [2, 0, 1])
    np.testing.assert_allclose(got[:, 3:].sum(axis=1), 1.0, rtol=1e-15)


def test_predict_axis0(capsys, logits_npy):
    rc, out, _ = cli(capsys, "predict", logits_npy, "--axis", "0")
    assert rc == 0 and [int(v) for v in out.split()] == list(np.argmax(LOGITS, axis=0))


NAN_ROWS = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0], [np.nan, np.inf, np.nan],
                     [np.inf, 2.0, np.nan]])


def test_predict_nan_row_follows_argmax_and_says_so(capsys, tmp_path):
    rc, out, err = cli(capsys, "predict", npy(tmp_path, NAN_ROWS), "--prob")
    assert rc == 0
    got = read_text(out)
    np.testing.assert_array_equal(got[:, 0], np.argmax(NAN_ROWS, axis=1))     # [1, 2, 0, 2]
    assert np.isnan(got[[0, 2, 3], 1]).all() and got[1, 1] == logitkit.softmax(NAN_ROWS[1])[2]
    assert err == ("logitkit: note: 3 rows contain NaN, the first is row 1: its class is the "
                   "index of its first NaN (as numpy.argmax answers) and its probabilities are "
                   "NaN\n")


def test_predict_top_k_puts_nan_first(capsys, tmp_path):
    rc, out, err = cli(capsys, "predict", npy(tmp_path, NAN_ROWS), "--top-k", "3")
    assert rc == 0 and "NaN" in err
    np.testing.assert_array_equal(read_text(out), [[1, 2, 0], [2, 1, 0], [0, 2, 1], [2, 0, 1]])
    rc, out, _ = cli(capsys, "predict", npy(tmp_path, NAN_ROWS), "--top-k", "1")
    np.testing.assert_array_equal(read_text(out)[:, 0], np.argmax(NAN_ROWS, axis=1))


def test_predict_nan_names_the_line_of_a_text_input(capsys, tmp_path):
    src = write(tmp_path, "l.csv", "# scores\n1,2,3\n\n4,nan,6\n")
    rc, out, err = cli(capsys, "predict", src)
    assert rc == 0 and out == "2\n1\n"
    assert err.startswith("logitkit: note: NaN in row 4: its class is the index of its first NaN")


def test_predict_nan_in_chunks_and_along_axis0(capsys, tmp_path):
    x = np.zeros((100, 4))
    x[37, 2] = x[90, 1] = np.nan
    src = npy(tmp_path, x)
    rc, out, err = cli(capsys, "predict", src, "--chunk-bytes", 64)
    assert rc == 0 and read_text(out)[[37, 90], 0].tolist() == [2, 1]
    assert "2 rows contain NaN, the first is row 38:" in err
    rc, out, err = cli(capsys, "predict", src, "--axis", "0")
    assert rc == 0 and read_text(out).ravel().tolist() == [0, 90, 37, 0]
    assert "2 rows contain NaN, the first is column 2:" in err


def test_predict_without_nan_says_nothing(capsys, tmp_path):
    rc, _, err = cli(capsys, "predict", npy(tmp_path, LOGITS), "--prob")
    assert rc == 0 and err == ""


def test_predict_bad_input(capsys, tmp_path):
    rc, out, err = cli(capsys, "predict", write(tmp_path, "l.csv", "1,2\n1e309,3\n"))
    assert (rc, out) == (2, "")
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1
    assert "l.csv: row 2, column 1: '1e309' is too large for a float64" in err
