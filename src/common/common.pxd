# What every component of the core shares: errno helpers, the clock,
# buffer acquisition and the constants exported to Python.

# Instances of Cython's coroutine and function types release their type
# (see the header: without it every coroutine leaked a reference).
cdef extern from "common/heap_types.h":
    pass

cdef object errno_error(int err)
cdef object path_error(int err, object filename, object filename2=*)
cdef int raise_errno(int err) except -1
cdef int raise_ring_unavailable(int err) except -1

cdef int get_writable_buffer(object obj, Py_buffer* view) except -1
cdef int get_readable_buffer(object obj, Py_buffer* view) except -1


cdef inline double monotonic() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef enum:
    AT_FDCWD_VALUE = -100
    AT_EMPTY_PATH_VALUE = 0x1000
    AT_SYMLINK_NOFOLLOW_VALUE = 0x100
    AT_REMOVEDIR_VALUE = 0x200
    AT_SYMLINK_FOLLOW_VALUE = 0x400
    # Reads try RWF_NOWAIT first: see files/files.pyx.
    RWF_NOWAIT_VALUE = 0x8
    STATX_BASIC_STATS_VALUE = 0x7FF
    # The most one read(2)/write(2) moves (MAX_RW_COUNT): longer transfers
    # are split or come back short, as with the system calls.
    MAX_RW_COUNT = 0x7ffff000
