"""How a result reaches the caller, shared by every public API module: written by the kernels
straight into `out=`, or computed into a temporary that is copied into `out` or rounded to the
result dtype once. (The argument checks are in _validate, the array views in _layout.)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def kernel_can_write(out: np.ndarray | None, calc: np.dtype) -> bool:
    """Whether the kernels may write into `out` directly: the compute dtype in native byte
    order, aligned (the C loops assume both); otherwise they write a temporary that is copied."""
    return (out is not None and out.dtype == calc and out.dtype.isnative
            and bool(out.flags.aligned))


def finish(result: np.ndarray, out: np.ndarray | None, res_dtype: np.dtype | None = None) -> Any:
    """Copy into `out` (rounding to its dtype) or cast to the result dtype; a 0-d result is
    returned as a NumPy scalar, as NumPy's ufuncs do."""
    if out is not None:
        with np.errstate(all="ignore"):
            np.copyto(out, result, casting="unsafe")
        return out
    if res_dtype is not None and result.dtype != res_dtype:
        with np.errstate(all="ignore"):
            result = result.astype(res_dtype)
    return result if result.ndim else result[()]
