"""Build of the logitkit extension.

Compiler flags: -O3 -fno-trapping-math lets GCC vectorise the branch-free loops of
_simd_body.h; -ffp-contract=off keeps every instruction-set variant bit-for-bit the algorithm
written there (the compensated sums rely on it). Never -ffast-math (it breaks inf/NaN handling,
the compensated sums, and sets flush-to-zero for the whole process) and never -march=native:
the AVX2 variant is chosen at run time. LOGITKIT_DEBUG=1 builds with bounds checks and -O0.
"""
import glob
import os
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

debug = os.environ.get("LOGITKIT_DEBUG", "") == "1"

if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    compile_args = ["-O0", "-g"] if debug else ["-O3"]
    compile_args += ["-fno-trapping-math", "-ffp-contract=off", "-fno-math-errno",
                     "-std=c11", "-Wno-psabi", "-pthread"]

extensions = [
    Extension(
        "logitkit._kernels",
        sources=["src/logitkit/_kernels.pyx", "src/logitkit/_simd.c",
                 "src/logitkit/_simd_avx512.c", "src/logitkit/_parallel.c"],
        include_dirs=["src/logitkit", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
        depends=glob.glob("src/logitkit/_*.h"),  # rebuild when a C header changes
    ),
    Extension(
        "logitkit._losses",
        sources=["src/logitkit/_losses.pyx", "src/logitkit/_losses_simd.c",
                 "src/logitkit/_losses_simd_avx512.c", "src/logitkit/_simd.c",
                 "src/logitkit/_simd_avx512.c"],
        include_dirs=["src/logitkit", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
        extra_compile_args=compile_args,
        extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
        depends=glob.glob("src/logitkit/_*.h"),
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

setup(ext_modules=cythonize(extensions, compiler_directives=directives, include_path=["src"]))
