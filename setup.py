"""Build of the logitkit extension.

One extension module, logitkit._ext: the Cython bindings (_ext.pyx and binding/*.pxi) and the
C kernels of csrc/, each kernel compiled once per instruction set (csrc/targets/) and chosen at
run time. Compiler flags: -O3 -fno-trapping-math lets GCC vectorise the branch-free loops of
csrc/kernels/; -ffp-contract=off keeps every instruction-set variant bit-for-bit the algorithm
written there (the compensated sums rely on it). Never -ffast-math (it breaks inf/NaN handling,
the compensated sums, and sets flush-to-zero for the whole process) and never -march=native:
the AVX2 variant is chosen at run time. LOGITKIT_DEBUG=1 builds with bounds checks and -O0.

LOGITKIT_ONE_LANE=1 compiles the kernels as plain MSVC gets them (one-lane vectors, the baseline
target only), so that that build can be tested with GCC or Clang (tools/one_lane_check.sh).
On Windows, CC=clang-cl makes setuptools' MSVC compiler run clang-cl instead of cl.exe: Clang
has the vector extensions and target attributes, so the wheels get the AVX2/AVX-512 kernels.
"""
import glob
import os
import shutil
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

debug = os.environ.get("LOGITKIT_DEBUG", "") == "1"
one_lane = os.environ.get("LOGITKIT_ONE_LANE", "") == "1"

if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    compile_args = ["-O0", "-g"] if debug else ["-O3"]
    # -falign-loops=64: a hot loop's speed should not depend on where unrelated code moved it
    # (a row pass whose loop straddled a 64-byte boundary ran ~5% slower with the same code)
    compile_args += ["-fno-trapping-math", "-ffp-contract=off", "-fno-math-errno",
                     "-std=c11", "-Wno-psabi", "-pthread", "-falign-loops=64"]

csrc = "src/logitkit/csrc"
# the NEON unit for aarch64 builds: this machine's, or a cross build's (_PYTHON_HOST_PLATFORM,
# macOS ARCHFLAGS, universal2); neon.c compiles to nothing for any other architecture
target_platform = sysconfig.get_platform() + " " + os.environ.get("ARCHFLAGS", "")
arm64_units = ([f"{csrc}/targets/neon.c"]
               if any(a in target_platform for a in ("aarch64", "arm64", "universal2")) else [])
extensions = [
    Extension(
        "logitkit._ext",
        sources=["src/logitkit/_ext.pyx", f"{csrc}/dispatch.c", f"{csrc}/parallel.c",
                 f"{csrc}/softmax.c", f"{csrc}/cross_entropy.c", f"{csrc}/targets/baseline.c",
                 f"{csrc}/targets/avx2.c", f"{csrc}/targets/avx512.c"] + arm64_units,
        include_dirs=[csrc, numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")]
        + ([("LK_ONE_LANE", "1")] if one_lane else []),
        extra_compile_args=compile_args,
        extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
        # rebuild when a header or an included binding changes
        depends=sorted(glob.glob(f"{csrc}/**/*.h", recursive=True)
                       + glob.glob("src/logitkit/binding/*.pxi")),
    ),
]

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": False,
    "initializedcheck": debug,
    "cdivision": True,
    "embedsignature": True,
    "freethreading_compatible": True,
}



# clang-cl (CC=clang-cl on Windows): GCC's flags in clang-cl's spelling. Its defaults are
# -ffp-contract=on, which would fuse a * b + c in the FMA targets and break the compensated
# sums, and -fmath-errno.
CLANG_CL_ARGS = ["/clang:-O3", "/clang:-ffp-contract=off", "/clang:-fno-math-errno",
                 "/clang:-fno-trapping-math", "/clang:-std=c11"]
# Per target unit: Clang in MSVC mode declares an instruction set's intrinsics only when the unit
# is compiled for it (newer versions declare them all). The units are entered only through
# dispatch.c's tables, after the CPU check, as with target attributes.
CLANG_CL_TARGET_ARGS = {
    "avx2.c": ["-mavx2", "-mfma"],
    "avx512.c": ["-mavx512f", "-mavx512dq", "-mavx512vl", "-mavx512bw", "-mavx2", "-mfma"],
}


def _is_clang_cl(cc):
    return os.path.basename(cc or "").lower().startswith("clang-cl")


class ParallelBuildExt(build_ext):
    """Compiles the sources of one extension side by side (setuptools compiles them one after
    the other): the per-target kernel units and the Cython module take about as long each.
    With CC=clang-cl, setuptools' MSVC compiler class runs clang-cl instead of cl.exe."""

    def build_extension(self, ext):
        compiler = self.compiler
        if compiler.compiler_type == "unix" and len(ext.sources) > 1:
            compiler.compile = _parallel_compile.__get__(compiler)
        if compiler.compiler_type == "msvc" and _is_clang_cl(os.environ.get("CC")):
            _use_clang_cl(compiler, os.environ["CC"])
        super().build_extension(ext)


def _use_clang_cl(compiler, cc):
    """Points an MSVC compiler object at clang-cl (link.exe still links): no /GL (clang-cl
    makes no whole-program objects, so no /LTCG either), Clang's flags, and each target unit's
    own instruction set."""
    if getattr(compiler, "logitkit_clang_cl", False):
        return
    compiler.logitkit_clang_cl = True
    if not compiler.initialized:
        compiler.initialize()
    compiler.cc = shutil.which(cc) or cc
    compiler.compile_options = [o for o in compiler.compile_options if o != "/GL"]
    for flags in getattr(compiler, "_ldflags", {}).values():
        flags[:] = [f for f in flags if f != "/LTCG"]
    compile_all = compiler.compile

    def compile_by_target(sources, *args, extra_postargs=None, **kwargs):
        objects = []
        for src in sources:
            extra = list(extra_postargs or []) + CLANG_CL_ARGS
            extra += CLANG_CL_TARGET_ARGS.get(os.path.basename(src), [])
            objects += compile_all([src], *args, extra_postargs=extra, **kwargs)
        return objects

    compiler.compile = compile_by_target


def _parallel_compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                      extra_preargs=None, extra_postargs=None, depends=None):
    macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
        output_dir, macros, include_dirs, sources, depends, extra_postargs)
    cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

    def compile_one(obj):
        if obj in build:
            src, ext = build[obj]
            self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

    jobs = int(os.environ.get("LOGITKIT_BUILD_JOBS", "0")) or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(compile_one, objects))
    return objects


setup(ext_modules=cythonize(extensions, compiler_directives=directives, include_path=["src"]),
      cmdclass={"build_ext": ParallelBuildExt})
