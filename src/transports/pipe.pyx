# Pipe transports (connect_read_pipe / connect_write_pipe, and the pipes of
# subprocesses): READ and WRITE requests on the ring. Behave as asyncio's
# _UnixReadPipeTransport and _UnixWritePipeTransport. A request that finds an
# O_NONBLOCK pipe not ready (-EAGAIN) waits with a POLL_ADD and is retried.

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


cdef class PipeOp(Operation):
    """A READ/WRITE on a pipe, or the POLL_ADD it waits with after -EAGAIN."""

    cdef PipeTransportBase transport
    cdef bint polling

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if self.polling:
            self.polling = False
            return self.transport.on_ready(self, res)
        return self.transport.on_done(self, res)


cdef class PipeTransportBase:
    cdef Loop loop
    cdef object pipe
    cdef int fd
    cdef object protocol
    cdef dict extra
    cdef bint closing
    cdef int conn_lost
    cdef bint fd_release_pending
    cdef dict __dict__          # tests and applications set attributes (mocks)
    cdef object __weakref__

    def __init__(self, *args, **kwargs):
        raise TypeError("pipe transports are created by the loop")

    cdef int init_pipe(self, Loop loop, pipe, protocol, extra) except -1:
        self.loop = loop
        self.extra = {} if extra is None else dict(extra)
        self.extra['pipe'] = pipe
        self.pipe = pipe
        self.fd = pipe.fileno()
        self.protocol = protocol
        return 0

    cdef int poll(self, PipeOp op, uint32_t events) except -1:
        op.polling = True
        io_uring_prep_poll_add(self.loop._ring.sqe_for(op), self.fd, events)
        return 0

    cdef int on_ready(self, PipeOp op, int32_t res) except -1:
        return 0

    cdef int on_done(self, PipeOp op, int32_t res) except -1:
        return 0

    cdef bint requests_in_flight(self):
        return False

    cdef int cancel_requests(self) except -1:
        return 0

    def _call_connection_lost(self, exc):
        try:
            if self.protocol is not None:
                self.protocol.connection_lost(exc)
        finally:
            self.protocol = None
            self.fd_release_pending = True
            self.cancel_requests()
            self.release_if_idle()

    cdef int release_if_idle(self) except -1:
        if self.fd_release_pending and self.pipe is not None and not self.requests_in_flight():
            pipe = self.pipe
            self.pipe = None
            self.fd = -1
            pipe.close()
        return 0

    def is_closing(self):
        return self.closing

    def set_protocol(self, protocol):
        self.protocol = protocol

    def get_protocol(self):
        return self.protocol

    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    def __del__(self):
        if self.pipe is not None and not self.fd_release_pending:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.pipe.close()
            self.pipe = None

    @property
    def _loop(self):
        return self.loop

    @property
    def _pipe(self):
        return self.pipe

    @_pipe.setter
    def _pipe(self, value):
        self.pipe = value

    @property
    def _fileno(self):
        return self.fd

    @property
    def _protocol(self):
        return self.protocol

    @property
    def _closing(self):
        return self.closing

    def __repr__(self):
        state = 'closed' if self.pipe is None else ('closing' if self.closing else 'open')
        return f'<{type(self).__name__} {state} fd={self.fd}>'


