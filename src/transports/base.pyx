# The one base of the loop's transports (streams, datagrams, pipes), as
# asyncio's transports share theirs: extra info, the protocol and the
# contextvars context its callbacks run in, write flow control, fatal
# errors, close/abort, connection_lost() once, the registry by fd, and the
# fd released only after the last request on it completed. Each kind adds
# its reads and writes as TransportRequests and the methods only it has.

from asyncio import base_events as aio_base_events
from asyncio import constants as aio_constants
from asyncio import futures as aio_futures
from asyncio import trsock as aio_trsock
import warnings
from asyncio.log import logger
from cpython.exc cimport PyErr_Clear

cdef enum:
    MAX_IOVECS = 1024               # IOV_MAX on Linux

cdef object set_result_unless_cancelled = aio_futures._set_result_unless_cancelled
cdef object TransportSocket = aio_trsock.TransportSocket
cdef int LOG_THRESHOLD_FOR_CONNLOST_WRITES = aio_constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES
# Since Python 3.13 a Server keeps its client transports (for close_clients()
# and abort_clients()): _attach(transport) and _detach(transport).
cdef bint SERVER_TRACKS_CLIENTS = aio_base_events.Server._attach.__code__.co_argcount > 1


cdef inline bint enter_context(object context) noexcept:
    """Enters a transport's context around a completion's protocol calls.
    False when it is entered already (a completion dispatched from inside
    one of its own callbacks, when a full ring is drained): stay in it."""
    if context_enter(context) == 0:
        return True
    PyErr_Clear()
    return False


cdef class TransportRequest(Operation):

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        cdef TransportBase transport = self.transport
        cdef object context
        cdef bint entered
        if transport is None:
            return 0
        context = transport.context
        entered = enter_context(context)
        if entered:
            transport.in_context = True
        try:
            if self.polling:
                self.polling = False
                transport.on_ready(self, res)
            elif self.role == READ_REQUEST:
                transport.on_read(res, flags)
            elif self.role == WRITE_REQUEST:
                transport.on_write(res)
            else:
                transport.on_watch(res)
        finally:
            if entered:
                transport.in_context = False
                PyContext_Exit(context)
            if transport.fd_release_pending:
                transport.release_if_idle()
        return 0


