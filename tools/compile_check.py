#!/usr/bin/env python3
"""Compile every C unit of the kernels with each toolchain at hand and fail on any warning.

    python tools/compile_check.py               every toolchain found (a line each for the rest)
    python tools/compile_check.py --only clang-cl,msvc-like
    python tools/compile_check.py --list        the toolchains and whether each is available

The units are src/logitkit/csrc/*.c and csrc/targets/*.c (not the Cython-generated _ext.c), with
-Wall -Wextra (clang-cl: /W4) and the flags setup.py builds them with. Each is compiled to an
object (Clang reports a target-attribute mismatch only when it generates code), except for the
cross targets whose C library is not installed, which are checked with -fsyntax-only.

Toolchains:
  gcc, gcc-one-lane   the host GCC, and the one-lane build (LK_ONE_LANE, as plain MSVC gets it)
  clang               clang for x86-64 Linux (also what Apple Clang compiles on Intel Macs)
  clang-aarch64       clang --target=aarch64-linux-gnu (needs libc6-dev-arm64-cross)
  mingw               x86_64-w64-mingw32-gcc (GCC's Windows target: the vector path)
  clang-cl            clang in MSVC mode as setup.py drives it for the Windows wheels
                      (CC=clang-cl): its CLANG_CL_ARGS and per-unit CLANG_CL_TARGET_ARGS
  msvc-like           the same front end with __clang__ undefined: the preprocessor branches plain
                      MSVC takes (one lane, no x86 targets, MSVC's interlocked functions), and no
                      variable-length arrays or other GNU extensions (MSVC has none)
MinGW's headers serve the mingw toolchain. Clang's MSVC mode cannot read them (they define
__attribute__ away where __GNUC__ is not defined, and clash with Clang's intrin.h), so clang-cl and
msvc-like read stand-ins for the C runtime's and the Windows SDK's headers (STANDINS below): the
declarations the units use, with the signatures of Microsoft's headers.

A probe appended to each unit asserts the branch it took: the vector extensions (and for the
target units their width: 4 doubles for AVX2, 8 for AVX-512) or one lane. Exit status: 0 clean,
1 a warning, an error or a failed probe, 2 no toolchain found.
"""

from __future__ import annotations

import argparse
import ast
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "src", "logitkit", "csrc")
MINGW_INCLUDE = "/usr/share/mingw-w64/include"
STANDINS = {
    "math.h": """#pragma once
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
#define HUGE_VAL __builtin_huge_val()
#define isfinite(x) __builtin_isfinite(x)
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
double exp(double); double expm1(double); double log(double); double log1p(double);
double fabs(double); double floor(double); double ceil(double); double round(double);
double nearbyint(double); double sqrt(double); double fma(double, double, double);
double fmax(double, double); double fmin(double, double); double frexp(double, int *);
double ldexp(double, int); double copysign(double, double); float expf(float);
float logf(float); float fabsf(float); double nextafter(double, double);
""",
    "stdlib.h": """#pragma once
#include <stddef.h>
void *malloc(size_t); void *calloc(size_t, size_t); void *realloc(void *, size_t);
void free(void *); int abs(int); long labs(long); __declspec(noreturn) void abort(void);
char *getenv(const char *);
void qsort(void *, size_t, size_t, int (*)(const void *, const void *));
""",
    "malloc.h": """#pragma once
#include <stdlib.h>
void *_aligned_malloc(size_t, size_t); void _aligned_free(void *);
""",
    "string.h": """#pragma once
#include <stddef.h>
void *memcpy(void *, const void *, size_t); void *memset(void *, int, size_t);
void *memmove(void *, const void *, size_t); size_t strlen(const char *);
int strcmp(const char *, const char *);
""",
    "setjmp.h": """#pragma once
typedef struct { unsigned __int64 part[2]; } __declspec(align(16)) _JBTYPE;
typedef _JBTYPE jmp_buf[16];
""",
    "windows.h": """#pragma once
#include <stddef.h>
#define WINAPI __stdcall
#define INFINITE 0xFFFFFFFF
typedef unsigned long DWORD; typedef int BOOL; typedef void *HANDLE, *LPVOID, *PVOID;
typedef size_t SIZE_T;
typedef union { struct { DWORD LowPart; long HighPart; } u; __int64 QuadPart; } LARGE_INTEGER;
typedef struct { PVOID Ptr; } SRWLOCK, *PSRWLOCK;
typedef struct { PVOID Ptr; } CONDITION_VARIABLE, *PCONDITION_VARIABLE;
#define SRWLOCK_INIT {0}
typedef DWORD (WINAPI *LPTHREAD_START_ROUTINE)(LPVOID);
void WINAPI InitializeSRWLock(PSRWLOCK); void WINAPI AcquireSRWLockExclusive(PSRWLOCK);
void WINAPI ReleaseSRWLockExclusive(PSRWLOCK);
void WINAPI InitializeConditionVariable(PCONDITION_VARIABLE);
BOOL WINAPI SleepConditionVariableSRW(PCONDITION_VARIABLE, PSRWLOCK, DWORD, unsigned long);
void WINAPI WakeAllConditionVariable(PCONDITION_VARIABLE);
HANDLE WINAPI CreateThread(void *, SIZE_T, LPTHREAD_START_ROUTINE, LPVOID, DWORD, DWORD *);
BOOL WINAPI CloseHandle(HANDLE);
BOOL WINAPI QueryPerformanceCounter(LARGE_INTEGER *);
BOOL WINAPI QueryPerformanceFrequency(LARGE_INTEGER *);
/* as the SDK's minwindef.h does: a kernel that names a variable near or far breaks there */
#define near
#define far
""",
}
AARCH64_INCLUDE = "/usr/aarch64-linux-gnu/include"
# setup.py's flags for GCC and Clang (the warnings depend on -std and the math flags)
UNIX_ARGS = ["-O1", "-std=c11", "-fno-trapping-math", "-ffp-contract=off", "-fno-math-errno",
             "-pthread", "-Wno-psabi", "-Wall", "-Wextra"]


