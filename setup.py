"""Build of the logitkit extension.

One extension module, logitkit._ext: the Cython bindings (_ext.pyx and binding/*.pxi) and the
C kernels of csrc/, each kernel compiled once per instruction set (csrc/targets/) and chosen at
run time. Compiler flags: -O3 -fno-trapping-math lets GCC vectorise the branch-free loops of
csrc/kernels/; -ffp-contract=off keeps every instruction-set variant bit-for-bit the algorithm
written there (the compensated sums rely on it). Never -ffast-math (it breaks inf/NaN handling,
the compensated sums, and sets flush-to-zero for the whole process) and never -march=native:
the AVX2 variant is chosen at run time. LOGITKIT_DEBUG=1 builds with bounds checks and -O0.
"""
import glob
import os
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

debug = os.environ.get("LOGITKIT_DEBUG", "") == "1"

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
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
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



class ParallelBuildExt(build_ext):
    """Compiles the sources of one extension side by side (setuptools compiles them one after
    the other): the per-target kernel units and the Cython module take about as long each."""

    def build_extension(self, ext):
        compiler = self.compiler
        if compiler.compiler_type == "unix" and len(ext.sources) > 1:
            compiler.compile = _parallel_compile.__get__(compiler)
        super().build_extension(ext)


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
