#!/usr/bin/env bash
# The aarch64 object code, by construction: cross-compiles every C unit of the extension for
# aarch64 with GCC (aarch64-linux-gnu-gcc) and Clang (-target aarch64-linux-gnu, when
# installed), with setup.py's flags plus -Wall -Wextra -Werror, and counts the floating-point
# instructions of the two kernel units. Fails when a unit does not compile cleanly or when the
# NEON unit holds no vector fused multiply-add (fmla/fmls). The baseline's counts are printed
# beside it: its fused operations are the kernels' explicit scalar fma() calls (fmadd, and a
# few fmla where Clang pairs two of them), never a contraction (-ffp-contract=off). Then runs
# tools/neon_primitives.c under qemu-aarch64-static (when installed): the NEON primitives
# against the portable ones and C's fma(), bit for bit.
#
#   bash tools/aarch64_instructions.sh        (~2 min; apt-get install gcc-aarch64-linux-gnu
#                                              binutils-aarch64-linux-gnu clang)
#   AARCH64_CC_ONLY=gcc                       skip Clang
#
# Exit 0 as above, 1 a failure, 2 no cross compiler.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
CSRC="$REPO/src/logitkit/csrc"
OBJDUMP=aarch64-linux-gnu-objdump
# setup.py's flags for GCC and Clang (without -falign-loops, which Clang does not take)
FLAGS=(-O3 -fno-trapping-math -ffp-contract=off -fno-math-errno -std=c11 -Wno-psabi -pthread
       -fPIC -Wall -Wextra -Werror -I"$CSRC")
UNITS=(dispatch.c parallel.c softmax.c cross_entropy.c targets/baseline.c targets/neon.c)

command -v aarch64-linux-gnu-gcc > /dev/null && command -v "$OBJDUMP" > /dev/null || {
    echo "aarch64_instructions.sh: needs aarch64-linux-gnu-gcc and $OBJDUMP" >&2; exit 2; }
compilers=(gcc)
if [ "${AARCH64_CC_ONLY:-}" != gcc ] && command -v clang > /dev/null; then compilers+=(clang); fi

OUT="$(mktemp -d /tmp/logitkit-a64-XXXX)"
trap 'rm -rf "$OUT"' EXIT
cc_for() {
    case "$1" in
    gcc) echo "aarch64-linux-gnu-gcc -falign-loops=64" ;;
    clang) echo "clang -target aarch64-linux-gnu" ;;
    esac
}

# every unit of every compiler side by side (the kernel units take a CPU minute each)
for cc in "${compilers[@]}"; do
    for unit in "${UNITS[@]}"; do
        obj="$OUT/$cc-$(basename "$unit" .c).o"
        $(cc_for "$cc") "${FLAGS[@]}" -c "$CSRC/$unit" -o "$obj" > "$obj.log" 2>&1 &
    done
done
wait

failed=0
for cc in "${compilers[@]}"; do
    for unit in "${UNITS[@]}"; do
        obj="$OUT/$cc-$(basename "$unit" .c).o"
        if [ ! -s "$obj" ] || [ -s "$obj.log" ]; then
            echo "FAIL: $cc $unit did not compile cleanly:"
            head -n 20 "$obj.log"
            failed=1
        fi
    done
done
[ "$failed" = 0 ] || exit 1

count() {   # count OBJECT MNEMONIC...: how many instructions of OBJECT are one of them
    local obj="$1"; shift
    local pattern
    pattern="$(IFS='|'; echo "$*")"
    "$OBJDUMP" -d --no-show-raw-insn "$obj" | awk -F'\t' 'NF >= 2 {print $2}' \
        | awk '{print $1}' | grep -cxE "$pattern"
}

printf '%-6s %-9s %7s %6s %7s %7s %7s %7s\n' compiler unit fmla fmls fmadd fmul fadd fsub
for cc in "${compilers[@]}"; do
    for unit in baseline neon; do
        obj="$OUT/$cc-$unit.o"
        fmla=$(count "$obj" fmla); fmls=$(count "$obj" fmls)
        fmadd=$(count "$obj" fmadd fmsub fnmadd fnmsub)
        printf '%-6s %-9s %7d %6d %7d %7d %7d %7d\n' "$cc" "$unit" "$fmla" "$fmls" "$fmadd" \
            "$(count "$obj" fmul)" "$(count "$obj" fadd)" "$(count "$obj" fsub)"
        if [ "$unit" = neon ] && [ $((fmla + fmls)) = 0 ]; then
            echo "FAIL: $cc: the NEON unit holds no fmla/fmls"; failed=1
        fi
    done
done

# the NEON primitives against the portable ones, bit for bit, under qemu (~10 s each)
if command -v qemu-aarch64-static > /dev/null; then
    for cc in "${compilers[@]}"; do
        $(cc_for "$cc") -O2 -std=c11 -ffp-contract=off -fno-trapping-math -fno-math-errno \
            -Wall -Wextra -Werror -Wno-psabi -static -I"$CSRC" "$REPO/tools/neon_primitives.c" \
            -lm -o "$OUT/primitives-$cc" || {
            echo "FAIL: $cc: tools/neon_primitives.c"; failed=1; continue; }
        echo -n "$cc: "
        qemu-aarch64-static "$OUT/primitives-$cc" || failed=1
    done
else
    echo "qemu-aarch64-static missing: tools/neon_primitives.c not run"
fi
[ "$failed" = 0 ] && echo "aarch64_instructions.sh: clean units, NEON fused, its primitives exact"
exit "$failed"
