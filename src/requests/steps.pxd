# Steps: typed, immutable descriptions of single io_uring requests, made by
# aiouring.ops and submitted together as a linked chain. A step holds only
# what the caller named; everything a submission needs (buffer exports, the
# resolved fds, kernel-written memory) lives in that submission's StepState,
# owned by the chain operation until its last CQE. So one step object can be
# used twice in a chain, or in several chains at once.

cdef enum ResultKind:
    RESULT_RES = 0          # the CQE's res (an int)
    RESULT_BYTES = 1        # the bytes read into the submission's own buffer
    RESULT_STAT = 2         # an os.stat_result
    RESULT_NONE = 3         # None (timeouts, direct opens)


cdef struct StepState:
    Py_buffer view              # the caller's buffer, exported until the last CQE
    bint has_view
    PyObject* owned             # bytes read into, when the caller gave a size
    Py_buffer* views            # readv/writev
    iovec* iovecs
    Py_ssize_t nviews
    int fd                      # the file: a descriptor, or a direct slot (fixed)
    bint fixed
    int fd_in                   # splice/tee source, likewise
    bint fixed_in
    int slot                    # direct slot this step opens into, -1 if none
    int buf_index               # fixed-buffer slot of an AlignedBuffer, -1 if none
    unsigned length             # bytes asked for
    uint64_t expected           # result a success implies (a full transfer)
    statx statx_buffer          # what STATX writes
    __kernel_timespec ts
    sockaddr_storage address    # CONNECT's target, ACCEPT's peer
    socklen_t address_length


cdef class Step:
    """One request of a linked chain (see aiouring.ops)."""
    cdef readonly str name
    cdef readonly bint hardlink
    cdef readonly object fd         # int, a direct-open Step of the same chain, or None
    cdef bint implied               # success implies the result: its CQE may be skipped
    cdef bint short_fails           # a short transfer breaks the link
    cdef ResultKind result_kind
    cdef bint opens_direct          # opens into a direct descriptor
    cdef bint is_link_timeout

    cdef int acquire(self, StepState* st, LinkedChain chain, Py_ssize_t index) except -1
    cdef void prep(self, io_uring_sqe* sqe, StepState* st) noexcept
    cdef object result(self, int32_t res, StepState* st)
    cdef object implied_result(self, StepState* st)
    cdef bint failed(self, int32_t res, StepState* st) noexcept
    cdef int closes_direct(self) noexcept


cdef void release_state(StepState* st) noexcept
