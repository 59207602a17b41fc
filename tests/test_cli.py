"""The command line: every subcommand, every format round trip, every user-mistake message,
and the chunked path of memory-mapped .npy inputs; in-process through main(argv) and through
`python -m logitkit` in a subprocess."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest

import logitkit
from logitkit import cli as _cli
from logitkit._registry import FUNCTIONS
from logitkit.cli import bench, commands
from logitkit.cli.parser import build_parser

from _cli import LOGITS, PKG_PARENT, cli, npy, npz, read_text, run, write


# every subcommand that runs a registered function of the logits alone, by its CLI name
EXPECTED = {f.cli: f.fast for f in FUNCTIONS
            if f.cli is not None and f.kind not in ("loss", "select")}


@pytest.fixture
def logits_npy(tmp_path):
    path = tmp_path / "logits.npy"
    np.save(path, LOGITS)
    return path


# ---------------------------------------------------------------- the subcommands

def test_no_arguments_runs_the_demo():
    pytest.importorskip("logitkit._demo")
    res = run()
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() and not res.stderr


def test_demo_in_process(capsys):
    pytest.importorskip("logitkit._demo")
    rc, out, _ = cli(capsys, "demo")
    assert rc == 0 and out.strip()


def test_main_module_matches_cli():
    import logitkit.__main__ as entry
    assert entry.main is _cli.main


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_transform_npy_to_npy(capsys, tmp_path, logits_npy, command):
    out = tmp_path / "out.npy"
    rc, stdout, err = cli(capsys, command, logits_npy, "-o", out)
    assert (rc, stdout, err) == (0, "", "")
    np.testing.assert_array_equal(np.load(out), EXPECTED[command](LOGITS))


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_transform_subprocess_stdout(logits_npy, command):
    res = run(command, logits_npy)
    assert res.returncode == 0, res.stderr
    got = read_text(res.stdout.decode())
    expected = np.asarray(EXPECTED[command](LOGITS))
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def test_axis_and_dtype(capsys, tmp_path, logits_npy):
    out = tmp_path / "out.npy"
    assert cli(capsys, "softmax", logits_npy, "--axis", "0", "--dtype", "float32",
               "-o", out)[0] == 0
    got = np.load(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, logitkit.softmax(LOGITS, axis=0, dtype=np.float32))
    assert cli(capsys, "logsumexp", logits_npy, "--axis", "-2", "-o", out)[0] == 0
    np.testing.assert_array_equal(np.load(out), logitkit.logsumexp(LOGITS, axis=0))


def test_float32_input_stays_float32(capsys, tmp_path):
    src, out = tmp_path / "x.npy", tmp_path / "y.csv"
    x32 = LOGITS[:2].astype(np.float32)
    np.save(src, x32)
    assert cli(capsys, "softmax", src, "-o", out)[0] == 0
    # float32 text is written with the shortest digits of the float32 value: exact round trip
    np.testing.assert_array_equal(read_text(out, ",").astype(np.float32), logitkit.softmax(x32))


def test_info(capsys):
    rc, out, _ = cli(capsys, "info")
    assert rc == 0
    for word in ("logitkit", "numpy", "python", "simd path", "threads", logitkit.simd_path()):
        assert word in out


def test_info_subprocess():
    res = run("info")
    assert res.returncode == 0 and b"simd path" in res.stdout


def test_bench_subprocess():
    res = run("bench", "--seconds", "0.3")
    assert res.returncode == 0, res.stderr
    assert b"softmax 1024x1000" in res.stdout
    assert b"[1/" in res.stderr                          # the progress display


def test_bench_runs_on_one_thread_and_restores_the_count(capsys, monkeypatch):
    seen = []

    def timing(fn, a, budget):
        seen.append(logitkit.get_num_threads())
        return 1e-3
    before = logitkit.get_num_threads()
    try:
        logitkit.set_num_threads(3)
        monkeypatch.setattr(bench, "_time", timing)
        rc, out, _ = cli(capsys, "bench", "--seconds", "0.01")
        assert rc == 0 and "one thread" in out
        assert seen and set(seen) == {1}
        assert logitkit.get_num_threads() == 3

        def failing(fn, a, budget):
            raise RuntimeError("timer broke")
        monkeypatch.setattr(bench, "_time", failing)
        with pytest.raises(RuntimeError, match="timer broke"):
            _cli.main(["bench", "--seconds", "0.01"])
        assert logitkit.get_num_threads() == 3               # restored on the way out too
    finally:
        logitkit.set_num_threads(before)


def test_every_registered_function_has_its_subcommand():
    assert set(EXPECTED) >= {"softmax", "log-softmax", "logsumexp", "sigmoid",
                             "sigmoid-derivative", "log-sigmoid", "softplus"}
    names = {f.cli for f in FUNCTIONS if f.cli is not None}
    assert names >= {"cross-entropy", "bce"}
    assert names <= set(_cli.COMMANDS)


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_each_subcommand_good_and_bad_text_file(capsys, tmp_path, command):
    good = write(tmp_path, "good.csv", "2,1,0.1\n0.5,-3,7.25\n")
    rc, out, err = cli(capsys, command, good)
    assert (rc, err) == (0, "")
    expected = np.asarray(EXPECTED[command](np.array([[2, 1, 0.1], [0.5, -3, 7.25]])))
    np.testing.assert_array_equal(read_text(out, ",").reshape(expected.shape), expected)
    bad = write(tmp_path, "bad.csv", "2,1,0.1\n0.5,-3e999,7.25\n")
    rc, out, err = cli(capsys, command, bad)
    assert (rc, out) == (2, "")
    assert err == (f"logitkit: error: {bad}: row 2, column 2: '-3e999' is too large for a "
                   "float64 (the largest is 1.7976931348623157e+308); write inf for an "
                   "infinite value\n")


def test_help_lists_every_subcommand_with_its_description(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert _cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    helps = {a.dest: a.help for a in sub._choices_actions}
    for f in FUNCTIONS:
        if f.cli is not None:
            assert helps.get(f.cli), f"{f.cli} has no help line"
            assert f"{f.cli} {' '.join(helps[f.cli].split())}" in text
    for command in sub.choices:                          # predict, verify, ... too
        assert helps.get(command) and f"{command} {' '.join(helps[command].split())}" in text


def test_help_and_version(capsys):
    assert _cli.main(["--version"]) == 0
    assert logitkit.__version__ in capsys.readouterr().out
    assert _cli.main(["softmax", "--help"]) == 0
    assert "--axis" in capsys.readouterr().out


# ---------------------------------------------------------------- format round trips

@pytest.mark.parametrize("in_ext", [".npy", ".npz", ".csv", ".tsv", ".txt"])
@pytest.mark.parametrize("out_ext", [".npy", ".npz", ".csv", ".tsv", ".txt", None])
def test_round_trip(capsys, tmp_path, in_ext, out_ext):
    src = tmp_path / f"in{in_ext}"
    if in_ext == ".npy":
        np.save(src, LOGITS)
    elif in_ext == ".npz":
        np.savez(src, logits=LOGITS)
    else:
        sep = {".csv": ",", ".tsv": "\t", ".txt": " "}[in_ext]
        src.write_text("\n".join(sep.join(repr(v) for v in row) for row in LOGITS.tolist()))
    args = ["log-softmax", src]
    if out_ext is not None:
        args += ["-o", tmp_path / f"out{out_ext}"]
    rc, out, err = cli(capsys, *args)
    assert rc == 0, err
    if out_ext is None:                           # the input's delimiter (binary: spaces)
        got = read_text(out, {".csv": ",", ".tsv": "\t"}.get(in_ext))
    elif out_ext == ".npy":
        got = np.load(tmp_path / "out.npy")
    elif out_ext == ".npz":
        with np.load(tmp_path / "out.npz") as z:
            got = z["log_softmax"]
    else:
        got = read_text(tmp_path / f"out{out_ext}", {".csv": ",", ".tsv": "\t"}.get(out_ext))
    np.testing.assert_array_equal(got, logitkit.log_softmax(LOGITS))   # exact, text included


def test_npz_key_chooses_the_array(capsys, tmp_path):
    src = tmp_path / "two.npz"
    np.savez(src, a=LOGITS, b=-LOGITS)
    rc, out, _ = cli(capsys, "softmax", src, "--key", "b")
    assert rc == 0
    np.testing.assert_array_equal(read_text(out), logitkit.softmax(-LOGITS))


@pytest.mark.parametrize("text, sep", [(b"2.0,1.0,0.1\n1,2,3\n", ","),
                                       (b"2.0\t1.0\t0.1\n1\t2\t3\n", "\t"),
                                       (b"# comment\n2.0 1.0 0.1\n\n1 2 3\n", " ")])
def test_stdin_text(text, sep):
    res = run("softmax", "-", stdin=text)
    assert res.returncode == 0, res.stderr
    assert all(line.count(sep) == 2 for line in res.stdout.decode().splitlines())
    np.testing.assert_array_equal(read_text(res.stdout.decode(), sep.strip() or None),
                                  logitkit.softmax([[2.0, 1.0, 0.1], [1, 2, 3]]))


def test_stdin_header(capsys, monkeypatch):
    rc, out, _ = cli(capsys, "sigmoid", "-", "--header", stdin=b"a,b\n0,1\n",
                     monkeypatch=monkeypatch)
    assert rc == 0
    np.testing.assert_array_equal(read_text(out, ","), logitkit.sigmoid([[0.0, 1.0]]))


@pytest.mark.parametrize("kind", ["npy", "npz"])
def test_stdin_binary(kind):
    buf = io.BytesIO()
    if kind == "npy":
        np.save(buf, LOGITS)
    else:
        np.savez(buf, logits=LOGITS)
    res = run("logsumexp", "-", stdin=buf.getvalue())
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(read_text(res.stdout.decode()).ravel(),
                                  logitkit.logsumexp(LOGITS))


def test_one_dimensional_and_zero_dimensional(capsys, tmp_path):
    src = tmp_path / "v.npy"
    np.save(src, np.array([2.0, 1.0, 0.1]))
    rc, out, _ = cli(capsys, "softmax", src)
    assert rc == 0 and read_text(out).shape == (1, 3)         # a 1-d result is one row
    rc, out, _ = cli(capsys, "logsumexp", src)
    assert rc == 0 and float(out) == logitkit.logsumexp([2.0, 1.0, 0.1])
    np.save(src, np.array(5.0))
    rc, out, _ = cli(capsys, "softmax", src)
    assert rc == 0 and float(out) == 1.0


def test_integer_input(capsys, tmp_path):
    src = tmp_path / "i.npy"
    np.save(src, np.array([[1, 2, 3]], dtype=np.uint8))
    rc, out, _ = cli(capsys, "softmax", src)
    assert rc == 0
    np.testing.assert_array_equal(read_text(out), logitkit.softmax([[1.0, 2.0, 3.0]]))


# ---------------------------------------------------------------- the chunked path

@pytest.fixture
def big_npy(tmp_path):
    x = np.random.default_rng(2).standard_normal((1000, 37)) * 8
    x[5, 3] = np.inf
    x[7] = -np.inf
    path = tmp_path / "big.npy"
    np.save(path, x)
    return path, x


def count_chunks(monkeypatch):
    calls = []
    real = commands._compute

    def counting(command, x, args):
        calls.append(x.shape)
        return real(command, x, args)
    monkeypatch.setattr(commands, "_compute", counting)
    return calls


@pytest.mark.parametrize("out_ext", [".npy", ".npz", ".csv"])
def test_chunked_softmax_matches_whole(capsys, monkeypatch, tmp_path, big_npy, out_ext):
    path, x = big_npy
    calls = count_chunks(monkeypatch)
    out = tmp_path / f"out{out_ext}"
    rc, _, err = cli(capsys, "softmax", path, "-o", out, "--chunk-bytes", 37 * 8 * 64)
    assert rc == 0, err
    assert len(calls) == 16 and calls[0] == (64, 37) and calls[-1] == (1000 - 15 * 64, 37)
    if out_ext == ".npy":
        got = np.load(out)
    elif out_ext == ".npz":
        with np.load(out) as z:
            got = z["softmax"]
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".logitkit-")]
    else:
        got = read_text(out, ",")
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(got, logitkit.softmax(x))


def test_chunked_reductions_and_predict(capsys, monkeypatch, tmp_path, big_npy):
    path, x = big_npy
    calls = count_chunks(monkeypatch)
    out = tmp_path / "lse.npy"
    assert cli(capsys, "logsumexp", path, "-o", out, "--chunk-bytes", 4096)[0] == 0
    np.testing.assert_array_equal(np.load(out), logitkit.logsumexp(x))
    assert len(calls) > 1
    out = tmp_path / "pred.npz"
    assert cli(capsys, "predict", path, "--prob", "--top-k", "2", "-o", out,
               "--chunk-bytes", 4096)[0] == 0
    with np.load(out) as z:
        order = np.argsort(-x, axis=-1, kind="stable")[:, :2]
        np.testing.assert_array_equal(z["classes"], order)
        np.testing.assert_array_equal(z["probs"],
                                      np.take_along_axis(logitkit.softmax(x), order, 1))


def test_chunked_middle_axis_and_sigmoid(capsys, monkeypatch, tmp_path):
    x = np.random.default_rng(3).standard_normal((40, 6, 5)).astype(np.float32)
    path, out = tmp_path / "x3.npy", tmp_path / "y.npy"
    np.save(path, x)
    calls = count_chunks(monkeypatch)
    assert cli(capsys, "log-softmax", path, "--axis", "1", "-o", out,
               "--chunk-bytes", 600)[0] == 0
    np.testing.assert_array_equal(np.load(out), logitkit.log_softmax(x, axis=1))
    assert len(calls) == 8
    assert cli(capsys, "sigmoid", path, "-o", out, "--chunk-bytes", 600)[0] == 0
    np.testing.assert_array_equal(np.load(out), logitkit.sigmoid(x))


def test_axis0_is_not_chunked(capsys, monkeypatch, tmp_path, big_npy):
    path, x = big_npy
    calls = count_chunks(monkeypatch)
    out = tmp_path / "y.npy"
    assert cli(capsys, "logsumexp", path, "--axis", "0", "-o", out, "--chunk-bytes", 4096)[0] == 0
    assert calls == [x.shape]
    np.testing.assert_array_equal(np.load(out), logitkit.logsumexp(x, axis=0))


def test_empty_npy(capsys, tmp_path):
    path, out = tmp_path / "e.npy", tmp_path / "o.npy"
    np.save(path, np.zeros((0, 4)))
    assert cli(capsys, "softmax", path, "-o", out)[0] == 0
    assert np.load(out).shape == (0, 4)


def test_stdout_broken_pipe_is_quiet(big_npy):
    path, _ = big_npy
    env = dict(os.environ, PYTHONPATH=PKG_PARENT)
    cmd = f'"{sys.executable}" -m logitkit softmax "{path}" | head -1'
    res = subprocess.run(cmd, shell=True, capture_output=True, env=env, timeout=120)
    assert b"Traceback" not in res.stderr


# ---------------------------------------------------------------- user mistakes

MISTAKES = {
    "missing file": (lambda t: ["softmax", t / "nope.npy"], "nope.npy: no such file"),
    "directory": (lambda t: ["softmax", t], "is a directory"),
    "bad axis": (lambda t: ["softmax", write(t, "a.csv", "1,2\n"), "--axis", "2"],
                 "--axis 2 is out of range for an input of shape (1, 2)"),
    "bad axis predict": (lambda t: ["predict", write(t, "a.csv", "1,2\n"), "--axis", "-3"],
                         "--axis -3 is out of range"),
    "axis not a number": (lambda t: ["softmax", "x.csv", "--axis", "last"],
                          "argument --axis: invalid int value: 'last'"),
    "non-numeric cell": (lambda t: ["softmax", write(t, "a.csv", "1,2,3\n4,five,6\n")],
                         "a.csv: row 2, column 2: 'five' is not a number"),
    "non-numeric tsv cell": (lambda t: ["sigmoid", write(t, "a.tsv", "# c\n1\t2\n\n3\t?\n")],
                             "a.tsv: row 4, column 2: '?' is not a number"),
    "header without --header": (lambda t: ["softmax", write(t, "h.csv", "a,b\n1,2\n")],
                                "row 1, column 1: 'a' is not a number (a header line? use "
                                "--header)"),
    "ragged rows": (lambda t: ["softmax", write(t, "r.csv", "1,2,3\n4,5\n")],
                    "row 2 has 2 columns, the first row has 3"),
    "empty text": (lambda t: ["softmax", write(t, "e.csv", "\n# nothing\n")], "no numbers in it"),
    "unknown key": (lambda t: ["softmax", npz(t, a=LOGITS), "--key", "zz"],
                    "no array named 'zz' (it holds: a)"),
    "several keys": (lambda t: ["softmax", npz(t, a=LOGITS, b=LOGITS)],
                     "holds several arrays (a, b); choose one with --key NAME"),
    "key on npy": (lambda t: ["softmax", npy(t, LOGITS), "--key", "a"],
                   "--key only applies to .npz inputs"),
    "unknown input format": (lambda t: ["softmax", write(t, "x.json", "[1]")],
                             "unknown input format '.json'"),
    "corrupt npy": (lambda t: ["softmax", write(t, "bad.npy", b"not numpy")],
                    "bad.npy: not a readable .npy file"),
    "complex input": (lambda t: ["softmax", npy(t, np.ones((2, 2), complex))],
                      "holds complex128 values; logits must be real numbers"),
    "unknown output format": (lambda t: ["softmax", npy(t, LOGITS), "-o", t / "o.xlsx"],
                              "unknown output format '.xlsx'"),
    "output directory missing": (lambda t: ["softmax", npy(t, LOGITS), "-o", t / "no/o.npy"],
                                 "does not exist"),
    "top-k too large": (lambda t: ["predict", npy(t, LOGITS), "--top-k", "4"],
                        "--top-k 4 is out of range: there are 3 classes"),
    "top-k zero": (lambda t: ["predict", npy(t, LOGITS), "--top-k", "0"],
                   "K must be at least 1"),
    "prob to npy": (lambda t: ["predict", npy(t, LOGITS), "--prob", "-o", t / "p.npy"],
                    "--prob gives two arrays"),
    "3-d result as text": (lambda t: ["softmax", npy(t, np.zeros((2, 2, 2)))],
                           "a 3-d result cannot be written as text"),
    "unknown command": (lambda t: ["frobnicate"], "invalid choice: 'frobnicate'"),
    "missing input": (lambda t: ["softmax"], "the following arguments are required: INPUT"),
    "bad dtype": (lambda t: ["softmax", "x.npy", "--dtype", "int8"],
                  "argument --dtype: invalid choice: 'int8'"),
    "bad stdin": (lambda t: ["softmax", "-"], "<stdin>: no numbers in it"),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_user_mistake_in_process(capsys, tmp_path, monkeypatch, case):
    make_args, message = MISTAKES[case]
    rc, out, err = cli(capsys, *make_args(tmp_path), stdin=b"", monkeypatch=monkeypatch)
    assert rc == 2
    assert out == ""
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1, err
    assert "error: logitkit" not in err                       # the prefix once
    assert message in err


def test_usage_errors_have_one_prefix(capsys):
    rc, out, err = cli(capsys, "frobnicate")
    assert (rc, out) == (2, "")
    assert err.startswith("logitkit: error: argument COMMAND: invalid choice: 'frobnicate' "
                          "(choose from 'softmax', ")
    assert err.endswith(" (see `logitkit --help`)\n") and err.count("logitkit") == 2
    rc, _, err = cli(capsys, "softmax", "x.csv", "--axis", "last")
    assert rc == 2 and err == ("logitkit: error: softmax: argument --axis: invalid int value: "
                               "'last' (see `logitkit softmax --help`)\n")


@pytest.mark.parametrize("case", ["missing file", "bad axis", "non-numeric cell", "unknown key",
                                  "unknown command", "complex input"])
def test_user_mistake_subprocess(tmp_path, case):
    make_args, message = MISTAKES[case]
    res = run(*make_args(tmp_path))
    err = res.stderr.decode()
    assert res.returncode == 2
    assert "Traceback" not in err and err.count("\n") == 1 and message in err
    assert err.startswith("logitkit: error: ") and "error: logitkit" not in err


# ---------------------------------------------------------------- outputs are written atomically

def test_output_may_be_the_input(capsys, tmp_path, big_npy):
    path, x = big_npy
    rc, _, err = cli(capsys, "sigmoid", path, "-o", path, "--chunk-bytes", 4096)
    assert rc == 0, err
    np.testing.assert_array_equal(np.load(path), logitkit.sigmoid(x))
    assert os.listdir(path.parent) == [path.name]             # no temporary files left


@pytest.mark.parametrize("out_name", ["o.csv", "o.npy", "o.npz"])
def test_failure_leaves_no_file(capsys, tmp_path, out_name):
    src = npy(tmp_path, np.ones((2, 2, 2), complex))            # refused after the sink opens?
    before = set(os.listdir(tmp_path))
    rc, _, err = cli(capsys, "softmax", src, "-o", tmp_path / out_name)
    assert rc == 2
    assert set(os.listdir(tmp_path)) == before


def test_text_failure_midway_leaves_no_file(capsys, tmp_path):
    src = npy(tmp_path, np.zeros((4, 2, 2)))
    rc, _, err = cli(capsys, "softmax", src, "-o", tmp_path / "o.csv", "--chunk-bytes", 32)
    assert rc == 2 and "3-d result cannot be written as text" in err
    assert sorted(os.listdir(tmp_path)) == ["in.npy"]


def test_output_is_a_directory(capsys, tmp_path):
    (tmp_path / "d.npy").mkdir()
    rc, _, err = cli(capsys, "softmax", npy(tmp_path, LOGITS), "-o", tmp_path / "d.npy")
    assert rc == 2 and "is a directory" in err
