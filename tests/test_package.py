"""The package surface: exports, version, SIMD path selection, the demo (python -m logitkit)."""

import ast
import importlib.metadata
import io
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

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
    if logitkit._ext.vector_lanes() == 1:
        # the one-lane build (plain MSVC's, LOGITKIT_ONE_LANE=1) has the baseline alone; no
        # wheel is one (cibuildwheel's test command)
        assert paths == ["baseline"]
        return
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


# ---------------------------------------------------------------- the distribution's metadata

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"


def _pyproject():
    tomllib = pytest.importorskip("tomllib")            # Python >= 3.11
    if not PYPROJECT.exists():
        pytest.skip("pyproject.toml is not beside tests/")
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)


def test_installed_version_is_the_package_version():
    """The version in the installed distribution's metadata is logitkit.__version__: both
    come from src/logitkit/_version.py."""
    try:
        dist = importlib.metadata.distribution("logitkit")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("logitkit is not installed (imported from the source tree)")
    installed_init = Path(dist.locate_file("logitkit/__init__.py")).resolve()
    if installed_init != Path(logitkit.__file__).resolve():
        pytest.skip("the logitkit imported is not the one installed")
    assert importlib.metadata.version("logitkit") == logitkit.__version__


def test_version_is_written_once():
    """pyproject.toml takes the version from logitkit._version, a file setuptools reads as a
    literal (importing logitkit during the build would need the compiled extension)."""
    from logitkit import _version

    meta = _pyproject()
    assert "version" not in meta["project"] and "version" in meta["project"]["dynamic"]
    assert (meta["tool"]["setuptools"]["dynamic"]["version"]
            == {"attr": "logitkit._version.__version__"})
    tree = ast.parse(Path(_version.__file__).read_text())
    assigns = [node for node in tree.body if isinstance(node, ast.Assign)]
    assert len(assigns) == 1 and isinstance(assigns[0].value, ast.Constant)
    assert assigns[0].value.value == logitkit.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", logitkit.__version__)


def test_setuptools_reads_the_version_without_importing_logitkit():
    pytest.importorskip("setuptools")
    src = Path(logitkit.__file__).resolve().parents[1]
    code = ("import sys; from setuptools.config.expand import read_attr; "
            f"v = read_attr('logitkit._version.__version__', {{}}, {str(src)!r}); "
            "assert not [m for m in sys.modules if m.startswith('logitkit')], 'imported'; "
            "print(v)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items()
                                            if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == logitkit.__version__


def test_project_metadata():
    project = _pyproject()["project"]
    urls = project["urls"]
    for key in ("Homepage", "Documentation", "Source", "Issues"):
        assert urls[key].startswith("https://github.com/logitkit/logitkit"), key
    assert project["authors"] == [{"name": "The logitkit developers"}]
    assert project["license"] == "BSD-3-Clause" and project["keywords"]
    classifiers = project["classifiers"]
    assert len(set(classifiers)) == len(classifiers)
    # setuptools refuses "License ::" classifiers beside a license expression (PEP 639)
    assert not [c for c in classifiers if c.startswith("License ::")]
    for prefix in ("Development Status ::", "Intended Audience ::", "Topic ::",
                   "Programming Language :: Python :: Free Threading ::"):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    for needed in ("Typing :: Typed", "Operating System :: POSIX :: Linux",
                   "Operating System :: MacOS", "Operating System :: Microsoft :: Windows"):
        assert needed in classifiers


def test_python_classifiers_match_requires_python_and_the_wheels_built():
    meta = _pyproject()
    project = meta["project"]
    listed = sorted(int(m.group(1)) for c in project["classifiers"]
                    if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c)))
    floor = int(re.fullmatch(r">=\s*3\.(\d+)", project["requires-python"]).group(1))
    built = sorted({int(m) for m in re.findall(r"\bcp3(\d+)t?-", meta["tool"]["cibuildwheel"]
                                                ["build"])})
    assert listed == built and listed[0] == floor
    assert listed == list(range(listed[0], listed[-1] + 1))


def test_classifiers_are_known_to_pypi():
    """PyPI rejects an upload with an unknown classifier."""
    trove = pytest.importorskip("trove_classifiers")
    unknown = [c for c in _pyproject()["project"]["classifiers"] if c not in trove.classifiers]
    assert not unknown


def test_publish_job_uses_trusted_publishing():
    """Tags v* upload the tested wheels and the sdist to PyPI with an OpenID Connect token:
    no API token in the workflow."""
    yaml = pytest.importorskip("yaml")
    path = ROOT / ".github" / "workflows" / "wheels.yml"
    if not path.exists():
        pytest.skip("the workflows are not beside tests/")
    text = path.read_text()
    workflow = yaml.safe_load(text)
    on = workflow.get("on", workflow.get(True))           # YAML 1.1 reads the key `on` as True
    assert "v*" in on["push"]["tags"]
    jobs = workflow["jobs"]
    publish = jobs["publish"]
    assert set(publish["needs"]) == set(jobs) - {"publish"}
    assert "refs/tags/v" in publish["if"]
    assert publish["permissions"] == {"id-token": "write"}
    env = publish["environment"]
    assert (env if isinstance(env, str) else env["name"]) == "pypi"
    steps = publish["steps"]
    assert steps[0]["uses"].startswith("actions/download-artifact@")
    assert steps[-1]["uses"].startswith("pypa/gh-action-pypi-publish@")
    assert not steps[-1].get("with", {}).get("password")
    assert "secrets." not in text
    uploaded = {s["with"]["name"].split("$")[0] for j in jobs.values() for s in j["steps"]
                if s.get("uses", "").startswith("actions/upload-artifact@")}
    assert uploaded == {"wheels-", "wheels-cp313t-", "sdist"}


# ---------------------------------------------------------------- docs/coming-from.md

def _python_blocks(text):
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


def test_coming_from_page_examples_run(capsys):
    """Every ```python block of the page runs, in order, as one session; the blocks that
    compare with SciPy or PyTorch run where those are installed."""
    docs = ROOT / "docs"
    if not (docs / "semantics.md").exists():
        pytest.skip("docs/ is not beside tests/")
    page = docs / "coming-from.md"
    assert page.exists()
    blocks = _python_blocks(page.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    peers = {"torch": r"\btorch\b|\bF\.", "scipy": r"\bscipy\b"}
    available = {}
    for module in peers:
        try:
            __import__(module)
            available[module] = True
        except ImportError:
            available[module] = False
    namespace = {"__name__": "coming_from"}
    ran = 0
    for number, code in enumerate(blocks, 1):
        if any(re.search(pattern, code) and not available[module]
               for module, pattern in peers.items()):
            continue
        try:
            exec(compile(code, f"coming-from.md, python block {number}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"python block {number} of docs/coming-from.md failed: "
                                 f"{exc!r}\n{code}") from exc
        ran += 1
    assert ran >= 7
    capsys.readouterr()


def test_python_blocks_are_found():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = 2\n```\n"
    assert _python_blocks(text) == ["x = 1\n", "y = 2\n"]
