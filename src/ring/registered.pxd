# The ring's registered resources: a sparse table of direct descriptors
# (files that linked steps share without a Python-visible fd) and a sparse
# table of fixed buffers (READ_FIXED/WRITE_FIXED skip page pinning).

cdef enum:
    # At most this many direct descriptors; the kernel also caps the table at
    # RLIMIT_NOFILE (EMFILE above it), so a process with the usual soft limit
    # of 1024 gets 1024.
    MAX_FILE_TABLE_SIZE = 4096
    BUFFER_TABLE_SIZE = 64
    DIRECT_IO_ALIGNMENT = 4096


cdef class RegisteredFiles:
    """Slots of the ring's registered file table."""
    cdef list free_slots
    cdef readonly Py_ssize_t in_use
    cdef readonly unsigned size
    cdef readonly unsigned managed

    cdef int register(self, io_uring* ring) except -1
    cdef int allocate(self) except -1
    cdef void release(self, int slot)


cdef class RegisteredBuffers:
    """Slots of the ring's fixed-buffer table."""
    cdef io_uring* ring
    cdef list free_slots
    cdef bint usable

    cdef int register(self, io_uring* ring) except -1
    cdef int attach(self, AlignedBuffer buffer)
    cdef void detach(self, AlignedBuffer buffer)
    cdef void unregister(self)


cdef class AlignedBuffer:
    """Page-aligned memory a loop may register as a fixed buffer."""
    cdef char* data
    cdef readonly Py_ssize_t size
    cdef readonly int index              # fixed-buffer slot, -1 if none
    cdef RegisteredBuffers table
    cdef Py_ssize_t exports

    cdef int ensure_registered(self, Ring ring) except -2
