# The splice pump: loop.sendfile() and aiouring.fs.sendfile() move a file to
# a socket (or any fd) through a pipe of their own, as pairs of SPLICEs
# linked on the ring (file -> pipe, pipe -> destination): zero-copy, no
# thread, no readiness. What the destination did not take stays in the pipe
# and is spliced again before the next pair, so every byte that left the
# file reaches the destination or the error is raised.

from os import pipe2 as os_pipe2, close as os_close, O_CLOEXEC as OS_O_CLOEXEC
from fcntl import fcntl as py_fcntl

cdef enum:
    SPLICE_CHUNK = 1 << 20          # bytes per pair, when the pipe can hold them
    SMALL_PIPE_CHUNK = 1 << 16
    F_SETPIPE_SZ_VALUE = 1031


cdef class SpliceRequest(Operation):
    """One SPLICE, or a linked pair; its future gets (moved in, moved out)."""

    cdef bint is_last_cqe(self, int32_t res, uint32_t flags):
        self.pending -= 1
        return self.pending == 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        self.results[self.cqe_step] = res
        if self.pending == 0 and not self.future.done():
            if self.count == 2:
                self.future.set_result((self.results[0], self.results[1]))
            else:
                self.future.set_result((res, res))
        return 0

    cdef int cancel_all(self, Ring ring) except -1:
        cdef uint32_t i
        if self.user_data:
            for i in range(self.count):
                ring.cancel_user_data(self.step_user_data(i))
        return 0


cdef class SplicePump:

    @staticmethod
    cdef SplicePump create(Loop loop, int in_fd, int64_t offset, int out_fd):
        cdef SplicePump self = SplicePump.__new__(SplicePump)
        loop.check_closed()
        self.loop = loop
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.offset = offset if offset >= 0 else -1
        self.pipe_read = self.pipe_write = -1
        return self

    cdef SpliceRequest request(self, unsigned length, bint pair):
        """Queues file -> pipe -> destination (pair) or pipe -> destination."""
        cdef Ring ring = self.loop._ring
        cdef SpliceRequest op = SpliceRequest.__new__(SpliceRequest)
        cdef io_uring_sqe* sqe
        op.future = Future(loop=self.loop)
        op.count = op.pending = 2 if pair else 1
        ring.reserve(op.count)
        ring.attach(op)
        if pair:
            sqe = ring.reserved_sqe()
            io_uring_prep_splice(sqe, self.in_fd, self.offset, self.pipe_write, -1, length, 0)
            io_uring_sqe_set_data64(sqe, op.step_user_data(0))
            sqe.flags |= IOSQE_IO_LINK
        sqe = ring.reserved_sqe()
        io_uring_prep_splice(sqe, self.pipe_read, -1, self.out_fd, -1, length, 0)
        io_uring_sqe_set_data64(sqe, op.step_user_data(op.count - 1))
        ring.submit_now()
        return op

    async def settle(self, SpliceRequest op):
        """op's results; cancelling the caller cancels op and waits until
        the kernel is done with it."""
        try:
            return await op.future
        except BaseException:
            op.cancel_all(self.loop._ring)
            while op.user_data:
                try:
                    await shield(op.future)
                except BaseException:
                    pass
            raise

    async def run(self, int64_t count):
        """Moves up to count bytes; returns the bytes that reached the
        destination. The end of the input ends it early. An input error
        before any byte moved is raised; after some, the count so far is
        returned (as sendfile(2)) and input_error says what stopped it.
        Destination errors are raised."""
        cdef int64_t remaining = count, moved_in, moved_out, rest
        cdef int32_t moved
        cdef unsigned length
        self.input_error = 0
        if count <= 0:
            return 0
        self.pipe_read, self.pipe_write = os_pipe2(OS_O_CLOEXEC)
        try:
            try:
                py_fcntl(self.pipe_write, F_SETPIPE_SZ_VALUE, SPLICE_CHUNK)
                self.chunk = SPLICE_CHUNK
            except OSError:
                self.chunk = SMALL_PIPE_CHUNK
            while remaining > 0:
                length = <unsigned>min(remaining, <int64_t>self.chunk)
                moved_in, moved_out = await self.settle(self.request(length, True))
                if moved_in < 0:
                    if self.sent == 0:
                        raise errno_error(<int>-moved_in)
                    self.input_error = <int>-moved_in
                    break
                if moved_in == 0:
                    break                               # end of the input
                if self.offset >= 0:
                    self.offset += moved_in
                if moved_out == -ECANCELED:
                    moved_out = 0                       # a short first splice ends the link
                elif moved_out < 0:
                    raise errno_error(<int>-moved_out)
                self.sent += moved_out
                while moved_out < moved_in:             # the rest is in the pipe
                    rest = moved_in - moved_out
                    moved = (await self.settle(self.request(<unsigned>rest, False)))[1]
                    if moved <= 0:
                        raise errno_error(<int>-moved if moved < 0 else EPIPE)
                    moved_out += moved
                    self.sent += moved
                remaining -= moved_in
            return self.sent
        finally:
            os_close(self.pipe_read)
            os_close(self.pipe_write)
            self.pipe_read = self.pipe_write = -1
