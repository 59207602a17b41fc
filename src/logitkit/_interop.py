"""Arrays that are not plain NumPy arrays: read them, compute with NumPy, answer in their type.

Every public function first tries its fast path, which takes plain ndarrays only; its general
path then asks `foreign()` whether an argument needs translating and, if so, hands the call to
`translate()`, which calls the function again on plain arrays and puts the result back into
the caller's type. Plain calls pay nothing for this.

- Dask arrays go to the function's twin in `logitkit.dask` and stay lazy.
- pandas Series and DataFrames are computed on their values; a result of the input's shape
  keeps its index (and columns), a reduction over a DataFrame's columns is a Series on its
  index (over its rows: on its columns).
- Masked arrays: a masked entry is left out, as `where=False` leaves it out (the functions
  with `where=`), or is carried through (elementwise functions and the backward functions
  compute on the underlying data and mask the result where an input is masked). A masked
  class index is ignored, as `ignore_index` is. Masked logits of a loss are refused: the loss
  of a sample with masked classes has no single meaning.
- Arrays of other libraries (torch tensors, JAX arrays, array-API arrays: anything with
  `__dlpack__` or `__array_namespace__`) are read without a copy through DLPack where the
  library allows it, and the results are handed back through the caller's namespace (torch
  tensors for torch tensors). Arrays on another device than the CPU are refused.

Nothing here imports an optional library: an object can only be a Dask array, a pandas
object or a torch tensor if its library is already imported, so `sys.modules` decides.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable, NoReturn

import numpy as np

from logitkit._registry import BY_NAME

# Types that need no translation: the functions read these as they are.
_PLAIN = frozenset({np.ndarray, int, float, bool, str, type(None), list, tuple,
                    np.float64, np.float32, np.float16, np.int64, np.int32, np.intp, np.bool_})

# The parameters of each function that hold arrays, the first being the one whose type the
# result takes; "out" is written in place and returned as given.
_ARRAY_PARAMS = {
    "normalize": ("x", "where"),
    "reduce": ("x", "b", "where"),
    "elementwise": ("x",),
    "loss": ("logits", "target", "weight", "pos_weight"),
    "backward": ("grad_output", "output"),
    "select": ("logits",),
}

# functions whose array parameters are not those of their kind
_ARRAY_PARAMS_OF: dict[str, tuple[str, ...]] = {
    "logit": ("p",),
    "nll_loss": ("log_probs", "target", "weight"),
    "entropy": ("logits", "where"),
    "kl_divergence": ("p_logits", "q_logits", "where"),
}

_DLPACK_CPU = 1          # DLDeviceType kDLCPU
_DLPACK_DEVICES = {2: "CUDA", 3: "CUDA host", 4: "OpenCL", 7: "Vulkan", 8: "Metal", 9: "VPI",
                   10: "ROCm", 13: "CUDA managed", 14: "oneAPI"}

# what a masked entry is filled with before the backward functions read it: a left-out class
# has probability 0 (softmax) and log-probability -inf (log_softmax), and no gradient flows
_BACKWARD_FILL = {"softmax_backward": 0.0, "log_softmax_backward": -np.inf,
                  "sigmoid_backward": 0.0}

_SIGNATURES: dict[str, inspect.Signature] = {}


def refuse_dim(name: str) -> NoReturn:
    """PyTorch's `dim=` is not silently taken for something else: say what logitkit calls it."""
    raise TypeError(f"{name}: got dim=, PyTorch's name for the axis; logitkit names it axis= "
                    f"(as NumPy and SciPy do): use axis=... instead of dim=...")


def foreign(*values: Any) -> bool:
    """Whether any of `values` is an array that `translate` must read for the kernels."""
    for value in values:
        if type(value) in _PLAIN:
            continue
        if isinstance(value, np.ma.MaskedArray):
            return True
        if isinstance(value, (np.ndarray, np.generic)):
            continue
        if hasattr(value, "__dlpack__") or hasattr(value, "__array_namespace__"):
            return True
        dask_array = _module_type("dask.array", "Array")
        if dask_array is not None and isinstance(value, dask_array):
            return True
        pandas_types = _pandas_types()
        if pandas_types is not None and isinstance(value, pandas_types):
            return True
    return False


