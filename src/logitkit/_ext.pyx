# Design:
# - The one compiled module of logitkit: typed-memoryview bindings over the C kernels of csrc/.
#   Each binding turns buffers into pointers, releases the GIL and splits the work over the
#   thread pool (csrc/parallel.c); the vector loops are C, compiled once per instruction set
#   (csrc/targets/) and reached through the tables lk_f32 / lk_f64 (csrc/kernels.h), which
#   select_simd_path() fills. One table, one pool, one choice of instruction set.
# - The Python layer (_softmax.py, _sigmoid.py, _losses.py, _backward.py) validates arguments
#   and hands every call to one function here: a reduction as a 3-d view (outer, n, inner) of
#   the input, reduced over n, with contiguous rows (inner == 1) or contiguous columns
#   (inner > 1, vectorised across columns: no transposed copy); the losses as 2-d (rows, n)
#   views with contiguous rows.
# - One generic binding per operation over Cython's `floating` fused type; float32 data is
#   computed in double and rounded once. The algorithms themselves are C, whole: a row's max,
#   exps, double-double reciprocal or log and its last pass read top to bottom in one C function
#   (csrc/kernels/softmax-inl.h, cross_entropy_rows-inl.h, ...); a binding only checks the
#   views it is given, fills a job and releases the GIL.
# - All helpers are `noexcept nogil`; the most common calls (a plain C-ordered float32/float64
#   array over its last axis) take a thin path (rows_fast, elementwise_fast, vjp_fast) that
#   skips the memoryviews.
# Directives (boundscheck, wraparound, cdivision) are set once in setup.py.

from cython cimport floating
cimport numpy as cnp
from libc.math cimport INFINITY
from libc.stdint cimport int32_t
from libc.stdint cimport int8_t, int64_t
from libc.stdlib cimport free, malloc
from cpython.ref cimport Py_INCREF

cnp.import_array()

include "binding/declarations.pxi"

cdef enum Reduction:
    SOFTMAX = 0
    LOG_SOFTMAX = 1
    LOGSUMEXP = 2

cdef enum Elementwise:
    SIGMOID = 0
    SIGMOID_DERIVATIVE = 1
    LOG_SIGMOID = 2
    SOFTPLUS = 3

cdef enum:
    # calls this small keep the GIL: releasing it costs more than the work
    SMALL_CALL = 256


# ---------------------------------------------------------------- instruction-set dispatch

def simd_paths():
    """Names of the code paths this build can run on this CPU, slowest first."""
    return [lk_isa_name(i).decode() for i in range(LK_ISA_COUNT) if lk_isa_supported(i)]


def simd_path():
    """Name of the active code path."""
    return lk_isa_name(lk_active_isa()).decode()


def vector_lanes():
    """Doubles in one vector of the baseline path: 1 in a one-lane build (a compiler without
    GCC's vector extensions, such as MSVC, or LOGITKIT_ONE_LANE=1)."""
    return lk_vector_lanes()


def select_simd_path(str name):
    """Switch every kernel to the named path. Not thread-safe: for start-up and tests."""
    cdef int i
    for i in range(LK_ISA_COUNT):
        if lk_isa_name(i).decode() == name and lk_select_isa(i) == 0:
            return
    raise ValueError(f"unknown or unsupported SIMD path {name!r}; expected one of "
                     f"{simd_paths()}")


# ---------------------------------------------------------------- threads

# the most threads one call may use (its arrays of partial results are this long)
MAX_THREADS = LK_MAX_THREADS
# the spin bound of a waiting thread, in microseconds: its default and its largest value
DEFAULT_SPIN_US = LK_DEFAULT_SPIN_US
MAX_SPIN_US = LK_MAX_SPIN_US


def set_num_threads(int n):
    """Upper bound on the threads one call (or all concurrent calls together) may use."""
    if n < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    lk_set_num_threads(min(n, <int>LK_MAX_THREADS))


def get_num_threads():
    return lk_get_num_threads()


def set_spin_us(int us):
    """How long a waiting thread spins before it sleeps, in microseconds (0: sleep at once)."""
    if not 0 <= us <= LK_MAX_SPIN_US:
        raise ValueError(f"the spin must be from 0 to {LK_MAX_SPIN_US} us, got {us}")
    lk_set_spin_us(us)


def get_spin_us():
    return lk_get_spin_us()


include "binding/arrays.pxi"
include "binding/softmax.pxi"
include "binding/logsumexp_scaled.pxi"
include "binding/sigmoid.pxi"
include "binding/cross_entropy.pxi"
include "binding/bce.pxi"
include "binding/backward.pxi"
include "binding/top_k.pxi"
include "binding/sample.pxi"
include "binding/logit.pxi"
include "binding/nll.pxi"
include "binding/sparsemax.pxi"
include "binding/entropy.pxi"
