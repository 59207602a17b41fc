#!/usr/bin/env bash
# Run the helper pool (src/logitkit/csrc/parallel.c) under ThreadSanitizer: tools/parallel_stress.c
# hammers lk_parallel_run and lk_team_barrier from three threads, then from a forked child.
#
#   tools/tsan_parallel.sh          (needs gcc or clang with -fsanitize=thread)
#
# Exit status: 0 clean, 1 a race, a wrong result or a failed child.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CC="${CC:-gcc}"
BIN="$(mktemp -d)/parallel_stress"
"$CC" -O1 -g -fsanitize=thread -pthread -I"$ROOT/src/logitkit/csrc" \
    "$ROOT/tools/parallel_stress.c" "$ROOT/src/logitkit/csrc/parallel.c" -o "$BIN"
# The child of a fork starts threads of its own, which TSan refuses by default.
TSAN_OPTIONS="die_after_fork=0 halt_on_error=1 exitcode=1" "$BIN"
