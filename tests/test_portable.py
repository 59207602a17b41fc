"""The builds other compilers make: the one-lane kernels (plain MSVC), clang and clang-cl
warning-free, and the CPU check clang-cl builds use.

The C sources and tools/ are not in a wheel: the tests that compile them skip where the suite
runs against an installed wheel.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import logitkit
from logitkit import _ext

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, "src", "logitkit", "csrc")
COMPILE_CHECK = os.path.join(ROOT, "tools", "compile_check.py")


def test_vector_lanes_and_paths():
    lanes = _ext.vector_lanes()
    if lanes == 1:
        # a one-lane build compiles the baseline target alone
        assert logitkit.simd_paths() == ["baseline"]
    else:
        assert lanes in (2, 4, 8)
        assert "baseline" in logitkit.simd_paths()


def test_info_names_the_vectors(capsys):
    from logitkit.cli import main
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    expected = "one-lane build" if _ext.vector_lanes() == 1 else "vector extensions"
    assert expected in out


def _need_sources():
    if not os.path.isdir(CSRC) or not os.path.exists(COMPILE_CHECK):
        pytest.skip("the C sources and tools/ are not here (an installed wheel)")


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")
def test_compile_check_clang():
    """Every C unit compiles warning-free with clang for x86-64 Linux, in MSVC mode as
    clang-cl (the Windows wheels: the vector branch, AVX2 and AVX-512 units of their widths)
    and as plain MSVC's branches (one lane)."""
    _need_sources()
    res = subprocess.run([sys.executable, COMPILE_CHECK, "--only", "clang,clang-cl,msvc-like"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                    reason="the x86-64 CPU check, run here with GCC")
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_cpuid_check_matches_libgcc(tmp_path):
    """The CPUID/XGETBV check clang-cl builds use (dispatch.c, LK_X86_CPUID) answers as
    __builtin_cpu_supports does on this CPU."""
    _need_sources()
    driver = tmp_path / "driver.c"
    driver.write_text(textwrap.dedent("""\
        #include <stdio.h>
        #include "kernels.h"
        /* the tables dispatch.c names: only lk_isa_supported is called */
        #define LK_STUB(isa) const lk_kernels_f32 lk_##isa##_kernels_f32; \\
                             const lk_kernels_f64 lk_##isa##_kernels_f64;
        LK_STUB(baseline) LK_STUB(avx2) LK_STUB(avx512)
        const int lk_baseline_lanes = 4;
        int main(void)
        {
            __builtin_cpu_init();
            int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
            int avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                         __builtin_cpu_supports("avx512dq") &&
                         __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512bw");
            printf("%d %d %d %d\\n", lk_isa_supported(LK_ISA_AVX2), avx2,
                   lk_isa_supported(LK_ISA_AVX512), avx512);
            return 0;
        }
        """))
    exe = tmp_path / "driver"
    subprocess.run(["gcc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-DLK_X86_CPUID",
                    f"-I{CSRC}", str(driver), os.path.join(CSRC, "dispatch.c"), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    ours_avx2, gcc_avx2, ours_avx512, gcc_avx512 = map(
        int, subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split())
    assert (ours_avx2, ours_avx512) == (gcc_avx2, gcc_avx512)
