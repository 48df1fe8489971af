# Completion-based TCP/Unix stream transport: a multishot RECV into the loop's
# provided buffer ring feeds the protocol straight from the CQE; writes are
# queued and flushed as one SEND/SENDMSG per transport per loop iteration.
# Behaves as asyncio's _SelectorSocketTransport (same errors, same order of
# protocol calls), without readiness polling.

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
    MAX_IOVECS = 1024               # IOV_MAX on Linux


cdef class StreamRecv(Operation):
    """The transport's receive: multishot with provided buffers, or a
    single-shot RECV into the transport's own buffer as a fallback."""

    cdef StreamTransport transport

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return self.transport.on_recv(res, flags)


cdef class StreamSend(Operation):
    """The transport's one send in flight: SEND, or SENDMSG for several buffers."""

    cdef StreamTransport transport

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        return self.transport.on_sent(res)


cdef class StreamTransport(SocketTransportBase):
    """asyncio.Transport for a connected stream socket, on io_uring."""

    cdef bint buffered              # protocol is a BufferedProtocol
    cdef StreamRecv recv_op
    cdef StreamSend send_op
    cdef ProvidedBufferRing pbuf    # None: single-shot into own_buffer
    cdef char* own_buffer
    # Writing: every unsent bytes object, in order; the first send_count of
    # them (from head_offset on) are in flight.
    cdef list queue
    cdef Py_ssize_t head_offset
    cdef Py_ssize_t send_count
    cdef iovec* iovecs
    cdef Py_ssize_t iovec_capacity
    cdef msghdr msg
    cdef bint write_eof_requested
    cdef bint shut_down
    # Reading.
    cdef bint paused
    cdef bint read_eof              # EOF seen: no more receives
    cdef list pending               # data received while paused, in order
    cdef bint pending_eof
    cdef bint delivery_scheduled
    cdef public object _empty_waiter

    def __cinit__(self):
        self.queue = []
        self.pending = []

    def __dealloc__(self):
        if self.iovecs != NULL:
            PyMem_Free(self.iovecs)
        if self.own_buffer != NULL:
            PyMem_Free(self.own_buffer)

    # -- creation ----------------------------------------------------------

    @staticmethod
    cdef StreamTransport create(Loop loop, object sock, object protocol,
                                object waiter, object extra, object server):
        cdef StreamTransport self = StreamTransport.__new__(StreamTransport)
        self.init_base(loop, sock, protocol, extra, server)
        self.recv_op = StreamRecv.__new__(StreamRecv)
        self.recv_op.transport = self
        self.send_op = StreamSend.__new__(StreamSend)
        self.send_op.transport = self
        self.pbuf = loop._transports.buffer_ring()
        set_nodelay(sock)
        loop.soon(protocol.connection_made, (self,))
        if waiter is not None:
            loop.soon(set_result_unless_cancelled, (waiter, None))
            # Start receiving after the waiting coroutine resumed, as asyncio:
            # its select() result comes behind that wake-up.
            loop.soon(self._start_reading, (True,))
        else:
            loop.soon(self._start_reading, (False,))
        return self

    def _start_reading(self, later=False):
        if later:
            self.loop.soon(self._start_reading, (False,))
        elif not self.paused and not self.closing:
            self.arm_recv()

    # -- reading -----------------------------------------------------------

    cdef int arm_recv(self) except -1:
        cdef io_uring_sqe* sqe
        if self.recv_op.user_data or self.read_eof or self.fd < 0 or self.fd_release_pending:
            return 0
        if self.pbuf is not None:
            prep_recv_provided(self.loop._ring.sqe_for(self.recv_op), self.fd,
                               self.pbuf.bgid, True)
        else:
            if self.own_buffer == NULL:
                self.own_buffer = <char*>PyMem_Realloc(NULL, FALLBACK_RECV_SIZE)
                if self.own_buffer == NULL:
                    raise MemoryError()
            io_uring_prep_recv(self.loop._ring.sqe_for(self.recv_op), self.fd,
                               self.own_buffer, FALLBACK_RECV_SIZE, 0)
        return 0

    cdef int on_recv(self, int32_t res, uint32_t flags) except -1:
        cdef bint final = not (flags & IORING_CQE_F_MORE)
        cdef uint16_t bid
        if res > 0:
            if flags & IORING_CQE_F_BUFFER:
                bid = <uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT)
                try:
                    self.received(self.pbuf.buffer(bid), res)
                finally:
                    self.pbuf.recycle(bid)
            else:
                self.received(self.own_buffer, res)
            if final:
                self.recv_finished()
            return 0
        if res == 0:                            # EOF
            self.read_eof = True
            self.release_if_idle()
            if self.closing:
                return 0
            if self.paused or self.pending:
                self.pending_eof = True
                return 0
            self.on_eof()
            return 0
        if res == -ENOBUFS and self.pbuf is not None:
            self.pbuf.grow()
        if res == -ENOBUFS or res == -ECANCELED or res == -EINTR or res == -EAGAIN:
            # Out of buffers, a pause, or a multishot the kernel ended: data
            # not yet received is still in the socket, so just re-arm.
            self.recv_finished()
            return 0
        if res == -EINVAL and self.pbuf is not None:
            self.pbuf = None    # no multishot receive on this kernel / socket
            self.recv_finished()
            return 0
        self.release_if_idle()
        if self.closing:
            return 0
        self.fatal_error(errno_error(-res), 'Fatal read error on socket transport')
        return 0

    cdef int recv_finished(self) except -1:
        """The receive request ended: re-arm it while reading, else release."""
        if self.closing or self.paused or self.pending:
            self.release_if_idle()
        else:
            self.arm_recv()
        return 0

    cdef int received(self, const char* data, Py_ssize_t length) except -1:
        """Hands length bytes to the protocol (or keeps them while paused)."""
        cdef object chunk
        if self.closing:
            return 0        # as asyncio: no data_received() after close()
        if self.paused or self.pending:
            self.pending.append(PyBytes_FromStringAndSize(data, length))
            return 0
        if self.buffered:
            return self.fill_buffers(data, length)
        chunk = PyBytes_FromStringAndSize(data, length)
        try:
            self.protocol.data_received(chunk)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
        return 0

    cdef int fill_buffers(self, const char* data, Py_ssize_t length) except -1:
        """BufferedProtocol: copies into get_buffer() buffers until all is in."""
        cdef Py_buffer view
        cdef Py_ssize_t offset = 0, n
        while offset < length:
            if self.closing:
                return 0
            if self.paused:
                self.pending.append(PyBytes_FromStringAndSize(data + offset, length - offset))
                return 0
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

    def _deliver_pending(self):
        """After resume_reading(): data (and EOF) kept while paused, in order."""
        cdef bytes chunk
        self.delivery_scheduled = False
        while self.pending and not self.paused and not self.closing:
            chunk = self.pending.pop(0)
            if self.buffered:
                self.fill_buffers(PyBytes_AS_STRING(chunk), len(chunk))
            else:
                try:
                    self.protocol.data_received(chunk)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    self.fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
        if self.pending or self.paused or self.closing:
            return
        if self.pending_eof:
            self.pending_eof = False
            self.on_eof()
            return
        self.arm_recv()

    def pause_reading(self):
        if self.closing or self.paused:
            return
        self.paused = True
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)
        if self.loop._debug:
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        if self.closing or not self.paused:
            return
        self.paused = False
        if self.pending or self.pending_eof:
            if not self.delivery_scheduled:
                self.delivery_scheduled = True
                self.loop.soon(self._deliver_pending, ())
        else:
            self.arm_recv()
        if self.loop._debug:
            logger.debug("%r resumes reading", self)

    def is_reading(self):
        return not self.paused and not self.closing

    # -- writing -----------------------------------------------------------

    cdef int check_writable(self) except -1:
        """0: go ahead; 1: drop silently (connection lost), as asyncio."""
        if self.write_eof_requested:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        if self.conn_lost:
            if self.conn_lost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning('socket.send() raised exception.')
            self.conn_lost += 1
            return 1
        return 0

    def write(self, data):
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f'data argument must be a bytes-like object, '
                                f'not {type(data).__name__!r}')
            data = bytes(data)      # the caller may change it after write()
        if not data:
            if self.write_eof_requested or self._empty_waiter is not None:
                self.check_writable()
            return
        if self.write_eof_requested or self._empty_waiter is not None or self.conn_lost:
            if self.check_writable():
                return
        if not self.queue:
            # As asyncio's first write() goes straight into the socket, the
            # first into an idle transport does not count towards pausing.
            self.enqueue(<bytes>data)
            return
        self.enqueue(<bytes>data)
        self.maybe_pause_protocol()

    def writelines(self, list_of_data):
        if self.write_eof_requested or self._empty_waiter is not None or self.conn_lost:
            if self.check_writable():
                return
        for data in list_of_data:
            if type(data) is not bytes:
                data = bytes(data)
            if data:
                self.enqueue(<bytes>data)
        self.maybe_pause_protocol()

    cdef inline void enqueue(self, bytes data):
        self.queue.append(data)
        self.buffer_size += len(data)
        if not self.send_op.user_data:
            self.loop._transports.want_flush(self)

    cdef int flush(self) except -1:
        """Submits the queue as one SEND (one buffer) or SENDMSG (several)."""
        cdef Py_ssize_t count, i
        cdef bytes first
        cdef io_uring_sqe* sqe
        if self.send_op.user_data or not self.queue or self.fd < 0 or self.conn_lost:
            return 0
        count = min(len(self.queue), MAX_IOVECS)
        if count == 1:
            first = <bytes>self.queue[0]
            io_uring_prep_send(self.loop._ring.sqe_for(self.send_op), self.fd,
                               PyBytes_AS_STRING(first) + self.head_offset,
                               len(first) - self.head_offset, MSG_NOSIGNAL | MSG_WAITALL)
        else:
            if count > self.iovec_capacity:
                self.iovecs = <iovec*>PyMem_Realloc(self.iovecs, count * sizeof(iovec))
                if self.iovecs == NULL:
                    self.iovec_capacity = 0
                    raise MemoryError()
                self.iovec_capacity = count
            for i in range(count):
                first = <bytes>self.queue[i]
                self.iovecs[i].iov_base = PyBytes_AS_STRING(first)
                self.iovecs[i].iov_len = len(first)
            self.iovecs[0].iov_base = <char*>self.iovecs[0].iov_base + self.head_offset
            self.iovecs[0].iov_len -= self.head_offset
            memset(&self.msg, 0, sizeof(msghdr))
            self.msg.msg_iov = self.iovecs
            self.msg.msg_iovlen = count
            io_uring_prep_sendmsg(self.loop._ring.sqe_for(self.send_op), self.fd,
                                  &self.msg, MSG_NOSIGNAL | MSG_WAITALL)
        self.send_count = count
        return 0

    cdef int on_sent(self, int32_t res) except -1:
        cdef Py_ssize_t left, size, i = 0
        self.send_count = 0
        if self.conn_lost and not self.queue:
            return self.release_if_idle()      # aborted: the queue was dropped
        if res < 0:
            self.release_if_idle()
            if res == -ECANCELED or self.conn_lost:
                return 0
            if res == -EAGAIN or res == -EINTR:
                self.loop._transports.want_flush(self)
                return 0
            self.fatal_error(errno_error(-res), 'Fatal write error on socket transport')
            return 0
        self.buffer_size -= res
        left = res
        while left > 0:
            size = len(<bytes>self.queue[i]) - self.head_offset
            if left < size:
                self.head_offset += left
                break
            left -= size
            self.head_offset = 0
            i += 1
        if i:
            del self.queue[:i]
        if self.conn_lost:
            self.release_if_idle()
            return 0
        self.maybe_resume_protocol()
        if self.queue:
            self.loop._transports.want_flush(self)
            return 0
        self.head_offset = 0
        if self._empty_waiter is not None:
            self._empty_waiter.set_result(None)
        if self.closing:
            self._call_connection_lost(None)
        elif self.write_eof_requested:
            self.shutdown_write()
        return 0

    cdef int shutdown_write(self) except -1:
        if not self.shut_down and self.sock is not None:
            self.shut_down = True
            self.sock.shutdown(PY_SHUT_WR)
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

    def close(self):
        if self.closing:
            return
        self.closing = True
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)
        if not self.queue:
            self.conn_lost += 1
            self.loop.soon(self._call_connection_lost, (None,))

    cdef bint requests_in_flight(self):
        return self.recv_op.user_data != 0 or self.send_op.user_data != 0

    cdef int cancel_requests(self) except -1:
        if self.recv_op.user_data:
            self.loop._ring.cancel(self.recv_op)
        if self.send_op.user_data:
            self.loop._ring.cancel(self.send_op)
        return 0

    cdef int drop_writes(self) except -1:
        self.queue = []
        self.head_offset = 0
        self.buffer_size = 0
        return 0

    def _call_connection_lost(self, exc):
        try:
            SocketTransportBase._call_connection_lost(self, exc)
        finally:
            self.pending = None
            if self._empty_waiter is not None:
                self._empty_waiter.set_exception(
                    ConnectionError("Connection is closed by peer"))

    cdef int released(self) except -1:
        self.queue = []
        self.recv_op.transport = None   # no CQE can come now: break the cycles
        self.send_op.transport = None
        return 0

    # -- protocol and information -------------------------------------------

    def set_protocol(self, protocol):
        self.protocol = protocol
        self.buffered = isinstance(protocol, BufferedProtocol)

    @property
    def _paused(self):
        return self.paused

    @property
    def __class__(self):
        return StreamTransportClass

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
        if self.sock is None:
            info.append('closed')
        elif self.closing:
            info.append('closing')
        info.append(f'fd={self.fd}')
        if self.sock is not None and not self.closing:
            info.append('read=' + ('paused' if self.paused else 'receiving'))
            info.append(f'write=<{"sending" if self.queue else "idle"}, '
                        f'bufsize={self.buffer_size}>')
        return '<{}>'.format(' '.join(info))
