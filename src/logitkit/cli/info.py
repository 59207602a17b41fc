"""`logitkit info`: versions, the SIMD code path and the threads."""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

import logitkit
from logitkit import _ext
from logitkit.cli._common import EXIT_OK


def run(args: argparse.Namespace) -> int:
    lines = [
        ("logitkit", f"{logitkit.__version__} ({os.path.dirname(logitkit.__file__)})"),
        ("numpy", np.__version__),
        ("python", f"{platform.python_version()} ({platform.python_implementation()}"
                   f"{', free-threaded' if _free_threaded() else ''})"),
        ("platform", f"{platform.system()} {platform.machine()}"),
        ("simd path", f"{logitkit.simd_path()} (available: {', '.join(logitkit.simd_paths())};"
                      " LOGITKIT_SIMD chooses)"),
        ("kernels", os.path.basename(_ext.__file__ or "?")),
        ("vectors", _vectors()),
        ("threads", f"{logitkit.get_num_threads()} of {os.cpu_count()} CPUs"),
    ]
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k:<{width}}  {v}")
    return EXIT_OK


def _vectors() -> str:
    """How the kernels were compiled: vector lanes, or one lane (the MSVC build)."""
    lanes = _ext.vector_lanes()
    if lanes == 1:
        return "one-lane build (plain C, no vector extensions)"
    return f"vector extensions ({lanes} doubles a baseline vector)"


def _free_threaded() -> bool:
    """Whether this Python runs without the GIL (sys._is_gil_enabled exists from 3.13)."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return callable(is_gil_enabled) and not is_gil_enabled()
