"""The package surface: exports, version, SIMD path selection, the demo (python -m logitkit)."""

import io
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import logitkit
from logitkit import _demo

PUBLIC = ["softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative",
          "log_sigmoid", "softplus"]


def test_public_functions_and_their_reference_twins():
    for name in PUBLIC:
        assert callable(getattr(logitkit, name)) and name in logitkit.__all__
        assert callable(getattr(logitkit.reference, name))
    assert logitkit.__version__.count(".") == 2


def _default_path():
    """The path import chose: LOGITKIT_SIMD's, or else the fastest."""
    wanted = os.environ.get("LOGITKIT_SIMD", "").strip().lower()
    return logitkit.simd_paths()[-1] if wanted in ("", "auto") else wanted


def test_simd_paths():
    paths = logitkit.simd_paths()
    assert paths[0] == "baseline" and logitkit.simd_path() == _default_path()
    with pytest.raises(ValueError, match="SIMD path"):
        logitkit._set_simd_path("sse9")


def _cpu_flags():
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def test_every_path_the_cpu_can_run_is_offered():
    """A build that silently lost its AVX2 or AVX-512 kernels would still pass every other
    test (they run on whatever paths exist): the paths must match what the CPU reports."""
    flags = _cpu_flags()
    # (an emulated aarch64 Python reads the x86-64 host's /proc/cpuinfo: ask the interpreter)
    if platform.machine().lower() not in ("x86_64", "amd64") or not {"sse2"} <= flags:
        pytest.skip("not an x86-64 Linux machine")
    paths = logitkit.simd_paths()
    assert ("avx2" in paths) == ({"avx2", "fma"} <= flags)
    assert ("avx512" in paths) == ({"avx512f", "avx512dq", "avx512vl", "avx512bw", "avx2",
                                    "fma"} <= flags)


def test_neon_is_offered_exactly_on_aarch64():
    """NEON with FMA is part of ARMv8-A: an aarch64 build always offers it and prefers it, and
    no other build names it."""
    paths = logitkit.simd_paths()
    if platform.machine().lower() in ("aarch64", "arm64"):
        assert paths == ["baseline", "neon"] and _default_path() in paths
    else:
        assert "neon" not in paths


def test_each_path_can_be_forced_by_name():
    for name in logitkit.simd_paths():
        done = run_python("import logitkit; print(logitkit.simd_path())", LOGITKIT_SIMD=name)
        assert done.returncode == 0 and done.stdout.strip() == name


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_environment_variable_forces_a_path():
    done = run_python("import logitkit; print(logitkit.simd_path())", LOGITKIT_SIMD="baseline")
    assert done.returncode == 0 and done.stdout.strip() == "baseline"
    done = run_python("import logitkit", LOGITKIT_SIMD="avx9000")
    assert done.returncode != 0 and "LOGITKIT_SIMD" in done.stderr


def test_demo_walks_the_seed_example():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    stream = io.StringIO()
    assert _demo.main(stream) == 0
    assert (np.random.get_state()[1] == before).all()     # the user's RNG state is kept
    text = stream.getvalue()
    assert logitkit.__version__ in text and logitkit.simd_path() in text
    assert "0.65900114, 0.24243297, 0.09856589" in text
    assert "predicted class       0 (News), probability 0.66" in text
    assert "0.99329726" in text                           # sigmoid(W @ x + b)
    assert "-4.248354255291589e-18" in text               # the confident row, not 0.0


def test_python_dash_m_logitkit():
    done = subprocess.run([sys.executable, "-m", "logitkit"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "softmax" in done.stdout and "predicted class" in done.stdout
