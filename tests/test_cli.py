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
from logitkit.cli import bench, commands, verify

PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(logitkit.__file__)))
LOGITS = np.array([[2.0, 1.0, 0.1], [0.5, -3.0, 7.25], [1.0, 1.0, -1e300], [0.0, -40.0, 3.0]])


def run(*args, stdin=b""):
    """`python -m logitkit ARGS` with this logitkit importable (installed or in-tree)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "logitkit", *map(str, args)], input=stdin,
                          capture_output=True, env=env, timeout=120)


def cli(capsys, *args, stdin=None, monkeypatch=None):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    rc = _cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def read_text(path_or_text, delimiter=None):
    if os.path.exists(str(path_or_text)):
        with open(path_or_text) as f:
            text = f.read()
    else:
        text = path_or_text
    return np.array([[float(c) for c in (ln.split(delimiter) if delimiter else ln.split())]
                     for ln in text.splitlines() if ln.strip()])


EXPECTED = {
    "softmax": lambda x: logitkit.softmax(x),
    "log-softmax": lambda x: logitkit.log_softmax(x),
    "logsumexp": lambda x: logitkit.logsumexp(x),
    "sigmoid": lambda x: logitkit.sigmoid(x),
}


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


def test_info(capsys):
    rc, out, _ = cli(capsys, "info")
    assert rc == 0
    for word in ("logitkit", "numpy", "python", "simd path", "threads", logitkit.simd_path()):
        assert word in out


def test_info_subprocess():
    res = run("info")
    assert res.returncode == 0 and b"simd path" in res.stdout


def test_verify(tmp_path):
    pytest.importorskip("logitkit.testing")
    src = tmp_path / "x.npy"
    np.save(src, np.random.default_rng(0).standard_normal((20, 7)) * 10)
    res = run("verify", src)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout.decode()
    for name in (f.name for f in verify.CHECKED):
        assert name in out
    assert "all within the accuracy bars" in out


def test_verify_one_function_and_sampling(capsys, tmp_path):
    pytest.importorskip("logitkit.testing")
    src = tmp_path / "x.npy"
    np.save(src, np.random.default_rng(1).standard_normal((50, 10)))
    rc, out, _ = cli(capsys, "verify", src, "--function", "softmax", "--max-elements", "100")
    assert rc == 0 and "checking 10 of 50 rows" in out and "log_softmax" not in out


def test_verify_reports_a_miss(capsys, tmp_path, monkeypatch):
    testing = pytest.importorskip("logitkit.testing")
    monkeypatch.setattr(testing, "max_ulp_difference", lambda name, x, **kw: 99.0)
    src = tmp_path / "x.npy"
    np.save(src, LOGITS)
    rc, out, _ = cli(capsys, "verify", src, "--function", "sigmoid")
    assert rc == 1 and "FAIL" in out


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
    if out_ext is None:
        got = read_text(out)
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


@pytest.mark.parametrize("text", [b"2.0,1.0,0.1\n1,2,3\n", b"2.0\t1.0\t0.1\n1\t2\t3\n",
                                  b"# comment\n2.0 1.0 0.1\n\n1 2 3\n"])
def test_stdin_text(text):
    res = run("softmax", "-", stdin=text)
    assert res.returncode == 0, res.stderr
    np.testing.assert_array_equal(read_text(res.stdout.decode()),
                                  logitkit.softmax([[2.0, 1.0, 0.1], [1, 2, 3]]))


def test_stdin_header(capsys, monkeypatch):
    rc, out, _ = cli(capsys, "sigmoid", "-", "--header", stdin=b"a,b\n0,1\n",
                     monkeypatch=monkeypatch)
    assert rc == 0
    np.testing.assert_array_equal(read_text(out), logitkit.sigmoid([[0.0, 1.0]]))


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

def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


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


def npz(tmp_path, **arrays):
    p = tmp_path / "in.npz"
    np.savez(p, **arrays)
    return p


def npy(tmp_path, arr):
    p = tmp_path / "in.npy"
    np.save(p, arr)
    return p


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_user_mistake_in_process(capsys, tmp_path, monkeypatch, case):
    make_args, message = MISTAKES[case]
    rc, out, err = cli(capsys, *make_args(tmp_path), stdin=b"", monkeypatch=monkeypatch)
    assert rc == 2
    assert out == ""
    assert err.startswith("logitkit: error: ") and err.count("\n") == 1, err
    assert message in err


@pytest.mark.parametrize("case", ["missing file", "bad axis", "non-numeric cell", "unknown key",
                                  "unknown command", "complex input"])
def test_user_mistake_subprocess(tmp_path, case):
    make_args, message = MISTAKES[case]
    res = run(*make_args(tmp_path))
    err = res.stderr.decode()
    assert res.returncode == 2
    assert "Traceback" not in err and err.count("\n") == 1 and message in err


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
