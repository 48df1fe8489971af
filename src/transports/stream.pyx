# Completion-based TCP/Unix stream transport: a multishot RECV into the loop's
# provided buffer ring feeds a Protocol straight from the CQE; a
# BufferedProtocol's data is received straight into the buffer its
# get_buffer() returned (one RECV at a time, the buffer pinned until its
# CQE), with no copy in between. write() on
# an idle transport sends at once (as asyncio's); what the socket did not
# take is queued and flushed as one SEND/SENDMSG per transport per loop
# iteration. Behaves as asyncio's _SelectorSocketTransport (same errors,
# same order of protocol calls), without readiness polling.

from asyncio import protocols as aio_protocols
from asyncio import transports as aio_transports
from socket import SHUT_WR as PY_SHUT_WR

cdef object BufferedProtocol = aio_protocols.BufferedProtocol
cdef object set_nodelay = aio_base_events._set_nodelay
cdef object SENDFILE_TRY_NATIVE = aio_constants._SendfileMode.TRY_NATIVE


class StreamTransportClass(aio_transports._FlowControlMixin, aio_transports.Transport):
    """What a StreamTransport reports as its __class__: an extension type cannot
    also inherit asyncio's slotted Transport classes, but isinstance() checks
    against them (in asyncio and in applications) must hold."""


StreamTransportClass.__name__ = StreamTransportClass.__qualname__ = 'StreamTransport'

cdef enum:
    FALLBACK_RECV_SIZE = 65536
    MAX_DIRECT_RECV = 1 << 30       # one RECV's length is an unsigned int


