# The sock_* API: each call is one io_uring request on the socket it names.

cdef enum SavedKind:
    # What a cancelled request left behind, kept for the next call.
    SAVED_BYTES = 0             # stream bytes (from RECV)
    SAVED_DATAGRAM = 1          # (bytes, address) (from RECVMSG)
    SAVED_CONNECTION = 2        # (socket, address) (from ACCEPT)


cdef class SocketOperation(Operation):
    """One sock_* request: resolves its future; a result nobody waits for
    any more is saved for the next call on the same socket."""
    cdef SocketRequests owner
    cdef object future
    cdef object sock
    cdef int fd                     # the fd it was queued for
    cdef io_uring_sqe* sqe          # its SQE while still queued in the SQ, else NULL
    cdef bint receives              # consumes data (or connections) from sock
    cdef bint abandoned             # its caller went away (cancelled)
    cdef bint closed_under          # sock was closed while it was queued or in flight
    cdef object settled             # resolved at its last CQE, once abandoned
    cdef SocketOperation prev       # the list of operations in flight (intrusive:
    cdef SocketOperation next       # no allocation per request)
    cdef bint listed

    cdef void prep(self, io_uring_sqe* sqe, int fd) noexcept
    cdef bint receives_nothing(self)
    cdef object empty_result(self)
    cdef object from_saved(self, SocketRequests owner)
    cdef int finish(self, object result) except -1
    cdef int fail(self, int err) except -1
    cdef int save(self, object result) except -1
    cdef int abandon(self) except -1
    cdef int ended(self) except -1


cdef class SocketRequests(SubmitGuard):
    """The loop's sock_* requests: what is in flight per socket, and what
    cancelled requests left behind."""
    cdef Loop loop
    cdef list queued                # SocketOperations whose SQE the kernel has not seen
    cdef SocketOperation inflight   # newest operation in flight (a linked list)
    cdef Py_ssize_t abandoned_receives  # abandoned receives still in flight
    cdef object saved               # socket -> deque of (SavedKind, result)
    cdef Py_ssize_t saved_count     # entries in saved: a C check on hot paths

    cdef int open(self, Loop loop) except -1
    cdef int check_socket(self, sock) except -1
    cdef SocketOperation start(self, SocketOperation op, sock, bint receives)
    cdef int submit(self, SocketOperation op) except -1
    cdef int before_submit(self) except -1
    cdef int ended(self, SocketOperation op) except -1
    cdef int before_enter(self) except -1
    cdef int save(self, sock, SavedKind kind, object result) except -1
    cdef object take_saved(self, sock)
    cdef int put_back(self, sock, SavedKind kind, object result) except -1
    cdef object saved_data(self, sock, Py_ssize_t n, bint with_address)