cdef class TransportBase(FlushTarget):

    # Words of asyncio's messages that name the kind of transport.
    error_noun = 'socket'
    lost_write_warning = 'socket.send() raised exception.'

    def __cinit__(self):
        self.fd = -1
        self.high_water = 64 * 1024
        self.low_water = 16 * 1024
        self.queue = []
        self.pending = []

    def __dealloc__(self):
        PyMem_Free(self.own_buffer)
        PyMem_Free(self.iovecs)

    def __init__(self, *args, **kwargs):
        raise TypeError("transports are created by the loop")

    cdef int init_base(self, Loop loop, object file, object protocol,
                       object extra, object context) except -1:
        self.loop = loop
        self.file = file
        self.fd = file.fileno()
        self.context = PyContext_CopyCurrent() if context is None else context
        self.extra = {} if extra is None else dict(extra)
        self.set_protocol(protocol)
        return 0

    cdef int init_socket(self) except -1:
        """Socket transports (as asyncio's): the loop's registry by fd, so
        add_reader() refuses the fd, and the socket's extra info."""
        sock = self.file
        self.is_socket = True
        self.loop._transports.register(self.fd, self)
        self.extra['socket'] = TransportSocket(sock)
        try:
            self.extra['sockname'] = sock.getsockname()
        except OSError:
            self.extra['sockname'] = None
        if 'peername' not in self.extra:
            try:
                self.extra['peername'] = sock.getpeername()
            except OSError:
                self.extra['peername'] = None
        return 0

    cdef int allocate_buffer(self, Py_ssize_t size) except -1:
        """The transport's own receive buffer (reads land there)."""
        if self.own_buffer == NULL:
            self.own_buffer = <char*>PyMem_Malloc(size)
            if self.own_buffer == NULL:
                raise MemoryError()
        return 0

    cdef TransportRequest new_request(self, RequestRole role):
        cdef TransportRequest request = TransportRequest.__new__(TransportRequest)
        request.transport = self
        request.role = role
        return request

    cdef int announce(self, object start, object waiter, bint start_after_waiter) except -1:
        """Schedules connection_made(), the kind's first request (start)
        and the waiter's result, in asyncio's order for the kind."""
        self.loop.soon_in(self.context, self.protocol.connection_made, (self,))
        if start is not None and not start_after_waiter:
            self.loop.soon_in(self.context, start, ())
        if waiter is not None:
            self.loop.soon(set_result_unless_cancelled, (waiter, None))
        if start is not None and start_after_waiter:
            self.loop.soon_in(self.context, start, ())
        return 0

    # -- the kind's side -------------------------------------------------------

    cdef int submit_read(self) except -1:
        """Submits the kind's read request."""
        return 0

    cdef int deliver(self, object item) except -1:
        """Hands one item (received while paused) to the protocol."""
        return 0

    cdef int on_eof(self) except -1:
        """The end of the input reaches the protocol."""
        return 0

    cdef int on_read(self, int32_t res, uint32_t flags) except -1:
        return 0

    cdef int on_write(self, int32_t res) except -1:
        """A ring write of the queue's head completed (streams and pipes)."""
        if self.lost_scheduled:
            return 0                    # aborted or failed meanwhile: the queue is gone
        if res < 0:
            if res == -EAGAIN or res == -EINTR or res == -ECANCELED:
                return self.loop._transports.want_flush(self)
            return self.write_failed(-res)
        self.consume(res)
        self.maybe_resume_protocol()
        return self.write_next()

    cdef int write_next(self) except -1:
        """A write completed: the rest of the queue goes next, or it drained."""
        if self.lost_scheduled:
            return 0
        if self.queue:
            return self.loop._transports.want_flush(self)
        return self.writes_drained()

    cdef int on_ready(self, TransportRequest request, int32_t res) except -1:
        return 0

    cdef int on_watch(self, int32_t res) except -1:
        return 0

    cdef int send_now(self) except -1:
        """Writes the (non-empty) queue straight into the fd, without blocking."""
        return 0

    cdef int submit_write(self) except -1:
        """Submits the kind's write request for the queue's head."""
        return 0

    cdef int flush(self) except -1:
        """Right before the loop enters the kernel: the queue goes out as one
        request, unless one is in flight or the transport is done."""
        if self.queue and not self.writer.user_data and self.fd >= 0 and not self.lost_scheduled:
            self.submit_write()
        return 0

    cdef Py_ssize_t gather(self) except -1:
        """Points self.iovecs at the queue's head (up to MAX_IOVECS buffers)."""
        cdef Py_ssize_t count = min(len(self.queue), MAX_IOVECS), i
        cdef bytes chunk
        if count > self.iovec_capacity:
            self.iovecs = <iovec*>PyMem_Realloc(self.iovecs, count * sizeof(iovec))
            if self.iovecs == NULL:
                self.iovec_capacity = 0
                raise MemoryError()
            self.iovec_capacity = count
        for i in range(count):
            chunk = <bytes>self.queue[i]
            self.iovecs[i].iov_base = PyBytes_AS_STRING(chunk)
            self.iovecs[i].iov_len = len(chunk)
        self.iovecs[0].iov_base = <char*>self.iovecs[0].iov_base + self.head_offset
        self.iovecs[0].iov_len -= self.head_offset
        return count

    cdef int wrote_now(self, ssize_t n) except -1:
        """The result of a direct write(2)/send(2) of the queue's head."""
        cdef int err
        if n >= 0:
            return self.consume(n)
        err = c_errno
        if err == EAGAIN or err == EINTR:
            return 0            # the fd is full: the ring takes over
        return self.write_failed(err)

    cdef int write_failed(self, int err) except -1:
        return self.fatal_error(errno_error(err),
                                f'Fatal write error on {self.error_noun} transport')

    cdef int writes_drained(self) except -1:
        """The queue went out whole."""
        self.head_offset = 0
        if self.closing:
            self._call_connection_lost(None)
        return 0

    cdef int connection_ended(self) except -1:
        """connection_lost() ran: drop what the kind still holds."""
        return 0

    cdef bint quiet_error(self, exc):
        """Errors fatal_error() logs only in debug mode, as asyncio."""
        return isinstance(exc, OSError)

    cdef bint drops_writes(self):
        """write() drops its data silently (and counts it), as asyncio."""
        return self.conn_lost != 0

    # -- reading -----------------------------------------------------------------

    cdef bint may_read(self):
        return (self.reader is not None and not self.reader.user_data and not self.read_eof
                and not self.closing and self.fd >= 0 and not self.fd_release_pending)

    cdef int arm_reader(self) except -1:
        """Submits the read unless one is in flight or reading has ended."""
        if self.may_read():
            self.submit_read()
        return 0

    cdef int receive(self, object item) except -1:
        """What a read returned goes to the protocol, or is kept while paused.
        The next read is armed first: no exception from protocol code can
        leave the transport without it."""
        if self.paused or self.pending:
            self.pending.append(item)
            return 0
        self.arm_reader()
        return self.deliver(item)

    cdef int reached_eof(self) except -1:
        self.read_eof = True
        if self.closing:
            return 0
        if self.paused or self.pending:
            self.pending_eof = True
            return 0
        return self.on_eof()

    cdef int keep_receiving(self) except -1:
        """After protocol code ran (whatever it raised): what was kept is
        delivered later, else the read is armed again, unless paused."""
        if self.paused or self.closing:
            return 0
        if self.pending or self.pending_eof:
            if not self.delivery_scheduled:
                self.delivery_scheduled = True
                self.loop.soon_in(self.context, self._deliver_pending, ())
            return 0
        return self.arm_reader()

    def _deliver_pending(self):
        """After resume_reading(): what arrived while paused, in order, then
        the end of the input or the next read."""
        self.delivery_scheduled = False
        try:
            while self.pending and not self.paused and not self.closing:
                self.deliver(self.pending.pop(0))
            if self.pending_eof and not self.pending and not self.paused and not self.closing:
                self.pending_eof = False
                self.on_eof()
        finally:
            self.keep_receiving()

    cdef int poll(self, TransportRequest request, uint32_t events) except -1:
        """Waits for readiness (a pipe's read or write found it not ready)."""
        request.polling = True
        io_uring_prep_poll_add(self.loop._ring.sqe_for(request), self.fd, events)
        return 0

    def _start_reading(self):
        self.keep_receiving()

    def pause_reading(self):
        if self.reader is None:
            raise NotImplementedError
        if self.closing or self.paused:
            return
        self.paused = True
        if self.reader.user_data:
            self.loop._ring.cancel(self.reader)
        if self.loop._debug:
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self.reader is None:
            raise NotImplementedError
        if self.closing or not self.paused:
            return
        self.paused = False
        self.keep_receiving()
        if self.loop._debug:
            logger.debug("%r resumes reading", self)

    def is_reading(self):
        if self.reader is None:
            raise NotImplementedError
        return not self.paused and not self.closing

    # -- writing -----------------------------------------------------------------

    cdef int check_write(self) except -1:
        """Raises where the kind refuses a write outright."""
        if self.writer is None:
            raise NotImplementedError
        return 0

    cdef int write_lost(self) except -1:
        if self.conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning(self.lost_write_warning)
        self.conn_lost += 1
        return 0

    def write(self, data):
        """Writes at once what the fd takes without blocking (as asyncio);
        the rest is queued and sent on the ring."""
        cdef bint was_idle
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            if type(data) is not memoryview or (<memoryview>data).c_contiguous:
                self.check_write()
                return self.write_buffer(data)
            data = bytes(data)
        self.check_write()
        if not data:
            return
        if self.drops_writes():
            self.write_lost()
            return
        was_idle = not self.queue
        self.queue.append(data)
        self.buffer_size += len(<bytes>data)
        self.queued(was_idle)

    cdef write_buffer(self, object data):
        """write() of a bytearray or memoryview: an idle transport sends
        straight from it; only what the fd did not take is copied (the
        caller may change its buffer after write())."""
        cdef Py_buffer view
        cdef Py_ssize_t sent = 0
        cdef bint was_idle = not self.queue
        cdef bytes rest
        get_readable_buffer(data, &view)
        try:
            if view.len == 0:
                return
            if self.drops_writes():
                self.write_lost()
                return
            if was_idle and self.fd >= 0:
                sent = self.send_buffer_now(<const char*>view.buf, view.len)
                if sent < 0:
                    return          # failed: the transport is closing
                if sent == view.len:
                    return
            rest = PyBytes_FromStringAndSize(<const char*>view.buf + sent, view.len - sent)
        finally:
            PyBuffer_Release(&view)
        self.queue.append(rest)
        self.buffer_size += len(rest)
        # An idle transport tried its fd already (unless the kind cannot).
        self.queued(was_idle and sent == 0 and not self.sends_buffers())

    cdef Py_ssize_t send_buffer_now(self, const char* data, Py_ssize_t length) except -2:
        """Writes from data straight into the fd, without blocking: the
        count written (0 when the fd is full), -1 after a fatal error. The
        default writes nothing (the kind's send_now() runs on the queue)."""
        return 0

    cdef bint sends_buffers(self):
        """send_buffer_now() writes (the kind overrides it)."""
        return False

    def writelines(self, list_of_data):
        """write() of the buffers joined, without joining them: an idle
        transport sends them with one sendmsg(2)."""
        cdef bint was_idle = not self.queue
        cdef Py_ssize_t size = 0
        cdef list chunks = [data if type(data) is bytes else bytes(data)
                            for data in list_of_data if data]
        self.check_write()
        if not chunks:
            return
        if self.drops_writes():
            self.write_lost()
            return
        for data in chunks:
            self.queue.append(data)
            size += len(<bytes>data)
        self.buffer_size += size
        self.queued(was_idle)

    cdef int queued(self, bint was_idle) except -1:
        """Bytes were queued: into the fd at once on an idle transport, what
        it did not take is flushed on the ring before the next enter."""
        if was_idle and self.fd >= 0:
            self.send_now()
        if self.queue and not self.writer.user_data:
            self.loop._transports.want_flush(self)
        return self.maybe_pause_protocol()

    cdef int consume(self, Py_ssize_t sent) except -1:
        """Drops the first `sent` bytes of the queue: they were written."""
        cdef Py_ssize_t size, i = 0
        self.buffer_size -= sent
        while sent > 0:
            size = len(<bytes>self.queue[i]) - self.head_offset
            if sent < size:
                self.head_offset += sent
                break
            sent -= size
            self.head_offset = 0
            i += 1
        if i:
            del self.queue[:i]
        return 0

    cdef int drop_writes(self) except -1:
        """Forgets every write not yet sent (abort, fatal error)."""
        self.queue = []
        self.head_offset = 0
        self.buffer_size = 0
        return 0

    def get_write_buffer_size(self):
        return self.buffer_size

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

    def write_eof(self):
        raise NotImplementedError

    def can_write_eof(self):
        raise NotImplementedError

    # -- write flow control --------------------------------------------------------

    cdef int maybe_pause_protocol(self) except -1:
        if self.buffer_size <= self.high_water or self.protocol_paused:
            return 0
        self.protocol_paused = True
        return self.call_protocol(self.protocol.pause_writing, (),
                                  'protocol.pause_writing() failed')

    cdef int maybe_resume_protocol(self) except -1:
        if not self.protocol_paused or self.buffer_size > self.low_water:
            return 0
        self.protocol_paused = False
        return self.call_protocol(self.protocol.resume_writing, (),
                                  'protocol.resume_writing() failed')

    cdef int call_protocol(self, object method, tuple args, str failure) except -1:
        """Calls a protocol method whose exceptions the transport survives:
        they go to the loop's exception handler (exit exceptions propagate)."""
        try:
            method(*args)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.protocol_call_failed(exc, failure)
        return 0

    cdef int protocol_call_failed(self, exc, str message) except -1:
        """Reports exc to the loop's exception handler, with the transport
        and its protocol."""
        self.loop.call_exception_handler({
            'message': message,
            'exception': exc,
            'transport': self,
            'protocol': self.protocol,
        })
        return 0

    # -- closing -----------------------------------------------------------------

    def is_closing(self):
        return self.closing

    def close(self):
        """Stops reading; connection_lost() follows once the queue is sent."""
        if self.closing:
            return
        self.closing = True
        if self.reader is not None and self.reader.user_data:
            self.loop._ring.cancel(self.reader)
        if not self.queue:
            self.conn_lost += 1
            self.schedule_connection_lost(None)

    def abort(self):
        self.force_close(None)

    cdef int fatal_error(self, exc, str message) except -1:
        if self.quiet_error(exc):
            if self.loop._debug:
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self.protocol_call_failed(exc, message)
        return self.force_close(exc)

    def _fatal_error(self, exc, message='Fatal error on transport'):
        self.fatal_error(exc, message)

    cdef int force_close(self, exc) except -1:
        """Drops the queue and ends the connection now (abort, errors)."""
        if self.lost_scheduled:
            return 0
        self.drop_writes()
        self.closing = True
        self.cancel_requests()
        self.conn_lost += 1
        return self.schedule_connection_lost(exc)

    def _force_close(self, exc):
        self.force_close(exc)

    cdef int schedule_connection_lost(self, exc) except -1:
        if not self.lost_scheduled:
            self.lost_scheduled = True
            self.loop.soon_in(self.context, self._call_connection_lost, (exc,))
        return 0

    def _call_connection_lost(self, exc):
        """connection_lost(exc), once; the fd is closed when no request on
        it is in flight any more."""
        server = self.server
        if self.fd_release_pending:
            return
        self.lost_scheduled = True
        self.fd_release_pending = True
        if not self.conn_lost:
            self.conn_lost = 1      # closed after the queue drained: later writes are dropped
        try:
            if self.protocol is not None:
                self.protocol.connection_lost(exc)
        finally:
            self.protocol = None
            self.server = None
            self.pending = []
            self.cancel_requests()
            self.release_if_idle()
            self.connection_ended()
            if server is not None:
                if SERVER_TRACKS_CLIENTS:
                    server._detach(self)
                else:
                    server._detach()

    cdef bint requests_in_flight(self):
        return ((self.reader is not None and self.reader.user_data != 0)
                or (self.writer is not None and self.writer.user_data != 0)
                or (self.watcher is not None and self.watcher.user_data != 0))

    cdef int cancel_requests(self) except -1:
        if self.reader is not None and self.reader.user_data:
            self.loop._ring.cancel(self.reader)
        if self.writer is not None and self.writer.user_data:
            self.loop._ring.cancel(self.writer)
        if self.watcher is not None and self.watcher.user_data:
            self.loop._ring.cancel(self.watcher)
        return 0

    cdef int release_if_idle(self) except -1:
        """After connection_lost(): closes the fd once no request on it is
        in flight (so its number is not reused under a request); then no
        completion can come, so the cycles are broken. Until then a socket
        object already reads closed, as asyncio's: the transport keeps its
        fd by itself."""
        cdef TransportRequest request
        cdef int fd = self.fd
        if not self.fd_release_pending or fd < 0:
            return 0
        if self.requests_in_flight():
            if self.is_socket and self.file is not None:
                self.file.detach()
                self.file = None
            return 0
        file = self.file
        self.file = None
        self.fd = -1
        self.queue = []
        for request in (self.reader, self.writer, self.watcher):
            if request is not None:
                request.transport = None
        if file is not None:
            file.close()
        else:
            close_fd(fd)
        return 0

    cdef int release_held_fd(self) except -1:
        """The loop closed with requests on the held fd never completed."""
        if self.fd_release_pending and self.file is None and self.fd >= 0:
            close_fd(self.fd)
            self.fd = -1
        return 0

    def __del__(self):
        if self.file is not None and not self.fd_release_pending:
            warnings.warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.file.close()
            self.file = None

    # -- protocol and information ----------------------------------------------

    def set_protocol(self, protocol):
        self.protocol = protocol

    def get_protocol(self):
        return self.protocol

    def get_extra_info(self, name, default=None):
        return self.extra.get(name, default)

    def __repr__(self):
        state = 'closed' if self.file is None else ('closing' if self.closing else 'open')
        return f'<{type(self).__name__} {state} fd={self.fd}>'

    # asyncio's private attributes that code reads: _sock/_sock_fd are the
    # socket transports' names, _pipe/_fileno the pipe transports'.
    @property
    def _loop(self):
        return self.loop

    @property
    def _sock(self):
        return self.file

    @property
    def _sock_fd(self):
        return self.fd

    @property
    def _pipe(self):
        return self.file

    @_pipe.setter
    def _pipe(self, value):
        self.file = value
        if value is None:
            self.fd = -1        # not ours to close any more

    @property
    def _fileno(self):
        return self.fd

    @property
    def _protocol(self):
        return self.protocol

    @property
    def _closing(self):
        return self.closing

    @property
    def _conn_lost(self):
        return self.conn_lost

    @property
    def _protocol_paused(self):
        return self.protocol_paused

    @property
    def _paused(self):
        return self.paused

    @property
    def _server(self):
        return self.server

    @property
    def _extra(self):
        return self.extra