def translate(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`func(*args, **kwargs)` for arguments that `foreign` flagged: computed on NumPy arrays,
    answered in the type of the first array argument."""
    name = func.__name__
    kind = BY_NAME[name].kind
    signature = _SIGNATURES.get(name)
    if signature is None:
        signature = _SIGNATURES[name] = inspect.signature(func)
    bound = signature.bind(*args, **kwargs)
    values = bound.arguments
    names = _ARRAY_PARAMS_OF.get(name) or _ARRAY_PARAMS[kind]
    params = [p for p in names if values.get(p) is not None]
    lead = values[params[0]] if params else None

    dask_array = _module_type("dask.array", "Array")
    if dask_array is not None and any(isinstance(values.get(p), dask_array) for p in params):
        return _dask_twin(name)(*args, **kwargs)

    masked = [p for p in params if isinstance(values[p], np.ma.MaskedArray)]
    if masked:
        return _call_masked(func, name, kind, bound, masked)

    pandas_types = _pandas_types()
    if pandas_types is not None and isinstance(lead, pandas_types):
        return _call_pandas(func, bound, lead, params, kind)

    wrap = _foreign_wrapper(lead)
    out = values.get("out")
    for p in params:
        values[p] = _from_foreign(values[p], name, p)
    if out is not None and type(out) is not np.ndarray:
        values["out"] = _from_foreign(out, name, "out")
    result = func(*bound.args, **bound.kwargs)
    if out is not None:
        return out
    return _map(wrap, result) if wrap is not None else result


# ---------------------------------------------------------------- other libraries' arrays

def _module_type(module: str, attr: str) -> Any:
    mod = sys.modules.get(module)
    return getattr(mod, attr, None) if mod is not None else None


def _from_foreign(value: Any, name: str, param: str) -> Any:
    """A NumPy view of another library's CPU array (DLPack: no copy), or `value` itself."""
    if isinstance(value, (np.ndarray, np.generic)) or not (hasattr(value, "__dlpack__")
                                             or hasattr(value, "__array_namespace__")):
        return value
    if hasattr(value, "__dlpack_device__"):
        device, _ = value.__dlpack_device__()
        if int(device) != _DLPACK_CPU:
            where = _DLPACK_DEVICES.get(int(device), f"DLPack device type {int(device)}")
            raise TypeError(f"{name}: {param} is a {type(value).__name__} on a {where} device; "
                            f"logitkit computes on the CPU: move it there first (for example "
                            f"tensor.cpu() in PyTorch)")
    try:
        return np.from_dlpack(value) if hasattr(value, "__dlpack__") else np.asarray(value)
    except (BufferError, RuntimeError, TypeError, ValueError) as exc:
        try:                        # a read-only export older NumPy cannot take through DLPack
            return np.asarray(value)
        except (RuntimeError, TypeError, ValueError):
            raise TypeError(f"{name}: could not read {param}, a {type(value).__name__}, "
                            f"through DLPack ({exc})") from None


def _foreign_wrapper(lead: Any) -> Callable[[np.ndarray], Any] | None:
    """How to hand a NumPy result back in the type of `lead`, or None for NumPy itself."""
    if lead is None or isinstance(lead, (np.ndarray, np.generic)):
        return None
    torch_tensor = _module_type("torch", "Tensor")
    if torch_tensor is not None and isinstance(lead, torch_tensor):
        from_numpy = sys.modules["torch"].from_numpy
        return lambda a: from_numpy(np.array(a, copy=None, subok=False))
    namespace = getattr(lead, "__array_namespace__", None)
    if namespace is not None:
        xp = namespace()
        return lambda a: _in_namespace(xp, a)
    if hasattr(lead, "__dlpack__"):
        library = sys.modules.get(type(lead).__module__.partition(".")[0])
        from_dlpack = getattr(library, "from_dlpack", None)
        if from_dlpack is not None:
            return lambda a: from_dlpack(np.asarray(a))
    return None


def _in_namespace(xp: Any, a: Any) -> Any:
    arr = np.asarray(a)
    if hasattr(xp, "from_dlpack") and arr.flags.writeable:
        try:
            return xp.from_dlpack(arr)
        except (BufferError, RuntimeError, TypeError, ValueError):
            pass
    return xp.asarray(arr)


def _map(wrap: Callable[[Any], Any], result: Any) -> Any:
    if isinstance(result, tuple):
        return tuple(wrap(r) for r in result)
    return wrap(result)


# ---------------------------------------------------------------- Dask

def _dask_twin(name: str) -> Callable[..., Any]:
    if not BY_NAME[name].dask:
        raise TypeError(f"{name}: Dask arrays are not supported (logitkit.dask has no {name}); "
                        f"compute the input first, or apply logitkit.{name} to each block with "
                        f"dask.array.map_blocks")
    import logitkit.dask

    return getattr(logitkit.dask, name)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- pandas

def _pandas_types() -> tuple[type, type] | None:
    pd = sys.modules.get("pandas")
    return (pd.Series, pd.DataFrame) if pd is not None else None


def _call_pandas(func: Callable[..., Any], bound: inspect.BoundArguments, lead: Any,
                 params: list[str], kind: str) -> Any:
    pandas_types = _pandas_types()
    assert pandas_types is not None
    values = bound.arguments
    for p in params:
        if isinstance(values[p], pandas_types):
            values[p] = values[p].to_numpy()
    result = func(*bound.args, **bound.kwargs)
    if values.get("out") is not None:
        return values["out"]
    axis = values.get("axis", -1)
    return _map(lambda r: _like_pandas(r, lead, axis), result)


def _like_pandas(result: Any, lead: Any, axis: Any) -> Any:
    pd = sys.modules["pandas"]
    if not isinstance(result, np.ndarray):
        return result
    if result.shape == lead.shape:
        if isinstance(lead, pd.Series):
            return pd.Series(result, index=lead.index, name=lead.name)
        return pd.DataFrame(result, index=lead.index, columns=lead.columns)
    if isinstance(lead, pd.DataFrame) and result.ndim == 1:
        if axis in (1, -1) and len(result) == len(lead.index):
            return pd.Series(result, index=lead.index)
        if axis in (0, -2) and len(result) == len(lead.columns):
            return pd.Series(result, index=lead.columns)
    return result


# ---------------------------------------------------------------- masked arrays

def _call_masked(func: Callable[..., Any], name: str, kind: str,
                 bound: inspect.BoundArguments, masked: list[str]) -> Any:
    values = bound.arguments
    if values.get("out") is not None:
        raise TypeError(f"{name}: out= cannot receive the result of a masked array; the "
                        f"result is a new masked array")
    if kind in ("normalize", "reduce"):
        return _masked_reduction(func, kind, bound, masked)
    if kind == "select":
        raise TypeError(f"{name}: masked arrays are not supported; to leave classes out, fill "
                        f"them with -inf (x.filled(-numpy.inf))")
    if kind == "loss":
        return _masked_loss(func, name, bound, masked)
    masks = [np.ma.getmaskarray(values[p]) for p in masked]
    fill = _BACKWARD_FILL.get(name, 0.0)
    for p in masked:
        values[p] = np.ma.getdata(values[p]) if kind == "elementwise" else (
            values[p].filled(fill if p == "output" else 0.0))
    result = func(*bound.args, **bound.kwargs)
    shape = np.shape(result)
    mask = np.zeros(shape, bool)
    for m in masks:
        mask = mask | np.broadcast_to(m, shape)
    return np.ma.masked_array(result, mask=mask)


def _masked_reduction(func: Callable[..., Any], kind: str, bound: inspect.BoundArguments,
                      masked: list[str]) -> Any:
    values = bound.arguments
    x = values[_ARRAY_PARAMS_OF.get(func.__name__, ("x",))[0]]
    shape = np.shape(x)
    left_out = np.zeros(shape, bool)
    for p in masked:
        left_out = left_out | np.broadcast_to(np.ma.getmaskarray(values[p]), shape)
        values[p] = np.ma.getdata(values[p])
    where = values.get("where")
    values["where"] = ~left_out if where is None else (np.asarray(where) & ~left_out)
    result = func(*bound.args, **bound.kwargs)
    if kind == "normalize":
        return np.ma.masked_array(result, mask=left_out)
    axis = values.get("axis", -1)
    keepdims = bool(values.get("keepdims", False))
    all_out = np.all(left_out, axis=axis, keepdims=keepdims) if left_out.ndim else left_out
    return _map(lambda r: _masked_like_reduction(r, all_out), result)


def _masked_like_reduction(result: Any, all_out: Any) -> Any:
    """As np.ma's reductions answer: a scalar, or `np.ma.masked` when everything was masked."""
    if np.ndim(result) == 0:
        return np.ma.masked if bool(all_out) else result
    return np.ma.masked_array(result, mask=all_out)


def _masked_loss(func: Callable[..., Any], name: str, bound: inspect.BoundArguments,
                 masked: list[str]) -> Any:
    values = bound.arguments
    target = values.get("target")
    if masked != ["target"] or name != "cross_entropy" or target.dtype.kind not in "iu":
        raise TypeError(f"{name}: masked {', '.join(masked)} are not supported (the loss of a "
                        f"sample with masked entries has no single meaning); mask class "
                        f"indices (ignored as ignore_index is), or pass weight= / filled arrays")
    values["target"] = target.filled(values.get("ignore_index", -100))
    return func(*bound.args, **bound.kwargs)
