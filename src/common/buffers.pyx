# Buffer exports: a request that points into a caller's buffer holds an
# export of it (a Py_buffer) until its last CQE, so the memory cannot be
# freed or moved meanwhile (a bytearray with exports refuses to resize).


cdef int get_writable_buffer(object obj, Py_buffer* view) except -1:
    # As socket.recv_into(): a read-only buffer is a TypeError.
    try:
        PyObject_GetBuffer(obj, view, PyBUF_WRITABLE)
    except BufferError:
        raise TypeError(
            f"a read-write bytes-like object is required, not '{type(obj).__name__}'")
    return 0


cdef int get_readable_buffer(object obj, Py_buffer* view) except -1:
    # As socket.send(): anything with the buffer protocol, else TypeError.
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except BufferError:
        raise TypeError(
            f"a bytes-like object is required, not '{type(obj).__name__}'")
    return 0