cdef class ReadPipeTransport(PipeTransportBase):
    """asyncio.ReadTransport on the read end of a pipe."""

    cdef PipeOp op
    cdef char* buffer
    cdef bint paused
    cdef object held            # data a read delivered after pause_reading()

    def __dealloc__(self):
        if self.buffer != NULL:
            PyMem_Free(self.buffer)

    @staticmethod
    cdef ReadPipeTransport create(Loop loop, pipe, protocol, waiter, extra):
        cdef ReadPipeTransport self = ReadPipeTransport.__new__(ReadPipeTransport)
        self.init_pipe(loop, pipe, protocol, extra)
        mode = os_fstat(self.fd).st_mode
        if not (S_ISFIFO(mode) or S_ISSOCK(mode) or S_ISCHR(mode)):
            self.pipe = None
            self.fd = -1
            self.protocol = None
            raise ValueError("Pipe transport is for pipes/sockets only.")
        os_set_blocking(self.fd, False)
        self.buffer = <char*>PyMem_Realloc(NULL, PIPE_READ_SIZE)
        if self.buffer == NULL:
            raise MemoryError()
        self.op = PipeOp.__new__(PipeOp)
        self.op.transport = self
        loop.soon(protocol.connection_made, (self,))
        loop.soon(self._start_reading, ())
        if waiter is not None:
            loop.soon(set_result_unless_cancelled, (waiter, None))
        return self

    def _start_reading(self):
        if not self.paused and not self.closing:
            self.arm()

    cdef int arm(self) except -1:
        if self.op.user_data or self.fd < 0 or self.fd_release_pending:
            return 0
        # offset -1: read at the current position, as read(2) on a pipe.
        io_uring_prep_read(self.loop._ring.sqe_for(self.op), self.fd, self.buffer,
                           PIPE_READ_SIZE, <uint64_t>-1)
        return 0

    cdef int on_ready(self, PipeOp op, int32_t res) except -1:
        if self.closing or self.paused:
            self.release_if_idle()
        else:
            self.arm()
        return 0

    cdef int on_done(self, PipeOp op, int32_t res) except -1:
        if res == -EAGAIN:
            if self.closing or self.paused:
                return self.release_if_idle()
            return self.poll(op, POLLIN)
        if self.closing or res == -ECANCELED or res == -EINTR:
            if not self.closing and not self.paused:
                self.arm()
            return self.release_if_idle()
        if res < 0:
            self.fatal_error(errno_error(-res), 'Fatal read error on pipe transport')
            return 0
        if res == 0:
            if self.loop._debug:
                logger.info("%r was closed by peer", self)
            self.closing = True
            self.loop.soon(self.protocol.eof_received, ())
            self.loop.soon(self._call_connection_lost, (None,))
            return 0
        data = PyBytes_FromStringAndSize(self.buffer, res)
        if self.paused:
            self.held = data        # handed over after resume_reading()
            return 0
        self.arm()
        self.protocol.data_received(data)
        return 0

    def _deliver_held(self):
        data, self.held = self.held, None
        if self.closing or data is None:
            return
        if self.paused:
            self.held = data
            return
        self.arm()
        self.protocol.data_received(data)

    cdef int fatal_error(self, exc, str message) except -1:
        if isinstance(exc, OSError) and exc.errno == EIO:
            if self.loop._debug:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self.loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self.protocol,
            })
        self.close_with(exc)
        return 0

    def _fatal_error(self, exc, message='Fatal error on pipe transport'):
        self.fatal_error(exc, message)

    cdef int close_with(self, exc) except -1:
        self.closing = True
        self.cancel_requests()
        self.loop.soon(self._call_connection_lost, (exc,))
        return 0

    cdef bint requests_in_flight(self):
        return self.op.user_data != 0

    cdef int cancel_requests(self) except -1:
        if self.op.user_data:
            self.loop._ring.cancel(self.op)
        return 0

    def pause_reading(self):
        if self.closing or self.paused:
            return
        self.paused = True
        self.cancel_requests()
        if self.loop._debug:
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self.closing or not self.paused:
            return
        self.paused = False
        if self.held is not None:
            self.loop.soon(self._deliver_held, ())
        else:
            self.arm()
        if self.loop._debug:
            logger.debug("%r resumes reading", self)

    def is_reading(self):
        return not self.paused and not self.closing

    def close(self):
        if not self.closing:
            self.close_with(None)

    @property
    def __class__(self):
        return ReadPipeTransportClass


