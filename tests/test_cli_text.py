"""Text in and out: numbers too large for a float64 are an error (literal inf and nan are not),
and text written to standard output keeps the input's delimiter."""

import numpy as np
import pytest

import logitkit

from _cli import LOGITS, cli, npy, read_text, run, write

# ---------------------------------------------------------------- overflow while parsing


def test_overflow_on_stdin_is_an_error():
    res = run("softmax", "-", stdin=b"1e400,2,3\n")
    assert res.returncode == 2 and res.stdout == b""
    assert res.stderr.decode() == ("logitkit: error: <stdin>: row 1, column 1: '1e400' is too "
                                   "large for a float64 (the largest is "
                                   "1.7976931348623157e+308); write inf for an infinite value\n")


@pytest.mark.parametrize("name, text, where", [
    ("a.tsv", "# c\n1\t2\n\n3\t-2e308\n", "row 4, column 2: '-2e308'"),
    ("a.txt", "1 2\n  3   1E+309 \n", "row 2, column 2: '1E+309'"),
    ("a.csv", "x,y\n1, 9e999 \n", "row 2, column 2: '9e999'"),               # with --header
    ("a.csv", "1_0,1\n1,1e400\n", "row 2, column 2: '1e400'"),               # the slow parser
])
def test_overflow_names_row_and_column(capsys, tmp_path, name, text, where):
    args = ["--header"] if text.startswith("x") else []
    rc, out, err = cli(capsys, "log-softmax", write(tmp_path, name, text), *args)
    assert (rc, out) == (2, "")
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1
    assert f"{name}: {where} is too large for a float64" in err


def test_literal_inf_and_nan_stay_accepted(capsys, tmp_path):
    text = "inf,-Infinity,0\n+INF,1,2\n-inf,1,nan\n1,2,3\n"
    rc, out, err = cli(capsys, "softmax", write(tmp_path, "x.csv", text))
    assert (rc, err) == (0, "")
    x = np.array([[np.inf, -np.inf, 0], [np.inf, 1, 2], [-np.inf, 1, np.nan], [1, 2, 3]])
    np.testing.assert_array_equal(read_text(out, ","), logitkit.softmax(x))


def test_underflow_is_not_an_error(capsys, tmp_path):
    rc, out, _ = cli(capsys, "sigmoid", write(tmp_path, "x.csv", "1e-400,0\n"))
    assert rc == 0 and read_text(out, ",").tolist() == [[0.5, 0.5]]


# ---------------------------------------------------------------- the output keeps the delimiter

@pytest.mark.parametrize("name, sep", [("l.csv", ","), ("l.tsv", "\t"), ("l.txt", " ")])
def test_stdout_keeps_the_input_delimiter(capsys, tmp_path, name, sep):
    src = write(tmp_path, name, "\n".join(sep.join(repr(v) for v in row)
                                          for row in LOGITS.tolist()))
    rc, out, _ = cli(capsys, "softmax", src)
    assert rc == 0
    lines = out.splitlines()
    assert len(lines) == 4 and all(line.count(sep) == 2 for line in lines)
    np.testing.assert_array_equal(read_text(out, sep.strip() or None), logitkit.softmax(LOGITS))
    rc, out, _ = cli(capsys, "predict", src, "--prob")
    assert rc == 0 and out.splitlines()[0] == f"0{sep}{float(logitkit.softmax(LOGITS)[0, 0])!r}"


def test_binary_input_gives_spaces_and_the_output_extension_wins(capsys, tmp_path):
    rc, out, _ = cli(capsys, "softmax", npy(tmp_path, LOGITS))
    assert rc == 0 and out.splitlines()[0].count(" ") == 2 and "," not in out
    src = write(tmp_path, "l.csv", "1,2\n3,4\n")
    rc, _, _ = cli(capsys, "softmax", src, "-o", tmp_path / "o.txt")
    assert rc == 0 and "," not in (tmp_path / "o.txt").read_text()
    rc, _, _ = cli(capsys, "softmax", write(tmp_path, "l.txt", "1 2\n"), "-o", tmp_path / "o.tsv")
    assert rc == 0 and (tmp_path / "o.tsv").read_text().count("\t") == 1


def test_csv_to_csv_through_a_shell_redirect(tmp_path):
    src = write(tmp_path, "l.csv", "2,1,0.1\n1,2,3\n")
    res = run("softmax", src)
    assert res.returncode == 0
    (tmp_path / "out.csv").write_bytes(res.stdout)
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "out.csv", delimiter=","),
                                  logitkit.softmax([[2, 1, 0.1], [1, 2, 3]]))
