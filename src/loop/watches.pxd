# add_reader/add_writer: fd watches as re-armed POLL_ADD requests.

cdef class FdWatch(Operation):
    """One watched fd: a one-shot poll re-armed each time it fires."""
    cdef FdWatches owner
    cdef int fd
    cdef object fileobj             # what the caller registered (fd or object)
    cdef uint32_t events
    cdef Handle handle
    cdef bint active

    cdef int arm(self) except -1


cdef class FdWatches:
    """The loop's readers and writers, by fd."""
    cdef Loop loop
    cdef dict readers               # fd -> FdWatch
    cdef dict writers

    cdef object watch(self, dict watches, fileobj, uint32_t events, callback, tuple args)
    cdef bint unwatch(self, dict watches, fileobj) except -1
    cdef int before_enter(self) except -1
    cdef int close(self) except -1
