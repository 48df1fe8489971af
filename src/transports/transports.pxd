# Transports: stream, datagram and pipe transports, servers' multishot
# accepts and subprocess exit watches, all on the loop's ring.

cdef class FlushTarget:
    """Something (a transport) with writes to submit right before the loop
    enters the kernel, so one iteration's writes become one request."""
    cdef bint flush_registered

    cdef int flush(self) except -1


cdef class Transports:
    """The loop's transports: what they share (the provided buffer ring,
    the writes to flush before each enter) and the registry by fd."""
    cdef Loop loop
    cdef object by_fd                   # fd -> transport (weak values)
    cdef list flush_targets             # FlushTargets to flush before the next enter
    cdef ProvidedBufferRing pbuf        # shared receive buffers; None until first used
    cdef bint pbuf_tried
    cdef dict accepting                 # listening fd -> its multishot accept

    cdef int open(self, Loop loop) except -1
    cdef int register(self, int fd, object transport) except -1
    cdef int want_flush(self, FlushTarget target) except -1
    cdef int flush(self) except -1
    cdef ProvidedBufferRing buffer_ring(self)
    cdef int close(self) except -1
    cdef int release_buffers(self, bint kernel_may_write) except -1
