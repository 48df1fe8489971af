# Pipe transports (connect_read_pipe / connect_write_pipe, and the pipes of
# subprocesses): READ and WRITE requests on the ring. Behave as asyncio's
# _UnixReadPipeTransport and _UnixWritePipeTransport: write() on an idle
# transport writes at once (a reader may be blocked on the pipe). A request
# that finds the O_NONBLOCK pipe not ready (-EAGAIN) waits with a POLL_ADD.

from asyncio import transports as aio_transports
from os import fstat as os_fstat, set_blocking as os_set_blocking
from stat import S_ISCHR, S_ISFIFO, S_ISSOCK

cdef enum:
    PIPE_READ_SIZE = 256 * 1024     # asyncio's max_size for os.read()


class ReadPipeTransportClass(aio_transports.ReadTransport):
    """What a ReadPipeTransport reports as its __class__."""


ReadPipeTransportClass.__name__ = ReadPipeTransportClass.__qualname__ = 'ReadPipeTransport'


class WritePipeTransportClass(aio_transports._FlowControlMixin, aio_transports.WriteTransport):
    """What a WritePipeTransport reports as its __class__."""


WritePipeTransportClass.__name__ = WritePipeTransportClass.__qualname__ = 'WritePipeTransport'


cdef bint open_pipe(TransportBase transport, Loop loop, pipe, protocol, extra,
                    str refusal) except -1:
    """init_base for a pipe: refuses what asyncio refuses (regular files),
    makes it non-blocking; True when it is a FIFO or a socket."""
    transport.init_base(loop, pipe, protocol, extra, None)
    transport.extra['pipe'] = pipe
    mode = os_fstat(transport.fd).st_mode
    if not (S_ISFIFO(mode) or S_ISSOCK(mode) or S_ISCHR(mode)):
        transport.file = None       # not ours to close
        transport.fd = -1
        transport.protocol = None
        raise ValueError(refusal)
    os_set_blocking(transport.fd, False)
    return S_ISFIFO(mode) or S_ISSOCK(mode)


cdef class ReadPipeTransport(TransportBase):
    """asyncio.ReadTransport on the read end of a pipe."""

    error_noun = 'pipe'

    @staticmethod
    cdef ReadPipeTransport create(Loop loop, pipe, protocol, waiter, extra):
        cdef ReadPipeTransport self = ReadPipeTransport.__new__(ReadPipeTransport)
        open_pipe(self, loop, pipe, protocol, extra, "Pipe transport is for pipes/sockets only.")
        self.allocate_buffer(PIPE_READ_SIZE)
        self.reader = self.new_request(READ_REQUEST)
        self.announce(self._start_reading, waiter, False)
        return self

    cdef int submit_read(self) except -1:
        # offset -1: read at the current position, as read(2) on a pipe.
        io_uring_prep_read(self.loop._ring.sqe_for(self.reader), self.fd, self.own_buffer,
                           PIPE_READ_SIZE, <uint64_t>-1)
        return 0

    cdef int on_ready(self, TransportRequest request, int32_t res) except -1:
        return self.keep_receiving()

    cdef int on_read(self, int32_t res, uint32_t flags) except -1:
        if res == -EAGAIN:
            if not self.paused and self.may_read():
                self.poll(self.reader, POLLIN)
            return 0
        if res == -ECANCELED or res == -EINTR:
            return self.keep_receiving()
        if self.closing:
            return 0
        if res < 0:
            return self.fatal_error(errno_error(-res), 'Fatal read error on pipe transport')
        if res == 0:
            if self.loop._debug:
                logger.info("%r was closed by peer", self)
            return self.reached_eof()
        return self.receive(PyBytes_FromStringAndSize(self.own_buffer, res))

    cdef int deliver(self, object item) except -1:
        self.protocol.data_received(item)
        return 0

    cdef int on_eof(self) except -1:
        self.closing = True
        self.loop.soon_in(self.context, self.protocol.eof_received, ())
        return self.schedule_connection_lost(None)

    cdef bint quiet_error(self, exc):
        return isinstance(exc, OSError) and exc.errno == EIO

    @property
    def __class__(self):
        return ReadPipeTransportClass


cdef class WritePipeTransport(TransportBase):
    """asyncio.WriteTransport on the write end of a pipe."""

    error_noun = 'pipe'
    lost_write_warning = 'pipe closed by peer or os.write(pipe, data) raised exception.'

    @staticmethod
    cdef WritePipeTransport create(Loop loop, pipe, protocol, waiter, extra):
        cdef WritePipeTransport self = WritePipeTransport.__new__(WritePipeTransport)
        watchable = open_pipe(self, loop, pipe, protocol, extra,
                              "Pipe transport is only for pipes, sockets and character devices")
        self.writer = self.new_request(WRITE_REQUEST)
        if watchable:
            # asyncio's trick: the write end turns readable when the reader goes.
            self.watcher = self.new_request(WATCH_REQUEST)
            self.announce(self._start_watching, waiter, False)
        else:
            self.announce(None, waiter, False)
        return self

    def _start_watching(self):
        if self.fd >= 0 and not self.fd_release_pending and not self.watcher.user_data:
            io_uring_prep_poll_add(self.loop._ring.sqe_for(self.watcher), self.fd, POLLIN)

    cdef int on_watch(self, int32_t res) except -1:
        if res == -ECANCELED or self.lost_scheduled:
            return 0
        if self.loop._debug:
            logger.info("%r was closed by peer", self)
        return self.force_close(BrokenPipeError() if self.queue else None)

    cdef bint drops_writes(self):
        return self.conn_lost != 0 or self.closing

    cdef int send_now(self) except -1:
        cdef int count
        count = <int>self.gather()
        return self.wrote_now(writev_now(self.fd, self.iovecs, count))

    cdef int submit_write(self) except -1:
        """The pipe was full: wait until it is writable."""
        return self.poll(self.writer, POLLOUT)

    cdef int on_ready(self, TransportRequest request, int32_t res) except -1:
        cdef unsigned count
        if self.lost_scheduled or not self.queue:
            return 0
        count = <unsigned>self.gather()
        io_uring_prep_writev(self.loop._ring.sqe_for(self.writer), self.fd,
                             self.iovecs, count, <uint64_t>-1)
        return 0

    def write_eof(self):
        self.close()

    def can_write_eof(self):
        return True

    @property
    def __class__(self):
        return WritePipeTransportClass