cdef class WritePipeTransport(PipeTransportBase):
    """asyncio.WriteTransport on the write end of a pipe."""

    cdef PipeOp op              # the WRITE in flight
    cdef PipeOp watch           # notices the read end closing (asyncio's reader trick)
    cdef list queue
    cdef Py_ssize_t head_offset
    cdef Py_ssize_t buffer_size
    cdef Py_ssize_t high_water
    cdef Py_ssize_t low_water
    cdef bint protocol_paused
    cdef bint flush_scheduled

    def __cinit__(self):
        self.queue = []
        self.high_water = 64 * 1024
        self.low_water = 16 * 1024

    @staticmethod
    cdef WritePipeTransport create(Loop loop, pipe, protocol, waiter, extra):
        cdef WritePipeTransport self = WritePipeTransport.__new__(WritePipeTransport)
        self.init_pipe(loop, pipe, protocol, extra)
        mode = os_fstat(self.fd).st_mode
        is_fifo = S_ISFIFO(mode)
        is_socket = S_ISSOCK(mode)
        if not (S_ISCHR(mode) or is_fifo or is_socket):
            self.pipe = None
            self.fd = -1
            self.protocol = None
            raise ValueError("Pipe transport is only for pipes, sockets and character devices")
        os_set_blocking(self.fd, False)
        self.op = PipeOp.__new__(PipeOp)
        self.op.transport = self
        loop.soon(protocol.connection_made, (self,))
        if is_socket or is_fifo:
            self.watch = PipeOp.__new__(PipeOp)
            self.watch.transport = self
            loop.soon(self._start_watching, ())
        if waiter is not None:
            loop.soon(set_result_unless_cancelled, (waiter, None))
        return self

    def _start_watching(self):
        if self.fd >= 0 and not self.fd_release_pending and not self.watch.user_data:
            self.poll(self.watch, POLLIN)

    def get_write_buffer_size(self):
        return self.buffer_size

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, not {type(data).__name__!r}')
        if type(data) is not bytes:
            data = bytes(data)
        if not data:
            return
        if self.conn_lost or self.closing:
            if self.conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning('pipe closed by peer or os.write(pipe, data) raised exception.')
            self.conn_lost += 1
            return
        cdef Py_ssize_t n = 0
        if not self.queue:
            # As asyncio: write at once (readers of the pipe may block on it).
            n = c_write(self.fd, PyBytes_AS_STRING(data), len(<bytes>data))
            if n == len(<bytes>data):
                return
            if n < 0:
                err = c_errno
                if err != EAGAIN and err != EINTR:
                    self.conn_lost += 1
                    self.fatal_error(errno_error(err), 'Fatal write error on pipe transport')
                    return
                n = 0
            self.head_offset = n
            self.queue.append(data)
            self.buffer_size += len(<bytes>data) - n
            self.poll(self.op, POLLOUT)
        else:
            self.queue.append(data)
            self.buffer_size += len(<bytes>data)
        self.maybe_pause_protocol()

    cdef int submit(self) except -1:
        cdef bytes first = <bytes>self.queue[0]
        io_uring_prep_write(self.loop._ring.sqe_for(self.op), self.fd,
                            PyBytes_AS_STRING(first) + self.head_offset,
                            len(first) - self.head_offset, <uint64_t>-1)
        return 0

    cdef int on_ready(self, PipeOp op, int32_t res) except -1:
        if op is self.watch:
            if res == -ECANCELED or self.fd_release_pending or self.conn_lost:
                return self.release_if_idle()
            # The read end is gone (or, on a socket, anything happened), as
            # asyncio's _read_ready() on the write end decides.
            self.close_with(BrokenPipeError() if self.queue else None)
            return 0
        if self.conn_lost or self.fd_release_pending:
            return self.release_if_idle()
        if self.queue:
            self.submit()
        return 0

    cdef int on_done(self, PipeOp op, int32_t res) except -1:
        cdef bytes first
        if self.conn_lost or self.fd_release_pending:
            return self.release_if_idle()
        if res == -EAGAIN:
            return self.poll(op, POLLOUT)
        if res == -EINTR:
            return self.submit()
        if res < 0:
            self.buffer_size = 0
            self.queue = []
            self.conn_lost += 1
            self.fatal_error(errno_error(-res), 'Fatal write error on pipe transport')
            return 0
        self.buffer_size -= res
        first = <bytes>self.queue[0]
        if self.head_offset + res < len(first):
            self.head_offset += res
        else:
            self.head_offset = 0
            del self.queue[0]
        self.maybe_resume_protocol()
        if self.queue:
            return self.submit()
        if self.closing:
            if self.watch is not None and self.watch.user_data:
                self.loop._ring.cancel(self.watch)
            self._call_connection_lost(None)
        return 0

    cdef int maybe_pause_protocol(self) except -1:
        if self.buffer_size <= self.high_water or self.protocol_paused:
            return 0
        self.protocol_paused = True
        try:
            self.protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.loop.call_exception_handler({
                'message': 'protocol.pause_writing() failed',
                'exception': exc, 'transport': self, 'protocol': self.protocol})
        return 0

    cdef int maybe_resume_protocol(self) except -1:
        if self.protocol_paused and self.buffer_size <= self.low_water:
            self.protocol_paused = False
            try:
                self.protocol.resume_writing()
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.loop.call_exception_handler({
                    'message': 'protocol.resume_writing() failed',
                    'exception': exc, 'transport': self, 'protocol': self.protocol})
        return 0

    def get_write_buffer_limits(self):
        return (self.low_water, self.high_water)

    def set_write_buffer_limits(self, high=None, low=None):
        if high is None:
            high = 64 * 1024 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f'high ({high!r}) must be >= low ({low!r}) must be >= 0')
        self.high_water = high
        self.low_water = low
        self.maybe_pause_protocol()

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self.closing:
            return
        self.closing = True
        if not self.queue:
            if self.watch is not None and self.watch.user_data:
                self.loop._ring.cancel(self.watch)
            self.loop.soon(self._call_connection_lost, (None,))

    def close(self):
        if self.pipe is not None and not self.closing:
            self.write_eof()

    def abort(self):
        self.close_with(None)

    cdef int fatal_error(self, exc, str message) except -1:
        if isinstance(exc, OSError):
            if self.loop._debug:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self.loop.call_exception_handler({
                'message': message,
                'exception': exc,
                'transport': self,
                'protocol': self.protocol,
            })
        self.close_with(exc)
        return 0

    def _fatal_error(self, exc, message='Fatal error on pipe transport'):
        self.fatal_error(exc, message)

    cdef int close_with(self, exc) except -1:
        if self.fd_release_pending:
            return 0
        self.closing = True
        self.queue = []
        self.buffer_size = 0
        self.conn_lost += 1
        self.cancel_requests()
        self.loop.soon(self._call_connection_lost, (exc,))
        return 0

    cdef bint requests_in_flight(self):
        return self.op.user_data != 0 or (self.watch is not None and self.watch.user_data != 0)

    cdef int cancel_requests(self) except -1:
        if self.op.user_data:
            self.loop._ring.cancel(self.op)
        if self.watch is not None and self.watch.user_data:
            self.loop._ring.cancel(self.watch)
        return 0

    @property
    def __class__(self):
        return WritePipeTransportClass