cdef class StreamTransport(TransportBase):
    """asyncio.Transport for a connected stream socket, on io_uring."""

    cdef bint buffered              # protocol is a BufferedProtocol
    cdef ProvidedBufferRing pbuf    # None: single-shot into own_buffer
    cdef msghdr msg                 # the queue's head, for SENDMSG
    cdef bint write_eof_requested
    cdef bint shut_down
    cdef unsigned long long data_enter  # the ring's enter that brought the last data
    cdef public object _empty_waiter
    # The protocol buffer a RECV in flight writes into: exported (so a
    # bytearray cannot be resized or freed under the kernel) until its CQE.
    cdef Py_buffer direct_view
    cdef bint direct_held
    cdef object direct_protocol     # whose get_buffer() returned it

    def __dealloc__(self):
        if self.direct_held:
            self.direct_held = False
            PyBuffer_Release(&self.direct_view)

    # -- creation ----------------------------------------------------------

    @staticmethod
    cdef StreamTransport create(Loop loop, object sock, object protocol, object waiter,
                                object extra, object server, object context):
        cdef StreamTransport self = StreamTransport.__new__(StreamTransport)
        self.init_base(loop, sock, protocol, extra, context)
        self.init_socket()
        self.reader = self.new_request(READ_REQUEST)
        self.writer = self.new_request(WRITE_REQUEST)
        self.pbuf = loop._transports.buffer_ring()
        set_nodelay(sock)
        self.server = server
        if server is not None:
            if SERVER_TRACKS_CLIENTS:
                server._attach(self)
            else:
                server._attach()
        # With a waiter, receiving starts after the waiting coroutine resumed,
        # as asyncio's: its select() result comes behind that wake-up.
        if waiter is not None:
            self.announce(self._start_reading_later, waiter, True)
        else:
            self.announce(self._start_reading, None, False)
        return self

    def _start_reading_later(self):
        self.loop.soon_in(self.context, self._start_reading, ())

    # -- reading -----------------------------------------------------------

    cdef int submit_read(self) except -1:
        if self.buffered:
            return self.submit_direct_read()
        if self.pbuf is not None:
            prep_recv_provided(self.loop._ring.sqe_for(self.reader), self.fd,
                               self.pbuf.bgid, True)
        else:
            self.allocate_buffer(FALLBACK_RECV_SIZE)
            io_uring_prep_recv(self.loop._ring.sqe_for(self.reader), self.fd,
                               self.own_buffer, FALLBACK_RECV_SIZE, 0)
        return 0

    cdef int submit_direct_read(self) except -1:
        """One RECV into the buffer protocol.get_buffer() returns, which the
        transport holds (exported) until the CQE."""
        cdef object protocol = self.protocol
        cdef object context = self.context
        cdef bint entered
        cdef Py_ssize_t length
        # get_buffer() is protocol code: it runs in the transport's context
        # (already entered when this follows one of our completions: trying
        # again would only build and clear an exception).
        entered = not self.in_context and enter_context(context)
        try:
            try:
                buf = protocol.get_buffer(-1)
                get_writable_buffer(buf, &self.direct_view)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
                return 0
        finally:
            if entered:
                PyContext_Exit(context)
        length = min(self.direct_view.len, <Py_ssize_t>MAX_DIRECT_RECV)
        # get_buffer() may have paused, closed or re-armed the transport.
        if (length == 0 or self.paused or self.pending or protocol is not self.protocol
                or not self.may_read()):
            PyBuffer_Release(&self.direct_view)
            if length == 0 and not self.closing:
                self.fatal_error(RuntimeError('get_buffer() returned an empty buffer'),
                                 'Fatal error: protocol.get_buffer() call failed.')
            elif not self.closing and not self.paused and not self.reader.user_data:
                self.keep_receiving()
            return 0
        try:
            io_uring_prep_recv(self.loop._ring.sqe_for(self.reader), self.fd,
                               self.direct_view.buf, length, 0)
        except BaseException:
            PyBuffer_Release(&self.direct_view)
            raise
        self.direct_held = True
        self.direct_protocol = protocol
        return 0

    cdef int on_direct_read(self, int32_t res) except -1:
        """The CQE of a RECV into a protocol's buffer: the bytes are there
        already; buffer_updated() tells the protocol, unless it is paused
        or was replaced meanwhile (then they are kept as bytes, in order)."""
        cdef object protocol = self.direct_protocol
        self.direct_protocol = None
        self.direct_held = False
        try:
            if res <= 0 or self.closing:
                return 0
            self.data_enter = self.loop._ring.enters
            if self.paused or self.pending or protocol is not self.protocol or not self.buffered:
                self.pending.append(PyBytes_FromStringAndSize(<char*>self.direct_view.buf, res))
                return 0
        finally:
            PyBuffer_Release(&self.direct_view)
        try:
            protocol.buffer_updated(res)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
        return 0

    cdef int on_read(self, int32_t res, uint32_t flags) except -1:
        cdef uint16_t bid
        if self.direct_held:
            try:
                self.on_direct_read(res)
            finally:
                if res > 0:
                    self.keep_receiving()
            if res > 0:
                return 0
            flags = 0       # the end or an error, handled below
        if res > 0:
            try:
                if flags & IORING_CQE_F_BUFFER:
                    bid = <uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT)
                    try:
                        self.received(self.pbuf.buffer(bid), res)
                    finally:
                        self.pbuf.recycle(bid)
                else:
                    self.received(self.own_buffer, res)
            finally:
                # Whatever protocol code raised: a receive that ended (the
                # single-shot one, a multishot's last CQE) is armed again,
                # and what it left over is delivered later.
                self.keep_receiving()
            return 0
        if res == 0:
            if self.data_enter == self.loop._ring.enters:
                # A multishot can bring data and the end together; asyncio's
                # next recv() finds the end one iteration after the data.
                self.read_eof = True
                self.pending_eof = True
                return self.keep_receiving()
            return self.reached_eof()
        if res == -ENOBUFS and self.pbuf is not None:
            self.pbuf.grow()
        if res == -ENOBUFS or res == -ECANCELED or res == -EINTR or res == -EAGAIN:
            # Out of buffers, a pause, or a multishot the kernel ended: data
            # not yet received is still in the socket, so just re-arm.
            return self.keep_receiving()
        if res == -EINVAL and self.pbuf is not None:
            self.pbuf = None    # no multishot receive on this kernel / socket
            return self.keep_receiving()
        if self.closing:
            return 0
        return self.fatal_error(errno_error(-res), 'Fatal read error on socket transport')

    cdef int received(self, const char* data, Py_ssize_t length) except -1:
        """Hands length bytes to the protocol (or keeps them while paused)."""
        if self.closing:
            return 0        # as asyncio: no data_received() after close()
        self.data_enter = self.loop._ring.enters
        if self.paused or self.pending:
            self.pending.append(PyBytes_FromStringAndSize(data, length))
            return 0
        return self.deliver_bytes(data, length)

    cdef int deliver(self, object item) except -1:
        if not self.buffered:
            try:
                self.protocol.data_received(item)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
            return 0
        return self.deliver_bytes(PyBytes_AS_STRING(item), len(<bytes>item))

    cdef int deliver_bytes(self, const char* data, Py_ssize_t length) except -1:
        if self.buffered:
            return self.fill_buffers(data, length)
        try:
            self.protocol.data_received(PyBytes_FromStringAndSize(data, length))
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
        return 0

    cdef int fill_buffers(self, const char* data, Py_ssize_t length) except -1:
        """BufferedProtocol: copies into get_buffer() buffers until all is in;
        what a pause (or an exit exception) leaves over is kept, first."""
        cdef Py_buffer view
        cdef Py_ssize_t offset = 0, n
        try:
            while offset < length:
                if self.closing:
                    return 0
                if self.paused:
                    break
                try:
                    buf = self.protocol.get_buffer(-1)
                    get_writable_buffer(buf, &view)
                    try:
                        if view.len == 0:
                            raise RuntimeError('get_buffer() returned an empty buffer')
                        n = min(view.len, length - offset)
                        memcpy(view.buf, data + offset, n)
                    finally:
                        PyBuffer_Release(&view)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self.fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
                    return 0
                offset += n
                try:
                    self.protocol.buffer_updated(n)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self.fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
                    return 0
        finally:
            if offset < length and not self.closing:
                self.pending.insert(0, PyBytes_FromStringAndSize(data + offset, length - offset))
        return 0

    cdef int on_eof(self) except -1:
        if self.loop._debug:
            logger.debug("%r received EOF", self)
        try:
            keep_open = self.protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return 0
        if not keep_open:
            self.close()
        return 0

    # -- writing -----------------------------------------------------------

    cdef int check_write(self) except -1:
        if self.write_eof_requested:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        return 0

    cdef int point_msg(self) except -1:
        """Points self.msg at the queue's head."""
        cdef Py_ssize_t count = self.gather()
        memset(&self.msg, 0, sizeof(msghdr))
        self.msg.msg_iov = self.iovecs
        self.msg.msg_iovlen = count
        return 0

    cdef int send_now(self) except -1:
        cdef ssize_t n
        cdef bytes first
        if len(self.queue) == 1:
            first = <bytes>self.queue[0]
            n = send(self.fd, PyBytes_AS_STRING(first) + self.head_offset,
                     len(first) - self.head_offset, MSG_NOSIGNAL | MSG_DONTWAIT)
        else:
            self.point_msg()
            n = sendmsg_now(self.fd, &self.msg, MSG_NOSIGNAL | MSG_DONTWAIT)
        return self.wrote_now(n)

    cdef Py_ssize_t send_buffer_now(self, const char* data, Py_ssize_t length) except -2:
        cdef ssize_t n = send(self.fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT)
        cdef int err
        if n >= 0:
            return n
        err = c_errno
        if err == EAGAIN or err == EINTR:
            return 0
        self.write_failed(err)
        return -1

    cdef bint sends_buffers(self):
        return True

    cdef int submit_write(self) except -1:
        """The queue as one SEND (one buffer) or SENDMSG (several)."""
        cdef bytes first
        if len(self.queue) == 1:
            first = <bytes>self.queue[0]
            io_uring_prep_send(self.loop._ring.sqe_for(self.writer), self.fd,
                               PyBytes_AS_STRING(first) + self.head_offset,
                               len(first) - self.head_offset, MSG_NOSIGNAL | MSG_WAITALL)
        else:
            self.point_msg()
            io_uring_prep_sendmsg(self.loop._ring.sqe_for(self.writer), self.fd,
                                  &self.msg, MSG_NOSIGNAL | MSG_WAITALL)
        return 0

    cdef int writes_drained(self) except -1:
        self.head_offset = 0
        if self._empty_waiter is not None:
            self._empty_waiter.set_result(None)
        if self.closing:
            self._call_connection_lost(None)
        elif self.write_eof_requested:
            self.shutdown_write()
        return 0

    cdef int shutdown_write(self) except -1:
        if not self.shut_down and self.file is not None:
            self.shut_down = True
            self.file.shutdown(PY_SHUT_WR)
        return 0

    def write_eof(self):
        if self.closing or self.write_eof_requested:
            return
        self.write_eof_requested = True
        if not self.queue:
            self.shutdown_write()

    def can_write_eof(self):
        return True

    # -- closing -----------------------------------------------------------

    cdef int connection_ended(self) except -1:
        if self._empty_waiter is not None:
            self._empty_waiter.set_exception(ConnectionError("Connection is closed by peer"))
        return 0

    # -- protocol and information -------------------------------------------

    def set_protocol(self, protocol):
        self.protocol = protocol
        self.buffered = isinstance(protocol, BufferedProtocol)

    @property
    def __class__(self):
        return StreamTransportClass

    @property
    def _read_ready_cb(self):
        """asyncio's name for the method that hands received data to the
        protocol (never None, as asyncio's; code checks it)."""
        return self._deliver_pending

    _start_tls_compatible = True
    _sendfile_compatible = SENDFILE_TRY_NATIVE

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self.loop.create_future()
        if not self.queue:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None

    def __repr__(self):
        info = [type(self).__name__]
        if self.file is None:
            info.append('closed')
        elif self.closing:
            info.append('closing')
        info.append(f'fd={self.fd}')
        if self.file is not None and not self.closing:
            info.append('read=' + ('paused' if self.paused else 'receiving'))
            info.append(f'write=<{"sending" if self.queue else "idle"}, '
                        f'bufsize={self.buffer_size}>')
        return '<{}>'.format(' '.join(info))
