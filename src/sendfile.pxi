# loop.sendfile() on a stream transport: file -> pipe -> socket with two
# SPLICE requests linked on the ring (zero-copy, no thread, no readiness).


cdef class SpliceOp(Operation):
    """One SPLICE; its future gets the byte count or -errno."""

    cdef readonly object future

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if not self.future.done():
            self.future.set_result(res)
        return 0


cdef SpliceOp submit_splice(SocketLoop loop, int fd_in, int64_t off_in, int fd_out,
                            int64_t off_out, unsigned length, bint link):
    cdef SpliceOp op = SpliceOp.__new__(SpliceOp)
    op.future = Future(loop=loop)
    cdef io_uring_sqe* sqe = loop._ring.sqe_for(op, IORING_OP_SPLICE, fd_out, NULL,
                                                length, <uint64_t>off_out)
    sqe.addr = <uint64_t>off_in         # splice_off_in
    sqe.splice_fd_in = fd_in
    sqe.rw_flags = 0                    # splice_flags
    if link:
        sqe.flags |= IOSQE_IO_LINK
    return op


def splice_file_to_socket(SocketLoop loop, int file_fd, int64_t offset,
                          int pipe_w, int pipe_r, int sock_fd, unsigned length):
    """Two linked SPLICEs: length bytes of the file at offset into the pipe,
    then from the pipe to the socket. Returns both operations."""
    first = submit_splice(loop, file_fd, offset, pipe_w, -1, length, True)
    second = submit_splice(loop, pipe_r, -1, sock_fd, -1, length, False)
    return first, second


def splice_pipe_to_socket(SocketLoop loop, int pipe_r, int sock_fd, unsigned length):
    """What is left in the pipe, to the socket."""
    return submit_splice(loop, pipe_r, -1, sock_fd, -1, length, False)


def cancel_operation(SocketLoop loop, Operation op):
    loop._ring.cancel(op)


def is_stream_transport(transport):
    return type(transport) is StreamTransport
