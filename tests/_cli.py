"""What the command line's tests share: running it in-process and in a subprocess, reading its
text output back, and writing input files."""

import io
import os
import subprocess
import sys

import numpy as np

import logitkit
from logitkit import cli as _cli

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
    """Numbers from text separated by `delimiter` (None: whitespace); a line separated
    otherwise fails to parse."""
    if os.path.exists(str(path_or_text)):
        with open(path_or_text) as f:
            text = f.read()
    else:
        text = path_or_text
    return np.array([[float(c) for c in (ln.split(delimiter) if delimiter else ln.split())]
                     for ln in text.splitlines() if ln.strip()])


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def npz(tmp_path, **arrays):
    p = tmp_path / "in.npz"
    np.savez(p, **arrays)
    return p


def npy(tmp_path, arr, name="in.npy"):
    p = tmp_path / name
    np.save(p, arr)
    return p
