# File requests for aiouring.open and aiouring.fs, and the splice pump.

cdef class FileOperation(Operation):
    """A file request that resolves one future."""
    cdef Loop loop
    cdef object future
    cdef object filename            # for OSError, as the os module reports it
    cdef object filename2
    cdef bytes path                 # kept alive until the CQE
    cdef bytes path2

    cdef object result(self, int32_t res)
    cdef int finish(self, object result) except -1
    cdef int fail(self, int err) except -1
    cdef int salvage(self, object result) except -1
    cdef int abandon(self) except -1


cdef class FileRequests:
    """The loop's file requests (each a method returning an awaitable)."""
    cdef Loop loop
    # fd -> the ring's enter count when an owned request on it was queued
    # (owned requests wait for the next enter; see close_now).
    cdef dict queued_on

    cdef FileOperation new_op(self, type kind, filename=*, filename2=*)
    cdef int note_queued(self, int fd) except -1
    cdef object started(self, FileOperation op, bint at_once)
    cdef object buffer_op(self, int fd, buf, int64_t offset, bint writing, filename,
                          bint owned)


cdef class SpliceRequest(Operation):
    """One SPLICE, or a linked pair."""
    cdef object future
    cdef int32_t results[2]
    cdef uint32_t count
    cdef uint32_t pending

    cdef int cancel_all(self, Ring ring) except -1


cdef class SplicePump:
    """Moves bytes from a file (or pipe) to a socket, pipe or file through
    a pipe of its own, as linked SPLICE pairs."""
    cdef Loop loop
    cdef int in_fd
    cdef int out_fd
    cdef int64_t offset             # -1: in_fd's own position
    cdef readonly int64_t sent      # bytes that reached out_fd so far
    cdef readonly int input_error   # errno that ended the input early, or 0
    cdef int pipe_read
    cdef int pipe_write
    cdef unsigned chunk

    @staticmethod
    cdef SplicePump create(Loop loop, int in_fd, int64_t offset, int out_fd)
    cdef SpliceRequest request(self, unsigned length, bint pair)
