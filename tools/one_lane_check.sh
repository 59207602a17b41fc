#!/usr/bin/env bash
# Build the one-lane kernels (what plain MSVC compiles: no vector extensions, the baseline
# target only; LOGITKIT_ONE_LANE=1 in setup.py) in a copy of the tree and run the test suite
# on that build. The developer's in-place build stays untouched.
#
#   tools/one_lane_check.sh [pytest args...]     default: the whole suite
#   ONE_LANE_DIR=/tmp/logitkit-one-lane (build dir)   ONE_LANE_REUSE=1: keep the last build
#
# Exit status: 0 the suite passed, 1 test failures, 2 build problem or not a one-lane build.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${ONE_LANE_DIR:-/tmp/logitkit-one-lane}"
PY="${PYTHON:-python}"
PY="$("$PY" -c 'import sys; print(sys.executable)')"

if [ "${ONE_LANE_REUSE:-0}" = "1" ] && ls "$OUT"/src/logitkit/_ext*.so > /dev/null 2>&1; then
    echo "== reusing the one-lane build in $OUT (tests and .py files copied afresh)"
    rm -rf "$OUT"/tests && cp -r "$ROOT"/tests "$ROOT"/docs "$ROOT"/pyproject.toml "$OUT"/
    (cd "$ROOT"/src && find logitkit -name '*.py' -o -name '*.pyi' -o -name py.typed) |
        while read -r f; do cp "$ROOT/src/$f" "$OUT/src/$f"; done
    cd "$OUT" || exit 2
else
    rm -rf "$OUT" && mkdir -p "$OUT"
    tar -C "$ROOT" --exclude=./build --exclude='./src/logitkit/*.so' --exclude=./.git \
        --exclude='./src/logitkit/_ext.c' -cf - . | tar -C "$OUT" -xf -
    cd "$OUT" || exit 2
    echo "== building with LOGITKIT_ONE_LANE=1 in $OUT"
    if ! LOGITKIT_ONE_LANE=1 "$PY" setup.py build_ext --inplace -q > build.log 2>&1; then
        tail -30 build.log; echo "one_lane_check.sh: build failed" >&2; exit 2
    fi
fi
export PYTHONPATH="$OUT/src"
# the build must be what it claims: one lane, and the baseline path alone
if ! "$PY" -c 'import sys, logitkit, logitkit._ext as e
sys.exit(0 if e.vector_lanes() == 1 and logitkit.simd_paths() == ["baseline"] else 1)'; then
    echo "one_lane_check.sh: $OUT is not a one-lane build" >&2; exit 2
fi
"$PY" -m logitkit info | grep -E "simd path|vectors"
echo "== pytest on the one-lane build: ${*:-tests}"
start=$(date +%s)
"$PY" -m pytest -q -p no:cacheprovider "${@:-tests}"
rc=$?
echo "== pytest exit $rc after $(( $(date +%s) - start )) s"
[ $rc -eq 0 ] && exit 0
exit 1
