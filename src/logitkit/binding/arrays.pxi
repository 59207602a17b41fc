# Array checks and views shared by the thin call paths and the Python layer: whether an array
# can go to the kernels as it is, and whether a result may be written straight into a user's
# out=. Anything they refuse takes the general path in Python, which also raises the errors.

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


# ---------------------------------------------------------------- views for the Python layer

def strided_view(cnp.ndarray base, tuple shape, tuple strides):
    """A view of base's first element with the given shape and byte strides, writeable when
    base is: NumPy's as_strided without its ~3 us round trip through __array_interface__.
    The caller (_layout) derives shape and strides from base's own, so every element the view
    reaches is one of base's."""
    cdef int ndim = len(shape), d
    cdef cnp.npy_intp dims[3]
    cdef cnp.npy_intp steps[3]
    if ndim > 3 or len(strides) != ndim:
        raise ValueError("internal error: a strided view has at most 3 axes, one stride each")
    for d in range(ndim):
        dims[d] = shape[d]
        steps[d] = strides[d]
    cdef cnp.dtype descr = base.dtype
    Py_INCREF(descr)
    cdef cnp.ndarray view = PyArray_NewFromDescr(
        cnp.ndarray, descr, ndim, dims, steps, cnp.PyArray_DATA(base),
        cnp.NPY_ARRAY_WRITEABLE if cnp.PyArray_ISWRITEABLE(base) else 0, None)
    cnp.set_array_base(view, base)
    return view


def same_elements(cnp.ndarray a, cnp.ndarray b):
    """Whether a and b are the very same elements: same data, shape, strides and dtype."""
    cdef int d, ndim = cnp.PyArray_NDIM(a)
    if (cnp.PyArray_DATA(a) != cnp.PyArray_DATA(b) or ndim != cnp.PyArray_NDIM(b)
            or not cnp.PyArray_EquivTypes(a.dtype, b.dtype)):
        return False
    for d in range(ndim):
        if (cnp.PyArray_DIMS(a)[d] != cnp.PyArray_DIMS(b)[d]
                or cnp.PyArray_STRIDES(a)[d] != cnp.PyArray_STRIDES(b)[d]):
            return False
    return True
