#!/usr/bin/env bash
# Build logitkit's extension with AddressSanitizer + UndefinedBehaviorSanitizer (gcc) in a
# separate copy of the tree, then run the test suite under it with the ASan runtime preloaded
# into Python. Findings are printed (and kept in $OUT/asan.log*, $OUT/pytest.log).
#
#   tools/sanitize.sh [pytest args...]        e.g. tools/sanitize.sh tests/test_bad_input.py
#   SANITIZE_TIMEOUT=1800 (seconds, default)  SANITIZE_DIR=/tmp/logitkit-asan (build dir)
#   SANITIZE_REUSE=1: keep the last sanitizer build (after a change to tests or .py files only)
#
# Exit status: 0 clean, 1 sanitizer findings or test failures, 2 build problem.
set -u
ROOT="${SANITIZE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
OUT="${SANITIZE_DIR:-/tmp/logitkit-asan}"
TIMEOUT="${SANITIZE_TIMEOUT:-1800}"
CC="${CC:-gcc}"
PY="${PYTHON:-python}"
PY="$("$PY" -c 'import sys; print(sys.executable)')"   # the interpreter, not a pyenv shim

LIBASAN="$($CC -print-file-name=libasan.so)"
LIBUBSAN="$($CC -print-file-name=libubsan.so)"
if [ ! -e "$LIBASAN" ]; then echo "sanitize.sh: no libasan for $CC" >&2; exit 2; fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
if [ "${SANITIZE_REUSE:-0}" = "1" ] && ls "$OUT"/src/logitkit/_ext*.so > /dev/null 2>&1; then
    echo "== reusing the sanitizer build in $OUT (tests and sources copied afresh)"
    rm -f "$OUT"/asan.log* "$OUT"/ubsan.log*
    cp -r "$ROOT"/tests "$OUT"/ && cp "$ROOT"/src/logitkit/*.py "$OUT"/src/logitkit/
    cd "$OUT" || exit 2
else
    rm -rf "$OUT" && mkdir -p "$OUT"
    # a copy of the sources: the developer's in-place build stays untouched
    tar -C "$ROOT" --exclude=./build --exclude='./src/logitkit/*.so' --exclude=./.git \
        --exclude='./src/logitkit/_ext.c' -cf - . | tar -C "$OUT" -xf -
    cd "$OUT" || exit 2
    echo "== building with $SAN (several minutes: the Cython module is large)"
    if ! CC="$CC" CFLAGS="$SAN" LDFLAGS="-fsanitize=address,undefined" \
            "$PY" setup.py build_ext --inplace -q > build.log 2>&1; then
        tail -30 build.log; echo "sanitize.sh: build failed" >&2; exit 2
    fi
fi
nm -D src/logitkit/_ext*.so | grep -q __asan_init || {
    echo "sanitize.sh: the extension is not instrumented" >&2; exit 2; }

export LD_PRELOAD="$LIBASAN"      # libubsan comes in as the extension's own dependency
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONPATH="$OUT/src"
export PYTHONMALLOC=malloc          # let ASan see Python's small allocations too
echo "== pytest under ASan+UBSan (timeout ${TIMEOUT}s): ${*:-tests}"
start=$(date +%s)
# --capture=sys: a sanitizer report written to fd 2 by a dying process must reach the log
timeout "$TIMEOUT" "$PY" -m pytest -q -p no:cacheprovider -x --capture=sys "${@:-tests}" \
    > pytest.log 2>&1
rc=$?
end=$(date +%s)
unset LD_PRELOAD
tail -5 pytest.log
echo "== pytest exit $rc after $((end - start)) s"
findings=0
for f in "$OUT"/asan.log* "$OUT"/ubsan.log*; do
    [ -e "$f" ] || continue
    findings=1
    echo "== sanitizer report $f"; head -60 "$f"
done
if grep -qE "runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer" pytest.log; then
    findings=1
    echo "== sanitizer report(s) in $OUT/pytest.log:"
    grep -A12 -E "runtime error:|ERROR: AddressSanitizer" pytest.log | head -60
fi
if [ $findings -eq 0 ]; then echo "== no ASan/UBSan findings"; fi
if [ $rc -eq 124 ]; then echo "sanitize.sh: timed out" >&2; exit 1; fi
[ $findings -eq 0 ] && [ $rc -eq 0 ] && exit 0
exit 1