def setup_constant(name: str) -> object:
    """A literal assigned at the top level of setup.py (read, not run: setup.py builds)."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"setup.py assigns no {name}")


@dataclass
class Toolchain:
    name: str
    command: list[str]           # compiler and common flags; the unit's path goes last
    needs: list[str]             # executables and directories that must exist
    output: str                  # "obj" (compile to an object) or "syntax"
    vector: bool                 # whether the vector extensions must be in use
    target_args: dict[str, list[str]] = field(default_factory=dict)

    def missing(self) -> str | None:
        for need in self.needs:
            if not (os.path.isdir(need) if need.startswith("/") else shutil.which(need)):
                return need
        return None


def toolchains() -> list[Toolchain]:
    clang_cl_args = setup_constant("CLANG_CL_ARGS")
    clang_cl_targets = setup_constant("CLANG_CL_TARGET_ARGS")
    assert isinstance(clang_cl_args, list) and isinstance(clang_cl_targets, dict)
    cl = ["clang", "--driver-mode=cl", "--target=x86_64-pc-windows-msvc", "/nologo", "/W4",
          "/MD", "/DNDEBUG", "/O2", "/fp:precise", *clang_cl_args, "/imsvc{standins}"]
    return [
        Toolchain("gcc", ["gcc", *UNIX_ARGS], ["gcc"], "obj", True),
        Toolchain("gcc-one-lane", ["gcc", *UNIX_ARGS, "-DLK_ONE_LANE=1"], ["gcc"],
                  "obj", False),
        Toolchain("clang", ["clang", "--target=x86_64-linux-gnu", *UNIX_ARGS], ["clang"], "obj",
                  True),
        Toolchain("clang-aarch64", ["clang", "--target=aarch64-linux-gnu", *UNIX_ARGS,
                                    "-isystem", AARCH64_INCLUDE],
                  ["clang", AARCH64_INCLUDE], "syntax", True),
        Toolchain("mingw", ["x86_64-w64-mingw32-gcc", *UNIX_ARGS],
                  ["x86_64-w64-mingw32-gcc"], "obj", True),
        Toolchain("clang-cl", cl, ["clang"], "obj", True, target_args=clang_cl_targets),
        Toolchain("msvc-like", [*cl, "-U__clang__", "-Wno-builtin-macro-redefined", "-Wvla",
                                "-Wgnu", "-Wpointer-arith"],
                  ["clang"], "syntax", False),
    ]


def units() -> list[str]:
    return sorted(glob.glob(os.path.join(CSRC, "*.c"))) + sorted(
        glob.glob(os.path.join(CSRC, "targets", "*.c")))


def probe(unit: str, vector: bool) -> str:
    """Preprocessor assertions appended to a unit: the branch it must have taken."""
    lines = ["", "/* compile_check.py: the branch this unit took */",
             '#include "simd/compiler.h"',
             f"#if LK_VECTOR_EXT != {int(vector)}",
             f'#error "LK_VECTOR_EXT is not {int(vector)}"', "#endif"]
    width = {"avx2.c": 4, "avx512.c": 8}.get(os.path.basename(unit)) if vector else None
    if os.path.basename(unit) == "baseline.c":
        width = None if vector else 1
    if width is not None:
        lines += ["#if defined(__x86_64__)" if vector else "#if 1",
                  f"#if !defined(LK_W) || LK_W != {width}",
                  f'#error "this unit\'s vectors are not {width} doubles"', "#endif", "#endif"]
    return "\n".join(lines) + "\n"


def wrapper(unit: str, vector: bool, tmp: str) -> str:
    """A file that includes the unit and then the probe."""
    path = os.path.join(tmp, os.path.basename(unit))
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'#include "{unit}"\n')
        f.write(probe(unit, vector))
    return path


def compile_unit(tc: Toolchain, unit: str, tmp: str, standins: str) -> tuple[str, int, str]:
    src = wrapper(unit, tc.vector, tmp)
    cmd = [a.format(standins=standins) for a in tc.command]
    cmd += tc.target_args.get(os.path.basename(unit), [])
    is_cl = "--driver-mode=cl" in cmd
    cmd += [f"-I{CSRC}"]
    obj = src + ".o"
    if tc.output == "syntax":
        cmd += ["/Zs" if is_cl else "-fsyntax-only"]
    else:
        cmd += ["/c", f"/Fo{obj}"] if is_cl else ["-c", "-o", obj]
    cmd += [f"/Tc{src}"] if is_cl else [src]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return unit, r.returncode, (r.stdout + r.stderr).strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated toolchain names")
    ap.add_argument("--list", action="store_true", help="list the toolchains and exit")
    args = ap.parse_args()
    chains = toolchains()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {tc.name for tc in chains}
        if unknown:
            ap.error(f"unknown toolchains: {', '.join(sorted(unknown))}")
        chains = [tc for tc in chains if tc.name in wanted]
    if args.list:
        for tc in chains:
            miss = tc.missing()
            print(f"{tc.name:14} {'missing ' + miss if miss else 'available'}")
        return 0

    failed, ran = [], 0
    jobs = os.cpu_count() or 1
    for tc in chains:
        miss = tc.missing()
        if miss:
            print(f"== {tc.name}: skipped ({miss} not found)")
            continue
        ran += 1
        with tempfile.TemporaryDirectory(prefix="lk-compile-") as tmp:
            standins = os.path.join(tmp, "standins")
            os.mkdir(standins)
            for name, text in STANDINS.items():
                with open(os.path.join(standins, name), "w", encoding="utf-8") as f:
                    f.write(text)
            per_unit = []
            for unit in units():
                d = os.path.join(tmp, os.path.splitext(os.path.basename(unit))[0])
                os.mkdir(d)
                per_unit.append((unit, d))
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda ud: compile_unit(tc, *ud, standins), per_unit))
        bad = [(u, rc, out) for u, rc, out in results if rc != 0 or out]
        print(f"== {tc.name}: {len(results) - len(bad)} of {len(results)} units clean")
        for unit, rc, out in bad:
            failed.append(tc.name)
            print(f"-- {os.path.relpath(unit, ROOT)} (exit {rc})")
            print("\n".join(out.splitlines()[:40]))
    if ran == 0:
        print("compile_check.py: no toolchain found", file=sys.stderr)
        return 2
    if failed:
        print(f"compile_check.py: warnings or errors with {', '.join(sorted(set(failed)))}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
