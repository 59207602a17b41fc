# The thin call path's checks, shared by _kernels (the core functions) and _losses (the
# backward functions): whether an array can go to the kernels as it is, and whether a result
# may be written straight into a user's out=. Anything they refuse takes the general path in
# Python, which also raises the errors.

cimport numpy as cnp


cdef inline bint plain_floats(object x) noexcept:
    if type(x) is not cnp.ndarray:
        return False
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int t = cnp.PyArray_TYPE(a)
    return ((t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) and cnp.PyArray_IS_C_CONTIGUOUS(a)
            and cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_ISALIGNED(a))


cdef inline bint writes_plainly(object out, cnp.ndarray a, int ndim, bint in_place_ok) noexcept:
    """Whether a fast call may write its result straight into `out`: a plain, writeable array
    of a's dtype and shape (or a's shape without the last axis, ndim < a's), and either a itself
    (in place, where in_place_ok) or clear of a in memory. Anything else takes the general path,
    which also raises the errors."""
    if not plain_floats(out):
        return False
    cdef cnp.ndarray o = <cnp.ndarray>out
    if (cnp.PyArray_TYPE(o) != cnp.PyArray_TYPE(a) or not cnp.PyArray_ISWRITEABLE(o)
            or cnp.PyArray_NDIM(o) != ndim):
        return False
    cdef int d
    for d in range(ndim):
        if cnp.PyArray_DIMS(o)[d] != cnp.PyArray_DIMS(a)[d]:
            return False
    cdef const char *o_start = <const char *>cnp.PyArray_DATA(o)
    cdef const char *a_start = <const char *>cnp.PyArray_DATA(a)
    if o_start == a_start and ndim == cnp.PyArray_NDIM(a):
        return in_place_ok
    return (o_start + cnp.PyArray_NBYTES(o) <= a_start
            or a_start + cnp.PyArray_NBYTES(a) <= o_start)
