#!/usr/bin/env bash
# The test suite on arm64 Linux under emulation: an arm64 Debian bookworm root (debootstrap,
# qemu-user through binfmt_misc), the sdist of this checkout built and installed there with its
# test extra, and the suite run from a copy of tests/ once per SIMD path the build offers
# (LOGITKIT_SIMD), then `python -m logitkit info`. Before that, tools/aarch64_instructions.sh
# cross-compiles the kernel units on the host and checks the NEON unit's fused multiply-adds.
#
#   sudo bash tools/aarch64_check.sh                 the whole suite on every path (30+ min)
#   sudo bash tools/aarch64_check.sh -k sigmoid      pytest arguments narrow the suite
#
#   AARCH64_ROOT    where the root is made and kept (default /var/tmp/logitkit-arm64); a root
#                   left by an earlier run is reused, delete it to start over
#   AARCH64_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#   PYTHON          the host interpreter that builds the sdist (needs `build`; default python)
#
# Needs root (debootstrap, chroot, mounts). Installs debootstrap, qemu-user-static,
# binfmt-support and the aarch64 cross compiler with apt-get if missing.
# Exit 0: every run passed; 1: a test or check failed; 2: setup problem.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${AARCH64_ROOT:-/var/tmp/logitkit-arm64}"
MIRROR="${AARCH64_MIRROR:-http://deb.debian.org/debian}"
PY="${PYTHON:-python}"
CA=/etc/ssl/certs/ca-certificates.crt

die() { echo "aarch64_check.sh: $*" >&2; exit 2; }
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
need=""
command -v debootstrap > /dev/null || need="$need debootstrap"
command -v qemu-aarch64-static > /dev/null || need="$need qemu-user-static"
command -v update-binfmts > /dev/null || need="$need binfmt-support"
command -v aarch64-linux-gnu-gcc > /dev/null || need="$need gcc-aarch64-linux-gnu"
command -v aarch64-linux-gnu-objdump > /dev/null || need="$need binutils-aarch64-linux-gnu"
if [ -n "$need" ]; then
    echo "installing$need"
    (apt-get update -qq && apt-get install -y -qq $need) > /dev/null 2>&1 \
        || die "could not install$need"
fi

# arm64 executables run through qemu: binfmt_misc mounted and the qemu-aarch64 entry enabled
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc"
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
    || die "cannot register qemu-aarch64 with binfmt_misc"

step "host: the NEON unit's instructions (cross-compiled)"
bash "$REPO/tools/aarch64_instructions.sh" || exit 1

if [ ! -e "$ROOT/.logitkit-root-ready" ]; then
    step "making the arm64 root in $ROOT (debootstrap, ~15 min)"
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    debootstrap --variant=minbase --arch=arm64 --foreign \
        --include=python3,python3-venv,python3-dev,gcc,binutils bookworm "$ROOT" "$MIRROR" \
        > "$ROOT.debootstrap.log" 2>&1 || die "debootstrap failed (see $ROOT.debootstrap.log)"
    # the second stage runs arm64 programs; a binfmt entry without the F flag needs qemu inside
    cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"
    chroot "$ROOT" /debootstrap/debootstrap --second-stage >> "$ROOT.debootstrap.log" 2>&1 \
        || die "debootstrap's second stage failed (see $ROOT.debootstrap.log)"
    touch "$ROOT/.logitkit-root-ready"
fi
# pip inside verifies TLS with the host's CA bundle (a proxy's CA may be in it) and resolves
# names as the host does
mkdir -p "$ROOT/etc/ssl/certs"
cp "$CA" "$ROOT/etc/ssl/certs/ca-certificates.crt" || die "no CA bundle at $CA"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

step "host: the sdist of this checkout"
WORK="$ROOT/tmp/logitkit-check"
rm -rf "$WORK"
mkdir -p "$WORK"
(cd "$REPO" && "$PY" -m build --sdist --outdir "$WORK" > "$WORK/sdist.log" 2>&1) \
    || die "python -m build --sdist failed (see $WORK/sdist.log)"
SDIST="$(basename "$(ls "$WORK"/logitkit-*.tar.gz)")"
echo "$SDIST"
# the tests run from a copy outside the source tree, against the installed package
cp -r "$REPO/tests" "$WORK/tests"

cleanup() {
    umount "$ROOT/dev" "$ROOT/proc" 2>/dev/null
}
trap cleanup EXIT
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc" || die "cannot mount proc"
mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev" || die "cannot bind /dev"

cat > "$WORK/inside.sh" <<'EOF'
set -u
step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }
export PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
       PIP_DEFAULT_TIMEOUT=180 HOME=/root
cd /tmp/logitkit-check
uname -m
VENV=/opt/logitkit-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" || exit 2
. "$VENV/bin/activate"
step "arm64: pip install setuptools>=77 and $1[test] (the build ~6 min emulated)"
start=$(date +%s)
python -m pip install -q "setuptools>=77" || exit 2
python -m pip uninstall -q -y logitkit 2>/dev/null
python -m pip install -q "./$1[test]" || exit 2
echo "installed in $(( $(date +%s) - start )) s"
python -m pip list 2>/dev/null | grep -iE "^(numpy|logitkit|setuptools|pytest|hypothesis) "
failed=0
lib=$(python -c 'import logitkit._ext as e; print(e.__file__)')
fmla=$(objdump -d "$lib" | grep -cE '\sfml[as]\s')
echo "the installed extension holds $fmla fmla/fmls instructions"
paths=$(python -c 'import logitkit; print(" ".join(logitkit.simd_paths()))') || exit 1
echo "SIMD paths: $paths"
case " $paths " in *" neon "*) ;; *) echo "FAIL: no neon path"; failed=1 ;; esac
[ "$fmla" -gt 0 ] || { echo "FAIL: no fused multiply-add in the extension"; failed=1; }
shift
for path in $paths; do
    step "arm64: pytest on LOGITKIT_SIMD=$path"
    start=$(date +%s)
    LOGITKIT_SIMD=$path python -m pytest -q -p no:cacheprovider tests "$@" 2>&1 | tail -n 15
    rc=${PIPESTATUS[0]}
    echo "LOGITKIT_SIMD=$path: pytest exit $rc in $(( $(date +%s) - start )) s"
    [ "$rc" = 0 ] || failed=1
done
step "arm64: python -m logitkit info"
python -m logitkit info || failed=1
active=$(python -c 'import logitkit; print(logitkit.simd_path())')
[ "$active" = neon ] || { echo "FAIL: the default path is $active, not neon"; failed=1; }
exit $failed
EOF

# a clean environment: the host's pip settings (find-links, indexes) name paths not in the root
chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 /bin/bash /tmp/logitkit-check/inside.sh "$SDIST" "$@"
rc=$?
echo
if [ "$rc" = 0 ]; then echo "aarch64_check.sh: every run passed"
else echo "aarch64_check.sh: FAILED (exit $rc)"; fi
[ "$rc" = 0 ] || [ "$rc" = 2 ] || rc=1
exit "$rc"
