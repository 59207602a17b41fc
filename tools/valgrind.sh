#!/usr/bin/env bash
# valgrind memcheck over a representative subset of logitkit: every public function on every
# dtype and layout family (C, Fortran, strided, reversed, unaligned, big-endian, 0-d, empty,
# 32-d), with out=, in-place, where=, b=, keepdims, return_sign and the bad arguments that must
# raise. Errors whose stack passes through logitkit's extension are the findings.
#
#   tools/valgrind.sh                 the driver below (a few minutes)
#   tools/valgrind.sh pytest ARGS     pytest ARGS under memcheck instead (slow: ~50x)
#   VALGRIND_TIMEOUT=1800 (seconds, default)
#
# Installs valgrind with apt-get if it is missing. Exit 0 clean, 1 findings, 2 setup problem.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TIMEOUT="${VALGRIND_TIMEOUT:-1800}"
PY="${PYTHON:-python}"
# the real interpreter, not a wrapper script (pyenv shims): valgrind must run Python itself
PY="$("$PY" -c 'import sys; print(sys.executable)')"
LOG="${VALGRIND_LOG:-/tmp/logitkit-valgrind.log}"

if ! command -v valgrind > /dev/null; then
    echo "valgrind.sh: valgrind missing, installing it with apt-get"
    (apt-get update -qq && apt-get install -y -qq valgrind) > /dev/null 2>&1 || {
        echo "valgrind.sh: could not install valgrind" >&2; exit 2; }
fi
cd "$ROOT" || exit 2
ls src/logitkit/_ext*.so > /dev/null 2>&1 || "$PY" setup.py build_ext --inplace -q || exit 2

DRIVER="$(mktemp /tmp/logitkit-vg-XXXX.py)"
cat > "$DRIVER" <<'PYEOF'
import numpy as np
import logitkit as L
from numpy.exceptions import AxisError

rng = np.random.default_rng(0)
names = ["softmax", "log_softmax", "logsumexp", "sigmoid", "sigmoid_derivative", "log_sigmoid",
         "softplus", "cross_entropy", "binary_cross_entropy_with_logits"]
funcs = [getattr(L, n) for n in names[:7]]
reductions = funcs[:3]

def unaligned(a):
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = np.ndarray(a.shape, a.dtype, buffer=raw.data, offset=1)
    out[...] = a
    return out

special = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9],
                    [np.nan, 1, 2, 3, 4, 5, 6, 7, 8],
                    [np.inf, 1, -np.inf, 0, 0, 0, 0, 0, 0],
                    [-np.inf] * 9,
                    [1e308, 1e308, -1e308, 0, 5e-324, -0.0, 0, 0, 0]])
count = 0
for dtype in (np.float16, np.float32, np.float64, np.int32, np.uint8, bool):
    with np.errstate(all="ignore"):
        base = (rng.standard_normal((7, 37)) * 20).astype(dtype)
        spec = special.astype(dtype) if np.dtype(dtype).kind == "f" else base[:5, :9]
    inputs = [base, np.asfortranarray(base), base[:, ::-1], base[::2, ::3], base.T,
              unaligned(base), base.astype(base.dtype.newbyteorder(">")), base[0, 0].copy(),
              base[:0], base[:, :0], spec, base.reshape((1,) * 30 + (7, 37)),
              base[:, :1], rng.standard_normal(1000).astype(dtype)]
    for x in inputs:
        for f in funcs:
            kw = [{}] if f in funcs[3:] else [{}, {"axis": 0}, {"axis": None}, {"axis": (0, -1)}]
            for k in kw:
                try:
                    r = f(x, **k)
                except AxisError:
                    continue
                count += 1
                if f in funcs[3:] or f is not L.logsumexp:
                    if np.ndim(r) and np.asarray(r).dtype in (np.float32, np.float64):
                        y = np.array(x, dtype=r.dtype)
                        f(y, out=y, **k)
                        f(x, out=np.empty_like(r), **k)
                        count += 2
for f in reductions:
    x = rng.standard_normal((5, 64, 3))
    for axis in (-1, 0, 1, (0, 2), None):
        f(x, axis=axis, where=x > 0)
        count += 1
x = rng.standard_normal((6, 50))
for b in (x, -x, 0.0, np.ones(50)):
    L.logsumexp(x, b=b, return_sign=True, keepdims=True)
    L.logsumexp(x, axis=0, b=b)
    count += 2
buf = rng.standard_normal(200)
for f in funcs[:2] + funcs[3:]:
    f(buf[:180].reshape(6, 30), out=buf[20:].reshape(6, 30))
    count += 1
bad = [dict(axis=5), dict(axis=(0, 0)), dict(axis=1.5), dict(dtype=int), dict(out=np.empty(3)),
       dict(out=np.empty((6, 50), np.float32))]
for f in reductions:
    for k in bad:
        try:
            f(x, **k)
        except (TypeError, ValueError, AxisError):
            count += 1
for bad_x in (np.zeros(3, complex), np.array(["a"]), [[1.0], [1.0, 2.0]], None):
    for f in funcs:
        try:
            f(bad_x)
        except (TypeError, ValueError):
            count += 1
for n in names[7:]:
    f = getattr(L, n, None)
    if f is None:
        continue
    logits = rng.standard_normal((6, 10))
    try:
        if n == "cross_entropy":
            f(logits, rng.integers(0, 10, 6))
            f(logits, rng.integers(0, 10, 6), reduction="none")
        else:
            f(logits, rng.random((6, 10)))
        count += 1
    except Exception as exc:
        print("loss call failed:", n, exc)
print(f"valgrind driver: {count} calls done")
PYEOF

if [ "${1:-}" = "pytest" ]; then
    shift
    CMD=("$PY" -m pytest -q -p no:cacheprovider "$@")
else
    CMD=("$PY" "$DRIVER")
fi
echo "== valgrind memcheck (timeout ${TIMEOUT}s): ${CMD[*]}"
start=$(date +%s)
PYTHONMALLOC=malloc PYTHONPATH="$ROOT/src" timeout "$TIMEOUT" valgrind --tool=memcheck \
    --error-limit=no --num-callers=30 --track-origins=yes --leak-check=no \
    --log-file="$LOG" "${CMD[@]}"
rc=$?
end=$(date +%s)
rm -f "$DRIVER"
echo "== exit $rc after $((end - start)) s; log: $LOG"
grep "ERROR SUMMARY" "$LOG" | tail -1
# findings: error records whose stack passes through the extension
ours=$(awk '/^==[0-9]+== [A-Z].*(Invalid|uninitialised|Uninitialised|overlap|Mismatched|free)/{rec=1; hit=0; next}
            rec && /_ext|lk_/{hit=1}
            rec && /^==[0-9]+== $/{ if (hit) n++; rec=0 }
            END{print n+0}' "$LOG")
echo "== memcheck errors through logitkit's extension: $ours"
if [ "$ours" -gt 0 ]; then
    grep -n -B2 -A25 -E "Invalid|[Uu]ninitialised" "$LOG" | grep -B5 -A20 -E "_ext|lk_" | head -80
    exit 1
fi
[ $rc -eq 124 ] && { echo "valgrind.sh: timed out" >&2; exit 1; }
exit 0
